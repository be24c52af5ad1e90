"""Verify numeric methods against a reference: errors, observed convergence orders, spike times.

The reference is the exact solution for linear models (the propagator at every step, with
resets at the exact crossing instants), and for nonlinear models the model's own rk4 at a time
step 64 times finer than the finest one tested; the report says which and how large the
reference's own error is.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Iterator, Mapping, Sequence, TypedDict, Union

import numpy as np
import numpy.typing as npt

from ..numerics.analytic import LinearSolution
from ..errors import InputError
from ..frontend.library import load_model
from ..ir.model import Model, Quantity
from ..results.result import Result
from ..ir.symbols import symbol
from ..numerics.accuracy import membrane_threshold, parameter_values
from ..numerics.holding import holding_input
from ..numerics.methods import (METHODS, VERIFIED_BY_DEFAULT, applies, is_linear,
                      is_uncoupled_linear)
from ..runtime.connectivity import Sparse
from ..runtime.prepare import in_declared_units
from ..runtime.sources import SpikeTrain
from ..runtime.waveforms import WAVEFORMS, Constant, Step, Waveform, in_units, resample

if TYPE_CHECKING:  # matplotlib is an optional extra
    from matplotlib.figure import Figure

ORDER_TOLERANCE = 0.2
DEFAULT_SHARE = 0.75  # the default input holds the membrane this share of the way to threshold
RETRIES = 3  # a default input under which the reference fires is halved this often at most
ROUNDING = 1e-10  # an error this small relative to the solution is rounding, not truncation
FINE = 64
MIN_STEPS = 4  # of the largest dt: fewer measure no convergence
MAX_STEPS = 50_000_000  # steps of the finest run (the fine reference included)
MIN_DT = 1e-12

Drive = Union[Waveform, npt.ArrayLike]  # an input: a waveform, or values per step
Event = tuple[tuple[int, ...], float]  # a synapse type's events: (steps of the largest dt, weight)


class SpikeErrors(TypedDict):
    """How a run's spike times differ from the reference's."""

    spike_time_error: float | None  # the largest, over the spikes matched within 5 steps
    missed_spikes: int
    extra_spikes: int


class Row(SpikeErrors):
    """One method at one dt, as the report's table shows it."""

    method: str
    dt: float
    max_error: float
    rms_error: float
    order: float | None  # observed against the row of twice this dt
    state_errors: dict[str, float]


@dataclass(repr=False)
class VerificationReport:
    """Errors and observed orders of each method and dt; `passed` checks them against theory."""

    model: str
    reference: str
    reference_error: float
    rows: list[Row]
    state: str = "V"  # the state the traces show: the one the spike condition tests
    state_unit: str = ""
    time_unit: str = ""
    traces: dict[tuple[str, float], tuple[np.ndarray, np.ndarray]] = field(
        default_factory=dict, repr=False)  # (method, dt) -> (times, V)
    reference_trace: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False)
    # set by verify(): the reference's magnitude, its number of steps, orders that differ here
    _magnitude: float = field(default=1.0, repr=False)
    _finest_steps: int = field(default=1, repr=False)
    _orders: dict[str, int | None] = field(default_factory=dict, repr=False)
    window: float | None = None  # state errors are measured before this time (None: all of it)
    exercised: str = ""  # the initial values and inputs chosen so that every state moves
    driven: str = ""  # the inputs of the runs, when verify chose them

    @property
    def passed(self) -> bool:
        return all(self.verdicts().values())

    @property
    def noise_floor(self) -> float:
        """Errors below this are rounding: round-off accumulated over the finest run."""
        return 20 * (self.reference_error + np.finfo(float).eps * self._scale()
                     * math.sqrt(self._finest_steps))

    def measured_order(self, method: str) -> float | None:
        """Observed order between the two finest dts whose errors are above the noise floor."""
        rows = [r for r in self.rows if r["method"] == method
                and r["max_error"] > self.noise_floor]
        return rows[-1]["order"] if len(rows) >= 2 else None

    def verdicts(self) -> dict[str, bool]:
        """Method -> whether it behaves as theory says.

        A method exact for the model must stay at rounding level; any other must show its order
        within 0.2 between the two finest dts (errors already at rounding level everywhere
        leave no order to measure, and pass).
        """
        result = {}
        for method in dict.fromkeys(r["method"] for r in self.rows):
            rows = [r for r in self.rows if r["method"] == method]
            expected = self.expected_order(method)
            if expected is None:
                result[method] = rows[-1]["max_error"] <= ROUNDING * self._scale()
                continue
            measurable = [r for r in rows if r["max_error"] > self.noise_floor]
            observed = self.measured_order(method)
            result[method] = (observed is None and len(measurable) < 2
                              or observed is not None and abs(observed - expected) <= ORDER_TOLERANCE)
        return result

    def expected_order(self, method: str) -> int | None:
        return self._orders.get(method, METHODS[method].order if method in METHODS else None)

    def _scale(self) -> float:
        return max(1.0, self._magnitude)

    def to_table(self) -> str:
        """The report as an aligned text table, one row per method and dt."""
        head = (f"{'method':18s} {'dt':>10s} {'max error':>11s} {'rms error':>11s} {'order':>6s} "
                f"{'expected':>8s} {'spike dt err':>12s} {'missed':>6s} {'extra':>5s}")
        lines = [f"model {self.model}; reference: {self.reference} "
                 f"(its own error about {self.reference_error:.1e})"]
        if self.window is not None:
            lines.append(f"state errors measured for t <= {self.window:g}, before the first spike "
                         "(after it every method resets at a step boundary, an error of order "
                         "dt); spike times are compared in 'spike dt err'")
        if self.driven:
            lines.append(f"input: {self.driven}")
        lines += [head, "-" * len(head)]
        for r in self.rows:
            order = "" if r["order"] is None else f"{r['order']:.2f}"
            expected = self.expected_order(r["method"])
            spike = "" if r["spike_time_error"] is None else f"{r['spike_time_error']:.2e}"
            lines.append(f"{r['method']:18s} {r['dt']:10.3g} {r['max_error']:11.3e} "
                         f"{r['rms_error']:11.3e} {order:>6s} "
                         f"{'exact' if expected is None else expected:>8} {spike:>12s} "
                         f"{r['missed_spikes']:6d} {r['extra_spikes']:5d}")
        lines += self._per_state()
        lines.append("")
        details = self.verdict_details()
        for method, ok in self.verdicts().items():
            lines.append(f"{method}: {'ok' if ok else 'FAILED'} ({details[method]})")
        return "\n".join(lines)

    def verdict_details(self) -> dict[str, str]:
        """Method -> why its verdict is what it is (the observed against the expected order)."""
        details = {}
        for method, ok in self.verdicts().items():
            expected, observed = self.expected_order(method), self.measured_order(method)
            if expected is None:
                detail = "exact for this model: error at rounding level" if ok else \
                    "should be exact for this model but is not"
            elif observed is None:
                where = "every dt" if not any(
                    r["max_error"] > self.noise_floor for r in self.rows
                    if r["method"] == method) else "all but the largest dt"
                detail = f"error below the noise floor {self.noise_floor:.1e} at {where}"
            else:
                detail = f"observed order {observed:.2f}, expected {expected}"
            details[method] = detail
        return details

    def state_orders(self, method: str) -> dict[str, float | None]:
        """State -> observed order of `method` between its two finest dts whose error in that
        state is above the noise floor (None when fewer than two are)."""
        rows = [r for r in self.rows if r["method"] == method]
        result = {}
        for name in rows[0]["state_errors"] if rows else ():
            above = [r["state_errors"][name] for r in rows
                     if r["state_errors"][name] > self.noise_floor]
            result[name] = math.log2(above[-2] / above[-1]) if len(above) >= 2 else None
        return result

    def _per_state(self) -> list[str]:
        """Lines: each state's error at the finest dt and its observed order, per method, and
        the initial values and inputs the runs started from."""
        if not self.rows or len(self.rows[0].get("state_errors", {})) < 2:
            return []
        lines = ["", "per state (max error at the finest dt; observed order):"]
        for method in dict.fromkeys(r["method"] for r in self.rows):
            finest = [r for r in self.rows if r["method"] == method][-1]["state_errors"]
            orders = self.state_orders(method)
            parts = [f"{n} {e:.2e}" + (f" ({orders[n]:.2f})" if orders[n] is not None else "")
                     for n, e in finest.items()]
            lines.append(f"  {method:18s} " + ", ".join(parts))
        if self.exercised:
            lines.append("started from " + self.exercised)
        return lines

    def plot(self, path: str | Path | None = None) -> Figure:
        from ..results.plotting import plot_verification

        return plot_verification(self, path)

    def __repr__(self) -> str:
        from ..results.notebook import report_text

        return report_text(self)

    __str__ = to_table

    def _repr_html_(self) -> str:
        from ..results.notebook import report_html

        return report_html(self)


def verify(model: Model | str | Path, methods: str | Sequence[str] | None = None,
           dts: Iterable[float] | None = None, input: Drive | dict[str, Drive] | None = None,
           t_end: float | None = None, params: Mapping[str, float | str] | None = None,
           initial: Mapping[str, float] | None = None,
           progress: bool | Callable[[str], object] | None = None) -> VerificationReport:
    """Compare `methods` on `model` at each dt against the reference; return a VerificationReport.

    `methods` default to every verified method that applies to the model; a method named here
    that does not apply is an InputError. `input` is a waveform for the model's first input, or
    a dict of input name -> waveform, in steps of the largest dt; `dts` default to the model's
    dt and four halvings; `t_end` to five of the model's slowest time constants. `progress` is
    a callable given one line per simulation (or True: lines on standard error). `params` are
    numbers in the model's units or quantities ("5 ohm"), as Simulator.run takes them.

    When the reference spikes, state errors are measured before its first spike: after a spike
    every method resets at a step boundary, an error of order dt that no method's order can beat;
    spike times are compared separately.
    """
    model = _synapses_as_inputs(load_model(model), params)
    if model.is_discrete:
        raise InputError(f"model {model.name} is a discrete-time map: there is nothing to converge")
    if model.is_stochastic:
        raise InputError(f"model {model.name} has white noise xi: its paths do not converge to "
                         "one solution, so verify has no reference for it")
    params = in_declared_units(params or {}, model.parameters, "params")  # "5 ohm": in R's unit
    dts = _time_steps(model, dts)
    with _computable(model):
        t_end = t_end or _default_duration(model, params)
    base_steps = _base_steps(t_end, dts, is_linear(model))
    with _computable(model):
        waveforms = _waveforms(model, input, params, dts[0])
    with _computable(model):
        initial, exercised = _exercising(model, params, initial, waveforms, t_end)
    methods = _methods(model, methods)
    if not methods:
        raise InputError(f"no method to verify applies to model {model.name}")
    say = _progress(progress)
    say(f"verify {model.name}: reference ({'exact' if is_linear(model) else 'fine rk4'})")
    with _computable(model):
        events = _synaptic_events(model, params, base_steps, t_end)
        reference = _Reference(model, dts, base_steps, waveforms, params, initial,
                               is_linear(model), events)
        share = DEFAULT_SHARE
        for _ in range(RETRIES if input is None and model.inputs else 0):
            if not len(reference.spikes):
                break  # a default input is meant to stay below threshold: halve it until it does
            share /= 2
            say(f"verify {model.name}: the default input fires the reference; "
                f"{share:g} of the way to threshold")
            waveforms = _waveforms(model, None, params, dts[0], share)
            reference = _Reference(model, dts, base_steps, waveforms, params, initial,
                                   is_linear(model), events)
    shown = reference.shown
    units = {q.name: q.unit for q in model.states if q.unit}
    report = VerificationReport(model=model.name, reference=reference.description,
                                reference_error=reference.error, rows=[],
                                state=shown, state_unit=units.get(shown, ""),
                                time_unit=model.time_unit,
                                reference_trace=reference.trace_for(dts[-1]))
    report._magnitude = reference.magnitude
    report.exercised = "; ".join(filter(None, [exercised, ", ".join(
        f"{name} events at t = {', '.join(f'{(s + 1) * dts[0]:g}' for s in steps)} "
        f"(w = {weight:.3g})" for name, (steps, weight) in events.items())]))
    if input is None:
        input_units = {q.name: q.unit for q in model.inputs}
        report.driven = ", ".join(
            f"{n} = {w.amplitude:.4g}{' ' + input_units[n] if input_units[n] else ''} from t = 0"
            for n, w in waveforms.items() if isinstance(w, Step)) + (
            f" (chosen to hold the membrane {share:g} of the way to threshold, or less where "
            "its rest would not stay stable)" if model.inputs else "")
    report._finest_steps = base_steps * int(round(dts[0] / dts[-1]))
    # Brian2's per-variable exponential Euler is exact only for uncoupled linear equations;
    # on coupled ones (a synaptic current into a membrane) it is first order
    report._orders = {"exponential_euler": None if is_uncoupled_linear(model) else 1}
    report.window = _window(reference.spikes, dts[0], model.name)
    runs = [(method, dt) for method in methods for dt in dts]
    for done, (method, dt) in enumerate(runs, 1):
        say(f"verify {model.name}: {method} at dt={dt:g} ({done}/{len(runs)})")
        factor = int(round(dts[0] / dt))
        result = _simulate(model, method, dt, base_steps * factor,
                           {n: resample(w, factor) for n, w in waveforms.items()}, params, initial,
                           events, factor)
        previous = report.rows[-1]["max_error"] if dt != dts[0] else None
        report.rows.append(_row(method, dt, result, reference, report.window, previous))
        report.traces[(method, dt)] = (result.times, result.traces[shown][:, 0])
    return report


def _row(method: str, dt: float, result: Result, reference: _Reference, window: float | None,
         previous: float | None) -> Row:
    """One row of the report: errors of `result` against the reference before `window`, the
    order against the `previous` (twice as coarse) error, and the spike-time errors."""
    states, spike_times = reference.at(dt)
    before = _steps_before(window, dt, result.n_steps)
    per_state = {n: np.abs(result.traces[n][:before, 0] - states[n][:before])
                 for n in reference.model.state_names}
    errors = np.concatenate(list(per_state.values()))
    max_error = float(errors.max()) if errors.size else 0.0
    return {"method": method, "dt": dt, "max_error": max_error,
            "rms_error": float(np.sqrt(np.mean(errors ** 2))) if errors.size else 0.0,
            "order": math.log2(previous / max_error) if previous and max_error > 0 else None,
            "state_errors": {n: float(e.max()) if e.size else 0.0 for n, e in per_state.items()},
            **_spike_errors(result.spike_times[0], spike_times, dt)}


def _synapses_as_inputs(model: Model, params: Mapping[str, float | str] | None) -> Model:
    """The model with each synapse type that is an input of its equations (no target: a NIR
    node's I, snnTorch's rec) declared an input, so that verify drives it with a waveform as it
    drives inputs (alone, a population holds it at its bias, 0 by default: nothing would move).
    Its bias is then no part of the run: a value given for it is refused, naming the input."""
    driven = [y for y in model.synapses if not y.target]
    for y in driven:
        if y.bias and y.bias in (params or {}):
            raise InputError(f"params: {y.bias} is the bias of synapse type {y.name}, which "
                             f"verify drives as an input: give --input {y.name}=const:VALUE "
                             f"(input={{{y.name!r}: ...}}) instead")
    if not driven:
        return model
    return replace(model, inputs=model.inputs + tuple(Quantity(y.name) for y in driven),
                   synapses=tuple(y for y in model.synapses if y.target))


@contextlib.contextmanager
def _computable(model: Model) -> Iterator[None]:
    """Arithmetic that fails on the user's parameters (R = 0) is an InputError, not a crash."""
    try:
        yield
    except (ArithmeticError, TypeError) as error:
        raise InputError(f"the reference solution of {model.name} cannot be computed with these "
                         f"parameters ({error or type(error).__name__}): is one of them 0, or "
                         "out of its range?") from None


def _base_steps(t_end: float, dts: Sequence[float], linear: bool) -> int:
    """Steps of the largest dt in `t_end`: at least MIN_STEPS (fewer measure nothing), and not
    so many that the finest run (64 times finer again for a nonlinear reference) is too long."""
    if isinstance(t_end, bool) or not isinstance(t_end, (int, float)) or not math.isfinite(t_end) \
            or t_end <= 0:
        raise InputError(f"t_end must be a finite time > 0, got {t_end!r}")
    steps = int(round(t_end / dts[0]))
    finest = steps * round(dts[0] / dts[-1]) * (1 if linear else FINE)
    if steps < MIN_STEPS:
        raise InputError(f"t_end = {t_end:g} is {steps} step(s) of the largest dt {dts[0]:g}: "
                         f"verify needs at least {MIN_STEPS} to measure anything")
    if finest > MAX_STEPS:
        raise InputError(f"the finest run would take {finest:.3g} steps (limit {MAX_STEPS:.0e}): "
                         "use larger dts or a shorter t_end")
    return steps


def _methods(model: Model, methods: str | Sequence[str] | None) -> list[str]:
    """The methods to compare: those given (each must apply), else every default that applies."""
    if methods is None:
        return [m for m in VERIFIED_BY_DEFAULT if applies(m, model)]
    if isinstance(methods, str):
        methods = [m.strip() for m in methods.split(",") if m.strip()]
    if not isinstance(methods, (list, tuple)) or not all(isinstance(m, str) for m in methods):
        raise InputError(f"methods must be a method's name, names separated by commas or a list "
                         f"of names, got {methods!r}")
    unknown = [m for m in methods if m not in METHODS and m != "auto"]
    if unknown:
        raise InputError(f"unknown method(s) {', '.join(unknown)}; methods are "
                         f"{', '.join(METHODS)} and auto")
    refused = [m for m in methods if not applies(m, model)]
    if refused:
        raise InputError(f"{', '.join(refused)} cannot integrate model {model.name}: "
                         + "; ".join(f"{m} needs {METHOD_NEEDS.get(m, 'another kind of model')}"
                                     for m in refused))
    return list(dict.fromkeys(methods))


METHOD_NEEDS = {"exact": "linear equations with constant coefficients",
                "exponential_euler": "each equation linear in its own state"}


def _waveforms(model: Model, input: Drive | dict[str, Drive] | None,
               params: Mapping[str, float], coarsest: float, share: float = DEFAULT_SHARE
               ) -> dict[str, Drive]:
    """Input name -> waveform: `input` for the first input, or a dict naming inputs (quantities
    in the input's unit, times in steps of the `coarsest` dt); by default a sub-threshold step
    `share` of the way to threshold (_default_input)."""
    if input is None:  # every input driven: the first `share` of the way to threshold, the
        # others 5% further each
        return {name: _default_input(model, params, name, share if k == 0 else 0.05)
                for k, name in enumerate(model.input_names)}
    if not isinstance(input, dict):
        if not model.inputs:
            raise InputError(f"model {model.name} has no input to drive")
        input = {model.input_names[0]: input}
    unknown = sorted(set(input) - set(model.input_names))
    if unknown:
        raise InputError(f"input names {', '.join(unknown)} are not inputs of {model.name} "
                         f"(its inputs: {', '.join(model.input_names) or 'none'})")
    units = {q.name: q.unit for q in model.inputs}
    return {n: in_units(w, units[n], coarsest, model.time_unit, f"input[{n!r}]")
            if isinstance(w, WAVEFORMS) else w for n, w in input.items()}


def _progress(progress: bool | Callable[[str], object] | None) -> Callable[[str], object]:
    if progress is True:
        import sys

        return lambda line: print(line, file=sys.stderr, flush=True)
    return progress if callable(progress) else (lambda line: None)


def _window(spikes: npt.ArrayLike, coarsest: float, name: str) -> float | None:
    """The time before which state errors are measured: one coarsest step before the reference's
    first spike, or the whole run when it does not spike."""
    spikes = np.asarray(spikes)
    if not spikes.size:
        return None
    window = float(spikes[0]) - coarsest
    if window < 4 * coarsest:
        raise InputError(f"the reference of {name} spikes at t = {spikes[0]:g}, within four steps "
                         f"of the largest dt {coarsest:g}: too early to measure convergence "
                         "before the first spike (use a weaker input or smaller --dts)")
    return window


def _steps_before(window: float | None, dt: float, n_steps: int) -> int:
    """How many grid points (k + 1)*dt lie before `window` (all of them when None)."""
    return n_steps if window is None else int(np.floor(window / dt + 1e-9))


def _time_steps(model: Model, dts: Iterable[float] | None) -> list[float]:
    if dts is None:
        if model.dt is None:
            raise InputError(f"model {model.name} has no default dt; pass dts=")
        return [model.dt / 2 ** k for k in range(5)]
    try:
        dts = sorted({float(d) for d in dts}, reverse=True)
    except (TypeError, ValueError):
        raise InputError(f"dts must be numbers, got {dts!r}") from None
    if len(dts) < 2:
        raise InputError("verify needs at least two different dts: an order of convergence is "
                         "measured between two")
    if not all(math.isfinite(d) and d >= MIN_DT for d in dts):
        raise InputError(f"each dt must be a finite time of at least {MIN_DT:g}, got {dts}")
    for dt in dts[1:]:
        ratio = dts[0] / dt
        if abs(ratio - round(ratio)) > 1e-9:
            raise InputError("each dt must divide the largest one (use halvings)")
    return dts


def _rates(model: Model, params: Mapping[str, float]) -> list[float]:
    """Decay rates |df_i/dx_i| at the initial state: the inverse time constants of the model."""
    values = {**model.defaults, **params}
    rates = []
    for state, rhs in model.odes:
        slope = rhs.diff(state).subs({s: v for s, v in zip(model.state_symbols,
                                                             model.initial_values.values())})
        slope = slope.subs({model_symbol: values[model_symbol.name]
                            for model_symbol in model.parameter_symbols})
        slope = slope.subs({u: 0 for u in model.input_symbols})
        try:
            rates.append(abs(float(slope)))
        except TypeError:
            continue
    return [r for r in rates if r > 0]


def _default_duration(model: Model, params: Mapping[str, float]) -> float:
    rates = _rates(model, params)
    return 5.0 / min(rates) if rates else 100 * (model.dt or 1.0)


def _default_input(model: Model, params: Mapping[str, float], name: str, share: float) -> Step:
    """A step at t = 0 in input `name` that holds the membrane below threshold, so that the errors
    show the method's order cleanly. Linear models: the steady state `share` of the way from the
    initial value to threshold (for inputs after the first, `share` further). Nonlinear models:
    the stable steady state `share` of the way, and at most a quarter of the way to where the
    stable rest ends (numerics/holding.py: a Hodgkin-Huxley neuron fires on a step to half its
    Hopf current). 1 (0.1 for inputs after the first) only where neither can be said."""
    threshold = _threshold(model, params)
    if is_linear(model) and threshold is not None:
        solution, membrane = LinearSolution(model), model.spike.lhs.name
        state = {k: 0.0 for k in model.state_names}
        rest = float(solution.propagate(state, {}, params, 1e6)[membrane])
        gain = float(solution.propagate(state, {name: 1.0}, params, 1e6)[membrane])
        start = model.initial_values[membrane]
        if gain - rest != 0:
            if name == model.input_names[0]:  # from where the model rests to `share` of the way
                return Step((start + share * (threshold - start) - rest) / (gain - rest), 0)
            return Step(share * (threshold - start) / (gain - rest), 0)  # `share` further
    held = None if threshold is None else holding_input(
        model, {**parameter_values(model), **params}, name, share)
    if held is not None:
        return Step(held, 0)
    return Step(1.0 if name == model.input_names[0] else 0.1, 0)


def _exercising(model: Model, params: Mapping[str, float], initial: Mapping[str, float] | None,
                waveforms: Mapping[str, Drive], t_end: float
                ) -> tuple[Mapping[str, float] | None, str]:
    """Initial values that move every state: a state the run would leave at its initial value
    (a synaptic current with no input and no spike) starts away from it, by a twentieth of the
    distance to threshold in its effect on the membrane (linear models) or by 0.1 of its unit.
    Returns (initial values, a line saying what was chosen)."""
    if initial is not None:
        return initial, ""
    chosen = {}
    at_start = {**{symbol(n): v for n, v in model.initial_values.items()},
                **{symbol(n): v for n, v in {**model.defaults, **params}.items()},
                **{u: 0 for u in model.input_symbols}}
    for state, rhs in model.odes:  # at rest at the start, and no input moves it directly
        if model.initial_values[state.name] != 0 or rhs.free_symbols & set(model.input_symbols) \
                or abs(float(rhs.xreplace(at_start))) > 0:
            continue
        chosen[state.name] = _kick(model, params, state.name, t_end)
    if not chosen:
        return None, ""
    units = {q.name: q.unit for q in model.states}
    text = ", ".join(f"{n} = {v:.3g}{' ' + units[n] if units[n] else ''}" for n, v in chosen.items())
    return chosen, f"{text} (states the inputs alone leave at rest)"


def _kick(model: Model, params: Mapping[str, float], name: str, t_end: float,
          share: float = 0.05) -> float:
    """How much of state `name` moves the membrane `share` of the way to threshold at most
    (linear models), else 0.1 of its unit."""
    threshold = _threshold(model, params)
    if not (is_linear(model) and threshold is not None):
        return 0.1
    solution, membrane = LinearSolution(model), model.spike.lhs.name
    unit = {k: (1.0 if k == name else 0.0) for k in model.state_names}
    response = solution.propagate(unit, {}, params, np.linspace(0.0, t_end, 200))[membrane]
    rest = solution.propagate({k: 0.0 for k in model.state_names}, {}, params,
                              np.linspace(0.0, t_end, 200))[membrane]
    gain = float(np.max(np.abs(response - rest)))
    distance = abs(threshold - model.initial_values[membrane])
    return share * distance / gain if gain > 0 and distance > 0 else 0.1


# a threshold at least this large is never reached (NIR's non-spiking LI, CubaLI and I nodes
# spike above float32's largest number): an input scaled to reach it would be as large
NEVER_REACHED = 1e30


def _threshold(model: Model, params: Mapping[str, float]) -> float | None:
    """The threshold value of a condition `X > theta` on a state X, else None (also where it
    is never reached)."""
    threshold = membrane_threshold(model, {**model.defaults, **params})[1]
    return None if threshold is not None and abs(threshold) >= NEVER_REACHED else threshold


def _simulate(model: Model, method: str, dt: float, n_steps: int, waveforms: Mapping[str, Drive],
              params: Mapping[str, float], initial: Mapping[str, float] | None,
              events: Mapping[str, Event] | None = None, factor: int = 1) -> Result:
    """One run; `events` (synapse type -> (steps of the largest dt, weight)) arrive at the end
    of those steps, `factor` steps of this dt to one of the largest."""
    from ..runtime.simulate import compile as compile_model

    if method == "auto":  # auto's choice at the model's own dt, the same method at every dt
        from ..numerics.discretize import auto_choice

        method = auto_choice(model, model.dt or dt)[0]
    simulator = compile_model(model, method=method, dt=dt, reset_timing="same_step",
                              runtime_dt=True)  # one kernel per method, whatever the dt
    inputs = {n: waveforms.get(n, Constant(0.0)) for n in model.input_names}
    drives = {name: (SpikeTrain(1, [(s + 1) * factor - 1 for s in steps], [0] * len(steps)),
                     Sparse.from_arrays([0], [0], [weight], delay=1, n_pre=1, n_post=1))
              for name, (steps, weight) in (events or {}).items()}
    return simulator.run(n_steps, inputs=inputs, params=params, initial=initial,
                         record=model.state_names, drives=drives or None)


def _synaptic_events(model: Model, params: Mapping[str, float], base_steps: int, t_end: float
                     ) -> dict[str, Event]:
    """Synapse type -> (steps of the largest dt, weight): two events per synapse type that adds
    to a state, at 30% and 60% of the run (5% later for each further type), each moving the
    membrane a twentieth of the way to threshold (linear models) or adding 0.1 (others). Without them verify never exercises
    what a spike does to the step map."""
    targets = [(y.name, y.target) for y in model.synapses if y.target]
    return {name: ((int((0.3 + 0.05 * k) * base_steps), int((0.6 + 0.05 * k) * base_steps)),
                   _kick(model, params, target, t_end, 0.05))
            for k, (name, target) in enumerate(targets)}


class _Reference:
    """The reference solution at every tested dt's grid points."""

    def __init__(self, model: Model, dts: Sequence[float], base_steps: int,
                 waveforms: Mapping[str, Drive], params: Mapping[str, float],
                 initial: Mapping[str, float] | None, linear: bool,
                 events: Mapping[str, Event]) -> None:
        self.model = model
        self.dts = dts
        spiking = getattr(model.spike, "lhs", None)
        self.shown = (spiking.name if spiking is not None and spiking in model.state_symbols
                      else model.state_names[0])
        finest = dts[-1]
        factor = int(round(dts[0] / finest))
        if linear:
            self.description = "exact solution (propagator at each step, resets at crossings)"
            solution = LinearSolution(model)
            inputs = {n: _values(resample(w, factor), base_steps * factor)
                      for n, w in waveforms.items()}
            kicks: dict[str, np.ndarray] = {}  # target state -> added at each fine step
            for name, (steps, weight) in events.items():
                target = next(y.target for y in model.synapses if y.name == name and y.target)
                added = kicks.setdefault(target, np.zeros(base_steps * factor))
                added[[(s + 1) * factor for s in steps]] += weight
            self.states, self.spikes = solution.simulate(base_steps * factor, finest, inputs,
                                                         params, initial, kicks=kicks)
            self.step = finest
            self.error = float(np.finfo(float).eps * math.sqrt(base_steps * factor)
                               * max(1.0, max(float(np.abs(v).max())
                                              for v in self.states.values())))
        else:
            self.description = f"rk4 at dt/{FINE} of the finest dt"
            fine = finest / FINE
            run = _simulate(model, "rk4", fine, base_steps * factor * FINE,
                            {n: resample(w, factor * FINE) for n, w in waveforms.items()},
                            params, initial, events, factor * FINE)
            coarse = _simulate(model, "rk4", 2 * fine, base_steps * factor * FINE // 2,
                               {n: resample(w, factor * FINE // 2) for n, w in waveforms.items()},
                               params, initial, events, factor * FINE // 2)
            self.states = {n: run.traces[n][FINE - 1::FINE, 0] for n in model.state_names}
            self.spikes = run.spike_times[0]
            self.step = finest
            # Richardson: the error of rk4 at h is about (e(2h) - e(h))/15, before any spike.
            pairs = coarse.traces[model.state_names[0]].shape[0]
            if len(self.spikes):
                pairs = min(pairs, max(1, int((self.spikes[0] - dts[0]) / (2 * fine))))
            self.error = max(float(np.abs(run.traces[n][1:2 * pairs:2, 0]
                                          - coarse.traces[n][:pairs, 0]).max())
                             for n in model.state_names) / 15
        self.magnitude = max(float(np.abs(v).max()) for v in self.states.values())

    def at(self, dt: float) -> tuple[dict[str, np.ndarray], np.ndarray]:
        stride = int(round(dt / self.step))
        return {n: v[stride - 1::stride] for n, v in self.states.items()}, self.spikes

    def trace_for(self, dt: float) -> tuple[np.ndarray, np.ndarray]:
        states, _ = self.at(dt)
        values = states[self.shown]
        return np.arange(1, len(values) + 1) * dt, values


def _values(waveform: Drive, n_steps: int) -> np.ndarray:
    if hasattr(waveform, "values"):
        return waveform.values(n_steps)
    return np.asarray(waveform, float)[:n_steps]


def _spike_errors(numeric: npt.ArrayLike, reference: npt.ArrayLike, dt: float) -> SpikeErrors:
    """Match each reference spike to the nearest numeric one within 5 steps."""
    numeric, reference = np.asarray(numeric), np.asarray(reference)
    if reference.size == 0 and numeric.size == 0:
        return {"spike_time_error": None, "missed_spikes": 0, "extra_spikes": 0}
    used, errors = set(), []
    for t in reference:
        if numeric.size == 0:
            break
        index = int(np.argmin(np.abs(numeric - t)))
        if index not in used and abs(numeric[index] - t) <= 5 * dt:
            used.add(index)
            errors.append(abs(numeric[index] - t))
    return {"spike_time_error": max(errors) if errors else None,
            "missed_spikes": int(reference.size - len(errors)),
            "extra_spikes": int(numeric.size - len(used))}
