"""What a run leaves for the run that continues it: `Result.state` is a dict of the final
states that also carries the spikes still in flight (the last step's spikes, the delay rings,
plastic synapses' states and spike histories) and the step the run ended at, so that
`run(T2, initial=result.state)` after `run(T1)` equals one run of T1 + T2 steps bit for bit."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np


@dataclass(frozen=True, eq=False)
class Pending:
    """A run's carry beyond its states: `clock`, the steps run since the first of the runs it
    continues (noise and Poisson draws, delay-ring slots and spike histories are keyed by it),
    and the program's arrays that hold spikes and synapse states from one step to the next, by
    buffer name (copies). `made_by` names what ran (a model, or a network's content key): a run
    of something else does not take them."""

    clock: int
    buffers: Mapping[str, np.ndarray] = field(default_factory=dict)
    made_by: str = ""

    @property
    def nbytes(self) -> int:
        return sum(array.nbytes for array in self.buffers.values())


class State(dict):
    """A run's final states by name (a dict, as before), with `pending`: what a run continued
    from it with `initial=result.state` takes besides (see Pending). `dict(result.state)` is the
    states alone: a run started from it starts afresh, with nothing in flight."""

    def __init__(self, states: Mapping[str, Any] | None = None,
                 pending: Pending | None = None) -> None:
        super().__init__(states or {})
        self.pending = pending

    def __reduce__(self) -> tuple:
        return (State, (dict(self), self.pending))
