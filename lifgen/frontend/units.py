"""Physical units of model quantities, computed with SymPy's units (sympy.physics.units).

Unit text such as "mV", "uA/cm**2" or "Mohm" and quantities such as "20 ms" are parsed from a
whitelist over Python's syntax tree (never sympify): names are SymPy units, optionally with an SI
prefix; the operators are *, / and whole or half powers (ms**0.5). A plain number keeps meaning the unit that the
model file declares for its quantity, so models and calls without units work unchanged.
"""

import ast
import functools
import re
from dataclasses import dataclass
from typing import Any, TypeGuard

import sympy
import sympy.physics.units as u
from sympy.physics.units import convert_to
from sympy.physics.units.prefixes import PREFIXES as SYMPY_PREFIXES

MAX_UNIT_TEXT = 100
# what unit text may hold: names, numbers, * / ** and parentheses (no comment, quote or escape)
UNIT_CHARACTERS = re.compile(r"[A-Za-z0-9\u00b5_.*/()+\- ]*\Z")
# Unit symbols as written in neuroscience, and the SymPy unit each means.
UNITS = {"V": u.volt, "volt": u.volt, "A": u.ampere, "ampere": u.ampere, "ohm": u.ohm,
         "F": u.farad, "farad": u.farad, "S": u.siemens, "siemens": u.siemens, "mho": u.siemens,
         "s": u.second, "second": u.second, "Hz": u.hertz, "hertz": u.hertz, "m": u.meter,
         "meter": u.meter, "g": u.gram, "gram": u.gram, "mol": u.mole, "K": u.kelvin,
         "W": u.watt, "watt": u.watt, "J": u.joule, "C": u.coulomb, "L": u.liter, "l": u.liter,
         # Brian2's spellings
         "amp": u.ampere, "metre": u.meter, "litre": u.liter, "liter": u.liter, "mole": u.mole,
         "kelvin": u.kelvin, "coulomb": u.coulomb, "joule": u.joule}
PREFIXES = {name: SYMPY_PREFIXES[name].scale_factor for name in "fpnmcdkMG"}
PREFIXES.update({"u": SYMPY_PREFIXES["mu"].scale_factor, "\u00b5": SYMPY_PREFIXES["mu"].scale_factor})
SI_BASE = (u.meter, u.kilogram, u.second, u.ampere, u.kelvin, u.mole, u.candela)
# Units named in messages when a dimension matches one of them.
NAMED = (("volt", u.volt), ("ampere", u.ampere), ("second", u.second), ("ohm", u.ohm),
         ("farad", u.farad), ("siemens", u.siemens), ("hertz", u.hertz), ("meter", u.meter),
         ("volt/second", u.volt / u.second), ("ampere/meter**2", u.ampere / u.meter**2),
         ("siemens/meter**2", u.siemens / u.meter**2), ("farad/meter**2", u.farad / u.meter**2))
# "<number> <unit>", or with no space when the unit starts with a letter other than e ("500ms")
QUANTITY = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)"
                      r"(?:\s+(\S.*)|([A-DF-Za-df-z\u00b5].*))$")


class UnitError(ValueError):
    """Unit text that lifgen cannot read, or quantities of different dimensions."""


@dataclass(frozen=True)
class Unit:
    """A unit: its canonical text (`uA/cm**2`, however it was spaced or parenthesised) and its
    SymPy expression."""

    text: str
    expr: object

    @property
    def si(self) -> tuple[float, sympy.Expr]:
        """(scale to SI, the SI base units): mV is (1/1000, volt in base units)."""
        return _si(self.expr)

    @property
    def dimensionless(self) -> bool:
        return self.si[1] == 1

    def factor_to(self, other: "Unit") -> float:
        """The number that turns a value in this unit into one in `other`; UnitError when the
        two measure different things."""
        (scale, base), (other_scale, other_base) = self.si, other.si
        if base != other_base:
            raise UnitError(f"{self.describe()} cannot be converted to {other.describe()}")
        return scale / other_scale

    def describe(self) -> str:
        """The unit and, when it differs, what it measures: 'mV (volt)', 'a dimensionless number'."""
        if self.dimensionless and self.si[0] == 1:
            return "a dimensionless number"
        return f"{self.text} ({dimension_name(self)})" if self.text != dimension_name(self) \
            else self.text


DIMENSIONLESS = Unit("", sympy.Integer(1))


@functools.lru_cache(maxsize=None)
def _si(expr: sympy.Expr) -> tuple[float, sympy.Expr]:
    factors = sympy.Mul.make_args(convert_to(expr, list(SI_BASE)))
    coefficient = sympy.Mul(*(f for f in factors if f.is_number))  # sqrt(10) of ms**0.5 too
    return float(coefficient), sympy.Mul(*(f for f in factors if not f.is_number))


def dimension_name(unit: Unit) -> str:
    """A readable name for what `unit` measures: volt, ampere/meter**2, or its SI base units."""
    base = unit.si[1]
    for name, named in NAMED:
        if _si(named)[1] == base:
            return name
    return "dimensionless" if base == 1 else str(base).replace(" ", "")


@functools.lru_cache(maxsize=256)
def parse_unit(text: str) -> Unit:
    """The Unit that `text` names ("mV", "uA/cm**2", "1/ms", "" for dimensionless)."""
    if not isinstance(text, str):
        raise UnitError(f"a unit must be text such as 'mV', got {type(text).__name__}")
    text = text.strip()
    if not text:
        return DIMENSIONLESS
    if len(text) > MAX_UNIT_TEXT:
        raise UnitError(f"unit text is longer than {MAX_UNIT_TEXT} characters")
    if not UNIT_CHARACTERS.match(text):  # a `#` comment parses, and would be kept as text
        raise UnitError(f"{text!r} is not a unit such as 'mV', 'nA' or 'uA/cm**2' (a unit holds "
                        "names, numbers, *, /, ** and parentheses only)")
    try:
        tree = ast.parse(text, mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise UnitError(f"{text!r} is not a unit such as 'mV', 'nA' or 'uA/cm**2'") from None
    expr = _build(tree, text)
    return Unit(_canonical(tree), expr)


PRECEDENCE = {ast.Mult: 1, ast.Div: 1, ast.Pow: 2}  # of the operators _build accepts


def _canonical(node: ast.expr, parent: int = 0) -> str:
    """The unit text of a tree _build accepted, written one way: no spaces, parentheses only
    where the operators need them (`( mV )` and `mV` are both `mV`)."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Constant):
        return repr(node.value)
    if isinstance(node, ast.UnaryOp):  # a negative exponent
        return "-" + _canonical(node.operand, 3)
    assert isinstance(node, ast.BinOp)
    own = PRECEDENCE[type(node.op)]
    symbol = {ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}[type(node.op)]
    left_own = own + 1 if own == 2 else own  # ** groups to the right, * and / to the left
    text = (_canonical(node.left, left_own) + symbol
            + _canonical(node.right, own if own == 2 else own + 1))
    return f"({text})" if own < parent else text


def parse_quantity(text: Any) -> tuple[float, Unit]:  # any TOML value; UnitError if no quantity
    """(magnitude, Unit) of "20 ms"-style text; a bare number is dimensionless."""
    match = QUANTITY.match(text) if isinstance(text, str) else None
    if match is None:
        try:
            return float(text), DIMENSIONLESS
        except (TypeError, ValueError):
            raise UnitError(f"{text!r} is not a quantity such as '20 ms'") from None
    return float(match.group(1)), parse_unit(match.group(2) or match.group(3))


def is_quantity_text(value: object) -> TypeGuard[str]:
    """True for text of the form "<number> <unit>"."""
    return isinstance(value, str) and QUANTITY.match(value) is not None


def to_unit(value: Any, unit: Unit, what: str) -> Any:
    """`value` (a number, "20 ms" text or a SymPy quantity) as a number in `unit`."""
    if isinstance(value, str):
        try:
            magnitude, given = parse_quantity(value)
        except UnitError as error:
            raise UnitError(f"{what}: {error}") from None
    elif isinstance(value, sympy.Basic) and value.has(u.Quantity):
        magnitude, given = 1.0, Unit(str(value), value)
    else:
        return value
    try:
        return magnitude * given.factor_to(unit)
    except UnitError:
        raise UnitError(f"{what} is {given.describe()} but should be "
                        f"{unit.describe() if unit.text else 'a dimensionless number'}") from None


def _build(node: ast.expr, text: str) -> sympy.Expr:
    if isinstance(node, ast.Name):
        return _unit_named(node.id, text)
    if isinstance(node, ast.Constant) and type(node.value) in (int, float) and node.value == 1:
        return sympy.Integer(1)
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Mult, ast.Div)):
        left, right = _build(node.left, text), _build(node.right, text)
        return left * right if isinstance(node.op, ast.Mult) else left / right
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
        exponent = node.right
        sign = -1 if isinstance(exponent, ast.UnaryOp) and isinstance(exponent.op, ast.USub) else 1
        exponent = exponent.operand if isinstance(exponent, ast.UnaryOp) else exponent
        value = exponent.value if isinstance(exponent, ast.Constant) else None
        if isinstance(value, (int, float)) and not isinstance(value, bool) and abs(value) <= 4 \
                and float(2 * value).is_integer():
            # whole or half powers: the square root of time of a noise amplitude, mV/ms**0.5
            return _build(node.left, text) ** (sign * sympy.Rational(int(2 * value), 2))
    raise UnitError(f"{text!r} is not a unit such as 'mV', 'nA' or 'uA/cm**2'")


def _unit_named(name: str, text: str) -> sympy.Expr:
    if name in UNITS:
        return UNITS[name]
    prefix, rest = name[:1], name[1:]
    if prefix in PREFIXES and rest in UNITS:
        return PREFIXES[prefix] * UNITS[rest]
    raise UnitError(f"unknown unit {name!r} in {text!r} (known: {', '.join(sorted(UNITS))}, "
                    "with a prefix f, p, n, u, m, c, k, M or G)")


_SYMBOLS: dict[sympy.Symbol, Unit] = {}  # the symbol standing for a unit in an equation -> Unit


def unit_symbol(name: str) -> sympy.Symbol | None:
    """The SymPy symbol standing for the unit `name` ("mV") in an equation, or None if `name`
    is no unit."""
    try:
        unit = parse_unit(name)
    except UnitError:
        return None
    if unit.dimensionless:
        return None
    unit_sym = sympy.Symbol(f"lg_unit_{name}")
    _SYMBOLS[unit_sym] = unit
    return unit_sym


def unit_of_symbol(unit_sym: sympy.Symbol) -> Unit | None:
    """The Unit a symbol from `unit_symbol` stands for, else None."""
    return _SYMBOLS.get(unit_sym)
