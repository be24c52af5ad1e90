"""Render a StepMap into CUDA: one GPU thread per neuron and batch row. The step is the C target's
(the same IR, printed by the same printer); only the loops differ. Uncoupled neurons run every
step of a call in one launch, with their states in registers; coupled ones launch once per step:
what arrives and the step, then the spikes into the delay rings, then external drives.
Parameters and constants come from the C target's prologue, run on the host, so that both
targets compute propagators with the same libm.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ...codegen.abi import KernelABI
from ...numerics.discretize import StepMap
from ...codegen.options import Semantics, Schedule, Variant
from ..cfamily.context import KernelContext, SynapseNames
from ...codegen.plasticity import CUDA, cuda_block
from ...codegen.source import KernelSource
from ..c.render import render as render_c
from ..cfamily.kernel import (KERNEL_FUNCTION, environment, kernel_context, loop_order, model_abi,
                              plastic_fields, with_body)
from ..cfamily.uses import plastic_uses, template_uses, thread_reads

MODE_COMMENT = "CUDA, one GPU thread per neuron and batch row"
# The kernels of a coupled step, in launch order (then one drive kernel per synapse type).
COUPLED_NEURONS, COUPLED_SPIKES = "lg_coupled_neurons", "lg_coupled_spikes"
COUPLED_WINNER, COUPLED_INHIBITION = "lg_coupled_winner", "lg_coupled_inhibition"
WINNER_THREADS = 256  # one block per batch row searches its winner
DRIVE_PREFIX = "lg_drive_"
PLASTIC_PREFIX = "lg_plastic_"  # a plastic synapse type's events, launched before the neurons
EVERY_NEURON = "lg_a->n_batch * lg_a->n_neurons"
STEP = ", const int64_t lg_step"


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
    abi = model_abi(step_map)
    prologue = render_c(step_map, semantics, dataclasses.replace(schedule, threads=1), variant,
                        mode="constants")
    context, functions = device_functions(step_map, semantics, schedule, variant, abi)
    winner = environment().get_template("cuda/winner.cu.j2").render(
        entry=COUPLED_WINNER, threads=WINNER_THREADS) if semantics.inhibition else ""
    text = environment().get_template("cuda/kernel.cu.j2").render(k=context, functions=functions,
                                                                  winner=winner)
    cdef = prologue.cdef.replace(f"int {KERNEL_FUNCTION}(const lg_args *lg_a);\n", "") + "".join(
        f"int {f.entry}(const lg_args *lg_a{f.parameters});\n" for f in functions)
    if winner:
        cdef += (f"int {COUPLED_WINNER}(const lg_args *lg_a, const lg_real *lg_margin, "
                 "int64_t *lg_winner);\n")
    return dataclasses.replace(prologue, c_source=text, cdef=cdef, function=functions[0].entry,
                               schedule=schedule, mode=context.mode, prologue=prologue)


def device_functions(step_map: StepMap, semantics: Semantics, schedule: Schedule,
                     variant: Variant, abi: KernelABI
                     ) -> tuple[KernelContext, list[DeviceFunction]]:
    """The kernel's context and its device functions, each with its body, what its templates
    declare it reads (uses.py) and the fields it unpacks for that."""
    mode = loop_order(step_map, semantics, variant)
    context = dataclasses.replace(
        kernel_context(step_map, semantics, schedule, variant, mode, abi,
                       indent=8 if mode != "coupled" else 4),
        inline="LG_DEVICE", constant="LG_CONSTANT", mode_comment=MODE_COMMENT)
    functions = _coupled(context, variant, semantics.dtype) if mode == "coupled" \
        else _uncoupled(context)
    context = with_body(context, "\n".join(f.body for f in functions), abi,
                        frozenset().union(*(f.uses for f in functions)), restrict="LG_RESTRICT ")
    return context, [dataclasses.replace(f, unpack=_unpack(context, f.uses)) for f in functions]


def _thread(k: KernelContext, template: str, y: SynapseNames | None = None,
            **variables: object) -> tuple[str, frozenset[str]]:
    """One thread's code from `template` (for synapse type `y`), with what the template declares
    it reads; its values (values.cu.j2) declare what the thread's code reads (thread_reads)."""
    reads = thread_reads(k, template, y)
    body = environment().get_template(template).render(k=k, y=y, uses=reads, **variables)
    return body.rstrip("\n"), template_uses(k, template, y, reads)


def _uncoupled(k: KernelContext) -> list[DeviceFunction]:
    body, uses = _thread(k, "cuda/neuron.cu.j2")
    return [DeviceFunction("lg_neuron", KERNEL_FUNCTION, "One neuron of one batch row (lg_g = row "
                           "* n_neurons + neuron) through every step of the call.", "", "",
                           EVERY_NEURON, body, uses)]


def _coupled(k: KernelContext, variant: Variant, dtype: str) -> list[DeviceFunction]:
    bias_rows = {y.name: [p.name for p in k.parameters].index(y.bias.removeprefix("lg_p_"))
                 for y in k.synapses if y.bias}
    neuron, neuron_uses = _thread(k, "cuda/coupled_neuron.cu.j2", bias_rows=bias_rows)
    spikes, spikes_uses = _thread(k, "cuda/coupled_spikes.cu.j2")
    wta = ", lg_margin, lg_was_reset" if k.inhibition else ""
    functions = [
        DeviceFunction("lg_coupled_neuron", COUPLED_NEURONS, "Step lg_step of one neuron of one "
                       "batch row: what arrives, the step, the spike into lg_now"
                       + (" (or, with inhibition, its margin)." if k.inhibition else "."),
                       STEP + ", uint8_t *lg_now"
                       + (", lg_real *lg_margin, uint8_t *lg_was_reset" if k.inhibition else ""),
                       ", lg_step, lg_now" + wta, EVERY_NEURON, neuron, neuron_uses)]
    if k.inhibition:
        apply, uses = _thread(k, "cuda/coupled_inhibition.cu.j2")
        functions.append(DeviceFunction(
            "lg_coupled_inhibit", COUPLED_INHIBITION, "After the search: one neuron's spike "
            "(the winner's only) and its reset.", STEP + ", uint8_t *lg_now, const lg_real "
            "*lg_margin, const uint8_t *lg_was_reset, const int64_t *lg_winner",
            ", lg_step, lg_now" + wta + ", lg_winner", EVERY_NEURON, apply, uses))
    dt = f"    const lg_real lg_dt = {k.dt_literal};\n" if k.dt_literal else ""
    functions += [DeviceFunction(
        f"lg_plastic_events_{p.synapse_type}", PLASTIC_PREFIX + p.synapse_type,
        f"The plastic synapses of {p.synapse_type} ({p.model.name}) at the start of step "
        "lg_step, one thread per batch row: arrivals (on_pre) and on_post, in the C target's "
        "order.", STEP, ", lg_step", "lg_a->n_batch",
        dt + cuda_block(p, plastic_fields(p.synapse_type), dtype), plastic_uses(p, "device", CUDA))
        for p in variant.plastic]
    functions += [
        DeviceFunction("lg_coupled_spike", COUPLED_SPIKES, "After step lg_step: one neuron's "
                       "spike, into `fired` and through its sparse synapses into the delay rings.",
                       STEP + ", const uint8_t *lg_now", ", lg_step, lg_now", EVERY_NEURON,
                       spikes, spikes_uses)]
    for y in (y for y in k.synapses if not y.plastic_drive):
        body, uses = _thread(k, "cuda/coupled_drive.cu.j2", y)
        functions.append(DeviceFunction(
            f"lg_drive_source_{y.name}", DRIVE_PREFIX + y.name, f"The external drive of "
            f"{y.name} at step lg_step: one source (or one played-back train) of one batch row.",
            STEP, ", lg_step", f"lg_a->n_batch * (lg_a->{y.drive.kind.removeprefix('lg_')} == "
            f"LG_DRIVE_PLAYBACK ? 1 : lg_a->{y.drive.count.removeprefix('lg_')})", body, uses))
    return functions


def _unpack(context: KernelContext, uses: frozenset[str]) -> tuple[tuple[str, str], ...]:
    """The struct fields a function declares it reads, as local declarations."""
    return tuple(u for u in context.unpack if u[0].split()[-1] in uses)
