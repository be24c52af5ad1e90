"""The CUBA and COBA networks of Brette et al. (2007) against Brian2: rates and irregularity.

References: tests/reference/make_brette2007_refs.py (Brian2 2.9, its examples' equations and
connectivity, three seeds). The networks are chaotic: only statistics are compared.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import lifgen
from lifgen.tools import brette2007

ROOT = Path(__file__).resolve().parent.parent
# The examples import the lifgen these tests import (installed in CI, the checkout here).
ENV = dict(os.environ, PYTHONPATH=str(Path(lifgen.__file__).resolve().parent.parent))
REFERENCE = json.loads((Path(__file__).parent / "reference" / "brian2" / "brette2007.json").read_text())


def assert_matches_brian2(name, simulator):
    """Mean rates within 10 % and mean CV within 0.1 of Brian2's, over the reference seeds."""
    ours = [brette2007.simulate(name, seed=seed, simulator=simulator)[1]
            for seed in REFERENCE["seeds"]]
    theirs = REFERENCE["networks"][name]
    for key in ("rate_exc_hz", "rate_inh_hz"):
        mean_ours, mean_theirs = (np.mean([r[key] for r in runs]) for runs in (ours, theirs))
        assert mean_ours == pytest.approx(mean_theirs, rel=0.10), (key, ours, theirs)
    cv_ours, cv_theirs = (np.mean([r["cv_isi_exc"] for r in runs]) for runs in (ours, theirs))
    assert abs(cv_ours - cv_theirs) <= 0.1, (ours, theirs)


@pytest.mark.parametrize("name", ["cuba", "coba"])
def test_rates_and_cv_match_brian2(name):
    assert_matches_brian2(name, lifgen.compile(brette2007.NETWORKS[name].model, dt=0.1))


def test_connectivity_follows_the_benchmark():
    synapses = brette2007.connections(brette2007.NETWORKS["cuba"], seed=3)
    exc, inh = synapses["exc"], synapses["inh"]
    assert exc.pre.max() < 3200 <= inh.pre.min()
    assert exc.n_synapses == pytest.approx(0.02 * 3200 * 4000, rel=0.03)
    assert inh.n_synapses == pytest.approx(0.02 * 800 * 4000, rel=0.05)
    assert set(exc.weight.tolist()) == {1.62} and set(inh.weight.tolist()) == {-9.0}


@pytest.mark.parametrize("name", ["cuba", "coba"])
def test_example_prints_json(name, tmp_path):
    out = subprocess.run([sys.executable, str(ROOT / "examples" / f"{name}.py"), "--json",
                          "--seed", "2", "--duration", "200"], capture_output=True, text=True,
                         cwd=tmp_path, check=True, env=ENV)
    stats = json.loads(out.stdout)
    assert {"rate_exc_hz", "rate_inh_hz", "cv_isi_exc"} <= set(stats)
    assert stats["seed"] == 2 and stats["rate_exc_hz"] > 0


def test_example_draws_a_raster(tmp_path):
    figure = tmp_path / "cuba.png"
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "cuba.py"), "--duration", "100",
                          "--plot", str(figure)], capture_output=True, text=True, check=True,
                         env=ENV)
    assert "Hz excitatory" in out.stdout and figure.stat().st_size > 10_000


@pytest.mark.parametrize("name", ["cuba", "coba"])
def test_the_example_script_builds_the_network_that_matches_brian2(name):
    """examples/cuba.py and coba.py build the network in the file (a script to copy and edit):
    the same synapses, initial values and spikes as lifgen.tools.brette2007, which the Brian2
    comparison runs."""
    from example_modules import example

    script = example(name)
    simulator, initial, synapses = script.build(seed=2)
    expected = brette2007.connections(brette2007.NETWORKS[name], seed=3)
    for synapse in ("exc", "inh"):
        for field in ("pre", "post", "weight", "delay"):
            np.testing.assert_array_equal(getattr(synapses[synapse], field),
                                          getattr(expected[synapse], field))
    ours = script.run(seed=2, duration_ms=30.0)
    theirs = brette2007.run(name, seed=2, duration_ms=30.0)
    assert ours.spike_count.sum() > 0
    for a, b in zip(ours.spike_events, theirs.spike_events):
        np.testing.assert_array_equal(a, b)
    stats = script.statistics(ours)
    assert stats["spikes"] == int(theirs.spike_count.sum())
