"""SymPy -> lifgen expression text for the few expressions the NESTML reader derives itself
(a kernel's rate and amplitude): floats at full precision, units by their names."""

from __future__ import annotations

import re

import sympy
from sympy.printing.str import StrPrinter

_UNIT = re.compile(r"\blg_unit_([A-Za-z]+)\b")


class _Printer(StrPrinter):
    def _print_Float(self, expr: sympy.Float) -> str:
        return repr(float(expr))


def text(expr: sympy.Basic) -> str:
    """`expr` as text lifgen's parser reads back to the same value."""
    return _UNIT.sub(r"\1", _Printer().doprint(expr))
