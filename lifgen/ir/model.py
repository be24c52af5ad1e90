"""The model IR: states, parameters, inputs, dynamics, spike condition and reset, validated once.

A `Model` is what every later stage reads. It is built from a model file (`modelfile.py`) or
from SymPy objects (`Model.from_sympy`); both routes produce equal models. Discrete update maps,
resets and written steps are kept as written trees (`written.py`), so that code rounds exactly
as the model file says; ODEs are SymPy expressions.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
import hashlib
import math
from typing import Callable, Iterable, Mapping, Sequence, Union

import sympy

from .canonical import canonical_text
from . import written
from .written import Assignments, Node
from ..errors import ModelError
from .names import check_name
from .method_names import METHOD_CHOICES

from .symbols import (ADAPTIVE_STATE, DT, REFRACTORY_STATE, RESET, SPIKE, TIME,  # noqa: F401 (re-exported)
                      is_noise, noise_symbols, previous_symbol, symbol, time_function)

RESET_MECHANISMS = ("subtract", "zero", "none")
RESET_TIMINGS = ("next_step", "same_step")
REFRACTORY_COUNTINGS = ("brian2", "nest")  # whether the spike's step is one of the period's
REFRACTORY_INPUTS = ("drop", "keep")  # events onto a frozen state while refractory
ODE_METHODS = METHOD_CHOICES  # the method names (ir/method_names.py)
DISCRETE_METHOD = "discrete"
# Front ends that build a Model from other objects register here (frontend/sympy_model.py adds
# "sympy" for Model.from_sympy): the IR comes before every front end and imports none.
FRONT_ENDS: dict[str, Callable[..., Model]] = {}
# ... and writers (frontend/model_writer.py adds "toml", which Model.save uses)
WRITERS: dict[str, Callable[..., None]] = {}
# what names a quantity in Model.from_sympy: a name, a Symbol or an applied Function("V")(t)
QuantityKey = Union[str, sympy.Basic]


class _Named:
    """A named model object; its SymPy symbol is the one lifgen uses for that name."""

    name: str  # a field of each subclass

    @property
    def symbol(self) -> sympy.Symbol:
        return symbol(self.name)


@dataclass(frozen=True)
class Quantity(_Named):
    """A named state, parameter or input; `value` is a state's initial value or a parameter's default."""

    name: str
    value: float | None = None
    unit: str = field(default="", compare=False)
    description: str = field(default="", compare=False)
    formula: Node | None = None  # a state's initial value as a tree of parameters and states


@dataclass(frozen=True)
class Synapse(_Named):
    """A synapse type: arriving weighted spikes are either the named input of the equations
    (snnTorch's rec, with an optional bias) or added to a state (`target`, exc -> g_e)."""

    name: str
    bias: str | None = None  # a parameter added to the synaptic input every step
    target: str | None = None  # the state each arriving weight is added to


@dataclass(frozen=True)
class Model:
    """A spiking neuron model: continuous dynamics (`odes`) or a discrete update map (`update`)."""

    name: str
    states: tuple[Quantity, ...]
    parameters: tuple[Quantity, ...]
    inputs: tuple[Quantity, ...]
    spike: sympy.Basic
    resets: tuple[tuple[str, Assignments], ...]  # ((mechanism, ((state, tree), ...)), ...)
    reset_mechanism: str = "subtract"
    reset_timing: str = "next_step"
    odes: tuple[tuple[sympy.Symbol, sympy.Expr], ...] = ()  # dX/dt, named expressions substituted
    expressions: tuple[tuple[sympy.Symbol, sympy.Expr], ...] = ()  # of quantities and earlier ones
    named_odes: tuple[tuple[sympy.Symbol, sympy.Expr], ...] = ()  # odes with expression symbols
    update: Assignments = ()  # applied in order: later lines see earlier results
    laws: tuple[sympy.Eq, ...] = ()  # circuit laws as SymPy equations in time-function form
    corrections: tuple[tuple[str, Assignments], ...] = ()  # snnTorch's reset_delay=False
    # [after_step]: assignments to the integrated state before the spike test (NESTML's clamp
    # V = max(V_min, V)), all read the state after the update, as a reset table's do
    after_step: Assignments = ()
    written_steps: tuple[tuple[str, Assignments], ...] = ()  # a method's step as rounded
    parameter_sets: tuple[tuple[str, Assignments], ...] = ()  # other parameterizations
    synapses: tuple[Synapse, ...] = ()
    constraints: tuple[Node, ...] = ()  # relations the parameters must satisfy
    presets: tuple[tuple[str, tuple[tuple[str, float], ...]], ...] = ()  # named parameter sets
    spike_on: str = "level"  # "level": while the condition holds; "crossing": when it starts to
    # a state whose value after the step is how many spikes the neuron emits in it (Sinabs's
    # MultiSpike: floor(v / threshold)); a network's projections deliver that many times the
    # weight and its counts add it. "": one spike per step where the condition holds
    spike_count: str = ""
    refractory: tuple = ()  # (period tree in the model's time unit, (frozen state, ...)), or ()
    # the part of the period that holds the frozen states (NEST's t_ref_abs in
    # iaf_psc_exp_htum; `period` is then t_ref_tot, without spikes); None: all of it
    refractory_clamp: Node | None = None
    refractory_counting: str = "brian2"  # or "nest": the spike's step is not one of the period's
    refractory_input: str = "drop"  # or "keep": events onto a frozen state while refractory
    method: str | None = None
    dt: float | None = None
    time_unit: str = ""  # the unit of dt and of time in the model ("ms"), when the file says it
    description: str = field(default="", compare=False)
    reference: str = field(default="", compare=False)
    source: str | None = field(default=None, compare=False)
    # the model-file document it was read from (Model.save writes it), not part of the model
    document: dict | None = field(default=None, compare=False, repr=False)

    def content_hash(self) -> str:
        """A hash of everything the model says, not where it was read from: its key in the
        generated-source cache, the same in every process and on every machine. Its floats are
        hashed exactly (ir/canonical.py), so models that differ anywhere hash apart."""
        text = canonical_text(replace(self, source=None, document=None))
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    def __post_init__(self) -> None:
        _validate(self)

    # -- lookups -------------------------------------------------------------------------
    @property
    def is_discrete(self) -> bool:
        """True for a model written directly as a discrete-time update map."""
        return bool(self.update)

    state_names = property(lambda self: tuple(q.name for q in self.states))
    parameter_names = property(lambda self: tuple(q.name for q in self.parameters))
    input_names = property(lambda self: tuple(q.name for q in self.inputs))
    synapse_names = property(lambda self: tuple(s.name for s in self.synapses))
    state_symbols = property(lambda self: tuple(q.symbol for q in self.states))
    parameter_symbols = property(lambda self: tuple(q.symbol for q in self.parameters))
    input_symbols = property(lambda self: tuple(q.symbol for q in self.inputs))
    synapse_symbols = property(lambda self: tuple(s.symbol for s in self.synapses))

    @property
    def is_stochastic(self) -> bool:
        """True when the ODEs have a white-noise term, xi or xi_<name>."""
        return bool(self.noise_symbols)

    @property
    def noise_symbols(self) -> tuple[sympy.Symbol, ...]:
        """The independent white-noise sources of the ODEs: xi, then each xi_<name>."""
        return noise_symbols(rhs for _, rhs in self.odes)

    @property
    def defaults(self) -> dict[str, float]:
        """Parameter name -> default value (every parameter has one: _validate checks it)."""
        return {q.name: q.value for q in self.parameters if q.value is not None}

    @property
    def initial_values(self) -> dict[str, float]:
        """State name -> initial value (formulas evaluated with the default parameters)."""
        scope = {symbol(k): v for k, v in self.defaults.items()}
        values = {}
        for q in self.states:
            value = q.value if q.formula is None else float(written.evaluate(q.formula, scope))
            assert value is not None  # a state has a value or a formula: _validate checks it
            values[q.name] = scope[q.symbol] = value
        return values

    def save(self, path: str) -> None:
        """Write this model as a model file (TOML) that loads back to an equal model."""
        WRITERS["toml"](self, path)

    def with_preset(self, preset: str) -> Model:
        """This model with the parameter defaults of a named preset (`[presets.NAME]`)."""
        import dataclasses

        presets = dict(self.presets)
        if not isinstance(preset, str) or preset not in presets:
            raise ModelError(f"model {self.name} has no preset {preset!r} (presets: "
                             f"{', '.join(presets) or 'none'})", self.source, "[presets]")
        values = dict(presets[preset])
        parameters = tuple(dataclasses.replace(q, value=values.get(q.name, q.value))
                           for q in self.parameters)
        return dataclasses.replace(self, parameters=parameters)

    @property
    def spike_tree(self) -> Node:
        if self.spike is sympy.false:  # no threshold: a test that never holds, 0 > 1
            return written.Op(">", written.Num(0), written.Num(1))
        return written.from_sympy(self.spike)

    def reset_for(self, mechanism: str) -> Assignments:
        """The reset assignments ((state, tree), ...) of one mechanism."""
        return dict(self.resets)[mechanism]

    def ode_equations(self, named: bool = False) -> list[sympy.Eq]:
        """The ODEs as SymPy equations dX/dt = f, in time-function form; `named` keeps the
        names of the model's expressions (alpha_m) instead of their definitions."""
        to_time = {s: time_function(s.name) for s in self.state_symbols}
        odes = self.named_odes if named and self.named_odes else self.odes
        return [sympy.Eq(sympy.Derivative(time_function(s.name), TIME), rhs.xreplace(to_time))
                for s, rhs in odes]

    def expression_lines(self) -> list[str]:
        """The named expressions as text lines `alpha_m = ...`, in the order they are computed."""
        return [f"{name} = {display(expr)}" for name, expr in self.expressions]

    def drops_while_refractory(self, synapse: Synapse) -> bool:
        """Whether events of `synapse` that arrive while the neuron is refractory are dropped:
        they add to a frozen state and `[refractory] input` is "drop" (Brian2's conditional
        write, NEST's iaf_psc_delta without refractory_input)."""
        frozen = {s.name for s in self.refractory[1]} if self.refractory else set()
        return synapse.target in frozen and self.refractory_input == "drop"

    def refractory_text(self) -> str:
        """The refractory period in words: `refractory for t_ref after a spike; V held`, and
        which synapse types' events are dropped meanwhile."""
        period, frozen = self.refractory
        clamp = self.refractory_clamp
        held = (f"; {', '.join(map(str, frozen))} held" if frozen else "") + (
            f" for {written.to_text(clamp)}" if clamp is not None else "")
        dropped = [y.name for y in self.synapses if self.drops_while_refractory(y)]
        drops = f"; events of {', '.join(dropped)} dropped meanwhile" if dropped else ""
        return f"refractory for {written.to_text(period)} after a spike (no spike){held}{drops}"

    def update_lines(self) -> list[str]:
        """The discrete map as text lines `V[t+1] = beta*V + I`, in the order they are applied."""
        return [f"{s}[t+1] = {written.to_text(tree)}" for s, tree in self.update]

    def _repr_latex_(self) -> str:
        lines = [sympy.latex(_tidy(eq)) for eq in self.ode_equations()] or [
            f"{sympy.latex(s)}_{{t+1}} = {sympy.latex(_tidy(written.to_sympy(t)))}"
            for s, t in self.update]
        body = r" \\ ".join(lines)
        return (rf"$\displaystyle \begin{{gathered}}{body} \\ \text{{spike if }} "
                rf"{sympy.latex(self.spike)}\end{{gathered}}$")

    def __str__(self) -> str:
        lines = [f"model {self.name}" + (f": {self.description}" if self.description else "")]
        lines += [f"  {display(eq)}" for eq in self.ode_equations(named=True)]
        lines += [f"  {line}" for line in self.expression_lines()]
        lines += [f"  {line}" for line in self.update_lines()]
        lines.append(f"  spike when {self.spike}; reset {self.reset_mechanism} ({self.reset_timing})")
        if self.refractory:
            lines.append(f"  {self.refractory_text()}")
        return "\n".join(lines)

    # -- construction from SymPy --------------------------------------------------------
    @classmethod
    def from_sympy(cls, name: str, laws: Iterable[sympy.Basic] = (),
                   states: Mapping[QuantityKey, float] | Iterable[QuantityKey] = (),
                   parameters: Mapping[QuantityKey, float] | None = None,
                   inputs: Iterable[QuantityKey] = (), spike: sympy.Basic | None = None,
                   reset: str = "subtract", reset_timing: str = "next_step",
                   update: Mapping[QuantityKey, sympy.Basic] | None = None,
                   resets: Mapping[str, Mapping[QuantityKey, sympy.Basic]] | None = None,
                   method: str | None = None, dt: float | None = None,
                   description: str = "") -> Model:
        """Build a model from SymPy objects: circuit laws or ODEs (`Eq(V.diff(t), ...)`), or an `update` map.

        `states` maps each state (a `Function('V')(t)`, a Symbol or a name) to its initial value,
        `parameters` maps parameters to defaults, `inputs` lists the inputs, `spike` is a
        relation such as `V > threshold`, `reset` the default mechanism, `resets` maps further
        mechanisms to {state: value}. The second front end, beside the file reader: see
        `frontend/sympy_model.py`, which registers itself in FRONT_ENDS.
        """
        return FRONT_ENDS["sympy"](name, laws, states, parameters, inputs, spike, reset,
                                   reset_timing, update, resets, method, dt, description)


def _is_condition(expr: sympy.Basic) -> bool:
    """A comparison, or comparisons joined by and, or and not: what a spike test may be."""
    if isinstance(expr, sympy.core.relational.Relational):
        return True
    if isinstance(expr, (sympy.And, sympy.Or, sympy.Not)):
        return all(_is_condition(a) for a in expr.args)
    return False


def _tidy(expr: sympy.Basic) -> sympy.Basic:
    """`expr` with whole-number floats as integers, so that it reads `I + 5 V`, not `1.0 I + 5.0 V`."""
    return expr.xreplace({f: sympy.Integer(int(f)) for f in expr.atoms(sympy.Float)
                          if float(f).is_integer()})


def default_resets(spike: sympy.Basic) -> dict[str, Assignments]:
    """Reset forms implied by a threshold condition `X > theta`: subtract theta, set to zero, or none."""
    membrane = spike.lhs if isinstance(spike, sympy.core.relational.Relational) else None
    if not isinstance(membrane, sympy.Symbol):
        return {"none": ()}
    return {"subtract": ((membrane, written.Op("-", written.Name(membrane),
                                               written.from_sympy(spike.rhs))),),
            "zero": ((membrane, written.Num(0)),),
            "none": ()}


def _validate(model: Model) -> None:
    """Check names, references and options once, so no later stage has to."""
    src = model.source
    check_name(model.name, src, "[model] name")
    check_quantities(model.states, model.parameters, model.inputs, src)
    if not model.states:
        raise ModelError("a model needs at least one state", src, "[states]")
    _check_values(model)
    if model.spike_on not in ("level", "crossing"):
        raise ModelError(f"spike 'on' must be 'level' or 'crossing', got {model.spike_on!r}", src,
                         "[spike] on")
    if model.spike_count and model.spike_count not in model.state_names:
        raise ModelError(f"[spike] count names the state that holds each step's number of "
                         f"spikes; {model.spike_count!r} is none of the states "
                         f"({', '.join(model.state_names)})", src, "[spike] count")
    for name, values in model.presets:
        check_name(name, src, f"[presets.{name}]")
        for parameter, value in values:
            if parameter not in model.parameter_names:
                raise ModelError(f"{parameter!r} is not a declared parameter", src,
                                 f"[presets.{name}]")
    if bool(model.odes) == bool(model.update):
        raise ModelError("give either circuit laws / ODEs or a discrete update map, not both or neither",
                         src, "[equations]")
    states = set(model.state_symbols)
    known = states | set(model.parameter_symbols) | set(model.input_symbols)
    known |= {y.symbol for y in model.synapses if y.target is None}  # inputs of the equations
    if [s for s, _ in (model.odes or model.update)] != list(model.state_symbols):
        raise ModelError("every state needs exactly one equation, in the order the states are "
                         "declared", src, "[equations]")
    for state, expr in model.odes:
        _check_known({s for s in expr.free_symbols if not is_noise(s)}, known | {DT}, src,
                     f"[equations] d{state}/dt")
    named: set[sympy.Symbol] = set()
    for name, expr in model.expressions:
        _check_known(expr.free_symbols, known | named, src, f"[expressions] {name}")
        named.add(name)
    if model.named_odes and [s for s, _ in model.named_odes] != [s for s, _ in model.odes]:
        raise ModelError("named_odes must follow the states, as odes do", src, "[equations]")
    for state, tree in model.update:
        _check_known(written.symbols(tree), known, src, f"[equations] update {state}")
    never = model.spike is sympy.false and model.reset_mechanism == "none" \
        and not model.refractory  # no threshold (Brian2's NeuronGroup without one)
    if model.spike in (sympy.true, sympy.false) and not never:
        raise ModelError(f"the spike condition is always {str(model.spike).lower()}: it must "
                         "compare a state with a value, such as 'V > threshold'", src,
                         "[spike] condition")
    if not never and not _is_condition(model.spike):
        raise ModelError("the spike condition must be a comparison such as 'V > threshold' "
                         "(or comparisons joined by and, or, not), not a bare value", src,
                         "[spike] condition")
    previous = {previous_symbol(s.name) for s in states}
    _check_known(model.spike.free_symbols, known | previous, src, "[spike] condition")
    check_spike_reads(model, model.reset_mechanism, model.reset_timing)
    step = set() if model.is_discrete else {DT}  # dt: NEST's resolution(), not in a map
    for table, name, extra in ((model.resets, "reset", previous | step),
                               (model.corrections, "reset.undelayed",
                                previous | step | {SPIKE, RESET}),
                               ((("", model.after_step),), "after_step", previous | step)):
        for mechanism, assignments in table:
            field_name = f"[{name}.{mechanism}]" if mechanism else f"[{name}]"
            if mechanism not in RESET_MECHANISMS + ("",) * (name == "after_step"):
                raise ModelError(f"unknown reset mechanism {mechanism!r}; use one of "
                                 f"{RESET_MECHANISMS}", src, f"[{name}]")
            for state, tree in assignments:
                if state not in states:
                    raise ModelError(f"{state} is not a state", src, field_name)
                _check_known(written.symbols(tree), known | extra, src, f"{field_name} {state}")
    if model.reset_mechanism not in dict(model.resets):
        raise ModelError(f"reset mechanism {model.reset_mechanism!r} is not defined for this model "
                         f"(defined: {', '.join(dict(model.resets))})", src, "[reset] mechanism")
    if model.reset_timing not in RESET_TIMINGS:
        raise ModelError(f"unknown reset timing {model.reset_timing!r}; use one of {RESET_TIMINGS}",
                         src, "[reset] timing")
    methods = (DISCRETE_METHOD,) if model.is_discrete else METHOD_CHOICES
    if model.method is not None and model.method not in methods:
        raise ModelError(f"unknown method {model.method!r}; use one of {methods}", src,
                         "[simulation] method")
    if model.dt is not None and not (isinstance(model.dt, float) and math.isfinite(model.dt)
                                     and model.dt > 0):
        raise ModelError(f"dt must be a positive number, got {model.dt!r}", src, "[simulation] dt")
    _validate_refractory(model, known)
    for synapse in model.synapses:
        check_name(synapse.name, src, f"[synapses] {synapse.name}")
        if synapse.name in {q.name for q in model.states + model.parameters + model.inputs}:
            raise ModelError(f"{synapse.name!r} is already a state, parameter or input", src,
                             f"[synapses] {synapse.name}")
        if synapse.bias is not None and synapse.bias not in model.parameter_names:
            raise ModelError(f"bias {synapse.bias!r} is not a declared parameter", src,
                             f"[synapses] {synapse.name}")
        if synapse.target is not None and synapse.target not in model.state_names:
            raise ModelError(f"target {synapse.target!r} is not a declared state", src,
                             f"[synapses] {synapse.name}")
        if synapse.target is not None and synapse.bias is not None:
            raise ModelError("a synapse either adds to a state (target) or is an input of the "
                             "equations (bias), not both", src, f"[synapses] {synapse.name}")


def check_spike_reads(model: Model, reset: str, timing: str) -> None:
    """A spike condition that reads previous(X) (NEST's Hodgkin-Huxley test `V > 0 and
    previous(V) > V`, the step after the peak) is tested on the state after the update, where
    previous(X) is the state before it. The tests made on the state before the update (a spike
    'on' a crossing, a reset decided before the update) would need the state two steps back,
    which the kernel does not keep: they are refused."""
    if not {previous_symbol(s.name) for s in model.state_symbols} & model.spike.free_symbols:
        return
    if model.spike_on == "crossing":
        raise ModelError("a spike condition that reads previous(X) is tested on level only (on = "
                         "\"crossing\" would need X two steps back); to emit one spike per "
                         "event, add a [refractory] period, as NEST's hh_psc_alpha does",
                         model.source, "[spike] on")
    if timing == "next_step" and dict(model.resets).get(reset):
        raise ModelError("a spike condition that reads previous(X) needs reset timing "
                         "\"same_step\" (a next_step reset is decided on the state before the "
                         "update, whose previous(X) the kernel does not keep)", model.source,
                         "[reset] timing")


def _check_clamp(model: Model, frozen: tuple) -> None:
    """`clamp_period`: the frozen states are held for it, the spike test blocked for `period`."""
    src, field_name = model.source, "[refractory] clamp_period"
    assert model.refractory_clamp is not None
    _check_known(written.symbols(model.refractory_clamp), set(model.parameter_symbols), src,
                 f"{field_name} (parameters only)")
    if not frozen:
        raise ModelError("a clamp_period holds the frozen states: list them in [refractory] "
                         "frozen (NEST's iaf_psc_exp_htum: frozen = [\"V\"])", src, field_name)
    dropped = [y.name for y in model.synapses if model.drops_while_refractory(y)]
    if dropped:
        raise ModelError(f"events of {', '.join(dropped)} onto a frozen state are dropped while "
                         "refractory, which lifgen does not yet tell apart from the clamp_period; "
                         "use [refractory] input = \"keep\"", src, field_name)


def _check_values(model: Model) -> None:
    """Every parameter has a default and every state an initial value (a number or a formula):
    both front ends require them, and every later stage reads them as numbers."""
    for q in model.parameters:
        if q.value is None:
            raise ModelError(f"parameter {q.name!r} has no default value", model.source,
                             f"[parameters] {q.name}")
    for q in model.states:
        if q.value is None and q.formula is None:
            raise ModelError(f"state {q.name!r} has no initial value", model.source,
                             f"[states] {q.name}")


def _validate_refractory(model: Model, known: set[sympy.Symbol]) -> None:
    src = model.source
    if model.refractory_counting not in REFRACTORY_COUNTINGS:
        raise ModelError(f"counting must be one of {', '.join(map(repr, REFRACTORY_COUNTINGS))}, "
                         f"got {model.refractory_counting!r}", src, "[refractory] counting")
    if model.refractory_input not in REFRACTORY_INPUTS:
        raise ModelError(f"input must be one of {', '.join(map(repr, REFRACTORY_INPUTS))}, "
                         f"got {model.refractory_input!r}", src, "[refractory] input")
    if ADAPTIVE_STATE in model.state_names:
        raise ModelError(f"a state named {ADAPTIVE_STATE!r} would hide the substep size of "
                         "method rkf45", src, f"[states] {ADAPTIVE_STATE}")
    if not model.refractory:
        if model.refractory_clamp is not None:
            raise ModelError("a clamp_period needs a refractory period", src, "[refractory]")
        return
    period, frozen = model.refractory
    if model.refractory_clamp is not None:
        _check_clamp(model, frozen)
    if model.is_discrete:
        raise ModelError("a refractory period is given in time; a discrete map has no dt", src,
                         "[refractory]")
    _check_known(written.symbols(period), set(model.parameter_symbols), src,
                 "[refractory] period (parameters only)")
    for state in frozen:
        if state not in model.state_symbols:
            raise ModelError(f"{state} is not a state", src, "[refractory] frozen")
    if REFRACTORY_STATE in model.state_names:
        raise ModelError(f"a state named {REFRACTORY_STATE!r} would hide the refractory counter",
                         src, f"[states] {REFRACTORY_STATE}")


# The largest models lifgen compiles (beyond them SymPy's work grows faster than linearly:
# 32 nonlinear states compile in about 10 s, 64 in 30 s; 500 parameters in 3 s).
LIMITS = {"states": 32, "parameters": 512, "inputs": 32}


def check_quantities(states: Sequence[Quantity], parameters: Sequence[Quantity],
                     inputs: Sequence[Quantity], src: str | None = None) -> None:
    """Every name valid, and unique across states, parameters and inputs, also ignoring case;
    no more of each than LIMITS."""
    for kind, quantities in (("states", states), ("parameters", parameters), ("inputs", inputs)):
        if len(quantities) > LIMITS[kind]:
            raise ModelError(f"{len(quantities)} {kind}; lifgen compiles models of at most "
                             f"{LIMITS[kind]} {kind}", src, f"[{kind}]")
    seen: dict[str, str] = {}  # lower-case name -> where it was declared
    for kind, quantities in (("states", states), ("parameters", parameters), ("inputs", inputs)):
        for q in quantities:
            check_name(q.name, src, f"[{kind}] {q.name}")
            other = seen.get(q.name.lower())
            if other:
                case = ("; names that differ only in case are refused (most often a typo, V for "
                        "v): rename one" if other.split()[-1] != q.name else "")
                raise ModelError(f"{q.name!r} is declared twice (also as {other}){case}", src,
                                 f"[{kind}] {q.name}")
            seen[q.name.lower()] = f"{kind} {q.name}"
            if q.value is not None and not math.isfinite(q.value):
                raise ModelError(f"value {q.value!r} is not finite", src, f"[{kind}] {q.name}")


def _check_known(found: set[sympy.Basic], known: set[sympy.Basic], source: str | None,
                 field: str) -> None:
    unknown = found - known
    if unknown:
        names = ", ".join(sorted(str(s) for s in unknown))
        raise ModelError(f"unknown name(s) {names}", source, field)


class _DisplayPrinter(sympy.printing.str.StrPrinter):
    """Prints derivatives as dV/dt and time functions V(t) as V, as a paper would."""

    def _print_Derivative(self, expr: sympy.Derivative) -> str:
        return f"d{self._print(expr.expr)}/d{self._print(expr.variables[0])}"

    def _print_Function(self, expr: sympy.Function) -> str:
        if isinstance(expr, sympy.core.function.AppliedUndef) and expr.args == (TIME,):
            return expr.func.__name__
        return super()._print_Function(expr)


def display(expr: sympy.Basic) -> str:
    """An equation or expression as one readable line: `I_C = C*dV/dt`."""
    printer = _DisplayPrinter()
    if isinstance(expr, sympy.Eq):
        return f"{printer.doprint(expr.lhs)} = {printer.doprint(expr.rhs)}"
    return printer.doprint(expr)
