"""Plasticity benchmarks: Song, Miller & Abbott (2000) and a CUBA network with STDP, lifgen with
plastic and with static weights, against Brian2 cpp_standalone in the same run (interleaved).

Run by hand: `python -m benchmarks.plasticity [--quick]` (also part of `python -m benchmarks`).
Brian2 rows appear when Brian2 imports here or in $LIFGEN_BENCH_BRIAN2_PYTHON.
"""

import argparse
import sys
from pathlib import Path

import numpy as np

import lifgen
from lifgen.tools import brette2007

from .__main__ import Brian2Process, brian2_python, interleave, machine_line, write_report

HERE = Path(__file__).resolve().parent
SONG_INPUTS, GMAX = 1000, 0.01


def song(seconds, plastic=True, seed=0):
    """lifgen on Song et al.'s network: 1000 Poisson inputs at 15 Hz onto one neuron."""
    simulator = lifgen.compile(HERE.parent / "tests" / "models" / "song2000.toml")
    weights = np.random.default_rng(seed).random(SONG_INPUTS) * GMAX
    sparse = lifgen.Sparse.from_arrays(np.arange(SONG_INPUTS), np.zeros(SONG_INPUTS, int),
                                       weights, n_pre=SONG_INPUTS, n_post=1)
    source = lifgen.Poisson(SONG_INPUTS, "15 Hz", seed=seed)
    weights_or_synapses = lifgen.Synapses(sparse, "stdp", params={"w_max": GMAX}) if plastic \
        else sparse

    def run():
        result = simulator.run(duration=f"{seconds} s", n_neurons=1, record=[], spikes="count",
                               drives={"exc": (source, weights_or_synapses)})
        return int(result.spike_count.sum())
    return run


def cuba_stdp(seconds, plastic=True, seed=0):
    """lifgen on the CUBA network (4000 neurons) with additive STDP on its excitatory synapses."""
    network = brette2007.NETWORKS["cuba"]
    simulator = lifgen.compile(network.model, dt=0.1)
    synapses = brette2007.connections(network, seed + 1)
    if plastic:
        synapses["exc"] = lifgen.Synapses(synapses["exc"], "stdp",
                                          params={"w_max": 2 * network.w_exc})
    rng = np.random.default_rng(seed)
    initial = {"V": -60.0 + rng.random(brette2007.N) * 10.0}

    def run():
        result = simulator.run(duration=f"{seconds} s", n_neurons=brette2007.N, record=[],
                               inputs={"I": network.drive}, initial=initial,
                               connections=synapses, spikes="count")
        return int(result.spike_count.sum())
    return run


def section(title, runs, repeats, simulated_seconds):
    """Rows of one workload: best and median seconds per simulated second, and the ratios."""
    results = interleave(runs, repeats)
    for run in runs.values():
        if isinstance(run, Brian2Process):
            run.close()
    best_lifgen = results["lifgen, plastic"][0]
    rows = [f"\n**{title}**\n", "| implementation | best (s) | median (s) | per simulated s | "
            "vs lifgen plastic | spikes |", "|---|---|---|---|---|---|"]
    for name, (best, median, spikes) in results.items():
        rows.append(f"| {name} | {best:.2f} | {median:.2f} | {best / simulated_seconds:.3f} | "
                    f"{best / best_lifgen:.2f}x | {spikes} |")
    return rows


def brian2(script, seconds):
    python = brian2_python()
    if python is None:
        return {}
    try:
        return {"Brian2 cpp_standalone": Brian2Process(python, script, "cpp_standalone",
                                                       (seconds,))}
    except RuntimeError as error:
        print(f"Brian2 failed:\n{error}", file=sys.stderr)
        return {}


def report(quick=False):
    """The plasticity tables (markdown lines)."""
    repeats = 2 if quick else 3
    song_s, cuba_s = (20, 2) if quick else (100, 10)
    lines = []
    runs = {"lifgen, plastic": song(song_s), "lifgen, static weights": song(song_s, False),
            **brian2("brian2_song.py", song_s)}
    lines += section(f"Song, Miller & Abbott (2000): 1000 Poisson inputs, 1 neuron, additive "
                     f"STDP, {song_s} s at dt = 0.1 ms", runs, repeats, song_s)
    runs = {"lifgen, plastic": cuba_stdp(cuba_s), "lifgen, static weights": cuba_stdp(cuba_s, False),
            **brian2("brian2_cuba_stdp.py", cuba_s)}
    lines += section(f"CUBA network with STDP on its excitatory synapses: 4000 neurons, "
                     f"{cuba_s} s at dt = 0.1 ms, float64", runs, repeats, cuba_s)
    lines.append("\nBrian2 times are those it measures around its own simulation; lifgen's "
                 "include preparing the run's arrays. Spike counts differ between simulators "
                 "(their random numbers differ); they are shown to see that both networks are "
                 "alive.")
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.plasticity", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="shorter runs, fewer repeats")
    parser.add_argument("--out", default=str(HERE / "plasticity.md"), help="where to write")
    args = parser.parse_args(argv)
    write_report([machine_line(1) + " float64."] + report(args.quick), args.out)


if __name__ == "__main__":
    main()
