"""What each template of the C family reads from outside itself, declared as data beside the
schedules (as Brian2's templates declare USES_VARIABLES), not found by scanning generated text.

A template reads fields of `lg_args` (fixed ones by their local name, the others by role per
state, parameter or input), lifgen's helpers and sizes, and it
inserts printed code whose uses the statement IR declares (printer.statement_uses). `with_body`
unpacks, defines and declares exactly what the rendered templates declare here;
tests/test_declared_uses.py renders every schedule and checks each declaration against the text
it produced.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterator

from ...codegen.naming import field_local
from .context import KernelContext


@dataclass(frozen=True)
class Part:
    """A part of a template and what it reads when `when` holds: for the kernel, or (`each`) for
    every state, parameter or input it runs over.

    `names`: lifgen's own identifiers (fixed fields, helpers, sizes); `roles`:
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
# The conditions that switch parts on: of the kernel (owner None), of the state or input a part
# runs over, or of what a CUDA thread's code reads (values.cu.j2 declares only that).
WHEN: dict[str, Flag] = {
    "always": lambda k, owner, reads: True,
    "precise": lambda k, owner, reads: k.precise,
    "flush_denormals": lambda k, owner, reads: k.flush_denormals,
    "propagators": lambda k, owner, reads: bool(k.propagators),
    # inputs that the step reads, by how they arrive
    "held": lambda k, u, reads: u.in_loop and u.layout == "held",
    "streamed": lambda k, u, reads: u.in_loop and u.layout == "streamed",
    "time": lambda k, u, reads: u.in_loop and u.layout == "time",
    # a CUDA thread's values
    "scratch_read": lambda k, owner, reads: _reads_scratch(k, reads),
    "state_read": lambda k, s, reads: s.x in reads,
}
EACH = {"state": "states", "parameter": "parameters", "input": "inputs"}

RUN = ("lg_n_steps", "lg_n_batch", "lg_step0", "lg_counts", "lg_spikes", "lg_record",
       "lg_n_record")  # the run's sizes and outputs
HELD = ("input", "input_batch_stride", "input_neuron_stride")
PER_STEP = ("input", "input_time_stride", "input_batch_stride")
ANY = ("input", "input_time_stride", "input_batch_stride", "input_neuron_stride")

# What both schedules of a run (tiles, streamed) read besides their own sizes.
SCHEDULED = (
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
        Part(names=RUN + ("LG_TILE", "lg_lower_bound"), code=("step", "after_spike", "rounds")),
        *SCHEDULED),
    "c/schedule_streamed.c.j2": (
        Part(names=RUN + ("LG_CHUNK", "LG_BLOCK", "lg_lower_bound"), code=("step", "after_spike")),
        *SCHEDULED),
    "cuda/values.cu.j2": (
        Part(names=("lg_n_neurons",)),
        Part(when="scratch_read", names=("lg_work",)),
        Part(each="state", when="state_read", roles=("state",))),
    "cuda/neuron.cu.j2": (
        Part(names=RUN + ("lg_lower_bound",), code=("step", "after_spike")),
        Part(each="state", roles=("state", "trace"), locals=("x",)),
        Part(each="input", when="held", roles=HELD),
        Part(each="input", when="streamed", roles=ANY),
        Part(each="input", when="time", roles=PER_STEP),
        Part(when="precise", names=("lg_spike_offsets",)),
        Part(include="cuda/values.cu.j2")),
}


def body_uses(k: KernelContext) -> frozenset[str]:
    """What a C kernel's body declares it reads: the prologue (c/body.c.j2) and its schedule."""
    return template_uses(k, "c/body.c.j2") | template_uses(k, k.schedule)


def template_uses(k: KernelContext, template: str,
                  reads: frozenset[str] = frozenset()) -> frozenset[str]:
    """What `template` (and what it includes) declares it reads for kernel `k`; `reads`: what a
    CUDA thread's code reads (thread_reads)."""
    found: set[str] = set()
    for part, owner in _active(k, template, reads):
        found |= set(part.names) | _code(k, part, owner) | _locals(part, owner)
        found |= {field_local(role, owner.name) for role in part.roles}
    return frozenset(found)


def thread_reads(k: KernelContext, template: str) -> frozenset[str]:
    """What a CUDA thread's code reads in `template`: the inserted code's uses and the owners'
    locals, which its values (values.cu.j2, whose own parts read no code) must provide."""
    found: set[str] = set()
    for part, owner in _active(k, template, frozenset()):
        found |= _code(k, part, owner) | _locals(part, owner)
    return frozenset(found)


def _active(k: KernelContext, template: str,
            reads: frozenset[str]) -> Iterator[tuple[Part, Any]]:
    """The parts of `template` (includes followed) that hold, each with its owner (None: the
    kernel)."""
    for part in TEMPLATES[template]:
        for owner in _owners(k, part):
            if WHEN[part.when](k, owner, reads):
                yield part, owner
                if part.include:
                    yield from _active(k, part.include, reads)


def _owners(k: KernelContext, part: Part) -> list[Any]:
    """What `part` runs over: the kernel (None), or each of its states, parameters or inputs."""
    if not part.each:
        return [None]
    return list(getattr(k, EACH[part.each]))


def _code(k: KernelContext, part: Part, owner: Any) -> set[str]:
    source = k if owner is None else owner
    return {name for code in part.code for name in getattr(source, f"{code}_uses")}


def _locals(part: Part, owner: Any) -> set[str]:
    return {getattr(owner, name) for name in part.locals}


def _reads_scratch(k: KernelContext, reads: frozenset[str]) -> bool:
    """Whether a thread reads a parameter or constant, which values.cu.j2 takes from lg_work."""
    return any((p.c if p.shared else p.tile) in reads for p in k.parameters) or any(
        (c.c if c.shared else c.tile) in reads for c in k.constants)
