"""The cuda target's three stages: render (CUDA C), build (NVRTC, cached; and the C prologue),
run (arrays copied to the device, marshalled into the kernel's argument struct by field name)."""

from __future__ import annotations

import collections
import dataclasses
import functools
import re
import warnings
from dataclasses import dataclass
from typing import Any, Callable

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
from ...errors import InputError, PerformanceWarning
from .network import CudaNetworkSource, render_network
from .render import EVENT_SEGMENT, render


@dataclass(frozen=True)
class CudaKernel:
    """A loaded GPU kernel, and the C prologue that fills its parameters and constants."""

    prologue: Kernel
    module: Any  # the device's loaded kernels: arguments(struct), launch(entry, threads, ...)
    from_cache: bool


NO_COUNTS = np.zeros(0, np.int64)  # what the C prologue is given for counts, which it never reads
EVENT_CHUNK_ENTRIES = 1 << 26  # spikes="events": neuron-steps of a chunk (its raster's bytes)
MAX_GRID_ROWS = 65535  # a grid's second dimension: a network's batch rows


class CudaTarget:
    """CUDA kernels compiled with NVRTC, one GPU thread per neuron, run through CuPy."""

    gathers = True  # its networks' events gathered by their targets (NetworkPlan.gather)
    event_chunk_entries = EVENT_CHUNK_ENTRIES  # spikes="events": its runs' chunks (advance_events)

    def __init__(self, device: Any = None, name: str = "cuda"):
        self._device = device  # found on the first build: rendering needs no GPU
        self.kept = Kept()  # the last run's device arrays, for the next run of the same shapes
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
        return Runner(self.device, source, kernel, arrays, self.kept)

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
        del copies, pointers
        device.release()


class Runner(CRunner):
    """Copies what the kernel reads of a run's arrays to the device (one value of a shared
    parameter or constant; nothing of an output whose start is known, made there instead),
    launches one thread per neuron and batch row for each chunk of steps with the argument
    struct by value, and copies back what the run asked for."""

    def __init__(self, device: Any, source: KernelSource, kernel: CudaKernel, arrays: RunArrays,
                 kept: "Kept | None" = None):
        assert source.prologue is not None
        # the prologue fills arrays.work on the host; it reads parameters only (inputs may be
        # GPU arrays, which a host kernel cannot take; outputs are views the host never made)
        CRunner(source.prologue, kernel.prologue, dataclasses.replace(
            arrays, inputs={}, states={}, raster=None, offsets=None, counts=NO_COUNTS)).advance(
            0, 0, None)
        self.device, self.module = device, kernel.module
        self.work_rows = work_rows(source.c_source)
        self.kept = kept if kept is not None else Kept()
        self.owned: list[Any] = []  # the device arrays this run allocated (or took from kept)
        if not self.kept.fits(_shapes(arrays, self._work_size(arrays.n_neurons))):
            self.kept.clear()
            device.release()
        device.reserve(device_bytes(arrays, self._work_size(arrays.n_neurons), device.holds)
                       - self.kept.nbytes())
        self.results: list[tuple[Any, np.ndarray]] = []  # (device array, host array it fills)
        self.fresh = _fresh_outputs(arrays)
        self.unread = {id(values) for values, _ in arrays.params.values()}  # read from the scratch
        self._marshal(kernel.prologue.ffi, arrays)
        self.address = int(self.ffi.cast("uintptr_t", self.args))  # the struct, passed by value
        self.events = None  # the device buffer of a chunk's spikes, when collected as events
        self.segments: Any = None  # spikes="events": a chunk's segments' counts, then offsets
        self.found: Any = None  # spikes="events": a chunk's events on the device

    def _pointer(self, array: np.ndarray | None, kind: str = "lg_real[]") -> Any:
        """The device address of `array`'s copy (outputs start there as on the host)."""
        if array is None or id(array) in self.unread:
            return self.ffi.NULL
        device = self.device
        fill = self.fresh.get(id(array))
        if array is self.arrays.work:
            copy = self._work()
        elif device.holds(array):  # a GPU input, taken as it is
            copy = array
        else:
            copy = self._made(array, fill)
        if id(array) in _outputs(self.arrays):
            self.results.append((copy, array))
        self.keep.append(copy)
        return self.ffi.cast(kind.replace("[]", " *"), device.address(copy))

    def _work(self) -> Any:
        """The scratch on the device, with what the kernel reads of it: a row (parameter or
        constant) per neuron, or element 0 of a row that every neuron shares."""
        a, device = self.arrays, self.device
        n = a.n_neurons
        copy = self._allocated((self._work_size(n),), a.work.dtype)
        for row, per_neuron in self.work_rows.items():
            device.write(copy, row * n, a.work[row * n:row * n + (n if per_neuron else 1)])
        return copy

    def _made(self, array: np.ndarray, fill: float | None) -> Any:
        """`array`'s copy on the device (`fill`: made there with that value instead), in an
        array the last run left when one of its shape is there."""
        device, reused = self.device, self.kept.take(array.shape, array.dtype)
        if reused is None:
            made = device.upload(array) if fill is None else device.zeros(
                array.shape, array.dtype) if fill == 0 else device.full(array.shape, fill,
                                                                        array.dtype)
            self.owned.append(made)
            return made
        self.owned.append(reused)
        if fill is None:
            device.write(reused, 0, array)
        else:
            device.fill(reused, fill)
        return reused

    def _allocated(self, shape: tuple[int, ...], dtype: Any) -> Any:
        """An uninitialised device array, the last run's when one of this shape is there."""
        reused = self.kept.take(shape, dtype)
        made = self.device.empty(shape, dtype) if reused is None else reused
        self.owned.append(made)
        return made

    def _work_size(self, n_neurons: int) -> int:
        """Values of the scratch on the device: up to the last row the kernel reads."""
        return (max(self.work_rows) + 1) * n_neurons if self.work_rows else 1

    def advance(self, done: int, steps: int, spikes: np.ndarray | None) -> None:
        pointer = None
        if spikes is not None:
            if self.events is None:
                self.events = self._made(spikes, 0.0)
            pointer = self.ffi.cast("uint8_t *", self.device.address(self.events))
        self._launch(done, steps, pointer)
        if spikes is not None:
            self.device.download(self.events, spikes)
        else:
            self.device.synchronize()  # the chunk is done when advance returns (progress)

    def _launch(self, done: int, steps: int, spikes: Any) -> int:
        """The kernel over steps done .. done + steps (spikes into the device's `spikes`, or as
        the run's raster asks); the address of its argument struct (passed by value)."""
        self._chunk(done, steps, spikes)
        self.module.launch(KERNEL_FUNCTION, self.arrays.rows * self.arrays.n_neurons,
                           self.address)
        return self.address

    # -- spikes="events": compacted on the device (simulate._advance asks for it) ---------------

    event_chunk_entries = EVENT_CHUNK_ENTRIES

    def advance_events(self, done: int, steps: int, room: int) -> tuple[np.ndarray, np.ndarray]:
        """Steps done .. done + steps, their spikes compacted on the device (kernel.cu.j2's
        lg_events_count, lg_events_offsets and lg_events_write): the step and neuron (batch row
        * neurons + neuron) of the first `room` of them, in the raster's order (step, row,
        neuron). The host reads back the chunk's number of spikes and the events, nothing
        else."""
        device, module, width = self.device, self.module, self.arrays.rows * self.arrays.n_neurons
        size = steps * width
        if self.events is None:
            self._event_buffers()
        raster, offsets = self.events, self.segments
        arguments = self._launch(done, steps, self.ffi.cast("uint8_t *", device.address(raster)))
        segments = -(-size // EVENT_SEGMENT)
        module.launch("lg_events_count", segments, arguments, raster, size, offsets)
        module.launch("lg_events_offsets", 1, arguments, offsets, segments)  # one block
        total = np.empty(1, np.int64)
        device.download(offsets[segments:segments + 1], total)
        kept = min(int(total[0]), room)
        events = (np.empty(kept, np.int64), np.empty(kept, np.int64))
        if kept:
            found = self._found(kept)
            module.launch("lg_events_write", segments, arguments, raster, size, offsets, width,
                          done, kept, found[:kept], found[kept:2 * kept])
            device.download(found[:kept], events[0])
            device.download(found[kept:2 * kept], events[1])
        return events

    def _event_buffers(self) -> None:
        """The chunks' raster and their segments' counts (then first events, then the total),
        the last run's when of these shapes (counted by the guard: event_steps)."""
        a = self.arrays
        self.events = self._allocated((a.event_steps, a.rows, a.n_neurons), np.uint8)
        self.segments = self._allocated((event_segments(a) + 1,), np.int64)
        self.device.fill(self.segments, 0)  # a device that skips launches finds no spikes
        self.found = None

    def _found(self, events: int) -> Any:
        """A device buffer for a chunk's `events` (steps, then neurons): the last chunk's when
        large enough."""
        if self.found is None or self.found.size < 2 * events:
            self.found = None
            self.device.reserve_more(2 * 8 * events)  # known only now
            self.found = self.device.empty((2 * events,), np.int64)
        return self.found

    def finish(self, on_device: bool = False) -> None:
        """Copy states, counts, traces, raster and spike offsets back into the run's arrays, or
        (`on_device`) put the device's arrays in their place; then give the device's free
        memory back (lifgen's pool would starve another library on the same GPU)."""
        if not on_device:
            # outputs the host never made (prepare.output_array) are made as they come back
            hosts = {id(array): array if array.flags.writeable
                     else np.empty(array.shape, array.dtype) for _, array in self.results}
            for copy, array in self.results:
                self.device.download(copy, hosts[id(array)])
            self._replace(hosts)
            warn_if_host_bound(self.arrays, self.device.name)
            self.kept.give(self.owned)  # the next run of these shapes writes into them
        else:
            copies = {id(array): copy for copy, array in self.results}
            self._replace(copies)
            given = {id(copy) for copy in copies.values()}  # the user's now
            self.kept.give([c for c in self.owned if id(c) not in given])
        self.results.clear()
        self.keep.clear()
        self.owned.clear()
        self.events = self.segments = self.found = None
        self.device.release()

    def _replace(self, by: dict[int, Any]) -> None:
        """Put `by[id(array)]` in the place of each of the run's output arrays it names."""
        a = self.arrays

        def swap(array: Any) -> Any:
            return by.get(id(array), array)
        a.states = {n: swap(v) for n, v in a.states.items()}
        a.traces = {n: swap(v) for n, v in a.traces.items()}
        a.raster, a.offsets, a.counts = swap(a.raster), swap(a.offsets), swap(a.counts)

class Kept:
    """Device arrays a run no longer needs, by shape and type, for the next run to write into
    (no allocation; CuPy's pool itself is given back after each run)."""

    def __init__(self) -> None:
        self.arrays: dict[tuple[tuple[int, ...], str], list[Any]] = {}

    def fits(self, shapes: list[tuple[tuple[int, ...], str]]) -> bool:
        """Whether a run of `shapes` uses every kept array (it allocates the rest)."""
        kept = collections.Counter({key: len(arrays) for key, arrays in self.arrays.items()})
        return kept <= collections.Counter(shapes)

    def take(self, shape: tuple[int, ...], dtype: Any) -> Any:
        arrays = self.arrays.get((tuple(shape), np.dtype(dtype).str))
        return arrays.pop() if arrays else None

    def give(self, arrays: list[Any]) -> None:
        """Keep `arrays` in place of whatever was kept."""
        self.arrays = {}
        for array in arrays:
            self.arrays.setdefault((tuple(array.shape), array.dtype.str), []).append(array)

    def clear(self) -> None:
        self.arrays = {}

    def nbytes(self) -> int:
        return sum(a.nbytes for arrays in self.arrays.values() for a in arrays)


def _shapes(arrays: RunArrays, work_values: int) -> list[tuple[tuple[int, ...], str]]:
    """The (shape, type) of every array a run allocates on the device."""
    own = [a for a in (*arrays.states.values(), *arrays.traces.values(), arrays.raster,
                       arrays.offsets, arrays.counts) if a is not None]
    if arrays.index.size:
        own.append(arrays.index)
    own += [e.array for e in arrays.inputs.values() if type(e.array) is np.ndarray]
    shapes = [(tuple(a.shape), a.dtype.str) for a in own]
    shapes.append(((work_values,), arrays.work.dtype.str))
    if arrays.event_steps:
        shapes.append(((arrays.event_steps, arrays.rows, arrays.n_neurons), np.dtype(np.uint8).str))
        shapes.append(((event_segments(arrays) + 1,), np.dtype(np.int64).str))
    return shapes


def event_segments(arrays: RunArrays) -> int:
    """The segments of a chunk's raster that spikes="events" compacts, one thread each."""
    return -(-arrays.event_steps * arrays.rows * arrays.n_neurons // EVENT_SEGMENT)


# How a thread reads a row of the scratch (templates/cuda/values.cu.j2): element 0 of a row that
# every neuron shares, or its own neuron's element
WORK_READ = re.compile(r"lg_work\[(\d+) \* lg_N( \+ lg_n)?\]")


@functools.lru_cache(maxsize=64)  # a variant's text, once (a str caches its hash)
def work_rows(kernel_text: str) -> dict[int, bool]:
    """The rows of the scratch (parameters, then constants) that the kernel reads, and whether
    it reads one value per neuron (True) or element 0 alone (False)."""
    rows: dict[int, bool] = {}
    for match in WORK_READ.finditer(kernel_text):
        row = int(match.group(1))
        rows[row] = rows.get(row, False) or bool(match.group(2))
    return rows


_WARNED: set[str] = set()  # the devices whose host-bound runs were warned of (once each)
HOST_BOUND_BYTES = 1 << 24  # less than this crosses PCIe in about a millisecond: not warned of


def warn_if_host_bound(arrays: RunArrays, device: str) -> None:
    """Warn once when a run copies more to the host (traces at every step, the raster or spike
    offsets) than it computes (its final states and counts), and more than HOST_BOUND_BYTES: the
    copies then take longer than the kernel on a GPU. run()'s defaults are the CPU's; docs/gpu.md says what to choose."""
    per_step = sum(a.nbytes for a in (*arrays.traces.values(), arrays.raster, arrays.offsets)
                   if a is not None)
    computed = sum(a.nbytes for a in arrays.states.values()) + arrays.counts.nbytes
    if per_step <= max(computed, HOST_BOUND_BYTES) or device in _WARNED:
        return
    _WARNED.add(device)
    warnings.warn(f"this GPU run copies {per_step / 2**20:.3g} MiB of traces and spikes back to "
                  f"the host, more than the {computed / 2**20:.3g} MiB it computes: the copies "
                  "take longer than the simulation. Trace fewer neurons (record={'V': [...]} or "
                  "record=[]), count spikes (spikes='count') or keep the Result on the GPU "
                  "(output='device'); warned once", PerformanceWarning, stacklevel=4)


def _outputs(arrays: RunArrays) -> set[int]:
    return {id(a) for a in (*arrays.states.values(), *arrays.traces.values(), arrays.raster,
                            arrays.offsets, arrays.counts) if a is not None}


def _fresh_outputs(arrays: RunArrays) -> dict[int, float]:
    """Outputs whose start is known (a zero raster and counts, NaN offsets, unwritten traces):
    made on the device instead of copied there."""
    fresh: dict[int, float] = {id(t): 0.0 for t in arrays.traces.values()}
    fresh[id(arrays.counts)] = 0.0  # a run's counts start at zero (a continued run's too)
    if arrays.raster is not None:
        fresh[id(arrays.raster)] = 0.0
    if arrays.offsets is not None:
        fresh[id(arrays.offsets)] = float("nan")
    fresh.update({id(arrays.states[n]): float(v) for n, v in arrays.uniform.items()})
    return fresh


def device_bytes(arrays: RunArrays, work_values: int, on_device: Callable[[Any], bool]) -> int:
    """What a run puts on the device: every array the kernel reads or writes, `work_values` of
    the scratch, and none of the GPU inputs, which are there already (spikes="events": the
    chunks' raster and its segments' counts; the events each chunk finds are reserved when it
    has found them)."""
    events = arrays.event_steps * arrays.rows * arrays.n_neurons \
        + 8 * (event_segments(arrays) + 1) if arrays.event_steps else 0  # raster, segments
    total = sum(a.nbytes for a in (*arrays.states.values(), *arrays.traces.values(),
                                   arrays.raster, arrays.offsets, arrays.counts, arrays.index)
                if a is not None) + work_values * arrays.work.itemsize + events
    return total + sum(entry.array.nbytes for entry in arrays.inputs.values()
                       if not on_device(entry.array))


TARGET = CudaTarget()
