"""The COBA network of Brette et al. (2007), benchmark 1, built in this file: copy it and edit.

4000 leaky integrate-and-fire neurons with conductance-based exponential synapses, the first
3200 excitatory; each pair connected with probability 0.02; 1 s at dt = 0.1 ms. The numbers are
those of Brian2's examples/COBA.py.

    python examples/coba.py [--seed N] [--duration MS] [--json] [--plot coba.png]
"""

import argparse
import json

import numpy as np

import lifgen

# The network's numbers
N = 4000             # neurons
N_EXC = 3200         # the first 3200 are excitatory, the other 800 inhibitory
P_CONNECT = 0.02     # each (pre, post) pair is connected with this probability
W_EXC = 0.6          # excitatory jump of g_e, in units of the leak conductance (Brian2: 6/10)
W_INH = 6.7          # inhibitory jump of g_i, likewise (Brian2: 67/10)
DRIVE = 20.0         # the model's input I, in mV: without it the network stays silent
DT = 0.1             # ms


def build(seed=0, n=N, n_exc=N_EXC):
    """The compiled neuron model, the initial membrane potentials and the synapses."""
    # The neuron model: models/lif_coba.toml (`lifgen show lif_coba` prints its equations):
    #   tau_m dV/dt = E_L - V + g_e (E_e - V) + g_i (E_i - V) + I,  g_e and g_i decaying,
    #   spike at V > V_t, then V = V_r for a 5 ms refractory period.
    simulator = lifgen.compile("lif_coba", dt=DT)
    V_r, V_t = simulator.model.defaults["V_r"], simulator.model.defaults["V_t"]
    rng = np.random.default_rng(seed)
    initial = {"V": V_r + rng.random(n) * (V_t - V_r)}  # uniform between reset and threshold
    # The connectivity: one Sparse per synapse type of the model, over all n neurons. pre= picks
    # the senders (excitatory neurons send "exc" events, which add W_EXC to g_e; inhibitory ones
    # "inh"); self-connections are kept, as in Brian2's example. Delay: one step.
    synapses = {
        "exc": lifgen.Sparse.random(n_pre=n, n_post=n, p=P_CONNECT, weight=W_EXC,
                                    pre=np.arange(n_exc), allow_autapses=True, seed=seed + 1),
        "inh": lifgen.Sparse.random(n_pre=n, n_post=n, p=P_CONNECT, weight=W_INH,
                                    pre=np.arange(n_exc, n), allow_autapses=True, seed=seed + 2),
    }
    return simulator, initial, synapses


def run(seed=0, duration_ms=1000.0, n=N, n_exc=N_EXC):
    """Simulate the network; the Result keeps every spike as (step, neuron) events."""
    simulator, initial, synapses = build(seed, n, n_exc)
    return simulator.run(int(round(duration_ms / DT)), n, inputs={"I": DRIVE}, initial=initial,
                         connections=synapses, record=[], spikes="events")


def statistics(result, n_exc=N_EXC):
    """Mean rates (Hz) of the excitatory and inhibitory neurons, and the mean coefficient of
    variation of the inter-spike intervals of excitatory neurons with more than 3 spikes."""
    rates = result.rates  # per neuron, in Hz (the model's time unit is ms)
    steps, neurons = result.spike_events
    cvs = []
    for neuron in np.flatnonzero(result.spike_count[:n_exc] > 3):
        intervals = np.diff(steps[neurons == neuron]) * DT
        cvs.append(intervals.std() / intervals.mean())
    return {"rate_exc_hz": float(rates[:n_exc].mean()), "rate_inh_hz": float(rates[n_exc:].mean()),
            "cv_isi_exc": float(np.mean(cvs)) if cvs else float("nan"),
            "spikes": int(result.spike_count.sum())}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0, help="seed of V0 and the connectivity")
    parser.add_argument("--duration", type=float, default=1000.0, help="simulated time in ms")
    parser.add_argument("--json", action="store_true", help="print one JSON object, no figure")
    parser.add_argument("--plot", default="coba.png", help="where to draw the raster")
    args = parser.parse_args(argv)
    result = run(args.seed, args.duration)
    stats = dict(statistics(result), network="coba", seed=args.seed, duration_ms=args.duration)
    if args.json:
        print(json.dumps(stats))
        return stats
    print(f"COBA: {stats['rate_exc_hz']:.2f} Hz excitatory, {stats['rate_inh_hz']:.2f} Hz "
          f"inhibitory, mean CV of ISIs {stats['cv_isi_exc']:.3f}, {stats['spikes']} spikes in "
          f"{args.duration:g} ms")
    result.plot_raster(args.plot, bin="5 ms")  # the raster over the population rate
    print(f"raster and population rate: {args.plot}")
    return stats


if __name__ == "__main__":
    main()
