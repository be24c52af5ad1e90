"""The uncoupled LIF workload in Brian2, for `python -m benchmarks` (run in Brian2's environment).

Usage: python brian2_lif.py TARGET N STEPS, with TARGET cython or cpp_standalone; it then serves
runs on request (brian2_timing.py), reporting the seconds of each (simulation only) and the
spike count.
Brian2's threshold and reset act in the same step as the update (lifgen's same_step timing).
Brian2 may need its own environment (it pins NumPy below 2.4); the benchmarks start this script
with $LIFGEN_BENCH_BRIAN2_PYTHON when that is set.
"""

import shutil
import sys
import tempfile

import numpy as np

from brian2_timing import runner, serve, setup


def main(target, n, steps):
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
    run, build = runner(b2, network, target, directory, steps * b2.ms, 1 * b2.ms)
    serve(run, build, lambda: int(np.sum(group.count[:])))
    shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
