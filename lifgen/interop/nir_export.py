"""A network made by from_nir written back as a NIR graph: the graph it was made from, each
neuron node rebuilt from its population's parameters (convention "nir": the populations hold
NIR's own parameters by name, so a changed one is written), the edge, Input and Output nodes
and the edges as the graph had them."""

from __future__ import annotations

import inspect
import math
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from ..results.outputs import publish
from .nir_models import NIR_NODES


def to_nir(network: Any, path: str | Path | None = None) -> Any:
    """The nir.NIRGraph of a network from lifgen.from_nir (written to `path` if given)."""
    import nir

    interface = getattr(network, "nir", None)
    if interface is None:
        raise InputError("to_nir writes a network made by lifgen.from_nir")

    def rebuilt(graph: Any, prefix: str) -> Any:
        nodes = {}
        for key, node in graph.nodes.items():
            kind = type(node).__name__
            if kind == "NIRGraph":
                nodes[key] = rebuilt(node, prefix + key + ".")
            elif kind in NIR_NODES and interface.convention == "nir":
                population = network.populations[interface.populations[prefix + key]]
                fields = {name: _like(getattr(node, name, None), interface.in_nir_order(
                              interface.populations[prefix + key], value)
                              if np.size(value) == population.n else value,
                              interface.broadcast.get(prefix + key, ()))
                          for name, value in population.params.items() if name != "b"}
                nodes[key] = type(node)(**fields)
            else:
                nodes[key] = node
        return _graph(nir, nodes, list(graph.edges), dict(getattr(graph, "metadata", {}) or {}))

    _check_written_back(network, interface)
    graph = rebuilt(interface.graph, "")
    if path is not None:
        _write(nir, graph, Path(path))
    return graph


def _graph(nir: Any, nodes: dict, edges: list, metadata: dict) -> Any:
    """The graph of these nodes without nir's type inference, as nir.read builds the graph it
    reads: the nodes are the graph's own (or rebuilt with its shapes), and nir 1.0.8 infers a
    grouped convolution's input as if it had one group (a ValueError on a graph from_nir
    read)."""
    try:
        return nir.NIRGraph(nodes=nodes, edges=edges, metadata=metadata, type_check=False)
    except TypeError:  # (a nir without type_check)
        return nir.NIRGraph(nodes=nodes, edges=edges, metadata=metadata)


def _check_written_back(network: Any, interface: Any) -> None:
    """Refuse parameters changed since from_nir that the graph cannot take back, rather than
    write the original nodes without them: under a tool's convention the populations hold that
    tool's parameters (beta, scaled thresholds), not NIR's, and b is the sum of the Affine
    biases before a node."""
    if [id(p) for p in network.projections] != interface.projections:
        raise InputError("to_nir: the network's projections changed since from_nir (replaced, "
                         "added or removed), which the graph's edge nodes cannot take back; "
                         "change the NIR graph instead")
    for name, imported in interface.imported.items():
        population = network.populations.get(name)
        if population is None:
            continue
        changed = sorted(k for k in set(population.params) | set(imported)
                         if k not in population.params or k not in imported
                         or not _same_value(population.params[k], imported[k]))
        lost = [k for k in changed if k == "b" or interface.convention != "nir"]
        if lost:
            raise InputError(
                f"to_nir: population {name!r} has {', '.join(lost)} changed since from_nir, "
                f"which the graph cannot take back ("
                + ("b is the sum of the biases of the Affine nodes before it; change them in "
                   "the graph" if lost == ["b"] else
                   f"under convention {interface.convention!r} the populations hold that "
                   "tool's parameters, not NIR's; change the NIR graph, or import it with "
                   "convention='nir'") + ")")


def _same_value(value: Any, then: np.ndarray) -> bool:
    """Whether a parameter still holds the values from_nir gave it, as NIR's float32 arrays
    hold them (in any float type or shape that broadcasts to them)."""
    try:
        now = np.asarray(value, np.float64).astype(np.float32)
        return bool(np.array_equal(np.broadcast_to(now, then.shape), then.astype(np.float32),
                                   equal_nan=True))
    except (TypeError, ValueError):
        return False


def _write(nir: Any, graph: Any, path: Path) -> None:
    """Write the graph whole or not at all: to a temporary file beside `path`, then renamed."""
    if path.is_dir():
        raise InputError(f"to_nir: {str(path)!r} is a folder; give a file name such as net.nir")
    try:
        # (nir 1.0.8 compresses every array, which h5py refuses for a 0-d one: Sinabs's
        # scalars; nir 1.0.4 compresses none and takes no compression=)
        plain = {"compression": None} if _scalar_arrays(graph.to_dict()) and "compression" in \
            inspect.signature(nir.write).parameters else {}
        publish(path, lambda name: nir.write(str(name), graph, **plain), force=True)
    except InputError as error:
        raise InputError(f"to_nir: {error}") from None


def _scalar_arrays(fields: dict) -> bool:
    """Whether a graph's dictionary (nir's to_dict) holds a 0-d array anywhere."""
    return any(_scalar_arrays(v) if isinstance(v, dict)
               else isinstance(v, np.ndarray) and v.ndim == 0 for v in fields.values())


def _like(original: Any, value: Any, shape: tuple[int, ...] = ()) -> np.ndarray:
    """A population's parameter in the original node's dtype and shape; where from_nir
    broadcast the node's parameters to `shape` (its input's), the original shape again if the
    values still broadcast from it, else `shape`."""
    array = np.asarray(value)
    if original is None:
        return array.astype(np.float32)
    original = np.asarray(original)
    if array.size == original.size:  # (a population keeps a node's (c, h, w) array flat)
        return array.astype(original.dtype).reshape(original.shape)
    if array.size == 1:
        return np.broadcast_to(array.astype(original.dtype), original.shape).copy()
    if shape and math.prod(shape) == array.size:
        full = array.reshape(shape)
        kept = (1,) * (len(shape) - original.ndim) + original.shape  # (1: a broadcast axis)
        reduced = full[tuple(slice(0, 1) if k == 1 else slice(None) for k in kept)]
        if np.array_equal(np.broadcast_to(reduced, shape), full):
            return reduced.reshape(original.shape).astype(original.dtype)
        return full.astype(original.dtype)
    return array.astype(original.dtype)
