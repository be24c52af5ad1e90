"""SymPy algebra on the laws as written, shared by every stage: split an expression into its
linear coefficients without rewriting the functions in it (exp, min, where stay whole)."""

from typing import Any, Iterable

import sympy


class Opaque:
    """Stands a Dummy in for every non-polynomial part of an expression (a function call, a
    non-integer power, a piecewise), so that polynomial algebra (expand, cancel, a linear solve)
    takes it as one coefficient. That algebra would otherwise split exp(a + b) into
    exp(a)*exp(b) and distribute over min, max and where, which moves where an expression
    overflows: AdEx's exp((V - V_T)/Delta_T) became inf*0 at rest for a small Delta_T."""

    def __init__(self, keep: Iterable[sympy.Basic] = ()) -> None:
        self.keep = set(keep)  # parts that contain these symbols stay open (an unknown inside exp)
        self.parts: dict[sympy.Basic, sympy.Dummy] = {}

    def hide(self, expr: Any) -> Any:
        """`expr` with each outermost non-polynomial part free of `keep` replaced by a Dummy."""
        if not isinstance(expr, sympy.Basic) or expr.is_Atom:
            return expr
        if _polynomial(expr) or expr.free_symbols & self.keep:
            return expr.func(*(self.hide(a) for a in expr.args))
        if expr not in self.parts:
            self.parts[expr] = sympy.Dummy(f"opaque{len(self.parts)}")
        return self.parts[expr]

    def restore(self, expr: Any) -> Any:
        """`expr` with the hidden parts back, as they were written."""
        return expr.xreplace({dummy: part for part, dummy in self.parts.items()})


def _polynomial(expr: sympy.Basic) -> bool:
    """Whether `expr` is a node of polynomial algebra: a sum, a product or an integer power."""
    return isinstance(expr, (sympy.Add, sympy.Mul)) or (
        isinstance(expr, sympy.Pow) and expr.exp.is_Integer)


def expand_opaque(expr: sympy.Basic) -> sympy.Basic:
    """sympy.expand that leaves every function call and non-integer power as written."""
    opaque = Opaque()
    return opaque.restore(sympy.expand(opaque.hide(expr)))


def linear_coefficients(expr: sympy.Basic, variables: Iterable[sympy.Basic]
                        ) -> tuple[dict[sympy.Basic, sympy.Basic], sympy.Basic] | None:
    """Split `expr` as sum(coefficient*variable) + remainder; None when it is not linear in `variables`."""
    variables = list(variables)
    coefficients = {}
    for v in variables:
        c = sympy.diff(expr, v)
        if c.free_symbols & set(variables):
            return None
        coefficients[v] = c
    remainder = expand_opaque(expr - sum(c * v for v, c in coefficients.items()))
    if remainder.free_symbols & set(variables):
        return None
    return coefficients, remainder


def nonlinear_terms(expr: sympy.Basic, variables: Iterable[sympy.Basic]) -> list[sympy.Basic]:
    """The terms of `expr` that are not linear in `variables` (to name them in error messages)."""
    variables = set(variables)
    bad = []
    for term in sympy.Add.make_args(sympy.expand(expr)):
        present = term.free_symbols & variables
        if len(present) > 1 or (present and (term / next(iter(present))).free_symbols & variables):
            bad.append(term)
    return bad
