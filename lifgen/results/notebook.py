"""How results, simulators, step maps and verification reports show themselves: a short text
summary for the terminal and HTML (tables, a small raster, collapsible source) for notebooks."""

from __future__ import annotations

import base64
import html
import io
from typing import Any, Iterable, Protocol

import numpy as np

from ..errors import InputError
from ..ir.model import Model
from .plotting import Report, RunResult

RASTER_DOTS = 4000  # a notebook raster draws at most this many spikes (the earliest)
RASTER_NEURONS = 200  # and at most this many neurons


class Shown(Protocol):
    """What a notebook shows of a runtime.simulate.Simulator (runtime/ is a later stage)."""

    @property
    def model(self) -> Model: ...
    @property
    def method(self) -> str: ...
    @property
    def dt(self) -> float | None: ...
    @property
    def dtype(self) -> str: ...
    @property
    def reset(self) -> str: ...
    @property
    def reset_timing(self) -> str: ...
    @property
    def target(self) -> Any: ...  # a targets.base.Target: its name is shown
    @property
    def options(self) -> dict[str, Any]: ...
    @property
    def c_source(self) -> str: ...


def _quantity(value: float, unit: str) -> str:
    return f"{value:g} {unit}".rstrip()


def _time(result: RunResult, value: float) -> str:
    if result.dt is None:
        return f"{value:g} steps"
    return _quantity(value, result.time_unit or "time units")


def result_facts(result: RunResult) -> list[tuple[str, str]]:
    """(label, text) rows that summarise a run."""
    assert result.spike_count is not None, "a Result needs spike_count or spikes"  # as n_neurons
    batch = np.shape(result.spike_count)[:-1]
    step = "" if result.dt is None else f" of {_time(result, result.dt)}"
    rows = [("model", result.model),
            ("steps", f"{result.n_steps}{step}"
                      + (f" ({_time(result, result.duration)})" if result.dt is not None else "")
                      + (", interrupted" if result.partial else "")),
            ("neurons", f"{result.n_neurons}" + (f" × batch {batch}" if batch else ""))]
    total = int(np.sum(result.spike_count))
    if result.n_steps:
        rates = np.asarray(result.rates).reshape(-1)
        silent = int(np.sum(np.asarray(result.spike_count) == 0))
        rows.append(("spikes", f"{total} (mean rate {rates.mean():.4g} {result.rate_unit}; "
                               f"{silent} of {rates.size} neurons silent)"))
    traced = [f"{name} ({'all' if (neurons := result.recorded.get(name)) is None else len(neurons)}"
              f" neurons)" for name in result.traces]
    rows.append(("traces", ", ".join(traced) or "none"))
    rows.append(("final state", ", ".join(
        f"{name} [{result.units[name]}]" if result.units.get(name) else name
        for name in result.state)))
    if result.first_nonfinite is not None:
        step, neuron, state, value = result.first_nonfinite
        rows.append(("non-finite", f"{state} = {value} at step {step}, neuron {neuron}"))
    return rows


def result_text(result: RunResult) -> str:
    """A few lines: the model, steps, neurons, spikes and what was traced."""
    return "Result\n" + "\n".join(f"  {label}: {text}" for label, text in result_facts(result))


def _table(rows: Iterable[tuple[str, object]]) -> str:
    cells = "".join(f"<tr><th style='text-align:left'>{html.escape(str(label))}</th>"
                    f"<td style='text-align:left'>{html.escape(str(text))}</td></tr>"
                    for label, text in rows)
    return f"<table>{cells}</table>"


def raster_svg(result: RunResult, width: int = 480, height: int = 160) -> str:
    """The first batch row's spikes as an inline SVG raster (no plotting library needed)."""
    try:
        times, neurons = result.spike_event_times
    except InputError:  # counts only: a summary without a raster
        return ""
    keep = neurons < RASTER_NEURONS
    times, neurons = times[keep][:RASTER_DOTS], neurons[keep][:RASTER_DOTS]
    shown = min(result.n_neurons, RASTER_NEURONS)
    end = result.duration or 1.0
    xs = 30 + (width - 40) * times / end
    ys = 10 + (height - 30) * (neurons + 0.5) / shown
    dots = "".join(f"<rect x='{x:.1f}' y='{y - 1:.1f}' width='1.5' height='2'/>"
                   for x, y in zip(xs, ys))
    unit = "steps" if result.dt is None else result.time_unit or "time units"
    label = html.escape(f"time ({unit})")
    return (f"<svg width='{width}' height='{height}' xmlns='http://www.w3.org/2000/svg' "
            f"font-size='10' font-family='sans-serif'>"
            f"<rect x='30' y='10' width='{width - 40}' height='{height - 30}' fill='none' "
            f"stroke='#999'/><g fill='black'>{dots}</g>"
            f"<text x='{width / 2}' y='{height - 4}' text-anchor='middle'>{label}</text>"
            f"<text x='26' y='{height - 20}' text-anchor='end'>0</text>"
            f"<text x='{width - 10}' y='{height - 20}' text-anchor='end'>{end:g}</text>"
            f"<text x='4' y='{height / 2}' transform='rotate(-90 8 {height / 2})'>neuron</text>"
            "</svg>")


def result_html(result: RunResult) -> str:
    """The summary table and a small raster of the first batch row."""
    return f"<div><b>lifgen Result</b>{_table(result_facts(result))}{raster_svg(result)}</div>"


def simulator_html(simulator: Shown) -> str:
    """The model, the options and the generated source, collapsed."""
    rows = [("model", simulator.model.name), ("method", simulator.method),
            ("dt", _quantity(simulator.dt, simulator.model.time_unit) if simulator.dt else "map"),
            ("dtype", simulator.dtype), ("reset", f"{simulator.reset} ({simulator.reset_timing})"),
            ("target", simulator.target.name)]
    rows += [(name, value) for name, value in simulator.options.items()
             if name not in {"method", "dt", "dtype", "reset", "reset_timing"}]
    source = html.escape(simulator.c_source)
    return (f"<div><b>lifgen Simulator</b>{_table(rows)}<details><summary>generated source "
            f"({source.count(chr(10))} lines)</summary><pre>{source}</pre></details></div>")


def report_text(report: Report) -> str:
    methods = list(dict.fromkeys(r["method"] for r in report.rows))
    dts = sorted({r["dt"] for r in report.rows}, reverse=True)
    verdict = "passed" if report.passed else "FAILED: " + ", ".join(
        m for m, ok in report.verdicts().items() if not ok)
    return (f"<VerificationReport {report.model}: {len(methods)} methods x {len(dts)} dts, "
            f"{verdict}>")


def report_html(report: Report) -> str:
    """The table and, when matplotlib is there, the convergence plot."""
    from .plotting import pyplot

    try:
        plt = pyplot()
    except InputError:  # no matplotlib: the table alone
        plt = None
    picture = ""
    if plt is not None:
        figure = report.plot()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=80)
        plt.close(figure)
        picture = f"<img src='data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()}'/>"
    return (f"<div><b>lifgen VerificationReport</b><pre>{html.escape(report.to_table())}</pre>"
            f"{picture}</div>")
