"""The CUDA source run on the CPU, compiled as C: every thread in turn, on NumPy arrays.

It checks the cuda target on machines without a GPU (lifgen's tests and CI): the generated
kernel text, the runner's marshalling and its copies all run; only CuPy's launch does not. It
counts what a GPU would do around the kernels (`Host.traffic`): bytes copied each way, device
allocations and their peak, so that tests can hold the host's work per run to a number.
"""

from __future__ import annotations

import functools
import time
import weakref
from dataclasses import dataclass
from typing import Any, Callable, TypeVar

import numpy as np

from ...codegen.build import build


THREAD_ORDERS = ("ascending", "reversed", "shuffled")


class DeviceArray(np.ndarray):
    """An array in the stand-in device's memory. It shows the interface of a GPU array, so that
    lifgen takes it as one (an input used in place, a Result of output="device")."""

    @property
    def __cuda_array_interface__(self) -> dict[str, Any]:
        return self.__array_interface__


@dataclass
class Traffic:
    """What a stand-in device did: bytes copied to and from it, allocations, the bytes
    allocated at once at the most, the last guard's count (`reserve`), and the entries of
    sparse projections' index by target that a network's delivery read (`index_reads`)."""

    uploaded: int = 0
    downloaded: int = 0
    allocations: int = 0
    live: int = 0
    start: int = 0  # the bytes allocated when counting started
    peak: int = 0  # the most bytes allocated at once beyond `start`
    reserved: int = 0
    launches: int = 0
    synchronizations: int = 0
    index_reads: int = 0  # a network's reads of its sparse projections' index by target
    seconds: float = 0.0  # spent in the device's own work (copies, fills, launches, checks)

    def reset(self) -> None:
        """Start counting afresh: `peak` counts from the bytes allocated now (`start`)."""
        live = self.live
        self.__init__()  # type: ignore[misc]
        self.live = self.start = live

    def _allocated(self, array: np.ndarray) -> DeviceArray:
        self.allocations += 1
        self.live += array.nbytes
        self.peak = max(self.peak, self.live - self.start)
        weakref.finalize(array, self._freed, array.nbytes)
        return array.view(DeviceArray)

    def _freed(self, nbytes: int) -> None:
        self.live -= nbytes


Operation = TypeVar("Operation", bound=Callable[..., Any])


def _device_work(operation: Operation) -> Operation:
    """Time `operation` as the device's work (a benchmark subtracts it to find the host's)."""
    @functools.wraps(operation)
    def timed(self: Any, *args: Any) -> Any:
        start = time.perf_counter()
        try:
            return operation(self, *args)
        finally:
            self.traffic.seconds += time.perf_counter() - start
    return timed  # type: ignore[return-value]


class Host:
    """A stand-in for a GPU: memory is NumPy's, a launch is a call of the C build (or nothing,
    with `launches=False`: a no-op device, to time the host's own work). A network's kernels
    run their threads in `order` ("reversed", "shuffled": a test's check that results do not
    depend on it, as on a GPU they may not). Its builds are quick ones (build's `quick`): they
    check the CUDA's numbers, which gcc's optimisation level does not change."""

    name = "host"
    id = 0  # the device's number, as a GPU's

    def __init__(self, launches: bool = True, order: str = "ascending") -> None:
        if order not in THREAD_ORDERS:
            raise ValueError(f"thread order {order!r}: one of {', '.join(THREAD_ORDERS)}")
        self.traffic = Traffic()
        self.base = 0  # the bytes reserved at the run's start
        self.launches = launches
        self.order = order

    def load(self, source: Any) -> tuple["HostModule", bool]:
        kernel = build(source.c_source, source.cdef, quick=True)
        return HostModule(kernel, self), kernel.from_cache

    def load_network(self, source: Any) -> tuple["HostNetworkModule", bool]:
        """A network's kernels built as C, and whether the build came from the cache."""
        kernel = build(source.text, source.cdef, quick=True)
        return HostNetworkModule(kernel, self), kernel.from_cache

    def reserve(self, nbytes: int) -> None:
        """Host memory is NumPy's: its own errors apply; the count is kept (traffic.reserved)."""
        self.traffic.reserved = self.base = nbytes

    def reserve_more(self, nbytes: int) -> None:
        """A run's later allocation of `nbytes` beside those reserved at its start (the count
        kept is the most at once)."""
        self.traffic.reserved = max(self.traffic.reserved, self.base + nbytes)

    def release(self) -> None:
        """Nothing is pooled: NumPy frees an array when it is no longer referenced."""

    def holds(self, array: Any) -> bool:
        """Whether `array` is in this device's memory."""
        return isinstance(array, DeviceArray)

    def adopt(self, value: Any, dtype: Any) -> np.ndarray:
        """A device array as a contiguous one of `dtype`: the same memory when it already is."""
        array = np.asarray(value)
        if array.dtype == dtype and array.flags.c_contiguous:
            return value
        return self.traffic._allocated(np.ascontiguousarray(array, dtype=dtype))

    @_device_work
    def upload(self, array: Any) -> np.ndarray:
        copy = self.traffic._allocated(np.array(array, copy=True, order="C"))
        self.traffic.uploaded += copy.nbytes
        return copy

    @_device_work
    def write(self, array: np.ndarray, start: int, values: np.ndarray) -> None:
        """Copy `values` into the device array `array` (flat) from element `start` on."""
        array.reshape(-1)[start:start + values.size] = values.reshape(-1)
        self.traffic.uploaded += values.nbytes

    @_device_work
    def empty(self, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        return self.traffic._allocated(np.empty(shape, dtype))

    @_device_work
    def fill(self, array: np.ndarray, value: float) -> None:
        array.fill(value)

    @_device_work
    def zeros(self, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        return self.traffic._allocated(np.zeros(shape, dtype))

    @_device_work
    def full(self, shape: tuple[int, ...], value: float, dtype: Any) -> np.ndarray:
        return self.traffic._allocated(np.full(shape, value, dtype))

    def address(self, array: np.ndarray) -> int:
        return int(array.ctypes.data)

    @_device_work
    def to_host(self, value: Any) -> np.ndarray:
        """A device array copied into a NumPy array."""
        copy = np.array(value, copy=True)
        self.traffic.downloaded += copy.nbytes
        return copy

    def synchronize(self) -> None:
        """Launches run to the end when made: only counted."""
        self.traffic.synchronizations += 1

    @_device_work
    def all_finite(self, array: np.ndarray) -> bool:
        """By two reductions (NaN and inf carry through min and max), without a temporary as
        large as the array: what a GPU's reduction needs."""
        return not array.size or bool(np.isfinite(array.min()) and np.isfinite(array.max()))

    @_device_work
    def download(self, array: np.ndarray, out: np.ndarray) -> None:
        out[...] = array
        self.traffic.downloaded += out.nbytes


class HostModule:
    """The C build of the CUDA source: a launch calls its loop over every thread in turn."""

    def __init__(self, kernel: Any, host: Host):
        self.kernel, self.host = kernel, host

    def launch(self, entry: str, threads: int, arguments: Any, *extra: Any) -> None:
        """Run `entry` over `threads` threads with the argument struct (a cffi pointer) and
        extra arguments (ints, or device arrays)."""
        self.host.traffic.launches += 1
        if self.host.launches:
            self._run(entry, arguments, *extra)

    @property
    def traffic(self) -> Traffic:  # (what _device_work adds its time to)
        return self.host.traffic

    @_device_work
    def _run(self, entry: str, arguments: Any, *extra: Any) -> None:
        ffi, lib = self.kernel.ffi, self.kernel.lib
        types = ffi.typeof(ffi.addressof(lib, entry)).args[1:]
        values = [ffi.cast(kind, x.ctypes.data) if isinstance(x, np.ndarray) else x
                  for kind, x in zip(types, extra)]
        getattr(lib, entry)(ffi.cast("lg_args *", arguments), *values)


class HostNetworkModule:
    """A network's kernels built as C: a launch runs every thread of every batch row in turn,
    in the module's order."""

    def __init__(self, kernel: Any, host: Host):
        self.kernel, self.host = kernel, host
        self.orders: dict[int, np.ndarray] = {}  # a launch's thread count -> its order
        self.launches = 0  # this module's kernels launched so far (what a GPU would launch)

    def launch(self, entry: str, grid: tuple[int, int], block: int, pointers: np.ndarray,
               *values: int) -> None:
        self.launches += 1
        self.host.traffic.launches += 1
        if not self.host.launches:
            return
        ffi, lib = self.kernel.ffi, self.kernel.lib
        if self.host.order == "ascending":
            lib.lg_host_order(ffi.NULL, 0)
        else:
            order = self._order(grid[0] * block)
            lib.lg_host_order(ffi.cast("int64_t *", order.ctypes.data), order.size)
        getattr(lib, entry)(ffi.cast("void *const *", pointers.ctypes.data), *values)
        self.host.traffic.index_reads += lib.lg_host_index_reads()

    def _order(self, threads: int) -> np.ndarray:
        """The order of a launch of `threads` threads (a grid's, rounded up to whole blocks:
        the kernel skips those past its count): reversed, or a fixed shuffle."""
        if threads not in self.orders:
            self.orders[threads] = (np.arange(threads - 1, -1, -1, dtype=np.int64)
                                    if self.host.order == "reversed" else
                                    np.random.default_rng(threads).permutation(threads))
        return self.orders[threads]
