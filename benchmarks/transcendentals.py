"""Models whose step calls exp, expm1 or exprel: lifgen's own vectorizable elementary functions
(templates/c/elementary.c.j2) against the kernel calling glibc's scalar functions (lifgen before
them: the same source compiled with LG_LIBM_ELEMENTARY) and against a hand-written loop of the
same equations compiled with -O3 -ffast-math (glibc's vector math); and the COBA network
against Brian2 2.9 cpp_standalone (its default flags, with -ffast-math), one thread.

    python -m benchmarks.transcendentals [--quick] [--out FILE]

with $LIFGEN_BENCH_BRIAN2_PYTHON naming a Python with Brian2 for its rows.
"""

import subprocess
import tempfile
from pathlib import Path

import numpy as np
from cffi import FFI

import lifgen
from lifgen import targets
from lifgen.codegen.build import build, compiler_command
from lifgen.codegen.options import Schedule
from lifgen.targets.c.render import render
from lifgen.targets.c.target import CTarget
from lifgen.tools import brette2007
from benchmarks.__main__ import HERE, brian2_runs, report_command, table

LIBM = "#define LG_LIBM_ELEMENTARY\n"
FAST_CDEF = """
void hodgkin_huxley_rk4(int64_t, int64_t, double, double *, double *, double *, double *,
                        const double *, int64_t *);
void adex_rk4(int64_t, int64_t, double, double *, double *, const double *, int64_t *);
void eif_rk4(int64_t, int64_t, double, double *, const double *, int64_t *);
void lif_coba_exponential_euler(int64_t, int64_t, double, double *, double *, double *, double *,
                                const double *, int64_t *);
"""
# model -> (method, input I, the states the hand-written loop takes in order, its function)
WORKLOADS = {
    "hodgkin_huxley": ("rk4", 20.0, ("V", "m", "h", "n"), "hodgkin_huxley_rk4"),
    "adex": ("rk4", 500.0, ("V", "w"), "adex_rk4"),
    "eif": ("rk4", 5.0, ("V",), "eif_rk4"),
    "lif_coba": ("exponential_euler", 30.0, ("V", "g_e", "g_i", "refractory_steps"),
                 "lif_coba_exponential_euler"),
}


class LibmTarget(CTarget):
    """The C target with glibc's exp, expm1, log, log1p, tanh: lifgen's kernels before its own
    (the step in one loop, not in rounds of calls)."""

    name = "c-libm"

    def render(self, step_map, semantics, schedule, variant):
        return render(step_map, semantics, schedule, variant, rounds=False)

    def build(self, source):
        schedule = source.schedule
        return build(LIBM + source.c_source, source.cdef, portable=schedule.portable,
                     openmp=schedule.threads > 1, fma=schedule.fma)

    def build_network(self, source, schedule=Schedule()):
        return build(LIBM + source.text, source.cdef, portable=schedule.portable, fma=schedule.fma)


TARGET = LibmTarget()
targets.TARGETS.setdefault("c-libm", __name__)


def fast_math_library():
    """benchmarks/transcendentals.c compiled with -O3 -ffast-math -march=native."""
    directory = Path(tempfile.mkdtemp())
    library = directory / "transcendentals.so"
    subprocess.run([*compiler_command(), "-O3", "-ffast-math", "-march=native", "-fPIC", "-shared",
                    str(HERE / "transcendentals.c"), "-o", str(library), "-lm"], check=True)
    ffi = FFI()
    ffi.cdef(FAST_CDEF)
    return ffi, ffi.dlopen(str(library))


def initial_states(model, n):
    """Each workload's start: the model's initial state, conductances spread for lif_coba."""
    rng = np.random.default_rng(5)
    if model == "lif_coba":
        return {"g_e": rng.uniform(0, 1, n), "g_i": rng.uniform(0, 1, n)}
    return {}


def neuron_step(model, n, steps):
    """lifgen, lifgen with glibc's calls and the fast-math loop on `model` (float64)."""
    method, drive, states, function = WORKLOADS[model]
    current = np.random.default_rng(6).uniform(0.5, 1.5, n) * drive
    initial = initial_states(model, n)
    runs = {}
    for label, target in (("lifgen", "c"), ("lifgen with glibc's calls (before)", "c-libm")):
        simulator = lifgen.compile(model, method=method, target=target)
        runs[label] = (lambda simulator=simulator: int(simulator.run(
            steps, n, inputs={"I": current}, initial=initial, record=[],
            spikes="count").spike_count.sum()))
    simulator = lifgen.compile(model, method=method)
    start = {**simulator.model.initial_values, **initial}
    dt = float(simulator.step_map.dt)
    ffi, library = fast_math_library()

    def fast():
        arrays = [np.broadcast_to(np.asarray(start.get(s, 0.0), np.float64), (n,)).copy()
                  for s in states]
        count = np.zeros(n, np.int64)
        pointers = [ffi.from_buffer("double[]", a) for a in arrays]
        getattr(library, function)(steps, n, dt, *pointers, ffi.from_buffer("double[]", current),
                                   ffi.from_buffer("int64_t[]", count))
        return int(count.sum())
    runs["hand-written loop, -O3 -ffast-math"] = fast
    return runs


def coba_network():
    """Brette et al.'s COBA, exponential Euler, 4000 neurons, 1 s: lifgen and lifgen before."""
    synapses = brette2007.connections(brette2007.NETWORKS["coba"], seed=1)
    runs = {}
    for label, target in (("lifgen", "c"), ("lifgen with glibc's calls (before)", "c-libm")):
        simulator = lifgen.compile("lif_coba", dt=0.1, method="exponential_euler", target=target)
        runs[label] = (lambda simulator=simulator: int(brette2007.run(
            "coba", seed=0, simulator=simulator, synapses=synapses).spike_count.sum()))
    return runs


def report(quick=False):
    """The rows of the neuron-step tables and the COBA table."""
    n, repeats = 100_000, 3 if quick else 5
    steps = {"hodgkin_huxley": 100, "adex": 200, "eif": 200, "lif_coba": 500}
    if quick:
        steps = {model: count // 2 for model, count in steps.items()}
    lines = ["\n## Transcendentals: neuron steps alone (float64, one core)\n"]
    for model, count in steps.items():
        rows, _ = table(f"{model} ({WORKLOADS[model][0]}), N = {n:g}, T = {count}",
                        neuron_step(model, n, count), n * count, repeats,
                        "hand-written loop, -O3 -ffast-math")
        lines += rows
    brian2, _ = brian2_runs("brian2_coba.py", label="its own random network")
    for name in [name for name in brian2 if "standalone" not in name]:
        brian2.pop(name).close()
    rows, results = table("COBA network (Brette et al. 2007): 4000 neurons, exponential Euler, 1 s "
                          "at dt = 0.1 ms, float64", {**coba_network(), **brian2}, 4000 * 10_000,
                          repeats, "lifgen")
    lines += rows
    lines.append("The ratio column is to the hand-written fast-math loop in the neuron-step "
                 "tables and to lifgen in the COBA table (above 1: faster than lifgen). The "
                 "hand-written lif_coba loop counts down its refractory period in its own way, "
                 "so its spike count differs slightly.")
    return lines


def main(argv=None):
    report_command("python -m benchmarks.transcendentals", __doc__,
                   HERE / "transcendentals.md", report, argv)


if __name__ == "__main__":
    main()
