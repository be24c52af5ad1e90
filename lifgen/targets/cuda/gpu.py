"""The GPU device of the cuda target: CuPy allocates, copies and launches; NVRTC compiles."""

from __future__ import annotations

from typing import Any

import numpy as np

from ...errors import InputError, LifgenError
from . import nvrtc

THREADS_PER_BLOCK = 256
REGISTERS_PER_SM = 65536  # every GPU since Kepler
THREADS_PER_SM = 2048  # Volta to Hopper (Turing's 1024 gives the same choice)
BLOCKS_PER_SM = 32
FUNC_MAX_THREADS_PER_BLOCK, FUNC_NUM_REGS = 0, 4  # CUDA's CUfunction_attribute


class GPU:
    """One CUDA GPU (CuPy's current device)."""

    name = "gpu"

    def __init__(self) -> None:
        try:
            import cupy
        except ImportError:
            raise LifgenError("target='cuda' needs CuPy to run kernels on the GPU: "
                              f"{nvrtc.INSTALL_HINT}") from None
        try:
            count = cupy.cuda.runtime.getDeviceCount()
        except Exception as error:  # no driver, or one older than CuPy's CUDA: say which
            raise LifgenError(f"target='cuda' found no usable CUDA GPU on this machine: "
                              f"{_reason(cupy, error)}; use target='c'") from None
        if not count:
            raise LifgenError("target='cuda' found no CUDA GPU on this machine (the driver "
                              f"{_driver(cupy)} lists none); use target='c'")
        self.cupy = cupy
        self.id = cupy.cuda.Device().id  # the GPU runs go to (CuPy's current device)
        properties = cupy.cuda.runtime.getDeviceProperties(self.id)
        self.arch = f"sm_{properties['major']}{properties['minor']}"

    def load(self, source: Any) -> tuple["GPUModule", bool]:
        """The kernels of `source`, loaded, and whether their cubin came from the cache."""
        cubin, _, cached = nvrtc.compile_cubin(source.c_source, self.arch,
                                               source.schedule.flush_denormals)
        return GPUModule(self.cupy, cubin), cached

    def load_network(self, source: Any) -> tuple["GPUNetworkModule", bool]:
        """A network's kernels, loaded, and whether their cubin came from the cache."""
        cubin, _, cached = nvrtc.compile_cubin(source.text, self.arch)
        return GPUNetworkModule(self.cupy, cubin), cached

    def release(self) -> None:
        """Give the memory pool's free blocks back to the driver (a library sharing the GPU,
        such as torch, would find it taken otherwise)."""
        self.cupy.get_default_memory_pool().free_all_blocks()

    def reserve(self, nbytes: int) -> None:
        """Refuse, before allocating, a run whose arrays do not fit in the GPU's free memory."""
        free, total = self.cupy.cuda.runtime.memGetInfo()
        free += self.cupy.get_default_memory_pool().free_bytes()
        if nbytes > free:
            raise InputError(f"this run needs {nbytes / 2**30:.2f} GiB on the GPU, which has "
                             f"{free / 2**30:.2f} GiB free of {total / 2**30:.2f} GiB; record fewer "
                             "neurons, use spikes='count' or 'events', or run fewer steps at once")

    def reserve_more(self, nbytes: int) -> None:
        """Refuse a run's later allocation of `nbytes` that does not fit."""
        self.reserve(nbytes)

    def adopt(self, value: Any, dtype: Any) -> Any:
        """A GPU array (__cuda_array_interface__ or DLPack) as a contiguous CuPy array of
        `dtype`: the same memory when it already is one."""
        cupy = self.cupy
        array = cupy.asarray(value) if hasattr(value, "__cuda_array_interface__") \
            else cupy.from_dlpack(value)
        return cupy.ascontiguousarray(array, dtype=dtype or array.dtype)

    def holds(self, array: Any) -> bool:
        """Whether `array` is in the GPU's memory (a CuPy array)."""
        return isinstance(array, self.cupy.ndarray)

    def upload(self, array: Any) -> Any:
        return self.cupy.asarray(array)

    def to_host(self, value: Any) -> np.ndarray:
        """A GPU array copied into a NumPy array."""
        return self.adopt(value, None).get()

    def synchronize(self) -> None:
        """Wait for the launches so far (a progress bar then shows steps done, not queued)."""
        self.cupy.cuda.get_current_stream().synchronize()

    def write(self, array: Any, start: int, values: np.ndarray) -> None:
        """Copy `values` into the device array `array` (flat) from element `start` on."""
        array.reshape(-1)[start:start + values.size].set(values.reshape(-1))

    def empty(self, shape: tuple[int, ...], dtype: Any) -> Any:
        return self.cupy.empty(shape, dtype)

    def fill(self, array: Any, value: float) -> None:
        array.fill(value)

    def zeros(self, shape: tuple[int, ...], dtype: Any) -> Any:
        return self.cupy.zeros(shape, dtype)

    def full(self, shape: tuple[int, ...], value: float, dtype: Any) -> Any:
        return self.cupy.full(shape, value, dtype)

    def all_finite(self, array: Any) -> bool:
        return bool(self.cupy.get_array_module(array).isfinite(array).all())

    def address(self, array: Any) -> int:
        return int(array.data.ptr)

    def download(self, array: Any, out: np.ndarray) -> None:
        array.get(out=out)


def _driver(cupy: Any) -> str:
    """The CUDA driver's version as text ("12.4"), or "(version unknown)"."""
    try:
        version = cupy.cuda.runtime.driverGetVersion()
    except Exception:
        return "(version unknown)"
    return f"{version // 1000}.{version % 1000 // 10}" if version else "(none installed)"


def _reason(cupy: Any, error: Exception) -> str:
    """Why CUDA gave no device: the driver's version against the runtime's, and its error."""
    try:
        runtime = cupy.cuda.runtime.runtimeGetVersion()
        wanted = f"{runtime // 1000}.{runtime % 1000 // 10}"
    except Exception:
        wanted = "unknown"
    return (f"{type(error).__name__}: {error} (driver {_driver(cupy)}, CuPy's CUDA runtime "
            f"{wanted}: the driver must be at least as new)")


def block_size(registers: int, limit: int = THREADS_PER_BLOCK) -> int:
    """Threads per block for a kernel of `registers` per thread: from `limit` down, halved
    while a smaller block keeps a tenth more threads resident on a multiprocessor (a float64
    Hodgkin-Huxley thread takes 140 registers: one block of 256 fits, seven of 64 do)."""
    per_thread = -(-max(registers, 1) // 8) * 8  # registers are allocated in units of 8

    def resident(size: int) -> int:
        blocks = min(REGISTERS_PER_SM // (per_thread * size), BLOCKS_PER_SM,
                     THREADS_PER_SM // size)
        return blocks * size
    best = max(32, min(limit, THREADS_PER_BLOCK))
    while best > 32 and resident(best // 2) >= 1.1 * resident(best):
        best //= 2
    return best


class GPUModule:
    """Loaded kernels, launched with the argument struct by value (its host address: the
    driver copies it into the launch)."""

    def __init__(self, cupy: Any, cubin: bytes):
        self.cupy = cupy
        self.module = cupy.cuda.function.Module()
        self.module.load(cubin)
        self.functions: dict[str, tuple[Any, int]] = {}

    def launch(self, entry: str, threads: int, arguments: int, *extra: Any) -> None:
        """Run kernel `entry` over `threads` threads with the struct at host address
        `arguments` and extra arguments (ints are int64, arrays are device arrays)."""
        if entry not in self.functions:
            function = self.module.get_function(entry)
            registers, limit = (int(self.cupy.cuda.driver.funcGetAttribute(which, function.ptr))
                                for which in (FUNC_NUM_REGS, FUNC_MAX_THREADS_PER_BLOCK))
            self.functions[entry] = (function, block_size(registers, limit))
        function, block = self.functions[entry]
        if threads:
            values = tuple(np.int64(x) if isinstance(x, int) else x for x in extra)
            function((-(-threads // block),), (block,),
                     (self.cupy.cuda.function.CPointer(arguments), *values))


class GPUNetworkModule:
    """A network's loaded kernels, launched over a grid of (blocks, batch rows)."""

    def __init__(self, cupy: Any, cubin: bytes):
        self.module = cupy.cuda.function.Module()
        self.module.load(cubin)
        self.functions: dict[str, Any] = {}

    def launch(self, entry: str, grid: tuple[int, int], block: int, pointers: Any,
               *values: int) -> None:
        if entry not in self.functions:
            self.functions[entry] = self.module.get_function(entry)
        step0, step, rows, seed = values
        self.functions[entry](grid, (block,), (pointers, np.int64(step0), np.int64(step),
                                               np.int64(rows), np.uint64(seed)))
