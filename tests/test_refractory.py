"""Refractory periods: whole steps without float drift, frozen equations, a blocked spike test."""

import numpy as np
import pytest

import lifgen
from lifgen.errors import InputError, ModelError
from lifgen.modelfile import model_from_document

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
