"""The CUBA network (Brette et al. 2007) in Brian2 with additive STDP on its excitatory synapses
(w_max twice the initial weight; traces and amplitudes as in Song et al. 2000).

Usage: python brian2_cuba_stdp.py TARGET SECONDS; serves runs on request (brian2_timing.py).
"""

import shutil
import sys
import tempfile

from brian2_song import stdp_synapses
from brian2_timing import runner, serve, setup

EQUATIONS = """
dv/dt = (ge + gi - (v - El))/taum : volt (unless refractory)
dge/dt = -ge/taue : volt
dgi/dt = -gi/taui : volt
"""


def main(target, seconds):
    import brian2 as b2

    directory = tempfile.mkdtemp()
    setup(b2, target, directory)
    b2.defaultclock.dt = 0.1 * b2.ms
    wmax = 2 * 1.62 * b2.mV
    namespace = dict(taum=20 * b2.ms, taue=5 * b2.ms, taui=10 * b2.ms, Vt=-50 * b2.mV,
                     Vr=-60 * b2.mV, El=-49 * b2.mV, mV=b2.mV, taupre=20 * b2.ms,
                     taupost=20 * b2.ms, wmax=wmax, dApre=0.01 * wmax, dApost=-0.0105 * wmax)
    group = b2.NeuronGroup(4000, EQUATIONS, threshold="v > Vt", reset="v = Vr",
                           refractory=5 * b2.ms, method="exact", namespace=namespace)
    group.v = "Vr + rand()*(Vt - Vr)"
    exc = stdp_synapses(b2, group, group, "volt", "0*mV", "wmax", namespace)
    inh = b2.Synapses(group, group, on_pre="gi += -9*mV", namespace=namespace)
    exc.connect("i < 3200", p=0.02)
    exc.w = 1.62 * b2.mV
    inh.connect("i >= 3200", p=0.02)
    monitor = b2.SpikeMonitor(group, record=False)
    network = b2.Network(group, exc, inh, monitor)
    run, build = runner(b2, network, target, directory, seconds * b2.second, 0.1 * b2.ms)
    serve(run, build, lambda: int(monitor.num_spikes))
    shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]))
