"""External drives generated inside the kernel: Poisson, Bernoulli and spike-train playback."""

import numpy as np
import pytest

import lifgen
from lifgen.errors import InputError
from lifgen.frontend.modelfile import model_from_document

# A counter: every spike of source i adds 1 to c of neuron i; nothing else changes c.
COUNTER = {
    "model": {"name": "counter"},
    "parameters": {"never": 1e30},
    "states": {"c": 0.0},
    "synapses": {"kick": {"target": "c"}},
    "equations": {"laws": ["dc/dt = 0"]},
    "spike": {"condition": "c > never"},
    "reset": {"mechanism": "none"},
    "simulation": {"method": "euler", "dt": 0.1},
}


@pytest.fixture(scope="module")
def counter():
    return lifgen.compile(model_from_document(COUNTER, "counter.toml"))


def source_trains(counter, source, n, steps, seed_row=None, **run):
    """(steps, n) 0/1 spikes of each source, read back from the counters (delay one step)."""
    result = counter.run(steps + 1, n, drives={"kick": (source, np.ones(n))}, record=["c"],
                         **run)
    counts = result.traces["c"]
    return np.diff(np.concatenate([np.zeros((1, n)), counts], axis=0), axis=0)[1:]


def test_poisson_mean_fano_factor_and_intervals(counter):
    n, steps, rate = 200, 40_000, 0.02  # 20 Hz in spikes per ms, dt = 0.1 ms, 4 s
    trains = source_trains(counter, lifgen.Poisson(n, rate, seed=3), n, steps)
    assert set(np.unique(trains)) <= {0.0, 1.0}
    counts = trains.sum(axis=0)
    expected = rate * 0.1 * steps
    assert counts.mean() == pytest.approx(expected, rel=0.02)
    assert counts.var() / counts.mean() == pytest.approx(1 - rate * 0.1, abs=0.15)
    intervals = np.concatenate([np.diff(np.flatnonzero(trains[:, i])) for i in range(n)]) * 0.1
    assert intervals.mean() == pytest.approx(1 / rate, rel=0.03)
    assert np.mean(intervals > 1 / rate) == pytest.approx(np.exp(-1), abs=0.02)  # exponential


def test_poisson_rates_per_source_and_in_time(counter):
    n, steps = 4, 20_000
    rates = np.array([0.0, 0.01, 0.05, 0.1])
    counts = source_trains(counter, lifgen.Poisson(n, rates, seed=1), n, steps).sum(axis=0)
    expected = rates * 0.1 * steps
    assert np.all(np.abs(counts - expected) <= 4 * np.sqrt(expected)), (counts, expected)
    in_time = np.zeros((steps + 1, n))  # one row per step of the run (steps + 1)
    in_time[: steps // 2] = 0.1
    trains = source_trains(counter, lifgen.Poisson(n, in_time, seed=1), n, steps)
    assert trains[steps // 2:].sum() == 0 and trains[: steps // 2].sum() > 0


def test_bernoulli_matches_its_probability_and_is_reproducible(counter):
    n, steps, p = 50, 5000, 0.3
    first = source_trains(counter, lifgen.Bernoulli(n, p, seed=7), n, steps)
    assert first.mean() == pytest.approx(p, abs=0.01)
    again = source_trains(counter, lifgen.Bernoulli(n, p, seed=7), n, steps, progress=True)
    np.testing.assert_array_equal(first, again)  # chunked into 100 kernel calls: the same spikes
    other = source_trains(counter, lifgen.Bernoulli(n, p, seed=8), n, steps)
    assert not np.array_equal(first, other)


def test_spike_train_playback_is_exact(counter):
    n, steps = 5, 30
    times = np.array([7, 3, 3, 20, 29])
    sources = np.array([1, 0, 4, 1, 2])
    trains = source_trains(counter, lifgen.SpikeTrain(n, times, sources), n, steps)
    expected = np.zeros((steps, n))
    expected[times, sources] = 1
    np.testing.assert_array_equal(trains, expected)


def test_drive_weights_dense_and_sparse_with_delays(counter):
    train = lifgen.SpikeTrain(2, [0, 4], [0, 1])
    dense = np.array([[1.0, 0.0], [0.5, 2.0], [0.0, 3.0]])
    result = counter.run(8, 3, drives={"kick": (train, dense)}, record=["c"])
    np.testing.assert_array_equal(result.state["c"], [1.0, 2.5, 3.0])
    delayed = lifgen.Sparse.from_arrays([0, 1], [2, 2], [1.0, 10.0], delay=[3, 1], n_pre=2,
                                        n_post=3)
    trace = counter.run(8, 3, drives={"kick": (train, delayed)}, record=["c"]).traces["c"][:, 2]
    np.testing.assert_array_equal(trace, [0, 0, 0, 1, 1, 11, 11, 11])  # step 0 + 3, step 4 + 1


@pytest.mark.parametrize("drive, message", [
    ((lifgen.Poisson(3, 20.0), np.ones(3)), "rate\\*dt = 2 > 1"),
    ((lifgen.Poisson(3, -1.0), np.ones(3)), "finite and >= 0"),
    ((lifgen.Bernoulli(3, 1.5), np.ones(3)), "p must lie in"),
    ((lifgen.Bernoulli(2, 0.5), np.ones(3)), "W must be"),
    ((lifgen.SpikeTrain(3, [0, 1], [0, 3]), np.ones(3)), "indices must lie in 0..2"),
    ((lifgen.SpikeTrain(3, [0, -1], [0, 1]), np.ones(3)), "steps must be >= 0"),
    ((np.ones(3), np.ones(3)), "lifgen.Poisson, Bernoulli or SpikeTrain"),
])
def test_bad_drives_are_input_errors(counter, drive, message):
    with pytest.raises(InputError, match=message):
        counter.run(10, 3, drives={"kick": drive})


def test_poisson_needs_a_time_step():
    leaky_like = {**COUNTER, "equations": {"update": {"c": "c"}}, "simulation": {}}
    simulator = lifgen.compile(model_from_document(leaky_like, "map.toml"))
    with pytest.raises(InputError, match="Bernoulli"):
        simulator.run(10, 3, drives={"kick": (lifgen.Poisson(3, 0.1), np.ones(3))})
    counts = simulator.run(10, 3, drives={"kick": (lifgen.Bernoulli(3, 1.0), np.ones(3))})
    np.testing.assert_array_equal(counts.state["c"], [9.0, 9.0, 9.0])


def test_poisson_rates_may_carry_units():
    """'15 Hz' is 0.015 per ms in a model whose time is in ms: the same draws, the same spikes."""
    simulator = lifgen.compile("lif_cuba")
    runs = [simulator.run(2000, 20, record=[], drives={"exc": (lifgen.Poisson(50, rate, seed=3),
                                                              np.full((20, 50), 2.0))})
            for rate in ("15 Hz", 0.015)]
    np.testing.assert_array_equal(runs[0].spike_count, runs[1].spike_count)
    assert runs[0].spike_count.sum() > 0
    with pytest.raises(lifgen.InputError, match="is a time|should be"):
        simulator.run(10, 2, drives={"exc": (lifgen.Poisson(3, "15 mV"), np.ones((2, 3)))})
