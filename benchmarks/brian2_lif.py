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

import numpy as np

from brian2_timing import setup, time_runs


def main(target, n, steps, repeats):
    import brian2 as b2

    directory = tempfile.mkdtemp()
    setup(b2, target, directory)
    b2.prefs.core.default_float_dtype = np.float32
    b2.defaultclock.dt = 1 * b2.ms
    group = b2.NeuronGroup(n, "v : 1\nI : 1 (constant)\ncount : 1", threshold="v > 1",
                           reset="v -= 1\ncount += 1")
    group.run_regularly("v = 0.95*v + I", when="groups")
    group.I = np.random.default_rng(0).uniform(0.0, 0.1, n).astype(np.float32)
    network = b2.Network(group)
    timings, build = time_runs(b2, network, target, directory, steps * b2.ms, 1 * b2.ms, repeats)
    spikes = int(np.sum(group.count[:]))
    shutil.rmtree(directory, ignore_errors=True)
    print(json.dumps({"seconds": timings, "build": build, "spikes": spikes}))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
