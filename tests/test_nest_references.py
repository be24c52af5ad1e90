"""NEST's own test traces, reproduced: `testsuite/unittests/test_iaf.sli` (iaf_psc_alpha driven
by a 1000 pA DC current; 45 membrane potentials hard-coded in that file, to six significant
digits), which needs NEST's refractory counting (`[refractory] counting = "nest"`), and
`test_iaf_1to2.sli` (a 100 pA alpha PSP through a 1 ms delay, at h = 0.1, 0.2, 0.5 and 1 ms;
V to 5e-5 mV)."""

import numpy as np
import pytest

import lifgen
from lifgen.errors import ModelError
from lifgen.frontend.modelfile import model_from_document

# (time in steps of h = 0.1 ms, V in mV) from NEST's test_iaf.sli
TEST_IAF = [(1, -70), (2, -70), (3, -69.602), (4, -69.2079), (5, -68.8178), (6, -68.4316),
            (7, -68.0492), (8, -67.6706), (9, -67.2958), (10, -66.9247), (45, -56.0204),
            (46, -55.7615), (47, -55.5051), (48, -55.2513), (49, -55.0001),
            *((step, -70) for step in range(50, 71)), (71, -69.602), (72, -69.2079),
            (73, -68.8178), (74, -68.4316), (75, -68.0492), (76, -67.6706), (77, -67.2958),
            (78, -66.9247), (79, -66.5572)]


def iaf_psc_alpha(counting):
    """NEST's iaf_psc_alpha with its defaults, driven by a current I (its synaptic currents
    play no part in test_iaf.sli)."""
    return model_from_document({
        "model": {"name": "iaf_psc_alpha"},
        "parameters": {"C_m": {"value": 250.0, "unit": "pF"}, "tau_m": {"value": 10.0, "unit": "ms"},
                       "E_L": {"value": -70.0, "unit": "mV"}, "V_th": {"value": -55.0, "unit": "mV"},
                       "V_reset": {"value": -70.0, "unit": "mV"},
                       "t_ref": {"value": 2.0, "unit": "ms"}},
        "states": {"V": {"initial": "E_L", "unit": "mV"}}, "inputs": {"I": {"unit": "pA"}},
        "equations": {"laws": ["C_m*dV/dt = -(V - E_L)*C_m/tau_m + I"]},
        "spike": {"condition": "V > V_th"},
        "reset": {"mechanism": "zero", "zero": {"V": "V_reset"}, "timing": "same_step"},
        "refractory": {"period": "t_ref", "frozen": ["V"], "counting": counting},
        "simulation": {"dt": "0.1 ms", "method": "exact"}}, f"iaf_psc_alpha_{counting}.toml")


def _test_iaf(counting):
    """The voltmeter's V at step k (time k*h) is row k - 1 of the trace; the DC current,
    switched on at step 1 with delay h, acts from step 2 on."""
    current = np.zeros(80)
    current[2:] = 1000.0
    result = lifgen.compile(iaf_psc_alpha(counting)).run(80, inputs={"I": current})
    return result.traces["V"][:, 0], result


def test_nest_s_test_iaf_trace_with_nest_counting():
    v, result = _test_iaf("nest")
    for step, expected in TEST_IAF:
        assert float(f"{v[step - 1]:.6g}") == expected, (step, v[step - 1], expected)
    assert list(result.spike_steps(0)) == [49]  # reported at 5.0 ms


def test_brian2_counting_holds_one_step_less():
    """The default: V is clamped for the 19 steps after the spike's, and released at step 70."""
    v, _ = _test_iaf("brian2")
    assert np.all(v[49:69] == -70.0) and v[69] == pytest.approx(-69.602, abs=5e-4)


def test_an_unknown_counting_is_refused():
    with pytest.raises(ModelError, match="counting must be one of 'brian2', 'nest'"):
        iaf_psc_alpha("neuron")


# (time in ms, V of the postsynaptic neuron in mV) from NEST's test_iaf_1to2.sli: the same at
# every resolution h that has a grid point there
TEST_IAF_1TO2 = [(2.5, -70), (2.6, -70), (2.7, -70), (2.8, -70), (2.9, -70), (3.0, -70),
                 (3.1, -70), (3.2, -70), (3.3, -70), (3.4, -70), (3.5, -70), (3.6, -70),
                 (3.7, -70), (3.8, -70), (3.9, -70), (4.0, -70), (4.1, -69.9974),
                 (4.2, -69.9899), (4.3, -69.9781), (4.4, -69.9624), (4.5, -69.9434),
                 (4.6, -69.9213), (4.7, -69.8967), (4.8, -69.8699), (4.9, -69.8411),
                 (5.0, -69.8108), (5.1, -69.779), (5.2, -69.7463), (5.3, -69.7126),
                 (5.4, -69.6783), (5.5, -69.6435), (5.6, -69.6084), (5.7, -69.5732)]
ALPHA = {
    "parameters": {"tau_syn": {"value": 2.0, "unit": "ms"}},
    "states": {"V": {"initial": "E_L", "unit": "mV"}, "I_syn": {"initial": 0.0, "unit": "pA"},
               "x": {"initial": 0.0, "unit": "pA/ms", "description": "alpha auxiliary"}},
    "synapses": {"exc": {"target": "x"}},
    "equations": {"laws": ["C_m*dV/dt = -(V - E_L)*C_m/tau_m + I_syn + I",
                           "dI_syn/dt = x - I_syn/tau_syn", "dx/dt = -x/tau_syn"]},
}


def iaf_psc_alpha_with_synapses(dt):
    """iaf_psc_alpha with its alpha-shaped excitatory current: x jumps at a spike, I_syn
    follows it, and V integrates I_syn (NEST's exact integration, here the exact method)."""
    base = {
        "model": {"name": "iaf_psc_alpha"},
        "parameters": {"C_m": {"value": 250.0, "unit": "pF"}, "tau_m": {"value": 10.0, "unit": "ms"},
                       "E_L": {"value": -70.0, "unit": "mV"}, "V_th": {"value": -55.0, "unit": "mV"},
                       "V_reset": {"value": -70.0, "unit": "mV"},
                       "t_ref": {"value": 2.0, "unit": "ms"}, **ALPHA["parameters"]},
        "states": ALPHA["states"], "inputs": {"I": {"unit": "pA"}}, "synapses": ALPHA["synapses"],
        "equations": ALPHA["equations"],
        "spike": {"condition": "V > V_th"},
        "reset": {"mechanism": "zero", "zero": {"V": "V_reset"}, "timing": "same_step"},
        "refractory": {"period": "t_ref", "frozen": ["V"], "counting": "nest"},
        "simulation": {"dt": f"{dt} ms", "method": "exact"}}
    return model_from_document(base, "iaf_psc_alpha.toml")


@pytest.mark.parametrize("h", [0.1, 0.2, 0.5, 1.0])
def test_nest_s_test_iaf_1to2_alpha_psp(h):
    """Neuron 0 (I_e = 1450 pA) spikes at 3.0 ms; its 100 pA alpha PSC reaches neuron 1 after
    1.0 ms. lifgen's delay d arrives (d - 1) steps after the spike's step ends (delay 1 is
    NEST's and Brian2's 0), and an alpha PSC of peak w starts with x = w e / tau_syn."""
    steps = round(1.0 / h) + 1
    weight = 100.0 * np.e / 2.0
    synapses = lifgen.Sparse.from_arrays([0], [1], [weight], delay=steps, n_pre=2, n_post=2)
    n_steps = round(8.0 / h)
    result = lifgen.compile(iaf_psc_alpha_with_synapses(h)).run(
        n_steps, 2, inputs={"I": np.array([1450.0, 0.0])}, connections={"exc": synapses},
        spikes="raster")
    assert (result.spike_steps(0)[0] + 1) * h == pytest.approx(3.0)
    v = result.traces["V"][:, 1]
    times = {round((row + 1) * h, 6): value for row, value in enumerate(v)}
    checked = [(t, expected) for t, expected in TEST_IAF_1TO2 if round(t, 6) in times]
    assert len(checked) >= 2
    for t, expected in checked:
        assert times[round(t, 6)] == pytest.approx(expected, abs=5e-5), (h, t)
