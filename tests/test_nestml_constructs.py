"""Constructs of NESTML's model library (issue 22): a spike condition that reads the previous
step, a clamp after each step, dt in reset forms, two refractory periods, state names such as
dI_ex. Each is compared with an independent NumPy loop or SciPy integration, run in networks,
and printed by the Python test target bit for bit as the C kernel."""

import numpy as np
import pytest
from scipy.integrate import solve_ivp

import lifgen
from lifgen import targets
from lifgen.errors import ModelError
from lifgen.frontend.library import model_file
from lifgen.frontend.modelfile import model_from_document
from lifgen.frontend.schema import read_toml
from lifgen.ir.symbols import symbol as sympy_symbol


@pytest.fixture
def python_target(monkeypatch):
    monkeypatch.setitem(targets.TARGETS, "python", "python_target")


def document(name):
    return read_toml(model_file(name))


# -- 1. a spike condition that reads the previous step --------------------------------------

def hh_nest_test(**changes):
    """Hodgkin-Huxley with NEST's spike test (hh_psc_alpha): V above 0 and falling, i.e. the
    step after the peak; a 2 ms refractory period keeps it to one spike per action potential."""
    doc = document("hodgkin_huxley")
    doc["expressions"]["V_peak"] = "0*mV"
    doc["spike"] = {"condition": "V > V_peak and previous(V) > V"}
    doc["refractory"] = {"period": "2 ms", "counting": "nest"}
    doc["simulation"] = {"method": "rk4", "dt": "0.01 ms"}
    for section, value in changes.items():
        doc[section] = value
    return model_from_document(doc, "hh_nest.toml")


def hh_reference(I, n_steps, dt):
    """V on the step grid, by SciPy (tolerances far below the rk4 step's error)."""
    def rates(V):
        x_m, x_n = -(V + 40) / 10, -(V + 55) / 10
        return (x_m / np.expm1(x_m), 4 * np.exp(-(V + 65) / 18), 0.07 * np.exp(-(V + 65) / 20),
                1 / (1 + np.exp(-(V + 35) / 10)), 0.1 * x_n / np.expm1(x_n),
                0.125 * np.exp(-(V + 65) / 80))

    def f(_, y):
        V, m, h, n = y
        am, bm, ah, bh, an, bn = rates(V)
        return [I - 120 * m**3 * h * (V - 50) - 36 * n**4 * (V + 77) - 0.3 * (V + 54.387),
                am * (1 - m) - bm * m, ah * (1 - h) - bh * h, an * (1 - n) - bn * n]

    times = dt * np.arange(n_steps + 1)
    solution = solve_ivp(f, (0, times[-1]), [-65.0, 0.0529, 0.5961, 0.3177], t_eval=times,
                         rtol=1e-10, atol=1e-10, method="LSODA")
    return solution.y[0]


def spike_after_peak(V):
    """The steps k (1-based: V[k] is the state after step k) where V[k] > 0 and V[k-1] > V[k],
    the first of each action potential."""
    steps = [k for k in range(1, len(V)) if V[k] > 0 and V[k - 1] > V[k]]
    return np.array([k for i, k in enumerate(steps) if i == 0 or k - steps[i - 1] > 1])


def test_nest_hh_spike_test_fires_once_per_action_potential_on_the_step_after_the_peak():
    n_steps, I = 5000, 10.0
    result = lifgen.compile(hh_nest_test()).run(n_steps, inputs={"I": I}, record=["V"])
    expected = spike_after_peak(hh_reference(I, n_steps, 0.01))
    assert len(expected) >= 3
    spikes = result.spike_steps()
    np.testing.assert_array_equal(spikes + 1, expected)
    V = result.traces["V"][:, 0]
    np.testing.assert_array_equal(spike_after_peak(np.concatenate([[-65.0], V])), spikes + 1)


def same_in_network_and_python(model, n_steps, n_neurons, inputs, **options):
    """The single-neuron run, the same model as a network population and the Python test
    target: equal spikes and states, bit for bit."""
    record = list(model.state_names)
    alone = lifgen.compile(model, **options).run(n_steps, n_neurons, inputs=inputs,
                                                 record=record, spikes="raster")
    python = lifgen.compile(model, target="python", **options).run(
        n_steps, n_neurons, inputs=inputs, record=record, spikes="raster")
    net = lifgen.Network()
    net.add("p", model, n_neurons, **options)
    together = net.compile().run(n_steps=n_steps, inputs={"p": inputs}, record={"p": record},
                                 spikes="raster")["p"]
    for other in (python, together):
        assert np.array_equal(alone.spikes.reshape(other.spikes.shape), other.spikes)
        for state, values in alone.traces.items():
            assert np.array_equal(values.reshape(other.traces[state].shape),
                                  other.traces[state]), state
    return alone


def test_previous_in_the_spike_condition_in_networks_and_on_the_python_target(python_target):
    result = same_in_network_and_python(hh_nest_test(), 3000, 3, {"I": np.array([6.0, 10.0, 20.0])})
    assert result.spike_count.sum() >= 6


def test_previous_in_the_spike_condition_without_a_refractory_period_fires_while_falling():
    model = hh_nest_test(refractory={})
    result = lifgen.compile(model).run(3000, inputs={"I": 10.0}, record=["V"])
    V = np.concatenate([[-65.0], result.traces["V"][:, 0]])
    falling = [k - 1 for k in range(1, len(V)) if V[k] > 0 and V[k - 1] > V[k]]
    np.testing.assert_array_equal(result.spike_steps(), falling)


@pytest.mark.parametrize("spike, error", [
    ({"condition": "V > 0*mV and previous(V) > V", "on": "crossing"}, "[spike] on"),
    ({"condition": "previous(W) > V"}, "previous(X) takes one state name"),
])
def test_previous_in_the_spike_condition_refused_where_it_cannot_be_tested(spike, error):
    with pytest.raises(ModelError) as raised:
        hh_nest_test(spike=spike)
    assert "hh_nest.toml" in str(raised.value) and error in str(raised.value)


def test_previous_in_the_spike_condition_refused_with_a_reset_decided_before_the_update():
    doc = document("lif_cuba")
    doc["spike"] = {"condition": "V > V_t and previous(V) < V_t"}
    doc["reset"] = dict(doc["reset"], timing="next_step")
    with pytest.raises(ModelError, match=r"lif_cuba.toml.*\[reset\] timing.*same_step"):
        model_from_document(doc, "lif_cuba.toml")
    doc["reset"]["timing"] = "same_step"
    model = model_from_document(doc, "lif_cuba.toml")
    with pytest.raises(ModelError, match="same_step"):
        lifgen.compile(model, reset_timing="next_step")


# -- 2. a clamp after each step; 3. dt in reset forms --------------------------------------

def izhikevich_clamped(**changes):
    """NESTML's izhikevich: V = max(V_min, V) after integrating, before the threshold test."""
    doc = document("izhikevich")
    doc["parameters"]["V_min"] = {"value": -70.0, "unit": "mV"}
    doc["after_step"] = {"V": "max(V_min, V)"}
    doc["simulation"] = {"method": "euler", "dt": "0.1 ms"}
    for section, value in changes.items():
        doc[section] = value
    return model_from_document(doc, "izhikevich_clamped.toml")


def izhikevich_loop(I, n_steps, dt=0.1, a=0.02, b=0.2, c=-65.0, d=8.0, V_min=-70.0):
    """Forward Euler, the clamp, then the threshold test and reset, as NESTML's update block."""
    V, u = np.full(len(I), -65.0), np.full(len(I), b * -65.0)
    trace, spikes = [], []
    for _ in range(n_steps):
        V, u = V + dt * (0.04 * V**2 + 5 * V + 140 - u + I), u + dt * (a * (b * V - u))
        V = np.maximum(V_min, V)
        fired = V >= 30.0
        V, u = np.where(fired, c, V), np.where(fired, u + d, u)
        trace.append(V.copy())
        spikes.append(fired)
    return np.array(trace), np.array(spikes)


def test_a_clamp_after_each_step_as_nestml_izhikevich():
    I = np.array([-40.0, 0.0, 10.0])  # the first is pushed under V_min and held there
    result = lifgen.compile(izhikevich_clamped()).run(2000, 3, inputs={"I": I}, record=["V"])
    V, spikes = izhikevich_loop(I, 2000)
    assert V[:, 0].min() == -70.0 and spikes[:, 2].sum() >= 5
    np.testing.assert_allclose(result.traces["V"], V, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(result.spikes.reshape(spikes.shape), spikes)
    unclamped = lifgen.compile(izhikevich_clamped(after_step={})).run(
        2000, 3, inputs={"I": I}, record=["V"])
    assert unclamped.traces["V"][:, 0].min() < -70.0


def test_after_step_in_networks_and_on_the_python_target(python_target):
    same_in_network_and_python(izhikevich_clamped(), 1500, 3,
                               {"I": np.array([-40.0, 0.0, 10.0])})
    with_auto = izhikevich_clamped(simulation={"method": "auto", "dt": "0.1 ms"})
    same_in_network_and_python(with_auto, 500, 2, {"I": np.array([-40.0, 10.0])}, rtol=1e-3)


@pytest.mark.parametrize("after_step, error", [
    ({"w": "0"}, "'w' is not a declared state"),
    ({"V": "max(V_min, V) + 1"}, "[after_step] V"),
    ({"V": "V + I"}, "[after_step] V"),  # I is in mV/ms
    ({"V": "max(V_min, Vx)"}, "'Vx' is not declared"),
])
def test_after_step_errors_name_the_file_and_the_field(after_step, error):
    with pytest.raises(ModelError) as raised:
        izhikevich_clamped(after_step=after_step)
    assert "izhikevich_clamped.toml" in str(raised.value) and error in str(raised.value)


def test_dt_in_a_reset_form():
    """iaf_chxk_2008's reset uses resolution(): here the reset raises the adaptation state g by
    an amount over dt, and previous(X) and dt meet in [after_step] too."""
    doc = document("lif_cuba")
    doc["parameters"]["q"] = {"value": 0.05, "unit": "mV"}
    doc["reset"]["zero"] = {"V": "V_r + q*dt/ms"}
    doc["after_step"] = {"V": "V + 0*previous(V)*dt/ms"}
    model = model_from_document(doc, "lif_dt.toml")
    for dt in (0.1, 0.05):
        result = lifgen.compile(model, dt=dt).run(400, inputs={"I": 1e3}, record=["V"])
        spikes = result.spike_steps()
        assert len(spikes) >= 2
        V_r = dict((q.name, q.value) for q in model.parameters)["V_r"]
        assert result.traces["V"][spikes[0], 0] == pytest.approx(V_r + 0.05 * dt, abs=1e-12)


# -- 4. two refractory periods: NEST's iaf_psc_exp_htum ----------------------------------------

HTUM = {
    "model": {"name": "iaf_psc_exp_htum",
              "reference": "NEST's iaf_psc_exp_htum (Hill & Tononi 2005)"},
    "parameters": {"tau_m": "10 ms", "C_m": "250 pF", "tau_syn_ex": "2 ms", "E_L": "-70 mV",
                   "V_th": "-55 mV", "V_reset": "-70 mV", "t_ref_abs": "2 ms",
                   "t_ref_tot": "5 ms"},
    "states": {"V": "-70 mV", "I_ex": "300 pA"},
    "inputs": {"I_e": "pA"},
    "equations": {"laws": ["C_m*dV/dt = -C_m*(V - E_L)/tau_m + I_ex + I_e",
                           "dI_ex/dt = -I_ex/tau_syn_ex"]},
    "spike": {"condition": "V >= V_th"},
    "reset": {"mechanism": "zero", "timing": "same_step", "zero": {"V": "V_reset"}},
    "refractory": {"period": "t_ref_tot", "clamp_period": "t_ref_abs", "frozen": ["V"],
                   "counting": "nest"},
    "simulation": {"method": "exact", "dt": "0.1 ms"},
}


def htum(**changes):
    doc = {k: dict(v) for k, v in HTUM.items()}
    doc.update(changes)
    return model_from_document(doc, "iaf_psc_exp_htum.toml")


def htum_loop(I_e, n_steps, h=0.1, tau=10.0, C=250.0, tau_ex=2.0, theta=15.0, V_reset=0.0,
              t_abs=2.0, t_tot=5.0):
    """NEST's iaf_psc_exp_htum::update, line by line (V relative to E_L, as NEST keeps it)."""
    P22, P11 = np.exp(-h / tau), np.exp(-h / tau_ex)
    P21 = tau_ex * tau / (C * (tau - tau_ex)) * (np.exp(-h / tau) - np.exp(-h / tau_ex))
    P20 = tau / C * (1 - P22)
    A, T = round(t_abs / h), round(t_tot / h)
    V, i_ex = np.zeros(len(I_e)), np.full(len(I_e), 300.0)
    r_abs, r_tot = np.zeros(len(I_e), int), np.zeros(len(I_e), int)
    trace, spikes = [], []
    for _ in range(n_steps):
        V = np.where(r_abs == 0, V * P22 + i_ex * P21 + I_e * P20, V)
        r_abs = np.where(r_abs == 0, 0, r_abs - 1)
        i_ex = i_ex * P11
        fired = (r_tot == 0) & (V >= theta)
        r_tot = np.where(r_tot == 0, 0, r_tot - 1)
        r_abs, r_tot = np.where(fired, A, r_abs), np.where(fired, T, r_tot)
        V = np.where(fired, V_reset, V)
        trace.append(V - 70.0)
        spikes.append(fired)
    return np.array(trace), np.array(spikes)


def test_two_refractory_periods_as_nest_iaf_psc_exp_htum():
    I_e = np.array([1000.0, 2000.0, 3000.0])  # threshold reached after the total period, and
    result = lifgen.compile(htum()).run(1000, 3, inputs={"I_e": I_e}, record=["V"])  # within it
    V, spikes = htum_loop(I_e, 1000)
    np.testing.assert_array_equal(result.spikes.reshape(spikes.shape), spikes)
    np.testing.assert_allclose(result.traces["V"], V, rtol=0, atol=1e-9)
    intervals = np.diff(np.flatnonzero(spikes[:, 2]))
    assert intervals.min() == 51  # blocked for the 50 steps of t_ref_tot, not the 20 of t_ref_abs
    held = result.traces["V"][np.flatnonzero(spikes[:, 2])[0]:, 2]
    assert np.all(held[:21] == -70.0) and held[21] != -70.0  # V held for t_ref_abs only


@pytest.mark.parametrize("counting", ["brian2", "nest"])
def test_two_refractory_periods_in_networks_and_on_the_python_target(python_target, counting):
    model = htum(refractory=dict(HTUM["refractory"], counting=counting))
    same_in_network_and_python(model, 600, 3, {"I_e": np.array([1000.0, 2000.0, 3000.0])})
    longer_clamp = htum(refractory=dict(HTUM["refractory"], clamp_period="7 ms"))
    same_in_network_and_python(longer_clamp, 400, 2, {"I_e": np.array([1000.0, 3000.0])})


@pytest.mark.parametrize("refractory, error", [
    ({"period": "t_ref_tot", "clamp_period": "t_ref_abs"}, "list them in [refractory] frozen"),
    ({"period": "t_ref_tot", "clamp_period": "V", "frozen": ["V"]}, "clamp_period"),
    ({"period": "t_ref_tot", "clamp_period": -1.0, "frozen": ["V"]}, "cannot be negative"),
])
def test_clamp_period_errors_name_the_file_and_the_field(refractory, error):
    with pytest.raises(ModelError) as raised:
        htum(refractory=refractory)
    assert "iaf_psc_exp_htum.toml" in str(raised.value) and error in str(raised.value)
    assert "[refractory]" in str(raised.value)


# -- 5. names: dI_ex beside I_ex; names that differ only in case ---------------------------------

ALPHA = {
    "model": {"name": "alpha_dI"},
    "parameters": {"tau_syn": "2 ms", "tau_m": "10 ms", "C_m": "250 pF", "E_L": "-70 mV",
                   "V_th": "-55 mV"},
    "states": {"V": "-70 mV", "I_ex": "0 pA", "dI_ex": {"initial": 135.91409142295225,
                                                         "unit": "pA/ms"}},
    "inputs": {"I_e": "pA"},
    "equations": {"laws": ["C_m*dV/dt = -C_m*(V - E_L)/tau_m + I_ex + I_e",
                           "dI_ex/dt = dI_ex - I_ex/tau_syn",  # the derivative of I_ex
                           "ddI_ex/dt = -dI_ex/tau_syn"]},     # the derivative of dI_ex
    "spike": {"condition": "V >= V_th"},
    "reset": {"mechanism": "zero", "zero": {"V": "E_L"}},
    "simulation": {"method": "exact", "dt": "0.1 ms"},
}


def test_a_state_named_dI_ex_beside_I_ex_as_nest_alpha_synapses_write_it():
    """NEST's alpha-shaped current: I_ex' = dI_ex - I_ex/tau, dI_ex' = -dI_ex/tau; from dI_ex =
    w e/tau, I_ex(t) = w e t/tau exp(-t/tau), the alpha function peaking at w when t = tau."""
    model = model_from_document(ALPHA, "alpha_dI.toml")
    assert [str(s) for s, _ in model.odes] == ["V", "I_ex", "dI_ex"]
    result = lifgen.compile(model).run(200, inputs={"I_e": 0.0}, record=["I_ex", "dI_ex"])
    t = 0.1 * np.arange(1, 201)
    w = 100.0
    np.testing.assert_allclose(result.traces["I_ex"][:, 0], w * np.e * t / 2 * np.exp(-t / 2),
                               rtol=1e-12, atol=1e-12)
    assert result.traces["I_ex"][:, 0].max() == pytest.approx(w, rel=1e-3)


def test_a_parameter_named_like_a_derivative_is_the_parameter_where_not_over_dt():
    doc = {k: dict(v) for k, v in ALPHA.items()}
    doc["parameters"]["dV"] = "1 mV/ms"
    doc["equations"] = {"laws": ["C_m*dV/dt = -C_m*(V - E_L)/tau_m + I_ex + I_e + C_m*dV",
                                 "dI_ex/dt = dI_ex - I_ex/tau_syn", "ddI_ex/dt = -dI_ex/tau_syn"]}
    model = model_from_document(doc, "alpha_dI.toml")
    assert sympy_symbol("dV") in dict(model.odes)[sympy_symbol("V")].free_symbols


def test_names_that_differ_only_in_case_are_refused_with_the_reason():
    doc = {k: dict(v) for k, v in ALPHA.items()}
    doc["parameters"]["v"] = "1 mV"
    with pytest.raises(ModelError, match=r"alpha_dI.toml, \[parameters\] v: 'v' is declared twice "
                                         r"\(also as states V\); names that differ only in case"):
        model_from_document(doc, "alpha_dI.toml")


# -- 6. half powers in units: a noise amplitude in mV/ms**0.5 -------------------------------------

def test_a_noise_amplitude_in_mV_per_sqrt_ms():
    """An Ornstein-Uhlenbeck membrane, sigma in mV/ms**0.5 (xi is in 1/sqrt(time)): the
    variance of Euler-Maruyama's stationary state is sigma**2 dt/(1 - (1 - dt/tau)**2)."""
    doc = {"model": {"name": "ou"},
           "parameters": {"tau": "10 ms", "E_L": "-70 mV", "sigma": "2 mV/ms**0.5",
                          "V_th": "0 mV"},
           "states": {"V": "-70 mV"},
           "equations": {"laws": ["dV/dt = (E_L - V)/tau + sigma*xi"]},
           "spike": {"condition": "V > V_th"}, "reset": {"mechanism": "none"},
           "simulation": {"method": "euler", "dt": "0.1 ms"}}
    model = model_from_document(doc, "ou.toml")
    assert dict((q.name, q.unit) for q in model.parameters)["sigma"] == "mV/ms**0.5"
    result = lifgen.compile(model).run(1500, 4000, record={"V": None})
    variance = 4.0 * 0.1 / (1 - (1 - 0.1 / 10) ** 2)
    assert np.var(result.state["V"]) == pytest.approx(variance, rel=0.06)
    assert np.mean(result.state["V"]) == pytest.approx(-70.0, abs=0.2)
    slow = dict(doc, parameters=dict(doc["parameters"], sigma={"value": "2 mV/s**0.5",
                                                             "unit": "mV/ms**0.5"}))
    in_seconds = lifgen.compile(model_from_document(slow, "ou.toml")).run(1500, 4000)
    assert np.var(in_seconds.state["V"]) == pytest.approx(variance / 1000, rel=0.06)
