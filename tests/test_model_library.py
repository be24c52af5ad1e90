"""Nonlinear models declared, not coded: Izhikevich (presets, formula initial values) and
Hodgkin-Huxley (rate functions through exprel, spikes as upward crossings)."""

import numpy as np
import pytest
import sympy

import lifgen
from lifgen.errors import ModelError
from lifgen.ir.functions import exprel


def test_izhikevich_starts_u_at_b_times_V():
    model = lifgen.load_model("izhikevich")
    assert model.initial_values == {"V": -65.0, "u": -13.0}
    result = lifgen.compile(model).run(1, 3, params={"b": np.array([0.2, 0.25, 0.3])},
                                       record=["u"])
    # one step of du/dt = a(bV - u) from u = bV leaves u where it was (to first order)
    np.testing.assert_allclose(result.traces["u"][0], [-13.0, -16.25, -19.5], atol=1e-3)


def test_izhikevich_presets_fire_as_in_the_paper():
    rates = {}
    for preset in ("regular_spiking", "fast_spiking", "chattering", "intrinsically_bursting"):
        model = lifgen.load_model("izhikevich", preset=preset)
        simulator = lifgen.compile(model)
        assert simulator.method.startswith("rk4")  # auto: V**2 is nonlinear, no linear split
        steps = simulator.run(10000, inputs={"I": lifgen.Step(10.0, 100)}).spike_steps()
        intervals = np.diff(steps)
        rates[preset] = len(steps)
        if preset == "regular_spiking":
            assert intervals[0] < intervals[-1]  # spike-frequency adaptation
        if preset in ("chattering", "intrinsically_bursting"):
            assert intervals.min() < intervals.max() / 4  # bursts: short and long intervals
    assert rates["fast_spiking"] > rates["regular_spiking"]


def test_unknown_preset_lists_the_known_ones():
    with pytest.raises(ModelError, match="presets: regular_spiking"):
        lifgen.load_model("izhikevich", preset="sleepy")


def test_hodgkin_huxley_rates_are_finite_at_their_singular_points():
    model = lifgen.load_model("hodgkin_huxley")
    V, m, n = sympy.symbols("V m n")
    rhs = dict(model.odes)
    for state, singular in ((m, -40.0), (n, -55.0)):
        expression = rhs[state]
        for v in (singular, singular + 1e-9, singular - 1e-9):
            value = float(expression.subs({V: v, m: 0.5, n: 0.5}).evalf())
            assert np.isfinite(value)
        left = float(expression.subs({V: singular - 1e-6, m: 0.5, n: 0.5}).evalf())
        right = float(expression.subs({V: singular + 1e-6, m: 0.5, n: 0.5}).evalf())
        assert abs(left - right) < 1e-5  # continuous across the 0/0 point
    assert float(exprel(sympy.Float(0.0))) == 1.0
    simulator = lifgen.compile("hodgkin_huxley")
    result = simulator.run(200, initial={"V": -40.0}, record=["V", "m", "n"])
    assert all(np.isfinite(result.traces[s]).all() for s in ("V", "m", "n"))


def test_hodgkin_huxley_spikes_are_upward_crossings_and_onset_is_between_6_and_7():
    simulator = lifgen.compile("hodgkin_huxley")
    assert simulator.method.startswith("rk4")  # auto: exponential Euler is far off at dt 0.01

    def spikes(current):
        return int(simulator.run(20000, inputs={"I": current}, spikes="count").spike_count[0])

    result = simulator.run(20000, inputs={"I": 10.0})
    assert len(result.spike_steps()) == 14  # each spike counted once, at its upward crossing
    above = result.traces["V"][:, 0] > 0
    np.testing.assert_array_equal(result.spike_steps(), np.flatnonzero(above[1:] & ~above[:-1]) + 1)
    low, high = 2.0, 12.0  # bisection on repetitive firing: at least 5 spikes in 200 ms
    for _ in range(12):
        middle = 0.5 * (low + high)
        low, high = (low, middle) if spikes(middle) >= 5 else (middle, high)
    assert 6.0 < high < 7.0


@pytest.mark.parametrize("preset, current, check", [
    ("tonic", 500.0, lambda isi: isi.max() - isi[2:].min() <= 8),           # regular
    ("adapting", 500.0, lambda isi: isi[-1] > 3 * isi[0]),                 # slows down
    ("initial_burst", 400.0, lambda isi: isi[0] < isi[-1] / 5),            # burst, then regular
    ("bursting", 210.0, lambda isi: isi.max() > 10 * isi.min() and len(isi) > 4),  # doublets
])
def test_adex_firing_patterns_of_naud_2008(preset, current, check):
    simulator = lifgen.compile(lifgen.load_model("adex", preset=preset))
    assert simulator.method.startswith("rk4")  # auto: the exponential term is nonlinear in V
    steps = simulator.run(5000, inputs={"I": lifgen.Step(current, 100)}).spike_steps()
    assert len(steps) >= 6 and check(np.diff(steps)), np.diff(steps)


def test_eif_fires_only_above_its_rheobase():
    simulator = lifgen.compile("eif")
    counts = [int(simulator.run(5000, inputs={"I": current}, spikes="count").spike_count[0])
              for current in (1.0, 2.0, 3.0)]
    assert counts[0] == 0 and 0 < counts[1] < counts[2]


@pytest.mark.parametrize("model", ["izhikevich", "adex", "eif", "qif", "hodgkin_huxley",
                                   "lif_cuba", "lif_coba"])
def test_every_applicable_method_runs(model):
    from lifgen.numerics.methods import ORDERS, applies

    loaded = lifgen.load_model(model)
    for method in ORDERS:
        if not applies(method, loaded) or "_sub" in method:  # substeps: test_auto.py
            continue
        dt = loaded.dt / 4 if method == "euler" else loaded.dt
        result = lifgen.compile(loaded, method=method, dt=dt).run(200, inputs={"I": 1.0},
                                                                  record=loaded.state_names)
        assert all(np.isfinite(v).all() for v in result.traces.values()), method


@pytest.mark.parametrize("relative_gap", [0.0, 1e-9, 1e-3])
def test_lif_cuba_exact_step_is_finite_and_accurate_at_equal_time_constants(relative_gap):
    import mpmath

    simulator = lifgen.compile("lif_cuba")  # one kernel: tau_e is a runtime parameter
    tau_m, g0, dt = 20.0, 1.0, 0.1
    tau_e = tau_m * (1 + relative_gap)
    result = simulator.run(300, initial={"V": -49.0, "g_e": g0},
                           params={"tau_e": tau_e, "V_t": 1e9})
    mpmath.mp.dps = 40
    expected = []
    for k in range(1, 301):
        t = mpmath.mpf(k) * mpmath.mpf(dt)
        if relative_gap == 0:
            w = g0 / mpmath.mpf(tau_m) * t * mpmath.exp(-t / tau_m)
        else:
            w = (g0 / mpmath.mpf(tau_m) * (mpmath.exp(-t / mpmath.mpf(tau_e)) - mpmath.exp(-t / tau_m))
                 / (1 / mpmath.mpf(tau_m) - 1 / mpmath.mpf(tau_e)))
        expected.append(float(w) - 49.0)
    np.testing.assert_allclose(result.traces["V"][:, 0], expected, rtol=1e-13, atol=0)


def test_lif_coba_chooses_hybrid_and_its_conductances_pull_towards_reversal():
    simulator = lifgen.compile("lif_coba")
    assert simulator.method == "hybrid"  # auto: conductances exact, V by rk4
    # A large inhibitory conductance holds V near E_i = -80 mV; excitation pulls it towards 0.
    inhibited = simulator.run(50, initial={"g_i": 50.0}, inputs={"I": 0.0})
    assert inhibited.traces["V"][-1, 0] == pytest.approx(-80.0, abs=2.0)
    # g_e = 1000 leak conductances is a stiff extreme (dt/tau = 5 for V), outside rk4's and so
    # hybrid's stability region: exponential Euler, unconditionally stable there, takes it
    stiff = lifgen.compile("lif_coba", method="exponential_euler")
    excited = stiff.run(3, initial={"g_e": 1000.0, "V": -70.0}, params={"V_t": 1e9},
                        inputs={"I": 0.0})
    assert excited.traces["V"][-1, 0] == pytest.approx(0.0, abs=1.0)
