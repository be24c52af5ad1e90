"""Declared uses (issue 19): a kernel unpacks the fields, defines the helpers and declares the
sizes that its templates declare they use (targets/cfamily/uses.py) and that the statement IR
declares for the printed step, not what a scan of the generated text finds.

The scan survives here only, as the safety net: every schedule is rendered for the library's
models and the test models (kernel_cases.py: synapse inputs, noise, traces, quantisation,
precise spikes, propagators, every input layout, both float types, C and CUDA), and the names
the old scan (`\\b(lg_\\w+|LG_\\w+)\\b`) finds in the text must be exactly the declared ones,
among the names a declaration acts on (the ABI's fields, HELPERS and sizes): none is
used without being declared (so nothing compiles by luck), none declared without being used (so
no kernel unpacks or defines what it never reads)."""

from __future__ import annotations

import re

import pytest
import sympy

import kernel_cases
from lifgen.codegen.abi import KernelABI
from lifgen.codegen.options import Schedule
from lifgen.ir.functions import FUNCTIONS
from lifgen.ir.written import Call, Name, Num
from lifgen.targets.c.render import kernel
from lifgen.targets.cfamily.context import KernelContext
from lifgen.targets.cfamily.elementary import BINARY, ELEMENTARY
from lifgen.targets.cfamily.kernel import HELPERS, model_abi
from lifgen.targets.cfamily.printer import APPLIED, CALL_USES, ExpressionPrinter
from lifgen.targets.cuda.render import device_functions

SCAN = re.compile(r"\b(lg_\w+|LG_\w+)\b")  # what with_body once read off the text
FLOAT_VARIANTS = {helper + "f": helper for helper in (*ELEMENTARY.values(), *BINARY.values())}
CASES = kernel_cases.cases()
# what the kernel tests declared, per target, and the cases they rendered (the coverage test)
_seen: dict[str, set[str]] = {"c": set(), "cuda": set(), "c cases": set(), "cuda cases": set()}


def vocabulary(abi: KernelABI, context: KernelContext) -> set[str]:
    """The names a declaration acts on: the fields' locals, the helpers and sizes (lg_dt is a
    local constant, not the field, when dt is a literal)."""
    names = {f"lg_{f.name}" for f in abi} | set(HELPERS)
    return names - ({"lg_dt"} if context.dt_literal is not None else set())


def compare(text: str, declared: frozenset[str], names: set[str], where: str) -> None:
    """Among `names`, what the scan finds in `text` is what was declared: no more, no less (an
    elementary function's float variant, lg_expf, is its helper lg_exp)."""
    found = {FLOAT_VARIANTS.get(n, n) for n in SCAN.findall(text)} & names
    declared_here = declared & names
    assert found == declared_here, (
        f"{where}: used but not declared {sorted(found - declared_here)}; "
        f"declared but not used {sorted(declared_here - found)}")


def _inputs(case: kernel_cases.Case) -> tuple:
    """(step map, semantics, schedule, variant) of a case."""
    return (kernel_cases.step_map_of(case.model, case.options), kernel_cases.semantics_of(case),
            kernel_cases.SCHEDULES[case.schedule], kernel_cases.variant_of(case))


def check_c_kernel(case: kernel_cases.Case) -> None:
    """The C kernel of `case` declares exactly what its body uses (recorded in _seen)."""
    step_map, semantics, schedule, variant = _inputs(case)
    context, abi = kernel(step_map, semantics, schedule, variant)
    names = vocabulary(abi, context)
    compare(context.body, context.uses, names, f"C {context.mode} body")
    _seen["c"] |= context.uses & names
    _seen["c cases"].add(case.id)


def check_cuda_functions(case: kernel_cases.Case) -> None:
    """Each CUDA function of `case`, and its C prologue, declares exactly what it uses."""
    step_map, semantics, schedule, variant = _inputs(case)
    abi = model_abi(step_map)
    context, functions = device_functions(step_map, semantics, schedule, variant, abi)
    names = vocabulary(abi, context)
    for f in functions:
        compare(f.body, f.uses, names, f"CUDA {f.name}")
        assert {u[0].split()[-1] for u in f.unpack} == f.uses & {u[0].split()[-1]
                                                                  for u in context.unpack}
        _seen["cuda"] |= f.uses & names
    prologue, _ = kernel(step_map, semantics, Schedule(threads=1, runtime_dt=schedule.runtime_dt),
                         variant, mode="constants")
    compare(prologue.body, prologue.uses, vocabulary(abi, prologue), "CUDA's C prologue")
    _seen["cuda cases"].add(case.id)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_the_c_kernel_declares_exactly_what_its_body_uses(case):
    check_c_kernel(case)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_each_cuda_function_declares_exactly_what_it_uses(case):
    check_cuda_functions(case)


@pytest.mark.parametrize("case", CASES[::4], ids=[c.id for c in CASES[::4]])
def test_the_ir_declares_what_the_printed_step_reads(case):
    """A CUDA thread's values declare what its code reads (values.cu.j2): the IR's uses of the
    step and after_spike agree with the printed text on every name a schedule provides."""
    step_map, semantics, schedule, variant = _inputs(case)
    abi = model_abi(step_map)
    context, _ = device_functions(step_map, semantics, schedule, variant, abi)
    provided = vocabulary(abi, context) | {"lg_dt", "lg_first", "lg_i"}
    provided |= {p.c for p in context.parameters} | {p.tile for p in context.parameters}
    provided |= {c.c for c in context.constants} | {c.tile for c in context.constants}
    provided |= {s.x for s in context.states} | {u.in_ for u in context.inputs}
    provided |= {u.value for u in context.inputs}
    for code in ("step", "after_spike"):
        text = getattr(context, code)
        found = {FLOAT_VARIANTS.get(n, n) for n in re.findall(r"\b[A-Za-z_]\w*", text)} & provided
        assert found == getattr(context, f"{code}_uses") & provided, code


def test_each_function_declares_the_helpers_its_c_calls():
    """CALL_USES is what each function's C text reads besides its arguments (functions.py's C
    forms and the printer's kernel calls), lg_real, the type every kernel declares, aside."""
    printer = ExpressionPrinter("float64")
    arguments = tuple(Name(sympy.Symbol(f"a{i}")) for i in range(8))
    # a propagator's (i, j, n) and its entries' flat indices are numbers, as lifgen writes them
    shaped = {"propagator": (Num(0), Num(1), Num(2), arguments[3], Num(0), arguments[5], Num(3),
                             arguments[7])}
    for name, function in [*FUNCTIONS.items(), ("normal", None), ("quantize", None)]:
        arity = 0 if name == "normal" else 1 if function is None else function.arity or 8
        text = printer.print(Call(name, shaped.get(name, arguments[:arity])))
        assert set(SCAN.findall(text)) - {"lg_real"} == set(CALL_USES.get(name, ())), name


def test_the_cases_exercise_every_helper_and_size():
    """Every helper and size was declared by some kernel of each target (but the C-only ones
    on CUDA), so the comparison covered it. The cases this process has not checked yet (pytest-
    xdist runs the tests above on several workers) are checked here."""
    for case in CASES:
        if case.id not in _seen["c cases"]:
            check_c_kernel(case)
        if case.id not in _seen["cuda cases"]:
            check_cuda_functions(case)
    unused = {"lg_uniform",  # only lg_normal calls it in a kernel (networks' drives call it)
              "lg_bits", "lg_quadrant", "lg_exp_table",  # only the elementary functions read them
              "lg_cos_turn",  # only lg_normal calls it
              "lg_expm1", "lg_log1p", "lg_tanh", "lg_sin", "lg_cos", "lg_sinh", "lg_cosh",
              "lg_expm1_of_sum"}  # no case's model calls them: test_elementary, and
    # test_cuda's phase and hyperbolic models
    c_only = {"lg_flush_begin", "LG_TILE", "LG_BLOCK", "LG_CHUNK",
              "lg_expm",  # CUDA flushes by compiler flag, its prologue is C
              "lg_log"}  # the cases call log in constants only (lapicque's C): the prologue
    # the C tiles schedule's rounds of calls (hodgkin_huxley's and cobahh's steps: exp,
    # exprel and 1/exprel)
    applied = {helper for helper in HELPERS if helper.startswith(APPLIED)}
    unused |= applied - {APPLIED + f for f in ("exp", "exprel", "inverse_exprel")}
    c_only |= applied
    assert set(HELPERS) - unused == _seen["c"] & set(HELPERS)
    assert set(HELPERS) - unused - c_only == _seen["cuda"] & set(HELPERS)
