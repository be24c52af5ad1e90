"""Plastic projections in networks (net.connect(..., lifgen.Synapses(...))): the events lowered
to the statement IR (codegen/synapse_events.py) against a single population's plastic run, a
NumPy reference loop and the Python test target; their errors; the result's synapses."""

import pickle
from pathlib import Path

import numpy as np
import pytest

import lifgen
from lifgen import targets
from lifgen.errors import InputError
from lifgen.frontend.synapse_model import synapse_from_document

DT = 0.1  # ms


def pulsed():
    """A neuron whose synapse type exc adds to V."""
    return lifgen.load_model(Path(__file__).parent / "models" / "pulsed.toml")


def recurrent_synapses(n, seed=1, weight=(0.1, 0.4), model="stdp", w_max=0.5):
    """Random recurrent synapses of delays 1..4 steps (in no particular order)."""
    rng = np.random.default_rng(seed)
    pre, post = np.nonzero(rng.random((n, n)) < 0.3)
    shuffle = rng.permutation(pre.size)
    sparse = lifgen.Sparse.from_arrays(pre[shuffle], post[shuffle],
                                       rng.uniform(*weight, pre.size),
                                       rng.integers(1, 5, pre.size), n_pre=n, n_post=n)
    params = {} if model == "tsodyks_markram" else {"w_max": w_max}
    return lifgen.Synapses(sparse, model, params=params)


# -- (a) one population: the single population's plastic run -----------------------------------

@pytest.mark.parametrize("model, dtype", [("stdp", "float64"), ("stdp", "float32"),
                                          ("tsodyks_markram", "float64")])
def test_a_plastic_self_projection_gives_the_single_population_numbers(model, dtype):
    """The same spikes, states, final synapse states and recorded synapse states, bit for bit:
    arrivals, on_post and the sums into V run in the same order in both programs."""
    n, steps = 20, 2000
    synapses = recurrent_synapses(n, model=model)
    current = np.broadcast_to(np.random.default_rng(2).uniform(0.9, 1.5, n), (steps, n))
    chosen = [0, 3, 7]
    alone = lifgen.compile(pulsed(), dtype=dtype).run(
        steps, n, inputs={"I": current}, connections={"exc": synapses}, record=["V"],
        spikes="raster", record_synapses={"exc": chosen})
    net = lifgen.Network()
    net.add("p", pulsed(), n)
    net.connect("p", "p", "exc", synapses)
    result = net.compile(dtype=dtype).run(steps, inputs={"p": {"I": current}},
                                          record={"p": ["V"]}, spikes="raster",
                                          record_synapses={("p", "p", "exc"): chosen})
    assert alone.spike_count.sum() > 100
    assert np.array_equal(alone.spikes, result["p"].spikes)
    assert np.array_equal(alone.traces["V"], result["p"].traces["V"])
    assert np.array_equal(alone.state["V"], result["p"].state["V"])
    final, traces = result.synapses[("p", "p", "exc")], result.synapse_traces[("p", "p", "exc")]
    assert set(final) == set(alone.synapses["exc"])
    for state, values in alone.synapses["exc"].items():
        assert np.array_equal(values, final[state]), state
        assert np.array_equal(alone.synapse_traces["exc"][state], traces[state]), state


def test_a_batched_library_model_gives_the_single_population_numbers():
    """lif_cuba (exc adds to g_e, refractory neurons) with two batch rows of initial states."""
    n, steps = 16, 1500
    synapses = recurrent_synapses(n, seed=4, weight=(1.0, 3.0), w_max=4.0)
    initial = {"V": np.random.default_rng(5).uniform(-60.0, -50.0, (2, n))}
    alone = lifgen.compile("lif_cuba").run(steps, n, initial=initial, spikes="raster",
                                           connections={"exc": synapses})
    net = lifgen.Network()
    net.add("p", "lif_cuba", n, initial=initial)
    net.connect("p", "p", "exc", synapses)
    result = net.compile().run(steps, spikes="raster")
    assert alone.spike_count.sum() > 100
    assert np.array_equal(alone.spikes, result["p"].spikes)
    for state, values in alone.state.items():
        assert np.array_equal(values, result["p"].state[state]), state
    for state, values in alone.synapses["exc"].items():
        assert values.shape == (2, synapses.sparse.n_synapses)
        assert np.array_equal(values, result.synapses[("p", "p", "exc")][state]), state


GROWING = synapse_from_document({
    "synapse": {"name": "growing"},
    "parameters": {"dw": {"value": 0.002, "unit": "target"}, "w_max": {"unit": "target"}},
    "states": {"w": {"unit": "target"}},
    "events": {"on_pre": ["target += w", "w = clip(w + dw, 0, w_max)"],
               "on_post": ["w = clip(w - 3*dw, 0, w_max)"]}}, "growing.toml")


def test_a_synapse_type_with_a_bias_differs_only_in_the_last_bits():
    """rleaky's recurrent input has a bias: the single population's input is (bias + ring) +
    each on_pre's w, while the network's on_pre adds to the ring slot, which is added to the
    bias after: bias + (w1 + w2 + ...). The sums are ordered differently, so the states may
    differ in the last bits; the spikes here are the same. (A synapse model without ODEs: rleaky
    is a discrete map without dt.)"""
    n, steps = 20, 2000
    synapses = recurrent_synapses(n, seed=6, weight=(0.05, 0.2), model=GROWING)
    current = np.broadcast_to(np.random.default_rng(7).uniform(0.05, 0.2, n), (steps, n))
    params = {"b_rec": 0.013}
    alone = lifgen.compile("rleaky").run(steps, n, inputs={"I": current}, params=params,
                                         connections={"rec": synapses}, record=["V"],
                                         spikes="raster")
    net = lifgen.Network()
    net.add("p", "rleaky", n, params=params)
    net.connect("p", "p", "rec", synapses)
    result = net.compile().run(steps, inputs={"p": {"I": current}}, record={"p": ["V"]},
                               spikes="raster")
    assert alone.spike_count.sum() > 100
    assert np.array_equal(alone.spikes, result["p"].spikes)
    np.testing.assert_allclose(result["p"].traces["V"], alone.traces["V"], rtol=0, atol=1e-12)
    for state, values in alone.synapses["rec"].items():
        np.testing.assert_allclose(result.synapses[("p", "p", "rec")][state], values, rtol=0,
                                   atol=1e-12)


# -- (b) two populations against a NumPy loop ---------------------------------------------------

def reference(raster, sparse, current, steps, tau=10.0, theta=1.0, w_max=1.0, tau_pre=20.0,
              tau_post=20.0, a_plus=0.01, a_minus=0.0105):
    """Pre spikes (a raster) through STDP synapses (the Sparse's order is by presynaptic
    neuron) into pulsed neurons, event by event as the network runs them, in float64:
    (post spikes (steps, n_post), final w)."""
    n_post = sparse.n_post
    pre, post, delay = sparse.pre, sparse.post, sparse.delay
    w = np.array(sparse.weight, float)
    a_pre, a_post, last = np.zeros(w.size), np.zeros(w.size), np.zeros(w.size)
    k0 = np.exp(-(DT / tau))
    x = -(DT / tau)
    k1 = DT * (np.expm1(x) / x) / tau
    v, before = np.zeros(n_post), np.zeros(n_post, bool)
    spikes = np.zeros((steps, n_post), bool)

    def propagate(s, t):
        h = (t - last[s]) * DT
        a_pre[s] *= np.exp(-(1 / tau_pre * h))
        a_post[s] *= np.exp(-(1 / tau_post * h))
        last[s] = t

    def on_post(t, fired):
        for i in np.flatnonzero(fired):
            for s in np.flatnonzero(post == i):
                propagate(s, t)
                a_post[s] -= a_minus * w_max
                w[s] = min(max(w[s] + a_pre[s], 0.0), w_max)

    for t in range(steps):
        arriving = np.zeros(n_post)
        for d in range(1, int(delay.max()) + 1):
            if t - d < 0:
                continue
            for s in np.flatnonzero(raster[t - d][pre] & (delay == d)):
                propagate(s, t)
                arriving[post[s]] += w[s]
                a_pre[s] += a_plus * w_max
                w[s] = min(max(w[s] + a_post[s], 0.0), w_max)
        on_post(t, before)
        v = k0 * (v + arriving) + k1 * current
        before = v > theta
        v[before] = 0.0
        spikes[t] = before
    on_post(steps, before)
    return spikes, w


def test_a_poisson_source_through_stdp_equals_a_numpy_loop():
    n_pre, n_post, steps = 30, 8, 3000
    rng = np.random.default_rng(8)
    pre, post = np.nonzero(rng.random((n_pre, n_post)) < 0.5)
    sparse = lifgen.Sparse.from_arrays(pre, post, rng.uniform(0.05, 0.3, pre.size),
                                       rng.integers(1, 6, pre.size), n_pre=n_pre, n_post=n_post)
    current = np.linspace(0.5, 0.9, n_post)
    net = lifgen.Network()
    net.add_source("src", lifgen.Poisson(n_pre, "20 Hz", seed=3))
    net.add("out", pulsed(), n_post)
    net.connect("src", "out", "exc", lifgen.Synapses(sparse, "stdp", params={"w_max": 1.0}))
    result = net.compile().run(steps, inputs={"out": {"I": current}}, spikes="raster")
    spikes, w = reference(result["src"].spikes, sparse, current, steps)
    assert result["out"].spike_count.sum() > 20
    assert np.array_equal(result["out"].spikes, spikes)
    np.testing.assert_allclose(result.synapses[("src", "out", "exc")]["w"], w, rtol=0,
                               atol=1e-12)
    assert np.any(np.abs(w - sparse.weight) > 1e-3)  # the weights did change


# -- (c) the Python test target ------------------------------------------------------------------

@pytest.fixture
def python_target(monkeypatch):
    monkeypatch.setitem(targets.TARGETS, "python", "python_target")


def plastic_two_rows():
    """A Poisson source and a recurrent projection, both plastic, two batch rows, recorded
    synapses: the network and its run's arguments."""
    n, steps = 12, 300
    rng = np.random.default_rng(9)
    pre, post = np.nonzero(rng.random((6, n)) < 0.6)
    feed = lifgen.Sparse.from_arrays(pre, post, 0.3, rng.integers(1, 3, pre.size), n_pre=6,
                                     n_post=n)
    net = lifgen.Network()
    net.add_source("src", lifgen.Poisson(6, "50 Hz", seed=5))
    net.add("p", pulsed(), n, initial={"V": rng.uniform(0, 0.5, (2, n))})
    net.connect("src", "p", "exc", lifgen.Synapses(feed, "stdp", params={"w_max": 0.6}))
    net.connect("p", "p", "exc", recurrent_synapses(n, seed=10))
    run = dict(n_steps=steps, inputs={"p": {"I": np.linspace(0.8, 1.2, n)}}, spikes="raster",
               record_synapses={("p", "p", "exc"): [1, 2], ("src", "p", "exc"): [0]})
    return net, run


@pytest.mark.parametrize("other", [dict(target="python"), dict(threads=2)])
def test_the_test_target_and_threads_run_a_plastic_network_bit_for_bit_as_c(python_target,
                                                                             other):
    """Both printers of the same lowered events, and the C program with its two batch rows on
    two threads: the same spikes, states and synapse traces."""
    net, run = plastic_two_rows()
    c = net.compile().run(**run)
    python = net.compile(**other).run(**run)
    assert c["p"].spike_count.sum() > 10
    assert np.array_equal(c["p"].spikes, python["p"].spikes)
    assert np.array_equal(c["p"].state["V"], python["p"].state["V"])
    for key in c.synapses:
        for state, values in c.synapses[key].items():
            assert np.array_equal(values, python.synapses[key][state]), (key, state)
            assert np.array_equal(c.synapse_traces[key][state],
                                  python.synapse_traces[key][state]), (key, state)


# -- (d) errors ---------------------------------------------------------------------------------

def two_populations():
    net = lifgen.Network()
    net.add("a", pulsed(), 3)
    net.add("b", pulsed(), 2)
    return net


def synapses_between(n_pre, n_post, **given):
    sparse = lifgen.Sparse.from_arrays([0, 1], [1, 0], 0.5, n_pre=n_pre, n_post=n_post)
    return lifgen.Synapses(sparse, "stdp", **given)


@pytest.mark.parametrize("call, message", [
    (lambda net: net.connect("a", "b", "exc", synapses_between(3, 2), delay=0),
     r"connect\('a', 'b', 'exc'\): plastic synapses need delays of at least one step"),
    (lambda net: net.connect("a", "b", "exc", synapses_between(3, 2), delay=2),
     "keeps its Sparse's per-synapse delays"),
    (lambda net: net.connect("a", "b", "inh", synapses_between(3, 2)),
     "has no synapse type 'inh'"),
    (lambda net: net.connect("a", "b", "exc", synapses_between(2, 2)),
     r"connect\('a', 'b', 'exc'\): the Synapses' Sparse connects 2 -> 2 neurons, the "
     "populations have 3 -> 2"),
    (lambda net: net.connect("a", "b", "exc", synapses_between(3, 2, params={"w_max": [1.0,
                                                                                2.0, 3.0]})),
     r"params\['w_max'\] must be a number or one value per synapse \(2\)"),
    (lambda net: net.connect("a", "b", "exc", synapses_between(3, 2, initial={
        "w": np.ones((2, 2))})), r"initial\['w'\] must be a number or one value per synapse"),
])
def test_bad_plastic_projections_are_clear_errors(call, message):
    with pytest.raises(InputError, match=message):
        call(two_populations())


def test_a_poisson_input_and_a_discrete_model_with_odes_are_refused():
    net = two_populations()
    net.add_source("bg", lifgen.PoissonInput(3, "10 Hz"))
    with pytest.raises(InputError, match="a PoissonInput brings a number of events per step"):
        net.connect("bg", "b", "exc", synapses_between(3, 2))
    net.add("r", "rleaky", 2)
    with pytest.raises(InputError, match=r"connect\('a', 'r', 'rec'\): synapse model 'stdp' "
                                         "has ODEs in time"):
        net.connect("a", "r", "rec", synapses_between(3, 2))


def test_recording_unknown_synapses_is_a_clear_error():
    net = two_populations()
    net.connect("a", "b", "exc", synapses_between(3, 2))
    net.connect("b", "a", "exc", np.ones((3, 2)))
    sim = net.compile()
    with pytest.raises(InputError, match=r"synapse indices in 0\.\.1"):
        sim.run(10, record_synapses={("a", "b", "exc"): [2]})
    with pytest.raises(InputError, match="no plastic projection"):
        sim.run(10, record_synapses={("b", "a", "exc"): [0]})
    with pytest.raises(InputError, match=r"is named \(pre, post, synapse\)"):
        sim.run(10, record_synapses={"a": [0]})


# -- (e) the result -----------------------------------------------------------------------------

def test_the_result_s_synapses_pickle_and_take_population_objects():
    net = lifgen.Network()
    source = net.add_source("src", lifgen.Poisson(4, "100 Hz", seed=1))
    out = net.add("out", pulsed(), 2)
    net.connect(source, out, "exc", synapses_between(4, 2, params={"w_max": 1.0}))
    result = net.compile().run(500, inputs={"out": {"I": 0.9}},
                               record_synapses={("src", "out", "exc"): [0, 1]})
    final = result.synapses[(source, out, "exc")]
    assert final is result.synapses[("src", "out", "exc")]
    assert (source, out, "exc") in result.synapses
    assert result.synapse_traces[(source, out, "exc")]["w"].shape == (500, 2)
    back = pickle.loads(pickle.dumps(result))
    for state, values in final.items():
        assert np.array_equal(back.synapses[("src", "out", "exc")][state], values)
        assert np.array_equal(back.synapses[(source, out, "exc")][state], values)
    assert np.array_equal(back["out"].spike_count, result["out"].spike_count)


def test_each_run_starts_from_the_synapses_initial_states():
    """A compiled network runs again from the Synapses' initial states, not from the last
    run's (a run's final states can be given as the next Synapses' initial states)."""
    net = lifgen.Network()
    net.add_source("src", lifgen.Poisson(4, "100 Hz", seed=1))
    net.add("out", pulsed(), 2)
    net.connect("src", "out", "exc", synapses_between(4, 2, params={"w_max": 1.0}))
    sim = net.compile()
    first, second = (sim.run(300, inputs={"out": {"I": 0.9}}) for _ in range(2))
    for state, values in first.synapses[("src", "out", "exc")].items():
        assert np.array_equal(values, second.synapses[("src", "out", "exc")][state])


def test_a_run_in_chunks_gives_the_numbers_of_one_call(monkeypatch):
    """Spikes kept as events run the program a chunk of steps at a time: the synapses' states,
    their history of presynaptic spikes and their recording carry over from chunk to chunk."""
    from lifgen.runtime import network_run
    net = lifgen.Network()
    net.add_source("src", lifgen.Poisson(4, "100 Hz", seed=1))
    net.add("out", pulsed(), 6)
    net.connect("src", "out", "exc", lifgen.Synapses(
        lifgen.Sparse.from_arrays([0, 1, 2, 3, 0], [0, 1, 2, 3, 5], 0.4, [1, 2, 3, 1, 2],
                                  n_pre=4, n_post=6), "stdp", params={"w_max": 1.0}))
    net.connect("out", "out", "exc", recurrent_synapses(6, seed=2))
    sim = net.compile()
    run = dict(n_steps=700, inputs={"out": {"I": 0.95}},
               record_synapses={("out", "out", "exc"): [0, 1, 2]})
    whole = sim.run(**run)
    monkeypatch.setattr(network_run, "CHUNK_CELLS", 100)  # 10 steps a call
    chunked = sim.run(**run, spikes="events")
    assert whole["out"].spike_count.sum() > 10
    assert np.array_equal(whole["out"].spike_count, chunked["out"].spike_count)
    for key, final in whole.synapses.items():
        for state, values in final.items():
            assert np.array_equal(values, chunked.synapses[key][state]), (key, state)
    for state, values in whole.synapse_traces[("out", "out", "exc")].items():
        assert np.array_equal(values, chunked.synapse_traces[("out", "out", "exc")][state])
