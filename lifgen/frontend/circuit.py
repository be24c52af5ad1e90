"""Derive ODEs from circuit laws: solve Kirchhoff, Ohm and capacitor equations for each dX/dt.

For the Lapicque neuron, `I = I_R + I_C`, `I_R = V/R`, `I_C = C*dV/dt` give `dV/dt = (I - V/R)/C`.
Any quantity in the laws that is not a declared state, parameter or input (here `I_R`, `I_C`)
is an intermediate that the solve eliminates.
"""

from __future__ import annotations

from typing import Iterable, Sequence

import sympy

from .budget import SYMPY_SECONDS, OverBudget, within
from ..errors import ModelError
from ..ir.algebra import Opaque
from ..ir.symbols import TIME, is_noise, symbol, time_function


def derivative_symbol(name: str) -> sympy.Symbol:
    """Placeholder symbol for dX/dt while solving the laws."""
    return sympy.Symbol(f"d{name}/dt")


def derive_odes(laws: Sequence[sympy.Basic], state_names: Sequence[str],
                known_names: Iterable[str] | None = None,
                source: str | None = None) -> tuple[tuple[sympy.Symbol, sympy.Expr], ...]:
    """Solve `laws` (equations in time-function form) for dX/dt of every state; return ((X, rhs), ...)."""
    field = "[equations] laws"
    equations = [_to_plain(law, state_names) for law in laws]
    derivatives = [derivative_symbol(n) for n in state_names]
    declared = {symbol(n) for n in (known_names or ())} | {symbol(n) for n in state_names}
    free = set().union(*(eq.free_symbols for eq in equations)) if equations else set()
    for name, d in zip(state_names, derivatives):
        if d not in free:
            raise ModelError(f"no law gives d{name}/dt", source, field)
    intermediates = sorted({f for f in free - declared - set(derivatives) if not is_noise(f)},
                           key=str) if known_names else []
    unknowns = derivatives + intermediates
    if len(equations) != len(unknowns):
        names = ", ".join(map(str, unknowns))
        raise ModelError(f"{len(equations)} laws for {len(unknowns)} unknowns ({names}); "
                         "each unknown needs one law", source, field)
    opaque = Opaque(keep=unknowns)  # exp, min, ... of the knowns are coefficients, kept as written
    hidden = [opaque.hide(eq) for eq in equations]
    solutions = _solve_in_turn(equations, unknowns) or _solve_linear(hidden, unknowns)
    if not solutions:  # nonlinear laws: SymPy's general solver, under a time budget
        try:
            solutions = within(SYMPY_SECONDS, _solve_nonlinear, hidden, unknowns)
        except OverBudget:
            raise ModelError(f"SymPy could not solve the laws for {', '.join(map(str, unknowns))} "
                             f"within {SYMPY_SECONDS:g} s (LIFGEN_SYMPY_BUDGET sets the budget); "
                             "write the ODEs directly, as dX/dt = ...", source, field) from None
    if len(solutions) != 1 or any(d not in solutions[0] for d in derivatives):
        raise ModelError(f"the laws do not determine {', '.join(map(str, derivatives))} uniquely",
                         source, field)
    odes = []
    for name, d in zip(state_names, derivatives):
        rhs = opaque.restore(solutions[0][d])
        if rhs.free_symbols & set(unknowns):
            raise ModelError(f"d{name}/dt still depends on {rhs.free_symbols & set(unknowns)}",
                             source, field)
        odes.append((symbol(name), rhs))
    return tuple(odes)


def _solve_nonlinear(equations: list[sympy.Expr],
                     unknowns: list[sympy.Symbol]) -> list[dict[sympy.Symbol, sympy.Expr]]:
    """SymPy's general solver, every solution as a dict (unknown -> expression)."""
    return sympy.solve(equations, unknowns, dict=True)


def _to_plain(law: sympy.Basic, state_names: Iterable[str]) -> sympy.Expr:
    """Replace dX/dt by a placeholder and X(t) by the plain symbol X, giving `lhs - rhs`."""
    replacements = {}
    for name in state_names:
        replacements[sympy.Derivative(time_function(name), TIME)] = derivative_symbol(name)
    expr = law.lhs - law.rhs if isinstance(law, sympy.Eq) else law
    expr = expr.xreplace(replacements)
    functions = {f: symbol(f.func.__name__) for f in expr.atoms(sympy.core.function.AppliedUndef)}
    return expr.xreplace(functions)


def normalise_expression(expr: sympy.Basic | None, state_names: Sequence[str],
                         in_time: bool = False) -> sympy.Basic:
    """Rebuild a user's SymPy expression with lifgen's own symbols (no assumptions, one time symbol).

    Applied functions `X(t)` become `Function('X')(t)` if `in_time`, else the plain symbol `X`.
    """
    if not isinstance(expr, sympy.Basic):
        raise ModelError(f"expected a SymPy expression, got {expr!r}")
    functions = {}
    for f in expr.atoms(sympy.core.function.AppliedUndef):
        name = f.func.__name__
        functions[f] = time_function(name) if in_time else symbol(name)
    expr = expr.xreplace(functions)
    symbols = {s: (TIME if s.name == "t" else symbol(s.name)) for s in expr.free_symbols
               if isinstance(s, sympy.Symbol)}
    expr = expr.xreplace(symbols)
    if not in_time and expr.has(sympy.Derivative):
        raise ModelError(f"a derivative is not allowed in {expr}")
    return expr


def _solve_in_turn(equations: Sequence[sympy.Expr], unknowns: Iterable[sympy.Symbol]
                   ) -> list[dict[sympy.Symbol, sympy.Expr]] | None:
    """Laws that each bring one more unknown (`C*dV/dt = rhs`, `I_R = V/R`), solved one at a time
    by substitution, each right-hand side kept as written: algebra that expands products or
    splits exponentials would move where the expression overflows. None when they are coupled."""
    pending, solution, unknowns = list(equations), {}, set(unknowns)
    while pending:
        law = next((law for law in pending if len(law.free_symbols & unknowns) == 1), None)
        if law is None:
            return None
        (unknown,) = law.free_symbols & unknowns
        coefficient, rest = sympy.diff(law, unknown), law.xreplace({unknown: sympy.S.Zero})
        if coefficient == 0 or unknown in coefficient.free_symbols | rest.free_symbols:
            return None  # not linear in the unknown
        if coefficient.could_extract_minus_sign():  # I_C = C*dV/dt: dV/dt = I_C/C, not -I_C/(-C)
            coefficient, rest = -coefficient, -rest
        solution[unknown] = -rest / coefficient
        unknowns.discard(unknown)
        pending = [p.xreplace({unknown: solution[unknown]}) for p in pending if p is not law]
    return [solution]


def _solve_linear(equations: Sequence[sympy.Expr], unknowns: Sequence[sympy.Symbol]
                  ) -> list[dict[sympy.Symbol, sympy.Expr]] | None:
    """Circuit laws are usually linear in the unknowns: solve them as a matrix, cheaply."""
    try:
        matrix, rhs = sympy.linear_eq_to_matrix(equations, unknowns)
    except sympy.SympifyError:
        return None
    except (ValueError, NotImplementedError, TypeError):  # nonlinear in the unknowns
        return None
    if matrix.shape[0] != matrix.shape[1] or matrix.det() == 0:
        return None
    solution = matrix.LUsolve(rhs)
    return [{u: sympy.cancel(v) for u, v in zip(unknowns, solution)}]
