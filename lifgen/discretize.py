"""Discretize a Model into a StepMap: the per-step assignments x_next = f(x, p, u) plus hoisted constants.

Methods are data in `METHODS`: each turns the model's dynamics into next-state expressions.
Everything that depends only on parameters and dt is then hoisted out of the time loop.
"""

from dataclasses import dataclass

import sympy

from .errors import InputError, ModelError
from .model import DISCRETE_METHOD, DT, RESET_MECHANISMS, RESET_TIMINGS, Model


@dataclass(frozen=True)
class StepMap:
    """One time step of a model, ready to render: constants, updates, reset and spike condition."""

    model: Model
    method: str
    dt: float | None
    constants: tuple  # ((symbol, expression of parameters and dt), ...), hoisted out of the loop
    updates: tuple  # ((state, next value), ...), evaluated simultaneously from the old state
    reset: tuple  # ((state, value after reset), ...), in terms of the updated state
    reset_mechanism: str
    reset_timing: str

    @property
    def spike(self):
        return self.model.spike

    def equations(self):
        """The step map as readable equations, constants first."""
        lines = [f"{k} = {sympy.sstr(v)}" for k, v in self.constants]
        lines += [f"{s} <- {sympy.sstr(v)}" for s, v in self.updates]
        lines.append(f"spike if {self.spike}")
        lines += [f"on reset ({self.reset_mechanism}, {self.reset_timing}): {s} <- {sympy.sstr(v)}"
                  for s, v in self.reset]
        return lines


def linear_coefficients(expr, variables):
    """Split `expr` as sum(coefficient*variable) + remainder; None when it is not linear in `variables`."""
    variables = list(variables)
    coefficients = {}
    for v in variables:
        c = sympy.diff(expr, v)
        if c.free_symbols & set(variables):
            return None
        coefficients[v] = c
    remainder = sympy.expand(expr - sum(c * v for v, c in coefficients.items()))
    if remainder.free_symbols & set(variables):
        return None
    return coefficients, remainder


def nonlinear_terms(expr, variables):
    """The terms of `expr` that are not linear in `variables` (to name them in error messages)."""
    variables = set(variables)
    bad = []
    for term in sympy.Add.make_args(sympy.expand(expr)):
        present = term.free_symbols & variables
        if len(present) > 1 or (present and (term / next(iter(present))).free_symbols & variables):
            bad.append(term)
    return bad


def _euler(model):
    return [(s, s + DT * rhs) for s, rhs in model.odes]


def _exact(model):
    """Propagator of a linear system with inputs held over the step: exp of the augmented matrix."""
    states, inputs = model.state_symbols, model.input_symbols
    variables = states + inputs
    rows = []
    for s, rhs in model.odes:
        split = linear_coefficients(rhs, variables)
        if split is None:
            terms = ", ".join(map(str, nonlinear_terms(rhs, variables))) or str(rhs)
            raise ModelError(f"method 'exact' needs linear dynamics, but d{s}/dt has the nonlinear "
                             f"term(s) {terms}; use method='euler'", model.source, f"[equations] {s}")
        coefficients, remainder = split
        rows.append([coefficients[v] for v in variables] + [remainder])
    size = len(variables) + 1
    augmented = sympy.zeros(size, size)
    for i, row in enumerate(rows):
        augmented[i, :] = sympy.Matrix([row])
    propagator = (augmented * DT).exp()
    column = sympy.Matrix(list(variables) + [1])
    next_values = propagator[: len(states), :] * column
    return [(s, next_values[i]) for i, s in enumerate(states)]


def _discrete(model):
    return list(model.update)


METHODS = {"exact": _exact, "euler": _euler, DISCRETE_METHOD: _discrete}


def discretize(model, method=None, dt=None, reset=None, reset_timing=None):
    """Turn `model` into a StepMap with `method` and time step `dt` (None: the model file's choice)."""
    method, dt = _choose_method(model, method, dt)
    reset = reset or model.reset_mechanism
    reset_timing = reset_timing or model.reset_timing
    if reset not in RESET_MECHANISMS:
        raise InputError(f"reset must be one of {RESET_MECHANISMS}, got {reset!r}")
    if reset_timing not in RESET_TIMINGS:
        raise InputError(f"reset_timing must be one of {RESET_TIMINGS}, got {reset_timing!r}")
    if reset not in dict(model.resets):
        raise InputError(f"model {model.name} defines no {reset!r} reset")
    variables = set(model.state_symbols) | set(model.input_symbols)
    constants = _Hoister(variables)
    updates = tuple((s, constants.hoist(_collect(expr, variables)))
                    for s, expr in METHODS[method](model))
    return StepMap(model=model, method=method, dt=dt, constants=constants.table(),
                   updates=updates, reset=model.reset_for(reset), reset_mechanism=reset,
                   reset_timing=reset_timing)


def _choose_method(model, method, dt):
    if model.is_discrete:
        if method not in (None, DISCRETE_METHOD):
            raise InputError(f"model {model.name} is a discrete-time map; it has no ODE to "
                             f"integrate with {method!r}")
        if dt is not None:
            raise InputError(f"model {model.name} is a discrete-time map; it takes no dt")
        return DISCRETE_METHOD, None
    if method is None:
        method = model.method or "exact"
    if method not in METHODS or method == DISCRETE_METHOD:
        known = ", ".join(m for m in METHODS if m != DISCRETE_METHOD)
        raise InputError(f"unknown method {method!r} for model {model.name}; use one of {known}")
    dt = model.dt if dt is None else dt
    if dt is None:
        raise InputError(f"model {model.name} has no default dt; pass dt=")
    if isinstance(dt, bool) or not isinstance(dt, (int, float)) or not 0 < dt < float("inf"):
        raise InputError(f"dt must be a positive number, got {dt!r}")
    return method, float(dt)


def _collect(expr, variables):
    """Write linear expressions as sum(coefficient*variable), each coefficient simplified once."""
    split = linear_coefficients(expr, sorted(variables, key=str))
    if split is None:
        return expr
    coefficients, remainder = split
    terms = [use_expm1(sympy.simplify(c)) * v for v, c in coefficients.items()]
    return sympy.Add(*terms, use_expm1(sympy.simplify(remainder)))


def use_expm1(expr):
    """Rewrite c - c*exp(x) as -c*expm1(x), which keeps its accuracy when x is small."""
    from sympy.codegen.cfunctions import expm1

    if not isinstance(expr, sympy.Basic) or expr.is_Atom:
        return expr
    expr = expr.func(*(use_expm1(a) for a in expr.args))
    if not isinstance(expr, sympy.Add):
        return expr
    terms = list(sympy.Add.make_args(expr))
    for term in terms:
        coefficient, exponentials = term.as_independent(sympy.exp, as_Add=False)
        if isinstance(exponentials, sympy.exp) and -coefficient in terms:
            rest = [t for t in terms if t not in (term, -coefficient)]
            return sympy.Add(coefficient * expm1(exponentials.args[0]), *rest)
    return expr


class _Hoister:
    """Replaces sub-expressions free of states and inputs by named constants computed once per neuron."""

    def __init__(self, variables):
        self.variables = variables
        self.names = {}

    def table(self):
        return tuple((name, expr) for expr, name in self.names.items())

    def hoist(self, expr):
        if expr.is_Atom:
            return expr
        if not expr.free_symbols & self.variables:
            return self._name(expr)
        if isinstance(expr, (sympy.Add, sympy.Mul)):
            invariant = [a for a in expr.args if not a.free_symbols & self.variables]
            varying = [self.hoist(a) for a in expr.args if a.free_symbols & self.variables]
            if len(invariant) > 1 or (invariant and not invariant[0].is_Atom):
                invariant = [self._name(expr.func(*invariant))]
            return expr.func(*varying, *invariant)
        return expr.func(*(self.hoist(a) for a in expr.args))

    def _name(self, expr):
        if expr.is_Atom:
            return expr
        if expr not in self.names:
            self.names[expr] = sympy.Symbol(f"lg_k{len(self.names)}")
        return self.names[expr]
