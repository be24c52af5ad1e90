"""What a network's run returns: one Result per population, by name, in update order."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator

from ..errors import InputError
from .continuation import Pending, State
from .result import Result


def projection_key(key: Any) -> tuple[str, str, str]:
    """A projection's (pre, post, synapse) by names, its populations given as names or as the
    Population objects Network.add returned."""
    if not (isinstance(key, tuple) and len(key) == 3):
        raise InputError(f"a projection is named (pre, post, synapse), e.g. ('in', 'out', "
                         f"'exc'); got {key!r}")
    pre, post, synapse = (str(getattr(part, "name", part)) for part in key)
    return (pre, post, synapse)


class ByProjection(dict):
    """A dict keyed by projections' (pre, post, synapse) names that also finds its entries
    with the populations given as Population objects."""

    def __missing__(self, key: Any) -> Any:
        named = projection_key(key)
        if named == key or named not in self:
            raise KeyError(key)
        return self[named]

    def __contains__(self, key: object) -> bool:
        try:
            return super().__contains__(projection_key(key))
        except InputError:
            return False


@dataclass(repr=False)
class NetworkResult:
    """`result["exc"]` is population exc's Result (spikes, counts, traces, state, rates, plots);
    a run_nir result takes the graph's node keys too (`result["lif1.lif"]`).

    `synapses[(pre, post, synapse)]` holds each plastic projection's final states: state ->
    array per synapse, in its Sparse's order ((batch..., n_synapses) with batch rows), after the
    on_post of the last step's spikes and with every synapse propagated to the end of the run,
    as a single population's `Result.synapses[synapse_type]`. `synapse_traces[(pre, post,
    synapse)]` holds the states recorded with `run(record_synapses=...)`: state -> (n_steps,
    batch..., recorded) at each step's end. Either takes the populations as names or as the
    Population objects Network.add returned."""

    populations: dict[str, Result]
    order: tuple[str, ...] = ()
    synapses: dict = field(default_factory=ByProjection)
    synapse_traces: dict = field(default_factory=ByProjection)
    outputs: dict = field(default_factory=dict)  # a NIR graph's Output nodes (lifgen.run_nir)
    pending: Pending | None = None  # what a continued run takes besides the states
    # other names of populations: a NIR graph's node keys (lifgen.run_nir), result["1"]
    aliases: dict = field(default_factory=dict)

    @property
    def state(self) -> State:
        """Each neuron population's final states ({population: {state: values}}), carrying
        the spikes in flight and plastic synapses: `sim.run(T2, initial=result.state)`
        continues this run."""
        return State({name: result.state for name, result in self.populations.items()
                      if result.state}, self.pending)

    def __getitem__(self, name: str) -> Result:
        name = name if name in self.populations else self.aliases.get(name, name)
        if name not in self.populations:
            raise InputError(f"no population {name!r} in this result; it has "
                             f"{', '.join(self.populations)}"
                             + (f" (or by node key {', '.join(self.aliases)})"
                                if self.aliases else ""))
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
