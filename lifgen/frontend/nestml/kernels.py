"""Kernels convolved with spike ports -> synaptic states that jump when a spike arrives.

NESTML's `convolve(K, port)` is the sum over spikes of weight x K(t - t_spike). As NESTML's
ODE-toolbox does, each (kernel, port) pair becomes the states of the kernel's linear ODE system,
named as NESTML names them (`K__X__port`, and `K__X__port__d` or `K__X__port__dollar` for a
second state), whose values a spike of weight w moves by w times the kernel's initial values.
lifgen's synapse type adds the weight to one state, so the state that jumps is kept scaled by
its jump (`z = K'/c`: a spike adds w to z; the other equations read `c*z`). Kernels read:
`exp(-t/tau)`, `(e/tau)*t*exp(-t/tau)` (any amplitude), `delta(t)`, and systems of ODEs
(`kernel g' = g$ - g/tau_1, g$' = -g$/tau_2`, whose states the `state` block declares with the
jump as their initial values).

On an `inhibitory` port NESTML adds -w (NEST sends inhibitory weights negative); the synapse
type here takes NEST's weight as it is, so the states hold the signed sum and the convolution
reads them negated.
"""

from __future__ import annotations

import re
from typing import Any

import sympy

from ...errors import ModelError
from ..budget import simplified
from ..expressions import names_in, parse_expression
from ..units import unit_symbol
from .blocks import Line
from .declarations import Kernel, unit_of
from .expressions import lifgen_name
from .printing import text as printed

Reader = Any  # translate.Reader, which imports this module

_DELTA = re.compile(r"^delta\s*\(\s*t\s*\)$")
_T = sympy.Symbol("lg_t")
DELTA = "nestml_delta__"  # stands for convolve(delta kernel, port) until its ODE is read


def read_kernel(reader: Reader, line: Line, parts: list[str]) -> Kernel:
    field = f"line {line.number}"
    if len(parts) == 1 and "'" not in parts[0].split("=")[0]:
        name, _, value = parts[0].partition("=")
        name, value = name.strip(), value.strip()
        if _DELTA.match(value):
            return Kernel(name, line, name, [name], {}, {}, delta=True)
        return _closed_form(reader, line, name, value)
    states, rates = [], {}
    placeholders: dict[str, str] = {}
    for part in parts:
        left, _, value = part.partition("=")
        left = left.strip()
        if not left.endswith("'") or left.endswith("''"):
            raise ModelError(f"line {line.number}: the kernel {part!r} is neither K = f(t) nor "
                             "a first-order system K' = ...", reader.source, field)
        state = left[:-1]
        if state not in reader.states:
            raise ModelError(f"line {line.number}: the kernel state {state!r} is not declared "
                             "in the state block (its initial value is the jump)",
                             reader.source, field)
        states.append(state)
        placeholders[state] = f"lg_k{len(placeholders)}"
        rates[state] = value.strip()
    symbols = {p: sympy.Symbol(p) for p in placeholders.values()}
    symbols.update({p: sympy.Symbol(p) for p in reader.parameters})
    parsed = {}
    for state in states:
        translated = reader.translate(rates[state], field, placeholders)
        parsed[state] = parse_expression(translated, symbols, reader.source, field)
    jumps = {}
    for state in states:
        item = reader.states[state]
        unit = unit_of(item.type, reader.source, item.field)
        text = reader.in_nestml_units(reader.translate(item.value, item.field), unit, item.field)
        jumps[state] = parse_expression(text, symbols, reader.source, item.field)
    for state in states:
        parsed[state] = _per_ms(reader, parsed[state], field)
    back = {sympy.Symbol(p): sympy.Symbol(s) for s, p in placeholders.items()}
    return Kernel(states[0], line, states[0], states,
                  {s: e.xreplace(back) for s, e in parsed.items()}, jumps)


def _per_ms(reader: Reader, rate: sympy.Expr, field: str) -> sympy.Expr:
    """A kernel's rate as NESTML computes it: a term that is a plain number (traub_cond_multisyn's
    `g' = g$ - g/tau`, g$ declared `real`) is that number per ms, NESTML's time unit."""
    per_ms = sympy.Symbol(str(unit_symbol("ms")))
    terms = []
    for term in sympy.Add.make_args(rate):
        dimensions = reader.dimensions_of(printed(term))
        plain = dimensions is not None and dimensions.is_number
        terms.append(term / per_ms if plain else term)
    return sympy.Add(*terms)


def _closed_form(reader: Reader, line: Line, name: str, value: str) -> Kernel:
    """exp(-t/tau) times an amplitude, or times t: the ODE system of the kernel."""
    field = f"line {line.number}"
    translated = reader.translate(value, field, {"t": "lg_t"})
    symbols = {p: sympy.Symbol(p) for p in reader.parameters}
    symbols["lg_t"] = _T
    expr = parse_expression(translated, symbols, reader.source, field)
    rate = simplified(sympy.diff(sympy.log(expr), _T), reader.source, field)
    value_state, derivative = sympy.Symbol(name), sympy.Symbol(name + "'")
    if _T not in rate.free_symbols and rate != 0:
        amplitude = simplified(expr.subs(_T, 0), reader.source, field)
        return Kernel(name, line, name, [name], {name: rate * value_state},
                      {name: amplitude})
    rate = simplified(rate - 1 / _T, reader.source, field)
    if _T not in rate.free_symbols and rate != 0:
        amplitude = simplified(expr / (_T * sympy.exp(rate * _T)), reader.source, field)
        if _T not in amplitude.free_symbols:
            return Kernel(name, line, name, [name, name + "'"],
                          {name: derivative + rate * value_state,
                           name + "'": rate * derivative},
                          {name: sympy.Integer(0), name + "'": amplitude})
    raise ModelError(f"line {line.number}: the kernel {value!r} is not one lifgen reads "
                     "(exp(-t/tau), t*exp(-t/tau) times a constant, delta(t), or a system "
                     "of first-order ODEs)", reader.source, field)


class Convolutions:
    """The (kernel, port) pairs a model convolves, their states, laws and synapse types."""

    def __init__(self, reader: Reader) -> None:
        self.reader = reader
        self.kernels: dict[str, Kernel] = {}
        self.pairs: dict[tuple[str, str], dict[str, Any]] = {}
        self.ports_used: dict[str, str] = {}
        self.delta_targets: dict[str, str] = {}  # port -> the state its spikes jump

    @property
    def kernel_states(self) -> set[str]:
        return {s for k in self.kernels.values() if not k.delta for s in k.states
                if s in self.reader.states}

    def add(self, kernel: Kernel) -> None:
        if kernel.name in self.kernels:
            raise ModelError(f"the kernel {kernel.name} is declared twice", self.reader.source,
                             f"line {kernel.line.number}")
        self.kernels[kernel.name] = kernel

    def use(self, arguments: list[str]) -> str:
        """The lifgen text of `convolve(K, port)`."""
        source = self.reader.source
        if len(arguments) != 2 or arguments[0] not in self.kernels \
                or arguments[1] not in self.reader.spike_ports:
            raise ModelError(f"convolve({', '.join(arguments)}) must name a kernel and a spike "
                             "input port", source, "equations")
        kernel, port = self.kernels[arguments[0]], arguments[1]
        if self.ports_used.setdefault(port, kernel.name) != kernel.name:
            raise ModelError(f"the port {port} is convolved with two kernels "
                             f"({self.ports_used[port]} and {kernel.name}): lifgen's synapse "
                             "type adds a spike's weight to one state", source,
                             f"line {kernel.line.number}")
        sign = "-" if self.reader.spike_ports[port].sign == "inhibitory" else ""
        if kernel.delta:
            return f"({sign}{DELTA}{port})"
        pair = self.pairs.setdefault((kernel.name, port), self._pair(kernel, port))
        return f"({sign}{pair['value']})"

    def _pair(self, kernel: Kernel, port: str) -> dict[str, Any]:
        source, field = self.reader.source, f"line {kernel.line.number}"
        jumping = [s for s in kernel.states if kernel.jumps[s] != 0]
        if len(jumping) != 1:
            raise ModelError(f"the kernel {kernel.name} jumps in {len(jumping)} of its states at "
                             "a spike; lifgen's synapse type adds the weight to one", source,
                             field)
        base = f"{kernel.name}__X__{port}"
        names = {s: base + lifgen_name(s)[len(lifgen_name(kernel.name)):]
                 for s in kernel.states}
        jump = kernel.jumps[jumping[0]]
        replace = {sympy.Symbol(s): sympy.Symbol(names[s]) for s in kernel.states}
        replace[sympy.Symbol(jumping[0])] = jump * sympy.Symbol(names[jumping[0]])
        laws = []
        for state in kernel.states:
            rate = kernel.rates[state].xreplace(replace)
            if state == jumping[0]:
                rate = rate / jump
            laws.append(f"d{names[state]}/dt = {printed(rate)}")
        value = sympy.Symbol(kernel.value_state).xreplace(replace)
        return {"value": printed(value), "laws": laws, "states": list(names.values()),
                "target": names[jumping[0]]}

    def delta_jump(self, state: str, rhs: str, field: str) -> str:
        """The ODE `X' = f + c*convolve(delta, port)` without its delta term: a spike of weight w
        adds c*w*ms to X (NESTML's `unit_psp * convolve(K_delta, spikes) / ms`), which must be
        w units of X, as lifgen's synapse type adds it."""
        reader = self.reader
        names = {n: sympy.Symbol(n) for n in names_in(rhs) if unit_symbol(n) is None}
        expr = parse_expression(rhs, names, reader.source, field)
        ports = [n for n in names if n.startswith(DELTA)]
        if len(ports) != 1:
            raise ModelError("an ODE may convolve one spike port with a delta kernel",
                             reader.source, field)
        placeholder = names[ports[0]]
        factor = simplified(sympy.diff(expr, placeholder), reader.source, field)
        rest = simplified(expr.subs(placeholder, 0), reader.source, field)
        unit = unit_of(reader.states[state].type, reader.source, field)
        moving = {sympy.Symbol(lifgen_name(s)) for s in reader.states} | {placeholder}
        if factor.free_symbols & moving or \
                reader.evaluate(f"({printed(factor)})*ms", unit, field) != 1.0:
            raise ModelError(f"the delta kernel's term in the ODE of {state} must be "
                             "'unit * convolve(K, port) / ms' with one unit of the state: "
                             "lifgen's synapse type adds the weight itself", reader.source, field)
        self.delta_targets[ports[0][len(DELTA):]] = lifgen_name(state)
        return printed(rest)

    def laws(self) -> list[str]:
        return [law for pair in self.pairs.values() for law in pair["laws"]]

    def states(self) -> dict[str, Any]:
        return {name: {"initial": 0.0} for pair in self.pairs.values() for name in pair["states"]}

    def synapses(self) -> dict[str, Any]:
        out = {}
        for (kernel, port), pair in self.pairs.items():
            out[port] = {"target": pair["target"],
                         "description": f"spikes on NESTML's port {port}, convolved with "
                                        f"{kernel}: {pair['target']} += w (NEST's weight)"}
        for port, target in self.delta_targets.items():
            out[port] = {"target": target, "description": f"spikes on NESTML's port {port}, "
                                                          f"a delta kernel: {target} += w"}
        return out

