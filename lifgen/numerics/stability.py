"""Is an explicit method stable at the chosen dt? Checked from the Jacobian's eigenvalues at rest.

An explicit Runge-Kutta step multiplies a mode with eigenvalue lambda by its stability polynomial
R(dt*lambda); the step is stable when |R| <= 1 for every decaying mode (Re lambda < 0). For a linear leak,
lambda = -1/tau and forward Euler needs dt <= 2*tau. Rest means the initial state with the
default parameters and zero inputs: where a nonlinear model is stiffer away from rest (a spike),
the check can pass and the run still blow up, which the run then reports.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np
import sympy

from .methods import METHODS
from ..ir.symbols import DT, symbol
from ..ir.written import evaluate, from_sympy, to_sympy

STABLE_ALTERNATIVE = "method='exact' (linear models), 'exponential_euler' or a smaller dt"


def eigenvalues_at_rest(model: Any, parameters: Mapping[str, float] | None = None) -> np.ndarray:
    """Eigenvalues of the ODE's Jacobian at the initial state and zero inputs, with the default
    parameters or, for those it names, `parameters` (name -> number)."""
    states = list(model.state_symbols)
    given = parameters or {}
    values = {q.symbol: given.get(q.name, q.value) for q in model.parameters}
    values.update({u: 0 for u in model.input_symbols})
    for q in model.states:
        values[q.symbol] = q.value if q.formula is None else float(_evaluate(q.formula, values))
    rhs = sympy.Matrix([rhs for _, rhs in model.odes])
    jacobian = rhs.jacobian(states).xreplace({k: sympy.Float(v) for k, v in values.items()})
    matrix = np.array(jacobian.evalf(), dtype=float)
    if not np.all(np.isfinite(matrix)):
        return np.array([])
    return np.linalg.eigvals(matrix)


def stability_warning(model: Any, method: str, dt: float | None,
                      parameters: Mapping[str, float] | None = None) -> str:
    """A sentence saying why `method` is unstable at `dt` for `model` at rest, or "". Checked with
    the default parameters, or with `parameters` (name -> number) in their place."""
    registered = METHODS.get(method)
    coefficients = registered.stability if registered else None  # R(z), from the registry
    if coefficients is None or not model.odes or dt is None:
        return ""
    try:
        eigenvalues = eigenvalues_at_rest(model, parameters)
    except (TypeError, ValueError, ArithmeticError):  # not numeric at rest: nothing to check
        return ""
    decaying = [lam for lam in eigenvalues if lam.real < 0]  # growing modes are the ODE's own
    growth = [abs(np.polyval(coefficients[::-1], float(dt) * lam)) for lam in decaying]
    if not growth or max(growth) <= 1 + 1e-12:
        return ""
    worst = decaying[int(np.argmax(growth))]
    scale = 1 / abs(worst) if worst != 0 else math.inf
    which = "the default parameters (a run checks its own again)" if parameters is None else \
        "this run's parameters (" + ", ".join(f"{k} = {v:g}" for k, v in parameters.items()) + ")"
    return (f"{model.name}: {method} is unstable at dt = {dt:g} with {which}: "
            f"the fastest mode at rest (time scale {scale:.3g}) grows by {max(growth):.3g} per "
            f"step instead of decaying. Use {STABLE_ALTERNATIVE}")


def growth_per_set(model: Any, method: str, dt: float | None, names: Sequence[str],
                   rows: np.ndarray) -> np.ndarray | None:
    """How much the fastest decaying mode at rest grows per step, for every parameter set at
    once: `rows` (K, len(names)) holds the values of `names`, the other parameters keep their
    defaults. 0 where stable or not known; None when the Jacobian cannot be evaluated with NumPy
    (then stability_warning checks sets one at a time)."""
    registered = METHODS.get(method)
    coefficients = registered.stability if registered else None
    count = len(rows)
    if coefficients is None or not model.odes or dt is None:
        return np.zeros(count)
    values: dict[Any, Any] = {q.symbol: float(q.value) for q in model.parameters}
    values.update({symbol(n): rows[:, k] for k, n in enumerate(names)})
    values.update({u: 0.0 for u in model.input_symbols})
    values[DT] = float(dt)
    try:
        for q in model.states:
            values[q.symbol] = q.value if q.formula is None else evaluate(q.formula, values)
        rhs = sympy.Matrix([rhs for _, rhs in model.odes])
        entries = rhs.jacobian(list(model.state_symbols))
        size = entries.shape[0]
        matrix = np.empty((count, size, size))
        for (i, j), entry in np.ndenumerate(np.array(entries.tolist(), dtype=object)):
            matrix[:, i, j] = np.broadcast_to(evaluate(from_sympy(entry), values), (count,))
    except (TypeError, ValueError, KeyError, AttributeError, ArithmeticError, NotImplementedError):
        return None
    growth = np.zeros(count)
    finite = np.all(np.isfinite(matrix), axis=(1, 2))
    if finite.any():
        eigenvalues = _eigenvalues(matrix[finite])
        factor = np.abs(np.polyval(np.asarray(coefficients[::-1], float), float(dt) * eigenvalues))
        growth[finite] = np.where(eigenvalues.real < 0, factor, 0.0).max(axis=1, initial=0.0)
    return growth


def _eigenvalues(matrices: np.ndarray) -> np.ndarray:
    """Eigenvalues of a stack of matrices: the diagonal where every one is triangular (a leak
    fed by decaying synapses, the common case), else LAPACK's."""
    lower = np.tril(np.ones(matrices.shape[1:], bool), -1)
    if not matrices[:, lower].any() or not matrices[:, lower.T].any():
        return np.diagonal(matrices, axis1=1, axis2=2)  # real
    return np.linalg.eigvals(matrices)


def _evaluate(tree: Any, values: Mapping[Any, float]) -> sympy.Basic:
    return to_sympy(tree).xreplace({k: sympy.Float(v) for k, v in values.items() if k != DT})
