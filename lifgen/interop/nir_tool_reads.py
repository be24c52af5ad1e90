"""What a tool's own NIR import does to a graph before lifgen converts its nodes under that tool's
convention: Norse 1.1 reads every array as float32, cannot import or drops some edge nodes
(or their padding), and runs the graph through nirtorch 2.0's GraphExecutor, whose node order
makes some edges deliver a step late."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from ..errors import InputError

# edge nodes Norse's from_nir does not run as NIR defines them: what it does instead
NORSE_REFUSED = {
    "Scale": "drops it (runs the graph as if the node were not there)",
    "Delay": "drops it (runs the graph as if the node were not there)",
    "Conv1d": "has no Conv1d (its import fails)",
    "AvgPool2d": "has no AvgPool2d (its import fails)"}


def as_norse_reads(nodes: dict[str, Any]) -> dict[str, Any]:
    """The graph's (flattened) nodes as Norse's from_nir reads them: every floating-point
    array rounded to float32 (its _to_tensor(...).float()); an edge node of NORSE_REFUSED, or a
    SumPool2d with padding (which Norse drops), is an InputError."""
    read = {}
    for key, node in nodes.items():
        kind = type(node).__name__
        if kind in NORSE_REFUSED:
            raise InputError(f"node {key!r}: Norse's from_nir {NORSE_REFUSED[kind]}; "
                             "convention='norse' cannot give its numbers: use convention='nir'")
        if isinstance(node, tuple):  # (a subgraph's pass-through)
            read[key] = node
            continue
        node = copy.copy(node)
        for name, value in vars(node).items():
            if isinstance(value, np.ndarray) and value.dtype.kind == "f":
                setattr(node, name, value.astype(np.float32))
        if kind == "SumPool2d" and np.any(np.asarray(node.padding) != 0):
            raise InputError(f"node {key!r}: Norse's from_nir ignores a SumPool2d's padding (it "
                             "warns), pooling to another shape than the graph declares after "
                             "it; convention='norse' cannot give its numbers: use "
                             "convention='nir'")
        read[key] = node
    return read


def executor_late_edges(graph: Any, prefix: str = "") -> list[tuple[Any, str, str, str]]:
    """The edges along which nirtorch 2.0's GraphExecutor (Norse's import runs a graph with it)
    delivers the output of the step before, as (graph, prefix, pre, post) at each level: it
    runs a graph's nodes in depth-first order from its Input node, each node's successors in
    the order of the graph's edges, a subgraph as one node, and a node reads a source that runs
    after it (or is itself) from the step before (nothing at the first step)."""
    after: dict[str, list[str]] = {}
    for pre, post in graph.edges:
        after.setdefault(pre, []).append(post)
    targets = {post for _, post in graph.edges}
    roots = [k for k in graph.nodes if k not in targets]
    if len(roots) > 1:
        raise InputError(f"{'subgraph ' + repr(prefix[:-1]) if prefix else 'the graph'} has "
                         f"{len(roots)} nodes no edge enters ({', '.join(map(repr, roots))}): "
                         "Norse's import (nirtorch's executor) runs the graph from one of them, "
                         "which one is arbitrary, and never runs the others' paths; "
                         "convention='norse' cannot give its numbers: use convention='nir'")
    order: list[str] = []
    seen: set[str] = set()

    def visit(key: str) -> None:  # (iterative: a long chain is no deep recursion)
        stack = [key]
        while stack:
            here = stack.pop()
            if here in seen:
                continue
            seen.add(here)
            order.append(here)
            stack.extend(reversed([k for k in after.get(here, []) if k not in seen]))
    if roots:
        visit(roots[0])
    rank = {key: k for k, key in enumerate(order)}
    late = [(graph, prefix, pre, post) for pre, post in graph.edges
            if pre in rank and post in rank and rank[pre] >= rank[post]
            and type(graph.nodes[post]).__name__ != "Output"]
    for key, node in graph.nodes.items():
        if type(node).__name__ == "NIRGraph":
            late += executor_late_edges(node, prefix + key + ".")
    return late
