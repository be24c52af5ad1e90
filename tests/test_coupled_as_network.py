"""A single population's coupled run (`run(connections=..., drives=...)`, winner-take-all,
plastic synapses) is a one-population network: the same program as the Network a user would
build for it, and the Python test target runs it bit for bit as C."""

from pathlib import Path

import numpy as np
import pytest

import lifgen
from lifgen import targets

N = 60


@pytest.fixture
def python_target(monkeypatch):
    monkeypatch.setitem(targets.TARGETS, "python", "python_target")


def recurrent(seed=3):
    """Sparse excitatory connections with delays 1-4, and a recorded train of 20 sources."""
    rng = np.random.default_rng(seed)
    post, pre = np.nonzero(rng.random((N, N)) < 0.15)
    keep = post != pre
    sparse = lifgen.Sparse.from_arrays(pre[keep], post[keep], rng.uniform(0.5, 2.0, keep.sum()),
                                       rng.integers(1, 5, keep.sum()), n_pre=N, n_post=N)
    steps, sources = np.nonzero(rng.random((400, 20)) < 0.05)
    train = lifgen.SpikeTrain(20, steps, sources)
    inputs = lifgen.Sparse.from_arrays(np.arange(20).repeat(3), rng.integers(0, N, 60), 4.0,
                                       rng.integers(1, 3, 60), n_pre=20, n_post=N)
    return sparse, train, inputs


def test_a_coupled_run_equals_the_network_built_for_it():
    """compile(model).run(connections=, drives=) and a Network of the population, its source and
    the same projections: the same spikes and states, bit for bit."""
    sparse, train, inputs = recurrent()
    drive = np.linspace(0.0, 300.0, N)  # pA
    single = lifgen.compile("lif_cuba").run(400, N, inputs={"I": drive},
                                            connections={"exc": sparse},
                                            drives={"exc": (train, inputs)}, record=["V"])
    net = lifgen.Network()
    net.add("lif", "lif_cuba", N)
    net.add_source("train", train)
    net.connect("lif", "lif", "exc", sparse)
    net.connect("train", "lif", "exc", inputs)
    network = net.compile().run(400, inputs={"lif": {"I": drive}}, record={"lif": ["V"]},
                                spikes="raster")["lif"]
    assert single.spike_count.sum() > 100
    assert np.array_equal(single.spikes, network.spikes)
    assert np.array_equal(single.traces["V"], network.traces["V"])
    for state, values in single.state.items():
        assert np.array_equal(values, network.state[state]), state


def test_the_source_of_a_coupled_run_is_its_network_program():
    sparse, _, _ = recurrent()
    text = lifgen.compile("lif_cuba").source(10, N, connections={"exc": sparse})
    assert "Network of 1 population, 1 projection." in text
    assert "lif_cuba -> lif_cuba.exc: sparse, a delay per synapse" in text


@pytest.mark.parametrize("options, connections", [
    (dict(inhibition=True), None),
    (dict(inhibition=True, reset="zero", graded_spikes=1.5), "one_to_one"),
    (dict(state_quant=[0.0, 0.5, 1.0, 1.5]), "dense"),
])
def test_the_test_target_runs_coupled_runs_as_c(python_target, options, connections):
    """Winner-take-all, graded spikes, quantised states and connections read at arrival, printed
    as Python and as C from the same lowered statements: the same numbers."""
    rng = np.random.default_rng(5)
    n = 12
    weights = {"one_to_one": rng.uniform(0.0, 0.5, n), "dense": rng.normal(0, 0.3, (n, n))}
    run = dict(n_steps=80, n_neurons=n, inputs={"I": rng.uniform(0.1, 1.5, (80, 2, n))},
               record=["V"], connections=None if connections is None else
               {"rec": weights[connections]})
    model = "rleaky" if connections else "leaky"
    c = lifgen.compile(model, **options).run(**run)
    python = lifgen.compile(model, target="python", **options).run(**run)
    assert c.spike_count.sum() > 0
    if options.get("inhibition"):  # at most one spike per step and batch row
        assert c.spikes.sum(axis=-1).max() == 1
    assert np.array_equal(c.spikes, python.spikes)
    assert np.array_equal(c.traces["V"], python.traces["V"])


def test_the_test_target_runs_plastic_synapses_as_c(python_target):
    sparse, train, inputs = recurrent()
    synapses = lifgen.Synapses(sparse, "stdp", params={"w_max": 3.0})
    run = dict(n_steps=300, n_neurons=N, inputs={"I": np.linspace(0.0, 300.0, N)},
               connections={"exc": synapses}, drives={"exc": (train, inputs)}, record=[])
    c = lifgen.compile("lif_cuba").run(**run)
    python = lifgen.compile("lif_cuba", target="python").run(**run)
    assert c.spike_count.sum() > 50
    assert np.array_equal(c.spikes, python.spikes)
    assert not np.array_equal(c.synapses["exc"]["w"], synapses.initial["w"])
    for state, values in c.synapses["exc"].items():
        assert np.array_equal(values, python.synapses["exc"][state]), state


def test_network_populations_take_snntorch_s_options():
    """inhibition, graded_spikes and state_quant of a population in a Network: winner-take-all
    as a single population computes it, graded spikes scaling its projections' weights."""
    rng = np.random.default_rng(2)
    current = rng.uniform(0.1, 1.5, (60, 8))
    single = lifgen.compile("leaky", inhibition=True).run(60, 8, inputs={"I": current})

    def network(graded, weight):
        net = lifgen.Network()
        net.add("a", "leaky", 8, inhibition=True, graded_spikes=graded)
        net.add("b", Path(__file__).parent / "models" / "leaky_layer.toml", 8)
        net.connect("a", "b", "fc", ("one_to_one", weight), delay=0)
        return net.compile().run(60, inputs={"a": {"I": current}}, record={"b": ["V"]},
                                 spikes="raster")
    scaled, plain = network(2.5, 0.3), network(1.0, 2.5 * 0.3)
    assert single.spike_count.sum() > 10
    assert np.array_equal(scaled["a"].spikes, single.spikes)
    assert np.array_equal(scaled["b"].traces["V"], plain["b"].traces["V"])
    net = lifgen.Network()
    net.add("a", "leaky", 2, state_quant=[0.0, 1.0])
    net.add("b", "leaky", 2, state_quant=[0.0, 0.5, 1.0])
    with pytest.raises(lifgen.InputError, match="different levels"):
        net.compile()
