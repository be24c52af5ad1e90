"""Running a network made by from_nir: the Input nodes' arrays as its sources ((T, batch,
*shape): 0/1 spikes as a raster, other values as lifgen.Values), and the Output nodes read
back with NIR's shapes from what feeds them (spikes, or a non-spiking node's state)."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from ..errors import InputError
from ..results.network_result import NetworkResult
from ..runtime.network import Network
from ..runtime.populations import SourcePopulation, SpikeRaster, Values
from .nir_import import dense


def _interface(network: Any) -> Any:
    interface = getattr(network, "nir", None)
    if interface is None:
        raise InputError("run_nir runs a network made by lifgen.from_nir")
    return interface


def run_nir(network: Network, inputs: Mapping[str, Any], dtype: str = "float64",
            target: str = "c", record: dict | None = None) -> NetworkResult:
    """Run `network` (from lifgen.from_nir) on `inputs`, one (T, batch, *shape) array per Input
    node; `result.outputs[name]` is each Output node's (T, batch, *shape) array, and
    `result[population]` each population's Result (spikes as a raster)."""
    interface = _interface(network)
    if not isinstance(inputs, Mapping):
        raise InputError("inputs maps each Input node of the graph to its (T, batch, *shape) "
                         f"array; the graph's are {list(interface.inputs)}")
    missing = [key for key in interface.inputs if key not in inputs]
    unknown = [key for key in inputs if key not in interface.inputs]
    if missing or unknown:
        raise InputError(f"inputs: the graph's Input nodes are {list(interface.inputs)}; "
                         f"missing {missing}, unknown {unknown}")
    run = Network(network.dt)
    run.populations.update(network.populations)
    run.projections.extend(network.projections)
    steps, rows = None, None
    for key, (name, shape) in interface.inputs.items():
        array = np.asarray(inputs[key])
        n = int(np.prod(shape))
        if array.ndim < 2 or int(np.prod(array.shape[2:])) != n \
                or (shape and array.ndim > 2 and tuple(array.shape[2:]) != tuple(shape)
                    and array.ndim != 3):
            raise InputError(f"inputs[{key!r}]: NIR's Input {key!r} takes (T, batch, "
                             f"{', '.join(map(str, shape))}) arrays; got shape {array.shape}")
        array = array.reshape(array.shape[0], array.shape[1], n)
        if interface.batch is not None and array.shape[1] != interface.batch:
            raise InputError(f"inputs[{key!r}]: the network was made for batch="
                             f"{interface.batch}; the array has {array.shape[1]} rows")
        if steps is not None and (array.shape[0], array.shape[1]) != (steps, rows):
            raise InputError("inputs: every Input node's array has the same T and batch")
        steps, rows = array.shape[0], array.shape[1]
        if not np.issubdtype(array.dtype, np.number) and array.dtype != bool:
            raise InputError(f"inputs[{key!r}]: numbers, not {array.dtype}")
        binary = bool(np.all((array == 0) | (array == 1)))
        source = SpikeRaster(np.ascontiguousarray(array, np.uint8)) if binary else Values(array)
        run.populations[name] = SourcePopulation(name, source, n)
    if steps is None or rows is None:
        raise InputError("the graph has no Input node to feed")
    traced = {name: [state] for name, state in interface.emits.items() if state is not None}
    for name, states in (record or {}).items():
        traced[name] = sorted(set(traced.get(name, [])) | set(states))
    result = run.compile(target=target, dtype=dtype).run(steps, record=traced, spikes="raster")
    result.outputs = {key: _output(result, interface, key, paths, shape, steps, rows)
                      for key, (shape, paths) in interface.outputs.items()}
    return result


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
            emitted = population.traces[state].astype(np.float64)
        else:
            assert population.spikes is not None  # run_nir runs with a raster
            emitted = population.spikes.reshape(steps, -1, population.spikes.shape[-1]) \
                .astype(np.float64)
        emitted = emitted.reshape(steps, rows, -1)
        value = emitted @ dense(linear.matrix).T + linear.bias
        if linear.delay:
            value = np.concatenate([np.broadcast_to(linear.bias, (linear.delay, rows, value.shape[-1])),
                                    value[:-linear.delay]])[:steps]
        total = value if total is None else total + value
    assert total is not None
    if state is None and len(paths) == 1 and not np.any(paths[0][1].bias) \
            and paths[0][1].diagonal and np.all(dense(paths[0][1].matrix) == np.eye(
                paths[0][1].matrix.shape[0])):
        total = total.astype(bool)
    return total.reshape(steps, rows, *shape) if shape else total
