"""Running a network made by from_nir: the Input nodes' arrays as its sources ((T, batch,
*shape): 0/1 spikes as a raster, other values as lifgen.Values), and the Output nodes read
back with NIR's shapes from what feeds them (spikes, or a non-spiking node's state)."""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np

from ..errors import InputError
from ..results.network_result import NetworkResult
from ..results.result import Result
from ..runtime import memory, prepare
from ..runtime.network import Network
from ..runtime.populations import SourcePopulation, SpikeRaster, Values
from .nir_import import dense


def _interface(network: Any) -> Any:
    interface = getattr(network, "nir", None)
    if interface is None:
        raise InputError("run_nir runs a network made by lifgen.from_nir")
    return interface


def run_nir(network: Network, inputs: Mapping[str, Any], dtype: str = "float64",
            target: str = "c", record: dict | None = None,
            spikes: str = "raster", threads: int = 1) -> NetworkResult:
    """Run `network` (from lifgen.from_nir) on `inputs`, one (T, batch, *shape) array per Input
    node; `result.outputs[name]` is each Output node's (T, batch, *shape) array, and
    `result[population]` each population's Result: its spikes as a (T, batch, n) raster, or
    with spikes="count" only their counts per neuron (`spike_count`; a population whose spikes
    an Output node reads keeps its raster all the same, the others none), by population or by
    the graph's node key (`result["lif1.lif"]`). `record` names populations or node keys
    ({"lif1.lif": ["V"]}). `threads` > 1 runs batch rows on that many threads at once (the C
    target; each row's numbers those of one thread)."""
    interface = _interface(network)
    try:  # np.float32, np.dtype("float32") or "f4" as its name
        dtype = np.dtype(dtype).name if dtype is not None else dtype
    except TypeError:
        raise InputError(f"dtype is 'float64' or 'float32', got {dtype!r}") from None
    if spikes not in ("raster", "count"):
        raise InputError(f"spikes is 'raster' or 'count', got {spikes!r}")
    threads = prepare.count(threads, "threads", 1, 1024)
    if record is not None and (not isinstance(record, Mapping) or not all(
            isinstance(states, (list, tuple)) and all(isinstance(s, str) for s in states)
            for states in record.values())):
        raise InputError(f"record maps populations to lists of their states, e.g. "
                         f"{{'lif': ['v']}}; got {record!r}"[:300])
    if not isinstance(inputs, Mapping):
        raise InputError("inputs maps each Input node of the graph to its (T, batch, *shape) "
                         f"array; the graph's are {list(interface.inputs)}")
    missing = [key for key in interface.inputs if key not in inputs]
    unknown = [key for key in inputs if key not in interface.inputs]
    if missing or unknown:
        raise InputError(f"inputs: the graph's Input nodes are {list(interface.inputs)}; "
                         f"missing {missing}, unknown {unknown}")
    sources: dict[str, SourcePopulation] = {}
    steps, rows = None, None
    for key, (name, shape) in interface.inputs.items():
        array = np.asarray(inputs[key])
        memory.check_copy(array.size * 10, f"inputs[{key!r}]")  # (its 0/1 test and copy)
        n = math.prod(shape)
        if array.ndim < 2 or math.prod(array.shape[2:]) != n \
                or (shape and array.ndim > 2 and tuple(array.shape[2:]) != tuple(shape)
                    and array.ndim != 3):
            raise InputError(f"inputs[{key!r}]: NIR's Input {key!r} takes (T, batch, "
                             f"{', '.join(map(str, shape))}) arrays"
                             + (f" (or (T, batch, {n}))" if len(shape) > 1 else "")
                             + f"; got shape {array.shape}")
        if 0 in array.shape[:2]:
            raise InputError(f"inputs[{key!r}]: at least one step and one sample; got shape "
                             f"{array.shape}")
        array = array.reshape(array.shape[0], array.shape[1], n)
        if interface.batch is not None and array.shape[1] != interface.batch:
            raise InputError(f"inputs[{key!r}]: the network was made for batch="
                             f"{interface.batch}; the array has {array.shape[1]} rows")
        if steps is not None and (array.shape[0], array.shape[1]) != (steps, rows):
            raise InputError(f"inputs: every Input node's array has the same T and batch; "
                             f"inputs[{key!r}] has (T, batch) = {array.shape[:2]}, the one "
                             f"before {(steps, rows)}")
        steps, rows = array.shape[0], array.shape[1]
        if not np.issubdtype(array.dtype, np.number) and array.dtype != bool \
                or np.iscomplexobj(array):
            raise InputError(f"inputs[{key!r}]: real numbers, not {array.dtype}")
        try:
            source = SpikeRaster(np.ascontiguousarray(array, np.uint8)) if _binary(array) \
                else Values(array)
        except InputError as error:
            raise InputError(f"inputs[{key!r}]: {error}") from None
        sources[name] = SourcePopulation(name, source, n)
    if steps is None or rows is None:
        raise InputError("the graph has no Input node to feed")
    simulator = _simulator(network, interface, sources, target, dtype, threads)
    # the states that feed Output nodes (a hidden population's are only traced when asked)
    feeding = {name for _, paths in interface.outputs.values() for name, _ in paths}
    traced = {name: [state] for name, state in interface.emits.items()
              if state is not None and name in feeding}
    named: dict[str, list[str]] = {}  # a node key's states go to its population's
    for name, states in (record or {}).items():
        population = name if name in network.populations else interface.populations.get(name)
        if population is None:
            raise InputError(f"record: {name!r} is no node of the graph; its neuron nodes are "
                             f"{[k for k, p in interface.populations.items() if p not in sources]}")
        named[population] = [*named.get(population, []), *states]
    for name, states in named.items():
        traced[name] = sorted(set(traced.get(name, [])) | set(states))
    # an Output node that reads a population's spikes needs its raster (only its, unless asked)
    rasters = sorted(name for name in feeding if interface.emits.get(name) is None)
    kept = None if spikes == "raster" or not rasters else rasters
    result = simulator.run(steps, record=traced, spikes="raster" if rasters else spikes,
                           rasters=kept)
    for name in interface.channels_last:
        _in_nir_order(result.populations[name], interface, name)
    if rows == 1:  # (a network run drops a batch of one row: NIR's arrays keep it)
        for population in result.populations.values():
            _with_batch_axis(population)
    result.outputs = {key: _output(result, interface, key, paths, shape, steps, rows)
                      for key, (shape, paths) in interface.outputs.items()}
    result.aliases = {key: name for key, name in interface.populations.items() if key != name}
    return result


def _in_nir_order(population: Result, interface: Any, name: str) -> None:
    """Put a population's Result (the run's own) in NIR's (channel, row, column) order: the
    raster, counts, traces (of every neuron) and final states of a population numbered
    channels-last."""
    def ordered(array: Any) -> Any:
        return interface.in_nir_order(name, array) if isinstance(array, np.ndarray) else array
    population.spikes = ordered(population.spikes)
    population.spike_count = ordered(population.spike_count)
    population.traces = {k: ordered(v) for k, v in population.traces.items()}
    population.state = {k: ordered(v) for k, v in population.state.items()}


def _with_batch_axis(population: Result) -> None:
    """A population's Result of a run at batch 1 with the batch axis that a network run leaves
    out where nothing else gives it: spikes and traces (T, 1, n), counts and states (1, n), as
    at every other batch."""
    if population.spike_count is None or population.spike_count.ndim != 1:
        return

    def batched(array: Any, axis: int) -> Any:  # (a reshape: np.expand_dims costs 3 us)
        return array.reshape(array.shape[:axis] + (1,) + array.shape[axis:]) \
            if isinstance(array, np.ndarray) else array
    population.spikes = batched(population.spikes, 1)
    population.spike_count = batched(population.spike_count, 0)
    population.traces = {k: batched(v, 1) for k, v in population.traces.items()}
    population.state = {k: batched(v, 0) for k, v in population.state.items()}
    population.inputs = {k: batched(v, 1) for k, v in population.inputs.items()}


def _binary(array: np.ndarray) -> bool:
    """Whether every value is 0 or 1 (spikes): one pass over booleans and unsigned integers."""
    if array.dtype == bool:
        return True
    if np.issubdtype(array.dtype, np.unsignedinteger):
        return array.size == 0 or int(array.max()) <= 1
    return bool(np.all((array == 0) | (array == 1)))


# compiled networks a network made by from_nir keeps, one per target, dtype and input kind and
# shape (batch and neurons): a stream of new batch sizes would otherwise keep every one
KEPT_PROGRAMS = 8


def _simulator(network: Network, interface: Any, sources: dict[str, SourcePopulation],
               target: str, dtype: str, threads: int = 1) -> Any:
    """The compiled network with these sources: built once per (target, dtype, source kinds
    and shapes: a program is specialised to its raster's strides) while the network's
    populations and projections stay the same objects, its sources swapped in for each run (a
    program reads their arrays at run time, so the kernels and their cache are reused: a run at
    batch 1 costs the simulation, not a compile)."""
    key = (target, dtype, threads, tuple((name, type(population.source).__name__,
                                 _source_shape(population.source))
                                for name, population in sources.items()))
    fingerprint = _fingerprint(network)
    cached = interface.simulators.pop(key, None)  # (put back last: the most recently used)
    if cached is not None:
        interface.simulators[key] = cached
    if cached is not None and cached[0] == fingerprint:
        simulator = cached[1]
        simulator.network.populations.update(sources)
        return simulator
    run = Network(network.dt)
    run.populations.update(network.populations)
    run.populations.update(sources)
    run.projections.extend(network.projections)
    simulator = run.compile(target=target, dtype=dtype, threads=threads)
    interface.simulators[key] = (fingerprint, simulator)
    while len(interface.simulators) > KEPT_PROGRAMS:  # the least recently used first
        del interface.simulators[next(iter(interface.simulators))]
    return simulator


def _source_shape(source: Any) -> tuple[int, ...]:
    """A source's (batch, neurons): what its program's strides depend on (not T: a run of a new
    length reuses the program)."""
    array = source.spikes if isinstance(source, SpikeRaster) else source.values
    return tuple(np.shape(array))[1:]


def _fingerprint(network: Network) -> tuple:
    """What a cached program depends on: each neuron population (by identity), its model, size
    and options, and the projections (by identity: they are not changed in place). Parameters
    and initial states are not part of it: the compiled network lays them out again when they
    change (laid_out.Kept compares them with its copies)."""
    parts = tuple((name, id(population), id(population.model), population.n,
                   repr(sorted(population.options.items())))
                  for name, population in network.populations.items()
                  if not isinstance(population, SourcePopulation))
    return parts, tuple(id(p) for p in network.projections)


def _identity(linear: Any) -> bool:
    """Whether a path's map is x -> x (no bias)."""
    if linear.identity:  # (a Flatten, a pass-through: known without looking at the matrix)
        return True
    matrix = linear.matrix
    if not linear.diagonal or np.any(linear.bias) or matrix.shape[0] != matrix.shape[1]:
        return False
    return bool(np.all(np.asarray(matrix.diagonal()) == 1)) and (
        isinstance(matrix, np.ndarray) and np.count_nonzero(matrix) == matrix.shape[0]
        or not isinstance(matrix, np.ndarray) and matrix.count_nonzero() == matrix.shape[0])


def _output(result: NetworkResult, interface: Any, key: str, paths: list, shape: tuple,
            steps: int, rows: int) -> np.ndarray:
    """What feeds Output node `key` each step: its populations' spikes or states, through the
    edge nodes between (summed), shaped (T, batch, *shape)."""
    if not paths:
        raise InputError(f"Output node {key!r} has no edge into it")
    total = None
    for name, linear in paths:
        if linear.delays is not None:
            raise InputError(f"Output node {key!r}: per-element delays on the edges into an "
                             "Output node are not supported")
        state = interface.emits.get(name)
        population = result[name]
        if state is not None:
            emitted = population.traces[state]
        else:
            assert population.spikes is not None  # run_nir runs with a raster
            emitted = population.spikes
        emitted = emitted.reshape(steps, rows, -1)  # (in NIR's order: see run_nir)
        if _identity(linear) and not linear.delay and len(paths) == 1:
            # the population's own spikes (as they are) or states (float64)
            return emitted.astype(np.float64 if state is not None else bool, copy=False) \
                .reshape(steps, rows, *(shape or (emitted.shape[-1],)))
        value = emitted.astype(np.float64) @ dense(linear.matrix).T + linear.bias
        if linear.delay:
            value = np.concatenate([np.broadcast_to(linear.bias, (linear.delay, rows, value.shape[-1])),
                                    value[:-linear.delay]])[:steps]
        total = value if total is None else total + value
    assert total is not None
    if state is None and len(paths) == 1 and _identity(paths[0][1]):
        total = total.astype(bool)
    return total.reshape(steps, rows, *shape) if shape else total
