"""A reference for any ODE model with lifgen's step semantics, from scipy's solve_ivp (DOP853,
rtol = atol = 1e-12): inputs held over each step, synaptic kicks at the end of a step, the spike
test, reset and refractory hold at step ends (same_step timing, the model's counting). Between
those events the ODE is integrated in one piece and sampled at the grid, so a run of thousands
of steps costs a few solve_ivp calls. For tests only."""

import math

import numpy as np
import sympy
from scipy.integrate import solve_ivp

from lifgen.ir.functions import FUNCTIONS
from lifgen.ir.written import evaluate
from lifgen.runtime.connectivity import Sparse
from lifgen.runtime.sources import SpikeTrain

TOLERANCE = 1e-12


def kick_drives(model, kicks):
    """The kicks ((step, state, amount), ...) as lifgen's synaptic drives: one recorded source
    per kick, delay one step, so each arrives at the end of its step as the reference adds it."""
    out = {}
    for synapse in model.synapses:
        events = [(step, amount) for step, state, amount in kicks if state == synapse.target]
        if events:
            sources = list(range(len(events)))
            out[synapse.name] = (
                SpikeTrain(len(events), [s for s, _ in events], sources),
                Sparse.from_arrays(sources, [0] * len(events), [a for _, a in events], delay=1,
                                   n_pre=len(events), n_post=1))
    return out


def reference_run(model, dt, n_steps, inputs=None, kicks=()):
    """(states at the end of each step: name -> (n_steps,), spike steps). `inputs` maps an
    input to a constant; `kicks` is ((step, state, amount), ...) added at the end of `step`."""
    parameters = dict(model.defaults)
    values = {**{sympy.Symbol(n): v for n, v in parameters.items()},
              **{u: float((inputs or {}).get(u.name, 0.0)) for u in model.input_symbols}}
    names = model.state_names
    rates = sympy.lambdify([model.state_symbols], [rhs.xreplace(values) for _, rhs in model.odes],
                           modules=[{n: f.numpy for n, f in FUNCTIONS.items()}, "numpy"])
    spike = sympy.lambdify([model.state_symbols], model.spike.xreplace(values), "numpy")
    resets = model.reset_for(model.reset_mechanism)
    frozen, hold = _refractory(model, parameters, dt)
    kicked = {}
    for step, state, amount in kicks:
        kicked.setdefault(step, []).append((names.index(state), amount))
    x = np.array([float(model.initial_values[n]) for n in names])
    out, spikes, step, held = np.empty((n_steps, len(names))), [], 0, 0
    while step < n_steps:
        mask = np.array([n in frozen for n in names]) if held else np.zeros(len(names), bool)
        stop = _next_event(step, n_steps, kicked, held)
        grid = dt * np.arange(1, stop - step + 1)
        solution = solve_ivp(lambda t, y: np.where(mask, 0.0, rates(y)), (0.0, grid[-1]), x,
                             method="DOP853", rtol=TOLERANCE, atol=TOLERANCE, t_eval=grid)
        points = solution.y.T
        fired = [] if held else _spikes(model, spike, x, points)
        stops = bool(resets or hold)  # a model without reset or refractory runs on through
        end = fired[0] + 1 if fired and stops else len(points)
        out[step:step + end] = points[:end]
        spikes += [step + k for k in fired[:1 if stops else None]]
        x = points[end - 1].copy()
        step += end
        held = max(held - end, 0)
        if fired and stops:
            at = dict(zip(model.state_symbols, x))
            for state, tree in resets:
                x[names.index(state.name)] = float(evaluate(tree, {**at, **values}))
            out[step - 1] = x
            held = hold
        for index, amount in kicked.get(step - 1, ()):
            x[index] += amount
    return {n: out[:, i] for i, n in enumerate(names)}, spikes


def _spikes(model, spike, before, points):
    """The indices of `points` where the spike condition holds (starts to hold, for a crossing
    model), `before` the point before the first."""
    holds = np.asarray(spike(points.T), bool)
    if model.spike_on == "crossing":
        previous = np.concatenate([[bool(spike(before))], holds[:-1]])
        holds = holds & ~previous
    return list(np.flatnonzero(holds))


def _next_event(step, n_steps, kicked, held):
    """The step after which the integration must stop: a kick, the refractory hold's end."""
    ends = [s + 1 for s in kicked if s >= step] + [n_steps]
    if held:
        ends.append(step + held)
    return min(ends)


def _refractory(model, parameters, dt):
    """(frozen state names, steps they are held after a spike's step), lifgen's counting."""
    if not model.refractory:
        return (), 0
    period = float(evaluate(model.refractory[0], {sympy.Symbol(n): v
                                                  for n, v in parameters.items()}))
    steps = math.floor(period / dt + 1e-3)
    counted = 1 if model.refractory_counting == "brian2" else 0
    return {str(s) for s in model.refractory[1]}, steps - counted
