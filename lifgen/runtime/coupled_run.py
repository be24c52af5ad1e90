"""A single population's coupled run (`run(connections=..., drives=...)`) as a one-population
network: each synapse type's connections become a projection of the population onto itself
(delay 1 for one-to-one and dense weights, the Sparse's own delays), each drive a source
population after it with a sparse projection, and the network's program runs the steps. One
lowering of the coupled step serves single populations and networks alike."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..codegen.network import (ORIGIN, NetworkPlan, PopulationPlan, ProjectionPlan,
                               adds_directly, population_buffer, projection_buffer,
                               winner_chunks)
from ..codegen.run_arrays import RunArrays, SynapseArrays
from ..ir.kinds import DriveKind, WeightKind
from ..results.continuation import Pending
from .continuation import restore
from .populations import incoming, presynaptic, synapse_runs

# A connection's weight layout -> the projection kind that delivers it
PROJECTION_KINDS = {WeightKind.ONE_TO_ONE: "one_to_one", WeightKind.DENSE: "dense",
                    WeightKind.SPARSE: "sparse", WeightKind.PLASTIC: "plastic"}
RINGED = (WeightKind.SPARSE, WeightKind.PLASTIC)  # what arrives through the delay ring
DRIVE_SOURCES = {DriveKind.RANDOM: "random", DriveKind.PLAYBACK: "train"}


@dataclass(frozen=True)
class _Drive:
    """One synapse type's external drive as a source population of the one-population network."""

    synapse: str
    entry: dict[str, Any]  # prepare.drive's arrays


def coupled_plan(simulator: Any, arrays: RunArrays, traced: tuple[str, ...],
                 spikes: str) -> NetworkPlan:
    """The one-population network of a coupled run: the population, then its drives."""
    model = simulator.model
    synapses = arrays.synapses
    projections, drives = _projections(simulator, synapses)
    direct = {p.synapse for p in projections if p.direct}
    rings = tuple((y, synapses[y].ring_slots) for y in model.synapse_names
                  if (synapses[y].weight_kind in RINGED and y not in direct) or y in dict(drives))
    population = PopulationPlan(
        model.name, arrays.n_neurons, simulator.step_map, rings=rings, traced=traced,
        shared=frozenset(p for p, (_, stride) in arrays.params.items() if stride == 0),
        uniform_inputs=frozenset(u for u, entry in arrays.inputs.items()
                                 if not entry.neuron_stride),
        neuron0=arrays.first_neuron, inhibition=simulator.semantics.inhibition,
        levels=tuple(sorted(simulator.semantics.state_quant or ())))
    # a drive draws as the single-population kernel did: its sources numbered from 0
    sources = [PopulationPlan(f"drive of {y}", entry["n"], source=DRIVE_SOURCES[entry["kind"]],
                              probability_strides=(entry.get("time_stride", 0),
                                                   entry.get("source_stride", 0)),
                              unrecorded=True)
               for y, entry in drives]
    return NetworkPlan((population, *sources), projections, simulator.dtype,
                       raster=spikes in ("raster", "events"),
                       flush_denormals=simulator.schedule.flush_denormals,
                       gather=getattr(simulator.target, "gathers", False))


def _projections(simulator: Any, synapses: dict[str, SynapseArrays]
                 ) -> tuple[tuple[ProjectionPlan, ...], list[tuple[str, dict[str, Any]]]]:
    """The population's projections onto itself, then one from each drive; and the drives, in
    synapse order. Plastic synapses are plastic projections from whichever gives their
    presynaptic spikes."""
    own = [_own(simulator, y, s) for y, s in synapses.items()
           if s.weight_kind in PROJECTION_KINDS and not _plastic_drive(s)]
    drives = [(y, s.drive) for y, s in synapses.items() if s.drive["kind"] != DriveKind.NONE]
    driven = [_plastic(1 + k, y, synapses[y]) if _plastic_drive(synapses[y]) else
              ProjectionPlan(1 + k, 0, y, "sparse") for k, (y, _) in enumerate(drives)]
    return (*own, *driven), drives


def _own(simulator: Any, synapse: str, arrays: SynapseArrays) -> ProjectionPlan:
    """The connections of one synapse type as a projection of the population onto itself
    (graded spikes scale their weights): added straight into the synapse type's state where
    every one has a delay of one step, else through the ring (a Sparse's own delays) or, for
    one-to-one and dense weights into an input of the equations, read at arrival."""
    kind = PROJECTION_KINDS[arrays.weight_kind]
    graded = float(simulator.semantics.graded_spikes)
    if kind == "plastic":
        return _plastic(0, synapse, arrays)
    direct = adds_directly(simulator.model, synapse)
    if kind == "sparse":
        return ProjectionPlan(0, 0, synapse, kind, 0, graded, direct=direct and _one_step(arrays))
    return ProjectionPlan(0, 0, synapse, kind, 1, graded, direct=direct, at_arrival=not direct)


def _one_step(synapse: SynapseArrays) -> bool:
    """Whether every sparse connection of the synapse type has a delay of one step."""
    delay = synapse.delay
    return delay is not None and bool(delay.size) and bool(np.all(delay == 1))


def _plastic_drive(synapse: SynapseArrays) -> bool:
    """Whether the synapse type's plastic synapses are those of its drive (Song et al.'s)."""
    return synapse.plastic is not None and synapse.plastic["binding"].source == "drive"


def _plastic(pre: int, synapse: str, arrays: SynapseArrays) -> ProjectionPlan:
    """A plastic synapse type as a plastic projection from population `pre`, its spike history
    as long as the run laid it out."""
    laid = arrays.plastic
    assert laid is not None
    return ProjectionPlan(pre, 0, synapse, "plastic", laid["history"].shape[1] - 1,
                          plastic=laid["binding"], recorded=laid["trace"] is not None)


def _sparse_layout(rows: np.ndarray, post: np.ndarray, delay: np.ndarray, weights: np.ndarray
                   ) -> dict[str, np.ndarray]:
    """CSR synapses (by presynaptic neuron) in the projections' delay-run layout."""
    n_pre = rows.size - 1
    pre = np.repeat(np.arange(n_pre, dtype=np.int64), np.diff(rows))
    ordered, layout = synapse_runs(pre, post, delay, weights, n_pre)
    return {"weights": ordered, **layout}


class CoupledRunner:
    """Runs a coupled single-population run through its one-population network's program, a
    chunk of steps at a time (the Runner protocol of the single-population kernels). A run
    continued from a Result's state starts with the spikes that run left in flight."""

    def __init__(self, simulator: Any, arrays: RunArrays, traced: tuple[str, ...],
                 spikes: str, pending: Pending | None = None) -> None:
        self.arrays = arrays
        self.spikes = spikes
        self.source, self.kernel = simulator.network_program(
            coupled_plan(simulator, arrays, traced, spikes))
        self.target = simulator.target
        self.plan = self.source.program.plan
        arrays.counts.fill(0)
        self.buffers = self._buffers()
        restore(pending, self.buffers, simulator._made_by())

    def _buffers(self) -> dict[str, np.ndarray]:
        """The program's buffers over the run's arrays (what it keeps between chunks: states,
        counts, flags, rings) and scratch of its own."""
        a, plan = self.arrays, self.plan
        dtype = next(iter(a.states.values())).dtype
        population = plan.populations[0]
        n, rows = a.n_neurons, a.rows
        out: dict[str, np.ndarray] = {
            population_buffer(0, "fired"): a.fired, population_buffer(0, "counts"): a.counts,
            population_buffer(0, "spike_list"): np.zeros(n, np.int64),
            population_buffer(0, "spiked"): np.zeros(n, dtype),
            population_buffer(0, "margin"): np.zeros(n, dtype),
            population_buffer(0, "was_reset"): np.zeros(n, dtype),
            population_buffer(0, "chunk_winner"): np.zeros(winner_chunks(n), np.int64),
            ORIGIN: np.array([a.clock], np.int64)}
        out.update({population_buffer(0, "state", s): v.reshape(-1) for s, v in a.states.items()})
        out.update({population_buffer(0, "param", p): np.ascontiguousarray(
            np.broadcast_to(v.reshape(-1), (n,)) if v.size == 1 else v.reshape(-1))
            for p, (v, _) in a.params.items()})
        out.update({population_buffer(0, "constant", c.name.removeprefix("lg_")):
                    np.empty(n, dtype) for c, _ in population.step_map.constants})
        out.update({population_buffer(0, "input", u): np.asarray(e.array).reshape(-1)
                    for u, e in a.inputs.items()})
        if a.inputs:
            out[population_buffer(0, "input_strides")] = np.array(
                [s for e in a.inputs.values() for s in (e.time_stride, e.batch_stride)], np.int64)
        out.update({population_buffer(0, "synapse", y): np.zeros(n, dtype)
                    for y in population.step_map.model.synapse_names})
        out.update({population_buffer(0, "ring", y): np.zeros((rows, slots, n), dtype)
                    for y, slots in population.rings})
        if population.traced:
            out[population_buffer(0, "record")] = a.index
            out[population_buffer(0, "n_record")] = np.array([a.index.size], np.int64)
            out.update({population_buffer(0, "trace", s): a.traces[s] for s in population.traced})
        for k, source in enumerate(plan.populations[1:], start=1):
            out.update(_source_buffers(k, source, self._drive(k), rows, dtype))
        for j, projection in enumerate(plan.projections):
            out.update(self._projection_buffers(j, projection, dtype))
        return out

    def _drive(self, k: int) -> dict[str, Any]:
        synapse = [p for p in self.plan.projections if p.pre == k][0].synapse
        return self.arrays.synapses[synapse].drive

    def _projection_buffers(self, j: int, projection: ProjectionPlan,
                            dtype: np.dtype) -> dict[str, np.ndarray]:
        s = self.arrays.synapses[projection.synapse]
        if projection.kind == "plastic":
            laid = _plastic_buffers(j, s, projection.pre != 0)
            if self.plan.gather:  # each synapse's presynaptic neuron, for its post's thread
                laid[projection_buffer(j, "pre")] = presynaptic(laid[projection_buffer(j, "rows")])
            return laid
        if projection.pre != 0:  # a drive's synapses
            d = s.drive
            laid = _sparse_layout(d["rows"], d["post"], d["delay"], d["weights"])
        elif projection.kind == "sparse":
            assert s.rows is not None and s.post is not None and s.delay is not None
            assert s.weights is not None
            laid = _sparse_layout(s.rows, s.post, s.delay, s.weights)
        else:
            assert s.weights is not None
            laid = {"weights": s.weights}
        if self.plan.gather and "post" in laid:
            laid.update(incoming(laid, self.arrays.n_neurons))
        return {projection_buffer(j, role): np.ascontiguousarray(v) for role, v in laid.items()}

    def advance(self, done: int, steps: int, spikes: np.ndarray | None) -> None:
        """Steps done .. done + steps (a raster chunk `spikes` where events are collected)."""
        raster = population_buffer(0, "raster")
        buffers = []
        for b in self.source.program.buffers:
            array = self.buffers.get(b.name)
            if b.name == raster:
                array = spikes if spikes is not None else self._raster()[done:]
            elif "_trace_" in b.name:
                assert array is not None
                array = array[done:]
            buffers.append(array)
        self.target.call_network(self.kernel, self.source, buffers, self.arrays.clock + done,
                                 steps, self.arrays.rows, self.arrays.seed)

    def _raster(self) -> np.ndarray:
        assert self.arrays.raster is not None
        return self.arrays.raster

    def finish(self, on_device: bool = False) -> None:
        """The run's arrays hold its results already (nothing is on a device)."""


# a plastic projection's buffers: program role -> its array in plasticity.arrays' layout
PLASTIC_ROLES = {"post": "post", "cols": "cols", "index": "index", "states": "states",
                 "history": "history", "params": "params", "record": "record",
                 "recorded_states": "trace"}


def _plastic_buffers(j: int, synapse: SynapseArrays, driven: bool) -> dict[str, np.ndarray]:
    """A plastic synapse type's arrays as its projection's buffers: its synapses in CSR by
    presynaptic neuron (the drive's or the population's), states, history and records."""
    laid = synapse.plastic
    assert laid is not None
    csr = synapse.drive if driven else {"rows": synapse.rows, "delay": synapse.delay}
    out = {projection_buffer(j, "rows"): np.ascontiguousarray(csr["rows"], np.int64),
           projection_buffer(j, "delay"): np.ascontiguousarray(csr["delay"], np.int64),
           projection_buffer(j, "n_record"): np.array([laid["record"].size], np.int64)}
    out.update({projection_buffer(j, role): laid[key] for role, key in PLASTIC_ROLES.items()
                if laid[key] is not None})
    return out


def _source_buffers(k: int, source: PopulationPlan, drive: dict[str, Any], rows: int,
                    dtype: np.dtype) -> dict[str, np.ndarray]:
    """A drive's source population: its flags, counts, list and draws or recording."""
    n = source.n
    out: dict[str, np.ndarray] = {population_buffer(k, "fired"): np.zeros((rows, n), np.uint8),
           population_buffer(k, "spike_list"): np.zeros(n, np.int64),
           population_buffer(k, "counts"): np.zeros((rows, n), np.int64)}
    if source.source == "train":
        out.update({population_buffer(k, "events"): np.zeros(n, dtype),
                    population_buffer(k, "train_start"): drive["start"],
                    population_buffer(k, "train_source"): drive["sources"]})
    else:  # the probabilities as the run laid them out (in its float type), compared in double
        out.update({population_buffer(k, "probability"): drive["p"].astype(np.float64),
                    population_buffer(k, "seed"): np.array([drive["seed"]], np.uint64)})
    return out
