"""A network made by from_nir written back as a NIR graph: the graph it was made from, each
neuron node rebuilt from its population's parameters (convention "nir": the populations hold
NIR's own parameters by name, so a changed one is written), the edge, Input and Output nodes
and the edges as the graph had them."""

from __future__ import annotations

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
                              if np.size(value) == population.n else value)
                          for name, value in population.params.items() if name != "b"}
                nodes[key] = type(node)(**fields)
            else:
                nodes[key] = node
        return nir.NIRGraph(nodes=nodes, edges=list(graph.edges),
                            metadata=dict(getattr(graph, "metadata", {}) or {}))

    graph = rebuilt(interface.graph, "")
    if path is not None:
        _write(nir, graph, Path(path))
    return graph


def _write(nir: Any, graph: Any, path: Path) -> None:
    """Write the graph whole or not at all: to a temporary file beside `path`, then renamed."""
    if path.is_dir():
        raise InputError(f"to_nir: {str(path)!r} is a folder; give a file name such as net.nir")
    try:
        publish(path, lambda name: nir.write(str(name), graph), force=True)
    except InputError as error:
        raise InputError(f"to_nir: {error}") from None


def _like(original: Any, value: Any) -> np.ndarray:
    """A population's parameter in the original node's dtype and shape."""
    array = np.asarray(value)
    if original is None:
        return array.astype(np.float32)
    original = np.asarray(original)
    if array.size == original.size:  # (a population keeps a node's (c, h, w) array flat)
        return array.astype(original.dtype).reshape(original.shape)
    if array.size == 1:
        return np.broadcast_to(array.astype(original.dtype), original.shape).copy()
    return array.astype(original.dtype)
