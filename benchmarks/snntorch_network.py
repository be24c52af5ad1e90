"""snnTorch's forward pass of the three-layer feed-forward network of lifgen issue 20, timed.

The network is the one in tests/reference/make_snntorch_network_refs.py (imported from there:
Linear(12,16) -> Leaky(0.9) -> Linear(16,10) -> Leaky(0.8) -> Linear(10,4) -> Leaky(0.95),
threshold 1, the same seeded weights), stepped the same way, with explicit membranes:

    for t in range(T):
        spk1, mem1 = lif1(fc1(x[t]), mem1)
        spk2, mem2 = lif2(fc2(spk1), mem2)
        spk3, mem3 = lif3(fc3(spk2), mem3)

Inputs are Bernoulli(0.3) spikes of shape (T, batch, 12), made before timing. The timed region
is the T-step loop under torch.no_grad() (membranes re-initialised each pass), one thread
(torch.set_num_threads(1)), float32 unless --dtype float64. Each measurement repeats the T-step
pass as often as needed to take at least --min-seconds; the best of --repeat measurements is
reported. lifgen's side of the comparison is to be added later.

Run it in the throwaway snnTorch environment (see make_snntorch_network_refs.py), from the
repository root; it is not part of `python -m benchmarks`, whose environment has no torch:

    /tmp/torchenv/bin/python benchmarks/snntorch_network.py                 # batches 1 and 128
    /tmp/torchenv/bin/python benchmarks/snntorch_network.py --batch 128 --steps 1000 --repeat 5

stdout: one JSON object {batch: seconds per step} (keys are strings, as JSON requires); the
versions, spike counts and pass counts go to stderr. Timings on a shared machine are noisy.
"""

import argparse
import json
import math
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "reference"))
import make_snntorch_network_refs as refs  # noqa: E402  (the network and the versions)

import snntorch as snn  # noqa: E402


def network(dtype):
    fcs = [fc.to(dtype) for fc in refs.linears()]
    lifs = [snn.Leaky(beta=torch.tensor(beta, dtype=dtype), threshold=refs.THRESHOLD,
                      reset_mechanism="subtract").to(dtype) for beta in refs.BETAS]
    return fcs, lifs


def one_pass(fcs, lifs, x, count=False):
    """The T-step forward pass; with count, returns the output layer's spike count (untimed)."""
    (fc1, fc2, fc3), (lif1, lif2, lif3) = fcs, lifs
    mem1, mem2, mem3 = lif1.init_leaky(), lif2.init_leaky(), lif3.init_leaky()
    total = 0
    dtype = x.dtype
    for t in range(x.shape[0]):
        spk1, mem1 = lif1(fc1(x[t]), mem1)
        spk2, mem2 = lif2(fc2(spk1.to(dtype)), mem2)
        spk3, mem3 = lif3(fc3(spk2.to(dtype)), mem3)
        if count:
            total += int(spk3.sum())
    return total


def measure(batch, steps, repeat, min_seconds, dtype):
    fcs, lifs = network(dtype)
    generator = torch.Generator().manual_seed(batch)
    x = torch.bernoulli(torch.full((steps, batch, refs.SIZES[0]), refs.P_INPUT),
                        generator=generator).to(dtype)
    with torch.no_grad():
        spikes = one_pass(fcs, lifs, x, count=True)  # warm-up
        start = time.perf_counter()
        one_pass(fcs, lifs, x)  # calibration
        passes = max(1, math.ceil(min_seconds / (time.perf_counter() - start)))
        best = math.inf
        for _ in range(repeat):
            start = time.perf_counter()
            for _ in range(passes):
                one_pass(fcs, lifs, x)
            best = min(best, (time.perf_counter() - start) / (passes * steps))
    print(f"batch {batch}: {steps} steps x {passes} passes per measurement, best of {repeat}: "
          f"{best * 1e6:.2f} us per step; output spikes per pass {spikes}", file=sys.stderr)
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 128])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--min-seconds", type=float, default=1.0)
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(json.dumps({**refs.VERSIONS, "threads": torch.get_num_threads(), "dtype": args.dtype,
                      "cpu_capability": torch.backends.cpu.get_cpu_capability()}),
          file=sys.stderr)
    dtype = getattr(torch, args.dtype)
    result = {str(b): measure(b, args.steps, args.repeat, args.min_seconds, dtype)
              for b in args.batch}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
