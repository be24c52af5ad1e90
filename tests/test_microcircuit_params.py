"""examples/microcircuit_params.py (the Potjans & Diesmann 2014 microcircuit's parameters, NEST's
scaling rules and the connectivity draw) against numbers worked out by hand from NEST's
pynest/examples/Potjans_2014 formulas. Pure NumPy: no lifgen, Brian2 or NEST."""

import ast
import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest

PATH = Path(__file__).resolve().parent.parent / "examples" / "microcircuit_params.py"
spec = importlib.util.spec_from_file_location("microcircuit_params", PATH)
mp = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mp)

PSC = 87.8085  # pA: 0.15 mV through helpers.postsynaptic_potential_to_current


def test_imports_only_numpy_and_the_standard_library():
    tree = ast.parse(PATH.read_text())
    names = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert names <= {"numpy", "math", "__future__"}


def test_psc_amplitude_from_psp():
    # peak of the PSP of a unit exponential PSC, found numerically, against the closed form
    t = np.linspace(0, 10, 200001)
    tm, ts, c = 10.0, 0.5, 250.0
    v = tm * ts / (c * (tm - ts)) * (np.exp(-t / tm) - np.exp(-t / ts))
    assert mp.psc_over_psp() == pytest.approx(1 / v.max(), rel=1e-8)
    assert mp.psc_exc_mean() == pytest.approx(PSC, abs=1e-4)


def test_synapse_numbers_follow_the_fixed_total_number_formula():
    full = mp.full_num_synapses()
    n_post, n_pre, p = 20683, 21915, 0.0437  # L4E -> L23E
    # NEST's log((prod - 1)/prod) (kept, to give NEST's numbers) is ~1e-8 off the log1p form
    assert full[0, 2] == pytest.approx(math.log1p(-p) / math.log1p(-1 / (n_post * n_pre)), rel=1e-7)
    assert full[0, 5] == 0  # L5I -> L23E: p = 0
    assert full.sum() == pytest.approx(2.989e8, rel=1e-3)  # "~0.3 billion synapses"
    net = mp.scaled(0.1, 0.1)
    assert net["num_neurons"].tolist() == [2068, 583, 2192, 548, 485, 106, 1440, 295]
    assert np.array_equal(net["num_synapses"], np.round(full * 0.01).astype(int))
    assert net["ext_indegrees"].tolist() == [160, 150, 210, 190, 200, 190, 290, 210]
    # in-degrees shrink with K only (up to the rounding of the sizes: 1065 * 0.1 -> 106)
    assert np.allclose(mp.mean_indegrees(mp.scaled(0.1, 1.0)),
                       full / mp.FULL_NUM_NEURONS[:, None], rtol=5e-3, atol=0.01)


def test_weights_scale_with_one_over_sqrt_k():
    net = mp.scaled(0.1, 0.1)
    root = math.sqrt(0.1)
    assert net["weight_ext"] == pytest.approx(PSC / root, abs=1e-3)
    assert net["weight_mean"][0, 2] == pytest.approx(2 * PSC / root, abs=1e-3)  # L4E -> L23E
    assert net["weight_mean"][3, 0] == pytest.approx(PSC / root, abs=1e-3)
    assert net["weight_mean"][4, 5] == pytest.approx(-4 * PSC / root, abs=1e-3)
    assert np.allclose(net["weight_std"], 0.1 * np.abs(net["weight_mean"]))
    assert np.allclose(mp.scaled(1, 1)["weight_mean"], mp.psp_matrix_mean() * mp.psc_over_psp())


def test_dc_keeps_the_mean_input_of_the_full_network():
    """With the full network's rates, mean input (synaptic + DC) is that of the full network."""
    full = mp.scaled(1, 1)
    tau = 0.5e-3  # s
    rates = mp.FULL_MEAN_RATES_NEST

    def mean_input(net):
        rec = (net["weight_mean"] * mp.mean_indegrees(net) * rates).sum(axis=1) * tau
        ext = net["ext_indegrees"] * 8.0 * net["weight_ext"] * tau if net["poisson_input"] else 0
        return rec + ext + net["dc"]

    for poisson in (True, False):
        reference = mean_input(mp.scaled(1, 1, poisson_input=poisson))
        assert np.allclose(mean_input(mp.scaled(0.1, 0.1, poisson_input=poisson)), reference,
                           rtol=5e-3, atol=0)  # rounding of the synapse numbers (L5I: 106 neurons)
    assert np.all(full["dc"] == 0)
    dc_full = mp.scaled(1, 1, poisson_input=False)["dc"]
    assert dc_full[0] == pytest.approx(8 * 1600 * PSC * 0.5e-3, abs=1e-3)  # 561.97 pA
    # NEST's DC variant at K = 0.1: all but L6I below rheobase C_m (V_th - E_L) / tau_m = 375 pA
    dc = mp.scaled(0.1, 0.1, poisson_input=False)["dc"]
    assert (dc < 375).tolist() == [True] * 7 + [False]


def test_connectivity_draw():
    net = mp.scaled(0.03, 0.03)
    first = mp.draw_connectivity(net, seed=7)
    again = mp.draw_connectivity(net, seed=7)
    for (i, j), (pre, post, weight, delay) in first.items():
        n = net["num_synapses"][i, j]
        assert pre.size == post.size == weight.size == delay.size == n
        assert np.array_equal(pre, again[(i, j)][0]) and np.array_equal(delay, again[(i, j)][3])
        if n:
            assert 0 <= pre.min() and pre.max() < net["num_neurons"][j]
            assert 0 <= post.min() and post.max() < net["num_neurons"][i]
            assert np.all(np.sign(weight) == np.sign(net["weight_mean"][i, j]))
            assert delay.min() >= 0.1 - 1e-12
            assert np.allclose(delay / 0.1, np.round(delay / 0.1))
    pre, post, weight, delay = first[(1, 1)]  # L23I -> L23I: multapses and autapses occur
    assert np.any(pre == post)
    assert len(set(zip(pre.tolist(), post.tolist()))) < pre.size
    pre, post, weight, delay = mp.draw_connectivity(mp.scaled(0.1, 0.1), seed=1)[(0, 2)]
    assert weight.mean() == pytest.approx(2 * PSC / math.sqrt(0.1), rel=2e-3)
    assert weight.std() == pytest.approx(0.2 * PSC / math.sqrt(0.1), rel=2e-2)
    # Normal(1.5, 0.75) redrawn below 0.05 ms: mean of the truncated normal, 1.549 ms
    assert delay.mean() == pytest.approx(1.549, abs=0.01)


def test_initial_potentials():
    net = mp.scaled(0.1, 0.1)
    v = mp.draw_initial_v(net, 3)
    assert v.size == 7717
    assert v[:2068].mean() == pytest.approx(-68.28, abs=0.4)
    assert v[:2068].std() == pytest.approx(5.36, rel=0.05)
