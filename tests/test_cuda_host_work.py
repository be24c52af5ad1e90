"""The cuda target's work around its kernels, counted on the stand-in device ("cuda-host",
whose Host.traffic counts bytes copied each way and device allocations): a run copies what the
user asked for and the kernel reads, nothing proportional to N besides; the memory guard counts
what the device then allocates. Counts, not times: benchmarks/gpu.py --host-only times them."""

import warnings

import numpy as np
import pytest

import lifgen
from lifgen.targets import get_target
from lifgen.tools import brette2007

N = 20_000
BETA = 0.95


@pytest.fixture
def host(cuda_host):
    """The stand-in device, its counts started afresh."""
    target = get_target("cuda-host")
    target.kept.clear()  # (what earlier runs left for runs of their shapes)
    target.device.traffic.reset()
    return target.device


@pytest.fixture(scope="module")
def current():
    return np.random.default_rng(0).uniform(0.0, 0.1, N).astype(np.float32)


def w1(simulator, current, output="device", **options):
    """W1 of benchmarks/gpu.py: leaky, float32, beta shared, a constant input per neuron."""
    return simulator.run(200, current.size, inputs={"I": current}, params={"beta": BETA},
                         record=[], spikes="count", output=output, **options)


def test_a_w1_run_copies_only_what_the_user_asked_for(host, current):
    cuda = lifgen.compile("leaky", dtype="float32", target="cuda-host")
    expected = w1(lifgen.compile("leaky", dtype="float32"), current, "host")
    resident = host.upload(current)  # the input already on the device, as a CuPy array would be
    host.traffic.reset()
    kept = w1(cuda, resident)
    traffic = host.traffic
    # two scratch values go up (the shared threshold and beta's propagator), nothing comes back
    assert traffic.uploaded <= 64 and traffic.downloaded == 0
    assert traffic.launches == 1 and traffic.peak == traffic.reserved
    np.testing.assert_array_equal(np.asarray(kept.spike_count), expected.spike_count)
    host.traffic.reset()
    got = w1(cuda, resident, "host")
    # asked back: the state V and the counts, once each
    assert host.traffic.downloaded == N * (4 + 8) and host.traffic.uploaded <= 64
    np.testing.assert_array_equal(got.state["V"], expected.state["V"])
    host.traffic.reset()
    w1(cuda, resident, "host")
    assert host.traffic.allocations == 0  # the last run's arrays, written again
    host.traffic.reset()
    w1(cuda, current, "host")  # a NumPy input goes up once
    assert host.traffic.uploaded <= current.nbytes + 64


def test_a_device_run_allocates_nothing_proportional_to_n_on_the_host(host):
    """The outputs a GPU makes for itself (counts, spike flags, states given as one value) are
    not also made on the host: NumPy's allocations (traced by tracemalloc) beyond the device's
    own (the stand-in's arrays are NumPy's too) stay far below N bytes; with results asked back,
    the host holds their copies and no more."""
    import tracemalloc

    n = 200_000
    cuda = lifgen.compile("leaky", dtype="float32", target="cuda-host")
    resident = host.upload(np.random.default_rng(1).uniform(0.0, 0.1, n).astype(np.float32))
    w1(cuda, resident)  # the kernel loaded, the kept arrays made
    tracemalloc.start()
    try:
        for output, asked_back in (("device", 0), ("host", n * (4 + 8))):
            host.traffic.reset()
            tracemalloc.reset_peak()
            start = tracemalloc.get_traced_memory()[0]
            result = w1(cuda, resident, output)
            on_host = tracemalloc.get_traced_memory()[1] - start - host.traffic.peak
            assert on_host < asked_back + n // 4, output
            del result
    finally:
        tracemalloc.stop()


def test_a_zero_step_device_run_leaves_its_results_on_the_device(host):
    """output='device' holds for a run of no steps too (and one stopped before its first
    chunk): the counts are the device's zeros, not a host array beside the device's states."""
    cuda = lifgen.compile("leaky", target="cuda-host")
    result = cuda.run(0, 8, inputs={"I": 2.0}, output="device")
    assert host.holds(result.spike_count) and host.holds(result.state["V"])
    assert not np.asarray(result.spike_count).any()


def test_the_threshold_and_inputs_of_a_result_are_views_not_copies(host, current):
    cuda = lifgen.compile("leaky", dtype="float32", target="cuda-host")
    result = w1(cuda, current, "host")
    assert result.threshold.strides == (0,) and not result.threshold.flags.writeable
    assert np.shares_memory(result.inputs["I"], current)


def guarded_runs(current):
    """(name, simulator, run arguments) of every kind the guard counts."""
    rng = np.random.default_rng(3)
    n = 400
    cuba = brette2007.NETWORKS["cuba"]
    initial = {"V": -60.0 + 10.0 * rng.random(n)}
    plastic = lifgen.Synapses(lifgen.Sparse.random(n, n, 0.05, 1.5, seed=2), "stdp",
                              params={"w_max": 3.0})
    return [
        ("W1", ("leaky", {"dtype": "float32"}), dict(n_neurons=N, inputs={"I": current},
                                                     params={"beta": BETA}, record=[],
                                                     spikes="count")),
        ("events", ("leaky", {}), dict(n_neurons=N, inputs={"I": 4 * current}, record=["V"],
                                       spikes="events")),
        ("Brette CUBA", ("lif_cuba", {"dt": 0.1}), dict(
            n_neurons=n, initial=initial, record=[], spikes="events",
            connections=brette2007.connections(cuba, 1, n, n * 4 // 5))),
        ("dense weights", ("rleaky", {}), dict(
            n_neurons=n, inputs={"I": rng.uniform(0, 0.4, n)}, record=[],
            connections={"rec": rng.normal(0.0, 0.05, (n, n))})),
        ("plasticity", ("lif_cuba", {"dt": 0.1}), dict(
            n_neurons=n, initial=initial, inputs={"I": 30.0}, record=[], spikes="count",
            connections={"exc": plastic}, record_synapses={"exc": [0, 3]})),
    ]


@pytest.mark.parametrize("case", range(5), ids=["W1", "events", "Brette CUBA", "dense weights",
                                                "plasticity"])
def test_the_gpu_guard_counts_what_the_device_allocates(host, current, case):
    name, (model, options), arguments = guarded_runs(current)[case]
    simulator = lifgen.compile(model, target="cuda-host", **options)
    host.traffic.reset()
    simulator.run(100, **arguments)
    traffic = host.traffic
    assert traffic.reserved > 0
    assert abs(traffic.peak - traffic.reserved) <= 0.1 * traffic.reserved, (
        name, traffic.peak, traffic.reserved)
    # nothing of the run's is left on the device but what the next run of its shapes reuses
    assert traffic.live == traffic.start + get_target("cuda-host").kept.nbytes()


def test_output_device_of_a_plastic_run_holds_what_it_learned(host):
    """A coupled run's Result on the device: the learned weights, their traces, states and
    spikes are the C target's; a run continued from it (initial=result.state) too."""
    c, cuda = (lifgen.compile("lif_cuba", dt=0.1, **options) for options in
               ({}, {"target": "cuda-host"}))
    n, rng = 100, np.random.default_rng(5)
    synapses = lifgen.Synapses(lifgen.Sparse.random(n, n, 0.1, 2.0, seed=1), "stdp",
                               params={"w_max": 3.0})
    arguments = dict(connections={"exc": synapses}, initial={"V": rng.uniform(-70, -50, n)},
                     inputs={"I": 30.0}, record=["V"], record_synapses={"exc": [0, 3]})
    expected, got = c.run(300, n, **arguments), cuda.run(300, n, output="device", **arguments)
    learned = expected.synapses["exc"]["w"]
    assert not np.array_equal(learned, synapses.sparse.weight)
    for mine, theirs in ((got.synapses["exc"]["w"], learned),
                         (got.synapse_traces["exc"]["w"], expected.synapse_traces["exc"]["w"]),
                         (got.state["V"], expected.state["V"]), (got.spikes, expected.spikes),
                         (got.traces["V"], expected.traces["V"])):
        assert host.holds(mine)
        np.testing.assert_array_equal(mine, theirs)
    arguments["initial"] = expected.state
    again = c.run(100, n, **arguments)
    arguments["initial"] = got.state
    np.testing.assert_array_equal(cuda.run(100, n, **arguments).spikes, again.spikes)


def test_a_device_result_continues_and_a_chunk_is_waited_for(host):
    cuda, c = lifgen.compile("leaky", target="cuda-host"), lifgen.compile("leaky")
    first, expected = cuda.run(50, 10, inputs={"I": 0.3}, output="device"), c.run(50, 10, inputs={"I": 0.3})
    assert host.holds(first.state["V"])
    got = cuda.run(50, 10, inputs={"I": 0.3}, initial=first.state)
    np.testing.assert_array_equal(got.state["V"], c.run(50, 10, inputs={"I": 0.3},
                                                        initial=expected.state).state["V"])
    host.traffic.reset()
    cuda.run(3000, 10, inputs={"I": 0.3}, progress=True)
    assert host.traffic.synchronizations == host.traffic.launches > 1  # the bar shows steps done


class TorchLike:
    """A GPU array as torch shows one: requires_grad, and the device in DLPack's terms."""

    def __init__(self, device=0, requires_grad=False):
        self.device, self.requires_grad = device, requires_grad
        self.__cuda_array_interface__ = {"shape": (10, 3), "typestr": "<f8", "data": (0, False),
                                         "version": 3}

    def __dlpack_device__(self):
        return (2, self.device)


def test_gpu_inputs_that_cannot_be_read_as_they_are_are_refused(host):
    cuda = lifgen.compile("leaky", target="cuda-host")
    with pytest.raises(lifgen.InputError, match=r"inputs\['I'\] requires grad.*detach"):
        cuda.run(10, 3, inputs={"I": TorchLike(requires_grad=True)})
    with pytest.raises(lifgen.InputError, match=r"inputs\['I'\] is on GPU 1, and this run is on GPU 0"):
        cuda.run(10, 3, inputs={"I": TorchLike(device=1)})
    with pytest.raises(lifgen.InputError, match=r"initial\['V'\] is on GPU 1"):
        cuda.run(10, 3, initial={"V": TorchLike(device=1)})


def test_a_host_bound_gpu_run_is_warned_of_once(host, monkeypatch):
    from lifgen.errors import PerformanceWarning
    from lifgen.targets.cuda import target

    monkeypatch.setattr(target, "_WARNED", set())
    cuda = lifgen.compile("leaky", target="cuda-host")
    with pytest.warns(PerformanceWarning, match="copies .* MiB of traces and spikes back"):
        cuda.run(1100, 2000, inputs={"I": 0.3})  # the CPU's defaults: V of every neuron, a raster
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cuda.run(1100, 2000, inputs={"I": 0.3})  # once
        monkeypatch.setattr(target, "_WARNED", set())
        cuda.run(100, 50, inputs={"I": 0.3})  # a few MiB: not worth a word
        cuda.run(1100, 2000, inputs={"I": 0.3}, record={"V": [0]}, spikes="count")
        cuda.run(1100, 2000, inputs={"I": 0.3}, output="device")


def test_register_heavy_kernels_run_in_smaller_blocks():
    """nvcc --resource-usage on the generated float64 Hodgkin-Huxley kernel: 164 registers for
    sm_90 (float32: 98): one block of 256 fits a multiprocessor, three of 128 do."""
    from lifgen.targets.cuda.gpu import block_size

    assert block_size(164) == 128 and block_size(98) == 256 and block_size(32) == 256
    assert block_size(255) == 256 and block_size(40, limit=64) == 64


@pytest.mark.gpu
def test_on_the_gpu_float64_hodgkin_huxley_launches_in_smaller_blocks():
    """On a GPU: the driver's register count picks the block (164 registers for sm_90 by
    nvcc; NVRTC's count may differ a little), and a second run of the same shapes reuses the
    first one's arrays."""
    cupy = pytest.importorskip("cupy", reason="the GPU tests need CuPy: pip install 'lifgen[cuda]'")
    if not cupy.cuda.is_available():
        pytest.skip("no CUDA GPU on this machine")
    cuda = lifgen.compile("hodgkin_huxley", target="cuda")
    cuda.run(10, 1000, inputs={"I": 20.0}, record=[], spikes="count")
    blocks = [block for _, kernel in cuda._variants.values()
              for _, block in getattr(kernel.module, "functions", {}).values()]
    assert blocks and max(blocks) <= 128
    kept = cuda.target.kept.nbytes()
    cuda.run(10, 1000, inputs={"I": 20.0}, record=[], spikes="count")
    assert kept and cuda.target.kept.nbytes() == kept
