"""Brian2 references for refractory periods, written to brian2/refractory.json:

- input that arrives while refractory: Brian2's own test_conditional_write_behaviour
  (brian2/tests/test_refractory.py), run as written, every state at the start of every step and
  the spike steps;
- a state frozen inside the step: AdEx with `(unless refractory)` on V, refractory from t = 0
  for 2 ms at V = -60 mV with NESTML aeif_cond_exp's parameters and I = 2000 pA, w at 2 ms
  under rk4 and rk2 (the midpoint method in both).

Run in a throwaway environment (lifgen's tests never need Brian2):

    python3 -m venv /tmp/b2env
    /tmp/b2env/bin/pip install brian2 "numpy<2.4"
    /tmp/b2env/bin/python tests/reference/make_brian2_refractory_refs.py

A group H spikes every step; each spike adds dt*100 Hz (0.01) to x and to y of one neuron G,
whose v and x are `(unless refractory)`: Brian2 drops the write to x while G is refractory and
keeps the one to y. Numpy target, float64, dt = 0.1 ms; Brian2 integrates v with Euler here
(the `not_refractory` factor makes the equation nonlinear for `exact`).
"""

import json
import sys
from pathlib import Path

import brian2 as b2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_brian2_refs import ADEX  # noqa: E402

OUT = Path(__file__).resolve().parent / "brian2" / "refractory.json"
EQUATIONS = """
dv/dt = (2-v)/tau : 1 (unless refractory)
dx/dt = 0/tau : 1 (unless refractory)
dy/dt = 0/tau : 1
"""
RESET = """
v = 0
x -= 0.05
y -= 0.05
"""


def run():
    """Brian2's test, with a StateMonitor and a SpikeMonitor on G."""
    b2.start_scope()
    b2.prefs.codegen.target = "numpy"
    b2.defaultclock.dt = 0.1 * b2.ms
    tau = 1 * b2.ms
    source = b2.NeuronGroup(1, "v:1", threshold="v>-1")
    group = b2.NeuronGroup(1, EQUATIONS, threshold="v>1", reset=RESET, refractory=1 * b2.ms,
                           namespace={"tau": tau})
    writes = []
    for state in ("x", "y"):
        synapses = b2.Synapses(source, group, on_pre=f"{state} += dt*100*Hz")
        synapses.connect(True)
        writes.append(synapses)
    states = b2.StateMonitor(group, ("v", "x", "y"), record=True)
    spikes = b2.SpikeMonitor(group)
    network = b2.Network(source, group, *writes, states, spikes)
    network.run(10 * b2.ms)
    assert group.x[0] < 0.2 and group.y[0] > 0.2 and group.v[0] < 1.1  # Brian2's own assertions
    return {"dt": 0.1, "steps": 100, "tau": 1.0, "t_ref": 1.0, "weight": 0.01,
            "spike_steps": [int(round(t / (0.1 * b2.ms))) for t in spikes.t],
            "start_of_step": {s: np.asarray(getattr(states, s)[0]).tolist() for s in ("v", "x", "y")},
            "final": {s: float(getattr(group, s)[0]) for s in ("v", "x", "y")}}


ADEX_HELD = dict(C=281.0, g_L=30.0, E_L=-70.6, V_T=-50.4, Delta_T=2.0, a=4.0, tau_w=144.0,
                 b=80.5, V_r=-60.0, V_peak=0.0, I=2000.0)


def adex_held(method):
    """w after 2 ms of AdEx refractory from t = 0 with V frozen at -60 mV (w = 0 at the start)."""
    b2.start_scope()
    b2.prefs.codegen.target = "numpy"
    b2.defaultclock.dt = 0.1 * b2.ms
    membrane, rest = ADEX.strip().split("\n", 1)  # dV/dt first
    equations = f"{membrane} (unless refractory)\n{rest}"
    group = b2.NeuronGroup(1, equations, threshold="V > V_peak", reset="V = V_r\nw = w + b",
                           refractory=2 * b2.ms, method=method)
    for key, value in ADEX_HELD.items():
        setattr(group, key, value * b2.ms if key in ("C", "tau_w") else value)
    group.V, group.w = -60.0, 0.0
    group.lastspike, group.not_refractory = 0 * b2.ms, False
    b2.run(2 * b2.ms)
    return {"V": float(group.V[0]), "w": float(group.w[0])}


def main():
    reference = run()
    reference["adex_held"] = {"parameters": ADEX_HELD, "t_ref": 2.0, "V": -60.0,
                              "rk4": adex_held("rk4"), "rk2": adex_held("rk2")}
    reference["versions"] = {"brian2": b2.__version__, "numpy": np.__version__,
                             "python": sys.version.split()[0]}
    OUT.write_text(json.dumps(reference, indent=1) + "\n")
    print(reference["final"], reference["spike_steps"], f"written to {OUT}")


if __name__ == "__main__":
    main()
