"""compile's options in two kinds: what the model computes (every target shares it) and how one
target schedules the work (threads, tiles, compiler flags), plus how one run's arrays arrive."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

DTYPES = ("float64", "float32")
LAYOUTS = ("held", "streamed", "time")  # an input constant over time, per neuron and step, per step


@dataclass(frozen=True)
class Semantics:
    """What the model computes, the same on every target (`sim.semantics`): the method and
    step, the float type, the reset and spike options."""

    method: str | None = None
    dt: float | None = None
    dtype: str = "float64"
    reset: str | None = None
    reset_timing: str | None = None
    reset_delay: bool | None = None
    graded_spikes: float = 1.0
    inhibition: bool = False
    state_quant: tuple[float, ...] | None = None
    precise: bool = False
    rtol: float | None = None  # method="auto": the error it accepts (None: accuracy.DEFAULT_RTOL);
    # method="rkf45": its error control's relative tolerance (None: methods.DEFAULT_TOLERANCES)
    atol: float | None = None  # method="rkf45": its error control's absolute tolerance
    max_substeps: int | None = None  # method="rkf45": its substeps per step at most


@dataclass(frozen=True)
class Schedule:
    """How the C target runs the neurons: OpenMP threads, neurons per tile, compiler flags."""

    threads: int = 1
    tile: int | None = None
    portable: bool = False
    fma: bool = False
    flush_denormals: bool = False
    runtime_dt: bool = False  # dt is a kernel argument, not a literal: one kernel serves every dt


@dataclass(frozen=True)
class Variant:
    """One specialisation of a single population's kernel: how each input arrives and which
    parameters every neuron shares. Simulator.run picks it per run."""

    layouts: tuple[tuple[str, str], ...] = ()
    shared: tuple[str, ...] = ()

    @staticmethod
    def of(layouts: dict[str, str] | None = None, shared: Iterable[str] = ()) -> "Variant":
        return Variant(tuple(sorted((layouts or {}).items())), tuple(sorted(shared)))

    def layout(self, input_name: str) -> str:
        return dict(self.layouts).get(input_name, "held")
