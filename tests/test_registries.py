"""One registry per concept: integration methods, functions, synapse and drive kinds."""

import subprocess
import sys

import numpy as np
import pytest
import sympy

import lifgen
from lifgen.numerics import methods
from lifgen.ir.functions import FUNCTIONS
from lifgen.numerics.methods import METHODS, Tableau, stability_coefficients
from lifgen.numerics.stability import stability_warning
from lifgen.ir.written import CPrinter, Call, Name, Num, Op, evaluate, to_sympy

R = sympy.Rational
RALSTON = Tableau(a=((), (R(2, 3),)), b=(R(1, 4), R(3, 4)), order=2)


def test_stability_functions_come_from_the_tableaux():
    assert stability_coefficients(methods.TABLEAUX["euler"]) == (1.0, 1.0)
    assert stability_coefficients(methods.TABLEAUX["rk2"]) == (1.0, 1.0, 0.5)
    assert stability_coefficients(methods.TABLEAUX["rk4"]) == pytest.approx(
        (1, 1, 1 / 2, 1 / 6, 1 / 24))
    assert METHODS["exact"].stability is None


def test_a_new_runge_kutta_method_is_one_registry_entry(monkeypatch):
    """Ralston's method, added as one entry: compile, verify, the stability check and model
    validation all take it from the registry."""
    monkeypatch.setitem(METHODS, "ralston",
                        methods._tableau_method("ralston", RALSTON, "Ralston's method"))
    sim = lifgen.compile("qif", method="ralston")
    assert sim.method == "ralston"
    heun = lifgen.compile("qif", method="heun")
    a = sim.run(200, inputs={"I": 5.0}, record="V").traces["V"][:, 0]
    b = heun.run(200, inputs={"I": 5.0}, record="V").traces["V"][:, 0]
    assert not np.array_equal(a, b) and np.allclose(a, b, rtol=0.05)  # its own second order step
    report = lifgen.verify("lapicque", methods=("ralston",))
    assert abs(report.measured_order("ralston") - 2) < 0.2
    model = lifgen.load_model("lapicque")
    assert "ralston is unstable" in stability_warning(model, "ralston", 1.0)


def test_method_help_lists_the_registry():
    out = subprocess.run([sys.executable, "-m", "lifgen", "simulate", "--help"],
                         capture_output=True, text=True, timeout=120)
    for name in METHODS:
        assert name in out.stdout


X, Y, Z = (sympy.Symbol(n) for n in "xyz")


# lifgen's own functions of many arguments: the propagator of [[y, z], [0, x]] over x, entry (0, 1)
# (M's nonzero entries as pairs: flat index, entry)
VARIADIC = {"propagator": (Num(0), Num(1), Num(2), Name(X), Num(0), Name(Y), Num(1), Name(Z), Num(3),
                           Name(X)),
            # functions whose first argument is a condition: where(x > y, y, z)
            "where": (Op(">", Name(X), Name(Y)), Name(Y), Name(Z))}


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_every_function_agrees_in_sympy_numpy_and_c_forms(name):
    function = FUNCTIONS[name]
    args = VARIADIC.get(name, (Name(X), Name(Y), Name(Z))[:function.arity])
    tree = Call(name, args)
    values = {X: 0.7, Y: 0.2, Z: 0.9}
    numeric = float(evaluate(tree, values))
    symbolic = float(to_sympy(tree).xreplace({k: sympy.Float(v) for k, v in values.items()}))
    assert numeric == pytest.approx(symbolic, rel=1e-12)
    text = CPrinter({X: "x", Y: "y", Z: "z"}).print(tree)
    assert text.count("(") >= 1 and "x" in text


def test_the_parser_accepts_exactly_the_registry():
    from lifgen.frontend.expressions import FUNCTIONS as ACCEPTED

    assert ACCEPTED == {name: (f.arity,) for name, f in FUNCTIONS.items() if f.public}
    assert "propagator" not in ACCEPTED  # lifgen's own: not for model files


def test_the_method_registry_holds_exactly_the_method_names_of_the_ir():
    """Model files and compile check method names against ir/method_names.py (the IR and the
    front end come before the numerics); the registry gives each of those names a step."""
    from lifgen.ir.method_names import METHOD_NAMES
    from lifgen.numerics.methods import METHODS

    assert tuple(METHODS) == METHOD_NAMES
