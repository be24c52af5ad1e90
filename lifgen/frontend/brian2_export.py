"""A lifgen Model written back as Brian2's NeuronGroup strings: `to_brian2(model)`.

The model's equations hold numbers in its declared units (mV and ms for a model file in mV,
SI for one read by `from_brian2`); Brian2 computes in SI with units checked. So each quantity
is written divided by its unit (`(V/(0.001*volt))`, a plain number in the model's unit), the
right side of dX/dt is a number in X's unit per the model's time unit, and it is multiplied by
that unit back (`*volt/second`). Brian2 then computes the same numbers (in SI) as lifgen.
"""

from __future__ import annotations

import math
from typing import Any

import sympy
from sympy.printing.str import StrPrinter

from ..errors import ModelError
from ..ir import written
from ..ir.model import Model
from ..ir.symbols import is_noise
from .brian2_strings import unit_text
from .dimensions import UnitSystem, dimension
from .units import parse_unit

# lifgen's functions that Brian2 has under the same name
BRIAN2_FUNCTIONS = {"exp", "log", "sqrt", "sin", "cos", "tan", "sinh", "cosh", "tanh", "exprel",
                    "expm1", "log1p", "clip", "floor", "ceil", "abs"}
# lifgen's method -> Brian2's
METHODS = {"euler": "euler", "rk2": "rk2", "rk4": "rk4", "exponential_euler": "exponential_euler",
           "exact": "exact"}


class _Brian2Printer(StrPrinter):
    """SymPy to Brian2's expression syntax; each quantity divided by its unit."""

    def __init__(self, scaled: dict[sympy.Symbol, str], time_scale: float, where: str) -> None:
        super().__init__({"full_prec": True})
        self.scaled, self.time_scale, self.where = scaled, time_scale, where

    def _print_Symbol(self, expr: sympy.Symbol) -> str:
        if is_noise(expr):  # lifgen's xi is per sqrt(model time), Brian2's per sqrt(second)
            return f"({expr}*{math.sqrt(self.time_scale)!r}*second**0.5)"
        if expr not in self.scaled:
            raise ModelError(f"{expr} has no Brian2 counterpart", None, self.where)
        return self.scaled[expr]

    def _print_Float(self, expr: sympy.Float) -> str:
        return repr(float(expr))

    def _print_Rational(self, expr: sympy.Rational) -> str:
        return f"({expr.p!r}.0/{expr.q!r}.0)"

    def _print_Integer(self, expr: sympy.Integer) -> str:
        return str(int(expr))

    def _print_Function(self, expr: sympy.Function) -> str:
        name = type(expr).__name__.lower()
        if name not in BRIAN2_FUNCTIONS:
            raise ModelError(f"{type(expr).__name__} has no Brian2 function of the same meaning",
                             None, self.where)
        return f"{name}({', '.join(self._print(a) for a in expr.args)})"

    _print_Abs = _print_Function

    def _print_Piecewise(self, expr: sympy.Piecewise) -> str:
        raise ModelError("where(...) has no Brian2 expression", None, self.where)

    def _print_And(self, expr: sympy.And) -> str:
        return " and ".join(f"({self._print(a)})" for a in expr.args)

    def _print_Or(self, expr: sympy.Or) -> str:
        return " or ".join(f"({self._print(a)})" for a in expr.args)

    def _print_Not(self, expr: sympy.Not) -> str:
        return f"not ({self._print(expr.args[0])})"


def to_brian2(model: Model) -> dict[str, Any]:
    """Brian2's strings of `model`: {"model": equations, "threshold", "reset", "refractory",
    "namespace": {name: "value*unit"}, "method", "initial": {state or parameter: "value*unit"},
    "dt": "value*second"}. A Brian2 script runs it as
    `NeuronGroup(N, s["model"], threshold=s["threshold"], reset=s["reset"],
    refractory=s["refractory"], method=s["method"], namespace={k: eval(v) ...})`, then sets each
    variable of s["initial"]. ModelError for what Brian2 cannot say as lifgen means it."""
    where = f"to_brian2({model.name})"
    if model.is_discrete:
        raise ModelError("a discrete update map has no Brian2 differential equations", None, where)
    if model.corrections:
        raise ModelError("[reset.undelayed] (snnTorch's reset_delay=False) has no Brian2 "
                         "counterpart", None, where)
    if model.after_step:
        raise ModelError("[after_step] has no NeuronGroup string counterpart (Brian2 runs it "
                         "as a custom operation)", None, where)
    if any(str(s).endswith("[t-1]") for s in model.spike.free_symbols):
        raise ModelError("a spike condition that reads previous(X) has no Brian2 counterpart",
                         None, where)
    if model.synapses:
        raise ModelError("synapse types are Brian2 Synapses, not NeuronGroup strings; export the "
                         "neuron without them", None, where)
    quantities = model.states + model.parameters + model.inputs
    units = {q.name: (parse_unit(q.unit).si[0] if q.unit else 1.0,
                      unit_text(dimension(parse_unit(q.unit)), where) if q.unit else "")
             for q in quantities}
    time_scale = _time_scale(model, where)
    scaled = {q.symbol: _scaled(q.name, *units[q.name]) for q in quantities}
    # named expressions stay Brian2 subexpressions, each a plain number in the model's units
    scaled.update({name: name.name for name, _ in model.expressions} if model.named_odes else {})
    printer = _Brian2Printer(scaled, time_scale, where)
    frozen = {s.name for s in model.refractory[1]} if model.refractory else set()
    lines = [f"{name} = {printer.doprint(expr)} : 1" for name, expr in model.expressions
             if model.named_odes]
    for state, rhs in (model.named_odes or model.odes):
        scale, unit = units[state.name]
        factor = _rate_factor(scale / time_scale, unit)
        flags = " (unless refractory)" if state.name in frozen else ""
        lines.append(f"d{state.name}/dt = ({printer.doprint(rhs)}){factor} : "
                     f"{unit or '1'}{flags}")
    lines += [f"{q.name} : {units[q.name][1] or '1'}" for q in model.inputs]
    threshold = None if model.spike is sympy.false else printer.doprint(model.spike)
    result: dict[str, Any] = {
        "model": "\n".join(lines) + "\n", "threshold": threshold,
        "reset": _reset(model, printer, units, where),
        "refractory": _refractory(model, printer, threshold, time_scale, where),
        "namespace": {q.name: _value(q.value, *units[q.name]) for q in model.parameters},
        "method": METHODS.get(model.method or ""),
        "initial": {**{name: _value(value, *units[name])
                       for name, value in model.initial_values.items()},
                    **{q.name: _value(0.0, *units[q.name]) for q in model.inputs}},
        "dt": None if model.dt is None else f"{model.dt * time_scale!r}*second",
    }
    return result


def _time_scale(model: Model, where: str) -> float:
    """Seconds per unit of the model's time: from dt's unit, else the system its units make
    (ohm*farad is a second), else 1 (a model without units is read in seconds)."""
    if model.time_unit:
        return parse_unit(model.time_unit).si[0]
    declared = [(q.name, parse_unit(q.unit)) for q in model.states + model.parameters
                + model.inputs if q.unit]
    if not declared:
        return 1.0
    system = UnitSystem(declared, where)
    return float(10.0 ** system.base[2])


def _scaled(name: str, scale: float, unit: str) -> str:
    if not unit:
        return name
    unit = f"({unit})" if any(c in unit for c in "*/") else unit
    return f"({name}/{unit})" if scale == 1.0 else f"({name}/({scale!r}*{unit}))"


def _factor(scale: float, unit: str) -> str:
    return f"*{unit}" if scale == 1.0 else f"*({scale!r}*{unit})"


def _rate_factor(scale: float, unit: str) -> str:
    """`*volt/second`: the unit of dX/dt, `scale` its size in SI."""
    if scale == 1.0:
        return f"*{unit}/second" if unit else "/second"
    return f"*({scale!r}*{unit}/second)" if unit else f"*({scale!r}/second)"


def _value(value: float | None, scale: float, unit: str) -> str:
    number = float(value or 0.0) * scale
    return f"{number!r}*{unit}" if unit else repr(number)


def _reset(model: Model, printer: _Brian2Printer, units: dict[str, tuple[float, str]],
           where: str) -> str | None:
    assignments = model.reset_for(model.reset_mechanism)
    if model.spike is sympy.false or not assignments:
        return None
    if model.reset_timing != "same_step":
        raise ModelError(f"reset timing {model.reset_timing!r}: Brian2 resets in the step of the "
                         "spike (same_step)", None, where)
    lines = []
    for state, tree in assignments:
        scale, unit = units[state.name]
        lines.append(f"{state.name} = ({printer.doprint(written.to_sympy(tree))})"
                     f"{_factor(scale, unit) if unit else ''}")
    return "\n".join(lines)


def _refractory(model: Model, printer: _Brian2Printer, threshold: str | None,
                time_scale: float, where: str) -> str | None:
    if model.refractory_clamp is not None:
        raise ModelError("a clamp_period shorter than the refractory period has no Brian2 "
                         "counterpart", None, where)
    if model.refractory_counting != "brian2" and model.refractory:
        raise ModelError("NEST's refractory counting has no Brian2 counterpart", None, where)
    if model.spike_on == "crossing":
        if model.refractory:
            raise ModelError("a spike on crossing and a refractory period at once have no "
                             "Brian2 counterpart", None, where)
        return threshold
    if not model.refractory:
        return None
    period = written.to_sympy(model.refractory[0])
    return f"({printer.doprint(period)}){_factor(time_scale, 'second')}"
