"""The exact step (propagator) of a linear system with inputs held over a step, built on the
IR's linear algebra (ir/algebra.py): the methods, the discretizer and the analytic solution use
it."""

from typing import Sequence

import sympy

from ..errors import ModelError
from ..ir.symbols import DT
from ..ir.algebra import linear_coefficients, nonlinear_terms
from ..ir.functions import exprel, propagator
from ..ir.model import Model


def exact_step(model: Model, states: Sequence[sympy.Symbol] | None = None
               ) -> list[tuple[sympy.Symbol, sympy.Expr]]:
    """Propagator of a linear system with inputs held over the step: exp of the augmented matrix.
    `states` (default all) may name a closed linear subsystem: its step alone."""
    odes = dict(model.odes)
    states = list(model.state_symbols if states is None else states)
    variables = states + list(model.input_symbols)
    rows = []
    for s, rhs in ((s, odes[s]) for s in states):
        split = linear_coefficients(rhs, variables)
        if split is None:
            terms = ", ".join(map(str, nonlinear_terms(rhs, variables))) or str(rhs)
            raise ModelError(f"method 'exact' needs linear dynamics, but d{s}/dt has the nonlinear "
                             f"term(s) {terms}; use another method (method='auto' chooses)",
                             model.source, f"[equations] {s}")
        coefficients, remainder = split
        rows.append([coefficients[v] for v in variables] + [remainder])
    feedforward = feedforward_step(states, variables, rows)
    if feedforward is not None:
        return feedforward
    return numeric_step(states, variables, rows)


def numeric_step(states: Sequence[sympy.Symbol], variables: Sequence[sympy.Symbol],
                 rows: Sequence[Sequence[sympy.Expr]]) -> list[tuple[sympy.Symbol, sympy.Expr]]:
    """The exact step of any other linear system (coupled states, poles of any order, complex or
    zero eigenvalues): x(h) = exp(M h) [x; u; 1] with M the augmented matrix, whose exponential
    is computed numerically once per neuron and run, not as a closed form. A closed form is slow
    for SymPy to find (minutes for two coupled states with symbolic parameters) and has 0/0 at
    every equality of time constants; scaling and squaring has neither."""
    size = len(variables) + 1
    entries = [rows[i][j] if i < len(rows) else sympy.Integer(0)
               for i in range(size) for j in range(size)]
    column = list(variables) + [sympy.Integer(1)]
    reach = _reach([[entries[i * size + j] != 0 for j in range(size)] for i in range(size)])
    pairs = [x for k, e in enumerate(entries) if e != 0 for x in (sympy.Integer(k), e)]
    return [(s, sympy.Add(*(propagator(i, j, size, DT, *pairs) * column[j]
                           for j in range(size) if reach[i][j])))
            for i, s in enumerate(states)]


def _reach(nonzero: list[list[bool]]) -> list[list[bool]]:
    """Which entries of exp(M h) can be nonzero, from which of M's are: (i, j) where j reaches i
    along M's nonzero entries (M[i, k] links k to i), or i = j. A chain of states reads only the
    states before it: half the propagator's entries, in the step and in SymPy's work."""
    size = len(nonzero)
    reach = [[nonzero[i][j] or i == j for j in range(size)] for i in range(size)]
    for k in range(size):  # Warshall's closure
        for i in range(size):
            if reach[i][k]:
                reach[i] = [a or b for a, b in zip(reach[i], reach[k])]
    return reach


def feedforward_step(states: Sequence[sympy.Symbol], variables: Sequence[sympy.Symbol],
                     rows: Sequence[Sequence[sympy.Expr]]
                     ) -> list[tuple[sympy.Symbol, sympy.Expr]] | None:
    """The exact step of a linear system whose states are driven only by states that decay on
    their own (synaptic currents into a membrane), written with exprel so that it stays finite
    and accurate when two time constants are equal or nearly so (1/(tau_m - tau_syn) is 0/0).

    With dx_j/dt = a_j x_j + b_j and dx_i/dt = a_i x_i + sum_j k_ij x_j + b_i, inputs held:
      x_j(h) = x_j e^(a_j h) + b_j h exprel(a_j h)
      x_i(h) = x_i e^(a_i h) + b_i h exprel(a_i h)
               + sum_j k_ij [x_j h e^(a_i h) exprel((a_j - a_i) h)
                             + b_j/a_j (h e^(a_i h) exprel((a_j - a_i) h) - h exprel(a_i h))]
    Returns None for any other structure (the matrix exponential then serves).
    """
    n = len(states)
    own = [rows[i][i] for i in range(n)]
    drive = [sum((rows[i][k] * variables[k] for k in range(n, len(variables))), rows[i][-1])
             for i in range(n)]
    couplings = [{j: rows[i][j] for j in range(n) if j != i and rows[i][j] != 0} for i in range(n)]
    if any(couplings[j] for i in range(n) for j in couplings[i]):
        return None  # a driving state is itself driven: not this shape
    if any(own[j] == 0 for i in range(n) for j in couplings[i]):
        return None  # a driving integrator (a zero eigenvalue): its b_j/a_j term is 0/0
    h = DT
    result = []
    for i, state in enumerate(states):
        a, value = own[i], states[i] * sympy.exp(own[i] * h) + drive[i] * h * exprel(own[i] * h)
        for j, k in couplings[i].items():
            shared = h * sympy.exp(a * h) * exprel((own[j] - a) * h)
            value += k * states[j] * shared
            if drive[j] != 0:
                value += k * drive[j] / own[j] * (shared - h * exprel(a * h))
        result.append((state, value))
    return result
