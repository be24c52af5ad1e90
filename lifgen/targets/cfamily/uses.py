"""What each template of the C family reads from outside itself, declared as data beside the
schedules (as Brian2's templates declare USES_VARIABLES), not found by scanning generated text.

A template reads fields of `lg_args` (fixed ones by their local name, the others by role per
state, parameter, input or synapse type), lifgen's helpers, sizes and enum constants, and it
inserts printed code whose uses the statement IR declares (printer.statement_uses). `with_body`
unpacks, defines and declares exactly what the rendered templates declare here;
tests/test_declared_uses.py renders every schedule and checks each declaration against the text
it produced.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterator

from ...codegen.naming import field_local
from ...codegen.plasticity import C, Dialect, Plastic, hoisted_propagation
from ...ir.statements import calls
from .context import KernelContext, SynapseNames
from .printer import CALL_USES


@dataclass(frozen=True)
class Part:
    """A part of a template and what it reads when `when` holds: for the kernel, or (`each`) for
    every state, parameter, input or synapse type it runs over ("y": the one synapse type the
    template is rendered for).

    `names`: lifgen's own identifiers (fixed fields, helpers, sizes, enum constants); `roles`:
    the owner's fields, by ABI role; `code`: printed code inserted here, whose uses the IR
    declared (the kernel's or owner's `<code>_uses`); `locals`: the owner's names (attributes)
    that a CUDA thread's values must provide; `include`: a template this part includes.
    """

    when: str = "always"
    each: str = ""
    names: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    code: tuple[str, ...] = ()
    locals: tuple[str, ...] = ()
    include: str = ""


Flag = Callable[[KernelContext, Any, frozenset[str]], bool]
# The conditions that switch parts on: of the kernel (owner None), of the state, input or synapse
# type a part runs over, or of what a CUDA thread's code reads (values.cu.j2 declares only that).
WHEN: dict[str, Flag] = {
    "always": lambda k, owner, reads: True,
    "precise": lambda k, owner, reads: k.precise,
    "flush_denormals": lambda k, owner, reads: k.flush_denormals,
    "inhibition": lambda k, owner, reads: k.inhibition,
    "no_inhibition": lambda k, owner, reads: not k.inhibition,
    "synapses": lambda k, owner, reads: bool(k.synapses),
    "propagators": lambda k, owner, reads: bool(k.propagators),
    # inputs that the step reads, by how they arrive
    "read": lambda k, u, reads: u.in_loop,
    "held": lambda k, u, reads: u.in_loop and u.layout == "held",
    "streamed": lambda k, u, reads: u.in_loop and u.layout == "streamed",
    "time": lambda k, u, reads: u.in_loop and u.layout == "time",
    # synapse types
    "bias": lambda k, y, reads: y.bias is not None,
    "target": lambda k, y, reads: y.target is not None,
    "drops": lambda k, y, reads: y.refractory_x is not None,  # events dropped while refractory
    "plastic": lambda k, y, reads: bool(y.plastic_in),
    "plastic_direct": lambda k, y, reads: bool(y.target and not y.bias and y.plastic_in),
    "driven": lambda k, y, reads: not y.plastic_drive,  # its drive runs in the schedule
    # a CUDA thread's values
    "scratch_read": lambda k, owner, reads: _reads_scratch(k, reads),
    "state_read": lambda k, s, reads: s.x in reads,
}
EACH = {"state": "states", "parameter": "parameters", "input": "inputs", "synapse": "synapses"}

RUN = ("lg_n_steps", "lg_n_batch", "lg_step0", "lg_counts", "lg_spikes", "lg_record",
       "lg_n_record")  # the run's sizes and outputs
HELD = ("input", "input_batch_stride", "input_neuron_stride")
PER_STEP = ("input", "input_time_stride", "input_batch_stride")
ANY = ("input", "input_time_stride", "input_batch_stride", "input_neuron_stride")
SPARSE = ("weight_kind", "ring", "ring_slots", "rows", "delay", "post", "weights")
DRIVE = ("drive_kind", "drive_sources", "drive_start", "drive_events", "drive_probability",
         "drive_time_stride", "drive_source_stride", "drive_seed", "drive_rows", "drive_delay",
         "drive_post", "drive_weights", "ring", "ring_slots")
# what arrives: the delay ring's slot of this step, one-to-one and dense weights
ARRIVING = ("lg_step0", "LG_WEIGHT_ONE_TO_ONE", "LG_WEIGHT_DENSE")
WEIGHTS = ("weight_kind", "ring", "ring_slots", "weights")

# What both uncoupled schedules (tiles, streamed) read besides their own sizes.
UNCOUPLED = (
    Part(each="state", roles=("state", "trace")),
    Part(each="input", when="held", roles=HELD),
    Part(each="input", when="streamed", roles=PER_STEP),
    Part(each="input", when="time", roles=PER_STEP),
    Part(when="precise", names=("lg_spike_offsets",)),
    Part(when="flush_denormals", names=("lg_flush_begin",)))

TEMPLATES: dict[str, tuple[Part, ...]] = {
    "c/body.c.j2": (
        Part(names=("lg_n_neurons", "lg_work"), code=("constants",)),
        Part(each="parameter", roles=("param", "param_stride")),
        Part(when="propagators", names=("lg_expm",))),
    "c/schedule_constants.c.j2": (),
    "c/schedule_tiles.c.j2": (
        Part(names=RUN + ("LG_TILE", "lg_lower_bound"), code=("step", "after_spike")),
        *UNCOUPLED),
    "c/schedule_streamed.c.j2": (
        Part(names=RUN + ("LG_CHUNK", "LG_BLOCK", "lg_lower_bound"), code=("step", "after_spike")),
        *UNCOUPLED),
    "c/schedule_coupled.c.j2": (
        Part(names=RUN + ("lg_fired",), code=("step", "after_spike")),
        Part(when="inhibition", code=("margin",)),
        Part(each="state", roles=("state", "trace")),
        Part(each="input", when="read", roles=ANY),
        Part(when="flush_denormals", names=("lg_flush_begin",)),
        Part(include="c/coupled_synapse_in.c.j2"),
        Part(when="synapses", include="c/coupled_synapse_out.c.j2")),
    "c/coupled_synapse_in.c.j2": (
        Part(each="synapse", names=ARRIVING, roles=WEIGHTS),
        Part(each="synapse", when="plastic_direct", names=("LG_WEIGHT_PLASTIC",)),
        Part(each="synapse", when="plastic", code=("plastic_in",))),
    "c/coupled_synapse_out.c.j2": (
        Part(names=("lg_step0", "memcpy")),
        Part(each="synapse", names=("LG_WEIGHT_SPARSE",), roles=SPARSE),
        Part(each="synapse", when="plastic", code=("plastic_out",)),
        Part(each="synapse", when="driven", names=("LG_DRIVE_NONE", "LG_DRIVE_PLAYBACK",
                                                   "lg_uniform"), roles=DRIVE)),
    "cuda/values.cu.j2": (
        Part(names=("lg_n_neurons",)),
        Part(when="scratch_read", names=("lg_work",)),
        Part(each="state", when="state_read", roles=("state",))),
    "cuda/spike_out.cu.j2": (
        Part(names=("lg_counts", "lg_step0", "lg_spikes", "lg_n_batch", "lg_record",
                    "lg_n_record", "lg_lower_bound")),
        Part(each="state", roles=("trace",))),
    "cuda/neuron.cu.j2": (
        Part(names=RUN + ("lg_lower_bound",), code=("step", "after_spike")),
        Part(each="state", roles=("state", "trace"), locals=("x",)),
        Part(each="input", when="held", roles=HELD),
        Part(each="input", when="streamed", roles=ANY),
        Part(each="input", when="time", roles=PER_STEP),
        Part(when="precise", names=("lg_spike_offsets",)),
        Part(include="cuda/values.cu.j2")),
    "cuda/coupled_neuron.cu.j2": (
        Part(code=("step",), include="cuda/values.cu.j2"),
        Part(when="inhibition", code=("margin",)),
        Part(when="no_inhibition", code=("after_spike",), include="cuda/spike_out.cu.j2"),
        Part(each="state", roles=("state",)),
        Part(each="input", when="read", roles=ANY),
        Part(when="synapses", names=("lg_fired",)),
        Part(each="synapse", names=ARRIVING, roles=WEIGHTS),
        Part(each="synapse", when="bias", names=("lg_work",)),
        Part(each="synapse", when="target", locals=("target_x",)),
        Part(each="synapse", when="drops", locals=("refractory_x",))),
    "cuda/coupled_inhibition.cu.j2": (
        Part(code=("after_spike",), include="cuda/values.cu.j2"),
        Part(include="cuda/spike_out.cu.j2"),
        Part(each="state", roles=("state",))),
    "cuda/coupled_spikes.cu.j2": (
        Part(names=("lg_fired",)),
        Part(when="synapses", names=("lg_n_neurons",)),
        Part(each="synapse", names=("lg_step0", "LG_WEIGHT_SPARSE"), roles=SPARSE)),
    "cuda/coupled_drive.cu.j2": (
        Part(each="y", names=("lg_step0", "lg_n_neurons", "LG_DRIVE_PLAYBACK", "lg_uniform"),
             roles=DRIVE),),
}


def body_uses(k: KernelContext) -> frozenset[str]:
    """What a C kernel's body declares it reads: the prologue (c/body.c.j2) and its schedule."""
    return template_uses(k, "c/body.c.j2") | template_uses(k, k.schedule)


def template_uses(k: KernelContext, template: str, y: SynapseNames | None = None,
                  reads: frozenset[str] = frozenset()) -> frozenset[str]:
    """What `template` (and what it includes) declares it reads for kernel `k`; `y`: the synapse
    type it is rendered for; `reads`: what a CUDA thread's code reads (thread_reads)."""
    found: set[str] = set()
    for part, owner in _active(k, template, y, reads):
        found |= set(part.names) | _code(k, part, owner) | _locals(part, owner)
        found |= {field_local(role, owner.name) for role in part.roles}
    return frozenset(found)


def thread_reads(k: KernelContext, template: str, y: SynapseNames | None = None) -> frozenset[str]:
    """What a CUDA thread's code reads in `template`: the inserted code's uses and the owners'
    locals, which its values (values.cu.j2, whose own parts read no code) must provide."""
    found: set[str] = set()
    for part, owner in _active(k, template, y, frozenset()):
        found |= _code(k, part, owner) | _locals(part, owner)
    return frozenset(found)


def _active(k: KernelContext, template: str, y: SynapseNames | None,
            reads: frozenset[str]) -> Iterator[tuple[Part, Any]]:
    """The parts of `template` (includes followed) that hold, each with its owner (None: the
    kernel)."""
    for part in TEMPLATES[template]:
        for owner in _owners(k, part, y):
            if WHEN[part.when](k, owner, reads):
                yield part, owner
                if part.include:
                    yield from _active(k, part.include, y, reads)


def _owners(k: KernelContext, part: Part, y: SynapseNames | None) -> list[Any]:
    """What `part` runs over: the kernel (None), the synapse type rendered for, or each of the
    kernel's states, parameters, inputs or synapse types."""
    if not part.each:
        return [None]
    return [y] if part.each == "y" else list(getattr(k, EACH[part.each]))


def _code(k: KernelContext, part: Part, owner: Any) -> set[str]:
    source = k if owner is None else owner
    return {name for code in part.code for name in getattr(source, f"{code}_uses")}


def _locals(part: Part, owner: Any) -> set[str]:
    return {getattr(owner, name) for name in part.locals}


def _reads_scratch(k: KernelContext, reads: frozenset[str]) -> bool:
    """Whether a thread reads a parameter or constant, which values.cu.j2 takes from lg_work."""
    return any((p.c if p.shared else p.tile) in reads for p in k.parameters) or any(
        (c.c if c.shared else c.tile) in reads for c in k.constants)


PlasticFlag = Callable[[Plastic, Dialect], bool]
# The conditions of the plastic blocks' parts: of the synapse model bound, and of the dialect.
PLASTIC_WHEN: dict[str, PlasticFlag] = {
    "always": lambda plastic, dialect: True,
    "connections": lambda plastic, dialect: plastic.source == "connections",
    "drive": lambda plastic, dialect: plastic.source == "drive",
    "parameters": lambda plastic, dialect: bool(plastic.model.parameters),
    "on_post": lambda plastic, dialect: bool(plastic.model.on_post),
    "fast_scan": lambda plastic, dialect: dialect.fast_scan,
}
# The blocks of codegen/plasticity.py: "arrivals" and "departures" (kernel_blocks, the C
# target's coupled schedule), "spikes" (_presynaptic_spikes) and CUDA's "device" (cuda_block).
# code=("statements",): the synapse model's statements, whose calls need helpers.
PLASTIC: dict[str, tuple[Part, ...]] = {
    "arrivals": (
        Part(names=("LG_WEIGHT_PLASTIC", "lg_step0", "lg_dt", "lg_n_batch"), code=("statements",),
             roles=("weight_kind", "ring_slots", "plastic_states", "plastic_history",
                    "plastic_record", "plastic_n_record", "plastic_trace")),
        Part(when="connections", roles=("rows", "post", "delay")),
        Part(when="drive", roles=("drive_sources", "drive_rows", "drive_post", "drive_delay")),
        Part(when="parameters", roles=("plastic_params",)),
        Part(when="on_post", roles=("plastic_cols", "plastic_index")),
        Part(when="fast_scan", names=("memcpy",))),
    "departures": (
        Part(names=("LG_WEIGHT_PLASTIC", "lg_step0"), roles=("weight_kind",), include="spikes"),),
    "spikes": (
        Part(roles=("plastic_history", "ring_slots")),
        Part(when="drive", names=("LG_DRIVE_PLAYBACK", "lg_uniform"),
             roles=("drive_sources", "drive_kind", "drive_start", "drive_events", "drive_seed",
                    "drive_probability", "drive_time_stride", "drive_source_stride"))),
    "device": (
        Part(names=("lg_n_neurons", "lg_fired", "lg_step0"), roles=("ring", "ring_slots"),
             include="spikes"),
        Part(include="arrivals")),
}


def plastic_uses(plastic: Plastic, block: str, dialect: Dialect = C) -> frozenset[str]:
    """What `block` of a plastic synapse type's code (PLASTIC) reads: the kernel's names, the
    fields of its synapse type by role, the helpers its synapse model's statements call."""
    found: set[str] = set()
    for part in _plastic_active(plastic, block, dialect):
        found |= set(part.names) | {field_local(r, plastic.synapse_type) for r in part.roles}
        found |= _statement_uses(plastic) if "statements" in part.code else set()
    return frozenset(found)


def _plastic_active(plastic: Plastic, block: str, dialect: Dialect) -> Iterator[Part]:
    for part in PLASTIC[block]:
        if PLASTIC_WHEN[part.when](plastic, dialect):
            yield part
            if part.include:
                yield from _plastic_active(plastic, part.include, dialect)


def _statement_uses(plastic: Plastic) -> set[str]:
    """The helpers that a synapse model's C calls: its events', its propagation's and the
    propagation's hoisted constants' functions."""
    model = plastic.model
    constants, propagated = hoisted_propagation(plastic)
    trees = [tree for _, tree in (*model.on_pre, *model.on_post, *constants, *propagated)]
    return {name for function in calls(trees) for name in CALL_USES.get(function, ())}
