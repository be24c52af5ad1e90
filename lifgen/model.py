"""The model IR: states, parameters, inputs, dynamics, spike condition and reset, validated once.

A `Model` is what every later stage reads. It is built from a model file (`modelfile.py`) or
from SymPy objects (`Model.from_sympy`); both routes produce equal models.
"""

from dataclasses import dataclass, field
import math

import sympy

from .errors import ModelError
from .expressions import check_name

TIME = sympy.Symbol("t")
DT = sympy.Symbol("dt")
RESET_MECHANISMS = ("subtract", "zero", "none")
RESET_TIMINGS = ("next_step", "same_step")
ODE_METHODS = ("exact", "euler")
DISCRETE_METHOD = "discrete"


def symbol(name):
    """The one SymPy symbol lifgen uses for a model quantity called `name` (no assumptions)."""
    return sympy.Symbol(name)


def time_function(name):
    """The quantity `name` as a function of time, as circuit laws and closed forms write it."""
    return sympy.Function(name)(TIME)


@dataclass(frozen=True)
class Quantity:
    """A named state, parameter or input; `value` is a state's initial value or a parameter's default."""

    name: str
    value: float | None = None
    unit: str = field(default="", compare=False)
    description: str = field(default="", compare=False)

    @property
    def symbol(self):
        return symbol(self.name)


@dataclass(frozen=True)
class Model:
    """A spiking neuron model: continuous dynamics (`odes`) or a discrete update map (`update`)."""

    name: str
    states: tuple
    parameters: tuple
    inputs: tuple
    spike: sympy.Basic
    resets: tuple  # ((mechanism, ((state symbol, expression), ...)), ...)
    reset_mechanism: str = "subtract"
    reset_timing: str = "next_step"
    odes: tuple = ()  # ((state symbol, dX/dt), ...)
    update: tuple = ()  # ((state symbol, next value), ...)
    laws: tuple = ()  # circuit laws as SymPy equations in time-function form
    method: str | None = None
    dt: float | None = None
    description: str = field(default="", compare=False)
    reference: str = field(default="", compare=False)
    source: str | None = field(default=None, compare=False)

    def __post_init__(self):
        _validate(self)

    # -- lookups -------------------------------------------------------------------------
    @property
    def is_discrete(self):
        """True for a model written directly as a discrete-time update map."""
        return bool(self.update)

    @property
    def state_names(self):
        return tuple(q.name for q in self.states)

    @property
    def parameter_names(self):
        return tuple(q.name for q in self.parameters)

    @property
    def input_names(self):
        return tuple(q.name for q in self.inputs)

    @property
    def state_symbols(self):
        return tuple(q.symbol for q in self.states)

    @property
    def input_symbols(self):
        return tuple(q.symbol for q in self.inputs)

    @property
    def parameter_symbols(self):
        return tuple(q.symbol for q in self.parameters)

    @property
    def defaults(self):
        """Parameter name -> default value."""
        return {q.name: q.value for q in self.parameters}

    @property
    def initial_values(self):
        """State name -> initial value."""
        return {q.name: q.value for q in self.states}

    def reset_for(self, mechanism):
        """The reset assignments ((state, expression), ...) of one mechanism."""
        return dict(self.resets)[mechanism]

    def ode_equations(self):
        """The ODEs as SymPy equations dX/dt = f, in time-function form for display."""
        to_time = {s: time_function(s.name) for s in self.state_symbols}
        return [sympy.Eq(sympy.Derivative(time_function(s.name), TIME), rhs.xreplace(to_time))
                for s, rhs in self.odes]

    def update_equations(self):
        """The discrete map as SymPy equations X[t+1] = f(X[t])."""
        return [sympy.Eq(sympy.Symbol(f"{s.name}[t+1]"), rhs) for s, rhs in self.update]

    def _repr_latex_(self):
        equations = self.ode_equations() or self.update_equations()
        body = r" \\ ".join(sympy.latex(eq) for eq in equations)
        return rf"$\displaystyle \begin{{gathered}}{body} \\ \text{{spike: }} {sympy.latex(self.spike)}\end{{gathered}}$"

    def __str__(self):
        lines = [f"model {self.name}" + (f": {self.description}" if self.description else "")]
        for eq in self.ode_equations() or self.update_equations():
            lines.append(f"  {display(eq)}")
        lines.append(f"  spike when {self.spike}; reset {self.reset_mechanism} ({self.reset_timing})")
        return "\n".join(lines)

    # -- construction from SymPy --------------------------------------------------------
    @classmethod
    def from_sympy(cls, name, laws=(), states=(), parameters=None, inputs=(), spike=None,
                   reset="subtract", reset_timing="next_step", update=None, resets=None,
                   method=None, dt=None, description=""):
        """Build a model from SymPy objects: circuit laws or ODEs (`Eq(V.diff(t), ...)`), or an `update` map.

        `states` maps each state (a `Function('V')(t)`, a Symbol or a name) to its initial value,
        `parameters` maps parameters to defaults, `inputs` lists the inputs, `spike` is a
        relation such as `V > threshold`, `reset` the default mechanism.
        """
        from .circuit import derive_odes, normalise_expression

        states = states if isinstance(states, dict) else {s: 0.0 for s in states}
        state_q = tuple(Quantity(_name_of(k), float(v)) for k, v in states.items())
        param_q = tuple(Quantity(_name_of(k), float(v)) for k, v in (parameters or {}).items())
        input_q = tuple(Quantity(_name_of(k)) for k in inputs)
        state_names = [q.name for q in state_q]
        check_quantities(state_q, param_q, input_q)
        laws = tuple(normalise_expression(law, state_names, in_time=True) for law in laws)
        known = [q.name for q in param_q + input_q]
        odes = derive_odes(laws, state_names, known) if laws else ()
        update_map = tuple((symbol(_name_of(k)), normalise_expression(v, state_names))
                           for k, v in (update or {}).items())
        spike_expr = normalise_expression(spike, state_names)
        reset_forms = default_resets(spike_expr)
        for mechanism, assignments in (resets or {}).items():
            reset_forms[mechanism] = tuple((symbol(_name_of(k)), normalise_expression(v, state_names))
                                           for k, v in assignments.items())
        return cls(name=name, states=state_q, parameters=param_q, inputs=input_q,
                   spike=spike_expr, resets=tuple(reset_forms.items()), reset_mechanism=reset,
                   reset_timing=reset_timing, odes=odes, update=update_map, laws=laws,
                   method=method, dt=dt, description=description)


def default_resets(spike):
    """Reset forms implied by a threshold condition `X > theta`: subtract theta, set to zero, or none."""
    membrane = spike.lhs if isinstance(spike, sympy.core.relational.Relational) else None
    if not isinstance(membrane, sympy.Symbol):
        return {"none": ()}
    return {"subtract": ((membrane, membrane - spike.rhs),),
            "zero": ((membrane, sympy.Integer(0)),),
            "none": ()}


def _name_of(key):
    if isinstance(key, str):
        return key
    if isinstance(key, sympy.Symbol):
        return key.name
    if isinstance(key, sympy.core.function.AppliedUndef):
        return key.func.__name__
    raise ModelError(f"cannot use {key!r} as a quantity; give a name, Symbol or Function('X')(t)")


def _validate(model):
    """Check names, references and options once, so no later stage has to."""
    src = model.source
    check_name(model.name, src, "[model] name")
    check_quantities(model.states, model.parameters, model.inputs, src)
    if not model.states:
        raise ModelError("a model needs at least one state", src, "[states]")
    if bool(model.odes) == bool(model.update):
        raise ModelError("give either circuit laws / ODEs or a discrete update map, not both or neither",
                         src, "[equations]")
    known = set(model.state_symbols) | set(model.parameter_symbols) | set(model.input_symbols)
    dynamics = model.odes or model.update
    if [s for s, _ in dynamics] != list(model.state_symbols):
        raise ModelError("every state needs exactly one equation", src, "[equations]")
    for state, expr in dynamics:
        _check_known(expr, known | {DT}, src, f"[equations] {state}")
    if not isinstance(model.spike, (sympy.core.relational.Relational, sympy.logic.boolalg.Boolean)):
        raise ModelError("the spike condition must be a comparison such as 'V > threshold'", src,
                         "[spike] condition")
    _check_known(model.spike, known, src, "[spike] condition")
    mechanisms = dict(model.resets)
    for mechanism, assignments in mechanisms.items():
        if mechanism not in RESET_MECHANISMS:
            raise ModelError(f"unknown reset mechanism {mechanism!r}; use one of {RESET_MECHANISMS}",
                             src, "[reset]")
        for state, expr in assignments:
            if state not in model.state_symbols:
                raise ModelError(f"{state} is not a state", src, f"[reset.{mechanism}]")
            _check_known(expr, known, src, f"[reset.{mechanism}] {state}")
    if model.reset_mechanism not in mechanisms:
        raise ModelError(f"reset mechanism {model.reset_mechanism!r} is not defined for this model "
                         f"(defined: {', '.join(mechanisms)})", src, "[reset] mechanism")
    if model.reset_timing not in RESET_TIMINGS:
        raise ModelError(f"unknown reset timing {model.reset_timing!r}; use one of {RESET_TIMINGS}",
                         src, "[reset] timing")
    methods = (DISCRETE_METHOD,) if model.is_discrete else ODE_METHODS
    if model.method is not None and model.method not in methods:
        raise ModelError(f"unknown method {model.method!r}; use one of {methods}", src,
                         "[simulation] method")
    if model.dt is not None and not (isinstance(model.dt, float) and math.isfinite(model.dt)
                                     and model.dt > 0):
        raise ModelError(f"dt must be a positive number, got {model.dt!r}", src, "[simulation] dt")


def check_quantities(states, parameters, inputs, src=None):
    """Every name valid, and unique across states, parameters and inputs, also ignoring case."""
    seen = {}
    for kind, quantities in (("states", states), ("parameters", parameters), ("inputs", inputs)):
        for q in quantities:
            check_name(q.name, src, f"[{kind}] {q.name}")
            other = seen.get(q.name.lower())
            if other:
                raise ModelError(f"{q.name!r} is declared twice (also as {other})", src,
                                 f"[{kind}] {q.name}")
            seen[q.name.lower()] = f"{kind} {q.name}"
            if q.value is not None and not math.isfinite(q.value):
                raise ModelError(f"value {q.value!r} is not finite", src, f"[{kind}] {q.name}")


def _check_known(expr, known, source, field):
    unknown = expr.free_symbols - known
    if unknown:
        names = ", ".join(sorted(str(s) for s in unknown))
        raise ModelError(f"unknown name(s) {names}", source, field)


class _DisplayPrinter(sympy.printing.str.StrPrinter):
    """Prints derivatives as dV/dt and time functions V(t) as V, as a paper would."""

    def _print_Derivative(self, expr):
        return f"d{self._print(expr.expr)}/d{self._print(expr.variables[0])}"

    def _print_Function(self, expr):
        if isinstance(expr, sympy.core.function.AppliedUndef) and expr.args == (TIME,):
            return expr.func.__name__
        return super()._print_Function(expr)


def display(expr):
    """An equation or expression as one readable line: `I_C = C*dV/dt`."""
    printer = _DisplayPrinter()
    if isinstance(expr, sympy.Eq):
        return f"{printer.doprint(expr.lhs)} = {printer.doprint(expr.rhs)}"
    return printer.doprint(expr)
