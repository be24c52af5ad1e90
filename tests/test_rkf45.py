"""method="rkf45": Runge-Kutta-Fehlberg 4(5) with GSL's error control inside each step, as NEST
integrates its conductance-based, AdEx and Hodgkin-Huxley neurons. At NEST's resolution (dt =
0.1 ms) and the default tolerances, every state of iaf_cond_alpha, iaf_cond_exp, hh_psc_alpha,
aeif_cond_alpha, aeif_cond_exp, hh_cond_exp_traub and traub_cond_multisyn stays within 1e-6 of
its scale of scipy's solve_ivp (DOP853, rtol = atol = 1e-12) at every step, and every spike is
at the reference's step. The references' right-hand sides are written here, apart from the
model files; like lifgen, they hold the inputs over each step, add synaptic kicks at a step's
end and test, reset and hold at step ends."""

import math
import warnings
from pathlib import Path

import numpy as np
import pytest
from scipy.integrate import solve_ivp

import lifgen
from lifgen import targets
from lifgen.errors import InputError, NumericalWarning
from lifgen.numerics.methods import METHODS
from ode_reference import kick_drives
from test_network_populations import assert_network_is_the_population

MODELS = Path(__file__).parent / "models"
RTOL = 1e-6
E = math.e


def exprel(x):
    return 1.0 if x == 0 else math.expm1(x) / x


# The right-hand sides, written from NEST's documentation (states in the model file's order).
def iaf_cond_alpha(x, I_e):
    V, x_ex, g_ex, x_in, g_in = x
    return [(-16.6667 * (V + 70.0) - g_ex * V - g_in * (V + 85.0) + I_e) / 250.0,
            -x_ex / 0.2, (E * x_ex - g_ex) / 0.2, -x_in / 2.0, (E * x_in - g_in) / 2.0]


def iaf_cond_exp(x, I_e):
    V, g_ex, g_in = x
    return [(-16.6667 * (V + 70.0) - g_ex * V - g_in * (V + 85.0) + I_e) / 250.0,
            -g_ex / 0.2, -g_in / 2.0]


def hh_psc_alpha(x, I_e):
    V, m, h, n, x_ex, I_ex, x_in, I_in = x
    alpha_m = 1.0 / exprel(-(V + 40.0) / 10.0)
    beta_m = 4.0 * math.exp(-(V + 65.0) / 18.0)
    alpha_h = 0.07 * math.exp(-(V + 65.0) / 20.0)
    beta_h = 1.0 / (1.0 + math.exp(-(V + 35.0) / 10.0))
    alpha_n = 0.1 / exprel(-(V + 55.0) / 10.0)
    beta_n = 0.125 * math.exp(-(V + 65.0) / 80.0)
    current = (I_e + I_ex + I_in - 12000.0 * m**3 * h * (V - 50.0) - 3600.0 * n**4 * (V + 77.0)
               - 30.0 * (V + 54.402))
    return [current / 100.0, alpha_m * (1 - m) - beta_m * m, alpha_h * (1 - h) - beta_h * h,
            alpha_n * (1 - n) - beta_n * n, -x_ex / 0.2, (E * x_ex - I_ex) / 0.2,
            -x_in / 2.0, (E * x_in - I_in) / 2.0]


def _aeif(V, w, g_ex, g_in, I_e):
    V = min(V, 0.0)  # NEST's guard: V_peak = 0 mV
    return [(-30.0 * (V + 70.6) + 60.0 * math.exp((V + 50.4) / 2.0) - g_ex * V
             - g_in * (V + 85.0) - w + I_e) / 281.0, (4.0 * (V + 70.6) - w) / 144.0]


def aeif_cond_alpha(x, I_e):
    V, w, x_ex, g_ex, x_in, g_in = x
    return [*_aeif(V, w, g_ex, g_in, I_e), -x_ex / 0.2, (E * x_ex - g_ex) / 0.2,
            -x_in / 2.0, (E * x_in - g_in) / 2.0]


def aeif_cond_exp(x, I_e):
    V, w, g_ex, g_in = x
    return [*_aeif(V, w, g_ex, g_in, I_e), -g_ex / 0.2, -g_in / 2.0]


def hh_cond_exp_traub(x, I_e):
    V, m, h, n, g_ex, g_in = x
    u = V + 63.0  # V - V_T
    alpha_n = 0.032 * (15.0 - u) / math.expm1((15.0 - u) / 5.0)
    beta_n = 0.5 * math.exp((10.0 - u) / 40.0)
    alpha_m = 0.32 * (13.0 - u) / math.expm1((13.0 - u) / 4.0)
    beta_m = 0.28 * (u - 40.0) / math.expm1((u - 40.0) / 5.0)
    alpha_h = 0.128 * math.exp((17.0 - u) / 18.0)
    beta_h = 4.0 / (1.0 + math.exp((40.0 - u) / 5.0))
    current = (I_e - 20000.0 * m**3 * h * (V - 50.0) - 6000.0 * n**4 * (V + 90.0)
               - 10.0 * (V + 60.0) - g_ex * V - g_in * (V + 80.0))
    return [current / 200.0, alpha_m - (alpha_m + beta_m) * m,
            alpha_h - (alpha_h + beta_h) * h, alpha_n - (alpha_n + beta_n) * n,
            -g_ex / 5.0, -g_in / 10.0]


def _beta_peak(tau_1, tau_2):
    """(1/tau_2 - 1/tau_1) / (the difference of exponentials at its peak)."""
    peak = tau_1 * tau_2 * math.log(tau_2 / tau_1) / (tau_2 - tau_1)
    return (1 / tau_2 - 1 / tau_1) / (math.exp(-peak / tau_1) - math.exp(-peak / tau_2))


TRAUB_SYNAPSES = ((0.1, 0.5, 2.4), (0.075, 4.0, 40.0), (0.33, 1.0, 7.0), (0.0132, 60.0, 200.0))


def traub_cond_multisyn(x, I_e):
    V, m, h, n, *synapses = x
    alpha_n = 0.032 * (V + 52.0) / (1.0 - math.exp(-(V + 52.0) / 5.0))
    beta_n = 0.5 * math.exp(-(V + 57.0) / 40.0)
    alpha_m = 0.32 * (V + 54.0) / (1.0 - math.exp(-(V + 54.0) / 4.0))
    beta_m = 0.28 * (V + 27.0) / (math.exp((V + 27.0) / 5.0) - 1.0)
    alpha_h = 0.128 * math.exp(-(V + 50.0) / 18.0)
    beta_h = 4.0 / (1.0 + math.exp(-(V + 27.0) / 5.0))
    g_ampa, g_nmda, g_gaba_a, g_gaba_b = synapses[1::2]
    I_syn = (-g_ampa * V - g_nmda * V / (1.0 + math.exp((-58.0 - V) / 2.5))
             - g_gaba_a * (V + 70.0) - g_gaba_b * (V + 90.0))
    current = (I_e + I_syn - 10000.0 * m**3 * h * (V - 50.0) - 8000.0 * n**4 * (V + 100.0)
               - 10.0 * (V + 67.0))
    rates = [current / 100.0, alpha_m * (1 - m) - beta_m * m, alpha_h * (1 - h) - beta_h * h,
             alpha_n * (1 - n) - beta_n * n]
    for (g_peak, tau_1, tau_2), x_, g in zip(TRAUB_SYNAPSES, synapses[0::2], synapses[1::2]):
        rates += [-x_ / tau_1, g_peak * _beta_peak(tau_1, tau_2) * x_ - g / tau_2]
    return rates


# name -> (rates, spike test, crossing, reset (state index -> new value of the state), frozen
# state indices and steps held after a spike's step (NEST's counting: floor(t_ref/dt)))
LIF_RESET = {0: lambda x: -60.0}
AEIF_RESET = {0: lambda x: -60.0, 1: lambda x: x[1] + 80.5}
SEMANTICS = {
    "iaf_cond_alpha": (iaf_cond_alpha, lambda x: x[0] >= -55.0, False, LIF_RESET, (0,), 20),
    "iaf_cond_exp": (iaf_cond_exp, lambda x: x[0] >= -55.0, False, LIF_RESET, (0,), 20),
    "hh_psc_alpha": (hh_psc_alpha, lambda x: x[0] > 0.0, True, {}, (), 0),
    "aeif_cond_alpha": (aeif_cond_alpha, lambda x: x[0] >= 0.0, False, AEIF_RESET, (), 0),
    "aeif_cond_exp": (aeif_cond_exp, lambda x: x[0] >= 0.0, False, AEIF_RESET, (), 0),
    "hh_cond_exp_traub": (hh_cond_exp_traub, lambda x: x[0] > -33.0, True, {}, (), 0),
    "traub_cond_multisyn": (traub_cond_multisyn, lambda x: x[0] > -20.0, True, {}, (), 0),
}
# name -> (steps of 0.1 ms, I_e in pA, kicks (step, state, amount) at the end of the step)
RUNS = {
    "iaf_cond_alpha": (1000, 200.0, [(99, "x_ex", 100.0), (299, "x_in", 100.0),
                                     (499, "x_ex", 100.0)]),
    "iaf_cond_exp": (1000, 200.0, [(99, "g_ex", 100.0), (299, "g_in", 100.0),
                                   (499, "g_ex", 100.0), (501, "g_ex", 100.0)]),
    "hh_psc_alpha": (1000, 0.0, [(99, "x_ex", 2000.0), (299, "x_in", -2000.0),
                                 (499, "x_ex", 2000.0)]),
    "aeif_cond_alpha": (1000, 800.0, [(99, "x_ex", 20.0), (299, "x_in", 20.0),
                                      (499, "x_ex", 20.0)]),
    "aeif_cond_exp": (1000, 800.0, [(99, "g_ex", 20.0), (299, "g_in", 20.0),
                                    (499, "g_ex", 20.0)]),
    "hh_cond_exp_traub": (1000, 300.0, [(99, "g_ex", 50.0), (299, "g_in", 50.0),
                                        (499, "g_ex", 50.0)]),
    "traub_cond_multisyn": (1000, 200.0, [(99, "x_AMPA", 100.0), (299, "x_GABAA", 50.0),
                                          (499, "x_NMDA", 100.0)]),
}


def reference(name, dt=0.1):
    """(states after each step: name -> (n_steps,), spike steps) of solve_ivp's DOP853 at
    rtol = atol = 1e-12, integrating in one piece between events and sampling the grid."""
    rates, spike, crossing, reset, frozen, hold = SEMANTICS[name]
    n_steps, I_e, kicks = RUNS[name]
    model = lifgen.load_model(MODELS / f"{name}.toml")
    names = model.state_names
    x = np.array([float(model.initial_values[n]) for n in names])
    out, spikes, step, held = np.empty((n_steps, len(names))), [], 0, 0
    kicked = {}
    for at, state, amount in kicks:
        kicked.setdefault(at, []).append((names.index(state), amount))
    while step < n_steps:
        stop = min([s + 1 for s in kicked if s >= step] + [n_steps]
                   + ([step + held] if held else []))
        mask = np.isin(np.arange(len(names)), frozen) if held else np.zeros(len(names), bool)
        grid = dt * np.arange(1, stop - step + 1)
        points = solve_ivp(lambda t, y: np.where(mask, 0.0, rates(y, I_e)), (0.0, grid[-1]), x,
                           method="DOP853", rtol=1e-12, atol=1e-12, t_eval=grid).y.T
        holds = np.array([bool(spike(p)) for p in points])
        if crossing:
            holds &= ~np.concatenate([[bool(spike(x))], holds[:-1]])
        fired = [] if held else list(np.flatnonzero(holds))
        cut = bool(fired) and bool(reset or hold)
        end = fired[0] + 1 if cut else len(points)
        out[step:step + end] = points[:end]
        spikes += [step + int(k) for k in (fired[:1] if cut else fired)]
        x = points[end - 1].copy()
        step += end
        held = max(held - end, 0)
        if cut:
            x = np.array([reset[i](x) if i in reset else v for i, v in enumerate(x)])
            out[step - 1] = x
            held = hold
        for index, amount in kicked.get(step - 1, ()):
            x[index] += amount
    return {n: out[:, i] for i, n in enumerate(names)}, spikes


def run(name, method="rkf45", **options):
    model = lifgen.load_model(MODELS / f"{name}.toml")
    n_steps, I_e, kicks = RUNS[name]
    simulator = lifgen.compile(model, method=method, dt=0.1, **options)
    return simulator.run(n_steps, inputs={"I_e": I_e}, record=list(model.state_names),
                         drives=kick_drives(model, kicks) or None)


def relative_errors(result, states):
    return {n: float(np.max(np.abs(result.traces[n][:, 0] - v)) / (np.max(np.abs(v)) or 1.0))
            for n, v in states.items()}


def spike_steps(result):
    return [int(s) for s in np.flatnonzero(result.spikes[:, 0])]


@pytest.mark.parametrize("name", sorted(RUNS))
def test_rkf45_matches_solve_ivp_to_1e6_of_each_scale_and_every_spike_step(name):
    states, spikes = reference(name)
    with warnings.catch_warnings():
        warnings.simplefilter("error", NumericalWarning)
        result = run(name)
    errors = relative_errors(result, states)
    assert max(errors.values()) < RTOL, errors
    assert spike_steps(result) == spikes and spikes, (spike_steps(result), spikes)
    assert 0 < result.state["rkf45_h"][0] <= 5 * 0.1  # carried, grown at most 5 times dt


def test_traub_cond_multisyn_goes_to_nan_with_rk4_at_nest_resolution():
    """What rkf45 is for: rk4 at dt = 0.1 ms is unstable on this neuron's sodium gate."""
    with pytest.warns(NumericalWarning, match="NaN or infinite"):
        assert not np.all(np.isfinite(run("traub_cond_multisyn", method="rk4").state["V"]))


def test_a_neuron_past_the_substep_bound_is_reported_by_name_and_marked():
    """Three substeps cannot follow a Hodgkin-Huxley spike: the driven neuron stops short of
    the step's end, keeps rkf45_h negative from then on and the run warns naming it; the
    resting neurons beside it are untouched by the report."""
    simulator = lifgen.compile(MODELS / "hh_psc_alpha.toml", method="rkf45", max_substeps=3)
    with pytest.warns(NumericalWarning, match=r"hh_psc_alpha: rkf45 needed more than 3 "
                                              r"substeps .* \(neurons 1\).*raise max_substeps"):
        result = simulator.run(300, 3, inputs={"I_e": np.array([0.0, 1000.0, 0.0])},
                               record=["rkf45_h"])
    h = result.traces["rkf45_h"]
    first = int(np.argmax(h[:, 1] < 0))
    assert np.all(h[first:, 1] < 0) and np.all(h[:, [0, 2]] > 0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", NumericalWarning)
        lifgen.compile(MODELS / "hh_psc_alpha.toml", method="rkf45").run(
            300, 3, inputs={"I_e": np.array([0.0, 1000.0, 0.0])})


def test_the_substep_size_is_carried_across_calls_and_a_split_run_is_the_whole_run():
    simulator = lifgen.compile(MODELS / "hh_cond_exp_traub.toml")
    assert simulator.method == "rkf45"  # the model file's method
    inputs = {"I_e": np.array([0.0, 300.0, 600.0])}
    whole = simulator.run(400, 3, inputs=inputs)
    first = simulator.run(137, 3, inputs=inputs)
    assert set(first.state) == {"V", "m", "h", "n", "g_ex", "g_in", "rkf45_h"}
    second = simulator.run(263, 3, inputs=inputs, initial=first.state)
    np.testing.assert_array_equal(np.concatenate([first.spikes, second.spikes]), whole.spikes)
    for name in whole.state:
        np.testing.assert_array_equal(second.state[name], whole.state[name])


@pytest.mark.parametrize("name", ["iaf_cond_alpha", "traub_cond_multisyn"])
def test_float32_keeps_every_spike_step_within_its_rounding(name):
    """float32's default tolerances are 1e-5 (it cannot resolve 1e-10): the states stay within
    1e-3 of their scale of the reference, every spike at its step."""
    states, spikes = reference(name)
    result = run(name, dtype="float32")
    assert max(relative_errors(result, states).values()) < 1e-3
    assert spike_steps(result) == spikes


def test_tolerances_are_options_that_change_the_kernel_and_are_checked():
    loose = run("hh_psc_alpha", rtol=1e-5, atol=1e-5)
    tight = run("hh_psc_alpha")
    states, _ = reference("hh_psc_alpha")
    assert max(relative_errors(loose, states).values()) > 10 * max(
        relative_errors(tight, states).values())
    for options, message in (({"atol": -1.0}, "atol must be"), ({"max_substeps": 0},
                                                                 "max_substeps must be"),
                             ({"rtol": 2.0}, "rtol must be")):
        with pytest.raises(InputError, match=message):
            lifgen.compile(MODELS / "hh_psc_alpha.toml", method="rkf45", **options)
    with pytest.raises(InputError, match="atol is an option of an adaptive method"):
        lifgen.compile(MODELS / "hh_psc_alpha.toml", method="rk4", atol=1e-6)


def test_the_registry_knows_rkf45():
    method = METHODS["rkf45"]
    assert method.adaptive and method.order == 5 and method.stability is None
    assert not method.verified_by_default
    from lifgen.numerics.methods import AUTO_CANDIDATES, EMBEDDED
    assert "rkf45" not in AUTO_CANDIDATES  # auto's choices are unchanged
    tableau, error = EMBEDDED["rkf45"]
    assert sum(tableau.b) == 1 and sum(error) == 0
    for row, c in zip(tableau.a[1:], (0.25, 3 / 8, 12 / 13, 1.0, 0.5)):
        assert float(sum(row)) == pytest.approx(c)
    from lifgen.cli import METHOD_HELP
    assert "rkf45: Runge-Kutta-Fehlberg 4(5)" in METHOD_HELP
    step_map = lifgen.compile(MODELS / "iaf_cond_exp.toml", method="rkf45").step_map
    assert step_map.state_names[-1] == "rkf45_h"
    assert "rkf45: substeps h within the step (at most 10000)" in repr(step_map)


@pytest.fixture
def python_target(monkeypatch):
    monkeypatch.setitem(targets.TARGETS, "python", "python_target")


def test_the_test_target_runs_the_adaptive_loop_bit_for_bit_as_c(python_target):
    """The substep loop, its rejections, the carried h and the refractory hold, printed as
    Python from the same statements: the same states, traces and spikes as C."""
    model = MODELS / "iaf_cond_alpha.toml"
    run = dict(n_steps=300, n_neurons=3, inputs={"I_e": np.array([0.0, 300.0, 600.0])},
               record=["V", "g_ex", "rkf45_h"], spikes="raster")
    c = lifgen.compile(model, method="rkf45").run(**run)
    python = lifgen.compile(model, method="rkf45", target="python").run(**run)
    assert c.spike_count.sum() > 2
    assert np.array_equal(c.spikes, python.spikes)
    for name in c.state:
        assert np.array_equal(c.state[name], python.state[name]), name
    for name in c.traces:
        assert np.array_equal(c.traces[name], python.traces[name]), name
    assert len(np.unique(c.traces["rkf45_h"])) > 3  # h adapted, not one size throughout


def test_an_rkf45_population_in_a_network_is_the_single_population_run(python_target):
    """A network allocates the hidden substep size as a population state: an rkf45
    population gives the single-population numbers, driven by another population, and the
    test target runs the network bit for bit as C."""
    n = 4
    states = assert_network_is_the_population(MODELS / "aeif_cond_exp.toml", n,
                                              {"I_e": np.linspace(100.0, 700.0, n)}, 500)
    assert states[-1] == "rkf45_h"
    coupled = lifgen.Network()
    coupled.add("drive", "lif_cuba", 3)
    coupled.add("q", MODELS / "hh_cond_exp_traub.toml", n, max_substeps=10000)
    coupled.connect("drive", "q", "exc", np.full((n, 3), 20.0), delay=2)
    run = dict(n_steps=300, inputs={"drive": {"I": 30.0}, "q": {"I_e": 100.0}},
               record={"q": ["V", "rkf45_h"]}, spikes="raster")
    c = coupled.compile().run(**run)
    python = coupled.compile(target="python").run(**run)
    assert c["drive"].spike_count.sum() > 0 and c["q"].spike_count.sum() > 0
    for name in ("drive", "q"):
        assert np.array_equal(c[name].spikes, python[name].spikes), name
        for state, values in c[name].state.items():
            assert np.array_equal(values, python[name].state[state]), (name, state)
