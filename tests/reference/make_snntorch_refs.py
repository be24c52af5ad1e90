"""Write snnTorch conformance references for lifgen's tests (small .npz files, versions recorded).

Run in a throwaway environment; lifgen's own tests never need torch:

    python3 -m venv /tmp/torchenv
    /tmp/torchenv/bin/pip install torch==2.13.0 numpy      # the CPU build on these machines
    /tmp/torchenv/bin/pip install --no-deps snntorch==1.0.0
    /tmp/torchenv/bin/python tests/reference/make_snntorch_refs.py

Each case file holds the inputs, parameters and initial states given to snnTorch, every state
and spike it returned step by step (named as lifgen names them), and a JSON `config` saying how
to compile and run the same case with lifgen.
"""

import json
import sys
from pathlib import Path

import numpy as np
import snntorch
import snntorch as snn
import torch
from snntorch import spikegen
from snntorch.functional import quant

OUT = Path(__file__).resolve().parent / "snntorch"
VERSIONS = {"snntorch": snntorch.__version__, "torch": torch.__version__,
            "numpy": np.__version__, "python": sys.version.split()[0]}

# lifgen state name -> snnTorch's, in the order each class's forward() takes them.
STATES = {
    "lapicque": ["V"], "leaky": ["V"], "synaptic": ["I_syn", "V"],
    "alpha": ["I_exc", "I_inh", "V"], "rleaky": ["V"], "rsynaptic": ["I_syn", "V"],
}
RECURRENT = {"rleaky", "rsynaptic"}


def simulate(neuron, model, inputs, initial):
    """Step an snnTorch neuron with explicit states; return spikes and every state, per step."""
    states = [torch.tensor(initial[name]) for name in STATES[model]]
    if model in RECURRENT:
        states.insert(0, torch.zeros_like(torch.tensor(inputs[0])))
    records = {name: [] for name in ["spikes", *STATES[model]]}
    with torch.no_grad():
        for x in inputs:
            out = neuron(torch.tensor(x), *states)
            spk, new_states = out[0], list(out[1:])
            states = ([spk] if model in RECURRENT else []) + new_states
            records["spikes"].append(spk.numpy() != 0)
            for name, value in zip(STATES[model], new_states):
                records[name].append(value.numpy().copy())
    return {k: np.array(v) for k, v in records.items()}


def write(name, model, neuron, inputs, initial, compile_kwargs=None, params=None,
          connections=None, note="", snntorch_bug=False):
    inputs = np.asarray(inputs, np.float32)
    shape = inputs.shape[1:]
    initial = {k: np.broadcast_to(np.float32(initial.get(k, 0.0)), shape).astype(np.float32)
               for k in STATES[model]}
    result = simulate(neuron, model, inputs, initial)
    arrays = {"input_I": inputs, **{f"out_{k}": v for k, v in result.items()}}
    arrays.update({f"initial_{k}": v for k, v in initial.items()})
    config = {"model": model, "compile": dict(compile_kwargs or {}, dtype="float32"),
              "params": {}, "connections": [], "note": note, "snntorch_bug": snntorch_bug,
              "versions": VERSIONS, "n_neurons": int(shape[-1])}
    for key, value in (params or {}).items():
        if np.ndim(value):
            arrays[f"param_{key}"] = np.asarray(value, np.float32)
            config["params"][key] = "array"
        else:
            config["params"][key] = float(value)
    for key, value in (connections or {}).items():
        arrays[f"connection_{key}"] = np.asarray(value, np.float32)
        config["connections"].append(key)
    if "state_quant" in config["compile"]:
        arrays["state_quant"] = np.asarray(config["compile"].pop("state_quant"), np.float32)
    np.savez_compressed(OUT / f"{name}.npz", config=json.dumps(config), **arrays)
    print(f"{name:42s} {int(result['spikes'].sum()):5d} spikes")


def drive(seed, steps=60, shape=(6,), low=-0.1, high=0.7):
    return np.random.default_rng(seed).uniform(low, high, (steps, *shape)).astype(np.float32)


def start(seed, shape=(6,), high=1.6):
    """Initial membranes, some above threshold, so the reset at step 0 comes from them."""
    return np.random.default_rng(seed).uniform(0.0, high, shape).astype(np.float32)


def quant_levels(q):
    for cell in q.__closure__ or ():
        if isinstance(cell.cell_contents, torch.Tensor):
            return cell.cell_contents.numpy()
    raise RuntimeError("cannot find the levels of snntorch's state_quant")


def classes():
    """Every class x reset x reset_delay."""
    beta, alpha, seed = 0.85, 0.6, 0
    for reset in ("subtract", "zero", "none"):
        for delay in (True, False):
            seed += 1
            tag = f"{reset}_{'delay' if delay else 'nodelay'}"
            x, v0 = drive(seed), start(seed)
            kw = dict(reset_mechanism=reset, reset_delay=delay)
            lk = dict(reset=reset, reset_delay=delay)
            write(f"leaky_{tag}", "leaky", snn.Leaky(beta=beta, **kw), x, {"V": v0}, lk,
                  {"beta": beta})
            write(f"synaptic_{tag}", "synaptic", snn.Synaptic(alpha=alpha, beta=beta, **kw), x,
                  {"V": v0, "I_syn": v0 / 4}, lk, {"alpha": alpha, "beta": beta})
            w = np.random.default_rng(seed).uniform(-0.5, 0.5, 6).astype(np.float32)
            write(f"rleaky_{tag}", "rleaky",
                  snn.RLeaky(beta=beta, V=torch.tensor(w), all_to_all=False, **kw), x, {"V": v0},
                  lk, {"beta": beta}, {"rec": w})
            write(f"rsynaptic_{tag}", "rsynaptic",
                  snn.RSynaptic(alpha=alpha, beta=beta, V=torch.tensor(w), all_to_all=False, **kw),
                  x, {"V": v0, "I_syn": v0 / 4}, lk, {"alpha": alpha, "beta": beta}, {"rec": w},
                  snntorch_bug=not delay,
                  note="snnTorch 1.0.0 ignores reset_delay=False in RSynaptic" if not delay else "")
        x, v0 = drive(seed + 10), start(seed + 10)
        write(f"lapicque_{reset}", "lapicque",
              snn.Lapicque(R=5.1, C=5e-3, time_step=1e-3, reset_mechanism=reset), x,
              {"V": v0}, dict(reset=reset, dt=1e-3), {"R": 5.1, "C": 5e-3})
        write(f"alpha_{reset}", "alpha", snn.Alpha(alpha=0.8, beta=0.7, reset_mechanism=reset),
              x, {"V": v0 / 2}, dict(reset=reset), {"alpha": 0.8, "beta": 0.7})
    write("lapicque_beta", "lapicque", snn.Lapicque(beta=0.9), drive(40) * 3, {"V": start(40)},
          dict(dt=1.0), {"beta": 0.9}, note="Lapicque(beta=0.9): R = 1, C = dt/ln(1/beta), dt = 1")


def options():
    """graded spikes, inhibition, state quantisation, per-neuron beta and threshold, batches."""
    x, v0 = drive(50), start(50)
    for reset, delay in (("subtract", True), ("subtract", False), ("zero", False)):
        write(f"leaky_graded_{reset}_{delay}", "leaky",
              snn.Leaky(beta=0.8, graded_spikes_factor=2.5, reset_mechanism=reset,
                        reset_delay=delay), x, {"V": v0},
              dict(graded_spikes=2.5, reset=reset, reset_delay=delay), {"beta": 0.8})
    xb, vb = drive(51, shape=(3, 6), high=0.9), start(51, shape=(3, 6))
    for reset in ("subtract", "zero"):
        write(f"leaky_inhibition_{reset}", "leaky",
              snn.Leaky(beta=0.8, inhibition=True, reset_mechanism=reset), xb, {"V": vb},
              dict(inhibition=True, reset=reset), {"beta": 0.8})
    write("synaptic_inhibition", "synaptic", snn.Synaptic(alpha=0.5, beta=0.8, inhibition=True),
          xb, {"V": vb}, dict(inhibition=True), {"alpha": 0.5, "beta": 0.8})
    q = quant.state_quant(num_bits=4, uniform=True, threshold=1.0)
    levels = quant_levels(q)
    for model, neuron, params in (
            ("leaky", snn.Leaky(beta=0.8, state_quant=q), {"beta": 0.8}),
            ("synaptic", snn.Synaptic(alpha=0.5, beta=0.8, state_quant=q),
             {"alpha": 0.5, "beta": 0.8})):
        write(f"{model}_state_quant", model, neuron, x, {"V": v0},
              dict(state_quant=levels.tolist()), params)
    write("leaky_state_quant_nodelay", "leaky", snn.Leaky(beta=0.8, state_quant=q,
                                                          reset_delay=False),
          x, {"V": v0}, dict(state_quant=levels.tolist(), reset_delay=False), {"beta": 0.8})
    betas = np.linspace(0.3, 1.2, 6).astype(np.float32)  # 1.2 is clamped to 1
    thresholds = np.linspace(0.5, 1.5, 6).astype(np.float32)
    write("leaky_per_neuron", "leaky",
          snn.Leaky(beta=torch.tensor(betas), threshold=torch.tensor(thresholds)), x, {"V": v0},
          {}, {"beta": betas, "threshold": thresholds})
    alphas = np.linspace(-0.2, 0.9, 6).astype(np.float32)  # -0.2 is clamped to 0
    write("synaptic_per_neuron", "synaptic",
          snn.Synaptic(alpha=torch.tensor(alphas), beta=torch.tensor(betas),
                       threshold=torch.tensor(thresholds)), x, {"V": v0}, {},
          {"alpha": alphas, "beta": betas, "threshold": thresholds})
    write("leaky_batch", "leaky", snn.Leaky(beta=0.9), xb, {"V": vb}, {}, {"beta": 0.9})
    write("synaptic_batch", "synaptic", snn.Synaptic(alpha=0.7, beta=0.9), xb, {"V": vb}, {},
          {"alpha": 0.7, "beta": 0.9})


def recurrence():
    """Dense recurrence through nn.Linear (weights and bias from a seeded default initialisation)."""
    torch.manual_seed(0)
    for model, cls, params in (("rleaky", snn.RLeaky, {"beta": 0.8}),
                               ("rsynaptic", snn.RSynaptic, {"alpha": 0.5, "beta": 0.8})):
        neuron = cls(**params, linear_features=6)
        W = neuron.recurrent.weight.detach().numpy().copy()
        b = neuron.recurrent.bias.detach().numpy().copy()
        write(f"{model}_dense", model, neuron, drive(60, high=0.9), {"V": start(60)}, {},
              dict(params, b_rec=b), {"rec": W})
        neuron = cls(**params, linear_features=6)
        W = neuron.recurrent.weight.detach().numpy().copy()
        b = neuron.recurrent.bias.detach().numpy().copy()
        write(f"{model}_dense_batch", model, neuron, drive(61, shape=(2, 6), high=0.9),
              {"V": start(61, shape=(2, 6))}, {}, dict(params, b_rec=b), {"rec": W})


def tutorial2():
    """snnTorch tutorial 2's experiments, one neuron each."""
    lif1 = dict(R=5, C=1e-3, time_step=1e-3)
    compile1 = dict(dt=1e-3)
    step = np.zeros((200, 1), np.float32)
    step[10:] = 0.1
    cases = [
        ("no_stimulus", lif1, np.zeros((100, 1)), 0.9, {}),
        ("step", lif1, step, 0.0, {}),
        ("pulse1", lif1, _pulse(0.1, 10, 30), 0.0, {}),
        ("pulse2", lif1, _pulse(0.111, 10, 20), 0.0, {}),
        ("pulse3", lif1, _pulse(0.147, 10, 15), 0.0, {}),
        ("spike_current", lif1, _pulse(0.5, 10, 11), 0.0, {}),
        ("firing_0_2", dict(R=5.1, C=5e-3, time_step=1e-3), _pulse(0.2, 10, 200), 0.0, {}),
        ("firing_0_3", dict(R=5.1, C=5e-3, time_step=1e-3), _pulse(0.3, 10, 200), 0.0, {}),
        ("threshold_0_5", dict(R=5.1, C=5e-3, time_step=1e-3, threshold=0.5),
         _pulse(0.3, 10, 200), 0.0, {}),
    ]
    torch.manual_seed(0)
    spikes_in = spikegen.rate_conv(torch.ones((200, 1)) * 0.40).numpy()
    cases += [
        ("spike_input", dict(R=5.1, C=5e-3, time_step=1e-3, threshold=0.5), spikes_in, 0.5, {}),
        ("reset_zero", dict(R=5.1, C=5e-3, time_step=1e-3, threshold=0.5,
                            reset_mechanism="zero"), spikes_in, 0.5, {"reset": "zero"}),
    ]
    for name, kw, x, v0, extra in cases:
        params = {"R": kw["R"], "C": kw["C"], "threshold": kw.get("threshold", 1.0)}
        write(f"tutorial2_{name}", "lapicque", snn.Lapicque(**kw), x, {"V": v0},
              dict(compile1, **extra), params, note=f"snnTorch tutorial 2: {name}")


def _pulse(amplitude, first, stop, steps=200):
    x = np.zeros((steps, 1), np.float32)
    x[first:stop] = amplitude
    return x


if __name__ == "__main__":
    OUT.mkdir(exist_ok=True)
    for old in OUT.glob("*.npz"):
        if not old.name.startswith("network_"):  # make_snntorch_network_refs.py writes those
            old.unlink()
    classes()
    options()
    recurrence()
    tutorial2()
    (OUT / "VERSIONS.json").write_text(json.dumps(VERSIONS, indent=1) + "\n")
