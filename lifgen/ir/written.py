"""Expressions as written: an operator tree that keeps the order and grouping of every operation.

SymPy sorts and flattens `(a*b)*c` and `a + b + c`, which is right for algebra but changes
floating-point rounding. Update maps must round exactly as written (that is how lifgen matches
snnTorch bit for bit), so codegen prints these trees, and SymPy sees them only for analysis.
"""

import functools
import math
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Sequence, Union

import sympy

from ..errors import ModelError
from .functions import FUNCTIONS

FLOAT32_MAX = 3.4028234663852886e38  # the largest finite float32


@dataclass(frozen=True)
class Num:
    value: float


@dataclass(frozen=True)
class Name:
    symbol: sympy.Symbol

    @property
    def text(self) -> str:
        """The name as printed (the symbol's text, remembered: SymPy's printer is slow)."""
        return symbol_text(self.symbol)


@functools.lru_cache(maxsize=None)
def symbol_text(symbol: sympy.Basic) -> str:
    """str(symbol), computed once per symbol: codegen asks for it millions of times."""
    return str(symbol)


@dataclass(frozen=True)
class Op:
    op: str  # one of + - * / > >= < <= and or
    left: object
    right: object


@dataclass(frozen=True)
class Neg:
    operand: object


@dataclass(frozen=True)
class Not:
    operand: object


@dataclass(frozen=True)
class Call:
    function: str
    args: tuple


Node = Union[Num, Name, Op, Neg, Not, Call]  # a written tree
# What the tree walkers below take: a Node, or a lowered tree whose operators hold
# statements.Expression nodes too (Select, Cast, Element); hence children typed object above.
Tree = Any
Assignments = tuple[tuple[sympy.Symbol, Node], ...]  # ((target, tree), ...), applied in order

ARITHMETIC = {"+": 1, "-": 1, "*": 2, "/": 2}
RELATIONS = {">": sympy.Gt, ">=": sympy.Ge, "<": sympy.Lt, "<=": sympy.Le}
LOGIC = {"and": sympy.And, "or": sympy.Or}
PRECEDENCE = {"or": -2, "and": -1, ">": 0, ">=": 0, "<": 0, "<=": 0, **ARITHMETIC}
SYMPY_FUNCTIONS = {name: f.sympy for name, f in FUNCTIONS.items()}


def symbols(node: Tree) -> set[sympy.Symbol]:
    """The SymPy symbols a tree refers to."""
    found: set[sympy.Symbol] = set()
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, Name):
            found.add(item.symbol)
        else:
            stack.extend(children(item))
    return found


def children(node: Tree) -> tuple[Tree, ...]:
    if isinstance(node, Op):
        return (node.left, node.right)
    if isinstance(node, (Neg, Not)):
        return (node.operand,)
    if isinstance(node, Call):
        return node.args
    return ()


def rebuild(node: Tree, new_children: Sequence[Tree]) -> Tree:
    if isinstance(node, Op):
        return Op(node.op, *new_children)
    if isinstance(node, Neg):
        return Neg(*new_children)
    if isinstance(node, Not):
        return Not(*new_children)
    if isinstance(node, Call):
        return Call(node.function, tuple(new_children))
    return node


def substitute(node: Tree, mapping: Mapping[sympy.Symbol, Tree]) -> Tree:
    """Replace names by trees (mapping: symbol -> tree)."""
    if isinstance(node, Name):
        return mapping.get(node.symbol, node)
    return rebuild(node, [substitute(c, mapping) for c in children(node)])


def matrix_entries(trees: Sequence[Any], entry: Callable[[int, int, int, int], Any]
                   ) -> tuple[list[Any], dict[tuple, int]]:
    """`trees` with each propagator call, entry (i, j) of the matrix exponential of an n-by-n
    matrix, replaced by `entry(index, i, j, n)` (index: the matrix's, numbered in order of
    appearance), and the matrices found ((n, h, entries...) -> index): what reads one matrix
    exponential computes it once."""
    blocks: dict[tuple, int] = {}

    def replace(tree: Any) -> Any:
        if isinstance(tree, Call) and tree.function == "propagator":
            i, j, n = (int(a.value) for a in tree.args[:3])
            return entry(blocks.setdefault(tree.args[2:], len(blocks)), i, j, n)
        return rebuild(tree, [replace(child) for child in children(tree)])
    return [replace(tree) for tree in trees], blocks


def shown_entries(trees: Sequence[Any]) -> list[Any]:
    """`trees` as comments show them: each entry of a matrix exponential as P0[i, j] (the
    generated code shows each matrix once; every entry's call holds all of it, and a chain of
    24 states wrote 1.6 MB of comments)."""
    return matrix_entries(trees, lambda index, i, j, n: Name(sympy.Symbol(f"P{index}[{i}, {j}]")))[0]


def to_sympy(node: Tree) -> sympy.Basic:
    """The SymPy expression of a tree (for algebra, comparison and display)."""
    if isinstance(node, Num):
        return sympy.Integer(int(node.value)) if float(node.value).is_integer() \
            else sympy.Float(node.value)
    if isinstance(node, Name):
        return node.symbol
    if isinstance(node, Neg):
        return -to_sympy(node.operand)
    if isinstance(node, Not):
        return sympy.Not(to_sympy(node.operand))
    if isinstance(node, Call):
        return SYMPY_FUNCTIONS[node.function](*(to_sympy(a) for a in node.args))
    left, right = to_sympy(node.left), to_sympy(node.right)
    if node.op in RELATIONS:
        return RELATIONS[node.op](left, right)
    if node.op in LOGIC:
        return LOGIC[node.op](left, right)
    return {"+": lambda: left + right, "-": lambda: left - right, "*": lambda: left * right,
            "/": lambda: left / right}[node.op]()


def from_sympy(expr: sympy.Basic, first: Iterable[sympy.Symbol] = ()) -> Node:
    """A tree for a SymPy expression; factors and terms free of the symbols in `first` come first.

    Putting loop-invariant parts first groups them into one subtree, which can then be hoisted.
    """
    first = set(first)
    if isinstance(expr, sympy.Symbol):
        return Name(expr)
    if isinstance(expr, sympy.Integer):
        return Num(int(expr))
    if isinstance(expr, sympy.Rational):
        return Op("/", Num(int(expr.p)), Num(int(expr.q)))
    if isinstance(expr, (sympy.Number, sympy.NumberSymbol)):  # NumberSymbol: e = exp(1), pi
        return Num(float(expr))
    if isinstance(expr, sympy.Add):
        return _fold_add(_ordered(expr.args, first), first)
    if isinstance(expr, sympy.Mul):
        return _mul(expr, first)
    if isinstance(expr, sympy.Pow):
        return _pow(expr, first)
    if isinstance(expr, sympy.core.relational.Relational):
        return Op(expr.rel_op, from_sympy(expr.lhs, first), from_sympy(expr.rhs, first))
    if isinstance(expr, (sympy.And, sympy.Or)):
        op = "and" if isinstance(expr, sympy.And) else "or"
        return _fold(op, [from_sympy(a, first) for a in expr.args])
    if isinstance(expr, sympy.Not):
        return Not(from_sympy(expr.args[0], first))
    if isinstance(expr, sympy.Piecewise):
        return _where(expr.args, first)
    name = _function_name(expr)
    return Call(name, tuple(from_sympy(a, first) for a in expr.args))


def _where(pieces: Sequence[tuple[sympy.Basic, sympy.Basic]], first: set[sympy.Symbol]) -> Node:
    """A Piecewise as nested where(condition, value, otherwise) calls."""
    (value, condition), rest = pieces[0], pieces[1:]
    if condition == sympy.true:
        return from_sympy(value, first)
    if not rest:
        raise ModelError(f"lifgen cannot generate code for a piecewise expression without a "
                         f"value where {condition} is false")
    return Call("where", (from_sympy(condition, first), from_sympy(value, first),
                          _where(rest, first)))


def _function_name(expr: sympy.Basic) -> str:
    for name, function in SYMPY_FUNCTIONS.items():
        if isinstance(function, type) and isinstance(expr, function):
            return name
    if isinstance(expr, sympy.Abs):
        return "abs"
    allowed = ", ".join(sorted(n for n, f in FUNCTIONS.items() if f.public))
    raise ModelError(f"lifgen cannot generate code for {expr}: {type(expr).__name__} is not one of "
                     f"the functions a model may use ({allowed})")


def _ordered(args: Iterable[sympy.Basic], first: set[sympy.Symbol]) -> list[sympy.Basic]:
    return sorted(args, key=lambda a: bool(a.free_symbols & first))


def _fold(op: str, nodes: Sequence[Tree]) -> Tree:
    tree = nodes[0]
    for node in nodes[1:]:
        tree = Op(op, tree, node)
    return tree


def _fold_add(terms: Iterable[sympy.Basic], first: set[sympy.Symbol]) -> Node:
    tree = None
    for term in terms:
        coefficient, rest = term.as_coeff_Mul()
        negative = coefficient.is_negative
        node = from_sympy(-term if negative else term, first)
        if tree is None:
            tree = Neg(node) if negative else node
        else:
            tree = Op("-" if negative else "+", tree, node)
    assert tree is not None  # a SymPy Add has two terms or more
    return tree


def _mul(expr: sympy.Mul, first: set[sympy.Symbol]) -> Node:
    coefficient, rest = expr.as_coeff_Mul()
    if coefficient == -1:
        return Neg(from_sympy(rest, first))
    factors = sympy.Mul.make_args(expr)
    invariant = [f for f in factors if not f.free_symbols & first]
    if invariant and len(invariant) < len(factors):
        varying = [f for f in factors if f.free_symbols & first]
        return Op("*", from_sympy(sympy.Mul(*invariant), first),
                  from_sympy(sympy.Mul(*varying), first))
    numerator, denominator = [], []
    for factor in factors:
        base, exponent = factor.as_base_exp()
        if exponent.is_Number and exponent.is_negative:
            denominator.append(base ** -exponent)
        else:
            numerator.append(factor)
    top = _fold("*", [from_sympy(f, first) for f in numerator]) if numerator else Num(1)
    if not denominator:
        return top
    return Op("/", top, _fold("*", [from_sympy(f, first) for f in denominator]))


def _pow(expr: sympy.Pow, first: set[sympy.Symbol]) -> Node:
    base, exponent = expr.args
    if exponent == sympy.Rational(1, 2):
        return Call("sqrt", (from_sympy(base, first),))
    if exponent.is_Number and exponent.is_negative:
        return Op("/", Num(1), from_sympy(base ** -exponent, first))
    if exponent.is_Integer and 2 <= exponent <= PRODUCT_POWERS:
        return product_power(from_sympy(base, first), int(exponent))
    return Call("pow", (from_sympy(base, first), from_sympy(exponent, first)))


PRODUCT_POWERS = 8  # integer powers up to this are products: no libm call, and they vectorize


def product_power(node: Tree, n: int) -> Op:
    """node**n as multiplications by repeated squaring: x**3 = (x*x)*x, x**4 = (x*x)*(x*x)."""
    if n == 1:
        return node
    half = product_power(node, n // 2)
    square = Op("*", half, half)
    return Op("*", square, node) if n % 2 else square


class CPrinter:
    """Prints trees as C99 with the fewest parentheses that keep the written grouping."""

    def __init__(self, names: Mapping[sympy.Symbol, str], dtype: str = "float64") -> None:
        self.names = names
        self.single = dtype == "float32"

    def __call__(self, node: Tree) -> str:
        return self.print(node)

    def print(self, node: Tree) -> str:
        if isinstance(node, Num):
            return self._number(node.value)
        if isinstance(node, Name):
            return self.names[node.symbol]
        if isinstance(node, Neg):
            text = self._wrapped(node.operand, 3)
            return f"-({text})" if text.startswith("-") else f"-{text}"  # never C's -- operator
        if isinstance(node, Not):
            return f"!{self._wrapped(node.operand, 3)}"
        if isinstance(node, Call):
            return self._call(node)
        precedence = PRECEDENCE[node.op]
        op = {"and": "&&", "or": "||"}.get(node.op, node.op)
        # The right operand keeps its parentheses at equal precedence: a - (b - c), a*(b*c).
        space = "" if precedence == 2 else " "
        return (f"{self._wrapped(node.left, precedence)}{space}{op}{space}"
                f"{self._wrapped(node.right, precedence + 1)}")

    def _wrapped(self, node: Tree, precedence: int) -> str:
        text = self.print(node)
        own = PRECEDENCE.get(node.op, 9) if isinstance(node, Op) else 9
        if isinstance(node, Num) and node.value < 0:
            own = 0
        return f"({text})" if own < precedence else text

    def _number(self, value: float) -> str:
        import numpy as np

        if self.single:
            single = float(np.float32(value)) if abs(value) <= FLOAT32_MAX else math.inf
            if math.isinf(single) and math.isfinite(value):  # C has no literal for it
                raise ModelError(f"the number {value:g} lies beyond float32's range (largest "
                                 f"{FLOAT32_MAX:.7g}); compile with dtype='float64'")
            return f"{_c_literal(repr(single))}F"
        return _c_literal(repr(float(value)))

    def _call(self, node: Call) -> str:
        args = [self.print(a) for a in node.args]
        form = FUNCTIONS[node.function].c
        if callable(form):
            return form(args)
        if "{" in form:
            return form.format(*args)
        return f"{self._f(form)}({', '.join(args)})"

    def _f(self, name: str) -> str:
        return name + "f" if self.single else name


def _c_literal(text: str) -> str:
    return text if any(c in text for c in ".eEn") else text + ".0"


class TextPrinter(CPrinter):
    """Prints trees in model-file syntax, for comments and `lifgen show`."""

    def __init__(self) -> None:
        super().__init__({})

    def print(self, node: Tree) -> str:
        if isinstance(node, Name):
            return node.text.removeprefix("lg_unit_").removeprefix("lg_")
        return super().print(node)

    def _number(self, value: float) -> str:
        return repr(value) if not float(value).is_integer() else str(int(value))

    def _call(self, node: Call) -> str:
        return f"{node.function}({', '.join(self.print(a) for a in node.args)})"

    def _f(self, name: str) -> str:
        return name


def to_text(node: Tree) -> str:
    """The tree in model-file syntax: `((I*R)*(1/(R*C)))*dt` prints as `I*R*(1/(R*C))*dt`."""
    return TextPrinter().print(node)


NUMPY_OPERATIONS = {
    "+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b,
    "/": lambda a, b: a / b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
    "<": lambda a, b: a < b, "<=": lambda a, b: a <= b,
    "and": lambda a, b: a & b, "or": lambda a, b: a | b,
}


def evaluate(node: Tree, values: Mapping[sympy.Symbol, Any],
             dtype: type = float) -> Any:
    """Evaluate a tree with NumPy, in `dtype`, for values given per symbol (scalars or arrays)."""
    import numpy as np

    functions = {name: f.numpy for name, f in FUNCTIONS.items()}

    def walk(n: Tree) -> Any:
        if isinstance(n, Num):
            return dtype(n.value)
        if isinstance(n, Name):
            return np.asarray(values[n.symbol], dtype=dtype)
        if isinstance(n, Neg):
            return -walk(n.operand)
        if isinstance(n, Not):
            return ~walk(n.operand)
        if isinstance(n, Call):
            return functions[n.function](*(walk(a) for a in n.args))
        return NUMPY_OPERATIONS[n.op](walk(n.left), walk(n.right))

    with np.errstate(all="ignore"):
        return walk(node)
