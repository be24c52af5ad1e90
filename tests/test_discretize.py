"""Step maps, checked without any C: the propagator, Euler, hoisting, and the nonlinear-model error."""

import pytest
import sympy

import lifgen
from lifgen.numerics.discretize import discretize, use_expm1
from lifgen.errors import ModelError
from lifgen.ir.model import DT, symbol
from lifgen.ir.written import symbols, to_sympy, to_text

V, I, R, C = (symbol(n) for n in "VIRC")


def _resolved(step_map):
    """Each update with the hoisted constants substituted back."""
    constants = {k: to_sympy(v) for k, v in step_map.constants}
    return {s: to_sympy(e).xreplace(constants) for s, e in step_map.updates}


def test_exact_is_the_propagator():
    step_map = discretize(lifgen.load_model("lapicque"), "exact")
    decay = sympy.exp(-DT / (R * C))
    expected = V * decay + R * I * (1 - decay)
    assert sympy.simplify(_resolved(step_map)[V].rewrite(sympy.exp) - expected) == 0


def test_exact_uses_an_accurate_form_and_hoists_constants():
    step_map = discretize(lifgen.load_model("lapicque"), "exact")
    (state, update), = step_map.updates
    assert symbols(update) <= {V, I} | {k for k, _ in step_map.constants}
    # 1 - exp(-dt/tau) is written through expm1 or exprel, never as a cancelling difference
    assert any("expm1" in to_text(e) or "exprel" in to_text(e) for _, e in step_map.constants)


def test_euler_is_forward_euler():
    step_map = discretize(lifgen.load_model("lapicque"), "euler")
    expected = V + DT / (R * C) * (-V + R * I)
    assert sympy.simplify(_resolved(step_map)[V] - expected) == 0


def test_exact_rejects_a_nonlinear_model_naming_the_term():
    t = sympy.Symbol("t")
    Vt = sympy.Function("V")(t)
    a, theta = sympy.symbols("a threshold")
    model = lifgen.Model.from_sympy("quadratic", laws=[sympy.Eq(Vt.diff(t), a * Vt**2 + I)],
                                    states=[Vt], parameters={a: 1.0, theta: 1.0}, inputs=[I],
                                    spike=Vt > theta, dt=1e-3)
    with pytest.raises(ModelError, match=r"nonlinear term\(s\) V\*\*2\*a"):
        discretize(model, "exact")
    assert discretize(model, "euler").method == "euler"


def test_expm1_rewrite():
    x, c = sympy.symbols("x c")
    assert str(use_expm1(c - c * sympy.exp(-x))) == "-c*expm1(-x)"
    assert use_expm1(sympy.exp(x) + 2) == sympy.exp(x) + 2


@pytest.mark.parametrize("method, stages", [("euler", 1), ("exponential_euler", 1), ("rk4", 4)])
def test_named_expressions_are_computed_once_per_stage(method, stages):
    # HH's rate functions appear in the laws by name: each is evaluated once per stage, and the
    # updates use the temporaries, so no rate function is written out twice.
    from lifgen.ir.written import Call, children

    def rate_calls(tree):
        own = isinstance(tree, Call) and tree.function in ("exp", "exprel") \
            and symbol("V") in symbols(tree)
        return own + sum(rate_calls(child) for child in children(tree))

    step_map = discretize(lifgen.load_model("hodgkin_huxley"), method)
    rates = [k.name for k, tree in step_map.stages if rate_calls(tree)]
    assert len(rates) == 6 * stages  # alpha and beta of m, h and n, once per stage
    assert rates[:6] == [f"lg_stage1_{r}_{x}" for x in "mhn" for r in ("alpha", "beta")]
    assert not any(rate_calls(tree) for _, tree in step_map.updates)


def test_named_expressions_give_the_same_step_as_substituted_ones():
    model = lifgen.load_model("hodgkin_huxley")
    step_map = discretize(model, "exponential_euler")
    values = {symbol("V"): -52.0, symbol("m"): 0.1, symbol("h"): 0.5, symbol("n"): 0.4,
              symbol("I"): 7.0, DT: 0.01, **{q.symbol: q.value for q in model.parameters}}
    scope = dict(values)
    for name, tree in step_map.constants + step_map.stages:
        scope[name] = to_sympy(tree).xreplace(scope)
    from lifgen.numerics.methods import exponential_euler

    for (state, tree), (_, explicit) in zip(step_map.updates, exponential_euler(model)[1]):
        ours = float(to_sympy(tree).xreplace(scope))
        assert ours == pytest.approx(float(explicit.xreplace(values).evalf()), rel=1e-12)
