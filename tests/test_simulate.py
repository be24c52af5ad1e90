"""Compiled simulations against the closed form, the tutorial's Euler update, and snnTorch's numbers."""

import numpy as np
import pytest

import lifgen
from lifgen.errors import InputError


@pytest.fixture(scope="module")
def lapicque_exact():
    return lifgen.compile("lapicque", method="exact")


@pytest.fixture(scope="module")
def lapicque_euler():
    return lifgen.compile("lapicque")


def test_exact_equals_closed_form(lapicque_exact):
    R, C, I, V0, dt = 5.1, 5e-3, 0.15, 0.3, 1e-3
    result = lapicque_exact.run(400, inputs={"I": I}, initial={"V": V0}, params={"threshold": 10.0})
    t = np.arange(1, 401) * dt
    closed = I * R + (V0 - I * R) * np.exp(-t / (R * C))
    np.testing.assert_allclose(result.traces["V"][:, 0], closed, rtol=1e-12, atol=0)


def test_exact_agrees_with_sympy_closed_form(lapicque_exact):
    from lifgen.numerics.analytic import evaluate_closed_form

    model = lifgen.load_model("lapicque")
    result = lapicque_exact.run(50, inputs={"I": 0.1}, initial={"V": -0.2})
    analytic = evaluate_closed_form(model, result.times, {}, {"I": 0.1}, {"V": -0.2})["V"]
    np.testing.assert_allclose(result.traces["V"][:, 0], analytic, rtol=1e-12)


def test_euler_equals_tutorial_update_step_by_step(lapicque_euler):
    R, C, dt = 5.1, 5e-3, 1e-3
    current = np.where(np.arange(150) >= 10, 0.15, 0.0)
    result = lapicque_euler.run(150, inputs={"I": current[:, None]}, params={"threshold": 10.0})
    U, expected = 0.0, []
    for I in current:
        U = I * dt / C + (1 - dt / (R * C)) * U
        expected.append(U)
    np.testing.assert_allclose(result.traces["V"][:, 0], expected, rtol=1e-12)


def test_tutorial2_step_input_settles_at_IR(lapicque_euler):
    result = lapicque_euler.run(200, inputs={"I": lifgen.Step(0.1, 10)}, params={"R": 5.0, "C": 1e-3})
    V = result.traces["V"][:, 0]
    assert not result.spikes.any()
    np.testing.assert_allclose(V[10:15], [0.1, 0.18, 0.244, 0.2952, 0.33616], rtol=1e-12)
    assert V[-1] == pytest.approx(0.5, abs=1e-12)


def test_tutorial2_firing_spikes_once_at_step_108(lapicque_euler):
    result = lapicque_euler.run(200, inputs={"I": lifgen.Step(0.2, 10)})
    assert result.spike_steps().tolist() == [108]
    V = result.traces["V"][:, 0]
    assert V[108] == pytest.approx(1.000566, abs=1e-6)
    assert V[109] == pytest.approx(0.001328, abs=1e-6)


def test_tutorial2_higher_current_fires_periodically(lapicque_euler):
    result = lapicque_euler.run(200, inputs={"I": lifgen.Step(0.3, 10)})
    assert result.spike_steps().tolist() == [36, 63, 91, 118, 146, 173]


def test_reset_from_initial_membrane_at_step_zero(lapicque_euler):
    result = lapicque_euler.run(2, initial={"V": 1.5})
    # Step 0 decays 1.5 and subtracts the threshold because the initial membrane was above it.
    assert result.traces["V"][0, 0] == pytest.approx((1 - 1e-3 / (5.1 * 5e-3)) * 1.5 - 1.0)


@pytest.mark.parametrize("reset, timing, expected", [
    ("subtract", "next_step", [1.2, 0.36, 0.688]),
    ("zero", "next_step", [1.2, 0.4, 0.72]),  # Leaky's zero reset keeps the input
    ("none", "next_step", [1.2, 1.36, 1.488]),
    ("subtract", "same_step", [0.2, 0.56, 0.848]),
    ("zero", "same_step", [0.4, 0.72, 0.976]),
])
def test_reset_mechanisms_and_timing(reset, timing, expected):
    sim = lifgen.compile("leaky", reset=reset, reset_timing=timing)
    result = sim.run(3, inputs={"I": 0.4}, initial={"V": 1.0}, params={"beta": 0.8})
    np.testing.assert_allclose(result.traces["V"][:, 0], expected, rtol=1e-12)


@pytest.mark.parametrize("timing", ["next_step", "same_step"])
def test_spikes_are_recorded_with_either_timing(timing):
    result = lifgen.compile("leaky", reset_timing=timing).run(3, inputs={"I": 0.6},
                                                               params={"beta": 1.0})
    # V: 0.6, 1.2 (spike), then next_step: 1.8 - 1 = 0.8; same_step: reset at once to 0.2.
    assert result.spikes[:, 0].tolist() == [False, True, False]


def test_per_neuron_parameters_and_streamed_inputs():
    sim = lifgen.compile("leaky")
    beta = np.array([0.5, 0.9, 1.0])
    current = np.random.default_rng(0).uniform(0, 0.5, size=(30, 3))
    result = sim.run(30, n_neurons=3, inputs={"I": current}, params={"beta": beta})
    V, fired, expected = np.zeros(3), np.zeros(3, bool), []
    for t in range(30):
        V = beta * V + current[t] - fired * 1.0
        fired = V > 1.0
        expected.append(V.copy())
    np.testing.assert_allclose(result.traces["V"], expected, rtol=1e-12)
    np.testing.assert_allclose(result.state["V"], expected[-1], rtol=1e-12)


def test_more_neurons_than_one_block_match_one_at_a_time():
    sim = lifgen.compile("lapicque", method="exact")
    n = 600
    R = np.linspace(3.0, 8.0, n)
    together = sim.run(120, n_neurons=n, inputs={"I": 0.25}, params={"R": R})
    for i in (0, 255, 256, 599):
        alone = sim.run(120, inputs={"I": 0.25}, params={"R": R[i]})
        np.testing.assert_array_equal(together.traces["V"][:, i], alone.traces["V"][:, 0])
        np.testing.assert_array_equal(together.spikes[:, i], alone.spikes[:, 0])


def test_float32_tracks_float64(lapicque_euler):
    single = lifgen.compile("lapicque", dtype="float32")
    a = single.run(200, inputs={"I": lifgen.Step(0.3, 10)})
    b = lapicque_euler.run(200, inputs={"I": lifgen.Step(0.3, 10)})
    assert a.traces["V"].dtype == np.float32
    np.testing.assert_array_equal(a.spikes, b.spikes)
    np.testing.assert_allclose(a.traces["V"], b.traces["V"], atol=1e-5)


def test_changing_parameters_does_not_recompile(lapicque_euler):
    source = lapicque_euler.c_source
    lapicque_euler.run(5, params={"R": 1.0, "threshold": 0.1})
    assert lifgen.compile("lapicque").c_source == source
    assert "5.1" not in source  # parameters are runtime arguments, not literals


def test_waveforms():
    assert lifgen.Constant(2.0).values(3).tolist() == [2.0, 2.0, 2.0]
    assert lifgen.Step(1.0, 2).values(4).tolist() == [0, 0, 1, 1]
    assert lifgen.Pulse(1.0, 1, 3).values(5).tolist() == [0, 1, 1, 0, 0]


@pytest.mark.parametrize("kwargs, message", [
    (dict(inputs={"J": 1.0}), "unknown name"),
    (dict(params={"tau": 1.0}), "unknown name"),
    (dict(initial={"U": 1.0}), "unknown name"),
    (dict(record=["U"]), "unknown state"),
    (dict(inputs={"I": np.zeros(7)}), "shape"),
    (dict(inputs={"I": np.zeros((5, 2))}), "shape"),
    (dict(params={"R": np.zeros(3)}), "shape"),
    (dict(params={"R": float("nan")}), "NaN"),
    (dict(inputs={"I": "x"}), r"inputs\['I'\]: 'x' is not a quantity"),
])
def test_bad_run_arguments_are_reported_before_any_c_runs(lapicque_euler, kwargs, message):
    with pytest.raises(InputError, match=message):
        lapicque_euler.run(10, n_neurons=2, **kwargs)


@pytest.mark.parametrize("kwargs, message", [
    (dict(method="rk7"), "unknown method"),
    (dict(dt=-1.0), "positive"),
    (dict(dtype="float16"), "dtype"),
    (dict(reset="explode"), "reset must be"),
    (dict(reset_timing="later"), "reset_timing"),
])
def test_bad_compile_arguments(kwargs, message):
    with pytest.raises(InputError, match=message):
        lifgen.compile("lapicque", **kwargs)


def test_discrete_map_takes_no_method_or_dt():
    with pytest.raises(InputError, match="discrete-time map"):
        lifgen.compile("leaky", method="euler")
    with pytest.raises(InputError, match="discrete-time map"):
        lifgen.compile("leaky", dt=1e-3)


def test_result_plot_writes_a_png(tmp_path, lapicque_euler):
    pytest.importorskip("matplotlib")
    result = lapicque_euler.run(200, inputs={"I": lifgen.Step(0.3, 10)})
    path = tmp_path / "plot.png"
    result.plot(path=path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
