"""The SymPy symbols every stage shares: time, dt, noise, spike and reset flags, and the
naming rules for model quantities. A leaf module: it imports nothing of lifgen's."""

from typing import Sequence

import sympy

TIME = sympy.Symbol("t")
DT = sympy.Symbol("dt")
SPIKE = sympy.Symbol("spike[t]")  # this step's spike (0 or 1), in reset corrections
RESET = sympy.Symbol("reset[t]")  # whether this step was reset (0 or 1), in reset corrections
XI = sympy.Symbol("xi")  # Gaussian white noise in the laws (Brian2's xi), units 1/sqrt(time)
REFRACTORY_STATE = "refractory_steps"  # the kernel's count of refractory steps left, per neuron
# An adaptive method's substep size, per neuron, carried from step to step (0: start at dt); its
# sign marks a neuron that needed more than the substeps allowed in one step (methods.py)
ADAPTIVE_STATE = "rkf45_h"


def symbol(name: str) -> sympy.Symbol:
    """The one SymPy symbol lifgen uses for a model quantity called `name` (no assumptions)."""
    return sympy.Symbol(name)


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
