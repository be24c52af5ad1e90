"""Networks on the cuda target. Without a GPU: every network's CUDA compiles with NVRTC for
sm_90 without a warning, and the same text compiled as C ("cuda-host": each thread in turn on
the CPU) gives the C target's numbers bit for bit (spikes, counts, events, traces, final states).
Each target gathers its events of the step in the C target's order, so the numbers do not depend
on the order in which a kernel's threads run: cuda-host runs them reversed and shuffled too.
With a GPU (`pytest -m gpu`): the same networks bit for bit, and the same bits run after run."""

import pickle
import warnings

import numpy as np
import pytest

import lifgen
from lifgen.codegen.network import lower_network
from lifgen.errors import LifgenError
from lifgen.targets.cuda.target import TARGET
from lifgen.version import __version__
from example_modules import example
from test_cuda import assert_compiles_without_a_warning, gpu, nvrtc
from test_network_populations import N_EXC, N_INH, mixed_network, snntorch_network



def mixed(spikes="raster"):
    """AdEx + LIF + a spike train and a Poisson source, dense and sparse projections, delays
    0 to 3, two batch rows."""
    net, parts = mixed_network()
    net.add_source("noise", lifgen.Poisson(6, 0.2, seed=11))
    net.connect("noise", "inh", "inh", np.full((N_INH, 6), -1.5), delay=0)
    two_rows = np.broadcast_to(np.stack([parts["I_exc"], 0.8 * parts["I_exc"]]),
                               (120, 2, N_EXC))
    return net, "float64", dict(n_steps=120, inputs={"exc": {"I": two_rows},
                                                     "inh": {"I": parts["I_inh"]}},
                                record={"exc": ["V", "I_e"], "inh": ["V", "g_i"]}, spikes=spikes)


def brette(name):
    """Brette et al.'s CUBA or COBA network as two populations, E and I, scaled down."""
    from lifgen.tools import brette2007

    spec = brette2007.NETWORKS[name]
    net = brette2007.network(name, 1, n=500, n_exc=400, p=0.08)
    rng = np.random.default_rng(0)
    for population, n in (("E", 400), ("I", 100)):
        net.populations[population].initial = {"V": rng.uniform(-60.0, -50.0, n)}
    drive = {"I": spec.drive}
    return net, "float64", dict(n_steps=300, inputs={"E": drive, "I": drive},
                                record={"E": ["V", "g_e"], "I": ["V"]}, spikes="raster")


def snntorch(dtype):
    """snnTorch's three Linear -> Leaky layers with zero delays (dense projections)."""
    net, data = snntorch_network("subtract", dtype)
    return net, dtype, dict(n_steps=data["input"].shape[0],
                            record={f"lif{k}": ["V"] for k in (1, 2, 3)}, spikes="raster")


def sources(spikes="raster"):
    """Every kind of source, each onto a population of more than 64 neurons (the octet scan)
    or fewer (the one-pass list), through dense, one-to-one and sparse projections."""
    n, rng = 70, np.random.default_rng(5)
    net = lifgen.Network(dt="0.1 ms")
    net.add_source("poisson", lifgen.Poisson(n, "40 Hz", seed=1))
    net.add_source("bernoulli", lifgen.Bernoulli(n, rng.uniform(0, 0.02, n), seed=2))
    net.add_source("train", lifgen.SpikeTrain(5, rng.integers(0, 200, 80), rng.integers(0, 5, 80)))
    net.add_source("raster", rng.random((200, 9)) < 0.05)
    net.add_source("input", lifgen.PoissonInput(n, "8 Hz", sources=50, seed=3))
    net.add("big", "lif_cuba", n, params={"E_L": -60.0})
    net.add("small", "lif_coba", 12)
    net.connect("poisson", "big", "exc", ("one_to_one", 30.0), delay=1)
    net.connect("input", "big", "exc", ("one_to_one", 2.0), delay=2)
    net.connect("bernoulli", "small", "exc", rng.uniform(0, 2, (12, n)), delay=0)
    net.connect("train", "small", "exc", rng.uniform(0, 4, (12, 5)), delay=3)
    net.connect("raster", "big", "inh", lifgen.Sparse.random(n, 9, 0.3, 10.0, seed=4))
    net.connect("big", "small", "inh", lifgen.Sparse.from_arrays(
        rng.integers(0, n, 100), rng.integers(0, 12, 100), rng.uniform(0, 1, 100),
        rng.integers(1, 5, 100), n_pre=n, n_post=12))
    return net, "float64", dict(n_steps=200, inputs={"big": {"I": 8.0}, "small": {"I": 10.0}},
                                record={"big": ["V", "g_e", "g_i"], "small": ["V"]},
                                spikes=spikes)


def microcircuit():
    """Potjans and Diesmann's microcircuit at 1 % of its neurons and in-degrees, float32."""
    net = example("microcircuit").network(scale=0.01, seed=1)
    return net, "float32", dict(n_steps=150, record={"L4E": ["V"]}, spikes="events")


def nir_cnn(convention):
    """The NIR paper's N-MNIST CNN (from_nir: Conv2d delivered from the kernel, SumPool2d then
    Conv2d as a Sparse, Affine as dense weights) on 12 steps of 2 rows of its test events;
    convention "sinabs" emits MultiSpike counts, "sinabs_single" one spike per step."""
    from pathlib import Path

    from lifgen.runtime.populations import SourcePopulation, SpikeRaster

    nir_dir = Path(__file__).parent / "reference" / "nir"
    graph = lifgen.from_nir(nir_dir / "cnn_sinabs.nir", convention=convention)
    x = np.load(nir_dir / "cnn_sinabs_sinabs.npz")["x"][:12, :2].reshape(12, 2, -1)
    net = lifgen.Network(graph.dt)
    net.populations.update(graph.populations)
    net.populations["input"] = SourcePopulation("input", SpikeRaster(x), x.shape[-1])
    net.projections.extend(graph.projections)
    assert "conv2d" in {p.kind for p in net.projections}
    record = {name: ["v"] for name in graph.populations if name != "input"}
    return net, "float32", dict(n_steps=12, record=record, spikes="raster")


NETWORKS = {"mixed": mixed, "mixed-events": lambda: mixed("events"),
            "cuba": lambda: brette("cuba"), "coba": lambda: brette("coba"),
            "snntorch-float32": lambda: snntorch("float32"),
            "snntorch-float64": lambda: snntorch("float64"),
            "sources": sources, "sources-count": lambda: sources("count"),
            "microcircuit": microcircuit, "nir-cnn-multispike": lambda: nir_cnn("sinabs"),
            "nir-cnn-single": lambda: nir_cnn("sinabs_single")}


def cuda_text(net, dtype, run):
    """The network's CUDA for this run's records and spike mode (no GPU needed to render)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        simulator = net.compile(target="cuda", dtype=dtype)
    variants = {name: (tuple(states), (), ()) for name, states in run["record"].items()}
    return TARGET.render_network(lower_network(simulator.plan(variants, run["spikes"]))).text


def assert_same(expected, got, names, compare=np.array_equal):
    for name in names:
        mine, theirs = got[name], expected[name]
        assert compare(mine.spike_count, theirs.spike_count), name
        if theirs.spikes is not None:
            assert compare(mine.spikes, theirs.spikes), name
        if theirs.spike_events is not None:
            for a, b in zip(mine.spike_events, theirs.spike_events):
                assert compare(a, b), name
        for kind in ("state", "traces"):
            for state, values in getattr(theirs, kind).items():
                assert compare(getattr(mine, kind)[state], values), (name, kind, state)


@pytest.mark.parametrize("case", list(NETWORKS))
def test_the_network_s_cuda_compiles_with_nvrtc_without_a_warning(case):
    compiler = nvrtc()
    net, dtype, run = NETWORKS[case]()
    assert_compiles_without_a_warning(compiler, cuda_text(net, dtype, run),
                                      cubin=case in ("mixed", "microcircuit", "nir-cnn-single"))


@pytest.mark.parametrize("case", list(NETWORKS))
def test_the_network_s_cuda_compiled_as_c_gives_the_c_numbers(cuda_host, case):
    net, dtype, run = NETWORKS[case]()
    expected = net.compile(dtype=dtype).run(**run)
    got = net.compile(target="cuda-host", dtype=dtype).run(**run)
    assert sum(int(r.spike_count.sum()) for r in expected.populations.values()) > 0
    assert_same(expected, got, expected.populations)


def test_a_continued_run_and_event_chunks_match_the_c_target(cuda_host, monkeypatch):
    """Events collected a few steps at a time: each chunk's buffers go to the device and back."""
    monkeypatch.setattr("lifgen.runtime.network_run.CHUNK_CELLS", 200)
    net, dtype, run = sources("events")
    expected = net.compile(dtype=dtype).run(**run)
    got = net.compile(target="cuda-host", dtype=dtype).run(**run)
    assert_same(expected, got, ("big", "small"))


def test_the_cuda_source_is_readable(cuda_host):
    net, dtype, run = mixed()
    text = cuda_text(net, dtype, run)
    assert f"Generated by lifgen {__version__}: double state" in text
    for line in ("exc: 8 x adex_cuba", "inh: 5 x lif_cuba", "src: 20 sources (train)",
                 "exc -> inh.exc: sparse, a delay per synapse", "inh -> exc.inh: dense, delay 2"):
        assert line in text, line
    assert "__global__ void lg_step_P1_update" in text
    assert "gathered by each target" in text and "atomic" not in text.lower()


def test_without_a_gpu_a_network_run_says_what_is_missing(without_gpu):
    net, dtype, run = snntorch("float64")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        simulator = net.compile(target="cuda")
    with pytest.raises(LifgenError, match=r"lifgen\[cuda\]|no CUDA GPU"):
        simulator.run(**run)


@pytest.mark.gpu
@pytest.mark.parametrize("case", [c for c in NETWORKS if c != "mixed-events"])
def test_on_the_gpu_a_network_gives_the_c_numbers_bit_for_bit(case):
    gpu()
    net, dtype, run = NETWORKS[case]()
    run = {**run, "n_steps": min(run["n_steps"], 60), "spikes": "raster"}
    if case == "mixed":
        run["inputs"] = {"exc": {"I": run["inputs"]["exc"]["I"][:60]},
                         "inh": run["inputs"]["inh"]}
    expected = net.compile(dtype=dtype).run(**run)
    got = net.compile(target="cuda", dtype=dtype).run(**run)
    assert_same(expected, got, expected.populations)


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_on_the_gpu_coincident_events_give_the_c_numbers_run_after_run(dtype):
    gpu()
    net, run = coincident(dtype)
    expected = net.compile(dtype=dtype).run(**run)
    simulator = net.compile(target="cuda", dtype=dtype)
    for _ in range(3):
        got = simulator.run(**run)
        assert_same(expected, got, expected.populations)
        assert_same_synapses(expected, got)


# -- deterministic delivery: any order of a kernel's threads gives the C numbers ----------------

def coincident(dtype):
    """Many events into each ring element every step through Gaussian (non-integer) weights,
    whose float sums depend on their order: a Poisson source (about 10 spikes a step) into dense,
    sparse (delays 0 to 3) and one-to-one projections, recurrent sparse and dense ones, a spike
    train's drive, and plastic STDP synapses."""
    rng = np.random.default_rng(7)
    net = lifgen.Network(dt="0.1 ms")
    net.add_source("poisson", lifgen.Poisson(100, "1 kHz", seed=1))
    net.add_source("burst", lifgen.Poisson(30, "1 kHz", seed=2))
    net.add_source("train", lifgen.SpikeTrain(4, rng.integers(0, 80, 60), rng.integers(0, 4, 60)))
    net.add("a", "lif_cuba", 30, initial={"V": rng.uniform(-60.0, -50.0, 30)})
    net.add("b", "lif_cuba", 20, initial={"V": rng.uniform(-60.0, -50.0, 20)})

    def sparse(n_pre, n_post, p, mean, delays):
        pre, post = np.nonzero(rng.random((n_pre, n_post)) < p)
        return lifgen.Sparse.from_arrays(pre, post, rng.normal(mean, 1.0, pre.size),
                                         rng.integers(*delays, pre.size), n_pre=n_pre,
                                         n_post=n_post)
    net.connect("poisson", "a", "exc", rng.normal(0.3, 1.0, (30, 100)), delay=1)
    net.connect("poisson", "b", "exc", sparse(100, 20, 0.5, 0.3, (0, 4)))
    net.connect("burst", "a", "inh", ("one_to_one", rng.normal(0.7, 1.0, 30)), delay=2)
    net.connect("train", "b", "inh", rng.normal(0.5, 1.0, (20, 4)), delay=0)
    net.connect("a", "a", "inh", sparse(30, 30, 0.4, 0.5, (1, 3)))
    net.connect("a", "b", "inh", rng.normal(1.0, 1.0, (20, 30)), delay=2)
    net.connect("b", "a", "exc", lifgen.Synapses(sparse(20, 30, 0.5, 1.0, (1, 4)), "stdp",
                                                 params={"w_max": 3.0}))
    return net, dict(n_steps=80, inputs={"a": {"I": 5.0}, "b": {"I": 5.0}},
                     record={"a": ["V", "g_e", "g_i"], "b": ["V", "g_i"]}, spikes="raster",
                     record_synapses={("b", "a", "exc"): [0, 5, 9]})


@pytest.fixture(params=["reversed", "shuffled"])
def thread_order(request, cuda_host, monkeypatch):
    """cuda-host running each network kernel's threads in this order."""
    from cuda_host_target import TARGET as host
    monkeypatch.setattr(host.device, "order", request.param)
    return request.param


def assert_same_synapses(expected, got):
    for key, states in expected.synapses.items():
        for state, values in states.items():
            assert np.array_equal(got.synapses[key][state], values), (key, state)
            assert np.array_equal(got.synapse_traces[key][state],
                                  expected.synapse_traces[key][state]), (key, state)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_in_any_order_of_threads_a_network_gives_the_c_numbers(thread_order, dtype):
    net, run = coincident(dtype)
    expected = net.compile(dtype=dtype).run(**run)
    got = net.compile(target="cuda-host", dtype=dtype).run(**run)
    assert all(r.spike_count.sum() > 20 for r in expected.populations.values())
    assert_same(expected, got, expected.populations)
    assert_same_synapses(expected, got)


def test_events_pushed_by_each_spike_would_depend_on_the_order_of_threads(cuda_host,
                                                                          monkeypatch):
    """The test above can fail: events pushed by each spike (as atomic adds did), run in the
    reversed order, change the float sums' last bits."""
    from cuda_host_target import TARGET as host
    monkeypatch.setattr(host.device, "order", "reversed")
    monkeypatch.setattr(type(host), "gathers", False)
    net, run = coincident("float64")
    expected = net.compile().run(**run)
    got = net.compile(target="cuda-host").run(**run)
    assert not np.array_equal(got["a"].traces["V"], expected["a"].traces["V"])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_in_any_order_of_threads_a_coupled_run_gives_the_c_numbers(thread_order, dtype):
    """A single population's run with plastic recurrent synapses and a Poisson drive (about 10
    events a step), both through Gaussian weights."""
    n, rng = 40, np.random.default_rng(3)
    pre, post = np.nonzero(rng.random((n, n)) < 0.3)
    recurrent = lifgen.Sparse.from_arrays(pre, post, rng.normal(1.0, 1.0, pre.size),
                                          rng.integers(1, 4, pre.size), n_pre=n, n_post=n)
    run = dict(inputs={"I": 5.0}, record={"V": [0, 7, n - 1], "g_i": [3]}, spikes="raster",
               connections={"exc": lifgen.Synapses(recurrent, "stdp", params={"w_max": 3.0})},
               drives={"inh": (lifgen.Poisson(50, 0.2), rng.normal(0.5, 1.0, (n, 50)))},
               record_synapses={"exc": [0, 4]}, seed=2)
    initial = {"V": rng.uniform(-60.0, -50.0, n)}
    expected = lifgen.compile("lif_cuba", dtype=dtype).run(100, n, initial=initial, **run)
    got = lifgen.compile("lif_cuba", dtype=dtype, target="cuda-host").run(100, n,
                                                                          initial=initial, **run)
    assert expected.spike_count.sum() > 20
    np.testing.assert_array_equal(got.spikes, expected.spikes)
    for name in expected.state:
        np.testing.assert_array_equal(got.state[name], expected.state[name])
    for name in expected.traces:
        np.testing.assert_array_equal(got.traces[name], expected.traces[name])
    for state, values in expected.synapses["exc"].items():
        np.testing.assert_array_equal(got.synapses["exc"][state], values)
        np.testing.assert_array_equal(got.synapse_traces["exc"][state],
                                      expected.synapse_traces["exc"][state])


def test_in_any_order_of_threads_winner_take_all_picks_the_c_winner(thread_order):
    """Winner-take-all over 600 neurons (three chunks of the two-level reduction), two batch
    rows, margins tied across chunks (the inputs repeat every 100 neurons: the first of equals
    wins) and a recurrent dense projection."""
    n, rng = 600, np.random.default_rng(4)
    current = np.tile(rng.uniform(0.0, 0.5, (120, 2, 100)), (1, 1, 6))
    run = dict(inputs={"I": current}, record={"V": [0, 250, 599]}, spikes="raster",
               connections={"rec": rng.normal(0.0, 0.02, (n, n))})
    expected = lifgen.compile("rleaky", inhibition=True).run(120, n, **run)
    got = lifgen.compile("rleaky", inhibition=True, target="cuda-host").run(120, n, **run)
    assert expected.spike_count.sum() > 20
    np.testing.assert_array_equal(got.spikes, expected.spikes)
    for name in expected.state:
        np.testing.assert_array_equal(got.state[name], expected.state[name])
    np.testing.assert_array_equal(got.traces["V"], expected.traces["V"])


def test_phases_that_cannot_interfere_share_a_launch(cuda_host):
    """A step launches fused kernels: phases of one thread per batch row in turn, and parallel
    phases that share no buffer one of them writes (a population's projections into different
    targets) on ranges of one grid. Counted on the stand-in: the same numbers, fewer launches;
    the microcircuit's 87 phases a step are 33 launches."""
    from lifgen.targets.cuda.network import render_network

    net, dtype, run = mixed()
    simulator = net.compile(target="cuda-host", dtype=dtype)
    got = simulator.run(**run)
    assert_same(net.compile(dtype=dtype).run(**run), got, got.populations)
    (source, kernel), = simulator._programs.values()
    phases = sum(len(p.phases) for p in source.program.populations)
    assert (len(source.kernels), phases) == (9, 12)
    assert kernel.module.launches == 9 * run["n_steps"]
    net, dtype, run = microcircuit()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plan = net.compile(target="cuda", dtype=dtype).plan({"L4E": (("V",), (), ())}, "events")
    program = lower_network(plan)
    assert sum(len(p.phases) for p in program.populations) == 87
    assert len(render_network(program).kernels) == 33


def sparse_coincident():
    """Sparse projections alone, with many events into each ring element every step through
    Gaussian weights: a Bernoulli source (about 10 spikes a step) into a population with delays
    0 to 3, and its recurrent synapses (delays 1 and 2); a pair of neurons may have up to three
    synapses. RLeaky, whose discrete step builds fast."""
    rng = np.random.default_rng(8)
    net = lifgen.Network()
    net.add_source("bernoulli", lifgen.Bernoulli(100, 0.1, seed=1))
    net.add("a", "rleaky", 30, initial={"V": rng.uniform(0.0, 1.0, 30)})
    for pre, n_pre, mean, delays in (("bernoulli", 100, 0.03, (0, 4)), ("a", 30, 0.05, (1, 3))):
        pre_i, post = np.nonzero(rng.random((n_pre, 30)) < 0.5)
        pre_i, post = (np.concatenate([a, a[::3], a[::7]]) for a in (pre_i, post))
        net.connect(pre, "a", "rec", lifgen.Sparse.from_arrays(
            pre_i, post, rng.normal(mean, 0.1, pre_i.size), rng.integers(*delays, pre_i.size),
            n_pre=n_pre, n_post=30))
    return net, dict(n_steps=80, inputs={"a": {"I": 0.05}}, record={"a": ["V"]},
                     spikes="raster")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sparse_events_looked_up_by_spike_give_the_c_numbers_in_any_order(cuda_host, monkeypatch,
                                                                         dtype):
    """sparse_gather="spikes": each target looks the step's spiking presynaptic neurons up among
    its incoming synapses (a galloping search) instead of reading them all; the sums are the C
    target's push's, bit for bit, with the threads run reversed and shuffled, and the CUDA
    compiles without a warning."""
    from cuda_host_target import TARGET as host
    net, run = sparse_coincident()
    expected = net.compile(dtype=dtype).run(**run)
    assert expected["a"].spike_count.sum() > 200
    simulator = net.compile(target="cuda-host", dtype=dtype, sparse_gather="spikes")
    for order in ("reversed", "shuffled"):
        monkeypatch.setattr(host.device, "order", order)
        assert_same(expected, simulator.run(**run), expected.populations)
    variants = {name: (tuple(states), (), ()) for name, states in run["record"].items()}
    text = host.render_network(lower_network(simulator.plan(variants, run["spikes"]))).text
    assert text.count("lg_first_at_least(lg_J") == 2 * 2  # two searches, two projections
    if dtype == "float32":  # (the text differs only in its type)
        cubin, log, _ = nvrtc().compile_cubin(text, "sm_90")
        assert log == "" and cubin[:4] == b"\x7fELF"


def test_the_stand_in_counts_the_sparse_index_reads_each_gather_makes(cuda_host):
    """Host.traffic.index_reads: reading every incoming synapse, each target reads its whole
    index every step, whatever the activity; looking the step's spikes up, it reads a fraction
    of that where few spike (the source at p = 0.01, the population silent) and more where
    most do (the test above's activity): what the lookup saves, or costs."""
    from cuda_host_target import TARGET as host
    net, busy = sparse_coincident()
    quiet = dict(busy, inputs={"a": {"I": 0.0}}, params={"bernoulli": {"p": 0.01}})
    synapses = sum(p.weights.size for p in net.projections)
    reads = {}
    for gather in ("incoming", "spikes"):
        simulator = net.compile(target="cuda-host", dtype="float32", sparse_gather=gather)
        for activity, run in (("busy", busy), ("quiet", quiet)):
            host.device.traffic.reset()
            simulator.run(**run)
            reads[gather, activity] = host.device.traffic.index_reads
    assert reads["incoming", "busy"] == reads["incoming", "quiet"] == busy["n_steps"] * synapses
    assert 0 < reads["spikes", "quiet"] < reads["incoming", "quiet"] / 4
    assert reads["spikes", "busy"] > reads["incoming", "busy"]


def test_the_sparse_gather_is_checked_and_kept_by_a_pickled_network():
    net, _ = sparse_coincident()
    with pytest.raises(lifgen.InputError, match="sparse_gather must be one of"):
        net.compile(target="cuda", sparse_gather="sorted")
    simulator = net.compile(target="cuda", sparse_gather="spikes")
    again = pickle.loads(pickle.dumps(simulator))
    assert again.sparse_gather == "spikes" and "sparse_gather='spikes'" in repr(again)
    assert again.content_key() != net.compile(target="cuda").content_key()
