"""Plots of a simulation: input, membrane with threshold, and spikes (matplotlib, an optional extra)."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Protocol, Sequence

import numpy as np

from ..errors import InputError

if TYPE_CHECKING:  # matplotlib is an optional extra: imported when a plot is drawn
    from matplotlib.figure import Figure


class RunResult(Protocol):
    """What plots and summaries read of a results.result.Result (result.py imports this module
    and notebook.py to draw and describe itself, so the Result is named here, not imported)."""

    @property
    def model(self) -> str: ...
    @property
    def dt(self) -> float | None: ...
    @property
    def time_unit(self) -> str: ...
    @property
    def n_steps(self) -> int: ...
    @property
    def partial(self) -> bool: ...
    @property
    def traces(self) -> Mapping[str, np.ndarray]: ...
    @property
    def state(self) -> Mapping[str, np.ndarray]: ...
    @property
    def inputs(self) -> Mapping[str, np.ndarray]: ...
    @property
    def units(self) -> Mapping[str, str]: ...
    @property
    def recorded(self) -> Mapping[str, np.ndarray | None]: ...  # state -> neurons (None: all)
    @property
    def threshold(self) -> object: ...  # per neuron, or None
    @property
    def threshold_state(self) -> str: ...
    @property
    def spike_count(self) -> np.ndarray | None: ...
    @property
    def first_nonfinite(self) -> tuple[Any, ...] | None: ...
    @property
    def times(self) -> np.ndarray: ...
    @property
    def n_neurons(self) -> int: ...
    @property
    def duration(self) -> float: ...
    @property
    def rates(self) -> np.ndarray: ...
    @property
    def rate_unit(self) -> str: ...
    @property
    def spike_event_times(self) -> tuple[np.ndarray, np.ndarray]: ...
    def _check_neuron(self, neuron: int) -> None: ...
    def trace(self, name: str, neuron: int = 0) -> np.ndarray: ...
    def input_trace(self, name: str, neuron: int = 0) -> np.ndarray: ...
    def spike_steps(self, neuron: int = 0) -> np.ndarray: ...
    def population_rate(self, bin: float | str | None = None) -> tuple[np.ndarray, np.ndarray]: ...


class Report(Protocol):
    """What plots and notebooks read of a tools.verify.VerificationReport (tools/ is a later
    stage: named here, not imported)."""

    @property
    def model(self) -> str: ...
    @property
    def rows(self) -> Sequence[Mapping[str, Any]]: ...  # per method and dt: "method", "dt", ...
    @property
    def state(self) -> str: ...
    @property
    def state_unit(self) -> str: ...
    @property
    def time_unit(self) -> str: ...
    @property
    def traces(self) -> Mapping[tuple[str, float], tuple[np.ndarray, np.ndarray]]: ...
    @property
    def reference_trace(self) -> tuple[np.ndarray, np.ndarray] | None: ...
    @property
    def passed(self) -> bool: ...
    @property
    def noise_floor(self) -> float: ...
    def verdicts(self) -> dict[str, bool]: ...
    def expected_order(self, method: str) -> int | None: ...
    def to_table(self) -> str: ...
    def plot(self, path: str | Path | None = None) -> Figure: ...


def pyplot() -> ModuleType:
    try:
        import matplotlib

        matplotlib.use("Agg") if matplotlib.get_backend().lower() == "agg" else None
        import matplotlib.pyplot as plt
    except ImportError:
        raise InputError("plotting needs matplotlib: pip install 'lifgen[plot]'") from None
    return plt


def _labelled(name: str, unit: str) -> str:
    return f"{name} ({unit})" if unit else name


def _time_label(result: RunResult) -> str:
    if result.dt is None:
        return "step"
    return f"time ({result.time_unit})" if result.time_unit else "time (the model's time unit)"


def _finish(plt: ModuleType, figure: Figure, path: str | Path | None) -> Figure:
    figure.tight_layout()
    if path is not None:
        figure.savefig(path, dpi=120)
        plt.close(figure)
    return figure


def plot_result(result: RunResult, neuron: int = 0, path: str | Path | None = None,
                states: Iterable[str] | None = None) -> Figure:
    """Stacked panels for one neuron: its inputs, each traced state on its own axis with its unit
    (and the spike threshold on the state it tests), and its spikes."""
    plt = pyplot()
    result._check_neuron(neuron)
    states = list(result.traces) if states is None else list(states)
    for name in states:
        result.trace(name, neuron)  # an InputError naming what was traced, before drawing
    panels = bool(result.inputs) + len(states) + 1
    figure, axes = plt.subplots(panels, 1, sharex=True, squeeze=False,
                                figsize=(8, 1.2 + 1.6 * panels),
                                gridspec_kw={"height_ratios": [1] * (panels - 1) + [0.5]})
    axes = list(axes[:, 0])
    times = result.times
    if result.inputs:
        top = axes.pop(0)
        for name in result.inputs:
            top.plot(times, result.input_trace(name, neuron), drawstyle="steps-pre",
                     label=_labelled(name, result.units.get(name, "")))
        top.set_ylabel("input")
        top.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, fontsize=8)
    for name in states:
        axis = axes.pop(0)
        axis.plot(times, result.trace(name, neuron), color="C0", linewidth=1)
        if name == result.threshold_state and result.threshold is not None:
            threshold = np.asarray(result.threshold)  # one value per neuron
            axis.axhline(threshold[neuron], color="gray", linestyle="--", linewidth=0.8)
            axis.annotate("threshold", (1.0, threshold[neuron]), xycoords=("axes fraction",
                          "data"), xytext=(3, 0), textcoords="offset points", fontsize=8,
                          color="gray", va="center")
        axis.set_ylabel(_labelled(name, result.units.get(name, "")))
    bottom = axes.pop(0)
    spike_times = times[result.spike_steps(neuron)]
    bottom.vlines(spike_times, 0, 1, color="black")
    bottom.set_yticks([])
    bottom.set_ylabel("spikes")
    bottom.set_xlabel(_time_label(result))
    figure.axes[0].set_title(f"{result.model}: neuron {neuron}, {len(spike_times)} spikes")
    return _finish(plt, figure, path)


def plot_raster(result: RunResult, path: str | Path | None = None,
                bin: float | str | None = None) -> Figure:
    """The first batch row's spikes as a raster, over its population rate."""
    plt = pyplot()
    times, neurons = result.spike_event_times
    figure, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=(8, 5),
                                         gridspec_kw={"height_ratios": [3, 1]})
    top.plot(times, neurons, "|", color="black", markersize=3)
    top.set_ylabel("neuron")
    top.set_ylim(-0.5, result.n_neurons - 0.5)
    top.set_title(f"{result.model}: {times.size} spikes from {result.n_neurons} neurons")
    starts, rate = result.population_rate(bin if bin is not None else _whole_steps(
        result, max(result.dt or 1.0, result.duration / 100)))
    width = starts[1] - starts[0] if starts.size > 1 else result.duration
    bottom.step(starts + width, rate, where="pre", color="C0")
    bottom.set_ylabel(f"rate ({result.rate_unit})")
    bottom.set_xlabel(_time_label(result))
    return _finish(plt, figure, path)


def _whole_steps(result: RunResult, width: float) -> float:
    step = result.dt or 1.0
    return max(1, round(width / step)) * step


def plot_verification(report: Report, path: str | Path | None = None) -> Figure:
    """Two panels: each method's trace (coarsest dt) over the reference, and error against dt."""
    plt = pyplot()
    figure, (traces, errors) = plt.subplots(1, 2, figsize=(11, 4.2))
    if report.reference_trace is not None:  # verify() always records it
        times, values = report.reference_trace
        traces.plot(times, values, color="black", linewidth=2.5, alpha=0.35, label="reference")
    methods = list(dict.fromkeys(r["method"] for r in report.rows))
    coarsest = max(r["dt"] for r in report.rows)
    for method in methods:
        t, v = report.traces[(method, coarsest)]
        traces.plot(t, v, linewidth=1, label=f"{method} (dt={coarsest:g})")
    traces.set_xlabel(f"time ({report.time_unit})" if report.time_unit else "time")
    traces.set_ylabel(_labelled(report.state, report.state_unit))
    traces.set_title(f"{report.model}: traces")
    traces.legend(frameon=False, fontsize=8)
    for method in methods:
        rows = [r for r in report.rows if r["method"] == method]
        dts = np.array([r["dt"] for r in rows])
        errs = np.array([r["max_error"] for r in rows])
        exact = errs > 0  # an error of exactly 0 has no place on a log axis: left out
        if not np.any(exact):
            errors.plot([], [], "o", label=f"{method}: error 0 at every dt")
            continue
        dts, errs = dts[exact], errs[exact]
        line, = errors.loglog(dts, errs, "o-", label=method)
        order = report.expected_order(method)
        if order is not None:
            reference = errs[0] * (dts / dts[0]) ** order / 3
            errors.loglog(dts, reference, ":", color=line.get_color(), linewidth=1.2)
    errors.axhline(report.noise_floor, color="gray", linestyle="--", linewidth=0.8,
                   label="rounding floor")
    errors.set_xlabel(f"dt ({report.time_unit})" if report.time_unit else "dt")
    errors.set_ylabel("max error over all states")
    errors.set_title("error against dt (dotted: theoretical slopes)")
    errors.legend(frameon=False, fontsize=8)
    return _finish(plt, figure, path)
