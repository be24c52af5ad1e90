"""spikes="events" on the cuda target: each chunk's spikes compacted on the device
(kernel.cu.j2's lg_events_count and lg_events_write; target.Runner.advance_events), checked on
cuda-host against the C target's events."""

import numpy as np
import pytest

import lifgen
from lifgen.targets import get_target
from lifgen.targets.cuda.target import Runner


@pytest.fixture(scope="module")
def leaky():
    """The C and cuda-host kernels of leaky, built once."""
    from lifgen import targets
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(targets.TARGETS, "cuda-host", "cuda_host_target")
        yield lifgen.compile("leaky"), lifgen.compile("leaky", target="cuda-host")


def test_events_compacted_on_the_device_are_the_c_target_s(leaky, monkeypatch):
    """Two batch rows of 1037 neurons in chunks of 3 steps: a chunk's 6222 bytes are four
    segments, the last partial and not whole words, and a segment's words straddle rows and
    steps. The host gets counts and events, never the raster."""
    c, cuda = leaky
    monkeypatch.setattr(Runner, "event_chunk_entries", 3 * 2 * 1037)
    chunks = []
    compact = Runner.advance_events
    monkeypatch.setattr(Runner, "advance_events",
                        lambda self, *a: chunks.append(a) or compact(self, *a))
    monkeypatch.setattr(Runner, "advance", None)  # (no raster comes back)
    inputs = {"I": np.random.default_rng(1).uniform(0, 0.6, (60, 2, 1037))}
    expected = c.run(60, 1037, inputs=inputs, spikes="events")
    got = cuda.run(60, 1037, inputs=inputs, spikes="events")
    assert len(chunks) == 20 and expected.spike_events[0].size > 1000
    for mine, theirs in zip(got.spike_events, expected.spike_events):
        np.testing.assert_array_equal(mine, theirs)
    np.testing.assert_array_equal(got.spike_count, expected.spike_count)


def test_device_events_stop_at_the_memory_limit_as_the_c_target_s(leaky):
    c, cuda = leaky
    run = dict(inputs={"I": 0.6}, spikes="events", max_memory=3_600_000)
    with pytest.warns(lifgen.NumericalWarning, match="kept the first"):
        expected = c.run(1000, 100, **run)
    with pytest.warns(lifgen.NumericalWarning, match="kept the first"):
        got = cuda.run(1000, 100, **run)
    assert got.truncated and 0 < got.spike_events[0].size < got.spike_count.sum()
    for mine, theirs in zip(got.spike_events, expected.spike_events):
        np.testing.assert_array_equal(mine, theirs)


def test_a_chunk_s_offsets_are_summed_on_the_device_and_only_its_total_comes_back(leaky,
                                                                                 monkeypatch):
    """Chunks of 1200 steps of 2000 neurons: 1172 segments, more than the scan's 1024 threads
    (two segments for some, none for the last), then a last chunk of 800 steps. The host
    downloads each chunk's number of spikes (8 bytes) and its events, and the run's states and
    counts at the end: no segment's count or offset crosses."""
    c, cuda = leaky
    monkeypatch.setattr(Runner, "event_chunk_entries", 1200 * 2000)
    inputs = {"I": np.random.default_rng(2).uniform(0, 0.6, 2000)}
    expected = c.run(2000, 2000, inputs=inputs, record=[], spikes="events")
    host = get_target("cuda-host").device
    host.traffic.reset()
    got = cuda.run(2000, 2000, inputs=inputs, record=[], spikes="events")
    for mine, theirs in zip(got.spike_events, expected.spike_events):
        np.testing.assert_array_equal(mine, theirs)
    events = expected.spike_events[0].size
    assert events > 10_000
    finals = sum(v.nbytes for v in got.state.values()) + got.spike_count.nbytes
    assert host.traffic.downloaded == 2 * 8 + 2 * 8 * events + finals
