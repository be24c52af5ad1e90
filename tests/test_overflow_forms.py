"""No rewrite may move where an expression overflows or underflows. SymPy's algebra once split
AdEx's exp((V - V_T)/Delta_T) into exp(-V_T/Delta_T)*exp(V/Delta_T), a hoisted constant that
overflows times a factor that underflows: NaN at rest for a small slope factor, where the law
as written is harmless. NEST's guard exp((min(V, V_peak) - V_T)/Delta_T) was distributed into
a sum of 24 exponentials per rk4 step. Here the step map lifgen derives and hoists is compared
with the step of the laws as written, evaluated directly, at extreme parameter values."""

from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest
import sympy
from hypothesis import example, given, settings
from hypothesis import strategies as st

import lifgen
from lifgen.numerics.discretize import discretize
from lifgen.numerics.methods import METHODS, TABLEAUX
from lifgen.ir.symbols import DT, TIME
from lifgen.ir.written import Call, Name, Op, children, evaluate, from_sympy, substitute, to_sympy

GUARD = Path(__file__).parent / "models" / "aeif_guard.toml"
# The library's ODE models whose laws give each dX/dt directly (lapicque's laws have
# intermediates to eliminate, and no function to rewrite), and NEST's guarded AdEx.
MODELS = ("adex", "eif", "hodgkin_huxley", "izhikevich", "lif_coba", "lif_cuba", "qif", str(GUARD))
# Values to 1e-12 in double, to 1e-5 (a few hundred roundings) in single precision; more only
# where the step itself amplifies rounding more (see _sensitivity).
RTOL = {np.float64: 1e-12, np.float32: 1e-5}


@lru_cache(maxsize=None)
def _model(name):
    return lifgen.load_model(name)


@lru_cache(maxsize=None)
def _step_map(name, method):
    return discretize(_model(name), method)


def _methods(model):
    """The methods compared: the Runge-Kutta family and exponential Euler where it applies."""
    return [m for m in (*TABLEAUX, "exponential_euler") if METHODS[m].applies(model)]


@lru_cache(maxsize=None)
def _written_rates(name):
    """{state: tree of dX/dt} from the laws as written, `c*dX/dt = rhs` as rhs/c, with the named
    expressions substituted as trees: no algebra that could split or distribute anything."""
    model = _model(name)
    plain = {sympy.Function(s.name)(TIME): s for s in model.state_symbols}
    named = [(n, from_sympy(e)) for n, e in model.expressions]
    rates = {}
    for law in model.laws:
        coefficient, derivative = law.lhs.as_independent(sympy.Derivative, as_Add=False)
        assert isinstance(derivative, sympy.Derivative) and not law.rhs.has(sympy.Derivative)
        tree = from_sympy(law.rhs.xreplace(plain))
        if coefficient != 1:
            tree = Op("/", tree, from_sympy(coefficient))
        for expression, definition in reversed(named):
            tree = substitute(tree, {expression: definition})
        rates[plain[derivative.expr]] = tree
    return rates


def _written_step(name, method, values, dtype):
    """One step of `method` on the written rates, evaluated directly in `dtype`."""
    with np.errstate(all="ignore"):  # overflow is what is compared
        return _written_step_of(_written_rates(name), method, values, dtype)


def _written_step_of(rates, method, values, dtype):
    dt = np.asarray(values[DT], dtype=dtype)
    if method == "exponential_euler":  # x + dt*f*exprel(dt*df/dx), df/dx of the written rate
        slopes = {s: Op("*", from_sympy(sympy.diff(to_sympy(tree), s)), Name(DT))
                  for s, tree in rates.items()}
        return {s: values[s] + dt * evaluate(tree, values, dtype)
                * evaluate(Call("exprel", (slopes[s],)), values, dtype)
                for s, tree in rates.items()}
    tableau, stages = TABLEAUX[method], []
    for weights in tableau.a:
        point = dict(values)
        for s in rates:
            point[s] = values[s] + sum((dtype(float(w)) * dt * stages[j][s]
                                        for j, w in enumerate(weights) if w), dtype(0))
        stages.append({s: evaluate(tree, point, dtype) for s, tree in rates.items()})
    return {s: values[s] + sum((dtype(float(b)) * dt * stages[i][s]
                                for i, b in enumerate(tableau.b) if b), dtype(0))
            for s in rates}


def _lifgen_step(name, method, values, dtype):
    """One step of lifgen's step map: hoisted constants, then stages, then updates."""
    step_map = _step_map(name, method)
    scope = dict(values)
    for target, tree in (*step_map.constants, *step_map.stages):
        scope[target] = evaluate(tree, scope, dtype)
    return {s: evaluate(tree, scope, dtype) for s, tree in step_map.updates}


def _values(name, exponents, seed, dt_factor, dtype):
    """Parameters scaled by 10**exponent (drawn per parameter), states and inputs as arrays: the
    model's initial state with no input first (rest), then random ones over wide ranges."""
    model = _model(name)
    rng = np.random.default_rng(seed)
    n = 64
    values = {DT: dtype(model.dt * dt_factor)}
    for q, exponent in zip(model.parameters, exponents):
        value = q.value * 10.0**exponent if q.value else rng.uniform(-100, 100)
        values[q.symbol] = np.asarray(value, dtype=dtype)
    initial = model.initial_values
    for q in model.states:
        spread = 10.0 ** rng.uniform(-2, 3, n)
        x = initial[q.name] + spread * rng.uniform(-1, 1, n)
        x[0] = initial[q.name]
        values[q.symbol] = x.astype(dtype)
    for q in model.inputs:
        u = 10.0 ** rng.uniform(-2, 3, n) * rng.uniform(-1, 1, n)
        u[0] = 0
        values[q.symbol] = u.astype(dtype)
    return values


def _assert_same(name, method, dtype, values):
    """Where the written step overflows, lifgen's does; where it stays well inside the range,
    lifgen's is finite and equal to RTOL, or to the step's own sensitivity to rounding where it
    amplifies rounding more (stiff steps, large exponents). Steps within a factor of sqrt(max)
    of the range's end, on either side, are left out: there the order of a product decides
    (dt*(f/C) or (dt/C)*f), and SymPy keeps no order of factors to follow. So is every state of
    a step where one state is: the states' stages read each other, and where one overflowed
    another's finite value (Hodgkin-Huxley's h next to an infinite V in float32) is the order
    of evaluation's accident."""
    ours = _lifgen_step(name, method, values, dtype)
    written = _written_step(name, method, values, dtype)
    spread = _sensitivity(name, method, values, dtype, written)
    exact = _written_step(name, method, {k: np.asarray(v, np.longdouble) for k, v in
                                         values.items()}, np.longdouble)
    limit = np.sqrt(np.finfo(dtype).max)
    with np.errstate(invalid="ignore"):
        every_state_inside = np.logical_and.reduce(
            [np.abs(expected) < limit for expected in written.values()])
    for s, expected in written.items():
        got, before = np.broadcast_to(ours[s], expected.shape), np.abs(values[s])
        where = f"{name} {method} {np.dtype(dtype).name} {s}"
        inside = every_state_inside
        kept = ~np.isfinite(expected) & (np.abs(got) < limit)
        assert not kept.any(), (
            f"{where}: {got[kept][:3]} where the written step overflows, at {_values_at(values, kept)}")
        assert np.all(np.isfinite(got[inside])), (
            f"{where}: not finite where the written step is {expected[inside & ~np.isfinite(got)][:3]}, "
            f"at {_values_at(values, inside & ~np.isfinite(got))}")
        with np.errstate(all="ignore"):
            bound = RTOL[dtype] * np.maximum(np.abs(expected), before) + 4 * spread[s]
            # (or no farther from the written step in extended precision than the written
            # step's own rounding: a cancellation inside a stage that no nudge of the inputs
            # shows, such as (V + dt/2*k) - E_L at rest, where lifgen's form is the exact one)
            as_close = np.abs(got - exact[s]) <= np.abs(expected - exact[s]) * (1 + 1e-3)
            wrong = inside & (np.abs(got - expected) > bound) & ~as_close
        assert not wrong.any(), (
            f"{where}: {got[wrong][:3]} where the written step is {expected[wrong][:3]}, "
            f"at {_values_at(values, wrong)}")


def _sensitivity(name, method, values, dtype, written):
    """How far the written step moves when every value it reads moves by a few roundings: where
    a step amplifies rounding (cancellation, exp of a large argument, a stiff stage), two orders
    of evaluation differ by about that much. Value k moves up in nudge j where bit j of k + 1
    is set, else down, so that every two values move apart in some nudge (V - E_L changes).
    Infinite where a nudge overflows."""
    eps = np.finfo(dtype).eps
    spread = {s: np.zeros(np.shape(x)) for s, x in written.items()}
    for bit in range(len(values).bit_length()):
        nudged = {k: (v * dtype(1 + (4 if (i + 1) >> bit & 1 else -4) * eps)).astype(dtype)
                  for i, (k, v) in enumerate(values.items())}
        with np.errstate(all="ignore"):
            for s, x in _written_step(name, method, nudged, dtype).items():
                change = np.abs(x.astype(float) - written[s])
                spread[s] = np.maximum(spread[s], np.where(np.isfinite(change), change, np.inf))
    return spread


def _values_at(values, mask):
    """The values at the first point of `mask`, to name a failure."""
    i = int(np.flatnonzero(mask)[0])
    return {str(k): float(np.ravel(v)[i] if np.ndim(v) else v) for k, v in values.items()}


# Each parameter is its default times 10**exponent: a slope factor 1e4 times smaller, a
# threshold 1e4 times larger, time constants far below dt.
EXPONENTS = st.lists(st.floats(-4, 4, allow_nan=False), min_size=16, max_size=16)


@pytest.mark.parametrize("name", MODELS, ids=lambda n: Path(n).stem)
@settings(max_examples=20, deadline=None)
@given(exponents=EXPONENTS, seed=st.integers(0, 2**32 - 1),
       dt_factor=st.sampled_from([1.0, 0.01, 10.0]))
@example(exponents=[0.0] * 16, seed=0, dt_factor=1.0)  # the model's own parameters
def test_hoisted_step_equals_the_written_step(name, exponents, seed, dt_factor):
    model = _model(name)
    assert len(model.parameters) <= len(exponents)
    for dtype in (np.float64, np.float32):
        values = _values(name, exponents, seed, dt_factor, dtype)
        for method in _methods(model):
            _assert_same(name, method, dtype, values)


@pytest.mark.parametrize("dtype, delta_t", [("float64", 0.05), ("float32", 0.5)])
def test_adex_rests_with_a_small_slope_factor(dtype, delta_t):
    """The library's AdEx with no input stays at rest for 200 ms, as Brian2's does: the split
    exp(-V_T/Delta_T)*exp(V/Delta_T) was inf*0 = NaN from step 0."""
    simulator = lifgen.compile("adex", dtype=dtype)
    result = simulator.run(2000, inputs={"I": 0.0}, params={"Delta_T": delta_t}, record=["V", "w"])
    V, w = result.traces["V"][:, 0], result.traces["w"][:, 0]
    assert np.all(np.isfinite(V)) and np.all(np.isfinite(w))
    rest = simulator.model.initial_values["V"]  # E_L; the exponential is below 1e-17 there
    np.testing.assert_allclose(V, rest, rtol=1e-9)
    assert not result.spikes.any()


def _exp_calls(tree):
    """How many exp calls a written tree makes."""
    return (isinstance(tree, Call) and tree.function == "exp") + sum(
        _exp_calls(child) for child in children(tree))


@pytest.mark.parametrize("method", ["euler", "heun", "rk4"])
@pytest.mark.parametrize("name", ["adex", "eif", str(GUARD)], ids=lambda n: Path(n).stem)
def test_one_exponential_per_evaluation_of_the_rate(name, method):
    """NEST's guard exp((min(V, V_peak) - V_T)/Delta_T) is not distributed: one exp per stage,
    and none among the constants (exp(-V_T/Delta_T) overflows for a small Delta_T)."""
    step_map = discretize(_model(name), method)
    stages = len(TABLEAUX[method].b)
    assert sum(_exp_calls(tree) for _, tree in step_map.constants) == 0
    assert sum(_exp_calls(tree) for _, tree in (*step_map.stages, *step_map.updates)) == stages


@pytest.mark.parametrize("name", MODELS, ids=lambda n: Path(n).stem)
def test_no_more_exponentials_than_the_laws_write(name):
    """Each method evaluates the rates once per stage (exponential Euler: once), and with them
    no more exp calls than the laws write."""
    model = _model(name)
    written = sum(_exp_calls(tree) for tree in _written_rates(name).values())
    for method in _methods(model):
        step_map = _step_map(name, method)
        stages = len(TABLEAUX[method].b) if method in TABLEAUX else 1
        trees = (*step_map.constants, *step_map.stages, *step_map.updates)
        assert sum(_exp_calls(tree) for _, tree in trees) <= written * stages, method


def test_a_state_beside_an_overflowed_one_is_not_compared():
    """A point the property test once drew (CI): Hodgkin-Huxley's rk4 in float32 with g_Na
    1000 times its default overflows V; the written order then left h finite by accident while
    lifgen's left it NaN. Where one state of a step leaves the range, none is compared."""
    point = {"dt": 0.01, "C": 0.0017782794311642647, "g_Na": 120000.0, "g_K": 0.0036,
             "g_L": 0.3, "E_Na": 50.0, "E_K": -77.0, "E_L": -54.387, "V": -461.5287170410156,
             "m": 0.09739044308662415, "h": 0.5704464316368103, "n": -2.5321438312530518,
             "I": -11.517224311828613}
    values = {DT if k == "dt" else sympy.Symbol(k): np.full(2, v, np.float32)
              for k, v in point.items()}
    with np.errstate(all="ignore"):
        _assert_same("hodgkin_huxley", "rk4", np.float32, values)
