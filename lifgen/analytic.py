"""Closed-form solutions of linear models, from SymPy's dsolve, with inputs held constant."""

import sympy

from .model import TIME, symbol, time_function


def initial_symbol(name):
    """The symbol for a state's value at t = 0, written X0."""
    return sympy.Symbol(f"{name}0")


def closed_form(model):
    """Solve the model's ODEs for constant inputs from X(0) = X0; a list of Eq(X(t), ...), or None.

    None means SymPy found no closed form (nonlinear models, or a discrete-time map).
    """
    if model.is_discrete:
        return None
    equations = model.ode_equations()
    functions = [time_function(s.name) for s in model.state_symbols]
    ics = {f.subs(TIME, 0): initial_symbol(s.name) for f, s in zip(functions, model.state_symbols)}
    try:
        solution = sympy.dsolve(equations if len(equations) > 1 else equations[0],
                                functions if len(functions) > 1 else functions[0], ics=ics)
    except (NotImplementedError, ValueError, TypeError):
        return None
    solutions = solution if isinstance(solution, list) else [solution]
    return [sympy.Eq(eq.lhs, _tidy(eq.rhs)) for eq in solutions]


def _tidy(expr):
    """Write a solution as steady state plus decaying exponentials: I*R + (V0 - I*R)*exp(-t/(C*R))."""
    expanded = sympy.expand(sympy.simplify(expr))
    return sympy.collect(expanded, sorted(expanded.atoms(sympy.exp), key=str))


def evaluate_closed_form(model, times, params, inputs, initial):
    """Evaluate the closed form at `times` (a NumPy array) for scalar params, inputs and initial values."""
    import numpy as np

    solutions = closed_form(model)
    if solutions is None:
        raise ValueError(f"model {model.name} has no closed-form solution")
    values = {symbol(k): v for k, v in {**model.defaults, **params}.items()}
    values.update({symbol(k): inputs.get(k, 0.0) for k in model.input_names})
    values.update({initial_symbol(k): initial.get(k, v) for k, v in model.initial_values.items()})
    result = {}
    for eq in solutions:
        expr = eq.rhs.subs(values)
        f = sympy.lambdify(TIME, expr, "numpy")
        result[eq.lhs.func.__name__] = np.broadcast_to(f(np.asarray(times, float)), np.shape(times))
    return result
