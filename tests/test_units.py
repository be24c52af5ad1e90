"""Units of model quantities: declared in model files, read safely, and accepted as quantities
("20 ms" or SymPy quantities) by compile and run, where a plain number keeps its old meaning."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import sympy.physics.units as u

import lifgen
from lifgen.cli import main
from lifgen.errors import InputError, ModelError
from lifgen.frontend.units import UnitError, parse_quantity, parse_unit


@pytest.mark.parametrize("text, scale", [("mV", 1e-3), ("ms", 1e-3), ("nA", 1e-9), ("pF", 1e-12),
                                         ("Mohm", 1e6), ("uA/cm**2", 1e-2), ("mS/cm**2", 10.0),
                                         ("1/ms", 1e3), ("volt", 1.0), ("", 1.0)])
def test_units_are_read_with_their_si_scale(text, scale):
    assert parse_unit(text).si[0] == pytest.approx(scale, rel=1e-12)


@pytest.mark.parametrize("text", ["parsec", "exp(mV)", "mV**100", "__import__('os')", "m V",
                                  "mV.real", "2*mV", "x" * 200])
def test_unit_text_outside_the_whitelist_is_refused(text):
    with pytest.raises(UnitError):
        parse_unit(text)


def test_every_library_unit_is_readable():
    for name in lifgen.list_models():
        model = lifgen.load_model(name)
        for quantity in (*model.parameters, *model.states, *model.inputs):
            parse_unit(quantity.unit)  # raises if a library file declares an unknown unit


def test_quantities_in_run_and_compile_equal_plain_numbers_in_the_declared_units():
    plain = lifgen.compile("lif_cuba", dt=0.05).run(
        3000, 2, params={"tau_m": 20.0, "E_L": -49.0}, initial={"V": -60.0})
    with_units = lifgen.compile("lif_cuba", dt="50 us").run(
        3000, 2, params={"tau_m": "0.02 s", "E_L": -0.049 * u.volt}, initial={"V": "-60 mV"})
    np.testing.assert_allclose(with_units.state["V"], plain.state["V"], rtol=1e-12)
    np.testing.assert_array_equal(with_units.spike_count, plain.spike_count)
    assert plain.spike_count.sum() > 0 and with_units.time_unit == "ms"


@pytest.mark.parametrize("arguments, message", [
    (dict(params={"tau_m": "20 mV"}), r"params\['tau_m'\] is mV \(volt\) but should be ms \(second\)"),
    (dict(initial={"V": "3 nA"}), r"initial\['V'\] is nA \(ampere\) but should be mV \(volt\)"),
    (dict(params={"tau_m": "20 fortnights"}), "unknown unit 'fortnights'"),
])
def test_a_wrong_dimension_is_an_input_error_before_any_c_runs(arguments, message):
    with pytest.raises(InputError, match=message):
        lifgen.compile("lif_cuba").run(10, 1, **arguments)


def test_dt_with_a_unit_needs_a_time_and_a_model_that_declares_its_time_unit():
    with pytest.raises(InputError, match="dt is mV .volt. but should be ms .second."):
        lifgen.compile("lif_cuba", dt="1 mV")
    with pytest.raises(InputError, match="leaky declares no time unit"):
        lifgen.compile("leaky", dt="1 ms")
    assert lifgen.compile("lapicque", dt="0.1 ms").dt == pytest.approx(1e-4)


MODEL = """
[model]
name = "units"
[parameters]
R = {{ value = {R}, unit = "Mohm" }}
tau = "20 ms"
[states]
V = {{ initial = "-65 mV" }}
[inputs]
I = "nA"
[equations]
laws = ["tau*dV/dt = -V + R*I"]
[spike]
condition = "V > 30*mV"
[reset]
mechanism = "zero"
timing = "same_step"
zero = {{ V = "-70*mV" }}
[simulation]
dt = {dt}
"""


def test_model_files_give_values_with_units(tmp_path):
    path = tmp_path / "units.toml"
    path.write_text(MODEL.format(R='"5100 kohm"', dt='"0.1 ms"'))
    model = lifgen.load_model(path)
    values = {q.name: (q.value, q.unit) for q in (*model.parameters, *model.states)}
    assert values["R"] == (pytest.approx(5.1), "Mohm") and values["tau"] == (20.0, "ms")
    assert values["V"] == (-65.0, "mV") and model.inputs[0].unit == "nA"
    assert model.dt == pytest.approx(0.1) and model.time_unit == "ms"


@pytest.mark.parametrize("R, dt, field, problem", [
    ('"5 mV"', '"0.1 ms"', "[parameters] R", "mV (volt) cannot be converted to Mohm (ohm)"),
    ("5.1", '"0.1 mV"', "[simulation] dt", "time"),
    ('"5 bananas"', '"0.1 ms"', "[parameters] R", "unknown unit 'bananas'"),
])
def test_model_file_unit_errors_name_the_file_and_field(tmp_path, R, dt, field, problem):
    path = tmp_path / "units.toml"
    path.write_text(MODEL.format(R=R, dt=dt))
    with pytest.raises(ModelError) as error:
        lifgen.load_model(path)
    assert str(path) in str(error.value) and field in str(error.value)
    assert problem in str(error.value)


def test_show_prints_units(capsys):
    assert main(["show", "lif_cuba"]) == 0
    out = capsys.readouterr().out
    assert "parameter tau_m = 20 ms" in out and "state     V = -60 mV" in out
    assert "input     I in mV" in out and "dt = 0.1 ms" in out


def test_parse_quantity():
    assert parse_quantity("20 ms")[0] == 20.0 and parse_quantity("20 ms")[1].text == "ms"
    assert parse_quantity("-1.5e-3 V")[0] == -1.5e-3
    assert parse_quantity("7")[1].dimensionless


DIMENSIONS = Path(__file__).parent / "dimensions"
EXPECTED = json.loads((DIMENSIONS / "expected.json").read_text())


def test_the_dimension_corpus_is_large_enough():
    assert len(EXPECTED) >= 15


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_dimensionally_wrong_files_are_refused_with_both_dimensions(name):
    path = DIMENSIONS / name
    with pytest.raises(ModelError) as error:
        lifgen.load_model(path)
    message = str(error.value)
    assert message.startswith(str(path)) and EXPECTED[name]["field"] in message, message
    assert EXPECTED[name]["message"] in message, message


def test_the_corpus_base_model_is_right(tmp_path):
    """Each corpus file is this model with one mistake; the model itself passes."""
    spec = importlib.util.spec_from_file_location("make_corpus", DIMENSIONS / "make_corpus.py")
    corpus = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(corpus)
    path = tmp_path / "base.toml"
    path.write_text(corpus.text({}))
    assert lifgen.load_model(path).time_unit == "ms"


IZHIKEVICH_WITHOUT_UNITS = """
[model]
name = "izhikevich_plain"
[parameters]
a = 0.02
b = 0.2
c = -65.0
d = 8.0
[states]
V = { initial = -65.0 }
u = { initial = "b*V" }
[inputs]
I = {}
[equations]
laws = ["dV/dt = 0.04*V**2 + 5*V + 140 - u + I", "du/dt = a*(b*V - u)"]
[spike]
condition = "V >= 30"
[reset]
mechanism = "zero"
timing = "same_step"
zero = { V = "c", u = "u + d" }
[simulation]
method = "auto"
dt = 0.1
"""


def test_results_with_units_equal_results_without(tmp_path):
    """The library's Izhikevich writes its units (0.04/(mV*ms)*V**2, V >= 30*mV); the same
    model without units gives the same numbers."""
    plain = tmp_path / "izhikevich_plain.toml"
    plain.write_text(IZHIKEVICH_WITHOUT_UNITS)
    current = lifgen.Step(10.0, 100)
    with_units = lifgen.compile("izhikevich").run(3000, inputs={"I": current})
    without = lifgen.compile(str(plain)).run(3000, inputs={"I": current})
    np.testing.assert_allclose(with_units.state["V"], without.state["V"], rtol=1e-12)
    np.testing.assert_array_equal(with_units.spike_steps(0), without.spike_steps(0))
    assert with_units.spike_count.sum() > 5


def test_hodgkin_huxley_rates_carry_units_and_give_the_same_spikes():
    model = lifgen.load_model("hodgkin_huxley")
    assert model.time_unit == "ms" and model.states[0].unit == "mV"
    result = lifgen.compile("hodgkin_huxley").run(10000, inputs={"I": lifgen.Step(10.0, 1000)})
    assert 5 <= result.spike_count.sum() <= 10  # repetitive firing at 10 uA/cm**2
