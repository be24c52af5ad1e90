"""Issue 23, more instances of its classes, found by a second outside red team: kernels shared by
networks that differ (item 4), bad input that ended in a raw exception or was ignored (item
13), numbers C cannot print (item 1's generated code), NIR graphs and their command line."""

import dataclasses
import math
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import lifgen
from lifgen.errors import InputError, ModelError

nir = pytest.importorskip("nir", reason="the NIR tests need nir: pip install 'lifgen[nir]'")
ROOT = Path(__file__).resolve().parent.parent


def plastic_network(factor: str, synapse_file: Path):
    """A network whose plastic synapse model's A_pre decays at a rate scaled by `factor`."""
    text = (ROOT / "models" / "synapses" / "stdp.toml").read_text()
    ode = '"dA_pre/dt = -A_pre/tau_pre"'
    synapse_file.write_text(text.replace(ode, f'"dA_pre/dt = -A_pre/tau_pre*{factor}"'))
    net = lifgen.Network(dt="0.1 ms")
    source = net.add_source("src", lifgen.Poisson(50, "200 Hz", seed=1))
    post = net.add("post", "lif_cuba", 20, params={"E_L": -45.0})
    weights = lifgen.Sparse.random(n_pre=50, n_post=20, p=0.5, weight=2.0, seed=3)
    net.connect(source, post, "exc", lifgen.Synapses(weights,
                                                      lifgen.load_synapse_model(synapse_file)))
    return net.compile()


def test_networks_whose_synapse_models_differ_in_the_17th_digit_are_two_programs(tmp_path):
    """SymPy's repr rounds Floats to 15 digits: the two networks had one key, and the second
    unpickled as the first (a sweep's workers ran the first's numbers)."""
    a = plastic_network("1.0000000000000004", tmp_path / "syn.toml")
    b = plastic_network("1.0000000000000002", tmp_path / "syn.toml")
    assert a.content_key() != b.content_key()
    key = ("src", "post", "exc")
    own = b.run(500).synapses[key]["w"]
    assert not np.array_equal(a.run(500).synapses[key]["w"], own)
    a_again, b_again = pickle.loads(pickle.dumps(a)), pickle.loads(pickle.dumps(b))
    assert a_again is not b_again
    assert np.array_equal(b_again.run(500).synapses[key]["w"], own)


INVERSE = """
[model]
name = "inverse"
[parameters]
a = { value = 1.0 }
[states]
V = { initial = 0.0 }
[equations]
update = { V = "1/a" }
[spike]
condition = "V > 0"
[reset]
mechanism = "zero"
timing = "next_step"
zero = { V = "0" }
"""


def test_a_parameter_changed_from_0_to_minus_0_is_laid_out_again(tmp_path):
    """1/a tells -0.0 from 0.0; the kept layout compared with ==, which does not."""
    (tmp_path / "inverse.toml").write_text(INVERSE)

    def network(a):
        net = lifgen.Network()
        return net, net.add("p", str(tmp_path / "inverse.toml"), 2, params={"a": a})

    net, population = network(np.array([0.0, 0.0]))
    simulator = net.compile()
    assert simulator.run(3, allow_nan=True)["p"].spike_count.tolist() == [2, 2]
    population.params["a"] = np.array([0.0, -0.0])
    assert simulator.run(3, allow_nan=True)["p"].spike_count.tolist() == [2, 0]
    fresh, _ = network(np.array([0.0, -0.0]))
    assert fresh.compile().run(3, allow_nan=True)["p"].spike_count.tolist() == [2, 0]


def test_a_projection_s_weights_cannot_change_under_its_compiled_network():
    """A compiled network lays weights out once: a change in place was used by some runs
    (float64 one-to-one) and silently ignored by others (dense, float32)."""
    given = np.full((3, 3), 0.5)
    net = lifgen.Network(dt="0.1 ms")
    source = net.add_source("src", np.ones((20, 3), bool))
    post = net.add("post", "lif_cuba", 3)
    projection = net.connect(source, post, "exc", given)
    with pytest.raises(ValueError, match="read-only"):
        projection.weights *= 4
    with pytest.raises(dataclasses.FrozenInstanceError):
        projection.weights = given * 4
    given *= 4  # the caller's own array stays theirs (the projection keeps a copy)
    assert projection.weights.max() == 0.5


def big_constant_model(tmp_path):
    text = (ROOT / "models" / "lif_cuba.toml").read_text()
    path = tmp_path / "big.toml"
    path.write_text(text.replace("V_t = { value = -50.0", "V_t = { value = 1e39"))
    return path


def test_float32_refuses_a_number_beyond_its_range_naming_file_and_field(tmp_path):
    """It was printed as the C token `infF`: gcc's 'undeclared' error, or an emitted library
    that did not build."""
    path = big_constant_model(tmp_path)
    with pytest.raises(ModelError, match=r"big\.toml: \[parameters\] V_t: the number 1e\+39 "
                                         r"lies beyond float32's range"):
        lifgen.compile(path, dtype="float32")
    with pytest.raises(ModelError, match="V_t"):
        lifgen.emit(path, tmp_path / "out", dtype="float32")
    assert not (tmp_path / "out").exists()
    assert lifgen.compile(path).run(5).n_steps == 5  # float64 holds it


def test_float32_refuses_a_big_number_inside_an_equation(tmp_path):
    text = (ROOT / "models" / "leaky.toml").read_text()
    old = 'update = { V = "clip(beta, 0, 1)*V + I" }'
    assert old in text
    path = tmp_path / "cap.toml"
    path.write_text(text.replace(old, 'update = { V = "min(clip(beta, 0, 1)*V + I, 1e39)" }'))
    with pytest.raises(ModelError, match=r"cap\.toml: update: the number 1e\+39"):
        lifgen.compile(path, dtype="float32")


def test_the_c_printer_refuses_a_float32_number_it_cannot_write():
    from lifgen.ir.written import CPrinter, Num

    printer = CPrinter({}, "float32")
    assert printer(Num(3.0e38)) == f"{float(np.float32(3.0e38))!r}F"
    with pytest.raises(ModelError, match="beyond float32's range"):
        printer(Num(1e39))


def lif_graph(weight=None, keys=("input", "fc", "lif", "output"), tau=None, bias=None,
              n=3, edges=None):
    i, fc, lif, out = keys
    tau = np.full(n, 1e-3) if tau is None else tau
    nodes = {i: nir.Input(input_type={"input": np.array([n])}),
             fc: nir.Affine(weight=2 * np.eye(n) if weight is None else weight,
                            bias=np.zeros(n) if bias is None else bias),
             lif: nir.LIF(tau=tau, r=np.ones(n), v_leak=np.zeros(n), v_threshold=np.ones(n),
                          v_reset=np.zeros(n)),
             out: nir.Output(output_type={"output": np.array([n])})}
    return nir.NIRGraph(nodes=nodes, edges=edges or [(i, fc), (fc, lif), (lif, out)],
                        type_check=False)


@pytest.mark.parametrize("graph, message", [
    (lambda: lif_graph(weight=np.array([[1, "a", 0]] * 3, dtype=object)),
     "node 'fc': its weight must hold real numbers"),
    (lambda: lif_graph(weight=np.eye(3) * 1j), "node 'fc': its weight must hold real numbers"),
    (lambda: lif_graph(weight=np.eye(3) * np.nan), "node 'fc': its weight holds NaN"),
    (lambda: lif_graph(bias=np.zeros(5)), "node 'fc': its bias has 5 values for 3 outputs"),
    (lambda: lif_graph(tau=np.array([1e-3, np.nan, 1e-3])), "node 'lif': its tau holds NaN"),
    (lambda: lif_graph(edges=[("input", "fc"), ("fc", "lif"), ("lif", "output"),
                              ("lif", "prototype")]),
     "edge 'lif' -> 'prototype': the graph has no node 'prototype'"),
])
def test_a_bad_nir_graph_is_an_input_error_naming_the_node(graph, message):
    """Raw ValueError/KeyError before, or complex weights cut to their real part."""
    with pytest.raises(InputError, match=message):
        lifgen.from_nir(graph())


def test_node_keys_that_are_not_names_lifgen_accepts_are_renamed():
    """Keys such as 'int' or 't' failed the whole graph ('population name: reserved')."""
    graph = lif_graph(keys=("input", "int", "t", "out"))
    network = lifgen.from_nir(graph)
    assert network.nir.populations["t"] == "n_t"
    x = np.ones((10, 1, 3))
    result = lifgen.run_nir(network, {"input": x})
    expected = lifgen.run_nir(lifgen.from_nir(lif_graph()), {"input": x})
    assert np.array_equal(result.outputs["out"], expected.outputs["output"])


@pytest.mark.parametrize("arguments, message", [
    ({"dt": [1e-4]}, "dt must be a positive time"), ({"dt": "1 mV"}, "dt must be a positive"),
    ({"dt": math.inf}, "dt must be a positive"), ({"batch": "x"}, "batch must be a whole"),
    ({"batch": -1}, "batch must be a whole"), ({"batch": True}, "batch must be a whole")])
def test_from_nir_s_arguments_are_checked(arguments, message):
    with pytest.raises(InputError, match=message):
        lifgen.from_nir(lif_graph(), **arguments)


def test_from_nir_takes_dt_as_a_time():
    x = np.ones((10, 1, 3))
    by_text = lifgen.run_nir(lifgen.from_nir(lif_graph(), dt="0.2 ms"), {"input": x})
    by_number = lifgen.run_nir(lifgen.from_nir(lif_graph(), dt=2e-4), {"input": x})
    assert np.array_equal(by_text.outputs["output"], by_number.outputs["output"])


@pytest.mark.parametrize("inputs, record, message", [
    (np.zeros((0, 1, 3)), None, "at least one step and one sample"),
    (np.zeros((5, 0, 3)), None, "at least one step and one sample"),
    (np.zeros((5, 1, 3)), ["v"], "record maps populations to lists of their states"),
    (np.zeros((5, 1, 3)), {"lif": "v"}, "record maps populations to lists of their states")])
def test_run_nir_s_arguments_are_checked(inputs, record, message):
    with pytest.raises(InputError, match=message):
        lifgen.run_nir(lifgen.from_nir(lif_graph()), {"input": inputs}, record=record)


def test_to_nir_writes_whole_or_says_why(tmp_path):
    network = lifgen.from_nir(lif_graph())
    with pytest.raises(InputError, match="is a folder"):
        lifgen.to_nir(network, tmp_path)
    with pytest.raises(InputError, match="cannot write"):
        lifgen.to_nir(network, tmp_path / "missing" / "x.nir")
    lifgen.to_nir(network, tmp_path / "x.nir")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.nir"]  # no temporary left
    assert set(nir.read(str(tmp_path / "x.nir")).nodes) == set(lif_graph().nodes)


def cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "lifgen", *args], capture_output=True,
                          text=True, cwd=cwd)


def test_simulate_refuses_the_options_a_nir_graph_does_not_take(tmp_path):
    """--steps, --plot, --param and the rest were silently ignored; --dt '0.1 ms' was an
    internal error; a folder given as --input was named 'Is a directory: 3'; --no-progress
    (what a graph's run does anyway) was refused as '--progress'."""
    nir.write(str(tmp_path / "g.nir"), lif_graph())
    np.save(tmp_path / "x.npy", np.ones((20, 1, 3)))
    (tmp_path / "folder.npy").mkdir()
    ignored = cli("simulate", "g.nir", "--input", "x.npy", "--steps", "7", "--plot", "p.png",
                  "--param", "tau=5", cwd=tmp_path)
    assert ignored.returncode == 2 and "Traceback" not in ignored.stderr
    assert "--steps, --param, --plot: not for a NIR graph" in ignored.stderr
    assert not (tmp_path / "p.png").exists()
    folder = cli("simulate", "g.nir", "--input", "folder.npy", cwd=tmp_path)
    assert folder.returncode == 2 and "folder.npy is not a regular file" in folder.stderr
    timed = cli("simulate", "g.nir", "--input", "x.npy", "--dt", "0.1 ms", "--spikes", "count",
                cwd=tmp_path)
    assert timed.returncode == 0, timed.stderr
    assert "output output: shape (20, 1, 3)" in timed.stdout
    quiet = cli("simulate", "g.nir", "--input", "x.npy", "--no-progress", cwd=tmp_path)
    assert quiet.returncode == 0, quiet.stderr  # (a graph's run shows no progress bar anyway)
    bar = cli("simulate", "g.nir", "--input", "x.npy", "--progress", cwd=tmp_path)
    assert bar.returncode == 2 and "--progress: not for a NIR graph" in bar.stderr
    assert "--save and --force" in bar.stderr
    model_file = cli("simulate", "lapicque", "--convention", "sinabs", cwd=tmp_path)
    assert model_file.returncode == 2 and "--convention is for NIR graphs" in model_file.stderr


def test_a_network_run_takes_n_steps_or_a_duration_not_both():
    """run(5, duration='1 ms') ran 10 steps, dropping n_steps without a word."""
    net = lifgen.Network(dt="0.1 ms")
    net.add("a", "lif_cuba", 3)
    with pytest.raises(InputError, match="not both"):
        net.compile().run(5, duration="1 ms")


@pytest.mark.parametrize("waveform, message", [
    (lifgen.PulseTrain(1.0, 0, 1, 4, count=1.5), "count = 1.5: the number of pulses"),
    (lifgen.PulseTrain(1.0, 0, 1, 4, count=-1), "count = -1: the number of pulses"),
    (lifgen.PulseTrain(1.0, 0, 1, 4, count=True), "count = True: the number of pulses"),
    (lifgen.PulseTrain(1.0, 0, 1, 0), "period = 0: a pulse train repeats"),
    (lifgen.PulseTrain(1.0, 0, 1, -3), "period = -3: a pulse train repeats"),
    (lifgen.PulseTrain(1.0, 0, -1, 3), "width = -1: a pulse lasts at least one step"),
    (lifgen.Pulse(1.0, 5, 2), "the pulse stops .step 2. before it starts .step 5."),
    (lifgen.Constant(np.ones(1)), "amplitude = array.*one finite number"),
    (lifgen.Step([1.0, 2.0], 0), "amplitude = .1.0, 2.0.: one finite number"),
    (lifgen.Constant(float("nan")), "amplitude = nan: one finite number")])
def test_every_field_of_a_waveform_is_checked(waveform, message):
    """Only the times were: a count was floored, a period <= 0 became 1 (always on), a
    negative width gave nothing, an array amplitude was a raw TypeError."""
    with pytest.raises(InputError, match=message):
        lifgen.compile("lapicque").run(12, inputs={"I": waveform})


def test_a_pulse_train_of_whole_counts_runs_as_before():
    run = lifgen.compile("lapicque").run(12, inputs={"I": lifgen.PulseTrain(1.0, 1, 2, 4,
                                                                          count=2)})
    assert run.inputs["I"].reshape(-1).tolist() == [0, 1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0]


@pytest.mark.parametrize("make, message", [
    (lambda: lifgen.Sparse.from_arrays([0], [0], 1.0, n_pre=2.7, n_post=1), "n_pre must be a "
     "whole number"),
    (lambda: lifgen.Sparse.from_arrays([0], [0], 1.0, n_pre=True, n_post=1), "n_pre must be"),
    (lambda: lifgen.Sparse.from_arrays([0], [0], 1.0, n_pre=math.nan, n_post=1), "n_pre must"),
    (lambda: lifgen.Sparse.from_arrays([], [], 1.0, n_pre=-3, n_post=-3), "n_pre must be"),
    (lambda: lifgen.Sparse.from_arrays([0], [0], [1 + 2j], n_pre=1, n_post=1),
     "weight must be real numbers"),
    (lambda: lifgen.Sparse.random(n_pre=3, n_post=3, p=.5, weight=1.0, seed=-1),
     "seed must be a whole number >= 0"),
    (lambda: lifgen.Sparse.random(n_pre=3, n_post=3, p=.5, weight=1.0, seed=1.5),
     "seed must be a whole number >= 0"),
    (lambda: lifgen.Convolution(np.ones((1, 1, 3, 3)), (1, 5)), "in_shape is 3 whole numbers"),
    (lambda: lifgen.Convolution(np.ones((1, 1, 3, 3)), "abc"), "in_shape is 3 whole numbers"),
    (lambda: lifgen.Convolution(np.ones((1, 1, 3, 3)), (1, 5, 5, 5)), "in_shape is 3 whole"),
    (lambda: lifgen.Convolution(np.ones((1, 1, 3, 3)), (1, 5, 5), stride=(1.5, 1.5)),
     "stride is 2 whole numbers >= 1"),
    (lambda: lifgen.Convolution(np.ones((1, 1, 3, 3)), (1, 5, 5), padding=(0.5, 0)),
     "padding is 2 whole numbers >= 0"),
    (lambda: lifgen.Convolution(np.ones((1, 1, 3, 3)) * 1j, (1, 5, 5)), "real numbers")])
def test_connectivity_constructors_check_their_arguments(make, message):
    """Sizes were floored (2.7 -> 2, True -> 1), complex weights cut to their real part, and
    the rest raw ValueErrors and TypeErrors."""
    with pytest.raises(InputError, match=message):
        make()


def test_a_convolution_takes_one_number_for_both_axes_as_pytorch_does():
    one = lifgen.Convolution(np.ones((2, 1, 3, 3)), (1, 9, 9), stride=2, padding=1)
    two = lifgen.Convolution(np.ones((2, 1, 3, 3)), (1, 9, 9), stride=(2, 2), padding=(1, 1))
    assert one.out_shape == two.out_shape == (2, 5, 5) and one.stride == (2, 2)


def test_a_sparse_projection_with_an_array_as_delay_is_refused_with_why():
    net = lifgen.Network()
    net.add("a", "lif_cuba", 3)
    net.add("b", "lif_cuba", 3)
    with pytest.raises(InputError, match="keeps its own per-synapse delays"):
        net.connect("a", "b", "exc", lifgen.Sparse.from_arrays([0], [0], 1.0, n_pre=3, n_post=3),
                    delay=np.array([1, 2]))


def test_seeds_beyond_64_bits_are_refused_not_wrapped():
    """seed=2**64 drew exactly what seed=0 draws."""
    net = lifgen.Network(dt="0.1 ms")
    net.add("a", "lif_cuba", 3)
    net.add_source("s", lifgen.Poisson(50, "500 Hz", seed=2**64))
    net.connect("s", "a", "exc", np.ones((3, 50)))
    with pytest.raises(InputError, match=r"seed must be an integer in 0\.\.18446744073709551615"):
        net.compile().run(5)
    with pytest.raises(InputError, match="seed must be an integer in 0"):
        lifgen.compile("leaky").run(5, seed=2**64)
    assert lifgen.compile("leaky").run(5, seed=2**64 - 1).n_steps == 5


def test_max_memory_may_be_a_numpy_integer():
    net = lifgen.Network(dt="0.1 ms")
    net.add("a", "lif_cuba", 3)
    assert net.compile().run(5, max_memory=np.int64(10**9))["a"].spike_count.shape == (3,)


HUGE = 10**12  # values: terabytes, refused before anything is allocated


def huge(shape, value=0.0, dtype=float):
    """An array of `shape` that takes no memory (every element is one)."""
    return np.broadcast_to(np.full((1,) * len(shape), value, dtype), shape)


def test_initial_states_with_batch_rows_are_counted_before_they_are_laid_out():
    """A run without inputs counted one batch row and asked no limit; the rows of its initial
    states were then converted: a raw MemoryError."""
    net = lifgen.Network()
    net.add("a", "lif_cuba", 3)
    with pytest.raises(InputError, match="GiB"):
        net.compile().run(5, initial={"a": {"V": huge((HUGE, 3))}})


@pytest.mark.parametrize("make", [
    lambda: lifgen.run_nir(lifgen.from_nir(lif_graph()), {"input": huge((HUGE, 1, 3), 0, bool)}),
    lambda: lifgen.run_nir(lifgen.from_nir(lif_graph()), {"input": huge((HUGE, 1, 3), 0.5)}),
    lambda: lifgen.Network().add_source("s", huge((HUGE, 3), 0, bool)),
    lambda: lifgen.Values(huge((HUGE, 1, 3), 0.5)),
    lambda: lifgen.from_nir(nir.NIRGraph(
        nodes={"input": nir.Input(input_type={"input": np.array([HUGE])})}, edges=[],
        type_check=False)),
    lambda: lifgen.Sparse.from_arrays([0], [0], 1.0, n_pre=10**5, n_post=10**7).to_dense()])
def test_arrays_lifgen_copies_are_counted_before_the_copy(make):
    """Each was a raw MemoryError: the copy (or a placeholder) came before any check."""
    with pytest.raises(InputError, match="GiB"):
        make()


def test_connect_counts_the_weights_it_lays_out():
    net = lifgen.Network()
    net.add("a", "lif_cuba", HUGE)
    net.add("b", "lif_cuba", HUGE)
    with pytest.raises(InputError, match="GiB"):
        net.connect("a", "b", "exc", ("one_to_one", 1.0))


def test_sparse_random_counts_its_draws(monkeypatch):
    from lifgen.runtime import memory

    monkeypatch.setattr(memory, "available_bytes", lambda: 2**30)  # a 1 GiB machine
    with pytest.raises(InputError, match="GiB"):
        lifgen.Sparse.random(n_pre=2, n_post=2**31 - 1, p=1e-9, weight=1.0)


def test_a_convolution_s_map_is_counted_before_it_is_built():
    conv = nir.Conv2d(input_shape=(10**5, 10**5), weight=np.ones((1, 1, 3, 3)), stride=1,
                      padding=0, dilation=1, groups=1, bias=np.zeros(1))
    lif = nir.LIF(tau=np.full(4, 1e-3), r=np.ones(4), v_leak=np.zeros(4),
                  v_threshold=np.ones(4), v_reset=np.zeros(4))
    graph = nir.NIRGraph(nodes={"input": nir.Input(input_type={"input": np.array([1, 4, 4])}),
                                "c": conv, "lif": lif}, edges=[("input", "c"), ("c", "lif")],
                         type_check=False)
    with pytest.raises(InputError, match="node 'c': a Conv2d's map of .* GiB"):
        lifgen.from_nir(graph)


def drive_case():
    n_pre, n = 8, 6
    pre, post = np.repeat(np.arange(n_pre), n), np.tile(np.arange(n), n_pre)
    weights = lifgen.Sparse.from_arrays(pre, post, np.full(pre.size, 300.0),
                                        np.full(pre.size, 5), n_pre=n_pre, n_post=n)
    return n, {"exc": (lifgen.Poisson(n_pre, "800 Hz", seed=3), weights)}


@pytest.mark.parametrize("first, then", [(2, None), (3, 2), (None, 3), (1, 2)])
def test_a_sharded_run_with_delayed_drives_continues_as_one_run(first, then):
    """A sharded run's carry held none of the drives' spikes in flight (a delay of 5 steps):
    continuing it differed from one run, silently."""
    simulator = lifgen.compile("iaf_psc_exp")
    n, drives = drive_case()
    whole = simulator.run(80, n, drives=drives, record=["I_ex"])
    a = simulator.run(40, n, drives=drives, record=["I_ex"], shards=first)
    assert a.state.pending.buffers  # the rings, whichever way it ran
    b = simulator.run(40, n, drives=drives, initial=a.state, record=["I_ex"], shards=then)
    assert np.array_equal(np.asarray(whole.traces["I_ex"])[40:], np.asarray(b.traces["I_ex"]))
    assert np.array_equal(whole.spike_count, a.spike_count + b.spike_count)


def test_a_sharded_carry_of_batch_rows_continues_as_one_run():
    simulator = lifgen.compile("iaf_psc_exp")
    n, drives = drive_case()
    current = np.random.default_rng(0).uniform(0, 300, (80, 3, n))  # (T, batch rows, n)
    whole = simulator.run(80, n, drives=drives, inputs={"I": current}, record=["I_ex"])
    a = simulator.run(40, n, drives=drives, inputs={"I": current[:40]}, record=["I_ex"],
                      shards=3)
    b = simulator.run(40, n, drives=drives, inputs={"I": current[40:]}, initial=a.state,
                      record=["I_ex"], shards=2)
    assert np.array_equal(np.asarray(whole.traces["I_ex"])[40:], np.asarray(b.traces["I_ex"]))
    assert np.array_equal(whole.spike_count, a.spike_count + b.spike_count)


STATE_NAMED = """
[model]
name = "named_state"
[parameters]
tau = 10.0
[states]
V = 0.0
{state} = 0.0
[inputs]
I = {{}}
[equations]
laws = ["tau*dV/dt = -V + I", "tau*d{state}/dt = -{state} + V"]
[spike]
condition = "V > 1"
[reset]
mechanism = "zero"
"""


@pytest.mark.parametrize("state", ["time", "neuron", "spike_count", "rate"])
def test_a_traced_state_named_like_a_dataset_variable_is_refused_before_the_sweep(tmp_path,
                                                                                  state):
    """Its trace replaced the sweep's spike counts or rates silently, or failed after the
    whole sweep."""
    pytest.importorskip("xarray")
    path = tmp_path / "named.toml"
    path.write_text(STATE_NAMED.format(state=state))
    simulator = lifgen.compile(path, dt=0.1)
    with pytest.raises(InputError, match=f"record: the trace of state '{state}'"):
        lifgen.sweep(simulator, {"I": [1.0, 2.0]}, n_steps=10, record=[state])
    net = lifgen.Network(dt=0.1)
    net.add("a", str(path), 2)
    if state in ("neuron", "spike_count", "rate"):  # (a_time is no name of the network's)
        with pytest.raises(InputError, match=f"would be the Dataset's 'a_{state}'"):
            lifgen.sweep(net.compile(), {"a.I": [1.0, 2.0]}, n_steps=10, record={"a": [state]})
    if state in ("time", "neuron", "spike_count"):
        with pytest.raises(InputError, match=f"state '{state}' has the name"):
            simulator.run(5).to_xarray()


def interrupted_simulate(tmp_path, *arguments):
    script = (
        "import os, signal, sys, threading\n"
        "import lifgen\n"
        "from lifgen.cli import main\n"
        "lifgen.compile('hodgkin_huxley', method='rk4_sub8')\n"
        "threading.Timer(2.0, os.kill, (os.getpid(), signal.SIGINT)).start()\n"
        f"sys.exit(main({list(arguments)!r}))\n")
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=300, cwd=tmp_path)


def test_an_interrupted_simulate_writes_nothing_and_fails(tmp_path):
    """Ctrl-C wrote the partial run to --save as if complete and exited 0."""
    done = interrupted_simulate(tmp_path, "simulate", "hodgkin_huxley", "--method", "rk4_sub8",
                                "--steps", "1000000", "--neurons", "4", "--spikes", "count",
                                "--save", "run.npz", "--progress")  # ~3 us a neuron-step
    assert done.returncode == 130, done.stderr[-2000:]
    assert "nothing written" in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_an_output_that_appeared_during_the_run_is_kept_without_force(tmp_path):
    from lifgen.results.outputs import final_path, save_arrays

    path = final_path(str(tmp_path / "run.npz"), "npz", force=False)  # checked: nothing there
    path.write_bytes(b"USER DATA")  # ... then the user's file appears while lifgen works
    with pytest.raises(InputError, match="appeared while lifgen worked and is kept"):
        save_arrays(path, {"x": np.zeros(3)})
    assert path.read_bytes() == b"USER DATA"
    save_arrays(path, {"x": np.zeros(3)}, force=True)
    assert np.load(path)["x"].shape == (3,)


def test_simulate_s_outputs_are_checked_before_the_run(tmp_path):
    """The same file named twice through '..', a folder as --save: found after the work, or
    silently one output replacing the other."""
    (tmp_path / "sub").mkdir()
    (tmp_path / "out.npz").mkdir()
    twice = cli("simulate", "lapicque", "--steps", "20", "--plot", "a.png", "--raster",
                "sub/../a.png", cwd=tmp_path)
    assert twice.returncode == 2 and "name the same file" in twice.stderr
    folder = cli("simulate", "lapicque", "--steps", "20", "--save", "out.npz", "--force",
                 cwd=tmp_path)
    assert folder.returncode == 2 and "out.npz is a folder" in folder.stderr


def test_a_nir_graph_s_save_replaces_a_link_instead_of_writing_through_it(tmp_path):
    nir.write(str(tmp_path / "g.nir"), lif_graph())
    np.save(tmp_path / "x.npy", np.ones((20, 1, 3)))
    (tmp_path / "precious.txt").write_text("the user's")
    (tmp_path / "out.npz").symlink_to(tmp_path / "precious.txt")
    done = cli("simulate", "g.nir", "--input", "x.npy", "--save", "out.npz", "--force",
               cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "precious.txt").read_text() == "the user's"
    assert not (tmp_path / "out.npz").is_symlink()
    assert np.load(tmp_path / "out.npz")["output"].shape == (20, 1, 3)


def test_a_forged_npy_header_of_format_3_is_refused_like_the_others(tmp_path):
    """Format 3.0 skipped the size check: np.load then asked for 7 TiB (a raw MemoryError)."""
    header = b"{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000000,), }"
    header += b" " * (64 - (len(header) + 12) % 64 - 1) + b"\n"
    (tmp_path / "v.npy").write_bytes(b"\x93NUMPY\x03\x00" + len(header).to_bytes(4, "little")
                                     + header + b"\0" * 64)
    done = cli("simulate", "lif_cuba", "--steps", "5", "--param", "V_th=v.npy", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert "its header promises 8000000000000 bytes" in done.stderr
    assert done.stderr.count("cannot read") == 1


def test_an_npy_file_of_python_objects_is_refused_as_such(tmp_path):
    """A pickled (object) .npy given as a NIR run's input or a parameter: the error says it
    holds Python objects and how to save numbers (it said its header promised 16 bytes)."""
    nir.write(str(tmp_path / "g.nir"), lif_graph())
    np.save(tmp_path / "x.npy", np.array([[[1.0, None, 2.0]]], dtype=object), allow_pickle=True)
    for args in (("g.nir", "--input", "x.npy"),
                 ("lif_cuba", "--steps", "5", "--param", "V_th=x.npy")):
        done = cli("simulate", *args, cwd=tmp_path)
        assert done.returncode == 2, done.stderr
        assert "x.npy: it holds Python objects (object, shape (1, 1, 3)" in done.stderr
        assert "Traceback" not in done.stderr


def test_emit_counts_a_dangling_link_as_a_file_and_writes_readable_files(tmp_path):
    """A dangling link named Makefile was replaced without --force; every file came out 0600."""
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "Makefile").symlink_to("/nonexistent/Makefile")
    with pytest.raises(InputError, match="already has Makefile"):
        lifgen.emit("leaky", tmp_path / "lib")
    written = lifgen.emit("leaky", tmp_path / "fresh")
    mask = os_umask()
    assert {oct(p.stat().st_mode & 0o777) for p in written} == {oct(0o666 & ~mask)}


def os_umask():
    import os

    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def test_the_gallery_counts_a_dangling_link_as_a_file(tmp_path):
    from lifgen.tools.gallery import prepare_folder

    (tmp_path / "README.md").symlink_to(tmp_path / "outside.md")
    with pytest.raises(InputError, match="would replace"):
        prepare_folder(tmp_path, ["a.png", "README.md"], overwrite=False)


NESTML_KERNEL = """model m:
    state:
        V_m mV = -70 mV
        I real = 0
    equations:
        kernel K = {kernel}
        I' = -I/tau_m + convolve(K, sp) / ms
        V_m' = -(V_m - E_L) / tau_m + I*mV/ms
    parameters:
        tau_m ms = 10 ms
        E_L mV = -70 mV
        V_th mV = -55 mV
    input:
        sp <- spike
    output:
        spike
    update:
        integrate_odes()
    onCondition(V_m >= V_th):
        V_m = E_L
        emit_spike()
"""


def test_a_nestml_kernel_sympy_cannot_simplify_in_time_is_refused(monkeypatch):
    """A 682-byte kernel (a sum of 12 exponentials) kept from_nestml busy for minutes."""
    from lifgen.frontend import budget

    monkeypatch.setattr(budget, "SYMPY_SECONDS", 0.5)
    kernel = " + ".join(f"exp(-t/(tau_m*{k + 1}))" for k in range(12))
    with pytest.raises(ModelError, match="took longer than 0.5 s"):
        lifgen.from_nestml(NESTML_KERNEL.format(kernel=kernel))
    assert lifgen.from_nestml(NESTML_KERNEL.format(kernel="exp(-t/tau_m)")).name == "m"


CHAIN = """[model]
name = "chain"
[parameters]
tau = {{ value = 10.0 }}
[states]
V = {{ initial = 0.0 }}
[inputs]
I = {{}}
[expressions]
e0 = "V"
{links}[equations]
laws = ["dV/dt = (-V + e{last})/tau"]
[spike]
condition = "V > 1"
[reset]
mechanism = "zero"
[simulation]
dt = 0.1
"""


def test_named_expressions_are_checked_again_once_substituted(tmp_path):
    """Each link of degree 2 passed; substituted, the law had degree 2**15 and compiled for
    minutes (model files, Brian2's subexpressions and NESTML's inlines alike)."""
    links = "".join(f'e{k} = "(e{k - 1} + I)*(e{k - 1} - I)"\n' for k in range(1, 16))
    (tmp_path / "chain.toml").write_text(CHAIN.format(links=links, last=15))
    with pytest.raises(ModelError, match=r"dV/dt, its named expressions substituted"):
        lifgen.load_model(tmp_path / "chain.toml")
    equations = "dv/dt = (-v + e15)/(10*ms) : 1\ne0 = v : 1\n" + "".join(
        f"e{k} = (e{k - 1} + 1)*(e{k - 1} - 1) : 1\n" for k in range(1, 16))
    with pytest.raises(ModelError, match="its named expressions substituted"):
        lifgen.from_brian2(equations, threshold="v > 1", reset="v = 0")
    short = "".join(f'e{k} = "(e{k - 1} + I)*(e{k - 1} - I)"\n' for k in range(1, 3))
    (tmp_path / "short.toml").write_text(CHAIN.format(links=short, last=2))
    assert lifgen.load_model(tmp_path / "short.toml").name == "chain"


def diamonds(k):
    def lif():
        return nir.LIF(tau=np.array([0.01]), r=np.ones(1), v_leak=np.zeros(1),
                       v_threshold=np.ones(1), v_reset=np.zeros(1))
    nodes = {"in": nir.Input(input_type={"input": np.array([1])}), "n0": lif(), "n1": lif(),
             "out": nir.Output(output_type={"output": np.array([1])})}
    edges, previous = [("in", "n0")], "n0"
    for j in range(k):
        for x in "abj":
            nodes[f"{x}{j}"] = nir.Scale(scale=np.array([1.0]))
        edges += [(previous, f"a{j}"), (previous, f"b{j}"), (f"a{j}", f"j{j}"),
                  (f"b{j}", f"j{j}")]
        previous = f"j{j}"
    return nir.NIRGraph(nodes=nodes, edges=edges + [(previous, "n1"), ("n1", "out")],
                        type_check=False)


def test_a_nir_graph_of_exponentially_many_paths_is_refused():
    """17 diamonds of 1x1 Scale nodes (55 nodes) took minutes: 2**17 paths, each composed."""
    with pytest.raises(InputError, match="more than 10000 steps of paths"):
        lifgen.from_nir(diamonds(17))
    assert lifgen.from_nir(diamonds(3)).nir.populations["n1"] == "n1"


def test_a_nir_file_whose_arrays_dwarf_it_is_refused_before_it_is_read(tmp_path):
    """30 KB of HDF5 (datasets of one fill value) became 5.6 GB before lifgen refused it."""
    h5py = pytest.importorskip("h5py")
    path = tmp_path / "bomb.nir"
    nir.write(str(path), lif_graph())
    with h5py.File(path, "r+") as file:
        group = file["node/nodes/lif"]
        del group["tau"]
        group.create_dataset("tau", shape=(60_000_000,), dtype="f8", chunks=(1 << 20,),
                             compression="gzip", fillvalue=1e-3)
    with pytest.raises(InputError, match="its arrays would take .* MiB from a file of"):
        lifgen.from_nir(path)


def test_a_constant_that_overflows_once_derived_is_a_model_error(tmp_path):
    """exp(exp(exp(1000))) passed the constant checks (only atoms were) and SymPy raised a raw
    OverflowError: 'internal error' from show, verify and simulate."""
    law = '"tau_m*dV/dt = -(V - E_L) + g_e + g_i + I'
    text = (ROOT / "models" / "lif_cuba.toml").read_text()
    assert law in text
    (tmp_path / "ee.toml").write_text(text.replace(law, law + ' + exp(-exp(exp(1000)))*E_L'))
    with pytest.raises(ModelError, match="overflows a double"):
        lifgen.compile(tmp_path / "ee.toml")
    done = cli("simulate", "ee.toml", "--steps", "5", cwd=tmp_path)
    assert done.returncode == 2 and "overflows a double" in done.stderr
    nestml = NESTML_KERNEL.format(kernel="exp(-t/tau_m)").replace(
        "V_th mV = -55 mV", "V_th mV = -55 mV\n        a real = exp(exp(exp(1000)))")
    with pytest.raises(ModelError, match="overflows a double"):
        lifgen.from_nestml(nestml)


@pytest.mark.parametrize("text", ["model m:\n    (x):\n        y\n", "model m:\n    :\n        y\n",
                                  "model m:\n    function (x real) real:\n        return x\n"])
def test_a_nestml_block_without_keyword_or_name_is_a_model_error(text):
    with pytest.raises(ModelError, match="line 2"):
        lifgen.from_nestml(text)


def from_sympy_case(**changes):
    import sympy

    t = sympy.Symbol("t")
    v = sympy.Function("V")(t)
    current, tau = sympy.Symbol("I"), sympy.Symbol("tau")
    arguments = dict(laws=[sympy.Eq(v.diff(t), (current - v) / tau)], states={v: 0.0},
                     parameters={tau: 10.0}, inputs=[current], spike=v > 1)
    arguments.update({k: (c(v, t) if callable(c) else c) for k, c in changes.items()})
    return lambda: lifgen.compile(lifgen.Model.from_sympy("m", **arguments), dt=0.1)


@pytest.mark.parametrize("make, message", [
    (from_sympy_case(states=lambda v, t: {v: "abc"}), r"states\[V\]: abc is not a number"),
    (from_sympy_case(states=lambda v, t: {v: None}), "is not a number"),
    (from_sympy_case(states=lambda v, t: {v: 10**400}), "not a finite number"),
    (from_sympy_case(states=5), "states is a list"),
    (from_sympy_case(inputs=3), "inputs is a list"),
    (from_sympy_case(laws=lambda v, t: [v.diff(t) > 1]), "a law is an equation"),
    (from_sympy_case(dt="0.1 ms"), "dt: 0.1 ms is not a number"),
    (from_sympy_case(resets={"zero": 5}), "maps names to values"),
    (from_sympy_case(laws=lambda v, t: [__import__("sympy").Eq(
        v.diff(t), __import__("sympy").Rational(10**5000, 3) * v)]), "of over 4300 digits"),
])
def test_model_from_sympy_refuses_malformed_arguments_with_a_model_error(make, message):
    with pytest.raises(ModelError, match=message):
        make()


def test_a_brian2_namespace_number_past_a_double_is_a_model_error():
    with pytest.raises(ModelError, match=r"namespace\['tau'\]: .* is not a finite number"):
        lifgen.from_brian2("dv/dt = -v/tau : 1", namespace={"tau": 10**400})


def test_text_that_could_drive_a_terminal_is_escaped_in_errors_and_the_cli(tmp_path):
    """A carriage return rewrote the line `show` printed; bidi overrides and separators passed;
    an error quoting a field carried the raw ESC to any Python caller that printed it."""
    spoof = INVERSE.replace('name = "inverse"',
                            'name = "spoof"\ndescription = "a neuron\\rVERIFIED \\u202eevil"')
    (tmp_path / "spoof.toml").write_text(spoof)
    shown = subprocess.run([sys.executable, "-m", "lifgen", "show", "spoof.toml", "--no-c"],
                           capture_output=True, cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert b"\r" not in shown.stdout and "\u202e".encode() not in shown.stdout
    assert b"a neuron\\rVERIFIED \\u202eevil" in shown.stdout
    error = ModelError("bad", "f.toml", "x\x1b]0;pwned\x07")
    assert "\x1b" not in str(error) and "\\x1b]0;pwned\\x07" in str(error)
