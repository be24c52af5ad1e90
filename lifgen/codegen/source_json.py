"""Generated kernel sources as JSON: the format of the source cache.

A pickle runs whatever code its bytes name when it is read, so a cached source planted by
someone else would run in the user's process. Reading this format builds only the lifgen
dataclasses and SymPy classes named in the tables below; anything else is refused.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from typing import Any, Mapping, Union

import mpmath
import sympy
from sympy.core.function import AppliedUndef
from sympy.functions.elementary.piecewise import ExprCondPair

from ..ir.functions import FUNCTIONS

# SymPy's atoms without arguments, stored by name (sympy.S.<name>)
SINGLETONS = ("Pi", "Exp1", "Infinity", "NegativeInfinity", "NaN", "ComplexInfinity",
              "ImaginaryUnit", "true", "false", "EulerGamma")
SYMPY_CLASSES = {cls.__name__: cls for cls in (
    sympy.Add, sympy.Mul, sympy.Pow, sympy.Tuple, sympy.Derivative, sympy.Piecewise, ExprCondPair,
    sympy.Eq, sympy.Ne, sympy.Gt, sympy.Ge, sympy.Lt, sympy.Le, sympy.And, sympy.Or, sympy.Not,
    sympy.Min, sympy.Max, sympy.Abs, sympy.sign, sympy.Heaviside, sympy.floor, sympy.ceiling,
    sympy.exp, sympy.log, sympy.sin, sympy.cos, sympy.tan, sympy.sinh, sympy.cosh, sympy.tanh,
    sympy.asin, sympy.acos, sympy.atan, sympy.erf,
    *(f.sympy for f in FUNCTIONS.values() if isinstance(f.sympy, type)))}


# what _encode writes: JSON's values
JSON = Union[None, bool, int, float, str, list["JSON"], dict[str, "JSON"]]


class SourceFormatError(ValueError):
    """A cached source that is not one this format writes (damaged, planted or from elsewhere)."""


@functools.lru_cache(maxsize=None)
def dataclass_table() -> dict[str, type]:
    """The dataclasses a cached source may hold, by name."""
    from .abi import Field, KernelABI
    from ..numerics.discretize import StepMap
    from ..ir.model import Model, Quantity, Synapse
    from .options import Semantics, Schedule, Variant
    from .source import KernelSource
    from ..ir.written import Call, Name, Neg, Not, Num, Op
    classes = (KernelSource, StepMap, Model, Quantity, Synapse, Semantics, Schedule, Variant,
               KernelABI, Field, Num, Name, Op, Neg, Not, Call)
    return {cls.__name__: cls for cls in classes}


def dumps(value: object) -> bytes:
    """`value` as JSON; SourceFormatError when it holds something the format cannot say."""
    return json.dumps(_encode(value), separators=(",", ":")).encode()


def loads(payload: bytes) -> object:
    """The value `dumps` wrote; SourceFormatError for anything else."""
    try:
        return _decode(json.loads(payload))
    except (ValueError, TypeError, KeyError, RecursionError, AttributeError) as error:
        raise SourceFormatError(f"not a cached source: {error}") from None


def _encode(value: object) -> JSON:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, tuple):
        return [_encode(v) for v in value]
    if isinstance(value, list):  # a model file's own arrays (Model.document), kept as lists
        return {"list": [_encode(v) for v in value]}
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):  # its tables
        return {"table": [[k, _encode(v)] for k, v in value.items()]}
    if dataclasses.is_dataclass(value) and dataclass_table().get(type(value).__name__) is type(value):
        return {"dataclass": type(value).__name__,
                "fields": {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}}
    if isinstance(value, sympy.Basic):
        return _encode_sympy(value)
    raise SourceFormatError(f"cannot store a {type(value).__name__}")


def _encode_sympy(expr: sympy.Basic) -> JSON:
    if isinstance(expr, sympy.Symbol) and type(expr) is sympy.Symbol:
        return {"symbol": expr.name, "assumptions": expr.assumptions0}
    if isinstance(expr, sympy.Integer):
        return {"integer": str(expr.p)}
    if isinstance(expr, sympy.Rational):
        return {"rational": [str(expr.p), str(expr.q)]}
    if isinstance(expr, sympy.Float):
        sign, mantissa, exponent, bits = expr._mpf_
        return {"float": [sign, str(mantissa), exponent, bits], "precision": expr._prec}
    name = type(expr).__name__
    if name in SINGLETONS and getattr(sympy.S, name) is expr:
        return {"singleton": name}
    if isinstance(expr, AppliedUndef):
        return {"function": expr.func.__name__, "args": [_encode(a) for a in expr.args]}
    if SYMPY_CLASSES.get(name) is type(expr):
        return {"sympy": name, "args": [_encode(a) for a in expr.args]}
    raise SourceFormatError(f"cannot store SymPy's {name}")


def _decode(data: Any) -> object:  # parsed JSON of any shape: checked as it is read
    if data is None or isinstance(data, (bool, int, float, str)):
        return data
    if isinstance(data, list):
        return tuple(_decode(v) for v in data)
    if "dataclass" in data:
        return _decode_dataclass(data["dataclass"], data["fields"])
    if "list" in data:
        return [_decode(v) for v in data["list"]]
    if "table" in data:
        return {str(k): _decode(v) for k, v in data["table"]}
    if "symbol" in data:
        assumptions = {str(k): bool(v) for k, v in data["assumptions"].items()}
        return sympy.Symbol(str(data["symbol"]), **assumptions)
    if "integer" in data:
        return sympy.Integer(int(data["integer"]))
    if "rational" in data:
        p, q = data["rational"]
        return sympy.Rational(int(p), int(q))
    if "float" in data:
        sign, mantissa, exponent, bits = data["float"]
        mpf = mpmath.mpf((int(sign), int(mantissa), int(exponent), int(bits)))
        return sympy.Float(mpf, precision=int(data["precision"]))
    if "singleton" in data:
        if data["singleton"] not in SINGLETONS:
            raise SourceFormatError(f"unknown constant {data['singleton']!r}")
        return getattr(sympy.S, data["singleton"])
    args = [_decode(a) for a in data["args"]]
    if "function" in data:
        return sympy.Function(str(data["function"]))(*args)
    cls = SYMPY_CLASSES.get(data["sympy"])
    if cls is None:
        raise SourceFormatError(f"unknown SymPy class {data['sympy']!r}")
    try:
        return cls(*args, evaluate=False)  # exactly the tree that was stored
    except TypeError:
        return cls(*args)


def _decode_dataclass(name: str, fields: Mapping[str, Any]) -> object:
    """A stored dataclass, made as a pickle makes it (its checks ran when it was first built)."""
    cls = dataclass_table().get(name)
    if cls is None:
        raise SourceFormatError(f"unknown type {name!r}")
    names = {f.name for f in dataclasses.fields(cls)}
    if set(fields) != names:
        raise SourceFormatError(f"{name} with fields {sorted(fields)}")
    value: object = object.__new__(cls)
    for key, item in fields.items():
        object.__setattr__(value, key, _decode(item))
    return value
