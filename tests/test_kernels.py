"""Every loop order, tile size, thread count, input layout and recording mode gives the same numbers."""

import json
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from conftest import as_in_a_terminal

import lifgen
from lifgen.errors import InputError

T, N = 60, 130  # 130 neurons: two full tiles of 64 and a partial one


def drives(rng):
    return {
        "per neuron": rng.uniform(0, 0.4, N),
        "shared": 0.31,
        "waveform": lifgen.PulseTrain(0.5, 3, 4, 9),
        "streamed": rng.uniform(-0.1, 0.6, (T, N)),
    }


@pytest.fixture(scope="module")
def rng():
    return np.random.default_rng(7)


@pytest.mark.parametrize("model", ["leaky", "synaptic"])
@pytest.mark.parametrize("drive", ["per neuron", "shared", "waveform", "streamed"])
def test_tiles_and_threads_agree(model, drive, rng):
    current = drives(rng)[drive]
    params = {"beta": rng.uniform(0.5, 1.0, N)}
    runs = [lifgen.compile(model, tile=tile, threads=threads).run(
        T, N, inputs={"I": current}, params=params, record=lifgen.load_model(model).state_names)
        for tile, threads in ((1, 1), (3, 1), (None, 1), (None, 2), (7, 2))]
    for other in runs[1:]:
        np.testing.assert_array_equal(other.spikes, runs[0].spikes)
        for name in runs[0].traces:
            np.testing.assert_array_equal(other.traces[name], runs[0].traces[name])
    assert runs[0].spikes.any()


@pytest.mark.parametrize("layout", ["held", "streamed"])
@pytest.mark.parametrize("model", ["leaky", "adex"])
def test_a_run_kept_step_by_step_equals_one_that_keeps_only_counts(model, layout, rng):
    """Tiles (held inputs) and chunks (streamed inputs) run their steps in one loop when a run
    keeps only counts, and a step at a time when it keeps traces (tiles: spikes too); a partial
    tile's spare lanes and the chunks' spike buffers change nothing."""
    simulator = lifgen.compile(model, tile=8)
    n, steps, drive = 37, 400, {"leaky": 0.4, "adex": 900.0}[model]
    shape = n if layout == "held" else (steps, n)
    inputs = {"I": drive * rng.uniform(0.5, 1.5, shape)}
    counted = simulator.run(steps, n, inputs=inputs, record=[], spikes="count")
    kept = simulator.run(steps, n, inputs=inputs, record={s: [0, 36] for s in simulator.model.state_names},
                         spikes="raster")
    np.testing.assert_array_equal(counted.spike_count, kept.spike_count)
    np.testing.assert_array_equal(kept.spikes.sum(axis=0), kept.spike_count)
    for name, values in kept.state.items():
        np.testing.assert_array_equal(counted.state[name], values)
    assert kept.spike_count.min() > 0


def test_tiles_match_the_straightforward_loop(rng):
    current, beta = rng.uniform(-0.1, 0.6, (T, N)), rng.uniform(0.5, 1.0, N)
    result = lifgen.compile("leaky").run(T, N, inputs={"I": current}, params={"beta": beta})
    V, spikes, trace = np.zeros(N), [], []
    for t in range(T):
        reset = V > 1.0
        V = beta * V + current[t] - reset * 1.0
        spikes.append(V > 1.0)
        trace.append(V.copy())
    np.testing.assert_array_equal(result.spikes, spikes)
    np.testing.assert_allclose(result.traces["V"], trace, rtol=1e-13)


TWO_INPUTS = """
[model]
name = "two_inputs"
[parameters]
beta = { value = 0.9 }
[states]
V = { initial = 0.0 }
[inputs]
I = {}
J = {}
[equations]
update = { V = "beta*V + I + J" }
[spike]
condition = "V > 1"
[reset]
mechanism = "subtract"
timing = "next_step"
subtract = { V = "V - 1" }
"""


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("threads", [1, 2])
def test_streamed_blocks_and_step_chunks_match_the_straightforward_loop(dtype, threads, tmp_path):
    """Several neuron blocks (a partial last one), a partial last chunk of steps, batch rows,
    a held input beside the streamed one, traces of neurons in different blocks."""
    path = tmp_path / "two_inputs.toml"
    path.write_text(TWO_INPUTS)
    steps, n = 37, 9001
    rng = np.random.default_rng(3)
    streamed = rng.uniform(-0.1, 0.6, (steps, 2, n)).astype(dtype)
    held = rng.uniform(0, 0.1, n).astype(dtype)
    beta = rng.uniform(0.5, 1.0, n).astype(dtype)
    chosen = [0, 4095, 4096, 8191, 9000]
    result = lifgen.compile(str(path), dtype=dtype, threads=threads).run(
        steps, n, inputs={"I": streamed, "J": held}, params={"beta": beta}, record={"V": chosen})
    V, spikes, trace = np.zeros((2, n), dtype), [], []
    for t in range(steps):
        reset = (V > 1).astype(dtype)
        V = ((beta * V + streamed[t]) + held) - reset
        spikes.append(V > 1)
        trace.append(V[:, chosen])
    np.testing.assert_array_equal(result.spikes, spikes)
    np.testing.assert_array_equal(result.traces["V"], trace)
    assert result.spikes.any()


BOUNDED = TWO_INPUTS.replace('name = "two_inputs"', 'name = "bounded"').replace(
    'V = "beta*V + I + J"', 'V = "min(max(beta*V + I, J), clip(J + 1.5, 1.2, 1.4))"')


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_min_max_and_clip_match_numpy(dtype, tmp_path, rng):
    path = tmp_path / "bounded.toml"
    path.write_text(BOUNDED)
    current, floor = rng.uniform(-1, 1, (T, N)).astype(dtype), rng.uniform(-0.5, 0, N).astype(dtype)
    result = lifgen.compile(str(path), dtype=dtype).run(T, N, inputs={"I": current, "J": floor})
    real = np.dtype(dtype).type
    V, trace = np.zeros(N, dtype), []
    ceiling = np.minimum(np.maximum(floor + real(1.5), real(1.2)), real(1.4))
    for t in range(T):
        reset = (V > 1).astype(dtype)
        V = np.minimum(np.maximum(real(0.9) * V + current[t], floor), ceiling) - reset
        trace.append(V)
    np.testing.assert_array_equal(result.traces["V"], trace)
    assert (result.traces["V"] == floor).any() and result.spikes.any()


def test_a_recurrent_model_without_connections_matches_its_feedforward_twin(rng):
    current = rng.uniform(-0.1, 0.6, (T, N))
    plain = lifgen.compile("leaky").run(T, N, inputs={"I": current})
    recurrent = lifgen.compile("rleaky").run(T, N, inputs={"I": current})  # no connections
    np.testing.assert_array_equal(plain.spikes, recurrent.spikes)
    np.testing.assert_array_equal(plain.traces["V"], recurrent.traces["V"])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_an_unconnected_recurrent_input_holds_its_bias_as_in_the_network(dtype, rng):
    """Without connections rleaky's rec is its bias alone: the single population's kernel gives
    the numbers of its one-population network with zero one-to-one weights."""
    current = rng.uniform(-0.1, 0.6, (T, 2, N))
    sim = lifgen.compile("rleaky", dtype=dtype)
    for bias in (0.15, rng.uniform(-0.2, 0.3, N)):
        arguments = dict(inputs={"I": current}, params={"b_rec": bias})
        alone = sim.run(T, N, **arguments)
        network = sim.run(T, N, connections={"rec": np.zeros(N)}, **arguments)
        assert "Loop order: chunks of steps" in sim.source(T, N, **arguments)  # not a network
        assert alone.spike_count.sum() > 0
        np.testing.assert_array_equal(alone.spikes, network.spikes)
        np.testing.assert_array_equal(alone.traces["V"], network.traces["V"])


@pytest.mark.parametrize("model", ["leaky", "rleaky"])
def test_spike_modes_agree(model, rng):
    current = rng.uniform(0, 0.7, (T, 2, N))
    sim = lifgen.compile(model)
    raster = sim.run(T, N, inputs={"I": current})
    count = sim.run(T, N, inputs={"I": current}, spikes="count")
    events = sim.run(T, N, inputs={"I": current}, spikes="events")
    assert count.spikes is None and events.spikes is None
    np.testing.assert_array_equal(count.spike_count, raster.spikes.sum(axis=0))
    np.testing.assert_array_equal(raster.spike_count, count.spike_count)
    steps, neurons = np.nonzero(raster.spikes.reshape(T, -1))
    np.testing.assert_array_equal(events.spike_events[0], steps)
    np.testing.assert_array_equal(events.spike_events[1], neurons)
    np.testing.assert_array_equal(events.spike_steps(5), raster.spike_steps(5))


@pytest.mark.parametrize("model, layout, threads", [
    ("leaky", "per neuron", 1), ("leaky", "per neuron", 2), ("synaptic", "streamed", 1),
    ("synaptic", "streamed", 2), ("rleaky", "streamed", 1)])
def test_spike_counts_start_from_zero_in_uncleared_memory(monkeypatch, model, layout, threads, rng):
    """The kernel starts spike counts from zero at step 0, whatever the buffer held before; later
    chunks of the same run (progress bar, events) add to them."""
    real_empty = np.empty
    monkeypatch.setattr(np, "empty", lambda *a, **k: np.full_like(real_empty(*a, **k), 77))
    current = drives(rng)[layout]
    sim = lifgen.compile(model, threads=threads)
    for options in ({}, {"progress": True}, {"spikes": "events"}):
        result = sim.run(T, N, inputs={"I": current}, **options)
        reference = sim.run(T, N, inputs={"I": current})
        np.testing.assert_array_equal(result.spike_count, reference.spikes.sum(axis=0))
    assert reference.spikes.any()
    assert sim.run(0, N).spike_count.tolist() == [0] * N


def test_events_collected_in_chunks(monkeypatch, rng):
    from lifgen.runtime import simulate

    monkeypatch.setattr(simulate, "CHUNK_ENTRIES", 3 * N)  # three steps per kernel call
    current = rng.uniform(0, 0.7, (T, N))
    sim = lifgen.compile("leaky")
    events = sim.run(T, N, inputs={"I": current}, spikes="events")
    raster = sim.run(T, N, inputs={"I": current})
    np.testing.assert_array_equal(events.spike_events[0], np.nonzero(raster.spikes)[0])


def test_huge_rasters_are_refused():
    with pytest.raises(InputError, match="spikes='count'.*spikes='events'"):
        lifgen.compile("leaky").run(1000, 10**6)


def test_traces_of_chosen_neurons(rng):
    current = rng.uniform(0, 0.7, (T, N))
    sim = lifgen.compile("synaptic")
    full = sim.run(T, N, inputs={"I": current}, record=["V", "I_syn"])
    chosen = sim.run(T, N, inputs={"I": current}, record={"V": [0, 70, 129], "I_syn": [70]})
    assert chosen.traces["V"].shape == (T, 3)
    np.testing.assert_array_equal(chosen.traces["V"], full.traces["V"][:, [0, 70, 129]])
    np.testing.assert_array_equal(chosen.trace("I_syn", 70), full.traces["I_syn"][:, 70])
    with pytest.raises(InputError, match="neuron indices"):
        sim.run(T, N, record={"V": [N]})


def test_progress_chunks_give_the_same_result(rng, capsys):
    current = rng.uniform(0, 0.7, (T, N))
    sim = lifgen.compile("synaptic")
    whole = sim.run(T, N, inputs={"I": current}, record=["V", "I_syn"])
    chunked = sim.run(T, N, inputs={"I": current}, record=["V", "I_syn"], progress=True)
    assert "100.0%" in capsys.readouterr().err and not chunked.partial
    np.testing.assert_array_equal(chunked.spikes, whole.spikes)
    np.testing.assert_array_equal(chunked.traces["I_syn"], whole.traces["I_syn"])
    recurrent = lifgen.compile("rleaky")
    W = rng.uniform(-0.3, 0.3, (N, N))
    a = recurrent.run(T, N, inputs={"I": current}, connections={"rec": W})
    b = recurrent.run(T, N, inputs={"I": current}, connections={"rec": W}, progress=True)
    np.testing.assert_array_equal(a.spikes, b.spikes)  # the previous spikes carry over chunks


def test_ctrl_c_returns_a_partial_result(tmp_path):
    script = textwrap.dedent("""
        import json, lifgen
        sim = lifgen.compile("leaky", dtype="float32")
        print("ready", flush=True)
        result = sim.run(200000, 20000, inputs={"I": 0.05}, spikes="count", progress=True)
        print(json.dumps({"partial": result.partial, "steps": result.n_steps}), flush=True)
    """)
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=dict(os.environ),
                               preexec_fn=as_in_a_terminal)
    assert process.stdout.readline().strip() == "ready"
    # the bar's second drawing (its lines end at each "\r"): the run is past its first chunk
    # and inside the loop where Ctrl-C stops it (a fixed sleep could end before the run got
    # there on a loaded machine)
    for _ in range(2):
        assert process.stderr.readline()
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    report = json.loads(out.strip().splitlines()[-1])
    assert report["partial"] is True and 0 < report["steps"] < 200000, err


def test_portable_build_gives_the_same_numbers(rng):
    current = rng.uniform(0, 0.7, (T, N))
    native = lifgen.compile("leaky", dtype="float32")
    portable = lifgen.compile("leaky", dtype="float32", portable=True)
    assert native.kernel.module_name != portable.kernel.module_name
    np.testing.assert_array_equal(native.run(T, N, inputs={"I": current}).traces["V"],
                                  portable.run(T, N, inputs={"I": current}).traces["V"])


def _cpu_has_fma():
    try:
        with open("/proc/cpuinfo") as handle:
            return any(line.startswith("flags") and " fma " in line + " " for line in handle)
    except OSError:
        return False


def test_fma_is_opt_in_and_changes_only_the_last_bits(rng):
    current = rng.uniform(0, 0.05, (T, N))  # stays below threshold: no spike amplifies a difference
    unfused = lifgen.compile("leaky", dtype="float32")
    fused = lifgen.compile("leaky", dtype="float32", fma=True)
    assert "-ffp-contract=off" in lifgen.codegen.build.compile_flags()
    assert "-ffp-contract=fast" in lifgen.codegen.build.compile_flags(fma=True)
    assert fused.kernel.module_name != unfused.kernel.module_name and fused.fma
    a = unfused.run(T, N, inputs={"I": current}).traces["V"]
    b = fused.run(T, N, inputs={"I": current}).traces["V"]
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    if _cpu_has_fma():  # one rounding instead of two shows in some neuron's last bits
        assert np.any(a != b)


def test_precise_spike_times_with_every_input_layout():
    sim = lifgen.compile("lapicque", method="exact", reset_timing="same_step", precise=True)
    held = sim.run(300, 3, inputs={"I": 0.3})
    streamed = sim.run(300, 3, inputs={"I": np.full((300, 3), 0.3)})
    per_step = sim.run(300, 3, inputs={"I": lifgen.Constant(0.3)})
    for other in (streamed, per_step):
        for a, b in zip(held.spike_times, other.spike_times):
            np.testing.assert_array_equal(a, b)
    assert np.isnan(streamed.spike_offsets[~streamed.spikes]).all()
