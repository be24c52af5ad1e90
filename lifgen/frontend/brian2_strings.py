"""Brian2's NeuronGroup strings -> the document a model file gives -> the model file's passes.

`from_brian2(model, threshold, reset, refractory, namespace, method, name)` takes the strings as
Brian2's `NeuronGroup` takes them and builds the TOML document that a model file would hold
(`[parameters]`, `[states]`, `[expressions]`, `[equations] laws`, `[spike]`, `[reset]`,
`[refractory]`, `[simulation]`); `modelfile.model_from_document` then checks and derives it as
it does any model file. Every expression goes through lifgen's whitelist parser
(`expressions.py`): nothing is imported from Brian2 and nothing is evaluated.

Quantities keep Brian2's units, which are SI (a state `v : volt` is in volts, time in seconds),
so lifgen computes in the numbers Brian2 computes in. Namespace values are numbers or strings
(`"20*ms"`, `"20 ms"`, `"100*msiemens/cm**2 * area"`, `"VT + 5*DeltaT"`), converted to SI and
declared as parameters; Python objects are refused, never evaluated.
"""

from __future__ import annotations

import math
import re
from typing import Any, Mapping

import sympy

from ..errors import ModelError
from ..ir.model import Model
from ..ir import written
from ..ir.names import check_name
from .dimensions import NONE, Dimension, DimensionCheck, dimension
from .expressions import FUNCTIONS, names_in, parse, shown_number
from .modelfile import model_from_document
from .units import UnitError, is_quantity_text, parse_quantity, parse_unit, unit_symbol

SOURCE = "from_brian2"
# Brian2's method names and lifgen's method for each (the methods whose steps lifgen computes as
# Brian2 does; `linear` is Brian2's older name for `exact`).
METHODS = {"euler": "euler", "rk2": "rk2", "rk4": "rk4", "exponential_euler": "exponential_euler",
           "exact": "exact", "linear": "exact"}
DEFAULT_DT = "0.0001 second"  # Brian2's defaultclock.dt, 0.1 ms
MAX_TEXT = 20000
MAX_EQUATIONS = 200
# Brian2 names with no lifgen meaning, and why.
REFUSED_NAMES = {
    "int": "int(...) casts a value to an integer state, which lifgen's states (floating point) "
           "cannot hold",
    "rand": "rand() draws a random number; lifgen's only randomness is the white noise xi of "
            "an equation",
    "randn": "randn() draws a random number; lifgen's only randomness is the white noise xi of "
             "an equation",
    "poisson": "poisson() draws a random number; lifgen's only randomness is the white noise xi",
    "t": "the time t in an equation (a time-dependent drive) has no lifgen meaning: drive the "
         "model through a parameter or an input instead",
    "i": "the neuron index i has no meaning for one lifgen model: give per-neuron values with "
         "run(params=...)",
    "N": "the group size N has no meaning for one lifgen model",
    "lastspike": "lastspike is Brian2's bookkeeping of the refractory period",
    "not_refractory": "not_refractory is Brian2's bookkeeping of the refractory period",
    "timestep": "timestep() is Brian2's bookkeeping of the refractory period",
}
# Flags of each kind of equation and whether lifgen keeps their meaning.
FLAGS = {
    "differential": {"unless refractory"},
    "subexpression": {"shared", "constant over dt"},
    "parameter": {"constant", "shared", "constant over dt"},
}
REFUSED_FLAGS = {
    "summed": "a summed variable is written by Synapses, which a lifgen model does not hold",
    "linked": "a linked variable reads another group's state, which a lifgen model cannot",
    "event-driven": "event-driven is a flag of Synapses' equations, not a neuron's",
    "clock-driven": "clock-driven is a flag of Synapses' equations, not a neuron's",
}
# Units named when a namespace value or an equation's unit is written back (SI, scale 1).
SI_NAMES = ("volt", "amp", "second", "siemens", "farad", "ohm", "hertz", "metre", "coulomb",
            "volt/second", "amp/second", "siemens/second", "amp/metre**2", "siemens/metre**2",
            "farad/metre**2", "metre**2", "ohm*metre", "second**2", "1/volt", "1/amp",
            "1/siemens", "1/farad", "1/(volt*second)", "volt**2", "1/volt**2", "amp/volt**2",
            "siemens/volt", "farad/second", "volt/amp", "metre**3", "mole", "kelvin",
            "mole/metre**3", "joule", "amp**2")
BASE_SPELLING = ("metre", "kgram", "second", "amp", "kelvin", "mole", "candela")

_STATEMENT = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*([-+*/]?)=(?!=)\s*(.*)$", re.S)
_DIFFERENTIAL = re.compile(r"^\s*d([A-Za-z_][A-Za-z0-9_]*)\s*/\s*dt\s*=(?!=)(.*)$", re.S)
_SUBEXPRESSION = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=(?!=)(.*)$", re.S)
_PARAMETER = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*$")


class _Equation:
    def __init__(self, kind: str, name: str, expression: str, unit: str,
                 flags: frozenset[str], text: str) -> None:
        self.kind, self.name, self.expression = kind, name, expression
        self.unit, self.flags, self.text = unit, flags, text


def from_brian2(model: str, threshold: str | None = None, reset: str | None = None,
                refractory: Any = None, namespace: Mapping[str, Any] | None = None,
                method: str | None = None, name: str | None = None) -> Model:
    """A lifgen Model from the strings Brian2's `NeuronGroup(N, model, threshold=, reset=,
    refractory=, namespace=, method=)` takes; see the README section "Brian2's equations"."""
    document = brian2_document(model, threshold, reset, refractory, namespace, method, name)
    return model_from_document(document, SOURCE)


def brian2_document(model: str, threshold: str | None = None, reset: str | None = None,
                    refractory: Any = None, namespace: Mapping[str, Any] | None = None,
                    method: str | None = None, name: str | None = None) -> dict[str, Any]:
    """The model-file document (TOML tables as dicts) of Brian2's strings."""
    equations = parse_equations(model)
    name = check_name(name if name is not None else "brian2_model", SOURCE, "name")
    states = [e for e in equations if e.kind == "differential"]
    if not states:
        raise ModelError("the equations have no differential equation dX/dt = ...: a lifgen "
                         "model needs at least one state", SOURCE, "model")
    declared = {e.name for e in equations}
    namespace = _checked_namespace(namespace, declared)
    texts = [(f"equation of {e.name}", e.expression) for e in equations if e.expression]
    texts += [("threshold", _text(threshold, "threshold"))] if threshold is not None else []
    statements = _reset_statements(reset, {e.name for e in states}) if reset is not None else []
    texts += [(f"reset {target}", value) for target, value in statements]
    refractory_text, condition = _refractory(refractory, threshold)
    if refractory_text:
        texts.append(("refractory", refractory_text))
    used = []
    for constant in _used_names(texts, declared):
        if constant in namespace:
            used.append(constant)
        elif unit_symbol(constant) is None:
            raise ModelError(f"{constant!r} is neither declared in the equations nor given in "
                             "namespace (lifgen does not look names up in the caller's scope, "
                             "as Brian2 does: pass them in namespace=)", SOURCE, "namespace")
    values = _Namespace(namespace)
    parameters: dict[str, Any] = {}
    for e in equations:
        if e.kind == "parameter":
            parameters[e.name] = {"value": 0.0, "unit": e.unit}  # Brian2's default value, 0
    for constant in used:
        value, dim = values.resolve(constant, ())
        parameters[constant] = {"value": value, "unit": unit_text(dim, f"namespace[{constant!r}]")}
    document: dict[str, Any] = {
        "model": {"name": name, "description": "read from Brian2's equations"},
        "parameters": parameters,
        "states": {e.name: {"initial": 0.0, "unit": e.unit} for e in states},
        "equations": {"laws": [f"d{e.name}/dt = {e.expression}" for e in states]},
        "simulation": {"dt": DEFAULT_DT},
    }
    expressions = _ordered_subexpressions([e for e in equations if e.kind == "subexpression"],
                                          {e.name for e in states})
    if expressions:
        document["expressions"] = expressions
    if method is not None:
        if not isinstance(method, str) or method not in METHODS:
            raise ModelError(f"method {method!r} has no lifgen counterpart that computes as "
                             f"Brian2 does (use one of {', '.join(METHODS)})", SOURCE, "method")
        document["simulation"]["method"] = METHODS[method]
    _spike_and_reset(document, threshold, statements, condition)
    frozen = [e.name for e in states if "unless refractory" in e.flags]
    if refractory_text and not condition:
        document["refractory"] = {"period": refractory_text, "frozen": frozen}
    elif frozen:
        raise ModelError(f"{frozen[0]} is (unless refractory), which needs a refractory period "
                         "given as a duration" if condition else
                         f"{frozen[0]} is (unless refractory) but no refractory period is given",
                         SOURCE, "refractory")
    return document


def _text(value: object, field: str) -> str:
    if not isinstance(value, str):
        raise ModelError(f"must be a string, got {type(value).__name__} (lifgen reads Brian2's "
                         "strings, never Python objects)", SOURCE, field)
    if len(value) > MAX_TEXT:
        raise ModelError(f"is {len(value)} characters long; the limit is {MAX_TEXT}", SOURCE, field)
    return value


def parse_equations(text: object) -> list[_Equation]:
    """Brian2's equations, one per `... : unit (flags)`; an expression may go on over several
    lines, and `#` starts a comment."""
    text = _text(text, "model")
    lines = [line.split("#", 1)[0] for line in text.splitlines()]
    result, pending = [], ""
    for line in lines:
        pending += (" " if pending else "") + line.strip()
        if ":" in line:
            result.append(_equation(pending))
            pending = ""
        if len(result) > MAX_EQUATIONS:
            raise ModelError(f"more than {MAX_EQUATIONS} equations", SOURCE, "model")
    if pending.strip():
        raise ModelError(f"{pending.strip()[:80]!r} has no ': unit' (each Brian2 equation ends "
                         "with its unit, such as ': volt' or ': 1')", SOURCE, "model")
    seen: set[str] = set()
    for equation in result:
        if equation.name in seen:
            raise ModelError(f"{equation.name!r} is defined twice", SOURCE, "model")
        seen.add(equation.name)
    return result


def _equation(text: str) -> _Equation:
    definition, _, unit_and_flags = text.partition(":")
    unit, flags = _unit_and_flags(unit_and_flags.strip(), text)
    for pattern, kind in ((_DIFFERENTIAL, "differential"), (_SUBEXPRESSION, "subexpression"),
                          (_PARAMETER, "parameter")):
        match = pattern.match(definition)
        if match:
            break
    else:
        raise ModelError(f"{text[:80]!r} is not a Brian2 equation (dx/dt = ... : unit, "
                         "x = ... : unit or x : unit)", SOURCE, "model")
    name = match.group(1)
    field = f"model: {name}"
    check_name(name, SOURCE, field)
    for flag in flags:
        if flag in REFUSED_FLAGS:
            raise ModelError(f"flag ({flag}): {REFUSED_FLAGS[flag]}", SOURCE, field)
        if flag not in FLAGS[kind]:
            raise ModelError(f"flag ({flag}) has no lifgen meaning for a {kind} (allowed: "
                             f"{', '.join(sorted(FLAGS[kind])) or 'none'})", SOURCE, field)
    expression = match.group(2).strip() if kind != "parameter" else ""
    if kind != "parameter" and not expression:
        raise ModelError("the expression is empty", SOURCE, field)
    return _Equation(kind, name, expression, unit, frozenset(flags), text)


def _unit_and_flags(text: str, equation: str) -> tuple[str, list[str]]:
    """('volt', ['unless refractory']) of 'volt (unless refractory)', the unit as SI text."""
    flags: list[str] = []
    if text.endswith(")") and "(" in text:
        opening = text.rindex("(")
        before = text[:opening].rstrip()
        if before and before[-1] not in "*/(":
            flags = [" ".join(f.split()) for f in text[opening + 1:-1].split(",")]
            text = before
    if text in ("boolean", "integer"):
        raise ModelError(f"a {text} variable has no lifgen meaning (lifgen's states and "
                         "parameters are floating point)", SOURCE, f"model: {equation[:60]!r}")
    try:
        unit = parse_unit(text)
    except UnitError as error:
        raise ModelError(str(error), SOURCE, f"model: {equation[:60]!r}") from None
    return unit_text(dimension(unit), f"model: {equation[:60]!r}"), flags


def unit_text(dim: Dimension, field: str) -> str:
    """The SI unit of a dimension as text lifgen and Brian2 both read: 'volt', 'amp/metre**2',
    '' for a dimensionless number."""
    if dim == NONE:
        return ""
    for text in SI_NAMES:
        if dimension(parse_unit(text)) == dim:
            return text
    if all(e.denominator == 1 and abs(e) <= 4 for e in dim):
        return "*".join(f"{u}**{int(e)}" if e != 1 else u for u, e in zip(BASE_SPELLING, dim) if e)
    raise ModelError(f"a quantity of dimension {dim} has no unit lifgen can write", SOURCE, field)


def _checked_namespace(namespace: object, declared: set[str]) -> dict[str, Any]:
    if namespace is None:
        return {}
    if not isinstance(namespace, Mapping):
        raise ModelError(f"must be a dict of name: value, got {type(namespace).__name__}",
                         SOURCE, "namespace")
    result = {}
    for key, value in namespace.items():
        field = f"namespace[{key!r}]"
        if not isinstance(key, str):
            raise ModelError("a namespace key must be a name", SOURCE, field)
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ModelError(f"is a {type(value).__name__}: give a number or a string with "
                             "units such as '20*ms' (lifgen never evaluates Python objects)",
                             SOURCE, field)
        if key in declared:
            raise ModelError(f"{key!r} is declared by the equations, which take precedence "
                             "over the namespace in Brian2: set it with run(params=...) or "
                             "run(initial=...)", SOURCE, field)
        result[key] = value
    return result


class _Namespace:
    """Namespace values as (SI number, dimension), strings parsed by the whitelist parser,
    each resolved once (one value may use others: `Cm = "1*ufarad*cm**-2 * area"`)."""

    def __init__(self, namespace: Mapping[str, Any]) -> None:
        self.namespace = namespace
        self.resolved: dict[str, tuple[float, Dimension]] = {}
        self.check = DimensionCheck([], "second", SOURCE)  # SI: every unit name its SI number

    def resolve(self, key: str, chain: tuple[str, ...]) -> tuple[float, Dimension]:
        if key in self.resolved:
            return self.resolved[key]
        field = f"namespace[{key!r}]"
        check_name(key, SOURCE, field)
        if key in chain:
            raise ModelError(f"{' -> '.join(chain + (key,))} refer to each other", SOURCE, field)
        if len(chain) > 50:
            raise ModelError("namespace values refer to each other more than 50 deep", SOURCE,
                             field)
        value = self.namespace[key]
        if isinstance(value, (int, float)):
            result = (float(value) if abs(value) < 1e308 else math.inf, NONE)  # (10**400)
        elif is_quantity_text(value) and _quantity(value) is not None:  # "20 ms"
            magnitude, unit = parse_quantity(value)
            result = (magnitude * unit.si[0], dimension(unit))
        else:  # "20*ms", "281 * pF", "VT + 5*DeltaT"
            result = self._expression(key, value, chain + (key,), field)
        if not math.isfinite(result[0]):
            raise ModelError(f"{shown_number(value)} is not a finite number", SOURCE, field)
        self.resolved[key] = result
        return result

    def _expression(self, key: str, text: str, chain: tuple[str, ...],
                    field: str) -> tuple[float, Dimension]:
        others = sorted(n for n in names_in(text, SOURCE, field) if n in self.namespace)
        names = {n: sympy.Symbol(n) for n in others}
        tree, expr = parse(text, names, SOURCE, field)
        zero = expr == 0
        if zero:  # "0*mV" is volt: the dimension of 1*mV
            expr = written.to_sympy(_ones(tree))
        values = {}
        for other in others:
            number, dim = self.resolve(other, chain)
            self.check.dims[names[other]] = dim
            values[names[other]] = sympy.Float(number)
        dim = self.check.infer(expr, field, text)
        if zero:
            return 0.0, dim
        try:
            number = float(self.check.numbers(expr).xreplace(values))
        except (TypeError, ValueError, OverflowError):
            raise ModelError(f"{text!r} is not a constant (a namespace value may use units "
                             "and other namespace values only)", SOURCE, field) from None
        return number, dim


def _quantity(text: str) -> Any:
    try:
        return parse_quantity(text)
    except UnitError:
        return None


def _ones(tree: written.Node) -> written.Node:
    """`tree` with each literal 0 made 1 (for the dimension of a zero such as 0*mV)."""
    if isinstance(tree, written.Num):
        return written.Num(1) if tree.value == 0 else tree
    return written.rebuild(tree, [_ones(c) for c in written.children(tree)])


def _used_names(texts: list[tuple[str, str]], declared: set[str]) -> list[str]:
    """The names the expressions use that the equations do not declare (namespace constants),
    in order of first use; each Brian2 name without a lifgen meaning refused by name."""
    used: list[str] = []
    for field, text in texts:
        for name in sorted(names_in(text, SOURCE, field)):
            if name in REFUSED_NAMES:
                raise ModelError(f"{name!r}: {REFUSED_NAMES[name]}", SOURCE, field)
            if name in declared or name in FUNCTIONS or name in used or name == "xi" \
                    or re.fullmatch(r"xi_\w+", name):  # noise sources, each its own stream
                continue
            used.append(name)
    return used


def _ordered_subexpressions(subexpressions: list[_Equation], states: set[str]) -> dict[str, str]:
    """The subexpressions in an order where each uses only earlier ones (Brian2 sorts them
    itself); `(constant over dt)` only where it changes nothing (no state in it)."""
    by_name = {e.name: e for e in subexpressions}
    uses = {e.name: names_in(e.expression, SOURCE, f"model: {e.name}") for e in subexpressions}
    ordered: dict[str, str] = {}
    while len(ordered) < len(by_name):
        ready = [n for n in by_name if n not in ordered
                 and all(u in ordered or u not in by_name for u in uses[n])]
        if not ready:
            rest = sorted(set(by_name) - set(ordered))
            raise ModelError(f"the subexpressions {', '.join(rest)} refer to each other in a "
                             "circle", SOURCE, "model")
        for n in ready:
            ordered[n] = by_name[n].expression
    for e in subexpressions:
        if "constant over dt" in e.flags:
            depends = _depends_on_state(e.name, uses, states, set())
            if depends:
                raise ModelError(f"(constant over dt) holds {e.name} fixed within a step, but "
                                 f"it depends on the state {depends}, and lifgen evaluates "
                                 "subexpressions at every stage of the step", SOURCE,
                                 f"model: {e.name}")
    return ordered


def _depends_on_state(name: str, uses: Mapping[str, set[str]], states: set[str],
                      seen: set[str]) -> str | None:
    for used in sorted(uses.get(name, ())):
        if used in states:
            return used
        if used in uses and used not in seen:
            seen.add(used)
            found = _depends_on_state(used, uses, states, seen)
            if found:
                return found
    return None


def _reset_statements(reset: object, states: set[str]) -> list[tuple[str, str]]:
    """Brian2's reset code, one statement a line or separated by ';', as (state, expression)
    with `w += b` read as `w = w + (b)`."""
    text = _text(reset, "reset")
    statements = [s.split("#", 1)[0].strip() for line in text.splitlines()
                  for s in line.split(";")]
    result: list[tuple[str, str]] = []
    assigned: set[str] = set()
    for statement in filter(None, statements):
        match = _STATEMENT.match(statement)
        if match is None:
            raise ModelError(f"{statement[:80]!r} is not an assignment such as 'v = v_r' or "
                             "'w += b'", SOURCE, "reset")
        target, operator, value = match.groups()
        if target not in states:
            raise ModelError(f"{statement!r} assigns {target!r}, which is not a state of the "
                             "equations (lifgen resets states only)", SOURCE, "reset")
        if target in assigned:
            raise ModelError(f"{target} is assigned twice", SOURCE, "reset")
        reads = names_in(value, SOURCE, "reset") & assigned
        if reads:
            raise ModelError(f"{statement!r} reads {sorted(reads)[0]}, which an earlier "
                             "statement of the reset assigns; lifgen's reset computes every "
                             "value from the state before it", SOURCE, "reset")
        assigned.add(target)
        result.append((target, f"{target} {operator} ({value})" if operator else value))
    return result


def _refractory(refractory: object, threshold: str | None) -> tuple[str, bool]:
    """(period or condition text, whether it is a condition). A duration: text such as '5*ms',
    '5 ms' or a name; a condition: the threshold itself (Brian2's refractory='v > -40*mV' with
    threshold 'v > -40*mV' is a spike on each upward crossing)."""
    if refractory is None or refractory is False:
        return "", False
    if isinstance(refractory, bool) or not isinstance(refractory, str):
        raise ModelError(f"must be a string such as '5*ms' or 'v > v_th', got "
                         f"{type(refractory).__name__} (a plain number has no unit; lifgen "
                         "never evaluates Python objects)", SOURCE, "refractory")
    text = _text(refractory, "refractory").strip()
    if is_quantity_text(text):
        magnitude, unit = parse_quantity(text)
        return f"{magnitude!r}*{unit.text}", False
    if re.search(r"[<>]|\b(and|or|not)\b", text):
        if threshold is None or " ".join(text.split()) != " ".join(threshold.split()):
            raise ModelError(f"a refractory condition {text!r} has a lifgen meaning only when it "
                             "is the threshold itself (a spike on each upward crossing); give a "
                             "duration such as '5*ms' otherwise", SOURCE, "refractory")
        return text, True
    return text, False


def _spike_and_reset(document: dict[str, Any], threshold: str | None,
                     statements: list[tuple[str, str]], condition: bool) -> None:
    if threshold is None:
        if statements:
            raise ModelError("a reset needs a threshold", SOURCE, "reset")
        document["spike"] = {"condition": "never"}
        document["reset"] = {"mechanism": "none", "timing": "same_step"}
        return
    document["spike"] = {"condition": threshold, **({"on": "crossing"} if condition else {})}
    reset: dict[str, Any] = {"mechanism": "zero" if statements else "none", "timing": "same_step"}
    if statements:
        reset["zero"] = dict(statements)
    document["reset"] = reset

