"""The second front end: a Model from SymPy objects (circuit laws, ODEs or an update map), for
users who build models in Python; `modelfile.py` is the first, for model files. Both produce
equal models."""

from __future__ import annotations

from typing import Iterable, Mapping

import sympy

from ..ir import written
from .circuit import derive_odes, normalise_expression
from .expressions import check_expression
from ..errors import ModelError
from ..ir.model import FRONT_ENDS, Model, Quantity, QuantityKey, check_quantities, default_resets
from ..ir.symbols import symbol


def model_from_sympy(name: str, laws: Iterable[sympy.Basic] = (),
                     states: Mapping[QuantityKey, float] | Iterable[QuantityKey] = (),
                     parameters: Mapping[QuantityKey, float] | None = None,
                     inputs: Iterable[QuantityKey] = (), spike: sympy.Basic | None = None,
                     reset: str = "subtract", reset_timing: str = "next_step",
                     update: Mapping[QuantityKey, sympy.Basic] | None = None,
                     resets: Mapping[str, Mapping[QuantityKey, sympy.Basic]] | None = None,
                     method: str | None = None, dt: float | None = None,
                     description: str = "") -> Model:
    """A Model from SymPy objects (see Model.from_sympy for the arguments)."""
    states = states if isinstance(states, dict) else {s: 0.0 for s in states}
    state_q = tuple(Quantity(_name_of(k), float(v)) for k, v in states.items())
    param_q = tuple(Quantity(_name_of(k), float(v)) for k, v in (parameters or {}).items())
    input_q = tuple(Quantity(_name_of(k)) for k in inputs)
    check_quantities(state_q, param_q, input_q)
    laws = tuple(laws)
    for field, expr in _expressions(laws, update, spike, resets):
        check_expression(expr, f"Model.from_sympy({name!r})", field)
    state_names = [q.name for q in state_q]
    laws = tuple(normalise_expression(law, state_names, in_time=True) for law in laws)
    known = [q.name for q in param_q + input_q]
    odes = derive_odes(laws, state_names, known) if laws else ()

    def tree(expr: sympy.Basic) -> written.Node:
        return written.from_sympy(normalise_expression(expr, state_names))

    update_map = tuple((symbol(_name_of(k)), tree(v)) for k, v in (update or {}).items())
    spike_expr = normalise_expression(spike, state_names)
    reset_forms = default_resets(spike_expr)
    for mechanism, assignments in (resets or {}).items():
        reset_forms[mechanism] = tuple((symbol(_name_of(k)), tree(v))
                                       for k, v in assignments.items())
    return Model(name=name, states=state_q, parameters=param_q, inputs=input_q,
                 spike=spike_expr, resets=tuple(reset_forms.items()), reset_mechanism=reset,
                 reset_timing=reset_timing, odes=odes, update=update_map, laws=laws,
                 method=method, dt=None if dt is None else float(dt), description=description)


def _expressions(laws: Iterable[sympy.Basic], update: Mapping[QuantityKey, sympy.Basic] | None,
                 spike: sympy.Basic | None,
                 resets: Mapping[str, Mapping[QuantityKey, sympy.Basic]] | None
                 ) -> list[tuple[str, sympy.Basic]]:
    """(field, expression) of every expression given, to check as a model file's text is."""
    found = [(f"laws #{k}", law) for k, law in enumerate(laws, 1)]
    found += [(f"update[{_name_of(k)}]", v) for k, v in (update or {}).items()]
    found += [("spike", spike)] if spike is not None else []
    found += [(f"resets[{m!r}][{_name_of(k)}]", v) for m, forms in (resets or {}).items()
              for k, v in forms.items()]
    return found


def _name_of(key: QuantityKey) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, sympy.Symbol):
        return key.name
    if isinstance(key, sympy.core.function.AppliedUndef):
        return key.func.__name__
    raise ModelError(f"cannot use {key!r} as a quantity; give a name, Symbol or Function('X')(t)")


FRONT_ENDS["sympy"] = model_from_sympy
