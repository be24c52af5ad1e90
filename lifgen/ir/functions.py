"""The functions a model may call: one record each, with its arity, SymPy form, C form, NumPy
form and dimension rule. The parser, the written-tree printers and evaluators, the analytic
solution and the dimension check all read this table. A leaf module."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence, SupportsInt

import functools

import numpy as np
import numpy.typing as npt
import sympy
from sympy.codegen.cfunctions import expm1, log1p


class exprel(sympy.Function):
    """(exp(x) - 1)/x, equal to 1 at x = 0: finite where the quotient is 0/0 (as in Brian2)."""

    @classmethod
    def eval(cls, x: sympy.Expr) -> sympy.Integer | None:
        if x.is_zero:
            return sympy.Integer(1)
        return None  # unevaluated

    def _eval_rewrite_as_exp(self, x: sympy.Expr, **kwargs: Any) -> sympy.Expr:
        return (sympy.exp(x) - 1) / x

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        x = self.args[0]
        return (sympy.exp(x) * (x - 1) + 1) / x**2

    def _eval_evalf(self, prec: int) -> sympy.Float | None:
        import mpmath

        x = self.args[0]._eval_evalf(prec)
        if x is None or not x.is_Number:
            return None
        if x.is_zero:
            return sympy.Float(1, precision=prec)
        with mpmath.workprec(prec):
            value = x._to_mpmath(prec)
            return sympy.Float(mpmath.expm1(value) / value, precision=prec)


class heaviside(sympy.Function):
    """The unit step: 1 where x > 0, else 0 (at 0 too, as Brian2's int(x > 0)); its argument
    may have any dimension, the result is a number."""

    @classmethod
    def eval(cls, x: sympy.Expr) -> sympy.Integer | None:
        if x.is_extended_positive:
            return sympy.Integer(1)
        if x.is_extended_nonpositive:
            return sympy.Integer(0)
        return None  # unevaluated

    def fdiff(self, argindex: int = 1) -> sympy.Integer:
        return sympy.Integer(0)  # almost everywhere: what a Jacobian or a stability check needs


def _exprel_numpy(x: npt.ArrayLike) -> npt.NDArray[np.float64]:
    return np.where(x == 0, 1.0, np.expm1(x) / np.where(x == 0, 1, x))


def _inverse_exprel_numpy(x: npt.ArrayLike) -> npt.NDArray[np.float64]:
    nonzero = np.where(np.asarray(x) == 0, 1.0, x)
    return np.where(np.asarray(x) == 0, 1.0, nonzero / np.expm1(nonzero))


class propagator(sympy.Function):
    """Entry (i, j) of exp(M*h), for the n-by-n matrix M given after (i, j, n, h) as pairs (k,
    M_k) of its nonzero entries, k = row*n + column: the exact propagator of a linear system,
    computed numerically (scaling and squaring) once per neuron, where a closed form is costly
    or singular (coupled states, poles of higher order). Pairs, not all n*n entries: each entry
    that a step reads is one call carrying M, and a ring of 32 states has 68 nonzero entries of
    1,156 (46 s to compile with every entry written out, 1.2 GB)."""

    def _eval_evalf(self, prec: int) -> sympy.Float | None:
        import mpmath

        i, j, n, h, *pairs = self.args
        values = [a._eval_evalf(prec) if not a.is_Number else a for a in (h, *pairs[1::2])]
        if any(v is None or not v.is_Number for v in values):
            return None
        with mpmath.workprec(prec):
            h_value, *m = (v._to_mpmath(prec) for v in values)
            matrix = mpmath.matrix(int(n), int(n))
            for k, value in zip(pairs[0::2], m):
                matrix[int(k) // int(n), int(k) % int(n)] = value * h_value
            return sympy.Float(mpmath.expm(matrix)[int(i), int(j)], precision=prec)


def dense_entries(n: int, pairs: Sequence[Any], zero: Any, index: Callable[[Any], int] = int
                  ) -> list[Any]:
    """M's n*n entries, row by row, from a propagator call's pairs (k, M_k) of nonzero entries
    (`index` reads k as an int; `zero` fills the rest)."""
    entries = [zero] * (n * n)
    for k, value in zip(pairs[0::2], pairs[1::2]):
        entries[index(k)] = value
    return entries


def _printed_index(text: str) -> int:
    """An index printed as a C number ("3", "3.0", "3.0f")."""
    return int(float(text.rstrip("fF")))


PADE_13 = (64764752532480000, 32382376266240000, 7771770303897600, 1187353796428800,
           129060195264000, 10559470521600, 670442572800, 33522128640, 1323241920, 40840800,
           960960, 16380, 182, 1)  # Higham (2005), the [13/13] Pade approximant of exp
THETA_13 = 5.371920351148152  # the largest 1-norm for which it is accurate to double precision


def expm(matrix: np.ndarray) -> np.ndarray:
    """exp of a square matrix in double precision: scaling, [13/13] Pade, squaring."""
    a = np.asarray(matrix, dtype=float)
    norm = np.abs(a).sum(axis=0).max() if a.size else 0.0
    squarings = max(0, int(np.ceil(np.log2(norm / THETA_13)))) if norm > THETA_13 else 0
    a = a / 2.0**squarings
    b, identity = PADE_13, np.eye(len(a))
    a2 = a @ a
    a4 = a2 @ a2
    a6 = a4 @ a2
    u = a @ (a6 @ (b[13] * a6 + b[11] * a4 + b[9] * a2)
             + b[7] * a6 + b[5] * a4 + b[3] * a2 + b[1] * identity)
    v = a6 @ (b[12] * a6 + b[10] * a4 + b[8] * a2) + b[6] * a6 + b[4] * a4 + b[2] * a2 \
        + b[0] * identity
    result = np.linalg.solve(v - u, v + u)
    for _ in range(squarings):
        result = result @ result
    return result


def _propagator_numpy(i: SupportsInt, j: SupportsInt, n: SupportsInt, h: npt.ArrayLike,
                      *pairs: npt.ArrayLike) -> npt.NDArray[np.float64] | float:
    """The propagator entry for arrays of arguments (one matrix exponential per distinct set)."""
    entries = dense_entries(int(n), pairs, 0.0, lambda k: int(np.asarray(k).item()))
    arguments = np.broadcast_arrays(*(np.asarray(x, dtype=float) for x in (h, *entries)))
    flat = np.stack([x.ravel() for x in arguments], axis=1)
    size, row, column = int(n), int(i), int(j)
    out = np.empty(len(flat))
    for k, values in enumerate(flat):
        out[k] = _expm_of(size, tuple(values.tolist()))[row, column]
    return out.reshape(arguments[0].shape) if arguments[0].ndim else out[0]


@functools.lru_cache(maxsize=256)
def _expm_of(size: int, values: tuple[float, ...]) -> np.ndarray:
    """exp(h M) for values (h, M's entries): every entry of one step's propagator, and every
    step of a run with the same h and coefficients, shares one computation."""
    return expm(values[0] * np.array(values[1:]).reshape(size, size))


@dataclass(frozen=True)
class Function:
    """One function of model files.

    `c` is the C99 function for double (its float variant adds "f": expf, lg_expf), or a format
    string of the arguments. exp, expm1, log, log1p, tanh, sinh, cosh, exprel, sin, cos and pow are
    lifgen's own (templates/c/elementary.c.j2): branch-free, so that loops calling them
    vectorize, and the same bits on every target. `dimension` is "number" (arguments and
    result dimensionless), "same" (the result has the dimension its arguments share), "step"
    (any argument, a dimensionless result), "choice" (a condition, then two values of one
    dimension) or "power" (checked as a power).
    """

    name: str
    arity: int
    sympy: Callable
    c: str | Callable[[list[str]], str]
    numpy: Callable
    dimension: str
    public: bool = True  # callable in model files (lifgen's own are not)


FUNCTIONS: dict[str, Function] = {f.name: f for f in (
    Function("exp", 1, sympy.exp, "lg_exp", np.exp, "number"),
    Function("expm1", 1, expm1, "lg_expm1", np.expm1, "number"),
    Function("log", 1, sympy.log, "lg_log", np.log, "number"),
    Function("log1p", 1, log1p, "lg_log1p", np.log1p, "number"),
    Function("sqrt", 1, sympy.sqrt, "sqrt", np.sqrt, "power"),
    Function("sin", 1, sympy.sin, "lg_sin", np.sin, "number"),
    Function("cos", 1, sympy.cos, "lg_cos", np.cos, "number"),
    Function("tanh", 1, sympy.tanh, "lg_tanh", np.tanh, "number"),
    Function("cosh", 1, sympy.cosh, "lg_cosh", np.cosh, "number"),  # Morris-Lecar's tau_w
    Function("sinh", 1, sympy.sinh, "lg_sinh", np.sinh, "number"),
    Function("abs", 1, sympy.Abs, "fabs", np.abs, "same"),
    Function("min", 2, sympy.Min, "lg_min({0}, {1})", np.minimum, "same"),
    Function("max", 2, sympy.Max, "lg_max({0}, {1})", np.maximum, "same"),
    Function("clip", 3, lambda x, low, high: sympy.Min(sympy.Max(x, low), high),
             "lg_min(lg_max({0}, {1}), {2})",
             lambda x, low, high: np.minimum(np.maximum(x, low), high), "same"),
    Function("pow", 2, sympy.Pow, "lg_pow", np.power, "power"),
    Function("exprel", 1, exprel, "lg_exprel", _exprel_numpy, "number"),
    # 1/exprel(x) = x/(e^x - 1) as one function (codegen/lower.py writes it so): one division
    Function("inverse_exprel", 1, lambda x: 1 / exprel(x), "lg_inverse_exprel",
             _inverse_exprel_numpy, "number", public=False),
    Function("floor", 1, sympy.floor, "floor", np.floor, "number"),
    Function("heaviside", 1, heaviside, "((lg_real)(({0}) > 0))",
             lambda x: np.where(np.asarray(x) > 0, 1.0, 0.0), "step"),
    # where(V > V_a, g_high, g_low): the first argument is a condition, the others one dimension
    Function("where", 3, lambda c, a, b: sympy.Piecewise((a, c), (b, True)),
             "(({0}) ? ({1}) : ({2}))", np.where, "choice"),
    Function("propagator", 0, propagator,
             lambda a: f"lg_propagator({', '.join(a[:4])}, (const double[]){{"
                       f"{', '.join(dense_entries(_printed_index(a[2]), a[4:], '0.0', _printed_index))}}})",
             _propagator_numpy, "number", public=False),
)}

# SymPy classes whose argument may have any dimension and whose value is a number (heaviside)
ANY_ARGUMENT: tuple[type[sympy.Basic], ...] = tuple(
    f.sympy for f in FUNCTIONS.values() if f.dimension == "step" and isinstance(f.sympy, type))
# SymPy classes whose value has the dimension of their arguments (abs, min, max)
SAME_DIMENSION: tuple[type[sympy.Basic], ...] = tuple(
    f.sympy for f in FUNCTIONS.values() if f.dimension == "same" and isinstance(f.sympy, type))
