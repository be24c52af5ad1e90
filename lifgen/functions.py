"""The functions a model may call: one record each, with its arity, SymPy form, C form, NumPy
form and dimension rule. The parser, the written-tree printers and evaluators, the analytic
solution and the dimension check all read this table. A leaf module."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import sympy
from sympy.codegen.cfunctions import expm1, log1p


class exprel(sympy.Function):
    """(exp(x) - 1)/x, equal to 1 at x = 0: finite where the quotient is 0/0 (as in Brian2)."""

    @classmethod
    def eval(cls, x):
        if x.is_zero:
            return sympy.Integer(1)

    def _eval_rewrite_as_exp(self, x, **kwargs):
        return (sympy.exp(x) - 1) / x

    def fdiff(self, argindex=1):
        x = self.args[0]
        return (sympy.exp(x) * (x - 1) + 1) / x**2

    def _eval_evalf(self, prec):
        import mpmath

        x = self.args[0]._eval_evalf(prec)
        if x is None or not x.is_Number:
            return None
        if x.is_zero:
            return sympy.Float(1, precision=prec)
        with mpmath.workprec(prec):
            value = x._to_mpmath(prec)
            return sympy.Float(mpmath.expm1(value) / value, precision=prec)


def _exprel_numpy(x):
    return np.where(x == 0, 1.0, np.expm1(x) / np.where(x == 0, 1, x))


@dataclass(frozen=True)
class Function:
    """One function of model files.

    `c` is the C99 function for double (its float variant adds "f", except lifgen's own lg_
    helpers), or a format string of the arguments. `dimension` is "number" (arguments and
    result dimensionless), "same" (the result has the dimension its arguments share) or
    "power" (checked as a power).
    """

    name: str
    arity: int
    sympy: Callable
    c: str
    numpy: Callable
    dimension: str


FUNCTIONS: dict[str, Function] = {f.name: f for f in (
    Function("exp", 1, sympy.exp, "exp", np.exp, "number"),
    Function("expm1", 1, expm1, "expm1", np.expm1, "number"),
    Function("log", 1, sympy.log, "log", np.log, "number"),
    Function("log1p", 1, log1p, "log1p", np.log1p, "number"),
    Function("sqrt", 1, sympy.sqrt, "sqrt", np.sqrt, "power"),
    Function("sin", 1, sympy.sin, "sin", np.sin, "number"),
    Function("cos", 1, sympy.cos, "cos", np.cos, "number"),
    Function("tanh", 1, sympy.tanh, "tanh", np.tanh, "number"),
    Function("abs", 1, sympy.Abs, "fabs", np.abs, "same"),
    Function("min", 2, sympy.Min, "lg_min", np.minimum, "same"),
    Function("max", 2, sympy.Max, "lg_max", np.maximum, "same"),
    Function("clip", 3, lambda x, low, high: sympy.Min(sympy.Max(x, low), high),
             "lg_min(lg_max({0}, {1}), {2})",
             lambda x, low, high: np.minimum(np.maximum(x, low), high), "same"),
    Function("pow", 2, sympy.Pow, "pow", np.power, "power"),
    Function("exprel", 1, exprel, "lg_exprel", _exprel_numpy, "number"),
    Function("floor", 1, sympy.floor, "floor", np.floor, "number"),
)}

# SymPy classes whose value has the dimension of their arguments (abs, min, max)
SAME_DIMENSION = tuple(f.sympy for f in FUNCTIONS.values()
                       if f.dimension == "same" and isinstance(f.sympy, type))
