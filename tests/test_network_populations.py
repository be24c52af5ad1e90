"""Networks of populations (lifgen.Network): one program for populations of different models,
checked against the single-population kernels, NumPy reference loops, snnTorch's own outputs
and the Python test target."""

import json
import pickle
from pathlib import Path

import numpy as np
import pytest

import lifgen
from lifgen import targets
from lifgen.errors import InputError

HERE = Path(__file__).resolve().parent
SNNTORCH = HERE / "reference" / "snntorch"
LEAKY_LAYER = HERE / "models" / "leaky_layer.toml"
ADEX_CUBA = "adex_cuba"


@pytest.mark.parametrize("model, drive", [("lif_cuba", 20.0), ("adex", 500.0),
                                          ("izhikevich", 10.0), ("hodgkin_huxley", 10.0)])
def test_a_one_population_network_gives_the_single_population_numbers(model, drive):
    assert_network_is_the_population(model, 6, {"I": np.linspace(0.5, 1.5, 6) * drive}, 400)


def assert_network_is_the_population(model, n, inputs, n_steps):
    """`model` run alone and as a Network's only population: the same spikes, traces and final
    states, bit for bit (returns the single run's states)."""
    single = lifgen.compile(model)
    states = list(single.step_map.state_names)
    alone = single.run(n_steps, n, inputs=inputs, record=states, spikes="raster")
    net = lifgen.Network()
    net.add("p", model, n)
    result = net.compile().run(n_steps, inputs={"p": inputs}, record={"p": states},
                               spikes="raster")["p"]
    assert alone.spike_count.sum() > 0
    assert np.array_equal(alone.spikes, result.spikes)
    for s in states:
        assert np.array_equal(alone.traces[s], result.traces[s]), s
        assert np.array_equal(alone.state[s], result.state[s]), s
    return states


def snntorch_network(reset, dtype):
    data = np.load(SNNTORCH / f"network_{reset}_{dtype}.npz")
    net = lifgen.Network()
    net.add_source("x", data["input"])
    previous = "x"
    for layer in (1, 2, 3):
        weight = data[f"fc{layer}_weight"]
        net.add(f"lif{layer}", LEAKY_LAYER, weight.shape[0],
                params={"beta": float(data[f"lif{layer}_beta"]),
                        "threshold": float(data[f"lif{layer}_threshold"]),
                        "b": data[f"fc{layer}_bias"].astype(np.float64)},
                reset=reset)
        net.connect(previous, f"lif{layer}", "fc", weight.astype(np.float64), delay=0)
        previous = f"lif{layer}"
    return net, data


@pytest.mark.parametrize("reset", ["subtract", "zero"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_three_layer_network_equals_snntorch_step_for_step(reset, dtype):
    """Linear -> Leaky three times with zero delays: every spike and membrane of snnTorch 1.0
    (tests/reference/make_snntorch_network_refs.py), bit for bit: lifgen adds a layer's inputs
    in index order and then the bias, as torch's Linear does on these shapes."""
    net, data = snntorch_network(reset, dtype)
    steps = data["input"].shape[0]
    result = net.compile(dtype=dtype).run(steps, record={f"lif{k}": ["V"] for k in (1, 2, 3)},
                                          spikes="raster")
    for layer in (1, 2, 3):
        got = result[f"lif{layer}"]
        assert np.array_equal(got.spikes, data[f"spk{layer}"] != 0), layer
        assert np.array_equal(got.traces["V"], data[f"mem{layer}"]), layer
    assert json.loads(str(data["config"]))["versions"]["snntorch"] == "1.0.0"


def test_zero_delay_projections_update_in_topological_order_whatever_the_insertion():
    """Layers added last-first still run first-first, and a spike crosses them in one step."""
    net, data = snntorch_network("subtract", "float64")
    shuffled = lifgen.Network()
    for name in ("lif3", "lif1", "x", "lif2"):
        shuffled.populations[name] = net.populations[name]
    shuffled.projections.extend(net.projections)
    assert shuffled.update_order() == ["x", "lif1", "lif2", "lif3"]
    steps = data["input"].shape[0]
    a = net.compile().run(steps, spikes="raster")
    b = shuffled.compile().run(steps, spikes="raster")
    for layer in ("lif1", "lif2", "lif3"):
        assert np.array_equal(a[layer].spikes, b[layer].spikes)


# -- a mixed network against a NumPy loop ------------------------------------------------------

T, N_SOURCES, N_EXC, N_INH, DT = 600, 20, 8, 5, 0.1


def mixed_network(one_step=False):
    """AdEx excitatory and LIF inhibitory populations and a recorded spike source: dense,
    one-to-one-free, sparse and recurrent projections with delays of 1 to 3 steps (or, with
    `one_step`, every delay one step: each projection then adds straight into its state)."""
    rng = np.random.default_rng(7)
    steps, sources = rng.integers(0, T, 400), rng.integers(0, N_SOURCES, 400)

    def sparse(n_post, n_pre, p, low, high, seed):
        shape = lifgen.Sparse.random(n_post, n_pre, p, 1.0, seed=seed)
        delays = rng.integers(1, 4, shape.n_synapses)
        return lifgen.Sparse.from_arrays(shape.pre, shape.post,
                                         rng.uniform(low, high, shape.n_synapses),
                                         1 if one_step else delays, n_pre=n_pre, n_post=n_post)
    parts = dict(w_source=rng.uniform(50, 150, (N_EXC, N_SOURCES)),
                 exc_to_inh=sparse(N_INH, N_EXC, 0.6, 1, 4, 3),
                 w_inh=rng.uniform(20, 80, (N_EXC, N_INH)),
                 exc_to_exc=sparse(N_EXC, N_EXC, 0.5, 10, 60, 4),
                 I_exc=rng.uniform(200, 400, N_EXC), I_inh=rng.uniform(5, 12, N_INH),
                 steps=steps, sources=sources, inh_delay=1 if one_step else 2)
    net = lifgen.Network()
    net.add_source("src", lifgen.SpikeTrain(N_SOURCES, steps, sources))
    net.add("exc", ADEX_CUBA, N_EXC, method="euler")
    net.add("inh", "lif_cuba", N_INH, method="euler", params={"E_L": -65.0})
    net.connect("src", "exc", "exc", parts["w_source"], delay=1)
    net.connect("exc", "inh", "exc", parts["exc_to_inh"])
    net.connect("inh", "exc", "inh", parts["w_inh"], delay=parts["inh_delay"])
    net.connect("exc", "exc", "exc", parts["exc_to_exc"])
    return net, parts


def mixed_reference(parts):
    """The same network in NumPy: forward Euler of each model's equations as written, and each
    step's order: the source, then exc (its arrivals, its update, its events), then inh."""
    adex = dict(C=200.0, g_L=10.0, E_L=-70.0, V_T=-50.0, Delta_T=2.0, a=2.0, tau_w=30.0,
                b=60.0, V_r=-58.0, V_peak=-40.0, tau_e=5.0, tau_i=10.0)
    lif = dict(tau_m=20.0, tau_e=5.0, tau_i=10.0, E_L=-65.0, V_t=-50.0, V_r=-60.0, t_ref=5.0)
    V, w = np.full(N_EXC, -70.0), np.zeros(N_EXC)
    I_e, I_i = np.zeros(N_EXC), np.zeros(N_EXC)
    U, g_e, g_i, count = np.full(N_INH, -60.0), np.zeros(N_INH), np.zeros(N_INH), np.zeros(N_INH)
    rings = {("exc", "exc"): np.zeros((4, N_EXC)), ("exc", "inh"): np.zeros((3, N_EXC)),
             ("inh", "exc"): np.zeros((4, N_INH))}
    held = np.floor(lif["t_ref"] / DT + 0.001)
    out: dict = {name: [] for name in ("exc", "inh", "V", "w", "U")}

    def scatter(key, t, spiked, dense=None, delay=0, sparse=None):
        ring = rings[key]
        for j in np.flatnonzero(spiked):
            if sparse is None:  # a source's repeated event counts twice: weight * count
                ring[(t + delay) % len(ring)] += spiked[j] * dense[:, j]
                continue
            for s in np.flatnonzero(sparse.pre == j):
                ring[(t + sparse.delay[s]) % len(ring), sparse.post[s]] += sparse.weight[s]

    def arrivals(key, t):
        ring = rings[key]
        value = ring[t % len(ring)].copy()
        ring[t % len(ring)] = 0
        return value

    p, q = adex, lif
    for t in range(T):
        source = np.bincount(parts["sources"][parts["steps"] == t],
                             minlength=N_SOURCES).astype(float)
        scatter(("exc", "exc"), t, source, parts["w_source"], delay=1)
        I_e, I_i = I_e + arrivals(("exc", "exc"), t), I_i + arrivals(("exc", "inh"), t)
        dV = (-p["g_L"] * (V - p["E_L"]) + p["g_L"] * p["Delta_T"]
              * np.exp((V - p["V_T"]) / p["Delta_T"]) - w + parts["I_exc"] + I_e - I_i) / p["C"]
        dw = (p["a"] * (V - p["E_L"]) - w) / p["tau_w"]
        V, w = V + DT * dV, w + DT * dw
        I_e, I_i = I_e + DT * (-I_e / p["tau_e"]), I_i + DT * (-I_i / p["tau_i"])
        spikes = V > p["V_peak"]
        V, w = np.where(spikes, p["V_r"], V), np.where(spikes, w + p["b"], w)
        out["exc"].append(spikes), out["V"].append(V), out["w"].append(w)
        scatter(("inh", "exc"), t, spikes, sparse=parts["exc_to_inh"])
        scatter(("exc", "exc"), t, spikes, sparse=parts["exc_to_exc"])
        g_e = g_e + arrivals(("inh", "exc"), t)
        refractory = count > 0
        new = U + DT * ((-(U - q["E_L"]) + g_e + g_i + parts["I_inh"]) / q["tau_m"])
        g_e, g_i = g_e + DT * (-g_e / q["tau_e"]), g_i + DT * (-g_i / q["tau_i"])
        new = np.where(refractory, U, new)
        fired = (new > q["V_t"]) & ~refractory
        U = np.where(fired, q["V_r"], new)
        count = np.where(fired, held - 1, np.where(count > 0, count - 1, 0.0))
        out["inh"].append(fired), out["U"].append(U)
        scatter(("exc", "inh"), t, fired, parts["w_inh"], delay=parts["inh_delay"])
    return {name: np.array(values) for name, values in out.items()}


@pytest.mark.parametrize("one_step", [False, True])
def test_a_mixed_network_equals_a_numpy_loop(one_step):
    """AdEx + LIF + a spike source, delays 1-3: every spike exactly, traces to 1e-12 of their
    scale (the loop writes each Euler step as the equations read; lifgen hoists constants).
    With every delay one step, each projection adds straight into its state, in the step of
    whichever population steps later (src -> exc and exc -> inh in the post's step, inh -> exc
    and exc -> exc in the pre's), and the loop's rings give the same numbers."""
    net, parts = mixed_network(one_step)
    simulator = net.compile()
    result = simulator.run(T, inputs={"exc": {"I": parts["I_exc"]},
                                          "inh": {"I": parts["I_inh"]}},
                               record={"exc": ["V", "w"], "inh": ["V"]}, spikes="raster")
    expected = mixed_reference(parts)
    assert expected["exc"].sum() > 50 and expected["inh"].sum() > 5
    assert simulator.source().count("added to its state") == (4 if one_step else 1)
    assert np.array_equal(result["exc"].spikes, expected["exc"])
    assert np.array_equal(result["inh"].spikes, expected["inh"])
    for got, want in ((result["exc"].traces["V"], expected["V"]),
                      (result["exc"].traces["w"], expected["w"]),
                      (result["inh"].traces["V"], expected["U"])):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12 * np.abs(want).max())


@pytest.fixture
def python_target(monkeypatch):
    monkeypatch.setitem(targets.TARGETS, "python", "python_target")


def noisy_rows(network, scales, inh_traced, spikes):
    """The mixed network with a Poisson source onto the inhibitory population (delay 0), run
    120 steps with one batch row per scale of the excitatory drive: (network, run's arguments)."""
    net, parts = network
    net.add_source("noise", lifgen.Poisson(6, 0.2, seed=11))
    net.connect("noise", "inh", "inh", np.full((N_INH, 6), -1.5), delay=0)
    rows = np.stack([f * parts["I_exc"] for f in scales])
    return net, dict(n_steps=120, inputs={"exc": {"I": np.broadcast_to(rows, (120, *rows.shape))},
                                          "inh": {"I": parts["I_inh"]}},
                     record={"exc": ["V", "I_e"], "inh": inh_traced}, spikes=spikes)


def assert_same_numbers(mine, theirs, names=("noise", "src", "exc", "inh")):
    """Two runs of the noisy mixed network: every population's spike counts (and raster),
    final states and traces equal bit for bit."""
    for name in names:
        assert np.array_equal(mine[name].spike_count, theirs[name].spike_count), name
        if mine[name].spikes is not None:
            assert np.array_equal(mine[name].spikes, theirs[name].spikes), name
        for state, values in mine[name].state.items():
            assert np.array_equal(values, theirs[name].state[state]), (name, state)
        for state, values in mine[name].traces.items():
            assert np.array_equal(values, theirs[name].traces[state]), (name, state)


@pytest.mark.parametrize("one_step", [False, True])
def test_the_test_target_runs_a_network_bit_for_bit_as_c(python_target, one_step):
    """The lowered program printed as Python (tests/python_target.py) and as C: the same spikes
    and states, with Poisson draws, delays (or every delay one step: no rings), sparse and
    dense projections, two batch rows."""
    net, run = noisy_rows(mixed_network(one_step), (1.0, 0.8), ["V", "g_i"], "raster")
    c = net.compile().run(**run)
    python = net.compile(target="python").run(**run)
    assert c["noise"].spike_count.sum() > 0
    assert_same_numbers(c, python)


@pytest.mark.parametrize("spikes", ["raster", "events"])
def test_batch_rows_on_threads_give_the_one_thread_numbers(spikes):
    """threads=3 runs the batch rows at once (OpenMP), each with its own scratch and its own
    part of the event buffers: every spike, event, trace and state equals one thread's, bit for
    bit, with Poisson draws, delays, direct and ringed projections and four rows."""
    net, run = noisy_rows(mixed_network(), (1.0, 0.8, 0.9, 1.1), ["V"], spikes)
    one = net.compile().run(**run)
    threaded = net.compile(threads=3)
    three = threaded.run(**run)
    assert "omp parallel" in threaded.source() and "threads=3" in repr(threaded)
    assert one["exc"].spike_count.sum() > 50
    assert_same_numbers(one, three)
    for name in ("exc", "inh"):
        if spikes == "events":
            for mine, theirs in zip(one[name].spike_events, three[name].spike_events):
                assert np.array_equal(mine, theirs), name
        else:
            assert np.array_equal(one[name].spikes, three[name].spikes), name
    again = pickle.loads(pickle.dumps(threaded))
    assert again.threads == 3


# -- the description: order, errors, pickling ---------------------------------------------------

def feed_forward(delays):
    net = lifgen.Network()
    for name in ("a", "b", "c"):
        net.add(name, LEAKY_LAYER, 3)
    for (pre, post), delay in zip((("a", "b"), ("b", "c"), ("c", "a")), delays):
        net.connect(pre, post, "fc", np.eye(3), delay=delay)
    return net


def test_a_zero_delay_cycle_is_refused_naming_it():
    with pytest.raises(InputError, match="cycle 'a' -> 'b' -> 'c' -> 'a'"):
        feed_forward((0, 0, 0)).compile()
    assert feed_forward((0, 0, 1)).update_order() == ["a", "b", "c"]
    assert feed_forward((1, 0, 0)).update_order() == ["b", "c", "a"]
    net = lifgen.Network()
    net.add("a", LEAKY_LAYER, 2)
    net.connect("a", "a", "fc", np.eye(2), delay=0)
    with pytest.raises(InputError, match="to itself is a zero-delay cycle"):
        net.compile()


@pytest.mark.parametrize("call, message", [
    (lambda net: net.connect("a", "b", "nope", np.eye(3)), "has no synapse type 'nope'"),
    (lambda net: net.connect("a", "b", "fc", np.ones((2, 3))), r"shape \(n_post, n_pre\)"),
    (lambda net: net.connect("a", "zz", "fc", np.eye(3)), "no population 'zz'"),
    (lambda net: net.connect("a", "s", "fc", np.eye(3)), "is a source"),
    (lambda net: net.connect("a", "b", "fc", np.eye(3), delay=-1), "whole number of steps"),
    (lambda net: net.connect("a", "b", "fc", np.eye(3), delay=1.5), "whole number of steps"),
    (lambda net: net.connect("a", "b", "fc", np.full((3, 3), np.nan)), "NaN"),
    (lambda net: net.connect("a", "b", "fc", lifgen.Sparse.from_arrays([0], [1], 1.0, n_pre=3,
                                                                      n_post=3), delay=2),
     "own per-synapse delays"),
    (lambda net: net.add("a", LEAKY_LAYER, 3), "already has a population 'a'"),
    (lambda net: net.add("b2", LEAKY_LAYER, 3, colour="red"), "unknown option"),
    (lambda net: net.add_source("tt", np.ones((4, 3)) * 2), "holds 0 and 1"),
    (lambda net: net.compile(threads=0), "threads"),
    (lambda net: net.compile(target="cuda", threads=2), "threads is for the C target"),
    (lambda net: net.compile().run(5, inputs={"zz": {}}), "unknown population"),
    (lambda net: net.compile().run(5, record={"s": ["V"]}), "spike sources"),
])
def test_bad_network_input_is_a_clear_error(call, message):
    net = lifgen.Network()
    net.add("a", LEAKY_LAYER, 3)
    net.add("b", LEAKY_LAYER, 3)
    net.add_source("s", lifgen.Bernoulli(3, 0.5))
    with pytest.raises(InputError, match=message):
        call(net)


def test_delays_as_times_and_models_in_different_time_units():
    """A model written in seconds and one in milliseconds run together at dt = 0.1 ms: the same
    neuron in either unit spikes at the same steps, and '0.3 ms' is three steps."""
    seconds = (HERE / "models" / "lif_seconds.toml")
    net = lifgen.Network(dt="0.1 ms")
    net.add_source("s", lifgen.SpikeTrain(1, [5, 75], [0, 0]))
    net.add("ms", "lif_cuba", 1, params={"E_L": -65.0})
    net.add("sec", seconds, 1)
    net.connect("s", "ms", "exc", np.array([[200.0]]), delay="0.3 ms")
    net.connect("s", "sec", "exc", np.array([[0.200]]), delay=3)
    result = net.compile().run("10 ms", inputs={"ms": {"I": 5.0}, "sec": {"I": 0.005}},
                               record={"ms": ["V"], "sec": ["V"]}, spikes="raster")
    assert result["ms"].n_steps == 100
    assert result["ms"].spike_count.sum() == 2
    assert np.array_equal(result["ms"].spikes, result["sec"].spikes)
    np.testing.assert_allclose(result["sec"].traces["V"] * 1e3, result["ms"].traces["V"],
                               rtol=1e-9)
    with pytest.raises(InputError, match="not a whole number of steps"):
        net.connect("s", "ms", "exc", np.array([[1.0]]), delay="0.25 ms")


def test_populations_with_different_dt_need_the_network_dt(tmp_path):
    net = lifgen.Network()
    net.add("a", "lif_cuba", 1)
    net.add("b", "lif_cuba", 1, method="exact")
    net.populations["b"].model = lifgen.load_model("lif_cuba").__class__(
        **{**vars(lifgen.load_model("lif_cuba")), "dt": 0.05})
    with pytest.raises(InputError, match="different dt"):
        net.compile()


def test_a_network_pickles_and_runs_the_same_after():
    net, parts = mixed_network()
    again = pickle.loads(pickle.dumps(net))
    run = dict(n_steps=200, inputs={"exc": {"I": parts["I_exc"]}, "inh": {"I": parts["I_inh"]}})
    a, b = net.compile().run(**run), again.compile().run(**run)
    for name in ("exc", "inh"):
        assert np.array_equal(a[name].spike_count, b[name].spike_count)
    simulator = pickle.loads(pickle.dumps(net.compile()))
    assert np.array_equal(simulator.run(**run)["exc"].state["V"], a["exc"].state["V"])


def test_events_and_counts_agree_with_the_raster():
    net, parts = mixed_network()
    run = dict(n_steps=300, inputs={"exc": {"I": parts["I_exc"]}, "inh": {"I": parts["I_inh"]}})
    simulator = net.compile()
    raster = simulator.run(spikes="raster", **run)
    events = simulator.run(spikes="events", **run)
    counts = simulator.run(spikes="count", **run)
    assert events["src"].spike_events is None  # a source reports counts (and rasters)
    assert np.array_equal(counts["src"].spike_count, raster["src"].spike_count)
    for name in ("exc", "inh"):
        steps, neurons = np.nonzero(raster[name].spikes.reshape(300, -1))
        assert np.array_equal(events[name].spike_events[0], steps)
        assert np.array_equal(events[name].spike_events[1], neurons)
        assert np.array_equal(counts[name].spike_count, raster[name].spike_count)
    assert "exc" in repr(raster) and raster.rates["exc"] > 0


def test_a_run_keeps_the_rasters_it_is_asked_for():
    """rasters= keeps those populations' rasters (the same as a run that keeps every one); the
    others' spikes are None and their counts the same; a name not in the network, or rasters
    without spikes="raster", is an InputError."""
    net, parts = mixed_network()
    run = dict(n_steps=300, inputs={"exc": {"I": parts["I_exc"]}, "inh": {"I": parts["I_inh"]}})
    simulator = net.compile()
    every = simulator.run(spikes="raster", **run)
    some = simulator.run(spikes="raster", rasters=["inh"], **run)
    assert some["inh"].spikes is not None and every["inh"].spike_count.sum() > 0
    assert np.array_equal(some["inh"].spikes, every["inh"].spikes)
    for name in ("src", "exc"):
        assert some[name].spikes is None
        assert np.array_equal(some[name].spike_count, every[name].spike_count)
    with pytest.raises(InputError, match=r"rasters: no population \['out'\]"):
        simulator.run(spikes="raster", rasters=["out"], **run)
    with pytest.raises(InputError, match="rasters is for runs with spikes=\"raster\""):
        simulator.run(spikes="count", rasters=["inh"], **run)


@pytest.mark.parametrize("name", ["cuba", "coba"])
def test_brette2007_as_two_populations_equals_the_one_population_network(name):
    """E and I as separate populations with four projections (lifgen.tools.brette2007.network)
    are the same network as one population with two synapse types: the same spikes, bit for
    bit, since every ring element receives its events in the same order."""
    from lifgen.tools import brette2007

    spec = brette2007.NETWORKS[name]
    single = lifgen.compile(spec.model, dt=0.1)
    rng = np.random.default_rng(0)
    defaults = single.model.defaults
    V0 = defaults["V_r"] + rng.random(brette2007.N) * (defaults["V_t"] - defaults["V_r"])
    one = single.run(2000, brette2007.N, inputs={"I": spec.drive}, initial={"V": V0},
                     connections=brette2007.connections(spec, 1), record=[], spikes="raster")
    net = brette2007.network(name, 1)
    net.populations["E"].initial = {"V": V0[:brette2007.N_EXC]}
    net.populations["I"].initial = {"V": V0[brette2007.N_EXC:]}
    two = net.compile().run(2000, inputs={"E": {"I": spec.drive}, "I": {"I": spec.drive}},
                            spikes="raster")
    assert one.spike_count.sum() > 1000
    assert np.array_equal(one.spikes, np.concatenate([two["E"].spikes, two["I"].spikes], -1))


# -- found by an outside review --------------------------------------------------------------

def small_network():
    net = lifgen.Network()
    net.add_source("s", lifgen.SpikeTrain(3, [1, 1, 1], [0, 1, 2]))
    net.add("p", "lif_cuba", 2, params={"E_L": -70.0})
    net.add("q", "lif_cuba", 4, params={"E_L": -70.0}, initial={"V": -40.0})
    net.connect("q", "p", "exc", np.full((2, 4), 100.0))
    return net


def test_a_compiled_network_runs_what_was_compiled_whatever_is_added_later():
    net = small_network()
    simulator = net.compile()
    before = simulator.run(5, record={"q": ["g_e"]})
    net.connect("s", "q", "exc", np.full((4, 3), 1.0))  # updated before q: positions shift
    net.add("r", "lif_cuba", 1)
    after = simulator.run(5, record={"q": ["g_e"]})
    assert np.array_equal(before["q"].traces["g_e"], after["q"].traces["g_e"])
    assert "r" not in after.populations
    fresh = net.compile().run(5, record={"q": ["g_e"]})
    assert fresh["q"].traces["g_e"][3, 0] == pytest.approx(3 * 0.98, rel=0.05)


def test_zero_steps_and_the_result_s_inputs():
    simulator = small_network().compile()
    empty = simulator.run(0, record={"p": ["V"]}, inputs={"p": {"I": 1.5}})
    assert empty["p"].traces["V"].shape == (0, 2)
    result = simulator.run(4, inputs={"p": {"I": 1.5}}, record={"p": ["V"]})
    assert np.all(result["p"].input_trace("I") == 1.5)
    assert "lg_network" in simulator.source() and simulator.source() == simulator._last.text


def test_sources_with_one_seed_draw_differently_and_numpy_seeds_are_taken():
    net = lifgen.Network()
    net.add_source("a", lifgen.Poisson(50, 0.05, seed=np.int64(3)))
    net.add_source("b", lifgen.Poisson(50, 0.05, seed=np.int64(3)))
    net.add("p", "lif_cuba", 50)
    net.connect("a", "p", "exc", ("one_to_one", 1.0))
    net.connect("b", "p", "exc", ("one_to_one", 1.0))
    result = net.compile().run(2000, spikes="raster")
    assert result["a"].spike_count.sum() > 100
    assert not np.array_equal(result["a"].spikes, result["b"].spikes)
    bad = lifgen.Network()
    bad.add_source("a", lifgen.Poisson(2, 0.05, seed=-1))
    bad.add("p", "lif_cuba", 2)
    bad.connect("a", "p", "exc", ("one_to_one", 1.0))
    with pytest.raises(InputError, match="seed"):
        bad.compile().run(3)


def test_a_repeated_event_of_a_spike_train_is_delivered_twice_as_a_drive_is():
    train = lifgen.SpikeTrain(1, [3, 3], [0, 0])
    single = lifgen.compile("lif_cuba").run(6, 1, drives={"exc": (train, np.array([[1.0]]))},
                                            record=["g_e"])
    net = lifgen.Network()
    net.add_source("s", train)
    net.add("p", "lif_cuba", 1)
    net.connect("s", "p", "exc", np.array([[1.0]]), delay=1)
    result = net.compile().run(6, record={"p": ["g_e"]})
    assert np.array_equal(result["p"].traces["g_e"], single.traces["g_e"])
    assert result["s"].spike_count.sum() == 2


def test_states_that_become_nan_are_reported_per_population():
    net = lifgen.Network()
    net.add("p", "adex_cuba", 2, method="euler", params={"V_peak": 1e6})
    with pytest.warns(lifgen.NumericalWarning, match="population 'p'.*NaN or infinite"):
        net.compile().run(200, inputs={"p": {"I": 5000.0}})


@pytest.mark.parametrize("call, message", [
    (lambda net: net.connect("a", "b", "fc", ("one_to_one", np.ones(5))), "weights must be"),
    (lambda net: net.connect("a", "b", "fc", ("one_to_one", "1 mV")), "weights must be"),
    (lambda net: net.connect("a", "b", "fc", np.eye(3) * 1j), "weights must be"),
    (lambda net: net.compile().run(3, record=["V"]), "maps population names"),
    (lambda net: net.compile().run(3, inputs=[1.0]), "maps population names"),
])
def test_more_bad_network_input_is_a_clear_error(call, message):
    net = lifgen.Network()
    net.add("a", LEAKY_LAYER, 3)
    net.add("b", LEAKY_LAYER, 3)
    with pytest.raises(InputError, match=message):
        call(net)


def test_a_network_run_asks_the_machine_for_its_memory_once(monkeypatch):
    """Every population's layout and the network's own check share one query of the memory
    available (each query reads /proc and the cgroup's files: a run at batch 1 is mostly such
    overhead); a run smaller than memory.SMALL_RUN does not ask at all; and max_memory still
    refuses a run too large for it."""
    from lifgen.runtime import memory

    net, data = snntorch_network("subtract", "float32")
    simulator = net.compile(dtype="float32")
    steps = data["input"].shape[0]
    simulator.run(steps)
    asked = []
    available = memory.available_bytes
    monkeypatch.setattr(memory, "available_bytes", lambda: asked.append(1) or available())
    simulator.run(steps)
    assert asked == []
    monkeypatch.setattr(memory, "SMALL_RUN", 0)  # as a run too large to skip the question
    simulator.run(steps)
    assert len(asked) == 1
    with pytest.raises(InputError, match="max_memory"):
        simulator.run(steps, spikes="raster", max_memory=1000)


MULTI_IAF = "nir/sinabs_iaf_multi.toml"


def test_a_population_whose_spikes_are_counts_delivers_and_counts_them(tmp_path):
    """A model's [spike] count (nir/sinabs_iaf_multi.toml: max(floor(v/threshold), 0) spikes per
    step) in a network: a dense, a one-to-one and a sparse projection deliver count x weight, its
    spike counts add the counts, its raster keeps a flag per step; a NumPy loop of the same
    equations gives the same numbers. Alone (lifgen.compile), and as the source of a plastic
    projection, it is refused; a count that names no state is a ModelError."""
    from lifgen.errors import ModelError
    from lifgen.frontend.library import resource_dir

    model = lifgen.load_model(resource_dir("models") / MULTI_IAF)
    rng = np.random.default_rng(4)
    steps, n_in, n_a, n_b = 60, 5, 6, 3
    x = (rng.random((steps, n_in)) < 0.4).astype(np.uint8)
    w_in, w_ab = rng.uniform(0.2, 1.5, (n_a, n_in)), rng.uniform(-0.3, 0.8, (n_b, n_a))
    th_a, th_b = np.linspace(0.3, 0.6, n_a), np.full(n_b, 0.7)
    one = rng.uniform(0.1, 0.5, n_b)  # a -> b one-to-one on the first three neurons
    pre, post = np.array([0, 4, 5, 5]), np.array([2, 0, 1, 2])
    sparse_w = np.array([0.3, -0.2, 0.4, 0.1])
    net = lifgen.Network()
    net.add_source("x", x)
    net.add("a", model, n_a, params={"threshold": th_a, "v_min": -th_a})
    net.add("b", model, n_b, params={"threshold": th_b, "v_min": -th_b})
    net.add("c", model, n_b, params={"threshold": 0.5, "v_min": -0.5})
    net.connect("x", "a", "I", w_in, delay=0)
    net.connect("a", "b", "I", w_ab, delay=0)
    net.connect("a", "c", "I", lifgen.Sparse.from_arrays(pre, post, sparse_w, np.zeros(4, int),
                                                          n_pre=n_a, n_post=n_b))
    net.connect("b", "c", "I", one, delay=1)  # (n,): one-to-one
    result = net.compile().run(steps, record={n: ["spikes"] for n in "abc"}, spikes="raster")

    def step(v, inputs, th):
        u = np.maximum(v + th, 0) - th + inputs
        count = np.maximum(np.floor(u / th), 0)
        return u - count * th, count
    v = {n: np.zeros(k) for n, k in (("a", n_a), ("b", n_b), ("c", n_b))}
    counts = {n: [] for n in "abc"}
    last_b = np.zeros(n_b)
    for t in range(steps):
        v["a"], ca = step(v["a"], w_in @ x[t], th_a)
        v["b"], cb = step(v["b"], w_ab @ ca, th_b)
        into_c = np.zeros(n_b)
        np.add.at(into_c, post, sparse_w * ca[pre])
        v["c"], cc = step(v["c"], into_c + one * last_b, 0.5)
        last_b = cb
        for n, c in (("a", ca), ("b", cb), ("c", cc)):
            counts[n].append(c)
    for n in "abc":
        expected = np.array(counts[n])
        np.testing.assert_allclose(result[n].traces["spikes"], expected, rtol=0, atol=0)
        assert np.array_equal(result[n].spike_count, expected.sum(0).astype(np.int64)), n
        assert np.array_equal(result[n].spikes, expected > 0), n
    assert counts["a"] and np.array(counts["a"]).max() >= 2 and np.array(counts["c"]).sum() > 0

    with pytest.raises(ModelError, match=r"\[spike\] count.*Network"):
        lifgen.compile(model)
    plastic = lifgen.Network()
    plastic.add("a", model, 4)
    plastic.add("p", Path(__file__).parent / "models" / "pulsed.toml", 4)
    synapses = lifgen.Sparse.from_arrays([0, 1], [1, 2], [0.1, 0.2], [1, 1], n_pre=4, n_post=4)
    plastic.connect("a", "p", "exc", lifgen.Synapses(synapses, "stdp", params={"w_max": 1.0}))
    with pytest.raises(InputError, match="count of spikes.*plastic"):
        plastic.compile().run(5)
    text = (resource_dir("models") / MULTI_IAF).read_text().replace('count = "spikes"',
                                                                    'count = "n_spikes"')
    (tmp_path / "bad.toml").write_text(text)
    with pytest.raises(ModelError, match=r"\[spike\] count.*'n_spikes'"):
        lifgen.load_model(tmp_path / "bad.toml")


def test_a_rerun_reuses_its_checked_layout_only_while_the_values_are_the_same():
    """A compiled network keeps each population's checked arrays between runs of the same
    arguments: reruns give the first run's numbers (states start again from the initial
    values, not where the last run ended), and a parameter or initial state changed in place,
    replaced or added, or other arguments (steps, traced states), are seen as a fresh network
    sees them."""
    net, data = snntorch_network("subtract", "float64")
    steps = data["input"].shape[0]
    simulator = net.compile()
    record = {"lif1": ["V"], "lif2": ["V"]}

    def same(a, b):
        for name in ("lif1", "lif2", "lif3"):
            assert np.array_equal(a[name].spike_count, b[name].spike_count), name
            assert np.array_equal(a[name].state["V"], b[name].state["V"]), name
        for name in ("lif1", "lif2"):
            assert np.array_equal(a[name].traces["V"], b[name].traces["V"]), name

    def fresh(**run):
        again = lifgen.Network()
        again.populations.update(net.populations)
        again.projections.extend(net.projections)
        return again.compile().run(**run)

    first = simulator.run(steps, record=record)
    for _ in range(2):
        same(simulator.run(steps, record=record), first)
    bias = net.populations["lif1"].params["b"]
    bias[:5] += 0.4  # in place
    changed = simulator.run(steps, record=record)
    assert not np.array_equal(changed["lif1"].traces["V"], first["lif1"].traces["V"])
    same(changed, fresh(n_steps=steps, record=record))
    net.populations["lif2"].initial["V"] = 0.3  # added
    same(simulator.run(steps, record=record), fresh(n_steps=steps, record=record))
    same(simulator.run(steps - 7, record={"lif1": ["V"], "lif2": ["V"]}),
         fresh(n_steps=steps - 7, record=record))
    one_row = lifgen.Network()  # states of one row: not copied to rows, so copied for a run
    one_row.add_source("x", data["input"][:, 0])
    one_row.populations.update({n: p for n, p in net.populations.items() if n != "x"})
    one_row.projections.extend(net.projections)
    single = one_row.compile()
    alone = single.run(steps, record=record)
    assert alone["lif1"].traces["V"].ndim == 2 and alone["lif3"].spike_count.sum() > 0
    for _ in range(2):
        same(single.run(steps, record=record), alone)
    neurons = {"lif1": {"V": [0, 3]}, "lif2": {"V": [1]}}
    picked = simulator.run(steps, record=neurons)
    assert picked["lif1"].traces["V"].shape[-1] == 2 and picked["lif2"].traces["V"].shape[-1] == 1
    assert np.array_equal(picked["lif1"].traces["V"],
                          fresh(n_steps=steps, record=neurons)["lif1"].traces["V"])


def test_a_parameter_array_of_one_value_is_read_once_with_the_same_numbers():
    """A per-neuron parameter array whose values are one value bit for bit (as NIR gives every
    parameter) runs as a number given once: the program reads it once per step, not once per
    neuron, and every spike and membrane still equals snnTorch's; a -0.0 among zeros keeps the
    array per neuron."""
    net, data = snntorch_network("subtract", "float32")
    for layer in (1, 2, 3):
        population = net.populations[f"lif{layer}"]
        population.params.update(beta=np.full(population.n, population.params["beta"]),
                                 threshold=np.full(population.n, population.params["threshold"]))
    simulator = net.compile(dtype="float32")
    steps = data["input"].shape[0]
    result = simulator.run(steps, record={f"lif{k}": ["V"] for k in (1, 2, 3)}, spikes="raster")
    for k in (1, 2, 3):
        assert f"p_threshold = lg_P{k}_param_threshold[0];" in simulator.source()
        assert np.array_equal(result[f"lif{k}"].spikes, data[f"spk{k}"] != 0), k
        assert np.array_equal(result[f"lif{k}"].traces["V"], data[f"mem{k}"]), k
    net.populations["lif1"].params["b"] = np.zeros(net.populations["lif1"].n)
    net.populations["lif2"].params["b"] = np.array([0.0] * 3 + [-0.0] + [0.0] * (
        net.populations["lif2"].n - 4))
    simulator.run(steps)
    assert "p_b = lg_P1_param_b[0];" in simulator.source()
    assert "lg_P2_param_b[lg_i]" in simulator.source()
