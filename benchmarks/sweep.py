"""Sweep benchmarks: a plain Python loop over `run`, `lifgen.tools.sweep` in this process (packed into
one population), and `lifgen.tools.sweep` on a Dask LocalCluster of 2 worker processes.

Run by hand from the repository root: `python -m benchmarks.sweep [--out FILE]`. Workloads: a
64-point f-I curve of lif_cuba (one neuron per point, 1 s at dt = 0.1 ms) and a 16-point sweep of
the CUBA network (4000 neurons, 1 s) over its input. Nothing here is a test: compare ratios.
"""

import argparse
import os
import time
from pathlib import Path

import numpy as np

import lifgen
from lifgen.tools import brette2007

HERE = Path(__file__).resolve().parent


def f_i_curve():
    """(name, simulator, grid, sweep arguments, loop) of the f-I curve."""
    simulator = lifgen.compile("lif_cuba", dt=0.1)
    currents = np.linspace(0.0, 40.0, 64)

    def loop():
        return [int(simulator.run(10_000, 1, inputs={"I": i}, spikes="count", record=[])
                    .spike_count.sum()) for i in currents]
    return "f-I curve of lif_cuba, 64 points x 1 neuron", simulator, {"I": currents}, \
        dict(n_steps=10_000, n_neurons=1), loop


def cuba_sweep():
    network = brette2007.NETWORKS["cuba"]
    simulator = lifgen.compile(network.model, dt=0.1)
    synapses = brette2007.connections(network, seed=1)
    model = simulator.model
    initial = {"V": model.defaults["V_r"] + np.random.default_rng(0).random(brette2007.N)
               * (model.defaults["V_t"] - model.defaults["V_r"])}
    drives = np.linspace(0.0, 3.0, 16)

    def loop():
        return [int(simulator.run(10_000, brette2007.N, inputs={"I": i}, initial=initial,
                                  connections=synapses, spikes="count", record=[])
                    .spike_count.sum()) for i in drives]
    return "CUBA network, 16 points x 4000 neurons", simulator, {"I": drives}, \
        dict(n_steps=10_000, n_neurons=brette2007.N, initial=initial, connections=synapses), loop


def timed(function):
    started = time.perf_counter()
    value = function()
    return time.perf_counter() - started, value


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sweep", description=__doc__)
    parser.add_argument("--out", default=str(HERE / "sweep-results.md"))
    args = parser.parse_args(argv)
    from dask.distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                           dashboard_address=None)
    client = Client(cluster)
    rows = [f"# Sweeps ({os.cpu_count()} CPUs; Dask LocalCluster of 2 worker processes; best "
            "of 3 interleaved rounds after a warm-up)\n",
            "| workload | implementation | seconds | vs loop | tasks | overhead per task |",
            "|---|---|---|---|---|---|"]
    for workload in (f_i_curve, cuba_sweep):
        name, simulator, grid, arguments, loop = workload()
        client.run(lifgen.warm, simulator.model, dt=0.1)  # compiled on the workers first
        runs = {"loop over run": loop,
                "sweep, this process": lambda: lifgen.sweep(simulator, grid, progress=False,
                                                            **arguments),
                "sweep, 2 Dask workers": lambda: lifgen.sweep(simulator, grid, executor=client,
                                                              progress=False, **arguments)}
        for function in runs.values():
            function()  # every kernel variant built, every worker warm
        best = {label: float("inf") for label in runs}
        values = {}
        for _ in range(3):  # interleaved rounds: drift hits all alike
            for label, function in runs.items():
                seconds, values[label] = timed(function)
                best[label] = min(best[label], seconds)
        serial, spread = values["sweep, this process"], values["sweep, 2 Dask workers"]
        assert spread.identical(serial)
        assert serial.spike_count.sum(axis=-1).values.tolist() == values["loop over run"]
        coupled = "connections" in arguments  # one task per point; else packed ("auto")
        loop_seconds = best["loop over run"]
        for label, seconds in best.items():
            cost = f"{len(grid['I'])} | {(seconds - loop_seconds / 2) / len(grid['I']) * 1e3:.0f} ms" \
                if coupled else "packed | "
            rows.append(f"| {name} | {label} | {seconds:.3f} | {loop_seconds / seconds:.2f}x | "
                        + (f"{cost} |" if "Dask" in label else "| |"))
            print(rows[-1], flush=True)
        rows.append(f"| {name} | fraction of the ideal 2x on 2 workers | "
                    f"{loop_seconds / best['sweep, 2 Dask workers'] / 2:.2f} | | | |")
        print(rows[-1], flush=True)
    client.close()
    cluster.close()
    Path(args.out).write_text("\n".join(rows) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
