"""The C family's kernel context, shared by the C and the cuda target: a StepMap lowered to
statements and printed as C expressions, the names of every array and value the loops use, the
helpers, sizes and enums that a body's templates declare they use (uses.py), and the Jinja2
environment over the templates. Python decides everything; the templates only loop and declare.
A target of this family (C99, CUDA C) fills a schedule template with it (targets/c/render.py,
targets/cuda/render.py).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Callable

import jinja2
import sympy

from ...version import __version__
from ...codegen.abi import KernelABI, c_struct, kernel_abi
from ...numerics.discretize import StepMap
from ...frontend.library import resource_dir
from ...codegen.lower import StepOptions, lower, shared_constants, state_names
from ...codegen.naming import ARRAY_PREFIXES, SCHEDULE_PREFIXES, field_local, lifgen_name, local
from ...ir.model import DT, Model
from ...codegen.options import Semantics, Schedule, Variant
from ...codegen.source import tile_size
from ...ir.statements import Expression, NeuronStep, identifiers
from ...ir.functions import dense_entries
from ...ir.written import (CPrinter, Name, Node, Num, Tree, matrix_entries, shown_entries,
                           substitute, to_text)
from ..text import comment_text
from .context import (ConstantNames, InputNames, KernelContext, ParameterNames, PropagatorNames,
                      RoundText, StateNames)
from .call_rounds import ROUNDS_FROM_SITES, CallRounds, call_rounds
from .printer import (APPLIED, BINARY_CALLS, CALL_USES, ELEMENTARY_CALLS, StatementPrinter,
                      call_sites, print_expression, statement_uses, vector_functions)

C_TYPES = {"float64": "double", "float32": "float"}
KERNEL_FUNCTION = "lg_run"
SCHEDULES = {  # loop order -> (template, what the header says of it)
    "independent": ("c/schedule_tiles.c.j2", "tiles of {tile} neurons outside, time inside"),
    "streaming": ("c/schedule_streamed.c.j2", "chunks of steps outside, blocks of neurons "
                  "inside (a streamed input is read in runs)"),
    "constants": ("c/schedule_constants.c.j2", "none: this kernel only fills each neuron's "
                  "parameters and constants, for a GPU kernel to read"),
}
# Helpers and what each needs besides itself.
HELPERS = {"lg_normal": ("lg_uniform", "lg_log", "lg_cos_turn", "lg_quadrant", "lg_bits"), "lg_uniform": (), "lg_min": (),
           "lg_max": (), "lg_lower_bound": (), "lg_quantize": (), "lg_flush_begin": (),
           "lg_expm": (), "lg_propagator": ("lg_expm",),
           # the elementary functions (elementary.c.j2) and the bit casts they share
           "lg_bits": (), "lg_exp_table": (), "lg_exp": ("lg_exp_table", "lg_bits"),
           "lg_expm1": ("lg_exp_table", "lg_bits"), "lg_log": ("lg_bits",),
           "lg_log1p": ("lg_bits",), "lg_tanh": ("lg_expm1", "lg_exp_table", "lg_bits"),
           "lg_exprel": ("lg_expm1", "lg_exp_table", "lg_bits"),
           "lg_inverse_exprel": ("lg_expm1", "lg_exp_table", "lg_bits"),
           "lg_expm1_of_sum": ("lg_exp_table", "lg_bits"),
           "lg_sinh": ("lg_expm1", "lg_expm1_of_sum", "lg_exp_table", "lg_bits"),
           "lg_cosh": ("lg_expm1", "lg_expm1_of_sum", "lg_exp_table", "lg_bits"),
           "lg_quadrant": ("lg_bits",), "lg_sin": ("lg_quadrant", "lg_bits"),
           "lg_cos": ("lg_quadrant", "lg_bits"), "lg_cos_turn": ("lg_quadrant", "lg_bits"),
           "lg_pow": ("lg_exp_table", "lg_bits"),
           "LG_TILE": (), "LG_BLOCK": (), "LG_CHUNK": ()}
# each unary elementary function applied to a round's arguments in one loop (call_rounds.py)
HELPERS.update({APPLIED + name: (CALL_USES[name][0], *HELPERS[CALL_USES[name][0]])
                for name in ELEMENTARY_CALLS if name not in BINARY_CALLS})
SIZES = {"LG_TILE": "enum {{ LG_TILE = {tile} }};  /* neurons simulated together for all steps "
                    "(uncoupled models) */",
         "LG_BLOCK": "/* Streamed input: blocks of neurons whose states fit in L1, advanced "
                     "LG_CHUNK steps at a time. */\nenum {{ LG_BLOCK = 16384 / sizeof(lg_real), "
                     "LG_CHUNK = 32 }};"}


@functools.lru_cache(maxsize=None)
def environment() -> jinja2.Environment:
    """The Jinja2 environment over lifgen's templates (C kernels and emit's library files)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(resource_dir("templates"))),
        undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True,
        trim_blocks=True, lstrip_blocks=True)
    env.filters["comment"] = comment_text
    return env


def loop_order(variant: Variant) -> str:
    """Tiles with time inside, or chunks of steps outside when an input is streamed. The kernel
    runs uncoupled neurons only: a run that couples them (connections, drives, winner-take-all)
    runs as a one-population network (runtime/coupled_run.py)."""
    if "streamed" in dict(variant.layouts).values():
        return "streaming"
    return "independent"


def model_abi(step_map: StepMap) -> KernelABI:
    model = step_map.model
    return kernel_abi(state_names(step_map), model.parameter_names, model.input_names)


def with_body(context: KernelContext, body: str, abi: KernelABI, declared: frozenset[str],
              restrict: str = "restrict ") -> KernelContext:
    """The context with its rendered body and what the body's templates declare they use
    (uses.py): the fields to unpack (arrays declared with `restrict`), the helpers, sizes and
    enums to declare. Nothing is read back from the text."""
    used = set(declared)
    if context.dt_literal is not None:
        used.discard("lg_dt")  # a local constant, not the struct's field
    return dataclasses.replace(
        context, body=body.rstrip("\n"), uses=frozenset(used),
        unpack=tuple(_unpack(abi, used, restrict)),
        helpers=frozenset(_closure(used)),
        sizes=tuple(SIZES[n].format(tile=context.tile) for n in ("LG_TILE", "LG_BLOCK")
                    if n in used))


def _unpack(abi: KernelABI, used: set[str], restrict: str) -> list[tuple[str, str]]:
    """The fields the kernel reads: (parameter lg_<field> with restrict, the struct's field)."""
    return [(f.declaration(restrict).replace(f.name, lifgen_name(f.name), 1), f"lg_a->{f.name}")
            for f in abi if lifgen_name(f.name) in used]


def _closure(used: set[str]) -> set[str]:
    """The helpers among `used`, with the helpers they call (HELPERS)."""
    helpers = {n for n in HELPERS if n in used}
    for name in list(helpers):
        helpers.update(HELPERS[name])
    return helpers


def kernel_context(step_map: StepMap, semantics: Semantics, schedule: Schedule,
                   variant: Variant, mode: str, abi: KernelABI, indent: int = 16,
                   rounds: bool = False) -> KernelContext:
    """Every name and printed statement the templates of one kernel read (the step printed at
    `indent` spaces; with `rounds`, a tiles schedule's step that calls the elementary functions
    at many sites split into rounds of calls, call_rounds.py)."""
    model = step_map.model
    dtype = semantics.dtype
    shared = set(variant.shared)
    layouts = {u.name: variant.layout(u.name) for u in model.inputs}
    levels = tuple(sorted(semantics.state_quant or ()))
    step = lower(step_map, StepOptions(
        levels=levels, time_inputs=frozenset(n for n, layout in layouts.items() if layout == "time"),
        shared=frozenset(shared), unconnected=True))
    printer = StatementPrinter(dtype, indent)
    expression = functools.partial(print_expression, dtype=dtype)
    number = CPrinter({}, dtype).print
    in_loop = identifiers((step.step, step.after_spike))
    shared_k = shared_constants(step_map, frozenset(shared))
    tile = tile_size(schedule, dtype)
    parameters = [_parameter(p.name, shared, in_loop) for p in model.parameters]
    propagators, trees, matrices = _propagator_blocks(
        [_rename_constant(step_map, tree) for _, tree in step_map.constants], expression)
    shown_trees = shown_entries([tree for _, tree in step_map.constants])

    constants = [ConstantNames(c=k.name,
                               scratch=SCHEDULE_PREFIXES["scratch_constant"] + k.name[3:],
                               tile=ARRAY_PREFIXES["constant"] + k.name[3:],
                               code=expression(renamed),
                               shared=k in shared_k,
                               comment=f"{k.name.removeprefix('lg_')} = {to_text(shown)}")
                 for (k, _), renamed, shown in zip(step_map.constants, trees, shown_trees)]
    split = _call_rounds(step, state_names(step_map)) if rounds and mode == "independent" else None
    last = split.last if split else step.step
    return KernelContext(
        function=KERNEL_FUNCTION, model=model.name, description=model.description,
        version=__version__, method=step_map.method,
        dt_text=("a discrete map (no dt)" if step_map.dt is None else
                 "dt a run-time argument (compiled with runtime_dt)" if schedule.runtime_dt
                 else f"dt = {step_map.dt}"),
        dt_literal=(None if step_map.dt is None or schedule.runtime_dt
                    else number(Num(float(step_map.dt)))),
        real=C_TYPES[dtype], fabs="fabsf" if dtype == "float32" else "fabs",
        tile=tile, threads=schedule.threads, mode=mode,
        schedule=SCHEDULES[mode][0], mode_comment=SCHEDULES[mode][1].format(tile=tile),
        reset_mechanism=step_map.reset_mechanism, reset_timing=step_map.reset_timing,
        correction=bool(step_map.correction), options=_describe(semantics, schedule),
        equations=step_map.equations(), units=_units(model), struct=c_struct(abi), fields=tuple(abi.names()),
        states=[_state(n) for n in state_names(step_map)],
        parameters=parameters, constants=constants,
        shared_values=[(p.c, p.scratch) for p in parameters if p.shared and p.in_loop]
        + [(c.c, c.scratch) for c in constants if c.shared],
        inputs=[_input(u.name, layouts[u.name], in_loop) for u in model.inputs],
        step=printer.text(last), after_spike=printer.text(step.after_spike),
        step_uses=statement_uses(last), after_spike_uses=statement_uses(step.after_spike),
        constants_uses=statement_uses((trees, matrices)),
        draws_noise=model.is_stochastic,
        after_spike_reads_reset="lg_reset" in identifiers(step.after_spike),
        vector_functions=vector_functions(last),
        rounds=tuple(RoundText(printer.text(r.loop), StatementPrinter(dtype, indent - 4).text(
            r.applied)) for r in split.rounds) if split else (),
        round_arrays=split.arrays if split else (),
        rounds_uses=statement_uses([(r.loop, r.applied) for r in split.rounds]) if split
        else frozenset(),
        precise=bool(step_map.propagator), levels=[number(Num(float(v))) for v in levels],
        flush_denormals=schedule.flush_denormals, propagators=tuple(propagators),
        all_shared=all(p.name in shared for p in model.parameters))


def _call_rounds(step: NeuronStep, states: list[str]) -> CallRounds | None:
    """The step in rounds of calls where it calls the elementary functions at more than one
    site (call_rounds.py); the last round's loop also finishes the step and stores the new
    states and the spike (what after_spike and the schedule read)."""
    if call_sites(step.step) < ROUNDS_FROM_SITES:
        return None
    last_reads = identifiers(step.after_spike) | {local("new", s) for s in states} | {
        "lg_spike", "lg_reset", "lg_offset"}
    return call_rounds(step.step, frozenset(last_reads))


def _propagator_blocks(trees: list[Tree], expression: Callable[[Expression], str]
                       ) -> tuple[list[PropagatorNames], list[Tree], list[tuple[Tree, ...]]]:
    """Constants that read entries of one matrix exponential share it: each distinct matrix
    becomes a block computed once per neuron (lg_prop0), its entries read as lg_prop0[k].
    Returns the blocks, the constants' trees reading them, and each block's (size, h, entries)
    trees (what a block's code reads)."""
    renamed, blocks = matrix_entries(
        trees, lambda index, i, j, n: Name(sympy.Symbol(f"lg_prop{index}[{i * n + j}]")))
    names = [PropagatorNames(name=f"lg_prop{index}", size=int(key[0].value), h=expression(key[1]),
                             entries=", ".join(expression(e) for e in dense_entries(
                                 int(key[0].value), key[2:], Num(0.0), lambda k: int(k.value))))
             for key, index in blocks.items()]
    return names, renamed, list(blocks)


def _rename_constant(step_map: StepMap, tree: Node) -> Node:
    model = step_map.model
    table = {p: Name(sympy.Symbol(local("parameter", p.name))) for p in model.parameter_symbols}
    table[DT] = Name(sympy.Symbol("lg_dt"))
    table.update({k: Name(k) for k, _ in step_map.constants})
    return substitute(tree, table)


def _state(name: str) -> StateNames:
    return StateNames(name=name, x=ARRAY_PREFIXES["state"] + name, new=local("new", name),
                      state=field_local("state", name),
                      trace=field_local("trace", name))


def _parameter(name: str, shared: set[str], in_loop: set[str]) -> ParameterNames:
    return ParameterNames(name=name, c=local("parameter", name),
                          scratch=SCHEDULE_PREFIXES["scratch_parameter"] + name,
                          tile=ARRAY_PREFIXES["parameter"] + name,
                          param=field_local("param", name),
                          stride=field_local("param_stride", name),
                          shared=name in shared,
                          in_loop=local("parameter", name) in in_loop
                          or ARRAY_PREFIXES["parameter"] + name in in_loop)


def _input(name: str, layout: str, in_loop: set[str]) -> InputNames:
    return InputNames(name=name, layout=layout, in_=ARRAY_PREFIXES["input"] + name,
                      value=ARRAY_PREFIXES["time_input"] + name,
                      held=SCHEDULE_PREFIXES["held"] + name,
                      input=field_local("input", name),
                      time=field_local("input_time_stride", name),
                      batch=field_local("input_batch_stride", name),
                      neuron=field_local("input_neuron_stride", name),
                      in_loop=ARRAY_PREFIXES["input"] + name in in_loop
                      or ARRAY_PREFIXES["time_input"] + name in in_loop)


def _units(model: Model) -> str:
    text = ", ".join(f"{q.name} in {q.unit}" for q in (*model.states, *model.parameters,
                                                         *model.inputs) if q.unit)
    return text + (f"; dt in {model.time_unit}" if model.time_unit else "")


def _describe(semantics: Semantics, schedule: Schedule) -> str:
    parts = []
    if schedule.flush_denormals:
        parts.append("denormals flushed to zero")
    if semantics.state_quant is not None:
        parts.append(f"states quantised to {len(semantics.state_quant)} levels")
    return ", ".join(parts)


