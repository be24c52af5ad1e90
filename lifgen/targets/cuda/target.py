"""The cuda target's three stages: render (CUDA C), build (NVRTC, cached; and the C prologue),
run (arrays copied to the device, marshalled into the kernel's argument struct by field name)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...codegen.build import Kernel
from ...numerics.discretize import StepMap
from ...codegen.options import Semantics, Schedule, Variant
from ...codegen.run_arrays import RunArrays
from ...codegen.source import KernelSource
from ..cfamily.kernel import KERNEL_FUNCTION
from ..c.target import TARGET as C_TARGET
from ..c.target import Runner as CRunner
from ...codegen.network import NetworkProgram
from ...errors import InputError
from .network import CudaNetworkSource, render_network
from .render import EVENT_SEGMENT, render


@dataclass(frozen=True)
class CudaKernel:
    """A loaded GPU kernel, and the C prologue that fills its parameters and constants."""

    prologue: Kernel
    module: Any  # the device's loaded kernels: arguments(struct), launch(entry, threads, ...)
    from_cache: bool


MAX_GRID_ROWS = 65535  # a grid's second dimension: a network's batch rows


class CudaTarget:
    """CUDA kernels compiled with NVRTC, one GPU thread per neuron, run through CuPy."""

    gathers = True  # its networks' events gathered by their targets (NetworkPlan.gather)

    def __init__(self, device: Any = None, name: str = "cuda"):
        self._device = device  # found on the first build: rendering needs no GPU
        self.name = name
        self.language = "CUDA"

    @property
    def device(self) -> Any:
        if self._device is None:
            from .gpu import GPU
            self._device = GPU()
        return self._device

    def render(self, step_map: StepMap, semantics: Semantics, schedule: Schedule,
               variant: Variant) -> KernelSource:
        return render(step_map, semantics, schedule, variant)

    def build(self, source: KernelSource) -> CudaKernel:
        device = self.device
        assert source.prologue is not None
        prologue = C_TARGET.build(source.prologue)
        module, from_cache = device.load(source)
        return CudaKernel(prologue, module, from_cache and prologue.from_cache)

    def runner(self, source: KernelSource, kernel: CudaKernel, arrays: RunArrays) -> "Runner":
        return Runner(self.device, source, kernel, arrays)

    def render_network(self, program: NetworkProgram) -> CudaNetworkSource:
        return render_network(program)

    def build_network(self, source: CudaNetworkSource,
                      schedule: Schedule = Schedule()) -> CudaKernel:
        """The kernels compiled by NVRTC and the prologue (the neurons' constants) by the C
        compiler with `schedule`'s flags."""
        device = self.device
        prologue = C_TARGET.build_network(source.prologue, schedule)
        module, from_cache = device.load_network(source)
        return CudaKernel(prologue, module, from_cache and prologue.from_cache)

    def call_network(self, kernel: CudaKernel, source: CudaNetworkSource,
                     buffers: list[np.ndarray], step0: int, steps: int, rows: int,
                     seed: int) -> None:
        """Steps step0 .. step0 + steps of every batch row over `buffers` (the program's, in its
        order): the constants by the C program's prologue on the host, then the buffers to the
        device, each step's kernels in order, and what they wrote back."""
        C_TARGET.call_network(kernel.prologue, source.prologue, buffers, step0, 0, rows, seed)
        device = self.device
        if rows > MAX_GRID_ROWS and source.kernels:
            raise InputError(f"target {self.name!r} runs at most {MAX_GRID_ROWS} batch rows of "
                             f"a network at once, got {rows}")
        program = source.program
        device.reserve(sum(a.nbytes * (rows if b.scratch else 1)
                           for b, a in zip(program.buffers, buffers)))
        copies = [device.zeros((rows * b.scratch,), a.dtype) if b.scratch else device.upload(a)
                  for b, a in zip(program.buffers, buffers)]
        copies.append(device.zeros((max(source.carried * rows, 1),), np.int64))
        pointers = device.upload(np.array([device.address(c) for c in copies], np.uint64))
        launches = [(k.entry, *k.launch(rows)) for k in source.kernels]
        for step in range(steps):
            for entry, grid, block in launches:
                kernel.module.launch(entry, grid, block, pointers, step0, step, rows, seed)
        for b, copy, array in zip(program.buffers, copies, buffers):
            if b.name in source.written and not b.scratch:
                device.download(copy, array)


class Runner(CRunner):
    """Copies a run's arrays to the device, launches one thread per neuron and batch row for
    each chunk of steps, and copies the results back."""

    def __init__(self, device: Any, source: KernelSource, kernel: CudaKernel, arrays: RunArrays):
        assert source.prologue is not None
        # the prologue fills arrays.work on the host; it reads parameters only (inputs may be
        # GPU arrays, which a host kernel cannot take)
        CRunner(source.prologue, kernel.prologue, dataclasses.replace(arrays, inputs={})).advance(
            0, 0, None)
        self.device, self.module = device, kernel.module
        device.reserve(_device_bytes(arrays))
        self.results: list[tuple[Any, np.ndarray]] = []  # (device array, host array it fills)
        self.fresh = _fresh_outputs(arrays)
        self._marshal(kernel.prologue.ffi, arrays)
        self.events = None  # the device buffer of a chunk's spikes, when collected as events

    def _pointer(self, array: np.ndarray | None, kind: str = "lg_real[]") -> Any:
        """The device address of `array`'s copy (outputs start there as on the host)."""
        if array is None:
            return self.ffi.NULL
        device = self.device
        fill = self.fresh.get(id(array))
        if fill is None:
            copy = device.upload(array)
        elif fill == 0:
            copy = device.zeros(array.shape, array.dtype)
        else:
            copy = device.full(array.shape, fill, array.dtype)
        if id(array) in _outputs(self.arrays):
            self.results.append((copy, array))
        self.keep.append(copy)
        return self.ffi.cast(kind.replace("[]", " *"), device.address(copy))

    def advance(self, done: int, steps: int, spikes: np.ndarray | None) -> None:
        pointer = None
        if spikes is not None:
            if self.events is None:
                self.events = self.device.zeros(spikes.shape, np.uint8)
            pointer = self.ffi.cast("uint8_t *", self.device.address(self.events))
        self._launch(done, steps, pointer)
        if spikes is not None:
            self.device.download(self.events, spikes)

    def _launch(self, done: int, steps: int, spikes: Any) -> Any:
        """The kernel over steps done .. done + steps (spikes into the device's `spikes`, or as
        the run's raster asks); its argument struct on the device."""
        self._chunk(done, steps, spikes)
        module, threads = self.module, self.arrays.rows * self.arrays.n_neurons
        arguments = module.arguments(bytes(self.ffi.buffer(self.args)))
        module.launch(KERNEL_FUNCTION, threads, arguments)
        return arguments

    # -- spikes="events": compacted on the device (simulate._advance asks for it) ---------------

    event_chunk_entries = 1 << 26  # neuron-steps of a chunk: its raster's bytes on the device

    def advance_events(self, done: int, steps: int, room: int) -> tuple[np.ndarray, np.ndarray]:
        """Steps done .. done + steps, their spikes compacted on the device (kernel.cu.j2's
        lg_events_count and lg_events_write): the step and neuron (batch row * neurons +
        neuron) of the first `room` of them, in the raster's order (step, row, neuron). The
        host sums a count per segment of the chunk and copies the events back, nothing else."""
        device, module = self.device, self.module
        size = steps * self.arrays.rows * self.arrays.n_neurons
        raster: Any = getattr(self, "event_raster", None)  # kept for the run's next chunks
        if raster is None or raster.size < size:
            raster = self.event_raster = device.zeros((size,), np.uint8)
        arguments = self._launch(done, steps, self.ffi.cast("uint8_t *", device.address(raster)))
        segments = -(-size // EVENT_SEGMENT)
        counts = device.zeros((segments,), np.int64)
        module.launch("lg_events_count", segments, arguments, raster, size, counts)
        found = np.empty(segments, np.int64)
        device.download(counts, found)
        first = np.zeros(segments, np.int64)
        np.cumsum(found[:-1], out=first[1:])
        kept = min(int(found.sum()), room)
        at = (device.zeros((max(kept, 1),), np.int64), device.zeros((max(kept, 1),), np.int64))
        module.launch("lg_events_write", segments, arguments, raster, size, device.upload(first),
                      self.arrays.rows * self.arrays.n_neurons, done, kept, *at)
        events = (np.empty(kept, np.int64), np.empty(kept, np.int64))
        for copy, out in zip(at, events):
            if kept:
                device.download(copy[:kept], out)
        return events

    def finish(self, on_device: bool = False) -> None:
        """Copy states, counts, traces, raster and spike offsets back into the run's arrays, or
        (`on_device`) put the device's arrays in their place."""
        if not on_device:
            for copy, array in self.results:
                self.device.download(copy, array)
            return
        copies = {id(array): copy for copy, array in self.results}
        a = self.arrays

        def swap(array: Any) -> Any:
            return copies.get(id(array), array)
        a.states = {n: swap(v) for n, v in a.states.items()}
        a.traces = {n: swap(v) for n, v in a.traces.items()}
        a.raster, a.offsets, a.counts = swap(a.raster), swap(a.offsets), swap(a.counts)


def _outputs(arrays: RunArrays) -> set[int]:
    return {id(a) for a in (*arrays.states.values(), *arrays.traces.values(), arrays.raster,
                            arrays.offsets, arrays.counts) if a is not None}


def _fresh_outputs(arrays: RunArrays) -> dict[int, float]:
    """Outputs whose start is known (a zero raster, NaN offsets, unwritten traces): made on the
    device instead of copied there."""
    fresh: dict[int, float] = {id(t): 0.0 for t in arrays.traces.values()}
    if arrays.raster is not None:
        fresh[id(arrays.raster)] = 0.0
    if arrays.offsets is not None:
        fresh[id(arrays.offsets)] = float("nan")
    return fresh


def _device_bytes(arrays: RunArrays) -> int:
    """What a run puts on the device: every array it reads or writes."""
    total = sum(a.nbytes for a in (*arrays.states.values(), *arrays.traces.values(),
                                   arrays.raster, arrays.offsets, arrays.counts, arrays.work)
                if a is not None)
    return total + sum(entry.array.nbytes for entry in arrays.inputs.values()
                       if isinstance(entry.array, np.ndarray))  # GPU inputs are there already


TARGET = CudaTarget()
