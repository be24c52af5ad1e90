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
    terms = (_linear_terms(expr, frozenset(variables), {})
             if all(isinstance(v, sympy.Symbol) for v in variables) else None)
    for v in variables:
        c = sympy.diff(expr, v) if terms is None else sympy.Add(*terms.get(v, ()))
        if c.free_symbols & set(variables):
            return None
        coefficients[v] = c
    remainder = expand_opaque(expr - sum(c * v for v, c in coefficients.items()))
    if remainder.free_symbols & set(variables):
        return None
    return coefficients, remainder


def _linear_terms(expr: sympy.Basic, variables: frozenset, seen: dict
                  ) -> dict[sympy.Basic, list[sympy.Basic]] | None:
    """Each variable's coefficient in `expr` as a list of terms, read off the tree in one walk;
    None where the tree is not plainly linear (a power or function of a variable, a product
    of two), for sympy.diff to decide. diff gives the same coefficients but walks the whole
    tree once per variable and node (a 24-state exact chain took a minute)."""
    if expr in seen:
        return seen[expr]
    if expr in variables:
        found: dict | None = {expr: [sympy.S.One]}
    elif isinstance(expr, sympy.Add):
        found = _add_terms([_linear_terms(a, variables, seen) for a in expr.args])
    elif isinstance(expr, sympy.Mul):
        found = _mul_terms(expr, [_linear_terms(a, variables, seen) for a in expr.args])
    else:
        found = {} if expr.is_Atom or not expr.free_symbols & variables else None
    seen[expr] = found
    return found


def _add_terms(parts: list) -> dict[sympy.Basic, list[sympy.Basic]] | None:
    if any(p is None for p in parts):
        return None
    found: dict[sympy.Basic, list[sympy.Basic]] = {}
    for part in parts:
        for v, terms in part.items():
            found.setdefault(v, []).extend(terms)
    return found


def _mul_terms(expr: sympy.Mul, parts: list) -> dict[sympy.Basic, list[sympy.Basic]] | None:
    linear = [i for i, p in enumerate(parts) if p != {}]
    if not linear:
        return {}
    if len(linear) > 1 or parts[linear[0]] is None:
        return None
    i = linear[0]  # the product rule's term, built as sympy.diff builds it (one Mul, in order)
    return {v: [sympy.Mul(*expr.args[:i], sympy.Add(*terms), *expr.args[i + 1:])]
            for v, terms in parts[i].items()}


def nonlinear_terms(expr: sympy.Basic, variables: Iterable[sympy.Basic]) -> list[sympy.Basic]:
    """The terms of `expr` that are not linear in `variables` (to name them in error messages)."""
    variables = set(variables)
    bad = []
    for term in sympy.Add.make_args(sympy.expand(expr)):
        present = term.free_symbols & variables
        if len(present) > 1 or (present and (term / next(iter(present))).free_symbols & variables):
            bad.append(term)
    return bad
