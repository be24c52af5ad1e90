"""The CUBA network (Brette et al. 2007, benchmark 2) in Brian2, as its examples/CUBA.py builds it.

Usage: python brian2_cuba.py TARGET, with TARGET cython or cpp_standalone; it then serves 1 s
runs on request (brian2_timing.py), reporting the seconds of each (simulation only) and its spike
count. Started by `python -m benchmarks` with $LIFGEN_BENCH_BRIAN2_PYTHON when that is set.
"""

import sys
import tempfile

from brian2_timing import serve_brette, setup

EQUATIONS = """
dv/dt = (ge + gi - (v - El))/taum : volt (unless refractory)
dge/dt = -ge/taue : volt
dgi/dt = -gi/taui : volt
"""


def main(target):
    import brian2 as b2

    directory = tempfile.mkdtemp()
    setup(b2, target, directory)
    b2.defaultclock.dt = 0.1 * b2.ms
    namespace = dict(taum=20 * b2.ms, taue=5 * b2.ms, taui=10 * b2.ms, Vt=-50 * b2.mV,
                     Vr=-60 * b2.mV, El=-49 * b2.mV, mV=b2.mV)
    group = b2.NeuronGroup(4000, EQUATIONS, threshold="v > Vt", reset="v = Vr",
                           refractory=5 * b2.ms, method="exact", namespace=namespace)
    group.v = "Vr + rand()*(Vt - Vr)"
    exc = b2.Synapses(group, group, on_pre="ge += 1.62*mV", namespace=namespace)
    inh = b2.Synapses(group, group, on_pre="gi += -9*mV", namespace=namespace)
    serve_brette(b2, group, exc, inh, target, directory)


if __name__ == "__main__":
    main(sys.argv[1])
