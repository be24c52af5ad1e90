"""NESTML expression text -> lifgen expression text, token by token; nothing is evaluated.

NESTML writes expressions much as Python does, with a few differences this module removes:
a number followed by a unit is a quantity (`5 mV`, `30mV`: `(5*mV)`), `ln` is the natural
logarithm, `e` is Euler's number, `X'` names the derivative state of `X` and `X$` a kernel's
second state, units are spelt `GOhm`, and `resolution()`/`timestep()` is the step `dt`. Names
are mapped by the caller (states, internals inlined, convolutions, functions inlined); anything
else NESTML can write that has no lifgen meaning (`? :`, `==`, `%`, `true`, random numbers,
unknown calls) is a ModelError naming it. The text produced is then parsed by lifgen's
whitelist parser (`frontend/expressions.py`) like any model file's.
"""

from __future__ import annotations

import math
import re
from typing import Callable, Protocol

from ...errors import ModelError
from ..units import unit_symbol

MAX_TOKENS = 2000
MAX_NESTING = 40
MAX_OUTPUT = 4000
E = repr(math.e)
LOG_10 = repr(math.log(10.0))
_TOKEN = re.compile(r"\s*(?:(?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)"
                    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*(?:'+|\$)?)"
                    r"|(?P<op>\*\*|<=|>=|==|!=|<>|[-+*/%()<>,?:!]))")
# NESTML's functions and lifgen's name for each (the same mathematics).
FUNCTIONS = {"exp": "exp", "ln": "log", "log": "log", "sqrt": "sqrt", "sin": "sin",
             "cos": "cos", "tanh": "tanh", "sinh": "sinh", "cosh": "cosh", "abs": "abs",
             "max": "max", "min": "min", "expm1": "expm1", "clip": "clip", "floor": "floor",
             "pow": "pow"}
STEP_FUNCTIONS = ("resolution", "timestep")
REFUSED = {
    "?": "the conditional expression 'a ? b : c'",
    ":": "the conditional expression 'a ? b : c'",
    "==": "the comparison '=='", "!=": "the comparison '!='", "<>": "the comparison '<>'",
    "!": "the operator '!'", "%": "the remainder operator '%'",
}
REFUSED_NAMES = {
    "true": "the boolean literal 'true'", "false": "the boolean literal 'false'",
    "inf": "the infinite value 'inf'",
    "random_normal": "random_normal(): lifgen's only randomness is an equation's white noise xi",
    "random_uniform": "random_uniform(): lifgen's only randomness is an equation's white noise",
    "steps": "steps(): a count of steps as a state", "delta": "delta(t) outside a kernel",
    "emit_spike": "emit_spike() in an expression", "integrate_odes": "integrate_odes() in an "
    "expression", "print": "print()", "println": "println()", "t": "the time t outside a kernel",
    "erf": "erf()", "erfc": "erfc()", "atan": "atan()", "tan": "tan()",
    "sign": "sign()", "ceil": "ceil()", "round": "round()", "info": "info()",
    "deliver_spike": "deliver_spike()",
}


class Names(Protocol):
    """How the caller maps a NESTML name, and a call of one of its own functions, to lifgen text
    (None: not the caller's; the name is then a unit or refused)."""

    def name(self, name: str) -> str | None: ...

    def call(self, name: str, arguments: list[str], translate: Callable[[str], str]) -> str | None: ...


def tokens(text: str, source: str, field: str) -> list[tuple[str, str]]:
    """(kind, text) tokens of NESTML expression `text`."""
    out, position = [], 0
    text = text.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise ModelError(f"cannot read {text[position:position + 20]!r} in {text!r}",
                             source, field)
        kind = match.lastgroup or "op"
        out.append((kind, match.group(kind)))
        position = match.end()
        if len(out) > MAX_TOKENS:
            raise ModelError(f"the expression has more than {MAX_TOKENS} parts", source, field)
    return out


def lifgen_name(name: str) -> str:
    """The lifgen name of NESTML's `X'` (`X__d`, `X''` `X__d__d`) and `X$` (`X__dollar`)."""
    if name.endswith("$"):
        return name[:-1] + "__dollar"
    primes = len(name) - len(name.rstrip("'"))
    return name.rstrip("'") + "__d" * primes


def unit_spelling(name: str) -> str | None:
    """lifgen's spelling of a NESTML unit name (`GOhm` -> `Gohm`), or None if it is none."""
    spelled = name[:-3] + "ohm" if name.endswith("Ohm") else name
    return spelled if unit_symbol(spelled) is not None else None


class Translator:
    """Translates one expression; `names` maps the model's own names and calls."""

    def __init__(self, names: Names, source: str, field: str) -> None:
        self.names, self.source, self.field = names, source, field

    def translate(self, text: str) -> str:
        out = self._sequence(tokens(text, self.source, self.field), 0, text)
        if len(out) > MAX_OUTPUT:
            raise ModelError(f"the expression {text[:80]!r} is {len(out)} characters long once "
                             f"its internals and functions are written out; the limit is "
                             f"{MAX_OUTPUT}", self.source, self.field)
        return out

    def _error(self, what: str, text: str) -> ModelError:
        return ModelError(f"{what} has no lifgen meaning (in {text!r})", self.source, self.field)

    def _sequence(self, toks: list[tuple[str, str]], depth: int, text: str) -> str:
        if depth > MAX_NESTING:
            raise ModelError(f"the expression is nested more than {MAX_NESTING} levels deep",
                             self.source, self.field)
        out: list[str] = []
        i = 0
        while i < len(toks):
            kind, value = toks[i]
            following = toks[i + 1] if i + 1 < len(toks) else ("", "")
            if kind == "number":
                unit = unit_spelling(following[1]) if following[0] == "name" else None
                if unit is not None and self.names.name(following[1]) is None:
                    out.append(f"({value}*{unit})")
                    i += 2
                    continue
                out.append(value)
            elif kind == "name" and following == ("op", "(") \
                    and value not in ("and", "or", "not"):
                end = _closing(toks, i + 1, text, self.source, self.field)
                arguments = _split(toks[i + 2:end])
                out.append(self._call(value, arguments, depth, text))
                i = end + 1
                continue
            elif kind == "name":
                out.append(self._name(value, text))
            elif value in REFUSED:
                raise self._error(REFUSED[value], text)
            elif value == "(":
                end = _closing(toks, i, text, self.source, self.field)
                out.append("(" + self._sequence(toks[i + 1:end], depth + 1, text) + ")")
                i = end + 1
                continue
            else:
                out.append(value)
            i += 1
        return " ".join(out)

    def _name(self, name: str, text: str) -> str:
        if name in ("and", "or", "not"):
            return name
        mapped = self.names.name(name)
        if mapped is not None:
            return mapped
        if name == "e":
            return E
        unit = unit_spelling(name)
        if unit is not None:
            return unit
        if name in REFUSED_NAMES:
            raise self._error(REFUSED_NAMES[name], text)
        raise ModelError(f"{name!r} is not declared in the model (in {text!r})", self.source,
                         self.field)

    def _call(self, name: str, arguments: list[list[tuple[str, str]]], depth: int,
              text: str) -> str:
        if name in STEP_FUNCTIONS and not arguments:
            return "dt"
        raw = [" ".join(v for _, v in argument) for argument in arguments]
        own = self.names.call(name, raw, lambda t: self.translate_nested(t, depth))
        if own is not None:
            return own
        if name == "log10" and len(arguments) == 1:
            return f"(log({self._sequence(arguments[0], depth + 1, text)})/{LOG_10})"
        if name in FUNCTIONS:
            inner = ", ".join(self._sequence(a, depth + 1, text) for a in arguments)
            return f"{FUNCTIONS[name]}({inner})"
        if name in REFUSED_NAMES:
            raise self._error(REFUSED_NAMES[name], text)
        raise self._error(f"the call {name}()", text)

    def translate_nested(self, text: str, depth: int) -> str:
        return self._sequence(tokens(text, self.source, self.field), depth + 1, text)


def _closing(toks: list[tuple[str, str]], start: int, text: str, source: str,
             field: str) -> int:
    depth = 0
    for j in range(start, len(toks)):
        depth += {"(": 1, ")": -1}.get(toks[j][1], 0) if toks[j][0] == "op" else 0
        if depth == 0:
            return j
    raise ModelError(f"unbalanced parentheses in {text!r}", source, field)


def _split(toks: list[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    if not toks:
        return []
    parts: list[list[tuple[str, str]]] = [[]]
    depth = 0
    for token in toks:
        if token == ("op", ",") and depth == 0:
            parts.append([])
            continue
        depth += {"(": 1, ")": -1}.get(token[1], 0) if token[0] == "op" else 0
        parts[-1].append(token)
    return parts
