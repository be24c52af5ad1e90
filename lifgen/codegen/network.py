"""Lower a network's coupled step into the statement IR: every population's neuron step, the
delivery of what its delay rings hold, its spikes and traces, and its projections' synaptic
events, all decided here in Python and printed by every target alike.

The program advances each batch row through the steps of a call; within a step the populations
are updated in the plan's order (a topological order of the zero-delay projections), and right
after a population's update its projections add their events into the delay rings of their post
populations, at slot (step + delay) mod slots. A post population reads and clears its slot of
the step before its own update, so a zero-delay event arrives in the same step. The summation
order is fixed by the loops (projections in plan order, presynaptic neurons ascending, synapses in
storage order), so every run and every target adds the same numbers in the same order.

A plastic projection keeps its presynaptic spikes in a history of (largest delay + 1) steps
after its pre population's update; at the start of its post population's update (before the
neurons read their ring slot) it runs on_pre for the spikes of step t - k arriving through the
synapses of delay k, adding to that slot, then on_post for the post neurons that spiked in the
previous step: each event as synapse_events.py lowers it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import sympy

from ..errors import InputError
from ..ir.model import REFRACTORY_STATE, Model, Synapse
from ..ir.statements import (INDEX, INT, KEY, AddTo, Assign, Block, Cast, Comment, Element, Equal,
                             Expression, For, If, Integer, Let, Loop, MatrixExponential,
                             NeuronStep, Remainder, Select, Statement, Store, View, identifiers,
                             nodes)
from ..ir.symbols import DT
from ..ir.functions import dense_entries
from ..ir.written import (Call, Name, Neg, Not, Num, Op, matrix_entries, shown_entries, substitute,
                         to_text)
from ..numerics.discretize import StepMap
from .lower import StepOptions, lower, shared_constants, state_names
from .naming import ARRAY_PREFIXES, NEURON, local
from .synapse_binding import Plastic
from .synapse_events import POST, SYNAPSE, Site, event, per_step, propagated, state_local

# Weight layouts of a projection, each with its own delivery loop (chosen when the network is
# compiled, as GeNN picks a delivery strategy per synapse group); a plastic one's synapses follow
# a synapse model (synapse_events.py), its events run at the start of the post population's step.
WEIGHT_KINDS = ("dense", "one_to_one", "sparse", "conv2d", "plastic")
# Poisson/Bernoulli draws, recorded spikes played back, a (T, batch, n) raster read row by row,
# a Poisson number of events per step (PoissonInput), which its projections multiply, or a
# (T, batch, n) array of real values (NIR's input currents), each nonzero one an event of that value
SOURCE_KINDS = ("random", "train", "raster", "counts", "values")
MAX_DRAWS = 64  # uniforms one Poisson count may take (its mean is at most 20)
COUNTED = ("counts", "train", "values")  # sources whose events carry a multiple of the weight


def name(identifier: str) -> Name:
    return Name(sympy.Symbol(identifier))


def plus(*terms: Expression) -> Expression:
    total = terms[0]
    for term in terms[1:]:
        total = Op("+", total, term)
    return total


def times(a: Expression, b: Expression) -> Expression:
    return Op("*", a, b)


@dataclass(frozen=True)
class PopulationPlan:
    """One population as the program sees it: its size and either its model's step map (with
    the synapse types that receive projections and their ring slots) or the kind of its source.
    `neuron0` numbers its first neuron among the network's, for its noise draws."""

    name: str
    n: int
    step_map: StepMap | None = None
    source: str = ""  # a SOURCE_KINDS entry for a spike source
    rings: tuple[tuple[str, int], ...] = ()  # (synapse type, slots) of each receiving type
    traced: tuple[str, ...] = ()  # states whose traces this program records
    shared: frozenset[str] = frozenset()  # parameters with one value for every neuron
    uniform_inputs: frozenset[str] = frozenset()  # inputs with one value for every neuron
    probability_strides: tuple[int, int] = (0, 0)  # random sources: (time, source) strides
    raster_strides: tuple[int, int] = (0, 0)  # raster sources: (time, batch row) strides
    unrecorded: bool = False  # a source whose spikes the run keeps no raster of
    neuron0: int = 0
    inhibition: bool = False  # winner-take-all: only the neuron furthest above threshold spikes
    levels: tuple[float, ...] = ()  # state quantisation levels, sorted; () for none
    # its size is read at run time (lg_P0_size [1], the local lg_size), not n: the one-population
    # program of a library that takes n at run time (lifgen emit); its loops and strides read it
    run_time_size: bool = False

    def slots(self, synapse: str) -> int:
        return dict(self.rings)[synapse]


@dataclass(frozen=True)
class ProjectionPlan:
    """Events from `pre` into synapse type `synapse` of `post` (indices into the plan's
    populations): the weight layout, and the delay in steps of dense and one-to-one weights
    (sparse ones keep a delay per synapse; a plastic one's is its largest, which sizes its
    history of presynaptic spikes). A plastic one carries its synapse model's binding and
    whether this program records chosen synapses' states."""

    pre: int
    post: int
    synapse: str
    kind: str
    delay: int = 0
    factor: float = 1.0  # each event's weight times this (snnTorch's graded_spikes_factor)
    # a self-projection of delay 1 (dense or one-to-one) whose events the population reads from
    # its own flags when they arrive, not through the ring: a single population's connections
    at_arrival: bool = False
    optional: bool = False  # (at arrival or direct) its weights buffer may be NULL: no events
    # every event arrives one step after its spike and adds to a state (`adds_directly`): it is
    # added straight into that state once both populations have stepped, with no ring to read
    # and clear (as Brian2's synapses add in the step of the spike); delivered in the step of
    # whichever population steps later
    direct: bool = False
    plastic: Plastic | None = None
    recorded: bool = False
    # a convolution's loop sizes (kind "conv2d"): output channels per group, output channels,
    # kernel rows, kernel columns, output rows x columns, output columns between a run's
    # targets, 1 if the post population is numbered channels-last (Convolution.geometry)
    conv: tuple[int, ...] = ()
    # its block delivery's sizes where it has one (Convolution.block_geometry): block rows, a
    # block row's length, a padded row's, output rows, an output row's length, the padded
    # index of output (0, 0), the padded plane's size
    block: tuple[int, ...] = ()


@dataclass(frozen=True)
class NetworkPlan:
    """What one program computes: populations in update order and projections, a float type
    and whether it writes spike rasters."""

    populations: tuple[PopulationPlan, ...]
    projections: tuple[ProjectionPlan, ...]
    dtype: str = "float64"
    raster: bool = False
    # the rasters of small populations (raster_by_row) laid out [batch][step][n], a row's steps
    # one after the other as the program runs them, not [step][batch][n]; a call is the run
    raster_by_row: bool = False
    events: bool = False  # whether it writes each spike's (step, neuron) to event buffers
    flush_denormals: bool = False  # denormal floats read and written as zero while it runs
    call_inputs: bool = False  # inputs' rows counted from the call's first step, not step 0
    threads: int = 1  # batch rows run on this many threads at once (the C target: OpenMP)
    # each projection's events gathered by their targets (one thread per postsynaptic neuron
    # adding in the push's order), not pushed by each spike: for a target that runs a scatter's
    # iterations as threads at once (the cuda target), so that sums keep C's order, bit for bit
    gather: bool = False
    # gathered, how a target finds its sparse projections' events (SPARSE_GATHERS)
    sparse_gather: str = "incoming"


# How a gathering program's target finds its events through a sparse projection, both in the
# push's order: "incoming" reads each of its incoming synapses and adds those whose presynaptic
# neuron spiked (S reads a step, whatever the activity); "spikes" looks up each of the step's
# spiking presynaptic neurons among its incoming synapses (sorted by presynaptic neuron: a
# galloping search from the last one's), E log(S / E) reads: fewer where activity is sparse
SPARSE_GATHERS = ("incoming", "spikes")


@dataclass(frozen=True)
class Buffer:
    """An array the program reads or writes, passed in this order; `element` names its C type
    (ELEMENT_TYPES of the printers) and `comment` what it holds and its shape."""

    name: str
    element: str
    comment: str
    scratch: int = 0  # > 0: one batch row's scratch of this many elements, which a target
    # running batch rows at once gives each row


@dataclass(frozen=True)
class Phase:
    """One part of a population's step of one batch row: `statements`, in order. `threads` > 0:
    they end in a For whose iterations are independent (each writes elements of its own), which
    a GPU runs as one thread each (at most `threads`); 0: one thread runs them all.
    `own_scope`: its locals are its own (C prints it as a block). Batch rows share nothing
    that a phase writes, so they may run at once."""

    name: str  # P0_update, P0_spikes, J2_scatter
    statements: tuple[Statement, ...]
    threads: int = 0
    own_scope: bool = False


@dataclass(frozen=True)
class PopulationStep:
    """A population's part of a step: `setup` (views and values that every phase may read),
    then its phases in order: its update, its spikes, its projections' scatter."""

    comment: str
    setup: tuple[Statement, ...]
    phases: tuple[Phase, ...]

    def statements(self) -> tuple[Statement, ...]:
        """The step as one sequence (C and the test target run the phases one after another)."""
        out: list[Statement] = [Comment(self.comment), *self.setup]
        for phase in self.phases:
            out += [Block(phase.statements)] if phase.own_scope else list(phase.statements)
        return (Block(tuple(out)),)


@dataclass(frozen=True)
class NetworkProgram:
    """The lowered program: its buffers, what runs once per call before the steps (each
    neuron's constants), and the steps: values of the step (`step_values`), then each
    population's phases. `body` is all of it as loops over batch rows and steps; a GPU target
    runs the phases as kernels instead, every batch row at once."""

    plan: NetworkPlan
    buffers: tuple[Buffer, ...]
    prologue: tuple[Statement, ...]
    step_values: tuple[Statement, ...]
    populations: tuple[PopulationStep, ...]
    calls: frozenset[str] = field(default_factory=frozenset)

    @property
    def steps(self) -> For:
        """One batch row's steps."""
        steps = (*self.step_values, *(s for p in self.populations for s in p.statements()))
        return For("lg_step", Integer(0), name("lg_n_steps"), steps)

    @property
    def body(self) -> tuple[Statement, ...]:
        return (For("lg_b", Integer(0), ROWS, (self.steps,)),)


def population_buffer(k: int, role: str, owner: str = "") -> str:
    """The program's name of population k's array `role` (of state, parameter, ... `owner`):
    lg_P0_state_V. The index keeps names apart whatever the populations and models are named."""
    return f"lg_P{k}_{role}" + (f"_{owner}" if owner else "")


def projection_buffer(j: int, role: str) -> str:
    return f"lg_J{j}_{role}"


# The step's locals of a population: the step counter, its absolute step (counted from the
# first run of those a run continues: what draws, delay rings and spike histories are keyed
# by), the step within this run (what the run's own arrays are indexed by), the batch row.
STEP, TIME, ROW = name("lg_step"), name("lg_t"), name("lg_b")
RUN_TIME = name("lg_run_t")
ROWS, STEP0 = name("lg_n_batch"), name("lg_step0")
# the absolute step of the run's step 0 (0, or the steps of the runs it continues)
ORIGIN = "lg_origin"


def lower_network(plan: NetworkPlan) -> NetworkProgram:
    """The program of `plan`: buffers, the per-call prologue and the batch-row/step loops."""
    buffers: list[Buffer] = []
    prologue: list[Statement] = []
    populations: list[PopulationStep] = []
    if any(p.run_time_size for p in plan.populations):
        _check_run_time_size(plan)
        buffers.append(Buffer(population_buffer(0, "size"), "int64",
                              f"population {plan.populations[0].name}: its size n [1]"))
        prologue.append(Let(SIZE, Element(population_buffer(0, "size"), Integer(0)),
                            INDEX))
    _check_counted_spikes(plan)
    later: dict[int, list[Phase]] = {}  # direct projections into a population that steps later
    for k, population in enumerate(plan.populations):
        outgoing = [(j, p) for j, p in enumerate(plan.projections) if p.pre == k]
        buffers += _population_buffers(k, population, plan)
        if population.step_map is not None:
            step = _neuron_step(population)
            prologue += _constants(k, population)
            setup, phases = _neuron_update(k, population, plan, step)
        else:
            setup = [View("lg_fired", population_buffer(k, "fired"), _row(population), "uint8")]
            phases = [_source_update(k, population, plan)]
        if _counted_later(k, plan):  # its spike count, for the later population's step
            phases.append(Phase(f"P{k}_count", (Store(population_buffer(k, "spike_total"),
                                                      Integer(0), name("lg_n_spikes")),)))
        for j, projection in outgoing:
            buffers += _projection_buffers(j, projection, plan)
            if projection.at_arrival:  # (those are read by the post population)
                continue
            if projection.direct and projection.post > k:
                count = Element(population_buffer(k, "spike_total"), Integer(0))
                later.setdefault(projection.post, []).append(Phase(
                    f"J{j}_scatter", tuple(_scatter(j, projection, plan, count)),
                    threads=_scatter_threads(projection, plan), own_scope=True))
            else:
                phases.append(Phase(f"J{j}_scatter", tuple(_scatter(j, projection, plan)),
                                    threads=_scatter_threads(projection, plan), own_scope=True))
        phases += later.pop(k, [])
        populations.append(PopulationStep(_population_comment(population), tuple(setup),
                                          tuple(phases)))
    buffers.append(Buffer(ORIGIN, "int64", "the absolute step of this run's step 0: the "
                          "steps of the runs it continues [1]"))
    step_values = (Let("lg_t", plus(STEP0, STEP), INDEX),
                   Let("lg_run_t", Op("-", TIME, Element(ORIGIN, Integer(0))), INDEX))
    calls = frozenset(node.function for node in nodes((prologue, [p.statements() for p in
                                                                   populations]))
                      if isinstance(node, Call))
    if any(isinstance(node, MatrixExponential) for node in nodes(prologue)):
        calls |= {"expm"}
    return NetworkProgram(plan, tuple(buffers), tuple(prologue), step_values,
                          tuple(populations), calls)


SIZE = "lg_size"  # the local of a run-time size, read in the prologue


def spike_count_state(population: PopulationPlan) -> str:
    """The state that holds how many spikes each neuron of the population emits in a step
    (the model's [spike] count), or "": one spike per step where the condition holds."""
    return population.step_map.model.spike_count if population.step_map is not None else ""


def _check_counted_spikes(plan: NetworkPlan) -> None:
    """A population whose spikes are counts feeds projections that deliver from its step's
    spikes (its counts scale their weights); plastic ones and those read at arrival take flags."""
    for projection in plan.projections:
        pre = plan.populations[projection.pre]
        if spike_count_state(pre) and (projection.kind == "plastic" or projection.at_arrival):
            raise InputError(f"population {pre.name!r} emits a count of spikes per step "
                             f"([spike] count = {spike_count_state(pre)!r}); a "
                             f"{'plastic projection' if projection.kind == 'plastic' else 'connection within the population'} "
                             "from it would see one spike: connect it with dense, one-to-one, "
                             "sparse or convolution weights in a network")


def _check_run_time_size(plan: NetworkPlan) -> None:
    """A run-time size is for a one-population program whose projections read at arrival or
    add directly into its states (self-projections of delay 1: no ring)."""
    population = plan.populations[0]
    if (len(plan.populations) != 1 or population.step_map is None or population.rings
            or not all(p.at_arrival or (p.direct and p.kind in ("dense", "one_to_one"))
                       for p in plan.projections)):
        raise ValueError("a run-time size is for one neuron population whose projections are "
                         "all read at arrival or added directly into its states")


def _size(population: PopulationPlan) -> Expression:
    """The population's size as the program reads it: lg_size, or its n."""
    return name(SIZE) if population.run_time_size else Integer(population.n)


def _octets(population: PopulationPlan) -> tuple[Expression | None, Expression | None]:
    """Where a scan of eight flags at a time ends (the number of whole octets) and where the
    neurons after the last whole octet start (None where there are none)."""
    if population.run_time_size:
        size = name(SIZE)
        return Op("/", size, Integer(8)), Op("-", size, Remainder(size, Integer(8)))
    n = population.n
    return (Integer(n // 8) if n >= 8 else None), (Integer(n - n % 8) if n % 8 else None)


def _blocks(population: PopulationPlan) -> Expression | None:
    """The number of whole blocks of 64 flags, which a spike list reads as one word of bits
    each (None where there are none), before the octets left."""
    if population.run_time_size:
        return Op("/", name(SIZE), Integer(64))
    return Integer(population.n // 64) if population.n >= 64 else None


def _population_comment(population: PopulationPlan) -> str:
    if population.step_map is None:
        return f"population {population.name}: {population.n} sources ({population.source})"
    step_map = population.step_map
    size = "n" if population.run_time_size else population.n
    return (f"population {population.name}: {size} neurons of {step_map.model.name}, "
            f"method {step_map.method}")


def _neuron_step(population: PopulationPlan) -> NeuronStep:
    """One neuron's step of a population, as a single population's kernel computes it (a
    parameter or input with one value for all neurons is a plain value, not an array)."""
    step_map = population.step_map
    assert step_map is not None
    if step_map.propagator:
        raise InputError(f"model {step_map.model.name}: precise spike timing is not available "
                         "in networks yet")
    return lower(step_map, StepOptions(inhibition=population.inhibition, levels=population.levels,
                                       time_inputs=population.uniform_inputs,
                                       shared=population.shared))


def _population_buffers(k: int, population: PopulationPlan, plan: NetworkPlan) -> list[Buffer]:
    what = f"population {population.name}"
    n, scratch = ("n" if population.run_time_size else population.n), population.n
    out = [Buffer(population_buffer(k, "fired"), "uint8", f"{what}: spikes of the last step "
                  f"[batch][{n}]"),
           Buffer(population_buffer(k, "spike_list"), "int64",
                  f"{what}: the neurons that spiked in this step (scratch) [{n}]", scratch),
           Buffer(population_buffer(k, "counts"), "int64", f"{what}: spike counts [batch][{n}]")]
    if _counted_later(k, plan):
        out.append(Buffer(population_buffer(k, "spike_total"), "int64",
                          f"{what}: its number of spikes this step (scratch) [1]", 1))
    if plan.raster and not population.unrecorded:
        out.append(Buffer(population_buffer(k, "raster"), "uint8",
                          f"{what}: spikes [batch][step][{n}]" if raster_by_row(population, plan)
                          else f"{what}: spikes [step][batch][{n}]"))
    if plan.events and population.step_map is not None:
        out += [Buffer(population_buffer(k, "event_steps"), "int64",
                       f"{what}: the step of each spike of the call"),
                Buffer(population_buffer(k, "event_neurons"), "int64",
                       f"{what}: the neuron of each spike of the call, batch row * {n} + neuron"),
                Buffer(population_buffer(k, "event_count"), "int64",
                       f"{what}: [0] each batch row's room in the event buffers, [1 + row] "
                       "the row's spikes written there [1 + batch]")]
    if population.source in COUNTED:
        out.append(Buffer(population_buffer(k, "events"), "real",
                          f"{what}: events of each target this step (scratch) [{n}]", scratch))
    if population.source in ("random", "counts"):
        out += [Buffer(population_buffer(k, "probability"), "double",
                       f"{what}: spike probability per step (strides "
                       f"{population.probability_strides})"),
                Buffer(population_buffer(k, "seed"), "uint64", f"{what}: the draws' seed [1]")]
    if population.source == "train":
        out += [Buffer(population_buffer(k, "train_start"), "int64",
                       f"{what}: first event of each step [steps + 1]"),
                Buffer(population_buffer(k, "train_source"), "int64",
                       f"{what}: the source of each event")]
    if population.source == "raster":
        out.append(Buffer(population_buffer(k, "spikes"), "uint8",
                          f"{what}: the sources' spikes [step][batch][{n}] (strides "
                          f"{population.raster_strides})"))
    if population.source == "values":
        out.append(Buffer(population_buffer(k, "values"), "real",
                          f"{what}: the sources' values [step][batch][{n}] (strides "
                          f"{population.raster_strides})"))
    step_map = population.step_map
    if step_map is None:
        return out
    model = step_map.model
    out += [Buffer(population_buffer(k, "state", s), "real", f"{what}: state {s} [batch][{n}]")
            for s in state_names(step_map)]
    out.append(Buffer(population_buffer(k, "spiked"), "real",
                      f"{what}: this step's spikes as numbers (scratch) [{n}]", scratch))
    if population.inhibition:
        out += [Buffer(population_buffer(k, "margin"), "real",
                       f"{what}: how far each neuron is above threshold (scratch) [{n}]", scratch),
                Buffer(population_buffer(k, "was_reset"), "real",
                       f"{what}: whether each neuron's step reset it (scratch) [{n}]", scratch)]
        if plan.gather:
            chunks = winner_chunks(population.n)
            out.append(Buffer(population_buffer(k, "chunk_winner"), "int64",
                              f"{what}: the winner of each {WINNER_CHUNK} neurons (scratch) "
                              f"[{chunks}]", chunks))
    out += [Buffer(population_buffer(k, "param", p), "real", f"{what}: parameter {p} [{n}]")
            for p in model.parameter_names]
    out += [Buffer(population_buffer(k, "constant", c.name.removeprefix("lg_")), "real",
                   f"{what}: {c.name.removeprefix('lg_')} = {to_text(tree)} [{n}]")
            for (c, _), tree in zip(step_map.constants,
                                    shown_entries([t for _, t in step_map.constants]))]
    out += [Buffer(population_buffer(k, "input", u), "real",
                   f"{what}: input {u}, at (step, batch row) strides of its input_strides")
            for u in model.input_names]
    if model.input_names:
        out.append(Buffer(population_buffer(k, "input_strides"), "int64",
                          f"{what}: (step, batch row) strides of each input"))
    read = {p.synapse for p in plan.projections if p.post == k and p.at_arrival}
    out += [Buffer(population_buffer(k, "synapse", y.name), "real",
                   f"{what}: synapse {y.name}'s input this step (scratch) [{n}]", scratch)
            for y in model.synapses if not y.target or y.name in read]
    out += [Buffer(population_buffer(k, "ring", y), "real",
                   f"{what}: delay ring of synapse {y} [batch][{slots} slots][{n}]")
            for y, slots in population.rings]
    if population.traced:
        out += [Buffer(population_buffer(k, "record"), "int64", f"{what}: recorded neurons"),
                Buffer(population_buffer(k, "n_record"), "int64", f"{what}: their number [1]")]
        out += [Buffer(population_buffer(k, "trace", s), "real",
                       f"{what}: trace of {s} [step][batch][recorded]")
                for s in population.traced]
    return out


def _projection_buffers(j: int, projection: ProjectionPlan, plan: NetworkPlan) -> list[Buffer]:
    pre, post = (plan.populations[i].name for i in (projection.pre, projection.post))
    what = f"projection {pre} -> {post}.{projection.synapse}"
    if projection.kind == "dense":
        return [Buffer(projection_buffer(j, "weights"), "real",
                       f"{what}: weights [pre][post] (a presynaptic neuron's row is contiguous)")]
    if projection.kind == "one_to_one":
        return [Buffer(projection_buffer(j, "weights"), "real", f"{what}: weights [pre]")]
    if projection.kind == "plastic":
        return _plastic_buffers(j, projection, what, plan.gather)
    if projection.kind == "conv2d" and _in_blocks(j, plan):
        return [Buffer(projection_buffer(j, table), element, f"{what}: {comment}")
                for table, element, comment in BLOCK_TABLES] + [
            Buffer(projection_buffer(j, "block"), "real", f"{what}: the padded plane of its "
                   f"outputs (scratch) [{projection.block[6]}]", projection.block[6])]
    if projection.kind == "conv2d":
        return [Buffer(projection_buffer(j, "weights"), "real",
                       f"{what}: kernel [in channel][kh][kernel column in run order]"
                       "[out channel of its group]"),
                *(Buffer(projection_buffer(j, table), "int32", f"{what}: {comment}")
                  for table, comment in CONV_TABLES)]
    return [Buffer(projection_buffer(j, "weights"), "real", f"{what}: weight per synapse"),
            Buffer(projection_buffer(j, "post"), "int32", f"{what}: target per synapse"),
            Buffer(projection_buffer(j, "runs"), "int64",
                   f"{what}: first delay run of each presynaptic neuron [pre + 1]"),
            Buffer(projection_buffer(j, "run_first"), "int32",
                   f"{what}: first synapse of each run [runs + 1]"),
            Buffer(projection_buffer(j, "run_delay"), "int16", f"{what}: delay of each run"),
            *(Buffer(projection_buffer(j, role), element, f"{what}: {comment}")
              for role, element, comment in (INCOMING if plan.gather else ()))]


# A sparse projection's synapses by target, for a gathering program (NetworkPlan.gather): each
# target's in the push's order of adds (presynaptic neuron, then storage order)
INCOMING = (("in_first", "int64", "first incoming synapse of each target [post + 1]"),
            ("in_pre", "int32", "presynaptic neuron of each incoming synapse"),
            ("in_synapse", "int32", "storage index of each incoming synapse"),
            ("in_delay", "int16", "delay of each incoming synapse"))


CONV_TABLES = (("pre_oc0", "first output channel of each input neuron's group [pre]"),
               ("pre_w", "each input neuron's kernel offset in-channel*kh*kw*out-per-group "
                         "[pre]"),
               ("pre_y", "each input neuron's row*kh [pre]"),
               ("pre_x", "each input neuron's column [pre]"),
               ("y", "output row*width of (row, kernel row), -1 for none [rows*kh]"),
               ("x_ox", "first output column of each input column's run [columns]"),
               ("x_q", "where each input column's run starts in a kernel row [columns]"),
               ("x_n", "the length of each input column's run [columns]"),
               ("per_group", "output channels per group [1]"))


BLOCK_TABLES = (("block_weights", "real", "kernel taps [in channel][row residue][column "
                  "residue][block row][block column][out channel], 0 where none"),
                ("block_at", "int32", "each input neuron's block's first element in the padded "
                 "plane [pre]"),
                ("block_w", "int32", "each input neuron's taps' offset in the kernel taps [pre]"),
                ("block_row", "int32", "each input neuron's block's first row in the padded "
                 "plane [pre]"))


def _in_blocks(j: int, plan: NetworkPlan) -> bool:
    """Whether convolution j delivers through its padded plane (Convolution.blocks): it has a
    block geometry, pushes its events (a gathering program's threads share no plane), and is
    the only projection into its synapse type, so each ring slot it adds its plane to holds
    zero until then and every sum keeps its bits."""
    projection = plan.projections[j]
    return bool(projection.block) and not plan.gather and not any(
        p.post == projection.post and p.synapse == projection.synapse
        for i, p in enumerate(plan.projections) if i != j)


def _block_events(j: int, projection: ProjectionPlan, weighed: Any,
                  spikes: tuple[str, Expression, Expression], listed: Statement,
                  once: Sequence[Statement]) -> list[Statement]:
    """A convolution's spikes, each adding its taps to a block of the padded plane (fixed
    sizes: the loops vectorize whole, with no test at the edges), then the plane's output rows
    they reached added into the ring slot (zero before: the same sums) and the rows zeroed.
    1.17x faster than _conv_events on the NIR paper's CNN at batch 256, whose 6x6 convolution of
    stride 2 reaches runs of two or three columns in two or three rows, each a loop exit that
    mispredicts."""
    rows, length, padded_row, out_rows, out_row, first, size = projection.block
    plane, taps = projection_buffer(j, "block"), projection_buffer(j, "block_weights")
    low, high, row = name("lg_low"), name("lg_high"), name("lg_row")
    add_taps = For("lg_r", Integer(0), Integer(rows), (For("lg_m", Integer(0), Integer(length), (
        AddTo(plane, plus(name("lg_at"), times(name("lg_r"), Integer(padded_row)), name("lg_m")),
              weighed(Element(taps, plus(name("lg_w"), times(name("lg_r"), Integer(length)),
                                         name("lg_m"))))),)),))
    each = (listed, *once,
            Let("lg_at", Element(projection_buffer(j, "block_at"), "lg_pre"), INDEX),
            Let("lg_w", Element(projection_buffer(j, "block_w"), "lg_pre"), INDEX),
            Let("lg_row", Element(projection_buffer(j, "block_row"), "lg_pre"), INDEX),
            Assign("lg_low", Select(Op("<", row, low), row, low)),
            Assign("lg_high", Select(Op(">", row, high), row, high)), add_taps)
    # the output rows whose padded rows (row + rows - 1) a block covered, and those padded rows
    y0, y1 = plus(low, Integer(1 - rows)), plus(high, Integer(1))
    fold = For("lg_y", name("lg_y0"), name("lg_y1"), (
        For("lg_m", Integer(0), Integer(out_row), (
            AddTo("lg_rings", plus(times(name("lg_slot"), Integer(projection.conv[4] *
                                                                  projection.conv[1])),
                                   times(name("lg_y"), Integer(out_row)), name("lg_m")),
                  Element(plane, plus(Integer(first), times(name("lg_y"), Integer(padded_row)),
                                      name("lg_m")))),)),))
    zeroed = For("lg_m", times(low, Integer(padded_row)),
                 times(plus(high, Integer(rows)), Integer(padded_row)),
                 (Store(plane, name("lg_m"), Num(0.0)),))
    return [Let("lg_low", Integer(size // padded_row), INDEX, mutable=True),
            Let("lg_high", Integer(-1), INDEX, mutable=True),
            For(spikes[0], spikes[1], spikes[2], each),
            Let("lg_y0", Select(Op(">", y0, Integer(0)), y0, Integer(0)), INDEX),
            Let("lg_y1", Select(Op("<", y1, Integer(out_rows)), y1, Integer(out_rows)), INDEX),
            fold, zeroed]


def _conv_events(j: int, projection: ProjectionPlan, into: Any) -> tuple[Statement, ...]:
    """A presynaptic spike's events through a convolution: in each output row it reaches (the
    tables say which), a run of output columns, each with the kernel's weights for the output
    channels of its group. The weights of a run are contiguous (Convolution.by_input), and so
    are its targets in a post population numbered channels-last with one group, undilated,
    where the loop over the run's columns holds one over a known number of channels, which the
    compiler makes vector operations (otherwise that number is read at run time). Each target
    gets at most one event per spike, so its sum runs over the spikes in ascending order, as
    the same Sparse's would: the same numbers bit for bit."""
    per_group, channels, _, _, plane, column_step, channels_last = projection.conv
    run: Statement
    if channels_last and per_group == channels and column_step == 1:
        # (the channels' count known when compiled: each column's adds are vector operations,
        # 1.05-1.09x faster on the NIR paper's CNN than one loop of n x channels adds)
        run = For("lg_m", Integer(0), name("lg_n"), (
            For("lg_o", Integer(0), Integer(per_group), (_conv_add(j, projection, into),)),))
    else:
        # (the channels' count read at run time: a loop of 16 known ones is unrolled, and its
        # adds are left scalar)
        run = For("lg_m", Integer(0), name("lg_n"), (
            For("lg_o", Integer(0), Element(projection_buffer(j, "per_group"), Integer(0)),
                (_conv_add(j, projection, into),)),))
    return (*_conv_tables(j), *_conv_rows(j, projection, run))


def _conv_add(j: int, projection: ProjectionPlan, into: Any) -> Statement:
    """The event of run element lg_m into output channel lg_c0 + lg_o of the spike's group."""
    per_group, channels, _, _, plane, column_step, channels_last = projection.conv
    column = Integer(column_step * (channels if channels_last else 1))
    target = plus(name("lg_at"), times(name("lg_m"), column),
                  times(name("lg_o"), Integer(1 if channels_last else plane)))
    return into("lg_slot", target, Element(projection_buffer(j, "weights"), plus(
        name("lg_w"), times(name("lg_m"), Integer(per_group)), name("lg_o"))))


def _conv_tables(j: int) -> tuple[Statement, ...]:
    """Spike lg_pre's first output channel, kernel offset, input position and run of output
    columns, from the convolution's tables."""
    return tuple(Let(local_, Element(projection_buffer(j, table), index), INDEX)
                 for local_, table, index in (
                     ("lg_c0", "pre_oc0", "lg_pre"), ("lg_cw", "pre_w", "lg_pre"),
                     ("lg_iy", "pre_y", "lg_pre"), ("lg_ix", "pre_x", "lg_pre"),
                     ("lg_ox", "x_ox", "lg_ix"), ("lg_q", "x_q", "lg_ix"),
                     ("lg_n", "x_n", "lg_ix")))


def _conv_rows(j: int, projection: ProjectionPlan, run: Statement) -> tuple[Statement, ...]:
    """For each kernel row whose output row lies inside the plane, the run's first target
    (lg_at) and weight (lg_w), then `run`."""
    _, channels, kh, kw, plane, _, channels_last = projection.conv
    position = plus(name("lg_oy"), name("lg_ox"))
    at = plus(times(position, Integer(channels)), name("lg_c0")) if channels_last else \
        plus(times(name("lg_c0"), Integer(plane)), position)
    per_group = projection.conv[0]
    return (
        For("lg_ky", Integer(0), Integer(kh), (
            Let("lg_oy", Element(projection_buffer(j, "y"), plus(name("lg_iy"), name("lg_ky"))),
                INDEX),
            If(Op(">=", name("lg_oy"), Integer(0)), (
                Let("lg_at", at, INDEX),
                Let("lg_w", plus(name("lg_cw"), times(
                    plus(times(name("lg_ky"), Integer(kw)), name("lg_q")), Integer(per_group))),
                    INDEX),
                run)),)),)


def _plastic_buffers(j: int, projection: ProjectionPlan, what: str,
                     gather: bool = False) -> list[Buffer]:
    """A plastic projection's synapses by presynaptic neuron (CSR, each with its delay), their
    index by postsynaptic neuron (CSC, for on_post; gathering, on_pre too, with each synapse's
    presynaptic neuron), states, parameters, the presynaptic spikes of the last steps, and the
    recorded synapses' states."""
    plastic = projection.plastic
    assert plastic is not None
    model, slots = plastic.model, projection.delay + 1
    out = [Buffer(projection_buffer(j, "rows"), "int64",
                  f"{what}: first synapse of each presynaptic neuron [pre + 1]"),
           Buffer(projection_buffer(j, "post"), "int64", f"{what}: target of each synapse"),
           Buffer(projection_buffer(j, "delay"), "int64",
                  f"{what}: delay of each synapse in steps (>= 1)"),
           Buffer(projection_buffer(j, "cols"), "int64",
                  f"{what}: first incoming synapse of each postsynaptic neuron [post + 1]"),
           Buffer(projection_buffer(j, "index"), "int64",
                  f"{what}: the incoming synapses of each postsynaptic neuron, in turn"),
           Buffer(projection_buffer(j, "states"), "double",
                  f"{what}: per synapse [batch][synapse][last event step, "
                  f"{', '.join(model.state_names)}]"),
           Buffer(projection_buffer(j, "history"), "uint8",
                  f"{what}: presynaptic spikes of the last {slots} steps [batch][{slots}][pre]")]
    if gather:
        out.append(Buffer(projection_buffer(j, "pre"), "int32",
                          f"{what}: presynaptic neuron of each synapse"))
    if model.parameters:
        out.append(Buffer(projection_buffer(j, "params"), "real",
                          f"{what}: [{', '.join(model.parameter_names)}][synapse]"))
    if projection.recorded:
        out += [Buffer(projection_buffer(j, "record"), "int64",
                       f"{what}: recorded synapses (CSR order)"),
                Buffer(projection_buffer(j, "n_record"), "int64", f"{what}: their number [1]"),
                Buffer(projection_buffer(j, "recorded_states"), "real",
                       f"{what}: their states at each step's end [step][batch][state][recorded]")]
    return out


def _constants(k: int, population: PopulationPlan) -> list[Statement]:
    """Each neuron's loop invariants (constants of parameters and dt), once per call."""
    step_map = population.step_map
    assert step_map is not None
    model = step_map.model
    if not step_map.constants:
        return []
    table = {p: name(local("parameter", p.name)) for p in model.parameter_symbols}
    table[DT] = name("lg_dt")
    table.update({c: name(c.name) for c, _ in step_map.constants})
    body: list[Statement] = [Let(local("parameter", p), Element(population_buffer(k, "param", p),
                                                               "lg_n"))
                             for p in model.parameter_names]
    exponentials, trees = _matrix_exponentials([substitute(tree, table)
                                                for _, tree in step_map.constants])
    body += exponentials
    shown = shown_entries([tree for _, tree in step_map.constants])
    for (c, _), renamed, tree in zip(step_map.constants, trees, shown):
        body += [Comment(f"{c.name.removeprefix('lg_')} = {to_text(tree)}"),
                 Let(c.name, renamed),
                 Store(population_buffer(k, "constant", c.name.removeprefix("lg_")),
                       name("lg_n"), name(c.name))]
    return [Block((Comment(f"population {population.name}: what does not change over time, "
                           "per neuron"), *_dt(step_map),
                   For("lg_n", Integer(0), _size(population), tuple(body))))]


def _matrix_exponentials(trees: list[Expression]) -> tuple[list[Statement], list[Expression]]:
    """Constants that read entries of one matrix exponential (an exact propagator) share it:
    each distinct matrix is computed once per neuron (lg_prop0) and its entries read as its
    elements. (The blocks, the constants' trees.)"""
    renamed, blocks = matrix_entries(
        trees, lambda index, i, j, n: Element(f"lg_prop{index}", Integer(i * n + j)))
    statements: list[Statement] = [
        Comment("P0 (lg_prop0), P1, ...: the exact propagators, exp(M*h) of the augmented "
                "matrices, computed numerically")
    ] if blocks else []
    statements += [MatrixExponential(f"lg_prop{index}", int(key[0].value), key[1], tuple(
        dense_entries(int(key[0].value), key[2:], Num(0.0), lambda k: int(k.value))))
                   for key, index in blocks.items()]
    return statements, renamed


def _dt(step_map: StepMap) -> list[Statement]:
    """The population's dt, in its model's time unit (each model keeps its own unit)."""
    return [] if step_map.dt is None else [Let("lg_dt", Num(float(step_map.dt)))]


def _row(population: PopulationPlan) -> Expression:
    """Where batch row lg_b of the population's [batch][neuron] arrays starts."""
    return times(ROW, _size(population))


def _neuron_update(k: int, population: PopulationPlan, plan: NetworkPlan,
                   step: NeuronStep) -> tuple[list[Statement], list[Phase]]:
    """Population k's views, and its phases: its synapses' deliveries and every neuron's step
    (one thread per neuron), then its spikes and traces (one thread per batch row: the spike
    list is built in ascending order)."""
    step_map = population.step_map
    assert step_map is not None
    model = step_map.model
    n, size = population.n, _size(population)
    views: list[Statement] = [*_dt(step_map)]
    if model.is_stochastic:
        views += [Let("lg_neuron0", Integer(population.neuron0), INDEX),
                  Let("lg_first", Integer(0), INDEX)]
    views += [View(ARRAY_PREFIXES["state"] + s, population_buffer(k, "state", s), _row(population))
              for s in state_names(step_map)]
    views += [View(ARRAY_PREFIXES["parameter"] + p, population_buffer(k, "param", p), Integer(0))
              for p in model.parameter_names if p not in population.shared]
    views += [Let(local("parameter", p), Element(population_buffer(k, "param", p), Integer(0)))
              for p in model.parameter_names if p in population.shared]
    shared = shared_constants(step_map, population.shared)
    for c, _ in step_map.constants:
        buffer = population_buffer(k, "constant", c.name.removeprefix("lg_"))
        views.append(Let(c.name, Element(buffer, Integer(0))) if c in shared else
                     View(ARRAY_PREFIXES["constant"] + c.name.removeprefix("lg_"), buffer,
                          Integer(0)))
    strides = population_buffer(k, "input_strides")
    for i, u in enumerate(model.input_names):
        at = plus(times(STEP if plan.call_inputs else RUN_TIME, Element(strides, Integer(2 * i))),
                  times(ROW, Element(strides, Integer(2 * i + 1))))
        buffer = population_buffer(k, "input", u)
        views.append(Let(ARRAY_PREFIXES["time_input"] + u, Element(buffer, at))
                     if u in population.uniform_inputs else
                     View(ARRAY_PREFIXES["input"] + u, buffer, at))
    views += [View(ARRAY_PREFIXES["synapse"] + y.name, population_buffer(k, "synapse", y.name),
                   Integer(0)) for y in model.synapses if not y.target]
    views.append(View("lg_fired", population_buffer(k, "fired"), _row(population), "uint8"))
    at_arrival = [(j, p) for j, p in enumerate(plan.projections) if p.post == k and p.at_arrival]
    deliveries = [_delivery(k, population, y, [(j, p) for j, p in at_arrival
                                               if p.synapse == y.name])
                  for y in model.synapses]
    views += [s for setup, _, _ in deliveries for s in setup]
    # before the neurons' loop: plastic events (whose on_pre adds to the ring's slot of this
    # step; gathered, one thread per postsynaptic neuron, then the recorded synapses), then the
    # inputs read at arrival (one thread per batch row)
    plastic = [(j, p) for j, p in enumerate(plan.projections)
               if p.post == k and p.kind == "plastic"]
    before = [] if plan.gather else [s for j, p in plastic for s in _plastic_events(j, p, plan)]
    before += [s for _, each, _ in deliveries for s in each]
    passes = [phase for j, p in plastic for phase in _plastic_phases(j, p, plan)] \
        if plan.gather else []
    passes += [Phase(f"P{k}_arrivals", tuple(before))] if before else []
    arrivals = [s for _, _, each in deliveries for s in each]
    # The step writes its spikes as numbers to a scratch row, and a second loop keeps them as
    # flags, counts and raster: a loop that mixes the float type with bytes and 64-bit counts
    # does not vectorize.
    stores: list[Statement] = [Store(ARRAY_PREFIXES["state"] + s, name(NEURON),
                                     name(local("new", s))) for s in state_names(step_map)]
    count_state = spike_count_state(population)
    spiked_store = Store(population_buffer(k, "spiked"), name(NEURON),
                         name(local("new", count_state)) if count_state
                         else Cast(name("lg_spike")))
    update: list[Phase]
    if population.inhibition:  # the winner is picked by one thread per row, then every neuron
        assert step.margin is not None  # finishes its step
        update = [Phase(f"P{k}_update", (For(NEURON, Integer(0), size, (
                      *arrivals, *_without_spike_flag(step.step),
                      Store(population_buffer(k, "margin"), name(NEURON), step.margin),
                      Store(population_buffer(k, "was_reset"), name(NEURON),
                            Cast(name("lg_reset"))), *stores)),), threads=n)]
        winner = _winner_take_all(k, population, step, stores, spiked_store)
        update += _winner_phases(k, population, winner) if plan.gather else [
            Phase(f"P{k}_winner", tuple(winner))]
    else:
        arrived, neuron_step = _synapse_locals(arrivals, step.step)
        body = [*arrived, *neuron_step, *step.after_spike, *stores, spiked_store]
        if count_state:  # its spikes are the count: the flag may be unread
            body = _without_spike_flag(tuple(body))
        update = [Phase(f"P{k}_update", (For(NEURON, Integer(0), size, tuple(body)),),
                        threads=n)]
    spiked = Op(">", Element(population_buffer(k, "spiked"), name(NEURON)), Num(0.0))
    # the spike list is what projections visit; the flags serve projections read at arrival and
    # plastic ones (their spike history, on_post)
    flags_read = any((p.at_arrival and p.pre == k) or (p.kind == "plastic" and k in (p.pre, p.post))
                     or (plan.gather and p.kind == "sparse" and p.pre == k)
                     for p in plan.projections)
    # one pass builds the list: a small population's loops cost their set-up
    if n <= SMALL and not population.run_time_size:
        return views, [*passes, *update, _spikes(k, [
                SPIKE_COUNT,
                For(NEURON, Integer(0), Integer(n), (
                    Let("lg_spike", spiked, INT),
                    *([Store("lg_fired", name(NEURON), name("lg_spike"))] if flags_read else []),
                    *_raster(k, population, plan, name("lg_spike"), NEURON),
                    *_spikes_of(k, population, NEURON),
                    AddTo(population_buffer(k, "counts"), plus(_row(population), name(NEURON)),
                          name("lg_count" if count_state else "lg_spike")),
                    Store(population_buffer(k, "spike_list"), name("lg_n_spikes"),
                          name(NEURON)),
                    Assign("lg_n_spikes", plus(name("lg_n_spikes"), name("lg_spike"))))),
                *_events(k, population, plan),
                *_traces(k, population)])]
    return views, [*passes, *update, _spikes(k, [
        SPIKE_COUNT,
        For(NEURON, Integer(0), size, (Let("lg_spike", spiked, INT),
                                             *_spike_out(k, population, plan,
                                                         name("lg_spike")))),
        *_spike_list(k, population, plan),
        *_traces(k, population)])]


def _spikes(k: int, statements: list[Statement]) -> Phase:
    """A population's spikes phase (one thread per batch row)."""
    return Phase(f"P{k}_spikes", tuple(statements))


# neurons: a population this small builds its spike list in one pass. Larger ones test eight
# flags at once: the NIR Braille RNN's 38 recurrent neurons (under 1% spiking per step) run 30%
# faster so; snnTorch's three-layer network (16, 10, 4 neurons) keeps its one pass.
SMALL = 16


def _without_spike_flag(step: tuple[Statement, ...]) -> list[Statement]:
    """The step without its spike flag, when nothing in it reads the flag: with winner-take-all
    the winner's phase decides who spikes (an unread flag is a compiler warning on CUDA)."""
    flag = [s for s in step if isinstance(s, Let) and s.name == "lg_spike"]
    rest = [s for s in step if s not in flag]
    return rest if flag and "lg_spike" not in identifiers(rest) else list(step)


def _winner_take_all(k: int, population: PopulationPlan, step: NeuronStep,
                     stores: list[Statement], spiked: Statement) -> list[Statement]:
    """snnTorch's inhibition: of the neurons above threshold, only the one furthest above
    (the first of equals) spikes; each neuron then finishes its step (the reset decided in the
    step itself is not masked)."""
    margin, was_reset = population_buffer(k, "margin"), population_buffer(k, "was_reset")
    winner = name("lg_winner")
    assert population.step_map is not None
    states = state_names(population.step_map)
    reset = ([Let("lg_reset", Op(">", Element(was_reset, NEURON), Num(0.0)), INT)]
             if "lg_reset" in identifiers(step.after_spike) else [])
    return [
        Comment("winner-take-all: only the neuron furthest above threshold may spike"),
        Let("lg_winner", Integer(0), INDEX, mutable=True),
        For("lg_j", Integer(1), _size(population), (
            If(Op(">", Element(margin, "lg_j"), Element(margin, winner)), (
                Assign("lg_winner", name("lg_j")),)),)),
        For(NEURON, Integer(0), _size(population), (
            Let("lg_spike", Op("and", Equal(name(NEURON), winner),
                               Op(">", Element(margin, NEURON), Num(0.0))), INT),
            *reset,
            *(Let(local("new", s), Element(ARRAY_PREFIXES["state"] + s, NEURON), mutable=True)
              for s in states),
            *step.after_spike, *stores, spiked))]


# neurons whose winner one thread finds, before one thread per batch row picks among theirs
WINNER_CHUNK = 256


def winner_chunks(n: int) -> int:
    """How many chunks of WINNER_CHUNK neurons a gathering program's winner-take-all scans in a
    population of n."""
    return -(-n // WINNER_CHUNK)


def _winner_phases(k: int, population: PopulationPlan,
                   serial: list[Statement]) -> list[Phase]:
    """Winner-take-all in two levels, for a program whose phases run as threads
    (NetworkPlan.gather): one thread per chunk of WINNER_CHUNK neurons finds its chunk's
    winner, one thread per batch row the winner among those, then one thread per neuron
    finishes its step. The winner is `serial`'s (its first loop: the first neuron of the
    largest margin, or neuron 0 if its margin is NaN): a later chunk's scan passes over a NaN
    at its start, as the serial scan would."""
    margin, chunks = population_buffer(k, "margin"), population_buffer(k, "chunk_winner")
    n, h, winner = population.n, name("lg_h"), name("lg_winner")
    first = times(h, Integer(WINNER_CHUNK))
    end = Let("lg_end", Select(Op("<", plus(first, Integer(WINNER_CHUNK)), Integer(n)),
                               plus(first, Integer(WINNER_CHUNK)), Integer(n)), INDEX)
    best = Element(margin, "lg_best")  # the chunk's winner so far (lg_winner: the row's)
    better = Op("or", Op(">", Element(margin, "lg_j"), best),
                Op("and", Op(">", h, Integer(0)), Not(Equal(best, best))))
    scan = For("lg_h", Integer(0), Integer(winner_chunks(population.n)), (
        end, Let("lg_best", first, INDEX, mutable=True),
        For("lg_j", plus(first, Integer(1)), name("lg_end"), (
            If(better, (Assign("lg_best", name("lg_j")),)),)),
        Store(chunks, h, name("lg_best"))))
    pick = (Let("lg_winner", Element(chunks, Integer(0)), INDEX, mutable=True),
            For("lg_h", Integer(1), Integer(winner_chunks(population.n)), (
                If(Op(">", Element(margin, Element(chunks, "lg_h")), Element(margin, winner)), (
                    Assign("lg_winner", Element(chunks, "lg_h")),)),)))
    finish = serial[-1]
    assert isinstance(finish, For) and finish.counter == NEURON
    return [Phase(f"P{k}_chunks", (scan,), threads=winner_chunks(population.n), own_scope=True),
            Phase(f"P{k}_winner", (*serial[:1], *pick)),
            Phase(f"P{k}_finish", (finish,), threads=n)]


def _raster(k: int, population: PopulationPlan, plan: NetworkPlan, spike: Expression,
            index: str) -> list[Statement]:
    if not plan.raster or population.unrecorded:
        return []
    entry = plus(times(ROW, name("lg_n_steps")), STEP) if raster_by_row(population, plan) \
        else plus(times(STEP, ROWS), ROW)
    return [Store(population_buffer(k, "raster"), plus(times(entry, _size(population)),
                                                      name(index)), spike)]


# A population's step of one row writes n raster bytes: below two cache lines, a raster
# [step][batch][n] has each of them miss the cache (a step later the row writes batch * n bytes
# further on), so the row's steps are laid one after the other. The Braille RNN's program (12,
# 38 and 7 neurons) at batch 256 takes 2.4x less time so; the CNN's rasters of thousands of
# neurons write whole lines either way, and take 15 to 25% longer laid by row.
RASTER_BY_ROW_BELOW = 128


def raster_by_row(population: PopulationPlan, plan: NetworkPlan) -> bool:
    """Whether the population's raster is laid out [batch][step][n] (else [step][batch][n])."""
    return plan.raster_by_row and population.n < RASTER_BY_ROW_BELOW


def _counted(k: int, population: PopulationPlan) -> list[Statement]:
    """Each listed spike added to its neuron's count (spikes are rare: not once per neuron):
    one, or the step's count of a population whose spikes are counts."""
    neuron = Element(population_buffer(k, "spike_list"), "lg_k")
    if spike_count_state(population):
        return [For("lg_k", Integer(0), name("lg_n_spikes"), (
            Let("lg_j", neuron, INDEX), *_spikes_of(k, population, "lg_j"),
            AddTo(population_buffer(k, "counts"), plus(_row(population), name("lg_j")),
                  name("lg_count")),))]
    return [For("lg_k", Integer(0), name("lg_n_spikes"), (
        AddTo(population_buffer(k, "counts"), plus(_row(population), neuron), Integer(1)),))]


def _spikes_of(k: int, population: PopulationPlan, index: str) -> list[Statement]:
    """lg_count: how many spikes neuron `index` emitted this step, where the population's
    spikes are counts (its scratch row of spikes as numbers holds them); else nothing."""
    if not spike_count_state(population):
        return []
    return [Let("lg_count", Element(population_buffer(k, "spiked"), index), INDEX)]


def _guarded(population: PopulationPlan) -> bool:
    """Whether the loop over a population's flags totals its spikes, so that its spike list is
    built only when there are any: not for 64 neurons or more, whose flags the list tests 64
    at a time without a branch on them (cheaper than the total: its adds in the flags loop
    are 64-bit, and cost the CNN's 4,096-neuron layers about a tenth of their step)."""
    return population.run_time_size or population.n < 64


def _spike_out(k: int, population: PopulationPlan, plan: NetworkPlan, spike: Expression,
               index: str = NEURON, events: Expression | None = None) -> list[Statement]:
    """Neuron `index`'s spike of this step: its flag, its raster entry and (_guarded) the
    step's spike total (a loop of these stores vectorizes); the count of `events` where a step
    may bring several (a PoissonInput), else the spike list counts each spike (spikes are
    rare)."""
    at = name(index)
    out: list[Statement] = [Store("lg_fired", at, spike)]
    if _guarded(population):
        out.append(Assign("lg_n_spikes", plus(name("lg_n_spikes"), spike)))
    if events is not None:  # counted here: a target's events are more than its flag
        out.append(AddTo(population_buffer(k, "counts"), plus(_row(population), at), events))
    return out + _raster(k, population, plan, spike, index)


def _spike_list(k: int, population: PopulationPlan, plan: NetworkPlan) -> list[Statement]:
    """The neurons that spiked in this step, in ascending order, which the projections visit
    (spikes are rare: they read the list, not every neuron's flag). 64 flags are read as one
    word of bits (then the octets left, eight flags as one word of bytes), and a word's set
    flags are visited lowest first, one iteration each: a branch per 64 neurons, not per 8 (at
    5% of neurons spiking, the octets' branches mispredicted about once in three)."""
    j, count = name("lg_j"), name("lg_n_spikes")
    spike_list = population_buffer(k, "spike_list")
    octet, word = times(name("lg_o"), Integer(8)), name("lg_w")
    blocks, (octets, tail) = _blocks(population), _octets(population)
    scan: list[Statement] = [Assign("lg_n_spikes", Integer(0))]
    if blocks is not None:
        block = times(name("lg_o"), Integer(64))
        scan.append(For("lg_o", Integer(0), blocks, (
            Let("lg_w", Call("flags64", (name("lg_fired"), block)), KEY, mutable=True),
            Loop("lg_f", 64, Op(">", word, Integer(0)), (
                Store(spike_list, count, plus(block, Call("lowest64", (word,)))),
                Assign("lg_n_spikes", plus(count, Integer(1))),
                Assign("lg_w", Call("rest8", (word,))))))))
    first = Integer(0) if blocks is None else (
        Integer(8 * (population.n // 64)) if not population.run_time_size
        else times(blocks, Integer(8)))
    if octets is not None and octets != first:
        scan.append(For("lg_o", first, octets, (
            Let("lg_w", Call("flags8", (name("lg_fired"), octet)), KEY, mutable=True),
            Loop("lg_f", 8, Op(">", word, Integer(0)), (
                Store(spike_list, count, plus(octet, Call("lowest8", (word,)))),
                Assign("lg_n_spikes", plus(count, Integer(1))),
                Assign("lg_w", Call("rest8", (word,))))))))
    if tail is not None:  # without a branch: each neuron written at the list's end, which
        # moves on past it only when it spiked
        scan.append(For("lg_j", tail, _size(population), (
            Store(spike_list, count, j),
            Assign("lg_n_spikes", plus(count, Element("lg_fired", "lg_j"))))))
    if population.source not in COUNTED:
        scan += _counted(k, population)
    if not _guarded(population):
        return [*scan, *_events(k, population, plan)]
    return [If(Op(">", count, Integer(0)), tuple(scan)), *_events(k, population, plan)]


def _events(k: int, population: PopulationPlan, plan: NetworkPlan) -> list[Statement]:
    """This step's spikes, from the list, appended to its batch row's part of the call's event
    buffers (which hold every neuron-step of a call, so they never overflow; each row its own
    part, so rows may run at once)."""
    if not plan.events or population.step_map is None:  # a source's events are the user's own,
        return []  # or its draws (a background would outweigh the neurons' spikes)
    counts = population_buffer(k, "event_count")
    row_count = plus(ROW, Integer(1))
    written = plus(times(ROW, Element(counts, Integer(0))), Element(counts, row_count))
    neuron = Element(population_buffer(k, "spike_list"), "lg_k")
    return [For("lg_k", Integer(0), name("lg_n_spikes"), (
        Store(population_buffer(k, "event_steps"), written, RUN_TIME),
        Store(population_buffer(k, "event_neurons"), written,
              plus(_row(population), neuron)),
        AddTo(counts, row_count, Integer(1))))]


SPIKE_COUNT = Let("lg_n_spikes", Integer(0), INDEX, mutable=True)


def _traces(k: int, population: PopulationPlan) -> list[Statement]:
    if not population.traced:
        return []
    count = Element(population_buffer(k, "n_record"), Integer(0))
    neuron = Element(population_buffer(k, "record"), name("lg_m"))
    row = plus(times(plus(times(STEP, ROWS), ROW), count), name("lg_m"))
    return [For("lg_m", Integer(0), count, tuple(
        Store(population_buffer(k, "trace", s), row, Element(ARRAY_PREFIXES["state"] + s, neuron))
        for s in population.traced))]


def _synapse_locals(arrivals: list[Statement], step: tuple[Statement, ...]
                    ) -> tuple[list[Statement], list[Statement]]:
    """The arrivals and the neuron's step with each synapse type's input of the step a local
    where the step reads it once, first thing: the value goes straight into the step's local
    (y_I), not through its scratch row (one store and one load fewer per neuron)."""
    stored = {s.array: s for s in arrivals if isinstance(s, Store)
              and s.array.startswith(ARRAY_PREFIXES["synapse"]) and s.index == name(NEURON)}
    read = {s.value.array: s.name for s in step if isinstance(s, Let)
            and isinstance(s.value, Element) and s.value.array in stored
            and s.value.index in (NEURON, name(NEURON))}
    rest = [s for s in step if not (isinstance(s, Let) and isinstance(s.value, Element)
                                    and s.value.array in read)]
    read = {array: y for array, y in read.items() if array not in identifiers(rest)}  # once
    arrived = [Let(read[s.array], s.value) if isinstance(s, Store) and s.array in read else s
               for s in arrivals]
    return arrived, [s for s in step if not (isinstance(s, Let) and isinstance(s.value, Element)
                                             and s.value.array in read)]


def arriving_view(synapse: str) -> str:
    """The view of what synapse type `synapse` of a population receives this step: its ring's
    slot of the step, to which plastic projections' on_pre adds before the neurons read it."""
    return f"lg_arriving_{synapse}"


def _delivery(k: int, population: PopulationPlan, synapse: Synapse,
              at_arrival: list[tuple[int, ProjectionPlan]]
              ) -> tuple[list[Statement], list[Statement], list[Statement]]:
    """What synapse type `synapse` receives this step (its bias, plus the ring's slot for this
    step, which is then cleared, plus the projections read at arrival), added to its target
    state or stored as the equations' input: (the views set up once per step, the pass that
    reads projections at arrival, what each neuron does first in its step). Done inside the
    neuron's loop, the ring's arrivals cost no pass of their own over the states."""
    step_map = population.step_map
    assert step_map is not None
    receiving = dict(population.rings)
    arriving: Expression | None = None
    ring = arriving_view(synapse.name)
    setup: list[Statement] = []
    if synapse.name in receiving:
        slots = receiving[synapse.name]
        setup.append(View(ring, population_buffer(k, "ring", synapse.name),
                          times(plus(times(ROW, Integer(slots)),
                                     Remainder(TIME, Integer(slots))), _size(population))))
        arriving = Element(ring, NEURON)
    bias = None if not synapse.bias else name(local("parameter", synapse.bias)) \
        if synapse.bias in population.shared \
        else Element(population_buffer(k, "param", synapse.bias), NEURON)
    value = arriving if bias is None else (bias if arriving is None else Op("+", bias, arriving))
    passes: list[Statement] = []
    if at_arrival:  # the sum is built in a pass of its own, then read as the step's input
        passes = _arrivals_read(k, population, synapse, value, ring if arriving else None,
                                at_arrival)
        if synapse.target:
            setup.append(View(ARRAY_PREFIXES["synapse"] + synapse.name,
                              population_buffer(k, "synapse", synapse.name), Integer(0)))
        value = Element(ARRAY_PREFIXES["synapse"] + synapse.name, NEURON)
        arriving = None
        if not synapse.target:
            return setup, passes, []
    per_neuron: list[Statement]
    if synapse.target:
        if value is None:
            return [], [], []
        if step_map.model.drops_while_refractory(synapse):
            refractory = Element(ARRAY_PREFIXES["state"] + REFRACTORY_STATE, NEURON)
            value = Select(Op(">", refractory, Num(0.0)), Num(0.0), value)
        per_neuron = [AddTo(ARRAY_PREFIXES["state"] + synapse.target, name(NEURON), value)]
    else:
        per_neuron = [Store(ARRAY_PREFIXES["synapse"] + synapse.name, name(NEURON),
                            Num(0.0) if value is None else value)]
    if arriving is not None:
        per_neuron.append(Store(ring, name(NEURON), Num(0.0)))
    where = f", added to {synapse.target}" if synapse.target else ""
    return setup, passes, [Comment(f"synapse {synapse.name}: what arrives this step{where}"),
                           *per_neuron]


def _arrivals_read(k: int, population: PopulationPlan, synapse: Synapse,
                   value: Expression | None, ring: str | None,
                   at_arrival: list[tuple[int, ProjectionPlan]]) -> list[Statement]:
    """The synapse type's input of this step in its scratch row: its bias and ring slot (then
    cleared), plus the weights of the neurons that spiked in the previous step through each
    self-projection read at arrival (the population's flags still hold that step's spikes)."""
    n, row = _size(population), ARRAY_PREFIXES["synapse"] + synapse.name
    out: list[Statement] = [
        For(NEURON, Integer(0), n, (
            Store(row, name(NEURON), Num(0.0) if value is None else value),
            *([Store(ring, name(NEURON), Num(0.0))] if ring else [])))]
    pre = name("lg_pre")
    for j, projection in at_arrival:
        weights = projection_buffer(j, "weights")

        def weight(index: Expression, factor: float = projection.factor) -> Expression:
            w: Expression = Element(weights, index)
            return w if factor == 1.0 else times(Num(factor), w)
        event: Statement = (AddTo(row, pre, weight(pre)) if projection.kind == "one_to_one" else
                            For(NEURON, Integer(0), n, (
                                AddTo(row, name(NEURON),
                                      weight(plus(times(pre, n), name(NEURON)))),)))
        arrivals: Statement = For("lg_pre", Integer(0), n, (If(Element("lg_fired", "lg_pre"),
                                                                (event,)),))
        out += [Comment(f"projection {population.name} -> {population.name}.{synapse.name} "
                        f"({projection.kind}, delay 1): read at arrival"
                        + (" where it has weights" if projection.optional else "")),
                If(name(weights), (arrivals,)) if projection.optional else arrivals]
    return out


def _source_update(k: int, population: PopulationPlan, plan: NetworkPlan) -> Phase:
    """A source's spikes this step (one thread per batch row): random draws against its
    probabilities, or its recording played back."""
    return Phase(f"P{k}_spikes", tuple(_source_spikes(k, population, plan)))


def _source_spikes(k: int, population: PopulationPlan, plan: NetworkPlan) -> list[Statement]:
    n = population.n
    j = name("lg_j")
    views: list[Statement] = []  # lg_fired is in the population's setup (its scatter reads it)
    if population.source == "random":
        time_stride, source_stride = population.probability_strides
        probability = Element(population_buffer(k, "probability"),
                              plus(times(RUN_TIME, Integer(time_stride)),
                                   times(j, Integer(source_stride))))
        draw = Call("uniform_in", (name("lg_key"), plus(Integer(population.neuron0), j)))
        return [*views, _stream(k), SPIKE_COUNT,
                *_source_pass(k, population, plan, Op("<", draw, probability))]
    if population.source == "counts":
        once, each = _poisson_count(k, population)
        return [*views, *once, SPIKE_COUNT, For("lg_j", Integer(0), Integer(n), (
            *each,
            Store(population_buffer(k, "events"), j, Cast(name("lg_count"))),
            Let("lg_spike", Op(">", name("lg_count"), Integer(0)), INT),
            *_spike_out(k, population, plan, name("lg_spike"), "lg_j", name("lg_count")))),
            *_spike_list(k, population, plan)]
    if population.source == "raster":
        time_stride, row_stride = population.raster_strides
        given = Element(population_buffer(k, "spikes"),
                        plus(times(RUN_TIME, Integer(time_stride)), times(ROW, Integer(row_stride)), j))
        return [*views, SPIKE_COUNT, *_source_pass(k, population, plan, Op(">", given, Integer(0)))]
    if population.source == "values":  # each nonzero value an event that carries it
        time_stride, row_stride = population.raster_strides
        value = Element(population_buffer(k, "values"),
                        plus(times(RUN_TIME, Integer(time_stride)), times(ROW, Integer(row_stride)), j))
        return [*views, SPIKE_COUNT, For("lg_j", Integer(0), Integer(n), (
            Let("lg_value", value),
            Store(population_buffer(k, "events"), j, name("lg_value")),
            Let("lg_spike", Op("or", Op(">", name("lg_value"), Num(0.0)),
                               Op("<", name("lg_value"), Num(0.0))), INT),
            *_spike_out(k, population, plan, name("lg_spike"), "lg_j", name("lg_spike")))),
            *_spike_list(k, population, plan)]
    start = population_buffer(k, "train_start")
    played = Element(population_buffer(k, "train_source"), name("lg_e"))
    events = population_buffer(k, "events")
    return [*views,
            For("lg_j", Integer(0), Integer(n), (Store(events, j, Num(0.0)),)),
            For("lg_e", Element(start, RUN_TIME), Element(start, plus(RUN_TIME, Integer(1))), (
                AddTo(events, played, Num(1.0)),)),
            SPIKE_COUNT,
            For("lg_j", Integer(0), Integer(n), (
                Let("lg_count", Element(events, "lg_j")),
                Let("lg_spike", Op(">", name("lg_count"), Num(0.0)), INT),
                *_spike_out(k, population, plan, name("lg_spike"), "lg_j", name("lg_count")))),
            *_spike_list(k, population, plan)]


def _source_pass(k: int, population: PopulationPlan, plan: NetworkPlan,
                 spike: Expression) -> list[Statement]:
    """The loop over a source's neurons, each spiking where `spike`, and its spike list. A
    source this small (SMALL) also counts and lists its spikes in that one pass, without a
    branch on them: random inputs mispredict those of _spike_list (the Braille RNN's 12 inputs
    at 10% density took 1.1x as long so)."""
    j, count, listed = name("lg_j"), name("lg_n_spikes"), name("lg_spike")
    out = _spike_out(k, population, plan, listed, "lg_j")
    if population.n > SMALL:
        return [For("lg_j", Integer(0), Integer(population.n), (Let("lg_spike", spike, INT), *out)),
                *_spike_list(k, population, plan)]
    return [For("lg_j", Integer(0), Integer(population.n), (
        Let("lg_spike", spike, INT),
        *(s for s in out if not isinstance(s, Assign)),
        AddTo(population_buffer(k, "counts"), plus(_row(population), j), listed),
        Store(population_buffer(k, "spike_list"), count, j),
        Assign("lg_n_spikes", plus(count, listed))))]


def _stream(k: int) -> Statement:
    """This step's random stream of source population k and batch row (its seed's), from
    which each source's draw is one more mixing round."""
    seed = Element(population_buffer(k, "seed"), Integer(0))
    return Let("lg_key", Call("stream", (seed, TIME, ROW)), KEY)


def _poisson_count(k: int, population: PopulationPlan) -> tuple[list[Statement],
                                                                  list[Statement]]:
    """lg_count ~ Poisson(mean) for target lg_j: uniforms multiplied until their product falls
    to exp(-mean) (Knuth), each a counter-based draw of (seed, step, row, target and draw), the
    target numbered among the network's neurons, so that two sources never draw alike.
    (What is computed once per step, what each target computes.)"""
    time_stride, source_stride = population.probability_strides
    j = name("lg_j")
    at: Expression = times(RUN_TIME, Integer(time_stride))
    mean = Element(population_buffer(k, "probability"),
                   plus(at, times(j, Integer(source_stride))) if source_stride else at)

    def draw(index: Expression) -> Expression:
        source = plus(Integer(population.neuron0), j)
        return Call("uniform_in", (name("lg_key"), plus(times(source, Integer(MAX_DRAWS)), index)))
    limit = Let("lg_limit", Call("exp", (Neg(mean),)))
    once: list[Statement] = [_stream(k)] + ([] if source_stride else [limit])
    each: list[Statement] = [limit] if source_stride else []
    each += [
        Let("lg_product", draw(Integer(0)), mutable=True),
        Let("lg_count", Integer(0), INDEX, mutable=True),
        Loop("lg_d", MAX_DRAWS - 1, Op(">", name("lg_product"), name("lg_limit")), (
            Assign("lg_product", times(name("lg_product"), draw(plus(name("lg_d"), Integer(1))))),
            Assign("lg_count", plus(name("lg_count"), Integer(1)))))]
    return once, each


def adds_directly(model: Model, synapse: str) -> bool:
    """Whether events into synapse type `synapse` of `model` may be added straight into its
    target state one step early (ProjectionPlan.direct): it adds to a state, and does not drop
    what arrives while the neuron is refractory (which is known only at arrival)."""
    y = next(s for s in model.synapses if s.name == synapse)
    return y.target is not None and not model.drops_while_refractory(y)


def _counted_later(k: int, plan: NetworkPlan) -> bool:
    """Whether population k's spike count of the step is read in a later population's step."""
    return any(p.direct and p.pre == k < p.post for p in plan.projections)


def _scatter_threads(projection: ProjectionPlan, plan: NetworkPlan) -> int:
    """How many independent iterations a projection's scatter phase ends in: one per
    presynaptic neuron where each spike pushes its events (or, plastic, keeps its spike); where
    they are gathered (plan.gather), one per target (a convolution: per output channel)."""
    pre, post = plan.populations[projection.pre], plan.populations[projection.post]
    if not plan.gather or projection.kind in ("one_to_one", "plastic"):
        return pre.n
    if projection.kind == "conv2d":
        return post.n // projection.conv[4]
    return post.n


def _scatter(j: int, projection: ProjectionPlan, plan: NetworkPlan,
             count: Expression = name("lg_n_spikes")) -> list[Statement]:
    """The events of projection j's `count` presynaptic spikes of this step, into its post
    population's ring at slot (step + delay) mod slots, or straight into the state its synapse
    type adds to (a direct projection). The adds into one element run in the order of the
    spikes (presynaptic neurons ascending), then of the synapses in storage order: pushed by
    each spike in turn, or (plan.gather) gathered by each target in that same order, so that
    threads running the targets at once give the same sums bit for bit."""
    pre, post = plan.populations[projection.pre], plan.populations[projection.post]
    n_post = _size(post)
    weights = projection_buffer(j, "weights")
    if projection.direct:
        assert post.step_map is not None
        target = next(y.target for y in post.step_map.model.synapses
                      if y.name == projection.synapse)
        assert target is not None and projection.kind in ("dense", "one_to_one", "sparse")
        view = View("lg_targets", population_buffer(projection.post, "state", target),
                    times(ROW, n_post))
        slots = 0
    else:
        slots = post.slots(projection.synapse)
        view = View("lg_rings", population_buffer(projection.post, "ring", projection.synapse),
                    times(ROW, Integer(slots * post.n)))

    def slot_of(delay: Expression) -> Expression:
        return Remainder(TIME if delay == Integer(0) else plus(TIME, delay), Integer(slots))

    carried = _carried(projection, pre)
    # a spike's multiple, read once before its adds (pushed), or at each (gathered by target)
    multiple = name("lg_multiple") if carried is not None and not plan.gather else carried

    def weighed(weight: Expression) -> Expression:
        if projection.factor != 1.0:
            weight = times(Num(projection.factor), weight)
        return weight if multiple is None else times(multiple, weight)

    def into(slot: str, target: Expression, weight: Expression) -> Statement:
        weight = weighed(weight)
        if projection.direct:
            return AddTo("lg_targets", target, weight)
        return AddTo("lg_rings", plus(times(name(slot), n_post), target), weight)

    if projection.kind == "plastic":
        return _kept(j, projection, plan)
    pre_j = name("lg_pre")
    slot: list[Statement] = ([] if projection.direct or projection.kind == "sparse" else
                             [Let("lg_slot", slot_of(Integer(projection.delay)), INDEX)])
    delay = "delay 1, added to its state" if projection.direct else (
        f"delay {projection.delay}" if projection.kind != "sparse" else "")
    comment = (f"projection {pre.name} -> {post.name}.{projection.synapse} ({projection.kind}"
               + (f", {delay}" if delay else "") + ")")
    counted: list[Statement] = []
    if count != name("lg_n_spikes"):  # read once: the loop's adds might alias it
        counted, count = [Let("lg_count", count, INDEX)], name("lg_count")
    spikes = ("lg_k", Integer(0), count)
    listed = Let("lg_pre", Element(population_buffer(projection.pre, "spike_list"), "lg_k"), INDEX)
    if plan.gather and projection.kind != "one_to_one":
        gathered = _gathered(j, projection, plan, into, slot_of, spikes, listed)
        read = counted if projection.kind != "sparse" or plan.sparse_gather == "spikes" \
            else []  # (sparse, reading every incoming synapse: the flags, no list)
        return [Comment(comment + ", gathered by each target"), *slot, view, *read, gathered]
    once = [Let("lg_multiple", carried)] if carried is not None and not plan.gather else []
    if projection.kind == "conv2d" and _in_blocks(j, plan):
        return [Comment(comment + ", through a padded plane"), *slot, view, *counted,
                *_block_events(j, projection, weighed, spikes, listed, once)]
    if projection.kind == "dense":
        events: tuple[Statement, ...] = (For("lg_n", Integer(0), n_post, (
            into("lg_slot", name("lg_n"),
                 Element(weights, plus(times(pre_j, n_post), name("lg_n")))),)),)
    elif projection.kind == "one_to_one":
        events = (into("lg_slot", pre_j, Element(weights, pre_j)),)
    elif projection.kind == "conv2d":
        events = _conv_events(j, projection, into)
    else:
        runs, first = projection_buffer(j, "runs"), projection_buffer(j, "run_first")
        synapse = into("lg_slot", Element(projection_buffer(j, "post"), "lg_s"),
                       Element(weights, "lg_s"))
        events = ((For("lg_s", Element(first, Element(runs, pre_j)),  # its runs, one delay
                       Element(first, Element(runs, plus(pre_j, Integer(1)))), (synapse,)),)
                  if projection.direct else
                  (For("lg_r", Element(runs, pre_j), Element(runs, plus(pre_j, Integer(1))), (
                      Let("lg_slot", slot_of(Element(projection_buffer(j, "run_delay"), "lg_r")),
                          INDEX),
                      For("lg_s", Element(first, "lg_r"),
                          Element(first, plus(name("lg_r"), Integer(1))), (synapse,)))),))
    delivered: Statement = For(*spikes, (listed, *once, *events))
    if projection.optional:  # a NULL weights buffer delivers nothing
        return [Comment(comment + " where it has weights"), *slot, view, *counted,
                If(name(weights), (delivered,))]
    return [Comment(comment), *slot, view, *counted, delivered]


def _carried(projection: ProjectionPlan, pre: PopulationPlan) -> Expression | None:
    """What each event of a presynaptic spike multiplies its weight by, or None (one spike, the
    weight): a counted source's events of the step, or a neuron's spikes of the step."""
    if pre.source in COUNTED:
        return Element(population_buffer(projection.pre, "events"), "lg_pre")
    if spike_count_state(pre):
        return Element(population_buffer(projection.pre, "spiked"), "lg_pre")
    return None


def _gathered(j: int, projection: ProjectionPlan, plan: NetworkPlan, into: Any, slot_of: Any,
              spikes: tuple[str, Expression, Expression], listed: Statement) -> For:
    """The loop over a projection's targets, each adding its own events of the step in the
    push's order: a dense target over the step's spikes, a sparse one over its incoming
    synapses (in_*: by target, then presynaptic neuron and storage order) whose presynaptic
    neuron spiked, a convolution's output channel over the spikes of its group."""
    pre, post = plan.populations[projection.pre], plan.populations[projection.post]
    weights, n = projection_buffer(j, "weights"), name("lg_n")
    if projection.kind == "dense":
        weight = Element(weights, plus(times(name("lg_pre"), Integer(post.n)), n))
        each = For(*spikes, (listed, into("lg_slot", n, weight)))
        return For("lg_n", Integer(0), Integer(post.n), (each,))
    if projection.kind == "conv2d":
        group = Op("-", name("lg_oc"), Element(projection_buffer(j, "pre_oc0"), "lg_pre"))
        in_group = Op("and", Op(">=", name("lg_o"), Integer(0)),
                      Op("<", name("lg_o"), Integer(projection.conv[0])))
        run = For("lg_m", Integer(0), name("lg_n"), (_conv_add(j, projection, into),))
        each = For(*spikes, (listed, Let("lg_o", group, INDEX),
                             If(in_group, (*_conv_tables(j), *_conv_rows(j, projection, run)))))
        return For("lg_oc", Integer(0), Integer(post.n // projection.conv[4]), (each,))
    incoming = projection_buffer(j, "in_first")
    if plan.sparse_gather == "spikes":
        return _spikes_looked_up(j, projection, plan, into, slot_of, spikes, listed)
    fired = Element(population_buffer(projection.pre, "fired"),
                    plus(times(ROW, Integer(pre.n)), name("lg_pre")))
    slot = [] if projection.direct else [
        Let("lg_slot", slot_of(Element(projection_buffer(j, "in_delay"), "lg_c")), INDEX)]
    weight = Element(weights, Element(projection_buffer(j, "in_synapse"), "lg_c"))
    synapse = (Let("lg_pre", Call("presynaptic", (name(projection_buffer(j, "in_pre")),
                                                  name("lg_c"))), INDEX),
               If(fired, (*slot, into("lg_slot", n, weight))))
    synapses = For("lg_c", Element(incoming, n), Element(incoming, plus(n, Integer(1))), synapse)
    return For("lg_n", Integer(0), Integer(post.n), (synapses,))


def _spikes_looked_up(j: int, projection: ProjectionPlan, plan: NetworkPlan, into: Any,
                      slot_of: Any, spikes: tuple[str, Expression, Expression],
                      listed: Statement) -> For:
    """A sparse projection's loop over its targets, each taking the step's spikes in turn
    (presynaptic neurons ascending) and adding the incoming synapses from that neuron, found
    in in_pre by a galloping search from where the last spike's ended: the push's order,
    reading E log(S / E) entries rather than S."""
    n, incoming = name("lg_n"), projection_buffer(j, "in_first")
    pre_of, end = projection_buffer(j, "in_pre"), name("lg_in_end")
    slot = [] if projection.direct else [
        Let("lg_slot", slot_of(Element(projection_buffer(j, "in_delay"), "lg_c")), INDEX)]
    weight = Element(projection_buffer(j, "weights"),
                     Element(projection_buffer(j, "in_synapse"), "lg_c"))
    each = (listed,
            Let("lg_from", Call("first_at_least", (name(pre_of), name("lg_at"), end,
                                                   name("lg_pre"))), INDEX),
            Let("lg_to", Call("first_at_least", (name(pre_of), name("lg_from"), end,
                                                 plus(name("lg_pre"), Integer(1)))), INDEX),
            For("lg_c", name("lg_from"), name("lg_to"), (*slot, into("lg_slot", n, weight))),
            Assign("lg_at", name("lg_to")))
    return For("lg_n", Integer(0), Integer(plan.populations[projection.post].n), (
        Let("lg_at", Element(incoming, n), INDEX, mutable=True),
        Let("lg_in_end", Element(incoming, plus(n, Integer(1))), INDEX),
        For(*spikes, each)))


# -- plastic projections ------------------------------------------------------------------------

def _projection_name(projection: ProjectionPlan, plan: NetworkPlan) -> str:
    pre, post = plan.populations[projection.pre], plan.populations[projection.post]
    return f"projection {pre.name} -> {post.name}.{projection.synapse}"


def _kept(j: int, projection: ProjectionPlan, plan: NetworkPlan) -> list[Statement]:
    """A plastic projection's presynaptic spikes of this step, kept in its history (slot step mod
    slots) until they arrive at the start of step + delay."""
    assert projection.plastic is not None
    n_pre, slots = plan.populations[projection.pre].n, projection.delay + 1
    fired = Element("lg_fired", "lg_j")  # the pre population's view of its spikes
    return [Comment(f"{_projection_name(projection, plan)} (plastic, "
                    f"{projection.plastic.model.name}): this step's presynaptic spikes, kept for "
                    "their arrival"),
            View("lg_kept", projection_buffer(j, "history"),
                 times(plus(times(ROW, Integer(slots)), Remainder(TIME, Integer(slots))),
                       Integer(n_pre)), "uint8"),
            For("lg_j", Integer(0), Integer(n_pre), (Store("lg_kept", name("lg_j"), fired),))]


def _plastic_events(j: int, projection: ProjectionPlan, plan: NetworkPlan) -> list[Statement]:
    """A plastic projection's events at the start of its post population's step: the
    presynaptic spikes of step t - k arriving through the synapses of delay k (k ascending, then
    presynaptic neurons ascending, synapses in storage order), each running on_pre, whose target
    is this step's slot of the post population's ring; then on_post over the incoming synapses
    of each post neuron that spiked in the previous step; then the recorded synapses' states."""
    plastic = projection.plastic
    assert plastic is not None
    pre, post = plan.populations[projection.pre], plan.populations[projection.post]
    slots = projection.delay + 1
    site = _plastic_site(j, projection, plan)
    k = name("lg_k")
    rows, delay = projection_buffer(j, "rows"), projection_buffer(j, "delay")
    arrivals = For("lg_k", Integer(1), Integer(slots), (If(Op("<=", k, TIME), (
        View("lg_was", projection_buffer(j, "history"),
             times(plus(times(ROW, Integer(slots)), Remainder(Op("-", TIME, k), Integer(slots))),
                   Integer(pre.n)), "uint8"),
        *_flagged("lg_was", pre, "lg_pre", (
            For(SYNAPSE, Element(rows, "lg_pre"), Element(rows, plus(name("lg_pre"), Integer(1))), (
                If(Equal(Element(delay, SYNAPSE), k), (
                    Let(POST, Element(projection_buffer(j, "post"), SYNAPSE), INDEX),
                    event(plastic, "on_pre", site))),)),)))),))
    body: list[Statement] = [
        Comment(f"{_projection_name(projection, plan)} (plastic, {plastic.model.name}): the "
                "presynaptic spikes of step t - k arrive through the synapses of delay k, each "
                "running on_pre"),
        Let("lg_nsyn", Element(rows, Integer(pre.n)), INDEX),
        *per_step(plastic, site), arrivals]
    if plastic.model.on_post:
        cols = projection_buffer(j, "cols")
        body += [
            Comment("on_post for the incoming synapses of each neuron that spiked in the previous "
                    "step (lg_fired holds its spikes until the neurons' loop below): at the time "
                    "of the arrivals above, after them (as Brian2 runs its pre pathway before its "
                    "post one)"),
            *_flagged("lg_fired", post, POST, (
                For("lg_c", Element(cols, POST), Element(cols, plus(name(POST), Integer(1))), (
                    Let(SYNAPSE, Element(projection_buffer(j, "index"), "lg_c"), INDEX),
                    event(plastic, "on_post", site))),))]
    if projection.recorded:
        body += _recorded(j, plastic, site)
    return [Block(tuple(body))]


def _plastic_phases(j: int, projection: ProjectionPlan, plan: NetworkPlan) -> list[Phase]:
    """A plastic projection's events gathered (NetworkPlan.gather): one thread per postsynaptic
    neuron runs on_pre for its incoming synapses whose spike arrives this step (delay k
    ascending, then its incoming synapses in storage order: presynaptic neurons ascending),
    then, if it spiked in the previous step, on_post for each; a synapse's states are its post
    neuron's thread's alone, and each adds to its own neuron's slot in the order
    _plastic_events adds. Then the recorded synapses (one thread per batch row)."""
    plastic = projection.plastic
    assert plastic is not None
    pre, post = plan.populations[projection.pre], plan.populations[projection.post]
    slots = projection.delay + 1
    site = _plastic_site(j, projection, plan)
    k, post_j = name("lg_k"), name(POST)
    cols, index = projection_buffer(j, "cols"), projection_buffer(j, "index")

    def incoming(body: tuple[Statement, ...]) -> For:
        return For("lg_c", Element(cols, POST), Element(cols, plus(post_j, Integer(1))), (
            Let(SYNAPSE, Element(index, "lg_c"), INDEX), *body))
    arriving = incoming((
        If(Equal(Element(projection_buffer(j, "delay"), SYNAPSE), k), (
            Let("lg_pre", Element(projection_buffer(j, "pre"), SYNAPSE), INDEX),
            If(Element("lg_was", "lg_pre"), (event(plastic, "on_pre", site),)))),))
    thread: list[Statement] = [For("lg_k", Integer(1), Integer(slots), (If(Op("<=", k, TIME), (
        View("lg_was", projection_buffer(j, "history"),
             times(plus(times(ROW, Integer(slots)), Remainder(Op("-", TIME, k), Integer(slots))),
                   Integer(pre.n)), "uint8"),
        arriving)),))]
    if plastic.model.on_post:
        thread.append(If(Element("lg_fired", POST), (incoming((event(plastic, "on_post",
                                                                       site),)),)))
    events = Phase(f"J{j}_plastic", (
        Comment(f"{_projection_name(projection, plan)} (plastic, {plastic.model.name}), "
                "gathered by each postsynaptic neuron: on_pre for its synapses whose spike "
                "arrives, then on_post if it spiked in the previous step"),
        Let("lg_nsyn", Element(projection_buffer(j, "rows"), Integer(pre.n)), INDEX),
        *per_step(plastic, site), For(POST, Integer(0), Integer(post.n), tuple(thread))),
        threads=post.n, own_scope=True)
    if not projection.recorded:
        return [events]
    sample = _recorded(j, plastic, site)
    recorded = (Let("lg_nsyn", Element(projection_buffer(j, "rows"), Integer(pre.n)), INDEX),
                *_read(per_step(plastic, site), sample), *sample)
    return [events, Phase(f"J{j}_recorded", recorded, own_scope=True)]


def _read(values: list[Statement], code: list[Statement]) -> list[Statement]:
    """The locals of `values` that `code` reads, directly or through another of them."""
    used = identifiers(code)
    kept: list[Statement] = []
    for value in reversed(values):
        if isinstance(value, Let) and value.name in used:
            kept.append(value)
            used |= identifiers(value)
    return kept[::-1]


def _plastic_site(j: int, projection: ProjectionPlan, plan: NetworkPlan) -> Site:
    """Where a plastic projection's events read and write."""
    post = plan.populations[projection.post]
    assert post.step_map is not None
    return Site(states=projection_buffer(j, "states"), params=projection_buffer(j, "params"),
                n_synapses=name("lg_nsyn"), row=ROW, time=TIME,
                dt=name("lg_dt") if post.step_map.dt is not None else Num(1.0),
                target=arriving_view(projection.synapse))


def _recorded(j: int, plastic: Plastic, site: Site) -> list[Statement]:
    """The recorded synapses' states at this step's start (after its events) written to the
    previous step's row: the states at the end of that step (the last row is the run's final
    states, which the runtime writes)."""
    count = Element(projection_buffer(j, "n_record"), Integer(0))
    n_states = len(plastic.model.states)

    def at(k: int) -> Expression:
        row = plus(times(Op("-", RUN_TIME, Integer(1)), ROWS), ROW)
        return plus(times(plus(times(row, Integer(n_states)), Integer(k)), count), name("lg_m"))
    sample = (Let(SYNAPSE, Element(projection_buffer(j, "record"), "lg_m"), INDEX),
              *propagated(plastic, site),
              *(Store(projection_buffer(j, "recorded_states"), at(k), name(state_local(state)))
                for k, state in enumerate(plastic.model.state_names)))
    return [Comment("recorded synapses: their states at the end of the previous step"),
            If(Op(">", RUN_TIME, Integer(0)), (For("lg_m", Integer(0), count, sample),))]


def _flagged(flags: str, population: PopulationPlan, counter: str,
             body: tuple[Statement, ...]) -> list[Statement]:
    """`body` for each `counter` in 0..n whose flag is set, ascending; eight flags are tested at
    once, and only an octet with one set is looked into (spikes are rare)."""
    octet = times(name("lg_o"), Integer(8))
    each = (If(Element(flags, counter), body),)
    octets, tail = _octets(population)
    out: list[Statement] = [For("lg_o", Integer(0), octets, (
        If(Call("any8", (name(flags), octet)), (For(counter, octet, plus(octet, Integer(8)),
                                                    each),)),))] if octets is not None else []
    if tail is not None:
        out.append(For(counter, tail, _size(population), each))
    return out
