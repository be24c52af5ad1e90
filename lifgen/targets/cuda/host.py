"""The CUDA source run on the CPU, compiled as C: every thread in turn, on NumPy arrays.

It checks the cuda target on machines without a GPU (lifgen's tests and CI): the generated
kernel text, the runner's marshalling and its copies all run; only CuPy's launch does not.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...codegen.build import build


THREAD_ORDERS = ("ascending", "reversed", "shuffled")


class Host:
    """A stand-in for a GPU: memory is NumPy's, a launch is a call of the C build. A network's
    kernels run their threads in `order` ("reversed", "shuffled": a test's check that results
    do not depend on it, as on a GPU they may not)."""

    name = "host"

    def __init__(self, order: str = "ascending"):
        if order not in THREAD_ORDERS:
            raise ValueError(f"thread order {order!r}: one of {', '.join(THREAD_ORDERS)}")
        self.order = order

    def load(self, source: Any) -> tuple["HostModule", bool]:
        kernel = build(source.c_source, source.cdef)
        return HostModule(kernel), kernel.from_cache

    def load_network(self, source: Any) -> tuple["HostNetworkModule", bool]:
        """A network's kernels built as C, and whether the build came from the cache."""
        kernel = build(source.text, source.cdef)
        return HostNetworkModule(kernel, self.order), kernel.from_cache

    def reserve(self, nbytes: int) -> None:
        """Host memory is NumPy's: its own errors apply."""

    def upload(self, array: Any) -> np.ndarray:
        return np.array(array, copy=True, order="C")

    def zeros(self, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        return np.zeros(shape, dtype)

    def full(self, shape: tuple[int, ...], value: float, dtype: Any) -> np.ndarray:
        return np.full(shape, value, dtype)

    def address(self, array: np.ndarray) -> int:
        return int(array.ctypes.data)

    def download(self, array: np.ndarray, out: np.ndarray) -> None:
        out[...] = array


class HostModule:
    """The C build of the CUDA source: a launch calls its loop over every thread in turn."""

    def __init__(self, kernel: Any):
        self.kernel = kernel

    def arguments(self, struct: bytes) -> np.ndarray:
        return np.frombuffer(bytearray(struct), np.uint8)

    def launch(self, entry: str, threads: int, arguments: np.ndarray, *extra: Any) -> None:
        ffi, lib = self.kernel.ffi, self.kernel.lib
        types = ffi.typeof(ffi.addressof(lib, entry)).args[1:]
        values = [ffi.cast(kind, x.ctypes.data) if isinstance(x, np.ndarray) else x
                  for kind, x in zip(types, extra)]
        getattr(lib, entry)(ffi.cast("lg_args *", arguments.ctypes.data), *values)


class HostNetworkModule:
    """A network's kernels built as C: a launch runs every thread of every batch row in turn,
    in the module's order."""

    def __init__(self, kernel: Any, order: str = "ascending"):
        self.kernel = kernel
        self.order = order
        self.orders: dict[int, np.ndarray] = {}  # a launch's thread count -> its order
        self.launches = 0  # kernels launched so far (what a GPU would launch)

    def launch(self, entry: str, grid: tuple[int, int], block: int, pointers: np.ndarray,
               *values: int) -> None:
        ffi, lib = self.kernel.ffi, self.kernel.lib
        self.launches += 1
        if self.order == "ascending":
            lib.lg_host_order(ffi.NULL, 0)
        else:
            order = self._order(grid[0] * block)
            lib.lg_host_order(ffi.cast("int64_t *", order.ctypes.data), order.size)
        getattr(lib, entry)(ffi.cast("void *const *", pointers.ctypes.data), *values)

    def _order(self, threads: int) -> np.ndarray:
        """The order of a launch of `threads` threads (a grid's, rounded up to whole blocks:
        the kernel skips those past its count): reversed, or a fixed shuffle."""
        if threads not in self.orders:
            self.orders[threads] = (np.arange(threads - 1, -1, -1, dtype=np.int64)
                                    if self.order == "reversed" else
                                    np.random.default_rng(threads).permutation(threads))
        return self.orders[threads]
