"""A synapse model bound to one synapse type of a neuron model (`Plastic`), and its propagation
with the subtrees of shared parameters hoisted: what the lowering of plastic events
(synapse_events.py) and the run's synapse arrays (runtime/plasticity.py) read."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import sympy

from ..frontend.synapse_model import SynapseModel
from ..ir.written import Assignments
from ..numerics.discretize import Hoister
from ..numerics.synapse_propagation import ELAPSED, propagation


@dataclass(frozen=True)
class Plastic:
    """A synapse model bound to one synapse type of a neuron model: what a plastic projection
    needs to lower its events."""

    synapse_type: str
    model: SynapseModel
    time_factor: float  # one time unit of the neuron model, in the synapse model's time unit
    source: str = "connections"  # or "drive": where the presynaptic spikes come from
    shared: tuple[str, ...] = ()  # parameters with one value for every synapse (read once)


@functools.lru_cache(maxsize=64)
def hoisted_propagation(plastic: Plastic) -> tuple[Assignments, list[tuple[sympy.Symbol, Any]]]:
    """(constants, propagation): the propagation with its subtrees of shared parameters alone
    (1/tau_pre) named qk_0, qk_1, ... and computed once per step, not per event."""
    shared = {q.symbol for q in plastic.model.parameters if q.name in plastic.shared}
    hoister = Hoister({ELAPSED, *(q.symbol for q in plastic.model.states),
                       *(q.symbol for q in plastic.model.parameters)} - shared, prefix="qk_")
    trees = [(state, hoister.hoist(tree)) for state, tree in propagation(plastic.model, shared)]
    return hoister.table(), trees
