"""Timing of a Brian2 network in either code-generation target, shared by the Brian2 benchmark
scripts (which run in Brian2's own environment)."""

import time


def setup(b2, target, directory):
    """Select the target: cpp_standalone builds in `directory`, cython runs in this process."""
    if target == "cpp_standalone":
        b2.set_device("cpp_standalone", directory=directory, build_on_run=False)
    else:
        b2.prefs.codegen.target = "cython"


def time_runs(b2, network, target, directory, duration, warmup, repeats):
    """(seconds of each run of `duration`, seconds of code generation and build)."""
    timings = []
    start = time.perf_counter()
    if target == "cpp_standalone":
        network.run(duration)
        b2.device.build(directory=directory, compile=True, run=False)
        build = time.perf_counter() - start
        for _ in range(repeats):
            start = time.perf_counter()
            b2.device.run(directory=directory, with_output=False)
            timings.append(time.perf_counter() - start)
        return timings, build
    network.store()
    network.run(warmup)  # generates and compiles the Cython code
    build = time.perf_counter() - start
    for _ in range(repeats):
        network.restore()
        start = time.perf_counter()
        network.run(duration)
        timings.append(time.perf_counter() - start)
    return timings, build
