"""Per-call cost of a kernel (issue 34, ABI-mode build): a tiny run (lapicque, N=1, T=1) and
run_nir at batch 1 (the N-MNIST CNN, 10 steps), timed in this process after a warm-up.

    python -m benchmarks.call_cost [ROUNDS]

Prints one JSON line: the median and best microseconds per call of each. To compare two
builds of lifgen (cffi API-mode modules against ABI-mode libraries), run it from each tree in
turn, alternating, on the same machine, and compare the ratios of one run's rounds.
"""

import json
import statistics
import sys
import time

import lifgen
from benchmarks.nir import GRAPHS, NIR_DIR, events


def per_call(function, calls):
    """Microseconds per call of `function` over `calls` calls."""
    start = time.perf_counter()
    for _ in range(calls):
        function()
    return (time.perf_counter() - start) / calls * 1e6


def main(rounds=5):
    sim = lifgen.compile("lapicque")
    tiny = lambda: sim.run(1, 1)  # noqa: E731
    path, convention, shape, _, p = GRAPHS["cnn"]
    net = lifgen.from_nir(NIR_DIR / path, convention=convention)
    x = events(10, 1, shape, p).astype("uint8")
    nir = lambda: lifgen.run_nir(net, {"input": x}, dtype="float32", spikes="count")  # noqa: E731
    tiny(), nir()  # compiled, untimed
    times = {"run_1x1_us": [], "run_nir_b1_t10_us": []}
    for _ in range(rounds):
        times["run_1x1_us"].append(per_call(tiny, 300))
        times["run_nir_b1_t10_us"].append(per_call(nir, 5))
    print(json.dumps({name: {"median": round(statistics.median(v), 1), "best": round(min(v), 1)}
                      for name, v in times.items()}))


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]))
