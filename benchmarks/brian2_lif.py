"""The uncoupled LIF workload in Brian2, for `python -m benchmarks` (run in Brian2's environment).

Usage: python brian2_lif.py TARGET N STEPS REPEATS, with TARGET cython or cpp_standalone.
Prints one JSON line: seconds of each run (simulation only), build seconds, spike count.
Brian2's threshold and reset act in the same step as the update (lifgen's same_step timing).
Brian2 may need its own environment (it pins NumPy below 2.4); the benchmarks start this script
with $LIFGEN_BENCH_BRIAN2_PYTHON when that is set.
"""

import json
import shutil
import sys
import tempfile
import time

import numpy as np


def main(target, n, steps, repeats):
    import brian2 as b2

    directory = tempfile.mkdtemp()
    if target == "cpp_standalone":
        b2.set_device("cpp_standalone", directory=directory, build_on_run=False)
    else:
        b2.prefs.codegen.target = "cython"
    b2.prefs.core.default_float_dtype = np.float32
    b2.defaultclock.dt = 1 * b2.ms
    group = b2.NeuronGroup(n, "v : 1\nI : 1 (constant)\ncount : 1", threshold="v > 1",
                           reset="v -= 1\ncount += 1")
    group.run_regularly("v = 0.95*v + I", when="groups")
    group.I = np.random.default_rng(0).uniform(0.0, 0.1, n).astype(np.float32)
    network = b2.Network(group)
    timings = []
    start = time.perf_counter()
    if target == "cpp_standalone":
        network.run(steps * b2.ms)
        b2.device.build(directory=directory, compile=True, run=False)
        build = time.perf_counter() - start
        for _ in range(repeats):
            start = time.perf_counter()
            b2.device.run(directory=directory, with_output=False)
            timings.append(time.perf_counter() - start)
        spikes = int(np.sum(group.count[:]))
    else:
        network.store()
        network.run(1 * b2.ms)  # generates and compiles the Cython code
        build = time.perf_counter() - start
        for _ in range(repeats):
            network.restore()
            start = time.perf_counter()
            network.run(steps * b2.ms)
            timings.append(time.perf_counter() - start)
        spikes = int(np.sum(group.count[:]))
    shutil.rmtree(directory, ignore_errors=True)
    print(json.dumps({"seconds": timings, "build": build, "spikes": spikes}))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
