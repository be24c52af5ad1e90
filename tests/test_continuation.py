"""A run continued from a Result's state (`initial=result.state`) equals one long run bit for
bit: the spikes still in delay rings, the last step's spikes, plastic synapses' states and
spike histories, and the clock of noise and Poisson draws go with the state (issue 23.6)."""

import pickle

import numpy as np
import pytest

import lifgen
from lifgen.errors import InputError
from lifgen.frontend.modelfile import model_from_document
from lifgen.tools import brette2007


def _delayed(sparse, seed):
    """`sparse` with delays of 1, 2 or 3 steps drawn per synapse."""
    delays = np.random.default_rng(seed).integers(1, 4, sparse.n_synapses)
    return lifgen.Sparse.from_arrays(sparse.pre, sparse.post, sparse.weight, delays,
                                     n_pre=sparse.n_pre, n_post=sparse.n_post)


def _joined(first, second, cut):
    """One run's spikes, counts and traces from two halves of it."""
    steps, neurons = second.spike_events
    return {"events": (np.concatenate([first.spike_events[0], steps + cut]),
                       np.concatenate([first.spike_events[1], neurons])),
            "counts": first.spike_count + second.spike_count,
            "traces": {s: np.concatenate([first.traces[s], second.traces[s]])
                       for s in first.traces}}


def _assert_continued(whole, first, second, cut):
    joined = _joined(first, second, cut)
    for mine, theirs in zip(joined["events"], whole.spike_events):
        np.testing.assert_array_equal(mine, theirs)
    np.testing.assert_array_equal(joined["counts"], whole.spike_count)
    for state, trace in joined["traces"].items():
        np.testing.assert_array_equal(trace, whole.traces[state])
    for state, values in whole.state.items():
        np.testing.assert_array_equal(second.state[state], values)


@pytest.fixture(scope="module")
def cuba():
    return lifgen.compile("lif_cuba", dt=0.1)


@pytest.mark.parametrize("delays", ["one step", "1 to 3 steps"])
def test_a_continued_cuba_run_is_the_long_run(cuba, delays):
    """Brette et al.'s CUBA (lifgen.tools.brette2007), cut where spikes are in flight."""
    synapses = brette2007.connections(brette2007.NETWORKS["cuba"], seed=1)
    if delays != "one step":
        synapses = {y: _delayed(s, k) for k, (y, s) in enumerate(synapses.items())}
    v0 = -60.0 + 10.0 * np.random.default_rng(0).random(brette2007.N)
    run = dict(n_neurons=brette2007.N, connections=synapses, record={"V": [0, 7, 3999]},
               spikes="events")
    whole = cuba.run(1500, initial={"V": v0}, **run)
    cut = 700
    first = cuba.run(cut, initial={"V": v0}, **run)
    assert np.sum(first.spike_events[0] >= cut - 3) > 0  # spikes in flight at the cut
    second = cuba.run(1500 - cut, initial=first.state, **run)
    assert whole.spike_count.sum() > 1000
    _assert_continued(whole, first, second, cut)


@pytest.mark.parametrize("weights", ["one_to_one", "dense"])
def test_a_continued_rleaky_run_is_the_long_run(weights):
    """RLeaky reads the last step's spikes at arrival; batch rows continue each their own."""
    rng = np.random.default_rng(4)
    n, steps, cut = 30, 120, 53
    w = {"one_to_one": rng.uniform(0.0, 0.6, n), "dense": rng.normal(0.0, 0.4, (n, n))}[weights]
    current = rng.uniform(0.0, 0.9, (steps, 2, n))
    simulator = lifgen.compile("rleaky")
    run = dict(n_neurons=n, connections={"rec": w}, record=["V"], spikes="events")
    whole = simulator.run(steps, inputs={"I": current}, **run)
    first = simulator.run(cut, inputs={"I": current[:cut]}, **run)
    second = simulator.run(steps - cut, inputs={"I": current[cut:]}, initial=first.state, **run)
    assert whole.spike_count.sum() > 100
    _assert_continued(whole, first, second, cut)


def test_a_continued_plastic_run_with_a_poisson_drive_is_the_long_run(cuba):
    """Plastic synapses (their states and presynaptic spike history) and a Poisson drive (its
    draws keyed by the absolute step) continue as one run."""
    n, steps, cut = 60, 900, 433
    recurrent = _delayed(lifgen.Sparse.random(n, n, 0.2, 1.5, seed=2), 5)
    drive = (lifgen.Poisson(40, "200 Hz", seed=8), _delayed(lifgen.Sparse.random(n, 40, 0.3, 4.0,
                                                                                 seed=6), 7))

    def run(length, **more):
        return cuba.run(length, n, connections={"exc": lifgen.Synapses(
            recurrent, "stdp", params={"w_max": 3.0})}, drives={"exc": drive},
            record=["V", "g_e"], spikes="events", record_synapses={"exc": [0, 5]}, **more)
    whole, first = run(steps), run(cut)
    second = run(steps - cut, initial=first.state)
    assert whole.spike_count.sum() > 200
    _assert_continued(whole, first, second, cut)
    for state, values in whole.synapses["exc"].items():
        np.testing.assert_array_equal(second.synapses["exc"][state], values)


def _network():
    """Two populations, a Poisson source, delays of 1 to 3 steps and a plastic projection."""
    net = lifgen.Network(dt="0.1 ms")
    net.add_source("noise", lifgen.Poisson(50, "300 Hz", seed=3))
    net.add("E", "lif_cuba", 40, initial={"V": np.linspace(-60.0, -50.5, 40)})
    net.add("I", "lif_cuba", 10, params={"E_L": -55.0})
    net.connect("noise", "E", "exc", _delayed(lifgen.Sparse.random(40, 50, 0.3, 3.0, seed=1), 1))
    net.connect("E", "I", "exc", _delayed(lifgen.Sparse.random(10, 40, 0.3, 2.0, seed=2), 2))
    net.connect("I", "E", "inh", np.full((40, 10), -1.5), delay=2)
    net.connect("E", "E", "exc", lifgen.Synapses(
        _delayed(lifgen.Sparse.random(40, 40, 0.2, 1.0, seed=4), 3), "stdp",
        params={"w_max": 2.0}))
    return net


def test_a_continued_network_run_is_the_long_run():
    simulator = _network().compile()
    run = dict(record={"E": ["V", "g_e"], "I": {"V": [0, 3]}}, spikes="events",
               record_synapses={("E", "E", "exc"): [0, 9]})
    steps, cut = 800, 377
    whole = simulator.run(steps, **run)
    first = simulator.run(cut, **run)
    second = simulator.run(steps - cut, initial=first.state, **run)
    assert whole["E"].spike_count.sum() > 100 and whole["I"].spike_count.sum() > 10
    for name in ("E", "I"):
        _assert_continued(whole[name], first[name], second[name], cut)
    np.testing.assert_array_equal(whole["noise"].spike_count,
                                  first["noise"].spike_count + second["noise"].spike_count)
    key = ("E", "E", "exc")
    for state, values in whole.synapses[key].items():
        np.testing.assert_array_equal(second.synapses[key][state], values)
        np.testing.assert_array_equal(np.concatenate([first.synapse_traces[key][state],
                                                      second.synapse_traces[key][state]]),
                                      whole.synapse_traces[key][state])
    again = pickle.loads(pickle.dumps(first.state))  # the carry survives pickling
    np.testing.assert_array_equal(simulator.run(steps - cut, initial=again, **run)["E"]
                                  .spike_count, second["E"].spike_count)


def test_noise_continues_with_the_draws_of_the_long_run():
    ou = model_from_document({
        "model": {"name": "ou"}, "parameters": {"tau": 10.0, "sigma": 0.5, "never": 1e30},
        "states": {"V": 0.0}, "equations": {"laws": ["dV/dt = -V/tau + sigma*xi"]},
        "spike": {"condition": "V > never"}, "reset": {"mechanism": "none"},
        "simulation": {"dt": 0.1}}, "ou.toml")
    simulator = lifgen.compile(ou)
    whole = simulator.run(300, 8, seed=5, record=["V"])
    first = simulator.run(120, 8, seed=5, record=["V"])
    second = simulator.run(180, 8, seed=5, record=["V"], initial=first.state)
    np.testing.assert_array_equal(np.concatenate([first.traces["V"], second.traces["V"]]),
                                  whole.traces["V"])
    restarted = simulator.run(180, 8, seed=5, record=["V"], initial=dict(first.state))
    assert not np.array_equal(restarted.traces["V"], second.traces["V"])  # afresh: step 0's draws


def test_spikes_in_flight_without_a_place_for_them_are_refused(cuba):
    n = 20
    sparse = _delayed(lifgen.Sparse.random(n, n, 0.3, 2.0, seed=1), 3)
    first = cuba.run(50, n, connections={"exc": sparse}, inputs={"I": 30.0})
    with pytest.raises(InputError, match="spikes in flight"):
        cuba.run(50, n, initial=first.state, inputs={"I": 30.0})
    with pytest.raises(InputError, match="same connections"):
        cuba.run(50, n, initial=first.state, connections={"inh": sparse}, inputs={"I": 30.0})
    with pytest.raises(InputError, match="run of model lif_cuba"):
        lifgen.compile("lif_cuba", dt=0.05).run(50, n, initial=first.state,
                                                 connections={"exc": sparse})
    network = _network()
    ended = network.compile().run(30)
    network.connect("E", "I", "inh", np.full((10, 40), -0.5), delay=4)
    with pytest.raises(InputError, match="a run of network"):
        network.compile().run(10, initial=ended.state)
    cuba.run(50, n, initial=dict(first.state), inputs={"I": 30.0})  # the states alone: afresh
