"""Render a StepMap into a C kernel: the C family's kernel context inserted into the loop
template of its schedule (templates/c/), with the cffi cdef of its argument struct."""

from __future__ import annotations

from ...codegen.abi import KernelABI, c_struct, layout_declaration
from ...codegen.options import DTYPES, Semantics, Schedule, Variant
from ...codegen.source import KernelSource
from ...numerics.discretize import StepMap
from ..cfamily.context import KernelContext
from ..cfamily.kernel import (C_TYPES, KERNEL_FUNCTION, environment, kernel_context, loop_order,
                              model_abi, with_body)
from ..cfamily.uses import body_uses


def render(step_map: StepMap, semantics: Semantics, schedule: Schedule,
           variant: Variant, mode: str | None = None, rounds: bool = True) -> KernelSource:
    """The kernel C source and cdef of `step_map` for these options and this variant (`mode`
    overrides the loop order; "constants" gives the prologue alone, for another target;
    `rounds=False` keeps the tiles schedule's step in one loop, as lifgen made it before its
    rounds of calls: benchmarks/transcendentals.py's "before")."""
    context, abi = kernel(step_map, semantics, schedule, variant, mode, rounds)
    model = step_map.model
    work = len(model.parameters) + len(step_map.constants)
    return KernelSource(
        c_source=environment().get_template("c/kernel.c.j2").render(k=context),
        cdef=f"typedef {C_TYPES[semantics.dtype]} lg_real;\n{c_struct(abi)}\n"
             f"{layout_declaration()}\nint {KERNEL_FUNCTION}(const lg_args *lg_a);\n",
        function=KERNEL_FUNCTION, dtype=semantics.dtype, step_map=step_map, semantics=semantics,
        schedule=schedule, variant=variant, abi=abi, mode=context.mode, work_size=work)


def kernel(step_map: StepMap, semantics: Semantics, schedule: Schedule, variant: Variant,
           mode: str | None = None, rounds: bool = True) -> tuple[KernelContext, KernelABI]:
    """The kernel's context with its rendered body and what the body's templates declare they
    use (the prologue's and the schedule's, uses.py), and its ABI."""
    if semantics.dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {DTYPES}, got {semantics.dtype!r}")
    abi = model_abi(step_map)
    mode = mode or loop_order(variant)
    context = kernel_context(step_map, semantics, schedule, variant, mode, abi, rounds=rounds)
    body = environment().get_template("c/body.c.j2").render(k=context)
    return with_body(context, body, abi, body_uses(context)), abi
