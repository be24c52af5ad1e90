"""Sharded runs: an uncoupled population split into blocks of neurons, each run where an
executor puts it, and put back together into one Result. Each block numbers its neurons from
its first (the kernel's neuron0), so noise draws, and so every number, are those of the
unsharded run. External drives (Poisson, Bernoulli, SpikeTrain) couple nothing: each block
draws the sources that reach its neurons from the counter-based generator, keyed by source
number as in the whole run, and keeps the synapses onto its neurons. Coupled networks are not
sharded: they exchange spikes every step.
"""

from __future__ import annotations

from typing import Any, Protocol, Sequence

import numpy as np

from dataclasses import replace

from . import executors
from .connectivity import Sparse
from .plasticity import Synapses
from .prepare import drive_synapses
from .progress import ProgressBar
from .sources import SpikeTrain
from ..codegen.options import Semantics
from ..codegen.run_arrays import RunArrays
from ..errors import InputError
from ..ir.model import Model
from ..results.continuation import Pending, State
from ..results.result import Result


# What sharding reads of a Simulator and of its checked run request (runtime/simulate.py
# imports this module, so they are named here rather than imported back).
class ShardedSimulator(Protocol):
    model: Model
    semantics: Semantics
    dtype: str

    def run(self, *args: Any, **kwargs: Any) -> Result: ...


class Request(Protocol):
    arrays: RunArrays
    record: dict[str, Any]
    spikes: str
    connected: bool
    max_events: int
    given: dict[str, Any]
    carried: dict[str, np.ndarray]


def blocks(n_neurons: int, shards: int) -> list[tuple[int, int]]:
    """`shards` neuron ranges [first, end) of near-equal size covering the population."""
    edges = np.linspace(0, n_neurons, shards + 1).round().astype(int)
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:]) if b > a]


def run_block(simulator: ShardedSimulator, n_steps: int, count: int,
              arguments: dict[str, Any]) -> Result:
    """One block's run (a task: the simulator pickles as its model and options)."""
    return simulator.run(n_steps, count, **arguments)


def sharded_run(simulator: ShardedSimulator, request: Request, shards: int, executor: Any,
                progress: bool, allow_nan: bool) -> tuple[int, bool, list]:
    """`request` (checked and laid out by Simulator._prepare) run in blocks, gathered into its
    arrays: (steps done, interrupted, spike events), as a single kernel run returns them."""
    connections = any(c is not None for c in request.given["connections"].values())
    if connections or simulator.semantics.inhibition:  # (an unconnected input: its bias)
        raise InputError("coupled networks are not sharded: their neurons exchange spikes every "
                         "step (for CUBA about 1e4 round trips per simulated second); run them "
                         "on one machine, or on a GPU with target='cuda'")
    drives = {name: drive for name, drive in request.given["drives"].items() if drive is not None}
    if any(isinstance(drive[1], Synapses) for drive in drives.values()):
        raise InputError("a run with plastic drive synapses is not sharded: run it whole")
    a = request.arrays
    dtype = np.dtype(simulator.dtype).type
    drives = {name: (source, drive_synapses(weights, source.n, a.n_neurons, f"drives[{name!r}]",
                                            dtype, allow_nan))
              for name, (source, weights) in drives.items()}
    ranges = blocks(a.n_neurons, shards)
    pending = getattr(request.given["initial"], "pending", None)
    tasks = [(end - first, dict(_arguments(request, first, end, allow_nan, pending),
                                drives=_block_drives(drives, first, end)))
             for first, end in ranges]
    client, cluster = executors.resolve(executor)
    try:
        results = executors.run_all(client, run_block, (simulator, a.n_steps), tasks, progress,
                                    ProgressBar)
    finally:
        executors.close(client, cluster)
    events = _gather(request, ranges, results)
    request.carried = _carry(ranges, results)
    return min(r.n_steps for r in results), any(r.partial for r in results), events


def _carry(ranges: Sequence[tuple[int, int]], results: Sequence[Result]) -> dict[str, np.ndarray]:
    """The blocks' carries (the drives' spikes in flight) as one run's: the population's own
    arrays (lg_P0_...) joined along their last axis, its neurons; a drive's source (regenerated
    whole by every block) as the first block's."""
    pendings = [getattr(r.state, "pending", None) for r in results]
    carries = [dict(pending.buffers) if pending else {} for pending in pendings]
    joined = {}
    for name, first in carries[0].items():
        if not name.startswith("lg_P0_"):
            joined[name] = first
            continue
        blocks = [carry[name].reshape(-1, end - start)
                  for carry, (start, end) in zip(carries, ranges)]
        whole = np.concatenate(blocks, axis=1)
        joined[name] = whole.reshape(-1) if first.ndim == 1 else whole.reshape(
            *first.shape[:-1], whole.shape[-1])
    return joined


def refuse_network(min_delay: int | None) -> None:
    """A network's run is not split over workers: say why (an InputError)."""
    every = "every step" if not min_delay or min_delay <= 1 else f"every {min_delay} steps"
    raise InputError("a network's run is not sharded over workers: its populations exchange "
                     f"spikes every min-delay ({every} here; CUBA's 0.1 ms is about 1e4 round "
                     "trips per simulated second against 0.15 s of compute), which only an MPI "
                     "all-gather per min-delay window would scale; run it on one machine or a "
                     "GPU, and spread a sweep of its grid points instead (lifgen.sweep(net, "
                     "grid, executor=client))")


def _arguments(request: Request, first: int, end: int, allow_nan: bool,
               pending: Pending | None = None) -> dict[str, Any]:
    """run's arguments for neurons first .. end of the whole request (and of the carry it
    continues: the drives' spikes in flight to those neurons)."""
    a = request.arrays
    batch, n = a.batch, a.n_neurons
    inputs = {}
    for name, entry in a.inputs.items():
        if entry.layout == "streamed":
            inputs[name] = np.ascontiguousarray(
                entry.array.reshape(a.n_steps, *batch, n)[..., first:end])
        elif entry.layout == "time":
            inputs[name] = entry.array.reshape(-1, 1)
        else:
            inputs[name] = entry.array[first:end] if entry.neuron_stride else entry.array[0]
    params = {name: (values[first:end] if stride else values[0])
              for name, (values, stride) in a.params.items()}
    carry = {name: _block_of(array, n, first, end) if name.startswith("lg_P0_") else array
             for name, array in (pending.buffers if pending else {}).items()}
    initial = State({name: np.ascontiguousarray(state.reshape(*batch, n)[..., first:end])
                     for name, state in a.states.items()},
                    Pending(a.clock, carry, pending.made_by if pending else ""))  # (its clock)
    inside = a.index[(a.index >= first) & (a.index < end)] - first
    record = {name: inside for name in request.record}
    return dict(inputs=inputs, params=params, initial=initial, record=record,
                spikes=request.spikes, seed=a.seed, first_neuron=a.first_neuron + first,
                allow_nan=allow_nan)


def _block_of(array: np.ndarray, n: int, first: int, end: int) -> np.ndarray:
    """Neurons first .. end of a carried array of the population's (its neurons the last axis)."""
    block = np.ascontiguousarray(array.reshape(-1, n)[:, first:end])
    return block.reshape(-1) if array.ndim == 1 else block.reshape(*array.shape[:-1], end - first)


def _block_drives(drives: dict[str, tuple[Any, Sparse]], first: int, end: int
                  ) -> dict[str, tuple[Any, Sparse]]:
    """The drives of neurons first .. end: their synapses, and the sources 0 .. k that reach
    them (the generator draws source j of step t alike in every block and in the whole run)."""
    block = {}
    for name, (source, sparse) in drives.items():
        keep = (sparse.post >= first) & (sparse.post < end)
        if not keep.any():
            continue
        n = int(sparse.pre[keep].max()) + 1
        block[name] = (_first_sources(source, n), Sparse.from_arrays(
            sparse.pre[keep], sparse.post[keep] - first, sparse.weight[keep], sparse.delay[keep],
            n_pre=n, n_post=end - first))
    return block


def _first_sources(source: Any, n: int) -> Any:
    """Sources 0 .. n of a Poisson, Bernoulli or SpikeTrain drive, as their own source."""
    if isinstance(source, SpikeTrain):
        steps, indices = np.asarray(source.steps), np.asarray(source.indices)
        return SpikeTrain(n, steps[indices < n], indices[indices < n])
    field = "p" if hasattr(source, "p") else "rate"
    value = getattr(source, field)
    if np.ndim(value) and not isinstance(value, str):
        value = np.asarray(value)[..., :n]  # (n,) per source or (T, n) per step and source
    return replace(source, n=n, **{field: value})


def _gather(request: Request, ranges: Sequence[tuple[int, int]], results: Sequence[Result]) -> list:
    """Each block's Result into the whole request's arrays (as one kernel would have left
    them), and its events, with global neuron numbers, sorted as one run sorts them (and cut
    where the memory limit cuts them)."""
    a = request.arrays
    rows, n = a.rows, a.n_neurons
    events = []
    for (first, end), result in zip(ranges, results):
        count = end - first
        a.counts[:, first:end] = np.asarray(result.spike_count).reshape(rows, count)
        for name in a.states:
            a.states[name][:, first:end] = np.asarray(result.state[name]).reshape(rows, count)
        columns = np.flatnonzero((a.index >= first) & (a.index < end))
        for name, trace in a.traces.items():
            trace[:, :, columns] = np.asarray(result.traces[name]).reshape(a.n_steps, rows, -1)
        if a.raster is not None:
            a.raster[:, :, first:end] = np.asarray(result.spikes).reshape(a.n_steps, rows, count)
        if a.offsets is not None:
            a.offsets[:, :, first:end] = np.asarray(result.spike_offsets).reshape(
                a.n_steps, rows, count)
        if result.spike_events is not None:
            steps, flat = result.spike_events
            events.append((steps, flat // count * n + first + flat % count))
    if not events:
        return []
    steps, flat = (np.concatenate(column) for column in zip(*events))
    order = np.lexsort((flat, steps))[:request.max_events]  # the memory limit's cap, as one run
    return [(steps[order], flat[order])]
