"""Timing of a Brian2 network in either code-generation target, shared by the Brian2 benchmark
scripts (which run in Brian2's own environment).

The scripts serve runs on request, so that `python -m benchmarks` can interleave Brian2's runs
with lifgen's: after building, they print {"build": seconds}; then for each line "run" read from
standard input they run once and print {"seconds": ..., "spikes": ...}; they exit at end of input.
"""

import json
import sys
import time


def setup(b2, target, directory):
    """Select the target: cpp_standalone builds in `directory`, cython runs in this process."""
    if target == "cpp_standalone":
        b2.set_device("cpp_standalone", directory=directory, build_on_run=False)
    else:
        b2.prefs.codegen.target = "cython"


def runner(b2, network, target, directory, duration, warmup):
    """(a function running `duration` once and returning its seconds, seconds of code generation
    and build)."""
    start = time.perf_counter()
    if target == "cpp_standalone":
        network.run(duration)
        b2.device.build(directory=directory, compile=True, run=False)

        def run_standalone():
            begin = time.perf_counter()
            b2.device.run(directory=directory, with_output=False)
            return time.perf_counter() - begin
        return run_standalone, time.perf_counter() - start
    network.store()
    network.run(warmup)  # generates and compiles the Cython code
    build = time.perf_counter() - start

    def run_runtime():
        network.restore()
        begin = time.perf_counter()
        network.run(duration)
        return time.perf_counter() - begin
    return run_runtime, build


def serve(run, build, spikes):
    """Answer "run" requests on standard input until it closes (see the module docstring)."""
    print(json.dumps({"build": build}), flush=True)
    for line in sys.stdin:
        if line.strip() == "run":
            seconds = run()
            print(json.dumps({"seconds": seconds, "spikes": spikes()}), flush=True)


def serve_brette(target, equations, namespace, method, on_exc, on_inh):
    """Build a Brette et al. (2007) network as Brian2's examples do (4000 neurons of
    `equations`, V uniform in [Vr, Vt], the first 3200 excitatory with `on_exc`, the rest
    inhibitory with `on_inh`, p = 0.02), at dt = 0.1 ms, then serve its 1 s runs; the build
    folder is removed at the end. `namespace` maps names to values made from brian2 (b2)."""
    import shutil
    import tempfile

    import brian2 as b2

    directory = tempfile.mkdtemp()
    setup(b2, target, directory)
    b2.defaultclock.dt = 0.1 * b2.ms
    namespace = namespace(b2)
    group = b2.NeuronGroup(4000, equations, threshold="v > Vt", reset="v = Vr",
                           refractory=5 * b2.ms, method=method, namespace=namespace)
    group.v = "Vr + rand()*(Vt - Vr)"
    exc = b2.Synapses(group, group, on_pre=on_exc, namespace=namespace)
    inh = b2.Synapses(group, group, on_pre=on_inh, namespace=namespace)
    exc.connect("i < 3200", p=0.02)
    inh.connect("i >= 3200", p=0.02)
    monitor = b2.SpikeMonitor(group, record=False)
    network = b2.Network(group, exc, inh, monitor)
    run, build = runner(b2, network, target, directory, 1 * b2.second, 0.1 * b2.ms)
    serve(run, build, lambda: int(monitor.num_spikes))
    shutil.rmtree(directory, ignore_errors=True)
