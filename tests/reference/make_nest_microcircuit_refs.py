"""NEST cross-check of the Brian2 microcircuit references: the same network at scale 0.1 in NEST.

Run in a throwaway environment (lifgen's tests never need NEST):

    python3 -m venv /tmp/nestenv
    /tmp/nestenv/bin/pip install nest-simulator "numpy<2.4"
    /tmp/nestenv/bin/python tests/reference/make_nest_microcircuit_refs.py

Writes tests/reference/nest/microcircuit_scale0.1.json. Parameters come from
examples/microcircuit_params.py (scaled(0.1, 0.1)); the network is built with NEST's own
primitives as NEST's PyNEST Potjans_2014 example builds it: iaf_psc_exp, nest.Connect with
rule fixed_total_number (NEST's own draws, so an independent realisation of the rule),
weights and delays by nest.math.redraw(nest.random.normal(...)) with delays >= dt/2, one
poisson_generator per population at 8 Hz * round(0.1 K_ext) connected all_to_all with the
K-scaled weight and 1.5 ms delay, DC compensation as I_e, V(0) "optimized". One thread,
dt = 0.1 ms, 100 ms transient, 1 s recorded, seeds (nest.rng_seed) 1, 2, 3. Statistics as in
make_brian2_microcircuit_refs.py.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from pathlib import Path

import nest
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
OUT = Path(__file__).resolve().parent / "nest" / "microcircuit_scale0.1.json"
SEEDS = (1, 2, 3)
SCALE = 0.1
DT_MS = 0.1
T_TRANSIENT_MS = 100.0
T_RECORD_MS = 1000.0

spec = importlib.util.spec_from_file_location(
    "microcircuit_params", ROOT / "examples" / "microcircuit_params.py")
MP = importlib.util.module_from_spec(spec)
spec.loader.exec_module(MP)


def run(net: dict, seed: int) -> dict:
    nest.ResetKernel()
    nest.local_num_threads = 1
    nest.resolution = DT_MS
    nest.rng_seed = seed
    nest.print_time = False
    t0 = time.perf_counter()
    neuron = net["neuron"]
    pops = []
    for k in range(len(MP.POPULATIONS)):
        pop = nest.Create("iaf_psc_exp", int(net["num_neurons"][k]), params={
            "C_m": neuron["C_m"], "tau_m": neuron["tau_m"], "tau_syn_ex": neuron["tau_syn"],
            "tau_syn_in": neuron["tau_syn"], "E_L": neuron["E_L"], "V_th": neuron["V_th"],
            "V_reset": neuron["V_reset"], "t_ref": neuron["t_ref"], "I_e": float(net["dc"][k])})
        pop.set(V_m=nest.random.normal(float(net["v0_mean"][k]), float(net["v0_std"][k])))
        pops.append(pop)
    recorders = nest.Create("spike_recorder", len(pops), params={"start": T_TRANSIENT_MS})
    for i, target in enumerate(pops):
        for j, source in enumerate(pops):
            w = float(net["weight_mean"][i, j])
            low, high = (0.0, np.inf) if w >= 0 else (-np.inf, 0.0)
            nest.Connect(source, target,
                         {"rule": "fixed_total_number", "N": int(net["num_synapses"][i, j])},
                         {"synapse_model": "static_synapse",
                          "weight": nest.math.redraw(nest.random.normal(
                              mean=w, std=float(net["weight_std"][i, j])), min=low, max=high),
                          "delay": nest.math.redraw(nest.random.normal(
                              mean=float(net["delay_mean"][i, j]),
                              std=float(net["delay_std"][i, j])), min=0.5 * DT_MS, max=np.inf)})
        if net["poisson_input"]:
            generator = nest.Create("poisson_generator",
                                    params={"rate": net["bg_rate"] * float(net["ext_indegrees"][i])})
            nest.Connect(generator, target, "all_to_all",
                         {"weight": net["weight_ext"], "delay": MP.DELAY_POISSON_MS})
        nest.Connect(target, recorders[i])
    t1 = time.perf_counter()
    nest.Simulate(T_TRANSIENT_MS + T_RECORD_MS)
    t2 = time.perf_counter()

    populations = {}
    for k, name in enumerate(MP.POPULATIONS):
        events = recorders[k].get("events")
        senders = np.asarray(events["senders"], dtype=np.int64) - pops[k][0].global_id
        times = np.asarray(events["times"], dtype=float)
        size = int(net["num_neurons"][k])
        counts = np.bincount(senders, minlength=size)
        cvs = []
        for n in range(size):
            train = np.sort(times[senders == n])
            if train.size > 2:
                isi = np.diff(train)
                cvs.append(float(isi.std() / isi.mean()))
        populations[name] = {"rate_hz": float(counts.mean() / (T_RECORD_MS / 1000.0)),
                             "cv_isi": float(np.mean(cvs)) if cvs else None,
                             "neurons_with_cv": len(cvs),
                             "silent_fraction": float(np.mean(counts == 0))}
    return {"seed": seed, "populations": populations,
            "num_synapses": int(nest.GetKernelStatus("num_connections")),
            "build_s": round(t1 - t0, 2), "simulate_s": round(t2 - t1, 2)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modes", nargs="+", default=["poisson", "dc"], choices=["poisson", "dc"])
    parser.add_argument("--seeds", nargs="+", type=int, default=list(SEEDS))
    args = parser.parse_args()
    results = {}
    for mode in args.modes:
        net = MP.scaled(SCALE, SCALE, poisson_input=(mode == "poisson"))
        runs = []
        for seed in args.seeds:
            result = run(net, seed)
            print(mode, seed, result["build_s"], result["simulate_s"],
                  {k: round(v["rate_hz"], 3) for k, v in result["populations"].items()})
            runs.append(result)
        results[mode] = {"runs": runs, "summary": MP.seed_summary(runs)}
    document = {
        "description": "NEST cross-check of tests/reference/brian2/microcircuit_scale0.1.json "
                       "(tests/reference/make_nest_microcircuit_refs.py)",
        "settings": {"scale_n": SCALE, "scale_k": SCALE, "dt_ms": DT_MS,
                     "transient_ms": T_TRANSIENT_MS, "recorded_ms": T_RECORD_MS,
                     "seeds": args.seeds, "threads": 1, "v0_type": MP.V0_TYPE,
                     "seed_use": "nest.rng_seed(seed) draws connectivity, V0 and Poisson input"},
        "versions": {"nest": nest.__version__, "numpy": np.__version__,
                     "python": sys.version.split()[0]},
        "results": results,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(document, indent=1) + "\n")
    print(f"written to {OUT}")


if __name__ == "__main__":
    main()
