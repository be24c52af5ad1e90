"""The second front end: a Model from SymPy objects (circuit laws, ODEs or an update map), for
users who build models in Python; `modelfile.py` is the first, for model files. Both produce
equal models."""

from __future__ import annotations

from typing import Iterable, Mapping

import sympy

from ..ir import written
from .circuit import derive_odes, normalise_expression
from .expressions import check_expression, shown_number
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
    where = f"Model.from_sympy({name!r})"
    states = states if isinstance(states, Mapping) else {s: 0.0 for s in _items(states, "states")}
    state_q = tuple(Quantity(_name_of(k), _number(v, where, f"states[{_name_of(k)}]"))
                    for k, v in states.items())
    param_q = tuple(Quantity(_name_of(k), _number(v, where, f"parameters[{_name_of(k)}]"))
                    for k, v in _mapping(parameters, "parameters").items())
    input_q = tuple(Quantity(_name_of(k)) for k in _items(inputs, "inputs"))
    check_quantities(state_q, param_q, input_q)
    laws = _items(laws, "laws")
    for k, law in enumerate(laws, 1):
        if not isinstance(law, (sympy.Equality, sympy.Expr)):
            raise ModelError(f"a law is an equation (sympy.Eq) or an expression equal to 0, not "
                             f"a {type(law).__name__}", where, f"laws #{k}")
    resets = _mapping(resets, "resets")
    for mechanism, forms in resets.items():
        _mapping(forms, f"resets[{mechanism!r}]")
    dt = None if dt is None else _number(dt, where, "dt")
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
                 method=method, dt=dt, description=description)


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


def _number(value: object, where: str, field: str) -> float:
    """A value given as a number (a float, an int, a SymPy number), finite as a double."""
    if isinstance(value, bool) or not isinstance(value, (int, float, sympy.Number)) \
            and not (hasattr(value, "dtype") and getattr(value, "ndim", 1) == 0):
        raise ModelError(f"{shown_number(value)} is not a number", where, field)
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        number = float("nan")
    if number != number or number in (float("inf"), float("-inf")):
        raise ModelError(f"{shown_number(value)} is not a finite number (as a double)", where,
                         field)
    return number


def _items(given: object, what: str) -> tuple:
    if isinstance(given, (str, bytes, Mapping)) or not isinstance(given, Iterable):
        raise ModelError(f"{what} is a list (or tuple), got {type(given).__name__}",
                         "Model.from_sympy", what)
    return tuple(given)


def _mapping(given: object, what: str) -> Mapping:
    if given is None:
        return {}
    if not isinstance(given, Mapping):
        raise ModelError(f"{what} maps names to values, got {type(given).__name__}",
                         "Model.from_sympy", what)
    return given


def _name_of(key: QuantityKey) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, sympy.Symbol):
        return key.name
    if isinstance(key, sympy.core.function.AppliedUndef):
        return key.func.__name__
    raise ModelError(f"cannot use {key!r} as a quantity; give a name, Symbol or Function('X')(t)")


FRONT_ENDS["sympy"] = model_from_sympy
