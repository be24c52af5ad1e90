"""The COBA network of Brette et al. (2007) as two populations, E (3200) and I (800), joined by
four projections: a lifgen.Network, compiled as one program. The same synapses as
examples/coba.py's single population, so the same spikes, bit for bit.

    python examples/coba_ei.py [--seed N] [--json] [--plot coba_ei.png] [--duration 1000]
"""

import argparse
import json

import numpy as np

from lifgen.tools import brette2007


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0, help="seed of V0 and the connectivity")
    parser.add_argument("--json", action="store_true", help="print one JSON object, no figure")
    parser.add_argument("--plot", default="coba_ei.png", help="where to draw the raster")
    parser.add_argument("--duration", type=float, default=1000.0, help="simulated time in ms")
    args = parser.parse_args(argv)
    spec = brette2007.NETWORKS["coba"]
    net = brette2007.network("coba", args.seed + 1)
    rng = np.random.default_rng(args.seed)
    model = net.populations["E"].model
    V_r, V_t = model.defaults["V_r"], model.defaults["V_t"]
    V0 = V_r + rng.random(brette2007.N) * (V_t - V_r)
    net.populations["E"].initial = {"V": V0[:brette2007.N_EXC]}
    net.populations["I"].initial = {"V": V0[brette2007.N_EXC:]}
    result = net.compile().run(f"{args.duration} ms", spikes="events",
                               inputs={"E": {"I": spec.drive}, "I": {"I": spec.drive}})
    stats = {"rate_exc_hz": float(result["E"].rates.mean()),
             "rate_inh_hz": float(result["I"].rates.mean()),
             "cv_isi_exc": _mean_cv(result["E"]), "seed": args.seed,
             "duration_ms": args.duration, "network": "coba_ei"}
    if args.json:
        print(json.dumps(stats))
        return stats
    print(f"COBA as E and I populations: {stats['rate_exc_hz']:.2f} Hz excitatory, "
          f"{stats['rate_inh_hz']:.2f} Hz inhibitory, mean CV of ISIs {stats['cv_isi_exc']:.3f}")
    figure = result["E"].plot_raster(path=args.plot)
    print(f"raster of the excitatory population: {args.plot}" if figure is not None else "")
    return stats


def _mean_cv(result):
    """The mean coefficient of variation of the inter-spike intervals of neurons with more than
    three spikes (as examples/coba.py reports it)."""
    steps, neurons = result.spike_events
    cvs = []
    for neuron in np.flatnonzero(np.asarray(result.spike_count).ravel() > 3):
        intervals = np.diff(steps[neurons == neuron]).astype(float)
        cvs.append(intervals.std() / intervals.mean())
    return float(np.mean(cvs)) if cvs else float("nan")


if __name__ == "__main__":
    main()
