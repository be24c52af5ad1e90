"""Dimensional analysis of a model file, with sympy.physics.units.

Every equation must add, compare and assign quantities of one dimension, the time derivative of
X has the dimension of X per time, and exp, log and their kin take dimensionless arguments. A
plain number is dimensionless (0 goes with anything). The kernel computes in the declared units,
so these must form one system (mV, ms, nA, pF and nS do; mV with seconds and pA/ms does not);
unit names written in an equation, as in (V + 40*mV)/(10*mV), become numbers of that system.
"""

from fractions import Fraction
from typing import Any, Iterable, Sequence

import numpy as np
import sympy
from sympy.core.function import AppliedUndef
from sympy.physics.units.systems.si import SI, dimsys_SI

from ..errors import ModelError
from ..ir.functions import ANY_ARGUMENT, SAME_DIMENSION
from ..ir.symbols import DT, XI, is_noise, symbol
from .units import PREFIXES, UNITS, Unit, dimension_name, parse_unit, unit_of_symbol
from ..ir.written import Node, Num, substitute, symbols, to_sympy, to_text

BASE = ("length", "mass", "time", "current", "temperature", "amount_of_substance",
        "luminous_intensity")
BASE_UNITS = ("meter", "kilogram", "second", "ampere", "kelvin", "mole", "candela")
Dimension = tuple[Fraction, ...]  # exponents of the SI base dimensions, in BASE order
NONE: Dimension = (Fraction(0),) * 7
TIME = tuple(Fraction(int(b == "time")) for b in BASE)
PAIRED = ("volt", "ampere", "second", "ohm", "farad", "siemens", "meter")
NAMED = ("volt", "ampere", "second", "ohm", "farad", "siemens", "hertz", "meter", "watt",
         "volt/second", "ampere/meter**2", "siemens/meter**2", "farad/meter**2", "ampere/second")


class _Mismatch(Exception):
    """A dimension error, with the message that describes it."""


def dimension(unit: Unit) -> Dimension:
    """The dimension of a Unit as exponents of the SI base dimensions."""
    found = dimsys_SI.get_dimensional_dependencies(SI.get_dimensional_expr(unit.expr))
    exponents = {str(d.name): Fraction(v) for d, v in found.items()}
    return tuple(exponents.get(b, Fraction(0)) for b in BASE)


def describe(dim: Dimension) -> str:
    """A dimension in words: 'volt', 'volt/second', 'a dimensionless number'."""
    if dim == NONE:
        return "a dimensionless number"
    for name in NAMED:
        named = dimension(parse_unit(name))
        powers = {b / a for a, b in zip(named, dim) if a} if all(
            (a == 0) == (b == 0) for a, b in zip(named, dim)) else set()
        if len(powers) == 1:
            power = powers.pop()
            return name if power == 1 else f"({name})**{power}" if "/" in name else f"{name}**{power}"
    for a in PAIRED:
        for b in PAIRED:
            for sign, join in ((1, "*"), (-1, "/")):
                if a < b or sign < 0:
                    pair = _plus(dimension(parse_unit(a)),
                                 tuple(sign * e for e in dimension(parse_unit(b))))
                    if pair == dim and a != b:
                        return f"{a}{join}{b}"
    return "*".join(f"{u}**{e}" if e != 1 else u for u, e in zip(BASE_UNITS, dim) if e)


class UnitSystem:
    """The unit system the declared units make: the size of each SI base unit in it (as a
    power of ten), from a least-squares fit that must be exact."""

    def __init__(self, declared: Sequence[tuple[str, Unit]], source: str | None) -> None:
        self.rows: list[list[float]] = []
        self.scales: list[float] = []
        for field, unit in declared:
            self.rows.append([float(e) for e in dimension(unit)])
            self.scales.append(np.log10(unit.si[0]))
            if not self._consistent():
                others = ", ".join(sorted({u.text for _, u in declared[:len(self.rows) - 1]}))
                raise ModelError(f"{unit.text!r} does not fit the units declared before it "
                                 f"({others}){self._suggestion(unit)}: lifgen computes in the "
                                 "declared units, so they must form one system, such as "
                                 "NEST's ms, mV, pA, pF, nS", source, field)
        self.base = self._fit()

    def _suggestion(self, unit: Unit) -> str:
        """'; with them a siemens is 'uS'': the unit of the same kind that the system before
        `unit` (its last row) implies, when those units fix its size."""
        rows, d = np.array(self.rows[:-1]), np.array(self.rows[-1])
        if not len(rows) or np.linalg.matrix_rank(np.vstack([rows, d])) != np.linalg.matrix_rank(rows):
            return ""
        base = np.linalg.lstsq(rows, np.array(self.scales[:-1]), rcond=None)[0]
        expected = float(d @ base)
        kind = dimension_name(unit)
        for name in sorted(UNITS, key=len):
            if dimension(parse_unit(name)) != dimension(unit):
                continue
            for prefix, scale in [("", 1.0), *PREFIXES.items()]:
                if prefix != "\u00b5" and abs(np.log10(float(scale)) + np.log10(
                        parse_unit(name).si[0]) - expected) < 1e-9:
                    return f"; with them, a quantity in {kind} is written in {prefix + name!r}"
        named = [(prefix + name, np.log10(float(scale)) + np.log10(parse_unit(name).si[0]))
                 for name in sorted(UNITS, key=len) if dimension(parse_unit(name)) == dimension(unit)
                 for prefix, scale in [("", 1.0), *PREFIXES.items()] if prefix != "\u00b5"]
        if not named:
            return ""
        closest, size = min(named, key=lambda pair: (abs(pair[1] - expected), len(pair[0])))
        return (f"; with them, a quantity in {kind} would be in {10 ** (expected - size):g} "
                f"{closest}, which no unit names: declare them in SI units (volt, amp, siemens, "
                "farad, second), which always form one system")

    def _fit(self) -> np.ndarray:
        if not self.rows:
            return np.zeros(len(BASE))
        return np.linalg.lstsq(np.array(self.rows), np.array(self.scales), rcond=None)[0]

    def _consistent(self) -> bool:
        base = self._fit()
        return np.allclose(np.array(self.rows) @ base, self.scales, atol=1e-9)

    def exponent(self, unit: Unit) -> float:
        """log10 of how many units of this system one `unit` is (mV in a mV system: 0)."""
        return float(np.log10(unit.si[0]) - np.dot([float(e) for e in dimension(unit)], self.base))


class DimensionCheck:
    """Checks the expressions of one model file and puts numbers in place of unit names."""

    def __init__(self, quantities: Iterable[tuple[str, Any]], time_unit: str,
                 source: str | None) -> None:  # (kind, model.Quantity) pairs
        self.source = source
        declared = [(f"[{kind}] {q.name}", parse_unit(q.unit)) for kind, q in quantities if q.unit]
        if time_unit:
            declared.append(("[simulation] dt", parse_unit(time_unit)))
        self.active = bool(declared)
        self.system = UnitSystem(declared, source)
        self.dims = {q.symbol: dimension(parse_unit(q.unit)) for _, q in quantities}
        time = dimension(parse_unit(time_unit)) if time_unit else TIME
        self.dims[DT] = time
        self.dims[XI] = tuple(-e / 2 for e in time)  # white noise: 1/sqrt(time)

    # -- checking ----------------------------------------------------------------------------
    def equal(self, left: sympy.Basic, right: sympy.Basic, field: str, text: str,
              verb: str = "compares") -> None:
        """Check that two expressions have one dimension (an equation or a comparison)."""
        if not self._needed((left, right), field):
            return
        try:
            a, b = self._dim(left), self._dim(right)
            if a != b and not _is_zero(left) and not _is_zero(right):
                raise _Mismatch(_two(left, a, right, b, verb))
        except _Mismatch as error:
            raise ModelError(f"{_quote(text)}{error}", self.source, field) from None

    def expect(self, expr: sympy.Basic, dim: Dimension, field: str, text: str, what: str) -> None:
        """Check that `expr` has dimension `dim` (`what` names the quantity it must match)."""
        if not self._needed((expr,), field):
            return
        try:
            found = self._dim(expr)
        except _Mismatch as error:
            raise ModelError(f"{_quote(text)}{error}", self.source, field) from None
        if found != dim and not _is_zero(expr):
            raise ModelError(f"{_quote(text)}{_show(expr)} is {describe(found)} but {what} is "
                             f"{describe(dim)}", self.source, field)

    def infer(self, expr: sympy.Basic, field: str, text: str) -> Dimension:
        """The dimension of `expr` (checking it on the way)."""
        try:
            return self._dim(expr) if self._needed((expr,), field) else NONE
        except _Mismatch as error:
            raise ModelError(f"{_quote(text)}{error}", self.source, field) from None

    def _needed(self, exprs: Iterable[sympy.Basic], field: str) -> bool:
        """Whether to check: the model declares units (a unit in an equation of a model that
        declares none is more likely an undeclared name, and is refused)."""
        units = sorted(u.text for u in (unit_of_symbol(s) for e in exprs for s in e.free_symbols)
                       if u)
        if units and not self.active:
            what = describe(dimension(parse_unit(units[0])))
            raise ModelError(f"{units[0]!r} is read as a unit ({what}), but the model declares "
                             "no units: declare it as a parameter, state or input, or give the "
                             "model's quantities units", self.source, field)
        return self.active

    def _dim(self, expr: sympy.Basic) -> Dimension:
        if expr.is_Number:
            return NONE
        if isinstance(expr, sympy.Symbol):
            unit = unit_of_symbol(expr)
            return dimension(unit) if unit else self.dims.get(
                expr, self.dims[XI] if is_noise(expr) else NONE)
        if isinstance(expr, AppliedUndef):
            return self.dims.get(symbol(expr.func.__name__), NONE)
        if isinstance(expr, sympy.Derivative):
            return _minus(self._dim(expr.expr), self.dims[DT])
        if isinstance(expr, sympy.Add):
            return self._same([a for a in expr.args if not _is_zero(a)], "adds")
        if isinstance(expr, sympy.Mul):
            result = NONE
            for factor in expr.args:
                result = _plus(result, self._dim(factor))
            return result
        if isinstance(expr, sympy.Pow):
            return self._power(expr)
        if isinstance(expr, SAME_DIMENSION):  # abs, min and max: their arguments' dimension
            return self._same([a for a in expr.args if not _is_zero(a)] or [expr.args[0]],
                              "takes the min or max of")  # 0 has every dimension
        if isinstance(expr, sympy.Piecewise):  # where(c, a, b): conditions, then one dimension
            for _, condition in expr.args:
                self._dim(condition)
            return self._same([value for value, _ in expr.args if not _is_zero(value)],
                              "chooses between")
        if isinstance(expr, ANY_ARGUMENT):  # heaviside(V - V_th): checked inside, a number
            self._dim(expr.args[0])
            return NONE
        if isinstance(expr, sympy.Function):
            for argument in expr.args:
                if self._dim(argument) != NONE:
                    raise _Mismatch(f"the argument of {type(expr).__name__}, {_show(argument)}, "
                                    f"must be dimensionless but is {describe(self._dim(argument))}")
            return NONE
        if isinstance(expr, sympy.core.relational.Relational):
            self._same([a for a in (expr.lhs, expr.rhs) if not _is_zero(a)], "compares")
            return NONE
        return NONE

    def _same(self, args: Sequence[sympy.Basic], verb: str) -> Dimension:
        dims = [(a, self._dim(a)) for a in args]
        for a, dim in dims[1:]:
            if dim != dims[0][1]:
                raise _Mismatch(_two(dims[0][0], dims[0][1], a, dim, verb))
        return dims[0][1] if dims else NONE

    def _power(self, expr: sympy.Pow) -> Dimension:
        base, exponent = expr.args
        if self._dim(exponent) != NONE:
            raise _Mismatch(f"the exponent {_show(exponent)} must be dimensionless")
        base_dim = self._dim(base)
        if base_dim == NONE:
            return NONE
        if not exponent.is_Rational:
            raise _Mismatch(f"{_show(base)} ({describe(base_dim)}) is raised to {_show(exponent)}, "
                            "which is not a fixed number")
        return tuple(e * Fraction(int(exponent.p), int(exponent.q)) for e in base_dim)

    # -- unit names become numbers ------------------------------------------------------------
    def numbers(self, expr: sympy.Basic) -> sympy.Basic:
        """`expr` (SymPy) with each unit name replaced by its number in this model's units."""
        units = {s: unit_of_symbol(s) for s in expr.free_symbols}
        return expr.xreplace({s: self._number(u) for s, u in units.items() if u})

    def tree_numbers(self, tree: Node) -> Node:
        """The same for a written tree."""
        units = {s: unit_of_symbol(s) for s in symbols(tree)}
        return substitute(tree, {s: Num(float(self._number(u))) for s, u in units.items() if u})

    def _number(self, unit: Unit) -> sympy.Number:
        """The value of `unit` in this system, exact when it is a power of ten (mV in V: 1/1000)."""
        exponent = self.system.exponent(unit)
        if abs(exponent - round(exponent)) < 1e-9:
            return sympy.Integer(10) ** int(round(exponent))
        return sympy.Float(10.0 ** exponent)

    def check_tree(self, tree: Node, dim: Dimension, field: str, what: str) -> Node:
        """Check a written tree against `dim`; return it with numbers for unit names."""
        self.expect(to_sympy(tree), dim, field, to_text(tree), what)
        return self.tree_numbers(tree)


def _plus(a: Dimension, b: Dimension) -> Dimension:
    return tuple(x + y for x, y in zip(a, b))


def _minus(a: Dimension, b: Dimension) -> Dimension:
    return tuple(x - y for x, y in zip(a, b))


def _is_zero(expr: sympy.Basic) -> bool:
    return getattr(expr, "is_zero", False) is True and expr.is_Number


def _show(expr: sympy.Basic) -> str:
    """An expression as the model file writes it: unit names and V, not lg_unit_mV and V(t)."""
    replacements = {s: sympy.Symbol(u.text)
                    for s, u in ((s, unit_of_symbol(s)) for s in expr.free_symbols) if u}
    replacements.update({f: sympy.Symbol(f.func.__name__) for f in expr.atoms(AppliedUndef)})
    replacements.update({d: sympy.Symbol(f"d{d.expr.func.__name__}/dt")
                         for d in expr.atoms(sympy.Derivative)
                         if isinstance(d.expr, AppliedUndef)})
    return sympy.sstr(expr.xreplace(replacements), full_prec=False)


def _two(a: sympy.Basic, dim_a: Dimension, b: sympy.Basic, dim_b: Dimension, verb: str) -> str:
    if verb == "compares":
        return f"compares {describe(dim_a)} ({_show(a)}) with {describe(dim_b)} ({_show(b)})"
    if verb == "equates":
        return f"the left side is {describe(dim_a)} but the right side is {describe(dim_b)}"
    if isinstance(a, sympy.Symbol) and isinstance(b, sympy.Symbol):
        return f"{_show(a)} is {describe(dim_a)} but {_show(b)} is {describe(dim_b)}"
    return f"{verb} {_show(a)} ({describe(dim_a)}) and {_show(b)} ({describe(dim_b)})"


def _quote(text: str) -> str:
    return f'"{text}": ' if text else ""

