"""Read model files (TOML) into `Model`s: every field checked, every error naming file, field and problem."""

import dataclasses
from dataclasses import dataclass
import os
import re
from pathlib import Path
from typing import AbstractSet, Any, Iterable, Mapping, Sequence

import sympy

from .circuit import derive_odes
from .schema import (QUANTITY_KEYS, SYNAPSE_KEYS, check_keys, check_sections, checked_unit,
                     number_value, parse_toml, quantity_value, read_toml, string_value,
                     text_value)
from ..errors import ModelError, did_you_mean
from .expressions import FUNCTIONS, check_expression, names_in, parse, parse_expression
from ..ir.names import check_name
from .dimensions import NONE, DimensionCheck
from .units import is_quantity_text, parse_unit, unit_symbol
from ..ir.written import Assignments, Node, Num
from ..ir.method_names import WRITTEN_STEPS
from ..ir.model import (RESET_MECHANISMS, Model, Quantity, Synapse, check_quantities,
                    default_resets)
from ..ir.symbols import (DT, RESET, SPIKE, TIME, XI, noise_names_in, previous_symbol,
                      substitute_expressions, symbol, time_function)


LAW_SPLIT = re.compile(r"(?<![<>=!])=(?!=)")


def read_model_file(path: str | os.PathLike[str]) -> Model:
    """Parse the model file at `path` into a Model."""
    path = Path(path)
    return model_from_document(read_toml(path), str(path), default_name=path.stem)


def read_model_bytes(data: bytes, path: str | os.PathLike[str]) -> Model:
    """Parse a model file's bytes, already read from `path`, into a Model."""
    path = Path(path)
    return model_from_document(parse_toml(data, str(path)), str(path), default_name=path.stem)


# [reset] timing when the file leaves it out, by whether the model declares physical units: a
# model in units follows Brian2 and NEST (update, test, reset in one step), a unitless one
# snnTorch (the reset decided from the state before the step).
DEFAULT_TIMING = {True: "same_step", False: "next_step"}


@dataclass(frozen=True)
class ParsedModel:
    """A model file after the parse pass: every field read and every expression a tree, nothing
    yet checked for dimensions or derived. The check pass reads it, the derive pass builds the
    Model from what the check pass returns."""

    source: str | None
    name: str
    description: str
    reference: str
    parameters: tuple[Quantity, ...]
    states: tuple[Quantity, ...]
    inputs: tuple[Quantity, ...]
    synapses: tuple[Synapse, ...]
    dt: Any
    time_unit: str
    expressions: tuple  # ((name, SymPy expression), ...)
    expression_texts: tuple[str, ...]
    laws: tuple  # ((lhs text, rhs text), (lhs, rhs)) per law, and the intermediates
    law_intermediates: tuple[str, ...]
    update: tuple  # ((state, tree), ...)
    written_steps: tuple  # ((method, ((state, tree), ...)), ...)
    spike: sympy.Basic
    spike_text: str
    spike_on: str
    spike_count: str
    resets: dict
    corrections: tuple
    after_step: tuple  # ((state, tree), ...) of [after_step]
    parameter_sets: tuple
    constraints: tuple
    presets: tuple
    refractory: tuple
    refractory_clamp: Node | None  # [refractory] clamp_period, or None: the whole period
    refractory_counting: str
    refractory_input: str
    reset_mechanism: str
    reset_timing: str | None  # None: the default, which depends on whether units are declared
    method: str | None


def model_from_document(document: dict[str, Any], source: str | None,
                        default_name: str = "model") -> Model:
    """Build a Model from an already-parsed TOML document, in the front end's passes: schema
    (tables and keys), parse (text to trees), check (dimensions and validity), derive (circuit
    laws to ODEs)."""
    check_sections(document, source)
    parsed = parse_document(document, source, default_name)
    return dataclasses.replace(derive_model(check_model(parsed)), document=document)


def parse_document(document: Mapping[str, Any], source: str | None,
                   default_name: str = "model") -> ParsedModel:
    """The parse pass: every field of a checked document read, every expression a tree."""
    meta = document.get("model", {})
    parameters = quantities(document, "parameters", source)
    states = quantities(document, "states", source, {q.name: q.symbol for q in parameters})
    inputs = quantities(document, "inputs", source)
    check_quantities(states, parameters, inputs, source)
    simulation = document.get("simulation", {})
    dt, time_unit = _simulation_dt(simulation, source)
    state_names = [q.name for q in states]
    known = [q.name for q in parameters + inputs]
    names = {n: symbol(n) for n in state_names + known}
    synapses = _synapses(document.get("synapses", {}), source)
    names.update({syn.name: syn.symbol for syn in synapses if syn.target is None})
    expression_table = document.get("expressions", {})
    expressions = _expressions(expression_table, names, source)
    equations = document.get("equations", {})
    law_texts = [str(law) for law in equations.get("laws", ())] if isinstance(
        equations.get("laws"), list) else []
    law_names = {"xi": XI, **noise_names_in(law_texts, names), **names,
                 **{e.name: e for e, _ in expressions}}
    laws: tuple = ()
    intermediates: tuple[str, ...] = ()
    if "laws" in equations:
        laws, intermediates = _parse_laws(equations["laws"], state_names, law_names, source)
    update = (_assignments(equations["update"], names, source, "[equations] update")
              if "update" in equations else ())
    written_steps = tuple((method, _assignments(equations[method], {**names, "dt": DT}, source,
                                                f"[equations.{method}]"))
                          for method in WRITTEN_STEPS if method in equations)
    spike_text = text_value(document.get("spike", {}), "condition", source, "[spike]")
    spike_names = {**names, **previous_names(state_names), **{e.name: e for e, _ in expressions}}
    spike = sympy.false if spike_text.strip() == "never" else parse_expression(
        spike_text, spike_names, source, "[spike] condition", relations=True)  # never: no threshold
    reset = document.get("reset", {})
    resets, corrections = _parse_resets(reset, names, state_names, source)
    after_step = _assignments(document.get("after_step", {}),
                              {**names, **previous_names(state_names), "dt": DT}, source,
                              "[after_step]")
    if "name" not in meta:
        _check_file_name(default_name, source)
    refractory = document.get("refractory", {})
    return ParsedModel(
        source=source, name=string_value(meta, "name", source, "[model]", default_name),
        description=string_value(meta, "description", source, "[model]", ""),
        reference=string_value(meta, "reference", source, "[model]", ""),
        parameters=parameters, states=states, inputs=inputs, synapses=synapses, dt=dt,
        time_unit=time_unit, expressions=expressions,
        expression_texts=tuple(expression_table.values()), laws=laws,
        law_intermediates=intermediates, update=update, written_steps=written_steps,
        spike=spike, spike_text=spike_text,
        spike_on=string_value(document.get("spike", {}), "on", source, "[spike]", "level"),
        spike_count=string_value(document.get("spike", {}), "count", source, "[spike]", ""),
        resets=resets, corrections=corrections, after_step=after_step,
        parameter_sets=_parameter_sets(document.get("parameter_sets", {}), names, source),
        constraints=_constraints(meta.get("constraints", []), names, source),
        presets=_presets(document.get("presets", {}), source),
        refractory=_refractory(refractory, names, source),
        refractory_clamp=_period(refractory, "clamp_period", names, source)
        if "clamp_period" in refractory else None,
        refractory_counting=string_value(refractory, "counting", source, "[refractory]",
                                         "brian2"),
        refractory_input=string_value(refractory, "input", source, "[refractory]", "drop"),
        reset_mechanism=string_value(reset, "mechanism", source, "[reset]", "subtract"),
        reset_timing=string_value(reset, "timing", source, "[reset]", None),
        method=string_value(simulation, "method", source, "[simulation]", None))


def _parse_resets(reset: Mapping[str, Any], names: Mapping[str, Any], state_names: Sequence[str],
                  source: str | None) -> tuple[dict, tuple]:
    """({mechanism: assignments} written in [reset], ((mechanism, assignments), ...) of
    [reset.undelayed]); the defaults of the spike condition are added by the derive pass."""
    if "mechanism" not in reset:
        raise ModelError('a spiking model needs a [reset] table naming its mechanism (lifgen '
                         'does not guess one): mechanism = "subtract" (snnTorch\'s default: '
                         'the threshold is subtracted), "zero" (to 0, or to the values of '
                         'zero = { V = "V_r" }) or "none" (the states are left as they are)',
                         source, "[reset] mechanism")
    reset_names = {**names, **previous_names(state_names), "dt": DT}  # dt: NEST's resolution()
    resets = {mechanism: _assignments(reset[mechanism], reset_names, source,
                                      f"[reset.{mechanism}]")
              for mechanism in RESET_MECHANISMS if mechanism in reset}
    undelayed = reset.get("undelayed", {})
    if not isinstance(undelayed, dict):
        raise ModelError("must be a table of mechanism = { state = expression }", source,
                         "[reset.undelayed]")
    correction_names = {**reset_names, "spike": SPIKE, "reset": RESET}
    corrections = tuple((mechanism, _assignments(table, correction_names, source,
                                                 f"[reset.undelayed.{mechanism}]"))
                        for mechanism, table in undelayed.items())
    return resets, corrections


def previous_names(state_names: Iterable[str]) -> dict[str, sympy.Symbol]:
    """`previous(X)` -> the symbol of state X at the start of the step, for each state."""
    return {f"previous({n})": previous_symbol(n) for n in state_names}


def dimension_check(parsed: ParsedModel) -> DimensionCheck:
    """The check pass's dimensions: one per declared quantity and previous(X), then each named
    expression's and each circuit quantity's as inferred (the checks below use it)."""
    check = DimensionCheck([("parameters", q) for q in parsed.parameters]
                           + [("states", q) for q in parsed.states]
                           + [("inputs", q) for q in parsed.inputs], parsed.time_unit,
                           parsed.source)
    check.dims.update({previous_symbol(q.name): check.dims[q.symbol] for q in parsed.states})
    return check


@dataclass(frozen=True)
class CheckedModel:
    """The check pass's result: every field of a parsed model with its dimensions checked and
    its numbers in the declared units, ready for the derive pass."""

    parsed: ParsedModel
    states: tuple[Quantity, ...]
    expressions: tuple
    laws: tuple[sympy.Eq, ...]
    spike: sympy.Basic
    resets: dict
    update: tuple
    corrections: tuple
    after_step: tuple
    written_steps: tuple
    parameter_sets: tuple
    constraints: tuple
    refractory: tuple
    refractory_clamp: Node | None
    reset_timing: str


def check_model(parsed: ParsedModel, check: DimensionCheck | None = None) -> CheckedModel:
    """The check pass: each named check (dimensions and validity of every field), raising a
    ModelError that names the field; no derivation."""
    check = check or dimension_check(parsed)
    states = tuple(_dimensioned_initial(q, check) for q in parsed.states)
    expressions = _dimensioned_expressions(parsed.expressions, parsed.expression_texts, check)
    laws = check_laws(parsed, check)
    spike = substitute_expressions(check_spike(parsed.spike, parsed.spike_text, check),
                                   expressions)  # of states, parameters and inputs only
    resets = default_resets(spike)
    resets.update({mechanism: _dimensioned(assignments, check, f"[reset.{mechanism}]")
                   for mechanism, assignments in parsed.resets.items()})
    return CheckedModel(
        parsed=parsed, states=states, expressions=expressions, laws=laws, spike=spike,
        resets=resets,
        update=_dimensioned(parsed.update, check, "[equations] update"),
        corrections=tuple((mechanism, _dimensioned(assignments, check,
                                                   f"[reset.undelayed.{mechanism}]"))
                          for mechanism, assignments in parsed.corrections),
        after_step=_dimensioned(parsed.after_step, check, "[after_step]"),
        written_steps=tuple((method, _dimensioned(assignments, check, f"[equations.{method}]"))
                            for method, assignments in parsed.written_steps),
        parameter_sets=tuple((name, _dimensioned(derived, check, f"[parameter_sets.{name}]"))
                             for name, derived in parsed.parameter_sets),
        constraints=tuple(check.check_tree(c, NONE, "[model] constraints", "a condition")
                          for c in parsed.constraints),
        refractory=_dimensioned_refractory(parsed.refractory, check),
        refractory_clamp=None if parsed.refractory_clamp is None else _dimensioned_period(
            parsed.refractory_clamp, check, "[refractory] clamp_period"),
        reset_timing=parsed.reset_timing or DEFAULT_TIMING[check.active])


def derive_model(checked: CheckedModel) -> Model:
    """The derive pass: circuit laws solved for each dX/dt, named expressions substituted, and
    the Model."""
    parsed, expressions = checked.parsed, checked.expressions
    odes: tuple[tuple[sympy.Symbol, sympy.Expr], ...] = ()
    if checked.laws:
        odes = derive_odes(checked.laws, [q.name for q in checked.states],
                           [q.name for q in parsed.parameters + parsed.inputs]
                           + [e.name for e, _ in expressions] + ["xi"]
                           + [y.name for y in parsed.synapses if y.target is None],  # inputs too
                           parsed.source)
    substituted = tuple((state, substitute_expressions(rhs, expressions)) for state, rhs in odes)
    for state, rhs in substituted if expressions else ():  # (each text was checked alone)
        check_expression(rhs, parsed.source, f"[equations] d{state}/dt, its named expressions "
                         "substituted")
    return Model(
        name=parsed.name, description=parsed.description, reference=parsed.reference,
        states=checked.states, parameters=parsed.parameters, inputs=parsed.inputs,
        laws=checked.laws, update=checked.update,
        odes=substituted,
        named_odes=odes if expressions else (), expressions=expressions,
        spike=checked.spike, resets=tuple(checked.resets.items()),
        corrections=checked.corrections, after_step=checked.after_step,
        written_steps=checked.written_steps,
        synapses=parsed.synapses, parameter_sets=checked.parameter_sets,
        constraints=checked.constraints, presets=parsed.presets, spike_on=parsed.spike_on,
        spike_count=parsed.spike_count,
        refractory=checked.refractory, refractory_clamp=checked.refractory_clamp,
        refractory_counting=parsed.refractory_counting,
        refractory_input=parsed.refractory_input, reset_mechanism=parsed.reset_mechanism,
        reset_timing=checked.reset_timing, method=parsed.method,
        dt=number_value(parsed.dt, parsed.source, "[simulation] dt")
        if parsed.dt is not None else None,
        time_unit=parsed.time_unit, source=parsed.source)


def check_spike(spike: sympy.Basic, text: str, check: DimensionCheck) -> sympy.Basic:
    """The spike condition compares like with like; its numbers in the declared units."""
    if isinstance(spike, sympy.core.relational.Relational):
        check.equal(spike.lhs, spike.rhs, "[spike] condition", text)
    check.infer(spike, "[spike] condition", text)
    return check.numbers(spike)


def _check_file_name(name: str, source: str | None) -> None:
    """A model without [model] name is named after its file: say so when that name is no good."""
    try:
        check_name(name)
    except ModelError as error:
        raise ModelError(f"the model has no [model] name, so it takes its file's name, {name!r}, "
                         f"and {error.problem.split(': ', 1)[-1]}; add [model] name = \"...\"",
                         source) from None


def _refractory(table: Mapping[str, Any], names: Mapping[str, Any], source: str | None) -> tuple:
    """`[refractory] period = "t_ref"`, `frozen = ["V"]`: after a spike the spike test is blocked
    for `period` (in the model's time unit), and the frozen states keep their values."""
    if not table:
        return ()
    period = _period(table, "period", names, source)
    frozen = table.get("frozen", [])
    if not isinstance(frozen, list) or not all(isinstance(n, str) for n in frozen):
        raise ModelError("must be a list of state names such as [\"V\"]", source,
                         "[refractory] frozen")
    return period, tuple(symbol(n) for n in frozen)


def _period(table: Mapping[str, Any], key: str, names: Mapping[str, Any],
            source: str | None) -> Node:
    """A duration of [refractory] (`period`, `clamp_period`): a number in the model's time unit,
    a time ("2 ms") or an expression of parameters ("t_ref")."""
    field = f"[refractory] {key}"
    period = table.get(key)
    if isinstance(period, (int, float)) and not isinstance(period, bool):
        if number_value(period, source, field) < 0:
            raise ModelError(f"a refractory period cannot be negative, got {period!r}", source,
                             field)
        period = repr(number_value(period, source, field))
    elif is_quantity_text(period):  # "2 ms", as a duration is written elsewhere: 2*ms
        magnitude, unit = quantity_value(period, "", source, field)
        period = f"{magnitude!r}*{unit}"
    return parse(text_value({key: period} if period is not None else {}, key, source,
                            "[refractory]"), names, source, field)[0]


def _synapses(table: Mapping[str, Any], source: str | None) -> tuple[Synapse, ...]:
    result = []
    for name, entry in table.items():
        field = f"[synapses] {name}"
        check_name(name, source, field)
        entry = entry if isinstance(entry, dict) else None
        if entry is None:
            raise ModelError("must be a table such as { target = \"g_e\" } or "
                             "{ bias = \"b_rec\" }", source, field)
        check_keys(entry, SYNAPSE_KEYS, source, field)
        result.append(Synapse(name, string_value(entry, "bias", source, field, None),
                              string_value(entry, "target", source, field, None)))
    return tuple(result)


def _parameter_sets(table: Mapping[str, Any], names: Mapping[str, Any],
                    source: str | None) -> tuple[tuple[str, Assignments], ...]:
    """Alternative parameterizations: `[parameter_sets.beta] R = "1"` derives R from beta."""
    result = []
    for name, assignments in table.items():
        field = f"[parameter_sets.{name}]"
        check_name(name, source, field)
        if name in names:
            raise ModelError(f"{name!r} is already a declared quantity", source, field)
        if not isinstance(assignments, dict) or not assignments:
            raise ModelError("must be a table of parameter = \"expression\"", source, field)
        scope = {**names, name: symbol(name), "dt": DT}
        derived = []
        for parameter, text in assignments.items():
            if parameter not in names:
                raise ModelError(f"{parameter!r} is not a declared parameter", source, field)
            derived.append((symbol(parameter), parse(text, scope, source, f"{field} {parameter}")[0]))
        result.append((name, tuple(derived)))
    return tuple(result)


def _constraints(texts: object, names: Mapping[str, Any], source: str | None) -> tuple[Node, ...]:
    field = "[model] constraints"
    if not isinstance(texts, list):
        raise ModelError("must be a list of relations such as \"alpha > beta\"", source, field)
    return tuple(parse(text, names, source, field, relations=True)[0] for text in texts)


def quantities(document: Mapping[str, Any], section: str, source: str | None,
                scope: Mapping[str, Any] | None = None) -> tuple[Quantity, ...]:
    """Declared quantities; a state's initial value may be a formula of the parameters and of
    the states declared before it (Izhikevich's u = b*V)."""
    value_key, allowed = QUANTITY_KEYS[section]
    scope = dict(scope or {})
    result = []
    for name, entry in document.get(section, {}).items():
        field = f"[{section}] {name}"
        check_name(name, source, field)
        if not isinstance(entry, dict):
            entry = {value_key: entry} if value_key else {"unit": entry}
        check_keys(entry, allowed, source, field)
        value = entry.get(value_key, 0.0 if section == "states" else None) if value_key else None
        if value_key and value is None:
            raise ModelError(f"needs a {value_key!r}", source, field)
        unit = checked_unit(string_value(entry, "unit", source, field, ""), source, f"{field} unit")
        formula = None
        if is_quantity_text(value):
            value, unit = quantity_value(value, unit, source, field)
        elif section == "states" and isinstance(value, str):
            later = sorted(names_in(value, source, field) & (set(document.get(section, {}))
                                                           - set(scope)))
            if later:
                raise ModelError(f"the initial value of {name} may use parameters and the states "
                                 f"declared before it, not {', '.join(map(repr, later))}", source,
                                 field)
            formula, value = parse(value, scope, source, field)[0], None
        result.append(Quantity(
            name, None if value is None else number_value(value, source, field), unit=unit,
            description=string_value(entry, "description", source, field, ""), formula=formula))
        scope[name] = symbol(name)
    return tuple(result)


def _simulation_dt(simulation: Mapping[str, Any], source: str | None) -> tuple[Any, str]:
    """(dt, time unit) from [simulation]: dt = "0.1 ms" declares the model's time unit."""
    dt = simulation.get("dt")
    if not is_quantity_text(dt):
        return dt, ""
    dt, time_unit = quantity_value(dt, "", source, "[simulation] dt")
    if parse_unit(time_unit).si[1] != parse_unit("s").si[1]:
        raise ModelError(f"dt must be a time, got {time_unit!r}", source, "[simulation] dt")
    return dt, time_unit


def _dimensioned(assignments: Iterable[tuple[sympy.Symbol, Node]], check: DimensionCheck,
                 field: str) -> Assignments:
    """Assignments `state = tree`, each checked to have the state's dimension."""
    return tuple((state, check.check_tree(tree, check.dims.get(state, NONE), f"{field} {state.name}",
                                          state.name)) for state, tree in assignments)


def _dimensioned_initial(quantity: Quantity, check: DimensionCheck) -> Quantity:
    if quantity.formula is None:
        return quantity
    return dataclasses.replace(quantity, formula=check.check_tree(
        quantity.formula, check.dims[quantity.symbol], f"[states] {quantity.name}", quantity.name))


def _dimensioned_expressions(expressions: Iterable[tuple[sympy.Symbol, sympy.Expr]],
                             texts: Iterable[str], check: DimensionCheck
                             ) -> tuple[tuple[sympy.Symbol, sympy.Expr], ...]:
    """Named expressions with their dimensions recorded (the laws use them) and numbers for units."""
    result = []
    for (name, expr), text in zip(expressions, texts):
        check.dims[name] = check.infer(expr, f"[expressions] {name}", text)
        result.append((name, check.numbers(expr)))
    return tuple(result)


def _dimensioned_refractory(refractory: tuple, check: DimensionCheck) -> tuple:
    if not refractory:
        return refractory
    period, frozen = refractory
    return _dimensioned_period(period, check, "[refractory] period"), frozen


def _dimensioned_period(period: Node, check: DimensionCheck, field: str) -> Node:
    if not isinstance(period, Num):  # a bare number is in the model's time unit
        period = check.check_tree(period, check.dims[DT], field, "a refractory period (a time)")
    return check.tree_numbers(period)


def _expressions(table: Mapping[str, Any], names: Mapping[str, Any],
                 source: str | None) -> tuple[tuple[sympy.Symbol, sympy.Expr], ...]:
    """`[expressions]`: named sub-expressions (rate functions, currents) used in the laws, as
    ((symbol, SymPy expression of quantities and earlier expressions), ...)."""
    result, scope = [], dict(names)
    for name, text in table.items():
        field = f"[expressions] {name}"
        check_name(name, source, field)
        if name in names:
            raise ModelError(f"{name!r} is already a declared quantity", source, field)
        result.append((symbol(name), parse_expression(text, scope, source, field)))
        scope[name] = symbol(name)
    return tuple(result)


def _presets(table: Mapping[str, Any],
             source: str | None) -> tuple[tuple[str, tuple[tuple[str, float], ...]], ...]:
    """`[presets.NAME] parameter = value`: named parameter sets (load_model(..., preset=NAME))."""
    result = []
    for name, values in table.items():
        field = f"[presets.{name}]"
        if not isinstance(values, dict):
            raise ModelError("must be a table of parameter = number", source, field)
        result.append((name, tuple((k, number_value(v, source, f"{field} {k}"))
                                   for k, v in values.items())))
    return tuple(result)


def _parse_laws(laws: object, state_names: Sequence[str], names: Mapping[str, Any],
                source: str | None) -> tuple[tuple, tuple[str, ...]]:
    """Parse 'lhs = rhs' laws; `dX/dt` of a state X becomes a SymPy derivative (times dt, which
    the check pass refuses anywhere else). Returns (((texts), (sides)), ...) and the undeclared
    names the laws determine (circuit quantities such as I_R)."""
    field = "[equations] laws"
    if not isinstance(laws, list) or not laws:
        raise ModelError("must be a non-empty list of equations such as \"I = I_R + I_C\"", source, field)
    texts = [_law_sides(law, source, field) for law in laws]
    # a declared dX beside a state X (NEST's dI_ex beside I_ex): dX/dt is X's derivative and dX
    # alone the quantity, so dX/dt is read as a name of its own, lg_dX
    both = [n for n in state_names if f"d{n}" in names]
    read = texts
    if both:
        derivative = re.compile(rf"\bd({'|'.join(map(re.escape, both))})(?=\s*/\s*dt\b)")
        read = [[derivative.sub(r"lg_d\1", side) for side in sides] for sides in texts]
    in_time = {n: time_function(n) for n in state_names}
    in_time.update({("lg_d" if n in both else "d") + n:
                    sympy.Derivative(time_function(n), TIME) * DT for n in state_names})
    intermediates = _intermediate_names(read, set(names) | set(in_time) | {"dt"}, source, field)
    scope = {**names, **in_time, **{n: symbol(n) for n in intermediates}, "dt": DT}
    sides = [(parse_expression(lhs, scope, source, f"{field} #{number}"),
              parse_expression(rhs, scope, source, f"{field} #{number}"))
             for number, (lhs, rhs) in enumerate(read, 1)]
    _check_undeclared(intermediates, sides, state_names, names, source, field)
    return tuple(zip(map(tuple, texts), sides)), tuple(intermediates)


def check_laws(parsed: ParsedModel, check: DimensionCheck) -> tuple[sympy.Eq, ...]:
    """Each law equates like with like (circuit quantities take the dimension of what a law
    sets them to), in the declared units, and dt appears only in a derivative dX/dt."""
    field = "[equations] laws"
    state_names = {q.name for q in parsed.states}
    _infer_intermediates([sides for _, sides in parsed.laws],
                         {symbol(n) for n in parsed.law_intermediates}, check, field)
    result = []
    for number, ((lhs, rhs), (left, right)) in enumerate(parsed.laws, 1):
        where = f"{field} #{number}"
        check.equal(left, right, where, f"{lhs.strip()} = {rhs.strip()}", "equates")
        law = check.numbers(sympy.Eq(left, right, evaluate=False))
        if law.has(DT):
            unknown = sorted(set(DERIVATIVE.findall(lhs + " " + rhs)) - state_names)
            raise ModelError(f"d{unknown[0]}/dt is the derivative of {unknown[0]!r}, which is not "
                             "a declared state" if unknown else "dt may appear only as the "
                             "denominator of a derivative dX/dt", parsed.source, where)
        result.append(law)
    return tuple(result)


DERIVATIVE = re.compile(r"\bd([A-Za-z][A-Za-z0-9_]*)\s*/\s*dt\b")


def _infer_intermediates(sides: Sequence[tuple[sympy.Expr, sympy.Expr]], unknown: set[sympy.Symbol],
                         check: DimensionCheck, field: str) -> None:
    """Give each circuit quantity (I_R in I_R = V/R) the dimension of what a law sets it to."""
    changed = True
    while unknown and changed:
        changed = False
        for left, right in sides:
            for name, value in ((left, right), (right, left)):
                if name in unknown and not value.free_symbols & unknown:
                    check.dims[name] = check.infer(value, field, str(value))
                    unknown.discard(name)
                    changed = True


def _check_undeclared(intermediates: Sequence[str], sides: Sequence[tuple[sympy.Expr, sympy.Expr]],
                      state_names: Sequence[str], names: Iterable[str], source: str | None,
                      field: str) -> None:
    """Undeclared names are circuit quantities only when the laws determine them (one law per
    dX/dt and per such name). When they do not, a name used in one law only is a typo or a
    forgotten declaration (a circuit quantity is defined in one law and used in another)."""
    n_laws = len(sides)
    if not intermediates or n_laws >= len(state_names) + len(intermediates):
        return
    uses = {n: sum(symbol(n) in (left - right).free_symbols for left, right in sides)
            for n in intermediates}
    orphans = [n for n in intermediates if uses[n] == 1]
    if not orphans:
        return  # derive_odes reports the missing law
    declared = [n for n in names if not n.startswith("lg_")]
    problems = [f"{name!r} is not declared{did_you_mean(name, declared)}" for name in orphans]
    intermediates = orphans
    raise ModelError(f"{'; '.join(problems)}. Declare each under [parameters], [states] or "
                     f"[inputs] (an input: [inputs] {intermediates[0]} = {{ unit = \"nA\" }}), "
                     "or add a "
                     f"law that defines it ({n_laws} law(s) for {len(state_names)} "
                     f"derivative(s) and {len(intermediates)} undeclared name(s))", source, field)


def _law_sides(law: object, source: str | None, field: str) -> list[str]:
    if not isinstance(law, str):
        raise ModelError(f"each law must be a string, got {law!r}", source, field)
    sides = LAW_SPLIT.split(law)
    if len(sides) != 2:
        raise ModelError(f"{law!r} must have the form 'left = right'", source, field)
    return sides


def _intermediate_names(texts: Iterable[Sequence[str]], declared: AbstractSet[str],
                        source: str | None, field: str) -> list[str]:
    """Names used in the laws that are not declared: circuit quantities to eliminate (I_R, I_C)."""
    found = set()
    for sides in texts:
        for side in sides:
            found |= names_in(side, source, field)
    names = sorted(n for n in found - declared - set(FUNCTIONS) if unit_symbol(n) is None)
    for name in names:
        check_name(name, source, field)
    return names


def _assignments(table: object, names: Mapping[str, Any], source: str | None,
                 field: str) -> Assignments:
    """A table `state = "expression"` as ((state, written tree), ...), in file order."""
    if not isinstance(table, dict):
        raise ModelError("must be a table of state = \"expression\"", source, field)
    result = []
    for name, text in table.items():
        if name not in names:
            raise ModelError(f"{name!r} is not a declared state", source, field)
        result.append((symbol(name), parse(text, names, source, f"{field} {name}")[0]))
    return tuple(result)


