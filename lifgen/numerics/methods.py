"""Numerical methods as data: one registry entry per method, applied symbolically.

A method turns the ODE system dx/dt = f(x, u) into one step x -> x_next, with inputs held
constant over the step. Each entry of METHODS holds the method's name, order, how its step is
built, its stability function (derived from the Butcher tableau where there is one) and which
models it applies to; `auto`, `verify`, the stability warning, model-file validation and the
CLI help all read it. Adding a Runge-Kutta method is one entry in `TABLEAUX`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, Mapping, Sequence

import sympy
from numpy.polynomial.polynomial import polypow

from ..errors import ModelError
from ..ir.method_names import SUBSTEPPED, SUBSTEPS, substepped_name
from .linear import exact_step, linear_coefficients
from ..ir.symbols import DT, XI, noise_symbols, previous_symbol, substitute_expressions
from ..ir.functions import exprel
from ..ir.model import Model
from ..ir.written import to_sympy

NORMAL = sympy.Symbol("lg_normal")  # a standard normal number, new each step and neuron


def normal_symbol(noise: sympy.Symbol) -> sympy.Symbol:
    """The standard normal number a noise source draws in one step: xi's is NORMAL, each
    xi_<name>'s its own (lg_normal_xi_<name>), from its own stream."""
    return NORMAL if noise == XI else sympy.Symbol(f"lg_normal_{noise.name}")

R = sympy.Rational
Equations = Sequence[tuple[sympy.Symbol, sympy.Expr]]  # ((symbol, expression), ...) in order
Step = tuple[Equations, Equations]  # (stages, updates) of one step, as SymPy
Scope = Mapping[sympy.Symbol, sympy.Expr]  # symbol -> what stands in for it


@dataclass(frozen=True)
class Tableau:
    """An explicit Runge-Kutta scheme: stage i evaluates f at x + dt*sum(a[i][j]*k[j])."""

    a: tuple
    b: tuple
    order: int


TABLEAUX = {
    "euler": Tableau(a=((),), b=(1,), order=1),
    "rk2": Tableau(a=((), (R(1, 2),)), b=(0, 1), order=2),  # the midpoint method
    "heun": Tableau(a=((), (1,)), b=(R(1, 2), R(1, 2)), order=2),
    "rk4": Tableau(a=((), (R(1, 2),), (0, R(1, 2)), (0, 0, 1)),
                   b=(R(1, 6), R(1, 3), R(1, 3), R(1, 6)), order=4),
}

# Embedded pairs: the tableau of the solution carried on (its b, its order) and the weights of the
# error estimate (the difference of the pair's b). Runge-Kutta-Fehlberg 4(5) as GSL's rkf45,
# which NEST's conductance-based, AdEx and Hodgkin-Huxley models use: the fifth-order solution
# is carried (local extrapolation), the fourth-order one only estimates the error.
EMBEDDED = {
    "rkf45": (Tableau(a=((), (R(1, 4),), (R(3, 32), R(9, 32)),
                         (R(1932, 2197), R(-7200, 2197), R(7296, 2197)),
                         (R(439, 216), -8, R(3680, 513), R(-845, 4104)),
                         (R(-8, 27), 2, R(-3544, 2565), R(1859, 4104), R(-11, 40))),
                      b=(R(16, 135), 0, R(6656, 12825), R(28561, 56430), R(-9, 50), R(2, 55)),
                      order=5),
              (R(1, 360), 0, R(-128, 4275), R(-2197, 75240), R(1, 50), R(2, 55))),
}
SUBSTEP = sympy.Symbol("lg_h")  # an adaptive method's substep inside the step (dt is the step)


def is_linear(model: Model) -> bool:
    """Linear with constant coefficients in the states and inputs (parameters are constants)."""
    variables = model.state_symbols + model.input_symbols
    return all(linear_coefficients(rhs, variables) is not None for _, rhs in model.odes)


def is_uncoupled_linear(model: Model) -> bool:
    """Linear with constant coefficients, each state's rate free of every other state: there
    (and only there) the per-variable exponential Euler step is the exact step."""
    states = set(model.state_symbols)
    return is_linear(model) and all(not (rhs.free_symbols & (states - {state}))
                                    for state, rhs in model.odes)


def is_conditionally_linear(model: Model) -> bool:
    """Every dX/dt is linear in X itself (its coefficient may depend on the other states)."""
    return all(state not in sympy.diff(rhs, state).free_symbols for state, rhs in model.odes)


def stage_expressions(model: Model, point: Scope, stage: int, first: Scope | None = None
                      ) -> tuple[list[tuple[sympy.Symbol, sympy.Expr]],
                                 dict[sympy.Symbol, sympy.Expr]]:
    """The model's named expressions at one stage's point, as temporaries computed once there.

    Returns (temporaries, scope): scope maps states to the point and each expression name to
    its temporary. An expression that does not depend on the point keeps its temporary from
    the `first` stage's scope.
    """
    stages, scope, moved = [], dict(point), {s for s, v in point.items() if s != v}
    for name, expr in model.expressions:
        if first is not None and not expr.free_symbols & moved:
            scope[name] = first[name]
            continue
        temporary = sympy.Symbol(f"lg_stage{stage}_{name}")
        stages.append((temporary, expr.xreplace(scope)))
        scope[name] = temporary
        moved.add(name)
    return stages, scope


def runge_kutta(model: Model, tableau: Tableau, inline: bool, exact: Scope | None = None) -> Step:
    """Apply a tableau. Stages are substituted into the update if `inline`, else kept as temporaries.

    Returns (stages, updates): stages are ((symbol, expression), ...) computed in order. With
    temporaries, the model's named expressions are computed once per stage. States in `exact`
    (state -> its exact step, dt a symbol) are not integrated: each stage reads their exact
    value at the stage's time (the hybrid method).
    """
    exact = exact or {}
    states = [s for s, _ in model.odes if s not in exact]
    named = not inline and model.named_odes
    slopes: list[dict] = []  # per stage: state -> its slope (an expression or a stage symbol)
    stages, first = [], None
    for i, weights in enumerate(tableau.a):
        point = {s: s + DT * sum((w * slopes[j][s] for j, w in enumerate(weights) if w),
                                 sympy.Integer(0)) for s in states}
        point.update(_exact_at(exact, sum(weights)))
        if named:
            temporaries, scope = stage_expressions(model, point, i + 1, first)
            first = first or scope
            stages += temporaries
            values = {s: rhs.xreplace(scope) for s, rhs in model.named_odes if s not in exact}
        else:
            values = {s: rhs.xreplace(point) for s, rhs in model.odes if s not in exact}
        if inline:
            slopes.append(values)
            continue
        names = {s: sympy.Symbol(f"lg_stage{i + 1}_{s}") for s in states}
        stages += [(names[s], values[s]) for s in states]
        slopes.append(names)
    updates = {s: s + DT * sum((b * slopes[i][s] for i, b in enumerate(tableau.b) if b),
                               sympy.Integer(0)) for s in states}
    return stages, [(s, updates.get(s, exact.get(s))) for s, _ in model.odes]


def _exact_at(exact: Scope, fraction: sympy.Expr) -> dict[sympy.Symbol, sympy.Expr]:
    """The exactly propagated states at `fraction` of the step (the states themselves at 0)."""
    if fraction == 0:
        return {s: s for s in exact}
    return {s: step.xreplace({DT: fraction * DT}) for s, step in exact.items()}


def closed_linear_states(model: Model) -> tuple[sympy.Symbol, ...]:
    """The largest set of states whose rates are linear with constant coefficients in those
    states and the inputs alone (synaptic conductances and currents, alpha pairs): a closed
    linear subsystem, which its propagator integrates exactly. Found by removing states that
    fail until none does. A state whose rate is zero (one held while refractory) is not part of
    it, so that the held step splits the states as the step itself does."""
    odes, inputs = dict(model.odes), list(model.input_symbols)
    closed = [s for s in model.state_symbols if odes[s] != 0]
    while True:
        outside = set(model.state_symbols) - set(closed)
        kept = [s for s in closed if not odes[s].free_symbols & outside
                and linear_coefficients(odes[s], closed + inputs) is not None]
        if kept == closed:
            return tuple(closed)
        closed = kept


def has_linear_split(model: Model) -> bool:
    """A closed linear subsystem beside states that are not in it: the hybrid method's case."""
    linear = closed_linear_states(model)
    return bool(linear) and len(linear) < len(model.odes) and not model.is_stochastic


def hybrid(model: Model, inline: bool) -> Step:
    """The closed linear subsystem by its exact propagator, the other states by rk4 whose stages
    read the subsystem's exact values at each stage time: rk4's order, synapses exact."""
    if not has_linear_split(model):
        raise ModelError("method 'hybrid' needs a closed linear subsystem (states whose rates are "
                         "linear with constant coefficients in those states and the inputs, "
                         "such as synaptic conductances) beside other states; this model has "
                         + ("only linear states: use 'exact'" if closed_linear_states(model)
                            else "none: use 'rk4'"), model.source, "[equations]")
    exact = dict(exact_step(model, closed_linear_states(model)))
    return runge_kutta(model, TABLEAUX["rk4"], inline, exact)


def adaptive_step(model: Model, name: str) -> Step:
    """One substep of length SUBSTEP (lg_h) of an embedded pair, as (stages, updates): the
    stages as temporaries lg_stage1_X, ..., the updates the carried (higher-order) solution.
    The kernel repeats it within each step, choosing lg_h by the error estimate (errors)."""
    tableau, _ = EMBEDDED[name]
    stages, updates = runge_kutta(model, tableau, inline=False)
    return ([(k, e.xreplace({DT: SUBSTEP})) for k, e in stages],
            [(s, e.xreplace({DT: SUBSTEP})) for s, e in updates])


def error_estimates(model: Model, name: str) -> Equations:
    """Each state's error estimate of one substep of the embedded pair `name`: lg_h times the
    error weights applied to the stages' slopes (the names adaptive_step gives them)."""
    _, weights = EMBEDDED[name]
    return [(s, SUBSTEP * sum((w * sympy.Symbol(f"lg_stage{i + 1}_{s}")
                               for i, w in enumerate(weights) if w), sympy.Integer(0)))
            for s, _ in model.odes]


def exponential_euler(model: Model, inline: bool = True) -> Step:
    """x_next = x + dt*f*exprel(a*dt), a = df/dx: exact when f is linear in x with constant a.

    Unless `inline`, the model's named expressions are computed once, as temporaries.
    """
    if not is_conditionally_linear(model):
        bad = [str(s) for s, rhs in model.odes if s in sympy.diff(rhs, s).free_symbols]
        raise ModelError(f"method 'exponential_euler' needs each dX/dt linear in X; "
                         f"{', '.join(bad)} is not", model.source, "[equations]")
    if inline or not model.named_odes:
        return [], [(s, s + DT * rhs * exprel(sympy.diff(rhs, s) * DT)) for s, rhs in model.odes]
    stages, scope = stage_expressions(model, {s: s for s in model.state_symbols}, 1)
    return stages, [(s, s + DT * rhs.xreplace(scope)
                     * exprel(_total_derivative(model, rhs, s).xreplace(scope) * DT))
                    for s, rhs in model.named_odes]


def _total_derivative(model: Model, rhs: sympy.Expr, state: sympy.Symbol) -> sympy.Expr:
    """d(rhs)/d(state) where rhs uses named expressions, keeping the names where it can."""
    result = sympy.diff(rhs, state)
    for name, _ in model.expressions:
        inner = sympy.diff(substitute_expressions(name, model.expressions), state)
        if inner != 0:
            result += sympy.diff(rhs, name) * inner
    return result


def euler_maruyama(model: Model) -> Step:
    """x_next = x + dt*f + sqrt(dt)*sum(g_k*z_k) for dx/dt = f + sum(g_k*xi_k), z_k a standard
    normal per neuron, step and source (Ito; g_k may depend on the state)."""
    updates = []
    sources = model.noise_symbols
    for state, rhs in model.odes:
        drift, diffusion = _noise_terms(model, state, rhs, sources)
        updates.append((state, state + DT * drift + sympy.sqrt(DT) * sum(
            (g * normal_symbol(xi) for xi, g in diffusion), sympy.Integer(0))))
    return [], updates


def _noise_terms(model: Model, state: sympy.Symbol, rhs: sympy.Expr,
                 sources: Sequence[sympy.Symbol]) -> tuple[sympy.Expr, list]:
    """(f, ((xi_k, g_k), ...)) of dX/dt = f + sum(g_k*xi_k); refused unless linear in each xi."""
    diffusion = []
    for xi in sources:
        g = sympy.diff(rhs, xi)
        if g.free_symbols & set(sources):
            raise ModelError(f"d{state}/dt must be linear in the noise {xi}", model.source,
                             "[equations]")
        if g != 0:
            diffusion.append((xi, g))
    return rhs.subs({xi: 0 for xi in sources}), diffusion


def noisy_states(model: Model) -> tuple[sympy.Symbol, ...]:
    """The states whose rates have a noise term."""
    return tuple(s for s, rhs in model.odes if noise_symbols([rhs]))


def ornstein_uhlenbeck_step(model: Model) -> Equations:
    """Each noisy state's exact step as an Ornstein-Uhlenbeck process dX/dt = a*X + b +
    sum(s_k*xi_k) (a, s_k constants; b of constants and inputs held over the step): mean
    X + dt*(a*X + b)*exprel(a*dt), and per source s_k*sqrt(dt*exprel(2*a*dt))*z_k, whose
    variance s_k^2*(exp(2*a*dt) - 1)/(2*a) is the exact one. Refused for a noisy state that is
    not of that form: there only Euler-Maruyama ('euler') integrates the noise."""
    sources = model.noise_symbols
    states, inputs = set(model.state_symbols), set(model.input_symbols)
    updates = []
    for state in noisy_states(model):
        drift, diffusion = _noise_terms(model, state, dict(model.odes)[state], sources)
        a = sympy.diff(drift, state)
        other = sympy.expand(drift - a * state).free_symbols & states
        varying = (a.free_symbols | {v for _, g in diffusion for v in g.free_symbols}) & (
            states | inputs)
        if other or varying or drift.has(state ** 2) or sympy.diff(a, state) != 0:
            raise ModelError(f"d{state}/dt has noise but is not an Ornstein-Uhlenbeck process "
                             f"(a*{state} + b + s*xi with a and s constant, b free of other "
                             "states), which alone is integrated exactly beside another method; "
                             "use method 'euler' (Euler-Maruyama)", model.source,
                             f"[equations] d{state}/dt")
        spread = sympy.sqrt(DT * exprel(2 * a * DT))
        updates.append((state, state + DT * drift * exprel(a * DT) + spread * sum(
            (g * normal_symbol(xi) for xi, g in diffusion), sympy.Integer(0))))
    return updates


def noise_held(model: Model) -> Model:
    """The model with its noisy states' rates zero: the states another method integrates,
    reading the noisy states as constants over the step."""
    noisy, zero = set(noisy_states(model)), sympy.Integer(0)
    return replace(model, odes=tuple((s, zero if s in noisy else rhs) for s, rhs in model.odes),
                   named_odes=tuple((s, zero if s in noisy else rhs)
                                    for s, rhs in model.named_odes), written_steps=())


def splits_noise(model: Model) -> bool:
    """Noise only in Ornstein-Uhlenbeck states beside states without noise: auto integrates
    those exactly and chooses a method for the others (NESTML's hh_cond_exp_destexhe)."""
    if not model.is_stochastic or len(noisy_states(model)) == len(model.odes):
        return False
    try:
        ornstein_uhlenbeck_step(model)
    except ModelError:
        return False
    return any(rhs != 0 for _, rhs in noise_held(model).odes)


def stability_coefficients(tableau: Tableau) -> tuple:
    """R(z) of an explicit Runge-Kutta method, coefficients from z^0 up: 1 and b^T A^(k-1) 1."""
    size = len(tableau.b)
    a = sympy.zeros(size, size)
    for i, row in enumerate(tableau.a):
        for j, value in enumerate(row):
            a[i, j] = value
    b, power = sympy.Matrix([tableau.b]), sympy.ones(size, 1)
    coefficients = [1]
    for _ in range(size):
        coefficients.append((b * power)[0])
        power = a * power
    while len(coefficients) > 1 and coefficients[-1] == 0:
        coefficients.pop()
    return tuple(float(c) for c in coefficients)


@dataclass(frozen=True)
class Method:
    """An integration method: how its step is built, its order (None where it is exact), its
    stability polynomial R(z) (None for methods that are not explicit Runge-Kutta), which models
    it applies to, and one line for the help."""

    name: str
    order: int | None
    summary: str
    step: Callable[[Model, bool], Step]  # (model, inline) -> (stages, updates) as SymPy
    applies: Callable[[Model], bool]
    stability: tuple | None = None
    verified_by_default: bool = True  # among the methods `lifgen verify` compares by default
    auto: str = ""  # why method="auto" picks it by its form alone (exact, where it applies)
    adaptive: bool = False  # substeps chosen by an error estimate within each step (EMBEDDED)


def _has_odes(model: Model) -> bool:
    return bool(model.odes)


def _tableau_method(name: str, tableau: Tableau, summary: str, auto: str = "") -> Method:
    def step(model: Model, inline: bool) -> Step:
        single = len(tableau.b) == 1 and not model.named_odes
        return runge_kutta(model, tableau, inline=inline or single or is_linear(model))
    return Method(name, tableau.order, summary, step, _has_odes, stability_coefficients(tableau),
                  auto=auto)


def substepped(method: Method, n: int) -> Method:
    """`method` applied n times with dt/n within one step: its order, n times its cost, an
    error about n^order times smaller (fast synapses at a coarse dt)."""
    def step(model: Model, inline: bool) -> Step:
        return substep(model, method.step, n)
    stability = None if method.stability is None else tuple(map(float, polypow(
        [c / n ** k for k, c in enumerate(method.stability)], n)))  # R(z/n)^n
    return Method(substepped_name(method.name, n), method.order,
                  f"{method.name} in {n} substeps of dt/{n}", step, method.applies, stability,
                  verified_by_default=False)


def substep(model: Model, step: Callable[[Model, bool], Step], n: int) -> Step:
    """(stages, updates) of n steps of `step` with dt/n: each substep's stages and results are
    temporaries (lg_sub1_..., ...) that the next substep reads; the updates take the last.
    Where a reset follows the spike, the states a reset assigns stop once the spike condition
    holds (see `_spiked_within`); the others integrate on to the step's end, as NEST integrates
    the whole step before its reset (a synaptic conductance frozen at a spike substep was 5e-4
    of its scale off)."""
    states = [s for s, _ in model.odes]
    stages, current = [], {s: s for s in states}
    reset = {s for _, assignments in model.resets for s, _ in assignments}
    for j in range(1, n + 1):
        sub_stages, updates = step(model, False)
        renamed = {k: sympy.Symbol(f"lg_sub{j}_{k.name.removeprefix('lg_')}")
                   for k, _ in sub_stages}
        mapping = {**current, DT: DT / n, **renamed}
        stages += [(renamed[k], e.xreplace(mapping)) for k, e in sub_stages]
        spiked = _spiked_within(model, current) if j > 1 else sympy.false
        following = {s: sympy.Symbol(f"lg_sub{j}_{s}") for s in states}
        stages += [(following[s], e.xreplace(mapping) if spiked is sympy.false or s not in reset
                    else sympy.Piecewise((current[s], spiked), (e.xreplace(mapping), True)))
                   for s, e in updates]
        current = following
    return stages, [(s, current[s]) for s in states]


def _spiked_within(model: Model, current: Scope) -> sympy.Basic:
    """Whether the neuron spiked in an earlier substep of this step: the condition holds at the
    substep's start and did not at the step's. The reset will replace the state, so the
    substeps stop there: integrating on past the cut-off of an exponential neuron (eif, adex)
    overflows to NaN. A model without a reset (Hodgkin-Huxley) or that spikes on a crossing
    integrates through its spikes: False."""
    if model.spike_on != "level" or model.reset_mechanism == "none" or model.spike is None:
        return sympy.false
    # previous(X) read as X at the start of the step: a condition on the substep's descent
    start = {previous_symbol(s.name): s for s in model.state_symbols}
    return sympy.And(model.spike.xreplace({**start, **current}),
                     sympy.Not(model.spike.xreplace(start)))


def _adaptive_method(name: str, summary: str) -> Method:
    """An embedded pair whose kernel loops over substeps within each step: its stability is
    error-controlled (no stability polynomial at dt: a substep that is unstable has a large
    error estimate and is taken again, shorter)."""
    def step(model: Model, inline: bool) -> Step:
        return adaptive_step(model, name)
    return Method(name, EMBEDDED[name][0].order, summary, step, _has_odes,
                  verified_by_default=False, adaptive=True)


# The most substeps an adaptive method takes within one step of one neuron; a neuron that needs
# more stops there, short of the step's end, and is reported (the sign of its rkf45_h).
MAX_SUBSTEPS = 10000
# An adaptive method's (rtol, atol) unless given, by float type: at 1e-10, NEST's cond, aeif and
# hh neurons at dt = 0.1 ms stay within 1e-6 of their scale of solve_ivp (tests/test_rkf45.py;
# at 1e-9 aeif_cond_exp was 1.4e-6 off before a spike, at 20% less cost); float32 (epsilon
# 1.2e-7) cannot resolve errors that small, so it asks for 1e-5.
DEFAULT_TOLERANCES = {"float64": (1e-10, 1e-10), "float32": (1e-5, 1e-5)}

SUMMARIES = {"euler": "forward Euler", "rk2": "the explicit midpoint method",
             "heun": "Heun's method (explicit trapezoid)", "rk4": "classical Runge-Kutta"}

METHODS: dict[str, Method] = {
    "exact": Method("exact", None, "the propagator of a linear system, inputs held over a step",
                    lambda model, inline: ([], exact_step(model)), is_linear,
                    auto="the system is linear with constant coefficients"),
    **{name: _tableau_method(name, tableau, SUMMARIES.get(name, name))
       for name, tableau in TABLEAUX.items()},
    "exponential_euler": Method("exponential_euler", 1, "exact for each equation linear in its "
                                "own variable, first order overall", exponential_euler,
                                is_conditionally_linear),
    "hybrid": Method("hybrid", 4, "a closed linear subsystem (synapses) by its propagator, the "
                     "other states by rk4 reading its exact values at each stage", hybrid,
                     has_linear_split, verified_by_default=False),
    "rkf45": _adaptive_method("rkf45", "Runge-Kutta-Fehlberg 4(5) as GSL's rkf45 (NEST's "
                              "cond, aeif and hh models): adaptive substeps within each step, "
                              "error per substep under atol + rtol*|x|, fifth-order solution"),
}
METHODS.update({substepped_name(base, n): substepped(METHODS[base], n)
                for n in SUBSTEPS for base in SUBSTEPPED})
# auto's candidates, cheapest first (right-hand sides evaluated per step, hybrid before rk4 as
# it integrates fewer states by rk4): it takes the first whose estimated error is under the
# tolerance (accuracy.py); exact alone where the system is linear, Euler-Maruyama with noise
AUTO_CANDIDATES = ("exponential_euler", "hybrid", "rk4",
                   *(substepped_name(base, n) for n in SUBSTEPS for base in ("hybrid", "rk4")))

# Theoretical order of each method; None where the method is exact for the model.
ORDERS = {name: method.order for name, method in METHODS.items()}
VERIFIED_BY_DEFAULT = tuple(name for name, method in METHODS.items() if method.verified_by_default)


def applies(method: str, model: Model) -> bool:
    """Whether `method` (or "auto") can integrate `model`."""
    return method == "auto" or (method in METHODS and METHODS[method].applies(model))


def auto_by_form(model: Model) -> tuple[str, str] | None:
    """(method, reason) where the model's form alone decides: Euler-Maruyama for white noise,
    exact for a linear system; None where accuracy must decide (accuracy.py)."""
    if model.is_stochastic and not splits_noise(model):
        return "euler", "the equations have white noise xi: Euler-Maruyama"
    if METHODS["exact"].applies(noise_held(model) if model.is_stochastic else model):
        return "exact", METHODS["exact"].auto
    return None


def auto_candidates(model: Model) -> tuple[str, ...]:
    """The methods auto compares on `model`, cheapest first. Where hybrid applies, the rk4 family
    is left out: hybrid costs less and is as accurate or more (its synapses are exact)."""
    split = METHODS["hybrid"].applies(model)
    return tuple(name for name in AUTO_CANDIDATES if METHODS[name].applies(model)
                 and not (split and name.startswith("rk4")))


def symbolic_step(model: Model, method: str, inline: bool = True) -> Step:
    """(stages, updates) of `method` as SymPy; with `inline` every stage is substituted in."""
    if model.is_stochastic and method == "euler":
        return euler_maruyama(model)
    return METHODS[method].step(noise_held(model) if model.is_stochastic else model, inline)


def check_written_step(model: Model, method: str) -> None:
    """The step written out in the model file for `method` must equal the step derived from the
    laws (checked when a simulator uses it: the front end does no numerics)."""
    assignments = dict(model.written_steps).get(method, ())
    if assignments:
        derived = dict(symbolic_step(model, method)[1])
        for state, tree in assignments:
            difference = sympy.cancel(to_sympy(tree) - derived[state])
            if difference != 0 and sympy.simplify(difference) != 0:
                raise ModelError(f"differs from the {method} step of the laws, "
                                 f"{derived[state]}, by {difference}", model.source,
                                 f"[equations.{method}] {state}")
