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

# the network as the benchmark builds it (Brian2's example, v starting at El)
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from brian2_song import song_network  # noqa: E402

OUT = Path(__file__).resolve().parent / "brian2" / "song2000.json"
SEEDS = (0, 1, 2)
SECONDS = 100


def run(seed, folder):
    b2.set_device("cpp_standalone", directory=folder, build_on_run=False)
    b2.device.reinit()
    b2.device.activate(directory=folder, build_on_run=False)
    b2.seed(seed)
    b2.defaultclock.dt = 0.1 * b2.ms
    _, neuron, synapses = song_network(b2)
    gmax = 0.01
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
