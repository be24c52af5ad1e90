"""Model files: the library loads, and every malformed file gets one error naming file, field and problem."""

import dataclasses

import pytest
import sympy

import lifgen
from lifgen.errors import ModelError
from lifgen.ir.model import symbol
from lifgen.ir.written import Name, Op, to_sympy, to_text

from conftest import LAPICQUE_LIKE, example_model_text

V, I, R, C = (symbol(n) for n in "VIRC")


def test_library_lists_and_loads_models():
    assert {"lapicque", "leaky"} <= set(lifgen.list_models())
    for name in lifgen.list_models():
        assert lifgen.load_model(name).name == name


def test_lapicque_is_derived_from_its_circuit_laws():
    model = lifgen.load_model("lapicque")
    assert len(model.laws) == 3
    (state, rhs), = model.odes
    assert state == V
    assert sympy.simplify(rhs - (I - V / R) / C) == 0
    assert model.defaults == {"R": 5.1, "C": 5e-3, "threshold": 1.0}
    assert (model.method, model.dt) == ("euler", 1e-3)
    assert (model.reset_mechanism, model.reset_timing) == ("subtract", "next_step")
    assert model.spike == sympy.Gt(V, symbol("threshold"))


def test_leaky_is_a_discrete_map():
    model = lifgen.load_model("leaky")
    assert model.is_discrete
    (state, tree), = model.update
    assert state == V and to_text(tree) == "clip(beta, 0, 1)*V + I"
    beta = symbol("beta")
    assert to_sympy(tree) == sympy.Min(sympy.Max(beta, 0), 1) * V + I


def test_update_maps_keep_their_written_grouping():
    model = lifgen.load_model("lapicque")
    (state, tree), = dict(model.written_steps)["euler"]
    assert tree.left.left.left == Op("*", Name(I), Name(R))  # ((I*R)*(1/(R*C)))*dt + ...


def test_load_by_path(model_file):
    assert lifgen.load_model(str(model_file(LAPICQUE_LIKE, "rc.toml"))).name == "rc"


def test_ode_written_directly(model_file):
    text = LAPICQUE_LIKE.replace('laws = ["I = I_R + I_C", "I_R = V/R", "I_C = C*dV/dt"]',
                                 'laws = ["dV/dt = (I - V/R)/C"]')
    model = lifgen.load_model(model_file(text))
    assert sympy.simplify(model.odes[0][1] - (I - V / R) / C) == 0


def test_from_sympy_equals_the_model_file():
    """The same circuit from SymPy gives the file's model (less what only a file can say: the
    Euler step written in snnTorch's rounding order and the beta parameterization)."""
    t = sympy.Symbol("t")
    Vt = sympy.Function("V")(t)
    I_, I_R, I_C, R_, C_, theta = sympy.symbols("I I_R I_C R C threshold")
    model = lifgen.Model.from_sympy(
        "lapicque",
        laws=[sympy.Eq(I_, I_R + I_C), sympy.Eq(I_R, Vt / R_), sympy.Eq(I_C, C_ * Vt.diff(t))],
        states={Vt: 0.0}, parameters={R_: 5.1, C_: 5e-3, theta: 1.0}, inputs=[I_],
        spike=Vt > theta, reset="subtract", method="euler", dt=1e-3)
    from_file = lifgen.load_model("lapicque")
    assert from_file.written_steps and from_file.parameter_sets
    assert model == dataclasses.replace(from_file, written_steps=(), parameter_sets=(), time_unit="")


def test_from_sympy_accepts_odes_directly():
    t = sympy.Symbol("t")
    Vt = sympy.Function("V")(t)
    I_, R_, C_, theta = sympy.symbols("I R C threshold", positive=True)
    model = lifgen.Model.from_sympy(
        "rc", laws=[sympy.Eq(Vt.diff(t), (I_ - Vt / R_) / C_)], states=[Vt],
        parameters={R_: 5.0, C_: 1e-3, theta: 1.0}, inputs=[I_], spike=Vt > theta, dt=1e-3)
    assert sympy.simplify(model.odes[0][1] - (I - V / R) / C) == 0
    assert lifgen.compile(model, method="exact").run(3, inputs={"I": 0.1}).traces["V"].shape == (3, 1)


BROKEN = [
    ("not = [toml", "", "not valid TOML"),
    ("[modle]\nname='x'", "top level", "unknown key(s) 'modle'"),
    (LAPICQUE_LIKE.replace("R = 5.0", "int = 5.0"), "[parameters] int", "keyword"),
    (LAPICQUE_LIKE.replace("R = 5.0", "R = true"), "[parameters] R", "finite number"),
    (LAPICQUE_LIKE.replace("R = 5.0", "R = nan"), "[parameters] R", "finite number"),
    (LAPICQUE_LIKE.replace("R = 5.0", 'R = "five ohm"'), "[parameters] R", "finite number"),
    (LAPICQUE_LIKE.replace('"V > threshold"', '"V > Vth"'), "[spike] condition", "'Vth' is not declared"),
    (LAPICQUE_LIKE.replace('"V > threshold"', '"V.x > 1"'), "[spike] condition", "attribute access"),
    (LAPICQUE_LIKE.replace('"I_R = V/R"', '"I_R = os.system(V)"'), "[equations] laws",
     "attribute access"),
    (LAPICQUE_LIKE.replace('"I_R = V/R", ', ""), "[equations] laws",
     "'I_R' is not declared. Declare each"),
    (LAPICQUE_LIKE.replace('"I_C = C*dV/dt"', '"I_C = C*dV"'), "[equations] laws", "dt may appear only"),
    (LAPICQUE_LIKE.replace('"I = I_R + I_C"', '"I == I_R + I_C"'), "[equations] laws", "left = right"),
    (LAPICQUE_LIKE.replace('method = "exact"', 'method = "magic"'), "[simulation] method",
     "unknown method"),
    (LAPICQUE_LIKE.replace("dt = 1e-3", "dt = -1.0"), "[simulation] dt", "positive"),
    (LAPICQUE_LIKE.replace('mechanism = "subtract"', 'mechanism = "explode"'), "[reset] mechanism",
     "not defined"),
    (LAPICQUE_LIKE.replace('mechanism = "subtract"', 'mechanism = "subtract"\ntiming = "later"'),
     "[reset] timing", "unknown reset timing"),
    (LAPICQUE_LIKE.replace('mechanism = "subtract"', 'mechanism = "subtract"\nzero = { W = "0" }'),
     "[reset.zero]", "not a declared state"),
    (LAPICQUE_LIKE.replace("[spike]\ncondition", "[spike]\ncond"), "[spike]", "unknown key"),
    (LAPICQUE_LIKE.replace("V = 0.0", "V = 0.0\nv = 1.0"), "[states] v", "declared twice"),
    (LAPICQUE_LIKE.replace("V = 0.0", 'V = { initial = "2*W" }'), "[states] V", "'W' is read as a unit (watt), but the model declares no units"),
    (LAPICQUE_LIKE.replace('condition = "V > threshold"', 'condition = "V > threshold"\non = "up"'),
     "[spike] on", "'level' or 'crossing'"),
    (LAPICQUE_LIKE + '[expressions]\nR = "2"\n', "[expressions] R", "already a declared"),
    (LAPICQUE_LIKE + '[presets.fast]\ntau = 2.0\n', "[presets.fast]", "not a declared parameter"),
]


@pytest.mark.parametrize("text, field, problem", BROKEN)
def test_malformed_files_get_one_clear_error(model_file, text, field, problem):
    path = model_file(text)
    with pytest.raises(ModelError) as error:
        lifgen.load_model(path)
    message = str(error.value)
    assert message.startswith(str(path)), message
    assert field in message and problem in message, message


def test_unknown_model_name_lists_known_ones():
    with pytest.raises(ModelError, match="known models: .*lapicque"):
        lifgen.load_model("lapicq")


def test_non_utf8_and_oversized_files(model_file, tmp_path):
    binary = tmp_path / "b.toml"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ModelError, match="not UTF-8"):
        lifgen.load_model(binary)
    with pytest.raises(ModelError, match="limit"):
        lifgen.load_model(model_file("# " + "x" * (1 << 20)))


LAWS = '["I = I_R + I_C", "I_R = V/R", "I_C = C*dV/dt"]'


I, V, R, C = (symbol(n) for n in ("I", "V", "R", "C"))


@pytest.mark.parametrize("laws, rate", [
    ('["I = I_R + I_C", "I_R = V/R", "C*dV/dt = I_C**3"]', (I - V / R)**3 / C),
    ('["I = I_R + I_C", "exp(I_R) = V/R", "C*dV/dt = I_C"]', (I - sympy.log(V / R)) / C),
])
def test_circuit_laws_nonlinear_in_the_unknowns_are_solved(model_file, laws, rate):
    """Laws nonlinear in an intermediate go to SymPy's general solver (it was called with a
    keyword the time budget did not pass on: a TypeError for every such model)."""
    model = lifgen.load_model(model_file(LAPICQUE_LIKE.replace(LAWS, laws)
                                         .replace('method = "exact"', 'method = "rk4"')))
    assert sympy.simplify(model.odes[0][1] - rate) == 0


def test_circuit_laws_with_several_solutions_are_a_clear_error(model_file):
    laws = '["I = I_R + I_C", "I_R**3 = V/R", "C*dV/dt = I_C"]'
    with pytest.raises(ModelError, match=r"\[equations\] laws: the laws do not determine dV/dt "
                                         "uniquely"):
        lifgen.load_model(model_file(LAPICQUE_LIKE.replace(LAWS, laws)))


def test_a_written_step_that_differs_from_the_laws_is_refused_when_used(model_file):
    """The check needs the numerics (the method's derived step), so it runs when a simulator
    uses the written step, not while the file is read."""
    from lifgen.frontend.library import model_file as library_file

    text = library_file("lapicque").read_text()
    wrong = text.replace('V = "I*R*(1/(R*C))*dt + (1 - dt/(R*C))*V"',
                         'V = "I*R*(1/(R*C))*dt + (1 - dt/(R*C))*V*1.001"')
    path = model_file(wrong, "lapicque_wrong.toml")
    model = lifgen.load_model(path)
    with pytest.raises(ModelError, match=r"\[equations\.euler\] V: differs from the euler step"):
        lifgen.compile(model, method="euler")
    assert lifgen.compile(model, method="exact").method == "exact"


def test_the_front_end_runs_in_passes(model_file):
    """Schema, parse, check, derive: a law of the wrong dimension parses, and the check pass's
    check_laws, called alone, names it; the parse pass needs no numerics and derives nothing."""
    from lifgen.frontend.modelfile import check_laws, dimension_check, parse_document
    from lifgen.frontend.schema import read_toml

    text = example_model_text().replace("E_L - V + R*I", "E_L - V + R*I*tau")  # mV = mV*ms
    assert text != example_model_text()
    path = model_file(text, "rc.toml")
    parsed = parse_document(read_toml(path), str(path))
    assert parsed.laws and parsed.spike_text == "V > V_th" and parsed.name == "my_lif"
    with pytest.raises(ModelError, match=r"\[equations\] laws #1"):
        check_laws(parsed, dimension_check(parsed))
    fixed = parse_document(read_toml(model_file(example_model_text(), "rc.toml")),
                           str(path))
    assert len(check_laws(fixed, dimension_check(fixed))) == 1


def test_the_check_pass_returns_a_checked_model_that_the_derive_pass_takes(model_file):
    """check_model is the whole check pass, and its CheckedModel all the derive pass needs: the
    laws it checked are those the Model keeps, and nothing is derived before derive_model."""
    from lifgen.frontend.modelfile import check_model, derive_model, parse_document
    from lifgen.frontend.schema import read_toml

    path = model_file(example_model_text(), "rc.toml")
    checked = check_model(parse_document(read_toml(path), str(path)))
    assert len(checked.laws) == 1 and checked.reset_timing == "same_step"
    model = derive_model(checked)
    assert model.laws == checked.laws and len(model.odes) == 1
    assert model == lifgen.load_model(path)
    wrong = example_model_text().replace('condition = "V > V_th"', 'condition = "V > R"')
    with pytest.raises(ModelError, match=r"\[spike\] condition"):
        check_model(parse_document(read_toml(model_file(wrong, "rc.toml")), str(path)))


def test_a_model_built_directly_needs_every_default_and_initial_value():
    """Both front ends give every parameter a default and every state an initial value; a Model
    built directly without one is refused when it is built, not run with NaN (or reported by
    verify as a parameter out of range)."""
    from lifgen.ir.model import Quantity

    model = lifgen.load_model("lapicque")
    no_default = tuple(Quantity(q.name) if q.name == "R" else q for q in model.parameters)
    with pytest.raises(ModelError, match=r"\[parameters\] R: parameter 'R' has no default value"):
        dataclasses.replace(model, parameters=no_default)
    with pytest.raises(ModelError, match=r"\[states\] V: state 'V' has no initial value"):
        dataclasses.replace(model, states=(Quantity("V"),))
    assert model.defaults == {"R": 5.1, "C": 0.005, "threshold": 1.0}
