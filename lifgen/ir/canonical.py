"""Models and expressions as one exact text, for content hashes: every float exactly (as hex),
every SymPy node by its class, symbols by name. `repr` prints SymPy's Floats to 15 digits (two
models differing beyond them shared a kernel), and `srepr` prints a Symbol's assumptions, which
differ after pickling: neither is a key."""

from __future__ import annotations

import dataclasses
from typing import Iterable, Iterator

import sympy
from sympy.core.function import AppliedUndef


def canonical_text(value: object) -> str:
    """The exact text of a model's value: numbers, text, tuples, tables, dataclasses (all their
    fields) and SymPy expressions."""
    return "".join(_walk(value))


def _walk(value: object) -> Iterator[str]:
    if isinstance(value, sympy.Basic):
        yield from _walk_sympy(value)
    elif isinstance(value, float):
        yield f"f{value.hex()}"
    elif value is None or isinstance(value, (bool, int, str)):
        yield repr(value)
    elif isinstance(value, (tuple, list)):
        yield from _walk_items("(", value)
    elif isinstance(value, dict):
        yield from _walk_items("{", [(k, value[k]) for k in sorted(value, key=repr)])
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        yield type(value).__name__
        yield from _walk_items("<", [(f.name, getattr(value, f.name))
                                     for f in dataclasses.fields(value)])
    elif hasattr(value, "tobytes") and hasattr(value, "dtype"):  # a NumPy array or number
        yield f"A{value.dtype.str}{getattr(value, 'shape', ())}{value.tobytes().hex()}"
    else:
        raise TypeError(f"no canonical text for a {type(value).__name__}")


def _walk_items(opening: str, items: Iterable[object]) -> Iterator[str]:
    yield opening
    for item in items:
        yield from _walk(item)
        yield ","
    yield ")"


def _walk_sympy(expr: sympy.Basic) -> Iterator[str]:
    if isinstance(expr, sympy.Symbol):
        yield f"S{expr.name!r}"
    elif isinstance(expr, sympy.Integer):
        yield f"I{expr.p}"
    elif isinstance(expr, sympy.Rational):
        yield f"Q{expr.p}/{expr.q}"
    elif isinstance(expr, sympy.Float):  # its binary value and precision, exactly
        sign, mantissa, exponent, _ = expr._mpf_
        yield f"F{sign},{mantissa},{exponent},{expr._prec}"
    elif isinstance(expr, AppliedUndef):
        yield f"U{expr.func.__name__!r}"
        yield from _walk_items("(", expr.args)
    else:
        yield type(expr).__name__
        yield from _walk_items("(", expr.args)
