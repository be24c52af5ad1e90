"""snnTorch's options as lifgen implements them, beyond the reference cases."""

import numpy as np
import pytest

import lifgen
from lifgen.errors import InputError


@pytest.mark.parametrize("model", ["lapicque", "alpha"])
def test_reset_delay_is_an_error_where_snntorch_has_none(model):
    with pytest.raises(InputError, match="no reset_delay option"):
        lifgen.compile(model, reset_delay=False)
    with pytest.raises(InputError, match="no reset_delay option"):
        lifgen.compile(model, reset_delay=True)


def test_graded_spikes_scale_what_a_spike_drives():
    current = np.zeros((3, 2))
    current[0, 0] = 2.0  # neuron 0 spikes at step 0 and drives neuron 1 through W[1, 0]
    W = np.array([[0.0, 0.0], [0.25, 0.0]])
    runs = {g: lifgen.compile("rleaky", graded_spikes=g).run(
        3, 2, inputs={"I": current}, params={"beta": 1.0}, connections={"rec": W})
        for g in (1.0, 3.0)}
    assert runs[1.0].spikes.dtype == bool and runs[3.0].spikes[0, 0]
    assert runs[1.0].traces["V"][1, 1] == pytest.approx(0.25)
    assert runs[3.0].traces["V"][1, 1] == pytest.approx(0.75)


def test_recurrence_adds_only_previous_spikes_and_bias():
    sim = lifgen.compile("rleaky")
    one_to_one = sim.run(2, 3, inputs={"I": np.array([2.0, 0.0, 0.0])},
                         params={"beta": 0.0, "b_rec": 0.1}, connections={"rec": np.full(3, 0.5)})
    # Step 0 sees no previous spikes: V = I + bias. Step 1: neuron 0 spiked, adds its own weight.
    np.testing.assert_allclose(one_to_one.traces["V"][0], [2.1, 0.1, 0.1])
    np.testing.assert_allclose(one_to_one.traces["V"][1], [2.0 - 1.0 + 0.5 + 0.1 + 0.0, 0.1, 0.1])


@pytest.mark.parametrize("weights, message", [
    (np.zeros(4), "shape"), (np.zeros((3, 4)), "shape"), (np.full(3, np.nan), "NaN")])
def test_bad_connections(weights, message):
    with pytest.raises(InputError, match=message):
        lifgen.compile("rleaky").run(2, 3, connections={"rec": weights})


def test_unknown_synapse_name():
    with pytest.raises(InputError, match="unknown name"):
        lifgen.compile("rleaky").run(2, 3, connections={"exc": np.zeros(3)})


def test_alpha_requires_alpha_greater_than_beta():
    with pytest.raises(InputError, match="requires alpha > beta"):
        lifgen.compile("alpha").run(2, params={"alpha": 0.5, "beta": 0.7})


def test_lapicque_beta_parameterization_does_not_depend_on_dt():
    runs = [lifgen.compile("lapicque", dt=dt).run(5, initial={"V": 0.5}, params={"beta": 0.9})
            for dt in (1e-3, 1.0)]
    decay = 1 - np.log(1 / 0.9)  # snnTorch's Lapicque(beta=0.9) decays by 0.8946394 per step
    np.testing.assert_allclose(runs[0].traces["V"][:, 0], 0.5 * decay ** np.arange(1, 6), rtol=1e-12)
    np.testing.assert_allclose(runs[0].traces["V"], runs[1].traces["V"], rtol=1e-12)


def test_batch_rows_are_independent_copies():
    rng = np.random.default_rng(3)
    current = rng.uniform(0, 0.6, (40, 2, 5))
    sim = lifgen.compile("synaptic")
    batch = sim.run(40, 5, inputs={"I": current})
    assert batch.spikes.shape == (40, 2, 5) and batch.state["V"].shape == (2, 5)
    for row in range(2):
        alone = sim.run(40, 5, inputs={"I": current[:, row]})
        np.testing.assert_array_equal(batch.traces["V"][:, row], alone.traces["V"])


def test_inhibition_lets_one_neuron_per_row_spike_and_resets_all_above_threshold():
    sim = lifgen.compile("leaky", inhibition=True)
    result = sim.run(2, 3, inputs={"I": np.array([1.5, 2.0, 0.2])}, params={"beta": 0.0})
    assert result.spikes[0].tolist() == [False, True, False]
    # Neuron 0 was above threshold too: it is reset at the next step although it did not spike.
    np.testing.assert_allclose(result.traces["V"][1], [0.5, 1.0, 0.2])


def test_state_quantisation_picks_the_lowest_level_on_a_tie():
    sim = lifgen.compile("leaky", state_quant=[0.0, 0.5, 1.0], reset="none")
    result = sim.run(1, 2, inputs={"I": np.array([0.25, 0.8])}, params={"beta": 0.0})
    np.testing.assert_array_equal(result.traces["V"][0], [0.0, 1.0])


def test_inhibition_needs_next_step_timing():
    with pytest.raises(InputError, match="inhibition"):
        lifgen.compile("leaky", inhibition=True, reset_timing="same_step")
