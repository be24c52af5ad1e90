"""method="auto" chooses by accuracy: against scipy's solve_ivp (DOP853, 1e-12) on NEST's
conductance and Hodgkin-Huxley neurons with NEST's defaults and on the library's
hodgkin_huxley, every state within 1e-6 of its scale at every step and every spike at the
reference's step; exponential Euler, which auto chose before, is far off on the same runs."""

import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import sympy

import lifgen
from lifgen.errors import NumericalWarning
from lifgen.numerics.methods import closed_linear_states, symbolic_step

from ode_reference import kick_drives, reference_run

MODELS = Path(__file__).parent / "models"
RTOL = 1e-6


def run_both(model, method, dt, n_steps, inputs, kicks, **options):
    """(lifgen's Result, the reference's (states, spike steps)) for one neuron; `kicks` are
    ((step, state, amount), ...) arriving at the end of `step`, as synaptic events do."""
    model = lifgen.load_model(model)
    simulator = lifgen.compile(model, method=method, dt=dt, **options)
    drives = kick_drives(model, kicks)
    result = simulator.run(n_steps, inputs=inputs, record=model.state_names,
                           drives=drives or None)
    return simulator, result, reference_run(model, dt, n_steps, inputs, kicks)


def relative_errors(result, reference):
    """State -> its largest error over the run, relative to its scale (largest magnitude)."""
    states, _ = reference
    return {n: float(np.max(np.abs(result.traces[n][:, 0] - v)) / (np.max(np.abs(v)) or 1.0))
            for n, v in states.items()}


def spike_steps(result):
    return [int(s) for s in np.flatnonzero(result.spikes[:, 0])]


# (model, dt, steps, inputs, kicks): NEST's defaults, I_e = 200 pA and kicks of 100 nS; one
# makes iaf_cond_alpha spike, iaf_cond_exp (less charge per kick) needs two close together
NEST_RUNS = {
    "iaf_cond_alpha": (0.1, 1000, {"I_e": 200.0},
                       [(99, "x_ex", 100.0), (299, "x_in", 100.0), (499, "x_ex", 100.0)]),
    "iaf_cond_exp": (0.1, 1000, {"I_e": 200.0},
                     [(99, "g_ex", 100.0), (299, "g_in", 100.0), (499, "g_ex", 100.0),
                      (501, "g_ex", 100.0)]),
}


@pytest.mark.parametrize("name", sorted(NEST_RUNS))
def test_auto_on_nest_conductance_neurons_matches_solve_ivp_to_1e6(name):
    dt, steps, inputs, kicks = NEST_RUNS[name]
    path = MODELS / f"{name}.toml"
    with warnings.catch_warnings():
        warnings.simplefilter("error", NumericalWarning)  # auto finds a method under rtol
        simulator, result, reference = run_both(path, "auto", dt, steps, inputs, kicks)
    assert simulator.method.startswith("hybrid")  # the conductances by their propagator
    errors = relative_errors(result, reference)
    assert max(errors.values()) < RTOL, errors
    assert spike_steps(result) == reference[1] and reference[1], reference[1]
    assert f"method auto chose {simulator.method}" in simulator.method_reason
    assert "exponential_euler" in simulator.method_reason  # the cheaper candidate, refused
    _, euler, _ = run_both(path, "exponential_euler", dt, steps, inputs, kicks)
    assert relative_errors(euler, reference)["V"] > 1000 * RTOL  # what auto chose before


def test_auto_on_hh_psc_alpha_warns_at_nest_resolution_and_is_exact_in_its_synapses():
    """At dt = 0.1 ms no candidate reaches 1e-6 through the spikes: auto says so and names a
    smaller dt, takes the most accurate, and the alpha currents are exact (exponential Euler
    let the 2 nA current peak at 2.6 nA). At dt = 0.025 ms it meets 1e-6 everywhere."""
    path = MODELS / "hh_psc_alpha.toml"
    kicks = [(99, "x_ex", 2000.0), (299, "x_in", -2000.0), (499, "x_ex", 2000.0)]
    with pytest.warns(NumericalWarning, match=r"no method is accurate to rtol = 1e-06 at dt = "
                                              r"0.1: .* at dt = 0\.0\d+ its pilot estimates"):
        simulator, result, reference = run_both(path, "auto", 0.1, 1000, {}, kicks)
    assert simulator.method.startswith("hybrid")
    assert "none is under it" in simulator.method_reason
    errors = relative_errors(result, reference)
    assert max(errors[n] for n in ("x_ex", "I_ex", "x_in", "I_in")) < 1e-9, errors
    assert np.max(result.traces["I_ex"]) == pytest.approx(2000.0, rel=1e-3)
    assert spike_steps(result) == reference[1] and reference[1]
    dt = 0.025
    scaled = [(int((s + 1) * 0.1 / dt) - 1, state, amount) for s, state, amount in kicks]
    with warnings.catch_warnings():
        warnings.simplefilter("error", NumericalWarning)
        simulator, result, reference = run_both(path, "auto", dt, 4000, {}, scaled)
    errors = relative_errors(result, reference)
    assert max(errors.values()) < RTOL, errors
    assert spike_steps(result) == reference[1] and reference[1]


def test_auto_on_library_hodgkin_huxley_keeps_every_spike_step_over_200_ms():
    """At its own dt (0.01 ms) and drive (10 uA/cm^2): 14 spikes in 200 ms at the reference's
    steps, every state within 1e-6 of its scale (exponential Euler drifted by up to 0.98 ms)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", NumericalWarning)
        simulator, result, reference = run_both("hodgkin_huxley", "auto", 0.01, 20000,
                                                {"I": 10.0}, [])
    assert simulator.method.startswith("rk4")
    errors = relative_errors(result, reference)
    assert max(errors.values()) < RTOL, errors
    assert spike_steps(result) == reference[1] and len(reference[1]) == 14


def test_auto_keeps_exact_for_linear_models_and_says_why():
    simulator = lifgen.compile("lif_cuba", method="auto")
    assert simulator.method == "exact"
    assert "linear with constant coefficients" in simulator.method_reason
    assert "as given" in lifgen.compile("lif_cuba", method="euler").method_reason


def test_a_tight_rtol_warns_with_a_smaller_dt_and_rtol_is_part_of_the_cache_key():
    path = MODELS / "iaf_cond_exp.toml"
    with pytest.warns(NumericalWarning, match=r"no method is accurate to rtol = 1e-11 at dt = "
                                              r"0.1: the most accurate, hybrid_sub8, .* at dt = "
                                              r"0\.0\d+ its pilot estimates"):
        tight = lifgen.compile(path, rtol=1e-11)
    assert tight.method == "hybrid_sub8" and "none is under it" in tight.method_reason
    loose = lifgen.compile(path, rtol=1e-3)
    assert loose.method == "hybrid" and "tolerance rtol = 0.001" in loose.method_reason
    with pytest.raises(lifgen.InputError, match="rtol"):
        lifgen.compile(path, rtol=0)


def test_hybrid_splits_off_the_closed_linear_subsystem_and_is_fourth_order():
    alpha = lifgen.load_model(MODELS / "iaf_cond_alpha.toml")
    assert [s.name for s in closed_linear_states(alpha)] == ["x_ex", "g_ex", "x_in", "g_in"]
    hh = lifgen.load_model(MODELS / "hh_psc_alpha.toml")
    assert [s.name for s in closed_linear_states(hh)] == ["x_ex", "I_ex", "x_in", "I_in"]
    assert closed_linear_states(lifgen.load_model("hodgkin_huxley")) == ()
    report = lifgen.verify(MODELS / "iaf_cond_exp.toml", methods=["hybrid", "exponential_euler"],
                           initial={"V": -70.0, "g_ex": 60.0, "g_in": 30.0},
                           input={"I_e": lifgen.Step(100.0, 0)}, t_end=10.0)
    assert report.expected_order("hybrid") == 4
    assert report.measured_order("hybrid") == pytest.approx(4.0, abs=0.2)
    assert report.measured_order("exponential_euler") == pytest.approx(1.0, abs=0.2)


def test_substeps_are_n_steps_of_dt_over_n_and_hybrid_refuses_a_model_without_a_split():
    path = MODELS / "iaf_cond_alpha.toml"
    initial, inputs = {"x_ex": 50.0, "x_in": 20.0}, {"I_e": 150.0}
    for base in ("hybrid", "rk4"):
        whole = lifgen.compile(path, method=f"{base}_sub4", dt=0.1).run(
            50, initial=initial, inputs=inputs, record=["V", "g_ex"])
        quarter = lifgen.compile(path, method=base, dt=0.025).run(
            200, initial=initial, inputs=inputs, record=["V", "g_ex"])
        for state in ("V", "g_ex"):
            np.testing.assert_allclose(whole.traces[state][:, 0],
                                       quarter.traces[state][3::4, 0], rtol=1e-12)
    with pytest.raises(lifgen.ModelError, match="hybrid.*none: use 'rk4'"):
        lifgen.compile("hodgkin_huxley", method="hybrid")
    with pytest.raises(lifgen.ModelError, match="only linear states: use 'exact'"):
        lifgen.compile("lif_cuba", method="hybrid")


def test_the_choice_is_deterministic_and_show_prints_it():
    from lifgen.numerics.discretize import discretize

    model = lifgen.load_model(MODELS / "iaf_cond_alpha.toml")
    first, second = discretize(model, "auto"), discretize(model, "auto")
    assert first.method == second.method and first.note == second.note
    shown = subprocess.run([sys.executable, "-m", "lifgen", "show",
                            str(MODELS / "iaf_cond_alpha.toml")],
                           capture_output=True, text=True, check=True).stdout
    assert f"Step map ({first.method}, dt = 0.1 ms)" in shown and first.note in shown


@pytest.mark.parametrize("model, drives", [("eif", (5.0, 20.0, 200.0)),
                                           ("adex", (500.0, 2000.0, 10000.0))])
def test_substeps_stop_at_the_spike_so_an_exponential_neuron_stays_finite(model, drives):
    """The substeps of a step end where the spike condition first holds: eif's rk4_sub4 ran on
    past its cut-off within a step and overflowed to NaN at I = 20 (plain rk4 at I = 200)."""
    sim = lifgen.compile(model, method="rk4_sub4")
    for drive in drives:
        result = sim.run(2000, 1, inputs={"I": drive})
        assert np.isfinite(result.state["V"]).all() and result.spike_count[0] > 0, drive


def test_at_a_spike_substep_only_the_states_a_reset_sets_stop():
    """iaf_cond_exp's conductances, which no reset sets, integrate on to the step's end; V,
    which the reset replaces, stops (hybrid_sub2 froze both: g_in 5e-4 off at spike steps)."""
    model = lifgen.load_model(str(MODELS / "iaf_cond_exp.toml"))
    stages, updates = symbolic_step(model, "hybrid_sub2", inline=False)
    last = {k.name: e for k, e in stages if k.name.startswith("lg_sub2_")}
    held = {name for name, e in last.items() if e.has(sympy.Piecewise)}
    assert held == {"lg_sub2_V"}, held
