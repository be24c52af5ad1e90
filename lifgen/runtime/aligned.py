"""Arrays whose data start on a 64-byte boundary (a cache line, one AVX-512 vector), for the
buffers a program's vector loops read and write. NumPy starts a large array 16 bytes past a
line (glibc's mmap header), so every 64-byte load and store of it straddled two lines, and
a convolution's add into the ring could not take the value of the store before it:
aligned, the NIR paper's CNN ran 1.04x and Brette's CUBA network 1.05x faster (same bits)."""

from __future__ import annotations

import math
from typing import Any, Callable

import cffi
import numpy as np

ALIGNMENT = 64
# Arrays under this many bytes are left where NumPy places them: aligning costs 2 us an array,
# more than a small array's loops lose (the Braille RNN's run at batch 1, 12-, 38- and
# 7-neuron layers, took 8% longer with them all aligned)
ALIGNED_FROM = 4096
_FFI = cffi.FFI()  # (its address of an array costs a third of ndarray.ctypes.data's)


def _made(allocate: Callable[..., np.ndarray], shape: Any, dtype: Any) -> np.ndarray:
    """An array of `allocate` (np.empty or np.zeros), its data aligned (from ALIGNED_FROM
    bytes on)."""
    dtype = np.dtype(dtype)
    shape = (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(shape)
    size = math.prod(shape) * dtype.itemsize
    if size < ALIGNED_FROM:
        return allocate(shape, dtype)
    raw = allocate(size + ALIGNMENT, np.uint8)
    start = -int(_FFI.cast("uintptr_t", _FFI.from_buffer(raw))) % ALIGNMENT
    return raw[start:start + size].view(dtype).reshape(shape)


def empty(shape: Any, dtype: Any) -> np.ndarray:
    """np.empty(shape, dtype), aligned."""
    return _made(np.empty, shape, dtype)


def zeros(shape: Any, dtype: Any) -> np.ndarray:
    """np.zeros(shape, dtype), aligned."""
    return _made(np.zeros, shape, dtype)


def copy(array: np.ndarray, dtype: Any = None) -> np.ndarray:
    """A C-contiguous copy of `array` (as `dtype`), aligned."""
    out = empty(np.shape(array), array.dtype if dtype is None else dtype)
    out[...] = array
    return out


def aligned(array: np.ndarray, dtype: Any = None) -> np.ndarray:
    """`array` itself where it is C-contiguous, of `dtype` and aligned (or small: under
    ALIGNED_FROM bytes), else an aligned copy."""
    if (dtype is None or array.dtype == dtype) and array.flags.c_contiguous and (
            array.nbytes < ALIGNED_FROM or int(_FFI.cast("uintptr_t", _FFI.from_buffer(
                array, require_writable=False))) % ALIGNMENT == 0):
        return array
    return copy(array, dtype)
