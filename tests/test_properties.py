"""Property-based tests of the expression parser: random text never raises anything but a
LifgenError, and random well-formed expressions keep their value through parse, SymPy and C."""

import math

import numpy as np
import sympy
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

import lifgen
from lifgen.errors import LifgenError
from lifgen.frontend.expressions import parse
from lifgen.ir.model import symbol
from lifgen.ir.written import evaluate

NAMES = {n: symbol(n) for n in ("V", "tau", "I")}
VALUES = {"V": 0.7, "tau": 3.0, "I": -1.3}
ALPHABET = "VItau0123456789.e+-*/()<>=!,_ %&|^~[]{}:;'\"\\abcdefghijklmnopqrstuvwxyz@#$\n\t"


@settings(max_examples=3000, deadline=None)
@given(st.one_of(st.text(alphabet=ALPHABET, max_size=60), st.text(max_size=40)))
def test_random_text_raises_nothing_but_a_lifgen_error(text):
    try:
        parse(text, NAMES, relations=True)
    except LifgenError:
        pass


def _number(value):
    return repr(float(value))


LEAVES = st.one_of(st.sampled_from(sorted(VALUES)),
                   st.floats(0.125, 8.0, allow_nan=False).map(_number))


def _combine(children):
    binary = st.tuples(children, st.sampled_from(["+", "-", "*", "/"]), children).map(
        lambda t: f"({t[0]} {t[1]} {t[2]})")
    unary = children.map(lambda c: f"-({c})")
    calls = st.tuples(st.sampled_from(["exp(tanh({}))", "tanh({})", "abs({})", "sqrt(abs({}))",
                                       "log(1 + abs({}))", "cos({})", "expm1(tanh({}))"]),
                      children).map(lambda t: t[0].format(t[1]))
    pairs = st.tuples(st.sampled_from(["min", "max"]), children, children).map(
        lambda t: f"{t[0]}({t[1]}, {t[2]})")
    return st.one_of(binary, unary, calls, pairs)


EXPRESSIONS = st.recursive(LEAVES, _combine, max_leaves=12)


def _python_value(text):
    scope = {"exp": math.exp, "tanh": math.tanh, "abs": abs, "sqrt": math.sqrt, "log": math.log,
             "cos": math.cos, "expm1": math.expm1, "min": min, "max": max, **VALUES}
    try:
        return eval(text, {"__builtins__": {}}, scope)  # the test's own generated text
    except (ZeroDivisionError, OverflowError, ValueError):
        return math.nan


@settings(max_examples=400, deadline=None)
@given(EXPRESSIONS)
def test_expressions_keep_their_value_through_parse_and_sympy(text):
    expected = _python_value(text)
    assume(math.isfinite(expected) and abs(expected) < 1e12)
    tree, expr = parse(text, NAMES)
    numpy_value = float(evaluate(tree, {NAMES[n]: v for n, v in VALUES.items()}))
    assert math.isclose(numpy_value, expected, rel_tol=1e-13, abs_tol=1e-15)
    value = float(expr.xreplace({NAMES[n]: sympy.Float(v) for n, v in VALUES.items()}).evalf(30))
    assert math.isclose(value, expected, rel_tol=1e-9, abs_tol=1e-12)


MAP_MODEL = """
[model]
name = "property"
[parameters]
tau = {{ value = {tau} }}
[states]
V = {{ initial = {V} }}
[inputs]
I = {{}}
[equations]
update = {{ V = "{expression}" }}
[spike]
condition = "V > 1e300"
[reset]
mechanism = "zero"
timing = "next_step"
zero = {{ V = "0" }}
"""


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=EXPRESSIONS)
@example(text="-(-(I))")  # once printed as C's decrement operator, --u_I
def test_expressions_keep_their_value_in_the_generated_c(tmp_path, text):
    expected = _python_value(text)
    assume(math.isfinite(expected) and abs(expected) < 1e12)
    path = tmp_path / "property.toml"
    path.write_text(MAP_MODEL.format(expression=text, **VALUES))
    result = lifgen.compile(str(path)).run(1, 1, inputs={"I": VALUES["I"]})
    assert np.isclose(result.state["V"][0], expected, rtol=1e-12, atol=1e-15)


ARGUMENT_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 5), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=5), st.lists(st.floats(-2, 2), max_size=6),
    st.tuples(st.integers(0, 4), st.integers(0, 4)).map(lambda shape: np.ones(shape)),
    st.tuples(st.integers(0, 3), st.integers(0, 3), st.integers(0, 3)).map(
        lambda shape: np.zeros(shape, np.float32)),
    st.just(lifgen.Step(0.5, 2)), st.just({"a": 1}), st.just(object()))
ARGUMENT_NAMES = st.sampled_from(["I", "beta", "threshold", "V", "nope", ""])


@settings(max_examples=300, deadline=None)
@given(steps=st.one_of(st.integers(-2, 6), st.floats(), st.text(max_size=2)),
       neurons=st.one_of(st.integers(-2, 4), st.none(), st.floats()),
       inputs=st.one_of(ARGUMENT_VALUES, st.dictionaries(ARGUMENT_NAMES, ARGUMENT_VALUES, max_size=2)),
       params=st.one_of(ARGUMENT_VALUES, st.dictionaries(ARGUMENT_NAMES, ARGUMENT_VALUES, max_size=2)),
       initial=st.one_of(ARGUMENT_VALUES, st.dictionaries(ARGUMENT_NAMES, ARGUMENT_VALUES, max_size=2)),
       record=st.one_of(ARGUMENT_VALUES, st.dictionaries(ARGUMENT_NAMES, ARGUMENT_VALUES, max_size=1)),
       spikes=st.sampled_from(["raster", "count", "events", "nope", None]))
def test_bad_run_arguments_raise_only_lifgen_errors(steps, neurons, inputs, params, initial,
                                                    record, spikes):
    simulator = _leaky()
    try:
        simulator.run(steps, neurons, inputs=inputs, params=params, initial=initial,
                      record=record, spikes=spikes)
    except LifgenError:
        pass


_compiled = {}


def _leaky():
    if "leaky" not in _compiled:
        _compiled["leaky"] = lifgen.compile("leaky")
    return _compiled["leaky"]


@settings(max_examples=150, deadline=None)
@given(model=st.sampled_from(["lapicque", "leaky", "nope", "", "../x", 3, None]),
       method=st.one_of(st.none(), st.sampled_from(["euler", "rk4", "exact", "magic", ""]),
                        st.integers()),
       dt=st.one_of(st.none(), st.floats(), st.integers(-1, 1), st.text(max_size=3)),
       dtype=st.sampled_from(["float64", "float32", "int8", None]),
       reset=st.one_of(st.none(), st.sampled_from(["zero", "subtract", "none", "boom"])),
       threads=st.one_of(st.integers(-1, 2), st.floats(0, 2), st.none()),
       connections=st.one_of(st.none(), ARGUMENT_VALUES,
                             st.dictionaries(st.sampled_from(["rec", "x"]), ARGUMENT_VALUES,
                                             max_size=1)))
def test_bad_compile_arguments_raise_only_lifgen_errors(model, method, dt, dtype, reset, threads,
                                                        connections):
    try:
        simulator = lifgen.compile(model, method=method, dt=dt, dtype=dtype, reset=reset,
                                   threads=threads)
        simulator.run(3, 2, connections=connections, spikes="count")
    except LifgenError:
        pass
