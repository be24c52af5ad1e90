"""The Potjans & Diesmann (2014) cortical microcircuit in lifgen: 8 populations of NEST's
iaf_psc_exp (layers 2/3, 4, 5 and 6, excitatory and inhibitory), the published connection
probabilities, weights, delays and Poisson background (examples/microcircuit_params.py, from
NEST's pynest/examples/Potjans_2014), compiled as one lifgen.Network program.

    python examples/microcircuit.py [--scale 0.1] [--seed 1] [--json] [--plot microcircuit.png]

--scale scales the neuron numbers and the in-degrees together, with NEST's DC compensation of
the missing inputs (the weights grow by 1/sqrt(scale)). It prints each population's mean rate
over the last second of --duration (the first 100 ms are a transient), or with --json one JSON
object keyed by population (L23E, L23I, L4E, ...) with the rates, ISI CVs and timings.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

import lifgen

sys.path.insert(0, str(Path(__file__).resolve().parent))
import microcircuit_params as params  # noqa: E402

DT = 0.1  # ms
TRANSIENT = 100.0  # ms, discarded


def network(scale=0.1, seed=1, poisson=True, dtype=np.float32):
    """The scaled microcircuit as a lifgen.Network, its synapses drawn with `seed`."""
    net_params = params.scaled(scale, scale, poisson_input=poisson)
    v0 = params.draw_initial_v(net_params, seed + 1)
    neuron = net_params["neuron"]
    sizes, starts = net_params["num_neurons"], params.offsets(net_params["num_neurons"])
    net = lifgen.Network(dt=f"{DT} ms")
    for i, name in enumerate(params.POPULATIONS):
        n = int(sizes[i])
        net.add(name, "iaf_psc_exp", n, initial={"V": v0[starts[i]:starts[i] + n]},
                params={"C_m": neuron["C_m"], "tau_m": neuron["tau_m"],
                        "tau_syn_ex": neuron["tau_syn"], "tau_syn_in": neuron["tau_syn"],
                        "E_L": neuron["E_L"], "V_th": neuron["V_th"],
                        "V_reset": neuron["V_reset"], "t_ref": neuron["t_ref"],
                        "I_e": float(net_params["dc"][i])})
        if poisson:
            net.add_source(f"{name}_background", lifgen.PoissonInput(
                n, f"{net_params['bg_rate']} Hz", sources=int(net_params["ext_indegrees"][i]),
                seed=1000 * seed + i))
            net.connect(f"{name}_background", name, "exc",
                        ("one_to_one", net_params["weight_ext"]), delay=1)
    # one projection at a time: at full scale (0.3 billion synapses) the draws of all at once
    # would not fit beside the network
    for (i, j), (pre, post, weight, delay) in params.iter_connectivity(net_params, seed, DT):
        if not len(pre):
            continue
        steps = np.maximum(np.rint(delay / DT).astype(np.int64), 1)  # NEST's delays in steps
        net.connect(params.POPULATIONS[j], params.POPULATIONS[i],
                    "exc" if params.EXCITATORY[j] else "inh",
                    lifgen.Sparse.from_arrays(pre, post, weight.astype(dtype), steps,
                                              n_pre=int(sizes[j]), n_post=int(sizes[i])))
    return net


def statistics(result, duration):
    """Rate (Hz) and mean ISI CV (neurons with at least 3 spikes) of each population over the
    time after the transient."""
    first = int(round(TRANSIENT / DT))
    seconds = (duration - TRANSIENT) / 1000.0
    out = {}
    for name in params.POPULATIONS:
        steps, neurons = result[name].spike_events
        keep = steps >= first
        steps, neurons = steps[keep], neurons[keep]
        n = result[name].n_neurons
        order = np.lexsort((steps, neurons))
        steps, neurons = steps[order], neurons[order]
        cvs = []
        bounds = np.searchsorted(neurons, np.arange(n + 1))
        for k in range(n):
            train = steps[bounds[k]:bounds[k + 1]]
            if train.size >= 3:
                intervals = np.diff(train).astype(float)
                cvs.append(intervals.std() / intervals.mean())
        out[name] = {"rate_hz": float(steps.size / n / seconds),
                     "cv_isi": float(np.mean(cvs)) if cvs else float("nan")}
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=0.1, help="neurons and in-degrees scale")
    parser.add_argument("--seed", type=int, default=1, help="seed of synapses, V0, background")
    parser.add_argument("--duration", type=float, default=1100.0, help="simulated ms")
    parser.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--plot", default=None, help="draw a raster of the first 100 ms after "
                        "the transient here (needs matplotlib)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    net = network(args.scale, args.seed, dtype=np.dtype(args.dtype).type)
    built = time.perf_counter()
    simulator = net.compile(dtype=args.dtype)
    compiled = time.perf_counter()
    result = simulator.run(f"{args.duration} ms", spikes="events")
    ran = time.perf_counter()
    stats = statistics(result, args.duration)
    timing = {"build_s": built - start, "compile_s": compiled - built, "run_s": ran - compiled,
              "simulated_s": args.duration / 1000.0,
              "synapses": int(sum(p.n_synapses for p in net.projections
                                  if p.kind == "sparse")),
              "neurons": int(sum(p.n for n, p in net.populations.items()
                                 if not n.endswith("_background")))}
    if args.json:
        print(json.dumps({**stats, "scale": args.scale, "seed": args.seed, "timing": timing}))
        return stats
    print(f"Potjans-Diesmann microcircuit at scale {args.scale:g}: {timing['neurons']} neurons, "
          f"{timing['synapses']} synapses; {args.duration - TRANSIENT:g} ms after a "
          f"{TRANSIENT:g} ms transient")
    for name, values in stats.items():
        print(f"  {name:5s} {values['rate_hz']:6.2f} Hz   CV {values['cv_isi']:.2f}")
    print(f"built in {timing['build_s']:.1f} s, compiled in {timing['compile_s']:.1f} s, "
          f"{args.duration / 1000:g} s simulated in {timing['run_s']:.2f} s")
    if args.plot:
        _raster(result, args.plot)
        print(f"raster: {args.plot}")
    return stats


def _raster(result, path):
    from lifgen.results.plotting import pyplot

    plt = pyplot()
    figure, axes = plt.subplots(figsize=(8, 5))
    first, last, base = int(TRANSIENT / DT), int((TRANSIENT + 100) / DT), 0
    for k, name in enumerate(params.POPULATIONS):
        steps, neurons = result[name].spike_events
        keep = (steps >= first) & (steps < last)
        axes.plot(steps[keep] * DT, base + neurons[keep], ",",
                  color="tab:blue" if params.EXCITATORY[k] else "tab:red")
        base += result[name].n_neurons
    axes.set_xlabel("time (ms)")
    axes.set_ylabel("neuron (L2/3 at the bottom, L6 at the top)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


if __name__ == "__main__":
    main()
