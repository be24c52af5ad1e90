"""The SymPy symbols every stage shares: time, dt, noise, spike and reset flags, and the
naming rules for model quantities. A leaf module: it imports nothing of lifgen's."""

import re
from typing import Iterable, Sequence

import sympy

TIME = sympy.Symbol("t")
DT = sympy.Symbol("dt")
SPIKE = sympy.Symbol("spike[t]")  # this step's spike (0 or 1), in reset corrections
RESET = sympy.Symbol("reset[t]")  # whether this step was reset (0 or 1), in reset corrections
XI = sympy.Symbol("xi")  # Gaussian white noise in the laws (Brian2's xi), units 1/sqrt(time)
# Independent noise sources beside xi: xi_<name> (Brian2's xi_1, xi_exc), each its own stream
NOISE_NAME = re.compile(r"\bxi_[A-Za-z0-9_]+\b")
REFRACTORY_STATE = "refractory_steps"  # the kernel's count of refractory steps left, per neuron
# An adaptive method's substep size, per neuron, carried from step to step (0: start at dt); its
# sign marks a neuron that needed more than the substeps allowed in one step (methods.py)
ADAPTIVE_STATE = "rkf45_h"


def symbol(name: str) -> sympy.Symbol:
    """The one SymPy symbol lifgen uses for a model quantity called `name` (no assumptions)."""
    return sympy.Symbol(name)


def is_noise(quantity: sympy.Basic) -> bool:
    """Whether `quantity` is a white-noise source: xi or xi_<name>."""
    return isinstance(quantity, sympy.Symbol) and (quantity == XI or bool(
        NOISE_NAME.fullmatch(quantity.name)))


def noise_symbols(expressions: Iterable[sympy.Basic]) -> tuple[sympy.Symbol, ...]:
    """The noise sources the expressions read, xi first, then xi_<name> by name."""
    found = {s for e in expressions for s in e.free_symbols if is_noise(s)}
    return tuple(sorted(found, key=lambda s: (s != XI, s.name)))


def noise_names_in(texts: Iterable[str], declared: Iterable[str]) -> dict[str, sympy.Symbol]:
    """The undeclared xi_<name> sources written in `texts`, name -> symbol."""
    taken = set(declared)
    return {n: symbol(n) for text in texts for n in NOISE_NAME.findall(text) if n not in taken}


def previous_symbol(name: str) -> sympy.Symbol:
    """The value of state `name` at the start of the step, as `previous(X)` in reset forms."""
    return sympy.Symbol(f"{name}[t-1]")


def time_function(name: str) -> sympy.Expr:
    """The quantity `name` as a function of time, as circuit laws and closed forms write it."""
    return sympy.Function(name)(TIME)


def substitute_expressions(expr: sympy.Basic,
                           expressions: Sequence[tuple[sympy.Symbol, sympy.Basic]]) -> sympy.Basic:
    """`expr` with every named expression replaced by its definition, down to the quantities."""
    for name, definition in reversed(expressions):
        expr = expr.xreplace({name: definition})
    return expr
