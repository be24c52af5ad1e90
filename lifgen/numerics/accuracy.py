"""method="auto" by accuracy: each candidate's error, estimated on a pilot run in NumPy.

A linear system takes its exact propagator and white noise Euler-Maruyama (unless only
Ornstein-Uhlenbeck states are noisy beside others: their noise-free path is the pilot), by form
alone. Any other model runs a pilot of PILOT_STEPS steps in NumPy (no C is compiled; the
candidates' step maps are evaluated as written, so it measures what the kernel computes):
neurons with the model's default parameters and initial values, its inputs held at a moderate
value (the first moves the membrane's rest DRIVE_SHARE of the way to threshold, by the
linearization at the initial state), one neuron more driven SPIKING_SHARE of the way so that it
spikes, one more per synapse type that a kick hits at KICK_STEP, and one more spiking neuron per
synapse type kicked every KICK_PERIOD steps from then on (each kick moves the membrane KICK_SHARE
of the way to threshold). Along the pilot's path each candidate's local error is estimated by
step doubling (one step of dt against two of dt/2, times 2^p/(2^p - 1) for order p) relative to
each state's scale, its largest magnitude over the pilot, and summed along each neuron's path: an estimate of
the error a run gathers, which a per-step bound alone misses (rk4 on hodgkin_huxley at 0.01 ms
is under 1e-6 in every step but gathers 1.6e-6 over 200 ms). auto takes the cheapest candidate
(methods.AUTO_CANDIDATES) whose estimate is under `rtol` (default 1e-6); when none is, the most
accurate, with a warning naming a dt at which a pilot puts it under.

Steps that end in a reset spike are left out for the states the reset sets (the reset erases
their errors; the path goes on from the reset state), not for the others (a conductance carries
its error at a spike step on), and refractory holds are not simulated. A candidate whose step
leaves a state non-finite anywhere on the path, spike steps included, is refused: the kernel
would keep the NaN (rk4 in substeps runs an exponential integrate-and-fire neuron past its
cut-off within one step). A model without a reset (Hodgkin-Huxley) is measured through its spikes, its ODE.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, Protocol, Sequence

import numpy as np
import numpy.typing as npt
import sympy

from ..ir.functions import FUNCTIONS
from .methods import METHODS, auto_candidates
from ..ir.symbols import DT, previous_symbol
from ..ir.model import Model, Synapse
from ..ir.written import NUMPY_OPERATIONS, Assignments, Call, Name, Neg, Not, Num, Tree, from_sympy

DEFAULT_RTOL = 1e-6  # the error over the pilot, relative to each state's scale
PILOT_STEPS = 400
KICK_STEP = 40  # the kicks arrive at the end of this pilot step
KICK_PERIOD = 20  # and, on the spiking neurons kicked repeatedly, every this many steps on
DRIVE_SHARE = 0.75  # the first input moves the membrane's rest this share of the way to threshold
SPIKING_SHARE = 1.5  # and, in one more pilot neuron, this share: past threshold, so that it spikes
MIN_PATH = 20  # finite pilot steps below which auto cannot estimate errors
KICK_SHARE = 0.25  # each kick moves the membrane at most this share of the way to threshold
PATH_SUBSTEPS = (1, 2, 4, 8)  # the pilot's path in substeps where steps of dt leave it non-finite
PROBE_STEPS = 200  # the run that chooses the kicks
SAFETY = 0.8  # the suggested dt is this much below the one the error model gives
SUGGEST_TRIES = 3  # pilots run at smaller dts to check the suggested one

Array = npt.NDArray[np.float64]
States = dict[str, Array]  # state name -> one value per pilot neuron (or per point of a path)
Inputs = Mapping[str, "Array | float"]  # input name -> value, per pilot neuron or for all
# a compiled tree: values by name (NumPy arrays or scalars, as written.evaluate) -> its value
Closure = Callable[[Mapping[str, Any]], Any]


class StepMapLike(Protocol):
    """What the pilot reads of a discretize.StepMap (discretize imports this module, so this
    module names what it needs instead of importing StepMap back)."""

    @property
    def model(self) -> Model: ...
    @property
    def dt(self) -> float | None: ...
    @property
    def constants(self) -> Assignments: ...
    @property
    def stages(self) -> Assignments: ...
    @property
    def updates(self) -> Assignments: ...
    @property
    def reset(self) -> Assignments: ...


StepMapOf = Callable[[str, float], StepMapLike]  # (method, dt) -> its step map


@dataclass(frozen=True)
class Choice:
    """auto's choice: the method, why (the candidates' errors), and a warning when none passed."""

    method: str
    reason: str
    warning: str = ""


def choose(model: Model, dt: float, rtol: float, step_map_of: StepMapOf) -> Choice:
    """The cheapest candidate whose estimated error is under `rtol`; `step_map_of(method, dt)`
    discretizes. Where the pilot's path cannot be followed, the fourth-order candidate."""
    candidates = auto_candidates(model)
    accurate = "hybrid" if "hybrid" in candidates else "rk4"
    try:
        pilot = Pilot(model, dt, step_map_of, accurate)
    except KeyError as unknown:  # a step map reading what a pilot does not simulate
        return Choice(accurate, f"method auto chose {accurate}, the fourth-order candidate, "
                      f"without an estimate: its pilot cannot evaluate {unknown}")
    if pilot.steps < MIN_PATH:
        return Choice(accurate, f"method auto chose {accurate}, the fourth-order candidate, "
                      f"without an estimate: the pilot ({pilot.described}) became non-finite "
                      f"after {pilot.steps} steps even in {PATH_SUBSTEPS[-1]} substeps")
    errors = {}
    for method in candidates:
        errors[method] = pilot.error(method)
        if errors[method].accumulated <= rtol:
            return Choice(method, _reason(method, errors, rtol, pilot, "the cheapest under it"))
    best = min(errors, key=lambda m: errors[m].accumulated)
    suggested, error = smaller_dt(model, dt, rtol, step_map_of, pilot.accurate, best,
                                  errors[best].accumulated)
    warning = (f"{model.name}: no method is accurate to rtol = {rtol:g} at dt = {dt:g}: the "
               f"most accurate, {best}, has an estimated error of {errors[best].accumulated:.2g}"
               f" of {errors[best].state}'s scale over a {PILOT_STEPS}-step pilot; at dt = "
               f"{suggested:.3g} its pilot estimates {error:.2g} (or pass a larger rtol)")
    why = (f"none is under it; {best} is the most accurate (at dt = {suggested:.3g} its pilot "
           f"estimates {error:.2g})")
    return Choice(best, _reason(best, errors, rtol, pilot, why), warning)


def smaller_dt(model: Model, dt: float, rtol: float, step_map_of: StepMapOf, accurate: str,
               method: str, error: float) -> tuple[float, float]:
    """(dt, its estimated error): a dt at which `method`'s pilot error is under `rtol`, from the
    error model (dt^(order + 1) per step) checked by a pilot at that dt, SUGGEST_TRIES times
    at most."""
    for _ in range(SUGGEST_TRIES):
        dt = suggested_dt(dt, error, rtol, METHODS[method].order)
        error = Pilot(model, dt, step_map_of, accurate).error(method).accumulated
        if error <= rtol:
            break
    return dt, error


def suggested_dt(dt: float, error: float, rtol: float, order: int | None) -> float:
    """The dt at which an error summed over the pilot's steps, each growing as dt^(order + 1),
    falls under `rtol` (a tenth of dt where the error is not finite)."""
    if not np.isfinite(error):
        return dt / 10
    return SAFETY * dt * (rtol / error) ** (1 / ((order or 1) + 1))


def _reason(method: str, errors: Mapping[str, Estimate], rtol: float, pilot: Pilot,
            why: str) -> str:
    listed = ", ".join(f"{m} {e}" for m, e in errors.items())
    return (f"method auto chose {method}: estimated error over the pilot (local errors by step "
            f"doubling, summed along the path, relative to each state's scale): {listed}; "
            f"tolerance rtol = {rtol:g}: {why}. Pilot: {PILOT_STEPS} steps from the initial "
            f"values, {pilot.described}")


class Pilot:
    """The pilot's path (by `accurate`, in substeps where steps of dt leave it non-finite:
    Hodgkin-Huxley's spikes at a coarse dt) and each candidate's error along it."""

    def __init__(self, model: Model, dt: float, step_map_of: StepMapOf, accurate: str) -> None:
        self.model, self.dt, self.step_map_of, self.accurate = model, dt, step_map_of, accurate
        self.parameters = parameter_values(model)
        drive = moderate_inputs(model, self.parameters)
        targets = [y for y in model.synapses if y.target]
        threshold = membrane_threshold(model, self.parameters)[1]
        spiking = model.input_names[0] if threshold is not None and model.inputs else None
        # columns: the moderate neuron, the spiking one, one kicked once per synapse type, and
        # (where one spikes) one spiking and kicked every KICK_PERIOD steps per synapse type,
        # so that spikes arrive on the ports while the neuron spikes, as in a network
        strong = [SPIKING_SHARE / DRIVE_SHARE] if spiking else []
        shares = [1.0] + strong + [1.0] * len(targets) + strong * len(targets)
        self.columns = len(shares)
        self.repeated = bool(spiking)
        self.inputs = {n: np.array([v * (s if n == spiking else 1.0) for s in shares])
                       for n, v in drive.items()}
        for n in PATH_SUBSTEPS:  # the fewest substeps that keep the path finite
            stepper = Substeps(self.stepper(accurate, dt / n), n)
            kicks = pilot_kicks(model, stepper, targets, self.parameters)
            self.points, self.kept = trajectory(stepper, self.initial(), self.inputs,
                                                *self.kicked(targets, kicks))
            if self.steps == PILOT_STEPS:
                break
        self.point_inputs = {n: np.tile(v, self.steps) for n, v in self.inputs.items()}
        self.scale = {n: float(np.max(np.abs(v), initial=0.0)) or 1.0
                      for n, v in self.points.items()}
        self.described = describe(model, drive, spiking, kicks, targets)

    steps = property(lambda self: len(self.kept) // self.columns)  # finite steps of the path

    def stepper(self, method: str, dt: float) -> Stepper:
        """`method`'s step at `dt`, in NumPy."""
        return Stepper(self.step_map_of(method, dt), self.parameters)

    def initial(self) -> States:
        """The initial values, one per pilot neuron."""
        return {n: np.full(self.columns, float(v)) for n, v in self.model.initial_values.items()}

    def kicked(self, targets: Sequence[Synapse], kicks: Mapping[str, float]
               ) -> tuple[dict[str | None, Array], dict[str | None, Array]]:
        """(state -> what the kick at KICK_STEP adds to each pilot neuron, state -> what the
        kicks every KICK_PERIOD steps add): one neuron per synapse type gets that type's once,
        and where a neuron spikes, one more spiking neuron per type gets it repeatedly."""
        once = {y.target: np.zeros(self.columns) for y in targets}
        again = {y.target: np.zeros(self.columns) for y in targets}
        first = self.columns - len(targets) * (2 if self.repeated else 1)
        for k, y in enumerate(targets):
            once[y.target][first + k] += kicks[y.name]
            if self.repeated:
                again[y.target][first + len(targets) + k] += kicks[y.name]
        return once, again

    def error(self, method: str) -> Estimate:
        """The Estimate of `method`: its local errors by step doubling, relative to each
        state's scale, summed along each neuron's path (a step ending in a reset left out for
        the states the reset sets; a synaptic conductance keeps its error there). A
        step of dt that leaves a state non-finite anywhere on the path, spike steps included,
        is an infinite error: the kernel would keep the NaN."""
        order = METHODS[method].order or 1
        whole, half = self.stepper(method, self.dt), self.stepper(method, self.dt / 2)
        big = whole(self.points, self.point_inputs)
        small = half(half(self.points, self.point_inputs), self.point_inputs)
        factor = 2 ** order / (2 ** order - 1)
        if not all(np.isfinite(v).all() for v in big.values()):
            worst = next(n for n, v in big.items() if not np.isfinite(v).all())
            return Estimate(np.inf, np.inf, worst)
        reset = {name for name, _ in whole.resets}  # their values at a spike step are erased
        local = {n: np.where(self.kept | (n not in reset),
                             np.nan_to_num(np.abs(big[n] - small[n]) * factor, nan=np.inf),
                             0.0) / self.scale[n]
                 for n in big}
        summed = {n: e.reshape(-1, self.columns).sum(axis=0).max() for n, e in local.items()}
        worst = max(summed, key=summed.__getitem__)
        return Estimate(float(summed[worst]), float(max(e.max() for e in local.values())), worst)


def describe(model: Model, drive: Mapping[str, float], spiking: str | None,
             kicks: Mapping[str, float], targets: Sequence[Synapse]) -> str:
    """The pilot's inputs and kicks in words (`spiking`: the input that drives one neuron past
    threshold, or None)."""
    units: dict[str | None, str] = {q.name: q.unit for q in (*model.inputs, *model.states)}

    def quantity(value: float, name: str | None) -> str:
        return f"{value:.3g}{' ' + units[name] if units[name] else ''}"

    parts = [", ".join(f"{n} held at {quantity(v, n)}" for n, v in drive.items())]
    if spiking:
        strong = drive[spiking] * SPIKING_SHARE / DRIVE_SHARE
        parts.append(f"one neuron more at {quantity(strong, spiking)}, so that it spikes")
    if targets:
        parts.append(", ".join(f"a kick of {quantity(kicks[y.name], y.target)} on {y.name} "
                               f"({y.target})" for y in targets) + f" at step {KICK_STEP}"
                     + (f", and every {KICK_PERIOD} steps on a spiking neuron" if spiking
                        else ""))
    return "; ".join(filter(None, parts)) or "no inputs"


@dataclass(frozen=True)
class Estimate:
    """A candidate's error over the pilot relative to the state's scale: its local errors
    summed along the path (what auto compares with rtol), the largest one step made, and the
    state where the sum is largest."""

    accumulated: float
    largest_step: float
    state: str

    def __str__(self) -> str:
        return f"{self.accumulated:.2g} ({self.state}; {self.largest_step:.2g} in one step)"


def trajectory(stepper: Substeps, initial: States, inputs: Inputs,
               added: Mapping[str | None, Array], again: Mapping[str | None, Array] = {},
               steps: int = PILOT_STEPS) -> tuple[States, npt.NDArray[np.bool_]]:
    """Points of the pilot (state -> array of steps x columns, flattened) and which of them
    start a step that does not end in a reset spike. `added` is added after KICK_STEP, `again`
    after it and every KICK_PERIOD steps on. The path stops before a step that leaves a state
    non-finite."""
    points, kept, state = [], [], initial
    for k in range(steps):
        following = stepper(state, inputs)
        if not all(np.isfinite(v).all() for v in following.values()):
            break
        points.append(state)
        if k == KICK_STEP:
            following = {n: v + added.get(n, 0.0) for n, v in following.items()}
        if k >= KICK_STEP and (k - KICK_STEP) % KICK_PERIOD == 0 and again:
            following = {n: v + again.get(n, 0.0) for n, v in following.items()}
        fired = stepper.spiked(following, inputs, state)
        kept.append(~fired)
        state = stepper.reset(following, inputs, fired, state)
    if not points:
        return {n: np.zeros(0) for n in initial}, np.zeros(0, bool)
    return ({n: np.concatenate([p[n] for p in points]) for n in initial},
            np.concatenate(kept))


def pilot_kicks(model: Model, stepper: Substeps, targets: Sequence[Synapse],
                parameters: Mapping[str, float]) -> dict[str, float]:
    """Synapse type -> kick: one that moves the membrane KICK_SHARE of the way to threshold at
    most, from a probe with a kick of 1 (kicks of 1 where the model has no threshold)."""
    membrane, threshold = membrane_threshold(model, parameters)
    if not targets or membrane is None or threshold is None:
        return {y.name: 1.0 for y in targets}
    columns = 1 + len(targets)
    initial = {n: np.full(columns, float(v)) for n, v in model.initial_values.items()}
    added = {y.target: np.zeros(columns) for y in targets}
    for k, y in enumerate(targets):
        added[y.target][k + 1] += 1.0
    points, _ = trajectory(stepper, initial, {n: 0.0 for n in model.input_names}, added,
                           steps=PROBE_STEPS)
    trace = points[membrane].reshape(-1, columns)
    distance = abs(threshold - model.initial_values[membrane])
    kicks = {}
    for k, y in enumerate(targets):
        moved = float(np.max(np.abs(trace[:, k + 1] - trace[:, 0])))
        kicks[y.name] = KICK_SHARE * distance / moved if moved > 0 and distance > 0 else 1.0
    return kicks


def membrane_threshold(model: Model, parameters: Mapping[str, float]
                       ) -> tuple[str, float] | tuple[None, None]:
    """(membrane state name, threshold value) of a spike condition `X > theta` on a state X,
    else (None, None)."""
    spike = model.spike
    if not isinstance(spike, (sympy.Gt, sympy.Ge)) or spike.lhs not in model.state_symbols:
        return None, None
    try:
        return spike.lhs.name, float(spike.rhs.xreplace(
            {p: parameters[p.name] for p in model.parameter_symbols}))
    except (TypeError, KeyError):
        return None, None


def moderate_inputs(model: Model, parameters: Mapping[str, float]) -> dict[str, float]:
    """Input name -> value held over the pilot: the first input moves the membrane's rest
    DRIVE_SHARE of the way to threshold (by the linearization at the initial state), the others
    a twentieth further each; 1 and 0.1 of their unit where that cannot be said."""
    membrane, threshold = membrane_threshold(model, parameters)
    values = {}
    for k, name in enumerate(model.input_names):
        share = DRIVE_SHARE if k == 0 else 0.05
        value = _drive(model, parameters, membrane, threshold, name, share)
        values[name] = (1.0 if k == 0 else 0.1) if value is None else value
    return values


def _drive(model: Model, parameters: Mapping[str, float], membrane: str | None,
           threshold: float | None, name: str, share: float) -> float | None:
    """The value of input `name` that moves the membrane's rest `share` of the way to
    threshold, by the linearization at the initial state; None where it cannot be said."""
    if membrane is None or threshold is None:
        return None
    rhs = dict((s.name, r) for s, r in model.odes).get(membrane)
    if rhs is None:
        return None
    at = {**{s: model.initial_values[s.name] for s in model.state_symbols},
          **{p: parameters[p.name] for p in model.parameter_symbols},
          **{u: 0.0 for u in model.input_symbols}, **{y: 0.0 for y in model.synapse_symbols}}
    try:
        rate = float(sympy.diff(rhs, sympy.Symbol(membrane)).xreplace(at))
        gain = float(sympy.diff(rhs, sympy.Symbol(name)).xreplace(at))
    except (TypeError, ValueError):
        return None
    distance = threshold - model.initial_values[membrane]
    if gain == 0 or rate >= 0 or not np.isfinite(rate * gain):
        return None
    return share * distance * -rate / gain


def parameter_values(model: Model) -> dict[str, float]:
    """Parameter name -> default value, derived parameters computed from the others."""
    values: dict[str, float] = {}
    for q in model.parameters:
        values[q.name] = float(model.defaults[q.name]) if q.formula is None else \
            float(closure(q.formula)({**values, "dt": np.nan}))
    return values


class Stepper:
    """One step of a StepMap in NumPy: its constants computed once, then stages and updates."""

    def __init__(self, step_map: StepMapLike, parameters: Mapping[str, float]) -> None:
        values = {**{k: np.float64(v) for k, v in parameters.items()},
                  DT.name: np.float64(step_map.dt),
                  **{s.name: np.float64(0.0) for s in step_map.model.synapse_symbols}}
        with np.errstate(all="ignore"):
            for name, tree in step_map.constants:
                values[name.name] = closure(tree)(values)
        self.values = values
        self.stages = [(k.name, closure(t)) for k, t in step_map.stages]
        self.updates = [(s.name, closure(t)) for s, t in step_map.updates]
        self.resets = [(s.name, closure(t)) for s, t in step_map.reset]
        self.after_step = [(s.name, closure(t)) for s, t in step_map.model.after_step]
        spike = step_map.model.spike
        self.spike = closure(from_sympy(spike)) if self.resets and spike is not None else None

    def __call__(self, states: States, inputs: Inputs) -> States:
        values = {**self.values, **states, **inputs}
        with np.errstate(all="ignore"):
            for name, function in self.stages:
                values[name] = function(values)
            following = {name: function(values) for name, function in self.updates}
            if not self.after_step:
                return following
            values = {**self.values, **following, **inputs,
                      **{previous_symbol(n).name: v for n, v in states.items()}}
            return {**following, **{name: function(values) for name, function in self.after_step}}

    def spiked(self, states: States, inputs: Inputs, before: States | None = None
               ) -> npt.NDArray[np.bool_]:
        """Where the spike condition holds after a step of a model that resets (else nowhere);
        `before`: the states before the step, which the condition reads as previous(X)."""
        first = next(iter(states.values()))
        if self.spike is None:
            return np.zeros(first.shape, bool)
        previous = {previous_symbol(n).name: v for n, v in (before or states).items()}
        with np.errstate(all="ignore"):
            return np.broadcast_to(np.asarray(self.spike({**self.values, **states, **inputs,
                                                          **previous}), bool), first.shape)

    def reset(self, states: States, inputs: Inputs, fired: npt.NDArray[np.bool_],
              before: States) -> States:
        """The states with the reset applied where `fired` (`before`: the states before the
        step, which a reset reads as previous(X))."""
        if not self.resets or not fired.any():
            return states
        values = {**self.values, **states, **inputs,
                  **{previous_symbol(n).name: v for n, v in before.items()}}
        with np.errstate(all="ignore"):
            reset = {name: function(values) for name, function in self.resets}
        return {n: np.where(fired, reset[n], v) if n in reset else v for n, v in states.items()}


class Substeps:
    """A Stepper applied n times per step (spikes and resets as the Stepper has them)."""

    def __init__(self, stepper: Stepper, n: int) -> None:
        self.stepper, self.n = stepper, n
        self.spiked, self.reset = stepper.spiked, stepper.reset

    def __call__(self, states: States, inputs: Inputs) -> States:
        if self.n == 1:
            return self.stepper(states, inputs)
        for _ in range(self.n):
            states = self.stepper(states, inputs)
        return states


def closure(node: Tree) -> Closure:
    """A written tree as a Python function of a dict of values (name -> NumPy array or number):
    a tree of closures, built once, so that the pilot evaluates it without walking it."""
    if isinstance(node, Num):
        value = np.float64(node.value)
        return lambda values: value
    if isinstance(node, Name):
        key = node.symbol.name
        return lambda values: values[key]
    if isinstance(node, Neg):
        operand = closure(node.operand)
        return lambda values: -operand(values)
    if isinstance(node, Not):
        operand = closure(node.operand)
        return lambda values: ~operand(values)
    if isinstance(node, Call):
        function, arguments = FUNCTIONS[node.function].numpy, [closure(a) for a in node.args]
        return lambda values: function(*(a(values) for a in arguments))
    operation, left, right = NUMPY_OPERATIONS[node.op], closure(node.left), closure(node.right)
    return lambda values: operation(left(values), right(values))
