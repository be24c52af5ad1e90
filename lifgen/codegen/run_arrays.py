"""The arrays of one run, checked and laid out as every target's kernel takes them."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..ir.kinds import DriveKind, WeightKind


@dataclass(frozen=True)
class InputArray:
    """An input over a contiguous array, with its strides in elements (0 shares one value)."""

    array: np.ndarray
    time_stride: int
    batch_stride: int
    neuron_stride: int

    @property
    def layout(self) -> str:
        """How the input arrives: held (constant over time), streamed or one value per step."""
        if not self.time_stride:
            return "held"
        return "streamed" if self.neuron_stride else "time"


@dataclass
class SynapseArrays:
    """One synapse type's weights, its delay ring and its external drive."""

    weight_kind: WeightKind = WeightKind.NONE
    weights: np.ndarray | None = None
    rows: np.ndarray | None = None
    post: np.ndarray | None = None
    delay: np.ndarray | None = None
    ring: np.ndarray | None = None
    drive: dict[str, Any] = field(default_factory=lambda: {"kind": DriveKind.NONE})
    plastic: dict[str, Any] | None = None  # plasticity.arrays (and its binding), WeightKind.PLASTIC

    @property
    def ring_slots(self) -> int:
        if self.ring is not None:
            return self.ring.shape[1]
        return 0 if self.plastic is None else self.plastic["history"].shape[1]


@dataclass
class RunArrays:
    """Everything a kernel reads and writes in one run, as NumPy arrays."""

    n_steps: int
    n_neurons: int
    batch: tuple[int, ...]
    seed: int
    states: dict[str, np.ndarray]
    params: dict[str, tuple[np.ndarray, int]]
    inputs: dict[str, InputArray]
    synapses: dict[str, SynapseArrays]
    index: np.ndarray  # the recorded neurons, sorted
    traces: dict[str, np.ndarray]
    raster: np.ndarray | None
    offsets: np.ndarray | None
    counts: np.ndarray
    fired: np.ndarray
    work: np.ndarray
    first_neuron: int = 0  # the index of neuron 0 among all neurons, for noise draws (a shard's)
    dt: float = 0.0  # for kernels that take dt at run time (0 for discrete maps)
    clock: int = 0  # the absolute step of step 0: the steps of the runs this one continues
    # states given as one value whose arrays are not filled yet (prepare.state_array): a device
    # fills its own copy; prepare.fill_uniform writes them where the host runs
    uniform: dict[str, Any] = field(default_factory=dict)
    event_steps: int = 0  # steps of a chunk's spike buffer, when spikes are collected as events

    @property
    def rows(self) -> int:
        """The batch rows (1 unbatched); math's product: read at every chunk, NumPy's costs
        microseconds."""
        return int(math.prod(self.batch))
