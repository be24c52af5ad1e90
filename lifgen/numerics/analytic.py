"""Closed-form solutions of linear models: dsolve for display, and the propagator at any time t.

For a linear model dx/dt = A x + B u + c with piecewise-constant inputs, the state after any
time tau is P(tau) [x; u; 1], with P the matrix exponential of the augmented system. That gives
traces at arbitrary times, threshold-crossing times inside a step, and an event-driven
reference solution with resets at the exact crossing instants.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import numpy.typing as npt
import sympy

from ..errors import InputError
from ..ir.functions import FUNCTIONS
from .linear import exact_step, linear_coefficients
from ..ir.symbols import DT, TIME, previous_symbol, symbol, time_function
from ..ir.model import Model
from ..ir.written import Assignments, Op, evaluate

TAU = sympy.Symbol("lg_tau")  # the time a propagation spans: a name no model can declare
# NumPy forms for lambdify, by function name (exprel, expm1 and log1p are lifgen's own).
NUMPY_FUNCTIONS = {name: f.numpy for name, f in FUNCTIONS.items()}
Values = Mapping[str, float]  # quantity name -> value
Array = npt.NDArray[np.float64]


def initial_symbol(name: str, model: Model | None = None) -> sympy.Symbol:
    """The symbol for a state's value at t = 0, written X0 (X_0, X_init when the model already
    has a quantity of that name, so that the closed form never mixes them up)."""
    taken = set() if model is None else {
        q.name for q in (*model.states, *model.parameters, *model.inputs)}
    for candidate in (f"{name}0", f"{name}_0", f"{name}_init"):
        if candidate not in taken:
            return sympy.Symbol(candidate)
    return sympy.Symbol(f"lg_initial_{name}")


def closed_form(model: Model) -> list[sympy.Eq] | None:
    """Solve the model's ODEs for constant inputs from X(0) = X0; a list of Eq(X(t), ...), or None.

    None means SymPy found no explicit closed form (nonlinear models, whose solution is at best
    implicit, or a discrete-time map).
    """
    if model.is_discrete:
        return None
    equations = model.ode_equations()
    functions = [time_function(s.name) for s in model.state_symbols]
    ics = {f.subs(TIME, 0): initial_symbol(s.name, model)
           for f, s in zip(functions, model.state_symbols)}
    try:
        solution = sympy.dsolve(equations if len(equations) > 1 else equations[0],
                                functions if len(functions) > 1 else functions[0], ics=ics)
    except (NotImplementedError, ValueError, TypeError):
        return None
    solutions = solution if isinstance(solution, list) else [solution]
    if any(eq.has(sympy.Integral) or eq.lhs not in functions for eq in solutions):
        return None  # an unevaluated integral, or an implicit F(V, t) = 0, is no closed form
    return [sympy.Eq(eq.lhs, _tidy(eq.rhs)) for eq in solutions]


def _tidy(expr: sympy.Expr) -> sympy.Expr:
    """Write a solution as steady state plus decaying exponentials: I*R + (V0 - I*R)*exp(-t/(C*R))."""
    expanded = sympy.expand(sympy.simplify(expr))
    return sympy.collect(expanded, sorted(expanded.atoms(sympy.exp), key=str))


def evaluate_closed_form(model: Model, times: npt.ArrayLike, params: Values, inputs: Values,
                         initial: Values) -> dict[str, Array]:
    """Evaluate the closed form at `times` (a NumPy array) for scalar params, inputs and initial values."""
    solution = LinearSolution(model)
    state = {k: float(initial.get(k, v)) for k, v in model.initial_values.items()}
    values = solution.propagate(state, inputs, params, np.asarray(times, float))
    return {k: np.broadcast_to(v, np.shape(times)) for k, v in values.items()}


def crossing_time(model: Model) -> sympy.Expr | None:
    """For a one-state linear model, the time for X to go from X0 to the threshold, as SymPy.

    With dX/dt = a X + b, X(t) = X_inf + (X0 - X_inf) e^(a t) and X_inf = -b/a, so the threshold
    theta is reached at t* = ln((theta - X_inf)/(X0 - X_inf))/a; for Lapicque
    t* = tau ln((V_inf - V0)/(V_inf - theta)); with a = 0 (an integrator) t* = (theta - X0)/b.
    None if the model is not of that kind.
    """

    if model.is_discrete or len(model.odes) != 1:
        return None
    (state, rhs), = model.odes
    split = linear_coefficients(rhs, [state])
    spike = model.spike
    if split is None or not isinstance(spike, (sympy.Gt, sympy.Ge)) or spike.lhs != state:
        return None
    a, b = split[0][state], split[1]
    if a == 0:  # an integrator (NIR's IF and I: dX/dt = r I) rises linearly
        return (spike.rhs - initial_symbol(state.name, model)) / b
    steady = -b / a
    return sympy.log((spike.rhs - steady) / (initial_symbol(state.name, model) - steady)) / a


class LinearSolution:
    """The exact solution of a linear model with inputs held constant, at any time."""

    def __init__(self, model: Model) -> None:

        self.model = model
        states = model.state_symbols
        steps = [e.xreplace({DT: TAU}) for _, e in exact_step(model)]
        arguments = [TAU, *states, *model.input_symbols, *model.parameter_symbols]
        self._propagator = sympy.lambdify(arguments, steps, modules=[NUMPY_FUNCTIONS, "numpy"])
        crossing = crossing_time(model)
        self._crossing = None if crossing is None else sympy.lambdify(
            [initial_symbol(states[0].name, model), *model.input_symbols,
             *model.parameter_symbols],
            crossing, modules="numpy")

    def propagate(self, state: Values, inputs: Values, params: Values,
                  tau: float | Array) -> dict[str, Array]:
        """The state after time `tau` (scalar or array) from `state`, with constant `inputs`."""
        model = self.model
        values = [state[n] for n in model.state_names]
        values += [float(inputs.get(n, 0.0)) for n in model.input_names]
        values += [float({**model.defaults, **params}[n]) for n in model.parameter_names]
        result = self._propagator(tau, *values)
        return {n: np.asarray(v, float) + 0 * np.asarray(tau, float)
                for n, v in zip(model.state_names, result)}

    def simulate(self, n_steps: int, dt: float, inputs: Mapping[str, npt.ArrayLike] | None = None,
                 params: Values | None = None, initial: Values | None = None,
                 reset: str | None = None, kicks: Mapping[str, Array] | None = None
                 ) -> tuple[dict[str, Array], Array]:
        """Event-driven exact solution over piecewise-constant inputs, one value per step.

        Returns (states at the end of each step, spike times). Threshold crossings are found
        inside the step (from the closed form when there is one, else by bisection) and the
        `reset` mechanism is applied at that instant (None: the model's default). `kicks` maps a
        state to what arrives in it at the start of each step (synaptic events: (n_steps,)).
        """
        model = self.model
        params = {**model.defaults, **(params or {})}
        drive = {n: np.broadcast_to(np.asarray(v, float), (n_steps,))
                 for n, v in (inputs or {}).items()}
        state = {k: float((initial or {}).get(k, v)) for k, v in model.initial_values.items()}
        resets = model.reset_for(reset or model.reset_mechanism)
        trace = {n: np.empty(n_steps) for n in model.state_names}
        spikes = []
        for step in range(n_steps):
            now = {n: float(v[step]) for n, v in drive.items()}
            for name, added in (kicks or {}).items():
                state[name] += float(added[step])
            start, elapsed = dict(state), 0.0
            for _ in range(1000):  # crossings within one step
                end = self._scalar(self.propagate(start, now, params, dt - elapsed))
                if not resets or not self._above(end, params):
                    break
                if model.refractory:
                    raise InputError(f"model {model.name} spikes at step {step}, and the exact "
                                     "reference does not model its refractory period; verify "
                                     "it with an input below threshold or a shorter t_end")
                hit = self._crossing_time(start, now, params, dt - elapsed)
                spikes.append(step * dt + elapsed + hit)
                at = self._scalar(self.propagate(start, now, params, hit))
                start = self._reset(at, resets, now, params)
                elapsed += hit
            state = end
            for n in model.state_names:
                trace[n][step] = state[n]
        return trace, np.array(spikes)

    @staticmethod
    def _scalar(values: Mapping[str, Array]) -> dict[str, float]:
        return {k: float(v) for k, v in values.items()}

    def _scope(self, state: Values, inputs: Values, params: Values) -> dict[sympy.Symbol, float]:
        scope = {symbol(k): v for k, v in {**params, **inputs, **state}.items()}
        scope.update({s: 0.0 for s in self.model.input_symbols if s not in scope})
        return scope

    def _above(self, state: Values, params: Values) -> bool:
        spike = self.model.spike
        margin = evaluate(_margin_tree(spike), self._scope(state, {}, params))
        return bool(margin > 0)

    def _crossing_time(self, start: Values, inputs: Values, params: Values, span: float) -> float:
        model = self.model
        if self._crossing is not None and not self._above(start, params):
            values = [start[model.state_names[0]]]
            values += [float(inputs.get(n, 0.0)) for n in model.input_names]
            values += [float(params[n]) for n in model.parameter_names]
            with np.errstate(all="ignore"):
                hit = float(self._crossing(*values))
            if np.isfinite(hit) and 0 <= hit <= span:
                return hit
        low, high = 0.0, span
        if self._above(start, params):
            return 0.0
        for _ in range(200):
            middle = 0.5 * (low + high)
            if middle in (low, high):
                break
            at = self._scalar(self.propagate(start, inputs, params, middle))
            low, high = (low, middle) if self._above(at, params) else (middle, high)
        return high

    def _reset(self, state: Values, resets: Assignments, inputs: Values,
               params: Values) -> dict[str, float]:
        scope = self._scope(state, inputs, params)

        scope.update({previous_symbol(k): v for k, v in state.items()})
        new = dict(state)
        for target, tree in resets:
            new[target.name] = float(evaluate(tree, scope))
        return new


def _margin_tree(spike: sympy.Basic) -> Op:
    from ..ir.written import from_sympy

    if not isinstance(spike, (sympy.Gt, sympy.Ge)):
        raise InputError("the exact reference needs a threshold condition such as 'V > theta'")
    return Op("-", from_sympy(spike.lhs), from_sympy(spike.rhs))
