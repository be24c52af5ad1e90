"""Render a StepMap into a CUDA kernel: one GPU thread per neuron and batch row, its states in
registers for every step. The step is the C target's (the same IR, printed by the same printer);
only the loop differs. Parameters and constants come from the C target's prologue, run on the
host, so that both targets compute propagators with the same libm.
"""

from __future__ import annotations

import dataclasses
import re

from ...discretize import StepMap
from ...errors import InputError
from ...options import ModelOptions, Schedule, Variant
from ..c.render import (KERNEL_FUNCTION, KernelSource, environment, kernel_context, loop_order,
                        model_abi, render as render_c, with_body)

MODE_COMMENT = "CUDA, one GPU thread per neuron and batch row with its states in registers"


def render(step_map: StepMap, semantics: ModelOptions, schedule: Schedule,
           variant: Variant) -> KernelSource:
    """The CUDA source of `step_map` for these options and this variant, with the C prologue
    that fills its parameters and constants."""
    mode = loop_order(step_map, semantics, variant)
    if mode == "coupled":
        raise InputError(f"{step_map.model.name}: the cuda target runs uncoupled neurons only so "
                         "far; connections, recurrent synapses and inhibition need target='c'")
    abi = model_abi(step_map)
    host = dataclasses.replace(schedule, threads=1)
    prologue = render_c(step_map, semantics, host, variant, mode="constants")
    context = dataclasses.replace(
        kernel_context(step_map, semantics, schedule, variant, mode, abi, indent=8),
        inline="LG_DEVICE", constant="LG_CONSTANT", mode_comment=MODE_COMMENT)
    uses = set(re.findall(r"\blg_\w+", context.step + context.after_spike))
    body = environment().get_template("cuda/neuron.cu.j2").render(k=context, uses=uses)
    context = with_body(context, body, abi, restrict="LG_RESTRICT ")
    return dataclasses.replace(
        prologue, c_source=environment().get_template("cuda/kernel.cu.j2").render(k=context),
        function=KERNEL_FUNCTION, schedule=schedule, mode=mode, prologue=prologue)
