"""Benchmarks: lifgen against a hand-written C ceiling, NumPy, snnTorch and Brian2 (when installed).

Run by hand from the repository root: `python -m benchmarks [--quick] [--out FILE]`. Every
workload runs its implementations interleaved, several times, and reports the minimum and
median time as neuron-steps per second, the ratio to the C ceiling, and the spike counts, which
must agree. Nothing here is a test: timings on a shared machine are noisy; compare ratios.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import lifgen
from lifgen.codegen import build

HERE = Path(__file__).resolve().parent
BETA, ALPHA, THRESHOLD = 0.95, 0.9, 1.0
CDEF = """
int ceiling_register_tiled(int64_t, int64_t, float, float, float *, const float *, int64_t *, int);
int ceiling_streamed(int64_t, int64_t, float, float, float *, const float *, int64_t *);
int ceiling_synaptic_tiled(int64_t, int64_t, float, float, float, float *, float *, const float *,
                           int64_t *, int);
double ceiling_read(const float *, int64_t);
"""


def ceiling():
    """The hand-written reference kernels, built with lifgen's own flags (and OpenMP)."""
    return build.build((HERE / "ceiling.c").read_text(), CDEF, openmp=True)


def timed(function, repeats):
    """Run `function` `repeats` times; (min, median) seconds and its last return value."""
    times, value = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        value = function()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times), value


def interleave(implementations, repeats):
    """Time each implementation once per round, round after round, so that drift hits all alike."""
    results = {name: [] for name in implementations}
    values = {}
    for _ in range(repeats):
        for name, function in implementations.items():
            start = time.perf_counter()
            value = function()
            seconds = time.perf_counter() - start
            if isinstance(value, Timed):
                value, seconds = value
            values[name] = value
            results[name].append(seconds)
    return {name: (min(t), statistics.median(t), values[name]) for name, t in results.items()}


def ceiling_leaky(function, current, steps, n, *threads):
    """The hand-written kernel `function` on the leaky workload; returns the spike count."""
    kernel = ceiling()
    v, count = np.zeros(n, np.float32), np.zeros(n, np.int64)
    getattr(kernel.lib, function)(steps, n, BETA, THRESHOLD, kernel.ffi.from_buffer("float[]", v),
                                  kernel.ffi.from_buffer("float[]", current),
                                  kernel.ffi.from_buffer("int64_t[]", count), *threads)
    return int(count.sum())


def numpy_leaky(current, steps, n):
    """The leaky workload in NumPy, one array operation per step; `current` is (N,) or (T, N)."""
    v, count = np.zeros(n, np.float32), np.zeros(n, np.int64)
    beta, threshold = np.float32(BETA), np.float32(THRESHOLD)
    for t in range(steps):
        reset = v > threshold
        v = beta * v + (current[t] if current.ndim == 2 else current) - reset * threshold
        count += v > threshold
    return int(count.sum())


def lifgen_workload(model, current, steps, n, **options):
    """lifgen on the uncoupled workload of `model` ("leaky" or "synaptic"); returns the spike count."""
    simulator = lifgen.compile(model, dtype="float32", **options)
    params = {"beta": BETA} if model == "leaky" else {"alpha": ALPHA, "beta": BETA}
    return lambda: int(simulator.run(steps, n, inputs={"I": current}, params=params, record=[],
                                     spikes="count").spike_count.sum())


def ceiling_workload(model, current, steps, n, threads=1):
    """The register-tiled ceiling of `model` on `threads` OpenMP threads; returns the spike count."""
    if model == "leaky":
        return lambda: ceiling_leaky("ceiling_register_tiled", current, steps, n, threads)
    kernel = ceiling()

    def run():
        syn, v = np.zeros(n, np.float32), np.zeros(n, np.float32)
        count = np.zeros(n, np.int64)
        pointer = kernel.ffi.from_buffer
        kernel.lib.ceiling_synaptic_tiled(steps, n, ALPHA, BETA, THRESHOLD, pointer("float[]", syn),
                                          pointer("float[]", v), pointer("float[]", current),
                                          pointer("int64_t[]", count), threads)
        return int(count.sum())
    return run


def workload_current(model, n):
    """The constant per-neuron input of the uncoupled workloads (seeded, the same every run)."""
    if model == "leaky":
        return np.random.default_rng(0).uniform(0.0, 0.1, n).astype(np.float32)
    return np.random.default_rng(2).uniform(0.0, 0.02, n).astype(np.float32)


def uncoupled(n, steps, threads_available):
    """V <- 0.95 V + I_n, spike if V > 1, subtract: lifgen, C ceiling, NumPy, snnTorch."""
    current = workload_current("leaky", n)
    runs = {"lifgen": lifgen_workload("leaky", current, steps, n),
            "lifgen (same-step reset)": lifgen_workload("leaky", current, steps, n,
                                                        reset_timing="same_step"),
            "C ceiling (register-tiled)": ceiling_workload("leaky", current, steps, n)}
    if threads_available > 1:
        runs["lifgen, 2 threads"] = lifgen_workload("leaky", current, steps, n, threads=2)
        runs["C ceiling, 2 threads"] = ceiling_workload("leaky", current, steps, n, threads=2)
    if n * steps <= 2e8:
        runs["NumPy"] = lambda: numpy_leaky(current, steps, n)
    snn = snntorch_leaky(current, steps)
    if snn:
        runs["snnTorch Leaky"] = snn
    return runs


def brian2_python():
    """The Python that has Brian2: $LIFGEN_BENCH_BRIAN2_PYTHON, else this one if it imports brian2."""
    candidate = os.environ.get("LIFGEN_BENCH_BRIAN2_PYTHON", sys.executable)
    probe = subprocess.run([candidate, "-c", "import brian2"], capture_output=True)
    return candidate if probe.returncode == 0 else None


class Timed(tuple):
    """A run's value with the seconds it measured itself (a process timing its own simulation)."""

    def __new__(cls, value, seconds):
        return super().__new__(cls, (value, seconds))


class Brian2Process:
    """One Brian2 target building a workload in its own process, then serving timed runs on
    request, so that its runs interleave with lifgen's (protocol in brian2_timing.py)."""

    def __init__(self, python, script, target, sizes):
        self.log = tempfile.TemporaryFile(mode="w+")
        self.process = subprocess.Popen([python, str(HERE / script), target, *map(str, sizes)],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=self.log, text=True, cwd=tempfile.gettempdir())
        self.build = json.loads(self._answer())["build"]

    def _answer(self):
        line = self.process.stdout.readline()
        if not line:
            self.log.seek(0)
            raise RuntimeError(self.log.read()[-2000:])
        return line

    def __call__(self):
        self.process.stdin.write("run\n")
        self.process.stdin.flush()
        report = json.loads(self._answer())
        return Timed(report["spikes"], report["seconds"])

    def close(self):
        self.process.stdin.close()
        self.process.wait()
        self.log.close()


def brian2_runs(script, sizes=(), label="same-step reset"):
    """Brian2 runtime (Cython) and cpp_standalone serving runs of one workload: {row name:
    process}, {target: build seconds}. Empty when no Python here has Brian2."""
    python = brian2_python()
    if python is None:
        return {}, {}
    runs, builds = {}, {}
    for target in ("cython", "cpp_standalone"):
        try:
            process = Brian2Process(python, script, target, sizes)
        except RuntimeError as error:
            print(f"Brian2 {target} failed:\n{error}", file=sys.stderr)
            continue
        runs[f"Brian2 {target} ({label})"] = process
        builds[f"Brian2 {target}"] = process.build
    return runs, builds


def snntorch_leaky(current, steps):
    try:
        import snntorch
        import torch
    except ImportError:
        return None
    if current.size * steps > 2e8:
        return None
    torch.set_num_threads(1)
    neuron = snntorch.Leaky(beta=BETA, threshold=THRESHOLD)
    x = torch.from_numpy(current)

    def run():
        mem, count = torch.zeros_like(x), torch.zeros_like(x)
        with torch.no_grad():
            for _ in range(steps):
                spk, mem = neuron(x, mem)
                count += spk
        return int(count.sum())
    return run


def streamed(n, steps):
    """The same update with I[t, n] streamed from memory: bound by DRAM bandwidth."""
    current = np.random.default_rng(1).uniform(0.0, 0.1, (steps, n)).astype(np.float32)
    return {"lifgen": lifgen_workload("leaky", current, steps, n),
            "C ceiling (branch-free, streamed)":
                lambda: ceiling_leaky("ceiling_streamed", current, steps, n),
            "NumPy": lambda: numpy_leaky(current, steps, n)}, current.nbytes


def synaptic(n, steps, threads_available):
    """A second model through the same generic path: snnTorch's Synaptic."""
    current = workload_current("synaptic", n)
    runs = {"lifgen": lifgen_workload("synaptic", current, steps, n),
            "C ceiling (register-tiled)": ceiling_workload("synaptic", current, steps, n)}
    if threads_available > 1:
        runs["lifgen, 2 threads"] = lifgen_workload("synaptic", current, steps, n, threads=2)
        runs["C ceiling, 2 threads"] = ceiling_workload("synaptic", current, steps, n, threads=2)
    return runs


def cuba_network():
    """The CUBA network of Brette et al. 2007 (4000 neurons, 1 s at dt = 0.1 ms), float64."""
    from lifgen.tools import brette2007

    simulator = lifgen.compile("lif_cuba", dt=0.1)
    synapses = brette2007.connections(brette2007.NETWORKS["cuba"], seed=1)

    def run():
        result = brette2007.run("cuba", seed=0, simulator=simulator, synapses=synapses)
        return int(result.spike_count.sum())

    return {"lifgen": run}


def adaptive(n, steps):
    """rkf45 (adaptive substeps inside each step) against rk4 on Hodgkin-Huxley neurons, float64:
    NEST's hh_psc_alpha at NEST's dt = 0.1 ms (tests/models), driven past threshold, at
    rkf45's default tolerances (1e-10) and at NEST's 1e-6; the library's hodgkin_huxley at its
    dt = 0.01 ms. Returns {workload: runs}."""
    models = {"hh_psc_alpha (NEST), dt = 0.1 ms": (HERE.parent / "tests" / "models" /
                                                   "hh_psc_alpha.toml", "I_e", 400.0),
              "hodgkin_huxley (library), dt = 0.01 ms": ("hodgkin_huxley", "I", 10.0)}
    workloads = {}
    for title, (model, current, scale) in models.items():
        drive = np.random.default_rng(4).uniform(0.5, 1.5, n) * scale
        runs = {}
        for label, options in (("rk4", {"method": "rk4"}),
                               ("rkf45 (rtol = atol = 1e-10)", {"method": "rkf45"}),
                               ("rkf45 (rtol = atol = 1e-6)", {"method": "rkf45", "rtol": 1e-6,
                                                                "atol": 1e-6})):
            simulator = lifgen.compile(model, **options)
            runs[label] = (lambda simulator=simulator, drive=drive, current=current: int(
                simulator.run(steps, n, inputs={current: drive}, record=[],
                              spikes="count").spike_count.sum()))
        workloads[title] = runs
    return workloads


def read_bandwidth():
    """Bytes per second read from DRAM by one core: a vectorized sum over 512 MiB (best of five)."""
    kernel = ceiling()
    array = np.ones(2**27, np.float32)
    pointer = kernel.ffi.from_buffer("float[]", array)
    best = timed(lambda: kernel.lib.ceiling_read(pointer, array.size), 5)[0]
    return array.nbytes / best


COMPILE_PROBE = """
import sys, time
import lifgen
start = time.perf_counter()
lifgen.compile(sys.argv[1], dtype="float32")
print(time.perf_counter() - start)
"""


def compile_latency(model, repeats):
    """Seconds to compile `model` in a new process: cold (empty cache) and warm (imports excluded)."""
    cold, warm = [], []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as cache:
            environment = dict(os.environ, LIFGEN_CACHE_DIR=cache)
            for bucket in (cold, warm):
                out = subprocess.run([sys.executable, "-c", COMPILE_PROBE, model], env=environment,
                                     capture_output=True, text=True, check=True)
                bucket.append(float(out.stdout.strip()))
    return (min(cold), statistics.median(cold)), (min(warm), statistics.median(warm))


def table(title, runs, work, repeats, reference, extra=""):
    """Rows of a markdown table for one workload, its implementations interleaved."""
    results = interleave(runs, repeats)
    for function in runs.values():
        if isinstance(function, Brian2Process):
            function.close()
    base = work / results[reference][0]
    lines = [f"\n**{title}**{extra}\n", "| implementation | best G neuron-steps/s | median | "
             "ratio to ceiling (best) | spikes |", "|---|---|---|---|---|"]
    counts = {r[2] for name, r in results.items() if "same-step" not in name}
    for name, (best, median, spikes) in results.items():
        lines.append(f"| {name} | {work / best / 1e9:.3f} | {work / median / 1e9:.3f} | "
                     f"{work / best / base:.2f} | {spikes} |")
    if len(counts) > 1:
        lines.append("\nBrian2 draws its own random connectivity and initial state, so its spike "
                     "count agrees only statistically." if any("own random" in name for name in results)
                     else "\nSpike counts differ: see the notes below.")
    lines += scaling(results)
    if any(name.startswith("Brian2") and "same-step" in name for name in results):
        lines.append("Brian2 resets in the same step as the threshold test; its spike count is "
                     "compared with lifgen's `reset_timing=\"same_step\"` row.")
    return lines, results


def scaling(results):
    """A line comparing two threads with one, for lifgen and for the ceiling, from the same run."""
    pairs = {"lifgen": ("lifgen", "lifgen, 2 threads"),
             "the C ceiling": (next((n for n in results if n.startswith("C ceiling (")), None),
                               "C ceiling, 2 threads")}
    parts = [f"{label} {results[one][0] / results[two][0]:.2f}x (median "
             f"{results[one][1] / results[two][1]:.2f}x)"
             for label, (one, two) in pairs.items() if one in results and two in results]
    return [f"Two threads against one, same run: {', '.join(parts)}."] if parts else []


def machine_line(cores):
    """The processor, core count, Python, NumPy and lifgen versions and the date, for a table."""
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                if line.startswith("model name")), platform.processor()) \
        if Path("/proc/cpuinfo").exists() else platform.processor()
    return (f"Machine: {cpu}, {cores} cores; {platform.python_implementation()} "
            f"{platform.python_version()}, numpy {np.__version__}, lifgen {lifgen.__version__}; "
            f"{time.strftime('%Y-%m-%d')}.")


def write_report(lines, out):
    """Print the table and write it to `out`."""
    text = "\n".join(lines) + "\n"
    print(text)
    Path(out).write_text(text)
    print(f"written to {out}")


def report_command(prog, description, out, report, argv=None):
    """A benchmark module's command line (--quick, --out): its report, with the machine line,
    printed and written to `out`."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--quick", action="store_true", help="shorter runs, fewer rounds")
    parser.add_argument("--out", default=str(out), help="where to write it")
    args = parser.parse_args(argv)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    write_report([machine_line(cores), *report(args.quick)], args.out)


def methods_rows(quick, repeats):
    """The cost of rkf45 against rk4 (one core, float64), as rows of tables."""
    n, steps = (1000, 1000) if quick else (10_000, 1000)
    lines = []
    for title, runs in adaptive(n, steps).items():
        rows, _ = table(f"Methods: {title}, N = {n:g}, T = {steps}, float64", runs, n * steps,
                        repeats, "rk4")
        lines += rows
    lines.append("The ratio column is to rk4 here: rkf45's cost follows the dynamics (several "
                 "substeps per step through a spike, one per step at rest). At dt = 0.1 ms rk4 "
                 "leaves most hh_psc_alpha neurons NaN (it warns): its row is the cost of a "
                 "failed run, and its spike count differs.")
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer repeats")
    parser.add_argument("--out", default=str(HERE / "results.md"), help="where to write the table")
    parser.add_argument("--methods", action="store_true", help="only the integration methods' "
                        "cost (rkf45 against rk4)")
    args = parser.parse_args(argv)
    repeats = 3 if args.quick else 5
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    lines = [machine_line(cores) + " float32, one core unless stated.", ""]
    lines += methods_rows(args.quick, repeats)
    if args.methods:
        write_report(lines, args.out)
        return
    sizes = (1_000, 100_000) if args.quick else (1_000, 100_000, 1_000_000)
    brian2_builds = {}
    for n in sizes:
        steps = max(1000, int(1e8 // n)) if not args.quick else max(1000, int(1e7 // n))
        runs = uncoupled(n, steps, cores)
        if n == 100_000:
            brian2, brian2_builds = brian2_runs("brian2_lif.py", (n, steps))
            runs.update(brian2)
        rows, _ = table(f"Uncoupled LIF, N = {n:g}, T = {steps}", runs, n * steps, repeats,
                        "C ceiling (register-tiled)")
        lines += rows
    n, steps = (100_000, 1000) if not args.quick else (100_000, 200)
    runs, nbytes = streamed(n, steps)
    bandwidth = read_bandwidth()
    bound = bandwidth / 4  # one float32 of input per neuron-step
    rows, results = table(f"Streamed input I[t, n], N = {n:g}, T = {steps}", runs, n * steps,
                          repeats, "C ceiling (branch-free, streamed)",
                          f" — DRAM read {bandwidth / 1e9:.1f} GB/s, so the bound is "
                          f"{bound / 1e9:.2f} G neuron-steps/s")
    lifgen_best = n * steps / results["lifgen"][0]
    rows.append(f"lifgen reaches {lifgen_best / bound:.2f} of the DRAM bound.")
    lines += rows
    n, steps = (100_000, 1000) if not args.quick else (10_000, 1000)
    rows, _ = table(f"Synaptic, N = {n:g}, T = {steps} (the same generic path)", synaptic(n, steps, cores),
                    n * steps, repeats, "C ceiling (register-tiled)")
    lines += rows
    brian2, _ = brian2_runs("brian2_cuba.py", label="its own random network")
    rows, results = table("CUBA network (Brette et al. 2007): 4000 neurons, p = 0.02, 1 s at "
                          "dt = 0.1 ms, float64", {**cuba_network(), **brian2}, 4000 * 10_000,
                          repeats, "lifgen")
    lines += rows
    lines += [f"One simulated second takes {results['lifgen'][0] * 1e3:.0f} ms in lifgen"
              + "".join(f", {seconds * 1e3:.0f} ms in {name}"
                        for name, (seconds, _, _) in results.items() if name in brian2)
              + " (best of runs)."]
    from benchmarks.plasticity import report as plasticity_report  # imports this module
    lines += plasticity_report(args.quick)
    from benchmarks.nir import report as nir_report  # imports this module
    lines += nir_report(args.quick)
    lines += ["\n**Compile latency** (new process, imports excluded; best and median)\n",
              "| model | cold, empty cache | warm |", "|---|---|---|"]
    for model in ("leaky", "lapicque"):
        (cold_best, cold_median), (warm_best, warm_median) = compile_latency(model, 3)
        lines.append(f"| {model} | {cold_best:.2f} s (median {cold_median:.2f}) | "
                     f"{warm_best * 1e3:.0f} ms (median {warm_median * 1e3:.0f}) |")
    for name, seconds in brian2_builds.items():
        lines.append(f"| {name} (code generation and build; its own cache may be warm) | "
                     f"{seconds:.1f} s | |")
    lines.append("\nBrian2 runs in its own process, interleaved with lifgen's runs; its times are "
                 "those it measures itself around the simulation. "
                 "Brian2 rows appear when Brian2 imports in this Python or in "
                 "$LIFGEN_BENCH_BRIAN2_PYTHON (Brian2 2.9 needs NumPy < 2.4: give it its own "
                 "environment); snnTorch rows when snnTorch is installed (`pip install "
                 "torch==2.13.0` then `pip install --no-deps snntorch==1.0.0`).")
    write_report(lines, args.out)


if __name__ == "__main__":
    main()
