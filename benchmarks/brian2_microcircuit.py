"""The Potjans-Diesmann microcircuit in Brian2, as tests/reference/make_brian2_microcircuit_refs.py
builds it (iaf_psc_exp, exact integration, PoissonInput background, examples/microcircuit_params.py).

Usage: python brian2_microcircuit.py TARGET SCALE, with TARGET cython or cpp_standalone; it then
serves 1.1 s runs on request (brian2_timing.py), reporting the seconds of each (simulation only)
and its spike count. Started by `python -m benchmarks.networks` with $LIFGEN_BENCH_BRIAN2_PYTHON.
"""

import importlib.util
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
from brian2_timing import runner, serve, setup

ROOT = Path(__file__).resolve().parent.parent
EQUATIONS = """
dV/dt = -(V - E_L)/tau_m + (I_syn + I_e)/C_m : volt (unless refractory)
dI_syn/dt = -I_syn/tau_syn : amp
I_e : amp (constant)
"""


def parameters():
    spec = importlib.util.spec_from_file_location("microcircuit_params",
                                                  ROOT / "examples" / "microcircuit_params.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(target, scale):
    import brian2 as b2

    params = parameters()
    directory = tempfile.mkdtemp()
    setup(b2, target, directory)
    if target == "cpp_standalone":
        b2.prefs.devices.cpp_standalone.openmp_threads = 0
    b2.defaultclock.dt = 0.1 * b2.ms
    net = params.scaled(scale, scale, poisson_input=True)
    neuron = net["neuron"]
    namespace = {"E_L": neuron["E_L"] * b2.mV, "tau_m": neuron["tau_m"] * b2.ms,
                 "C_m": neuron["C_m"] * b2.pF, "tau_syn": neuron["tau_syn"] * b2.ms,
                 "V_th": neuron["V_th"] * b2.mV, "V_reset": neuron["V_reset"] * b2.mV}
    sizes = net["num_neurons"]
    start = params.offsets(sizes)
    group = b2.NeuronGroup(int(sizes.sum()), EQUATIONS, threshold="V >= V_th",
                           reset="V = V_reset", refractory=neuron["t_ref"] * b2.ms,
                           method="exact", namespace=namespace)
    group.V = params.draw_initial_v(net, 2) * b2.mV
    group.I_e = np.repeat(net["dc"], sizes) * b2.pA
    projections = params.draw_connectivity(net, 1, dt_ms=0.1)
    pre = np.concatenate([p + start[j] for (i, j), (p, _, _, _) in projections.items()])
    post = np.concatenate([q + start[i] for (i, j), (_, q, _, _) in projections.items()])
    synapses = b2.Synapses(group, group, "w : amp", on_pre="I_syn_post += w")
    synapses.connect(i=pre, j=post)
    synapses.w = np.concatenate([w for (_, _, w, _) in projections.values()]) * b2.pA
    synapses.delay = np.concatenate([d for (_, _, _, d) in projections.values()]) * b2.ms
    background = [b2.PoissonInput(group[start[k]:start[k] + sizes[k]], "I_syn",
                                  N=int(net["ext_indegrees"][k]), rate=net["bg_rate"] * b2.Hz,
                                  weight=net["weight_ext"] * b2.pA)
                  for k in range(len(sizes))]
    monitor = b2.SpikeMonitor(group, record=False)
    network = b2.Network(group, synapses, *background, monitor)
    run, build = runner(b2, network, target, directory, 1.1 * b2.second, 0.1 * b2.ms)
    serve(run, build, lambda: int(monitor.num_spikes))
    shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]))
