"""The target seam: what the runtime asks of a target, as Protocols. A target renders a StepMap
for one variant of a run's arrays into a Source, builds the Source into something callable, and
makes a Runner that advances a run's arrays a chunk of steps at a time. The C target, the cuda
target and a third party's (registered under the `lifgen.targets` entry point) all fit them."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from ..codegen.options import Semantics, Schedule, Variant
from ..codegen.run_arrays import RunArrays
from ..numerics.discretize import StepMap


@runtime_checkable
class Source(Protocol):
    """What the runtime reads of a rendered kernel, whatever its language: `text` is the source
    in its target's language (C, CUDA or another)."""

    step_map: StepMap
    semantics: Semantics
    schedule: Schedule
    variant: Variant
    dtype: str
    work_size: int
    text: str


@runtime_checkable
class Runner(Protocol):
    """Runs one built kernel over a run's arrays."""

    def advance(self, done: int, steps: int, spikes: Any) -> Any:
        """Run `steps` steps from step `done`; `spikes` takes the chunk's raster, or None."""

    def finish(self, on_device: bool = False) -> None:
        """Leave the results in the run's arrays (a GPU: its own arrays in their place)."""


@runtime_checkable
class Target(Protocol):
    """Where a compiled model runs: its name (`compile(..., target=name)`), the language of its
    source (for `lifgen show`), and its three stages."""

    name: str
    language: str

    def render(self, step_map: StepMap, semantics: Semantics, schedule: Schedule,
               variant: Variant) -> Source:
        """The kernel's source for this step map, options and variant."""

    def build(self, source: Any) -> Any:
        """The source compiled and loaded (cached as the target sees fit)."""

    def runner(self, source: Any, kernel: Any, arrays: RunArrays) -> Runner:
        """A Runner of `kernel` over `arrays`."""


@runtime_checkable
class NetworkTarget(Protocol):
    """A target that also runs networks (and single populations' coupled runs): it renders a
    lowered network program, builds it and calls it over the program's buffers."""

    def render_network(self, program: Any) -> Any:
        """The program's source."""

    def build_network(self, source: Any, schedule: Schedule = ...) -> Any:
        """The source compiled and loaded with `schedule`'s compiler flags."""

    def call_network(self, kernel: Any, source: Any, buffers: list[Any], step0: int, steps: int,
                     rows: int, seed: int) -> None:
        """Steps step0 .. step0 + steps of every batch row over `buffers`."""
