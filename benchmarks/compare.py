"""Old code against new code, alternating in one run: `python -m benchmarks.compare OLD NEW`.

OLD and NEW are source trees of lifgen (for example a `git worktree` of the commit before a
restructuring, and this checkout). Each serves the benchmark workloads from its own process and
cache, built once; the timed runs then alternate between them round after round, so that a
noisy moment hits both alike. Prints a Markdown table of best and median times and spike counts.
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile

WORKLOADS = {  # name -> (work in neuron-steps, description)
    "uncoupled": (100_000 * 1000, "leaky, N = 1e5, T = 1000, float32, held input"),
    "streamed": (100_000 * 1000, "leaky, N = 1e5, T = 1000, float32, I[t, n] streamed"),
    "synaptic": (100_000 * 1000, "Synaptic, N = 1e5, T = 1000, float32"),
    "cuba": (4000 * 10_000, "CUBA network, 4000 neurons, 1 s, float64"),
    "streamed_hand_c": (100_000 * 1000, "hand-written C, the streamed loop (the ceiling)"),
}

SERVER = r"""
import json, sys
import numpy as np
sys.path.insert(0, sys.argv[1])
from benchmarks.__main__ import cuba_network, lifgen_workload, streamed, workload_current
import time
n, steps = 100_000, 1000
runs = {"uncoupled": lifgen_workload("leaky", workload_current("leaky", n), steps, n),
        "streamed": streamed(n, steps)[0]["lifgen"],
        "synaptic": lifgen_workload("synaptic", workload_current("synaptic", n), steps, n),
        "cuba": cuba_network()["lifgen"],
        "streamed_hand_c": streamed(n, steps)[0]["C ceiling (branch-free, streamed)"]}
for run in runs.values():
    run()
print("ready", flush=True)
for line in sys.stdin:
    name = line.strip()
    start = time.perf_counter()
    spikes = runs[name]()
    print(json.dumps([time.perf_counter() - start, spikes]), flush=True)
"""


def serve(tree):
    environment = dict(os.environ, PYTHONPATH=tree,
                       LIFGEN_CACHE_DIR=tempfile.mkdtemp(prefix="lifgen-compare-"))
    process = subprocess.Popen([sys.executable, "-c", SERVER, tree], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True, env=environment)
    assert process.stdout.readline().strip() == "ready"
    return process


def ask(process, name):
    process.stdin.write(name + "\n")
    process.stdin.flush()
    return json.loads(process.stdout.readline())


def main(old, new, rounds=9):
    servers = {"old": serve(old), "new": serve(new)}
    times = {(w, k): [] for w in WORKLOADS for k in servers}
    spikes = {}
    for _ in range(rounds):
        for workload in WORKLOADS:
            for kind, process in servers.items():
                seconds, count = ask(process, workload)
                times[workload, kind].append(seconds)
                spikes[workload, kind] = count
    for process in servers.values():
        process.stdin.close()
        process.wait()
    print("| workload | old best / median (ms) | new best / median (ms) | new/old best | "
          "spikes old = new |")
    print("|---|---|---|---|---|")
    for workload, (_, description) in WORKLOADS.items():
        old_t, new_t = times[workload, "old"], times[workload, "new"]
        same = spikes[workload, "old"] == spikes[workload, "new"]
        print(f"| {description} | {1e3 * min(old_t):.1f} / {1e3 * statistics.median(old_t):.1f} "
              f"| {1e3 * min(new_t):.1f} / {1e3 * statistics.median(new_t):.1f} | "
              f"{min(new_t) / min(old_t):.3f} | {spikes[workload, 'new']} "
              f"{'yes' if same else 'NO: ' + str(spikes[workload, 'old'])} |")

    for kind in servers:  # lifgen's streamed run over the hand-written loop of the same tree
        ratio = min(times["streamed_hand_c", kind]) / min(times["streamed", kind])
        print(f"\n{kind}: lifgen streamed runs at {ratio:.2f}x the hand-written streamed C")


if __name__ == "__main__":
    main(*sys.argv[1:3], *(int(a) for a in sys.argv[3:4]))
