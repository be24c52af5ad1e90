"""Brian2's spike count for docs/model-files.md's minimal model in NEST's units, written to
brian2/nest_units_example.json:

    /tmp/b2env/bin/python tests/reference/make_brian2_nest_units_refs.py

(with `pip install brian2 "numpy<2.3"` there: Brian2 2.9 calls ndarray.ptp, gone in NumPy 2.3).

The model: tau dV/dt = E_L - V + R I, spike when V > V_th, then V = E_L; tau = 10 ms,
R = 10 Mohm, E_L = -70 mV, V_th = -50 mV; I = 10 nA for 1 s at dt = 0.1 ms. Brian2 updates,
tests and resets in one step (as NEST's iaf_psc_delta without refractoriness): a spike every 23
steps, 434 in the second. Brian2's numpy target, its exact integrator (the equation is linear).
"""

import json
from pathlib import Path

import brian2 as b2

OUT = Path(__file__).resolve().parent / "brian2" / "nest_units_example.json"


def spike_count(current_nA, duration_ms=1000.0, dt_ms=0.1):
    b2.start_scope()
    b2.prefs.codegen.target = "numpy"
    b2.defaultclock.dt = dt_ms * b2.ms
    namespace = dict(tau=10 * b2.ms, E_L=-70 * b2.mV, R=10 * b2.Mohm, V_th=-50 * b2.mV,
                     I=current_nA * b2.nA)
    group = b2.NeuronGroup(1, "dV/dt = (E_L - V + R*I)/tau : volt", threshold="V > V_th",
                           reset="V = E_L", method="exact", namespace=namespace)
    group.V = -70 * b2.mV
    monitor = b2.SpikeMonitor(group)
    b2.run(duration_ms * b2.ms, namespace=namespace)
    return int(monitor.num_spikes)


if __name__ == "__main__":
    cases = {f"{current} nA": spike_count(current) for current in (2.5, 10.0)}
    OUT.write_text(json.dumps({"brian2": b2.__version__, "duration_ms": 1000.0, "dt_ms": 0.1,
                               "spikes": cases}, indent=1) + "\n")
    print(cases)
