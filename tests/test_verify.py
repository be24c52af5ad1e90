"""Verification as a feature: observed orders, exactness, precise spike times, the tutorial gallery."""

import subprocess
import sys

import numpy as np
import pytest

import lifgen
from lifgen.numerics.analytic import LinearSolution, crossing_time
from lifgen.errors import InputError, ModelError
from lifgen.numerics.methods import ORDERS
from lifgen.frontend.modelfile import model_from_document


@pytest.fixture(scope="module")
def lapicque_report():
    return lifgen.verify("lapicque", methods=("euler", "rk2", "heun", "rk4", "exact"))


@pytest.mark.parametrize("method, tolerance", [("euler", 0.1), ("rk2", 0.1), ("heun", 0.1),
                                               ("rk4", 0.2)])
def test_lapicque_orders(lapicque_report, method, tolerance):
    rows = [r for r in lapicque_report.rows if r["method"] == method]
    assert len(rows) == 5 and rows[0]["dt"] == 1e-3 and rows[-1]["dt"] == 1e-3 / 16
    assert abs(lapicque_report.measured_order(method) - ORDERS[method]) <= tolerance
    # every halving above the rounding floor shows the order, not only the last one
    for row in rows[1:]:
        if row["max_error"] > lapicque_report.noise_floor:
            assert abs(row["order"] - ORDERS[method]) <= tolerance


def test_exact_is_at_rounding_level(lapicque_report):
    rows = [r for r in lapicque_report.rows if r["method"] == "exact"]
    assert max(r["max_error"] for r in rows) < 1e-12
    assert lapicque_report.passed
    table = lapicque_report.to_table()
    assert "exact: ok" in table and "rk4: ok (observed order" in table
    assert set(lapicque_report.rows[0]) == {"method", "dt", "max_error", "rms_error", "order",
                                            "spike_time_error", "missed_spikes", "extra_spikes",
                                            "state_errors"}


def test_nonlinear_orders_against_the_fine_reference():
    report = lifgen.verify("qif", methods=("euler", "rk2", "heun", "rk4"),
                           dts=[1.6, 0.8, 0.4, 0.2, 0.1], input=lifgen.Step(2.0, 0))
    assert report.reference.startswith("rk4 at dt/64")
    assert report.reference_error < 1e-10
    for method in ("euler", "rk2", "heun", "rk4"):
        assert abs(report.measured_order(method) - ORDERS[method]) <= 0.2, report.to_table()
    assert report.passed


def test_exponential_euler_is_exact_for_a_linear_one_state_model():
    report = lifgen.verify("lapicque", methods=("exponential_euler",), dts=[1e-3, 5e-4])
    assert report.expected_order("exponential_euler") is None
    assert max(r["max_error"] for r in report.rows) < 1e-12


def test_a_wrong_order_fails_the_report():
    report = lifgen.verify("qif", methods=("euler",), dts=[0.1, 0.05, 0.025])
    assert report.passed
    report._orders["euler"] = 2  # a method claiming second order but converging at first
    assert not report.passed and "euler: FAILED (observed order 1.00, expected 2)" in report.to_table()


def test_a_spiking_input_never_fails_a_correct_method():
    """The reset jump used to dominate the error: euler was FAILED with order -0.00."""
    report = lifgen.verify("qif", methods=("euler", "rk4"), input=lifgen.Constant(10.0),
                           dts=[0.1, 0.05, 0.025, 0.0125])
    assert report.passed, report.to_table()
    assert report.window is not None and "before the first spike" in report.to_table()
    assert abs(report.measured_order("rk4") - 4) <= 0.2
    spike_errors = [r["spike_time_error"] for r in report.rows if r["method"] == "euler"]
    assert spike_errors[-1] < spike_errors[0]  # spike times converge too
    with pytest.raises(InputError, match="too early to measure convergence"):
        lifgen.verify("qif", methods=("euler",), input=lifgen.Constant(1e4), dts=[0.1, 0.05])


def test_methods_that_do_not_apply_are_refused_when_named_and_skipped_by_default():
    with pytest.raises(InputError, match="exponential_euler cannot integrate model adex: "
                                         "exponential_euler needs each equation linear"):
        lifgen.verify("adex", methods=("rk4", "exponential_euler"))
    with pytest.raises(InputError, match="unknown method"):
        lifgen.verify("lapicque", methods=("eulr",))
    from lifgen.tools.verify import _methods
    from lifgen.frontend.library import load_model

    assert "exponential_euler" in _methods(load_model("hodgkin_huxley"), None)
    assert "exact" not in _methods(load_model("hodgkin_huxley"), None)


def test_verify_says_what_it_is_doing_and_drives_the_named_input():
    lines = []
    report = lifgen.verify("lif_cuba", methods=("euler",), dts=[0.1, 0.05],
                           input={"I": lifgen.Step(1.0, 0)}, t_end=5.0, progress=lines.append)
    assert lines[0].startswith("verify lif_cuba: reference") and "(2/2)" in lines[-1]
    assert report.state == "V" and report.state_unit == "mV" and report.time_unit == "ms"
    with pytest.raises(InputError, match="not inputs of lif_cuba"):
        lifgen.verify("lif_cuba", input={"J": lifgen.Step(1.0, 0)})


def test_method_auto_says_what_it_chose():
    assert lifgen.compile("lapicque", method="auto").method == "exact"
    qif = lifgen.compile("qif", method="auto")
    assert qif.method == "rk4" and "tolerance rtol = 1e-06" in qif.method_reason
    with pytest.raises(ModelError, match="exponential_euler"):
        lifgen.compile("qif", method="exponential_euler")


def test_precise_spike_times_match_the_event_driven_closed_form():
    steps, dt, current = 1000, 1e-3, 0.3  # 1 s of a constant suprathreshold input
    simulator = lifgen.compile("lapicque", method="exact", reset_timing="same_step", precise=True)
    result = simulator.run(steps, inputs={"I": current})
    expected_trace, expected = LinearSolution(lifgen.load_model("lapicque")).simulate(
        steps, dt, {"I": current}, reset="subtract")
    got = result.spike_times[0]
    assert len(got) == len(expected) == 36
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9)
    # With the reset at the crossing, spikes are periodic with t* = tau ln(V_inf/(V_inf - theta)).
    tau, v_inf = 5.1 * 5e-3, current * 5.1
    np.testing.assert_allclose(np.diff(got), tau * np.log(v_inf / (v_inf - 1.0)), atol=1e-9)
    np.testing.assert_allclose(result.traces["V"][:, 0], expected_trace["V"], atol=1e-12)


def test_precise_mode_differs_from_grid_spikes():
    grid = lifgen.compile("lapicque", method="exact", reset_timing="same_step")
    result = grid.run(100, inputs={"I": 0.3})
    assert result.spike_offsets is None
    np.testing.assert_allclose(result.spike_times[0], (result.spike_steps() + 1) * 1e-3)


def test_lapicque_crossing_time_formula():
    import sympy

    expr = crossing_time(lifgen.load_model("lapicque"))
    R, C, I, V0, theta = sympy.symbols("R C I V0 threshold")
    formula = R * C * sympy.log((I * R - V0) / (I * R - theta))
    values = {R: 5.1, C: 5e-3, I: 0.3, V0: 0.1, theta: 1.0}
    assert float(expr.subs(values)) == pytest.approx(float(formula.subs(values)), rel=1e-12)


@pytest.mark.parametrize("kwargs, message", [
    (dict(method="euler", precise=True), "exact"),
    (dict(method="exact", precise=True), "same_step"),
])
def test_precise_mode_requirements(kwargs, message):
    with pytest.raises(InputError, match=message):
        lifgen.compile("lapicque", **kwargs)


def test_piecewise_constant_analytic_solution():
    model = lifgen.load_model("lapicque")
    train = lifgen.PulseTrain(0.2, start=5, width=3, period=10).values(50)
    assert train[:16].tolist() == [0] * 5 + [0.2] * 3 + [0] * 7 + [0.2]
    trace, _ = LinearSolution(model).simulate(50, 1e-3, {"I": train}, {"threshold": 1e9})
    simulated = lifgen.compile("lapicque", method="exact").run(
        50, inputs={"I": lifgen.PulseTrain(0.2, 5, 3, 10)}, params={"threshold": 1e9})
    np.testing.assert_allclose(simulated.traces["V"][:, 0], trace["V"], atol=1e-14)


def test_verify_cli_exit_codes(tmp_path):
    ok = subprocess.run([sys.executable, "-m", "lifgen", "verify", "lapicque", "--methods",
                         "euler,exact", "--dts", "1e-3,5e-4,2.5e-4", "--plot",
                         str(tmp_path / "v.png")], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert "euler: ok" in ok.stdout and (tmp_path / "v.png").exists()
    spiking = subprocess.run([sys.executable, "-m", "lifgen", "verify", "qif", "--methods",
                              "euler", "--dts", "0.1,0.05,0.025", "--input", "I=const:10"],
                             capture_output=True, text=True)
    assert spiking.returncode == 0 and "euler: ok" in spiking.stdout, spiking.stdout


def test_verify_cli_exits_3_for_a_method_off_its_order(monkeypatch, capsys):
    """A method registered as second order that is Euler's step fails its verification."""
    import dataclasses

    from lifgen.cli import main
    from lifgen.numerics.methods import METHODS

    monkeypatch.setitem(METHODS, "fake2", dataclasses.replace(METHODS["euler"], name="fake2",
                                                              order=2))
    code = main(["verify", "lapicque", "--methods", "fake2", "--dts", "1e-3,5e-4,2.5e-4"])
    assert code == 3 and "fake2: FAILED (observed order 1.0" in capsys.readouterr().out


def test_verify_takes_parameters_as_quantities(capsys):
    """--param R="5.1 ohm" (which the CLI reads as quantity text) is R in the model's unit, as
    in simulate: verify converts it, instead of failing on the text with an internal error."""
    from lifgen.cli import main

    as_numbers = lifgen.verify("lapicque", methods="euler", params={"R": 5.1, "C": 0.005})
    as_text = lifgen.verify("lapicque", methods="euler", params={"R": "5100 mohm", "C": "5 mF"})
    assert [r["max_error"] for r in as_text.rows] == pytest.approx(
        [r["max_error"] for r in as_numbers.rows])
    assert main(["verify", "lapicque", "--methods", "euler", "--param", "R=5.1 ohm"]) == 0
    assert "euler: ok" in capsys.readouterr().out
    with pytest.raises(InputError, match="params\\['R'\\]"):
        lifgen.verify("lapicque", methods="euler", params={"R": "5 ms"})


def test_gallery_writes_every_figure_with_computed_numbers(tmp_path):
    pytest.importorskip("matplotlib")
    from lifgen.tools.gallery import make_gallery

    entries = {e["name"]: e for e in make_gallery(tmp_path)}
    assert set(entries) == {"no_stimulus", "step", "pulses", "firing", "spike_input", "resets"}
    for entry in entries.values():
        assert open(entry["figure"], "rb").read(4) == b"\x89PNG"
    numbers = {name: e["numbers"] for name, e in entries.items()}
    assert numbers["step"]["steady_state"] == pytest.approx(0.5, abs=1e-9)
    assert numbers["step"]["exact_at_tau"] == pytest.approx(0.5 * (1 - np.exp(-1)), rel=1e-9)
    assert numbers["firing"]["spike_steps"] == [108]
    np.testing.assert_allclose(numbers["pulses"]["peaks"], [0.49424, 0.49541, 0.49416], atol=1e-5)
    assert numbers["resets"]["subtract"] > numbers["resets"]["zero"] > 0
    assert "at step 108" in entries["firing"]["caption"]
    assert f"fires {numbers['resets']['zero']} times" in entries["resets"]["caption"]
    readme = (tmp_path / "README.md").read_text()
    assert all(f"tutorial2_{name}.png" in readme for name in entries)
    with pytest.raises(InputError, match="--force"):
        make_gallery(tmp_path)


def test_orders_on_hodgkin_huxley_and_adex():
    hh = lifgen.verify("hodgkin_huxley", methods=("rk4", "exponential_euler"),
                       dts=[0.04, 0.02, 0.01], input=lifgen.Step(2.0, 0), t_end=10.0)
    assert abs(hh.measured_order("rk4") - 4) <= 0.2, hh.to_table()
    assert abs(hh.measured_order("exponential_euler") - 1) <= 0.2, hh.to_table()
    adex = lifgen.verify("adex", methods=("rk4", "euler"),
                         dts=[0.4, 0.2, 0.1], input=lifgen.Step(200.0, 0), t_end=50.0)
    assert {r["method"] for r in adex.rows} == {"rk4", "euler"}
    assert abs(adex.measured_order("rk4") - 4) <= 0.2 and adex.passed, adex.to_table()


COUPLED = {"model": {"name": "coupled"},
           "parameters": {"tau_m": 10.0, "tau_s": 3.0, "theta": 1e9},
           "states": {"V": 0.0, "I_s": 0.0}, "inputs": {"I": {}},
           "equations": {"laws": ["tau_m*dV/dt = -V + I_s + I", "tau_s*dI_s/dt = -I_s + I"]},
           "spike": {"condition": "V > theta"}, "reset": {"mechanism": "zero"},
           "simulation": {"dt": 0.1}}


def test_exponential_euler_is_first_order_on_coupled_linear_systems():
    """Brian2's per-variable exponential Euler is not exact when a state drives another (it is
    off the matrix exponential by O(dt)); verify expects order 1 there and measures it, and auto
    picks exact for such a system, never exponential Euler."""
    from lifgen.numerics.methods import auto_by_form

    model = model_from_document(COUPLED, "coupled.toml")
    report = lifgen.verify(model, methods=["exponential_euler", "exact"], input=lifgen.Constant(1.0))
    assert report.expected_order("exponential_euler") == 1
    assert report.measured_order("exponential_euler") == pytest.approx(1.0, abs=0.2)
    assert report.verdicts() == {"exponential_euler": True, "exact": True}
    assert "exponential_euler: ok (observed order" in report.to_table()
    assert auto_by_form(model)[0] == "exact"
    uncoupled = model_from_document({**COUPLED, "equations": {"laws": [
        "tau_m*dV/dt = -V + I", "tau_s*dI_s/dt = -I_s + I"]}}, "uncoupled.toml")
    report = lifgen.verify(uncoupled, methods=["exponential_euler"], input=lifgen.Constant(1.0))
    assert report.expected_order("exponential_euler") is None and all(report.verdicts().values())


ALPHA_SYNAPSE = {"model": {"name": "alpha_synapse"},
                 "parameters": {"tau_m": 10.0, "tau_syn": 2.0, "theta": 1.0},
                 "states": {"V": 0.0, "I_syn": 0.0, "x": 0.0}, "inputs": {"I": {}},
                 "synapses": {"exc": {"target": "x"}},
                 "equations": {"laws": ["tau_m*dV/dt = -V + I_syn + I",
                                        "tau_syn*dI_syn/dt = -I_syn + x", "tau_syn*dx/dt = -x"]},
                 "spike": {"condition": "V > theta"}, "reset": {"mechanism": "zero"},
                 "simulation": {"dt": 0.1}}


def test_verify_exercises_every_state_and_reports_each():
    """An alpha synapse's states have no input and start at rest: verify starts them away from
    it and sends its synapse type two events (the report says so), so its table depends on
    tau_syn (it did not: issue 17), and it reports each state. The exact reference follows the
    events: rk4 keeps its order 4 in every state."""
    tables = {}
    for tau_syn in (2.0, 10.00001):
        document = {**ALPHA_SYNAPSE, "parameters": {**ALPHA_SYNAPSE["parameters"],
                                                    "tau_syn": tau_syn}}
        model = model_from_document(document, "alpha_synapse.toml")
        report = lifgen.verify(model, methods=["rk4"], dts=[0.1, 0.05, 0.025],
                               t_end=30.0)
        tables[tau_syn] = report.to_table()
        assert report.passed
        assert report.exercised.startswith("I_syn = ") and "x = " in report.exercised
        assert "exc events at t = " in report.exercised  # its synapse type gets spikes too
        finest = [r for r in report.rows if r["method"] == "rk4"][-1]["state_errors"]
        assert set(finest) == {"V", "I_syn", "x"} and finest["I_syn"] > 0
        orders = report.state_orders("rk4")
        assert orders["I_syn"] == pytest.approx(4, abs=0.2)
        assert "per state" in tables[tau_syn] and "I_syn" in tables[tau_syn]
    assert tables[2.0].splitlines()[2:] != tables[10.00001].splitlines()[2:]


def test_verify_drives_every_input():
    model = model_from_document({**COUPLED, "inputs": {"I": {}, "J": {}}, "equations": {"laws": [
        "tau_m*dV/dt = -V + I_s + I", "tau_s*dI_s/dt = -I_s + J"]}}, "two_inputs.toml")
    from lifgen.tools.verify import _waveforms

    waveforms = _waveforms(model, None, {}, 0.1)
    assert set(waveforms) == {"I", "J"} and all(w.amplitude != 0 for w in waveforms.values())


def _shape(name, parameters, states, laws, theta, synapses=None):
    return model_from_document({
        "model": {"name": name}, "parameters": {**parameters, "theta": theta},
        "states": states, "inputs": {"I": {}}, "synapses": synapses or {},
        "equations": {"laws": laws}, "spike": {"condition": f"{next(iter(states))} > theta"},
        "reset": {"mechanism": "zero"}, "simulation": {"dt": 0.1}}, f"{name}.toml")


ISSUE_13_SHAPES = {  # the shapes whose propagator entries were wrong, each with a threshold
    "adaptive LIF": lambda: _shape(
        "adlif", dict(tau_m=20.0, tau_w=100.0, E_L=-70.0, R=100.0, a=0.002),
        {"V": -70.0, "w": 0.0},
        ["tau_m*dV/dt = E_L - V + R*(I - w)", "tau_w*dw/dt = a*(V - E_L) - w"], -50.0),
    "resonator": lambda: _shape(
        "resonator", dict(tau=10.0, tau_w=50.0, k=20.0), {"V": 0.0, "w": 0.0},
        ["dV/dt = (I - V - k*w)/tau", "dw/dt = (V - w)/tau_w"], 1.0),
    "alpha synapse": lambda: model_from_document(ALPHA_SYNAPSE, "alpha_synapse.toml"),
    "3-state LIF": lambda: _shape(
        "lif3", dict(tau_m=20.0, tau_e=5.0, tau_i=10.0), {"V": 0.0, "I_e": 0.0, "I_i": 0.0},
        ["tau_m*dV/dt = -V + I_e + I_i + I", "tau_e*dI_e/dt = -I_e", "tau_i*dI_i/dt = -I_i"],
        1.0, {"exc": {"target": "I_e"}, "inh": {"target": "I_i"}}),
}
LIBRARY = [name for name in lifgen.list_models()
           if not lifgen.load_model(name).is_discrete and not lifgen.load_model(name).is_stochastic]


@pytest.mark.parametrize("case", [*LIBRARY, *ISSUE_13_SHAPES])
def test_verify_reports_every_state_with_the_order_theory_gives(case):
    """rk4 at three dts on every continuous library model and the issue-13 shapes: each state
    has its own error, and each measurable order is rk4's 4 (None: below the noise floor)."""
    model = ISSUE_13_SHAPES[case]() if case in ISSUE_13_SHAPES else lifgen.load_model(case)
    report = lifgen.verify(model, methods=["rk4"], dts=[model.dt, model.dt / 2, model.dt / 4],
                           t_end=300 * model.dt)  # long enough for orders, short for CI
    assert report.passed, report.to_table()
    errors = [r for r in report.rows if r["method"] == "rk4"][0]["state_errors"]
    assert set(errors) == set(model.state_names)
    for state, order in report.state_orders("rk4").items():
        assert order is None or abs(order - 4) <= 0.25, (state, order)


@pytest.mark.parametrize("name", lifgen.list_models())
def test_verify_with_its_defaults_passes_every_library_model_or_says_why(name):
    """The default input holds the membrane below threshold (from the model's own threshold and
    steady states), so the reference never fires and no correct method is FAILED: cobahh fires
    at rest and needs a holding current below 0, which 1 pA was not. Three dts rather than five,
    and euler alone on linear models (whose default input has its own tests), keep CI short;
    the input and duration are verify's defaults."""
    model = lifgen.load_model(name)
    if model.is_discrete or model.is_stochastic:
        with pytest.raises(InputError, match="discrete-time map|white noise"):
            lifgen.verify(model)
        return
    from lifgen.numerics.methods import is_linear

    report = lifgen.verify(model, dts=[model.dt, model.dt / 2, model.dt / 4],
                           methods=["euler"] if is_linear(model) else None)
    assert report.passed and report.window is None, report.to_table()
    assert report.to_table().splitlines()[1].startswith("input: I = ")


def test_verify_chooses_a_sub_threshold_input_in_the_models_own_scale(tmp_path):
    """A Hodgkin-Huxley neuron whose input is in units of 100 uA/cm^2: 1 of them fires at once
    and the error window held the spike's upstroke (exponential Euler reported FAILED)."""
    text = lifgen.frontend.library.model_file("hodgkin_huxley").read_text()
    scaled = text.replace('"C*dV/dt = I - ', '"C*dV/dt = 100*I - ', 1).replace(
        'name = "hodgkin_huxley"', 'name = "hh_scaled"', 1)
    assert scaled.count("100*I") == 1
    path = tmp_path / "hh_scaled.toml"
    path.write_text(scaled)
    report = lifgen.verify(path, methods=["rk4", "exponential_euler"], dts=[0.04, 0.02, 0.01])
    assert report.window is None and report.passed, report.to_table()
    assert report.verdicts()["exponential_euler"]
    (amplitude,) = [w for w in report.driven.split() if w[0].isdigit()][:1]
    assert 0.005 < float(amplitude) < 0.05  # about 2 uA/cm^2: below HH's step threshold


def test_holding_inputs_come_from_the_models_own_steady_states():
    """numerics/holding.py, without C: a linear neuron's holding input is its leak times the
    distance; Hodgkin-Huxley's stays under the step that fires it (3 uA/cm^2); cobahh, which fires
    at rest, is held by a negative current; a discrete map has no steady-state relation."""
    from lifgen.numerics.accuracy import parameter_values
    from lifgen.numerics.holding import holding_input

    def held(name, share):
        model = lifgen.load_model(name)
        return holding_input(model, parameter_values(model), model.input_names[0], share)

    # lif_coba at rest: tau_m dV/dt = E_L - V + I, so I = (V - E_L); a quarter of 10 mV
    assert held("lif_coba", 0.75) == pytest.approx(2.5, abs=0.02)
    assert held("lif_coba", 1.5) == pytest.approx(15.0, abs=0.05)
    assert 1.0 < held("hodgkin_huxley", 0.75) < 2.5
    assert held("hodgkin_huxley", 1.5) > 9.0  # past the Hopf bifurcation: it fires repetitively
    assert held("cobahh", 0.75) < -40.0
    assert held("leaky", 0.75) is None
