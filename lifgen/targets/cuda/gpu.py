"""The GPU device of the cuda target: CuPy allocates, copies and launches; NVRTC compiles."""

from __future__ import annotations

from typing import Any

import numpy as np

from ...errors import InputError, LifgenError
from . import nvrtc

THREADS_PER_BLOCK = 256


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
            available = cupy.cuda.is_available()
        except Exception:  # a broken driver install raises from deep inside CuPy
            available = False
        if not available:
            raise LifgenError("target='cuda' found no CUDA GPU on this machine "
                              "(cupy.cuda.is_available() is False); use target='c'")
        self.cupy = cupy
        properties = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)
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

    def reserve(self, nbytes: int) -> None:
        """Refuse, before allocating, a run whose arrays do not fit in the GPU's free memory."""
        free, total = self.cupy.cuda.runtime.memGetInfo()
        free += self.cupy.get_default_memory_pool().free_bytes()
        if nbytes > free:
            raise InputError(f"this run needs {nbytes / 2**30:.2f} GiB on the GPU, which has "
                             f"{free / 2**30:.2f} GiB free of {total / 2**30:.2f} GiB; record fewer "
                             "neurons, use spikes='count' or 'events', or run fewer steps at once")

    def adopt(self, value: Any, dtype: Any) -> Any:
        """A GPU array (__cuda_array_interface__ or DLPack) as a contiguous CuPy array of
        `dtype`: the same memory when it already is one."""
        cupy = self.cupy
        array = cupy.asarray(value) if hasattr(value, "__cuda_array_interface__") \
            else cupy.from_dlpack(value)
        return cupy.ascontiguousarray(array, dtype=dtype)

    def upload(self, array: Any) -> Any:
        return self.cupy.asarray(array)

    def zeros(self, shape: tuple[int, ...], dtype: Any) -> Any:
        return self.cupy.zeros(shape, dtype)

    def full(self, shape: tuple[int, ...], value: float, dtype: Any) -> Any:
        return self.cupy.full(shape, value, dtype)

    def address(self, array: Any) -> int:
        return int(array.data.ptr)

    def download(self, array: Any, out: np.ndarray) -> None:
        array.get(out=out)


class GPUModule:
    """Loaded kernels: the argument struct goes to the device once per chunk, then launches."""

    def __init__(self, cupy: Any, cubin: bytes):
        self.cupy = cupy
        self.module = cupy.cuda.function.Module()
        self.module.load(cubin)
        self.functions: dict[str, Any] = {}

    def arguments(self, struct: bytes) -> Any:
        return self.cupy.asarray(np.frombuffer(struct, np.uint8))

    def launch(self, entry: str, threads: int, arguments: Any, *extra: Any) -> None:
        """Run kernel `entry` over `threads` threads with the struct and extra arguments (ints
        are int64, arrays are device arrays)."""
        if entry not in self.functions:
            self.functions[entry] = self.module.get_function(entry)
        if threads:
            values = tuple(np.int64(x) if isinstance(x, int) else x for x in extra)
            self.functions[entry]((-(-threads // THREADS_PER_BLOCK),), (THREADS_PER_BLOCK,),
                                  (arguments, *values))


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
