"""A population's arrays as a network run lays them out, kept between runs of a compiled
network: a run with the same arguments, whose population still has the same parameters and
initial states, copies the kept initial states and takes the checked parameters as they are,
instead of checking and converting every value again (most of a short run at batch 1 of a small
network is that work)."""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import aligned

# buffers the program writes as it runs: fresh ones for every run (the states are copied)
WRITTEN = ("state_", "constant_", "spiked", "synapse_", "margin", "was_reset")


@dataclass(frozen=True)
class Kept:
    """A population's layout (`layout`, a network_run._Layout) for the run arguments `key`, the
    population object it was made from, copies of that population's parameters and initial
    states then, and what the run allocates (memory.check's parts)."""

    key: tuple
    population: Any
    params: dict
    initial: dict
    layout: Any
    footprint: dict

    def matches(self, key: tuple, population: Any) -> bool:
        """Whether a run with arguments `key` of `population` lays out the same arrays."""
        return key == self.key and population is self.population \
            and _same(population.params, self.params) and _same(population.initial, self.initial)

    def fresh(self) -> Any:
        """The layout for one more run: the states copied, new arrays for what the program
        writes, the parameters and inputs shared (the program only reads them)."""
        buffers = {role: (aligned.copy(array) if role.startswith("state_")
                          else aligned.zeros(array.shape, array.dtype))
                   if role.startswith(WRITTEN) else array
                   for role, array in self.layout.buffers.items()}
        layout = copy.copy(self.layout)
        layout.buffers = buffers
        return layout


def kept(key: tuple, population: Any, layout: Any, footprint: dict) -> Kept:
    """What to keep of a run's layout of `population` (copies of its values as they are now)."""
    copied = {role: array.copy() if role.startswith("state_") else array
              for role, array in layout.buffers.items()}
    return Kept(key, population, _snapshot(population.params), _snapshot(population.initial),
                dataclasses.replace(layout, buffers=copied), footprint)


def _snapshot(values: dict) -> dict:
    return {name: value if isinstance(value, str) else np.array(value, copy=True)
            for name, value in values.items()}


def _same(values: dict, snapshot: dict) -> bool:
    if values.keys() != snapshot.keys():
        return False
    for name, value in values.items():
        then = snapshot[name]
        if isinstance(then, str) or isinstance(value, str):
            if value != then:
                return False
        elif not _same_bits(np.asarray(value), then):
            return False
    return True


def _same_bits(value: np.ndarray, then: np.ndarray) -> bool:
    """Equal bit for bit: -0.0 is not 0.0 (1/V tells them apart), 1 is not 1.0, a NaN is
    itself."""
    return (value.dtype == then.dtype and value.shape == then.shape
            and np.ascontiguousarray(value).tobytes() == then.tobytes())
