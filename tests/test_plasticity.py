"""Issue 16: synaptic plasticity declared in synapse model files and compiled into the network
kernel. Each test drives spikes at chosen steps with input pulses and checks the weights against
closed forms: the STDP window, all-to-all against nearest-spike pairing, the Tsodyks-Markram
recursion."""

import json
from pathlib import Path

import numpy as np
import pytest

import lifgen
from lifgen.errors import InputError, ModelError
from lifgen.frontend.modelfile import model_from_document
from lifgen.frontend.synapse_model import synapse_from_document

DT, TAU = 0.1, 20.0  # ms
NEURON = lifgen.load_model(Path(__file__).parent / "models" / "pulsed.toml")


@pytest.fixture(scope="module")
def simulator():
    return lifgen.compile(NEURON)


def _pulses(n_steps, spikes):
    """An input that makes neuron n spike at each step in spikes[n] (and nowhere else)."""
    current = np.zeros((n_steps, len(spikes)))
    for neuron, steps in enumerate(spikes):
        current[list(steps), neuron] = 1e4
    return current


def _pair_run(simulator, pre_steps, post_steps, model="stdp", n_steps=1500, **params):
    sparse = lifgen.Sparse.from_arrays([0], [1], [0.5], n_pre=2, n_post=2)
    synapses = lifgen.Synapses(sparse, model, params={"w_max": 1.0, **params})
    result = simulator.run(n_steps, 2, inputs={"I": _pulses(n_steps, [pre_steps, post_steps])},
                           connections={"exc": synapses}, spikes="raster")
    assert list(result.spike_steps(0)) == list(pre_steps)
    assert list(result.spike_steps(1)) == list(post_steps)
    return result


@pytest.mark.parametrize("lag", [-500, -137, -20, -1, 0, 1, 3, 20, 250, 500])
def test_the_stdp_window_exactly(simulator, lag):
    """One pre and one post spike, the post `lag` steps after the pre's arrival (delay 1: the
    arrival is at the end of the pre's step, as the post spike is at the end of its own)."""
    pre = 600
    result = _pair_run(simulator, [pre], [pre + lag])
    change = result.synapses["exc"]["w"][0] - 0.5
    delta = lag * DT
    expected = 0.01 * np.exp(-delta / TAU) if lag >= 0 else -0.0105 * np.exp(delta / TAU)
    assert change == pytest.approx(expected, rel=1e-12, abs=1e-15)


NEAREST = {
    "synapse": {"name": "stdp_nearest"},
    "parameters": {"tau_pre": {"value": 20.0, "unit": "ms"},
                   "tau_post": {"value": 20.0, "unit": "ms"}, "A_plus": 0.01, "A_minus": 0.0105,
                   "w_max": {"unit": "target"}},
    "states": {"w": {"unit": "target"}, "A_pre": {"unit": "target", "side": "pre"},
               "A_post": {"unit": "target", "side": "post"}},
    "equations": {"laws": ["dA_pre/dt = -A_pre/tau_pre", "dA_post/dt = -A_post/tau_post"]},
    "events": {"on_pre": ["target += w", "A_pre = A_plus*w_max", "w = clip(w + A_post, 0, w_max)"],
               "on_post": ["A_post = -A_minus*w_max", "w = clip(w + A_pre, 0, w_max)"]}}


def test_all_to_all_and_nearest_spike_pairing(simulator, tmp_path):
    """Two pre spikes, then one post: all-to-all pairing adds both pairs' potentiation,
    nearest-spike pairing (the trace set, not added to) only the later one's."""
    path = tmp_path / "stdp_nearest.toml"
    path.write_text(_toml(NEAREST))
    pre, post = [400, 450], [500]
    every = _pair_run(simulator, pre, post)
    nearest = _pair_run(simulator, pre, post, model=str(path))
    pairs = [0.01 * np.exp(-(post[0] - a) * DT / TAU) for a in pre]
    assert every.synapses["exc"]["w"][0] - 0.5 == pytest.approx(sum(pairs), rel=1e-12)
    assert nearest.synapses["exc"]["w"][0] - 0.5 == pytest.approx(pairs[1], rel=1e-12)


def _toml(document):
    """A small TOML writer for the test documents (tables of scalars, lists and inline tables)."""
    def value(v):
        if isinstance(v, dict):
            return "{ " + ", ".join(f"{k} = {value(x)}" for k, x in v.items()) + " }"
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        if isinstance(v, str):
            return '"' + v + '"'
        return repr(v)
    return "\n".join(f"[{section}]\n" + "\n".join(f"{k} = {value(v)}" for k, v in table.items())
                     for section, table in document.items()) + "\n"


INTEGRATOR = model_from_document({
    "model": {"name": "integrator"},
    "parameters": {"tau": {"value": 10.0, "unit": "ms"}, "theta": {"value": 1.0, "unit": "mV"}},
    "states": {"V": {"initial": 0.0, "unit": "mV"}}, "inputs": {"I": {"unit": "mV"}},
    "synapses": {"exc": {"target": "V"}},
    "equations": {"laws": ["tau*dV/dt = I"]},
    "spike": {"condition": "V > theta"}, "reset": {"mechanism": "zero"},
    "simulation": {"dt": "0.1 ms", "method": "exact"}}, "integrator.toml")


def _tsodyks_markram(U, tau_rec, tau_facil, isi, n):
    """The closed-form recursion, per spike: the amplitudes w*u_n*x_n (w = 1)."""
    u_after, x_after, amplitudes = 0.0, 1.0, []
    for k in range(n):
        gap = np.inf if k == 0 else isi
        u = u_after * np.exp(-gap / tau_facil)
        u = u + U * (1 - u)
        x = 1 + (x_after - 1) * np.exp(-gap / tau_rec)
        amplitudes.append(u * x)
        u_after, x_after = u, x - u * x
    return np.array(amplitudes)


@pytest.mark.parametrize("U, tau_rec, tau_facil", [(0.5, 800.0, 1.0),     # depressing
                                                   (0.1, 100.0, 1000.0)])  # facilitating
def test_tsodyks_markram_follows_its_recursion(U, tau_rec, tau_facil):
    """A regular train of 12 presynaptic spikes, 25 ms apart: each arrival adds w*u*x to an
    integrator, which holds it; the increments are the recursion's amplitudes."""
    simulator = lifgen.compile(INTEGRATOR)
    pre = [100 + 250 * k for k in range(12)]
    w = 0.01
    sparse = lifgen.Sparse.from_arrays([0], [1], [w], n_pre=2, n_post=2)
    synapses = lifgen.Synapses(sparse, "tsodyks_markram",
                               params={"U": U, "tau_rec": tau_rec, "tau_facil": tau_facil})
    n_steps = pre[-1] + 10
    result = simulator.run(n_steps, 2, inputs={"I": _pulses(n_steps, [pre, []])},
                           connections={"exc": synapses}, record={"V": [1]})
    v = result.traces["V"][:, 0]
    increments = v[np.array(pre) + 1] - v[np.array(pre)]
    expected = w * _tsodyks_markram(U, tau_rec, tau_facil, 25.0, len(pre))
    np.testing.assert_allclose(increments, expected, rtol=1e-12)
    if U == 0.5:
        assert increments[-1] < 0.5 * increments[0]  # depression
    else:
        assert increments[-1] > 1.5 * increments[0]  # facilitation


def test_a_post_spike_in_the_last_step_still_runs_on_post(simulator):
    """The kernel runs on_post at the next step's start; the run's end runs it for the last."""
    pre, post = 600, 700
    result = _pair_run(simulator, [pre], [post], n_steps=post + 1)
    change = result.synapses["exc"]["w"][0] - 0.5
    assert change == pytest.approx(0.01 * np.exp(-(post - pre) * DT / TAU), rel=1e-12)


def _with(document, **changes):
    changed = {section: dict(table) for section, table in document.items()}
    for section, table in changes.items():
        changed[section] = {**changed.get(section, {}), **table}
    return changed


@pytest.mark.parametrize("changes, field, message", [
    ({"events": {"on_pre": ["target += w", "A_pre += tau_pre", "w = clip(w + A_post, 0, w_max)"]}},
     "[events] on_pre #2", "A_pre is the target's unit"),
    ({"events": {"on_pre": ["target += w*tau_pre"]}}, "[events] on_pre #1", "the target"),
    ({"equations": {"laws": ["dA_pre/dt = -A_pre/tau_pre"]}}, "[equations] laws",
     "'A_post' is a trace (side = 'post') without a decay"),
    ({"equations": {"laws": ["dA_pre/dt = A_pre/tau_pre", "dA_post/dt = -A_post/tau_post"]}},
     "[equations] laws", "must make the trace 'A_pre' decay"),
    ({"events": {"on_post": ["A_pre -= A_minus*w_max"]}}, "[events] on_post #1",
     "'A_pre' is a presynaptic trace (side = 'pre'): on_post may read it but not change it"),
    ({"events": {"on_post": ["target += w"]}}, "[events] on_post #1", "only on_pre may add"),
    ({"events": {"on_pre": ["v += w"]}}, "[events] on_pre #1", "'v' is not a state"),
    ({"equations": {"laws": ["dA_pre/dt = -A_pre*A_post/(tau_pre*w_max)",
                            "dA_post/dt = -A_post/tau_post"]}},
     "[equations] laws #1", "linear in the synapse's states"),
])
def test_synapse_model_errors_name_the_file_and_field(changes, field, message):
    with pytest.raises(ModelError, match="my_stdp.toml") as error:
        synapse_from_document(_with(NEAREST, **changes), "my_stdp.toml")
    assert error.value.field == field and message in error.value.problem, error.value


def test_the_library_and_its_names():
    assert lifgen.list_synapse_models() == ["stdp", "stdp_multiplicative", "stdp_triplet",
                                            "tsodyks_markram"]
    stdp = lifgen.load_synapse_model("stdp")
    assert stdp.parameter_names == ("tau_pre", "tau_post", "A_plus", "A_minus", "w_max")
    defaults = {q.name: q.value for q in stdp.parameters}
    assert defaults == {"tau_pre": 20.0, "tau_post": 20.0, "A_plus": 0.01, "A_minus": 0.0105,
                        "w_max": None}
    assert all(lifgen.load_synapse_model(n).reference for n in lifgen.list_synapse_models())
    with pytest.raises(ModelError, match="no synapse model named 'stpd'"):
        lifgen.load_synapse_model("stpd")


def test_synapses_check_their_arguments():
    sparse = lifgen.Sparse.from_arrays([0, 1], [1, 0], [0.2, 0.4], n_pre=2, n_post=2)
    assert lifgen.Synapses(sparse).params["w_max"].tolist() == [0.4, 0.4]  # the largest weight
    assert lifgen.Synapses(sparse, initial={"w": 0.1}).initial["w"].tolist() == [0.1, 0.1]
    with pytest.raises(InputError, match="unknown name"):
        lifgen.Synapses(sparse, params={"tau": 3.0})
    with pytest.raises(InputError, match="one value per synapse"):
        lifgen.Synapses(sparse, params={"A_plus": [0.1, 0.2, 0.3]})
    with pytest.raises(InputError, match="Synapses needs a lifgen.Sparse"):
        lifgen.Synapses(np.ones((2, 2)))


def _recurrent(threads=1, seed=4):
    """A small recurrent lif_cuba network with STDP on its excitatory synapses."""
    simulator = lifgen.compile("lif_cuba", threads=threads)
    n = 200
    exc = lifgen.Sparse.random(n, n, 0.1, weight=1.6, delay=2, seed=seed)
    synapses = lifgen.Synapses(exc, "stdp", params={"w_max": 3.0})
    rng = np.random.default_rng(seed)
    initial = {"V": rng.uniform(-60, -50, n)}
    return simulator, synapses, initial


def test_plastic_networks_give_the_same_numbers_for_any_thread_count():
    results = []
    for threads in (1, 2):
        simulator, synapses, initial = _recurrent(threads)
        results.append(simulator.run(3000, 200, connections={"exc": synapses}, initial=initial,
                                     spikes="count", record=[]))
    assert results[0].spike_count.sum() > 100
    np.testing.assert_array_equal(results[0].spike_count, results[1].spike_count)
    for state in ("w", "A_pre", "A_post"):
        np.testing.assert_array_equal(results[0].synapses["exc"][state],
                                      results[1].synapses["exc"][state])
    w = results[0].synapses["exc"]["w"]
    assert 0 <= w.min() and w.max() <= 3.0 and np.ptp(w) > 0


def test_a_run_continues_from_its_final_synapse_states():
    """Two halves, the second started from the first's final neuron and synapse states, give
    the whole run's weights (up to the rounding of splitting one decay in two), when no spike
    is in flight at the cut."""
    simulator = lifgen.compile(NEURON)
    sparse = lifgen.Sparse.from_arrays([0, 0, 1], [1, 2, 2], [0.3, 0.2, 0.4], n_pre=3, n_post=3)
    spikes = [[100, 400, 1300], [150, 1250, 1700], [120, 420, 1320, 1800]]
    current = _pulses(2000, spikes)
    whole = simulator.run(2000, 3, inputs={"I": current},
                          connections={"exc": lifgen.Synapses(sparse, params={"w_max": 1.0})},
                          spikes="count", record=[])
    first = simulator.run(1000, 3, inputs={"I": current[:1000]},
                          connections={"exc": lifgen.Synapses(sparse, params={"w_max": 1.0})},
                          spikes="count", record=[])
    second = simulator.run(1000, 3, inputs={"I": current[1000:]}, initial=first.state,
                           connections={"exc": lifgen.Synapses(
                               sparse, params={"w_max": 1.0}, initial=first.synapses["exc"])},
                           spikes="count", record=[])
    for state in ("w", "A_pre", "A_post"):
        np.testing.assert_allclose(second.synapses["exc"][state], whole.synapses["exc"][state],
                                   rtol=1e-12, atol=1e-18)
    assert not np.allclose(whole.synapses["exc"]["w"], [0.3, 0.2, 0.4])


@pytest.mark.parametrize("model, where", [("stdp", "connections"), ("stdp_triplet", "drive"),
                                          ("tsodyks_markram", "connections")])
def test_the_cuda_source_compiled_as_c_gives_the_c_numbers(monkeypatch, model, where):
    """The CUDA target's plastic kernel (one thread per batch row, before the neurons' step),
    compiled as C and run on the CPU: the C target's spikes, weights and traces, bit for bit."""
    from lifgen import targets

    monkeypatch.setitem(targets.TARGETS, "cuda-host", "cuda_host_target")
    c_sim, synapses, initial = _recurrent()
    cuda_sim = lifgen.compile("lif_cuba", target="cuda-host")
    synapses = lifgen.Synapses(synapses.sparse, model,
                               params={"w_max": 3.0} if model != "tsodyks_markram" else {})
    inputs = lifgen.Sparse.from_arrays(np.arange(50), np.arange(50) % 200, 2.0, n_pre=50,
                                       n_post=200)
    arguments = dict(initial=initial, record=[], record_synapses={"exc": [0, 3]},
                     spikes="raster")
    if where == "connections":
        arguments["connections"] = {"exc": synapses}
    else:
        arguments["drives"] = {"exc": (lifgen.Poisson(50, "40 Hz", seed=3),
                                       lifgen.Synapses(inputs, model, params=synapses.params
                                                       and {k: v[:1].repeat(50) for k, v in
                                                            synapses.params.items()}))}
    expected = c_sim.run(600, 200, **arguments)
    got = cuda_sim.run(600, 200, progress=True, **arguments)
    assert expected.spike_count.sum() > 0
    np.testing.assert_array_equal(got.spikes, expected.spikes)
    for state in synapses.model.state_names:
        np.testing.assert_array_equal(got.synapses["exc"][state], expected.synapses["exc"][state])
        np.testing.assert_array_equal(got.synapse_traces["exc"][state],
                                      expected.synapse_traces["exc"][state])


def test_the_plastic_cuda_source_compiles_without_a_warning(cuda_host):
    """Every synapse model, plastic in connections and in a drive: the network CUDA of the run
    (what the cuda target runs) compiles with NVRTC without a warning."""
    import sys
    sys.path.insert(0, str(Path(__file__).parent))
    from test_cuda import nvrtc

    compiler = nvrtc()
    simulator = lifgen.compile("lif_cuba", target="cuda-host")
    sparse = lifgen.Sparse.from_arrays([0], [1], [0.5], n_pre=2, n_post=2)
    for model in lifgen.list_synapse_models():
        params = {"w_max": 1.0} if model != "tsodyks_markram" else {}
        runs = [{"connections": {"exc": lifgen.Synapses(sparse, model, params=params)}},
                {"drives": {"exc": (lifgen.Poisson(2, 0.5),
                                    lifgen.Synapses(sparse, model, params=params))}}]
        for run in runs:
            text = simulator.source(5, 2, **run)
            cubin, log, _ = compiler.compile_cubin(text, "sm_90")
            assert log == "" and cubin[:4] == b"\x7fELF", (model, sorted(run), log)


SONG = json.loads((Path(__file__).parent / "reference" / "brian2" / "song2000.json").read_text())


def song2000(seed, seconds=100, n_inputs=1000, gmax=0.01):
    """Song, Miller & Abbott (2000) as Brian2's STDP example: (final w / gmax, output rate)."""
    simulator = lifgen.compile(Path(__file__).parent / "models" / "song2000.toml")
    weights = np.random.default_rng(seed).random(n_inputs) * gmax
    inputs = lifgen.Sparse.from_arrays(np.arange(n_inputs), np.zeros(n_inputs, int), weights,
                                       n_pre=n_inputs, n_post=1)
    synapses = lifgen.Synapses(inputs, "stdp", params={"w_max": gmax})
    result = simulator.run(duration=f"{seconds} s", n_neurons=1, record=[],
                           drives={"exc": (lifgen.Poisson(n_inputs, "15 Hz", seed=seed),
                                           synapses)})
    return result.synapses["exc"]["w"] / gmax, float(result.rates[0])


def test_song_miller_abbott_weights_go_bimodal_as_in_brian2():
    """1000 Poisson inputs at 15 Hz, 100 s, three seeds: the weights pile up at 0 and gmax, the
    mean histogram (tenths of gmax) within 20 % (or 25 synapses) of Brian2 2.9's, and the mean
    output rate within 15 %."""
    ours = [song2000(seed) for seed in SONG["seeds"]]
    histogram = np.mean([np.histogram(w, bins=10, range=(0, 1))[0] for w, _ in ours], axis=0)
    theirs = np.mean([run["histogram"] for run in SONG["runs"]], axis=0)
    assert histogram[0] > 2 * histogram[4] and histogram[-1] > 2 * histogram[5]  # bimodal
    assert np.all(np.abs(histogram - theirs) <= np.maximum(25, 0.2 * theirs)), (histogram, theirs)
    rate = np.mean([r for _, r in ours])
    assert rate == pytest.approx(np.mean([run["rate_hz"] for run in SONG["runs"]]), rel=0.15)


def test_chosen_synapses_are_recorded_over_time(simulator):
    """Row t holds a synapse's states at the end of step t, events at that time included: the
    presynaptic trace from the arrival on, decaying exactly; w changing at the post spike."""
    pre, post, n_steps = 300, 400, 600
    sparse = lifgen.Sparse.from_arrays([0, 1], [1, 0], [0.5, 0.25], n_pre=2, n_post=2)
    synapses = lifgen.Synapses(sparse, params={"w_max": 1.0})
    result = simulator.run(n_steps, 2, inputs={"I": _pulses(n_steps, [[pre], [post]])},
                           connections={"exc": synapses}, record_synapses={"exc": [0]})
    traces = result.synapse_traces["exc"]
    assert traces["w"].shape == (n_steps, 1)
    a_pre = traces["A_pre"][:, 0]
    assert np.all(a_pre[:pre] == 0)
    steps = np.arange(pre, n_steps)
    np.testing.assert_allclose(a_pre[pre:], 0.01 * np.exp(-(steps - pre) * DT / TAU), rtol=1e-12)
    w = traces["w"][:, 0]
    assert np.all(w[:post] == 0.5) and w[post] > 0.5 and np.all(w[post:] == w[-1])
    assert w[-1] == result.synapses["exc"]["w"][0]
    with pytest.raises(InputError, match="synapse indices in 0..1"):
        simulator.run(10, 2, connections={"exc": synapses}, record_synapses={"exc": [2]})


def test_multiplicative_and_triplet_windows(simulator):
    """One pair, post 10 ms after pre: van Rossum's potentiation scales with the room left,
    A+ (w_max - w) e^(-dt/tau); the triplet rule's first pair is its pair term alone, with
    o2 = 0: w_max r1 (A2+ + A3+ o2) = w_max A2+ e^(-dt/tau+)."""
    pre, lag = 300, 100
    soft = _pair_run(simulator, [pre], [pre + lag], model="stdp_multiplicative")
    expected = 0.01 * (1.0 - 0.5) * np.exp(-lag * DT / 20.0)
    assert soft.synapses["exc"]["w"][0] - 0.5 == pytest.approx(expected, rel=1e-12)
    triplet = _pair_run(simulator, [pre], [pre + lag], model="stdp_triplet")
    expected = 5e-10 * np.exp(-lag * DT / 16.8)
    assert triplet.synapses["exc"]["w"][0] - 0.5 == pytest.approx(expected, rel=1e-9)
    # a second post spike 20 ms later: the triplet term now counts the first post spike
    triplet2 = _pair_run(simulator, [pre], [pre + lag, pre + lag + 200], model="stdp_triplet")
    second = (5e-10 + 6.2e-3 * np.exp(-200 * DT / 125.0)) * np.exp(-(lag + 200) * DT / 16.8)
    assert triplet2.synapses["exc"]["w"][0] - 0.5 == pytest.approx(expected + second, rel=1e-9)


@pytest.mark.parametrize("model", ["stdp", "stdp_multiplicative", "stdp_triplet",
                                   "tsodyks_markram"])
def test_every_library_synapse_model_runs_in_a_network_within_its_bounds(model, monkeypatch):
    """lif_cuba, 200 neurons, 0.3 s: a run in chunks of 700 steps (spike events are collected
    chunk by chunk) and a whole run agree bit for bit; weights stay in [0, w_max]."""
    import lifgen.runtime.simulate

    monkeypatch.setattr(lifgen.runtime.simulate, "CHUNK_ENTRIES", 200 * 700)
    simulator, synapses, initial = _recurrent()
    synapses = lifgen.Synapses(synapses.sparse, model,
                               params={"w_max": 3.0} if model != "tsodyks_markram" else {})
    run = dict(connections={"exc": synapses}, initial=initial, record=[],
               record_synapses={"exc": [0, 5]})
    whole = simulator.run(3000, 200, spikes="count", **run)
    chunked = simulator.run(3000, 200, spikes="events", **run)
    assert whole.spike_count.sum() > 50
    for state in synapses.model.state_names:
        np.testing.assert_array_equal(whole.synapses["exc"][state], chunked.synapses["exc"][state])
        np.testing.assert_array_equal(whole.synapse_traces["exc"][state],
                                      chunked.synapse_traces["exc"][state])
    w = whole.synapses["exc"]["w"]
    assert w.min() >= 0 and w.max() <= 3.0 and np.isfinite(w).all()


@pytest.mark.parametrize("delay", [1, 3, 12])
def test_the_window_is_timed_from_the_arrival(simulator, delay):
    """With a delay of d steps the presynaptic spike arrives d - 1 steps after its emission
    (delay 1 is Brian2's 0): the window's lag is measured from the arrival."""
    pre, post = 600, 680
    sparse = lifgen.Sparse.from_arrays([0], [1], [0.5], delay=delay, n_pre=2, n_post=2)
    synapses = lifgen.Synapses(sparse, params={"w_max": 1.0})
    result = simulator.run(1000, 2, inputs={"I": _pulses(1000, [[pre], [post]])},
                           connections={"exc": synapses}, spikes="count", record=[])
    lag = post - (pre + delay - 1)
    assert result.synapses["exc"]["w"][0] - 0.5 == pytest.approx(
        0.01 * np.exp(-lag * DT / TAU), rel=1e-12)
