"""GPU benchmarks: lifgen's cuda target against hand-written CUDA kernels of the same updates,
PyTorch eager and snnTorch on the same GPU, and lifgen's C target on this machine's CPU.

Run by hand on a machine with an NVIDIA GPU: `python -m benchmarks.gpu [--quick] [--out FILE]`.
Without one, `python -m benchmarks.gpu --host-only` measures the host's own work per run on the
stand-in device with its launches skipped (a no-op GPU: every copy and allocation counted, the
host's time is the run's less the device's), and the CPU target's streamed row (W2).
Every workload runs its implementations interleaved, several times; the table gives the minimum
time as neuron-steps per second, the ratio to the hand-written kernel, and the spike counts,
which must agree. float32, the leaky workload of issue 4 (V <- 0.95 V + I_n - thr [V_prev > thr])
and snnTorch's Synaptic. Nothing here is a test; compare ratios measured in one run.
"""

import argparse
import datetime
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

import lifgen
from lifgen.tools import brette2007
from lifgen.targets.cuda import nvrtc

from .__main__ import (ALPHA, BETA, THRESHOLD, Timed, interleave, streamed, workload_current)

HERE = Path(__file__).resolve().parent
BLOCK = 256


class Ceiling:
    """The hand-written kernels of gpu_ceiling.cu, compiled by NVRTC with lifgen's options."""

    def __init__(self, cupy):
        properties = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)
        cubin, _, _ = nvrtc.compile_cubin((HERE / "gpu_ceiling.cu").read_text(),
                                          f"sm_{properties['major']}{properties['minor']}")
        self.cupy, self.module = cupy, cupy.cuda.function.Module()
        self.module.load(cubin)

    def run(self, name, n, *args):
        """Launch kernel `name` over n neurons and wait for it."""
        function = self.module.get_function(name)
        function((-(-n // BLOCK),), (BLOCK,), args)
        self.cupy.cuda.Device().synchronize()


def leaky_ceiling(ceiling, cupy, current, steps, n, kernel="leaky_held"):
    def run():
        v, count = cupy.zeros(n, np.float32), cupy.zeros(n, np.int64)
        ceiling.run(kernel, n, np.int64(steps), np.int64(n), np.float32(BETA),
                    np.float32(THRESHOLD), v, current, count)
        return int(count.sum())
    return run


def synaptic_ceiling(ceiling, cupy, current, steps, n):
    def run():
        syn, v = cupy.zeros(n, np.float32), cupy.zeros(n, np.float32)
        count = cupy.zeros(n, np.int64)
        ceiling.run("synaptic_held", n, np.int64(steps), np.int64(n), np.float32(ALPHA),
                    np.float32(BETA), np.float32(THRESHOLD), syn, v, current, count)
        return int(count.sum())
    return run


def lifgen_gpu(model, current, steps, n):
    """lifgen's cuda target, input and results on the GPU (output="device")."""
    simulator = lifgen.compile(model, dtype="float32", target="cuda")
    params = {"beta": BETA} if model == "leaky" else {"alpha": ALPHA, "beta": BETA}
    return lambda: int(simulator.run(steps, n, inputs={"I": current}, params=params, record=[],
                                     spikes="count", output="device").spike_count.sum())


def lifgen_cpu(model, current, steps, n, threads):
    simulator = lifgen.compile(model, dtype="float32", threads=threads)
    params = {"beta": BETA} if model == "leaky" else {"alpha": ALPHA, "beta": BETA}
    return lambda: int(simulator.run(steps, n, inputs={"I": current}, params=params, record=[],
                                     spikes="count").spike_count.sum())


def torch_runs(current, steps, streamed=False):
    """PyTorch eager (one op chain per step) and snnTorch's Leaky on the GPU, when installed."""
    try:
        import torch
    except ImportError:
        return {}
    x = torch.as_tensor(current, device="cuda")

    def eager():
        v = torch.zeros(x.shape[-1], device="cuda")
        count = torch.zeros_like(v)
        with torch.no_grad():
            for t in range(steps):
                reset = (v > THRESHOLD).float() * THRESHOLD
                v = BETA * v + (x[t] if streamed else x) - reset
                count += v > THRESHOLD
        return int(count.sum())
    runs = {"PyTorch eager": eager}
    try:
        import snntorch
    except ImportError:
        return runs
    neuron = snntorch.Leaky(beta=BETA, threshold=THRESHOLD).to("cuda")

    def snn():
        mem = torch.zeros(x.shape[-1], device="cuda")
        count = torch.zeros_like(mem)
        with torch.no_grad():
            for t in range(steps):
                spk, mem = neuron(x[t] if streamed else x, mem)
                count += spk
        return int(count.sum())
    runs["snnTorch Leaky"] = snn
    return runs


def scaled_cuba(n, seed=1):
    """CUBA at `n` neurons with the benchmark's weights and in-degree: each neuron gets the 64
    excitatory and 16 inhibitory inputs that p = 0.02 gives at 4000 neurons (a fixed p would
    grow the synapses as n squared: 2e10 at n = 1e6)."""
    network, rng = brette2007.NETWORKS["cuba"], np.random.default_rng(seed)
    n_exc = n * brette2007.N_EXC // brette2007.N
    k_exc = round(brette2007.P_CONNECT * brette2007.N_EXC)
    k_inh = round(brette2007.P_CONNECT * (brette2007.N - brette2007.N_EXC))
    post_exc, post_inh = np.repeat(np.arange(n), k_exc), np.repeat(np.arange(n), k_inh)
    return {"exc": lifgen.Sparse.from_arrays(rng.integers(0, n_exc, post_exc.size), post_exc,
                                             network.w_exc, n_pre=n, n_post=n),
            "inh": lifgen.Sparse.from_arrays(rng.integers(n_exc, n, post_inh.size), post_inh,
                                             network.w_inh, n_pre=n, n_post=n)}


def cuba_runs(n, steps, repeats):
    """Simulated seconds per wall second of scaled CUBA on the GPU and on this machine's CPU."""
    synapses = scaled_cuba(n)
    initial = {"V": -60.0 + 10.0 * np.random.default_rng(0).random(n)}
    rows = [f"\n### CUBA network scaled to N = {n:.0e} (in-degree 80), {steps} steps of "
            "0.1 ms, float64\n", "| implementation | min time | simulated s / wall s | "
            "spikes |", "|---|---|---|---|"]
    for name, options in (("lifgen cuda", {"target": "cuda"}),
                          ("lifgen C, 1 thread", {"threads": 1}),
                          (f"lifgen C, {os.cpu_count()} threads", {"threads": os.cpu_count()})):
        simulator = lifgen.compile("lif_cuba", dt=0.1, **options)
        times, spikes = [], 0
        for _ in range(repeats):
            start = time.perf_counter()
            result = simulator.run(steps, n, initial=initial, connections=synapses, record=[],
                                   spikes="count")
            times.append(time.perf_counter() - start)
            spikes = int(result.spike_count.sum())
        rows.append(f"| {name} | {min(times):.2f} s | {steps * 1e-4 / min(times):.3f} | "
                    f"{spikes:,} |")
        print(rows[-1], flush=True)
    return rows


def gaussian_cuba(n, seed=2):
    """Scaled CUBA with Gaussian weights (mean as Brette's, 30 % spread): sums of non-integer
    weights, whose order a reproducible delivery must fix."""
    synapses, rng = scaled_cuba(n, seed), np.random.default_rng(seed)
    return {y: lifgen.Sparse.from_arrays(s.pre, s.post, s.weight * rng.normal(1.0, 0.3, s.n_synapses),
                                         n_pre=n, n_post=n) for y, s in synapses.items()}


def same(a, b):
    """'identical', or how far apart two arrays are."""
    a, b = (np.asarray(x.get() if hasattr(x, "get") else x) for x in (a, b))
    if np.array_equal(a, b):
        return "identical"
    return f"differ: {int(np.sum(a != b))} of {a.size}, max |diff| {np.max(np.abs(a - b)):.3g}"


def checks(target, n=10**5, scale=0.1):
    """Rows comparing `target` with the C target: Brette CUBA (Gaussian weights) twice on the
    target and once on C, the microcircuit at `scale`, and STDP's learned weights."""
    rows = [f"\n### {target} against the C target\n", "| check | result |", "|---|---|"]
    synapses = gaussian_cuba(n)
    initial = {"V": -60.0 + 10.0 * np.random.default_rng(0).random(n)}
    runs = {name: lifgen.compile("lif_cuba", dt=0.1, target=name)
            for name in (target, "c")}
    results = {}
    for name, simulator in (("first", runs[target]), ("second", runs[target]), ("c", runs["c"])):
        start = time.perf_counter()
        results[name] = simulator.run(1000, n, initial=initial, connections=synapses, record=[],
                                      spikes="count")
        results[name, "time"] = time.perf_counter() - start
    rows += [f"| CUBA N = {n:.0e}, Gaussian weights, 1000 steps: {target} twice, V | "
             f"{same(results['first'].state['V'], results['second'].state['V'])} |",
             f"| the same, {target} against C: V | "
             f"{same(results['first'].state['V'], results['c'].state['V'])} |",
             f"| the same: spikes {target} / C, time {target} / C | "
             f"{int(results['first'].spike_count.sum()):,} / "
             f"{int(results['c'].spike_count.sum()):,}, {results['first', 'time']:.2f} s / "
             f"{results['c', 'time']:.2f} s |"]
    print("\n".join(rows), flush=True)
    sys.path.insert(0, str(HERE.parent / "examples"))
    import microcircuit as example

    counts, seconds = {}, {}
    ways = ((target, "incoming"), (target, "spikes"), ("c", "incoming"))  # sparse_gather
    for way in ways:
        program = example.network(scale, seed=1, dtype=np.float32).compile(
            target=way[0], dtype="float32", sparse_gather=way[1])
        start = time.perf_counter()
        result = program.run("1100 ms")
        seconds[way] = time.perf_counter() - start
        counts[way] = [int(np.asarray(result[p].spike_count).sum())
                       for p in example.params.POPULATIONS]
    rows.append(f"| microcircuit scale {scale:g}, 1.1 s, float32: spikes per population "
                f"{target} / {target} with sparse_gather='spikes' / C, time | "
                f"{' / '.join(str(counts[way]) for way in ways)}, "
                f"{' / '.join(f'{seconds[way]:.2f} s' for way in ways)} |")
    plastic = lifgen.Synapses(lifgen.Sparse.random(2000, 2000, 0.02, 2.0, seed=1), "stdp",
                              params={"w_max": 3.0})
    start = {"V": np.random.default_rng(5).uniform(-70, -50, 2000)}
    learned = {name: lifgen.compile("lif_cuba", dt=0.1, target=name).run(
        2000, 2000, connections={"exc": plastic}, inputs={"I": 30.0}, record=[],
        initial=start).synapses["exc"]["w"] for name in ("c", target)}
    rows.append(f"| STDP, 2000 neurons, 80,000 synapses, 200 ms: learned w, {target} against C "
                f"| {same(learned[target], learned['c'])} |")
    print("\n".join(rows[-2:]), flush=True)
    return rows


def table(title, results, work, reference, read_bytes=0):
    """Markdown rows: time, G neuron-steps/s, ratio to `reference`, (bandwidth), spikes."""
    base = results[reference][0]
    rows = [f"\n### {title}\n", "| implementation | min time | G neuron-steps/s | vs hand-written "
            f"|{' read TB/s |' if read_bytes else ''} spikes |",
            f"|---|---|---|---|{'---|' if read_bytes else ''}---|"]
    for name, (best, _, spikes) in results.items():
        bandwidth = f" {read_bytes / best / 1e12:.2f} |" if read_bytes else ""
        rows.append(f"| {name} | {best * 1e3:.2f} ms | {work / best / 1e9:,.0f} | "
                    f"{base / best:.2f}x |{bandwidth} {spikes:,} |")
    print("\n".join(rows), flush=True)
    return rows


def no_op_device():
    """The cuda target on the stand-in device with launches skipped, registered as
    "cuda-noop": what remains of a run's time is the host's and the copies'."""
    import types

    from lifgen import targets
    from lifgen.targets.cuda.host import Host
    from lifgen.targets.cuda.target import CudaTarget

    module = types.ModuleType("benchmarks_noop_target")
    module.TARGET = CudaTarget(Host(launches=False), name="cuda-noop")
    sys.modules[module.__name__] = module
    targets.TARGETS["cuda-noop"] = module.__name__
    return module.TARGET.device


def host_work(device, run):
    """A run on the no-op device as Timed(bytes copied each way, the host's seconds)."""
    traffic = device.traffic
    traffic.reset()
    start = time.perf_counter()
    result = run()
    seconds = time.perf_counter() - start - traffic.seconds
    del result
    return Timed((traffic.uploaded, traffic.downloaded), seconds)


def host_only(repeats, out):
    """The host's work per run of the GPU workloads, and the CPU target's W2 row."""
    device = no_op_device()
    simulator = lifgen.compile("leaky", dtype="float32", target="cuda-noop")
    rows = [f"# lifgen's host work around the GPU ({datetime.date.today()}), no GPU\n",
            f"Host {platform.processor() or platform.machine()}; lifgen {lifgen.__version__}; "
            "the stand-in device (cuda-host) with launches skipped: host time = the run's time "
            "less the device's copies, fills and checks; min of "
            f"{repeats} runs in a row.\n",
            "| workload | host time per run | bytes up / down per run |", "|---|---|---|"]
    runs = {}
    for n in (10**6, 10**7):
        current = device.upload(workload_current("leaky", n))  # on the device, as on a GPU

        def w1(n=n, current=current):
            return simulator.run(1000, n, inputs={"I": current}, params={"beta": BETA},
                                 record=[], spikes="count", output="device")
        runs[f"W1, N = {n:.0e}, output='device'"] = lambda w1=w1: host_work(device, w1)
    current = device.upload(workload_current("leaky", 10**6))
    for spikes in ("count", "events"):
        def spiking(spikes=spikes):
            return simulator.run(1000, 10**6, inputs={"I": current}, params={"beta": BETA},
                                 record=[], spikes=spikes)
        runs[f"N = 1e6 x 1000 steps, spikes='{spikes}'"] = \
            lambda spiking=spiking: host_work(device, spiking)
    # each workload's runs one after another: a run reuses the last one's arrays of its shapes
    for name, (best, _, (up, down)) in ((name, interleave({name: run}, repeats)[name])
                                        for name, run in runs.items()):
        rows.append(f"| {name} | {best * 1e3:.2f} ms | {up:,} / {down:,} |")
        print(rows[-1], flush=True)
    n, steps = 100_000, 1000
    cpu, _ = streamed(n, steps)
    pair = {name: cpu[name] for name in ("lifgen", "C ceiling (branch-free, streamed)")}
    times = interleave(pair, repeats)
    ratio = times["C ceiling (branch-free, streamed)"][0] / times["lifgen"][0]
    rows.append(f"\nW2 on the CPU target (leaky, N = 1e5, T = 1000, float32, I[t, n] streamed): "
                f"lifgen {times['lifgen'][0] * 1e3:.1f} ms, the hand-written streamed loop "
                f"{times['C ceiling (branch-free, streamed)'][0] * 1e3:.1f} ms: {ratio:.2f}x")
    print(rows[-1], flush=True)
    if out:
        Path(out).write_text("\n".join(rows) + "\n")
        print(f"wrote {out}")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gpu", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repeats, CUBA at 1e5 only")
    parser.add_argument("--host-only", action="store_true",
                        help="no GPU: the host's work per run on a no-op stand-in device")
    parser.add_argument("--out", default=None, help="the table's file (default: "
                        "gpu-results.md beside this script; none with --host-only)")
    parser.add_argument("--checks", metavar="TARGET", default=None,
                        help="only the comparisons with the C target, on TARGET (cuda-host "
                        "tries them without a GPU, small)")
    args = parser.parse_args(argv)
    if args.host_only:
        return host_only(3 if args.quick else 7, args.out)
    if args.checks:
        if args.checks == "cuda-host":
            sys.path.insert(0, str(HERE.parent / "tests"))
            from lifgen import targets
            targets.TARGETS["cuda-host"] = "cuda_host_target"
        small = args.checks == "cuda-host"
        return checks(args.checks, n=2000 if small else 10**5, scale=0.02 if small else 0.1)
    args.out = args.out or str(HERE / "gpu-results.md")
    try:
        import cupy
        available = cupy.cuda.is_available()
    except ImportError:
        available = False
    if not available:
        sys.exit("benchmarks.gpu needs an NVIDIA GPU and CuPy: pip install 'lifgen[cuda]'")
    repeats, steps = (3, 1000) if args.quick else (7, 1000)
    ceiling = Ceiling(cupy)
    name = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)["name"].decode()
    rows = [f"# lifgen on the GPU ({datetime.date.today()})\n",
            f"{name}; host {platform.processor() or platform.machine()}; lifgen "
            f"{lifgen.__version__}; NVRTC {'.'.join(map(str, nvrtc.version()))}; "
            f"float32, T = {steps}; minimum of {repeats} interleaved runs."]
    for n in (10**6, 10**7):
        current = workload_current("leaky", n)
        on_gpu = cupy.asarray(current)
        runs = {"hand-written CUDA": leaky_ceiling(ceiling, cupy, on_gpu, steps, n),
                "lifgen cuda": lifgen_gpu("leaky", on_gpu, steps, n)}
        if n <= 10**6:
            runs.update(torch_runs(current, steps))
            runs["lifgen C, 1 CPU thread"] = lifgen_cpu("leaky", current, steps, n, 1)
        rows += table(f"W1: leaky, constant input per neuron, N = {n:.0e}",
                      interleave(runs, repeats), n * steps, "hand-written CUDA")
    n = 10**6
    streamed = cupy.asarray(np.random.default_rng(1).uniform(0.0, 0.1, (steps, n))
                            .astype(np.float32))
    runs = {"hand-written CUDA": leaky_ceiling(ceiling, cupy, streamed, steps, n,
                                               "leaky_streamed"),
            "lifgen cuda": lifgen_gpu("leaky", streamed, steps, n)}
    runs.update(torch_runs(streamed, steps, streamed=True))
    rows += table(f"W2: leaky, streamed input I[t, n], N = {n:.0e}", interleave(runs, repeats),
                  n * steps, "hand-written CUDA", read_bytes=streamed.nbytes)
    current = workload_current("synaptic", n)
    on_gpu = cupy.asarray(current)
    runs = {"hand-written CUDA": synaptic_ceiling(ceiling, cupy, on_gpu, steps, n),
            "lifgen cuda": lifgen_gpu("synaptic", on_gpu, steps, n)}
    rows += table(f"Synaptic (snnTorch), constant input per neuron, N = {n:.0e}",
                  interleave(runs, repeats), n * steps, "hand-written CUDA")
    for n in (10**5,) if args.quick else (10**5, 10**6):
        rows += cuba_runs(n, 1000, 2 if args.quick else 3)
    rows += checks("cuda")
    Path(args.out).write_text("\n".join(rows) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
