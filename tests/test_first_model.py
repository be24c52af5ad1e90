"""Issue 14, the first model a user writes: the small things (version, pipes, errors that name
what was recorded, functions channel models need, quantities for dt everywhere)."""

import re
import subprocess
import sys

import numpy as np
import pytest
import sympy

import lifgen
from lifgen.cli import main
from lifgen.errors import InputError, ModelError


def test_lifgen_version(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0 and capsys.readouterr().out.strip() == f"lifgen {lifgen.__version__}"


def test_a_closed_pipe_ends_quietly():
    code = "import sys, lifgen.cli as c; sys.exit(c.main(['show', 'hodgkin_huxley']))"
    shell = f"{sys.executable} -c \"{code}\" | head -1"
    answer = subprocess.run(shell, shell=True, capture_output=True, text=True, timeout=300)
    assert answer.stdout.startswith("hodgkin_huxley:") and answer.stderr == ""


def test_results_name_the_recorded_neurons_instead_of_an_index_error():
    result = lifgen.compile("leaky").run(20, 100, inputs={"I": 0.5}, record={"V": [10, 50, 99]})
    with pytest.raises(InputError, match=r"neuron 3 was not traced: .* \[10, 50, 99\]"):
        result.trace("V", 3)
    with pytest.raises(InputError, match="neuron 3 was not traced"):
        result.plot(neuron=3)
    with pytest.raises(InputError, match="no trace of 'U'"):
        result.trace("U")
    with pytest.raises(InputError, match=r"index in 0\.\.99, got 150"):
        result.spike_steps(150)
    np.testing.assert_array_equal(result.trace("V", 50), result.traces["V"][:, 1])


def test_a_function_outside_the_registry_is_a_model_error():
    t = sympy.Symbol("t")
    V = sympy.Function("V")(t)
    model = lifgen.Model.from_sympy("odd", laws=[sympy.Eq(V.diff(t), -sympy.erf(V))],
                                    states={"V": 0.1}, spike=V > 1)
    with pytest.raises(ModelError, match="erf is not one of the functions a model may use"):
        lifgen.compile(model, method="euler", dt=0.1)


def test_cosh_and_sinh_as_morris_lecar_writes_tau_w():
    from lifgen.frontend.modelfile import model_from_document

    model = model_from_document({
        "model": {"name": "ml_w"}, "parameters": {"V3": 2.0, "V4": 30.0, "phi": 0.04},
        "states": {"w": 0.0}, "inputs": {"V": {}},
        "equations": {"laws": ["dw/dt = phi*cosh((V - V3)/(2*V4))*(0.5*(1 + tanh((V - V3)/V4)) - w)"
                               " + 0*sinh(w)"]},
        "spike": {"condition": "w > 2"}, "reset": {"mechanism": "none"},
        "simulation": {"dt": 0.1}}, "ml_w.toml")
    w = lifgen.compile(model, method="rk4").run(8000, 1, inputs={"V": 10.0}).state["w"][0]
    assert w == pytest.approx(0.5 * (1 + np.tanh(8.0 / 30.0)), rel=1e-6)  # its steady state


def test_show_and_emit_take_dt_with_a_unit(tmp_path, capsys):
    assert main(["show", "lif_cuba", "--dt", "50 us", "--no-c"]) == 0
    assert "dt = 0.05 ms" in capsys.readouterr().out
    assert main(["emit", "lif_cuba", "--out", str(tmp_path), "--dt", "50 us"]) == 0
    assert "dt = 0.05" in (tmp_path / "lif_cuba.h").read_text()


def test_simulate_notes_what_it_did_without_being_asked(capsys):
    assert main(["simulate", "lif_cuba", "--steps", "50", "--dt", "1e-4", "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert "note: no --input given: I = 0 throughout" in err
    assert "note: dt = 0.0001 ms: a plain number is in the model's time unit" in err
    assert "note: no neuron spiked in 50 steps (spike if V > V_t)" in err
    assert main(["simulate", "lif_cuba", "--steps", "2000", "--input", "I=const:30",
                 "--dt", "0.1 ms", "--no-progress"]) == 0
    assert "note:" not in capsys.readouterr().err


def test_a_one_dimensional_input_over_time():
    simulator = lifgen.compile("leaky")
    ramp = np.linspace(0, 1, 40)
    one = simulator.run(40, 1, inputs={"I": ramp}, record=["V"])
    np.testing.assert_array_equal(one.traces["V"], simulator.run(
        40, 1, inputs={"I": ramp[:, None]}, record=["V"]).traces["V"])
    with pytest.raises(InputError, match=r"40 values, one per step: give it shape \(40, 1\)"):
        simulator.run(40, 3, inputs={"I": ramp})


def test_a_spiking_model_without_a_reset_asks_for_one(tmp_path):
    """A missing [reset] used to mean subtracting the threshold: 40 spikes instead of 5."""
    from lifgen.frontend.modelfile import model_from_document

    document = {"model": {"name": "peak"}, "parameters": {"v_peak": 30.0},
                "states": {"v": -65.0}, "inputs": {"I": {}},
                "equations": {"laws": ["dv/dt = 0.04*v*v + 5*v + 140 + I"]},
                "spike": {"condition": "v > v_peak", "on": "crossing"},
                "simulation": {"dt": 0.1}}
    with pytest.raises(ModelError, match=r"peak.toml, \[reset\] mechanism: a spiking model "
                                         r"needs a \[reset\] table .*does not guess"):
        model_from_document(document, "peak.toml")
    level = {**document, "spike": {"condition": "v > v_peak"}}
    with pytest.raises(ModelError, match="needs a \\[reset\\] table"):
        model_from_document(level, "peak.toml")
    named = model_from_document({**document, "reset": {"mechanism": "zero", "zero": {"v": -65.0}}},
                                "peak.toml")
    assert named.reset_mechanism == "zero"


def test_inputs_waveforms_and_durations_take_quantities():
    adex = lifgen.compile("adex")  # pA, ms, dt 0.1 ms
    by_numbers = adex.run(3000, inputs={"I": lifgen.Step(800.0, 500)})
    by_units = adex.run(duration="300 ms", inputs={"I": lifgen.Step("0.8 nA", start="50 ms")})
    np.testing.assert_array_equal(by_units.spikes, by_numbers.spikes)
    assert adex.run("300ms", inputs={"I": "0.8 nA"}).n_steps == 3000
    assert adex.run(duration=2.5).n_steps == 25  # a plain number is in the model's unit
    pulse = lifgen.Pulse("800 pA", "10 ms", "20 ms")
    assert np.count_nonzero(adex.run(300, inputs={"I": pulse}).input_trace("I")) == 100
    with pytest.raises(InputError, match=r"inputs\['I'\] is mV \(volt\) but should be pA"):
        adex.run(10, inputs={"I": "0.8 mV"})
    with pytest.raises(InputError, match="not a whole number of steps of dt = 0.1 ms"):
        adex.run(duration="10.05 ms")
    with pytest.raises(InputError, match="start = '0.05 ms' is not a whole number of steps"):
        adex.run(10, inputs={"I": lifgen.Step(1.0, "0.05 ms")})
    with pytest.raises(InputError, match="n_steps or duration=, one of them, not both"):
        adex.run(10, duration="1 ms")
    with pytest.raises(InputError, match="discrete-time map: give n_steps"):
        lifgen.compile("leaky").run(duration=5)
    with pytest.raises(InputError, match="counts time in steps"):
        lifgen.compile("leaky").run(5, inputs={"I": lifgen.Step(1.0, "2 ms")})


def test_the_cli_takes_quantities_in_inputs_and_durations(capsys):
    code = main(["simulate", "adex", "--duration", "300ms", "--input", "I=step:0.8 nA@50 ms"])
    out = capsys.readouterr().out
    assert code == 0 and "3000 steps x 1 neurons = 300 ms" in out and "  48  580," in out
    assert main(["simulate", "adex", "--steps", "10", "--input", "I=const:0.5 nA"]) == 0
    assert main(["simulate", "adex", "--steps", "10", "--input", "I=const:0.5 mV"]) == 2
    assert "should be pA" in capsys.readouterr().err
    assert main(["simulate", "adex"]) == 2
    assert "--steps N or --duration TIME" in capsys.readouterr().err


LIF_TEXT = '''
[parameters]
E_L = { value = -70.0, unit = "mV" }
tau = { value = 10.0, unit = "ms" }
R = { value = 10.0, unit = "Mohm" }
V_th = { value = -50.0, unit = "mV" }
[states]
V = { initial = -70.0, unit = "mV" }
[inputs]
I = { unit = "nA" }
[equations]
laws = ["tau*dV/dt = E_L - V + R*I"]
[spike]
condition = "V > V_th"
[reset]
mechanism = "zero"
zero = { V = "E_L" }
[simulation]
dt = "0.1 ms"
'''


def _write(tmp_path, text, name="first"):
    path = tmp_path / f"{name}.toml"
    path.write_text(text)
    return path


def test_an_undeclared_name_asks_did_you_mean(tmp_path):
    typo = _write(tmp_path, LIF_TEXT.replace("- V +", "- Vm +"))
    with pytest.raises(ModelError, match=r"first.toml, \[equations\] laws: 'Vm' is not declared "
                                         r"\(did you mean 'V'\?\)"):
        lifgen.load_model(typo)
    no_units = _write(tmp_path, re.sub(r',? *unit = "[^"]*"', "",
                                       LIF_TEXT.replace("- V +", "- Vm +")), "plain")
    with pytest.raises(ModelError, match=r"'Vm' is not declared \(did you mean 'V'\?\)"):
        lifgen.load_model(no_units)
    forgot_inputs = _write(tmp_path, LIF_TEXT.replace('[inputs]\nI = { unit = "nA" }\n', ""), "noin")
    with pytest.raises(ModelError, match=r"'I' is not declared\. .*\[inputs\] I = \{ unit"):
        lifgen.load_model(forgot_inputs)
    spike_typo = _write(tmp_path, LIF_TEXT.replace("V > V_th", "V > V_thr"), "spike")
    with pytest.raises(ModelError, match=r"\[spike\] condition.*'V_thr' is not declared "
                                         r"\(did you mean 'V_th'\?\)"):
        lifgen.load_model(spike_typo)
    circuit = _write(tmp_path, LIF_TEXT.replace(
        'laws = ["tau*dV/dt = E_L - V + R*I"]',
        'laws = ["I_R = (V - E_L)/R", "I_C = (tau/R)*dV/dt", "I = I_R + I_C"]'), "circuit")
    assert lifgen.load_model(circuit).odes  # circuit quantities are still eliminated


def test_a_unit_outside_the_system_is_answered_with_the_one_that_fits(tmp_path):
    conductance = LIF_TEXT.replace('R = { value = 10.0, unit = "Mohm" }',
                                   'R = { value = 10.0, unit = "Mohm" }\ng = { value = 1.0, unit = "nS" }')
    with pytest.raises(ModelError, match=r"\[parameters\] g: 'nS' does not fit .*\(Mohm, mV, ms\); "
                                         r"with them, a quantity in siemens is written in 'uS'.*"
                                         r"NEST's ms, mV, pA, pF, nS"):
        lifgen.load_model(_write(tmp_path, conductance))
    current = LIF_TEXT.replace('unit = "nA"', 'unit = "pA"')
    with pytest.raises(ModelError, match=r"'pA' does not fit .* written in 'nA'"):
        lifgen.load_model(_write(tmp_path, current, "current"))


def test_heaviside_switches_a_current_on_above_a_voltage(tmp_path):
    text = LIF_TEXT.replace('V_th = { value = -50.0, unit = "mV" }',
                            'V_th = { value = -50.0, unit = "mV" }\n'
                            'V_a = { value = -60.0, unit = "mV" }\ng = { value = 5.0, unit = "mV" }')
    text = text.replace('"tau*dV/dt = E_L - V + R*I"', '"tau*dV/dt = E_L - V + R*I + g*heaviside(V - V_a)"')
    simulator = lifgen.compile(_write(tmp_path, text), method="rk4")
    v = simulator.run(2000, 2, inputs={"I": np.array([0.9, 1.1])}, record="V").traces["V"][-1]
    np.testing.assert_allclose(v, [-61.0, -54.0], atol=1e-3)  # off below V_a, on above it
    assert "> 0))" in simulator.c_source
    with pytest.raises(ModelError, match="must be dimensionless"):
        lifgen.load_model(_write(tmp_path, text.replace("heaviside(V - V_a)", "exp(V - V_a)"), "e"))


def test_simulate_picks_neuron_states_preset_and_per_neuron_parameters(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    thresholds = tmp_path / "v_peak.npy"
    np.save(thresholds, np.array([-40.0, -45.0, -42.0]))
    plot, raster = tmp_path / "w.png", tmp_path / "raster.png"
    code = main(["simulate", "adex", "--duration", "100 ms", "--neurons", "3", "--input",
                 "I=const:0.5 nA", "--param", f"V_peak={thresholds}", "--preset", "adapting",
                 "--state", "w", "--neuron", "2", "--plot", str(plot), "--raster", str(raster)])
    out = capsys.readouterr().out
    assert code == 0 and plot.stat().st_size > 1000 and raster.stat().st_size > 1000
    header = next(line for line in out.splitlines() if line.lstrip().startswith("neuron"))
    assert "final V" in header and "final w" in header
    preset = lifgen.load_model("adex", preset="adapting")
    direct = lifgen.compile(preset).run("100 ms", 3, inputs={"I": "0.5 nA"},
                                        params={"V_peak": np.load(thresholds)})
    counts = [int(line.split()[1]) for line in out.splitlines()[3:6]]
    assert counts == direct.spike_count.tolist()
    assert main(["simulate", "adex", "--steps", "5", "--state", "u"]) == 2
    assert "--state u: the states of adex are V, w" in capsys.readouterr().err
    assert main(["simulate", "adex", "--steps", "5", "--neuron", "4"]) == 2
    assert main(["simulate", "adex", "--steps", "5", "--preset", "nope"]) == 2


def test_an_implicit_solution_is_not_shown_as_a_closed_form(capsys):
    """SymPy solves dV/dt = 1/(V + exp(V)) only implicitly: no `Add(t) = ...` label."""
    from lifgen.numerics.analytic import closed_form
    from lifgen.frontend.modelfile import model_from_document

    model = model_from_document({
        "model": {"name": "implicit"}, "parameters": {"theta": 5.0}, "states": {"V": 0.0},
        "equations": {"laws": ["dV/dt = 1/(V + exp(V))"]}, "spike": {"condition": "V > theta"},
        "reset": {"mechanism": "zero"}, "simulation": {"dt": 0.1, "method": "rk4"}}, "implicit.toml")
    assert closed_form(model) is None


def test_where_chooses_between_two_values_of_one_unit(tmp_path):
    text = LIF_TEXT.replace('V_th = { value = -50.0, unit = "mV" }',
                            'V_th = { value = -50.0, unit = "mV" }\n'
                            'V_a = { value = -60.0, unit = "mV" }\ng = { value = 2.0, unit = "mV" }')
    law = '"tau*dV/dt = E_L - V + R*I + where(V > V_a, g, -g)"'
    text = text.replace('"tau*dV/dt = E_L - V + R*I"', law)
    for dtype in ("float64", "float32"):
        simulator = lifgen.compile(_write(tmp_path, text), method="rk4", dtype=dtype)
        v = simulator.run(2000, 2, inputs={"I": np.array([0.9, 1.4])}, record="V").traces["V"][-1]
        np.testing.assert_allclose(v, [-63.0, -54.0], atol=1e-3)  # -g below V_a, +g above it
    assert "where(V > V_a, g, k1)" in "\n".join(simulator.step_map.equations())  # k1 = -g
    with pytest.raises(ModelError, match=r"chooses between g \(volt\) and 1"):
        lifgen.load_model(_write(tmp_path, text.replace("where(V > V_a, g, -g)",
                                                        "where(V > V_a, g, 1)"), "bad"))
    with pytest.raises(ModelError, match="a comparison is not allowed here"):
        lifgen.load_model(_write(tmp_path, text.replace("where(V > V_a, g, -g)",
                                                        "where(V > V_a, g > V, g)"), "bad2"))


def test_a_kernel_taking_dt_at_run_time_serves_every_dt():
    """verify compiles one kernel per method, not one per (method, dt)."""
    fixed = lifgen.compile("hodgkin_huxley", method="rk4", dt=0.01)
    fine = lifgen.compile("hodgkin_huxley", method="rk4", dt=0.01, runtime_dt=True)
    coarse = lifgen.compile("hodgkin_huxley", method="rk4", dt=0.02, runtime_dt=True)
    assert fine.kernel.lib is coarse.kernel.lib and fine.c_source == coarse.c_source
    assert "dt a run-time argument" in fine.c_source and "dt = 0.01" in fixed.c_source
    run = dict(inputs={"I": 10.0}, record="V")
    np.testing.assert_array_equal(fine.run(400, **run).traces["V"], fixed.run(400, **run).traces["V"])
    np.testing.assert_array_equal(coarse.run(200, **run).traces["V"],
                                  lifgen.compile("hodgkin_huxley", method="rk4", dt=0.02)
                                  .run(200, **run).traces["V"])
