"""Safe parsing of model-file expressions into SymPy: a whitelist over Python's own AST, never eval.

`sympify` and `parse_expr` run arbitrary code (see the build-and-safety notes), so text from a
model file is parsed with `ast.parse`, checked node by node, and turned into SymPy objects by hand.
"""

import ast
import math
import warnings
from typing import Any, Mapping

import sympy

from ..ir import written
from ..ir.functions import FUNCTIONS as FUNCTION_REGISTRY
from ..errors import ModelError, did_you_mean
from .units import unit_symbol

MAX_TEXT = 4000
MAX_NODES = 500
MAX_DEPTH = 50
MAX_INTEGER = 10**15
MAX_POWER_BITS = 1024
MAX_SYMBOLIC_EXPONENT = 64
MAX_DEGREE = 64  # total polynomial degree of an expression: (V + I)**60*(V - I)**60 is 120

# Functions a model may call, with the argument counts each accepts (from the registry).
FUNCTIONS = {name: (f.arity,) for name, f in FUNCTION_REGISTRY.items() if f.public}
BINARY_OPERATORS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}
COMPARISONS = {ast.Gt: ">", ast.GtE: ">=", ast.Lt: "<", ast.LtE: "<="}
BOOLEAN_OPERATORS = {ast.And: "and", ast.Or: "or"}
FORBIDDEN_ATOMS = (sympy.zoo, sympy.nan, sympy.oo, -sympy.oo, sympy.I)


class _Rejected(Exception):
    """Internal: the expression breaks a rule; converted to ModelError with file and field."""


def parse_expression(text: Any, names: Mapping[str, sympy.Basic], source: str | None = None,
                     field: str | None = None, relations: bool = False) -> sympy.Basic:
    """Parse `text` into a SymPy expression using only the symbols in `names` (name -> SymPy object).

    With `relations=True` comparisons and and/or/not are allowed too (spike conditions).
    """
    return parse(text, names, source, field, relations)[1]


def parse(text: Any, names: Mapping[str, sympy.Basic], source: str | None = None,
          field: str | None = None, relations: bool = False) -> tuple[written.Node, sympy.Basic]:
    """Parse `text` into (tree as written, SymPy expression); see `parse_expression`."""
    try:
        if not isinstance(text, str):
            if isinstance(text, bool) or not isinstance(text, (int, float)):
                raise _Rejected(f"expected an expression as text, got {type(text).__name__}")
            text = repr(text)
        if len(text) > MAX_TEXT:
            raise _Rejected(f"expression is {len(text)} characters long; the limit is {MAX_TEXT}")
        _check_ascii(text)
        tree = _parse_tree(text)
        _check_size(tree)
        node = _Builder(names, relations).build(tree.body, 0)
        if _degree(node) > MAX_DEGREE:
            raise _Rejected(f"expression has polynomial degree {_degree(node):g}; the limit is "
                            f"{MAX_DEGREE} (SymPy's work grows steeply with it)")
        try:
            expr = _sympy(node)
        except TypeError as error:  # SymPy refuses the form: a relation used as a number
            raise _Rejected(f"not a valid expression ({error})") from None
        _check_constants(expr)
        return node, expr
    except _Rejected as error:
        raise ModelError(f"{error} in {text!r}" if isinstance(text, str) and len(text) < 200
                         else str(error), source, field) from None


def check_expression(expr: sympy.Basic, source: str | None = None,
                     field: str | None = None) -> None:
    """An expression built in Python (Model.from_sympy) under the limits a model file's text
    has: its parts, nesting and polynomial degree, and finite constants (a ModelError)."""
    try:
        if not isinstance(expr, sympy.Basic):
            return  # numbers, and what the front end refuses itself
        count = 0
        for _ in sympy.preorder_traversal(expr):
            count += 1
            if count > MAX_NODES:
                raise _Rejected(f"expression has more than {MAX_NODES} parts; the limit is "
                                f"{MAX_NODES}")
        degree = _sympy_degree(expr, 0)
        if degree > MAX_DEGREE:
            raise _Rejected(f"expression has polynomial degree {degree:g}; the limit is "
                            f"{MAX_DEGREE} (SymPy's work grows steeply with it)")
        _check_constants(expr)
    except _Rejected as error:
        raise ModelError(str(error), source, field) from None


def _sympy_degree(expr: sympy.Basic, depth: int) -> float:
    """_degree's bound for a SymPy expression (and its nesting, under MAX_DEPTH)."""
    if depth > MAX_DEPTH:
        raise _Rejected(f"expression is nested more than {MAX_DEPTH} levels deep")
    if expr.is_Number or isinstance(expr, sympy.NumberSymbol):
        return 0
    if isinstance(expr, (sympy.Symbol, sympy.Derivative)) or not expr.args:
        return 1
    parts = [_sympy_degree(a, depth + 1) for a in expr.args]
    if isinstance(expr, sympy.Mul):
        return sum(parts)
    if isinstance(expr, sympy.Pow) and expr.exp.is_Number:
        if abs(float(expr.exp)) > MAX_SYMBOLIC_EXPONENT and not expr.base.is_Number:
            raise _Rejected(f"exponent {expr.exp} is too large (limit {MAX_SYMBOLIC_EXPONENT})")
        return parts[0] * abs(float(expr.exp))
    if isinstance(expr, (sympy.Add, sympy.Pow, sympy.core.relational.Relational, sympy.Piecewise)) \
            or isinstance(expr, sympy.logic.boolalg.Boolean):
        return max(parts)
    if max(parts) > MAX_DEGREE:  # a function: its argument is bounded on its own
        return max(parts)
    return 1


def _degree(node: written.Tree) -> float:
    """An upper bound of the total polynomial degree of a written tree, from its powers and
    products (a function call counts as degree 1: its argument is bounded on its own)."""
    if isinstance(node, written.Num):
        return 0
    if isinstance(node, written.Op) and node.op == "*":
        return _degree(node.left) + _degree(node.right)
    if isinstance(node, written.Op) and node.op == "/":
        return _degree(node.left) + _degree(node.right)
    if isinstance(node, written.Op):
        return max(_degree(node.left), _degree(node.right))
    if isinstance(node, written.Neg):
        return _degree(node.operand)
    if isinstance(node, written.Call) and node.function == "pow" \
            and isinstance(node.args[1], written.Num):
        return _degree(node.args[0]) * abs(float(node.args[1].value))
    if isinstance(node, written.Call):
        return max([1] + [min(_degree(a), MAX_DEGREE + 1) for a in node.args])
    return 1  # a name


def _sympy(node: written.Node) -> sympy.Basic:
    try:
        return written.to_sympy(node)
    except ZeroDivisionError:
        raise _Rejected("division by zero") from None
    except (ArithmeticError, ValueError) as error:
        raise _Rejected(f"arithmetic error ({error or type(error).__name__})") from None
    except RecursionError:
        raise _Rejected("expression is too deeply nested for SymPy") from None


def names_in(text: str, source: str | None = None, field: str | None = None) -> set[str]:
    """The names `text` refers to, under the parser's length and depth limits (a ModelError
    beyond them); none for text that is not valid syntax, which `parse` then reports."""
    try:
        if len(text) > MAX_TEXT:
            raise _Rejected(f"expression is {len(text)} characters long; the limit is {MAX_TEXT}")
        tree = _parse_tree(text)
    except _Rejected as error:
        if str(error).startswith("syntax error"):
            return set()
        raise ModelError(str(error), source, field) from None
    return {n.id for n in ast.walk(tree)
            if isinstance(n, ast.Name) and not isinstance(getattr(n, "ctx", None), ast.Store)}


def _check_ascii(text: str) -> None:
    """Python folds look-alike letters (full-width, mathematical bold) into ASCII names; a
    model file must say what it means, so any other character is refused."""
    odd = next((c for c in text if not c.isascii()), None)
    if odd is not None:
        raise _Rejected(f"character {odd!r} (U+{ord(odd):04X}) is not allowed: write names and "
                        "operators in ASCII (units too: 'uA', not 'µA')")


def _parse_tree(text: str) -> ast.Expression:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return ast.parse(text.strip(), mode="eval")
        except SyntaxError as error:
            raise _Rejected(f"syntax error at column {error.offset or 0}") from None
        except (RecursionError, MemoryError, ValueError):
            raise _Rejected("expression is too deeply nested or malformed") from None


def _check_size(tree: ast.AST) -> None:
    count = sum(1 for _ in ast.walk(tree))
    if count > MAX_NODES:
        raise _Rejected(f"expression has {count} parts; the limit is {MAX_NODES}")


def _check_power(base_tree: written.Node, exponent_tree: written.Node) -> None:
    """Refuse powers whose constant value or symbolic expansion would be enormous."""
    base, exponent = _sympy(base_tree), _sympy(exponent_tree)
    if base.is_number and exponent.is_number:
        base_value, exponent_value = abs(complex(base)), abs(complex(exponent))
        if base_value > 1 and exponent_value * math.log2(base_value) > MAX_POWER_BITS:
            raise _Rejected("a constant power is too large")
    elif exponent.is_number and abs(complex(exponent)) > MAX_SYMBOLIC_EXPONENT:
        raise _Rejected(f"exponent {exponent} is too large (limit {MAX_SYMBOLIC_EXPONENT})")


def _check_constants(expr: sympy.Basic) -> None:
    for bad in FORBIDDEN_ATOMS:
        if expr.has(bad):
            raise _Rejected("the expression evaluates to an infinite, undefined or complex value")
    for atom in expr.atoms(sympy.Number):
        try:
            value = float(atom)
        except (OverflowError, ValueError):
            value = math.inf
        if not math.isfinite(value) or abs(value) > 1.7e308:
            raise _Rejected(f"constant {shown_number(atom)} is not a finite double")


def shown_number(number: object) -> str:
    """A number as text, a long one cut (Python refuses to print integers of over 4300 digits)."""
    try:
        text = str(number)
    except ValueError:
        return "of over 4300 digits"
    return text if len(text) <= 40 else f"{text[:20]}... ({len(text)} characters)"


class _Builder:
    """Turns a checked AST into a written tree, one allowed node type at a time."""

    def __init__(self, names: Mapping[str, sympy.Basic], relations: bool) -> None:
        self.names = names
        self.relations = relations

    def build(self, node: ast.AST, depth: int) -> written.Node:
        if depth > MAX_DEPTH:
            raise _Rejected(f"expression is nested more than {MAX_DEPTH} levels deep")
        handler = getattr(self, "_" + type(node).__name__, None)
        if handler is None:
            raise _Rejected(f"{_describe(node)} is not allowed")
        return handler(node, depth + 1)

    def _Constant(self, node: ast.Constant, depth: int) -> written.Node:
        value = node.value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _Rejected(f"literal {value!r} is not a real number")
        if isinstance(value, int) and abs(value) > MAX_INTEGER:
            raise _Rejected(f"integer {value} is too large")
        if isinstance(value, float) and not math.isfinite(value):
            raise _Rejected(f"number {value!r} is not finite")
        return written.Num(value)

    def _Name(self, node: ast.Name, depth: int) -> written.Node:
        if node.id in self.names:
            return written.Name(self.names[node.id])
        unit = unit_symbol(node.id)  # a unit written in the equation: 40*mV
        if unit is None:
            known = ", ".join(sorted(self.names)) or "none"
            raise _Rejected(f"{node.id!r} is not declared{did_you_mean(node.id, self.names)} "
                            f"(known names: {known}; or a unit such as mV)")
        return written.Name(unit)

    def _BinOp(self, node: ast.BinOp, depth: int) -> written.Node:
        left, right = self.build(node.left, depth), self.build(node.right, depth)
        if isinstance(node.op, ast.Pow):
            _check_power(left, right)
            if isinstance(right, written.Num) and float(right.value).is_integer() \
                    and 2 <= right.value <= written.PRODUCT_POWERS:
                return written.product_power(left, int(right.value))
            return written.Call("pow", (left, right))
        operator = BINARY_OPERATORS.get(type(node.op))
        if operator is None:
            raise _Rejected(f"operator {type(node.op).__name__} is not allowed")
        return written.Op(operator, left, right)

    def _UnaryOp(self, node: ast.UnaryOp, depth: int) -> written.Node:
        operand = self.build(node.operand, depth)
        if isinstance(node.op, ast.USub):
            return written.Neg(operand)
        if isinstance(node.op, ast.UAdd):
            return operand
        if isinstance(node.op, ast.Not) and self.relations:
            return written.Not(operand)
        raise _Rejected(f"operator {type(node.op).__name__} is not allowed here")

    def _Call(self, node: ast.Call, depth: int) -> written.Node:
        if isinstance(node.func, ast.Name) and node.func.id == "previous":
            return self._previous(node)
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            name = node.func.id if isinstance(node.func, ast.Name) else _describe(node.func)
            allowed = ", ".join(sorted(FUNCTIONS))
            raise _Rejected(f"call of {name!r} is not allowed (allowed functions: {allowed})")
        if node.keywords or any(isinstance(arg, ast.Starred) for arg in node.args):
            raise _Rejected("keyword or starred arguments are not allowed")
        arities = FUNCTIONS[node.func.id]
        if len(node.args) not in arities:
            raise _Rejected(f"{node.func.id}() takes {' or '.join(map(str, arities))} arguments")
        if node.func.id == "where":  # where(condition, if true, if false)
            condition = _Builder(self.names, True).build(node.args[0], depth)
            return written.Call("where", (condition, *(self.build(a, depth) for a in node.args[1:])))
        return written.Call(node.func.id, tuple(self.build(arg, depth) for arg in node.args))

    def _previous(self, node: ast.Call) -> written.Node:
        """`previous(X)`: state X at the start of the step, allowed in the spike condition, in
        reset forms and in [after_step]."""
        argument = node.args[0] if len(node.args) == 1 and not node.keywords else None
        key = f"previous({argument.id})" if isinstance(argument, ast.Name) else None
        if key is None or key not in self.names:
            raise _Rejected("previous(X) takes one state name and is allowed only in the spike "
                            "condition, in reset forms and in [after_step]")
        return written.Name(self.names[key])

    def _Compare(self, node: ast.Compare, depth: int) -> written.Node:
        if not self.relations:
            raise _Rejected("a comparison is not allowed here")
        if len(node.ops) != 1 or type(node.ops[0]) not in COMPARISONS:
            raise _Rejected("use one comparison of >, >=, < or <= at a time")
        return written.Op(COMPARISONS[type(node.ops[0])], self.build(node.left, depth),
                          self.build(node.comparators[0], depth))

    def _BoolOp(self, node: ast.BoolOp, depth: int) -> written.Node:
        if not self.relations:
            raise _Rejected("'and'/'or' are not allowed here")
        values = [self.build(v, depth) for v in node.values]
        tree = values[0]
        for value in values[1:]:
            tree = written.Op(BOOLEAN_OPERATORS[type(node.op)], tree, value)
        return tree


def _describe(node: ast.AST) -> str:
    kinds = {
        "Attribute": "attribute access", "Subscript": "subscripting", "Lambda": "a lambda",
        "ListComp": "a comprehension", "GeneratorExp": "a comprehension", "JoinedStr": "a string",
        "Tuple": "a tuple", "List": "a list", "Dict": "a dict", "Starred": "unpacking",
    }
    return kinds.get(type(node).__name__, f"syntax {type(node).__name__!r}")
