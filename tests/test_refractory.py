"""Refractory periods: whole steps without float drift, frozen equations, a blocked spike test."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy.integrate import solve_ivp

import lifgen
from lifgen.errors import InputError, ModelError
from lifgen.numerics.methods import ORDERS
from lifgen.frontend.library import model_file
from lifgen.frontend.modelfile import model_from_document
from lifgen.frontend.schema import read_toml
from lifgen.ir.written import to_text

MODELS = Path(__file__).parent / "models"
BRIAN2 = Path(__file__).parent / "reference" / "brian2"

HOLD = {
    "model": {"name": "hold"},
    "parameters": {"tau": 10.0, "theta": 1.0, "t_ref": 2.0},
    "states": {"V": 0.0},
    "inputs": {"I": {}},
    "equations": {"laws": ["tau*dV/dt = -V + I"]},
    "spike": {"condition": "V > theta"},
    "reset": {"mechanism": "zero", "timing": "same_step"},
    "refractory": {"period": "t_ref", "frozen": ["V"]},
    "simulation": {"method": "exact", "dt": 0.1},
}


def model(**changes):
    document = {key: dict(value) for key, value in HOLD.items()}
    for section, value in changes.items():
        document[section] = value
    return model_from_document(document, "hold.toml")


def held_steps(trace, spike_step):
    """How many steps after the spike V stays exactly at its reset value 0."""
    after = trace[spike_step:]
    return int(np.argmax(after != 0.0))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("t_ref, dt, steps", [(2.0, 0.1, 20), (0.3, 0.1, 3), (0.7, 0.1, 7),
                                              (1.0, 0.01, 100), (0.25, 0.1, 2)])
def test_period_becomes_whole_steps_without_float_drift(t_ref, dt, steps, dtype):
    # 0.3/0.1 is 2.9999999999999996 in floating point: plain floor would lose a step.
    simulator = lifgen.compile(model(), dt=dt, dtype=dtype)
    result = simulator.run(3000, inputs={"I": 5.0}, params={"t_ref": t_ref})
    spikes = result.spike_steps()
    assert len(spikes) >= 2
    assert held_steps(result.traces["V"][:, 0], spikes[0]) == steps
    assert np.all(np.diff(spikes) > steps)


def test_spike_test_is_blocked_while_refractory():
    # Nothing frozen and a drive far above threshold: V stays above threshold, but spikes come
    # only once every period (20 steps), not every step.
    simulator = lifgen.compile(model(refractory={"period": "t_ref"}),
                               reset="none")
    spikes = simulator.run(200, inputs={"I": 50.0}).spike_steps()
    assert np.all(np.diff(spikes) == 20)


def test_counter_is_a_state_and_runs_continue_across_calls():
    simulator = lifgen.compile(model())
    whole = simulator.run(400, 3, inputs={"I": [2.0, 5.0, 9.0]})
    first = simulator.run(137, 3, inputs={"I": [2.0, 5.0, 9.0]})
    assert set(first.state) == {"V", "refractory_steps"}
    second = simulator.run(263, 3, inputs={"I": [2.0, 5.0, 9.0]}, initial=first.state)
    np.testing.assert_array_equal(np.concatenate([first.spikes, second.spikes]), whole.spikes)
    np.testing.assert_array_equal(second.state["V"], whole.state["V"])


def test_per_neuron_periods_and_every_loop_order_agree():
    rng = np.random.default_rng(3)
    n = 70
    t_ref = rng.choice([0.0, 0.5, 1.0, 2.5], n)
    drive = rng.uniform(1.5, 8.0, (300, n))
    runs = [lifgen.compile(model(), tile=tile, threads=threads).run(
        300, n, inputs={"I": current}, params={"t_ref": t_ref}, record=["V", "refractory_steps"])
        for tile, threads in ((None, 1), (5, 2))
        for current in (drive, drive[0])]
    for a, b in ((runs[0], runs[2]), (runs[1], runs[3])):
        np.testing.assert_array_equal(a.spikes, b.spikes)
        np.testing.assert_array_equal(a.traces["refractory_steps"], b.traces["refractory_steps"])
    intervals = [np.diff(np.flatnonzero(runs[1].spikes[:, i])) for i in range(n)]
    for i in range(n):
        assert np.all(intervals[i] > round(t_ref[i] / 0.1)), i


def test_library_models_declare_their_refractory_period():
    for name in ("lif_cuba", "lif_coba"):
        period, frozen = lifgen.load_model(name).refractory
        assert [s.name for s in frozen] == ["V"]
    assert "refractory" in "\n".join(lifgen.compile("lif_coba").step_map.equations())


@pytest.mark.parametrize("section, message, field", [
    ({"period": "t_ref", "frozen": ["W"]}, "W is not a state", "[refractory] frozen"),
    ({"period": "V"}, "unknown name(s) V", "[refractory] period"),
    ({"frozen": ["V"]}, "missing 'period'", "[refractory]"),
    ({"period": "t_ref", "frozen": "V"}, "list of state names", "[refractory] frozen"),
    ({"period": "t_ref", "until": 3}, "unknown key(s) 'until'", "[refractory]"),
    ({"period": "t_ref", "input": "sometimes"}, "input must be one of 'drop', 'keep'",
     "[refractory] input"),
])
def test_bad_refractory_sections_name_the_field(section, message, field):
    with pytest.raises(ModelError) as error:
        model(refractory=section)
    assert message in str(error.value) and field in str(error.value)
    assert "hold.toml" in str(error.value)


def test_period_may_be_a_number():
    spikes = lifgen.compile(model(refractory={"period": 1.5})).run(
        100, inputs={"I": 50.0}).spike_steps()
    assert np.all(np.diff(spikes) == 15)


def test_counter_name_is_reserved():
    states = {"V": 0.0, "refractory_steps": 0.0}
    laws = ["tau*dV/dt = -V + I", "drefractory_steps/dt = 0"]
    with pytest.raises(ModelError, match="refractory counter"):
        model(states=states, equations={"laws": laws})


def test_refractory_needs_the_reset_in_the_same_step():
    with pytest.raises(InputError, match="same_step"):
        lifgen.compile(model(), reset_timing="next_step")


# -- frozen states are held inside the step, not only after it ----------------------------------

ADAPTIVE = MODELS / "adaptive_lif.toml"  # tau dV/dt = -(V-E_L) - R w + R I, tau_w dw/dt = a(V-E_L) - w


def held_reference(w0, steps, dt, p):
    """w after 1..steps steps of the held system (V fixed at V_r), by SciPy's DOP853."""
    def rates(t, y):
        V, w = y
        return [0.0, (p["a"] * (V - p["E_L"]) - w) / p["tau_w"]]
    times = dt * np.arange(1, steps + 1)
    solution = solve_ivp(rates, (0.0, times[-1]), [p["V_r"], w0], method="DOP853", t_eval=times,
                         rtol=1e-12, atol=1e-12)
    return solution.y[1]


@pytest.mark.parametrize("method", ["exact", "rk4", "rk2", "exponential_euler", "euler"])
def test_while_refractory_the_other_states_see_the_frozen_one_held(method):
    # The held system tau_w dw/dt = a(V_r - E_L) - w is linear in w: exact and exponential Euler
    # step it exactly; a Runge-Kutta method of order p errs by about (h/tau_w)^(p+1)/(p+1)! a step.
    # Before the frozen state was held inside the step, w was off by 7.7e-4 with all of exact,
    # rk4 and rk2, as V moved in every stage and in the propagator.
    model = lifgen.load_model(str(ADAPTIVE))
    p, dt = model.defaults, 0.1
    result = lifgen.compile(model, method=method, dt=dt).run(600, inputs={"I": 400.0},
                                                             record=["V", "w"])
    V, w = result.traces["V"][:, 0], result.traces["w"][:, 0]
    steps = round(p["t_ref"] / dt) - 1  # held after the spike's step, as Brian2 counts
    order = None if method == "exponential_euler" else ORDERS[method]  # None: exact here
    tolerance = 1e-12 if order is None else (
        1e-12 + 4 * steps * (dt / p["tau_w"]) ** (order + 1) / math.factorial(order + 1))
    spikes = result.spike_steps()
    assert len(spikes) >= 3
    for s in spikes[:3]:
        assert np.all(V[s:s + steps + 1] == p["V_r"])
        reference = held_reference(w[s], steps, dt, p)
        error = np.max(np.abs(w[s + 1:s + steps + 1] - reference) / np.abs(reference))
        assert error < tolerance, (method, error, tolerance)


def adex_with_refractory():
    """The library's AdEx with a 2 ms refractory period in which V is frozen."""
    document = read_toml(model_file("adex"))
    document["parameters"]["t_ref"] = {"value": 2.0, "unit": "ms"}
    document["refractory"] = {"period": "t_ref", "frozen": ["V"]}
    return model_from_document(document, "adex_refractory.toml")


@pytest.mark.parametrize("method", ["rk4", "rk2"])
def test_adex_held_at_minus_60_mV_adapts_as_the_closed_form(method):
    # NESTML's aeif_cond_exp parameters (no synaptic input: its conductances stay 0), I = 2000 pA,
    # the neuron refractory for 2 ms from t = 0 at V = -60 mV with w = 0. With V held,
    # w(t) = a (V - E_L) (1 - exp(-t/tau_w)) = 0.58482 pA at 2 ms; with V moving inside the
    # stages, rk4 gave 0.60128 pA (+2.8 %). Brian2, whose `unless refractory` zeroes the slope
    # in every stage, computes the same step (tests/reference/make_brian2_refractory_refs.py).
    brian2 = json.loads((BRIAN2 / "refractory.json").read_text())["adex_held"]
    params = dict(brian2["parameters"])
    current = params.pop("I")
    result = lifgen.compile(adex_with_refractory(), method=method, dt=0.1).run(
        20, inputs={"I": current}, params=params, record=["V", "w"],
        initial={"V": -60.0, "w": 0.0, "refractory_steps": 20.0})
    closed_form = params["a"] * (-60.0 - params["E_L"]) * -math.expm1(-2.0 / params["tau_w"])
    assert np.all(result.traces["V"][:, 0] == -60.0)
    assert result.traces["w"][19, 0] == pytest.approx(closed_form, rel=1e-6)
    assert result.traces["w"][19, 0] == pytest.approx(brian2[method]["w"], rel=1e-13)
    assert round(closed_form, 5) == 0.58482


def test_the_held_step_is_printed_with_its_own_propagator():
    step_map = lifgen.compile(lifgen.load_model(str(ADAPTIVE)), method="exact").step_map
    lines = step_map.equations()
    assert sum("computed numerically" in line for line in lines) == 2  # the held system's too
    assert [line.split(" <-")[0] for line in lines if "while refractory" in line] == ["w"]
    assert [s.name for s, _ in step_map.held_updates] == ["w"]


def test_a_frozen_state_that_drives_nothing_changes_no_update():
    # lif_cuba's V drives neither synaptic current: the held step is the step itself.
    step_map = lifgen.compile("lif_cuba").step_map
    assert step_map.held_updates == () and step_map.held_stages == ()


def test_rk_stages_hold_the_frozen_slope_at_zero():
    # A nonlinear model whose held system stays nonlinear keeps its stages: only the frozen
    # state's slopes change while refractory.
    document = read_toml(ADAPTIVE)
    document["parameters"]["Delta"] = {"value": -70.0, "unit": "mV"}
    document["equations"]["laws"][1] = "tau_w*dw/dt = a*(V - E_L)*exp((V - E_L)/Delta) - w"
    model = model_from_document(document, "nonlinear.toml")
    step_map = lifgen.compile(model, method="rk4").step_map
    assert [k.name for k, _ in step_map.held_stages] == [f"lg_stage{i}_V" for i in range(1, 5)]
    assert all(to_text(tree) == "0" for _, tree in step_map.held_stages)
    assert step_map.held_updates == ()
    result = lifgen.compile(model, method="rk4").run(600, inputs={"I": 400.0}, record=["V", "w"])
    s = result.spike_steps()[0]
    p = model.defaults
    V = result.traces["V"][:, 0]
    rate = lambda t, w: [(p["a"] * 10.0 * math.exp(-10.0 / 70.0) - w[0]) / p["tau_w"]]
    w = solve_ivp(rate, (0.0, 1.9), [result.traces["w"][s, 0]], method="DOP853",
                  t_eval=[1.9], rtol=1e-12, atol=1e-12).y[0, -1]
    assert np.all(V[s:s + 20] == p["V_r"])
    assert result.traces["w"][s + 19, 0] == pytest.approx(w, rel=1e-12)


# -- input that arrives while refractory ------------------------------------------------------

IAF_DELTA = {  # NEST's iaf_psc_delta: a spike event moves V by its weight at once
    "model": {"name": "iaf_delta"},
    "parameters": {"tau_m": 10.0, "E_L": -70.0, "V_th": -55.0, "V_reset": -60.0, "t_ref": 5.0},
    "states": {"V": -50.0},
    "inputs": {"I": {}},
    "synapses": {"spike": {"target": "V"}},
    "equations": {"laws": ["tau_m*dV/dt = -(V - E_L) + I"]},
    "spike": {"condition": "V > V_th"},
    "reset": {"mechanism": "zero", "timing": "same_step", "zero": {"V": "V_reset"}},
    "refractory": {"period": "t_ref", "frozen": ["V"], "counting": "nest"},
    "simulation": {"method": "exact", "dt": 0.1},
}


@pytest.mark.parametrize("given, held", [(None, -60.0), ("drop", -60.0), ("keep", -55.0)])
def test_a_delta_input_during_the_refractory_period(given, held):
    # The neuron spikes in step 0 (V starts above threshold) and is clamped at V_reset for the
    # 50 steps of t_ref = 5 ms after it, as NEST counts them. A 5 mV event arrives 2 ms into the
    # period (step 20). NEST's iaf_psc_delta drops it (refractory_input = false), as does the
    # default "drop"; "keep" adds it to the held value.
    document = {**IAF_DELTA, "refractory": dict(IAF_DELTA["refractory"])}
    if given:
        document["refractory"]["input"] = given
    simulator = lifgen.compile(model_from_document(document, "iaf_delta.toml"))
    result = simulator.run(80, inputs={"I": 0.0}, record=["V"],
                           drives={"spike": (lifgen.SpikeTrain(1, [19], [0]), [[5.0]])})
    V = result.traces["V"][:, 0]
    assert result.spike_steps().tolist() == [0]
    assert np.all(V[1:20] == -60.0) and np.all(V[20:51] == held)
    assert V[51] == pytest.approx(-70.0 + (held + 70.0) * math.exp(-0.1 / 10.0), rel=1e-13)


def conditional_write(input_rule="drop"):
    """Brian2's test_conditional_write_behaviour as a lifgen model: v and x `(unless refractory)`."""
    return model_from_document({
        "model": {"name": "conditional_write"},
        "parameters": {"tau": 1.0, "t_ref": 1.0},
        "states": {"v": 0.0, "x": 0.0, "y": 0.0},
        "synapses": {"sx": {"target": "x"}, "sy": {"target": "y"}},
        "equations": {"laws": ["tau*dv/dt = 2 - v", "dx/dt = 0", "dy/dt = 0"]},
        "spike": {"condition": "v > 1"},
        "reset": {"mechanism": "zero", "timing": "same_step",
                  "zero": {"v": "0", "x": "x - 0.05", "y": "y - 0.05"}},
        "refractory": {"period": "t_ref", "frozen": ["v", "x"], "input": input_rule},
        "simulation": {"method": "euler", "dt": 0.1},
    }, "conditional_write.toml")


def test_brian2s_conditional_write_behaviour():
    # Brian2's test: a source spiking every step adds 0.01 to x and to y; x is frozen while
    # refractory, so its writes are dropped; y's are kept. Brian2's assertions, then its numbers
    # (tests/reference/make_brian2_refractory_refs.py). Brian2 writes a step's events after the
    # threshold of that step; lifgen adds them at the start of the next step, so
    # - lifgen's state after step k is Brian2's at the start of step k + 1, less the events of
    #   step k, which Brian2 has already written and lifgen still has in flight;
    # - Brian2 also drops the write made at the end of a period's last step (its not_refractory
    #   flag is renewed only by the next update), which lifgen adds at the start of the first
    #   step after the period, when x moves again: x keeps one more event per period.
    reference = json.loads((BRIAN2 / "refractory.json").read_text())
    weight, steps = reference["weight"], reference["steps"]
    train = lifgen.SpikeTrain(1, np.arange(steps), np.zeros(steps, np.int64))
    result = lifgen.compile(conditional_write()).run(
        steps, drives={"sx": (train, [[weight]]), "sy": (train, [[weight]])},
        record=["v", "x", "y"])
    final = {s: result.state[s][0] for s in ("v", "x", "y")}
    assert final["x"] < 0.2 and final["y"] > 0.2 and final["v"] < 1.1  # Brian2's assertions
    spikes = result.spike_steps().tolist()
    assert spikes == reference["spike_steps"]
    brian2_after = {s: np.array(reference["start_of_step"][s][1:] + [reference["final"][s]])
                    for s in ("v", "x", "y")}
    np.testing.assert_allclose(result.traces["v"][:, 0], brian2_after["v"], rtol=0, atol=1e-12)
    in_flight = weight  # the last step's event: the source spikes every step
    np.testing.assert_allclose(result.traces["y"][:, 0], brian2_after["y"] - in_flight,
                               rtol=0, atol=1e-12)
    period = round(reference["t_ref"] / reference["dt"])
    ended = [sum(s + period <= k for s in spikes) for k in range(steps)]  # periods over by step k
    refractory_or_spiking = np.array([any(s <= k < s + period for s in spikes)
                                      for k in range(steps)])
    expected_x = (brian2_after["x"] - np.where(refractory_or_spiking, 0.0, in_flight)
                  + weight * np.array(ended))
    np.testing.assert_allclose(result.traces["x"][:, 0], expected_x, rtol=0, atol=1e-12)
    kept = lifgen.compile(conditional_write("keep")).run(
        steps, drives={"sx": (train, [[weight]]), "sy": (train, [[weight]])})
    assert kept.state["x"][0] == pytest.approx(kept.state["y"][0])  # nothing dropped


def test_a_written_step_is_kept_where_holding_changes_nothing():
    # Euler reads every state before the step: holding V changes no other update, so the
    # written step stays as written and nothing is selected.
    document = read_toml(ADAPTIVE)
    document["equations"]["euler"] = {"V": "V + dt*(-(V - E_L) - R*w + R*I)/tau",
                                      "w": "w + dt*(a*(V - E_L) - w)/tau_w"}
    step_map = lifgen.compile(model_from_document(document, "written.toml"),
                              method="euler").step_map
    assert step_map.held_updates == () and step_map.held_stages == ()


# Brian2's brian2/tests/test_refractory.py, ported: its groups as model files (rates per ms,
# dt = 0.1 ms), its assertions on rows "after step t", as Brian2's StateMonitor(when="end").
def brian2_group(equations, frozen, period, threshold="v > 1", reset=None):
    states = sorted({law.split("/")[0][1:] for law in equations})
    return model_from_document({
        "model": {"name": "brian2_group"}, "parameters": {"t_ref": period},
        "states": {s: 0.0 for s in states}, "equations": {"laws": equations},
        "spike": {"condition": threshold},
        "reset": {"mechanism": "zero", "timing": "same_step", "zero": reset or {"v": "0"}},
        "refractory": {"period": "t_ref", "frozen": frozen},
        "simulation": {"method": "exact", "dt": 0.1}}, "brian2_group.toml")


def test_brian2s_refractoriness_basic():
    """v (unless refractory) and w rise alike; v stays 0 for the 5 ms after its spike at 10 ms
    while w rises as it did from 0; then v rises again."""
    group = brian2_group(["dv/dt = 0.099999", "dw/dt = 0.099999"], ["v"], 5.0,
                         reset={"v": "0", "w": "0"})
    result = lifgen.compile(group).run(200, 1, record=["v", "w"])
    v, w = result.traces["v"][:, 0], result.traces["w"][:, 0]
    np.testing.assert_allclose(v[:100], w[:100], rtol=1e-7)
    assert np.all(v[100:150] == 0.0)
    np.testing.assert_allclose(w[:50], w[101:151], rtol=1e-7)
    assert np.all(w[101:151] > 0) and np.all(v[150:200] > 0)


def test_brian2s_refractoriness_threshold_basic():
    """v is not frozen: it keeps integrating while refractory, and spikes at 5 ms and 15 ms."""
    group = brian2_group(["dv/dt = 0.19999"], [], 10.0)
    result = lifgen.compile(group).run(160, 1)
    assert result.spike_steps(0).tolist() == [50, 150]


def test_brian2s_refractoriness_repeated():
    """A neuron that spikes whenever it may, refractory for 10 steps: every 10th step from 0."""
    group = brian2_group(["dv/dt = 0"], [], 1.0, threshold="v > -1")
    steps = lifgen.compile(group).run(10000, 1).spike_steps(0)
    assert steps[0] == 0 and np.all(np.diff(steps) == 10) and len(steps) == 1000
