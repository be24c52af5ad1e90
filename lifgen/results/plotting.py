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
    @property
    def reference(self) -> str: ...
    @property
    def driven(self) -> str: ...
    @property
    def exercised(self) -> str: ...
    def verdicts(self) -> dict[str, bool]: ...
    def verdict_details(self) -> dict[str, str]: ...
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
    figure.axes[0].set_title(f"{result.model}: neuron {neuron}, {counted(len(spike_times), 'spike')}")
    return _finish(plt, figure, path)


def counted(number: int, noun: str) -> str:
    """'1 spike', '2 spikes': a count with its noun in the right number."""
    return f"{number} {noun}{'' if number == 1 else 's'}"


RASTER_POINTS = 250  # about the raster axis's height in points: one row a point at most
BAR_ROWS = 1.5  # rows at least this many points high are drawn as bars, denser ones as dots


def plot_raster(result: RunResult, path: str | Path | None = None,
                bin: float | str | None = None, neurons: Any = None) -> Figure:
    """The first batch row's spikes as a raster, over its population rate (of every neuron).

    `neurons` picks the rows drawn: a count (the first that many), indices or a boolean mask.
    Marks shrink with the density: bars while each row has room, dots below that, sized so that
    thousands of neurons read as a texture rather than a black mass."""
    plt = pyplot()
    shown = _shown_neurons(result, neurons)
    times, spiking = result.spike_event_times
    keep = np.isin(spiking, shown)
    times, spiking = times[keep], spiking[keep]
    rows = np.searchsorted(shown, spiking)  # each shown neuron its own row, in index order
    figure, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=(8, 5),
                                         gridspec_kw={"height_ratios": [3, 1]})
    marker, size = _raster_marks(shown.size, times.size, result.duration)
    top.plot(times, rows, marker, color="black", markersize=size, linestyle="none",
             **({"markeredgewidth": 0, "rasterized": True} if marker == "." else {}))
    top.set_ylabel("neuron")
    top.set_ylim(-0.5, shown.size - 0.5)
    if shown.size != result.n_neurons or np.any(shown != np.arange(shown.size)):
        ticks = top.get_yticks()
        ticks = ticks[(ticks >= 0) & (ticks < shown.size) & (ticks == np.round(ticks))]
        top.set_yticks(ticks, [str(shown[int(t)]) for t in ticks])
    of = f"{shown.size} of {result.n_neurons}" if shown.size != result.n_neurons else \
        f"{result.n_neurons}"
    top.set_title(f"{result.model}: {counted(times.size, 'spike')} from {of} "
                  f"neuron{'' if result.n_neurons == 1 and shown.size == 1 else 's'}")
    starts, rate = result.population_rate(bin if bin is not None else _whole_steps(
        result, max(result.dt or 1.0, result.duration / 100)))
    width = starts[1] - starts[0] if starts.size > 1 else result.duration
    bottom.step(starts + width, rate, where="pre", color="C0")
    bottom.set_ylabel(f"rate ({result.rate_unit}, all neurons)")
    bottom.set_xlabel(_time_label(result))
    return _finish(plt, figure, path)


def _shown_neurons(result: RunResult, neurons: Any) -> np.ndarray:
    """The sorted neuron indices `neurons` names: None (all), a count, indices or a mask."""
    n = result.n_neurons
    if neurons is None:
        return np.arange(n)
    if isinstance(neurons, (int, np.integer)) and not isinstance(neurons, bool):
        if not 0 < neurons <= n:
            raise InputError(f"neurons= as a count must be in 1..{n}, got {neurons}")
        return np.arange(int(neurons))
    chosen = np.asarray(neurons)
    if chosen.dtype == bool:
        if chosen.shape != (n,):
            raise InputError(f"neurons= as a mask must have one entry per neuron ({n}), "
                             f"got shape {chosen.shape}")
        chosen = np.flatnonzero(chosen)
    if chosen.ndim != 1 or not chosen.size or not np.issubdtype(chosen.dtype, np.integer) \
            or chosen.min() < 0 or chosen.max() >= n:
        raise InputError(f"neurons= must be a count, a mask or indices in 0..{n - 1}, "
                         f"got {neurons!r}")
    return np.unique(chosen)


def _raster_marks(rows: int, spikes: int, duration: float) -> tuple[str, float]:
    """(marker, size in points) for a raster of `rows` neurons and `spikes` spikes: a bar as
    high as a row while rows have room (up to 3 points), else a dot whose area shrinks with the
    number of spikes per row, down to a fifth of a point."""
    per_row = RASTER_POINTS / max(rows, 1)
    if per_row >= BAR_ROWS:
        return "|", float(min(3.0, per_row))
    per_spike = RASTER_POINTS * 550 / max(spikes, 1)  # the axis's area (points^2) per spike
    return ".", float(np.clip(min(per_row, np.sqrt(per_spike)) * 2, 0.2, 2.0))


def _whole_steps(result: RunResult, width: float) -> float:
    step = result.dt or 1.0
    return max(1, round(width / step)) * step


def _dt_ticks(axis: Any, dts: Sequence[float]) -> None:
    """Label the log dt axis at the tested dts only, as plain numbers ("0.05"): the default
    log formatter labels minor ticks inside a decade too, and their labels run together."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter, NullLocator

    axis.xaxis.set_major_locator(FixedLocator(list(dts)[::-(-len(dts) // 6)]))  # 6 at most
    axis.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    axis.xaxis.set_minor_locator(NullLocator())
    axis.xaxis.set_minor_formatter(NullFormatter())


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
    _dt_ticks(errors, sorted({r["dt"] for r in report.rows}))
    errors.set_xlabel(f"dt ({report.time_unit})" if report.time_unit else "dt")
    errors.set_ylabel("max error over all states")
    errors.set_title("error against dt (dotted: theoretical slopes)")
    errors.legend(frameon=False, fontsize=8)
    return _finish(plt, figure, path)
