"""Named noise sources (xi_<name>), each its own counter-based stream, and Ornstein-Uhlenbeck
states integrated exactly beside another method (NESTML's hh_cond_exp_destexhe)."""

import numpy as np
import pytest

import lifgen
from lifgen.errors import ModelError
from lifgen.frontend.modelfile import model_from_document

TAU, SIGMA, G0, DT = 10.0, 0.5, 1.0, 2.0  # a coarse dt: Euler-Maruyama's variance would be off


def document(laws, states, name="sources"):
    return {"model": {"name": name},
            "parameters": {"tau": TAU, "sigma": SIGMA, "g0": G0, "tauv": 5.0, "never": 1e30},
            "states": states, "equations": {"laws": laws},
            "spike": {"condition": "V > never"}, "reset": {"mechanism": "none"},
            "simulation": {"dt": DT}}


CONDUCTANCES = ["dg/dt = (g0 - g)/tau + sigma*xi_exc", "dh/dt = -h/tau + sigma*xi_inh",
                "dV/dt = (g*(1 - V) - V + h)/tauv"]


@pytest.fixture(scope="module")
def two_sources():
    model = model_from_document(document(CONDUCTANCES, {"g": G0, "h": 0.0, "V": 0.0}), "s.toml")
    return lifgen.compile(model)


@pytest.fixture(scope="module")
def run(two_sources):
    return two_sources.run(400, 4000, record=["g", "h"], seed=7)


def test_auto_integrates_the_noisy_states_exactly_beside_another_method(two_sources):
    assert two_sources.method != "euler"
    assert "g, h exactly, as Ornstein-Uhlenbeck" in two_sources.step_map.note
    assert [s.name for s, _ in two_sources.step_map.noise_updates] == ["g", "h"]


def test_ornstein_uhlenbeck_statistics_are_exact_at_a_coarse_step(run):
    g, h = run.traces["g"], run.traces["h"]
    stationary = SIGMA ** 2 * TAU / 2
    first = SIGMA * np.sqrt(TAU / 2 * (1 - np.exp(-2 * DT / TAU)))  # one step from the mean
    assert g[0].std() == pytest.approx(first, rel=0.04)
    assert abs(g[0].std() - SIGMA * np.sqrt(DT)) > 0.05 * first  # not Euler-Maruyama's
    late = g[100:]
    assert late.mean() == pytest.approx(G0, abs=0.02)
    assert late.var() == pytest.approx(stationary, rel=0.03)
    for lag in (1, 3, 6):  # autocorrelation exp(-lag*dt/tau)
        a, b = late[:-lag] - G0, late[lag:] - G0
        assert (a * b).mean() / stationary == pytest.approx(np.exp(-lag * DT / TAU), abs=0.02)
    assert h[100:].var() == pytest.approx(stationary, rel=0.03)


def test_two_sources_are_independent(run):
    g, h = run.traces["g"][100:] - G0, run.traces["h"][100:]
    correlation = (g * h).mean() / np.sqrt(g.var() * h.var())
    assert abs(correlation) < 0.01  # 1.44 million samples, correlated over a few steps


def test_a_source_draws_the_same_numbers_whatever_other_sources_there_are(run):
    laws = [CONDUCTANCES[0], "dh/dt = -h/tau", CONDUCTANCES[2]]
    alone = lifgen.compile(model_from_document(document(laws, {"g": G0, "h": 0.0, "V": 0.0},
                                                        "alone"), "a.toml"))
    traces = alone.run(400, 4000, record=["g"], seed=7).traces["g"]
    np.testing.assert_array_equal(traces, run.traces["g"])
    other_seed = alone.run(5, 4000, record=["g"], seed=8).traces["g"]
    assert not np.array_equal(other_seed, traces[:5])


def test_mean_decay_is_exact():
    model = model_from_document(document(["dg/dt = (g0 - g)/tau + sigma*xi",
                                          "dV/dt = (g - V)/tauv"], {"g": 3.0, "V": 0.0}, "decay"),
                                "d.toml")
    g = lifgen.compile(model, method="rk4").run(5, 20000, record=["g"], seed=1).traces["g"]
    expected = G0 + (3.0 - G0) * np.exp(-DT * np.arange(1, 6) / TAU)
    spread = SIGMA * np.sqrt(TAU / 2) / np.sqrt(20000)
    np.testing.assert_allclose(g.mean(axis=1), expected, atol=4 * spread)


def test_noise_that_is_not_ornstein_uhlenbeck_is_euler_maruyama_only():
    model = model_from_document(document(["dg/dt = (g0 - g)/tau + sigma*V*xi",
                                          "dV/dt = (g - V)/tauv"], {"g": G0, "V": 0.0},
                                         "multiplicative"), "m.toml")
    assert lifgen.compile(model).method == "euler"
    with pytest.raises(ModelError, match="not an Ornstein-Uhlenbeck process.*'euler'"):
        lifgen.compile(model, method="rk4")


def test_brian2_named_noise_sources_read_and_written_back():
    model = lifgen.from_brian2("dv/dt = -v/tau + sigma*xi_a/sqrt(tau) : volt\n"
                               "dw/dt = -w/tau + sigma*xi_b/sqrt(tau) : volt",
                               namespace={"tau": "10*ms", "sigma": "1*mV"})
    assert [s.name for s in model.noise_symbols] == ["xi_a", "xi_b"]
    equations = lifgen.to_brian2(model)["model"]
    assert "xi_a*" in equations and "xi_b*" in equations


def test_named_sources_are_the_same_in_a_block_a_continued_run_and_a_network(two_sources, run):
    whole = run.traces
    block = two_sources.run(400, 40, record=["g", "h"], seed=7, first_neuron=1000).traces
    for name in ("g", "h"):
        np.testing.assert_array_equal(block[name], whole[name][:, 1000:1040])
    first = two_sources.run(150, 4000, record=["g"], seed=7)
    second = two_sources.run(250, 4000, record=["g"], seed=7, initial=first.state)
    np.testing.assert_array_equal(np.concatenate([first.traces["g"], second.traces["g"]]),
                                  whole["g"])
    network = lifgen.Network(dt=DT)
    network.add("P", two_sources.model, 40)
    in_network = network.compile().run(400, record={"P": ["g", "h"]}, seed=7)["P"].traces
    for name in ("g", "h"):
        np.testing.assert_array_equal(in_network[name], whole[name][:, :40])
