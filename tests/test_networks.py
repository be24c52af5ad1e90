"""Sparse synapses with delays, delivered event-driven through a ring buffer, against NumPy."""

import numpy as np
import pytest

import lifgen
from lifgen.errors import InputError, ModelError
from lifgen.frontend.modelfile import model_from_document

MAP = {
    "model": {"name": "kicked"},
    "parameters": {"alpha": 0.8, "beta": 0.9},
    "states": {"g": 0.0, "V": 0.0},
    "inputs": {"I": {}},
    "synapses": {"exc": {"target": "g"}},
    "equations": {"update": {"g": "alpha*g", "V": "beta*V + g + I"}},
    "spike": {"condition": "V > 1"},
    "reset": {"mechanism": "zero", "timing": "same_step"},
}


def kicked(**changes):
    return model_from_document({**MAP, **changes}, "kicked.toml")


def reference(sparse, drive, steps, alpha=0.8, beta=0.9):
    """The same network in NumPy, with the kernel's order of additions; `drive` is (N,) or, one
    value for all neurons per step, (T, 1)."""
    n = sparse.n_post
    V, g = np.zeros(n), np.zeros(n)
    slots = sparse.max_delay + 1
    ring = np.zeros((slots, n))
    rows, post, weight, delay = sparse.csr(np.float64)
    raster = []
    for step in range(steps):
        g = g + ring[step % slots]
        ring[step % slots] = 0
        g = alpha * g
        V = beta * V + g + (drive[step] if drive.ndim == 2 else drive)
        spike = V > 1
        V = np.where(spike, 0.0, V)
        for pre in np.flatnonzero(spike):
            for s in range(rows[pre], rows[pre + 1]):
                ring[(step + delay[s]) % slots, post[s]] += weight[s]
        raster.append(spike)
    return np.array(raster), V, g


@pytest.mark.parametrize("chunked", [False, True])
def test_sparse_recurrence_with_delays_matches_numpy_exactly(chunked):
    n, steps = 100, 300
    rng = np.random.default_rng(4)
    base = lifgen.Sparse.random(n, n, 0.1, 0.0, seed=5)
    sparse = lifgen.Sparse.from_arrays(base.pre, base.post, rng.normal(0.05, 0.2, base.n_synapses),
                                       delay=rng.integers(1, 6, base.n_synapses), n_pre=n, n_post=n)
    drive = rng.uniform(0.0, 0.15, n)
    simulator = lifgen.compile(kicked())
    result = simulator.run(steps, n, inputs={"I": drive}, connections={"exc": sparse},
                           record=["V", "g"], progress=chunked)
    raster, V, g = reference(sparse, drive, steps)
    assert raster.sum() > 200 and len(set(sparse.delay.tolist())) == 5
    np.testing.assert_array_equal(result.spikes, raster)
    np.testing.assert_array_equal(result.state["V"], V)
    np.testing.assert_array_equal(result.state["g"], g)


def test_sparse_recurrence_with_a_drive_shared_by_all_neurons_that_changes_every_step():
    n, steps = 37, 200  # not a multiple of 8: the spike scan's last group is partial
    rng = np.random.default_rng(6)
    base = lifgen.Sparse.random(n, n, 0.2, 0.0, seed=7)
    sparse = lifgen.Sparse.from_arrays(base.pre, base.post, rng.normal(0.05, 0.2, base.n_synapses),
                                       delay=rng.integers(1, 4, base.n_synapses), n_pre=n, n_post=n)
    drive = rng.uniform(0.0, 0.3, (steps, 1))
    result = lifgen.compile(kicked()).run(steps, n, inputs={"I": drive},
                                          connections={"exc": sparse}, record=["V"])
    raster, V, _ = reference(sparse, drive, steps)
    assert raster.sum() > 100 and raster[:, -1].any()
    np.testing.assert_array_equal(result.spikes, raster)
    np.testing.assert_array_equal(result.state["V"], V)


def test_without_connections_a_target_synapse_changes_nothing():
    drive = np.linspace(0.05, 0.2, 40)
    simulator = lifgen.compile(kicked())
    alone = simulator.run(100, 40, inputs={"I": drive})
    empty = lifgen.Sparse.from_arrays([], [], 0.0, n_pre=40, n_post=40)
    coupled = simulator.run(100, 40, inputs={"I": drive}, connections={"exc": empty})
    np.testing.assert_array_equal(alone.spikes, coupled.spikes)
    assert "tiles" in simulator.c_source  # the uncoupled kernel is the default


def test_dense_and_one_to_one_are_delay_one():
    n = 30
    rng = np.random.default_rng(1)
    W = rng.normal(0.0, 0.3, (n, n)) * (rng.random((n, n)) < 0.3)
    np.fill_diagonal(W, 0.0)
    post, pre = np.nonzero(W)
    sparse = lifgen.Sparse.from_arrays(pre, post, W[post, pre], n_pre=n, n_post=n)
    drive = rng.uniform(0.05, 0.2, n)
    simulator = lifgen.compile(kicked())
    dense = simulator.run(200, n, inputs={"I": drive}, connections={"exc": W})
    ours = simulator.run(200, n, inputs={"I": drive}, connections={"exc": sparse})
    np.testing.assert_array_equal(dense.spikes, ours.spikes)
    np.testing.assert_allclose(dense.state["g"], ours.state["g"], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(sparse.to_dense(), W)


def test_random_connectivity():
    sparse = lifgen.Sparse.random(400, 300, 0.05, 0.5, delay=3, seed=2)
    assert sparse.n_synapses == pytest.approx(0.05 * 400 * 300, rel=0.1)
    assert not np.any(sparse.pre == sparse.post)
    assert set(sparse.delay.tolist()) == {3} and np.all(sparse.weight == 0.5)
    again = lifgen.Sparse.random(400, 300, 0.05, 0.5, delay=3, seed=2)
    np.testing.assert_array_equal(sparse.post, again.post)
    with_self = lifgen.Sparse.random(50, 50, 1.0, 1.0, allow_self=True)
    assert with_self.n_synapses == 2500


def test_random_connectivity_by_name_reads_pre_then_post():
    """Positionally (n_post, n_pre) as a weight matrix's shape; by name in any order."""
    named = lifgen.Sparse.random(n_pre=30, n_post=20, p=0.2, weight=1.0, seed=4)
    positional = lifgen.Sparse.random(20, 30, 0.2, 1.0, seed=4)
    assert (named.n_pre, named.n_post) == (30, 20)
    np.testing.assert_array_equal(named.to_dense(), positional.to_dense())


def test_random_connectivity_from_a_presynaptic_subset():
    """pre= keeps the population's size and its indices: no renumbering detour."""
    subset = np.array([3, 7, 8, 15])
    sparse = lifgen.Sparse.random(n_pre=20, n_post=20, p=1.0, weight=1.0, pre=subset)
    assert sparse.n_pre == 20 and set(sparse.pre.tolist()) == set(subset.tolist())
    assert sparse.n_synapses == subset.size * 19  # every pair, autapses left out
    onto = lifgen.Sparse.random(n_pre=20, n_post=10, p=1.0, weight=1.0, pre=[0, 1], post=[2, 5],
                                allow_autapses=True)
    assert sorted(zip(onto.pre.tolist(), onto.post.tolist())) == [(0, 2), (0, 5), (1, 2), (1, 5)]
    with pytest.raises(InputError, match="pre indices must be in 0..19"):
        lifgen.Sparse.random(n_pre=20, n_post=20, p=0.5, weight=1.0, pre=[20])
    with pytest.raises(InputError, match="each appear once"):
        lifgen.Sparse.random(n_pre=20, n_post=20, p=0.5, weight=1.0, pre=[1, 1])


def test_autapses_are_explicit():
    """Off by default (Brian2 keeps them); allow_autapses=True keeps them, allow_self is its
    older name, and the two may not disagree."""
    assert lifgen.Sparse.random(n_pre=10, n_post=10, p=1.0, weight=1.0).n_synapses == 90
    kept = lifgen.Sparse.random(n_pre=10, n_post=10, p=1.0, weight=1.0, allow_autapses=True)
    assert kept.n_synapses == 100 and np.any(kept.pre == kept.post)
    assert lifgen.Sparse.random(10, 10, 1.0, 1.0, allow_self=True).n_synapses == 100
    with pytest.raises(InputError, match="older name"):
        lifgen.Sparse.random(10, 10, 1.0, 1.0, allow_self=True, allow_autapses=False)
    with pytest.raises(InputError, match="True or False"):
        lifgen.Sparse.random(10, 10, 1.0, 1.0, allow_autapses="no")


def test_from_scipy():
    scipy_sparse = pytest.importorskip("scipy.sparse")
    matrix = scipy_sparse.random(20, 30, density=0.2, random_state=3, format="csr")
    sparse = lifgen.Sparse.from_scipy(matrix, delay=2)
    assert (sparse.n_post, sparse.n_pre) == (20, 30)
    np.testing.assert_allclose(sparse.to_dense(), matrix.toarray())


@pytest.mark.parametrize("arguments, message", [
    (dict(pre=[0, 5], post=[1, 2], weight=1.0, n_pre=3, n_post=3), "pre indices must lie in 0..2"),
    (dict(pre=[0, 1], post=[1, -1], weight=1.0), "post indices"),
    (dict(pre=[0, 1], post=[1, 0], weight=[1.0, np.nan]), "NaN"),
    (dict(pre=[0, 1], post=[1, 0], weight=1.0, delay=-1), "delays are whole steps >= 0"),
    (dict(pre=[0, 1], post=[1, 0], weight=1.0, delay=1.5), "integers"),
    (dict(pre=[0, 1], post=[1], weight=1.0), "same length"),
    (dict(pre=[0.5], post=[1], weight=1.0), "integer neuron indices"),
    (dict(pre=[0, 1], post=[1, 0], weight=[1.0, 2.0, 3.0]), "one value per synapse"),
])
def test_bad_sparse_arguments_are_input_errors(arguments, message):
    with pytest.raises(InputError, match=message):
        lifgen.Sparse.from_arrays(**arguments)


def test_sparse_must_match_the_population():
    sparse = lifgen.Sparse.random(10, 10, 0.5, 1.0)
    with pytest.raises(InputError, match="connects 10 to 10 neurons; the population has 12"):
        lifgen.compile(kicked()).run(5, 12, connections={"exc": sparse})


def test_a_single_populations_sparse_connections_arrive_a_step_later():
    """Delay 0 is for a network's projections (delivered within the step in update order)."""
    sparse = lifgen.Sparse.from_arrays([0, 1], [1, 0], 1.0, delay=0, n_pre=12, n_post=12)
    with pytest.raises(InputError, match="delays are whole steps >= 1 here"):
        lifgen.compile(kicked()).run(5, 12, connections={"exc": sparse})


def test_a_zero_delay_sparse_projection_is_the_dense_one_bit_for_bit():
    """A Sparse of delay 0 between populations delivers within the step (its post population
    updated after its pre population whatever the insertion order), adding each post neuron's
    events in the order of a dense projection of delay 0: the same numbers bit for bit."""
    rng = np.random.default_rng(4)
    x = rng.random((60, 2, 5)) < 0.3
    w_in = rng.normal(0.8, 0.2, (9, 5))
    w = rng.normal(0.3, 0.4, (7, 9)) * (rng.random((7, 9)) < 0.5)
    post, pre = np.nonzero(w)
    runs = {}
    for kind in ("dense", "sparse"):
        net = lifgen.Network()
        net.add_source("x", x)
        net.add("b", kicked(), 7)  # (added before its pre population: the order is the update's)
        net.add("a", kicked(), 9)
        net.connect("x", "a", "exc", w_in)
        if kind == "dense":
            net.connect("a", "b", "exc", w, delay=0)
        else:
            net.connect("a", "b", "exc", lifgen.Sparse.from_arrays(pre, post, w[post, pre],
                                                                   delay=0, n_pre=9, n_post=7))
        assert net.update_order() == ["x", "a", "b"]
        runs[kind] = net.compile().run(60, record={"b": ["V"]}, spikes="raster")
    assert runs["dense"]["b"].spike_count.sum() > 0
    assert np.array_equal(runs["dense"]["b"].spikes, runs["sparse"]["b"].spikes)
    assert np.array_equal(runs["dense"]["b"].traces["V"], runs["sparse"]["b"].traces["V"])


def test_synapse_target_must_be_a_state():
    with pytest.raises(ModelError, match="target 'h' is not a declared state"):
        kicked(synapses={"exc": {"target": "h"}})
    with pytest.raises(ModelError, match="not both"):
        kicked(synapses={"exc": {"target": "g", "bias": "alpha"}})


@pytest.mark.parametrize("kind", ["raster", "bernoulli"])
def test_a_small_source_counts_and_lists_its_spikes_as_a_larger_one_does(kind):
    """A source of at most SMALL neurons counts and lists its spikes in the pass that reads or
    draws them; padded past SMALL with silent sources it scans its flags after that pass: the
    same counts, raster and deliveries (three batch rows of a raster, in one block of rows)."""
    from lifgen.codegen.network import SMALL

    rng = np.random.default_rng(5)
    n, steps = 12, 40
    x = rng.random((steps, 3, n)) < 0.3
    p = rng.uniform(0.1, 0.5, n)
    w = rng.normal(0.1, 0.05, (9, n))
    runs = []
    for size in (n, SMALL + 8):
        net = lifgen.Network()
        pad = size - n
        if kind == "raster":
            net.add_source("x", np.concatenate([x, np.zeros((steps, 3, pad), bool)], axis=2))
        else:
            net.add_source("x", lifgen.Bernoulli(size, np.concatenate([p, np.zeros(pad)])))
        net.add("a", kicked(), 9)
        net.connect("x", "a", "exc", np.concatenate([w, np.zeros((9, pad))], axis=1))
        runs.append(net.compile().run(steps, spikes="raster"))
    small, large = runs
    assert small["x"].spike_count.sum() > 0 and small["a"].spike_count.sum() > 0
    assert np.array_equal(small["x"].spike_count, small["x"].spikes.sum(axis=0))
    assert np.array_equal(small["x"].spikes, large["x"].spikes[..., :n])
    assert np.array_equal(small["x"].spike_count, large["x"].spike_count[..., :n])
    assert np.array_equal(small["a"].spikes, large["a"].spikes)
    if kind == "raster":
        assert np.array_equal(small["x"].spikes, x)


def test_a_small_network_runs_its_rows_in_blocks_with_narrow_vectors():
    """A network of at most ROW_BLOCK_NEURONS neurons runs ROW_BLOCK batch rows per step, and
    with every population under NARROW_VECTORS_BELOW neurons prefers 256-bit vectors; a larger
    one runs its rows one after another (its rows' states would not stay in cache)."""
    from lifgen.codegen.network import lower_network
    from lifgen.targets.c.network import (NARROW_VECTORS_BELOW, ROW_BLOCK, ROW_BLOCK_NEURONS,
                                          render_network, row_block)

    for n, block, narrow in ((9, ROW_BLOCK, True), (NARROW_VECTORS_BELOW, ROW_BLOCK, False),
                             (ROW_BLOCK_NEURONS, 1, False)):
        net = lifgen.Network()
        net.add_source("x", np.ones((3, 2, 4), bool))
        net.add("a", kicked(), n)
        net.connect("x", "a", "exc", np.ones((n, 4)))
        plan = net.compile().plan({}, "count")
        text = render_network(lower_network(plan)).text
        assert row_block(plan) == block and ("lg_b0" in text) == (block > 1)
        assert ("prefer-vector-width=256" in text) == narrow


def test_the_spike_list_reads_blocks_of_64_flags_then_octets_then_the_tail():
    """A source of 213 neurons (three blocks of 64 flags read as one word of bits, two octets,
    five left) on steps where none, a few, half and all of them spike: its counts and what a
    dense projection delivers (integer weights: exact sums) equal NumPy's."""
    n, steps, rows = 213, 24, 2
    rng = np.random.default_rng(7)
    density = np.resize([0.0, 0.05, 0.5, 1.0, 0.02], steps)[:, None, None]
    x = rng.random((steps, rows, n)) < density
    w = rng.integers(-3, 4, (5, n)).astype(float)
    net = lifgen.Network()
    net.add_source("x", x)
    net.add("a", kicked(parameters={"alpha": 1.0, "beta": 0.0},
                        spike={"condition": "V > 1e300"}), 5)
    net.connect("x", "a", "exc", w, delay=0)
    result = net.compile().run(steps, record={"a": ["g"]}, spikes="raster")
    assert np.array_equal(result["x"].spike_count, x.sum(axis=0))
    assert np.array_equal(result["a"].traces["g"], np.cumsum(x @ w.T, axis=0))


@pytest.mark.parametrize("avx512", [True, False])
def test_flags64_packs_64_flags_into_bits_with_or_without_avx512(tmp_path, avx512):
    """lg_flags64 as the program defines it (AVX-512's byte test where the compiler targets it,
    else the multiplication that packs eight bytes), compiled by the real compiler: bit j is
    flag i + j, for flags at every offset, all clear, all set and at random."""
    import platform
    import subprocess

    from lifgen.codegen.build import compiler_command
    from lifgen.codegen.network import lower_network
    from lifgen.targets.c.network import render_network

    net = lifgen.Network()
    net.add_source("x", np.ones((3, 1, 70), bool))
    net.add("a", kicked(), 5)
    net.connect("x", "a", "exc", np.ones((5, 70)))
    program = render_network(lower_network(net.compile().plan({}, "count"))).text
    assert "lg_flags64(lg_fired" in program
    rng = np.random.default_rng(3)
    flags = np.concatenate([np.zeros(64), np.ones(64), rng.random(64 * 6) < 0.3,
                            rng.random(7) < 0.5]).astype(np.uint8)
    offsets = [0, 64, 128, 131, 200, 263, flags.size - 64]
    driver = program + (
        "\n#include <stdio.h>\nstatic const uint8_t flags[] = {%s};\nint main(void)\n{\n"
        "#if defined(__AVX512BW__) && !defined(__CUDACC__)\n    puts(\"avx512\");\n#else\n"
        "    puts(\"multiply\");\n#endif\n"
        "    const int64_t at[] = {%s};\n    for (int k = 0; k < %d; ++k)\n"
        "        printf(\"%%llu\\n\", (unsigned long long)lg_flags64(flags, at[k]));\n"
        "    return 0;\n}\n") % (", ".join(map(str, flags)), ", ".join(map(str, offsets)),
                               len(offsets))
    (tmp_path / "flags.c").write_text(driver)
    x86 = platform.machine().lower() in ("x86_64", "amd64")
    if not avx512 and not x86:
        pytest.skip("the multiplication is the only path off x86-64 (the case with AVX-512 "
                    "tests it)")
    isa = [] if avx512 or not x86 else ["-mno-avx512bw"]
    subprocess.run([*compiler_command(), "-O2", "-march=native", *isa, "flags.c", "-lm", "-o",
                    "flags"], cwd=tmp_path, check=True, capture_output=True)
    path, *printed = subprocess.run(["./flags"], cwd=tmp_path, check=True, capture_output=True,
                                    text=True).stdout.split()
    if avx512 and path != "avx512":
        pytest.skip("this CPU has no AVX-512BW: lg_flags64 multiplies (the other case tests it)")
    assert path == ("avx512" if avx512 else "multiply")
    expected = [sum(int(flags[i + j]) << j for j in range(64)) for i in offsets]
    assert [int(v) for v in printed] == expected


def test_aligned_arrays_start_on_a_cache_line_from_4_kib():
    """lifgen.runtime.aligned: zeros and empty of 4 KiB or more start on a 64-byte boundary
    (NumPy starts a large array 16 bytes past one), smaller ones are NumPy's own; `aligned`
    returns an aligned contiguous array of the dtype itself and copies any other, values kept."""
    from lifgen.runtime import aligned
    for shape, dtype in (((1024,), np.float32), ((3, 700), np.float64), (4096, np.uint8)):
        for made in (aligned.zeros(shape, dtype), aligned.empty(shape, dtype)):
            assert made.ctypes.data % 64 == 0 and made.dtype == dtype
            assert made.shape == (shape if isinstance(shape, tuple) else (shape,))
        assert not aligned.zeros(shape, dtype).any()
    assert aligned.zeros((2, 3), np.float32).shape == (2, 3)  # (small: NumPy's)
    big = np.arange(100_000, dtype=np.float64)[1:]  # (8 bytes past NumPy's start)
    assert big.ctypes.data % 64 != 0
    moved = aligned.aligned(big)
    assert moved.ctypes.data % 64 == 0 and np.array_equal(moved, big)
    assert aligned.aligned(moved) is moved
    as_float32 = aligned.aligned(moved, np.float32)
    assert as_float32.dtype == np.float32 and as_float32.ctypes.data % 64 == 0
    assert np.array_equal(as_float32, big.astype(np.float32))


def test_a_network_program_reads_and_writes_aligned_buffers():
    """The arrays a network's program writes (states, spike counts, traces, the delay rings
    carried on) and the dense weights it reads start on a 64-byte boundary, each vector load
    and store within one cache line; a run continued from another gives the same numbers as
    one run."""
    rng = np.random.default_rng(11)
    x = rng.random((30, 2, 700)) < 0.1
    net = lifgen.Network()
    net.add_source("x", x)
    net.add("a", kicked(), 1500)
    net.connect("x", "a", "exc", rng.normal(0.3, 0.2, (1500, 700)), delay=2)
    simulator = net.compile()
    whole = simulator.run(30, record={"a": ["V"]})
    for array in (whole["a"].state["V"], whole["a"].state["g"], whole["a"].spike_count,
                  whole["a"].traces["V"]):
        assert array.ctypes.data % 64 == 0
    assert whole["a"].spike_count.sum() > 100
    weights = simulator._weights[0]["weights"]
    assert weights.ctypes.data % 64 == 0
    first = simulator.run(12, record={"a": ["V"]})
    rest = simulator.run(18, record={"a": ["V"]}, initial=first.state)
    assert np.array_equal(np.concatenate([first["a"].traces["V"], rest["a"].traces["V"]]),
                          whole["a"].traces["V"])


@pytest.mark.parametrize("b_first", [False, True])
def test_a_population_of_spike_counts_delivers_its_counts_wherever_its_projection_runs(b_first):
    """A population whose spikes are counts (Sinabs's MultiSpike) multiplies each event by its
    count, read from its count state: through a dense projection pushed in its own step, and a
    direct one (added straight into the target state) delivered in the step of a population
    that steps after it (b added after a) or before it (b first): the target sums count x weight
    of the step before, as NumPy does (integer weights: exact)."""
    from lifgen.interop.nir_models import model_path
    rng = np.random.default_rng(9)
    x = rng.random((40, 2, 30)) < 0.4
    w_in = rng.uniform(0.0, 0.5, (20, 30))
    w_out = rng.integers(-2, 3, (6, 20)).astype(float)
    net = lifgen.Network()
    net.add_source("x", x)
    counter = kicked(parameters={"alpha": 1.0, "beta": 0.0}, spike={"condition": "V > 1e300"})
    if b_first:
        net.add("b", counter, 6)
    net.add("a", model_path("sinabs_iaf_multi"), 20, params={"threshold": 0.3})
    if not b_first:
        net.add("b", counter, 6)
    net.connect("x", "a", "I", w_in, delay=0)
    net.connect("a", "b", "exc", w_out, delay=1)
    result = net.compile().run(40, record={"a": ["spikes"], "b": ["g"]}, spikes="raster")
    counts = result["a"].traces["spikes"]
    assert counts.max() > 1  # steps of several spikes
    expected = np.cumsum(np.concatenate([np.zeros((1, 2, 6)), counts[:-1] @ w_out.T]), axis=0)
    assert np.array_equal(result["b"].traces["g"], expected)
    assert np.array_equal(result["a"].spike_count, counts.sum(axis=0))
