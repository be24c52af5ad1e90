"""Numerical methods as data: Runge-Kutta tableaux and exponential Euler, applied symbolically.

A method turns the ODE system dx/dt = f(x, u) into one step x -> x_next, with inputs held
constant over the step. Adding a Runge-Kutta method is one line in `TABLEAUX`.
"""

from dataclasses import dataclass

import sympy

from .errors import ModelError
from .model import DT
from .written import exprel

R = sympy.Rational


@dataclass(frozen=True)
class Tableau:
    """An explicit Runge-Kutta scheme: stage i evaluates f at x + dt*sum(a[i][j]*k[j])."""

    a: tuple
    b: tuple
    order: int


TABLEAUX = {
    "euler": Tableau(a=((),), b=(1,), order=1),
    "rk2": Tableau(a=((), (R(1, 2),)), b=(0, 1), order=2),  # the midpoint method
    "heun": Tableau(a=((), (1,)), b=(R(1, 2), R(1, 2)), order=2),
    "rk4": Tableau(a=((), (R(1, 2),), (0, R(1, 2)), (0, 0, 1)),
                   b=(R(1, 6), R(1, 3), R(1, 3), R(1, 6)), order=4),
}

# Theoretical order of each method; None where the method is exact for the model.
ORDERS = {**{name: tableau.order for name, tableau in TABLEAUX.items()},
          "exponential_euler": 1, "exact": None}


def is_linear(model):
    """Linear with constant coefficients in the states and inputs (parameters are constants)."""
    from .discretize import linear_coefficients

    variables = model.state_symbols + model.input_symbols
    return all(linear_coefficients(rhs, variables) is not None for _, rhs in model.odes)


def is_conditionally_linear(model):
    """Every dX/dt is linear in X itself (its coefficient may depend on the other states)."""
    return all(state not in sympy.diff(rhs, state).free_symbols for state, rhs in model.odes)


def runge_kutta(model, tableau, inline):
    """Apply a tableau. Stages are substituted into the update if `inline`, else kept as temporaries.

    Returns (stages, updates): stages are ((symbol, expression), ...) computed in order.
    """
    states = [s for s, _ in model.odes]
    slopes, stages = [], []
    for i, weights in enumerate(tableau.a):
        point = {s: s + DT * sum((w * slopes[j][s] for j, w in enumerate(weights) if w),
                                 sympy.Integer(0)) for s in states}
        values = {s: rhs.xreplace(point) for s, rhs in model.odes}
        if inline:
            slopes.append(values)
            continue
        names = {s: sympy.Symbol(f"lg_stage{i + 1}_{s}") for s in states}
        stages += [(names[s], values[s]) for s in states]
        slopes.append(names)
    updates = [(s, s + DT * sum((b * slopes[i][s] for i, b in enumerate(tableau.b) if b),
                                sympy.Integer(0))) for s in states]
    return stages, updates


def exponential_euler(model):
    """x_next = x + dt*f*exprel(a*dt), a = df/dx: exact when f is linear in x with constant a."""
    if not is_conditionally_linear(model):
        bad = [str(s) for s, rhs in model.odes if s in sympy.diff(rhs, s).free_symbols]
        raise ModelError(f"method 'exponential_euler' needs each dX/dt linear in X; "
                         f"{', '.join(bad)} is not", model.source, "[equations]")
    return [], [(s, s + DT * rhs * exprel(sympy.diff(rhs, s) * DT)) for s, rhs in model.odes]


def auto_method(model):
    """(method, reason): exact if linear, else exponential Euler if conditionally linear, else rk4."""
    if is_linear(model):
        return "exact", "the system is linear with constant coefficients"
    if is_conditionally_linear(model):
        return "exponential_euler", "every equation is linear in its own variable"
    return "rk4", "the system is nonlinear"
