"""Print the statement IR as C99: expressions through the written-tree printer, statements with
indentation. Numbers and functions follow the kernel's float type."""

from __future__ import annotations

from typing import Iterable

import sympy

from ...ir.statements import (DOUBLE, INDEX, INT, KEY, REAL, AddTo, Apply, Assign, Block, Break,
                              Cast, Comment, Double, Element, Equal, Expression, For, If, Integer,
                              Let, Loop, MatrixExponential, Remainder, Select, Statement, Store,
                              View, nodes, uses)
from ...ir.written import Call, CPrinter, Name, symbol_text
from ..text import comment_text

# Functions of the IR that are not model functions: how the kernel computes them.
KERNEL_CALLS = {
    # neuron0: the population's first neuron among all (a shard's or a sweep task's offset)
    "normal": "(lg_real)lg_normal(lg_seed, lg_step0 + lg_step, lg_b, lg_neuron0 + lg_first + lg_i)",
    "quantize": "lg_quantize",
}
# lifgen's own functions that the coupled step calls with its arguments as they are.
LIFGEN_CALLS = {"uniform": "lg_uniform", "any8": "lg_any8", "stream": "lg_stream",
                "uniform_in": "lg_uniform_in", "first_at_least": "lg_first_at_least",
                "presynaptic": "lg_presynaptic", "flags8": "lg_flags8", "lowest8": "lg_lowest8",
                "rest8": "lg_rest8", "flags64": "lg_flags64", "lowest64": "lg_lowest64"}
# C types of the locals a Let declares (an INT flag is printed apart: a condition).
LOCAL_TYPES = {REAL: "lg_real", INDEX: "int64_t", KEY: "uint64_t", DOUBLE: "double"}
# C element types of the arrays a view places (the kernel's float type by default).
ELEMENT_TYPES = {"real": "lg_real", "double": "double", "int64": "int64_t", "int32": "int32_t",
                 "int16": "int16_t", "uint8": "uint8_t", "uint64": "uint64_t"}
# What the C text of each function reads besides its arguments: lifgen's helpers (functions.py's
# C forms and KERNEL_CALLS above), and the indices the noise draw reads from the schedule.
CALL_USES: dict[str, tuple[str, ...]] = {
    "normal": ("lg_normal", "lg_seed", "lg_step0", "lg_step", "lg_b", "lg_neuron0", "lg_first",
               "lg_i"),
    "quantize": ("lg_quantize",),
    "min": ("lg_min",), "max": ("lg_max",), "clip": ("lg_min", "lg_max"),
    "exp": ("lg_exp",), "expm1": ("lg_expm1",), "log": ("lg_log",), "log1p": ("lg_log1p",),
    "tanh": ("lg_tanh",), "sinh": ("lg_sinh",), "cosh": ("lg_cosh",), "exprel": ("lg_exprel",),
    "inverse_exprel": ("lg_inverse_exprel",), "sin": ("lg_sin",), "cos": ("lg_cos",),
    "pow": ("lg_pow",), "propagator": ("lg_propagator",), "expm": ("lg_expm",),
    "uniform": ("lg_uniform",), "any8": ("lg_any8",), "first_at_least": ("lg_first_at_least",),
    "presynaptic": ("lg_presynaptic",), "flags8": ("lg_flags8",),
    "lowest8": ("lg_lowest8",), "rest8": ("lg_rest8",),
    "flags64": ("lg_flags64", "lg_flags8"), "lowest64": ("lg_lowest64",),
    "stream": ("lg_stream", "lg_uniform"), "uniform_in": ("lg_stream", "lg_uniform"),
}


class _Names(dict[sympy.Symbol, str]):
    """Every name in the IR is already its C identifier."""

    def __missing__(self, symbol: sympy.Symbol) -> str:
        return symbol_text(symbol)


class ExpressionPrinter(CPrinter):
    """CPrinter for IR expressions: selects, casts and array elements as well as written trees."""

    def __init__(self, dtype: str) -> None:
        super().__init__(_Names(), dtype)
        self._in_double: ExpressionPrinter | None = None if self.single else self

    def print(self, node: Expression) -> str:
        if isinstance(node, Double):
            if self._in_double is None:
                self._in_double = ExpressionPrinter("float64")
            return self._in_double.print(node.operand)
        if isinstance(node, Select):
            return (f"{self._wrapped(node.condition, 0)} ? {self._wrapped(node.if_true, 0)} : "
                    f"{self._wrapped(node.if_false, 0)}")
        if isinstance(node, Cast):
            return f"((lg_real){self.print(node.operand)})"
        if isinstance(node, Integer):
            return str(node.value)
        if isinstance(node, Remainder):
            return f"{self._wrapped(node.left, 3)} % {self._wrapped(node.right, 3)}"
        if isinstance(node, Equal):
            return f"{self._wrapped(node.left, 1)} == {self._wrapped(node.right, 1)}"
        if isinstance(node, Element):
            index = node.index if isinstance(node.index, str) else self.print(node.index)
            return f"{node.array}[{index}]"
        return super().print(node)

    def _wrapped(self, node: Expression, precedence: int) -> str:
        if isinstance(node, Remainder) and precedence >= 2:
            return f"({self.print(node)})"
        if isinstance(node, (Select, Double, Equal)):
            return f"({self.print(node)})"
        return super()._wrapped(node, precedence)

    def _call(self, node: Call) -> str:
        if node.function == "normal":  # a named source: its key sets its stream apart
            return (KERNEL_CALLS["normal"] if not node.args else KERNEL_CALLS["normal"].replace(
                "lg_seed", f"lg_seed ^ {node.args[0].value:#x}ULL", 1))
        if node.function == "quantize":
            return f"{KERNEL_CALLS['quantize']}({self.print(node.args[0])})"
        if node.function in LIFGEN_CALLS:
            arguments = ", ".join(self.print(a) for a in node.args)
            return f"{LIFGEN_CALLS[node.function]}({arguments})"
        return super()._call(node)


class StatementPrinter:
    """Statements as C lines at a given indentation."""

    def __init__(self, dtype: str, indent: int = 16) -> None:
        self.expression = ExpressionPrinter(dtype)
        self.indent = indent

    def lines(self, statements: Iterable[Statement], depth: int = 0) -> list[str]:
        out: list[str] = []
        for statement in statements:
            out += self._statement(statement, " " * (self.indent + 4 * depth), depth)
        return out

    def text(self, statements: Iterable[Statement]) -> str:
        return "\n".join(self.lines(statements))

    def _statement(self, s: Statement, pad: str, depth: int) -> list[str]:
        e = self.expression.print
        if isinstance(s, Comment):
            return [f"{pad}/* {comment_text(s.text)} */"]
        if isinstance(s, Let):
            if s.type == INT:
                return [f"{pad}const int {s.name} = {_flag(e(s.value), s.value)};"]
            return [f"{pad}{'' if s.mutable else 'const '}{LOCAL_TYPES[s.type]} {s.name} = "
                    f"{e(s.value)};"]
        if isinstance(s, Assign):
            return [f"{pad}{s.name} = {e(s.value)};"]
        if isinstance(s, If):
            lines = [f"{pad}if ({e(s.condition)}) {{", *self.lines(s.then, depth + 1)]
            if s.otherwise:
                lines += [f"{pad}}} else {{", *self.lines(s.otherwise, depth + 1)]
            return lines + [f"{pad}}}"]
        if isinstance(s, Loop):
            return [f"{pad}for (int {s.counter} = 0; {s.counter} < {s.limit} && {e(s.guard)}; "
                    f"++{s.counter}) {{", *self.lines(s.body, depth + 1), f"{pad}}}"]
        if isinstance(s, Break):
            return [f"{pad}break;"]
        if isinstance(s, Store):
            return [f"{pad}{s.array}[{e(s.index)}] = {e(s.value)};"]
        if isinstance(s, AddTo):
            return [f"{pad}{s.array}[{e(s.index)}] += {e(s.value)};"]
        if isinstance(s, For):  # (a select as the bound, parenthesized: `<` binds tighter)
            stop = f"({e(s.stop)})" if isinstance(s.stop, Select) else e(s.stop)
            return [f"{pad}for (int64_t {s.counter} = {e(s.start)}; {s.counter} < {stop}; "
                    f"++{s.counter}) {{", *self.lines(s.body, depth + 1), f"{pad}}}"]
        if isinstance(s, View):
            return [f"{pad}{ELEMENT_TYPES[s.element]} *restrict {s.name} = {s.array} + "
                    f"{e(s.offset)};"]
        if isinstance(s, Block):
            return [f"{pad}{{", *self.lines(s.body, depth + 1), f"{pad}}}"]
        if isinstance(s, MatrixExponential):
            entries = ", ".join(e(x) for x in s.entries)
            return [f"{pad}const double {s.name}_matrix[{s.size * s.size}] = {{ {entries} }};",
                    f"{pad}double {s.name}[{s.size * s.size}];",
                    f"{pad}lg_expm({s.size}, {e(s.h)}, {s.name}_matrix, {s.name});"]
        if isinstance(s, Apply):
            return [f"{pad}{APPLIED + s.function}({s.array}, {e(s.count)});"]
        raise TypeError(f"not a statement: {s!r}")


def _flag(text: str, value: Expression) -> str:
    """A condition as an int flag, parenthesised unless it is one name."""
    return text if isinstance(value, Name) else f"({text})"


def print_expression(node: Expression, dtype: str) -> str:
    return ExpressionPrinter(dtype).print(node)


# lifgen's own elementary functions (templates/c/elementary.c.j2), by the model function's name
ELEMENTARY_CALLS = ("exp", "expm1", "log", "log1p", "tanh", "sinh", "cosh", "exprel",
                    "inverse_exprel", "sin", "cos", "pow")
BINARY_CALLS = ("pow",)  # of two arguments
# Above this many call sites in a step, the elementary functions are compiled once as vector
# functions that the loop calls rather than inlined at each site: gcc's time grows faster than
# the loop (a Hodgkin-Huxley rk4 step, 48 sites: 8 s against 1 s), while an inlined call runs
# about a fifth faster (no vector registers spilled around a call).
INLINED_CALL_SITES = 8
APPLIED = "lg_apply_"  # + function: its loop over a round's arguments (Apply, call_rounds.py)


def call_sites(tree: object) -> int:
    """How many calls of the elementary functions a step's statements make."""
    return sum(isinstance(node, Call) and node.function in ELEMENTARY_CALLS for node in nodes(tree))


def vector_functions(tree: object) -> bool:
    """Whether a step calls the elementary functions at more sites than are worth inlining."""
    return call_sites(tree) > INLINED_CALL_SITES


def statement_uses(tree: object) -> frozenset[str]:
    """What printed statements or expressions read, declared by the IR rather than found in the
    text: the names and arrays they read or assign, element indices, each call's CALL_USES and
    each applied function's loop."""
    found = uses(tree)
    called = (name for function in found.calls for name in CALL_USES.get(function, ()))
    return frozenset(found.identifiers | found.indices | set(called)
                     | {APPLIED + function for function in found.applied})
