"""NIR graphs as lifgen networks (lifgen.from_nir, run_nir, to_nir): the NIR paper's LIF against
its exact event-based algorithm, its Braille RNN against snnTorch 1.0's import, the round trip,
the errors, and the real-valued source bit for bit on the Python test target."""

import dataclasses
import math
import warnings
from pathlib import Path

import numpy as np
import pytest

import lifgen
from lifgen import targets
from lifgen.errors import ConventionWarning, InputError

nir = pytest.importorskip("nir")
HERE = Path(__file__).resolve().parent / "reference" / "nir"
D0 = [0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0,
      0, 1, 1, 0, 0, 1, 0, 1, 0, 0, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0,
      0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0,
      0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
DT = 1e-4


def paper_input():
    return np.repeat(np.array(D0, float)[:, None], 10, axis=1) * (np.arange(10) == 0)


def exact_lif(current, tau, r, v_leak, v_threshold, dt):
    """The paper's lif_exact_sim.py, its equations in float64: a current held over each step,
    a spike at the crossing instant, reset there by subtracting v_threshold; the voltage at each
    step's end and the step of each spike."""
    v, voltages, spikes = 0.0, [], []
    for k, i_in in enumerate(current):
        left = dt
        while True:
            t_spike = math.inf
            if v - r * i_in != 0.0:
                arg = (v_threshold - v_leak - r * i_in) / (v - r * i_in)
                if arg > 0.0 and -tau * math.log(arg) >= 0.0:
                    t_spike = -tau * math.log(arg)
            if t_spike >= left:
                v = v_leak + r * i_in * (1 - math.exp(-left / tau)) + v * math.exp(-left / tau)
                break
            v = v_leak + r * i_in * (1 - math.exp(-t_spike / tau)) + v * math.exp(-t_spike / tau)
            v -= v_threshold
            spikes.append(k)
            left -= t_spike
        voltages.append(v)
    return np.array(voltages), np.array(spikes)


def test_the_papers_lif_with_method_exact_is_the_exact_algorithm():
    """lif_norse.nir with method="exact": NIR's continuous time, the reset at the crossing
    instant: equal to the paper's event-based algorithm rerun in float64 and to its csv."""
    graph = nir.read(str(HERE / "lif_norse.nir"))
    net = lifgen.from_nir(graph, dt=DT, method="exact")
    current = paper_input().reshape(-1)
    result = lifgen.run_nir(net, {"input": current.reshape(-1, 1, 1)}, record={"n_1": ["v"]})
    v = result["n_1"].traces["v"].reshape(-1)
    spikes = np.flatnonzero(result.outputs["output"].reshape(-1))
    lif = graph.nodes["1"]
    ref_v, ref_spikes = exact_lif(current, float(lif.tau[0]), float(lif.r[0]),
                                  float(lif.v_leak[0]), float(lif.v_threshold[0]), DT)
    assert result.outputs["output"].shape == (1000, 1, 1)
    assert np.array_equal(spikes, ref_spikes) and spikes.size == 4
    assert np.max(np.abs(v - ref_v)) < 1e-9
    csv = np.loadtxt(HERE / "lif_exact.csv", delimiter=",")
    assert np.array_equal(spikes, np.flatnonzero(csv[:, 2]))
    assert np.max(np.abs(v - csv[:, 1])) < 1e-8


@pytest.mark.parametrize("name", ["braille_noDelay_bias_zero", "braille_noDelay_noBias_subtract"])
def test_the_braille_rnn_equals_snntorchs_import(name):
    """convention="snntorch": the recurrent CubaLIF layer (snnTorch's RSynaptic, which resets a
    step late) and the CubaLIF readout (Synaptic), in float32: snnTorch 1.0's spikes exactly,
    its membranes to 1e-5 in the readout (make_nir_snntorch_refs.py). Its 3 rows are repeated
    to 11, so that the program's rows run as a block of 8 and one of 3 (ROW_BLOCK)."""
    rows = [0, 1, 2] * 3 + [0, 1]
    ref = {key: value[:, rows] for key, value in np.load(HERE / f"{name}_snntorch.npz").items()
           if key != "config"}
    net = lifgen.from_nir(HERE / f"{name}.nir", convention="snntorch")
    result = lifgen.run_nir(net, {"input": ref["input"]}, dtype="float32",
                            record={"lif1_lif": ["V"], "lif2": ["V"]})
    assert ref["spk1"].sum() > 0 and ref["spk2"].sum() > 0
    assert np.array_equal(result["lif1_lif"].spikes, ref["spk1"] != 0)
    assert np.array_equal(result.outputs["output"], ref["spk2"] != 0)
    assert np.max(np.abs(result["lif2"].traces["V"] - ref["mem2"])) < 1e-5
    assert np.max(np.abs(result["lif1_lif"].traces["V"] - ref["mem1"])) \
        < 1e-5 * max(1.0, np.abs(ref["mem1"]).max())
    counted = lifgen.run_nir(net, {"input": ref["input"]}, dtype="float32", spikes="count")
    assert counted["lif1_lif"].spikes is None and counted["input"].spikes is None
    assert np.array_equal(counted["lif1_lif"].spike_count, (ref["spk1"] != 0).sum(axis=0))
    assert np.array_equal(counted.outputs["output"], ref["spk2"] != 0)


@pytest.mark.parametrize("name, convention", [("lif_norse", "nir"),
                                              ("braille_noDelay_bias_zero", "nir"),
                                              ("sinabs_lif", "sinabs")])
def test_to_nir_of_from_nir_is_the_graph(name, convention):
    graph = nir.read(str(HERE / f"{name}.nir"))
    back = lifgen.to_nir(lifgen.from_nir(graph, convention=convention))

    def same(a, b):
        assert set(a.nodes) == set(b.nodes) and sorted(a.edges) == sorted(b.edges)
        for key, node in a.nodes.items():
            other = b.nodes[key]
            assert type(node) is type(other), key
            if isinstance(node, nir.NIRGraph):
                same(node, other)
                continue
            for field, value in vars(node).items():
                if isinstance(value, np.ndarray):
                    assert np.array_equal(value, getattr(other, field)), (key, field)
    same(graph, back)


class Softmax:
    """A node type lifgen has no converter for (NIR has none either: every nir 1.0.8 node is
    supported)."""

    def __init__(self, n):
        self.input_type = {"input": np.array([n])}
        self.output_type = {"output": np.array([n])}


def test_an_unsupported_node_is_named_with_what_is_supported():
    graph = nir.NIRGraph(nodes={"input": nir.Input(input_type={"input": np.array([4])}),
                                "soft": Softmax(4),
                                "output": nir.Output(output_type={"output": np.array([4])})},
                         edges=[("input", "soft"), ("soft", "output")], type_check=False)
    with pytest.raises(InputError, match=r"'soft' is a Softmax.*supported: .*CubaLIF.*Affine"
                                         r".*Conv2d.*AvgPool2d"):
        lifgen.from_nir(graph)


def _chain(neuron, n_in=4, n=8, after=False):
    """input -> Affine(n_in -> n) -> `neuron` (-> Affine(n -> 3) -> LIF) -> output."""
    nodes = {"input": nir.Input(input_type={"input": np.array([n_in])}),
             "fc1": nir.Affine(weight=np.ones((n, n_in)), bias=np.zeros(n)), "cell": neuron}
    edges = [("input", "fc1"), ("fc1", "cell")]
    if after:
        nodes.update(fc2=nir.Affine(weight=np.ones((3, n)), bias=np.zeros(3)),
                     lif2=nir.LIF(tau=np.full(3, 5e-3), r=np.ones(3), v_leak=np.zeros(3),
                                  v_threshold=np.ones(3), v_reset=np.zeros(3)))
        edges += [("cell", "fc2"), ("fc2", "lif2")]
    last = "lif2" if after else "cell"
    nodes["output"] = nir.Output(output_type={"output": np.array([3 if after else n])})
    return nir.NIRGraph(nodes=nodes, edges=edges + [(last, "output")], type_check=False)


def test_an_outside_users_graphs_get_errors_that_name_the_cause(tmp_path):
    """A neuron node with scalar parameters (as Sinabs writes its LIF), or parameters of
    shape (1,), has as many neurons as the edges into it deliver, as the torch tools broadcast
    them: the same numbers as its parameters given per neuron, the graph's node left as it was
    and written back as it was (to a file too: nir compresses no 0-d array); parameters that do
    not broadcast to the input are an error that names the node and says so, not only the
    Affine after it; a Sinabs IF threshold of 0 or below is refused (0 made NaN, -1 silent
    neurons); snnTorch's per-neuron thresholds are refused saying that convention='nir' changes
    the numbers; a file whose node type nir cannot read says so where nir gave no message."""
    fields = dict(tau=5e-3, r=1.0, v_leak=0.0, v_threshold=0.5, v_reset=0.0)
    x = np.random.default_rng(2).random((30, 2, 4)) * 3
    for shape in ((), (1,)):
        cell = nir.LIF(**{k: np.full(shape, v) for k, v in fields.items()})
        for after in (True, False):
            graph = _chain(cell, after=after)
            net = lifgen.from_nir(graph)
            assert net.populations["cell"].n == 8 and np.shape(graph.nodes["cell"].tau) == shape
            per_neuron = lifgen.from_nir(_chain(nir.LIF(**{k: np.full(8, v) for k, v in
                                                           fields.items()}), after=after))
            ours = lifgen.run_nir(net, {"input": x})
            assert ours["cell"].spike_count.sum() > 0
            assert np.array_equal(ours["cell"].spikes,
                                  lifgen.run_nir(per_neuron, {"input": x})["cell"].spikes)
            assert np.shape(lifgen.to_nir(net).nodes["cell"].tau) == shape
            lifgen.to_nir(net, tmp_path / "back.nir")
            again = lifgen.from_nir(tmp_path / "back.nir")
            assert np.array_equal(lifgen.run_nir(again, {"input": x})["cell"].spikes,
                                  ours["cell"].spikes)
    three = nir.LIF(**{k: np.full(3, v) for k, v in fields.items()})
    for after, message in ((True, r"node 'fc2' \(Affine\) takes 8 values; 3 arrive from node "
                                   r"'cell' \(a neuron node has as many neurons as its "
                                   r"parameters have values; parameters that are scalars or "
                                   r"have axes of length 1 broadcast"),
                           (False, r"node 'cell' has 3 neurons \(a neuron node has as many")):
        with pytest.raises(InputError, match=message):
            lifgen.from_nir(_chain(three, after=after))
    for threshold in (0.0, -1.0):
        cell = nir.IF(r=np.ones(8), v_threshold=np.full(8, threshold), v_reset=np.zeros(8))
        with pytest.raises(InputError, match=rf"node 'cell': Sinabs's IAF .* v_threshold must "
                                             rf"be > 0; it has {threshold:g}"):
            lifgen.from_nir(_chain(cell), convention="sinabs")
    per_neuron = nir.LIF(tau=np.full(8, 1e-3), r=np.full(8, 10.0), v_leak=np.zeros(8),
                         v_threshold=np.linspace(0.5, 1.0, 8), v_reset=np.zeros(8))
    with pytest.raises(InputError, match=r"import_from_nir asserts it too.*its numbers differ "
                                         r"from snnTorch's"):
        lifgen.from_nir(_chain(per_neuron), convention="snntorch")
    path = tmp_path / "unknown.nir"
    nir.write(str(path), _chain(nir.IF(r=np.ones(8), v_threshold=np.ones(8),
                                       v_reset=np.zeros(8))))
    import h5py
    with h5py.File(path, "r+") as file:
        del file["node/nodes/fc1/type"]
        file["node/nodes/fc1/type"] = "MaxPool2d"
    with pytest.raises(InputError, match=r"not a NIR file nir can read: \w+Error with no "
                                         r"message: a node type nir .* does not know\?"):
        lifgen.from_nir(path)


def test_a_run_nir_result_takes_the_graph_s_node_keys():
    """result["cell"] (a node key) is the population it became; an unknown key lists both; a
    NaN in an input names that input."""
    cell = nir.IF(r=np.ones(8), v_threshold=np.ones(8), v_reset=np.zeros(8))
    graph = _chain(cell)
    graph.nodes["1"] = graph.nodes.pop("cell")  # (Sinabs's keys: a population named n_1)
    graph.edges = [tuple("1" if k == "cell" else k for k in edge) for edge in graph.edges]
    net = lifgen.from_nir(graph, convention="sinabs")
    x = (np.random.default_rng(3).random((20, 2, 4)) < 0.5).astype(np.uint8)
    result = lifgen.run_nir(net, {"input": x})
    assert net.nir.populations["1"] == "n_1"
    assert result["1"] is result["n_1"] and result["1"].spike_count.sum() > 0
    with pytest.raises(InputError, match=r"no population 'nope'.*or by node key 1"):
        result["nope"]
    with pytest.raises(InputError, match=r"inputs\['input'\]: lifgen.Values: .*NaN"):
        lifgen.run_nir(net, {"input": np.where(x == 1, np.nan, 0.5)})


def test_run_nir_and_the_command_line_run_batch_rows_on_threads(tmp_path):
    """run_nir(threads=2) (and `lifgen simulate graph.nir --threads 2`) gives each row the
    numbers of one thread; a count below 1 is refused."""
    import subprocess
    import sys
    x = np.load(HERE / "conv_small_sinabs.npz")["x"][:40]
    net = lifgen.from_nir(HERE / "conv_small.nir", convention="sinabs")
    one, two = (lifgen.run_nir(net, {"input": x}, record={"if1": ["v"]}, threads=threads)
                for threads in (1, 2))
    assert one.outputs["output"].sum() > 10
    assert np.array_equal(one.outputs["output"], two.outputs["output"])
    assert np.array_equal(one["if1"].traces["v"], two["if1"].traces["v"])
    assert len(net.nir.simulators) == 2
    with pytest.raises(InputError, match="threads"):
        lifgen.run_nir(net, {"input": x}, threads=0)
    np.save(tmp_path / "x.npy", x)
    done = subprocess.run([sys.executable, "-m", "lifgen", "simulate", str(HERE / "conv_small.nir"),
                           "--convention", "sinabs", "--input", str(tmp_path / "x.npy"),
                           "--threads", "2", "--save", str(tmp_path / "out.npz")],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert np.array_equal(np.load(tmp_path / "out.npz")["output"], one.outputs["output"])


@pytest.fixture
def python_target(monkeypatch):
    monkeypatch.setitem(targets.TARGETS, "python", "python_target")


def test_a_real_valued_source_runs_bit_for_bit_on_the_python_target(python_target):
    """lifgen.Values: each nonzero value an event carrying value x weight (dense and one-to-one,
    delays 0 and 2, two batch rows), as the C program and the Python printing of the same IR."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(80, 2, 4)) * 40 * (rng.random((80, 2, 4)) < 0.5)
    net = lifgen.Network()
    net.add_source("x", lifgen.Values(x))
    net.add("p", "lif_cuba", 4, method="euler")
    net.connect("x", "p", "exc", rng.normal(size=(4, 4)), delay=0)
    net.connect("x", "p", "inh", ("one_to_one", 0.5), delay=2)
    run = dict(n_steps=80, record={"p": ["V", "g_e", "g_i"]}, spikes="raster")
    c, python = net.compile().run(**run), net.compile(target="python").run(**run)
    assert c["p"].spike_count.sum() > 0
    assert np.array_equal(c["x"].spike_count, (x != 0).sum(axis=0))
    assert np.array_equal(c["p"].spikes, python["p"].spikes)
    for state in ("V", "g_e", "g_i"):
        assert np.array_equal(c["p"].traces[state], python["p"].traces[state]), state


def test_the_cli_simulates_a_nir_graph(tmp_path, capsys):
    from lifgen.cli import main

    np.save(tmp_path / "in.npy", paper_input().reshape(-1, 1, 1))
    out = tmp_path / "out.npz"
    assert main(["simulate", str(HERE / "lif_norse.nir"), "--input", str(tmp_path / "in.npy"),
                 "--save", str(out)]) == 0
    assert "output output: shape (1000, 1, 1), sum 4" in capsys.readouterr().out
    assert np.load(out)["output"].sum() == 4
    assert main(["simulate", str(tmp_path / "missing.nir"), "--input", "x.npy"]) == 2
    assert "no NIR file" in capsys.readouterr().err
    assert main(["simulate", str(HERE / "lif_norse.nir"), "--input", "const:1"]) == 2
    assert "no file 'const:1'; a NIR graph's input is a .npy file" in capsys.readouterr().err
    # a Sinabs graph run by NIR's own equations (the default) spikes nowhere: a hint says why
    np.save(tmp_path / "x20.npy", np.load(HERE / "conv_small_sinabs.npz")["x"][:20])
    assert main(["simulate", str(HERE / "conv_small.nir"), "--input",
                 str(tmp_path / "x20.npy")]) == 0
    assert "no neuron spiked: under --convention nir" in capsys.readouterr().out
    assert main(["simulate", str(HERE / "conv_small.nir"), "--input", str(tmp_path / "x20.npy"),
                 "--convention", "sinabs"]) == 0
    assert "no neuron spiked" not in capsys.readouterr().out
    # Sinabs's default import: the output is the MultiSpike counts of every step
    np.save(tmp_path / "x.npy", np.load(HERE / "conv_small_sinabs.npz")["x"])
    expected = np.load(HERE / "sinabs_multispike.npz")["small_out"]
    for convention, total in (("sinabs", expected.sum()), ("sinabs_single", None)):
        assert main(["simulate", str(HERE / "conv_small.nir"), "--input",
                     str(tmp_path / "x.npy"), "--convention", convention, "--save", str(out),
                     "--force"]) == 0
        saved = np.load(out)["output"]
        assert saved.shape == (80, 2, 4, 3, 3)
        assert (saved.sum() == total) if total is not None else (saved.max() == 1)
    # beside the outputs, each neuron node's counts, raster and final states (NIR's order)
    arrays = np.load(out)
    result = lifgen.run_nir(lifgen.from_nir(HERE / "conv_small.nir", convention="sinabs_single"),
                            {"input": np.load(tmp_path / "x.npy")})
    assert np.array_equal(arrays["if2.spike_count"], result["if2"].spike_count)
    assert np.array_equal(arrays["if2.spikes"], result["if2"].spikes)
    assert np.array_equal(arrays["if2.state.v"], result["if2"].state["v"])
    assert main(["simulate", str(HERE / "conv_small.nir"), "--input", str(tmp_path / "x.npy"),
                 "--convention", "sinabs_single", "--spikes", "count", "--save", str(out),
                 "--force"]) == 0
    saved = np.load(out)  # (if2's raster stays: the Output node reads its spikes)
    assert "if1.spikes" in arrays and "if1.spikes" not in saved and "if2.spikes" in saved
    assert np.array_equal(saved["if1.spike_count"], arrays["if1.spike_count"])
    # a folder for --save (it wrote FOLDER.npz beside it), and an Input node given twice
    capsys.readouterr()
    folder = tmp_path / "results"
    folder.mkdir()
    assert main(["simulate", str(HERE / "conv_small.nir"), "--input", str(tmp_path / "x.npy"),
                 "--convention", "sinabs", "--save", str(folder)]) == 2
    assert "is a folder; give a file name" in capsys.readouterr().err
    assert not (tmp_path / "results.npz").exists()
    assert main(["simulate", str(HERE / "conv_small.nir"), "--input", str(tmp_path / "x.npy"),
                 "--input", f"input={tmp_path / 'x.npy'}", "--convention", "sinabs"]) == 2
    assert "Input node 'input' is given twice" in capsys.readouterr().err


# -- convolutions and pools ----------------------------------------------------------------------

def test_conv_and_pool_maps_equal_torch():
    """Conv1d / Conv2d (stride, padding, dilation, groups, bias), AvgPool2d and SumPool2d as the
    sparse maps lifgen generates from their geometry: torch.nn.functional's conv1d, conv2d and
    avg_pool2d of random inputs (make_nir_sinabs_refs.py), to 1e-12 in float64."""
    from lifgen.interop.nir_import import EDGE_NODES

    ref = np.load(HERE / "conv_geometry.npz")
    for k in range(5):
        x, w, b = ref[f"conv{k}_x"], ref[f"conv{k}_w"], ref[f"conv{k}_b"]
        dims = w.ndim - 2
        g = ref[f"conv{k}_geometry"]
        stride, padding, dilation = g[:dims], g[dims:2 * dims], g[2 * dims:3 * dims]
        node = (nir.Conv2d(input_shape=x.shape[1:], weight=w, stride=stride, padding=padding,
                           dilation=dilation, groups=int(g[-1]), bias=b) if dims == 2 else
                nir.Conv1d(input_shape=x.shape[1], weight=w, stride=stride, padding=padding,
                           dilation=dilation, groups=int(g[-1]), bias=b))
        node.input_type = {"input": np.array(x.shape)}
        linear = EDGE_NODES[f"Conv{dims}d"](node, DT, x.shape)
        y = linear.matrix @ x.reshape(-1) + linear.bias
        assert y.shape == (ref[f"conv{k}_y"].size,)
        assert np.max(np.abs(y - ref[f"conv{k}_y"].reshape(-1))) < 1e-12, k
    for k in range(2):
        x, g = ref[f"pool{k}_x"], ref[f"pool{k}_geometry"]
        for kind, key in (("AvgPool2d", "avg"), ("SumPool2d", "sum")):
            node = getattr(nir, kind)(kernel_size=g[:2], stride=g[2:4], padding=g[4:])
            node.input_type = {"input": np.array(x.shape)}
            y = EDGE_NODES[kind](node, DT, x.shape).matrix @ x.reshape(-1)
            assert np.max(np.abs(y - ref[f"pool{k}_{key}"].reshape(-1))) < 1e-12, (k, kind)


def test_a_small_conv_graph_equals_sinabs():
    """Conv2d (stride 2, padding 1, dilation 2, groups 2, bias) -> IF -> SumPool2d -> Conv2d ->
    IF, convention="sinabs_single", float64: Sinabs 3.1's import with SingleSpike spike for spike
    (make_nir_sinabs_refs.py; the sums are exact in float64, so the summation order cannot
    differ)."""
    ref = np.load(HERE / "conv_small_sinabs.npz")
    net = lifgen.from_nir(HERE / "conv_small.nir", convention="sinabs_single")
    assert sorted(p.kind for p in net.projections) == ["conv2d", "sparse"]  # (pool + conv)
    out = lifgen.run_nir(net, {"input": ref["x"]}).outputs["output"]
    assert out.shape == (80, 2, 4, 3, 3) and ref["out"].sum() > 1000
    assert np.array_equal(out.reshape(80, 2, -1), ref["out"] != 0)


def test_run_nir_plays_0_1_arrays_of_any_type_as_spikes_and_other_values_as_events():
    """Input arrays of 0 and 1 (bool, uint8, float) are spike rasters and give the same outputs;
    a uint8 array with a 2 is a lifgen.Values, whose event carries twice the weight (as the
    float array of the same values does)."""
    x = np.load(HERE / "conv_small_sinabs.npz")["x"][:20]
    net = lifgen.from_nir(HERE / "conv_small.nir", convention="sinabs")
    runs = [lifgen.run_nir(net, {"input": a}) for a in (x, x.astype(bool), x.astype(float))]
    for run in runs[1:]:
        assert np.array_equal(run.outputs["output"], runs[0].outputs["output"])
    doubled = x.copy()
    doubled[:, :, 0] *= 2
    counted = lifgen.run_nir(net, {"input": doubled})
    assert np.array_equal(counted.outputs["output"],
                          lifgen.run_nir(net, {"input": doubled.astype(float)}).outputs["output"])
    assert not np.array_equal(counted.outputs["output"], runs[0].outputs["output"])


def test_run_nir_reuses_its_program_for_new_inputs_of_any_batch():
    """run_nir compiles a network once per source kind and (batch, neurons) and swaps the
    inputs in: runs at batch 1, 2 and 1 again, of other lengths (and after a parameter changes)
    each equal a fresh network's; a new length makes no new program, and at most KEPT_PROGRAMS
    are kept (every length made and kept one)."""
    from lifgen.interop.nir_run import KEPT_PROGRAMS

    ref = np.load(HERE / "conv_small_sinabs.npz")
    net = lifgen.from_nir(HERE / "conv_small.nir", convention="sinabs_single")
    for x in (ref["x"][:, 1:], ref["x"], ref["x"][:, :1], ref["x"][:, 1:], ref["x"][:30, 1:],
              ref["x"][:61, :1]):
        out = lifgen.run_nir(net, {"input": x}).outputs["output"]
        fresh = lifgen.from_nir(HERE / "conv_small.nir", convention="sinabs_single")
        assert np.array_equal(out, lifgen.run_nir(fresh, {"input": x}).outputs["output"])
    assert len(net.nir.simulators) == 2  # batch 1 and batch 2
    for batch in range(3, KEPT_PROGRAMS + 5):
        lifgen.run_nir(net, {"input": np.zeros((2, batch, *ref["x"].shape[2:]), np.uint8)})
    assert len(net.nir.simulators) == KEPT_PROGRAMS
    assert np.array_equal(lifgen.run_nir(net, {"input": ref["x"]}).outputs["output"]
                          .reshape(80, 2, -1), ref["out"] != 0)
    net.populations["if2"].params["threshold"] = np.full(36, 0.5)
    changed = lifgen.run_nir(net, {"input": ref["x"]}).outputs["output"]
    assert changed.sum() > (ref["out"] != 0).sum()


def test_the_papers_cnn_equals_sinabs():
    """The NIR paper's N-MNIST CNN (cnn_sinabs.nir: three Conv2d, two SumPool2d, Flatten, two
    Affine, five IF layers) on synthetic events (60 steps, 3 rows, 2x34x34, p = 0.1),
    convention="sinabs_single", float64: the output spikes of every step, so the counts per
    class, equal Sinabs 3.1's import with one spike per step (SingleSpike)."""
    ref = np.load(HERE / "cnn_sinabs_sinabs.npz")
    net = lifgen.from_nir(HERE / "cnn_sinabs.nir", convention="sinabs_single")
    result = lifgen.run_nir(net, {"input": ref["x"]})
    out = result.outputs["output"]
    assert out.shape == (60, 3, 10) and ref["counts"].sum() > 100
    assert np.array_equal(out, ref["out"] != 0)
    assert np.array_equal(out.sum(0), ref["counts"])


@pytest.mark.parametrize("case, graph, events, dtype", [
    ("cnn", "cnn_sinabs.nir", "cnn_sinabs_sinabs.npz", "float64"),
    ("small", "conv_small.nir", "conv_small_sinabs.npz", "float64"),
    ("small", "conv_small.nir", "conv_small_sinabs.npz", "float32")])
def test_the_default_sinabs_import_emits_multispike_counts(case, graph, events, dtype):
    """convention="sinabs" is Sinabs 3.1's default import: its IAF layers emit floor(v /
    threshold) spikes per step (MultiSpike), each subtracting the threshold, and the layers after
    receive that many times the weight. On the paper's CNN and the small conv graph (events as in
    the SingleSpike tests; Sinabs's numbers from make_nir_sinabs_refs.py, float64) lifgen's output
    counts equal Sinabs's at every step, so per class: places where a layer emitted several
    spikes are thousands, where SingleSpike differs. A layer's spike_count adds its counts."""
    ref = np.load(HERE / "sinabs_multispike.npz")
    x = np.load(HERE / events)["x"]
    net = lifgen.from_nir(HERE / graph, convention="sinabs")
    result = lifgen.run_nir(net, {"input": x}, dtype=dtype)
    out = result.outputs["output"].reshape(ref[f"{case}_out"].shape)
    assert ref[f"{case}_places"] > 1000 and ref[f"{case}_out"].max() >= 2
    assert np.array_equal(out, ref[f"{case}_out"])
    assert np.array_equal(out.sum(0), ref[f"{case}_out"].sum(0))  # per class
    last = net.nir.outputs["output"][1][0][0]  # the population that feeds the Output node
    counts = result[last].spike_count.reshape(x.shape[1], -1)
    assert np.array_equal(counts, ref[f"{case}_out"].sum(0).reshape(x.shape[1], -1))
    assert result[last].spikes.sum() < counts.sum()  # the raster keeps one flag per step
    single = lifgen.run_nir(lifgen.from_nir(HERE / graph, convention="sinabs_single"),
                            {"input": x}, dtype=dtype).outputs["output"]
    assert not np.array_equal(single.reshape(out.shape), out != 0)


@pytest.mark.parametrize("convention, prefix, dtype", [
    ("sinabs", "", "float64"), ("sinabs_single", "single_", "float64"),
    ("sinabs", "", "float32")])
def test_sinabs_lif_and_expleak_layers_equal_sinabs(convention, prefix, dtype):
    """A network built in Sinabs (Linear -> LIFSqueeze -> Linear -> LIFSqueeze -> Linear ->
    ExpLeakSqueeze, per-neuron tau_mem in steps and thresholds) written by sinabs.nir.to_nir and
    run by Sinabs's from_nir of the file (make_nir_sinabs_lif_refs.py): under convention="sinabs"
    (MultiSpike: 1,120 places where a layer fires several spikes a step) and "sinabs_single" each
    LIF layer's spikes equal Sinabs's at every step and the ExpLeak's v, the output, to 1e-12 in
    float64 (to 1e-5 in float32, the spikes the same); convention="nir" reads tau in seconds
    and differs."""
    ref = np.load(HERE / "sinabs_lif_sinabs.npz")
    suffix = "_32" if dtype == "float32" else ""
    out_key = "out32" if dtype == "float32" else f"{prefix}out"
    net = lifgen.from_nir(HERE / "sinabs_lif.nir", convention=convention)
    multi = convention == "sinabs"
    record = {"1": ["spikes"], "3": ["spikes"]} if multi else None
    result = lifgen.run_nir(net, {"input": ref["x"]}, dtype=dtype, record=record)
    out = result.outputs["output"]
    assert out.shape == ref[out_key].shape and np.ptp(ref[out_key]) > 5
    assert np.max(np.abs(out - ref[out_key])) < (1e-5 if dtype == "float32" else 1e-12)
    for key in ("1", "3"):
        expected = ref[f"{prefix}spikes{key}{suffix}"]
        assert np.array_equal(result[key].spikes, expected > 0)
        assert np.array_equal(result[key].spike_count, expected.sum(0))
        if multi:  # the number of spikes of every step
            assert np.array_equal(result[key].traces["spikes"], expected)
    if multi:
        assert (ref["spikes1"] > 1).sum() + (ref["spikes3"] > 1).sum() > 1000
    continuous = lifgen.run_nir(lifgen.from_nir(HERE / "sinabs_lif.nir"), {"input": ref["x"]},
                                dtype=dtype)
    assert np.max(np.abs(continuous.outputs["output"] - ref[out_key])) > 1


def test_a_sinabs_network_of_scalar_time_constants_equals_sinabs():
    """Sinabs writes a layer's single tau_mem and threshold as scalars (sinabs_lif_scalar.nir:
    Conv2d -> LIFSqueeze(tau_mem 5) -> SumPool2d -> Flatten -> Linear -> ExpLeakSqueeze(tau_mem
    3)): each such node has as many neurons as its input (the LIF 4 x 8 x 8, numbered
    channels-last), and the LIF's spike counts of every step and the ExpLeak's v equal those of
    Sinabs's import of the graph (make_nir_sinabs_lif_refs.py) in float64."""
    ref = np.load(HERE / "sinabs_lif_scalar_sinabs.npz")
    net = lifgen.from_nir(HERE / "sinabs_lif_scalar.nir", convention="sinabs")
    assert net.populations["n_1"].n == 256 and net.populations["n_5"].n == 5
    result = lifgen.run_nir(net, {"input": ref["x"]}, record={"1": ["spikes"]})
    assert (ref["spikes1"] > 1).sum() > 1000
    assert np.array_equal(result["1"].traces["spikes"].reshape(ref["spikes1"].shape),
                          ref["spikes1"])
    assert np.max(np.abs(result.outputs["output"] - ref["out"])) < 1e-12


def test_per_channel_parameters_broadcast_over_a_convolution_s_output():
    """A LIF after a Conv2d with one tau and threshold per channel, shape (C, 1, 1) (as Sinabs
    writes a per-channel layer), runs as the same node with (C, H, W) arrays (its neurons
    numbered channels-last), and to_nir writes (C, 1, 1) back; channel values that do not
    broadcast to the convolution's output are an error naming the node and the shapes (it
    blamed the nodes after it)."""
    weight = np.random.default_rng(0).normal(0.5, 0.3, (3, 2, 3, 3))

    def graph(tau, threshold):
        nodes = {"input": nir.Input(input_type={"input": np.array([2, 6, 6])}),
                 "conv": nir.Conv2d(input_shape=(6, 6), weight=weight, stride=1, padding=1,
                                    dilation=1, groups=1, bias=np.zeros(3)),
                 "lif": nir.LIF(tau=tau, r=np.ones_like(tau), v_leak=np.zeros_like(tau),
                                v_threshold=threshold, v_reset=np.zeros_like(tau)),
                 "output": nir.Output(output_type={"output": np.array([3, 6, 6])})}
        return nir.NIRGraph(nodes=nodes, edges=[("input", "conv"), ("conv", "lif"),
                                                ("lif", "output")], type_check=False)
    tau = np.array([5e-3, 8e-3, 12e-3]).reshape(3, 1, 1)
    threshold = np.array([0.5, 0.4, 0.6]).reshape(3, 1, 1)
    channels = graph(tau, threshold)
    full = graph(np.broadcast_to(tau, (3, 6, 6)).copy(),
                 np.broadcast_to(threshold, (3, 6, 6)).copy())
    x = (np.random.default_rng(1).random((30, 2, 2, 6, 6)) < 0.3).astype(np.uint8)
    net = lifgen.from_nir(channels)
    assert net.populations["lif"].n == 108
    ours = lifgen.run_nir(net, {"input": x}).outputs["output"]
    assert ours.sum() > 0
    assert np.array_equal(ours, lifgen.run_nir(lifgen.from_nir(full), {"input": x})
                          .outputs["output"])
    assert lifgen.to_nir(net).nodes["lif"].v_threshold.shape == (3, 1, 1)
    with pytest.raises(InputError, match=r"node 'lif': its parameters of shape \(2, 1, 1\) do "
                                         r"not broadcast to the \(3, 6, 6\) values the edges "
                                         r"into it deliver"):
        lifgen.from_nir(graph(tau[:2], threshold[:2]))


def test_what_sinabs_s_import_refuses_is_refused():
    """Sinabs's from_nir raises for a LIF's or LI's v_leak other than 0 and an LI's r other
    than 1: so does convention="sinabs", naming the node and the field; a LIF's threshold of 0
    is refused as an IF's is; a node type Sinabs has no layer for names those it has."""
    def lif(**changed):
        fields = dict(tau=np.full(8, 5.0), r=np.ones(8), v_leak=np.zeros(8),
                      v_threshold=np.ones(8), v_reset=np.zeros(8))
        return nir.LIF(**{**fields, **changed})
    li = dict(tau=np.full(8, 5.0), r=np.ones(8), v_leak=np.zeros(8))
    for cell, message in (
            (lif(v_leak=np.full(8, 0.5)), r"node 'cell': Sinabs's import of LIF as LIFSqueeze "
                                          r"requires v_leak = 0 .*; it has 0.5"),
            (nir.LI(**{**li, "r": np.full(8, 2.0)}), r"node 'cell': .* LI as ExpLeakSqueeze "
                                                      r"requires r = 1 .*; it has 2"),
            (nir.LI(**{**li, "v_leak": np.full(8, -1.0)}), r"requires v_leak = 0"),
            (lif(v_threshold=np.zeros(8)), r"Sinabs's LIF spikes floor\(v / spike_threshold\) "
                                           r"times a step, so its v_threshold must be > 0"),
            (lif(tau=np.full(8, -1.0)), r"node 'cell': its tau must be positive \(a time "
                                        r"constant, in steps\)"),
            (nir.CubaLIF(tau_syn=np.full(8, 5.0), tau_mem=np.full(8, 5.0), r=np.ones(8),
                         v_leak=np.zeros(8), v_threshold=np.ones(8), v_reset=np.zeros(8),
                         w_in=np.ones(8)),
             r"Sinabs's from_nir has no CubaLIF; with convention='sinabs' the neuron nodes are "
             r"IF, LIF, LI")):
        with pytest.raises(InputError, match=message):
            lifgen.from_nir(_chain(cell), convention="sinabs")


@pytest.mark.parametrize("dtype, suffix, tolerance", [("float32", "", 1e-6),
                                                       ("float64", "64", 1e-12)])
def test_the_norse_convention_equals_norse(dtype, suffix, tolerance):
    """convention="norse" is Norse 1.1's from_nir (make_nir_norse_refs.py): a graph of LIF
    (v_leak 0.05), CubaLIF (r, w_in, v_leak 0.1) and IF layers, run a step at a time at Norse's
    dt = 1e-3 (forward Euler, reset to 0, the LIF's and the synapse's states starting at
    v_leak): every layer's spikes at every step equal Norse's, and the LIF's v to 1e-6 in
    float32 (1e-12 in float64, where Norse keeps its cells' parameters in float32 as lifgen
    does); the dt/tau factor is the float32 product Norse computes."""
    ref = np.load(HERE / "norse_ff_norse.npz")
    net = lifgen.from_nir(HERE / "norse_ff.nir", convention="norse")
    assert np.array_equal(np.float32(net.populations["lif"].params["dt_over_tau"]),
                          ref["k_lif"])
    result = lifgen.run_nir(net, {"input": ref["x"]}, dtype=dtype, record={"lif": ["v"]})
    for key in ("lif", "cubalif"):
        assert ref[key + suffix].sum() > 100
        assert np.array_equal(result[key].spikes, ref[key + suffix] > 0)
    assert np.array_equal(result.outputs["output"], ref["out" + suffix])
    assert np.max(np.abs(result["lif"].traces["v"] - ref["lif_v" + suffix])) < tolerance
    started_at_rest = lifgen.from_nir(HERE / "norse_ff.nir", convention="norse")
    started_at_rest.populations["lif"] = dataclasses.replace(
        started_at_rest.populations["lif"], initial={})
    other = lifgen.run_nir(started_at_rest, {"input": ref["x"]}, dtype=dtype)
    assert not np.array_equal(other["lif"].spikes, ref["lif" + suffix] > 0)


def test_the_papers_lif_under_norse_s_import():
    """The NIR paper's LIF (lif_norse.nir) as Norse imports it at the paper's dt = 1e-4 (a
    forward-Euler LIFBoxCell) on the paper's input current: the same spikes and v, float32."""
    ref = np.load(HERE / "lif_norse_norse.npz")
    net = lifgen.from_nir(HERE / "lif_norse.nir", convention="norse", dt=1e-4)
    result = lifgen.run_nir(net, {"input": ref["current"].reshape(-1, 1, 1)}, dtype="float32",
                            record={"1": ["v"]})
    assert ref["z"].sum() >= 3
    assert np.array_equal(result["1"].spikes.reshape(-1), ref["z"].reshape(-1) > 0)
    assert np.max(np.abs(result["1"].traces["v"].reshape(-1) - ref["v"].reshape(-1))) < 1e-6


@pytest.mark.parametrize("dtype, suffix, tolerance", [("float32", "", 1e-6),
                                                       ("float64", "64", 0.0)])
def test_norse_s_executor_order_is_followed(dtype, suffix, tolerance):
    """Norse's import runs a graph with nirtorch's executor, whose depth-first node order
    (children in the order of the edges) makes a node read a source that runs after it from the
    step before, nothing at the first step (norse_dag.nir: a merge, a recurrent Affine with a
    bias and a skip connection, each read late; arrays written in float64, which Norse reads as
    float32): those paths get a step's delay and their biases arrive from the second step (a
    source that spikes every step, through a projection of delay 1), and every layer's spikes
    at every step equal Norse's, the first layer's v exactly in float64."""
    ref = np.load(HERE / "norse_dag_norse.npz")
    net = lifgen.from_nir(HERE / "norse_dag.nir", convention="norse")
    delays = sorted((p.pre, p.post, p.delay) for p in net.projections)
    assert delays == [("input", "cuba", 1), ("input", "lif1", 0), ("input", "lif1", 1),
                      ("later_bias", "cuba", 1), ("later_bias", "lif1", 1), ("lif1", "cuba", 0),
                      ("lif1", "lif1", 1)]
    result = lifgen.run_nir(net, {"input": ref["x"]}, dtype=dtype, record={"lif1": ["v"]})
    for key in ("lif1", "cuba"):
        assert ref[key + suffix].sum() > 100
        assert np.array_equal(result[key].spikes, ref[key + suffix] > 0)
    assert np.max(np.abs(result["lif1"].traces["v"] - ref["lif1_v" + suffix])) <= tolerance
    as_nir_orders = lifgen.run_nir(lifgen.from_nir(HERE / "norse_dag.nir", dt=1e-3,
                                                   method="euler"), {"input": ref["x"]})
    assert not np.array_equal(as_nir_orders["lif1"].spikes, ref["lif1" + suffix] > 0)


def test_what_norse_s_import_does_not_read_is_said():
    """Norse's import does not read a LIF's or IF's r (it warns where r is not close to 1) or
    any v_reset (it resets to 0): convention="norse" follows it and warns from the caller's
    line, naming the node, the field and a value that differs (so does convention="snntorch"
    for v_reset, which snnTorch's import does not read either); a node Norse has no cell for is
    refused naming those it has; edge nodes Norse drops (Scale, Delay), cannot import
    (Conv1d, AvgPool2d) or pools differently (a SumPool2d's padding) are refused, and so is a
    graph of two Input nodes (Norse runs one, which one is arbitrary); a method is refused
    (Norse's steps are forward Euler)."""
    lif = dict(tau=np.full(8, 5e-3), r=np.ones(8), v_leak=np.zeros(8), v_threshold=np.ones(8),
               v_reset=np.zeros(8))
    for changed, message in (({"r": np.r_[1.0, 2.0, np.ones(6)]}, r"r \(it assumes 1; the "
                                                                  r"node has 2\)"),
                             ({"v_reset": np.full(8, -0.5)}, r"v_reset \(it assumes 0; the "
                                                             r"node has -0.5 and 7 more")):
        with pytest.warns(ConventionWarning, match=r"node 'cell': Norse's from_nir does not "
                                                   r"read LIF's " + message) as caught:
            lifgen.from_nir(_chain(nir.LIF(**{**lif, **changed})), convention="norse")
        assert caught[0].filename == __file__
    with pytest.warns(ConventionWarning, match=r"node 'cell': snnTorch's import_from_nir does "
                                               r"not read LIF's v_reset .*convention='snntorch' "
                                               r"follows it"):
        lifgen.from_nir(_chain(nir.LIF(**{**lif, "v_reset": np.full(8, 0.5)})),
                        convention="snntorch")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lifgen.from_nir(_chain(nir.LIF(**lif)), convention="norse")
        lifgen.from_nir(_chain(nir.LIF(**{**lif, "r": np.full(8, 1 + 1e-9)})),
                        convention="norse")
    cell = nir.LIF(**lif)
    for node, message in ((nir.Scale(scale=np.full(4, 2.0)), "drops it"),
                          (nir.Delay(delay=np.full(4, 1e-3)), "drops it"),
                          (nir.AvgPool2d(kernel_size=np.array([1, 1]), stride=np.array([1, 1]),
                                         padding=np.array([0, 0])), "has no AvgPool2d")):
        graph = _chain(cell)
        graph.nodes["edge"] = node
        graph.edges = [("input", "edge"), ("edge", "fc1")] + graph.edges[1:]
        with pytest.raises(InputError, match=rf"node 'edge': Norse's from_nir {message}.*"
                                             r"use convention='nir'"):
            lifgen.from_nir(graph, convention="norse")
    two = _chain(cell)
    two.nodes["input2"] = nir.Input(input_type={"input": np.array([4])})
    two.edges.append(("input2", "fc1"))
    with pytest.raises(InputError, match=r"the graph has 2 nodes no edge enters \('input', "
                                         r"'input2'\): Norse's import .* arbitrary"):
        lifgen.from_nir(two, convention="norse")
    lifgen.from_nir(two)  # (NIR's own semantics take both)
    with pytest.raises(InputError, match=r"node 'cell': Norse's from_nir has no LI; with "
                                         r"convention='norse' the neuron nodes are LIF, "
                                         r"CubaLIF, IF"):
        lifgen.from_nir(_chain(nir.LI(tau=np.full(8, 5e-3), r=np.ones(8), v_leak=np.zeros(8))),
                        convention="norse")
    with pytest.raises(InputError, match=r"convention='norse' runs Norse's forward-Euler "
                                         r"steps .*give no method"):
        lifgen.from_nir(_chain(nir.LIF(**lif)), convention="norse", method="euler")


@pytest.mark.parametrize("name, order", [("lif", 1), ("cubalif", 1), ("li", 1), ("cubali", 1),
                                         ("if", None), ("i", None)])
def test_verify_applies_to_the_nir_node_models(name, order):
    """`lifgen verify nir/NAME` (the library's NIR node models by name, as a pip install ships
    them) drives the node's input synapse as an input and passes for every method: euler's
    observed order 1 where the node leaks (an integrator, IF or I, is exact for every method on
    a held input); a non-spiking node's threshold of 3e38 does not scale the input to 1e37; a
    bias given as a parameter is refused, naming the input to drive instead."""
    report = lifgen.verify(f"nir/{name}", methods=("exact", "euler", "rk2", "rk4"))
    assert report.passed, report.verdicts()
    euler = [row for row in report.rows if row["method"] == "euler"]
    if order is not None:
        assert abs(euler[-1]["order"] - order) < 0.05
    assert max(row["max_error"] for row in euler) < 1.0
    with pytest.raises(InputError, match=r"b is the bias of synapse type (I|S), which verify "
                                         r"drives as an input: give --input (I|S)=const:VALUE"):
        lifgen.verify(f"nir/{name}", params={"b": 0.3})
    with pytest.raises(Exception, match=r"no model named 'nir/nope'; the library's nir/ "
                                        r"models: nir/cubali, nir/cubalif"):
        lifgen.verify("nir/nope")


# -- methods, conventions and discrete nodes -----------------------------------------------------

def test_from_nir_honours_method():
    """method="euler" integrates the LIF by Euler's step (v += dt/tau (v_leak - v + r I)), the
    default and "exact" by NIR's continuous time; an unknown method or one given with a discrete
    convention is an InputError."""
    graph = nir.read(str(HERE / "lif_norse.nir"))
    lif = graph.nodes["1"]
    tau, r = float(lif.tau[0]), float(lif.r[0])
    current = np.zeros((40, 1, 1))
    current[3:30] = 0.1
    traces = {}
    for method in ("euler", "exact", None):
        net = lifgen.from_nir(graph, dt=DT, method=method)
        traces[method] = lifgen.run_nir(net, {"input": current},
                                        record={"n_1": ["v"]})["n_1"].traces["v"].reshape(-1)
    v, euler = 0.0, []
    for i in current.reshape(-1):
        v += DT / tau * (float(lif.v_leak[0]) - v + r * i)
        euler.append(v)
    assert np.max(euler) < float(lif.v_threshold[0])
    assert np.max(np.abs(traces["euler"] - euler)) < 1e-12
    assert np.array_equal(traces["exact"], traces[None])
    assert np.max(np.abs(traces["exact"] - traces["euler"])) > 1e-4
    with pytest.raises(InputError, match="unknown method 'bogus'"):
        lifgen.from_nir(graph, method="bogus")
    with pytest.raises(InputError, match="give no method"):
        lifgen.from_nir(graph, method="euler", convention="snntorch")
    with pytest.raises(InputError, match="give no dt and no method"):
        lifgen.from_nir(HERE / "conv_small.nir", method="euler", convention="sinabs")


def test_a_threshold_node_runs_in_a_timed_network():
    """Input -> Affine -> LIF (continuous, dt in seconds) -> Affine -> Threshold (a discrete
    map): the Threshold population joins the timed network and spikes wherever its input,
    the LIF's weighted spikes of the same step, exceeds its threshold."""
    n = 3
    graph = nir.NIRGraph(nodes={
        "input": nir.Input(input_type={"input": np.array([2])}),
        "a1": nir.Affine(weight=np.full((n, 2), 0.6), bias=np.zeros(n)),
        "lif": nir.LIF(tau=np.full(n, 1e-3), r=np.full(n, 10.0), v_leak=np.zeros(n),
                       v_threshold=np.array([1.0, 2.0, 4.0])),
        "a2": nir.Affine(weight=np.array([[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]]), bias=np.zeros(2)),
        "thr": nir.Threshold(threshold=np.array([1.5, 0.5])),
        "output": nir.Output(output_type={"output": np.array([2])})},
        edges=[("input", "a1"), ("a1", "lif"), ("lif", "a2"), ("a2", "thr"), ("thr", "output")])
    x = np.zeros((60, 1, 2), np.uint8)
    x[2:40:3] = 1
    result = lifgen.run_nir(lifgen.from_nir(graph, dt=DT), {"input": x})
    lif = result["lif"].spikes.reshape(60, n).astype(float)
    expected = lif @ np.array([[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]]).T > np.array([1.5, 0.5])
    assert lif.sum() > 0 and expected.sum() > 0
    assert np.array_equal(result.outputs["output"].reshape(60, 2), expected)


@pytest.mark.parametrize("kind", ["leaky", "synaptic", "rleaky", "rsynaptic"])
def test_snntorch_exported_networks_equal_snntorchs_forward_pass(kind):
    """fc1 -> Leaky / Synaptic / RLeaky / RSynaptic -> fc2 -> Leaky exported by snnTorch 1.0's
    export_to_nir (nir 1.0.8; make_nir_snntorch_export_refs.py), convention="snntorch",
    float32: snnTorch's own forward pass of the network, spikes exactly, membranes (and synaptic
    currents) to 1e-5 relative to their largest magnitude."""
    ref = np.load(HERE / f"snntorch_export_{kind}.npz")
    net = lifgen.from_nir(HERE / f"snntorch_export_{kind}.nir", convention="snntorch")
    first = "lif1_lif" if kind.startswith("r") else "lif1"
    states = ["V", "I_syn"] if kind.endswith("synaptic") else ["V"]
    result = lifgen.run_nir(net, {"input": ref["input"]}, dtype="float32",
                            record={first: states, "lif2": ["V"]})
    assert ref["spk1"].sum() > 100 and ref["spk2"].sum() > 10
    assert np.array_equal(result[first].spikes, ref["spk1"] != 0)
    assert np.array_equal(result.outputs["output"], ref["spk2"] != 0)
    for got, want in ((result[first].traces["V"], ref["mem1"]),
                      (result["lif2"].traces["V"], ref["mem2"])) + (
            ((result[first].traces["I_syn"], ref["syn1"]),) if len(states) == 2 else ()):
        assert np.max(np.abs(got - want)) < 1e-5 * max(1.0, np.abs(want).max())


@pytest.mark.parametrize("where", ["pre", "post"])
def test_per_element_delays_are_sparse_delays(where):
    """A Delay node with one delay per element (0, 1 and 3 steps), before the Affine (each
    input's events delayed by its delay) or after it (each output's): a lifgen.Sparse with those
    delays per synapse; the Threshold after it spikes as NumPy says."""
    d = np.array([0, 1, 3])
    w = np.array([[0.6, 0.5, 0.0], [0.0, 0.7, 0.4], [0.5, 0.0, 0.9]])
    nodes = {"input": nir.Input(input_type={"input": np.array([3])}),
             "delay": nir.Delay(delay=d * DT),
             "affine": nir.Affine(weight=w, bias=np.zeros(3)),
             "thr": nir.Threshold(threshold=np.full(3, 0.55)),
             "output": nir.Output(output_type={"output": np.array([3])})}
    chain = ["input", "delay", "affine", "thr"] if where == "pre" else \
        ["input", "affine", "delay", "thr"]
    graph = nir.NIRGraph(nodes=nodes, edges=[*zip(chain, chain[1:]), ("thr", "output")],
                         type_check=False)
    net = lifgen.from_nir(graph, dt=DT)
    assert [p.kind for p in net.projections] == ["sparse"]
    x = (np.random.default_rng(2).random((40, 2, 3)) < 0.4).astype(np.uint8)
    out = lifgen.run_nir(net, {"input": x}).outputs["output"]
    late = np.zeros((40, 2, 3, 3))  # [t, row, post, pre]: x[t - delay] of that synapse
    for i in range(3):
        for j in range(3):
            k = d[j] if where == "pre" else d[i]
            late[k:, :, i, j] = x[:40 - k, :, j]
    expected = (late * w).sum(-1) > 0.55
    assert expected.sum() > 10 and np.array_equal(out, expected)
    mixed = dict(nodes, affine2=nir.Affine(weight=w, bias=np.zeros(3)))
    mixed_edges = [("input", "affine"), ("affine", "delay"), ("delay", "affine2"),
                   ("affine2", "thr"), ("thr", "output")]
    with pytest.raises(InputError, match="per-element delays followed by a map that mixes"):
        lifgen.from_nir(nir.NIRGraph(nodes=mixed, edges=mixed_edges, type_check=False), dt=DT)


def conv1d_graph():
    rng = np.random.default_rng(8)
    w = rng.normal(0.5, 0.4, (4, 2, 3))
    return nir.NIRGraph(nodes={
        "input": nir.Input(input_type={"input": np.array([4, 20])}),
        "conv": nir.Conv1d(input_shape=20, weight=w, stride=2, padding=2, dilation=2, groups=2,
                           bias=np.array([0.1, 0.0, -0.1, 0.05])),
        "if1": nir.IF(r=np.ones((4, 10)), v_threshold=np.ones((4, 10)), v_reset=np.zeros((4, 10))),
        "output": nir.Output(output_type={"output": np.array([4, 10])})},
        edges=[("input", "conv"), ("conv", "if1"), ("if1", "output")], type_check=False)


@pytest.mark.parametrize("case, dtype", [("cnn", "float32"), ("small", "float64"),
                                         ("conv1d", "float32")])
def test_the_kernel_delivery_of_a_convolution_is_its_sparse_one_bit_for_bit(case, dtype):
    """convolutions="kernel" (projection kind "conv2d": the kernel and tables of the geometry,
    no per-synapse index) against convolutions="sparse" (the generated lifgen.Sparse): every
    population's spikes and states equal bit for bit. A target receives at most one event per
    presynaptic spike, so both add its events in the order of the spikes."""
    graph, x = {
        "cnn": lambda: (HERE / "cnn_sinabs.nir", np.load(HERE / "cnn_sinabs_sinabs.npz")["x"]),
        "small": lambda: (HERE / "conv_small.nir", np.load(HERE / "conv_small_sinabs.npz")["x"]),
        "conv1d": lambda: (conv1d_graph(), (np.random.default_rng(1).random((50, 2, 4, 20))
                                            < 0.3).astype(np.uint8))}[case]()
    runs = {}
    for mode in ("kernel", "sparse"):
        net = lifgen.from_nir(graph, convention="sinabs_single", convolutions=mode)
        kinds = {p.kind for p in net.projections}
        assert ("conv2d" in kinds) == (mode == "kernel")
        names = [name for name in net.populations if name != "input"]
        runs[mode] = lifgen.run_nir(net, {"input": x}, dtype=dtype,
                                    record={name: ["v"] for name in names})
    assert runs["kernel"].outputs["output"].sum() > 10
    for name in names:
        assert np.array_equal(runs["kernel"][name].spikes, runs["sparse"][name].spikes), name
        assert np.array_equal(runs["kernel"][name].traces["v"], runs["sparse"][name].traces["v"])
    if case == "small":
        assert np.array_equal(runs["kernel"].outputs["output"].reshape(80, 2, -1),
                              np.load(HERE / "conv_small_sinabs.npz")["out"] != 0)


def test_a_convolution_stores_its_kernel_and_tables(python_target):
    """The conv2d projection stores the kernel (not an index per synapse) and tables of the
    geometry; Convolution.n_synapses counts the Sparse it stands for; the Python printing of the
    program gives the C program's numbers."""
    conv = lifgen.from_nir(HERE / "conv_small.nir", convention="sinabs")
    sparse = lifgen.from_nir(HERE / "conv_small.nir", convention="sinabs", convolutions="sparse")
    kernel = next(p for p in conv.projections if p.kind == "conv2d")
    generated = next(p for p in sparse.projections if p.pre == kernel.pre)
    assert kernel.weights.size == 6 * 2 * 3 * 3
    tables = sum(a.nbytes for a in kernel.runs.values())  # 16 bytes per input neuron
    assert tables <= 16 * 4 * 12 * 12 + 4 * (12 * 3) * 2 + 4  # (+ per_group)
    from lifgen.runtime.convolution import Convolution
    node = nir.read(str(HERE / "conv_small.nir"), type_check=False).nodes["conv1"]
    assert Convolution(node.weight, (4, 12, 12), (2, 2), (1, 1), (2, 2), 2).n_synapses \
        == generated.n_synapses > tables / 8
    x = np.load(HERE / "conv_small_sinabs.npz")["x"][:30]
    c = lifgen.run_nir(conv, {"input": x}, record={"if1": ["v"]})
    python = lifgen.run_nir(conv, {"input": x}, record={"if1": ["v"]}, target="python")
    assert np.array_equal(c["if1"].traces["v"], python["if1"].traces["v"])
    assert np.array_equal(c.outputs["output"], python.outputs["output"])


def pool_conv_graph(threshold=np.ones((6, 4, 3)), groups=2):
    """AvgPool2d(2) then a (grouped,) strided, padded Conv2d, then IF: a pool the convolution
    takes into its kernel."""
    rng = np.random.default_rng(4)
    return nir.NIRGraph(nodes={
        "input": nir.Input(input_type={"input": np.array([4, 8, 10])}),
        "pool": nir.AvgPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]),
                              padding=np.array([0, 0])),
        "conv": nir.Conv2d(input_shape=(4, 5), weight=rng.normal(0.1, 0.3, (6, 4 // groups, 3, 2)),
                           stride=(1, 2), padding=(1, 1), dilation=1, groups=groups,
                           bias=np.linspace(-0.1, 0.1, 6)),
        "if1": nir.IF(r=np.ones((6, 4, 3)), v_threshold=threshold,
                      v_reset=np.zeros((6, 4, 3))),
        "output": nir.Output(output_type={"output": np.array([6, 4, 3])})},
        edges=[("input", "pool"), ("pool", "conv"), ("conv", "if1"), ("if1", "output")],
        type_check=False)


def test_a_pool_before_a_convolution_is_folded_into_its_kernel():
    """A pool (window = stride, no padding) then a convolution is one Convolution over the
    pool's input (each weight repeated over a window, times 1/4 for an average), delivered
    channels-last into a population numbered channels-last: the same numbers bit for bit as the
    generated Sparse (float64), spikes and states put back in NIR's (channel, row, column) order
    in results and outputs alike; spikes="count" keeps counts only, the same outputs."""
    from lifgen.runtime.convolution import channels_last_order
    x = (np.random.default_rng(2).random((40, 2, 4, 8, 10)) < 0.3).astype(np.uint8)
    runs = {}
    for mode in ("kernel", "sparse"):
        net = lifgen.from_nir(pool_conv_graph(), convention="sinabs", convolutions=mode)
        assert [p.kind for p in net.projections] == ["conv2d" if mode == "kernel" else "sparse"]
        assert net.nir.channels_last == {"if1": (6, 4, 3)}
        runs[mode] = lifgen.run_nir(net, {"input": x}, record={"if1": ["v"]})
    kernel, sparse = runs["kernel"], runs["sparse"]
    assert 50 < kernel["if1"].spike_count.sum() < kernel["if1"].spikes.size
    assert np.array_equal(kernel["if1"].traces["v"], sparse["if1"].traces["v"])
    assert np.array_equal(kernel.outputs["output"], sparse.outputs["output"])
    assert np.array_equal(kernel.outputs["output"].sum(0).reshape(2, -1),
                          kernel["if1"].spike_count)
    assert np.array_equal(kernel.outputs["output"].reshape(40, 2, -1) > 0, kernel["if1"].spikes)
    counted = lifgen.run_nir(net, {"input": x}, spikes="count")
    assert counted["if1"].spikes is None
    assert np.array_equal(counted.outputs["output"], sparse.outputs["output"])
    assert np.array_equal(counted["if1"].spike_count, sparse["if1"].spike_count)
    order = channels_last_order((6, 4, 3))  # (row, column, channel) -> (channel, row, column)
    assert np.array_equal(net.nir.in_nir_order("if1", np.arange(72)[order]), np.arange(72))
    # per-neuron parameters follow the neurons: channel 1 and row 0 of the rest never spike,
    # and to_nir writes them back in NIR's order
    threshold = np.ones((6, 4, 3))
    threshold[1], threshold[:, 0] = 1e9, 1e9
    silent = lifgen.run_nir(lifgen.from_nir(pool_conv_graph(threshold), convention="sinabs"),
                            {"input": x}).outputs["output"].sum((0, 1))
    assert silent[1].sum() == silent[:, 0].sum() == 0 and silent.sum() > 50
    graph = pool_conv_graph(np.linspace(0.5, 2.0, 72).reshape(6, 4, 3), groups=1)
    assert np.array_equal(lifgen.to_nir(lifgen.from_nir(graph)).nodes["if1"].v_threshold,
                          graph.nodes["if1"].v_threshold)


def test_a_convolution_into_neurons_in_channel_order_is_its_sparse():
    """lifgen.Convolution with its outputs numbered (channel, row, column) (the default; its
    run of output columns added channel by channel) and a dense projection into the same
    population: the same numbers bit for bit as the convolution's Sparse."""
    from lifgen.interop.nir_import import window_map
    from lifgen.interop.nir_models import model_path
    from lifgen.runtime.convolution import Convolution
    rng = np.random.default_rng(5)
    conv = Convolution(rng.normal(0.4, 0.5, (4, 1, 3, 3)), (2, 7, 6), (2, 1), (1, 1), (1, 2), 2)
    matrix, _ = window_map((2, 7, 6), conv.weight, (2, 1), (1, 1), (1, 2), 2, "conv")
    coo = matrix.tocoo()
    sparse = lifgen.Sparse.from_arrays(coo.col, coo.row, coo.data, 0, n_pre=84,
                                       n_post=conv.n_post)
    assert conv.n_synapses == coo.nnz
    x = (rng.random((60, 1, 84)) < 0.3).astype(np.uint8)
    dense = rng.normal(0.0, 0.1, (conv.n_post, 84))
    out = {}
    for name, weights in (("conv", conv), ("sparse", sparse)):
        net = lifgen.Network(dt="1 ms")
        net.add_source("x", x)
        net.add("p", model_path("sinabs_iaf"), conv.n_post,
                params={"threshold": 1.0, "v_min": -1.0})
        net.connect("x", "p", "I", weights, delay=0 if name == "conv" else 1)
        net.connect("x", "p", "I", dense, delay=0)
        out[name] = net.compile().run(60, record={"p": ["v"]}, spikes="raster")
    assert out["conv"]["p"].spike_count.sum() > 50
    assert np.array_equal(out["conv"]["p"].spikes, out["sparse"]["p"].spikes)
    assert np.array_equal(out["conv"]["p"].traces["v"], out["sparse"]["p"].traces["v"])


def _channels_last_sparse(conv, delay):
    """The Sparse of `conv` (its window map) with its inputs and outputs numbered as `conv`
    numbers them."""
    from lifgen.interop.nir_import import window_map
    from lifgen.runtime.convolution import channels_last_order
    matrix, _ = window_map(conv.in_shape, conv.weight, conv.stride, conv.padding, conv.dilation,
                           conv.groups, "conv")
    matrix = matrix.tocsr()[channels_last_order(conv.out_shape)]
    if conv.inputs_last:
        matrix = matrix[:, channels_last_order(conv.in_shape)]
    coo = matrix.tocoo()
    return lifgen.Sparse.from_arrays(coo.col, coo.row, coo.data, delay, n_pre=conv.n_pre,
                                     n_post=conv.n_post)


@pytest.mark.parametrize("kernel, stride, padding", [
    ((5, 5), (2, 2), (1, 1)), ((6, 6), (2, 2), (2, 2)), ((4, 3), (3, 1), (0, 2)),
    ((3, 2), (1, 2), (1, 0))])
def test_a_strided_convolution_delivered_in_blocks_is_its_sparse(kernel, stride, padding,
                                                                 python_target):
    """Strided, undilated, ungrouped Convolutions into populations numbered channels-last add
    each spike's kernel taps to a block of a padded plane (fixed loop sizes; a tap of zero
    where the stride leaves a block position without one), then the plane's reached rows into
    the ring: the same numbers bit for bit as their Sparse, in float32 and float64, on one
    thread and on two (each batch row its own plane), with input spikes in a moving band of
    rows (the rows each step folds back vary), for spikes of a source and spike counts
    of neurons (Sinabs's MultiSpike), with a delay of 2 steps; the Python printing of the
    program gives the same numbers. The C says which delivery it
    compiled; beside a dense projection into the same synapse type (whose events the ring
    holds before the plane's) a convolution delivers as before, with its Sparse's numbers, as
    do one of stride 1 and one whose stride passes its kernel."""
    from lifgen.interop.nir_models import model_path
    from lifgen.runtime.convolution import Convolution
    rng = np.random.default_rng(sum(kernel + stride + padding))
    first = Convolution(rng.normal(0.3, 0.5, (5, 3, *kernel)), (3, 13, 11), stride, padding,
                        inputs_last=False, outputs_last=True)
    second = Convolution(rng.normal(0.3, 0.5, (4, 5, *kernel)), first.out_shape, stride,
                         padding, inputs_last=True, outputs_last=True)
    assert first.block_geometry() and second.block_geometry()
    for other in ((1, 1), (3, 1)):  # stride 1, and a stride past the kernel, keep their runs
        assert not Convolution(np.ones((2, 3, 2, 2)), (3, 9, 9), other,
                               outputs_last=True).block_geometry()
    # each step's input spikes in a band of rows that moves (the rows a step reaches vary)
    band = np.abs(np.arange(13) - (np.arange(40)[:, None] % 16)) < 3
    x = ((rng.random((40, 3, 3, 13, 11)) < 0.5) & band[:, None, None, :, None]).astype(
        np.uint8).reshape(40, 3, first.n_pre)
    dense = rng.normal(0.0, 0.1, (first.n_post, first.n_pre))

    def network(convolutions, beside=False):
        net = lifgen.Network(dt="1 ms")
        net.add_source("x", x)
        for name, conv in (("a", first), ("b", second)):
            net.add(name, model_path("sinabs_iaf_multi"), conv.n_post,
                    params={"threshold": 0.7, "v_min": -1.0})
        for pre, post, weights in (("x", "a", convolutions[0]), ("a", "b", convolutions[1])):
            net.connect(pre, post, "I", weights,
                        **({} if isinstance(weights, lifgen.Sparse) else {"delay": 2}))
        if beside:
            net.connect("x", "a", "I", dense, delay=0)
        return net

    sparse = (_channels_last_sparse(first, 2), _channels_last_sparse(second, 2))
    for dtype, threads in (("float32", 1), ("float64", 2)):
        runs = {}
        for name, pair in (("blocks", (first, second)), ("sparse", sparse)):
            simulator = network(pair).compile(threads=threads, dtype=dtype)
            runs[name] = simulator.run(40, record={"a": ["v", "spikes"], "b": ["v"]},
                                       spikes="raster")
            assert ("through a padded plane" in simulator.source()) == (name == "blocks")
        assert runs["blocks"]["a"].spike_count.sum() > 100
        assert runs["blocks"]["b"].spike_count.sum() > 100
        assert (runs["blocks"]["a"].traces["spikes"] > 1).any()  # steps of several spikes
        for population in ("a", "b"):
            assert np.array_equal(runs["blocks"][population].spikes,
                                  runs["sparse"][population].spikes)
            assert np.array_equal(runs["blocks"][population].traces["v"],
                                  runs["sparse"][population].traces["v"])
    python = network((first, second)).compile(target="python").run(12, record={"b": ["v"]})
    assert np.array_equal(python["b"].traces["v"], runs["blocks"]["b"].traces["v"][:12])
    beside = {}
    for name, pair in (("conv", (first, second)), ("sparse", sparse)):
        simulator = network(pair, beside=True).compile()
        beside[name] = simulator.run(40, record={"a": ["v"]})
        assert "x -> a.I (conv2d, delay 2), through" not in simulator.source()
        assert ("a -> b.I (conv2d, delay 2), through" in simulator.source()) == (name == "conv")
    assert np.array_equal(beside["conv"]["a"].traces["v"], beside["sparse"]["a"].traces["v"])


def crossings(b, tau, level, steps, v=0.0):
    """One LIF (r = 1, v_leak = 0, v_threshold = 1) under a constant input b, in NIR's
    continuous time: a restart at `level` at every crossing; the voltage at each step's end and
    the crossings of each step."""
    voltages, counts = [], []
    for _ in range(steps):
        left, n = DT, 0
        while b > 1.0 and v < 1.0 and tau * math.log((v - b) / (1.0 - b)) <= left:
            left -= tau * math.log((v - b) / (1.0 - b))
            v, n = level, n + 1
        v = b + (v - b) * math.exp(-left / tau)
        voltages.append(v)
        counts.append(n)
    return np.array(voltages), np.array(counts)


@pytest.mark.parametrize("reset, level", [("zero", -0.2), ("subtract", 0.0)])
def test_a_lif_crossing_many_times_in_a_step_ends_it_where_nir_time_does(reset, level):
    """NIR's LIF driven past its threshold several times per step (up to 20 crossings): each
    step ends where the continuous-time solution does after every reset, to 1e-12 (it ended far
    above the threshold, up to v = 2335, and diverged), and emits one spike where it crossed."""
    from lifgen.interop.nir_models import model_path

    b = np.array([0.5, 1.2, 3.0, 10.0, 40.0])
    simulator = lifgen.compile(model_path("lif"), method="exact", dt=DT, reset=reset)
    result = simulator.run(50, b.size, params={"tau": 2e-4, "b": b, "v_reset": -0.2},
                           record=["v"])
    most = 0
    for k, drive in enumerate(b):
        v, counts = crossings(drive, 2e-4, level, 50)
        assert np.max(np.abs(result.traces["v"][:, k] - v)) < 1e-12
        assert np.array_equal(result.spikes[:, k], counts > 0)
        most = max(most, counts.max())
    assert most >= 17 and np.all(result.traces["v"] < 1.0)
    # a step that starts above the threshold (an initial state) spikes and ends at the reset
    start = simulator.run(1, 1, params={"tau": 2e-4, "b": 0.5, "v_reset": -0.2},
                          initial={"v": 2.0}, record=["v"])
    assert start.spikes[0, 0]
    assert abs(start.traces["v"][0, 0] - (-0.2 if reset == "zero" else 0.0)) < 1e-12


@pytest.mark.parametrize("node", [
    lambda: nir.LI(tau=np.full(2, 2e-3), r=np.ones(2), v_leak=np.zeros(2)),
    lambda: nir.CubaLI(tau_syn=np.full(2, 1e-3), tau_mem=np.full(2, 2e-3), r=np.ones(2),
                       v_leak=np.zeros(2)),
    lambda: nir.I(r=np.ones(2))], ids=["LI", "CubaLI", "I"])
def test_non_spiking_nodes_run_in_float32(node):
    """The LI, CubaLI and I nodes (readouts: their output is v) run in float32 as in float64
    (their never-reached threshold was 1e300, beyond float32: a ModelError)."""
    graph = nir.NIRGraph(nodes={"input": nir.Input(input_type={"input": np.array([3])}),
                                "w": nir.Linear(weight=np.array([[1.0, 0.5, 0.0],
                                                                 [0.0, 2.0, 1.0]])),
                                "li": node(), "output": nir.Output(output_type={
                                    "output": np.array([2])})},
                         edges=[("input", "w"), ("w", "li"), ("li", "output")])
    net = lifgen.from_nir(graph)
    x = (np.random.default_rng(1).random((80, 2, 3)) < 0.3).astype(np.float32)
    single = lifgen.run_nir(net, {"input": x}, dtype="float32").outputs["output"]
    double = lifgen.run_nir(net, {"input": x}, dtype="float64").outputs["output"]
    assert single.shape == double.shape == (80, 2, 2) and np.max(np.abs(double)) > 0.005
    assert np.max(np.abs(single - double)) < 1e-5 * max(1.0, np.max(np.abs(double)))


def test_results_keep_the_batch_axis_at_batch_1():
    """Every array of a run_nir result has its batch axis at batch 1 as at batch 3 (a network
    run left it out of the populations' spikes, traces, counts and states, though not of the
    outputs)."""
    net = lifgen.from_nir(HERE / "braille_noDelay_bias_zero.nir", convention="snntorch")
    name = next(p for p in net.populations if p != "input" and net.populations[p].n == 38)
    x = (np.random.default_rng(2).random((20, 3, 12)) < 0.2).astype(np.uint8)
    runs = {}
    for batch in (3, 1):
        key = next(k for k, p in net.nir.populations.items() if p == name)  # "lif1.lif"
        result = lifgen.run_nir(net, {"input": x[:, :batch]}, record={key: ["V"]})
        population = result[name]
        assert result.outputs["output"].shape == (20, batch, 7)
        assert population.spikes.shape == (20, batch, 38)
        assert population.traces["V"].shape == (20, batch, 38)
        assert population.spike_count.shape == population.state["V"].shape == (batch, 38)
        runs[batch] = population
    # the same numbers as the first row of the batch of 3
    assert np.array_equal(runs[1].spikes[:, 0], runs[3].spikes[:, 0])
    assert np.array_equal(runs[1].traces["V"][:, 0], runs[3].traces["V"][:, 0])


def test_to_nir_writes_nir_parameters_back_and_refuses_what_it_cannot():
    """Under convention "nir" a changed parameter is written to its node; under a tool's
    convention (its populations hold beta and scaled thresholds) and for b (the Affine biases
    before a node) to_nir refuses the change, naming it, instead of writing the original."""
    graph = nir.read(str(HERE / "lif_norse.nir"))
    net = lifgen.from_nir(graph)
    name = net.nir.populations["1"]
    net.populations[name].params["v_threshold"] = np.full(1, 0.25)
    assert np.array_equal(lifgen.to_nir(net).nodes["1"].v_threshold, np.full(1, 0.25, np.float32))
    net.populations[name].params["b"] = np.full(1, 0.5)
    with pytest.raises(InputError, match=f"population {name!r} has b changed since from_nir"):
        lifgen.to_nir(net)
    braille = lifgen.from_nir(HERE / "braille_noDelay_bias_zero.nir", convention="snntorch")
    lifgen.to_nir(braille)  # unchanged: written as it was read
    population = next(p for p in braille.populations.values() if p.n == 7)
    population.params["threshold"] = np.asarray(population.params["threshold"]) * 2
    with pytest.raises(InputError, match="threshold changed since from_nir.*convention 'snntorch'"):
        lifgen.to_nir(braille)


def test_to_nir_writes_a_grouped_convolution(tmp_path):
    """A graph with a grouped Conv2d (which nir 1.0.8's type inference gets wrong: its
    NIRGraph raised a ValueError) is written as it was read, and runs the same read back."""
    net = lifgen.from_nir(HERE / "conv_small.nir", convention="sinabs_single")
    lifgen.to_nir(net, tmp_path / "back.nir")
    x = np.load(HERE / "conv_small_sinabs.npz")["x"]
    back = lifgen.from_nir(tmp_path / "back.nir", convention="sinabs_single")
    assert np.array_equal(lifgen.run_nir(back, {"input": x}).outputs["output"],
                          lifgen.run_nir(net, {"input": x}).outputs["output"])


def test_run_nir_takes_numpy_dtypes_and_refuses_complex_inputs():
    """dtype=np.float32 is "float32"; a complex input is an InputError (it was cut to its real
    part with only NumPy's ComplexWarning)."""
    net = lifgen.from_nir(HERE / "braille_noDelay_bias_zero.nir", convention="snntorch")
    x = (np.random.default_rng(3).random((10, 2, 12)) < 0.2).astype(np.uint8)
    assert np.array_equal(lifgen.run_nir(net, {"input": x}, dtype=np.float32).outputs["output"],
                          lifgen.run_nir(net, {"input": x}, dtype="float32").outputs["output"])
    with pytest.raises(InputError, match="real numbers, not complex128"):
        lifgen.run_nir(net, {"input": x + 0.5j})
    with pytest.raises(InputError, match="dtype"):
        lifgen.run_nir(net, {"input": x}, dtype=np.int8)


@pytest.mark.parametrize("reset, level", [("zero", -0.2), ("subtract", 0.0)])
def test_an_if_restarts_at_each_crossing_instant(reset, level):
    """NIR's IF (dv/dt = r I) in continuous time: v restarts from v_reset (or 0: "subtract") at
    each crossing and keeps the rest of the step's rise (it was set to v_reset at the step's
    end, losing it), one spike per step that crosses; a rise ending exactly at the threshold
    does not cross it."""
    from lifgen.interop.nir_models import model_path

    b = np.array([100.0, 5000.0, 15000.0, 60000.0, -3000.0])  # rises of 0.01 .. 6 per step
    simulator = lifgen.compile(model_path("if"), method="exact", dt=DT, reset=reset)
    result = simulator.run(40, b.size, params={"b": b, "v_reset": -0.2}, record=["v"])
    for k, drive in enumerate(b):
        v, voltages, counts = 0.0, [], []
        for _ in range(40):
            rise, n = drive * DT, 0
            while v + rise > 1.0:
                rise, v, n = rise - (1.0 - v), level, n + 1
            v += rise
            voltages.append(v)
            counts.append(n)
        assert np.max(np.abs(result.traces["v"][:, k] - voltages)) < 1e-12
        assert np.array_equal(result.spikes[:, k], np.array(counts) > 0)
    assert np.all(result.traces["v"] <= 1.0) and result.spikes[:, 3].sum() == 40


def test_to_nir_takes_equal_values_and_refuses_changed_projections():
    """A parameter set again to its value in another float type is unchanged for to_nir; a
    projection replaced since from_nir is refused (the graph's edge nodes are written as they
    were). record= merges a node key's states with its population's; a cached program is kept
    while it is used (the least recently used goes first)."""
    import dataclasses

    from lifgen.interop.nir_run import KEPT_PROGRAMS

    net = lifgen.from_nir(HERE / "braille_noDelay_bias_zero.nir", convention="snntorch")
    for population in net.populations.values():
        for name, value in getattr(population, "params", {}).items():
            population.params[name] = np.asarray(value, np.float32)
    lifgen.to_nir(net)
    net.projections[0] = dataclasses.replace(net.projections[0])
    with pytest.raises(InputError, match="projections changed since from_nir"):
        lifgen.to_nir(net)
    net = lifgen.from_nir(HERE / "braille_noDelay_bias_zero.nir", convention="snntorch")
    x = (np.random.default_rng(4).random((10, 1, 12)) < 0.2).astype(np.uint8)
    result = lifgen.run_nir(net, {"input": x}, record={"lif1.lif": ["V"], "lif1_lif": ["I_syn"]})
    assert set(result["lif1_lif"].traces) == {"V", "I_syn"}
    with pytest.raises(InputError, match=r"'nope' is no node of the graph; its neuron nodes "
                                         r"are \['lif1.lif', 'lif2'\]"):
        lifgen.run_nir(net, {"input": x}, record={"nope": ["V"]})
    first = next(iter(net.nir.simulators))
    for batch in range(2, KEPT_PROGRAMS + 3):
        lifgen.run_nir(net, {"input": np.zeros((2, batch, 12), np.uint8)})
        lifgen.run_nir(net, {"input": x})  # the first program, used again each time
    assert first in net.nir.simulators and len(net.nir.simulators) == KEPT_PROGRAMS


def test_a_costly_reset_is_computed_only_where_the_neuron_resets():
    """The LIF's reset (logarithms and a power) is computed under the reset's branch, not in
    every neuron at every step and then selected; a cheap reset (v_reset) stays a select."""
    from lifgen.interop.nir_models import model_path

    costly = lifgen.compile(model_path("lif"), method="exact", dt=DT).c_source
    body = costly[costly.index("reset (zero)"):]
    assert "where it resets: its functions are costly" in body
    assert body.index("if (lg_reset)") < body.index("lg_log(")
    cheap = lifgen.compile(model_path("cubalif"), method="exact", dt=DT).c_source
    assert "its functions are costly" not in cheap and "if (lg_reset)" not in cheap


def test_graphs_lifgen_would_run_wrong_are_refused_with_the_node_named():
    """A non-spiking node (LI, CubaLI, I) feeding a node (its state reached nothing: the
    projection carried its spikes, of which it has none), an Output node declared smaller than
    what feeds it (a raw ValueError in run_nir), a time constant of 0 or below (NaN, or a state
    growing the wrong way): InputErrors naming the node."""
    def graph(first, second=None, out=2):
        nodes = {"input": nir.Input(input_type={"input": np.array([3])}),
                 "w": nir.Linear(weight=np.ones((2, 3))), "a": first,
                 "output": nir.Output(output_type={"output": np.array([out])})}
        edges = [("input", "w"), ("w", "a")]
        if second is None:
            edges.append(("a", "output"))
        else:
            nodes.update({"w2": nir.Linear(weight=np.ones((2, 2))), "b": second})
            edges += [("a", "w2"), ("w2", "b"), ("b", "output")]
        return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)

    li = nir.LI(tau=np.full(2, 1e-3), r=np.ones(2), v_leak=np.zeros(2))
    with pytest.raises(InputError, match="node 'a' \\(LI\\) emits its state, not spikes, and "
                                         "feeds node 'b'"):
        lifgen.from_nir(graph(li, nir.LI(tau=np.full(2, 1e-3), r=np.ones(2),
                                         v_leak=np.zeros(2))))
    with pytest.raises(InputError, match="Output node 'output' is declared \\(5,\\)"):
        lifgen.from_nir(graph(li, out=5))
    bare = nir.NIRGraph(nodes={"input": nir.Input(input_type={"input": np.array([3])}),
                               "output": nir.Output(output_type={"output": np.array([3])})},
                        edges=[("input", "output")], type_check=False)
    with pytest.raises(InputError, match="the graph has no neuron node"):
        lifgen.from_nir(bare)
    empty = nir.NIRGraph(nodes={"input": nir.Input(input_type={"input": np.array([0])}),
                                "a": li, "output": nir.Output(output_type={"output": np.array([2])})},
                         edges=[("input", "a"), ("a", "output")], type_check=False)
    with pytest.raises(InputError, match=r"Input node 'input' has shape \(0,\): no element"):
        lifgen.from_nir(empty)
    for tau in (0.0, -1e-3):
        with pytest.raises(InputError, match="node 'a'.*its tau must be positive"):
            lifgen.from_nir(graph(nir.LIF(tau=np.array([1e-3, tau]), r=np.ones(2),
                                          v_leak=np.zeros(2), v_threshold=np.ones(2),
                                          v_reset=np.zeros(2))))


def test_an_if_starting_above_its_threshold_crosses_at_once_and_then_falls():
    """An IF whose v starts above its threshold (here a negative one) spikes at the step's start,
    restarts from v_reset and then rises or falls by r I dt (it stayed at the threshold)."""
    from lifgen.interop.nir_models import model_path

    simulator = lifgen.compile(model_path("if"), method="exact", dt=DT)
    for drive, expected in ((-1000.0, -0.7), (0.0, -0.6), (1000.0, -0.5)):  # r I dt: -0.1, 0, 0.1
        result = simulator.run(2, 1, params={"b": drive, "v_threshold": -0.2, "v_reset": -0.6},
                               record=["v"])
        assert result.spikes[0, 0] and not result.spikes[1, 0]
        assert abs(result.traces["v"][0, 0] - expected) < 1e-12


@pytest.mark.parametrize("delay", [np.array(2 * DT), np.array([2 * DT]), np.full(3, 2 * DT)],
                         ids=["0-d", "one", "per element, equal"])
def test_a_scalar_delay_delays_every_element(delay):
    """A Delay of one delay (0-d, or a single value) delays every element that arrives, as
    equal per-element delays do (it was refused: "takes 1 values; 3 arrive")."""
    w = np.array([[0.6, 0.5, 0.0], [0.0, 0.7, 0.4], [0.5, 0.0, 0.9]])
    graph = nir.NIRGraph(nodes={"input": nir.Input(input_type={"input": np.array([3])}),
                                "affine": nir.Affine(weight=w, bias=np.zeros(3)),
                                "delay": nir.Delay(delay=delay),
                                "thr": nir.Threshold(threshold=np.full(3, 0.55)),
                                "output": nir.Output(output_type={"output": np.array([3])})},
                         edges=[("input", "affine"), ("affine", "delay"), ("delay", "thr"),
                                ("thr", "output")], type_check=False)
    x = (np.random.default_rng(5).random((30, 2, 3)) < 0.4).astype(np.uint8)
    out = lifgen.run_nir(lifgen.from_nir(graph, dt=DT), {"input": x}).outputs["output"]
    expected = np.zeros((30, 2, 3), bool)
    expected[2:] = x[:-2] @ w.T > 0.55
    assert expected.sum() > 10 and np.array_equal(out, expected)


def test_a_fresh_process_loads_the_graphs_program_from_the_cache(tmp_path):
    """As a user runs it: a second process running the same graph loads its program from the
    kernel cache (net.nir.from_cache), compiling nothing, and gives the same outputs."""
    import subprocess
    import sys

    script = ("import sys, numpy as np, lifgen\n"
              "net = lifgen.from_nir(sys.argv[1], convention='snntorch')\n"
              "x = (np.random.default_rng(0).random((20, 2, 12)) < 0.2).astype(np.uint8)\n"
              "out = lifgen.run_nir(net, {'input': x}).outputs['output']\n"
              "print(net.nir.from_cache, int(out.sum()))\n")
    env = {**__import__("os").environ, "LIFGEN_CACHE_DIR": str(tmp_path / "cache")}
    runs = [subprocess.run([sys.executable, "-c", script,
                            str(HERE / "braille_noDelay_bias_zero.nir")], env=env, check=True,
                           capture_output=True, text=True).stdout.split() for _ in range(2)]
    assert runs[0][0] == "False" and runs[1][0] == "True" and runs[0][1] == runs[1][1]
