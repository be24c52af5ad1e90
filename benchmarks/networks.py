"""Network benchmarks (issue 20): lifgen.Network programs against the one-population kernel,
Brian2 cpp_standalone and snnTorch, each timed in the same run, alternating.

    python -m benchmarks.networks [--quick] [--out FILE]

Brian2 rows need $LIFGEN_BENCH_BRIAN2_PYTHON (a Python with Brian2 2.9); snnTorch rows need
$LIFGEN_BENCH_SNNTORCH_PYTHON (a Python with torch and snnTorch 1.0, see
tests/reference/make_snntorch_network_refs.py). Nothing here is a test: compare ratios.
"""

import json
import os
import subprocess
from pathlib import Path

import numpy as np

import lifgen
from benchmarks.__main__ import Timed, brian2_runs, report_command, table
from lifgen.tools import brette2007

HERE = Path(__file__).resolve().parent
SNNTORCH = HERE.parent / "tests" / "reference" / "snntorch"


def cuba_populations():
    """Brette's CUBA (4000 neurons, 1 s at 0.1 ms, float64) as two populations and four
    projections, and as one population with two synapse types: the same synapses and spikes."""
    spec = brette2007.NETWORKS["cuba"]
    single = lifgen.compile("lif_cuba", dt=0.1)
    synapses = brette2007.connections(spec, seed=1)
    rng = np.random.default_rng(0)
    V0 = -60.0 + rng.random(brette2007.N) * 10.0
    net = brette2007.network("cuba", 1)
    net.populations["E"].initial = {"V": V0[:brette2007.N_EXC]}
    net.populations["I"].initial = {"V": V0[brette2007.N_EXC:]}
    program = net.compile()
    inputs = {"E": {"I": spec.drive}, "I": {"I": spec.drive}}

    def two():
        result = program.run(10_000, inputs=inputs, spikes="events")
        return int(result["E"].spike_count.sum() + result["I"].spike_count.sum())

    def one():
        return int(single.run(10_000, brette2007.N, inputs={"I": spec.drive},
                              initial={"V": V0}, connections=synapses, record=[],
                              spikes="events").spike_count.sum())
    return {"lifgen Network (E and I populations)": two, "lifgen one population": one}


def snntorch_network(batch, steps):
    """snnTorch's three-layer network (the test's weights) as a lifgen program, float32."""
    data = np.load(SNNTORCH / "network_subtract_float32.npz")
    spikes = (np.random.default_rng(0).random((steps, batch, 12)) < 0.3).astype(np.uint8)
    net = lifgen.Network()
    net.add_source("x", spikes)
    previous = "x"
    for layer in (1, 2, 3):
        weight = data[f"fc{layer}_weight"].astype(np.float64)
        net.add(f"lif{layer}", HERE.parent / "tests" / "models" / "leaky_layer.toml",
                weight.shape[0], params={"beta": float(data[f"lif{layer}_beta"]),
                                         "b": data[f"fc{layer}_bias"].astype(np.float64)})
        net.connect(previous, f"lif{layer}", "fc", weight, delay=0)
        previous = f"lif{layer}"
    program = net.compile(dtype="float32")

    def run():
        result = program.run(steps)
        return int(result["lif3"].spike_count.sum())
    return run


def snntorch_process(batch, steps):
    """snnTorch's own timing of the same network (seconds per step), or None without it."""
    python = os.environ.get("LIFGEN_BENCH_SNNTORCH_PYTHON")
    if not python:
        return None

    def run():
        out = subprocess.run([python, str(HERE / "snntorch_network.py"), "--batch", str(batch),
                              "--steps", str(steps), "--repeat", "1"],
                             capture_output=True, text=True, check=True, cwd=HERE.parent)
        seconds = json.loads(out.stdout)[str(batch)] * steps
        return Timed(None, seconds)
    return run


def microcircuit(scale, dtype):
    """The Potjans-Diesmann microcircuit (examples/microcircuit.py) at `scale`, 1.1 s; returns
    the run and the bytes its static synapses take per synapse, as the program stores them."""
    import sys

    sys.path.insert(0, str(HERE.parent / "examples"))
    import microcircuit as example

    program = example.network(scale, seed=1, dtype=np.dtype(dtype).type).compile(dtype=dtype)
    program.run(10)  # builds the program and lays out the synapses

    def run():
        result = program.run("1100 ms")
        return int(sum(result[name].spike_count.sum() for name in example.params.POPULATIONS))
    stored = sum(array.nbytes for arrays in program._weights.values() for array in arrays.values()
                 if arrays.get("post") is not None)
    count = sum(p.n_synapses for p in program.network.projections if p.kind == "sparse")
    return run, stored / count, count


def peak_memory(scale, dtype):
    """The peak resident memory (bytes) of examples/microcircuit.py at `scale`, in a process of
    its own: drawing the synapses, building the network and simulating 1.1 s."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    out = subprocess.run([os.sys.executable, str(HERE.parent / "examples" / "microcircuit.py"),
                          "--scale", str(scale), "--dtype", dtype, "--json"],
                         capture_output=True, text=True, check=True)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(peak, before) * 1024, json.loads(out.stdout)


def bytes_per_synapse(dtype="float32"):
    """Memory of a static sparse projection per synapse, as the program stores it: a 32-bit
    target and a weight per synapse, and (delay, first synapse) per run of equal delays."""
    from lifgen.runtime.network_run import _projection_arrays
    from lifgen.runtime.populations import projection, Population

    rng = np.random.default_rng(0)
    n = 2000
    pre = np.repeat(np.arange(n), 400)
    sparse = lifgen.Sparse.from_arrays(pre, rng.integers(0, n, pre.size), 1.0,
                                       rng.integers(1, 16, pre.size), n_pre=n, n_post=n)
    model = lifgen.load_model("lif_cuba")
    a, b = Population("a", model, n), Population("b", model, n)
    laid = _projection_arrays(projection(a, b, "exc", sparse, 1, 0.1), np.dtype(dtype))
    total = sum(array.nbytes for array in laid.values())
    return total / sparse.n_synapses, {k: v.nbytes / sparse.n_synapses for k, v in laid.items()}


def report(quick=False):
    repeats = 3 if quick else 9
    lines = ["", "## Networks (lifgen.Network, one program per network)", ""]
    brian2, _ = brian2_runs("brian2_cuba.py", label="its own random network")
    for name in [name for name in brian2 if "standalone" not in name]:
        brian2.pop(name).close()  # the Cython runtime is not the comparison asked for
    runs = {**cuba_populations(), **brian2}
    rows, results = table("CUBA (Brette et al. 2007) as a network: 4000 neurons, p = 0.02, 1 s at "
                          "dt = 0.1 ms, float64, one thread", runs, 4000 * 10_000, repeats,
                          "lifgen Network (E and I populations)")
    lines += rows
    for batch in (1, 128):
        steps = 2000 if batch == 1 else 1000
        if quick:
            steps //= 4
        runs = {"lifgen Network": snntorch_network(batch, steps)}
        torch = snntorch_process(batch, steps)
        if torch is not None:
            runs["snnTorch 1.0 (its own timing, 1 thread)"] = torch
        rows, results = table(f"snnTorch's three-layer network (12-16-10-4, zero delays), batch "
                              f"{batch}, T = {steps}, float32", runs, batch * 30 * steps,
                              repeats, "lifgen Network")
        lines += rows
        if len(results) == 2:
            (best, median, _), (torch_best, torch_median, _) = results.values()
            lines.append(f"lifgen takes {best / steps * 1e6:.2f} µs per step, snnTorch "
                         f"{torch_best / steps * 1e6:.1f} µs: lifgen is {torch_best / best:.0f}x "
                         f"faster (best), {torch_median / median:.0f}x (median).")
    for scale in (0.1,):
        brian2, _ = brian2_runs("brian2_microcircuit.py", (scale,), label="its own realisation")
        for name in [name for name in brian2 if "standalone" not in name]:
            brian2.pop(name).close()
        runs = {}
        for dtype in ("float64", "float32"):
            runs[f"lifgen Network, {dtype}"], stored, count = microcircuit(scale, dtype)
            lines.append(f"\nMicrocircuit at scale {scale:g}, {dtype}: {count} synapses, "
                         f"{stored:.2f} bytes per synapse stored.")
        runs.update(brian2)
        neurons = int(round(77169 * scale))
        rows, results = table(f"Potjans-Diesmann microcircuit, scale {scale:g} ({neurons} "
                              "neurons), 1.1 s at dt = 0.1 ms, one thread", runs,
                              neurons * 11_000, repeats, "lifgen Network, float64")
        lines += rows
        lines += ["Seconds per simulated second (best): " + ", ".join(
            f"{name} {best / 1.1:.2f} s" for name, (best, _, _) in results.items()) + "."]
        peak, stats = peak_memory(scale, "float32")
        lines.append(f"Peak memory of examples/microcircuit.py --scale {scale:g} (float32, one "
                     f"process: drawing, building, simulating): {peak / 2**20:.0f} MiB.")
    per_synapse, parts = bytes_per_synapse()
    lines += ["", f"A static sparse synapse takes {per_synapse:.2f} bytes at float32 ("
              + ", ".join(f"{k} {v:.2f}" for k, v in parts.items())
              + "; 400 synapses per neuron, delays 1-15 steps)."]
    return lines


def main(argv=None):
    report_command("python -m benchmarks.networks", __doc__, HERE / "networks.md", report, argv)


if __name__ == "__main__":
    main()
