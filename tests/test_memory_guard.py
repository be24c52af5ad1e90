"""`max_memory` counts every allocation of a run, and nothing proportional to the neurons or
the steps is made before the check (issue 23.10, issue 24.1): a run too large for memory is a
lifgen InputError naming what takes the room, never a raw MemoryError; and the estimate is
close to what a run really allocates (tracemalloc's peak)."""

import warnings
import tracemalloc

import numpy as np
import pytest

import lifgen
from lifgen.errors import InputError
from lifgen.runtime import memory
from lifgen.tools import brette2007

HUGE = 5 * 10**10


@pytest.fixture(scope="module")
def cuba():
    return lifgen.compile("lif_cuba", dt=0.1)


def _network(source, n=20):
    net = lifgen.Network(dt="0.1 ms")
    net.add_source("src", source)
    net.add("E", "lif_cuba", n)
    net.connect("src", "E", "exc", lifgen.Sparse.random(n, source.n, 0.5, 2.0, delay=3, seed=1))
    return net.compile()


def _huge_network():
    net = lifgen.Network(dt="0.1 ms")
    net.add("E", "lif_cuba", HUGE)
    return net.compile()


@pytest.mark.parametrize("run", [
    lambda leaky, cuba: leaky.run(20, n_neurons=HUGE, record=("V",)),
    lambda leaky, cuba: leaky.run(20, n_neurons=HUGE, record=("V",), spikes="events"),
    lambda leaky, cuba: leaky.run(20, n_neurons=HUGE, spikes="count"),
    lambda leaky, cuba: leaky.run(10**12, 10, record=["V"], spikes="count"),
    lambda leaky, cuba: cuba.run(20, HUGE, spikes="count", record=("V",), connections={
        "exc": lifgen.Sparse.from_arrays([0], [1], [1.0], n_pre=HUGE, n_post=HUGE)}),
    lambda leaky, cuba: cuba.run(10**11, 2, spikes="count", record=[], drives={
        "exc": (lifgen.SpikeTrain(2, [0], [1]), np.ones(2))}),
    lambda leaky, cuba: cuba.run(10**11, 2, spikes="count", record=["V"], connections={
        "exc": lifgen.Sparse.from_arrays([0], [1], [1.0], n_pre=2, n_post=2)}),
    lambda leaky, cuba: _network(lifgen.SpikeTrain(5, [0], [1])).run(10**11),
    lambda leaky, cuba: _huge_network().run(10),
    lambda leaky, cuba: _network(lifgen.Poisson(5, "10 Hz")).run(10**11, record={"E": ["V"]}),
], ids=["N, traces, raster", "N, traces", "N", "T, traces", "N, coupled", "T, a train's drive", "T, coupled",
        "T, a network's train", "N, a network", "T, a network's traces"])
def test_huge_runs_are_refused_before_anything_is_allocated(cuba, run):
    with pytest.raises(InputError, match="GiB allowed|raster of .* is too large"):
        run(lifgen.compile("leaky"), cuba)


SPARSE = lifgen.Sparse.random(200, 200, 0.5, 1.0, seed=2)


@pytest.mark.parametrize("arguments, part", [
    (dict(connections={"exc": np.ones((200, 200))}), "connections"),
    (dict(connections={"exc": SPARSE}), "connections"),
    (dict(connections={"exc": lifgen.Sparse.from_arrays([0], [1], [1.0], [3000], n_pre=200,
                                                        n_post=200)}), "delay rings"),
    (dict(connections={"exc": lifgen.Synapses(SPARSE, "stdp", params={"w_max": 2.0})}),
     "plastic synapses"),
    (dict(connections={"exc": lifgen.Synapses(SPARSE, "stdp", params={"w_max": 2.0})},
          record_synapses={"exc": np.arange(2000)}), "synapse traces"),
    (dict(drives={"exc": (lifgen.Poisson(200, np.full((100, 200), 0.01)), np.ones(200))}),
     "drives"),
], ids=["dense", "sparse", "rings", "plastic", "synapse traces", "drive's table"])
def test_every_part_of_a_run_is_counted(cuba, arguments, part):
    """Each of these runs is small but for one part, which alone passes the limit."""
    limit = 500_000
    with pytest.raises(InputError, match=part):
        cuba.run(100, 200, record=[], spikes="count", max_memory=limit, **arguments)


def test_a_raster_from_events_is_refused_beyond_the_limit(cuba):
    result = lifgen.compile("leaky").run(1000, 300, inputs={"I": 0.6}, spikes="events",
                                         record=[])
    with pytest.raises(InputError, match="raster of 1000 steps x 300 neurons"):
        result.raster(max_memory=100_000)
    assert result.raster().sum() == result.spike_count.sum()


def _estimate_and_peak(monkeypatch, run):
    """(the run's memory estimate, the first check's, and tracemalloc's peak during the run)."""
    checked, check = [], memory.check

    def spy(parts, max_memory, *more):
        checked.append(sum(parts.values()))
        return check(parts, max_memory, *more)
    monkeypatch.setattr("lifgen.runtime.simulate.memory.check", spy)
    monkeypatch.setattr("lifgen.runtime.network_run.memory.check", spy)
    tracemalloc.start()
    try:
        run()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return checked[0], peak


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_the_estimate_is_what_a_cuba_run_allocates(monkeypatch, dtype):
    """Brette's CUBA with traces and a raster: as one population with connections, and as a
    network of two populations (its projections laid out by a first run)."""
    simulator = lifgen.compile("lif_cuba", dt=0.1, dtype=dtype)
    synapses = brette2007.connections(brette2007.NETWORKS["cuba"], seed=1)
    estimate, peak = _estimate_and_peak(monkeypatch, lambda: simulator.run(
        1000, brette2007.N, connections=synapses, record=["V", "g_e"], spikes="raster",
        initial={"V": np.linspace(-60.0, -50.0, brette2007.N)}))
    assert 0.8 < peak / estimate < 1.25, (peak, estimate)
    network = brette2007.network("cuba").compile(dtype=dtype)
    network.run(1)
    estimate, peak = _estimate_and_peak(monkeypatch, lambda: network.run(
        1000, record={"E": ["V", "g_e"], "I": ["V"]}, spikes="raster"))
    assert 0.8 < peak / estimate < 1.25, (peak, estimate)


def test_a_streamed_input_is_a_read_only_view_in_every_kind_of_run():
    """Result.inputs holds the (T, N) input the kernel read, not a copy (issue 24.4): in a
    coupled run and in a network too. It cannot be written through the Result; a change the
    caller makes to their own array afterwards shows in it (the README says so)."""
    current = np.random.default_rng(3).uniform(0.0, 1.5, (50, 8)).astype(np.float32)
    coupled = lifgen.compile("rleaky", dtype="float32").run(
        50, 8, inputs={"I": current}, connections={"rec": np.full((8, 8), 0.1)})
    net = lifgen.Network()
    net.add("L", "leaky", 8)
    network = net.compile(dtype="float32").run(50, inputs={"L": {"I": current}})
    for result in (coupled, network["L"]):
        seen = result.inputs["I"]
        assert np.shares_memory(seen, current) and seen.shape == (50, 8)
        with pytest.raises(ValueError, match="read-only"):
            seen[0, 0] = 1.0
    current[3, 4] = 7.0
    assert coupled.inputs["I"][3, 4] == 7.0 and network["L"].inputs["I"][3, 4] == 7.0


def test_a_networks_spike_events_stop_at_the_memory_limit_and_say_so():
    net = lifgen.Network()
    net.add("L", "leaky", 100)
    simulator = net.compile()
    run = dict(inputs={"L": {"I": 0.6}}, spikes="events")
    whole = simulator.run(1000, **run)["L"]
    with pytest.warns(lifgen.NumericalWarning, match="kept the first"):
        capped = simulator.run(1000, max_memory=2_400_000, **run)["L"]
    assert capped.truncated and not whole.truncated
    assert 0 < capped.spike_events[0].size < whole.spike_events[0].size == whole.spike_count.sum()
    np.testing.assert_array_equal(capped.spike_count, whole.spike_count)
    kept = capped.spike_events[0].size
    for mine, theirs in zip(capped.spike_events, whole.spike_events):
        np.testing.assert_array_equal(mine, theirs[:kept])


def test_spike_events_of_neurons_firing_several_spikes_a_step_are_not_called_truncated():
    """A population whose spikes are counts (Sinabs's MultiSpike) gives one event per
    neuron-step that spiked, fewer than its spike count: every one kept is no truncation (it
    warned "kept the first 266 of 393" with no limit); under a limit, the warning counts events."""
    import warnings

    from lifgen.interop.nir_models import model_path
    net = lifgen.Network(dt="1 ms")
    net.add_source("x", lifgen.Bernoulli(60, 0.3))
    net.add("a", model_path("sinabs_iaf_multi"), 40, params={"threshold": 0.3})
    net.connect("x", "a", "I", np.random.default_rng(2).uniform(0.0, 0.2, (40, 60)), delay=1)
    simulator = net.compile()
    raster = simulator.run(300, spikes="raster", seed=4)["a"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        whole = simulator.run(300, spikes="events", seed=4)["a"]
    assert not whole.truncated
    assert whole.spike_events[0].size == raster.spikes.sum() < whole.spike_count.sum()
    with pytest.warns(lifgen.NumericalWarning,
                      match=rf"kept the first \d+ of {raster.spikes.sum()} spike events"):
        capped = simulator.run(300, spikes="events", seed=4, max_memory=650_000)["a"]
    assert capped.truncated and 0 < capped.spike_events[0].size < raster.spikes.sum()


def test_a_sharded_run_whose_blocks_dropped_events_says_so(monkeypatch):
    """A sharded run's blocks run as runs of their own, each under the memory it finds where it
    runs (a Dask worker may have less than the client): events a block dropped are reported
    for the whole run too, though fewer were kept than the whole run's limit allows."""
    simulator = lifgen.compile("leaky")
    run = dict(inputs={"I": 2.0}, spikes="events", record=[], shards=2, max_memory=10 * 2**30)
    monkeypatch.setattr("lifgen.runtime.memory.available_bytes", lambda: 45_000_000)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = simulator.run(20000, 100, **run)
    whole = [w for w in caught if f"of {2_000_000} spike events" in str(w.message)]
    assert result.truncated and len(whole) == 1
    assert 0 < result.spike_events[0].size < result.spike_count.sum() == 2_000_000
