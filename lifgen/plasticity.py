"""Plastic synapses in a run: `Synapses` (a Sparse with a synapse model), the per-synapse arrays
the kernel reads and writes, and the C of one synaptic event.

Event times, in steps of dt: a presynaptic spike arriving at step t is processed at t (the start
of the step, before the neurons' update: `on_pre` adds to the target then); a postsynaptic spike
at step t is processed at t + 1 (the end of the step, where lifgen places spikes: `on_post`).
Between its events a synapse's ODEs are not integrated: at an event its states are propagated
exactly over the time since its last event (Brian2's event-driven updates), so a silent synapse
costs nothing per step. Every synapse's states are brought to the end of the run afterwards.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import sympy

from .connectivity import Sparse
from .discretize import Hoister
from .errors import InputError
from .linear import feedforward_step, linear_coefficients, numeric_step
from .prepare import checked_names
from .symbols import DT
from .synapse_model import TARGET, SynapseModel, load_synapse_model
from .units import UnitError, parse_unit
from .written import CPrinter, Name, evaluate, from_sympy, to_text

PREFETCH = 16  # on_post: synapses fetched this far ahead in a neuron's incoming list
ELAPSED = sympy.Symbol("lg_h")  # the time since a synapse's last event, in its model's unit
DEFAULT_FROM_WEIGHTS = "w_max"  # a parameter that, left unset, is the largest initial weight


class Synapses:
    """A `Sparse` whose synapses follow a synapse model (`"stdp"`, a path to a file, ...):
    `lifgen.Synapses(W, model="stdp", params={"w_max": 2.0}, initial={"w": w0})`. The Sparse's
    weights are the initial `w` unless `initial` sets it. Give it where `connections=` takes a
    Sparse; the final states come back as `result.synapses[synapse_type][state]`."""

    def __init__(self, sparse: Sparse, model="stdp", params=None, initial=None):
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

    def __repr__(self):
        return (f"Synapses({self.sparse.n_synapses} synapses, model={self.model.name!r}, "
                f"params={{{', '.join(f'{k}: {v[0]:g}' for k, v in self.params.items())}}})")


def _per_synapse(value, n, what):
    array = np.asarray(value, dtype=float) if not isinstance(value, (str, bytes)) else None
    if array is None or array.ndim > 1 or (array.ndim == 1 and array.size != n):
        raise InputError(f"{what} must be a number or one value per synapse ({n})")
    if not np.all(np.isfinite(array)):
        raise InputError(f"{what} must be finite")
    return np.array(np.broadcast_to(array, (n,)))


@dataclass(frozen=True)
class Plastic:
    """A synapse model bound to one synapse type of a neuron model: what a kernel variant needs."""

    synapse_type: str
    model: SynapseModel
    time_factor: float  # one time unit of the neuron model, in the synapse model's time unit
    source: str = "connections"  # or "drive": where the presynaptic spikes come from
    shared: tuple[str, ...] = ()  # parameters with one value for every synapse (read once)


def bind(synapses: Synapses, synapse_type: str, neuron_model, source="connections") -> Plastic:
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
    shared = tuple(n for n, values in synapses.params.items()
                   if values.size and np.all(values == values[0]))
    return Plastic(synapse_type, model, float(factor), source, tuple(sorted(shared)))


def arrays(synapses: Synapses, plastic: Plastic, n_neurons: int, rows: int, dtype,
           slots: int) -> dict:
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


def record(synapses: dict, requests: dict, n_steps: int, dtype) -> None:
    """Lay out the traces of the synapses `requests` names ({type: indices in its Sparse})."""
    for name, indices in requests.items():
        laid = synapses[name].plastic
        if laid is None:
            raise InputError(f"record_synapses[{name!r}]: synapse type {name!r} is not plastic "
                             "in this run (give it a lifgen.Synapses)")
        n_syn = laid["order"].size
        chosen = np.asarray(indices)
        if chosen.ndim != 1 or not np.issubdtype(chosen.dtype, np.integer) \
                or np.any((chosen < 0) | (chosen >= n_syn)):
            raise InputError(f"record_synapses[{name!r}] must list synapse indices in "
                             f"0..{n_syn - 1}")
        inverse = np.empty_like(laid["order"])
        inverse[laid["order"]] = np.arange(n_syn)
        laid["recorded"] = chosen.astype(np.int64)
        laid["record"] = np.ascontiguousarray(inverse[chosen], np.int64)
        rows, _, block = laid["states"].shape
        n_states = block - 1
        laid["trace"] = np.zeros((n_steps, rows, n_states, chosen.size), dtype)


def results(synapses: dict, done: int, dt: float, batch, fired) -> dict:
    """Result's `synapses` (final states) and `synapse_traces` (recorded, per step; the last
    row is the final state) of the plastic synapse types."""
    final, traces = {}, {}
    for name, y in synapses.items():
        if y.plastic is None:
            continue
        laid = y.plastic
        final[name] = final_states(laid["binding"], laid, done, dt, batch, fired)
        if laid["trace"] is not None and done:
            trace = laid["trace"][:done]
            for k, state in enumerate(laid["binding"].model.state_names):
                trace[-1, :, k] = final[name][state].reshape(trace.shape[1], -1)[
                    :, laid["recorded"]]
            traces[name] = {state: trace[:, :, k].reshape(done, *batch, -1)
                            for k, state in enumerate(laid["binding"].model.state_names)}
    return {"synapses": final, "synapse_traces": traces}


def final_states(plastic: Plastic, laid_out: dict, n_steps: int, dt: float, batch,
                 fired: np.ndarray) -> dict:
    """state -> values per synapse in the Sparse's order at the end of the run: `on_post` for
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


def _event(model: SynapseModel, states, params, elapsed, statements) -> np.ndarray:
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


def propagation(model: SynapseModel, invariant=()) -> list[tuple[sympy.Symbol, object]]:
    """(state, tree of its value after ELAPSED) for the states with ODEs: the exact solution of
    the linear ODEs, with the other states held. Subtrees of `invariant` symbols alone (the
    parameters every synapse shares) come first in products, so that they can be hoisted."""
    evolving = [s for s, _ in model.odes]
    held = [q.symbol for q in model.states if q.symbol not in evolving]
    variables = evolving + held
    rows = []
    for _, rate in model.odes:
        coefficients, remainder = linear_coefficients(rate, variables)
        rows.append([coefficients[v] for v in variables] + [remainder])
    step = feedforward_step(evolving, variables, rows) or numeric_step(evolving, variables, rows)
    varying = {ELAPSED, *variables, *(q.symbol for q in model.parameters)} - set(invariant)
    # `+ 0` makes a plain number (a held state's 0) a SymPy one, without parsing anything
    return [(s, from_sympy((sympy.Integer(0) + value).xreplace({DT: ELAPSED}), first=varying))
            for s, value in step]


@functools.lru_cache(maxsize=64)
def hoisted_propagation(plastic: Plastic):
    """(constants, propagation): the propagation with its subtrees of shared parameters alone
    (1/tau_pre) named qk_0, qk_1, ... and computed once per step, not per event."""
    shared = {q.symbol for q in plastic.model.parameters if q.name in plastic.shared}
    hoister = Hoister({ELAPSED, *(q.symbol for q in plastic.model.states),
                       *(q.symbol for q in plastic.model.parameters)} - shared, prefix="qk_")
    trees = [(state, hoister.hoist(tree)) for state, tree in propagation(plastic.model, shared)]
    return hoister.table(), trees


def event_code(plastic: Plastic, event: str, fields: dict[str, str], dtype: str,
               indent: int, dialect: "Dialect | None" = None) -> str:
    """The C of one synapse's event (`on_pre` or `on_post`): propagate its states from its last
    event, run the statements, store. `fields` names the kernel's arrays and indices."""
    model = plastic.model
    c = _printer(plastic, fields, dtype)
    lines = [f"/* {model.name}, {event}: propagate from the last event, then the statements */"]
    lines += _propagated(plastic, fields, c, dialect or C) + ["lg_block[0] = (double)lg_t;"]
    for target, tree in getattr(model, event):
        lines += [f"/* {'target' if target == TARGET else target} <- {to_text(tree)} */",
                  f"{c(Name(target))} = {c(tree)};"]
    lines += [f"lg_block[{k + 1}] = q_{n};" for k, n in enumerate(model.state_names)]
    pad = " " * (indent + 4)
    return "\n".join(pad + line for line in lines)


def _printer(plastic: Plastic, fields: dict[str, str], dtype: str):
    model = plastic.model
    names = {q.symbol: f"q_{q.name}" for q in model.states}
    names.update({q.symbol: f"qp_{q.name}" for q in model.parameters})
    names.update({ELAPSED: "lg_h", TARGET: f"{fields['syn']}[lg_i]"})
    names.update({name: name.name for name, _ in hoisted_propagation(plastic)[0]})
    return CPrinter(names, "float64").print  # a synapse computes in double whatever the dtype


def _propagated(plastic: Plastic, fields: dict[str, str], c, dialect: "Dialect") -> list[str]:
    """Synapse lg_s's states as locals q_X, propagated from its last event to lg_t."""
    model = plastic.model
    factor = f" * {plastic.time_factor!r}" if plastic.time_factor != 1.0 else ""
    lines = [f"double *{dialect.restrict} lg_block = lg_ps + lg_s * {len(model.states) + 1};",
             f"const double lg_h = ((double)lg_t - lg_block[0]) * lg_dt{factor};"]
    lines += [f"double q_{n} = lg_block[{k + 1}];" for k, n in enumerate(model.state_names)]
    lines += [f"const double qp_{n} = {fields['params']}[{k} * lg_nsyn + lg_s];"
              for k, n in enumerate(model.parameter_names) if n not in plastic.shared]
    _, propagated = hoisted_propagation(plastic)
    for state, tree in propagated:
        lines += [f"/* {state} <- {to_text(tree)} */", f"const double lg_e_{state} = {c(tree)};"]
    return lines + [f"q_{state} = lg_e_{state};" for state, _ in propagated]


def _recording(plastic: Plastic, fields: dict[str, str], dtype: str,
               dialect: "Dialect | None" = None) -> str:
    """C that writes the recorded synapses' states at this step's start (after its events) into
    the previous step's trace row: the state at the end of that step."""
    f, model = fields, plastic.model
    n_states = len(model.states)
    c = _printer(plastic, fields, dtype)
    pad = " " * 24
    body = "\n".join(pad + line for line in _propagated(plastic, fields, c, dialect or C) + [
        f"{f['trace']}[((lg_step - 1) * lg_n_batch + lg_b) * {n_states} * {f['n_record']} "
        f"+ {k} * {f['n_record']} + lg_m] = q_{n};" for k, n in enumerate(model.state_names)])
    return f"""
                /* recorded synapses: their states at the end of the previous step */
                if ({f['n_record']} && lg_t > 0)
                    for (int64_t lg_m = 0; lg_m < {f['n_record']}; ++lg_m) {{
                        const int64_t lg_s = {f['record']}[lg_m];
{body}
                    }}"""


# Where a plastic synapse set's presynaptic spikes come from: the population itself
# (connections=) or an external drive (drives=): (count of presynaptic neurons, CSR fields).
SOURCES = {"connections": ("lg_N", "rows", "post", "delay"),
           "drive": ("{dcount}", "drows", "dpost", "ddelay")}


@dataclass(frozen=True)
class Dialect:
    """What differs between the C and the CUDA text of the same blocks."""

    restrict: str = "restrict"
    fast_scan: bool = True  # skip 8 silent neurons with one memcpy; prefetch on_post's synapses


C, CUDA = Dialect(), Dialect("LG_RESTRICT", False)


def kernel_blocks(plastic: Plastic, fields: dict[str, str], dtype: str,
                  dialect: Dialect = C) -> tuple[str, str]:
    """(arrivals, departures): the C that runs `on_pre` for the presynaptic spikes arriving at
    this step (before the neurons' update), and, after the step's spikes, keeps this step's
    presynaptic spikes for their arrival and runs `on_post` over each spiking neuron's incoming
    synapses (CSC). One thread, in a fixed order: the same numbers for every thread count."""
    f, r = fields, dialect.restrict
    count, rows, post, delay = SOURCES[plastic.source]
    count, rows, post, delay = count.format(**f), f[rows], f[post], f[delay]
    c = _printer(plastic, f, dtype)
    block = len(plastic.model.states) + 1
    pad = " " * 16
    pointers = "\n".join(pad + line for line in (
        "const int64_t lg_t = lg_step0 + lg_step;",
        f"const int64_t lg_nsyn = {rows}[{count}];",
        f"double *{r} lg_ps = {f['states']} + lg_b * {block} * lg_nsyn;",
        *(f"const double qp_{n} = {f['params']}[{k} * lg_nsyn];  /* the same for all */"
          for k, n in enumerate(plastic.model.parameter_names) if n in plastic.shared),
        *(f"const double {name} = {c(tree)};  /* {to_text(tree)} */"
          for name, tree in hoisted_propagation(plastic)[0]),
        f"uint8_t *{r} lg_history = {f['history']} + lg_b * {f['slots']} * {count};"))
    prefetch = "" if not dialect.fast_scan else f"""
                    for (int64_t lg_c = {f['cols']}[lg_i]; lg_c < lg_end && lg_c < {f['cols']}[lg_i] + {PREFETCH}; ++lg_c)
                        __builtin_prefetch(lg_ps + {f['index']}[lg_c] * {block}, 1);"""
    prefetch_ahead = "" if not dialect.fast_scan else f"""
                        if (lg_c + {PREFETCH} < lg_end)  /* the synapses are scattered: fetch ahead */
                            __builtin_prefetch(lg_ps + {f['index']}[lg_c + {PREFETCH}] * {block}, 1);"""
    on_post = "" if not plastic.model.on_post else f"""
                /* on_post for the incoming synapses of each neuron that spiked in the previous
                 * step: at the same time as the arrivals above, and after them (as Brian2 runs
                 * its pre pathway before its post one). */
                for (int64_t lg_i = 0; lg_i < lg_N; ++lg_i) {{{_skip_silent("lg_before", "lg_i", "lg_N", dialect, 20)}
                    if (!lg_before[lg_i]) continue;
                    const int64_t lg_end = {f['cols']}[lg_i + 1];{prefetch}
                    for (int64_t lg_c = {f['cols']}[lg_i]; lg_c < lg_end; ++lg_c) {{
                        const int64_t lg_s = {f['index']}[lg_c];{prefetch_ahead}
{event_code(plastic, "on_post", f, dtype, 20, dialect)}
                    }}
                }}"""
    arrivals = f"""            if ({f['wkind']} == LG_WEIGHT_PLASTIC) {{
                /* Plastic synapses ({plastic.model.name}), at this step's start: the presynaptic
                 * spikes of step t - k arrive through the synapses of delay k, each running
                 * on_pre. */
{pointers}
                for (int64_t lg_k = 1; lg_k < {f['slots']} && lg_k <= lg_t; ++lg_k) {{
                    const uint8_t *{r} lg_was = lg_history + ((lg_t - lg_k) % {f['slots']}) * {count};
                    for (int64_t lg_pre = 0; lg_pre < {count}; ++lg_pre) {{{_skip_silent("lg_was", "lg_pre", count, dialect, 24)}
                        if (!lg_was[lg_pre]) continue;
                        for (int64_t lg_s = {rows}[lg_pre]; lg_s < {rows}[lg_pre + 1]; ++lg_s) {{
                            if ({delay}[lg_s] != lg_k) continue;
                            const int64_t lg_i = {post}[lg_s];
{event_code(plastic, "on_pre", f, dtype, 24, dialect)}
                        }}
                    }}
                }}{on_post}{_recording(plastic, f, dtype, dialect)}
            }}"""
    departures = f"""            if ({f['wkind']} == LG_WEIGHT_PLASTIC) {{
                /* Plastic synapses ({plastic.model.name}): keep this step's presynaptic spikes
                 * for their arrival. */
                const int64_t lg_t = lg_step0 + lg_step;
{_presynaptic_spikes(plastic.source, f, count, "lg_t", dialect)}
            }}"""
    return arrivals, departures


def _skip_silent(flags: str, index: str, count: str, dialect: Dialect, indent: int) -> str:
    """C that skips 8 silent neurons at once (spikes are rare), or nothing."""
    if not dialect.fast_scan:
        return ""
    pad = "\n" + " " * indent
    return (f"{pad}if (!({index} & 7) && {index} + 8 <= {count}) {{  /* skip 8 silent at once */"
            f"{pad}    uint64_t lg_any;{pad}    memcpy(&lg_any, {flags} + {index}, 8);"
            f"{pad}    if (!lg_any) {{ {index} += 7; continue; }}{pad}}}")


def cuda_block(plastic: Plastic, fields: dict[str, str], dtype: str) -> str:
    """The CUDA device function of one plastic synapse type, one thread per batch row, launched
    before the neurons' step: the previous step's presynaptic spikes into the history, then the
    C target's arrivals, on_post and recording, the arrivals added to the delay ring's slot of
    this step (which the neurons' step reads). The same order as the C target: the same numbers,
    but for the last bit of exp, which CUDA's libdevice computes."""
    count = SOURCES[plastic.source][0].format(**fields)
    f = dict(fields, syn="lg_arriving")
    arrivals, _ = kernel_blocks(plastic, f, dtype, CUDA)
    history = _presynaptic_spikes(plastic.source, f, count, "lg_t", CUDA)
    return f"""    const int64_t lg_N = lg_n_neurons;
    const int64_t lg_b = lg_g;  /* this thread's batch row */
    const uint8_t *LG_RESTRICT lg_before = lg_fired + lg_b * lg_N;  /* the previous step's spikes */
    lg_real *LG_RESTRICT lg_arriving = {f['ring']} + (lg_b * {f['slots']} + (lg_step0 + lg_step) % {f['slots']}) * lg_N;
    if (lg_step0 + lg_step > 0) {{  /* the previous step's presynaptic spikes, for their arrival */
                const int64_t lg_t = lg_step0 + lg_step - 1;  /* that step */
{history}
    }}
{arrivals}"""


def _presynaptic_spikes(source: str, f: dict[str, str], count: str, step: str,
                        dialect: Dialect) -> str:
    """C that writes step `step`'s presynaptic spikes into the history: the population's (the
    spikes `lg_before` holds), or the drive's sources (drawn as the drive's own code draws them,
    or played back)."""
    pad = " " * 16
    r = dialect.restrict
    if source == "connections":
        return "\n".join(pad + line for line in (
            f"uint8_t *{r} lg_now_source = {f['history']} + (lg_b * {f['slots']} + ({step}) % "
            f"{f['slots']}) * lg_N;",
            "for (int64_t lg_j = 0; lg_j < lg_N; ++lg_j) lg_now_source[lg_j] = lg_before[lg_j];"))
    return "\n".join(pad + line for line in (
        f"uint8_t *{r} lg_now_source = {f['history']} + (lg_b * {f['slots']} + ({step}) % "
        f"{f['slots']}) * {count};",
        f"if ({f['dkind']} == LG_DRIVE_PLAYBACK) {{",
        f"    for (int64_t lg_j = 0; lg_j < {count}; ++lg_j) lg_now_source[lg_j] = 0;",
        f"    for (int64_t lg_e = {f['dstart']}[{step}]; lg_e < {f['dstart']}[{step} + 1]; ++lg_e)",
        f"        lg_now_source[{f['devents']}[lg_e]] = 1;",
        "} else {",
        f"    for (int64_t lg_j = 0; lg_j < {count}; ++lg_j)",
        f"        lg_now_source[lg_j] = lg_uniform({f['dseed']}, {step}, lg_b, lg_j)",
        f"            < {f['dprob']}[({step}) * {f['dtime']} + lg_j * {f['dsource']}];",
        "}"))
