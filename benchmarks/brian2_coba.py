"""The COBA network (Brette et al. 2007, benchmark 1) in Brian2, as its examples/COBA.py builds it
(exponential Euler, Brian2's default flags, which include -ffast-math).

Usage: python brian2_coba.py TARGET, with TARGET cython or cpp_standalone; it then serves 1 s
runs on request (brian2_timing.py). Started by benchmarks/transcendentals.py.
"""

import sys

from brian2_timing import serve_brette

EQUATIONS = """
dv/dt = (ge*(Erev_exc - v) + gi*(Erev_inh - v) - (v - El) + I)*(1./taum) : volt (unless refractory)
dge/dt = -ge/taue : 1
dgi/dt = -gi/taui : 1
"""


def namespace(b2):
    return dict(taum=20 * b2.ms, taue=5 * b2.ms, taui=10 * b2.ms, Vt=-50 * b2.mV,
                Vr=-60 * b2.mV, El=-60 * b2.mV, Erev_exc=0 * b2.mV, Erev_inh=-80 * b2.mV,
                I=20 * b2.mV, we=6 / 10, wi=67 / 10)


def main(target):
    serve_brette(target, EQUATIONS, namespace, "exponential_euler", "ge += we", "gi += wi")


if __name__ == "__main__":
    main(sys.argv[1])
