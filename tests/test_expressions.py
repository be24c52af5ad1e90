"""The model-text parser accepts the mathematics and rejects everything else, by whitelist."""

import pytest
import sympy

from lifgen.errors import ModelError
from lifgen.frontend.expressions import parse, parse_expression
from lifgen.ir.names import check_name

NAMES = {n: sympy.Symbol(n) for n in ("V", "I", "R", "C", "threshold", "u")}
V, I, R, C = (NAMES[n] for n in "VIRC")


@pytest.mark.parametrize("text, expected", [
    ("(I - V/R)/C", (I - V / R) / C),
    ("0.04*V**2 + 5*V + 140 - u + I", sympy.Float(0.04) * V**2 + 5 * V + 140 - NAMES["u"] + I),
    ("exp(-V/R)", sympy.exp(-V / R)),
    ("max(V, 0)", sympy.Max(V, 0)),
    ("-V", -V),
])
def test_accepts_mathematics(text, expected):
    assert parse_expression(text, NAMES) == expected


def test_I_is_an_ordinary_symbol_not_the_imaginary_unit():
    assert parse_expression("I", NAMES) == sympy.Symbol("I")
    assert not parse_expression("I*I", NAMES).has(sympy.I)


def test_relations_only_where_allowed():
    assert parse_expression("V > threshold", NAMES, relations=True) == sympy.Gt(V, NAMES["threshold"])
    with pytest.raises(ModelError, match="comparison"):
        parse_expression("V > threshold", NAMES)


@pytest.mark.parametrize("text, reason", [
    ("__import__('os').system('touch x')", "not allowed"),
    ("V.__class__", "attribute access"),
    ("V[0]", "subscripting"),
    ("lambda: 1", "lambda"),
    ("[x for x in V]", "comprehension"),
    ("'text'", "not a real number"),
    ("True*V", "not a real number"),
    ("1j*V", "not a real number"),
    ("1e400*V", "not finite"),
    ("1/0", "infinite, undefined or complex"),
    ("40./0.", "infinite, undefined or complex"),
    ("((9**16)**16)**16", "too large"),
    ("2**10**10", "too large"),
    ("foo(V)", "'foo' is not allowed"),
    ("exp(V, V)", "takes 1"),
    ("Wq + V", "'Wq' is not declared"),
    ("V +", "syntax error"),
    ("V // 2", "FloorDiv"),
    ("+".join(["V"] * 3000), "characters long"),
    ("-(" * 60 + "V" + ")" * 60, "nested"),
])
def test_rejects_everything_else(text, reason):
    with pytest.raises(ModelError, match=reason):
        parse_expression(text, NAMES, "m.toml", "[equations] x")


def test_error_names_file_and_field():
    with pytest.raises(ModelError) as error:
        parse_expression("Wq", NAMES, "models/x.toml", "[spike] condition")
    assert str(error.value).startswith("models/x.toml, [spike] condition: 'Wq' is not declared")


def test_unit_names_are_read_as_units_not_quantities():
    from lifgen.frontend.units import unit_of_symbol

    tree, expr = parse("V + 40*mV", NAMES)
    units = [unit_of_symbol(s) for s in expr.free_symbols if unit_of_symbol(s)]
    assert [u.text for u in units] == ["mV"] and NAMES["V"] in expr.free_symbols


@pytest.mark.parametrize("name", ["int", "double", "class", "lambda", "t", "dt", "exp", "step",
                                  "lg_x", "1V", "V-1", "a b", "Ω", "_V", "x" * 64])
def test_rejects_unsafe_names(name):
    with pytest.raises(ModelError):
        check_name(name)


@pytest.mark.parametrize("name", ["V", "I_syn", "tau_m", "g_e", "n", "i", "beta"])
def test_accepts_field_names(name):
    assert check_name(name) == name
