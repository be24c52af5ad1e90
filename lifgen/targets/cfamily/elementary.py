"""lifgen's own elementary functions (templates/c/elementary.c.j2) compiled on their own, applied
to NumPy arrays: how their accuracy is tested and measured, with the flags of every kernel."""

from __future__ import annotations

import types

import numpy as np

from ...codegen.build import Kernel, build
from .kernel import HELPERS, environment
from .printer import BINARY_CALLS, CALL_USES, ELEMENTARY_CALLS

# The model functions of one argument that lifgen computes itself, by the helper of each; and
# those of two (pow).
ELEMENTARY = {name: CALL_USES[name][0] for name in ELEMENTARY_CALLS if name not in BINARY_CALLS}
BINARY = {name: CALL_USES[name][0] for name in BINARY_CALLS}
ARRAY_TYPES = {np.dtype(np.float64): ("double", ""), np.dtype(np.float32): ("float", "f")}


def elementary_source(inlined: bool = False) -> str:
    """The C source of every elementary function with a loop applying it to an array: compiled
    as vector functions, or `inlined` into the loops (as in a kernel with few call sites)."""
    helpers = {n for h in (*ELEMENTARY.values(), *BINARY.values()) for n in (h, *HELPERS[h])}
    k = types.SimpleNamespace(helpers=frozenset(helpers), inline="static inline",
                              constant="static const",
                              vector_functions=not inlined)
    return environment().get_template("c/elementary_arrays.c.j2").render(
        k=k, names=list(ELEMENTARY), binary=list(BINARY))


def elementary_library(fma: bool = False, inlined: bool = False) -> Kernel:
    """The compiled functions (with `fma`, compiled allowing contraction into fused
    multiply-adds, to show the results do not rely on either; `inlined`: see elementary_source)."""
    cdef = "\n".join([f"void lg_array_{name}{suffix}(const {t} *x, {t} *y, int64_t n);"
                      for name in ELEMENTARY for t, suffix in ARRAY_TYPES.values()]
                     + [f"void lg_array_{name}{suffix}(const {t} *, const {t} *, {t} *, int64_t);"
                        for name in BINARY for t, suffix in ARRAY_TYPES.values()])
    return build(elementary_source(inlined), cdef, fma=fma)


def evaluate(name: str, x: np.ndarray, fma: bool = False, inlined: bool = False,
             y: np.ndarray | None = None) -> np.ndarray:
    """lifgen's `name` (a key of ELEMENTARY) of every element of the float64 or float32 `x`, or
    of BINARY of the pairs of `x` and `y` (arrays of one shape and type)."""
    arguments = [np.ascontiguousarray(a) for a in (x, y) if a is not None]
    c_type, suffix = ARRAY_TYPES[arguments[0].dtype]
    kernel = elementary_library(fma, inlined)
    out = np.empty_like(arguments[0])
    getattr(kernel.lib, f"lg_array_{name}{suffix}")(
        *(kernel.ffi.cast(f"const {c_type} *", a.ctypes.data) for a in arguments),
        kernel.ffi.cast(f"{c_type} *", out.ctypes.data), out.size)
    return out
