"""Render a StepMap into CUDA: one GPU thread per neuron and batch row, through every step of a
call in one launch, with its states in registers. The step is the C target's (the same IR,
printed by the same printer); only the loops differ. Parameters and constants come from the C
target's prologue, run on the host, so that both targets compute propagators with the same libm.
(A run that couples the neurons runs as a one-population network: targets/cuda/network.py.)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ...codegen.abi import KernelABI
from ...errors import InputError
from ...ir.statements import nodes
from ...ir.written import Call
from ...numerics.discretize import StepMap
from ...codegen.options import Semantics, Schedule, Variant
from ..cfamily.context import KernelContext
from ...codegen.source import KernelSource
from ..c.render import render as render_c
from ..cfamily.kernel import (KERNEL_FUNCTION, environment, kernel_context, loop_order, model_abi,
                              with_body)
from ..cfamily.uses import template_uses, thread_reads

MODE_COMMENT = "CUDA, one GPU thread per neuron and batch row"
# the kernels that compact a chunk's raster into spike events on the device (kernel.cu.j2)
EVENTS_CDEF = ("int lg_events_count(const lg_args *lg_a, const uint8_t *raster, "
               "const int64_t size, int64_t *counts);\n"
               "int lg_events_offsets(const lg_args *lg_a, int64_t *counts, "
               "const int64_t segments);\n"
               "int lg_events_write(const lg_args *lg_a, const uint8_t *raster, "
               "const int64_t size, const int64_t *offsets, const int64_t width, "
               "const int64_t step0, const int64_t room, int64_t *steps, int64_t *neurons);\n")
EVENT_SEGMENT = 2048  # raster bytes per thread of the compaction (LG_SEGMENT)
EVERY_NEURON = "lg_a->n_batch * lg_a->n_neurons"


@dataclass(frozen=True)
class DeviceFunction:
    """One thread's work, and the kernel (or, compiled as C, the loop) that runs it per thread."""

    name: str
    entry: str
    comment: str
    parameters: str  # after (lg_a, lg_g)
    arguments: str
    threads: str  # a C expression of lg_a: how many threads the entry runs
    body: str
    uses: frozenset[str] = frozenset()  # what `body` reads, as its templates declare (uses.py)
    unpack: tuple[tuple[str, str], ...] = ()


def render(step_map: StepMap, semantics: Semantics, schedule: Schedule,
           variant: Variant) -> KernelSource:
    """The CUDA source of `step_map` for these options and this variant, with the C prologue
    that fills its parameters and constants."""
    _check_device_step(step_map)
    abi = model_abi(step_map)
    prologue = render_c(step_map, semantics, dataclasses.replace(schedule, threads=1), variant,
                        mode="constants")
    context, functions = device_functions(step_map, semantics, schedule, variant, abi)
    text = environment().get_template("cuda/kernel.cu.j2").render(k=context, functions=functions)
    cdef = prologue.cdef.replace(f"int {KERNEL_FUNCTION}(const lg_args *lg_a);\n", "") + "".join(
        f"int {f.entry}(const lg_args *lg_a{f.parameters});\n" for f in functions) + EVENTS_CDEF
    return dataclasses.replace(prologue, c_source=text, cdef=cdef, function=functions[0].entry,
                               schedule=schedule, mode=context.mode, prologue=prologue)


def _check_device_step(step_map: StepMap) -> None:
    """Refuse what only the host computes: precise=True's crossing search evaluates the exact
    propagator at times inside the step, and a numerically computed one (a matrix exponential)
    runs in the host's C alone (NVRTC refused the kernel)."""
    trees = [tree for _, tree in step_map.propagator]
    if any(isinstance(node, Call) and node.function == "propagator" for node in nodes(trees)):
        raise InputError(f"precise=True on the cuda target needs a closed-form step, and "
                         f"{step_map.model.name}'s coupled states have their propagator computed "
                         "numerically (a matrix exponential, on the host only): use target='c', "
                         "or precise=False")


def device_functions(step_map: StepMap, semantics: Semantics, schedule: Schedule,
                     variant: Variant, abi: KernelABI
                     ) -> tuple[KernelContext, list[DeviceFunction]]:
    """The kernel's context and its device functions, each with its body, what its templates
    declare it reads (uses.py) and the fields it unpacks for that."""
    context = dataclasses.replace(
        kernel_context(step_map, semantics, schedule, variant, loop_order(variant), abi,
                       indent=8),
        inline="LG_DEVICE", constant="LG_CONSTANT", mode_comment=MODE_COMMENT)
    functions = _neurons(context)
    context = with_body(context, "\n".join(f.body for f in functions), abi,
                        frozenset().union(*(f.uses for f in functions)), restrict="LG_RESTRICT ")
    return context, [dataclasses.replace(f, unpack=_unpack(context, f.uses)) for f in functions]


def _thread(k: KernelContext, template: str) -> tuple[str, frozenset[str]]:
    """One thread's code from `template`, with what the template declares it reads; its values
    (values.cu.j2) declare what the thread's code reads (thread_reads)."""
    reads = thread_reads(k, template)
    body = environment().get_template(template).render(k=k, uses=reads)
    return body.rstrip("\n"), template_uses(k, template, reads)


def _neurons(k: KernelContext) -> list[DeviceFunction]:
    body, uses = _thread(k, "cuda/neuron.cu.j2")
    return [DeviceFunction("lg_neuron", KERNEL_FUNCTION, "One neuron of one batch row (lg_g = row "
                           "* n_neurons + neuron) through every step of the call.", "", "",
                           EVERY_NEURON, body, uses)]


def _unpack(context: KernelContext, uses: frozenset[str]) -> tuple[tuple[str, str], ...]:
    """The struct fields a function declares it reads, as local declarations."""
    return tuple(u for u in context.unpack if u[0].split()[-1] in uses)
