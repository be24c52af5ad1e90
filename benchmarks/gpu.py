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
import platform
import sys
from pathlib import Path

import numpy as np

import lifgen
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
    Path(args.out).write_text("\n".join(rows) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
