"""Brian2 references for Song, Miller & Abbott (2000) as Brian2's examples/synapses/STDP.py
runs it: 1000 Poisson inputs at 15 Hz onto one LIF neuron, additive STDP with gmax bounds,
100 s at dt = 0.1 ms, cpp_standalone, one run per seed. Records the final weight histogram (in
tenths of gmax), the output rate and the wall time of the run.

Run in a throwaway environment; lifgen's tests read only the JSON this writes:

    python3 -m venv /tmp/b2env
    /tmp/b2env/bin/pip install brian2 "numpy<2"
    /tmp/b2env/bin/python tests/reference/make_song2000_refs.py

The one change from the example: v starts at El (the example leaves it at 0 mV, above the
threshold), as lifgen's tests/models/song2000.toml does.
"""

import json
import sys
import tempfile
import time
from pathlib import Path

import brian2 as b2
import numpy as np

OUT = Path(__file__).resolve().parent / "brian2" / "song2000.json"
SEEDS = (0, 1, 2)
SECONDS = 100


def run(seed, folder):
    b2.set_device("cpp_standalone", directory=folder, build_on_run=False)
    b2.device.reinit()
    b2.device.activate(directory=folder, build_on_run=False)
    b2.seed(seed)
    b2.defaultclock.dt = 0.1 * b2.ms
    N, taum, taupre, taupost, taue = 1000, 10 * b2.ms, 20 * b2.ms, 20 * b2.ms, 5 * b2.ms
    Ee, vt, vr, El, F, gmax = 0 * b2.mV, -54 * b2.mV, -60 * b2.mV, -74 * b2.mV, 15 * b2.Hz, .01
    dApre = .01
    dApost = -dApre * taupre / taupost * 1.05
    dApost *= gmax
    dApre *= gmax
    eqs = """dv/dt = (ge * (Ee-v) + El - v) / taum : volt
             dge/dt = -ge / taue : 1"""
    inputs = b2.PoissonGroup(N, rates=F)
    neuron = b2.NeuronGroup(1, eqs, threshold="v>vt", reset="v = vr", method="euler")
    neuron.v = El
    synapses = b2.Synapses(inputs, neuron, """w : 1
                dApre/dt = -Apre / taupre : 1 (event-driven)
                dApost/dt = -Apost / taupost : 1 (event-driven)""",
                           on_pre="""ge += w
                    Apre += dApre
                    w = clip(w + Apost, 0, gmax)""",
                           on_post="""Apost += dApost
                     w = clip(w + Apre, 0, gmax)""")
    synapses.connect()
    synapses.w = "rand() * gmax"
    spikes = b2.SpikeMonitor(neuron)
    b2.run(SECONDS * b2.second)
    started = time.perf_counter()
    b2.device.build(directory=folder, compile=True, run=True)
    wall = time.perf_counter() - started
    w = np.asarray(synapses.w) / gmax
    return {"histogram": np.histogram(w, bins=10, range=(0, 1))[0].tolist(),
            "rate_hz": float(spikes.num_spikes / SECONDS), "wall_s": wall,
            "run_s": float(b2.device._last_run_time)}


def main():
    runs = []
    for seed in SEEDS:
        with tempfile.TemporaryDirectory() as folder:
            runs.append(run(seed, folder))
        print(seed, runs[-1], flush=True)
    OUT.write_text(json.dumps({"seeds": SEEDS, "seconds": SECONDS, "versions": {
        "brian2": b2.__version__, "numpy": np.__version__, "python": sys.version.split()[0]},
        "runs": runs}, indent=1) + "\n")
    print(f"written to {OUT}")


if __name__ == "__main__":
    main()
