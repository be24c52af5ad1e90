"""Brian2 references for the Brette et al. (2007) CUBA and COBA networks: rates and CV of ISIs.

Run in a throwaway environment; lifgen's tests read only the JSON this writes:

    python3 -m venv /tmp/b2env
    /tmp/b2env/bin/pip install brian2 "numpy<2"
    /tmp/b2env/bin/python tests/reference/make_brette2007_refs.py

The equations, parameters and connectivity are those of Brian2's examples/CUBA.py and
examples/COBA.py (COBA with its I = 20 mV drive), run with the numpy target for 1 s at
dt = 0.1 ms, one run per seed. The networks are chaotic, so only statistics are compared.
"""

import json
import sys
from pathlib import Path

import brian2 as b2
import numpy as np

OUT = Path(__file__).resolve().parent / "brian2" / "brette2007.json"
SEEDS = (0, 1, 2)

CUBA = """
dv/dt = (ge + gi - (v - El))/taum : volt (unless refractory)
dge/dt = -ge/taue : volt
dgi/dt = -gi/taui : volt
"""
COBA = """
dv/dt = (ge*(Erev_exc - v) + gi*(Erev_inh - v) - (v - El) + I)*(1./taum) : volt (unless refractory)
dge/dt = -ge/taue : 1
dgi/dt = -gi/taui : 1
"""
NETWORKS = {
    "cuba": dict(equations=CUBA, method="exact", we="60*0.27/10*mV", wi="-20*4.5/10*mV",
                 namespace=dict(El=-49 * b2.mV)),
    "coba": dict(equations=COBA, method="exponential_euler", we="6./10.", wi="67./10.",
                 namespace=dict(El=-60 * b2.mV, Erev_exc=0 * b2.mV, Erev_inh=-80 * b2.mV,
                                I=20 * b2.mV)),
}


def run(name, seed):
    config = NETWORKS[name]
    b2.start_scope()
    b2.prefs.codegen.target = "numpy"
    b2.seed(seed)
    b2.defaultclock.dt = 0.1 * b2.ms
    namespace = dict(config["namespace"], taum=20 * b2.ms, taue=5 * b2.ms, taui=10 * b2.ms,
                     Vt=-50 * b2.mV, Vr=-60 * b2.mV, mV=b2.mV)
    group = b2.NeuronGroup(4000, config["equations"], threshold="v > Vt", reset="v = Vr",
                           refractory=5 * b2.ms, method=config["method"], namespace=namespace)
    group.v = "Vr + rand()*(Vt - Vr)"
    exc = b2.Synapses(group, group, on_pre=f"ge += {config['we']}", namespace=namespace)
    inh = b2.Synapses(group, group, on_pre=f"gi += {config['wi']}", namespace=namespace)
    exc.connect("i < 3200", p=0.02)
    inh.connect("i >= 3200", p=0.02)
    monitor = b2.SpikeMonitor(group)
    b2.run(1 * b2.second)
    counts = np.asarray(monitor.count)
    trains = monitor.spike_trains()
    cvs = []
    for neuron in range(3200):
        times = np.asarray(trains[neuron] / b2.ms)
        if times.size > 3:
            intervals = np.diff(times)
            cvs.append(intervals.std() / intervals.mean())
    return {"rate_exc_hz": float(counts[:3200].mean()), "rate_inh_hz": float(counts[3200:].mean()),
            "cv_isi_exc": float(np.mean(cvs))}


def main():
    results = {name: [run(name, seed) for seed in SEEDS] for name in NETWORKS}
    for name, runs in results.items():
        for seed, stats in zip(SEEDS, runs):
            print(name, seed, stats)
    OUT.write_text(json.dumps({"seeds": SEEDS, "versions": {
        "brian2": b2.__version__, "numpy": np.__version__, "python": sys.version.split()[0]},
        "networks": results}, indent=1) + "\n")
    print(f"written to {OUT}")


if __name__ == "__main__":
    main()
