"""A synapse model's states between its events: the exact solution of its linear ODEs over the
time since the last event (Brian2's event-driven updates), as written trees."""

from __future__ import annotations

from typing import Iterable

import sympy

from ..frontend.synapse_model import SynapseModel
from ..ir.algebra import linear_coefficients
from ..ir.symbols import DT
from ..ir.written import from_sympy
from .linear import feedforward_step, numeric_step

ELAPSED = sympy.Symbol("lg_h")  # the time since a synapse's last event, in its model's unit


def propagation(model: SynapseModel, invariant: Iterable[sympy.Symbol] = ()
                ) -> list[tuple[sympy.Symbol, object]]:
    """(state, tree of its value after ELAPSED) for the states with ODEs: the exact solution of
    the linear ODEs, with the other states held. Subtrees of `invariant` symbols alone (the
    parameters every synapse shares) come first in products, so that they can be hoisted."""
    evolving = [s for s, _ in model.odes]
    held = [q.symbol for q in model.states if q.symbol not in evolving]
    variables = evolving + held
    rows = []
    for _, rate in model.odes:
        split = linear_coefficients(rate, variables)
        assert split is not None, "synapse_model.py admits linear ODEs only"
        coefficients, remainder = split
        rows.append([coefficients[v] for v in variables] + [remainder])
    step = feedforward_step(evolving, variables, rows) or numeric_step(evolving, variables, rows)
    varying = {ELAPSED, *variables, *(q.symbol for q in model.parameters)} - set(invariant)
    # `+ 0` makes a plain number (a held state's 0) a SymPy one, without parsing anything
    return [(s, from_sympy((sympy.Integer(0) + value).xreplace({DT: ELAPSED}), first=varying))
            for s, value in step]
