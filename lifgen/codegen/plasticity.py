"""The code of plastic synapses: one synapse's event (propagate its states from its last event,
then `on_pre` or `on_post`) and the kernel blocks that run the events in the coupled schedule,
as C or CUDA text.

Event times, in steps of dt: a presynaptic spike arriving at step t is processed at t (the start
of the step, before the neurons' update: `on_pre` adds to the target then); a postsynaptic spike
at step t is processed at t + 1 (the end of the step, where lifgen places spikes: `on_post`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Callable

import sympy

from ..frontend.synapse_model import TARGET, SynapseModel
from ..ir.written import Assignments, CPrinter, Name, to_text
from ..numerics.discretize import Hoister
from ..numerics.synapse_propagation import ELAPSED, propagation

PREFETCH = 16  # on_post: synapses fetched this far ahead in a neuron's incoming list


@dataclass(frozen=True)
class Plastic:
    """A synapse model bound to one synapse type of a neuron model: what a kernel variant needs."""

    synapse_type: str
    model: SynapseModel
    time_factor: float  # one time unit of the neuron model, in the synapse model's time unit
    source: str = "connections"  # or "drive": where the presynaptic spikes come from
    shared: tuple[str, ...] = ()  # parameters with one value for every synapse (read once)


@functools.lru_cache(maxsize=64)
def hoisted_propagation(plastic: Plastic) -> tuple[Assignments, list[tuple[sympy.Symbol, Any]]]:
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


def _printer(plastic: Plastic, fields: dict[str, str], dtype: str) -> Callable[[Any], str]:
    model = plastic.model
    names = {q.symbol: f"q_{q.name}" for q in model.states}
    names.update({q.symbol: f"qp_{q.name}" for q in model.parameters})
    names.update({ELAPSED: "lg_h", TARGET: f"{fields['syn']}[lg_i]"})
    names.update({name: name.name for name, _ in hoisted_propagation(plastic)[0]})
    return CPrinter(names, "float64").print  # a synapse computes in double whatever the dtype


def _propagated(plastic: Plastic, fields: dict[str, str], c: Callable[[Any], str],
                dialect: "Dialect") -> list[str]:
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
           "drive": ("{drive_count}", "drive_rows", "drive_post", "drive_delay")}


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
        f"if ({f['drive_kind']} == LG_DRIVE_PLAYBACK) {{",
        f"    for (int64_t lg_j = 0; lg_j < {count}; ++lg_j) lg_now_source[lg_j] = 0;",
        f"    for (int64_t lg_e = {f['drive_start']}[{step}]; "
        f"lg_e < {f['drive_start']}[{step} + 1]; ++lg_e)",
        f"        lg_now_source[{f['drive_events']}[lg_e]] = 1;",
        "} else {",
        f"    for (int64_t lg_j = 0; lg_j < {count}; ++lg_j)",
        f"        lg_now_source[lg_j] = lg_uniform({f['drive_seed']}, {step}, lg_b, lg_j)",
        f"            < {f['drive_probability']}[({step}) * {f['drive_time_stride']}"
        f" + lg_j * {f['drive_source_stride']}];",
        "}"))
