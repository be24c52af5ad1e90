"""White noise xi in the laws, integrated by Euler-Maruyama with counter-based normals."""

import numpy as np
import pytest

import lifgen
from lifgen.errors import InputError
from lifgen.frontend.modelfile import model_from_document

OU = {
    "model": {"name": "ou"},
    "parameters": {"tau": 10.0, "sigma": 0.5, "never": 1e30},
    "states": {"V": 0.0},
    "equations": {"laws": ["dV/dt = -V/tau + sigma*xi"]},
    "spike": {"condition": "V > never"},
    "reset": {"mechanism": "none"},
    "simulation": {"dt": 0.1},
}


@pytest.fixture(scope="module")
def ou():
    return model_from_document(OU, "ou.toml")


def test_ornstein_uhlenbeck_stationary_variance(ou):
    simulator = lifgen.compile(ou)
    assert simulator.method == "euler" and "Euler-Maruyama" in simulator.step_map.note
    state = simulator.run(3000, 20_000, record=[], spikes="count", seed=11).state["V"]
    sigma, tau, dt = 0.5, 10.0, 0.1
    closed_form = sigma ** 2 * tau / 2
    euler_maruyama = sigma ** 2 * dt / (1 - (1 - dt / tau) ** 2)  # its own stationary variance
    assert abs(euler_maruyama / closed_form - 1) < 0.01
    assert state.var() == pytest.approx(closed_form, rel=0.05)
    assert abs(state.mean()) < 4 * np.sqrt(closed_form / state.size)


def test_noise_scales_with_sqrt_dt(ou):
    # One step from V = 0: V = sigma*sqrt(dt)*z, so its spread is sigma*sqrt(dt) for any dt.
    for dt in (0.1, 0.001):
        first = lifgen.compile(ou, dt=dt).run(1, 20_000, record=["V"], seed=2).traces["V"][0]
        assert first.std() == pytest.approx(0.5 * np.sqrt(dt), rel=0.03)


def test_noise_is_reproducible_and_independent_of_loop_order(ou):
    runs = [lifgen.compile(ou, tile=tile, threads=threads).run(
        200, 150, record=["V"], seed=5, progress=progress)
        for tile, threads, progress in ((None, 1, False), (7, 2, False), (None, 1, True))]
    for other in runs[1:]:
        np.testing.assert_array_equal(other.traces["V"], runs[0].traces["V"])
    different = lifgen.compile(ou).run(200, 150, record=["V"], seed=6)
    assert not np.array_equal(different.traces["V"], runs[0].traces["V"])
    neurons = runs[0].traces["V"][-1]
    assert len(np.unique(neurons)) == neurons.size  # independent per neuron


def test_other_methods_integrate_an_ornstein_uhlenbeck_state_exactly(ou):
    # V alone, noisy: auto keeps Euler-Maruyama (above); asked for, exact steps it exactly
    simulator = lifgen.compile(ou, method="exact", dt=5.0)
    first = simulator.run(1, 20_000, record=["V"], seed=2).traces["V"][0]
    assert first.std() == pytest.approx(0.5 * np.sqrt(10.0 / 2 * (1 - np.exp(-1.0))), rel=0.03)
    with pytest.raises(InputError, match="white noise"):
        lifgen.verify(ou)


def test_a_block_of_a_population_draws_what_it_draws_in_the_whole(ou):
    simulator = lifgen.compile(ou)
    whole = simulator.run(300, 40, record=["V"], seed=4).traces["V"]
    for first, count in ((0, 15), (15, 25), (37, 3)):
        block = simulator.run(300, count, record=["V"], seed=4, first_neuron=first).traces["V"]
        np.testing.assert_array_equal(block, whole[:, first:first + count])
    with pytest.raises(InputError, match="first_neuron"):
        simulator.run(3, 2, first_neuron=-1)


def test_the_normals_are_box_muller_of_the_counter_based_uniforms(ou):
    """xi's normals: sqrt(-2 log u1) cos(2 pi u2) of the generator's uniforms (python_target's
    copy), with lifgen's own log and cos (the same bits on every target) within a few ulps of
    Python's math (V = sigma sqrt(dt) z after one step from 0 adds two roundings)."""
    import math

    from python_target import _uniform

    n, seed = 2000, 7
    first = lifgen.compile(ou).run(1, n, record=["V"], seed=seed).traces["V"][0]
    stream = seed ^ 0x6A09E667F3BCC909
    expected = np.array([math.sqrt(-2.0 * math.log(1.0 - _uniform(stream, 0, 0, 2 * i)))
                         * math.cos(2 * math.pi * _uniform(stream, 0, 0, 2 * i + 1))
                         for i in range(n)])
    z = first / (0.5 * math.sqrt(0.1))
    np.testing.assert_allclose(z, expected, rtol=2.5e-15, atol=1e-15)
