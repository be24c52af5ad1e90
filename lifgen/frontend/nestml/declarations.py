"""NESTML declarations (`name type = expression [[constraint]]`), ports and kernels, read
from their lines; what they mean in lifgen is decided in `translate.py`."""

from __future__ import annotations

import re
from dataclasses import dataclass

import sympy

from ...errors import ModelError
from ..units import Unit, UnitError, parse_unit
from .blocks import Line

_DECLARATION = re.compile(r"^(?P<flags>(?:(?:recordable|inline)\s+)*)"
                          r"(?P<name>[A-Za-z_][A-Za-z0-9_]*(?:'+|\$)?)\s+"
                          r"(?P<type>[^=]+?)\s*=\s*(?P<value>.+?)\s*(?:\[\[(?P<constraint>.*)\]\])?$")
_ODE = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*'+|[A-Za-z_][A-Za-z0-9_]*\$')\s*=\s*(?P<value>.+)$")
_SPIKE_PORT = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*<-\s*"
                         r"(?P<qualifiers>(?:(?:excitatory|inhibitory)\s+)*)spike$")
_CURRENT_PORT = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s+(?P<type>.+?)\s*<-\s*continuous$")
_KERNEL = re.compile(r"^kernel\s+(?P<body>.+)$")
DIMENSIONLESS = ("real", "integer")


@dataclass(frozen=True)
class Declaration:
    """`name type = value`: a state, parameter, internal, inline expression or local."""

    line: Line
    name: str
    type: str
    value: str
    constraint: str | None
    inline: bool

    @property
    def field(self) -> str:
        return f"line {self.line.number}"


def declaration(line: Line, source: str) -> Declaration:
    match = _DECLARATION.match(line.text)
    if match is None and re.match(r"^[A-Za-z_]\w*\s*,", line.text):
        raise ModelError(f"line {line.number}: {line.text!r}: several names in one declaration "
                         "are not read by lifgen: declare one name a line", source,
                         f"line {line.number}")
    if match is None:
        raise ModelError(f"line {line.number}: expected 'name type = value', got "
                         f"{line.text!r}", source, f"line {line.number}")
    return Declaration(line, match["name"], match["type"].strip(), match["value"],
                       match["constraint"], "inline" in match["flags"].split())


def unit_of(type_text: str, source: str, field: str) -> Unit | None:
    """The lifgen Unit of a NESTML type (None: `real`, `integer`); `boolean` and unknown units
    are refused by the caller's context."""
    if type_text in DIMENSIONLESS:
        return None
    spelled = re.sub(r"Ohm\b", "ohm", type_text)
    try:
        unit = parse_unit(spelled)
    except UnitError as error:
        raise ModelError(f"the type {type_text!r} is not a unit lifgen knows ({error})", source,
                         field) from None
    return None if unit.dimensionless else unit


def unit_text(unit: Unit | None) -> str | None:
    return None if unit is None else unit.text


@dataclass(frozen=True)
class Ode:
    """`X' = rhs` (or `X'' = rhs`): `state` is the name whose highest derivative is given."""

    line: Line
    name: str  # as written, with its primes
    value: str

    @property
    def state(self) -> str:
        """The NESTML state this equation moves: `X` for `X'`, `X'` for `X''`."""
        return self.name[:-1]


def ode(text: str, line: Line) -> Ode | None:
    match = _ODE.match(text)
    return None if match is None else Ode(line, match["name"], match["value"])


@dataclass(frozen=True)
class SpikePort:
    name: str
    sign: str  # "", "excitatory" or "inhibitory"


def port(line: Line, source: str) -> tuple[str, SpikePort | tuple[str, Unit | None]]:
    """('spike', SpikePort) or ('current', (name, unit)) of an `input` line."""
    spike = _SPIKE_PORT.match(line.text)
    if spike is not None:
        qualifiers = set(spike["qualifiers"].split())
        sign = "" if len(qualifiers) != 1 else qualifiers.pop()
        return "spike", SpikePort(spike["name"], sign)
    current = _CURRENT_PORT.match(line.text)
    if current is not None:
        return "current", (current["name"], unit_of(current["type"], source,
                                                     f"line {line.number}"))
    raise ModelError(f"line {line.number}: the input port {line.text!r} is neither "
                     "'name <- [excitatory|inhibitory] spike' nor 'name unit <- continuous' "
                     "(vector ports and other forms have no lifgen meaning)", source,
                     f"line {line.number}")


def kernel_parts(line: Line) -> list[str] | None:
    """The comma-separated parts of a `kernel` line (`K = f(t)` or `K' = ..., K$' = ...`)."""
    match = _KERNEL.match(line.text)
    if match is None:
        return None
    parts, depth, current = [], 0, ""
    for char in match["body"]:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    return parts + [current.strip()]


@dataclass
class Kernel:
    """A kernel as a linear ODE system of its own states: `rates` (state -> SymPy rhs), the
    jump a spike of weight 1 gives each state (`jumps`) and the state its value is read from."""

    name: str
    line: Line
    value_state: str
    states: list[str]
    rates: dict[str, sympy.Expr]
    jumps: dict[str, sympy.Expr]
    delta: bool = False
