"""Thread scaling: lifgen's OpenMP kernels against the OpenMP ceiling, 1, 2, 4, ... threads.

Run by hand from the repository root: `python -m benchmarks.threads [--threads 1,2,4] [--out F]`.
Both implementations run interleaved in one process, so the speed-ups compare like with like;
on a machine whose cores are shared with other work (a small cloud VM), the ceiling's own
speed-up shows how much of the ideal the hardware gives at that moment.
"""

import argparse
import os

from benchmarks.__main__ import (HERE, ceiling_workload, interleave, lifgen_workload,
                                 machine_line, workload_current, write_report)

MODELS = ("leaky", "synaptic")


def scaling_table(model, n, steps, threads, repeats):
    """Markdown rows: rate and speed-up over one thread, lifgen and ceiling, per thread count."""
    current = workload_current(model, n)
    runs = {}
    for k in threads:
        runs[("lifgen", k)] = lifgen_workload(model, current, steps, n, threads=k)
        runs[("ceiling", k)] = ceiling_workload(model, current, steps, n, threads=k)
    results = interleave(runs, repeats)
    work = n * steps / 1e9
    lines = [f"\n**{model}, N = {n:g}, T = {steps}, float32** (best of {repeats}, median in "
             "brackets)\n",
             "| threads | lifgen G neuron-steps/s | speed-up | C ceiling G neuron-steps/s | "
             "speed-up | spike counts agree |", "|---|---|---|---|---|---|"]
    counts = {value for _, _, value in results.values()}
    for k in threads:
        cells = []
        for name in ("lifgen", "ceiling"):
            best, median, _ = results[(name, k)]
            one_best, one_median, _ = results[(name, threads[0])]
            cells += [f"{work / best:.2f} ({work / median:.2f})",
                      f"{one_best / best:.2f}x ({one_median / median:.2f}x)"]
        agree = results[("lifgen", k)][2] == results[("ceiling", k)][2] and len(counts) == 1
        lines.append(f"| {k} | {' | '.join(cells)} | {'yes' if agree else 'NO'} |")
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.threads", description=__doc__)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    default = [k for k in (1, 2, 4, 8, 16, 32) if k <= cores]
    parser.add_argument("--threads", default=",".join(map(str, default)),
                        help="thread counts, the first being the baseline (default: powers of "
                             "two up to the cores)")
    parser.add_argument("--neurons", type=int, default=1_000_000)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--out", default=str(HERE / "threads.md"), help="where to write the table")
    args = parser.parse_args(argv)
    threads = [int(k) for k in args.threads.split(",")]
    lines = [machine_line(cores), ""]
    for model in MODELS:
        lines += scaling_table(model, args.neurons, args.steps, threads, args.repeats)
    write_report(lines, args.out)


if __name__ == "__main__":
    main()
