"""Render a network's lowered program as one C function (templates/c/network.c.j2): the buffers
declared in the plan's order, the prologue and the steps printed from the statement IR."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Mapping

from ...codegen.network import (Buffer, NetworkPlan, NetworkProgram, PopulationPlan,
                                ProjectionPlan)
from ...ir.statements import Block, For, If, Let, Statement, View
from ...ir.written import CPrinter, Num
from ...version import __version__
from ..cfamily.kernel import C_TYPES, HELPERS, environment
from ..cfamily.printer import (CALL_USES, ELEMENT_TYPES, LOCAL_TYPES, StatementPrinter,
                               statement_uses, vector_functions)

NETWORK_FUNCTION = "lg_network"
ROWS_SUFFIX = "_rows"  # (threads > 1) a scratch parameter: every batch row's, one after another
# the helpers network.c.j2 defines itself
NETWORK_HELPERS = ("lg_any8", "lg_flags8", "lg_lowest8", "lg_rest8", "lg_flags64",
                   "lg_lowest64", "lg_stream",
                   "lg_first_at_least", "lg_presynaptic")
# The program's locals that a population's step function receives by value when it reads them.
STEP_SCALARS = {"lg_b": "int64_t", "lg_step": "int64_t", "lg_step0": "int64_t",
                "lg_n_steps": "int64_t", "lg_n_batch": "int64_t", "lg_seed": "uint64_t"}
# A network of at most ROW_BLOCK_NEURONS neurons (its sources' included) runs its batch rows
# ROW_BLOCK at a time, step by step: their inputs of a step lie together and their few states
# stay in cache (the Braille RNN's 57 neurons at batch 256 ran 1.06x faster); a larger network
# keeps a row's states in cache by running its rows one after another.
ROW_BLOCK = 8
ROW_BLOCK_NEURONS = 512
# A network whose populations all have fewer neurons than this prefers 256-bit vectors to
# 512-bit ones (network.c.j2): the Braille RNN's (12, 38 and 7) ran 1.09x faster so.
NARROW_VECTORS_BELOW = 128
NETWORK_CDEF = (f"int {NETWORK_FUNCTION}(void *const *lg_buffers, int64_t lg_step0, "
                "int64_t lg_n_steps, int64_t lg_n_batch, uint64_t lg_seed);\n")


@dataclass(frozen=True)
class StepFunction:
    """A population's part of a step as a C function of its own, taking the buffers it reads as
    restrict parameters: as one function, a whole network's step took gcc 2.6x as long to
    compile (its register allocation grows faster than the function)."""

    name: str
    comment: str
    parameters: tuple[str, ...]  # the declarations: buffers (restrict pointers), then values
    arguments: tuple[str, ...]
    body: str


@dataclass(frozen=True)
class NetworkContext:
    """What network.c.j2 and the shared helpers template read."""

    function: str
    version: str
    real: str
    populations: tuple[str, ...]
    projections: tuple[str, ...]
    buffers: tuple[Buffer, ...]
    types: Mapping[str, str]  # a buffer's element kind -> its C type (ELEMENT_TYPES)
    prologue: str
    step_values: str  # the values of a step every population reads (its absolute step, ...)
    steps: tuple[StepFunction, ...]  # each population's part of a step, in order
    helpers: frozenset[str]
    fabs: str
    levels: tuple[str, ...] = ()
    flush_denormals: bool = False
    vector_functions: bool = False  # elementary functions as vector functions, not inlined
    unread: str = ""  # the arguments this program does not read, cast to void
    inline: str = "static inline"
    constant: str = "static const"
    threads: int = 1  # > 1: the batch rows' steps shared among threads
    row_scratch: tuple[Buffer, ...] = ()  # (threads > 1) the scratch each row has its own of
    row_block: int = 1  # (threads == 1) the batch rows run together, step by step
    narrow_vectors: bool = False  # prefer 256-bit vectors (NARROW_VECTORS_BELOW)
    rows_suffix: str = ROWS_SUFFIX


@dataclass(frozen=True)
class NetworkSource:
    """A network's C source and the declaration cffi needs to call it."""

    program: NetworkProgram
    text: str
    cdef: str = NETWORK_CDEF
    function: str = NETWORK_FUNCTION


def render_network(program: NetworkProgram) -> NetworkSource:
    """The program's C source: lg_network exported from lifgen's own builds, static in a library
    that includes it (templates/c/entry.c.j2)."""
    plan = program.plan
    dtype = plan.dtype
    printer = StatementPrinter(dtype, indent=0)
    body = _pruned(program.body if plan.threads == 1 else (program.steps,))
    prologue = _pruned(program.prologue, statement_uses(body))
    called = {name for function in program.calls for name in CALL_USES.get(function, ())}
    helpers = {name for name in called if name in HELPERS or name in NETWORK_HELPERS}
    if plan.flush_denormals:
        helpers.add("lg_flush_begin")
    for helper in list(helpers):
        helpers.update(HELPERS.get(helper, ()))
    read = statement_uses((prologue, body))
    steps = step_functions(program, prologue, printer)
    row_scratch = tuple(b for b in program.buffers if b.scratch and plan.threads > 1)
    arguments = (*(b.name for b in program.buffers if b not in row_scratch),
                 *(b.name + ROWS_SUFFIX for b in row_scratch if b.name not in read),
                 "lg_step0", "lg_n_steps", "lg_n_batch", "lg_seed")
    context = NetworkContext(
        function=NETWORK_FUNCTION, version=__version__, real=C_TYPES[dtype],
        unread=" ".join(f"(void){name};" for name in arguments if name not in read),
        populations=tuple(population_line(p) for p in plan.populations),
        projections=tuple(projection_line(plan, j) for j in plan.projections),
        buffers=program.buffers, types=ELEMENT_TYPES,
        prologue=_indented(printer.text(prologue)),
        step_values=_indented(printer.text(_pruned(program.step_values, frozenset(
            name for f in steps for name in f.arguments)))),
        steps=steps,
        helpers=frozenset(helpers), vector_functions=vector_functions(body),
        fabs="fabsf" if dtype == "float32" else "fabs",
        levels=levels(plan), flush_denormals=plan.flush_denormals,
        threads=plan.threads, row_block=row_block(plan),
        narrow_vectors=all(p.n < NARROW_VECTORS_BELOW for p in plan.populations),
        row_scratch=tuple(b for b in row_scratch if b.name in read))
    text = environment().get_template("c/network.c.j2").render(k=context)
    return NetworkSource(program=program, text=text)


def row_block(plan: NetworkPlan) -> int:
    """How many batch rows the program runs together, step by step (ROW_BLOCK_NEURONS)."""
    small = sum(p.n for p in plan.populations) <= ROW_BLOCK_NEURONS
    return ROW_BLOCK if small and plan.threads == 1 else 1


def step_functions(program: NetworkProgram, prologue: tuple[Statement, ...],
                   printer: StatementPrinter) -> tuple[StepFunction, ...]:
    """Each population's part of a step as a function of the buffers and values it reads (the
    values: the loop counters, the step's own values and the prologue's)."""
    values = dict(STEP_SCALARS)
    values.update((s.name, LOCAL_TYPES[s.type]) for s in (*program.step_values, *prologue)
                  if isinstance(s, Let) and s.type in LOCAL_TYPES)
    functions = []
    for k, population in enumerate(program.populations):
        statements = _pruned(population.statements())
        read = statement_uses(statements)
        buffers = [b for b in program.buffers if b.name in read]
        scalars = [name for name in values if name in read]
        functions.append(StepFunction(
            name=f"lg_step_P{k}", comment=population.comment,
            parameters=(*(f"{ELEMENT_TYPES[b.element]} *restrict {b.name}" for b in buffers),
                        *(f"const {values[name]} {name}" for name in scalars)),
            arguments=(*(b.name for b in buffers), *scalars),
            body=_indented(printer.text(statements))))
    return tuple(functions)


def levels(plan: NetworkPlan) -> tuple[str, ...]:
    """The state quantisation levels as C numbers (one table: the populations that quantise
    share it)."""
    tables = {p.levels for p in plan.populations if p.levels}
    if len(tables) > 1:
        raise ValueError("populations with different quantisation levels in one program")
    number = CPrinter({}, plan.dtype).print
    return tuple(number(Num(float(v))) for v in (tables.pop() if tables else ()))


def projection_line(plan: NetworkPlan, j: ProjectionPlan) -> str:
    """A projection as the source's header names it."""
    return (f"{plan.populations[j.pre].name} -> {plan.populations[j.post].name}.{j.synapse}: "
            f"{j.kind}" + (f", delay {j.delay} steps" if j.kind != "sparse" else
                           ", a delay per synapse"))


def population_line(population: PopulationPlan) -> str:
    """A population as the source's header names it."""
    if population.step_map is None:
        return f"{population.name}: {population.n} sources ({population.source})"
    step_map = population.step_map
    size = "n (at run time)" if population.run_time_size else population.n
    return (f"{population.name}: {size} x {step_map.model.name}, method "
            f"{step_map.method}, dt = {step_map.dt} {step_map.model.time_unit}".rstrip())


def _pruned(statements: tuple[Statement, ...], live: frozenset[str] = frozenset()
            ) -> tuple[Statement, ...]:
    """`statements` without the values (Let, View) that nothing after them reads, in blocks and
    loops too: the program declares every view of a population, and a C compiler warns of an
    unused one (`live`: what the statements after these read)."""
    kept: list[Statement] = []
    for statement in reversed(statements):
        if isinstance(statement, (Let, View)) and statement.name not in live:
            continue
        if isinstance(statement, (Block, For)):
            statement = replace(statement, body=_pruned(statement.body))  # (a scope of its own)
        elif isinstance(statement, If):
            statement = replace(statement, then=_pruned(statement.then),
                                otherwise=_pruned(statement.otherwise))
        kept.append(statement)
        live = live | statement_uses(statement)
    return tuple(reversed(kept))


def _indented(text: str) -> str:
    return "\n".join("    " + line if line else line for line in text.splitlines())
