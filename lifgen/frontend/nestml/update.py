"""NESTML's `update`, `onReceive` and `onCondition` blocks -> lifgen's spike, reset,
refractory, after-step and synapse tables, in the forms NEST's model library writes them.

Recognised (anything else is a ModelError quoting the line):
- a refractory timer `refr_t` (a state with `refr_t' = -1e3 * ms/s`), tested `if refr_t > 0 ms:`
  around two `integrate_odes(...)` calls: lifgen's `[refractory]` period (the value the
  `onCondition` block sets it to), counted as NEST counts it; the states integrated only when
  not refractory are `frozen`; the timer is not a lifgen state;
- counters `if r == 0: integrate_odes(...) else: r -= 1` and `if r_tot == 0 and ...: ... else:
  r_tot -= 1` set to `steps(t)` (iaf_psc_exp_htum): the two periods `clamp_period` and `period`;
- `V_old = V` before `integrate_odes`: `previous(V)` in the spike condition and resets;
- `X = X * P` where `P = exp(-resolution()/tau)`: the ODE `X' = -X/tau` (frozen with the
  others when it is done only outside the refractory period);
- statements after `integrate_odes()`: `X += c * port * s` (a synapse type) and `X = f(...)`
  (`[after_step]`);
- `onReceive(port): X += c * port * s` with c a constant: the synapse type `port` with target
  X when c is one unit of X, else X kept divided by c as the state `X_per_w` (aeif_psc_alpha's
  `I_syn_exc' += ... * (e / tau_exc) * s`); on an inhibitory port c is negated (NEST's weight);
- one `onCondition(test)`: the spike condition (the timer's test removed); its assignments the
  reset (local declarations written out, a boolean parameter's `if` read at its default).
"""

from __future__ import annotations

import re
from typing import Any

import sympy

from ...errors import ModelError
from ..budget import simplified
from ..expressions import parse_expression
from .blocks import Line
from .declarations import declaration, unit_of
from .expressions import lifgen_name
from .printing import text as printed

Reader = Any  # translate.Reader, which imports this module

_INTEGRATE = re.compile(r"^integrate_odes\s*\((?P<names>[^()]*)\)$")
_ASSIGN = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*'*)\s*(?P<op>[-+*/]?=)(?!=)\s*(?P<value>.+)$")
_IF = re.compile(r"^(?P<kind>if|elif)\s+(?P<test>.+)$")
_TIMER_TEST = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*>\s*0\s*(?:ms|s)?$")
_TIMER_DONE = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*<=\s*0\s*(?:ms|s)?$")
_COUNTER_TEST = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*==\s*0$")
_BOOLEAN_TEST = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*==\s*(?P<value>true|false)$")
_DECLARED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\s+[^=\s][^=]*=(?!=)")
_RANDOM_NORMAL = re.compile(r"\brandom_normal\s*\(\s*(?P<mean>[^(),]+?)\s*,"
                            r"\s*(?P<sd>[^(),]+?)\s*\)")
_ON = re.compile(r"^(?P<kind>onReceive|onCondition)\s*\((?P<argument>.*)\)$")


class Behaviour:
    def __init__(self, reader: Reader) -> None:
        self.reader = reader
        self.source = reader.source
        self.integrated_refractory: set[str] | None = None  # None: no refractory branch
        self.integrated: set[str] | None = None
        self.decays: dict[str, tuple[Line, str]] = {}
        self.timer: str | None = None
        self.counters: dict[str, str] = {}  # counter state -> "clamp" or "period"
        self.after_step: list[tuple[Line, str, str]] = []
        self.synapses: dict[str, Any] = {}
        self.spike_test: tuple[Line, list[str], list[Line]] | None = None
        self.locals: dict[str, str] = {}  # a local declared in update -> its lifgen text

    def refuse(self, line: Line, why: str) -> ModelError:
        return ModelError(f"line {line.number}: {line.text!r}: {why}", self.source,
                          f"line {line.number}")

    # -- update ---------------------------------------------------------------------------

    def read_update(self, block: Line) -> None:
        lines = block.children
        i = 0
        while i < len(lines):
            line = lines[i]
            branches = [line]
            while line.text.startswith("if ") and i + 1 < len(lines) \
                    and lines[i + 1].text.split()[0] in ("elif", "else:"):
                i += 1
                branches.append(lines[i])
            self._statement(branches)
            i += 1

    def _statement(self, branches: list[Line]) -> None:
        line = branches[0]
        integrate = _INTEGRATE.match(line.text)
        if integrate is not None:
            self._integrate_once(line, integrate["names"])
            return
        if line.text.startswith("if "):
            self._if(branches)
            return
        assign = _ASSIGN.match(line.text)
        if assign is None and _DECLARED.match(line.text):
            item = declaration(line, self.source)
            if item.name not in self.reader.states:  # a local, written out where it is read
                self.locals[item.name] = "(" + self.reader.translate(
                    item.value, f"line {line.number}", self.locals) + ")"
                return
            assign = _ASSIGN.match(f"{item.name} = {item.value}")  # a typed copy of a state
        if assign is None:
            raise self.refuse(line, "lifgen recognises integrate_odes(), refractory tests, "
                              "assignments and the forms listed in the README here")
        name, op, value = assign["name"], assign["op"], assign["value"]
        reader = self.reader
        if self.integrated is None and op == "=" and name in reader.states \
                and value.strip() in reader.states and name not in reader.ode_states():
            reader.previous[name] = value.strip()
            reader.dropped[name] = f"previous({value.strip()})"
            return
        if self.integrated is None and op == "=" and _RANDOM_NORMAL.search(value):
            self._ornstein_uhlenbeck(line, name, value)
            return
        if self.integrated is None:
            raise self.refuse(line, "an assignment before integrate_odes() has no lifgen "
                              "meaning (except a copy of a state: previous(X))")
        if op == "+=" and any(p in value for p in reader.spike_ports):
            self._synapse(line, name, value)
            return
        if op != "=" or name not in reader.states:
            raise self.refuse(line, "after integrate_odes() lifgen reads 'X = f(...)' (an "
                              "[after_step] assignment) and 'X += c * port * s'")
        self.after_step.append((line, name, value))

    def _integrate_once(self, line: Line, names: str) -> None:
        if self.integrated is not None:
            raise self.refuse(line, "integrate_odes() twice in one step")
        self.integrated = self._integrated_names(line, names)

    def _integrated_names(self, line: Line, names: str) -> set[str]:
        listed = {n.strip() for n in names.split(",") if n.strip()}
        states = set(self.reader.ode_states())
        unknown = listed - states
        if unknown:
            raise self.refuse(line, f"{sorted(unknown)} are not states with ODEs")
        return listed or states

    def _if(self, branches: list[Line]) -> None:
        line = branches[0]
        test = line.header[3:].strip()
        timer = _TIMER_TEST.match(test)
        if timer is not None and self._is_timer(timer["name"]) and len(branches) == 2 \
                and branches[1].text == "else:":
            self._refractory_branches(timer["name"], branches)
            return
        counter = _COUNTER_TEST.match(test)
        if counter is not None and len(branches) == 2 and branches[1].text == "else:":
            self._counter_clamp(counter["name"], branches)
            return
        if " and " in test and len(branches) == 2 and branches[1].text == "else:":
            first = _COUNTER_TEST.match(test.split(" and ")[0].strip())
            if first is not None:
                self._counter_spike(first["name"], test.split(" and ", 1)[1], branches)
                return
        raise self.refuse(line, "lifgen recognises 'if refr_t > 0 ms:' around integrate_odes() "
                          "and NEST's refractory counters here")

    def _is_timer(self, name: str) -> bool:
        reader = self.reader
        if name not in reader.odes or name in reader.convolutions.kernel_states:
            return False
        equation = reader.odes[name]
        text = reader.translate(equation.value, f"line {equation.line.number}")
        unit = unit_of(reader.states[name].type, self.source, "state")
        try:
            return unit is not None and reader.evaluate(text + f"*({unit.text})", unit,
                                                        "timer") == -1.0
        except ModelError:
            return False

    def _refractory_branches(self, timer: str, branches: list[Line]) -> None:
        if self.integrated is not None or self.timer is not None:
            raise self.refuse(branches[0], "a second refractory test in one step")
        self.timer = timer
        self.reader.dropped[timer] = "the [refractory] period"
        refractory = self._only_integrate(branches[0])
        normal = None
        for line in branches[1].children:
            integrate = _INTEGRATE.match(line.text)
            assign = _ASSIGN.match(line.text)
            if integrate is not None and normal is None:
                normal = self._integrated_names(line, integrate["names"])
            elif assign is not None and assign["op"] == "=":
                self._decay(line, assign["name"], assign["value"])
            else:
                raise self.refuse(line, "outside the refractory period lifgen reads "
                                  "integrate_odes() and decays 'X = X * P'")
        if normal is None:
            raise self.refuse(branches[1], "no integrate_odes() outside the refractory period")
        self.integrated_refractory, self.integrated = refractory - {timer}, normal - {timer}

    def _only_integrate(self, branch: Line) -> set[str]:
        if len(branch.children) != 1 or _INTEGRATE.match(branch.children[0].text) is None:
            raise self.refuse(branch, "the refractory branch may hold one integrate_odes()")
        match = _INTEGRATE.match(branch.children[0].text)
        assert match is not None
        return self._integrated_names(branch.children[0], match["names"])

    def _decay(self, line: Line, name: str, value: str) -> None:
        """`X = X * P` with P = exp(-dt*k): X decays at rate k (an ODE, solved exactly)."""
        reader = self.reader
        if name not in reader.states or name in reader.ode_states():
            raise self.refuse(line, "only a state without an ODE may decay by a factor here")
        dt = sympy.Symbol("dt", positive=True)
        symbols = {p: sympy.Symbol(p, positive=True) for p in reader.parameters}
        symbols.update({"dt": dt, lifgen_name(name): sympy.Symbol(lifgen_name(name))})
        expr = parse_expression(reader.translate(value, f"line {line.number}"), symbols,
                                self.source, f"line {line.number}")
        field = f"line {line.number}"
        factor = simplified(expr / sympy.Symbol(lifgen_name(name)), self.source, field)
        rate = simplified(sympy.expand_log(-sympy.log(factor), force=True) / dt, self.source,
                          field)
        if factor.has(sympy.Symbol(lifgen_name(name))) or rate.has(dt):
            raise self.refuse(line, "lifgen reads a decay X = X * exp(-resolution()/tau)")
        rate = rate.xreplace({s: sympy.Symbol(s.name) for s in rate.free_symbols})
        self.decays[name] = (line, printed(rate))
        reader.decays[name] = printed(rate)

    def _ornstein_uhlenbeck(self, line: Line, name: str, value: str) -> None:
        """`X = m + (X - m) * exp(-timestep()/tau) + A * random_normal(0, 1)` with A =
        sqrt(s**2*tau/2 * (1 - exp(-2*timestep()/tau))) (hh_cond_exp_destexhe's noise): the
        exact step of dX/dt = (m - X)/tau + s*xi_X, which lifgen integrates exactly, first,
        with its own noise source xi_X. Checked by taking the step apart in SymPy: linear in
        the draw and in X, the rate, mean and s free of the step."""
        reader = self.reader
        field = f"line {line.number}"
        if name not in reader.states or name in reader.ode_states() or name in reader.noise:
            raise self.refuse(line, "a random_normal() draw may set a state without an ODE, "
                              "once")
        draws = _RANDOM_NORMAL.sub(r"((\g<mean>) + (\g<sd>) * lg_z)", value)
        extra = {**self.locals, "lg_z": "lg_z"}
        dt, z, x = (sympy.Symbol(n) for n in ("dt", "lg_z", lifgen_name(name)))
        symbols = {p: sympy.Symbol(p, positive=True) for p in reader.parameters}
        symbols.update({"dt": dt, "lg_z": z, x.name: x})
        try:
            expr = parse_expression(reader.translate(draws, field, extra), symbols, self.source,
                                    field)
        except ModelError as error:
            raise self.refuse(line, f"not an Ornstein-Uhlenbeck step lifgen reads ({error})")
        expr = sympy.nsimplify(expr, rational=True)  # **.5 as a square root
        spread = sympy.diff(expr, z)
        mean_part = sympy.expand(expr - spread * z)
        factor = sympy.diff(mean_part, x)
        offset = sympy.expand(mean_part - factor * x)
        rate = -sympy.log(factor) / dt
        parts = {"rate": rate, "mean": offset / (1 - factor),
                 "variance": spread ** 2 * 2 * rate / (1 - factor ** 2)}
        if spread.has(z, x) or factor.has(z, x) or offset.has(z, x) or spread == 0:
            raise self.refuse(line, "lifgen reads an Ornstein-Uhlenbeck step X = m + (X - m)*"
                              "exp(-timestep()/tau) + A*random_normal(0, 1)")
        free = {k: e for k, v in parts.items() if (e := _free_of_step(v, dt)) is not None}
        if len(free) != len(parts):
            raise self.refuse(line, "lifgen reads an Ornstein-Uhlenbeck step whose decay, mean "
                              "and spread sqrt(s**2*tau/2*(1 - exp(-2*timestep()/tau))) are "
                              "the exact ones of dX/dt = (m - X)/tau + s*xi")
        plain = {v: sympy.Symbol(k) for k, v in symbols.items()}
        rate_text, mean_text = (printed(free[k].xreplace(plain)) for k in ("rate", "mean"))
        sd_text = printed(sympy.sqrt(free["variance"]).xreplace(plain))
        reader.noise[name] = (rate_text, mean_text, sd_text)

    def _counter_clamp(self, counter: str, branches: list[Line]) -> None:
        """`if r == 0: integrate_odes(...) else: r -= 1`: a clamp counted in steps."""
        self._check_counter(counter, branches[1])
        self.counters[counter] = "clamp"
        self.reader.dropped[counter] = "the [refractory] clamp_period"
        self.integrated = self._only_integrate(branches[0])  # r == 0: not refractory
        self.integrated_refractory = set()

    def _check_counter(self, counter: str, otherwise: Line) -> None:
        reader = self.reader
        if counter not in reader.states or counter in reader.ode_states() \
                or [c.text.replace(" ", "") for c in otherwise.children] != [f"{counter}-=1"]:
            raise self.refuse(otherwise, f"lifgen reads a counter {counter} that counts down "
                              "in the else branch and is set to steps(period)")

    def _counter_spike(self, counter: str, test: str, branches: list[Line]) -> None:
        """`if r_tot == 0 and test: ... emit_spike() else: r_tot -= 1`."""
        self._check_counter(counter, branches[1])
        self.counters[counter] = "period"
        self.reader.dropped[counter] = "the [refractory] period"
        if self.spike_test is not None:
            raise self.refuse(branches[0], "a second spike test")
        self.spike_test = (branches[0], [test], branches[0].children)

    # -- onReceive and onCondition --------------------------------------------------------

    def read_handler(self, block: Line) -> None:
        match = _ON.match(block.header)
        if match is None:
            raise self.refuse(block, "expected onReceive(port) or onCondition(test)")
        if match["kind"] == "onReceive":
            port = match["argument"].strip()
            if port not in self.reader.spike_ports:
                raise self.refuse(block, f"{port!r} is not a spike input port")
            if len(block.children) != 1:
                raise self.refuse(block, "lifgen reads onReceive blocks of one line "
                                  "'X += c * port * s'")
            line = block.children[0]
            assign = _ASSIGN.match(line.text)
            if assign is None or assign["op"] != "+=":
                raise self.refuse(line, "lifgen reads 'X += c * port * s' here")
            self._synapse(line, assign["name"], assign["value"])
            return
        if self.spike_test is not None:
            raise self.refuse(block, "a second onCondition block: lifgen has one spike test")
        self.spike_test = (block, _conjuncts(match["argument"]), block.children)

    def _synapse(self, line: Line, target: str, value: str) -> None:
        """`X += c * port * s`: the synapse type `port` adds NEST's weight to X's lifgen state,
        X itself when c is one unit of X (the weight is in X's unit), else X/c (X_per_w)."""
        reader = self.reader
        ports = [p for p in reader.spike_ports if re.search(rf"\b{p}\b", value)]
        if len(ports) != 1 or target not in reader.states:
            raise self.refuse(line, "lifgen reads 'X += c * port * s' onto a state X")
        port = ports[0]
        field = f"line {line.number}"
        weight = sympy.Symbol("lg_w")
        symbols = {p: sympy.Symbol(p) for p in reader.parameters}
        symbols["lg_w"] = weight
        expr = parse_expression(reader.translate(value, field, {port: "lg_w"}), symbols,
                                self.source, field)
        factor = simplified(expr / weight, self.source, field)
        unit = unit_of(reader.states[target].type, self.source, field)
        per_weight = f"({printed(factor)})/s"
        if factor.has(weight) or not factor.free_symbols <= (
                {symbols[p] for p in reader.parameters} | _unit_symbols(factor)):
            raise self.refuse(line, "lifgen reads 'X += c * port * s' with c a constant")
        reader.evaluate(per_weight, unit, field)  # c must have X's unit
        if port in self.synapses or port in reader.convolutions.ports_used \
                or target in reader.scaled:
            raise self.refuse(line, f"the port {port} or the state {target} is moved twice")
        inhibitory = reader.spike_ports[port].sign == "inhibitory"
        if reader.evaluate(per_weight, unit, field) == 1.0 and not factor.free_symbols - \
                _unit_symbols(factor):
            scale = "-1" if inhibitory else "1"
        else:
            scale = f"{'-' if inhibitory else ''}({per_weight})"
        if scale != "1":
            reader.scaled[target] = scale
        name = reader.state_name(target)
        self.synapses[port] = {"target": name,
                               "description": f"spikes on NESTML's port {port}: "
                                              f"{name} += w (NEST's weight)"}

    def _spike_and_reset(self) -> dict[str, Any]:
        if self.spike_test is None:
            return {}
        block, conjuncts, body = self.spike_test
        reader = self.reader
        field = f"line {block.number}"
        kept = []
        for conjunct in conjuncts:
            done = _TIMER_DONE.match(conjunct)
            if done is not None and self.timer is None and self._is_timer(done["name"]):
                self.timer = done["name"]  # a timer only tested here: nothing held
                reader.dropped[self.timer] = "the [refractory] period"
            if done is not None and done["name"] == self.timer:
                continue
            kept.append(conjunct)
        if not kept:
            raise self.refuse(block, "the spike test reads only the refractory timer")
        previous = {old: f"previous({lifgen_name(new)})" for old, new in reader.previous.items()}
        condition = reader.translate(" and ".join(f"({c})" for c in kept), field, previous)
        period, clamp, reset = self._reset(body, previous)
        out: dict[str, Any] = {"spike": {"condition": condition}}
        out["reset"] = ({"mechanism": "zero", "timing": "same_step", "zero": reset} if reset
                        else {"mechanism": "none", "timing": "same_step"})
        frozen = self._frozen()
        if period is not None:
            refractory: dict[str, Any] = {"period": period, "counting": "nest"}
            if frozen:
                refractory["frozen"] = frozen
            if clamp is not None and clamp != period:
                refractory["clamp_period"] = clamp
            out["refractory"] = refractory
        elif frozen:
            raise self.refuse(block, "states are held while refractory but the spike does not "
                              "start a refractory period")
        return out

    def _frozen(self) -> list[str]:
        if self.integrated_refractory is None:
            return []
        held = (self.integrated or set()) - self.integrated_refractory
        held |= set(self.decays)
        return [lifgen_name(s) for s in self.reader.ode_states() if s in held]

    def _reset(self, body: list[Line], previous: dict[str, str]
               ) -> tuple[str | None, str | None, dict[str, str]]:
        reader = self.reader
        local: dict[str, str] = dict(previous)
        reset: dict[str, str] = {}
        period = clamp = None
        emitted = False
        for line in _flatten(self, body):
            field = f"line {line.number}"
            if line.text == "emit_spike()":
                emitted = True
                continue
            assign = _ASSIGN.match(line.text)
            if assign is None:
                item = declaration(line, self.source)
                local[item.name] = "(" + reader.translate(item.value, field, local) + ")"
                continue
            name, op, value = assign["name"], assign["op"], assign["value"]
            if name == self.timer and op == "=":
                period = reader.translate(value, field)
                continue
            if name in self.counters and op == "=":
                steps = self._steps_of(line, value)
                if self.counters[name] == "clamp":
                    clamp = steps
                else:
                    period = steps
                continue
            if name not in reader.states or name in reader.dropped:
                raise self.refuse(line, "a reset may assign the model's states")
            written = value if op == "=" else f"{name} {op[0]} ({value})"
            new = reader.translate(written, field, local)
            local[name] = f"({new})"
            reset[reader.state_name(name)] = reader.stores(name, new)
        if not emitted:
            raise self.refuse(body[0] if body else Line(0, "", 0),
                              "the spike test does not emit_spike()")
        if clamp is not None and period is None:
            raise self.refuse(body[0], "a clamp counter without a total refractory counter")
        return period, clamp, reset

    def _steps_of(self, line: Line, value: str) -> str:
        """The period a counter is set to: an internal `steps(t_ref)`."""
        internal = self.reader.internals.get(value.strip())
        match = re.match(r"^steps\s*\(\s*(?P<period>[A-Za-z_][A-Za-z0-9_]*)\s*\)$",
                         internal.value.strip()) if internal else None
        if match is None or match["period"] not in self.reader.parameters:
            raise self.refuse(line, "lifgen reads a counter set to an internal 'steps(t)' of a "
                              "parameter t")
        return match["period"]

    def after_step_table(self) -> dict[str, str]:
        reader = self.reader
        table = {}
        for line, name, value in self.after_step:
            if name not in reader.ode_states():
                raise self.refuse(line, "an [after_step] assignment must set a state with an ODE")
            new = reader.translate(value, f"line {line.number}")
            table[reader.state_name(name)] = reader.stores(name, new)
        return table


def _free_of_step(expr: sympy.Expr, dt: sympy.Symbol) -> sympy.Expr | None:
    """`expr` at dt = 1 where its value does not depend on dt (checked at sample values of
    every symbol), else None."""
    others = sorted(expr.free_symbols - {dt}, key=str)
    sample = {s: sympy.Float(0.7 + 0.37 * i) for i, s in enumerate(others)}
    values = [complex(expr.xreplace({**sample, dt: step}).evalf()) for step in (0.1, 0.37, 2.3)]
    if any(abs(v - values[0]) > 1e-9 * abs(values[0]) for v in values):
        return None
    return simplified(sympy.expand_log(expr.xreplace({dt: 1}), force=True))


def _unit_symbols(expr: sympy.Basic) -> set[sympy.Basic]:
    return {s for s in expr.free_symbols if str(s).startswith("lg_unit_")}


def _conjuncts(test: str) -> list[str]:
    """The parts of `a and b and c` at the top level (not inside parentheses)."""
    parts, depth, start = [], 0, 0
    i = 0
    while i < len(test):
        depth += {"(": 1, ")": -1}.get(test[i], 0)
        if depth == 0 and test.startswith(" and ", i):
            parts.append(test[start:i].strip())
            start = i + 5
            i += 5
            continue
        i += 1
    return parts + [test[start:].strip()]


def _flatten(behaviour: Behaviour, body: list[Line]) -> list[Line]:
    """The body's lines, an `if` on a boolean parameter read at its default value."""
    out: list[Line] = []
    i = 0
    while i < len(body):
        line = body[i]
        if line.text.startswith("if "):
            test = _BOOLEAN_TEST.match(line.header[3:].strip())
            reader = behaviour.reader
            if test is None or test["name"] not in reader.parameters \
                    or reader.parameters[test["name"]][1] is not None \
                    or test["name"] in reader.parameter_table:
                raise behaviour.refuse(line, "lifgen reads an 'if' in onCondition only on a "
                                       "boolean parameter, at its default value")
            otherwise = body[i + 1] if i + 1 < len(body) and body[i + 1].text == "else:" \
                else None
            holds = reader.parameters[test["name"]][0] == (test["value"] == "true")
            chosen = line if holds else otherwise
            out += _flatten(behaviour, chosen.children) if chosen is not None else []
            i += 2 if otherwise is not None else 1
            continue
        out.append(line)
        i += 1
    return out


def read_behaviour(reader: Reader) -> dict[str, Any]:
    """The spike, reset, refractory, after_step and synapses tables of the model's blocks."""
    behaviour = Behaviour(reader)
    for block in reader.blocks.get("onReceive", []):
        behaviour.read_handler(block)
    for block in reader.blocks.get("update", []):
        behaviour.read_update(block)
    for block in reader.blocks.get("onCondition", []):
        behaviour.read_handler(block)
    out = behaviour._spike_and_reset()
    after = behaviour.after_step_table()
    if after:
        out["after_step"] = after
    if behaviour.synapses:
        out["synapses"] = behaviour.synapses
    return out
