"""Holding inputs: the constant input that holds a model's membrane at a chosen steady state.

The steady-state current-voltage relation puts every other state at its equilibrium for a
membrane value V (gates at m_inf(V), adaptation at a (V - E_L), synaptic currents at 0) and
solves the membrane equation for the input. An equilibrium counts only where it is stable
(every eigenvalue of the Jacobian has a negative real part) and the input grows with V towards
threshold: beyond the first point where either fails (a Hopf bifurcation in Hodgkin-Huxley, the
rheobase of an exponential or quadratic neuron) a held input makes the neuron fire.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import sympy

from ..ir.model import Model
from ..ir.written import from_sympy
from .accuracy import closure, membrane_threshold

GRID = 801  # membrane values on which the steady-state relation is evaluated
FIRING_SHARE = 1.5  # an input this share of the way to the stable branch's end makes it fire
BRANCH_MARGIN = 0.25  # a held input goes at most this share of the way to the stable branch's end


def holding_input(model: Model, parameters: Mapping[str, float], name: str, share: float
                  ) -> float | None:
    """The value of input `name` (the others at 0) whose stable steady state holds the membrane
    `share` of the way from its initial value to threshold, and never more than BRANCH_MARGIN
    of the way to the end of the stable branch (share > 1: past threshold, so that it fires).
    None where the model has no such relation (no threshold on a state, an input that enters
    nonlinearly or outside the membrane's equation, other states not linear in themselves)."""
    relation = _steady_state_relation(model, parameters, name)
    if relation is None:
        return None
    membrane, threshold, volts, current, stable = relation
    start, distance = model.initial_values[membrane], threshold - model.initial_values[membrane]
    rising = np.sign(distance) * np.diff(current, prepend=-np.inf * np.sign(distance)) > 0
    first, last = _branch(stable & rising, int(np.argmin(np.abs(volts - start))))
    if last is None:
        return None
    if share > 1 and first is None:  # no stable rest at the initial value: it fires unheld
        return 0.0 if current[int(np.argmin(np.abs(volts - start)))] <= 0 else None
    if share > 1:  # past the stable branch's last input, in proportion: the neuron fires
        return float(current[first] + share * (current[last] - current[first]))
    if first is None:  # the model fires at its initial state: hold it halfway down the branch
        below = np.flatnonzero(~(stable & rising)[:last])
        target = (volts[below[-1] + 1 if below.size else 0] + volts[last]) / 2
    else:
        target = start + min(share * distance, BRANCH_MARGIN * (volts[last] - start))
    return float(current[int(np.argmin(np.abs(volts - target)))])


def _branch(usable: np.ndarray, at_start: int) -> tuple[int | None, int | None]:
    """(first, last) index of the stable branch from the initial value towards threshold; when
    the initial value is not on one, (None, the last point of the branch below it)."""
    if usable[at_start]:
        beyond = np.flatnonzero(~usable[at_start:])
        return at_start, at_start + int(beyond[0]) - 1 if beyond.size else usable.size - 1
    below = np.flatnonzero(usable[:at_start])
    return None, int(below[-1]) if below.size else None


Relation = tuple[str, float, np.ndarray, np.ndarray, np.ndarray]


def _steady_state_relation(model: Model, parameters: Mapping[str, float], name: str
                           ) -> Relation | None:
    """(membrane, threshold, a grid of V from as far below the initial value as threshold is
    above it up to threshold, the input at each V, whether each equilibrium there is stable and
    finite), or None."""
    membrane, threshold = membrane_threshold(model, parameters)
    odes = {s.name: rhs for s, rhs in model.odes}
    if membrane is None or threshold is None or membrane not in odes or model.is_discrete:
        return None
    start = model.initial_values[membrane]
    if not np.isfinite(threshold) or threshold == start:
        return None
    volts = np.linspace(start - (threshold - start), threshold, GRID)  # below it too
    try:
        with np.errstate(all="ignore"):  # a removable 0/0 (rates such as x/(1 - exp(-x)))
            current = _input_at(model, parameters, name, membrane, volts)
            stable = _stable(model, parameters, name, membrane, volts, current)
    except (ArithmeticError, TypeError, ValueError, KeyError, np.linalg.LinAlgError):
        return None
    if current is None or stable is None:
        return None
    return membrane, threshold, volts, current, stable & np.isfinite(current)


def _values(model: Model, parameters: Mapping[str, float]) -> dict:
    """Names -> values for evaluating the equations: the parameters, inputs and synapses at 0."""
    return {**{k: float(v) for k, v in parameters.items()},
            **{s.name: 0.0 for s in (*model.input_symbols, *model.synapse_symbols)}}


def _others_at_equilibrium(model: Model, parameters: Mapping[str, float], membrane: str,
                           volts: np.ndarray) -> dict[str, np.ndarray] | None:
    """Every state but the membrane at its equilibrium for each V of the grid: their equations
    are linear in them (A(V) x = b(V)), else None."""
    others = [(s, rhs) for s, rhs in model.odes if s.name != membrane]
    values = {**_values(model, parameters), membrane: volts}
    if not others:
        return {}
    unknowns = [s for s, _ in others]
    zero = {s: 0 for s in unknowns}
    matrix = np.empty((volts.size, len(others), len(others)))
    offset = np.empty((volts.size, len(others)))
    for i, (_, rhs) in enumerate(others):
        for j, x in enumerate(unknowns):
            slope = sympy.diff(rhs, x)
            if slope.free_symbols & set(unknowns):
                return None  # not linear in the other states
            matrix[:, i, j] = np.broadcast_to(closure(from_sympy(slope))(values), volts.shape)
        offset[:, i] = -np.broadcast_to(closure(from_sympy(rhs.xreplace(zero)))(values),
                                        volts.shape)
    solved = np.linalg.solve(matrix, offset[..., None])[..., 0]
    return {x.name: solved[:, j] for j, x in enumerate(unknowns)}


def _input_at(model: Model, parameters: Mapping[str, float], name: str, membrane: str,
              volts: np.ndarray) -> np.ndarray | None:
    """The input `name` that makes V a steady state, at each V of `volts`."""
    odes = {s.name: rhs for s, rhs in model.odes}
    drive = sympy.Symbol(name)
    if any(drive in rhs.free_symbols for s, rhs in odes.items() if s != membrane):
        return None
    rhs = odes[membrane]
    gain = sympy.diff(rhs, drive)
    if drive in gain.free_symbols:
        return None  # the input enters nonlinearly
    others = _others_at_equilibrium(model, parameters, membrane, volts)
    if others is None:
        return None
    values = {**_values(model, parameters), membrane: volts, **others}
    without = np.broadcast_to(closure(from_sympy(rhs.xreplace({drive: 0})))(values), volts.shape)
    per_unit = np.broadcast_to(closure(from_sympy(gain))(values), volts.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        return -without / per_unit


def _stable(model: Model, parameters: Mapping[str, float], name: str, membrane: str,
            volts: np.ndarray, current: np.ndarray | None) -> np.ndarray | None:
    """Whether the equilibrium at each V (held by `current`) is stable."""
    if current is None:
        return None
    others = _others_at_equilibrium(model, parameters, membrane, volts)
    if others is None:
        return None
    values = {**_values(model, parameters), membrane: volts, **others, name: current}
    states = [s for s, _ in model.odes]
    jacobian = np.empty((volts.size, len(states), len(states)))
    for i, (_, rhs) in enumerate(model.odes):
        for j, x in enumerate(states):
            jacobian[:, i, j] = np.broadcast_to(
                closure(from_sympy(sympy.diff(rhs, x)))(values), volts.shape)
    finite = np.isfinite(jacobian).all(axis=(1, 2))
    stable = np.zeros(volts.size, bool)
    stable[finite] = np.linalg.eigvals(jacobian[finite]).real.max(axis=1) < 0
    return stable
