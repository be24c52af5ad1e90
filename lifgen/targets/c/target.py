"""The C target's three stages: render (C source), build (cffi, cached), run (NumPy arrays,
marshalled into the kernel's argument struct by field name)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ...codegen.abi import field_name
from ...codegen.build import Kernel, build
from ...numerics.discretize import StepMap
from ...codegen.options import Semantics, Schedule, Variant
from ...codegen.run_arrays import RunArrays
from ...codegen.source import KernelSource
from ...codegen.network import NetworkProgram
from .network import NetworkSource, render_network
from .render import render



class CTarget:
    """C99 kernels with OpenMP threads, compiled by the system's C compiler through cffi."""

    name = "c"
    language = "C"
    raster_by_row = True  # a network's raster [batch][step][n]: the program runs rows in turn

    def render(self, step_map: StepMap, semantics: Semantics, schedule: Schedule,
               variant: Variant) -> KernelSource:
        return render(step_map, semantics, schedule, variant)

    def build(self, source: KernelSource) -> Kernel:
        schedule = source.schedule
        return build(source.c_source, source.cdef, portable=schedule.portable,
                     openmp=schedule.threads > 1, fma=schedule.fma)

    def runner(self, source: KernelSource, kernel: Kernel, arrays: RunArrays) -> "Runner":
        return Runner(source, kernel, arrays)

    def render_network(self, program: NetworkProgram) -> NetworkSource:
        return render_network(program)

    def build_network(self, source: NetworkSource, schedule: Schedule = Schedule()) -> Kernel:
        """The program compiled with `schedule`'s flags (and OpenMP where its batch rows run on
        several threads)."""
        return build(source.text, source.cdef, portable=schedule.portable, fma=schedule.fma,
                     openmp=source.program.plan.threads > 1)

    def call_network(self, kernel: Kernel, source: NetworkSource, buffers: list[np.ndarray],
                     step0: int, steps: int, rows: int, seed: int) -> None:
        """Run steps step0 .. step0 + steps of every batch row over `buffers` (the program's,
        in its order)."""
        ffi = kernel.ffi
        keep = [ffi.from_buffer(array) for array in buffers]
        pointers = ffi.new("void *[]", keep)  # (a buffer's cdata converts to void * as it is)
        getattr(kernel.lib, source.function)(pointers, step0, steps, rows, seed)


class Runner:
    """Calls one kernel over a run's arrays, a chunk of steps at a time."""

    def __init__(self, source: KernelSource, kernel: Kernel, arrays: RunArrays):
        self.function = getattr(kernel.lib, source.function)
        self._marshal(kernel.ffi, arrays)

    def _marshal(self, ffi: Any, arrays: RunArrays) -> None:
        """The argument struct over `arrays`, with each array's pointer from `_pointer`."""
        self.ffi = ffi
        self.arrays = arrays
        self.keep: list[Any] = []  # buffers: the struct's pointers do not keep them alive
        self.args = ffi.new("lg_args *", self._fixed_fields())
        self.inputs = {n: self._pointer(a.array) for n, a in arrays.inputs.items()}
        self.traces = {n: self._pointer(t) for n, t in arrays.traces.items()}
        self.raster = self._pointer(arrays.raster, "uint8_t[]")
        self.offsets = self._pointer(arrays.offsets)

    def _pointer(self, array: np.ndarray | None, kind: str = "lg_real[]") -> Any:
        if array is None:
            return self.ffi.NULL
        pointer = self.ffi.from_buffer(kind, array)
        self.keep.append(pointer)
        return pointer

    def _fixed_fields(self) -> dict[str, Any]:
        """Every field that stays the same from chunk to chunk; the rest are zero or NULL."""
        a = self.arrays
        real, integers = self._pointer, lambda x: self._pointer(x, "int64_t[]")
        fields: dict[str, Any] = {"n_batch": a.rows, "n_neurons": a.n_neurons, "seed": a.seed,
                                  "neuron0": a.first_neuron, "dt": a.dt,
                                  "n_record": a.index.size, "work": real(a.work),
                                  "counts": integers(a.counts)}
        if a.index.size:
            fields["record"] = integers(a.index)
        for name, state in a.states.items():
            fields[field_name("state", name)] = real(state)
        for name, (values, stride) in a.params.items():
            fields[field_name("param", name)] = real(values)
            fields[field_name("param_stride", name)] = stride
        for name, entry in a.inputs.items():
            fields[field_name("input_time_stride", name)] = entry.time_stride
            fields[field_name("input_batch_stride", name)] = entry.batch_stride
            fields[field_name("input_neuron_stride", name)] = entry.neuron_stride
        return fields

    def advance(self, done: int, steps: int, spikes: np.ndarray | None) -> None:
        """Run steps done .. done + steps; a raster chunk goes to `spikes` when given."""
        buffer = None if spikes is None else self.ffi.from_buffer("uint8_t[]", spikes)
        self._chunk(done, steps, buffer)
        self.function(self.args)

    def _chunk(self, done: int, steps: int, spikes: Any) -> None:
        """Point the struct at steps done .. done + steps (and at `spikes` for the raster)."""
        a, args = self.arrays, self.args
        width = a.rows * a.n_neurons
        args.n_steps, args.step0 = steps, a.clock + done  # noise is keyed by the absolute step
        for name, entry in a.inputs.items():
            setattr(args, field_name("input", name), self.inputs[name] + done * entry.time_stride)
        for name, pointer in self.traces.items():
            setattr(args, field_name("trace", name), pointer + done * a.rows * a.index.size)
        if spikes is not None:
            args.spikes = spikes
        elif a.raster is not None:
            args.spikes = self.raster + done * width
        if a.offsets is not None:
            args.spike_offsets = self.offsets + done * width

    def finish(self, on_device: bool = False) -> None:
        """Nothing to do: the kernel wrote the run's NumPy arrays in place (the CPU is the
        device)."""


TARGET = CTarget()
