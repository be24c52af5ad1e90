"""A NESTML neuron model's blocks -> the document a lifgen model file holds.

`state`, `parameters`, `internals`, `equations`, `input`, `output`, `function` blocks become
lifgen's tables; `update`, `onReceive` and `onCondition` are recognised in the forms NEST's model
library writes them (see `update.py`). Names are NESTML's: a state `X'` is `X__d`, `X$` is
`X__dollar`, the states of a convolution are NESTML's own `K__X__port` (see `kernels.py`).
Parameter defaults are numbers computed from their (whitelisted) expressions, as NEST computes
them once; internals are written out where they are used, so they follow the parameters.
"""

from __future__ import annotations

import math
import re
from typing import Any, Callable

import sympy

from ...errors import ModelError
from ..budget import simplified
from ..expressions import names_in, parse_expression
from ..units import Unit, parse_unit, unit_of_symbol, unit_symbol
from .blocks import Line, read_lines
from .declarations import (Declaration, Ode, SpikePort, declaration, kernel_parts, ode, port,
                           unit_of, unit_text)
from .expressions import FUNCTIONS as NESTML_FUNCTIONS, Translator, lifgen_name
from .kernels import DELTA, Convolutions, read_kernel
from .update import read_behaviour

BLOCKS = ("state", "parameters", "internals", "equations", "input", "output", "update")
REFUSED_BLOCKS = {"onReceive": None, "onCondition": None, "function": None}
LARGEST = 1.7976931348623157e308
NEST_RESOLUTION = "0.1 ms"
FUNCTION_NAMES = set(NESTML_FUNCTIONS.values())
_PREVIOUS = re.compile(r"\bprevious\(\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)")
SIGNIFICANT = 15  # a default computed in SI is rounded back to the digits it was written in
NESTML_UNITS = ("mV", "ms", "pA", "nS", "pF", "Gohm", "mV**2", "1/ms", "1/mV", "mV/ms", "pA*mV")


class Scope:
    """A table name -> lifgen text for the Translator, with the model's calls (its functions,
    convolve, steps)."""

    def __init__(self, reader: "Reader", names: dict[str, str]) -> None:
        self.reader, self.names = reader, names

    def name(self, name: str) -> str | None:
        if name in self.names:
            return self.names[name]
        return self.reader.internal(name)

    def call(self, name: str, arguments: list[str], translate: Callable[[str], str]) -> str | None:
        if name == "convolve":
            return self.reader.convolutions.use(arguments)
        if name == "exp" and len(arguments) == 1:
            return f"exp({self.reader.dimensionless(translate(arguments[0]))})"
        if name in self.reader.functions:
            return self.reader.inline_function(name, [translate(a) for a in arguments])
        return None


class Reader:
    """Reads one NESTML model into a model-file document."""

    def __init__(self, text: str, source: str) -> None:
        self.source = source
        lines = read_lines(text, source)
        models = [line for line in lines if line.header.split()[:1] == ["model"]]
        if len(lines) != 1 or len(models) != 1:
            other = next((line for line in lines if line not in models), lines[0] if lines
                         else None)
            where = f"line {other.number}: " if other else ""
            raise ModelError(f"{where}a NESTML file for lifgen holds one 'model NAME:' block "
                             "(NESTML 9; older 'neuron NAME:' files and synapse models are not "
                             "read)", source)
        self.model = models[0]
        parts = self.model.header.split()
        if len(parts) != 2:
            raise ModelError(f"line {self.model.number}: expected 'model NAME:'", source)
        self.name = parts[1]
        self.blocks: dict[str, list[Line]] = {}
        for block in self.model.children:
            keyword = (block.header.split("(")[0].split() or [""])[0]
            if keyword not in BLOCKS and keyword not in REFUSED_BLOCKS:
                raise ModelError(f"line {block.number}: the block {block.header!r} has no "
                                 "lifgen meaning", source, f"line {block.number}")
            self.blocks.setdefault(keyword, []).append(block)
        self.parameters: dict[str, tuple[float, Unit | None]] = {}
        self.parameter_table: dict[str, Any] = {}
        self.constraints: list[str] = []
        self.internals: dict[str, Declaration] = {}
        self._internal_text: dict[str, str] = {}
        self._expanding: list[str] = []
        self.functions: dict[str, Line] = {}
        self.states: dict[str, Declaration] = {}
        self.spike_ports: dict[str, SpikePort] = {}
        self.current_ports: dict[str, Unit | None] = {}
        self.odes: dict[str, Ode] = {}
        self.inlines: dict[str, Declaration] = {}
        # state -> the factor its lifgen state is kept divided by: a spike adds NEST's weight w
        # to it (-1 keeps the name: an inhibitory port's target holds NEST's signed sum; any
        # other factor renames it X_per_w), see update.Behaviour._synapse
        self.scaled: dict[str, str] = {}
        self.dropped: dict[str, str] = {}  # NESTML state -> the lifgen construct it became
        self.previous: dict[str, str] = {}  # NESTML state holding another's previous value
        self.decays: dict[str, str] = {}  # state -> its rate, from `X = X * exp(-dt/tau)`
        # state -> (rate, mean, spread) of its Ornstein-Uhlenbeck step with random_normal()
        self.noise: dict[str, tuple[str, str, str]] = {}
        self.convolutions = Convolutions(self)
        self.origins: dict[str, Line] = {}  # a field of the document -> the line that wrote it

    # -- declarations ---------------------------------------------------------------------

    def read(self) -> dict[str, Any]:
        for block in self.blocks.get("function", []):
            words = block.header.split("(")[0].split()
            if len(words) != 2:
                raise ModelError(f"line {block.number}: expected 'function NAME(ARGUMENTS) "
                                 f"TYPE:', got {block.header!r}", self.source,
                                 f"line {block.number}")
            self.functions[words[1]] = block
        self._read_ports()
        for line in self._lines("state"):
            item = declaration(line, self.source)
            self._check_new(item.name, item.field)
            self.states[item.name] = item
        for line in self._lines("parameters"):
            self._read_parameter(declaration(line, self.source))
        for line in self._lines("internals"):
            item = declaration(line, self.source)
            self._check_new(item.name, item.field)
            self.internals[item.name] = item
        self._read_equations()
        behaviour = read_behaviour(self)
        document = self._document(behaviour)
        self._record_origins()
        return document

    def _record_origins(self) -> None:
        """Which NESTML line wrote each field of the document that names one quantity."""
        for kind, table in (("parameters", {}), ("states", self.states),
                            ("expressions", self.inlines), ("internals", self.internals)):
            for name, item in table.items():
                self.origins[f"[{kind}] {self.state_name(name) if kind == 'states' else name}"] \
                    = item.line
        for line in self._lines("parameters"):
            name = line.text.split()[0]
            self.origins[f"[parameters] {name}"] = line
        handler = next(iter(self.blocks.get("onCondition", [])), None)
        if handler is not None:
            self.origins["[spike] condition"] = handler

    def located(self, error: ModelError) -> ModelError:
        """`error`, found by lifgen's model-file checks in the document, as the NESTML line that
        wrote the field: the line quoted, the functions it calls named with their lines."""
        line = self.origins.get(error.field or "")
        if line is None:
            return error
        called = [f"{name}() (line {self.functions[name].number})" for name in self.functions
                  if re.search(rf"\b{re.escape(name)}\s*\(", line.text)]
        through = f"; it calls {', '.join(called)}" if called else ""
        return ModelError(f"{line.text!r}: {error.problem} (lifgen's {error.field}{through})",
                          self.source, f"line {line.number}")

    def _lines(self, keyword: str) -> list[Line]:
        return [line for block in self.blocks.get(keyword, []) for line in block.children]

    def _check_new(self, name: str, field: str) -> None:
        taken = (set(self.parameters) | set(self.internals) | set(self.states)
                 | set(self.spike_ports) | set(self.current_ports))
        if name in taken:
            raise ModelError(f"{name!r} is declared twice", self.source, field)

    def _read_ports(self) -> None:
        for line in self._lines("input"):
            kind, item = port(line, self.source)
            name = item.name if isinstance(item, SpikePort) else item[0]
            self._check_new(name, f"line {line.number}")
            if isinstance(item, SpikePort):
                self.spike_ports[name] = item
            else:
                self.current_ports[name] = item[1]
        outputs = [line.text for line in self._lines("output")]
        if outputs not in ([], ["spike"]):
            raise ModelError(f"the output {outputs!r} has no lifgen meaning (only 'spike')",
                             self.source, "output")

    def _read_parameter(self, item: Declaration) -> None:
        self._check_new(item.name, item.field)
        if item.type == "boolean":
            value = {"true": 1.0, "false": 0.0}.get(item.value.strip())
            if value is None:
                raise ModelError(f"the boolean {item.name} must be true or false", self.source,
                                 item.field)
            self.parameters[item.name] = (value, None)
            return  # read at its default where the update block tests it
        unit = unit_of(item.type, self.source, item.field)
        default, read = self._at_initial_state(item)
        names = {p: p for p in self.parameters}
        names["inf"] = "lg_inf"
        text = Translator(Scope(self, names), self.source, item.field).translate(default)
        value = self.evaluate(text, unit, item.field)
        self.parameters[item.name] = (value, unit)
        entry: dict[str, Any] = {"value": value}
        kept = in_nest_units(unit) if unit is not None else None
        if unit is not None and kept is not None and kept is not unit:
            entry["value"] = float(f"{value * unit.factor_to(kept):.{SIGNIFICANT}g}")
            unit = kept
        if read:
            entry["description"] = (f"NESTML's default reads {', '.join(read)}: computed at "
                                    "the initial state")
        if unit is not None:
            entry["unit"] = unit.text
        self.parameter_table[item.name] = entry
        if item.constraint:
            self.constraints.append(item.constraint)

    def _at_initial_state(self, item: Declaration) -> tuple[str, list[str]]:
        """A parameter's default with each state it reads replaced by the state's initial value
        (hh_cond_exp_destexhe's alpha_n_init reads V_m), and the states read. NESTML's code
        sets parameters before the state, so NEST reads V_m there before V_m is set; the
        initial value is what such a default evidently means. A state whose initial value
        reads a state in turn is refused."""
        def reads(text: str) -> list[str]:
            return [n for n in self.states
                    if re.search(rf"(?<![\w']){re.escape(n)}(?![\w'$])", text)]
        read, default = reads(item.value), item.value
        for state in read:
            initial = self.states[state].value
            if reads(initial):
                raise ModelError(f"the default of the parameter {item.name} reads the state "
                                 f"{state}, whose initial value reads a state: a lifgen "
                                 "parameter is a number", self.source, item.field)
            default = re.sub(rf"(?<![\w']){re.escape(state)}(?![\w'$])", f"({initial})",
                             default)
        return default, read

    def evaluate(self, text: str, unit: Unit | None, field: str) -> float:
        """The value of `text` (parameters at their values) in `unit`: NEST computes a
        parameter's default once, so it is a number here."""
        symbols = {p: sympy.Symbol(p) for p in self.parameters}
        symbols["lg_inf"] = sympy.Symbol("lg_inf")
        expr = parse_expression(text, symbols, self.source, field)
        values: dict[sympy.Basic, sympy.Basic] = {}
        for symbol in expr.free_symbols:
            assert isinstance(symbol, sympy.Symbol)
            known = unit_of_symbol(symbol)
            if known is not None:
                values[symbol] = _si(known)
            elif symbol.name == "lg_inf":
                values[symbol] = sympy.oo
            elif symbol.name in self.parameters:
                number, its_unit = self.parameters[symbol.name]
                values[symbol] = _exact(number) * _si(its_unit)
        total = expr.xreplace(values) / _si(unit)
        bases = sorted(total.free_symbols, key=str)  # SI base units, if the units do not cancel
        result = total.xreplace({b: 1 for b in bases})
        other = total.xreplace({b: sympy.Float(1.7 + 0.31 * i) for i, b in enumerate(bases)})
        if result.is_infinite and other == result:
            return math.copysign(LARGEST, float(result.evalf()))
        try:
            value, check = complex(result.evalf()), complex(other.evalf())
        except (TypeError, ValueError):
            raise ModelError(f"{text!r} is not a number", self.source, field) from None
        if not math.isclose(value.real, check.real, rel_tol=1e-9, abs_tol=1e-300):
            raise ModelError(f"{text!r} does not have the declared unit "
                             f"{unit.text if unit else 'real'}", self.source, field)
        if value.imag or not math.isfinite(value.real):
            raise ModelError(f"{text!r} is not a finite real number", self.source, field)
        return float(f"{value.real:.{SIGNIFICANT}g}")

    # -- names in expressions ------------------------------------------------------------

    def base_names(self) -> dict[str, str]:
        """NESTML name -> lifgen text in the model's equations."""
        names = {p: p for p in self.parameters}
        names.update({p: p for p in self.current_ports})
        names.update({n: n for n in self.inlines})
        for state in self.states:
            if state in self.dropped or state in self.convolutions.kernel_states:
                continue
            names[state] = self.reads(state)
        return names

    def scope(self, extra: dict[str, str] | None = None) -> Scope:
        names = self.base_names()
        names.update(extra or {})
        return Scope(self, names)

    def translate(self, text: str, field: str, extra: dict[str, str] | None = None) -> str:
        return Translator(self.scope(extra), self.source, field).translate(text)

    def internal(self, name: str) -> str | None:
        """An internal written out (in parentheses) where it is used."""
        if name not in self.internals:
            return None
        if name not in self._internal_text:
            if name in self._expanding or len(self._expanding) > 20:
                raise ModelError(f"the internal {name} is defined in terms of itself",
                                 self.source, self.internals[name].field)
            item = self.internals[name]
            self._expanding.append(name)
            try:
                text = self.translate(item.value, item.field)
            finally:
                self._expanding.pop()
            self._internal_text[name] = f"({text})"
        return self._internal_text[name]

    def inline_function(self, name: str, arguments: list[str]) -> str:
        """A call of one of the model's functions, written out: parameters bound to the
        arguments, local declarations to their values, the value of its `return`."""
        block = self.functions[name]
        header = block.header.split("(", 1)[1].rsplit(")", 1)[0]
        formals = [p.split()[0] for p in header.split(",") if p.strip()]
        field = f"line {block.number}"
        if len(formals) != len(arguments):
            raise ModelError(f"{name}() takes {len(formals)} arguments", self.source, field)
        if name in self._expanding or len(self._expanding) > 20:
            raise ModelError(f"the function {name}() calls itself", self.source, field)
        local = {f: f"({a})" for f, a in zip(formals, arguments)}
        self._expanding.append(name)
        try:
            for line in block.children:
                if line.text.startswith("return "):
                    return "(" + self.translate(line.text[7:], f"line {line.number}", local) + ")"
                item = declaration(line, self.source)
                local[item.name] = "(" + self.translate(item.value, item.field, local) + ")"
        finally:
            self._expanding.pop()
        raise ModelError(f"the function {name}() has no 'return' line lifgen can read",
                         self.source, field)

    def state_name(self, state: str) -> str:
        """The lifgen name of a NESTML state."""
        scaled = self.scaled.get(state, "1")
        return lifgen_name(state) + ("" if scaled in ("1", "-1") else "_per_w")

    def reads(self, state: str) -> str:
        """The text of NESTML's value of `state` in lifgen's states."""
        scaled = self.scaled.get(state, "1")
        name = self.state_name(state)
        return name if scaled == "1" else "(-" + name + ")" if scaled == "-1" \
            else f"(({scaled})*{name})"

    def stores(self, state: str, value: str) -> str:
        """The text lifgen's state holds for NESTML's `value` of `state`."""
        scaled = self.scaled.get(state, "1")
        return value if scaled == "1" else f"-({value})" if scaled == "-1" \
            else f"({value})/({scaled})"

    # -- equations ------------------------------------------------------------------------

    def _read_equations(self) -> None:
        for line in self._lines("equations"):
            parts = kernel_parts(line)
            if parts is not None:
                self.convolutions.add(read_kernel(self, line, parts))
                continue
            if line.text.split()[0] in ("inline", "recordable"):
                item = declaration(line, self.source)
                self._check_new(item.name, item.field)
                self.inlines[item.name] = item
                continue
            equation = ode(line.text, line)
            if equation is None:
                raise ModelError(f"line {line.number}: {line.text!r} is neither an ODE "
                                 "(X' = ...), an inline nor a kernel", self.source,
                                 f"line {line.number}")
            if equation.state not in self.states:
                raise ModelError(f"line {line.number}: {equation.state!r} is not a declared "
                                 "state", self.source, f"line {line.number}")
            self.odes[equation.state] = equation

    def ode_states(self) -> list[str]:
        """The NESTML states moved by an ODE (a second-order ODE moves two)."""
        moved = []
        for state in self.states:
            if state in self.odes or (state + "'") in self.odes or state in self.decays \
                    or state in self.noise:
                moved.append(state)
        return moved

    def laws(self) -> list[str]:
        laws = []
        for state in self.ode_states():
            if state in self.dropped:
                continue
            name = self.state_name(state)
            if state in self.decays:
                rhs = f"-({self.decays[state]})*{self.base_names()[state]}"
            elif state in self.noise:
                rate, mean, spread = self.noise[state]
                rhs = (f"({rate})*(({mean}) - {self.base_names()[state]}) "
                       f"+ ({spread})*xi_{name}")
            elif state in self.odes:
                equation = self.odes[state]
                rhs = self.translate(equation.value, f"line {equation.line.number}")
                if DELTA in rhs:
                    rhs = self.convolutions.delta_jump(state, rhs,
                                                       f"line {equation.line.number}")
            else:  # X' is a state: X moves as it
                rhs = self.reads(state + "'")
            laws.append(f"d{name}/dt = {self.stores(state, rhs)}")
            origin = (self.odes[state].line if state in self.odes else
                      self.odes[state + "'"].line if state + "'" in self.odes else None)
            if origin is not None:
                self.origins[f"[equations] laws #{len(laws)}"] = origin
        return laws + self.convolutions.laws()

    def dimensionless(self, text: str) -> str:
        """An argument of exp() as NESTML computes it: a quantity is its number in NESTML's
        units (traub_cond_multisyn's `exp(-t_peak / Tau_1)`, t_peak a number of ms, reads as
        `exp(-t_peak / (Tau_1/ms))`)."""
        return self.as_number(text)

    def as_number(self, text: str) -> str:
        """`text` divided by the NESTML unit its dimensions are measured in (unchanged where
        it is a number or its dimensions are unknown)."""
        dimensions = self.dimensions_of(text)
        if dimensions is None or dimensions.is_number:
            return text
        for nestml_unit in NESTML_UNITS:
            if _measured_in(dimensions, _si(unit_of(nestml_unit, self.source, ""))):
                return f"({text})/({nestml_unit})"
        return text

    def dimensions_of(self, text: str) -> sympy.Expr | None:
        """The SI dimensions of `text` (None where a name's unit is not known)."""
        units: dict[str, Unit | None] = {p: u for p, (_, u) in self.parameters.items()}
        units.update(self.current_ports)
        for state, item in self.states.items():
            if item.type != "boolean":
                units[lifgen_name(state)] = unit_of(item.type, self.source, item.field)
                units[lifgen_name(state) + "__previous"] = units[lifgen_name(state)]
        for name, item in self.inlines.items():
            units[name] = unit_of(item.type, self.source, item.field)
        units["dt"] = units["lg_t"] = unit_of("ms", self.source, "")
        text = _PREVIOUS.sub(r"\1__previous", text)  # previous(V) has V's unit
        try:
            names = {n: sympy.Symbol(n) for n in names_in(text) if unit_symbol(n) is None}
            expr = parse_expression(text, names, self.source, "exp")
        except ModelError:
            return None
        values: dict[sympy.Basic, sympy.Basic] = {}
        for index, symbol in enumerate(sorted(expr.free_symbols, key=str)):
            assert isinstance(symbol, sympy.Symbol)
            known = unit_of_symbol(symbol)
            sample = sympy.Float(1.3 + 0.7 * index)  # distinct values: no 0/0 from tau_2-tau_1
            if known is not None:
                values[symbol] = _si(known)
            elif symbol.name in units:
                values[symbol] = sample * _si(units[symbol.name])
            elif not symbol.name.startswith(("lg_", DELTA)) and "__X__" not in symbol.name:
                return None
            else:
                values[symbol] = sample
        return _dimension_simplified(expr.xreplace(values))

    def real_in_nestml_units(self, text: str, item: Declaration) -> str:
        """An inline declared `real` whose value is a quantity (terub_gpe's `I_exc_mod real =
        -unit_psg * convolve(...) * V_m`, in pA): its number in NESTML's units."""
        if unit_of(item.type, self.source, item.field) is not None:
            return text
        return self.as_number(text)

    def in_nestml_units(self, text: str, unit: Unit | None, field: str) -> str:
        """`text` for a `real` quantity given a quantity, as NESTML reads it: its number in
        NESTML's units (izhikevich's `U_m real = b * V_m_init`, V_m_init in mV)."""
        if unit is not None or not set(self.parameters) >= _names(text) - {"dt"}:
            return text
        try:
            self.evaluate(text, None, field)
            return text
        except ModelError:
            pass
        for nestml_unit in NESTML_UNITS:
            try:
                self.evaluate(f"({text})/({nestml_unit})", None, field)
                return f"({text})/({nestml_unit})"
            except ModelError:
                continue
        return text

    # -- the document ---------------------------------------------------------------------

    def _document(self, behaviour: dict[str, Any]) -> dict[str, Any]:
        expressions = {name: self.real_in_nestml_units(self.translate(item.value, item.field),
                                                       item)
                       for name, item in self.inlines.items()}
        laws = self.laws()  # after the expressions: both create the convolutions' states
        states: dict[str, Any] = {}
        for state, item in self.states.items():
            if state in self.dropped or state in self.convolutions.kernel_states:
                continue
            if state not in self.ode_states():
                raise ModelError(f"the state {state} has no ODE and no form of the update block "
                                 "lifgen recognises moves it", self.source, item.field)
            if item.type == "boolean":
                raise ModelError(f"the boolean state {state} has no lifgen meaning",
                                 self.source, item.field)
            unit = unit_of(item.type, self.source, item.field)
            initial = self.in_nestml_units(self.translate(item.value, item.field), unit,
                                           item.field)
            entry: dict[str, Any] = {"initial": self.stores(state, initial)}
            if unit is not None and self.state_name(state) == lifgen_name(state):  # X_per_w: 1
                entry["unit"] = in_nest_units(unit).text
            states[self.state_name(state)] = entry
        states.update(self.convolutions.states())
        document: dict[str, Any] = {
            "model": {"name": self.name, "description": f"read from NESTML ({self.source})",
                      "reference": "NESTML models/neurons (nest/nestml)"},
            "parameters": self.parameter_table,
            "states": states,
            "equations": {"laws": laws},
            "simulation": {"method": "auto", "dt": NEST_RESOLUTION},
        }
        if self.current_ports:
            document["inputs"] = {name: ({"unit": unit_text(unit)} if unit else {})
                                  for name, unit in self.current_ports.items()}
        if expressions:
            document["expressions"] = expressions
        synapses = {**behaviour.pop("synapses", {}), **self.convolutions.synapses()}
        if synapses:
            document["synapses"] = synapses
        document.update(behaviour)
        return _renamed_case_twins(document)


# NEST's units of each kind: a quantity declared in another prefix of one (hh_cond_exp_destexhe's
# noise conductances in uS beside nS) is kept in it, so that the model's units form one system
NEST_UNITS = ("mV", "ms", "pA", "nS", "pF")


def in_nest_units(unit: Unit) -> Unit:
    """NEST's unit of `unit`'s kind, where `unit` is another prefix of it; else `unit`."""
    for text in NEST_UNITS:
        nest = parse_unit(text)
        if nest.si[1] == unit.si[1] and nest.text != unit.text:
            return nest
    return unit


SIMPLIFY_OPS = 40  # larger dimension expressions are only combined, not simplified


def _dimension_simplified(expr: sympy.Expr) -> sympy.Expr:
    """An expression of sample numbers and SI base units brought to one power product where it
    is one. SymPy's simplify took minutes on hh_moto_5ht's rate functions (which add numbers to
    voltages); products and like terms combine as SymPy builds them, so a large expression is
    only powsimp'd: a sum of unlike units stays a sum, which is what its callers look for."""
    if sympy.count_ops(expr) <= SIMPLIFY_OPS:
        return simplified(expr)
    return sympy.powsimp(expr, force=True)


def _measured_in(dimensions: sympy.Expr, unit: sympy.Expr) -> bool:
    """Whether `dimensions` (from dimensions_of) are a number of `unit`'s. A sum of unlike
    units (a number added to a voltage) is none."""
    if isinstance(dimensions, sympy.Add) and not dimensions.is_number:
        return False
    return bool(_dimension_simplified(dimensions / unit).is_number)


def _si(unit: Unit | None) -> sympy.Expr:
    if unit is None:
        return sympy.Integer(1)
    factor, dimensions = unit.si
    return _exact(factor) * dimensions


def _exact(number: float) -> sympy.Expr:
    """The decimal a float prints as, exactly: 250 pF in pF is 250, not 250.00000000000003."""
    return sympy.Rational(repr(number)) if math.isfinite(number) else sympy.Float(number)


def _names(text: str) -> set[str]:
    return {n for n in names_in(text) if unit_symbol(n) is None and n not in FUNCTION_NAMES}


def _renamed_case_twins(document: dict[str, Any]) -> dict[str, Any]:
    """lifgen refuses names that differ only in case (iaf_chxk_2008's parameter G_ahp and state
    g_ahp): such a parameter is renamed NAME_parameter everywhere in the document."""
    names = [n for section in ("states", "parameters", "inputs", "expressions", "synapses")
             for n in document.get(section, {})]
    renames = {p: p + "_parameter" for p in document["parameters"]
               if any(n != p and n.lower() == p.lower() for n in names)}
    if not renames:
        return document
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, renames)) + r")\b")

    def rename(value: Any) -> Any:
        if isinstance(value, str):
            return pattern.sub(lambda m: renames[m.group(1)], value)
        if isinstance(value, dict):
            return {renames.get(k, k) if value is document["parameters"] else k: rename(v)
                    for k, v in value.items()}
        if isinstance(value, list):
            return [rename(v) for v in value]
        return value

    return rename(document)
