"""The benchmark networks of Brette et al. (2007): CUBA (benchmark 2) and COBA (benchmark 1).

4000 LIF neurons, the first 3200 excitatory, each pair connected with probability 0.02 (self
connections allowed, as in Brian2's examples), refractory period 5 ms, dt = 0.1 ms, V0 uniform
in [V_r, V_t]. The networks are chaotic: compare rates and irregularity, not spike times.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

from ..runtime.connectivity import Sparse
from ..runtime.network import Network as PopulationNetwork
from ..results.result import Result
from ..runtime.simulate import Simulator, compile as compile_model

N, N_EXC, P_CONNECT = 4000, 3200, 0.02


@dataclass(frozen=True)
class Network:
    """One benchmark network: its model file, synaptic weights and external drive."""

    model: str
    w_exc: float
    w_inh: float
    drive: float  # the model's input I, in mV


NETWORKS = {
    # Brian2's examples/CUBA.py: we = 60*0.27/10 mV, wi = -20*4.5/10 mV, no external drive.
    "cuba": Network("lif_cuba", w_exc=1.62, w_inh=-9.0, drive=0.0),
    # Brian2's examples/COBA.py: we = 6/10, wi = 67/10 (in units of the leak conductance), I = 20 mV.
    "coba": Network("lif_coba", w_exc=0.6, w_inh=6.7, drive=20.0),
}


def connections(network: Network, seed: int = 0, n: int = N, n_exc: int = N_EXC,
                p: float = P_CONNECT) -> dict[str, Sparse]:
    """The excitatory and inhibitory synapses of `network` as Sparse matrices (delay one step)."""
    exc = Sparse.random(n, n_exc, p, network.w_exc, seed=seed, allow_self=True)
    inh = Sparse.random(n, n - n_exc, p, network.w_inh, seed=seed + 1, allow_self=True)
    return {"exc": Sparse.from_arrays(exc.pre, exc.post, exc.weight, n_pre=n, n_post=n),
            "inh": Sparse.from_arrays(inh.pre + n_exc, inh.post, inh.weight, n_pre=n, n_post=n)}


def network(name: str, seed: int = 0, n: int = N, n_exc: int = N_EXC, p: float = P_CONNECT,
            dt: float = 0.1) -> PopulationNetwork:
    """The same network as two populations, E and I, and four projections (lifgen.Network):
    the synapses `connections` draws, split by the populations they join."""
    spec = NETWORKS[name]
    return two_populations(spec.model, connections(spec, seed, n, n_exc, p),
                           {"exc": "E", "inh": "I"}, n, n_exc, dt)


def two_populations(model: str, synapses: Mapping[str, Sparse], sources: Mapping[str, str],
                    n: int = N, n_exc: int = N_EXC, dt: float = 0.1) -> PopulationNetwork:
    """A one-population network (`synapses` maps a synapse type to its Sparse over all `n`
    neurons) as populations E (the first `n_exc`) and I, each synapse type's events coming from
    the population `sources` names: four projections of the same synapses."""
    net = PopulationNetwork(dt=dt)
    net.add("E", model, n_exc)
    net.add("I", model, n - n_exc)
    ranges = {"E": (0, n_exc), "I": (n_exc, n)}
    for synapse, pre in sources.items():
        sparse = synapses[synapse]
        for post in ("E", "I"):
            (pre_low, pre_high), (post_low, post_high) = ranges[pre], ranges[post]
            keep = ((sparse.pre >= pre_low) & (sparse.pre < pre_high)
                    & (sparse.post >= post_low) & (sparse.post < post_high))
            net.connect(pre, post, synapse, Sparse.from_arrays(
                sparse.pre[keep] - pre_low, sparse.post[keep] - post_low, sparse.weight[keep],
                sparse.delay[keep], n_pre=pre_high - pre_low, n_post=post_high - post_low))
    return net


def simulate(name: str, seed: int = 0, duration_ms: float = 1000.0, dt: float = 0.1, n: int = N,
             n_exc: int = N_EXC, simulator: Simulator | None = None,
             synapses: Mapping[str, Sparse] | None = None) -> tuple[Result, dict[str, float]]:
    """Run one network for `duration_ms`; returns (Result, statistics). `simulator` and
    `synapses` (from `connections`) may be given to reuse them across runs."""
    result = run(name, seed, duration_ms, dt, n, n_exc, simulator, synapses)
    return result, statistics(result, dt, n_exc, duration_ms)


def run(name: str, seed: int = 0, duration_ms: float = 1000.0, dt: float = 0.1, n: int = N,
        n_exc: int = N_EXC, simulator: Simulator | None = None,
        synapses: Mapping[str, Sparse] | None = None) -> Result:
    """The simulation of `simulate` alone: its Result, with spikes as events."""
    network = NETWORKS[name]
    simulator = simulator or compile_model(network.model, dt=dt)
    model = simulator.model
    rng = np.random.default_rng(seed)
    V_r, V_t = model.defaults["V_r"], model.defaults["V_t"]
    result = simulator.run(int(round(duration_ms / dt)), n, inputs={"I": network.drive},
                           initial={"V": V_r + rng.random(n) * (V_t - V_r)},
                           connections=synapses or connections(network, seed + 1, n, n_exc),
                           record=[], spikes="events")
    return result


def statistics(result: Result, dt: float, n_exc: int, duration_ms: float) -> dict[str, float]:
    """Mean rates of the excitatory and inhibitory neurons (Hz) and the mean CV of the
    inter-spike intervals of excitatory neurons with more than 3 spikes."""
    counts = np.asarray(result.spike_count).ravel()
    assert result.spike_events is not None  # run with spikes="events"
    steps, neurons = result.spike_events
    seconds = duration_ms / 1000.0
    cvs = []
    for neuron in np.flatnonzero(counts[:n_exc] > 3):
        intervals = np.diff(steps[neurons == neuron]) * dt
        cvs.append(intervals.std() / intervals.mean())
    return {"rate_exc_hz": float(counts[:n_exc].mean() / seconds),
            "rate_inh_hz": float(counts[n_exc:].mean() / seconds),
            "cv_isi_exc": float(np.mean(cvs)) if cvs else float("nan"),
            "spikes": int(counts.sum())}
