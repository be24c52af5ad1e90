"""Synapse models: plasticity declared in a file, as neuron models are (`models/synapses/*.toml`).

A synapse model has per-synapse states (the weight `w`, traces), parameters, linear ODEs that
hold between events (solved exactly and applied lazily, at the synapse's next event, as Brian2's
`(event-driven)`), and the statements run when a presynaptic spike arrives (`on_pre`, which may
add to the postsynaptic `target`) and when the postsynaptic neuron spikes (`on_post`). Files are
read with the neuron models' whitelist parser and dimension checks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import sympy

from .dimensions import NONE, DimensionCheck, dimension
from ..errors import ModelError
from .expressions import parse
from ..ir.names import NAME_PATTERN, check_name
from .library import resource_dir
from ..ir.algebra import linear_coefficients
from ..ir.model import LIMITS, Quantity
from .modelfile import quantities
from .schema import check_keys, read_toml, string_value
from ..ir.symbols import TIME, symbol, time_function
from .units import parse_unit
from ..ir.written import Name, Node, Op, to_text

TARGET = symbol("target")  # the postsynaptic state a synapse type adds to, in on_pre
TARGET_UNIT = "target"  # a quantity in the unit of that state (mV for lif_cuba, nS for lif_coba)
STAND_IN = "mol"  # the target's unit while a file is checked alone: a dimension no model uses
SIDES = ("pre", "post")
SECTIONS = {"synapse": {"name", "description", "reference", "constraints"}, "parameters": None,
            "states": None, "equations": {"laws"}, "events": {"on_pre", "on_post"}}
QUANTITY_KEYS = {"parameters": {"value", "unit", "description"},
                 "states": {"initial", "unit", "description", "side"}}
# A synapse model's size, beyond the neuron files' limits (LIMITS, MAX_FILE_BYTES and the
# expressions' bounds, which apply too): its states evolve by an exact solution at each synapse
# event, a matrix exponential once states drive one another in a chain (cubic in their number:
# 24 such states took 70 s to compile), and its events run for every spike of every synapse.
MAX_COUPLED_STATES = 8
MAX_STATEMENTS = 64  # per event (and constraints)
STATEMENT = re.compile(r"^\s*([A-Za-z][A-Za-z0-9_]*)\s*(=|\+=|-=)(?!=)(.*)$", re.S)


@dataclass(frozen=True)
class SynapseModel:
    """A plastic synapse: what each synapse holds, how it evolves between events, and what a
    presynaptic arrival (`on_pre`) and a postsynaptic spike (`on_post`) do."""

    name: str
    states: tuple[Quantity, ...]
    parameters: tuple[Quantity, ...]
    odes: tuple[tuple[sympy.Symbol, sympy.Expr], ...]  # dX/dt of the states that evolve
    on_pre: tuple[tuple[sympy.Symbol, Node], ...]  # (state or TARGET, written tree), in order
    on_post: tuple[tuple[sympy.Symbol, Node], ...]
    time_unit: str = ""  # the unit the ODEs' time is in ("ms"), when the file gives one
    sides: tuple[tuple[str, str], ...] = ()  # state -> "pre" or "post": which event may change it
    constraints: tuple[Node, ...] = ()  # relations its parameters must satisfy ("w_max >= 0")
    description: str = field(default="", compare=False)
    reference: str = field(default="", compare=False)
    source: str | None = field(default=None, compare=False)

    state_names = property(lambda self: tuple(q.name for q in self.states))
    parameter_names = property(lambda self: tuple(q.name for q in self.parameters))

    def unit(self, name: str, target_unit: str) -> str:
        """The unit of a state or parameter, with `target` read as the target state's unit."""
        quantity = next(q for q in (*self.states, *self.parameters) if q.name == name)
        return target_unit if quantity.unit == TARGET_UNIT else quantity.unit

    def decays(self) -> list[tuple[str, sympy.Expr]]:
        """(trace, its own coefficient in its law): negative for every parameter value a run
        may use, as -1/tau is when tau > 0."""
        rates = dict(self.odes)
        return [(name, sympy.diff(rates[symbol(name)], symbol(name))) for name, _ in self.sides
                if symbol(name) in rates]

    def statements(self, event: str) -> list[str]:
        """The statements of `event` ("on_pre" or "on_post") as text."""
        return [f"{name} <- {to_text(tree)}" for name, tree in getattr(self, event)]


def list_synapse_models() -> list[str]:
    """Names of the synapse models shipped in lifgen's library (`models/synapses/`)."""
    return sorted(p.stem for p in (resource_dir("models") / "synapses").glob("*.toml"))


def load_synapse_model(model: "SynapseModel | str | Path") -> SynapseModel:
    """A SynapseModel for a SynapseModel, a library synapse model name, or a path to a file."""
    if isinstance(model, SynapseModel):
        return model
    if not isinstance(model, (str, Path)):
        raise ModelError(f"expected a synapse model name or path, got {type(model).__name__}")
    text = str(model)
    if isinstance(model, str) and NAME_PATTERN.fullmatch(text):
        path = resource_dir("models") / "synapses" / f"{text}.toml"
        if not path.exists():
            raise ModelError(f"no synapse model named {text!r}; known synapse models: "
                             f"{', '.join(list_synapse_models())} (or give a path to a .toml file)")
    elif Path(text).suffix == ".toml":
        path = Path(text)
    else:
        raise ModelError(f"{text!r} is neither a library synapse model name nor a path to a "
                         ".toml file")
    return read_synapse_file(path)


def read_synapse_file(path: Path) -> SynapseModel:
    return synapse_from_document(read_toml(path), str(path), Path(path).stem)


def synapse_from_document(document: dict[str, Any], source: str,
                          default_name: str = "synapse") -> SynapseModel:
    """Build a SynapseModel from a parsed TOML document (checked as neuron model files are)."""
    check_keys(document, set(SECTIONS), source, "top level")
    for section, allowed in SECTIONS.items():
        table = document.get(section, {})
        if not isinstance(table, dict):
            raise ModelError(f"must be a table, got {type(table).__name__}", source, f"[{section}]")
        if allowed is not None:
            check_keys(table, allowed, source, f"[{section}]")
    head = document.get("synapse", {})
    name = string_value(head, "name", source, "[synapse]", default_name)
    check_name(name, source, "[synapse] name")
    for section in ("parameters", "states"):  # counted before any is read: 800 took 86 s
        if len(document.get(section, {})) > LIMITS[section]:
            raise ModelError(f"{len(document[section])} {section}; lifgen compiles synapse "
                             f"models of at most {LIMITS[section]} {section}", source,
                             f"[{section}]")
    parameters = _declared(document, "parameters", source)
    states = _declared(document, "states", source)
    if not states:
        raise ModelError("a synapse model needs at least one state (the weight w)", source,
                         "[states]")
    sides = _sides(document.get("states", {}), source)
    names = {q.name: q.symbol for q in (*states, *parameters)}
    duplicate = sorted(set(q.name for q in states) & set(q.name for q in parameters))
    if duplicate:
        raise ModelError(f"{duplicate[0]!r} is declared both as a state and a parameter", source,
                         f"[states] {duplicate[0]}")
    if "target" in names:
        raise ModelError("'target' names the postsynaptic state a synapse adds to; choose "
                         "another name", source, "[states] target")
    check = _dimension_check(states, parameters, source)
    odes = _odes(document.get("equations", {}).get("laws", []), states, names, check, source)
    _check_coupling(odes, states, source)
    _check_traces_decay(sides, odes, parameters, source)
    events = document.get("events", {})
    on_pre = _statements(events.get("on_pre", []), "on_pre", names, states, sides, check, source)
    on_post = _statements(events.get("on_post", []), "on_post", names, states, sides, check,
                          source)
    if not on_pre and not on_post:
        raise ModelError("a synapse model needs on_pre or on_post statements", source, "[events]")
    constraints = _constraints(head.get("constraints", []), parameters, source)
    time_units = sorted({q.unit for q in (*states, *parameters)
                         if q.unit and q.unit != TARGET_UNIT and _is_time(q.unit)})
    return SynapseModel(name=name, states=states, parameters=parameters, odes=odes, on_pre=on_pre,
                        on_post=on_post, time_unit=time_units[0] if time_units else "",
                        sides=tuple(sorted(sides.items())), constraints=constraints,
                        description=string_value(head, "description", source, "[synapse]", ""),
                        reference=string_value(head, "reference", source, "[synapse]", ""),
                        source=source)


def _declared(document: Mapping[str, Any], section: str, source: str) -> tuple[Quantity, ...]:
    """Quantities as neuron model files declare them ("side" is read by _sides); a parameter
    without a value must be given at run time (w_max: see plasticity.Synapses)."""
    table = document.get(section, {})
    key = "value" if section == "parameters" else "initial"
    plain, unset = {}, set()
    for name, entry in table.items():
        entry = entry if isinstance(entry, dict) else {key: entry}
        check_keys(entry, QUANTITY_KEYS[section], source, f"[{section}] {name}")
        entry = {k: v for k, v in entry.items() if k != "side"}
        if section == "parameters" and "value" not in entry:
            unset.add(name)
            entry = {**entry, "value": 0.0}
        plain[name] = {**entry, "unit": STAND_IN if entry.get("unit") == TARGET_UNIT
                       else entry.get("unit", "")}
    return tuple(Quantity(q.name, None if q.name in unset else q.value,
                          unit=TARGET_UNIT if q.unit == STAND_IN else q.unit,
                          description=q.description, formula=q.formula)
                 for q in quantities({section: plain}, section, source))


def _constraints(texts: object, parameters: Sequence[Quantity], source: str) -> tuple[Node, ...]:
    """Relations of the parameters ("w_max >= 0"), checked on the values of every run."""
    field = "[synapse] constraints"
    if not isinstance(texts, list):
        raise ModelError("must be a list of relations such as \"w_max >= 0\"", source, field)
    if len(texts) > MAX_STATEMENTS:
        raise ModelError(f"{len(texts)} constraints; the limit is {MAX_STATEMENTS}", source, field)
    names = {q.name: q.symbol for q in parameters}
    return tuple(parse(text, names, source, field, relations=True)[0] for text in texts)


def _sides(table: Mapping[str, Any], source: str) -> dict[str, str]:
    sides = {}
    for name, entry in table.items():
        side = entry.get("side") if isinstance(entry, dict) else None
        if side is not None and side not in SIDES:
            raise ModelError(f"side must be 'pre' or 'post', got {side!r}", source,
                             f"[states] {name} side")
        if side:
            sides[name] = side
    return sides


def _is_time(unit: str) -> bool:
    return dimension(parse_unit(unit)) == dimension(parse_unit("s"))


def _dimension_check(states: Sequence[Quantity], parameters: Sequence[Quantity],
                     source: str) -> DimensionCheck:
    """Dimension checks with the target's unit as a stand-in that no other quantity has."""
    quantities = [(kind, q if q.unit != TARGET_UNIT else Quantity(q.name, q.value, unit=STAND_IN))
                  for kind, group in (("states", states), ("parameters", parameters))
                  for q in group]
    return DimensionCheck(quantities, "", source)


def _in_words(error: ModelError) -> ModelError:
    """A dimension error with the stand-in named as what it stands for."""
    problem = re.sub(r"\b(mole|mol)\b", "the target's unit", error.problem)
    return ModelError(problem, error.source, error.field)


def _odes(laws: object, states: Sequence[Quantity], names: Mapping[str, sympy.Basic],
          check: DimensionCheck, source: str) -> tuple[tuple[sympy.Symbol, sympy.Expr], ...]:
    """dX/dt = f for states X: linear in the states, with coefficients of the parameters, so
    that they are solved exactly between events."""
    field = "[equations] laws"
    if not isinstance(laws, list):
        raise ModelError("must be a list of equations such as \"dA_pre/dt = -A_pre/tau_pre\"",
                         source, field)
    state_symbols = [q.symbol for q in states]
    odes: list[tuple[sympy.Symbol, sympy.Expr]] = []
    for number, law in enumerate(laws, 1):
        where = f"{field} #{number}"
        lhs, equals, rhs = law.partition("=") if isinstance(law, str) else ("", "", "")
        match = re.fullmatch(r"\s*d([A-Za-z][A-Za-z0-9_]*)\s*/\s*dt\s*", lhs)
        if not equals or not match or match.group(1) not in {q.name for q in states}:
            raise ModelError("each law must read dX/dt = expression, for a state X", source, where)
        state = symbol(match.group(1))
        if state in dict(odes):
            raise ModelError(f"d{state}/dt is given twice", source, where)
        rate = parse(rhs, names, source, where)[1]
        try:
            check.equal(sympy.Derivative(time_function(state.name), TIME),
                        rate, where, law.strip(), "equates")
        except ModelError as error:
            raise _in_words(error) from None
        if linear_coefficients(rate, state_symbols) is None:
            raise ModelError(f"d{state}/dt must be linear in the synapse's states (it is solved "
                             "exactly between events)", source, where)
        odes.append((state, check.numbers(rate)))
    return tuple(odes)


def _check_coupling(odes: Sequence[tuple[sympy.Symbol, sympy.Expr]], states: Sequence[Quantity],
                    source: str) -> None:
    """At most MAX_COUPLED_STATES states whose laws name another state that evolves or is
    named so (beyond that the exact solution between events is too costly to compile and run)."""
    evolving = {s for s, _ in odes}
    coupled = set()
    for state, rate in odes:
        others = (rate.free_symbols & {q.symbol for q in states}) - {state}
        if others & evolving:
            coupled |= {state} | (others & evolving)
    if len(coupled) > MAX_COUPLED_STATES:
        raise ModelError(f"{len(coupled)} states are coupled (their laws name other states "
                         f"that evolve); a synapse model has at most {MAX_COUPLED_STATES}: "
                         "its states are solved exactly between events, a matrix exponential "
                         "at every event once they drive one another", source,
                         "[equations] laws")


def _check_traces_decay(sides: Mapping[str, str],
                        odes: Sequence[tuple[sympy.Symbol, sympy.Expr]],
                        parameters: Sequence[Quantity], source: str) -> None:
    """A trace (a state with a side) must decay between events: dX/dt = -X/tau + ..., with a
    negative coefficient of X at the file's parameter values."""
    rates = dict(odes)
    values = {q.symbol: q.value for q in parameters if q.value is not None}
    for name in sides:
        state = symbol(name)
        if state not in rates:
            raise ModelError(f"{name!r} is a trace (side = {sides[name]!r}) without a decay: "
                             f"give its law, such as \"d{name}/dt = -{name}/tau_{sides[name]}\"",
                             source, "[equations] laws")
        own = sympy.diff(rates[state], state).xreplace(values)
        if not (own.is_number and float(own) < 0):
            raise ModelError(f"d{name}/dt must make the trace {name!r} decay (a negative "
                             f"coefficient of {name}, as -{name}/tau); it is {own}", source,
                             "[equations] laws")


def _statements(texts: object, event: str, names: Mapping[str, sympy.Basic],
                states: Sequence[Quantity], sides: Mapping[str, str], check: DimensionCheck,
                source: str) -> tuple[tuple[sympy.Symbol, Node], ...]:
    """`X = expr`, `X += expr`, `X -= expr` (and `target += expr` in on_pre), in order."""
    field = f"[events] {event}"
    if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
        raise ModelError("must be a list of statements such as \"w = clip(w + A_post, 0, w_max)\"",
                         source, field)
    if len(texts) > MAX_STATEMENTS:
        raise ModelError(f"{len(texts)} statements; a synapse event runs at most "
                         f"{MAX_STATEMENTS} (it runs for every spike of every synapse)", source,
                         field)
    result = []
    state_dims = {q.name: q for q in states}
    for number, text in enumerate(texts, 1):
        where = f"{field} #{number}"
        match = STATEMENT.match(text)
        if not match:
            raise ModelError("a statement reads X = expression, X += expression or "
                             "X -= expression", source, where)
        name, operator, rhs = match.groups()
        tree = parse(rhs, names, source, where)[0]
        if name == "target":
            if event != "on_pre" or operator == "=":
                raise ModelError("only on_pre may add to the target (target += expression): the "
                                 "postsynaptic neuron receives a synapse's value when a "
                                 "presynaptic spike arrives", source, where)
            dim = dimension(parse_unit(STAND_IN))
            what = "the target (the state the synapse type adds to)"
        elif name in state_dims:
            other = "on_post" if sides.get(name) == "pre" else "on_pre"
            if sides.get(name) and event == other:
                raise ModelError(f"{name!r} is a {sides[name]}synaptic trace (side = "
                                 f"{sides[name]!r}): {event} may read it but not change it",
                                 source, where)
            unit = state_dims[name].unit
            dim = dimension(parse_unit(STAND_IN if unit == TARGET_UNIT else unit)) if unit else NONE
            what = name
        else:
            raise ModelError(f"{name!r} is not a state of this synapse model; statements change "
                             "its states (or add to target in on_pre)", source, where)
        try:
            tree = check.check_tree(tree, dim, where, what)
        except ModelError as error:
            raise _in_words(error) from None
        if operator != "=":
            tree = Op(operator[0], Name(symbol(name)), tree)
        result.append((TARGET if name == "target" else symbol(name), tree))
    return tuple(result)
