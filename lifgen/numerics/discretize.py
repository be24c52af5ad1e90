"""Discretize a Model into a StepMap: the per-step assignments x_next = f(x, p, u) plus hoisted constants.

The methods themselves are data in `methods.py`; discrete maps and steps written in the model
file are used as written. Everything that depends only on parameters and dt is then hoisted out
of the time loop.
"""

import functools
import html
from dataclasses import dataclass, replace
from typing import Iterable

import sympy

from ..errors import InputError, ModelError
from .stability import stability_warning
from ..ir.functions import dense_entries, propagator
from .linear import exact_step, linear_coefficients
from ..ir.symbols import XI
from .methods import (DEFAULT_TOLERANCES, MAX_SUBSTEPS, METHODS, SUBSTEP, auto_by_form,
                      check_written_step, error_estimates, noise_held, normal_symbol,
                      ornstein_uhlenbeck_step, symbolic_step)
from ..ir.model import (ADAPTIVE_STATE, DISCRETE_METHOD, DT, REFRACTORY_STATE, RESET_MECHANISMS,
                        RESET_TIMINGS, Model, check_spike_reads)

TAU = sympy.Symbol("lg_tau")  # time since the start of the step, in precise mode
from ..ir.written import (Assignments, Call, Name, Num, Op, Tree, children, from_sympy, rebuild,
                         to_text)


@dataclass(frozen=True, repr=False)
class StepMap:
    """One time step of a model, ready to render: constants, updates, resets and the spike test.

    Expressions are written trees; `updates` are applied in order when `sequential` (discrete
    maps: later lines see earlier results), else all from the state before the step.
    """

    model: Model
    method: str
    dt: float | None
    constants: Assignments  # trees of parameters and dt, hoisted out of the loop
    updates: Assignments  # state <- tree
    sequential: bool
    reset: Assignments  # in terms of the updated state
    reset_mechanism: str
    reset_timing: str
    correction: Assignments = ()  # applied after the spike (reset_delay=False)
    stages: Assignments = ()  # intermediate slopes of multi-stage methods, in order
    note: str = ""  # why this method (when chosen by method="auto")
    propagator: Assignments = ()  # state <- exact solution after any time lg_tau
    refractory: tuple = ()  # (tree of the refractory steps, (frozen state, ...)), or ()
    warning: str = ""  # why the method is unstable at this dt, when it is (stability.py)
    held_stages: Assignments = ()  # stages that differ while refractory (frozen slopes zero)
    held_updates: Assignments = ()  # updates of unfrozen states that differ while refractory
    # an adaptive method (rkf45): `stages` and `updates` are one substep of length lg_h, repeated
    # within the step; `errors` each state's error estimate of a substep; `adaptive` the
    # controller's (rtol, atol, most substeps per step)
    errors: Assignments = ()
    adaptive: tuple = ()
    # with a clamp_period: (no spike while the counter exceeds this, frozen states held while
    # it exceeds this), trees of steps; (): both while it is positive
    refractory_limits: tuple = ()
    # a noisy model integrated by another method than Euler-Maruyama: each noisy state's exact
    # Ornstein-Uhlenbeck step, taken first; the method then integrates the other states with
    # the noisy ones held at their new values (as NESTML's update blocks do)
    noise_updates: Assignments = ()

    @property
    def spike(self) -> sympy.Basic:
        return self.model.spike

    @property
    def state_names(self) -> tuple[str, ...]:
        """The states the kernel keeps: the model's, then the refractory counter if any, then
        an adaptive method's substep size."""
        return (self.model.state_names + ((REFRACTORY_STATE,) if self.refractory else ())
                + ((ADAPTIVE_STATE,) if self.adaptive else ()))

    def __repr__(self) -> str:
        dt = "" if self.dt is None else f", dt={self.dt:g}"
        return f"<StepMap {self.model.name}: {self.method}{dt}>\n" + "\n".join(
            f"  {line}" for line in self.equations())

    def _repr_html_(self) -> str:
        """The step map in a notebook: its method, why (auto's note) and its equations."""
        dt = "" if self.dt is None else f", dt = {self.dt:g} {self.model.time_unit}"
        lines = html.escape("\n".join(self.equations()))
        note = f"<p>{html.escape(self.note)}</p>" if self.note else ""
        return (f"<div><b>lifgen StepMap</b>: {html.escape(self.model.name)}, "
                f"{html.escape(self.method)}{html.escape(dt)}{note}<pre>{lines}</pre></div>")

    def equations(self) -> list[str]:
        """The step map as readable lines, constants first."""
        lines: list[str] = []
        matrices: dict[tuple, str] = {}  # a propagator's (n, dt, M...) arguments -> its name
        for k, tree in self.constants:
            name = k.name.removeprefix("lg_")
            if isinstance(tree, Call) and tree.function == "propagator":
                i, j, n = (int(a.value) for a in tree.args[:3])
                if tree.args[2:] not in matrices:
                    matrices[tree.args[2:]] = f"P{len(matrices)}"
                    entries = dense_entries(n, tree.args[4:], Num(0.0), lambda k: int(k.value))
                    rows = [", ".join(to_text(e) for e in entries[r * n:(r + 1) * n])
                            for r in range(n)]
                    lines.append(f"{matrices[tree.args[2:]]} = exp(M*{to_text(tree.args[3])}), "
                                 f"computed numerically, M = [{'; '.join(rows)}]")
                lines.append(f"{name} = {matrices[tree.args[2:]]}[{i}, {j}]")
            else:
                lines.append(f"{name} = {to_text(tree)}")
        if self.adaptive:
            rtol, atol, limit = self.adaptive
            lines.append(f"{self.method}: substeps h within the step (at most {limit}), each "
                         f"taken while max |error| / ({atol:g} + {rtol:g}*|x|) <= 1.1; h starts "
                         f"from {ADAPTIVE_STATE}, the last one ends at dt")
        lines += [f"{s} <- {to_text(v)}   (exactly, first)" for s, v in self.noise_updates]
        lines += [f"{k.name.removeprefix('lg_')} = {to_text(v)}" for k, v in self.stages]
        lines += [f"{s} <- {to_text(v)}" for s, v in self.updates]
        lines += [f"error of {s} = {to_text(v)}" for s, v in self.errors]
        lines += [f"{k.name.removeprefix('lg_')} = {to_text(v)}   (while refractory: frozen "
                  f"states held)" for k, v in self.held_stages]
        lines += [f"{s} <- {to_text(v)}   (while refractory: frozen states held)"
                  for s, v in self.held_updates]
        if self.reset:
            when = ("if the previous step spiked" if self.reset_timing == "next_step"
                    else "if this step spiked")
            lines += [f"{s} <- {to_text(v)}   (reset, {self.reset_mechanism}, {when})"
                      for s, v in self.reset]
        if self.refractory:
            steps, frozen = self.refractory
            lines.append(f"refractory for {to_text(steps)} steps after a spike: no spike"
                         + (f", {', '.join(map(str, frozen))} held" if frozen else ""))
        lines.append(f"spike if {self.spike}")
        lines += [f"{s} <- {to_text(v)}   (after the spike: reset_delay=False)"
                  for s, v in self.correction]
        return [line.replace("lg_k", "k") for line in lines]


@functools.lru_cache(maxsize=32)
def _ode_step(model: Model, method: str) -> tuple[Assignments, Assignments]:
    """(stages, updates) as written trees: the model's written step for `method`, else derived.
    Free of dt's value (dt stays a symbol), so a process derives it once per model and method:
    verify compiles one method at five dts."""
    written_step = dict(model.written_steps).get(method)
    if written_step:
        check_written_step(model, method)
        return (), written_step
    stages, updates = symbolic_step(model, method, inline=False)
    variables = set(model.state_symbols) | set(model.input_symbols) | {k for k, _ in stages}
    variables |= random_variables(model)
    stage_trees = tuple((k, from_sympy(e, first=variables)) for k, e in stages)
    return stage_trees, tuple((s, from_sympy(_collect(e, variables), first=variables))
                              for s, e in updates)


def discretize(model: Model, method: str | None = None, dt: float | None = None,
               reset: str | None = None, reset_timing: str | None = None,
               reset_delay: bool | None = None, precise: bool = False,
               rtol: float | None = None, atol: float | None = None,
               dtype: str = "float64", max_substeps: int | None = None) -> StepMap:
    """Turn `model` into a StepMap with `method` and time step `dt` (None: the model file's choice).

    `method="auto"` picks exact for a linear system, else the cheapest method whose estimated
    error over a pilot run is under `rtol` (accuracy.py), and says why in `StepMap.note`.
    `precise=True` (linear models, exact method, same-step reset) finds each threshold crossing
    inside its step from the closed form and resets at that instant. An adaptive method
    (rkf45) takes `rtol` and `atol` as its error control's tolerances (DEFAULT_TOLERANCES of
    `dtype`, the kernel's float type, where not given) and takes at most `max_substeps`
    (MAX_SUBSTEPS) substeps in one step.
    """
    adaptive = (method in METHODS and METHODS[method].adaptive) or (
        method is None and model.method in METHODS and METHODS[model.method].adaptive)
    for option, value in (("atol", atol), ("max_substeps", max_substeps)):
        if value is not None and not adaptive:
            raise InputError(f"{option} is an option of an adaptive method (method='rkf45'); "
                             f"method {method or model.method!r} takes none")
    method, dt, note, inaccurate = _choose_method(model, method, dt, None if adaptive else rtol)
    reset = reset or model.reset_mechanism
    reset_timing = reset_timing or model.reset_timing
    if reset not in RESET_MECHANISMS:
        raise InputError(f"reset must be one of {RESET_MECHANISMS}, got {reset!r}")
    if reset_timing not in RESET_TIMINGS:
        raise InputError(f"reset_timing must be one of {RESET_TIMINGS}, got {reset_timing!r}")
    if reset not in dict(model.resets):
        raise InputError(f"model {model.name} defines no {reset!r} reset")
    check_spike_reads(model, reset, reset_timing)
    correction = _correction(model, reset, reset_timing, reset_delay)
    stages: Assignments  # stage symbol <- tree, hoisted below
    if model.is_discrete:
        stages, steps, sequential = (), model.update, True
    else:
        (stages, steps), sequential = _ode_step(model, method), False
    variables = set(model.state_symbols) | set(model.input_symbols) | set(model.synapse_symbols)
    variables |= random_variables(model)
    constants = Hoister(variables | {k for k, _ in stages})
    noise_updates = tuple((s, constants.hoist(tree)) for s, tree in _noise_updates(model, method))
    stages = tuple((k, constants.hoist(tree)) for k, tree in stages)
    updates = tuple((s, constants.hoist(tree)) for s, tree in steps)
    errors: Assignments = ()
    tolerances: tuple = ()
    if METHODS.get(method) is not None and METHODS[method].adaptive:
        errors = tuple((s, constants.hoist(tree)) for s, tree in _errors(model, method))
        tolerances = _tolerances(rtol, atol, dtype) + (
            MAX_SUBSTEPS if max_substeps is None else checked_max_substeps(max_substeps),)
    propagator: Assignments = ()
    if precise:
        _check_precise(model, method, reset_timing)
        constants.variables = variables | {TAU}
        first = variables | {TAU}
        propagator = tuple((s, constants.hoist(from_sympy(_collect(e.xreplace({DT: TAU}), variables),
                                                          first=first)))
                           for s, e in exact_step(model))
    refractory = _refractory(model, dt, reset, reset_timing, precise, constants)
    limits = _refractory_limits(model, constants)
    if limits:  # the counter starts at the longer of the two periods
        refractory = (constants.hoist(Call("max", (_steps(model.refractory[0]),
                                                   _steps(model.refractory_clamp)))),
                       refractory[1])
    held_stages, held_updates = _held_step(model, method, stages, constants)
    return StepMap(model=model, method=method, dt=dt, constants=constants.table(),
                   updates=updates, sequential=sequential, reset=model.reset_for(reset),
                   reset_mechanism=reset, reset_timing=reset_timing, correction=correction,
                   stages=stages, note=note, propagator=propagator, refractory=refractory,
                   warning="\n".join(filter(None, [stability_warning(model, method, dt),
                                                    inaccurate])),
                   held_stages=held_stages, held_updates=held_updates, errors=errors,
                   adaptive=tolerances, refractory_limits=limits, noise_updates=noise_updates)


def random_variables(model: Model) -> set[sympy.Symbol]:
    """The per-step numbers of the step besides states and inputs: each noise source's normal
    draw and an adaptive method's substep."""
    return {normal_symbol(xi) for xi in model.noise_symbols} | {normal_symbol(XI), SUBSTEP}


@functools.lru_cache(maxsize=32)
def _noise_updates(model: Model, method: str) -> Assignments:
    """The noisy states' exact steps where a method other than Euler-Maruyama integrates a
    noisy model (ornstein_uhlenbeck_step), as written trees; () otherwise."""
    if not model.is_stochastic or method == "euler" or model.is_discrete:
        return ()
    variables = set(model.state_symbols) | set(model.input_symbols) | random_variables(model)
    return tuple((s, from_sympy(_collect(e, variables), first=variables))
                 for s, e in ornstein_uhlenbeck_step(model))


@functools.lru_cache(maxsize=32)
def _errors(model: Model, method: str) -> Assignments:
    """An adaptive method's error estimate of each state, as written trees."""
    stages = {sympy.Symbol(f"lg_stage{i + 1}_{s}") for s in model.state_symbols
              for i in range(32)}
    return tuple((s, from_sympy(e, first=stages | {SUBSTEP}))
                 for s, e in error_estimates(model, method))


def _tolerances(rtol: float | None, atol: float | None, dtype: str) -> tuple[float, float]:
    """(rtol, atol) of an adaptive method: rtol between 0 and 1, atol at least 0; those not
    given are the float type's defaults."""
    default_rtol, default_atol = DEFAULT_TOLERANCES[dtype]
    return (default_rtol if rtol is None else checked_rtol(rtol),
            default_atol if atol is None else checked_atol(atol))


def checked_max_substeps(value: object) -> int:
    """max_substeps as an int, refused unless a whole number from 1 to 10^9."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 10**9:
        raise InputError(f"max_substeps must be a whole number from 1 to 10^9, got {value!r}")
    return int(value)


def checked_atol(atol: object) -> float:
    """atol as a float, refused unless a finite number of at least 0."""
    if isinstance(atol, bool) or not isinstance(atol, (int, float)) or not 0 <= atol < float("inf"):
        raise InputError(f"atol must be a finite number of at least 0, got {atol!r}")
    return float(atol)


def held_model(model: Model) -> Model:
    """The model while refractory: every frozen state's derivative is zero (Brian2's `unless
    refractory`), so the other states see it held in every stage and in the propagator."""
    frozen = set(model.refractory[1]) if model.refractory else set()
    zero = sympy.Integer(0)
    return replace(model, odes=tuple((s, zero if s in frozen else rhs) for s, rhs in model.odes),
                   named_odes=tuple((s, zero if s in frozen else rhs)
                                    for s, rhs in model.named_odes),
                   written_steps=())


def _held_step(model: Model, method: str, stages: Assignments,
               constants: "Hoister") -> tuple[Assignments, Assignments]:
    """(stages, updates) of the held model's step that differ from the model's derived step: the
    kernel selects them per neuron while it is refractory. Compared with the derived step, not a
    written one, so a written update that holding does not change is kept as written. A frozen
    state's own update is left out (the refractory block keeps its value); constants go through
    the same Hoister."""
    if not model.refractory or not model.refractory[1] or model.is_discrete:
        return (), ()
    frozen = set(model.refractory[1])
    own_stages, own_updates = (dict(part) for part in _ode_step(replace(model, written_steps=()),
                                                                 method))
    held_stages, held_updates = _ode_step(held_model(model), method)
    held_stages = tuple((k, tree) for k, tree in held_stages if own_stages.get(k) != tree)
    held_updates = tuple((s, tree) for s, tree in held_updates
                         if s not in frozen and own_updates.get(s) != tree)
    missing = {k for k, _ in held_stages} - {k for k, _ in stages}
    if missing:
        raise ModelError(f"the step written for {method} has no stages, but holding "
                         f"{', '.join(map(str, frozen))} while refractory changes them; remove "
                         f"[equations.{method}] or the frozen states", model.source,
                         f"[equations.{method}]")
    return (tuple((k, constants.hoist(tree)) for k, tree in held_stages),
            tuple((s, constants.hoist(tree)) for s, tree in held_updates))


def _refractory(model: Model, dt: float | None, reset: str, reset_timing: str, precise: bool,
                constants: "Hoister") -> tuple:
    """The refractory period in whole steps, as Brian2 counts them: floor(period/dt + 1e-3),
    so that a period that is a multiple of dt is not lost to rounding."""
    if not model.refractory:
        return ()
    if precise:
        raise InputError("precise=True does not support a refractory period")
    if reset_timing != "same_step" and model.reset_for(reset):
        raise InputError("a refractory period needs reset_timing='same_step' (the reset "
                         "belongs to the spike that starts the period)")
    period, frozen = model.refractory
    return constants.hoist(_steps(period)), frozen


def _steps(period: Tree | None) -> Tree:
    """A period in whole steps, as Brian2 counts them."""
    assert period is not None
    return Call("floor", (Op("+", Op("/", period, Name(DT)), Num(0.001)),))


def _refractory_limits(model: Model, constants: "Hoister") -> tuple:
    """With a clamp_period (NEST's iaf_psc_exp_htum): the counter starts at R, the longer of
    the total period T and the clamp A, in steps; the spike test is blocked while it is above
    R - T, the frozen states held while it is above R - A."""
    if not model.refractory or model.refractory_clamp is None:
        return ()
    total, clamp = _steps(model.refractory[0]), _steps(model.refractory_clamp)
    longer = Call("max", (total, clamp))
    return (constants.hoist(Op("-", longer, total)), constants.hoist(Op("-", longer, clamp)))


def _check_precise(model: Model, method: str, reset_timing: str) -> None:
    if model.is_discrete or method != "exact":
        raise InputError("precise=True needs method='exact' on a linear ODE model")
    if reset_timing != "same_step":
        raise InputError("precise=True resets at the crossing instant: use reset_timing='same_step'")
    if model.after_step:
        raise InputError("precise=True integrates the step in closed form; [after_step] "
                         "assignments change the state after the step, so they cannot be used "
                         "with it")
    spike = model.spike
    if not isinstance(spike, (sympy.Gt, sympy.Ge)) or spike.lhs not in model.state_symbols:
        raise InputError("precise=True needs a threshold condition 'X > theta' on a state X")


def _correction(model: Model, reset: str, reset_timing: str,
                reset_delay: bool | None) -> Assignments:
    """snnTorch's reset_delay=False: the assignments applied after the spike test, if asked for."""
    if reset_delay is None:
        return ()
    if not model.corrections:
        raise InputError(f"model {model.name} has no reset_delay option (as in snnTorch)")
    if reset_delay:
        return ()
    if reset_timing != "next_step":
        raise InputError("reset_delay=False applies to next_step reset timing only")
    return dict(model.corrections).get(reset, ())


def _choose_method(model: Model, method: str | None, dt: float | None,
                   rtol: float | None = None) -> tuple[str, float | None, str, str]:
    """(method, dt, why auto chose it, a warning when no method meets rtol)."""
    if model.is_discrete:
        if method not in (None, DISCRETE_METHOD):
            raise InputError(f"model {model.name} is a discrete-time map; it has no ODE to "
                             f"integrate with {method!r}")
        if dt is not None:
            raise InputError(f"model {model.name} is a discrete-time map; it takes no dt")
        return DISCRETE_METHOD, None, "", ""
    method = method or model.method or "auto"
    dt = model.dt if dt is None else dt
    note = inaccurate = ""
    if method == "auto":
        method, note, inaccurate = auto_choice(model, _check_dt(model, dt), rtol)
    if method not in METHODS:
        known = ", ".join([*METHODS, "auto"])
        raise InputError(f"unknown method {method!r} for model {model.name}; use one of {known}")
    if model.is_stochastic and method != "euler":
        ornstein_uhlenbeck_step(model)  # refuses noise that only Euler-Maruyama integrates
    return method, _check_dt(model, dt), note, inaccurate


def _check_dt(model: Model, dt: float | None) -> float:
    """`dt` as a float, refused unless a positive finite number."""
    if dt is None:
        raise InputError(f"model {model.name} has no default dt; pass dt=")
    if isinstance(dt, bool) or not isinstance(dt, (int, float)) or not 0 < dt < float("inf"):
        raise InputError(f"dt must be a positive number, got {dt!r}")
    return float(dt)


@functools.lru_cache(maxsize=64)
def auto_choice(model: Model, dt: float, rtol: float | None = None) -> tuple[str, str, str]:
    """(method, why, warning) of method="auto" at `dt`: by form where it decides (exact, or
    Euler-Maruyama), else by each candidate's estimated error on a pilot run (accuracy.py),
    which applies resets at the end of the step (same-step timing, whatever the run's). Kept
    for the process (up to 64 models): the pilot runs take about a second, and a model is
    often compiled again for another target or schedule."""
    from .accuracy import DEFAULT_RTOL, choose

    by_form = auto_by_form(model)
    if by_form:
        return by_form[0], f"method auto chose {by_form[0]}: {by_form[1]}", ""
    rtol = DEFAULT_RTOL if rtol is None else checked_rtol(rtol)
    pilot = noise_held(model) if model.is_stochastic else model  # noise: its mean path
    choice = choose(pilot, dt, rtol, lambda method, step: discretize(pilot, method, step,
                                                                    reset_timing="same_step"))
    reason = choice.reason + (f"; the noisy states {', '.join(map(str, noisy))} exactly, as "
                              "Ornstein-Uhlenbeck processes" if (noisy := [
                                  s for (s, r), (_, h) in zip(model.odes, pilot.odes) if r != h])
                              else "")
    return choice.method, reason, choice.warning


def checked_rtol(rtol: object) -> float:
    """rtol as a float, refused unless a number between 0 and 1."""
    if isinstance(rtol, bool) or not isinstance(rtol, (int, float)) or not 0 < rtol < 1:
        raise InputError(f"rtol must be a number between 0 and 1, got {rtol!r}")
    return float(rtol)


def _collect(expr: sympy.Expr, variables: Iterable[sympy.Symbol]) -> sympy.Expr:
    """Write linear expressions as sum(coefficient*variable), each coefficient simplified once."""
    split = linear_coefficients(expr, sorted(variables, key=str))
    if split is None:
        return expr
    coefficients, remainder = split
    terms = [use_expm1(_simplified(c)) * v for v, c in coefficients.items()]
    return sympy.Add(*terms, use_expm1(_simplified(remainder)))


SIMPLIFY_OPS = 100  # larger coefficients are left as they are: simplify's cost grows steeply


def _simplified(expr: sympy.Expr) -> sympy.Expr:
    """`expr` simplified when it is small. Coefficients are free of states and inputs, so they
    become constants computed once per neuron: a large one costs nothing per step, while
    simplifying it cost SymPy seconds to minutes (rk4 of two coupled states)."""
    if expr.has(propagator):  # entries of the augmented matrix: as simple as they come
        return expr
    return sympy.simplify(expr) if sympy.count_ops(expr) <= SIMPLIFY_OPS else expr


def use_expm1(expr: sympy.Basic) -> sympy.Basic:
    """Rewrite c - c*exp(x) as -c*expm1(x), which keeps its accuracy when x is small."""
    from sympy.codegen.cfunctions import expm1

    if not isinstance(expr, sympy.Basic) or expr.is_Atom:
        return expr
    expr = expr.func(*(use_expm1(a) for a in expr.args))
    if not isinstance(expr, sympy.Add):
        return expr
    terms = list(sympy.Add.make_args(expr))
    for term in terms:
        coefficient, exponentials = term.as_independent(sympy.exp, as_Add=False)
        if isinstance(exponentials, sympy.exp) and -coefficient in terms:
            rest = [t for t in terms if t not in (term, -coefficient)]
            return sympy.Add(coefficient * expm1(exponentials.args[0]), *rest)
    return expr


class Hoister:
    """Replaces subtrees free of states and inputs by named constants computed once per neuron."""

    def __init__(self, variables: set[sympy.Symbol], prefix: str = "lg_k") -> None:
        self.variables = variables
        self.prefix = prefix
        self.names: dict[Tree, sympy.Symbol] = {}  # hoisted subtree -> its constant

    def table(self) -> Assignments:
        return tuple((name, tree) for tree, name in self.names.items())

    def hoist(self, tree: Tree) -> Tree:
        varying: dict[int, bool] = {}
        self._mark(tree, varying)
        return self._hoisted(tree, varying)

    def _mark(self, tree: Tree, varying: dict[int, bool]) -> bool:
        """Record, for every node by id, whether it refers to a state or input: one walk, where
        asking each node for its symbols walked each subtree again (minutes on exact chains)."""
        found = (tree.symbol in self.variables if isinstance(tree, Name)
                 else any([self._mark(child, varying) for child in children(tree)]))
        varying[id(tree)] = found
        return found

    def _hoisted(self, tree: Tree, varying: dict[int, bool]) -> Tree:
        if not varying[id(tree)]:
            return tree if isinstance(tree, (Num, Name)) else self._name(tree)
        return rebuild(tree, [self._hoisted(child, varying) for child in children(tree)])

    def _name(self, tree: Tree) -> Name:
        if tree not in self.names:
            self.names[tree] = sympy.Symbol(f"{self.prefix}{len(self.names)}")
        return Name(self.names[tree])
