"""A generated kernel's source and how it was made: what a target renders, the source cache
stores, and a target builds. The C target and the CUDA target (C-family text) both fill it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..numerics.discretize import StepMap
from .abi import KernelABI
from .options import Semantics, Schedule, Variant

TILES = {"float32": 64, "float64": 32}  # neurons per tile: a few vector registers of each state


def tile_size(schedule: Schedule, dtype: str) -> int:
    return int(schedule.tile or TILES[dtype])


@dataclass(frozen=True)
class KernelSource:
    """Generated C for one step map and variant: the source, its cffi cdef, and how it was made."""

    c_source: str
    cdef: str
    function: str
    dtype: str
    step_map: StepMap
    semantics: Semantics
    schedule: Schedule
    variant: Variant
    abi: KernelABI
    mode: str
    work_size: int  # scratch values per neuron the kernel needs
    prologue: "KernelSource | None" = None  # C that fills the scratch, for a GPU kernel

    @property
    def text(self) -> str:
        """The source in its target's language (C99, or CUDA C for the cuda target)."""
        return self.c_source

    @property
    def options(self) -> dict[str, Any]:
        """The options as one dict (model semantics, schedule and variant), for display."""
        return {"graded_spikes": self.semantics.graded_spikes,
                "inhibition": self.semantics.inhibition,
                "state_quant": None if self.semantics.state_quant is None
                else list(self.semantics.state_quant),
                "threads": self.schedule.threads, "tile": tile_size(self.schedule, self.dtype),
                "layouts": dict(self.variant.layouts), "shared": list(self.variant.shared),
                "flush_denormals": self.schedule.flush_denormals}
