"""Lower a plastic synapse's events into the statement IR: propagate its states from its last
event, run the synapse model's `on_pre` or `on_post` statements, store the states and the event's
step. Every target prints the same statements; nothing here is C.

A synapse computes in double whatever the program's float type (Brian2 keeps synaptic states in
double): its states and the step of its last event live in one block of doubles per synapse and
batch row, `[last event step, state 1, state 2, ...]`, so that an event reads one block. The time
since the last event is h = (t - last) * dt * time_factor, in the synapse model's time unit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, cast

import sympy

from ..frontend.synapse_model import TARGET
from ..ir.statements import (DOUBLE, Assign, Block, Comment, Double, Element, Expression,
                             Integer, Let, Statement, Store, View)
from ..ir.written import Name, Num, Op, Tree, substitute, to_text
from ..numerics.synapse_propagation import ELAPSED
from .synapse_binding import Plastic, hoisted_propagation

SYNAPSE = "lg_s"  # the local that numbers the synapse of an event (in CSR order)
POST = "lg_i"  # the local that numbers its postsynaptic neuron (on_pre's target)
BLOCK = "lg_block"  # the synapse's block of doubles: last event step, then its states
EVENTS = ("on_pre", "on_post")


def name(identifier: str) -> Name:
    return Name(sympy.Symbol(identifier))


def state_local(state: str) -> str:
    return f"q_{state}"


def parameter_local(parameter: str) -> str:
    return f"qp_{parameter}"


@dataclass(frozen=True)
class Site:
    """Where one plastic synapse set's events read and write in a program: its buffers of
    states (doubles, [row][synapse][1 + states]) and parameters ([parameter][synapse]), the
    expressions of the synapse count, batch row, step and dt (the neuron model's unit), and the
    array that on_pre's target adds to, indexed by the postsynaptic neuron."""

    states: str
    params: str
    n_synapses: Expression
    row: Expression
    time: Expression
    dt: Expression
    target: str


def block_size(plastic: Plastic) -> int:
    """Doubles per synapse and batch row: the step of its last event, then its states."""
    return 1 + len(plastic.model.states)


def per_step(plastic: Plastic, site: Site) -> list[Statement]:
    """What every event of a step shares, computed once per step: the parameters that every
    synapse shares, and the propagation's subtrees of them alone (exp(-1/tau) factors)."""
    model = plastic.model
    out: list[Statement] = [
        Let(parameter_local(p), Element(site.params, _times(Integer(k), site.n_synapses)), DOUBLE)
        for k, p in enumerate(model.parameter_names) if p in plastic.shared]
    table = _names(plastic, site)
    for constant, tree in hoisted_propagation(plastic)[0]:
        out += [Comment(f"{constant} = {to_text(tree)}"),
                Let(constant.name, Double(_in(tree, table)), DOUBLE)]
    return out


def event(plastic: Plastic, which: str, site: Site) -> Block:
    """Synapse lg_s's event `which` ("on_pre" or "on_post") at the site's step: its states
    propagated from its last event, the model's statements in order, then states and step stored
    (on_pre's target, `target += w`, adds to the site's target at neuron lg_i)."""
    assert which in EVENTS, which
    model = plastic.model
    table = _names(plastic, site)
    body: list[Statement] = [
        Comment(f"{model.name}, {which}: propagate from the last event, then the statements"),
        *propagated(plastic, site),
        Store(BLOCK, Integer(0), site.time)]
    for target, tree in getattr(model, which):
        written = Double(_in(tree, table))
        body += [Comment(f"{'target' if target == TARGET else target} <- {to_text(tree)}"),
                 Store(site.target, name(POST), written) if target == TARGET else
                 Assign(state_local(str(target)), written)]
    body += [Store(BLOCK, Integer(k + 1), name(state_local(s)))
             for k, s in enumerate(model.state_names)]
    return Block(tuple(body))


def propagated(plastic: Plastic, site: Site) -> list[Statement]:
    """Synapse lg_s's states as locals q_X, propagated from its last event to the site's step,
    with its own parameters as locals qp_X (a view `lg_block` on its block of doubles)."""
    model = plastic.model
    offset = _times(Op("+", _times(site.row, site.n_synapses), name(SYNAPSE)),
                    Integer(block_size(plastic)))
    elapsed: Expression = _times(Op("-", site.time, Element(BLOCK, Integer(0))), site.dt)
    if plastic.time_factor != 1.0:
        elapsed = _times(elapsed, Num(plastic.time_factor))
    out: list[Statement] = [View(BLOCK, site.states, offset, "double"),
                            Let("lg_h", Double(elapsed), DOUBLE)]
    out += [Let(state_local(s), Element(BLOCK, Integer(k + 1)), DOUBLE, mutable=True)
            for k, s in enumerate(model.state_names)]
    out += [Let(parameter_local(p), Element(site.params, Op("+", _times(
        Integer(k), site.n_synapses), name(SYNAPSE))), DOUBLE)
            for k, p in enumerate(model.parameter_names) if p not in plastic.shared]
    table = _names(plastic, site)
    trees = hoisted_propagation(plastic)[1]
    for state, tree in trees:  # every new value from the old ones, then assigned
        out += [Comment(f"{state} <- {to_text(tree)}"),
                Let(f"lg_e_{state}", Double(_in(tree, table)), DOUBLE)]
    return out + [Assign(state_local(str(state)), name(f"lg_e_{state}")) for state, _ in trees]


def _names(plastic: Plastic, site: Site) -> dict[sympy.Symbol, Any]:
    """The synapse model's symbols as the event's locals (the target as its array element)."""
    model = plastic.model
    table: dict[sympy.Symbol, Any] = {q.symbol: name(state_local(q.name)) for q in model.states}
    table.update({q.symbol: name(parameter_local(q.name)) for q in model.parameters})
    table.update({ELAPSED: name("lg_h"), TARGET: Element(site.target, POST)})
    return table


def _in(tree: Any, table: Mapping[sympy.Symbol, Any]) -> Expression:
    """A synapse model's tree with its symbols replaced by the event's locals."""
    return cast(Expression, substitute(cast(Tree, tree), table))


def _times(a: Expression, b: Expression) -> Expression:
    return Op("*", a, b)


