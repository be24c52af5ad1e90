"""Brian2 references for the Potjans & Diesmann (2014) microcircuit at scale 0.1: rates and ISI CVs.

Run in a throwaway environment (not lifgen's); lifgen's tests read only the JSON this writes:

    python3 -m venv /tmp/b2env
    /tmp/b2env/bin/pip install brian2 "numpy<2.3"
    /tmp/b2env/bin/python tests/reference/make_brian2_microcircuit_refs.py [--modes ...] [--seeds ...]

Parameters, scaling and connectivity rule come from examples/microcircuit_params.py (NEST's
PyNEST Potjans_2014 example, read by path; no lifgen import). The network here:

- N_scaling = K_scaling = 0.1 (7,717 neurons, ~3.0 million synapses), weights * 1/sqrt(0.1) and
  the DC compensation of NEST's helpers.adjust_weights_and_input_to_synapse_scaling;
- iaf_psc_exp as Brian2 equations, integrated with method='exact' (V and I_syn jointly), dt =
  0.1 ms, V clamped at V_reset for t_ref = 2 ms while I_syn keeps decaying, threshold V >= V_th.
  Brian2's refractory = 2 ms holds V for the 19 steps after the spike's step; NEST's iaf_psc_exp
  holds it for 20 (variant poisson_nest_refractory uses refractory = 2.1 ms to get NEST's count);
- one Synapses object for the recurrent synapses, drawn by microcircuit_params.draw_connectivity
  (fixed total number per projection, multapses and autapses, weights Normal(mu, 0.1|mu|)
  redrawn to keep their sign, delays Normal(d, 0.5 d) redrawn below dt/2 and rounded to dt);
- background "poisson": one Brian2 PoissonInput per population onto I_syn with N =
  round(0.1 K_ext) sources per neuron at 8 Hz and the K-scaled weight 87.81/sqrt(0.1) = 277.7 pA,
  independent for each neuron (as NEST's poisson_generator connected all_to_all), plus the DC
  compensation; no delay on the Poisson input (NEST's 1.5 ms only shifts a stationary train);
- background "dc" (NEST's poisson_input = False): no Poisson input; I_e = 8 Hz * K_ext(full) *
  87.81 pA * 0.5 ms plus the recurrent part of the K-scaling compensation. At K_scaling = 0.1
  that compensation is negative and leaves every population but L6I below rheobase (375 pA),
  so the network falls silent but for L6I; "dc_k1" is the same at N_scaling = 0.1,
  K_scaling = 1 (full in-degrees, no compensation, ~30 M synapses, ~3.6 GB, ~50 s a seed);
- V(0) ~ Normal per population ("optimized", NEST's default), I_syn(0) = 0;
- 100 ms transient (discarded), then 1 s recorded; seeds 1, 2, 3: the seed draws the
  connectivity (NumPy, seed), V(0) (NumPy, 10000 + seed) and Brian2's Poisson draws (b2.seed).

Statistics per population over the recorded second: mean rate (spikes/s, silent neurons
included) and mean ISI CV over neurons with more than two spikes (std/mean of ISIs, ddof 0; the
convention of INM-6/microcircuit-PD14-model helpers.single_neuron_isi_cvs).

The device is cpp_standalone with one thread (openmp_threads = 0, make -j1) when it builds;
otherwise the runtime numpy target. Networks like this are chaotic: only statistics compare.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import brian2 as b2
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
OUT = Path(__file__).resolve().parent / "brian2" / "microcircuit_scale0.1.json"
SEEDS = (1, 2, 3)
SCALE = 0.1
DT_MS = 0.1
T_TRANSIENT_MS = 100.0
T_RECORD_MS = 1000.0
# variant -> (N_scaling, K_scaling, Poisson background?, refractory counting)
# Refractory counting (lifgen's [refractory] counting): "brian2" is Brian2's refractory = t_ref,
# V held for the 19 steps after the spike's step at dt = 0.1 ms; "nest" holds it for 20 steps,
# as NEST's iaf_psc_exp (r_ref = RefractoryCounts = t_ref/dt updates skipped after the spike's),
# done here with Brian2's refractory = t_ref + dt.
VARIANTS = {
    "poisson": (SCALE, SCALE, True, "brian2"),
    "dc": (SCALE, SCALE, False, "brian2"),
    "dc_k1": (SCALE, 1.0, False, "brian2"),
    "poisson_nest_refractory": (SCALE, SCALE, True, "nest"),
}

EQUATIONS = """
dV/dt = -(V - E_L)/tau_m + (I_syn + I_e)/C_m : volt (unless refractory)
dI_syn/dt = -I_syn/tau_syn : amp
I_e : amp (constant)
"""


def load_params():
    spec = importlib.util.spec_from_file_location(
        "microcircuit_params", ROOT / "examples" / "microcircuit_params.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MP = load_params()


NET_DIR: Path | None = None


def choose_device(workdir: Path) -> str:
    """cpp_standalone with one thread if a trivial network builds here, else runtime numpy."""
    global NET_DIR
    NET_DIR = workdir / "net"
    try:
        b2.set_device("cpp_standalone", directory=str(workdir / "probe"), build_on_run=False)
        b2.prefs.devices.cpp_standalone.openmp_threads = 0
        b2.prefs.devices.cpp_standalone.extra_make_args_unix = ["-j1"]
        group = b2.NeuronGroup(2, "dv/dt = -v/(10*ms) : 1", method="exact")
        b2.run(0.1 * b2.ms)
        b2.device.build(directory=str(workdir / "probe"), run=True, compile=True)
        del group
        return "cpp_standalone"
    except Exception as error:  # noqa: BLE001 - any build failure falls back to runtime
        print(f"cpp_standalone unavailable ({error!r}); using the runtime numpy target")
        b2.set_device("runtime")
        b2.prefs.codegen.target = "numpy"
        return "runtime"


def build_and_run(net: dict, seed: int, device: str, counting: str = "brian2") -> dict:
    if device == "cpp_standalone":
        b2.device.reinit()
        b2.device.activate(directory=str(NET_DIR), build_on_run=False)
        b2.prefs.devices.cpp_standalone.openmp_threads = 0
        b2.prefs.devices.cpp_standalone.extra_make_args_unix = ["-j1"]
    b2.start_scope()
    b2.seed(seed)
    b2.defaultclock.dt = DT_MS * b2.ms
    neuron = net["neuron"]
    namespace = {
        "E_L": neuron["E_L"] * b2.mV, "tau_m": neuron["tau_m"] * b2.ms,
        "C_m": neuron["C_m"] * b2.pF, "tau_syn": neuron["tau_syn"] * b2.ms,
        "V_th": neuron["V_th"] * b2.mV, "V_reset": neuron["V_reset"] * b2.mV,
    }
    sizes = net["num_neurons"]
    start = MP.offsets(sizes)
    total = int(sizes.sum())

    t_ref = neuron["t_ref"] + (DT_MS if counting == "nest" else 0.0)
    t0 = time.perf_counter()
    group = b2.NeuronGroup(total, EQUATIONS, threshold="V >= V_th", reset="V = V_reset",
                           refractory=t_ref * b2.ms, method="exact",
                           namespace=namespace, name="microcircuit")
    group.V = MP.draw_initial_v(net, 10000 + seed) * b2.mV
    group.I_syn = 0 * b2.pA
    group.I_e = np.repeat(net["dc"], sizes) * b2.pA

    projections = MP.draw_connectivity(net, seed, dt_ms=DT_MS)
    pre = np.concatenate([p + start[j] for (i, j), (p, _, _, _) in projections.items()])
    post = np.concatenate([q + start[i] for (i, j), (_, q, _, _) in projections.items()])
    weight = np.concatenate([w for (_, _, w, _) in projections.values()])
    delay = np.concatenate([d for (_, _, _, d) in projections.values()])
    synapses = b2.Synapses(group, group, "w : amp", on_pre="I_syn_post += w", name="recurrent")
    synapses.connect(i=pre, j=post)
    synapses.w = weight * b2.pA
    synapses.delay = delay * b2.ms

    objects = [group, synapses]
    if net["poisson_input"]:
        for k in range(len(MP.POPULATIONS)):
            objects.append(b2.PoissonInput(
                group[start[k]:start[k] + sizes[k]], "I_syn", N=int(net["ext_indegrees"][k]),
                rate=net["bg_rate"] * b2.Hz, weight=net["weight_ext"] * b2.pA))
    monitor = b2.SpikeMonitor(group, name="spikes")
    objects.append(monitor)
    network = b2.Network(objects)
    network.run((T_TRANSIENT_MS + T_RECORD_MS) * b2.ms)
    if device == "cpp_standalone":
        b2.device.build(directory=str(NET_DIR), run=True, compile=True)
    wall = time.perf_counter() - t0
    sim_time = float(b2.device._last_run_time) if device == "cpp_standalone" else None

    index = np.asarray(monitor.i[:])
    times = np.asarray(monitor.t[:] / b2.ms)
    keep = times >= T_TRANSIENT_MS
    index, times = index[keep], times[keep]
    order = np.lexsort((times, index))
    index, times = index[order], times[order]
    counts = np.bincount(index, minlength=total)
    bounds = np.searchsorted(index, np.arange(total + 1))

    populations = {}
    for k, name in enumerate(MP.POPULATIONS):
        cvs = []
        for n in range(start[k], start[k] + sizes[k]):
            train = times[bounds[n]:bounds[n + 1]]
            if train.size > 2:
                isi = np.diff(train)
                cvs.append(float(isi.std() / isi.mean()))
        own = counts[start[k]:start[k] + sizes[k]]
        populations[name] = {
            "rate_hz": float(own.mean() / (T_RECORD_MS / 1000.0)),
            "cv_isi": float(np.mean(cvs)) if cvs else None,
            "neurons_with_cv": len(cvs),
            "silent_fraction": float(np.mean(own == 0)),
        }
    return {"seed": seed, "populations": populations, "num_synapses": int(pre.size),
            "wall_s": round(wall, 2),
            "brian2_reported_run_s": None if sim_time is None else round(sim_time, 2)}


def jsonable(value):
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modes", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--seeds", nargs="+", type=int, default=list(SEEDS))
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="b2_microcircuit_"))
    device = choose_device(workdir)
    print(f"device: {device} ({workdir})")
    existing = json.loads(OUT.read_text()) if OUT.exists() else {}
    results = existing.get("results", {})
    for mode in args.modes:
        scale_n, scale_k, poisson_input, counting = VARIANTS[mode]
        net = MP.scaled(scale_n, scale_k, poisson_input=poisson_input)
        runs = []
        for seed in args.seeds:
            run = build_and_run(net, seed, device, counting)
            print(mode, seed, f"wall {run['wall_s']} s", {k: (round(v["rate_hz"], 3),
                  None if v["cv_isi"] is None else round(v["cv_isi"], 3))
                  for k, v in run["populations"].items()})
            runs.append(run)
        results[mode] = {"parameters": jsonable(net), "refractory_counting": counting,
                         "brian2_refractory_ms": net["neuron"]["t_ref"] + (DT_MS if counting == "nest" else 0.0),
                         "runs": runs, "summary": MP.seed_summary(runs)}

    published = {
        "potjans_diesmann_2014_full_scale": MP.PUBLISHED_RATES_PD2014,
        "potjans_diesmann_2014_source": "excitatory rates of Potjans & Diesmann (2014) as quoted "
                                         "in Romaro et al. (2021) Neural Comput. 33:1993, Table "
                                         "A.1 ('NEST trial'); inhibitory ones not quoted there",
        "nest_full_scale_one_run": dict(zip(MP.POPULATIONS, MP.FULL_MEAN_RATES_NEST.tolist())),
        "nest_full_scale_one_run_source": "NEST pynest/examples/Potjans_2014/network_params.py "
                                          "net_dict['full_mean_rates'] (one run, 4 threads)",
        "nest_scale0.1_seed55": dict(zip(MP.POPULATIONS, MP.NEST_SCALE01_REFERENCE_RATES.tolist())),
        "nest_scale0.1_seed55_source": "NEST pynest/examples/Potjans_2014/reference_data/rate*.dat "
                                       "(scale 0.1, Poisson input, 500 ms presim, 1 s, seed 55, "
                                       "NEST master of Dec 2022, 4 threads)",
        "nest_crosscheck": "tests/reference/nest/microcircuit_scale0.1.json: this network in NEST "
                           "3.10 (make_nest_microcircuit_refs.py), seeds 1-3, same settings",
    }
    document = {
        "description": "Brian2 references for the Potjans & Diesmann (2014) microcircuit at "
                       "N_scaling = K_scaling = 0.1 (tests/reference/make_brian2_microcircuit_refs.py)",
        "settings": {
            "scale_n": SCALE, "scale_k": "0.1, except dc_k1: 1", "dt_ms": DT_MS, "transient_ms": T_TRANSIENT_MS,
            "recorded_ms": T_RECORD_MS, "seeds": list(args.seeds) if not existing else
            sorted(set(existing.get("settings", {}).get("seeds", [])) | set(args.seeds)),
            "device": device, "threads": 1, "integration": "method='exact'",
            "v0_type": MP.V0_TYPE, "background_modes": {
                "poisson": "PoissonInput per population onto I_syn, N = round(0.1 K_ext), 8 Hz, "
                           "weight PSC_ext/sqrt(0.1), plus K-scaling DC compensation",
                "dc": "no Poisson input; I_e = 8 Hz * K_ext * PSC_ext * tau_syn plus the recurrent "
                      "K-scaling DC compensation (NEST poisson_input = False); with K_scaling 0.1 "
                      "the DC of every population but L6I is below rheobase (375 pA) and the "
                      "network falls silent but for L6I",
                "dc_k1": "as dc but N_scaling 0.1, K_scaling 1 (full in-degrees, ~30 M synapses, "
                         "no K compensation, DC = 8 Hz * K_ext * PSC_ext * tau_syn)",
                "poisson_nest_refractory": "as poisson but V held for 20 steps after the spike's "
                                           "step (NEST's count; Brian2 refractory = 2.1 ms)"},
            "refractory": "V frozen (unless refractory), I_syn keeps decaying and receiving input; "
                          "'brian2' counting: refractory = 2 ms, V held for the 19 steps after the "
                          "spike's step; 'nest': 20 steps, as iaf_psc_exp",
            "rate": "spikes in [transient, transient + recorded) per neuron / 1 s, silent included",
            "cv_isi": "mean over neurons with > 2 spikes of std(ISI)/mean(ISI), ddof 0",
            "seed_use": "connectivity: numpy default_rng(seed); V0: default_rng(10000 + seed); "
                        "Poisson input: brian2.seed(seed)",
        },
        "versions": {"brian2": b2.__version__, "numpy": np.__version__,
                     "python": sys.version.split()[0], "machine": platform.machine(),
                     "processor_count_note": "2 shared cores, one thread used"},
        "published_rates_hz": published,
        "results": results,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(jsonable(document), indent=1) + "\n")
    print(f"written to {OUT}")


if __name__ == "__main__":
    main()
