"""What a network's run returns: one Result per population, by name, in update order."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

from ..errors import InputError
from .result import Result


@dataclass(repr=False)
class NetworkResult:
    """`result["exc"]` is population exc's Result (spikes, counts, traces, state, rates, plots);
    `synapses[(pre, post, synapse)]` holds a plastic projection's final states."""

    populations: dict[str, Result]
    order: tuple[str, ...] = ()
    synapses: dict = field(default_factory=dict)

    def __getitem__(self, name: str) -> Result:
        if name not in self.populations:
            raise InputError(f"no population {name!r} in this result; it has "
                             f"{', '.join(self.populations)}")
        return self.populations[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.populations)

    def __len__(self) -> int:
        return len(self.populations)

    @property
    def rates(self) -> dict[str, float]:
        """Each population's mean firing rate (spikes per second where the model has a time
        unit, else per step), over its neurons and the run."""
        return {name: float(result.rates.mean()) for name, result in self.populations.items()}

    def __repr__(self) -> str:
        lines = [f"<NetworkResult: {len(self.populations)} populations>"]
        for name, result in self.populations.items():
            count = 0 if result.spike_count is None else int(result.spike_count.sum())
            lines.append(f"  {name}: {result.n_neurons} neurons, {count} spikes")
        return "\n".join(lines)
