"""Render a network's lowered program as CUDA (templates/cuda/network.cu.j2): each phase of a
population's step a device function, launched in order for each step, every batch row at once;
phases that follow one another share a launch where that cannot change a number (`fused`: the
microcircuit's 87 phases a step are 33 launches). The statements are the C target's, printed by
the same printer; only the loops around them differ:

- a phase that ends in a loop of independent iterations (a population's update: one neuron
  each; a projection's delivery: one target each, which gathers its events of the step) runs
  one thread per iteration, the batch rows as the grid's second dimension;
- any other phase (a population's spikes: flags, counts, the spike list in ascending neuron
  order, events (each row into its own part of the event buffers) and traces; a source's
  draws) runs one thread per batch row;
- a local that one phase declares and a later one reads (the step's spike count) goes between
  their kernels through a per-row slot of `lg_carried`, an extra buffer of this target's;
- one row's scratch buffers (the spike list, ...) get a copy per batch row;
- plastic synapses' events run one thread per postsynaptic neuron (its incoming synapses,
  on_pre then on_post), winner-take-all in two levels (a thread per 256 neurons, then one per
  batch row picks among their winners, then a thread per neuron finishes its step).

Deterministic delivery. The program is lowered with NetworkPlan.gather: no two threads of a
kernel add to one element, and each target adds its events in the C target's order (the step's
spikes ascending, then synapses in storage order), so a GPU's float sums are the C target's bit
for bit whatever order its threads run in. How each projection gathers, and what it costs
against atomic adds pushed by each spike (E events of the step, N targets, S synapses):

- dense: one thread per target loops over the step's spikes: E reads, as the push's, coalesced
  (a spike's row is contiguous in the target), with no atomics;
- one-to-one: one thread per spike, its one target its own: as before, without atomics;
- sparse: one thread per target loops over its incoming synapses (a post-indexed copy of the
  projection, in_*, sorted by presynaptic neuron and storage order) and adds those whose
  presynaptic neuron spiked: S index reads a step, not E; for the networks lifgen meets (Brette
  CUBA at 4000 neurons: 320k synapses, about 1.3 MB of int32 read from L2 per step) that is a
  few microseconds, about a launch; at the microcircuit's full scale (300 M synapses) it would
  be a scan of 1.2 GB per step (0.4 ms at 3 TB/s). With sparse_gather="spikes"
  (NetworkPlan.sparse_gather) a target instead takes the step's spikes in turn (ascending) and
  finds each one's synapses among its incoming ones by a galloping search from where the last
  one's ended (lg_first_at_least): E log(S/E) index reads, the same adds in the same order.
  (A segmented reduction of the step's events, sorted by target, would scale with E too, at
  the cost of several kernels and a sort per step.);
- conv2d: one thread per output channel loops over the step's spikes of its group: E events,
  but only as many threads as channels.

Fixed-point accumulation (integer atomics, associative) would be cheaper still but would not
give the C target's float sums, which the C target would then have to adopt too. To check the
claim without a GPU, cuda-host (the text compiled as C) runs a kernel's threads in any order a
test asks for (host.Host(order=...)): reversed and shuffled orders give the C numbers bit for bit.
The neurons' constants are computed on the host by the C program's prologue (the same libm as
the C target's).
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy

from ...codegen.network import NetworkProgram, Phase, PopulationStep, ROW, ROWS

from ...ir.statements import (INDEX, INT, AddTo, Element, Expression, For, If, Integer, Let,
                              Statement, Store, View, calls, nodes)
from ...ir.written import Name, Op
from ...version import __version__
from ..c.network import (NETWORK_HELPERS, NetworkSource, levels, population_line,
                         projection_line)
from ..c.network import render_network as render_c_network
from ..cfamily.kernel import C_TYPES, HELPERS, environment
from ..cfamily.printer import CALL_USES, ELEMENT_TYPES, StatementPrinter, statement_uses

THREADS_PER_BLOCK = 256
CARRIED = "lg_carried"  # the per-row slots of locals handed from one kernel to a later one
ARGUMENTS = ("void *const *lg_buffers, const int64_t lg_step0, const int64_t lg_step, "
             "const int64_t lg_n_batch, const uint64_t lg_seed")
CALL = "lg_buffers, lg_step0, lg_step, lg_n_batch, lg_seed"
ENTRY_PREFIX = "lg_step_"
# compiled as C: the order in which a kernel's threads run (a test's; host.py)
HOST_ORDER = ("int lg_host_order(const int64_t *order, const int64_t size);\n"
              "int64_t lg_host_index_reads(void);\n")


@dataclass(frozen=True)
class PhaseKernel:
    """One phase as a device function: `threads` threads per batch row (1 and not `parallel`:
    one thread runs the phase); `body` is one thread's code; `writes` the buffers it stores or
    adds into, `touches` every buffer it reads or writes."""

    entry: str
    comment: str
    threads: int
    body: str
    parallel: bool = False
    writes: frozenset[str] = frozenset()
    touches: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Launch:
    """One kernel launch of a step: phases that follow one another fused where that cannot
    change a number. In `sequence`, one thread per batch row runs its phases in turn; else each
    phase has a range of the threads of its own (phases that share no buffer one writes)."""

    entry: str
    parts: tuple[PhaseKernel, ...]
    sequence: bool

    @property
    def threads(self) -> int:
        return 1 if self.sequence else sum(p.threads for p in self.parts)

    @property
    def ranges(self) -> list[tuple[PhaseKernel, int]]:
        """Each part with its first thread (in a sequence, every part's thread is 0)."""
        starts = [0] * len(self.parts) if self.sequence else [
            sum(p.threads for p in self.parts[:i]) for i in range(len(self.parts))]
        return list(zip(self.parts, starts))

    @property
    def comment(self) -> str:
        if len(self.parts) == 1:
            return self.parts[0].comment
        how = "in turn by one thread per batch row" if self.sequence else "each on its own threads"
        return f"{', '.join(p.entry.removeprefix(ENTRY_PREFIX) for p in self.parts)}, {how}"

    def launch(self, rows: int) -> tuple[tuple[int, int], int]:
        """(grid, threads per block) of a launch over `rows` batch rows."""
        block = min(THREADS_PER_BLOCK, self.threads)
        return (-(-self.threads // block), rows), block


def fused(kernels: tuple[PhaseKernel, ...]) -> tuple[Launch, ...]:
    """The step's launches: phases run one thread per batch row that follow one another in one
    launch (in turn), and parallel phases that follow one another in one launch where none
    writes a buffer another reads or writes (a pre population's projections into different
    populations or synapse types: each a range of the threads)."""
    groups: list[list[PhaseKernel]] = []
    for kernel in kernels:
        group = groups[-1] if groups else []
        if group and not kernel.parallel and not group[0].parallel:
            group.append(kernel)
        elif group and kernel.parallel and group[0].parallel and all(
                not (kernel.writes & other.touches or other.writes & kernel.touches)
                for other in group):
            group.append(kernel)
        else:
            groups.append([kernel])
    return tuple(Launch(group[0].entry if len(group) == 1 else
                        f"{group[0].entry}_to_{group[-1].entry.removeprefix(ENTRY_PREFIX)}",
                        tuple(group), not group[0].parallel) for group in groups)


@dataclass(frozen=True)
class CudaNetworkSource:
    """A network's CUDA source, its kernels in launch order, the C program whose prologue fills
    the constants, and what the kernels write (copied back after a call)."""

    program: NetworkProgram
    text: str
    cdef: str
    kernels: tuple[Launch, ...]  # a step's launches, in order
    carried: int  # slots of lg_carried per batch row
    written: frozenset[str]  # the buffers the steps write
    prologue: NetworkSource

    @property
    def c_source(self) -> str:
        return self.text


def render_network(program: NetworkProgram) -> CudaNetworkSource:
    """The CUDA source of `program`, every phase of every population a kernel."""
    plan = program.plan
    if any(p.run_time_size for p in plan.populations):  # (its threads are counted from n)
        raise ValueError("a run-time population size is for the C target only")
    printer = StatementPrinter(plan.dtype, indent=4)
    slots = _carried_slots(program.populations)
    phases = tuple(_kernel(program, population, phase, slots, printer)
                   for population in program.populations for phase in population.phases)
    kernels = fused(phases)
    called = {name for function in calls([p.statements() for p in program.populations])
              for name in CALL_USES.get(function, ())}  # the prologue runs in C, on the host
    helpers = {name for name in called if name in HELPERS or name in NETWORK_HELPERS}
    for helper in list(helpers):
        helpers.update(HELPERS.get(helper, ()))
    text = environment().get_template("cuda/network.cu.j2").render(
        version=__version__, real=C_TYPES[plan.dtype], phases=phases, launches=kernels,
        arguments=ARGUMENTS,
        call=CALL, populations=[population_line(p) for p in plan.populations],
        projections=[projection_line(plan, j) for j in plan.projections],
        k=_Helpers(frozenset(helpers), "fabsf" if plan.dtype == "float32" else "fabs",
                   levels(plan)))
    cdef = HOST_ORDER + "".join(f"int {k.entry}({ARGUMENTS});\n" for k in kernels)
    return CudaNetworkSource(program, text, cdef, kernels, len(set(slots.values())),
                             _written(program), render_c_network(program))


@dataclass(frozen=True)
class _Helpers:
    """What the shared helper templates read."""

    helpers: frozenset[str]
    fabs: str
    levels: tuple[str, ...] = ()
    inline: str = "LG_DEVICE"
    constant: str = "LG_CONSTANT"


def _carried_slots(populations: tuple[PopulationStep, ...]) -> dict[tuple[int, str], int]:
    """A slot of lg_carried for each local that a phase declares and a later phase of its
    population reads: (population, name) -> slot."""
    slots: dict[tuple[int, str], int] = {}
    for k, population in enumerate(populations):
        for i, phase in enumerate(population.phases):
            if phase.own_scope:
                continue
            later = frozenset().union(*(statement_uses(p.statements)
                                        for p in population.phases[i + 1:]))
            for s in phase.statements:
                if isinstance(s, Let) and s.name in later:
                    if phase.threads or s.type not in (INDEX, INT):
                        raise ValueError(f"phase {phase.name}: {s.name} cannot be carried")
                    slots[(k, s.name)] = len(slots)
    return slots


def _kernel(program: NetworkProgram, population: PopulationStep, phase: Phase,
            slots: dict[tuple[int, str], int], printer: StatementPrinter) -> PhaseKernel:
    """One thread's code of `phase`: the buffers and values it reads, carried locals loaded,
    its statements, and the locals it hands on stored."""
    k = program.populations.index(population)
    statements = _thread(phase)
    declared = {s.name for s in phase.statements if isinstance(s, Let)}
    carried_in = [Let(name, Element(CARRIED, _slot(slot)), INDEX) for (q, name), slot in slots.items()
                  if q == k and name not in declared and name in statement_uses(statements)]
    carried_out = [Store(CARRIED, _slot(slot), Name(sympy.Symbol(name)))
                   for (q, name), slot in slots.items() if q == k and name in declared]
    values = _needed((*program.step_values, *population.setup, *carried_in),
                     (*statements, *carried_out))
    code = (*values, *statements, *carried_out)
    uses = statement_uses(code)
    lines = [_unpack(program, name, index) for index, name in enumerate(_names(program))
             if name in uses]
    body = "\n".join([*lines, printer.text(code)])
    what = {True: f"one thread per iteration (at most {phase.threads} per batch row)",
            False: "one thread per batch row"}[phase.threads > 0]
    views = {node.name: node.array for node in nodes(code) if isinstance(node, View)}
    writes = frozenset(views.get(node.array, node.array) for node in nodes(code)
                       if isinstance(node, (Store, AddTo)))
    return PhaseKernel(ENTRY_PREFIX + phase.name, f"{population.comment}: {phase.name}, {what}",
                       max(phase.threads, 1), body, phase.threads > 0, writes,
                       writes | (uses & frozenset(_names(program))))


def _thread(phase: Phase) -> tuple[Statement, ...]:
    """A phase as one thread runs it: a parallel phase's last loop becomes iteration lg_g."""
    if not phase.threads:
        return phase.statements
    *before, loop = phase.statements
    assert isinstance(loop, For), f"phase {phase.name} does not end in a loop"
    g: Expression = Name(sympy.Symbol("lg_g"))
    start = g if loop.start == Integer(0) else Op("+", loop.start, g)
    counter = Name(sympy.Symbol(loop.counter))
    return (*before, Let(loop.counter, start, INDEX),
            If(Op("<", counter, loop.stop), loop.body))


def _slot(slot: int) -> Expression:
    return Op("+", Op("*", Integer(slot), ROWS), ROW)


def _needed(values: tuple[Statement, ...], code: tuple[Statement, ...]) -> tuple[Statement, ...]:
    """The values (views and locals) that `code` reads, directly or through other values."""
    uses = set(statement_uses(code))
    kept: list[Statement] = []
    for value in reversed(values):
        if isinstance(value, (Let, View)) and value.name in uses:
            kept.append(value)
            uses |= statement_uses(value)
    return tuple(reversed(kept))


def _names(program: NetworkProgram) -> list[str]:
    return [b.name for b in program.buffers] + [CARRIED]


def _unpack(program: NetworkProgram, name: str, index: int) -> str:
    """Buffer `index` of lg_buffers as its typed pointer; one row's part of a scratch buffer."""
    buffer = next((b for b in program.buffers if b.name == name), None)
    element = ELEMENT_TYPES[buffer.element if buffer else "int64"]
    row = f" + lg_b * {buffer.scratch}" if buffer is not None and buffer.scratch else ""
    return f"    {element} *const restrict {name} = ({element} *)lg_buffers[{index}]{row};"


def _written(program: NetworkProgram) -> frozenset[str]:
    """The buffers the steps store or add into, directly or through a view (a view's name is
    its population's, or its phase's, own)."""
    written: set[str] = set()
    for population in program.populations:
        for phase in population.phases:
            tree = (population.setup, phase.statements)
            views = {node.name: node.array for node in nodes(tree) if isinstance(node, View)}
            written |= {views.get(node.array, node.array) for node in nodes(tree)
                        if isinstance(node, (Store, AddTo))}
    return frozenset(written)
