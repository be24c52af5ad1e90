"""A tile's neuron step split into rounds of elementary-function calls, for steps that call
them at more than one site (a Hodgkin-Huxley rk4 step: 24, AdEx's: 4). Each round is one loop
over the tile's neurons that computes what it can and stores the arguments of the calls it makes
possible; each function is then applied, in place, to all of the round's arguments in one
vectorized loop (lg_apply_<function>, compiled once); the next round reads the results. The last
round is the step that the schedule's loop runs as before. The same expressions in the same
order, so the same bits; but no call inside the neuron loops, and no function body inlined there.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import sympy

from ...ir.statements import (REAL, AddTo, Apply, Cast, Comment, Double, Element, Equal,
                              Expression, Integer, Let, Remainder, Select, Statement, Store,
                              identifiers, nodes)
from ...ir.written import Call, Name, Neg, Not, Op, children, rebuild
from .printer import BINARY_CALLS, ELEMENTARY_CALLS

NEURON = "lg_i"  # the tile loops' neuron index
LANES = "lg_lanes"  # the neurons each round's loop runs over (the tile's, or fewer)
CALLS = "lg_round{}_{}"  # a tile's arguments of a round's calls of a function, then their values
KEPT = "lg_kept_"  # + local: a tile's values of a local that a later round reads
UNARY = frozenset(ELEMENTARY_CALLS) - frozenset(BINARY_CALLS)
LAST = 1 << 30  # the round of what waits for the last loop (read before it is known)
# A step with one call site keeps it inline (lif_coba: no faster in rounds); from two on, rounds
# ran faster than inlined calls (adex, eif rk4: 4 rounds of one exp, 1.1x and 1.2x) and than
# vector clones (hodgkin_huxley rk4), for the same or less of gcc's time.
ROUNDS_FROM_SITES = 2


@dataclass(frozen=True)
class Round:
    """One loop over a tile's neurons, then each function applied to the arguments it stored."""

    loop: tuple[Statement, ...]
    applied: tuple[Apply, ...]


@dataclass(frozen=True)
class CallRounds:
    """The rounds before the last, the last (the schedule's own loop), and the tile's arrays
    they share with their sizes in tiles: each function's calls, each kept local."""

    rounds: tuple[Round, ...]
    last: tuple[Statement, ...]
    arrays: tuple[tuple[str, int], ...]


def call_rounds(step: tuple[Statement, ...], last_reads: frozenset[str]) -> CallRounds | None:
    """`step` split into rounds of calls, or None where it has none or cannot be split (a call
    inside a branch or loop, or a function of two arguments). `last_reads`: what the schedule's
    last loop reads besides the step (after_spike's names, the new states, the spike flag)."""
    if any(isinstance(node, Call) and node.function in BINARY_CALLS for node in nodes(step)):
        return None
    if any(not isinstance(s, Let) and _calls(s) for s in step):
        return None
    plan = _Plan(_written_arrays(step))
    for statement, comments in _with_comments(step):
        plan.place(statement, comments)
    if not plan.slots:
        return None
    return plan.rounds(last_reads)


class _Plan:
    """Where each statement goes: the round after the last call whose value it needs."""

    def __init__(self, written: set[str]) -> None:
        self.written = written  # arrays the step writes: who reads them stays in order
        self.ready: dict[str, int] = {}  # local -> the round that computes it
        self.copied: dict[str, Let] = {}  # locals each round reads afresh (an array element)
        self.placed: list[tuple[int, tuple[Statement, ...]]] = []  # (round, comments + it)
        self.stored: list[tuple[int, Store]] = []  # the calls' arguments, by round
        self.slots: dict[tuple[int, str], int] = {}  # (round, function) -> its calls

    def place(self, statement: Statement, comments: tuple[Statement, ...]) -> None:
        if not isinstance(statement, Let) or statement.mutable or statement.type != REAL or (
                identifiers(statement.value) & self.written):
            value = statement.value if isinstance(statement, Let) else None
            if value is not None:
                statement = dataclasses.replace(statement, value=self._value(value)[0])
            if isinstance(statement, Let):
                self.ready[statement.name] = LAST
            self.placed.append((LAST, (*comments, statement)))
            return
        if isinstance(statement.value, Element) and statement.value.index == NEURON:
            self.copied[statement.name] = statement  # read afresh where needed, not kept
            self.ready[statement.name] = 0
            return
        value, ready = self._value(statement.value)
        self.ready[statement.name] = ready
        self.placed.append((ready, (*comments, dataclasses.replace(statement, value=value))))

    def _value(self, node: Any) -> tuple[Any, int]:
        """`node` with each call whose argument is known before the last loop read from its
        function's array, and the round from which it can be computed."""
        if isinstance(node, Name):
            return node, self.ready.get(node.text, 0)
        if isinstance(node, Double):  # computed in double whatever the tile's float type
            return node, max((self.ready.get(n, 0) for n in identifiers(node)), default=0)
        parts = [self._value(n) for n in _operands(node)]
        ready = max((r for _, r in parts), default=0)
        node = _rebuilt(node, [n for n, _ in parts])
        if not (isinstance(node, Call) and node.function in UNARY) or ready >= LAST:
            return node, ready
        slot = self.slots.get((ready, node.function), 0)
        self.slots[ready, node.function] = slot + 1
        array, index = CALLS.format(ready, node.function), _index(slot)
        self.stored.append((ready, Store(array, index, node.args[0])))
        return Element(array, index), ready + 1

    def rounds(self, last_reads: frozenset[str]) -> CallRounds:
        """The rounds' statements, each reading the locals of earlier rounds from their arrays."""
        last = max([r for r, _ in self.placed if r < LAST] + [r + 1 for r, _ in self.slots])
        bodies: list[list[Statement]] = [[] for _ in range(last + 1)]
        for ready, statements in self.placed:
            bodies[min(ready, last)] += statements
        for ready, store in self.stored:
            bodies[ready].append(store)
        home = {name: min(r, last) for name, r in self.ready.items() if name not in self.copied}
        kept: set[str] = set()
        loops = []
        for number, body in enumerate(bodies):
            reads = identifiers(body) | (last_reads if number == last else set())
            loads: list[Statement] = [s for name, s in self.copied.items() if name in reads]
            for name in sorted(reads):
                if home.get(name, number) < number:
                    kept.add(name)
                    loads.append(Let(name, Element(KEPT + name, NEURON)))
            loops.append([*loads, *body])
        for name in sorted(kept):
            loops[home[name]].append(Store(KEPT + name, Name(sympy.Symbol(NEURON)),
                                           Name(sympy.Symbol(name))))
        rounds = tuple(Round(tuple(loops[r]), tuple(
            Apply(function, CALLS.format(r, function), _offset(count))
            for (ready, function), count in sorted(self.slots.items()) if ready == r))
            for r in range(last))
        arrays = tuple((CALLS.format(*key), n) for key, n in sorted(self.slots.items())) + tuple(
            (KEPT + name, 1) for name in sorted(kept))
        return CallRounds(rounds, tuple(loops[last]), arrays)


def _with_comments(step: tuple[Statement, ...]) -> list[tuple[Statement, tuple[Statement, ...]]]:
    """Each statement with the comments just before it (they move with it)."""
    out: list[tuple[Statement, tuple[Statement, ...]]] = []
    comments: list[Statement] = []
    for statement in step:
        if isinstance(statement, Comment):
            comments.append(statement)
        else:
            out.append((statement, tuple(comments)))
            comments = []
    return out


def _calls(tree: object) -> bool:
    return any(isinstance(n, Call) and n.function in UNARY for n in nodes(tree))


def _written_arrays(step: tuple[Statement, ...]) -> set[str]:
    return {n.array for n in nodes(step) if isinstance(n, (Store, AddTo))}


def _operands(node: Any) -> tuple[Any, ...]:
    """The expressions directly inside `node` (written trees and the statement IR's own)."""
    if isinstance(node, (Op, Neg, Not, Call)):
        return children(node)
    if isinstance(node, (Select, Cast, Remainder, Equal, Double)):
        return tuple(getattr(node, f.name) for f in dataclasses.fields(node))
    if isinstance(node, Element) and not isinstance(node.index, str):
        return (node.index,)
    return ()


def _rebuilt(node: Any, operands: list[Any]) -> Any:
    if isinstance(node, (Op, Neg, Not, Call)):
        return rebuild(node, operands)
    if isinstance(node, (Select, Cast, Remainder, Equal)):
        return type(node)(*operands)
    if isinstance(node, Element) and operands:
        return Element(node.array, operands[0])
    return node


def _offset(slots: int) -> Expression:
    """slots * lg_lanes: where a slot's values start in its round's array of a function."""
    return Op("*", Integer(slots), Name(sympy.Symbol(LANES)))


def _index(slot: int) -> Expression:
    return Op("+", _offset(slot), Name(sympy.Symbol(NEURON)))
