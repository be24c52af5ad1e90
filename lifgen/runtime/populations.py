"""A network's parts as the user describes them: populations of a model, populations of spike
sources, and projections with their weights laid out and delays in steps; and the update order
that zero-delay projections impose."""

from __future__ import annotations

from dataclasses import dataclass, field
from numbers import Integral
from typing import Any, ClassVar

import numpy as np

from ..errors import InputError
from ..frontend.units import UnitError, is_quantity_text, parse_unit, to_unit
from ..codegen.synapse_binding import Plastic
from ..ir.model import Model
from . import memory
from .connectivity import Sparse
from .convolution import Convolution
from .plasticity import Synapses, bind
from .sources import PoissonInput, SpikeTrain


@dataclass(eq=False)
class Population:
    """A population of `n` neurons of one model, as `Network.add` made it."""

    name: str
    model: Model
    n: int
    params: dict = field(default_factory=dict)
    initial: dict = field(default_factory=dict)
    options: dict = field(default_factory=dict)  # compile options: method, reset, ...

    def __repr__(self) -> str:
        return f"<Population {self.name}: {self.n} x {self.model.name}>"


@dataclass(eq=False)
class SourcePopulation:
    """A population of spike sources (Poisson, Bernoulli, a SpikeTrain or a (T, n) raster)."""

    name: str
    source: Any
    n: int

    def __repr__(self) -> str:
        return f"<SourcePopulation {self.name}: {self.n} x {type(self.source).__name__}>"


@dataclass(eq=False, frozen=True)
class Projection:
    """Events from `pre` into synapse type `synapse` of `post`, with their weights laid out for
    delivery (`kind`: dense, one_to_one, sparse, conv2d or plastic) and the delay in steps (a sparse or
    plastic projection's largest). A plastic one keeps its lifgen.Synapses, whose states each
    run starts from. A sparse one keeps only its delivery layout (`runs`: targets and delay runs, its
    `weights` in that order), not the Sparse it was given: at full scale that is the memory.
    Fixed once made: its arrays are read-only."""

    pre: str
    post: str
    synapse: str
    kind: str
    weights: np.ndarray
    delay: int = 1
    runs: dict[str, np.ndarray] | None = None
    synapses: Synapses | None = None  # a plastic projection's synapses (kind "plastic")
    conv: tuple[int, ...] = ()  # a convolution's loop sizes (kind "conv2d": Convolution.geometry)
    block: tuple[int, ...] = ()  # and its block delivery's, if it has one (block_geometry)
    binding: Plastic | None = None  # and their model bound to the post model's synapse type

    def __post_init__(self) -> None:
        # Read-only views of a frozen projection: a compiled network lays the weights out once
        # and its runs reuse that layout, so a change in place, or a new array given, would be
        # ignored; both raise instead (connect again to change them). Views: the caller's
        # arrays stay writable.
        object.__setattr__(self, "weights", _read_only(self.weights))
        if self.runs is not None:
            object.__setattr__(self, "runs", {role: _read_only(array)
                                              for role, array in self.runs.items()})

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.pre, self.post, self.synapse)

    @property
    def n_synapses(self) -> int:
        return int(self.weights.size)


def _read_only(array: np.ndarray) -> np.ndarray:
    view = array.view()
    view.setflags(write=False)
    return view


def one_step_delay(projection: Projection) -> bool:
    """Whether every event of a static projection arrives exactly one step after its spike."""
    if projection.kind in ("dense", "one_to_one"):
        return projection.delay == 1
    if projection.kind != "sparse" or projection.runs is None:
        return False
    delays = projection.runs["run_delay"]
    return projection.delay == 1 and bool(delays.size) and int(delays.min()) == 1


def delay_runs(sparse: Sparse) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """A Sparse's synapses sorted by presynaptic neuron, then delay (stably): (weights, layout),
    the layout holding each synapse's target (32 bits), each presynaptic neuron's first run of
    equal delays, and each run's first synapse and delay (GeNN's ragged rows, grouped by delay)."""
    return synapse_runs(sparse.pre, sparse.post, sparse.delay, sparse.weight, sparse.n_pre)


def synapse_runs(pre: np.ndarray, post: np.ndarray, delay: np.ndarray, weight: np.ndarray,
                 n_pre: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """delay_runs of synapses given as arrays (weights keep their float type)."""
    order = np.lexsort((delay, pre))
    pre, sorted_delay = pre[order], delay[order]
    new_run = np.ones(pre.size, bool)
    new_run[1:] = (pre[1:] != pre[:-1]) | (sorted_delay[1:] != sorted_delay[:-1])
    del sorted_delay
    starts = np.flatnonzero(new_run)
    runs = np.zeros(n_pre + 1, np.int64)
    np.cumsum(np.bincount(pre[starts], minlength=n_pre), out=runs[1:])
    del pre
    layout: dict[str, np.ndarray] = {
        "post": np.ascontiguousarray(post[order], np.int32), "runs": runs,
        "run_first": np.append(starts, order.size).astype(np.int32),
        "run_delay": np.ascontiguousarray(delay[order][starts], np.int16)}
    return np.ascontiguousarray(weight[order]), layout


def presynaptic(rows: np.ndarray) -> np.ndarray:
    """The presynaptic neuron of each entry of CSR rows (a neuron's first entry [pre + 1])."""
    return np.repeat(np.arange(rows.size - 1, dtype=np.int32), np.diff(rows))


def incoming(layout: dict[str, np.ndarray], n_post: int) -> dict[str, np.ndarray]:
    """A delay-run layout's synapses by target, for a program that gathers (NetworkPlan.gather):
    each target's first incoming synapse, and each incoming synapse's presynaptic neuron,
    storage index and delay, a target's in storage order (presynaptic neurons ascending: the
    order in which the C target adds them)."""
    per_run = np.diff(layout["run_first"])
    pre = np.repeat(presynaptic(layout["runs"]), per_run)
    delay = np.repeat(layout["run_delay"], per_run)
    order = np.argsort(layout["post"], kind="stable")
    first = np.zeros(n_post + 1, np.int64)
    np.cumsum(np.bincount(layout["post"], minlength=n_post), out=first[1:])
    return {"in_first": first, "in_pre": pre[order], "in_synapse": order.astype(np.int32),
            "in_delay": np.ascontiguousarray(delay[order], np.int16)}


MAX_DELAY = 2**15 - 1  # steps: a sparse projection stores a delay per run as 16 bits
COMPILE_OPTIONS = {"method", "reset", "reset_timing", "reset_delay", "rtol", "atol",
                   "max_substeps", "graded_spikes",
                   "inhibition", "state_quant"}


def zero_delay(projection: Projection) -> bool:
    """Whether some of the projection's events arrive in the step of their spike (a sparse one:
    a synapse of delay 0), so that its post population is updated after its pre population."""
    if projection.kind == "sparse":
        return projection.runs is not None and bool(projection.runs["run_delay"].size) \
            and int(projection.runs["run_delay"].min()) == 0
    return projection.kind in ("dense", "one_to_one", "conv2d") and projection.delay == 0


def update_order(names: list[str], edges: list[tuple[str, str]]) -> list[str]:
    """`names` in a topological order of `edges` (pre before post), stable otherwise."""
    waiting = {n: {pre for pre, post in edges if post == n and pre != n} for n in names}
    for pre, post in edges:
        if pre == post:
            raise InputError(f"a projection of delay 0 from {pre!r} to itself is a zero-delay "
                             "cycle: give it a delay of at least one step")
    order: list[str] = []
    while len(order) < len(names):
        ready = [n for n in names if n not in order and not waiting[n] - set(order)]
        if not ready:
            cycle = _a_cycle([n for n in names if n not in order], waiting)
            raise InputError("projections of delay 0 form the cycle "
                             f"{' -> '.join(map(repr, cycle))}: every cycle needs a projection "
                             "with a delay of at least one step")
        order.append(ready[0])
    return order


class PlayedBack:
    """A source whose steps are given as a (T, n) or (T, batch, n) array, each batch row reading
    its own: the program plays it back as source kind `kind` from its buffer `role`."""

    kind: ClassVar[str]
    role: ClassVar[str]

    @property
    def table(self) -> np.ndarray:
        return np.asarray(getattr(self, self.role))

    @property
    def n(self) -> int:
        return int(self.table.shape[-1])

    @property
    def rows(self) -> int:
        return int(self.table.shape[1]) if self.table.ndim == 3 else 1


@dataclass(frozen=True, eq=False)
class SpikeRaster(PlayedBack):
    """Spikes given as a (T, n) or (T, batch, n) array: each batch row reads its own."""

    kind: ClassVar[str] = "raster"
    role: ClassVar[str] = "spikes"
    spikes: np.ndarray


@dataclass(frozen=True, eq=False)
class Values(PlayedBack):
    """Real values given as a (T, n) or (T, batch, n) array (NIR's input currents): each
    nonzero value is an event that carries value x weight into every projection of the source,
    as a PoissonInput's count does."""

    kind: ClassVar[str] = "values"
    role: ClassVar[str] = "values"
    values: np.ndarray

    def __post_init__(self) -> None:
        array = np.asarray(self.values)
        if array.ndim not in (2, 3) or array.shape[-1] < 1 or array.shape[0] < 1 \
                or not (np.issubdtype(array.dtype, np.number) or array.dtype == bool) \
                or np.iscomplexobj(array):
            raise InputError("lifgen.Values takes a (T, n) or (T, batch, n) array of real "
                             f"numbers; got shape {array.shape}, dtype {array.dtype}")
        memory.check_copy(array.size * 9, "the copy of lifgen.Values")  # (and isfinite's)
        if not np.all(np.isfinite(array)):
            raise InputError("lifgen.Values: the values contain NaN or infinite numbers")
        object.__setattr__(self, "values", np.array(array, np.float64))  # the source's own copy


def _a_cycle(stuck: list[str], waiting: dict[str, set[str]]) -> list[str]:
    """One cycle among populations that all wait for another stuck one, in projection order."""
    path = [stuck[-1]]
    while True:
        previous = min(waiting[path[-1]] & set(stuck), key=stuck.index)
        if previous in path:
            cycle = path[path.index(previous):][::-1]
            start = min(range(len(cycle)), key=lambda i: stuck.index(cycle[i]))
            cycle = cycle[start:] + cycle[:start]
            return cycle + cycle[:1]
        path.append(previous)


def raster_source(spikes: np.ndarray, name: str) -> SpikeTrain | SpikeRaster:
    """A (T, n) array as a SpikeTrain (its events), a (T, batch, n) one as a SpikeRaster."""
    if spikes.ndim not in (2, 3) or spikes.shape[-1] < 1:
        raise InputError(f"source {name!r}: a spike array has shape (T, n) or (T, batch, n), "
                         f"got {spikes.shape}")
    memory.check_copy(spikes.size * 3, f"the spikes of source {name!r}")  # (the 0/1 test's too)
    if not (np.issubdtype(spikes.dtype, np.number) or spikes.dtype == bool) \
            or not np.all((spikes == 0) | (spikes == 1)):
        raise InputError(f"source {name!r}: a spike array holds 0 and 1 (or booleans)")
    if spikes.ndim == 3:
        return SpikeRaster(np.ascontiguousarray(spikes, np.uint8))
    steps, indices = np.nonzero(spikes)
    return SpikeTrain(spikes.shape[1], steps.astype(np.int64), indices.astype(np.int64))


def projection(pre: Population | SourcePopulation, post: Population, synapse: str,
                weights: Any, delay: Any, dt: float | None) -> Projection:
    what = f"connect({pre.name!r}, {post.name!r}, {synapse!r})"
    if isinstance(weights, Sparse):
        if not _default_delay(delay):
            raise InputError(f"{what}: a lifgen.Sparse keeps its own per-synapse delays; give "
                             "them there, not as delay=")
        if weights.max_delay > MAX_DELAY or weights.n_synapses >= 2**31:
            raise InputError(f"{what}: a projection holds fewer than 2**31 synapses with delays "
                             f"up to {MAX_DELAY} steps; this one has {weights.n_synapses}, "
                             f"delays up to {weights.max_delay}")
        if (weights.n_pre, weights.n_post) != (pre.n, post.n):
            raise InputError(f"{what}: the Sparse connects {weights.n_pre} -> {weights.n_post} "
                             f"neurons, the populations have {pre.n} -> {post.n}")
        memory.check_copy((weights.n_pre + 1) * 8 + weights.n_synapses * 32,
                          f"{what}'s layout of its synapses")
        ordered, layout = delay_runs(weights)
        return Projection(pre.name, post.name, synapse, "sparse", ordered, weights.max_delay,
                          layout)
    steps = _delay_steps(delay, dt, post.model.time_unit, what)
    if isinstance(weights, Convolution):
        if (weights.n_pre, weights.n_post) != (pre.n, post.n):
            raise InputError(f"{what}: the Convolution maps {weights.n_pre} -> {weights.n_post} "
                             f"neurons, the populations have {pre.n} -> {post.n}")
        block = weights.block_geometry()
        return Projection(pre.name, post.name, synapse, "conv2d", weights.by_input(), steps,
                          {**weights.tables(), **(weights.blocks() if block else {})},
                          conv=weights.geometry(), block=block)
    if isinstance(weights, str):
        if weights != "one_to_one":
            raise InputError(f"{what}: weights given as text must be 'one_to_one'")
        raise InputError(f"{what}: 'one_to_one' needs its weight: give (\"one_to_one\", w)")
    cells = pre.n if isinstance(weights, tuple) else np.size(weights)  # (n,) or (n_post, n_pre)
    memory.check_copy(cells * 16, f"{what}'s weights")
    try:
        if isinstance(weights, tuple) and len(weights) == 2 and weights[0] == "one_to_one":
            weights = np.broadcast_to(np.asarray(weights[1], float), (pre.n,))
        if np.iscomplexobj(weights):
            raise TypeError("complex")
        array = np.array(weights, float)  # a copy: the projection keeps what was given
    except (TypeError, ValueError):
        raise InputError(f"{what}: weights must be numbers: an (n_post, n_pre) array, an (n,) "
                         "array, (\"one_to_one\", w) with a number or (n,) array w, or a "
                         "lifgen.Sparse") from None
    if array.ndim == 1:
        if pre.n != post.n or array.shape != (pre.n,):
            raise InputError(f"{what}: one-to-one weights need populations of one size and one "
                             f"weight each ({pre.n} -> {post.n}, weights {array.shape})")
        kind = "one_to_one"
    elif array.shape == (post.n, pre.n):
        kind = "dense"
    else:
        raise InputError(f"{what}: dense weights have shape (n_post, n_pre) = ({post.n}, "
                         f"{pre.n}); got {array.shape}")
    if not np.all(np.isfinite(array)):
        raise InputError(f"{what}: weights contain NaN or infinite values")
    return Projection(pre.name, post.name, synapse, kind, array, steps)


def plastic_projection(pre: Population | SourcePopulation, post: Population, synapse: str,
                       synapses: Synapses, delay: Any) -> Projection:
    """A projection whose synapses follow a synapse model: their Sparse's delays (each at
    least one step: on_pre runs at the start of the arrival step, before the post neurons'
    update), its shape that of the populations, its model bound to the post model."""
    what = f"connect({pre.name!r}, {post.name!r}, {synapse!r})"
    sparse = synapses.sparse
    if isinstance(delay, Integral) and not isinstance(delay, bool) and delay == 0 \
            or (sparse.delay.size and sparse.delay.min() < 1):
        raise InputError(f"{what}: plastic synapses need delays of at least one step (on_pre "
                         "runs at the start of the arrival step, before the post neurons' "
                         "update); give the Sparse delays >= 1")
    if not _default_delay(delay):
        raise InputError(f"{what}: a lifgen.Synapses keeps its Sparse's per-synapse delays; "
                         "give them there, not as delay=")
    if (sparse.n_pre, sparse.n_post) != (pre.n, post.n):
        raise InputError(f"{what}: the Synapses' Sparse connects {sparse.n_pre} -> "
                         f"{sparse.n_post} neurons, the populations have {pre.n} -> {post.n}")
    if sparse.max_delay > MAX_DELAY:
        raise InputError(f"{what}: plastic synapses have delays up to {MAX_DELAY} steps; this "
                         f"Sparse has {sparse.max_delay}")
    if isinstance(pre, SourcePopulation) and isinstance(pre.source, PoissonInput):
        raise InputError(f"{what}: a PoissonInput brings a number of events per step, which "
                         "plastic synapses do not take; give lifgen.Poisson sources")
    try:
        binding = bind(synapses, synapse, post.model)
    except InputError as error:
        raise InputError(f"{what}: {error}") from None
    return Projection(pre.name, post.name, synapse, "plastic", np.asarray(sparse.weight, float),
                      sparse.max_delay, synapses=synapses, binding=binding)


def _default_delay(delay: Any) -> bool:
    """Whether connect's delay is its default, 1 step (an array is not: no ambiguous truth)."""
    return isinstance(delay, Integral) and not isinstance(delay, bool) and delay == 1


def _delay_steps(delay: Any, dt: float | None, unit: str, what: str) -> int:
    """A delay in whole steps, from a number of steps or a time ("1.5 ms") at the network's dt."""
    if is_quantity_text(delay):
        if dt is None or not unit:
            raise InputError(f"{what}: delay={delay!r} is a time, but the post model has no "
                             "time unit and dt; give the delay in steps")
        try:
            steps = to_unit(delay, parse_unit(unit), "delay") / dt
        except UnitError as error:
            raise InputError(f"{what}: {error}") from None
        if abs(steps - round(steps)) > 1e-6 * max(1.0, abs(steps)):
            raise InputError(f"{what}: delay={delay!r} is not a whole number of steps of dt = "
                             f"{dt:g} {unit}")
        delay = int(round(steps))
    if isinstance(delay, bool) or not isinstance(delay, Integral) or delay < 0:
        raise InputError(f"{what}: delay must be a whole number of steps >= 0 or a time such as "
                         f"'1.5 ms'; got {delay!r}")
    return int(delay)
