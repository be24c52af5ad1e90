"""NIR graphs as lifgen networks (lifgen.from_nir, run_nir, to_nir): the NIR paper's LIF against
its exact event-based algorithm, its Braille RNN against snnTorch 1.0's import, the round trip,
the errors, and the real-valued source bit for bit on the Python test target."""

import math
from pathlib import Path

import numpy as np
import pytest

import lifgen
from lifgen import targets
from lifgen.errors import InputError

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
    its membranes to 1e-5 in the readout (make_nir_snntorch_refs.py)."""
    ref = np.load(HERE / f"{name}_snntorch.npz")
    net = lifgen.from_nir(HERE / f"{name}.nir", convention="snntorch")
    result = lifgen.run_nir(net, {"input": ref["input"]}, dtype="float32",
                            record={"lif1_lif": ["V"], "lif2": ["V"]})
    assert ref["spk1"].sum() > 0 and ref["spk2"].sum() > 0
    assert np.array_equal(result["lif1_lif"].spikes, ref["spk1"] != 0)
    assert np.array_equal(result.outputs["output"], ref["spk2"] != 0)
    assert np.max(np.abs(result["lif2"].traces["V"] - ref["mem2"])) < 1e-5
    assert np.max(np.abs(result["lif1_lif"].traces["V"] - ref["mem1"])) \
        < 1e-5 * max(1.0, np.abs(ref["mem1"]).max())


@pytest.mark.parametrize("name", ["lif_norse", "braille_noDelay_bias_zero"])
def test_to_nir_of_from_nir_is_the_graph(name):
    graph = nir.read(str(HERE / f"{name}.nir"))
    back = lifgen.to_nir(lifgen.from_nir(graph))

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
