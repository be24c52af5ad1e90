"""The neuron loop of models whose step calls exp, expm1, log or exprel is vectorized by gcc
without -ffast-math: lifgen's own elementary functions (templates/c/elementary.c.j2) are
branch-free C compiled as vector functions (OpenMP simd clones) that the loop calls, where
glibc's scalar calls stopped it. Checked with gcc's own report (-fopt-info-vec-optimized) on the
kernel compiled with lifgen's flags: a scalar call left in the loop would keep it scalar."""

import re
import subprocess

import pytest

import lifgen
from lifgen.codegen.build import compile_flags, compiler_command

NEURON_LOOP = "for (int64_t lg_i = 0; lg_i < LG_TILE; ++lg_i) {"  # full tiles, the hot loop
CASES = [("lif_coba", "exponential_euler"), ("adex", "rk4"), ("eif", "rk4"), ("hodgkin_huxley", "rk4")]


def vectorized_lines(source: str, tmp_path) -> set[int]:
    """The source lines of the loops gcc reports vectorized."""
    path = tmp_path / "kernel.c"
    path.write_text(source)
    command = [*compiler_command(), *compile_flags(), "-fkeep-static-functions",
               "-fopt-info-vec-optimized", "-c", str(path), "-o", str(tmp_path / "kernel.o")]
    report = subprocess.run(command, capture_output=True, text=True, check=True).stderr
    return {int(m.group(1)) for m in re.finditer(r"kernel\.c:(\d+):\d+: optimized: loop vectorized",
                                                 report)}


@pytest.fixture(scope="module")
def gcc():
    version = subprocess.run([*compiler_command(), "--version"], capture_output=True, text=True)
    if "gcc" not in version.stdout.lower() and "free software foundation" not in version.stdout.lower():
        pytest.skip("-fopt-info-vec is gcc's report")


@pytest.mark.parametrize("model, method", CASES)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_the_neuron_loop_is_vectorized(gcc, tmp_path, model, method, dtype):
    source = lifgen.compile(model, method=method, dtype=dtype).c_source
    lines = source.splitlines()
    loops = [i + 1 for i, line in enumerate(lines) if line.strip() == NEURON_LOOP]
    assert loops, "the schedule's neuron loop was not found"
    assert any(call in source for call in ("lg_exp", "lg_exprel", "lg_expm1"))
    assert set(loops) <= vectorized_lines(source, tmp_path)


@pytest.mark.parametrize("model, method, rounds",
                         [("hodgkin_huxley", "rk4", True), ("adex", "rk4", True),
                          ("lif_coba", "exponential_euler", False)])
def test_steps_with_several_call_sites_run_them_in_rounds(model, method, rounds):
    """A Hodgkin-Huxley step calls them at 24 sites (48 in the kernel's two loops): inlined, gcc
    took 8 s. The tiles schedule splits a step with more than one site into rounds of calls,
    each function compiled once in a loop over a round's arguments, none called inside the
    neuron loops (no vector clones). lif_coba's one call stays inline."""
    source = lifgen.compile(model, method=method).c_source
    loops = source.split(NEURON_LOOP)[1:]
    assert "omp declare simd" not in source
    assert ("lg_apply_exp(" in source) == rounds
    assert (len(loops) > 1) == rounds
    bodies = [loop.split("\n            }")[0] for loop in loops]
    assert not any(re.search(r"\blg_(exp|expm1|exprel|inverse_exprel)\(", body)
                   for body in bodies) == rounds


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_a_loop_calling_sin_cos_and_pow_is_vectorized(gcc, tmp_path, dtype):
    """lifgen's sin, cos and pow (a phase model's step) leave the neuron loop vectorizable."""
    from lifgen.frontend.modelfile import model_from_document
    from kernel_cases import PHASE

    model = model_from_document(PHASE, "phase.toml")
    source = lifgen.compile(model, method="euler", dtype=dtype).c_source
    loops = [i + 1 for i, line in enumerate(source.splitlines()) if line.strip() == NEURON_LOOP]
    assert loops and all(f"lg_{f}" in source for f in ("sin", "cos", "pow"))
    assert set(loops) <= vectorized_lines(source, tmp_path)
