"""The CUBA network (Brette et al. 2007, benchmark 2) in Brian2, as its examples/CUBA.py builds it.

Usage: python brian2_cuba.py TARGET, with TARGET cython or cpp_standalone; it then serves 1 s
runs on request (brian2_timing.py), reporting the seconds of each (simulation only) and its spike
count. Started by `python -m benchmarks` with $LIFGEN_BENCH_BRIAN2_PYTHON when that is set.
"""

import sys

from brian2_timing import serve_brette

EQUATIONS = """
dv/dt = (ge + gi - (v - El))/taum : volt (unless refractory)
dge/dt = -ge/taue : volt
dgi/dt = -gi/taui : volt
"""


def namespace(b2):
    return dict(taum=20 * b2.ms, taue=5 * b2.ms, taui=10 * b2.ms, Vt=-50 * b2.mV,
                Vr=-60 * b2.mV, El=-49 * b2.mV, mV=b2.mV)


def main(target):
    serve_brette(target, EQUATIONS, namespace, "exact", "ge += 1.62*mV", "gi += -9*mV")


if __name__ == "__main__":
    main(sys.argv[1])
