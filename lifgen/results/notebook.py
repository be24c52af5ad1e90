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
    def method_reason(self) -> str: ...
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


def _grid(head: Iterable[str], rows: Iterable[Iterable[object]]) -> str:
    """An HTML table with a header row; every cell escaped."""
    top = "".join(f"<th style='text-align:left'>{html.escape(str(h))}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td style='text-align:left'>{html.escape(str(cell))}</td>"
                                    for cell in row) + "</tr>" for row in rows)
    return f"<table><tr>{top}</tr>{body}</table>"


def model_html(model: Model) -> str:
    """The model as a reader knows it: its equations in LaTeX (the notebook typesets them), its
    parameters with values and units, its states with initial values, and its inputs."""
    equations = model._repr_latex_().strip("$")
    parameters = _grid(("parameter", "value", "unit", "description"),
                       ((q.name, f"{q.value:g}" if q.value is not None else "derived", q.unit,
                         q.description) for q in model.parameters))
    states = _grid(("state", "initial", "unit", "description"),
                   ((q.name, f"{model.initial_values[q.name]:g}", q.unit, q.description)
                    for q in model.states))
    inputs = _grid(("input", "unit", "description"),
                   ((q.name, q.unit, q.description) for q in model.inputs)) if model.inputs else ""
    description = f"<p>{html.escape(model.description)}</p>" if model.description else ""
    return (f"{description}<div>$${html.escape(equations, quote=False)}$$</div>"
            f"{parameters}{states}{inputs}")


def simulator_html(simulator: Shown) -> str:
    """The model (equations, parameters with units, states), the method and why it was chosen,
    dt; the compile options and the generated source collapsed below."""
    model = simulator.model
    rows = [("method", simulator.method), ("why", simulator.method_reason),
            ("dt", _quantity(simulator.dt, model.time_unit) if simulator.dt else "map"),
            ("reset", f"{simulator.reset} ({simulator.reset_timing})")]
    options = [("dtype", simulator.dtype), ("target", simulator.target.name)]
    options += [(name, value) for name, value in simulator.options.items()
                if name not in {"method", "dt", "dtype", "reset", "reset_timing"}]
    source = html.escape(simulator.c_source)
    return (f"<div><b>lifgen Simulator: {html.escape(model.name)}</b>{model_html(model)}"
            f"{_table(rows)}<details><summary>compile options</summary>{_table(options)}"
            f"</details><details><summary>generated source ({source.count(chr(10))} lines)"
            f"</summary><pre>{source}</pre></details></div>")


def report_text(report: Report) -> str:
    methods = list(dict.fromkeys(r["method"] for r in report.rows))
    dts = sorted({r["dt"] for r in report.rows}, reverse=True)
    verdict = "passed" if report.passed else "FAILED: " + ", ".join(
        m for m, ok in report.verdicts().items() if not ok)
    return (f"<VerificationReport {report.model}: {len(methods)} methods x {len(dts)} dts, "
            f"{verdict}>")


REPORT_COLUMNS = ("method", "dt", "max error", "rms error", "order", "expected",
                  "spike time error", "missed", "extra")


def report_html(report: Report) -> str:
    """The rows as a table, each method's verdict, and the convergence plot as an inline PNG
    when matplotlib is there."""
    from .plotting import pyplot

    unit = f" ({report.time_unit})" if report.time_unit else ""
    rows = [(r["method"], f"{r['dt']:g}{unit}", f"{r['max_error']:.3e}", f"{r['rms_error']:.3e}",
             "" if r["order"] is None else f"{r['order']:.2f}",
             "exact" if (e := report.expected_order(r["method"])) is None else e,
             "" if r["spike_time_error"] is None else f"{r['spike_time_error']:.2e}",
             r["missed_spikes"], r["extra_spikes"]) for r in report.rows]
    verdicts = _grid(("method", "verdict", "why"), (
        (method, "ok" if ok else "FAILED", report.verdict_details()[method])
        for method, ok in report.verdicts().items()))
    notes = [("reference", report.reference)] + (
        [("input", report.driven)] if report.driven else []) + (
        [("started from", report.exercised)] if report.exercised else [])
    try:
        plt = pyplot()
    except InputError:  # no matplotlib: the tables alone
        plt = None
    picture = ""
    if plt is not None:
        figure = report.plot()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=80)
        plt.close(figure)
        picture = f"<img src='data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()}'/>"
    verdict = "passed" if report.passed else "FAILED"
    return (f"<div><b>lifgen VerificationReport: {html.escape(report.model)}, {verdict}</b>"
            f"{_table(notes)}{_grid(REPORT_COLUMNS, rows)}{verdicts}{picture}</div>")
