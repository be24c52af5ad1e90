"""Lower a StepMap into the statement IR: every model behaviour of one neuron's step, decided here.

Resets (before or after the update, undelayed corrections), refractory blocking, quantisation,
the precise crossing search, the winner-take-all margin and the noise draw are all statements
built in Python, so they can be tested without a compiler; a target only prints them. (What
crosses neurons, synaptic events scaled by graded spikes and the choice of the winner, belongs
to the schedule.)
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Collection, Mapping, Sequence

import sympy

from ..numerics.discretize import TAU, StepMap
from ..numerics.methods import METHODS
from ..numerics.methods import NORMAL, SUBSTEP, normal_symbol
from ..ir.symbols import ADAPTIVE_STATE, DT, REFRACTORY_STATE, RESET, SPIKE, previous_symbol
from ..ir.statements import (INT, Assign, Integer, Block, Break, Cast, Comment, Element, Expression, If, Let,
                         Loop, NeuronStep, Select, Statement, identifiers, nodes)
from ..ir.written import (Call, Name, Neg, Node, Not, Num, Op, Tree, children, from_sympy, rebuild,
                          substitute, symbols, to_text)
from .naming import NEURON, array, local

def name(identifier: str) -> Name:
    return Name(sympy.Symbol(identifier))


@dataclass(frozen=True)
class StepOptions:
    """What of the model options shapes one neuron's step (the rest is scheduling)."""

    inhibition: bool = False
    levels: tuple[float, ...] = ()  # state quantisation levels, sorted; () for none
    time_inputs: frozenset[str] = frozenset()  # inputs with one value per step for all neurons
    shared: frozenset[str] = frozenset()  # parameters with one value for all neurons
    # no synapses connect the neurons (a single population's kernel): a synapse that is an input
    # of the equations holds its bias alone (0 without one), as a network's unconnected type does
    unconnected: bool = False


def state_names(step_map: StepMap) -> list[str]:
    """The kernel's states: the model's, then the refractory counter if there is one, then an
    adaptive method's substep size."""
    return list(step_map.state_names)


def shared_constants(step_map: StepMap, shared: frozenset[str]) -> set[sympy.Symbol]:
    """Constants that follow from shared parameters and dt alone: one value for every neuron."""
    shared_symbols = {sympy.Symbol(n) for n in shared} | {DT}
    return {k for k, tree in step_map.constants if symbols(tree) <= shared_symbols}


class _Scope:
    """Model symbol -> expression of its local, for one point of the step."""

    def __init__(self, step_map: StepMap, new: Collection[sympy.Symbol] = (),
                 previous: bool = False, propagation: str | None = None) -> None:
        model = step_map.model
        table: dict[sympy.Symbol, Expression] = {
            DT: name("lg_dt"), SPIKE: Cast(name("lg_spike")), RESET: Cast(name("lg_reset")),
            TAU: name("lg_tau"), NORMAL: name("lg_normal_z"), SUBSTEP: name("lg_rk_hs")}
        table.update({normal_symbol(xi): name(_normal_local(xi)) for xi in model.noise_symbols})
        for s in model.state_symbols:
            kind = propagation or ("new" if s in new else "state")
            table[s] = name(local(kind, s.name))
        table.update({p: name(local("parameter", p.name)) for p in model.parameter_symbols})
        table.update({u: name(local("input", u.name)) for u in model.input_symbols})
        table.update({y: name(local("synapse", y.name)) for y in model.synapse_symbols})
        table.update({k: name(k.name) for k, _ in step_map.constants + step_map.stages})
        if previous:
            table.update({previous_symbol(s.name): name(local("state", s.name))
                          for s in model.state_symbols})
        self.table = table

    def __call__(self, tree: Tree) -> Expression:
        return substitute(inverse_exprel_calls(tree), self.table)


def inverse_exprel_calls(tree: Tree) -> Tree:
    """1/exprel(x) as one call, x/(e^x - 1): one division rather than exprel's and the
    reciprocal's (Hodgkin-Huxley's alpha_m and alpha_n are so written)."""
    tree = rebuild(tree, [inverse_exprel_calls(child) for child in children(tree)])
    if (isinstance(tree, Op) and tree.op == "/" and tree.left == Num(1)
            and isinstance(tree.right, Call) and tree.right.function == "exprel"):
        return Call("inverse_exprel", tree.right.args)
    return tree


def lower(step_map: StepMap, options: StepOptions) -> NeuronStep:
    """One neuron's step as statements (see NeuronStep for what it leaves to the schedule)."""
    model = step_map.model
    states = model.state_symbols
    before = _Scope(step_map)
    after = _Scope(step_map, new=set(states), previous=True)
    spike_tree = model.spike_tree
    spike_now = after(spike_tree)
    if model.spike_on == "crossing":
        spike_now = Op("and", spike_now, Not(before(spike_tree)))
    if step_map.refractory:
        spike_now = Op("and", spike_now, Not(name("lg_refractory")))
    reset_test = before(spike_tree)
    resets = [_reset(step_map, s, t, after) for s, t in step_map.reset]
    timing = step_map.reset_timing

    loads = _loads(step_map, options)
    body: list[Statement] = []
    body += [Let(_normal_local(xi), _draw(xi)) for xi in model.noise_symbols]
    body += [Assign(local("state", s.name), before(tree)) for s, tree in step_map.noise_updates]
    if timing == "next_step":
        loads += [Comment(f"reset if the state before this step spiked: {model.spike}"),
                  Let("lg_reset", reset_test, INT)]
        body += [s for r in resets if r.offset for s in r.decide(reset_test, "before the update")]
    body += _refractory_flag(step_map)
    held_stages, held_updates = dict(step_map.held_stages), dict(step_map.held_updates)
    if step_map.adaptive:
        body += _adaptive(step_map, held_stages, held_updates)
    for k, tree in step_map.stages if not step_map.adaptive else ():
        body += [Comment(f"{k.name.removeprefix('lg_')} = {to_text(tree)}"),
                 *_held_comment(k, held_stages),
                 Let(k.name, _while_refractory(held_stages.get(k), before(tree), before,
                                               _hold_flag(step_map)))]
    updated: set[sympy.Symbol] = set()
    for state, tree in step_map.updates if not step_map.adaptive else ():
        scope = _Scope(step_map, new=updated) if step_map.sequential else before
        body += [Comment(f"{state} <- {to_text(tree)}"),
                 *_held_comment(state, held_updates),
                 Let(local("new", state.name),
                     _while_refractory(held_updates.get(state), scope(tree), scope,
                                       _hold_flag(step_map)), mutable=True)]
        updated.add(state)
    body += _refractory_block(step_map)
    body += _after_step(step_map, after)
    if step_map.propagator:
        body += _precise(step_map, spike_now, reset_test, resets)
    else:
        if timing == "same_step":
            body += [Comment(f"spike if {model.spike}, then reset at once"),
                     Let("lg_reset", spike_now, INT)]
        for r in resets:
            if not r.offset and _costly(r.value):  # computed only where the neuron resets
                body += [Comment(r.comment + " (where it resets: its functions are costly)"),
                         Let(r.temporary, Num(0.0), mutable=True),
                         If(name("lg_reset"), (Assign(r.temporary, r.value),))]
            elif not r.offset:
                body += [Comment(r.comment), Let(r.temporary, r.value)]
            elif timing == "same_step":
                body += r.decide(spike_now, "")
        body += [r.apply() for r in resets]
    body += [Assign(local("new", s.name), Op("-", Call("quantize", (name(local("new", s.name)),)),
                                             Op("-", name(local("new", s.name)),
                                                name(local("new", s.name)))))
             for s in (states if options.levels else ())]
    if step_map.propagator:
        body.append(Let("lg_spike", Op(">=", name("lg_offset"), Num(0.0)), INT))
    elif timing == "same_step":
        body.append(Let("lg_spike", name("lg_reset"), INT))
    else:
        body += [Comment(f"spike if {model.spike}"), Let("lg_spike", spike_now, INT)]
    body += _refractory_count(step_map, before)
    after_spike = _correction(step_map, after)
    margin = (after(Op("-", from_sympy(model.spike.lhs), from_sympy(model.spike.rhs)))
              if options.inhibition else None)
    rest = [*body, *after_spike] + ([margin] if margin is not None else [])
    outputs = ["lg_reset"] if options.inhibition else []  # the schedule keeps it for later
    return NeuronStep(step=tuple(_used(loads, rest, outputs) + body), after_spike=tuple(after_spike), margin=margin)


def _normal_local(noise: sympy.Symbol) -> str:
    """The local holding a noise source's normal draw of this step."""
    return "lg_normal_z" if normal_symbol(noise) == NORMAL else f"lg_normal_z_{noise.name}"


def noise_key(noise: sympy.Symbol) -> int:
    """The 64-bit key that sets a named noise source's stream apart (xi's is 0, its stream as it
    always was): a hash of the name, so a source draws the same numbers whatever other sources
    the model has."""
    return int.from_bytes(hashlib.blake2b(noise.name.encode(), digest_size=8).digest(), "little")


def _draw(noise: sympy.Symbol) -> Expression:
    """This step's standard normal number of a noise source, for this neuron and batch row."""
    return Call("normal", () if normal_symbol(noise) == NORMAL else (Integer(noise_key(noise)),))


def _loads(step_map: StepMap, options: StepOptions) -> list[Statement]:
    """The neuron's values read from the schedule's arrays (unused ones are dropped later). A
    noisy state stepped first (noise_updates) is a mutable local."""
    model = step_map.model
    shared_k = shared_constants(step_map, options.shared)
    stepped_first = {s.name for s, _ in step_map.noise_updates}
    loads: list[Statement] = [Let(local("state", n), Element(array("state", n), NEURON),
                                  mutable=n in stepped_first)
                              for n in state_names(step_map)]
    loads += [Let(local("parameter", p.name), Element(array("parameter", p.name), NEURON))
              for p in model.parameter_symbols if p.name not in options.shared]
    loads += [Let(k.name, Element(array("constant", k.name.removeprefix("lg_")), NEURON))
              for k, _ in step_map.constants if k not in shared_k]
    for u in model.input_symbols:
        value: Expression = (name(array("time_input", u.name)) if u.name in options.time_inputs
                             else Element(array("input", u.name), NEURON))
        loads.append(Let(local("input", u.name), value))
    for y in model.synapses:
        if y.target:
            continue
        unconnected: Expression = name(local("parameter", y.bias)) if y.bias else Num(0.0)
        loads.append(Let(local("synapse", y.name), unconnected if options.unconnected
                         else Element(array("synapse", y.name), NEURON)))
    return loads


# GSL's standard step control (gsl_odeiv_control_y_new, as NEST uses it): a substep whose largest
# error ratio exceeds 1.1 is taken again with h*max(0.9*ratio^(-1/order), 0.2); one under 0.5
# lets h grow by 0.9*ratio^(-1/(order+1)), at most 5 times, never shrinking; else h is kept.
SAFETY, REJECT, GROW, SHRINK_LIMIT, GROW_LIMIT = 0.9, 1.1, 0.5, 0.2, 5.0
TINY_RATIO = 1e-30  # the error ratio's floor, so that a zero error grows h by the limit


def _adaptive(step_map: StepMap, held_stages: Mapping[sympy.Symbol, Node],
              held_updates: Mapping[sympy.Symbol, Node]) -> list[Statement]:
    """An adaptive method's step: substeps of h from the state before the step (lg_y_X) to the
    end of the step, each accepted when its error estimate is within rtol and atol, h carried
    to the next step in the hidden state rkf45_h. More than the most substeps allowed leaves the
    neuron short of the step's end and flips the sign of its rkf45_h, for the run to report."""
    rtol, atol, limit = step_map.adaptive
    order = METHODS[step_map.method].order or 1
    states = step_map.model.state_symbols
    inner = _Scope(step_map, propagation="substep")
    h, hs, t, err, dt = (name(n) for n in ("lg_rk_h", "lg_rk_hs", "lg_rk_t", "lg_rk_err", "lg_dt"))
    carried = name(local("state", ADAPTIVE_STATE))
    size = Call("abs", (carried,))
    left = Op("-", dt, t)
    body: list[Statement] = [Let("lg_rk_last", Op(">=", h, left), INT),
                             Let("lg_rk_hs", Select(name("lg_rk_last"), left, h))]
    for k, tree in step_map.stages:
        body += [*_held_comment(k, held_stages),
                 Let(k.name, _while_refractory(held_stages.get(k), inner(tree), inner))]
    ratios: list[Expression] = []
    for state, tree in step_map.updates:
        trial = local("trial", state.name)
        body += [*_held_comment(state, held_updates),
                 Let(trial, _while_refractory(held_updates.get(state), inner(tree), inner))]
        ratios.append(Op("/", Call("abs", (inner(dict(step_map.errors)[state]),)),
                         Op("+", Num(atol), Op("*", Num(rtol), Call("abs", (name(trial),))))))
    ratio = ratios[0]
    for other in ratios[1:]:
        ratio = Call("max", (ratio, other))
    grow = Call("clip", (Op("*", Num(SAFETY), Call("pow", (Call("max", (err, Num(TINY_RATIO))),
                                                           Num(-1.0 / (order + 1))))),
                         Num(1.0), Num(GROW_LIMIT)))
    shrink = Call("max", (Op("*", Num(SAFETY), Call("pow", (err, Num(-1.0 / order)))),
                          Num(SHRINK_LIMIT)))
    body += [Let("lg_rk_err", ratio),
             If(Op(">", err, Num(REJECT)), (Assign("lg_rk_h", Op("*", hs, shrink)),), (
                 *(Assign(local("substep", s.name), name(local("trial", s.name)))
                   for s in states),
                 Assign("lg_rk_t", Select(name("lg_rk_last"), dt, Op("+", t, hs))),
                 Assign("lg_rk_h", Op("*", hs, Select(Op("<", err, Num(GROW)), grow,
                                                      Num(1.0))))))]
    start = Select(Op("and", Op(">", size, Num(0.0)), Op("<", size, dt)), size, dt)
    short = Op("or", Op("<", t, dt), Op("<", carried, Num(0.0)))
    return [Comment(f"{step_map.method}: substeps within the step, each kept when its error "
                    f"is under {atol:g} + {rtol:g}*|x| (GSL's control), h carried in "
                    f"{ADAPTIVE_STATE} (0: start at dt)"),
            Let("lg_rk_h", start, mutable=True),
            Let("lg_rk_t", Num(0.0), mutable=True),
            *(Let(local("substep", s.name), name(local("state", s.name)), mutable=True)
              for s in states),
            Loop("lg_rk_substep", limit, Op("<", t, dt), tuple(body)),
            *(Let(local("new", s.name), name(local("substep", s.name)), mutable=True)
              for s in states),
            Comment(f"short of the step's end after {limit} substeps (now or before): "
                    f"{ADAPTIVE_STATE} < 0 marks the neuron for the run's report"),
            Let(local("new", ADAPTIVE_STATE),
                Select(short, Neg(Call("max", (h, Num(TINY_RATIO)))), h))]


def _used(loads: list[Statement], rest: Sequence[Statement | Expression], outputs: list[str]
          ) -> list[Statement]:
    """The loads (and the next-step reset flag) that the rest of the step or the schedule
    reads, with their comments: a kernel then declares only what it uses."""
    used = identifiers(rest) | set(outputs)
    needed = [False] * (len(loads) + 1)
    for i in reversed(range(len(loads))):  # a load may read an earlier one (the reset flag)
        load = loads[i]
        needed[i] = not isinstance(load, Let) or load.name in used
        if needed[i]:
            used |= identifiers(load.value) if isinstance(load, Let) else set()
    return [s for i, s in enumerate(loads)  # a comment goes with the statement after it
            if needed[i + 1 if isinstance(s, Comment) else i]]


@dataclass(frozen=True)
class _Reset:
    """One state's reset: X <- value, or X <- X op amount when the amount is free of states
    (then a masked amount decided before the update, off the update's critical path)."""

    state: str
    value: Expression
    comment: str
    offset: str | None = None  # "+" or "-"
    amount: Expression | None = None

    @property
    def temporary(self) -> str:
        return local("reset", self.state)

    @property
    def new(self) -> str:
        return local("new", self.state)

    def decide(self, condition: Expression, when: str) -> list[Statement]:
        assert self.amount is not None
        neutral = Num(0.0) if self.offset == "-" else Neg(Num(0.0))  # X - 0 and X + -0 are X
        note = f": the amount, decided {when}" if when else ""
        return [Comment(self.comment + note),
                Let(self.temporary, Select(condition, self.amount, neutral))]

    def apply(self) -> Statement:
        if self.offset:
            return Assign(self.new, Op(self.offset, name(self.new), name(self.temporary)))
        return Assign(self.new, Select(name("lg_reset"), keeping_nonfinite(self.temporary, self.new),
                                       name(self.new)))


# Functions a reset's value may call that cost tens of nanoseconds: such a value is computed
# only in the neurons that reset (NIR's LIF counts its crossings of a step with two logs and a
# power: computed in every neuron at every step and selected, its kernel took 47 ns per
# neuron-step instead of 1.2).
COSTLY = frozenset({"exp", "expm1", "log", "log1p", "pow", "sin", "cos", "tanh", "sinh",
                    "cosh", "exprel", "inverse_exprel"})


def _costly(value: Expression) -> bool:
    """Whether `value` calls one of the COSTLY functions."""
    return any(isinstance(node, Call) and node.function in COSTLY for node in nodes(value))


def keeping_nonfinite(value: str, replaced: str) -> Expression:
    """`value - (replaced - replaced)`: exactly `value` while `replaced` is finite (x - x is +0,
    and v - +0 is v, signed zeros too), NaN when it was NaN or infinite. A reset, a refractory
    hold or a quantisation that replaces a state thus never hides a NaN or an infinity: the
    state stays NaN, and the run's check of the final state reports it."""
    return Op("-", name(value), Op("-", name(replaced), name(replaced)))


def _reset(step_map: StepMap, state: sympy.Symbol, tree: Node, after: _Scope) -> _Reset:
    comment = f"reset ({step_map.reset_mechanism}): {state} <- {to_text(tree)}"
    states = set(step_map.model.state_symbols)
    previous = {previous_symbol(s.name) for s in states}
    if (isinstance(tree, Op) and tree.op in "+-" and tree.left == Name(state)
            and not symbols(tree.right) & (states | previous)):
        return _Reset(state.name, after(tree), comment, tree.op, after(tree.right))
    return _Reset(state.name, after(tree), comment)


def _refractory_flag(step_map: StepMap) -> list[Statement]:
    """Whether the neuron is refractory in this step: the counter before the step is positive.
    Known before the update, which selects the held step's stages and updates by it."""
    if not step_map.refractory:
        return []
    _, frozen = step_map.refractory
    counter = name(local("state", REFRACTORY_STATE))
    if step_map.refractory_limits:  # a clamp_period: two thresholds of the one counter
        spiking, clamp = (_Scope(step_map)(t) for t in step_map.refractory_limits)
        return [Comment(f"no spike while {REFRACTORY_STATE} > {to_text(spiking)}"),
                Let("lg_refractory", Op(">", counter, spiking), INT),
                Comment(f"{', '.join(map(str, frozen))} held while {REFRACTORY_STATE} > "
                        f"{to_text(clamp)} (the clamp_period)"),
                Let("lg_clamped", Op(">", counter, clamp), INT)]
    held = f": {', '.join(map(str, frozen))} held, no spike" if frozen else ": no spike"
    return [Comment(f"refractory while {REFRACTORY_STATE} > 0{held}"),
            Let("lg_refractory", Op(">", counter, Num(0.0)), INT)]


def _hold_flag(step_map: StepMap) -> Name:
    """The flag that holds the frozen states: the clamp_period's, else the refractory one."""
    return name("lg_clamped" if step_map.refractory_limits else "lg_refractory")


def _while_refractory(held: Node | None, tree: Expression, scope: _Scope,
                      flag: Expression = name("lg_refractory")) -> Expression:
    """`tree`, or the held step's value in its place while refractory (None: the same in both)."""
    return tree if held is None else Select(flag, scope(held), tree)


def _held_comment(key: sympy.Symbol, held: Mapping[sympy.Symbol, Node]) -> list[Statement]:
    """The held step's value of a stage or update, as a comment beside the step's own."""
    if key not in held:
        return []
    return [Comment(f"while refractory (frozen states held): {key.name.removeprefix('lg_')} "
                    f"{'=' if key.name.startswith('lg_') else '<-'} {to_text(held[key])}")]


def _refractory_block(step_map: StepMap) -> list[Statement]:
    """While the counter runs, the frozen states keep their values (a NaN or an infinity stays)."""
    if not step_map.refractory:
        return []
    _, frozen = step_map.refractory
    return [Assign(local("new", s.name),
                   Select(_hold_flag(step_map),
                          keeping_nonfinite(local("state", s.name), local("new", s.name)),
                          name(local("new", s.name)))) for s in frozen]


# How the steps of a refractory period are counted: (what the code's comment says, whether the
# spike's own step is one of them). Brian2 counts the spike's step; NEST's iaf models clamp for
# the whole period after it (t_ref = 2 ms at h = 0.1 ms: 19 clamped steps, or 20).
REFRACTORY_COUNTING = {"brian2": ("this one included, as Brian2 counts", True),
                       "nest": ("after this one, as NEST counts", False)}


def _refractory_count(step_map: StepMap, before: _Scope) -> list[Statement]:
    if not step_map.refractory:
        return []
    steps = before(step_map.refractory[0])
    counter = name(local("state", REFRACTORY_STATE))
    one, zero = Num(1.0), Num(0.0)
    counting = REFRACTORY_COUNTING[step_map.model.refractory_counting]
    return [Comment(f"a spike starts the refractory period ({to_text(step_map.refractory[0])} "
                    f"steps, {counting[0]})"),
            Let(local("new", REFRACTORY_STATE),
                Select(name("lg_spike"), Op("-", steps, one) if counting[1] else steps,
                       Select(Op(">", counter, zero), Op("-", counter, one), zero)))]


def _after_step(step_map: StepMap, after: _Scope) -> list[Statement]:
    """[after_step]: assignments to the integrated state before the spike test (NESTML's clamp
    V = max(V_min, V)); every right side reads the state after the update, as a reset's do."""
    pairs = step_map.model.after_step
    body: list[Statement] = []
    for s, tree in pairs:
        body += [Comment(f"after the step: {s} <- {to_text(tree)}"),
                 Let(local("after", s.name), after(tree))]
    return body + [Assign(local("new", s.name), name(local("after", s.name))) for s, _ in pairs]


def _correction(step_map: StepMap, after: _Scope) -> list[Statement]:
    """reset_delay=False: the spike of this step acts on the states at once."""
    body: list[Statement] = []
    for s, tree in step_map.correction:
        body += [Comment(f"reset_delay=False: {s} <- {to_text(tree)}"),
                 Let(local("correction", s.name), after(tree))]
    body += [Assign(local("new", s.name), name(local("correction", s.name)))
             for s, _ in step_map.correction]
    return body


def _precise(step_map: StepMap, spike_now: Expression, reset_test: Expression,
             resets: list[_Reset]) -> list[Statement]:
    """Find the threshold crossing inside the step on the closed form (bisection of the exact
    solution), reset at that instant, then integrate the rest of the step exactly."""
    crossing = _Scope(step_map, propagation="to")(step_map.model.spike_tree)
    from_start = _Scope(step_map)
    from_reset = _Scope(step_map, propagation="from")
    low, high, tau, offset = (name(n) for n in ("lg_low", "lg_high", "lg_tau", "lg_offset"))

    def propagate(scope: _Scope) -> list[Statement]:
        return [Let(local("to", s.name), scope(tree)) for s, tree in step_map.propagator]

    def take() -> list[Statement]:
        return [Assign(local("new", s.name), name(local("to", s.name)))
                for s, _ in step_map.propagator]

    search = Loop("lg_round", 80, Op(">", high, Num(0.0)), (
        Let("lg_tau", Op("*", Num(0.5), Op("+", low, high))),
        If(Op("or", Op("<=", tau, low), Op(">=", tau, high)), (Break(),)),
        *propagate(from_start),
        If(crossing, (Assign("lg_high", tau),), (Assign("lg_low", tau),))))
    found: tuple[Statement, ...] = (
        Let("lg_low", Num(0.0), mutable=True), Let("lg_high", name("lg_dt"), mutable=True),
        If(reset_test, (Assign("lg_high", Num(0.0)),)),
        search,
        Assign("lg_offset", high),
        Block((Let("lg_tau", offset), *propagate(from_start), *take())),
        *(Let(r.temporary, r.value) for r in resets),
        *(Assign(r.new, name(r.temporary)) for r in resets),
        Block((*(Let(local("from", s.name), name(local("new", s.name)))
                 for s, _ in step_map.propagator),
               Let("lg_tau", Op("-", name("lg_dt"), offset)),
               *propagate(from_reset), *take())))
    return [Comment("precise mode: the crossing inside the step, by bisection of the exact "
                    "solution; reset there, then the rest of the step"),
            Let("lg_offset", Num(-1.0), mutable=True),
            If(spike_now, found)]
