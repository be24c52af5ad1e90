"""Beyond one process: simulators pickle (rebuilt once per process from the cache), Model objects
hit the generated-source cache by content, sweeps and sharded runs give the serial numbers."""

import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import lifgen
from lifgen.frontend.modelfile import model_from_document

OU = {"model": {"name": "ou"}, "parameters": {"tau": 10.0, "sigma": 0.5, "theta": 0.3},
      "states": {"V": 0.0}, "equations": {"laws": ["dV/dt = -V/tau + sigma*xi"]},
      "spike": {"condition": "V > theta"}, "reset": {"mechanism": "subtract"},
      "simulation": {"dt": 0.1}}


def in_a_fresh_process(code, *arguments):
    """Run `code` in a new Python process (the same kernel cache; outside the checkout, so that
    it imports the lifgen these tests import); its standard output."""
    answer = subprocess.run([sys.executable, "-c", code, *map(str, arguments)],
                            capture_output=True, text=True, timeout=600, cwd=arguments[0])
    assert answer.returncode == 0, answer.stderr
    return answer.stdout


def test_a_pickled_simulator_runs_in_a_fresh_process_with_identical_results(tmp_path):
    simulator = lifgen.compile(model_from_document(OU, "ou.toml"), dtype="float32")
    (tmp_path / "sim.pickle").write_bytes(pickle.dumps(simulator))
    expected = simulator.run(300, 20, record=["V"], seed=7).traces["V"]
    np.save(tmp_path / "expected.npy", expected)
    code = ("import pickle, sys, numpy as np; folder = sys.argv[1]; "
            "sim = pickle.load(open(folder + '/sim.pickle', 'rb')); "
            "again = pickle.loads(pickle.dumps(sim)); "
            "V = sim.run(300, 20, record=['V'], seed=7).traces['V']; "
            "print(np.array_equal(V, np.load(folder + '/expected.npy')), again is sim, "
            "sim.from_cache)")
    assert in_a_fresh_process(code, tmp_path).split() == ["True", "True", "True"]


def test_a_model_object_hits_the_source_cache_in_a_fresh_process(tmp_path):
    model = model_from_document(OU, "ou.toml")
    lifgen.compile(model)
    (tmp_path / "model.pickle").write_bytes(pickle.dumps(model))
    code = ("import pickle, sys, lifgen, lifgen.codegen.compiler as s; "
            "s._generate = lambda *a: (_ for _ in ()).throw(AssertionError('SymPy ran')); "
            "model = pickle.load(open(sys.argv[1] + '/model.pickle', 'rb')); "
            "print(lifgen.compile(model).method)")
    assert in_a_fresh_process(code, tmp_path).strip() == "euler"


def test_the_source_cache_key_does_not_depend_on_where_lifgen_is_installed(tmp_path):
    import os
    import shutil

    from lifgen.codegen import build
    from lifgen.frontend.library import resource_dir

    copy = tmp_path / "elsewhere" / "lifgen"
    shutil.copytree(Path(lifgen.__file__).resolve().parent, copy,
                    ignore=shutil.ignore_patterns("__pycache__"))
    if not (copy / "templates").exists():  # a checkout keeps them beside the package
        shutil.copytree(resource_dir("templates"), copy / "templates")
    code = "import lifgen.codegen.build as b; print(b.__file__, b._code_fingerprint())"
    there = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           cwd=copy.parent, timeout=120,
                           env={**os.environ, "PYTHONPATH": str(copy.parent)})
    where, fingerprint = there.stdout.split()
    assert where.startswith(str(copy)) and fingerprint == build._code_fingerprint(), there.stderr


def test_the_content_hash_ignores_where_a_model_was_read_from():
    first = model_from_document(OU, "here/ou.toml")
    second = model_from_document(OU, "elsewhere/ou.toml")
    changed = model_from_document({**OU, "parameters": {**OU["parameters"], "tau": 11.0}}, "ou.toml")
    assert first.content_hash() == second.content_hash() != changed.content_hash()


@pytest.fixture(scope="module")
def ou():
    return lifgen.compile(model_from_document(OU, "ou.toml"))


def test_a_sweep_is_a_loop_over_run_packed_into_one_population(ou):
    taus, sigmas = [5.0, 10.0, 20.0], [0.2, 0.5]
    data = lifgen.sweep(ou, {"tau": taus, "sigma": sigmas}, n_steps=400, n_neurons=6,
                        seeds=[3, 4], record={"V": [0, 5]})
    assert data.spike_count.dims == ("tau", "sigma", "seed", "neuron")
    assert data.V.dims == ("tau", "sigma", "seed", "traced_neuron", "time")
    assert data.attrs["model_hash"] == ou.model.content_hash() and data.attrs["seeds"] == [3, 4]
    assert data.rate.attrs["units"] == "1/time unit" and data.time.size == 400
    for p, (tau, sigma) in enumerate([(t, s) for t in taus for s in sigmas]):
        for seed in (3, 4):
            alone = ou.run(400, 6, params={"tau": tau, "sigma": sigma}, seed=seed,
                           first_neuron=6 * p, record={"V": [0, 5]}, spikes="count")
            point = data.sel(tau=tau, sigma=sigma, seed=seed)
            np.testing.assert_array_equal(point.spike_count.values, alone.spike_count)
            np.testing.assert_array_equal(point.V.values, alone.traces["V"].T)


def test_paired_values_events_and_units():
    data = lifgen.sweep("lif_cuba", lifgen.zip_grid(I=[10.0, 20.0, 30.0], tau_m=[10.0, 15.0, 20.0]),
                        n_steps=2000, spikes="events")
    assert data.spike_count.dims == ("point", "neuron") and list(data.I.values) == [10, 20, 30]
    assert data.rate.attrs["units"] == "Hz" and data.I.attrs["units"] == "mV"
    counts = np.bincount(data.event_point.values, minlength=3)
    np.testing.assert_array_equal(counts, data.spike_count.values[:, 0])
    # 2000 steps of 0.1 ms are 0.2 s
    np.testing.assert_allclose(data.rate.values, data.spike_count.values / 0.2)


def test_a_sweep_on_a_process_pool_gives_the_serial_numbers(ou):
    from concurrent.futures import ProcessPoolExecutor

    grid = {"tau": np.linspace(5, 20, 5), "sigma": [0.3, 0.6]}
    serial = lifgen.sweep(ou, grid, n_steps=300, n_neurons=4, record=["V"])
    with ProcessPoolExecutor(2) as pool:
        spread = lifgen.sweep(ou, grid, n_steps=300, n_neurons=4, record=["V"], executor=pool,
                              pack=3)
    assert spread.identical(serial)


@pytest.mark.parametrize("grid, message", [
    ({"nope": [1.0]}, "'nope' is not a parameter or input of ou"),
    ({"dt": [0.1, 0.2]}, "dt is a compile-time option"),
    ({"tau": []}, "non-empty 1-D"),
    ({"tau": [[1.0, 2.0]]}, "non-empty 1-D"),
    ({"tau": [1.0, np.nan]}, "NaN"),
    ({}, "name at least one"),
    ({"p": lifgen.zip_grid(tau=[1.0], sigma=[0.1]), "tau": [2.0]}, "more than once"),
])
def test_bad_grids_are_refused_before_any_work(ou, grid, message):
    with pytest.raises(lifgen.InputError, match=message):
        lifgen.sweep(ou, grid, n_steps=10)


def test_paired_values_must_have_one_length():
    with pytest.raises(lifgen.InputError, match="one length"):
        lifgen.zip_grid(tau=[1.0, 2.0], sigma=[0.1])


def test_bad_sweep_arguments_are_input_errors(ou):
    with pytest.raises(lifgen.InputError, match="spikes='count' or 'events'"):
        lifgen.sweep(ou, {"tau": [1.0]}, n_steps=10, spikes="raster")
    with pytest.raises(lifgen.InputError, match="params gives"):
        lifgen.sweep(ou, {"tau": [1.0]}, n_steps=10, params={"tau": 2.0})
    with pytest.raises(lifgen.InputError, match="pack must be"):
        lifgen.sweep(ou, {"tau": [1.0]}, n_steps=10, pack=0)
    with pytest.raises(lifgen.InputError, match="executor must be"):
        lifgen.sweep(ou, {"tau": [1.0]}, n_steps=10, executor="threads")


@pytest.mark.parametrize("shards", [1, 2, 3])
def test_a_sharded_run_is_bit_identical_to_one_run(ou, shards):
    rng = np.random.default_rng(2)
    arguments = dict(record={"V": [0, 17, 49]}, seed=3, params={"tau": rng.uniform(5, 15, 50)},
                     initial={"V": rng.uniform(0, 0.2, (2, 50))})
    for spikes in ("raster", "events"):
        whole = ou.run(300, 50, spikes=spikes, **arguments)
        part = ou.run(300, 50, spikes=spikes, shards=shards, **arguments)
        np.testing.assert_array_equal(part.traces["V"], whole.traces["V"])
        np.testing.assert_array_equal(part.state["V"], whole.state["V"])
        np.testing.assert_array_equal(part.spike_count, whole.spike_count)
        if spikes == "raster":
            np.testing.assert_array_equal(part.spikes, whole.spikes)
        else:
            for mine, theirs in zip(part.spike_events, whole.spike_events):
                np.testing.assert_array_equal(mine, theirs)


def test_sharded_streamed_and_batched_inputs_on_a_process_pool():
    from concurrent.futures import ProcessPoolExecutor

    simulator = lifgen.compile("synaptic", dtype="float32")
    current = np.random.default_rng(5).uniform(0, 0.4, (200, 2, 31)).astype(np.float32)
    whole = simulator.run(200, 31, inputs={"I": current}, record=["V"])
    with ProcessPoolExecutor(2) as pool:
        part = simulator.run(200, 31, inputs={"I": current}, record=["V"], executor=pool,
                             shards=3)
    np.testing.assert_array_equal(part.spikes, whole.spikes)
    np.testing.assert_array_equal(part.traces["V"], whole.traces["V"])


def test_an_unconnected_recurrent_model_shards_as_an_uncoupled_one():
    """rleaky without connections: its recurrent input is its bias alone, so its neurons are
    independent and shards give the whole run's numbers."""
    simulator = lifgen.compile("rleaky")
    current = np.linspace(0.2, 0.6, 9)
    arguments = dict(inputs={"I": current}, params={"b_rec": 0.05}, record=["V"])
    whole = simulator.run(120, 9, **arguments)
    part = simulator.run(120, 9, shards=3, **arguments)
    assert whole.spike_count.sum() > 0
    np.testing.assert_array_equal(part.spikes, whole.spikes)
    np.testing.assert_array_equal(part.traces["V"], whole.traces["V"])


def test_coupled_networks_are_not_sharded():
    simulator = lifgen.compile("rleaky")
    with pytest.raises(lifgen.InputError, match="coupled networks are not sharded"):
        simulator.run(10, 4, connections={"rec": np.ones((4, 4))}, shards=2)


def test_the_cli_writes_a_sweep_that_xarray_reads_back(tmp_path, capsys):
    xarray = pytest.importorskip("xarray")
    from lifgen.cli import main

    out = tmp_path / "fI.nc"
    assert main(["sweep", "lif_cuba", "--grid", "I=10:30:5", "--grid", "tau_m=10,20",
                 "--steps", "2000", "--neurons", "2", "--seeds", "1,2", "--record", "V",
                 "--out", str(out)]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    data = xarray.load_dataset(out)
    assert data.spike_count.dims == ("I", "tau_m", "seed", "neuron")
    assert list(data.I.values) == [10, 15, 20, 25, 30] and data.rate.attrs["units"] == "Hz"
    expected = lifgen.sweep("lif_cuba", {"I": np.linspace(10, 30, 5), "tau_m": [10.0, 20.0]},
                            n_steps=2000, n_neurons=2, seeds=[1, 2], record=["V"])
    np.testing.assert_array_equal(data.spike_count.values, expected.spike_count.values)
    assert main(["sweep", "lif_cuba", "--grid", "I=1,2", "--steps", "10", "--out", str(out)]) == 2
    assert "exists; pass --force" in capsys.readouterr().err
    timed = tmp_path / "timed.nc"
    assert main(["sweep", "lif_cuba", "--grid", "I=10:30:5", "--grid", "tau_m=10,20",
                 "--duration", "200 ms", "--neurons", "2", "--seeds", "1,2", "--record", "V",
                 "--out", str(timed)]) == 0
    np.testing.assert_array_equal(xarray.load_dataset(timed).spike_count.values,
                                  data.spike_count.values)  # 200 ms are 2000 steps of 0.1 ms


@pytest.mark.parametrize("arguments, message", [
    (["--grid", "I=1:2"], "NAME=START:STOP:NUM"),
    (["--grid", "I=a,b"], "not a comma-separated list"),
    (["--grid", "dt=0.1,0.2"], "compile-time option"),
    ([], "at least one --grid"),
    (["--grid", "I=1,2", "--duration", "1 ms"], "--steps N or --duration TIME"),
    (["--grid", "I=1,2", "--workers", "0"], "at least 1"),
])
def test_the_cli_sweep_explains_bad_grids(tmp_path, capsys, arguments, message):
    from lifgen.cli import main

    assert main(["sweep", "lif_cuba", "--steps", "10", "--out", str(tmp_path / "x.nc"),
                 *arguments]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_a_result_becomes_a_dataset(tmp_path):
    xarray = pytest.importorskip("xarray")
    result = lifgen.compile("lif_cuba", dt=0.1).run(100, 4, inputs={"I": np.full((100, 2, 4), 20.0)},
                                                    record={"V": [1, 3]})
    result.to_xarray().to_netcdf(tmp_path / "run.nc")
    data = xarray.load_dataset(tmp_path / "run.nc")
    assert data.V_trace.dims == ("time", "batch_0", "traced_neuron")
    assert data.V_trace.attrs["units"] == "mV" and list(data.traced_neuron.values) == [1, 3]
    np.testing.assert_array_equal(data.V_trace.values, result.traces["V"])
    np.testing.assert_array_equal(data.spikes.values, result.spikes)
    np.testing.assert_array_equal(data.spike_count.values, result.spike_count)
