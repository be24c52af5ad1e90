"""Sweeps of networks (lifgen.sweep of a Network or NetworkSimulator): every grid point and seed
is one run of the whole network, equal bit for bit to a loop of net.compile().run over networks
built with those values, in this process, on a process pool and on Dask worker processes; a
compiled network pickles as its description and is built again from a warm cache without the
C compiler; one network run is never sharded."""

import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import lifgen

xarray = pytest.importorskip("xarray", reason="sweeps return an xarray.Dataset")
N_EXC, N_INH, N_NOISE, STEPS = 16, 4, 20, 800
GRID = {"exc.tau_m": [10.0, 20.0], "inh.V_t": [-50.0, -55.0]}


def cuba(tau_m=20.0, V_t=-50.0, rate=0.2, I=0.0):
    """A small CUBA-like network: Poisson noise -> E <-> I, dense projections, delays 1-2."""
    rng = np.random.default_rng(0)
    net = lifgen.Network(dt="0.1 ms")
    net.add_source("noise", lifgen.Poisson(N_NOISE, rate, seed=3))
    net.add("exc", "lif_cuba", N_EXC, params={"tau_m": tau_m, "E_L": -60.0},
            initial={"V": rng.uniform(-60, -50, N_EXC)})
    net.add("inh", "lif_cuba", N_INH, params={"V_t": V_t, "E_L": -60.0})
    net.connect("noise", "exc", "exc", rng.uniform(0, 2, (N_EXC, N_NOISE)))
    net.connect("exc", "inh", "exc", rng.uniform(0, 3, (N_INH, N_EXC)), delay=2)
    net.connect("inh", "exc", "inh", -rng.uniform(0, 3, (N_EXC, N_INH)), delay=1)
    net.connect("exc", "exc", "exc", rng.uniform(0, 0.5, (N_EXC, N_EXC)), delay=1)
    return net


@pytest.fixture(scope="module")
def serial():
    return lifgen.sweep(cuba(), GRID, n_steps=STEPS, seeds=[1, 2], record={"exc": ["V"]})


def test_a_network_sweep_is_a_loop_of_network_runs_bit_for_bit(serial):
    data = serial
    assert data.exc_rate.dims == ("exc.tau_m", "inh.V_t", "seed", "exc_neuron")
    assert data.inh_spike_count.dims == ("exc.tau_m", "inh.V_t", "seed", "inh_neuron")
    assert data.noise_rate.dims == ("exc.tau_m", "inh.V_t", "seed", "noise_neuron")
    assert data.exc_V.dims == ("exc.tau_m", "inh.V_t", "seed", "time")
    assert data.exc_rate.attrs["units"] == "Hz" and data["exc.tau_m"].attrs["units"] == "ms"
    assert data.exc_V.attrs["units"] == "mV" and data.attrs["seeds"] == [1, 2]
    assert data.attrs["time_unit"] == "ms" and data.attrs["n_steps"] == STEPS
    assert data.attrs["models"] == ["exc: lif_cuba", "inh: lif_cuba"]
    for tau_m in GRID["exc.tau_m"]:
        for V_t in GRID["inh.V_t"]:
            simulator = cuba(tau_m=tau_m, V_t=V_t).compile()
            for seed in (1, 2):
                alone = simulator.run(STEPS, record={"exc": ["V"]}, seed=seed)
                point = data.sel({"exc.tau_m": tau_m, "inh.V_t": V_t, "seed": seed})
                for name in ("noise", "exc", "inh"):
                    counts = point[f"{name}_spike_count"].values
                    assert np.array_equal(counts, alone[name].spike_count), (name, tau_m, V_t)
                    # STEPS steps of 0.1 ms
                    np.testing.assert_array_equal(point[f"{name}_rate"].values,
                                                  counts / (STEPS * 1e-4))
                assert np.array_equal(point.exc_V.values,
                                      alone["exc"].traces["V"].mean(axis=-1))
    rates = data.exc_rate.mean(["exc_neuron", "seed"])
    assert len(np.unique(rates.values)) == 4  # every grid point changes the run


def test_a_source_rate_and_an_input_sweep_as_loops_and_events_as_runs_report_them():
    net = cuba()
    grid = lifgen.zip_grid(**{"noise.rate": [0.1, 0.3], "exc.I": [0.0, 2.0]})
    data = lifgen.sweep(net.compile(), grid, n_steps=STEPS, spikes="events",
                        params={"inh": {"V_t": -52.0}})
    assert data.exc_spike_count.dims == ("point", "exc_neuron")
    assert data["noise.rate"].attrs["units"] == "1/ms" and data["exc.I"].attrs["units"] == "mV"
    for p, (rate, current) in enumerate([(0.1, 0.0), (0.3, 2.0)]):
        alone = cuba(rate=rate, V_t=-52.0).compile().run(STEPS, inputs={"exc": {"I": current}},
                                                           spikes="events")
        for name in ("noise", "exc", "inh"):
            assert np.array_equal(data[f"{name}_spike_count"].values[p],
                                  alone[name].spike_count), name
        steps, neurons = alone["exc"].spike_events
        mine = data.exc_event_point.values == p
        assert np.array_equal(data.exc_event_step.values[mine], steps)
        assert np.array_equal(data.exc_event_neuron.values[mine], neurons)
    assert data.noise_spike_count.values[1].sum() > 2 * data.noise_spike_count.values[0].sum()


def test_a_network_sweep_on_a_process_pool_is_the_serial_one(serial):
    spread = lifgen.sweep(cuba(), GRID, n_steps=STEPS, seeds=[1, 2], record={"exc": ["V"]},
                          executor="processes", pack=3)
    assert spread.identical(serial)


def test_a_network_sweep_on_two_dask_worker_processes_is_the_serial_one(serial):
    distributed = pytest.importorskip("dask.distributed", reason="needs dask[distributed]")

    def networks_built_here():  # (a closure: Dask sends it by value)
        from lifgen.runtime import network_run

        simulators = list(network_run._REBUILT.values())
        return len(simulators), all(s.from_cache for s in simulators)

    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None)
    with distributed.Client(cluster) as client:
        spread = lifgen.sweep(cuba(), GRID, n_steps=STEPS, seeds=[1, 2], record={"exc": ["V"]},
                              executor=client, pack=1)
        # each worker built the network once and loaded its program from the warm cache
        built = client.run(networks_built_here)
    cluster.close()
    assert spread.identical(serial)
    assert sorted(count for count, _ in built.values()) == [1, 1]
    assert all(cached for _, cached in built.values())


def in_a_fresh_process(code, folder, environment):
    answer = subprocess.run([sys.executable, "-c", code, str(folder)], capture_output=True,
                            text=True, timeout=300, cwd=folder, env=environment)
    assert answer.returncode == 0, answer.stderr
    return answer.stdout.split()


def test_a_network_its_simulator_and_result_pickle_into_fresh_processes(tmp_path):
    """A compiled network travels as its description: a new process with a cold cache compiles
    it (from_cache False), a second one loads it from the cache (True), and both run the same
    numbers; unpickling it twice in one process gives one simulator."""
    net = cuba(tau_m=15.0)
    simulator = net.compile()
    result = simulator.run(STEPS, record={"exc": ["V"]}, params={"noise": {"rate": 0.25}})
    (tmp_path / "all.pickle").write_bytes(pickle.dumps((net, simulator, result)))
    root = str(Path(lifgen.__file__).resolve().parent.parent)
    environment = dict(os.environ, LIFGEN_CACHE_DIR=str(tmp_path / "cache"), PYTHONPATH=root)
    code = ("import pickle, sys, numpy as np; folder = sys.argv[1]; "
            "net, sim, expected = pickle.load(open(folder + '/all.pickle', 'rb')); "
            "again = pickle.loads(pickle.dumps(sim)); "
            "r = sim.run(800, record={'exc': ['V']}, params={'noise': {'rate': 0.25}}); "
            "same = all(np.array_equal(r[p].spike_count, expected[p].spike_count) "
            "for p in ('noise', 'exc', 'inh')); "
            "same &= np.array_equal(r['exc'].traces['V'], expected['exc'].traces['V']); "
            "other = net.compile().run(800, record={'exc': ['V']}, params={'noise': {'rate': "
            "0.25}}); "
            "same &= np.array_equal(other['exc'].traces['V'], expected['exc'].traces['V']); "
            "print(same, again is sim, sim.from_cache, expected.rates == r.rates)")
    assert in_a_fresh_process(code, tmp_path, environment) == ["True", "True", "False", "True"]
    assert in_a_fresh_process(code, tmp_path, environment) == ["True", "True", "True", "True"]


@pytest.mark.parametrize("grid, message", [
    ({"nope.tau_m": [1.0]}, "no population 'nope'; the network has noise, exc, inh"),
    ({"exc.nope": [1.0]}, r"'nope' is not a parameter or input of lif_cuba .*tau_m, tau_e"),
    ({"tau_m": [1.0]}, "'population.parameter'.*with populations noise, exc, inh"),
    ({"noise.seed": [1.0]}, "has 'rate' to sweep"),
    ({"exc.method": [1.0]}, "compile-time option"),
    ({"dt": [0.1]}, "compile-time option"),
    ({}, "name at least one"),
    ({"exc.tau_m": [1.0, np.nan]}, "NaN"),
])
def test_bad_network_grids_are_refused_before_any_work(grid, message):
    with pytest.raises(lifgen.InputError, match=message):
        lifgen.sweep(cuba(), grid, n_steps=10)


@pytest.mark.parametrize("arguments, message", [
    (dict(n_neurons=4), "n_neurons is the network's own"),
    (dict(connections={"exc": np.ones((2, 2))}), "connections is the network's own"),
    (dict(spikes="raster"), "spikes='count' or 'events'"),
    (dict(params={"exc": {"tau_m": 3.0}}), r"params gives \['exc.tau_m'\]"),
    (dict(record=["V"]), "record maps population names"),
    (dict(inputs={"nope": {"I": 1.0}}), "unknown population"),
    (dict(params={"exc": {"nope": 1.0}}), r"\['nope'\] are not parameters of lif_cuba"),
    (dict(pack=0), "pack must be"),
])
def test_bad_network_sweep_arguments_are_input_errors(arguments, message):
    with pytest.raises(lifgen.InputError, match=message):
        lifgen.sweep(cuba(), {"exc.tau_m": [10.0]}, n_steps=10, **arguments)


def test_one_network_run_is_not_sharded_and_says_why():
    simulator = cuba().compile()
    for arguments in (dict(shards=2), dict(executor="dask")):
        with pytest.raises(lifgen.InputError, match="exchange spikes every min-delay "
                                                    r"\(every step here"):
            simulator.run(10, **arguments)
    with pytest.raises(lifgen.InputError, match=r"takes \{'rate': value\}"):
        simulator.run(10, params={"noise": {"p": 0.1}})


def test_seeds_draw_a_noisy_population_s_white_noise_as_its_runs_do():
    from lifgen.frontend.modelfile import model_from_document

    ou = model_from_document({
        "model": {"name": "ou"}, "parameters": {"tau": 10.0, "sigma": 0.5, "theta": 0.3},
        "states": {"V": 0.0}, "equations": {"laws": ["dV/dt = -V/tau + sigma*xi"]},
        "spike": {"condition": "V > theta"}, "reset": {"mechanism": "subtract"},
        "synapses": {"exc": {"target": "V"}}, "simulation": {"dt": 0.1}}, "ou.toml")
    net = lifgen.Network()
    net.add("ou", ou, 8)
    net.add("out", ou, 2, params={"sigma": 0.0})
    net.connect("ou", "out", "exc", np.full((2, 8), 0.3))
    data = lifgen.sweep(net, {"ou.sigma": [0.3, 0.6]}, n_steps=400, seeds=[5, 6],
                        record={"ou": {"V": [0, 7]}})
    simulator = net.compile()
    for sigma in (0.3, 0.6):
        for seed in (5, 6):
            alone = simulator.run(400, params={"ou": {"sigma": sigma}}, seed=seed,
                                  record={"ou": {"V": [0, 7]}})
            point = data.sel({"ou.sigma": sigma, "seed": seed})
            assert np.array_equal(point.ou_spike_count.values, alone["ou"].spike_count)
            assert np.array_equal(point.out_spike_count.values, alone["out"].spike_count)
            assert np.array_equal(point.ou_V.values, alone["ou"].traces["V"].mean(axis=-1))
    assert data.attrs["time_unit"] == "" and data.ou_rate.attrs["units"] == "1/time unit"
    assert not np.array_equal(data.ou_V.sel(seed=5).values, data.ou_V.sel(seed=6).values)
    assert data.out_spike_count.sum() > 0  # the noisy population drives the other
