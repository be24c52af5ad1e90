"""Plastic synapses in a run: `Synapses` (a Sparse with a synapse model), the per-synapse arrays
the program reads and writes (its events lowered in codegen/synapse_events.py), and the synapses'
states at the end of a run.

Event times, in steps of dt: a presynaptic spike arriving at step t is processed at t (the start
of the step, before the neurons' update: `on_pre` adds to the target then); a postsynaptic spike
at step t is processed at t + 1 (the end of the step, where lifgen places spikes: `on_post`).
Between its events a synapse's ODEs are not integrated: at an event its states are propagated
exactly over the time since its last event (Brian2's event-driven updates), so a silent synapse
costs nothing per step. Every synapse's states are brought to the end of the run afterwards.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Mapping, Sequence, TypedDict

import numpy as np
import numpy.typing as npt
import sympy

from ..codegen.synapse_binding import Plastic
from ..codegen.run_arrays import SynapseArrays
from ..errors import InputError, NumericalWarning
from ..frontend.synapse_model import SynapseModel, load_synapse_model
from ..frontend.units import UnitError, parse_unit
from ..ir.model import Model
from ..ir.written import Node, evaluate, from_sympy, to_sympy, to_text
from ..numerics.synapse_propagation import ELAPSED, propagation
from .connectivity import Sparse
from .prepare import checked_names

DEFAULT_FROM_WEIGHTS = "w_max"  # a parameter that, left unset, is the largest initial weight


class Synapses:
    """A `Sparse` whose synapses follow a synapse model (`"stdp"`, a path to a file, ...):
    `lifgen.Synapses(W, model="stdp", params={"w_max": 2.0}, initial={"w": w0})`. The Sparse's
    weights are the initial `w` unless `initial` sets it. Give it where `connections=` takes a
    Sparse; the final states come back as `result.synapses[synapse_type][state]`."""

    def __init__(self, sparse: Sparse, model: SynapseModel | str | Path = "stdp",
                 params: Mapping[str, npt.ArrayLike] | None = None,
                 initial: Mapping[str, npt.ArrayLike] | None = None) -> None:
        if not isinstance(sparse, Sparse):
            raise InputError(f"Synapses needs a lifgen.Sparse, got {type(sparse).__name__}")
        self.sparse = sparse
        self.model: SynapseModel = load_synapse_model(model)
        n = sparse.n_synapses
        self.params = {name: _per_synapse(value, n, f"params[{name!r}]")
                       for name, value in checked_names(params, self.model.parameter_names,
                                                        "params").items()}
        self.initial = {name: _per_synapse(value, n, f"initial[{name!r}]")
                        for name, value in checked_names(initial, self.model.state_names,
                                                         "initial").items()}
        if "w" in self.model.state_names and "w" not in self.initial:
            self.initial["w"] = np.asarray(sparse.weight, float)
        for q in self.model.parameters:
            if q.name not in self.params and q.value is None:
                if q.name == DEFAULT_FROM_WEIGHTS and "w" in self.initial:
                    self.params[q.name] = np.full(n, np.max(self.initial["w"], initial=0.0))
                else:
                    raise InputError(f"synapse model {self.model.name!r}: parameter {q.name!r} "
                                     "has no default; give it in params=")
        for q in self.model.parameters:
            self.params.setdefault(q.name, np.full(n, q.value))
        self.params = {name: self.params[name] for name in self.model.parameter_names}
        for q in self.model.states:
            self.initial.setdefault(q.name, np.full(n, q.value if q.value is not None else 0.0))

    def __repr__(self) -> str:
        return (f"Synapses({self.sparse.n_synapses} synapses, model={self.model.name!r}, "
                f"params={{{', '.join(f'{k}: {v[0]:g}' for k, v in self.params.items())}}})")


def _per_synapse(value: object, n: int, what: str) -> npt.NDArray[np.float64]:
    array = np.asarray(value, dtype=float) if not isinstance(value, (str, bytes)) else None
    if array is None or array.ndim > 1 or (array.ndim == 1 and array.size != n):
        raise InputError(f"{what} must be a number or one value per synapse ({n})")
    if not np.all(np.isfinite(array)):
        raise InputError(f"{what} must be finite")
    return np.array(np.broadcast_to(array, (n,)))


def bind(synapses: Synapses, synapse_type: str, neuron_model: Model,
         source: str = "connections") -> Plastic:
    """Check that `synapses` fits synapse type `synapse_type` of `neuron_model`."""
    model = synapses.model
    if neuron_model.is_discrete and model.odes:
        raise InputError(f"synapse model {model.name!r} has ODEs in time, and "
                         f"{neuron_model.name} is a discrete map without dt")
    factor = 1.0
    if model.time_unit and neuron_model.time_unit:
        try:
            factor = parse_unit(neuron_model.time_unit).factor_to(parse_unit(model.time_unit))
        except UnitError as error:
            raise InputError(f"synapse model {model.name!r}: {error}") from None
    check_parameters(synapses)
    shared = tuple(n for n, values in synapses.params.items()
                   if values.size and np.all(values == values[0]))
    return Plastic(synapse_type, model, float(factor), source, tuple(sorted(shared)))


def check_parameters(synapses: Synapses) -> None:
    """The parameters of every synapse satisfy the synapse model's constraints, and its traces
    decay with them (tau_pre < 0 made a trace grow without bound): an InputError naming them."""
    model = synapses.model
    scope = {q.symbol: synapses.params[q.name] for q in model.parameters}
    for tree in model.constraints:
        held = np.asarray(evaluate(tree, scope), bool)
        if not np.all(held):
            raise InputError(f"synapse model {model.name!r} requires {to_text(tree)}; "
                             f"{_first_failing(held, tree, synapses)}")
    for name, coefficient in model.decays():
        rate = np.asarray(evaluate(from_sympy(coefficient), scope), float)
        held = np.isfinite(rate) & (rate < 0)
        if not np.all(held):
            raise InputError(f"synapse model {model.name!r}: the trace {name!r} must decay, its "
                             f"own rate {coefficient} being finite and negative; "
                             f"{_first_failing(held, from_sympy(coefficient), synapses)}")


def _first_failing(held: np.ndarray, tree: Node, synapses: Synapses) -> str:
    """Which synapse breaks a condition, and the values of the parameters it reads."""
    k = int(np.flatnonzero(~np.broadcast_to(held, (synapses.sparse.n_synapses,)))[0])
    names = sorted(n.name for n in to_sympy(tree).free_symbols)
    values = ", ".join(f"{n} = {synapses.params[n][k]:g}" for n in names if n in synapses.params)
    return f"synapse {k} has {values}"


def warn_nonfinite(synapse_type: str, model: SynapseModel,
                   final: Mapping[str, np.ndarray]) -> None:
    """A NumericalWarning for states that ended NaN or infinite: a trace behind a clip() (the
    weight it feeds looks fine) is otherwise never seen."""
    bad = {name: int(np.sum(~np.isfinite(values))) for name, values in final.items()
           if not np.all(np.isfinite(values))}
    if bad:
        found = ", ".join(f"{name} in {count} synapses" for name, count in bad.items())
        warnings.warn(f"synapse type {synapse_type!r} ({model.name}): states ended NaN or "
                      f"infinite ({found}); a clip() in its events hides it from the weights. "
                      "Check its parameters (the increments and w_max)", NumericalWarning,
                      stacklevel=4)


def arrays(synapses: Synapses, plastic: Plastic, n_neurons: int, rows: int, dtype: type,
           slots: int) -> dict[str, Any]:
    """The kernel's per-synapse arrays, in CSR order (by presynaptic neuron): states, last event
    times, parameters, the CSC index of each neuron's incoming synapses and the spike history
    of `slots` steps (and the binding itself)."""
    sparse = synapses.sparse
    order = np.argsort(sparse.pre, kind="stable")
    post = np.asarray(sparse.post)[order]
    model = plastic.model
    states = np.stack([synapses.initial[n][order] for n in model.state_names])
    by_post = np.argsort(post, kind="stable")
    cols = np.zeros(n_neurons + 1, np.int64)
    np.cumsum(np.bincount(post, minlength=n_neurons), out=cols[1:])
    return {"binding": plastic, "order": order, "post": np.ascontiguousarray(post, np.int64),
            # (rows, n_syn, 1 + n_states) doubles: the time of the synapse's last event (in
            # steps), then its states; an event reads one block (32 bytes for stdp)
            "states": np.ascontiguousarray(np.broadcast_to(
                np.vstack([np.zeros(sparse.n_synapses), states]).T,
                (rows, sparse.n_synapses, 1 + len(states)))),
            "params": np.ascontiguousarray(
                np.stack([synapses.params[n][order] for n in model.parameter_names])
                if model.parameters else np.zeros((0, sparse.n_synapses)), dtype),
            "cols": cols, "index": np.ascontiguousarray(by_post, np.int64),
            "history": np.zeros((rows, slots, sparse.n_pre), np.uint8),
            "record": np.zeros(0, np.int64), "recorded": np.zeros(0, np.int64), "trace": None}


def record(synapses: Mapping[str, SynapseArrays], requests: Mapping[str, npt.ArrayLike],
           n_steps: int, dtype: type) -> None:
    """Lay out the traces of the synapses `requests` names ({type: indices in its Sparse})."""
    for name, indices in requests.items():
        laid = synapses[name].plastic
        if laid is None:
            raise InputError(f"record_synapses[{name!r}]: synapse type {name!r} is not plastic "
                             "in this run (give it a lifgen.Synapses)")
        record_chosen(laid, indices, n_steps, dtype, f"record_synapses[{name!r}]")


def record_chosen(laid: dict[str, Any], indices: npt.ArrayLike, n_steps: int, dtype: type,
                  what: str) -> None:
    """Lay out the trace of the synapses `indices` names (in the Sparse's order) of one plastic
    synapse set laid out by `arrays`."""
    n_syn = laid["order"].size
    chosen = np.asarray(indices)
    if chosen.ndim != 1 or not np.issubdtype(chosen.dtype, np.integer) \
            or np.any((chosen < 0) | (chosen >= n_syn)):
        raise InputError(f"{what} must list synapse indices in 0..{n_syn - 1}")
    inverse = np.empty_like(laid["order"])
    inverse[laid["order"]] = np.arange(n_syn)
    laid["recorded"] = chosen.astype(np.int64)
    laid["record"] = np.ascontiguousarray(inverse[chosen], np.int64)
    rows, _, block = laid["states"].shape
    n_states = block - 1
    laid["trace"] = np.zeros((n_steps, rows, n_states, chosen.size), dtype)


class SynapseResults(TypedDict):
    """Result's fields of the plastic synapse types: type -> state -> values."""

    synapses: dict[str, dict[str, np.ndarray]]
    synapse_traces: dict[str, dict[str, np.ndarray]]


def results(synapses: Mapping[str, SynapseArrays], done: int, dt: float, batch: tuple[int, ...],
            fired: np.ndarray, clock: int = 0) -> SynapseResults:
    """Result's `synapses` (final states) and `synapse_traces` (recorded, per step; the last
    row is the final state) of the plastic synapse types, after `done` steps of a run whose
    step 0 is absolute step `clock` (last event times are absolute)."""
    final, traces = {}, {}
    for name, y in synapses.items():
        if y.plastic is None:
            continue
        final[name], trace = synapse_result(y.plastic, done, dt, batch, fired, clock)
        if trace is not None:
            traces[name] = trace
    return {"synapses": final, "synapse_traces": traces}


def synapse_result(laid: Mapping[str, Any], done: int, dt: float, batch: tuple[int, ...],
                   fired: np.ndarray, clock: int = 0) -> tuple[dict[str, np.ndarray],
                                                              dict[str, np.ndarray] | None]:
    """(final states, recorded states per step or None) of one plastic synapse set laid out by
    `arrays`, after `done` steps from absolute step `clock`; the recording's last row is the
    final state."""
    final = final_states(laid["binding"], laid, clock + done, dt, batch, fired)
    warn_nonfinite(laid["binding"].synapse_type, laid["binding"].model, final)
    if laid["trace"] is None or not done:
        return final, None
    trace = laid["trace"][:done]
    state_names = laid["binding"].model.state_names
    for k, state in enumerate(state_names):
        trace[-1, :, k] = final[state].reshape(trace.shape[1], -1)[:, laid["recorded"]]
    return final, {state: trace[:, :, k].reshape(done, *batch, -1)
                   for k, state in enumerate(state_names)}


def final_states(plastic: Plastic, laid_out: Mapping[str, Any], n_steps: int, dt: float,
                 batch: tuple[int, ...], fired: np.ndarray) -> dict[str, np.ndarray]:
    """state -> values per synapse in the Sparse's order at the end of the run (absolute step
    `n_steps`, what the last event times count from): `on_post` for
    the spikes of the last step (which the kernel runs at the start of the next step), then every
    synapse propagated to the end."""
    model = plastic.model
    states = laid_out["states"][..., 1:].transpose(0, 2, 1).copy()  # (rows, n_states, n_syn)
    params = laid_out["params"].astype(float)  # (n_params, n_syn)
    last = laid_out["states"][..., 0]
    rows, synapse = np.nonzero(fired.reshape(states.shape[0], -1)[:, laid_out["post"]])
    if model.on_post and rows.size:
        picked = states[rows, :, synapse]  # (events, n_states)
        elapsed = (n_steps - last[rows, synapse]) * dt * plastic.time_factor
        states[rows, :, synapse] = _event(model, picked.T, params[:, synapse], elapsed,
                                          model.on_post).T
        last = last.copy()
        last[rows, synapse] = n_steps
    elapsed = (n_steps - last) * dt * plastic.time_factor  # (rows, n_syn)
    states = np.stack([_event(model, states[r], params, elapsed[r], ()) for r in
                       range(states.shape[0])])
    inverse = np.empty_like(laid_out["order"])
    inverse[laid_out["order"]] = np.arange(inverse.size)
    return {name: states[:, k][:, inverse].reshape(*batch, -1)
            for k, name in enumerate(model.state_names)}


def _event(model: SynapseModel, states: np.ndarray, params: np.ndarray, elapsed: np.ndarray,
           statements: Sequence[tuple[sympy.Symbol, Node]]) -> np.ndarray:
    """An event in NumPy, as the kernel's event_code runs it: (n_states, n) states propagated
    over `elapsed`, then `statements` in order."""
    scope = {ELAPSED: elapsed}
    scope.update({q.symbol: states[k] for k, q in enumerate(model.states)})
    scope.update({q.symbol: params[k] for k, q in enumerate(model.parameters)})
    propagated = {state: evaluate(tree, scope) for state, tree in propagation(model)}
    scope.update(propagated)
    for target, tree in statements:
        scope[target] = evaluate(tree, scope)
    return np.stack([np.broadcast_to(scope[q.symbol], np.shape(elapsed)) for q in model.states])
