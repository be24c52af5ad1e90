"""What the C templates receive: one typed context per kernel, and the C names of each state,
parameter, constant and input (built in kernel.py from one naming table)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StateNames:
    name: str
    x: str  # the schedule's array of this state (lg_x_V)
    new: str  # the updated value in the step (n_V)
    state: str  # the kernel's argument (lg_state_V)
    trace: str  # its trace argument (lg_trace_V)


@dataclass(frozen=True)
class ParameterNames:
    name: str
    c: str  # the per-neuron value (p_tau)
    scratch: str  # the per-run array (lg_p_tau)
    tile: str  # the schedule's view of it (lg_tp_tau)
    param: str  # the kernel's argument and its stride
    stride: str
    shared: bool  # one value for every neuron in this variant
    in_loop: bool  # read by the step (not only by constants)


@dataclass(frozen=True)
class ConstantNames:
    c: str  # lg_k0
    scratch: str
    tile: str
    code: str  # its C expression of parameters and dt
    shared: bool  # follows from shared parameters and dt alone
    comment: str


@dataclass(frozen=True)
class PropagatorNames:
    """One matrix exponential per neuron, whose entries several constants read (lg_prop0[k])."""

    name: str
    size: int
    h: str  # its C expression of dt (or of the time within a step)
    entries: str  # the matrix, row by row, as C expressions of the parameters


@dataclass(frozen=True)
class RoundText:
    """A round of a tile's step printed (call_rounds.py): its loop's body, then the functions
    applied to the arguments it stored."""

    loop: str
    applied: str


@dataclass(frozen=True)
class InputNames:
    name: str
    layout: str  # held, streamed or time
    in_: str  # this step's values (lg_in_I)
    value: str  # the one value of this step (time layout)
    held: str  # a tile's copy when held
    input: str  # the kernel's argument and its strides
    time: str
    batch: str
    neuron: str
    in_loop: bool


@dataclass(frozen=True)
class KernelContext:
    """Everything the C templates of one kernel read; decided in Python, never in a template."""

    function: str
    model: str
    description: str
    version: str
    method: str
    dt_text: str
    dt_literal: str | None
    real: str
    fabs: str
    tile: int
    threads: int
    mode: str
    schedule: str  # the loop template
    mode_comment: str
    reset_mechanism: str
    reset_timing: str
    correction: bool
    options: str
    equations: list[str]
    units: str
    struct: str
    fields: tuple[str, ...]  # the names of lg_args's fields, in order (its layout check)
    states: list[StateNames]
    parameters: list[ParameterNames]
    constants: list[ConstantNames]
    shared_values: list[tuple[str, str]]  # (plain value, scratch array) of shared quantities
    inputs: list[InputNames]
    step: str  # the printed neuron step
    after_spike: str
    # what the step's statements use, declared from the IR (not found in the printed text)
    step_uses: frozenset[str]  # names, arrays, indices and helpers that `step` reads
    after_spike_uses: frozenset[str]
    constants_uses: frozenset[str]  # what the prologue's constants and propagators read
    draws_noise: bool  # the step draws a normal number, indexed by the neuron's global index
    after_spike_reads_reset: bool  # the undelayed correction reads this step's reset flag
    precise: bool
    levels: list[str]
    flush_denormals: bool
    all_shared: bool  # only index 0 of the parameter scratch is read
    propagators: tuple[PropagatorNames, ...] = ()  # computed before the constants, per neuron
    vector_functions: bool = False  # elementary functions as vector functions, not inlined
    # the tiles schedule's rounds of calls before `step` (call_rounds.py), the arrays they share
    # (name, size in tiles) and what they read
    rounds: tuple[RoundText, ...] = ()
    round_arrays: tuple[tuple[str, int], ...] = ()
    rounds_uses: frozenset[str] = frozenset()
    inline: str = "static inline"  # how helper functions are declared (CUDA adds __device__)
    constant: str = "static const"  # and constant tables
    # filled once the body is rendered, from what its templates declare they use (uses.py)
    body: str = ""
    uses: frozenset[str] = frozenset()
    unpack: tuple[tuple[str, str], ...] = ()
    helpers: frozenset[str] = frozenset()
    sizes: tuple[str, ...] = ()
