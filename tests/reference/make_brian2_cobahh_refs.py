"""Brian2 references for the COBAHH network of Brette et al. (2007), benchmark 3: rates and CV
of ISIs of the excitatory and inhibitory populations, written to brian2/cobahh.json.

Run in a throwaway environment (lifgen's tests never need Brian2):

    python3 -m venv /tmp/b2env
    /tmp/b2env/bin/pip install brian2
    OMP_NUM_THREADS=1 /tmp/b2env/bin/python tests/reference/make_brian2_cobahh_refs.py

(the JSON records the versions that made it: Brian2 2.9.0, numpy 2.3.5, Python 3.11; about a
minute on one core).

The network is Brian2's examples/COBAHH.py as written (its file at brian2 commit 28baceb8,
"Use exprel in examples", unchanged since 2019): 4000 Hodgkin-Huxley neurons, 3200 excitatory
and 800 inhibitory, `Synapses(Pe, P).connect(p=0.02)` and `Synapses(Pi, P).connect(p=0.02)` (no
condition, so a neuron may connect to itself), on_pre ge += 6 nS and gi += 67 nS with no delay,
threshold v > -20 mV with refractory = 3 ms and no reset, exponential Euler at dt = 0.1 ms, v,
ge and gi drawn as in the example and m, n, h left at Brian2's default 0. The only additions
are the seed, a SpikeMonitor instead of the StateMonitor, and the numpy target (one thread).

One run of 1 s per seed (b2.seed seeds Brian2's and numpy's generators). The network is
chaotic: only statistics are compared, never spike times. Each statistic is given over the
whole second and over its first 500 ms (`windows`), so that a shorter lifgen run can be
compared with the same window.

Also, not chaotic and so compared step for step: one neuron alone (no synapses, no input) for
1 s, from lifgen's models/cobahh.toml initial values (at rest at E_L, m, h and n at their steady
state there) and from the example's mean initial values (v = -65 mV, ge = 40 nS, gi = 200 nS,
m = n = h = 0): its spike times and v at the end. At E_L = -60 mV the neuron fires by itself.
"""

import json
import sys
from pathlib import Path

import brian2 as b2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from brian2_examples import HH_COBA  # noqa: E402 (plain strings: neither Brian2 nor lifgen)

OUT = Path(__file__).resolve().parent / "brian2" / "cobahh.json"
SEEDS = (1, 2, 3)
N, N_EXC, P_CONNECT = 4000, 3200, 0.02
DURATION_MS, DT_MS = 1000.0, 0.1
WINDOWS_MS = (500.0, 1000.0)
MIN_SPIKES_FOR_CV = 3  # a neuron's CV of ISIs counts when it has >= 3 spikes (>= 2 intervals)

# examples/COBAHH.py, with its units
area = 20000 * b2.umetre**2
PARAMETERS = dict(
    Cm=(1 * b2.ufarad * b2.cm**-2) * area,
    gl=(5e-5 * b2.siemens * b2.cm**-2) * area,
    El=-60 * b2.mV, EK=-90 * b2.mV, ENa=50 * b2.mV,
    g_na=(100 * b2.msiemens * b2.cm**-2) * area,
    g_kd=(30 * b2.msiemens * b2.cm**-2) * area,
    VT=-63 * b2.mV, taue=5 * b2.ms, taui=10 * b2.ms, Ee=0 * b2.mV, Ei=-80 * b2.mV,
    we=6 * b2.nS, wi=67 * b2.nS)
EQUATIONS = HH_COBA  # examples/COBAHH.py's equations (one copy, brian2_examples.py)
THRESHOLD, REFRACTORY = "v>-20*mV", 3 * b2.ms
INITIAL = {"v": "El + (randn() * 5 - 5)*mV", "ge": "(randn() * 1.5 + 4) * 10.*nS",
           "gi": "(randn() * 12 + 20) * 10.*nS"}


def statistics(counts, trains, duration_ms, first, last):
    """Mean rate (Hz) and mean CV of ISIs of neurons first..last-1 over [0, duration_ms)."""
    cvs = []
    window_counts = []
    for neuron in range(first, last):
        times = np.asarray(trains[neuron] / b2.ms)
        times = times[times < duration_ms]
        window_counts.append(times.size)
        if times.size >= MIN_SPIKES_FOR_CV:
            intervals = np.diff(times)
            cvs.append(intervals.std() / intervals.mean())
    return {"rate_hz": float(np.mean(window_counts) / (duration_ms / 1000.0)),
            "cv_isi": float(np.mean(cvs)) if cvs else None,
            "neurons_with_cv": len(cvs),
            "spikes": int(np.sum(window_counts))}


def run(seed):
    b2.start_scope()
    b2.prefs.codegen.target = "numpy"
    b2.seed(seed)
    b2.defaultclock.dt = DT_MS * b2.ms
    group = b2.NeuronGroup(N, model=b2.Equations(EQUATIONS), threshold=THRESHOLD,
                           refractory=REFRACTORY, method="exponential_euler",
                           namespace=PARAMETERS)
    exc, inh = group[:N_EXC], group[N_EXC:]
    synapses_e = b2.Synapses(exc, group, on_pre="ge+=we", namespace=PARAMETERS)
    synapses_i = b2.Synapses(inh, group, on_pre="gi+=wi", namespace=PARAMETERS)
    synapses_e.connect(p=P_CONNECT)
    synapses_i.connect(p=P_CONNECT)
    for state, expression in INITIAL.items():
        setattr(group, state, expression)
    monitor = b2.SpikeMonitor(group)
    b2.run(DURATION_MS * b2.ms)
    counts = np.asarray(monitor.count)
    trains = monitor.spike_trains()
    self_e = int(np.sum(np.asarray(synapses_e.i) == np.asarray(synapses_e.j)))
    self_i = int(np.sum(np.asarray(synapses_i.i) + N_EXC == np.asarray(synapses_i.j)))
    windows = {}
    for window in WINDOWS_MS:
        exc_stats = statistics(counts, trains, window, 0, N_EXC)
        inh_stats = statistics(counts, trains, window, N_EXC, N)
        windows[f"{window:g}"] = {
            "rate_exc_hz": exc_stats["rate_hz"], "rate_inh_hz": inh_stats["rate_hz"],
            "cv_isi_exc": exc_stats["cv_isi"], "cv_isi_inh": inh_stats["cv_isi"],
            "neurons_with_cv_exc": exc_stats["neurons_with_cv"],
            "neurons_with_cv_inh": inh_stats["neurons_with_cv"],
            "spikes": exc_stats["spikes"] + inh_stats["spikes"]}
    return {"seed": seed, "spikes": int(counts.sum()),
            "silent_neurons": int(np.sum(counts == 0)),
            "synapses_exc": len(synapses_e), "synapses_inh": len(synapses_i),
            "self_synapses": self_e + self_i,
            "windows_ms": windows}


SINGLE = {"model_file_rest": {"v": -60 * b2.mV, "m": 0.02686, "h": 0.99131, "n": 0.06043},
          "example_mean": {"v": -65 * b2.mV, "ge": 40 * b2.nS, "gi": 200 * b2.nS}}


def single(initial):
    """One neuron alone for DURATION_MS: its spike times (ms) and v (mV) at the end."""
    b2.start_scope()
    b2.prefs.codegen.target = "numpy"
    b2.defaultclock.dt = DT_MS * b2.ms
    group = b2.NeuronGroup(1, model=b2.Equations(EQUATIONS), threshold=THRESHOLD,
                           refractory=REFRACTORY, method="exponential_euler",
                           namespace=PARAMETERS)
    for state, value in initial.items():
        setattr(group, state, value)
    monitor = b2.SpikeMonitor(group)
    b2.run(DURATION_MS * b2.ms)
    return {"initial": {k: str(v) for k, v in initial.items()},
            "spike_times_ms": [round(float(t), 6) for t in monitor.t / b2.ms],
            "v_end_mv": float(group.v[0] / b2.mV)}


def main():
    singles = {name: single(initial) for name, initial in SINGLE.items()}
    print(json.dumps(singles), flush=True)
    runs = []
    for seed in SEEDS:
        runs.append(run(seed))
        print(json.dumps(runs[-1]), flush=True)
    parameters = {name: str(value) for name, value in PARAMETERS.items()}
    OUT.write_text(json.dumps({
        "source": "brian2 examples/COBAHH.py (Brette et al. 2007, benchmark 3)",
        "seeds": SEEDS,
        "versions": {"brian2": b2.__version__, "numpy": np.__version__,
                     "python": sys.version.split()[0]},
        "codegen_target": "numpy",
        "network": {"n": N, "n_exc": N_EXC, "p_connect": P_CONNECT, "self_connections": "allowed",
                    "synaptic_delay": "none (Brian2 default: the step after the spike's)",
                    "threshold": THRESHOLD, "refractory": str(REFRACTORY), "reset": "none",
                    "method": "exponential_euler", "dt_ms": DT_MS, "duration_ms": DURATION_MS,
                    "initial": dict(INITIAL, m="0", n="0", h="0")},
        "parameters": parameters,
        "equations": EQUATIONS.strip(),
        "statistics": {
            "rate_exc_hz, rate_inh_hz": "spikes in the window / neurons / window length",
            "cv_isi_exc, cv_isi_inh": "mean over the population's neurons with >= 3 spikes in "
                                      "the window of std(ISI)/mean(ISI), std with ddof = 0",
            "windows_ms": "statistics over [0, W) ms for each W"},
        "runs": runs, "single_neuron": singles}, indent=1) + "\n")
    print(f"written to {OUT}")


if __name__ == "__main__":
    main()
