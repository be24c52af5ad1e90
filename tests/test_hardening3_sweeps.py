"""Issue 23, the third hardening pass: sweeps and their files (item 5 and the self-describing
netCDF), synapse model files' limits (7) and run-time checks (11), .npy inputs (12) and sharded
runs with drives (16). Each test failed before its fix."""

import errno
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest

from conftest import as_in_a_terminal

import lifgen
from lifgen.errors import InputError, ModelError, NumericalWarning
from test_plasticity import NEURON, _pulses

GRID = ["--grid", "I=10:30:3", "--steps", "200", "--neurons", "2"]


def sweep_cli(*arguments):
    from lifgen.cli import main

    return main(["sweep", "lif_cuba", *arguments])


# --- item 5: a sweep's file is written whole, once, where it was asked -----------------------

def test_a_sweep_keeps_the_previous_file_until_the_new_one_is_complete(tmp_path, capsys,
                                                                      monkeypatch):
    xarray = pytest.importorskip("xarray")
    out = tmp_path / "fI.nc"
    assert sweep_cli(*GRID, "--out", str(out)) == 0
    before = xarray.load_dataset(out)
    def full_disk(self, path, *args, **kwargs):  # half a file written, then the disk is full
        Path(path).write_bytes(b"CDF\x01 half")
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(xarray.Dataset, "to_netcdf", full_disk)
    assert sweep_cli(*GRID, "--force", "--out", str(out)) == 2
    assert "No space left" in capsys.readouterr().err
    monkeypatch.undo()
    xarray.testing.assert_identical(xarray.load_dataset(out), before)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fI.nc"]  # no temporary left


def test_a_sweep_replaces_a_symlink_instead_of_writing_through_it(tmp_path):
    pytest.importorskip("xarray")
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    link = tmp_path / "out.nc"
    link.symlink_to(victim)
    assert sweep_cli(*GRID, "--out", str(link)) == 2  # it exists: --force is needed
    assert sweep_cli(*GRID, "--force", "--out", str(link)) == 0
    assert victim.read_text() == "keep me" and not link.is_symlink()


def test_a_dangling_symlink_is_not_followed(tmp_path):
    pytest.importorskip("xarray")
    link = tmp_path / "out.nc"
    link.symlink_to(tmp_path / "elsewhere.nc")
    assert sweep_cli(*GRID, "--out", str(link)) == 2
    assert not (tmp_path / "elsewhere.nc").exists()


def test_a_file_created_during_the_sweep_is_not_overwritten(tmp_path, monkeypatch, capsys):
    xarray = pytest.importorskip("xarray")
    from lifgen.tools import sweep as sweep_module

    out = tmp_path / "fI.nc"
    original = sweep_module.sweep

    def sweep_then_someone_writes(*args, **kwargs):
        data = original(*args, **kwargs)
        out.write_text("written meanwhile")
        return data

    monkeypatch.setattr(sweep_module, "sweep", sweep_then_someone_writes)
    assert sweep_cli(*GRID, "--out", str(out)) == 2
    assert out.read_text() == "written meanwhile"
    err = capsys.readouterr().err
    assert "appeared while lifgen worked and is kept" in err
    kept = [p for p in tmp_path.iterdir() if p != out]  # the sweep's work is not lost either
    assert len(kept) == 1 and str(kept[0]) in err
    assert xarray.load_dataset(kept[0]).sizes["I"] == 3


def test_a_store_folder_is_published_whole_too(tmp_path):
    """--out x.zarr is a folder: written beside, renamed; an existing one is kept without
    force and replaced (not merged) with it."""
    from lifgen.results.outputs import publish

    out = tmp_path / "x.zarr"
    publish(out, lambda name: (name / "a").write_text("first"), force=False, folder=True)
    assert (out / "a").read_text() == "first" and os.stat(out).st_mode & 0o755 == 0o755
    with pytest.raises(InputError, match="appeared while lifgen worked"):
        publish(out, lambda name: (name / "b").write_text("second"), force=False, folder=True)
    assert sorted(p.name for p in out.iterdir()) == ["a"]
    for kept in [p for p in tmp_path.iterdir() if p != out]:
        shutil.rmtree(kept)
    publish(out, lambda name: (name / "b").write_text("second"), force=True, folder=True)
    assert sorted(p.name for p in out.iterdir()) == ["b"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.zarr"]


def test_a_folder_where_a_file_goes_is_never_replaced(tmp_path):
    from lifgen.results.outputs import publish

    out = tmp_path / "x.nc"
    out.mkdir()
    (out / "keep").write_text("mine")
    with pytest.raises(InputError, match="is a folder, not a file lifgen wrote"):
        publish(out, lambda name: name.write_text("new"), force=True)
    assert (out / "keep").read_text() == "mine"


def test_a_missing_output_folder_is_found_before_any_work(tmp_path, capsys, monkeypatch):
    from lifgen.tools import sweep as sweep_module

    def no_work(*args, **kwargs):
        raise AssertionError("the sweep ran")

    monkeypatch.setattr(sweep_module, "sweep", no_work)
    assert sweep_cli(*GRID, "--out", str(tmp_path / "missing" / "fI.nc")) == 2
    assert "does not exist" in capsys.readouterr().err


def test_an_interrupted_sweep_is_not_written_and_the_cli_fails(tmp_path):
    """Ctrl-C during --progress used to write the partial counts as if complete, exit 0."""
    pytest.importorskip("xarray")
    out = tmp_path / "fI.nc"
    script = textwrap.dedent(f"""
        import os, signal, sys, threading
        import lifgen
        from lifgen.cli import main
        lifgen.compile("lif_cuba")  # warm: the interrupt falls in the run, not the compiler
        timer = threading.Timer(2.0, os.kill, (os.getpid(), signal.SIGINT))
        timer.start()
        sys.exit(main(["sweep", "lif_cuba", "--grid", "I=10:30:4", "--neurons", "2000",
                       "--steps", "100000000", "--progress", "--out", {str(out)!r}]))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=300, env=dict(os.environ), preexec_fn=as_in_a_terminal)
    assert done.returncode != 0, done.stderr[-2000:]
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_an_interrupted_sweep_raises_instead_of_returning_partial_counts():
    simulator = lifgen.compile("lif_cuba")
    previous = signal.signal(signal.SIGALRM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt))
    try:
        signal.setitimer(signal.ITIMER_REAL, 1.0)
        with pytest.raises(KeyboardInterrupt):
            lifgen.sweep(simulator, {"I": [10.0, 20.0]}, n_steps=10**8, n_neurons=1000,
                         progress=True)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


NAMED = ["neuron", "seed", "traced_neuron", "time", "rate", "spike_count", "event_step",
         "event", "event_neuron"]


@pytest.fixture(scope="module")
def named():
    """A model whose parameters bear the names a sweep's dataset uses."""
    from lifgen.frontend.modelfile import model_from_document

    return lifgen.compile(model_from_document({
        "model": {"name": "named"}, "parameters": {"tau": 10.0, **{n: 0.0 for n in NAMED}},
        "states": {"V": 0.0}, "inputs": {"I": {}},
        "equations": {"laws": ["tau*dV/dt = -V + I + " + " + ".join(NAMED)]},
        "spike": {"condition": "V > 1"}, "reset": {"mechanism": "zero"}}, None), dt=0.1)


@pytest.mark.parametrize("name", NAMED)
def test_grid_names_that_the_dataset_uses_are_refused_before_any_work(named, name, monkeypatch):
    """Such a name used to merge silently with the dimension (neuron, seed) or crash after the
    whole sweep (time, rate, event_step)."""
    def no_work(*args, **kwargs):
        raise AssertionError("the sweep ran")

    monkeypatch.setattr(named, "run", no_work)
    with pytest.raises(InputError, match=f"{name!r}.*the sweep's dataset"):
        lifgen.sweep(named, {"I": [1.0, 2.0], name: [0.0, 0.1]}, n_steps=5, seeds=[0, 1],
                     record=["V"], spikes="events")


def test_a_paired_axis_named_as_a_dataset_dimension_is_refused(named):
    with pytest.raises(InputError, match="'time'.*the sweep's dataset"):
        lifgen.sweep(named, {"time": lifgen.zip_grid(I=[1.0, 2.0], tau=[5.0, 6.0])}, n_steps=5,
                     record=["V"])


def test_an_axis_named_as_another_axis_quantity_is_refused(named):
    with pytest.raises(InputError, match="'tau' has the name of a quantity another axis sweeps"):
        lifgen.sweep(named, {"tau": lifgen.zip_grid(I=[1.0, 2.0]),
                             "x": lifgen.zip_grid(tau=[5.0, 6.0])}, n_steps=5)


def test_duplicate_seeds_are_refused():
    """seeds=[1, 1] used to leave one row zero and double the other."""
    with pytest.raises(InputError, match="seeds.*more than once"):
        lifgen.sweep("lif_cuba", {"I": [10.0, 20.0]}, n_steps=10, seeds=[1, 1])


def test_duplicate_seeds_of_a_network_sweep_are_refused():
    net = lifgen.Network()
    net.add("p", "lif_cuba", 3)
    with pytest.raises(InputError, match="seeds.*more than once"):
        lifgen.sweep(net, {"p.I": [10.0, 20.0]}, n_steps=10, seeds=[2, 3, 2])


def test_a_sweep_too_large_to_assemble_is_refused_before_any_work(monkeypatch):
    """Each task fitted, and the assembly died with a MemoryError after the whole sweep."""
    simulator = lifgen.compile("lif_cuba")

    def no_work(*args, **kwargs):
        raise AssertionError("the sweep ran")

    monkeypatch.setattr(simulator, "run", no_work)
    with pytest.raises(InputError, match="this sweep needs about"):
        lifgen.sweep(simulator, {"I": np.linspace(0, 40, 1000)}, n_steps=10**6, n_neurons=10,
                     record=["V", "g_e"], max_memory=2**30)


def test_a_network_sweep_too_large_to_assemble_is_refused():
    net = lifgen.Network()
    net.add("p", "lif_cuba", 3)
    with pytest.raises(InputError, match="this sweep needs about"):
        lifgen.sweep(net, {"p.I": np.linspace(0, 40, 1000)}, n_steps=10**6,
                     record={"p": ["V"]}, max_memory=2**30)


def test_every_parameter_set_of_a_packed_sweep_is_checked_for_stability():
    """Only 8 sets were checked: an unstable range past the eighth point never warned."""
    simulator = lifgen.compile("lif_cuba", method="euler", dt=1.0)
    tau_e = np.full(31, 5.0)
    tau_e[-1] = 0.3  # unstable, in the set that sorts last
    grid = lifgen.zip_grid(tau_m=np.linspace(20, 50, 31), tau_e=tau_e)
    with pytest.warns(NumericalWarning, match="unstable"):
        lifgen.sweep(simulator, grid, n_steps=5)


def test_every_distinct_parameter_set_of_a_run_is_checked_for_stability():
    simulator = lifgen.compile("lif_cuba", method="euler", dt=1.0)
    tau_m = np.full(10_000, 20.0)
    tau_m[:20] = np.linspace(21, 40, 20)
    tau_e = np.full(10_000, 5.0)
    tau_e[-1] = 0.3  # past the first 4096 neurons and the first 8 sets
    with pytest.warns(NumericalWarning, match="unstable"):
        simulator.run(5, tau_m.size, params={"tau_m": tau_m, "tau_e": tau_e}, spikes="count")
    with warnings.catch_warnings():
        warnings.simplefilter("error", NumericalWarning)
        simulator.run(5, 30, params={"tau_m": np.linspace(20, 40, 30)}, spikes="count")


# --- the newcomer: a sweep's file says how it was made ---------------------------------------

def test_a_sweeps_netcdf_records_how_it_was_made(tmp_path):
    xarray = pytest.importorskip("xarray")
    from lifgen.version import __version__

    out = tmp_path / "fI.nc"
    assert sweep_cli(*GRID, "--param", "tau_e=4", "--param", "V_t=-51 mV", "--method",
                     "exact", "--dt", "0.05", "--out", str(out)) == 0
    attrs = xarray.load_dataset(out).attrs
    model = lifgen.load_model("lif_cuba")
    assert attrs["model"] == "lif_cuba" and attrs["model_hash"] == model.content_hash()
    assert attrs["lifgen"] == __version__ and attrs["method"] == "exact"
    assert attrs["dt"] == 0.05 and attrs["time_unit"] == "ms" and attrs["dtype"] == "float64"
    assert attrs["n_neurons"] == 2 and attrs["grid"] == "I"
    # every parameter held fixed, the given ones and the model's defaults, with its unit
    assert attrs["param_tau_e"] == 4.0 and attrs["param_V_t"] == -51.0
    assert attrs["param_tau_m"] == 20.0 and "param_I" not in attrs
    assert "tau_e = 4 ms" in attrs["fixed_parameters"] and "V_t = -51 mV" in \
        attrs["fixed_parameters"]
    assert "tau_m = 20 ms (default)" in attrs["fixed_parameters"]


def test_a_sweep_records_its_fixed_inputs_and_per_neuron_parameters():
    pytest.importorskip("xarray")
    data = lifgen.sweep("lif_cuba", {"tau_m": [10.0, 20.0]}, n_steps=10, n_neurons=3,
                        inputs={"I": lifgen.Step(amplitude=20.0, start=2)},
                        params={"tau_e": np.array([1.0, 2.0, 3.0])})
    assert "I = Step" in data.attrs["fixed_inputs"] and "tau_m" not in data.attrs["fixed_parameters"]
    assert list(data.attrs["param_tau_e"]) == [1.0, 2.0, 3.0]


def test_a_network_sweep_records_its_methods_and_fixed_parameters():
    pytest.importorskip("xarray")
    net = lifgen.Network()
    net.add("p", "lif_cuba", 3)
    data = lifgen.sweep(net, {"p.I": [10.0, 20.0]}, n_steps=10, params={"p": {"tau_e": 4.0}})
    assert data.attrs["methods"] == ["p: exact"]
    assert "p.tau_e = 4 ms" in data.attrs["fixed_parameters"]
    assert "p.tau_m = 20 ms (default)" in data.attrs["fixed_parameters"]


# --- item 7: synapse model files and Model.from_sympy have the neuron files' limits ----------

def _synapse_document(states, laws, on_pre):
    return {"synapse": {"name": "big"}, "parameters": {"tau": {"value": 10.0, "unit": "ms"}},
            "states": {"w": {"initial": 1.0, "unit": "target"}, **states},
            "equations": {"laws": laws}, "events": {"on_pre": on_pre}}


def test_a_synapse_file_of_800_traces_is_refused(tmp_path):
    """It took 86 s to read."""
    from lifgen.frontend.synapse_model import read_synapse_file

    lines = ["[synapse]", 'name = "big"', "[parameters]", 'tau = { value = 10.0, unit = "ms" }',
             "[states]", 'w = { initial = 1.0, unit = "target" }']
    lines += [f'x{i} = {{ initial = 0.0, side = "pre" }}' for i in range(800)]
    lines += ["[equations]", "laws = [" + ", ".join(f'"dx{i}/dt = -x{i}/tau"'
                                                   for i in range(800)) + "]",
              "[events]", 'on_pre = ["target += w"]']
    path = tmp_path / "big.toml"
    path.write_text("\n".join(lines))
    with pytest.raises(ModelError, match=r"states.*at most 32"):
        read_synapse_file(path)


def test_a_synapse_chain_of_24_coupled_states_is_refused():
    """A 1 KB file that took 70 s to compile: its exact solution is a 25x25 matrix exponential
    at every synapse event."""
    from lifgen.frontend.synapse_model import synapse_from_document

    states = {f"x{i}": 0.0 for i in range(24)}
    laws = ["dx0/dt = -x0/tau"] + [f"dx{i}/dt = (x{i - 1} - x{i})/tau" for i in range(1, 24)]
    with pytest.raises(ModelError, match="coupled"):
        synapse_from_document(_synapse_document(states, laws, ["x0 += 1", "target += w*x23"]),
                              "chain.toml")


def test_a_synapse_file_of_too_many_statements_is_refused():
    from lifgen.frontend.synapse_model import synapse_from_document

    with pytest.raises(ModelError, match="statements"):
        synapse_from_document(_synapse_document({}, [], ["target += w"] * 300), "many.toml")
    document = _synapse_document({}, [], ["target += w"])
    document["synapse"]["constraints"] = ["tau > 0"] * 3000
    with pytest.raises(ModelError, match="constraints"):
        synapse_from_document(document, "many.toml")


def test_the_shipped_synapse_models_are_within_the_limits():
    for name in lifgen.list_synapse_models():
        assert lifgen.load_synapse_model(name).name == name


def test_model_from_sympy_applies_the_model_files_limits():
    import sympy

    V, I = sympy.symbols("V I")
    with pytest.raises(ModelError, match="polynomial degree"):
        lifgen.Model.from_sympy("deep", laws=[sympy.Eq(sympy.Derivative(
            sympy.Function("V")(sympy.Symbol("t")), sympy.Symbol("t")),
            (V + I) ** 60 * (V - I) ** 60)], states={"V": 0.0}, inputs=["I"])
    with pytest.raises(ModelError, match="parts"):
        lifgen.Model.from_sympy("wide", update={"V": sum(sympy.Symbol(f"p{i}") * V
                                                         for i in range(400))},
                                states={"V": 0.0},
                                parameters={f"p{i}": 0.0 for i in range(400)})
    with pytest.raises(ModelError, match="at most 32 states"):
        lifgen.Model.from_sympy("many", update={f"x{i}": sympy.Symbol(f"x{i}") for i in range(33)},
                                states={f"x{i}": 0.0 for i in range(33)})


# --- item 11: synapse parameters checked at run time; infinite traces warned of -------------

@pytest.fixture(scope="module")
def pulsed():
    return lifgen.compile(NEURON)


@pytest.mark.parametrize("model, params, message", [
    ("stdp", {"tau_pre": -20.0}, "tau_pre"),
    ("stdp", {"tau_post": 0.0}, "tau_post"),
    ("stdp", {"w_max": -1.0}, "w_max >= 0"),
    ("stdp_multiplicative", {"w_max": -1.0}, "w_max >= 0"),
    ("stdp_triplet", {"tau_y": -5.0}, "tau_y"),
    ("tsodyks_markram", {"tau_rec": -800.0}, "tau_rec"),
    ("tsodyks_markram", {"U": 1.5}, "U <= 1"),
])
def test_synapse_parameters_are_checked_at_run_time(pulsed, model, params, message):
    sparse = lifgen.Sparse.from_arrays([0, 0], [1, 1], [0.5, 0.5], n_pre=2, n_post=2)
    defaults = {"w_max": 1.0} if "stdp" in model else {}
    values = {k: np.array([1.0, 1.0]) * v for k, v in params.items()}  # per synapse too
    synapses = lifgen.Synapses(sparse, model, params={**defaults, **values})
    with pytest.raises(InputError, match=message):
        pulsed.run(50, 2, connections={"exc": synapses})


def test_an_infinite_trace_hidden_by_clip_is_warned_of(pulsed):
    n_steps = 300
    sparse = lifgen.Sparse.from_arrays([0], [1], [0.5], n_pre=2, n_post=2)
    synapses = lifgen.Synapses(sparse, "stdp", params={"w_max": 1e10, "A_plus": 1e300})
    with pytest.warns(NumericalWarning, match="A_pre"):
        result = pulsed.run(n_steps, 2, inputs={"I": _pulses(n_steps, [[10], [50]])},
                            connections={"exc": synapses})
    assert np.isfinite(result.synapses["exc"]["w"]).all()  # the weight, clipped, looks fine


# --- item 12: .npy inputs are read, not mapped, and only from regular files ------------------

def test_npy_values_are_read_not_mapped(tmp_path):
    from lifgen.cli import _assignment
    from lifgen.runtime.waveforms import parse_input_spec

    path = tmp_path / "values.npy"
    np.save(path, np.arange(6.0))
    _, param = _assignment(f"tau_m={path}", "--param", arrays=True)
    _, drive = parse_input_spec(f"I={path}")
    np.save(path, np.arange(6.0) + 100)  # rewritten in place, mid-run
    for value in (param, drive):
        assert not isinstance(value, np.memmap)
        assert value.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]


@pytest.mark.parametrize("option", ["--param", "--input"])
def test_a_fifo_named_npy_is_refused_at_once(tmp_path, option):
    fifo = tmp_path / "x.npy"
    os.mkfifo(fifo)
    spec = f"tau_m={fifo}" if option == "--param" else f"I={fifo}"
    done = subprocess.run([sys.executable, "-m", "lifgen", "simulate", "lif_cuba", "--steps", "5",
                           option, spec], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ))
    assert done.returncode == 2, done.stderr
    assert "x.npy" in done.stderr and "not a regular file" in done.stderr


def test_a_fifo_given_to_nir_run_is_refused_at_once(tmp_path):
    from lifgen.runtime.waveforms import read_npy

    fifo = tmp_path / "in.npy"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="in.npy.*not a regular file"):
        read_npy(fifo, "--input")


# --- item 16: sharded runs with drives ----------------------------------------------------------

def _drives(kind, n):
    if kind == "poisson":
        return {"exc": (lifgen.Poisson(n, rate=np.linspace(0.05, 0.4, n), seed=7), np.full(n, 3.0))}
    if kind == "bernoulli":
        rng = np.random.default_rng(1)
        return {"exc": (lifgen.Bernoulli(5, p=0.2, seed=3), rng.uniform(0, 4, (n, 5)))}
    rng = np.random.default_rng(2)
    train = lifgen.SpikeTrain(n, steps=rng.integers(0, 300, 400), indices=rng.integers(0, n, 400))
    sparse = lifgen.Sparse.from_arrays(np.arange(n), (np.arange(n) * 7) % n, 2.5, delay=3)
    return {"exc": (train, sparse)}


@pytest.mark.parametrize("kind", ["poisson", "bernoulli", "spike_train"])
def test_a_sharded_run_with_drives_equals_one_run(kind):
    """Refused before: 'coupled networks are not sharded' for a drive that couples nothing."""
    simulator = lifgen.compile("lif_cuba")
    n = 23
    arguments = dict(drives=_drives(kind, n), record=["V", "g_e"], seed=5,
                     initial={"V": np.linspace(-60, -50, n)})
    whole = simulator.run(300, n, **arguments)
    assert whole.spike_count.sum() > 0
    for shards in (1, 2, 3):
        part = simulator.run(300, n, shards=shards, **arguments)
        np.testing.assert_array_equal(part.spikes, whole.spikes)
        np.testing.assert_array_equal(part.traces["g_e"], whole.traces["g_e"])
        np.testing.assert_array_equal(part.traces["V"], whole.traces["V"])
        for name in whole.state:
            np.testing.assert_array_equal(part.state[name], whole.state[name])


def test_connections_are_still_not_sharded():
    simulator = lifgen.compile("lif_cuba")
    with pytest.raises(InputError, match="coupled networks are not sharded"):
        simulator.run(10, 4, connections={"exc": np.ones((4, 4))}, shards=2,
                      drives=_drives("poisson", 4))
