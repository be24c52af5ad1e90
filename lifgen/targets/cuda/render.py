"""Render a StepMap into CUDA: one GPU thread per neuron and batch row. The step is the C target's
(the same IR, printed by the same printer); only the loops differ. Uncoupled neurons run every
step of a call in one launch, with their states in registers; coupled ones launch once per step:
what arrives and the step, then the spikes into the delay rings, then external drives.
Parameters and constants come from the C target's prologue, run on the host, so that both
targets compute propagators with the same libm.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from ...codegen.abi import KernelABI
from ...numerics.discretize import StepMap
from ...codegen.options import Semantics, Schedule, Variant
from ..cfamily.context import KernelContext
from ...codegen.plasticity import cuda_block
from ...codegen.source import KernelSource
from ..c.render import render as render_c
from ..cfamily.kernel import (KERNEL_FUNCTION, environment, kernel_context, loop_order, model_abi,
                              plastic_fields, with_body)

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
    unpack: tuple[tuple[str, str], ...] = ()


def render(step_map: StepMap, semantics: Semantics, schedule: Schedule,
           variant: Variant) -> KernelSource:
    """The CUDA source of `step_map` for these options and this variant, with the C prologue
    that fills its parameters and constants."""
    mode = loop_order(step_map, semantics, variant)
    abi = model_abi(step_map)
    prologue = render_c(step_map, semantics, dataclasses.replace(schedule, threads=1), variant,
                        mode="constants")
    context = dataclasses.replace(
        kernel_context(step_map, semantics, schedule, variant, mode, abi,
                       indent=8 if mode != "coupled" else 4),
        inline="LG_DEVICE", constant="LG_CONSTANT", mode_comment=MODE_COMMENT)
    functions = _coupled(context, variant, semantics.dtype) if mode == "coupled" \
        else _uncoupled(context)
    context = with_body(context, "\n".join(f.body for f in functions), abi,
                        restrict="LG_RESTRICT ")
    functions = [dataclasses.replace(f, unpack=_unpack(context, abi, f.body)) for f in functions]
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
                               schedule=schedule, mode=mode, prologue=prologue)


def identifiers(*texts: str) -> set[str]:
    """The C identifiers in `texts`: what a thread's values must declare for them."""
    return set(re.findall(r"\b[A-Za-z_]\w*", " ".join(texts)))


def _uncoupled(k: KernelContext) -> list[DeviceFunction]:
    uses = identifiers(k.step, k.after_spike) | {s.x for s in k.states}
    body = environment().get_template("cuda/neuron.cu.j2").render(k=k, uses=uses)
    return [DeviceFunction("lg_neuron", KERNEL_FUNCTION, "One neuron of one batch row (lg_g = row "
                           "* n_neurons + neuron) through every step of the call.", "", "",
                           EVERY_NEURON, body.rstrip("\n"))]


def _coupled(k: KernelContext, variant: Variant, dtype: str) -> list[DeviceFunction]:
    env = environment()
    bias_rows = {y.name: [p.name for p in k.parameters].index(y.bias.removeprefix("lg_p_"))
                 for y in k.synapses if y.bias}
    uses = identifiers(k.step, k.margin if k.inhibition else k.after_spike) | {
        y.target_x for y in k.synapses if y.target_x} | {
        y.refractory_x for y in k.synapses if y.refractory_x}
    neuron = env.get_template("cuda/coupled_neuron.cu.j2").render(k=k, uses=uses,
                                                                   bias_rows=bias_rows)
    spikes = env.get_template("cuda/coupled_spikes.cu.j2").render(k=k)
    wta = ", lg_margin, lg_was_reset" if k.inhibition else ""
    functions = [
        DeviceFunction("lg_coupled_neuron", COUPLED_NEURONS, "Step lg_step of one neuron of one "
                       "batch row: what arrives, the step, the spike into lg_now"
                       + (" (or, with inhibition, its margin)." if k.inhibition else "."),
                       STEP + ", uint8_t *lg_now"
                       + (", lg_real *lg_margin, uint8_t *lg_was_reset" if k.inhibition else ""),
                       ", lg_step, lg_now" + wta, EVERY_NEURON, neuron.rstrip("\n"))]
    if k.inhibition:
        apply = env.get_template("cuda/coupled_inhibition.cu.j2").render(
            k=k, uses=identifiers(k.after_spike))
        functions.append(DeviceFunction(
            "lg_coupled_inhibit", COUPLED_INHIBITION, "After the search: one neuron's spike "
            "(the winner's only) and its reset.", STEP + ", uint8_t *lg_now, const lg_real "
            "*lg_margin, const uint8_t *lg_was_reset, const int64_t *lg_winner",
            ", lg_step, lg_now" + wta + ", lg_winner", EVERY_NEURON, apply.rstrip("\n")))
    dt = f"    const lg_real lg_dt = {k.dt_literal};\n" if k.dt_literal else ""
    functions += [DeviceFunction(
        f"lg_plastic_events_{p.synapse_type}", PLASTIC_PREFIX + p.synapse_type,
        f"The plastic synapses of {p.synapse_type} ({p.model.name}) at the start of step "
        "lg_step, one thread per batch row: arrivals (on_pre) and on_post, in the C target's "
        "order.", STEP, ", lg_step", "lg_a->n_batch",
        dt + cuda_block(p, plastic_fields(p.synapse_type), dtype)) for p in variant.plastic]
    functions += [
        DeviceFunction("lg_coupled_spike", COUPLED_SPIKES, "After step lg_step: one neuron's "
                       "spike, into `fired` and through its sparse synapses into the delay rings.",
                       STEP + ", const uint8_t *lg_now", ", lg_step, lg_now", EVERY_NEURON,
                       spikes.rstrip("\n"))]
    for y in (y for y in k.synapses if not y.plastic_drive):
        body = env.get_template("cuda/coupled_drive.cu.j2").render(k=k, y=y)
        functions.append(DeviceFunction(
            f"lg_drive_source_{y.name}", DRIVE_PREFIX + y.name, f"The external drive of "
            f"{y.name} at step lg_step: one source (or one played-back train) of one batch row.",
            STEP, ", lg_step", f"lg_a->n_batch * (lg_a->{y.drive.kind.removeprefix('lg_')} == "
            f"LG_DRIVE_PLAYBACK ? 1 : lg_a->{y.drive.count.removeprefix('lg_')})", body.rstrip("\n")))
    return functions


def _unpack(context: KernelContext, abi: KernelABI, body: str) -> tuple[tuple[str, str], ...]:
    """The struct fields `body` reads, as local declarations."""
    used = set(re.findall(r"\blg_\w+", body))
    return tuple(u for u in context.unpack if u[0].split()[-1] in used)
