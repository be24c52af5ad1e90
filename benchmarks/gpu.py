"""GPU benchmarks: lifgen's cuda target against hand-written CUDA kernels of the same updates,
PyTorch eager and snnTorch on the same GPU, and lifgen's C target on this machine's CPU.

Run by hand on a machine with an NVIDIA GPU: `python -m benchmarks.gpu [--quick] [--out FILE]`.
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

from .__main__ import ALPHA, BETA, THRESHOLD, interleave, workload_current

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


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gpu", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="N = 1e6 only, fewer repeats")
    parser.add_argument("--out", default=str(HERE / "gpu-results.md"), help="the table's file")
    args = parser.parse_args(argv)
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
    for n in (10**6,) if args.quick else (10**6, 10**7):
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
    Path(args.out).write_text("\n".join(rows) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
