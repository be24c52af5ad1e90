"""Write snnTorch references for a three-layer feed-forward network (lifgen issue 20, "Networks").

Run in the same throwaway environment as make_snntorch_refs.py; lifgen's tests never need torch:

    python3 -m venv /tmp/torchenv
    /tmp/torchenv/bin/pip install torch==2.13.0 numpy      # the CPU build on these machines
    /tmp/torchenv/bin/pip install --no-deps snntorch==1.0.0
    /tmp/torchenv/bin/python tests/reference/make_snntorch_network_refs.py

It writes tests/reference/snntorch/network_<reset>_<dtype>.npz for reset in (subtract, zero) and
dtype in (float32, float64), and checks each against an independent NumPy implementation of the
equations below (it raises if they disagree).

The network (snnTorch tutorial style, explicit membranes, init_hidden=False)
-----------------------------------------------------------------------------
    fc1 = nn.Linear(12, 16); lif1 = snn.Leaky(beta=0.9,  threshold=1.0, reset_mechanism=RESET)
    fc2 = nn.Linear(16, 10); lif2 = snn.Leaky(beta=0.8,  threshold=1.0, reset_mechanism=RESET)
    fc3 = nn.Linear(10, 4);  lif3 = snn.Leaky(beta=0.95, threshold=1.0, reset_mechanism=RESET)
    mem1, mem2, mem3 = lif1.init_leaky(), lif2.init_leaky(), lif3.init_leaky()  # empty -> zeros
    for t in range(T):
        cur1 = fc1(x[t]);            spk1, mem1 = lif1(cur1, mem1)
        cur2 = fc2(spk1.to(dtype));  spk2, mem2 = lif2(cur2, mem2)
        cur3 = fc3(spk2.to(dtype));  spk3, mem3 = lif3(cur3, mem3)

All other Leaky arguments are the defaults: reset_delay=True, graded_spikes_factor=1,
inhibition=False, state_quant=False, surrogate ATan (its forward is a plain step). Every layer of
step t runs before any layer of step t+1, and a spike of layer l at step t drives layer l+1 in
the same step t (delay 0). x has shape (T, batch, 12); T = 40, batch = 3, Bernoulli(0.3) spikes.

The per-step equations (snntorch 1.0.0: _neurons/leaky.py Leaky.forward L196-236, _base_sub /
_base_zero L238-247; _neurons/neurons.py fire L73-85, mem_reset L102-108; surrogate.py ATan)
---------------------------------------------------------------------------------------------
H(v) = 1 if v > 0 else 0 (strict; surrogate forward is `(input_ > 0).float()`). fl() is one
rounding to the working dtype; CPU torch rounds every elementwise op separately (no FMA).
S_0[t] = x[t]; U_l[-1] = 0 for l = 1, 2, 3 (init_leaky returns an empty tensor, and forward
replaces a state whose shape differs from the input's by zeros_like(input)). For t = 0..T-1 and
l = 1, 2, 3 in this order:

    I_l[t] = fc_l(S_{l-1}[t]) = S_{l-1}[t] @ W_l^T + b_l       (torch addmm, summation order: BLAS)
    r_l[t] = H(fl(U_l[t-1] - theta))    = [U_l[t-1] > theta]   # from the PREVIOUS step's membrane
                                                                # (mem_reset, detached), r_l[0] = 0
    subtract (default):  U_l[t] = fl( fl( fl(beta_l * U_l[t-1]) + I_l[t] ) - fl(r_l[t] * theta) )
    zero:                U_l[t] = fl( fl(beta_l * fl((1 - r_l[t]) * U_l[t-1])) + I_l[t] )
    S_l[t] = H(fl(U_l[t] - theta))      = [U_l[t] > theta]     # from the NEW membrane, same step

  * beta is used as beta.clamp(0, 1) (no effect for 0.9, 0.8, 0.95). theta = 1.0 is exact.
  * r_l[t] == S_l[t-1] here (g = 1, no inhibition, no quantisation), so subtract is
    U[t] = beta*U[t-1] + I[t] - theta*S[t-1]: the reset lags the spike by one step (the membrane
    returned at a spike step is still above theta). With r in {0, 1} and theta = 1, r*theta is
    exact, and subtracting 0 changes nothing.
  * zero reset (Leaky since v0.8.0) zeroes only the OLD membrane and keeps the input: the step
    after a spike gives U[t] = I[t] exactly (beta*0 + I). It is not "U[t] = 0".
  * Equality: U == theta gives NO spike and NO reset at the next step (strict > both times). For
    finite floats fl(U - theta) > 0 iff U > theta, so either form may be generated.
  * reset_delay=True (the default) skips the correction block (leaky.py L222-229), so it has no
    effect here. reset_delay=False would instead apply U -= (S - r)*theta (subtract) or
    U -= (S - r)*U (zero) after the spike, i.e. an immediate reset; not used in these files.
  * The spike returned is float32 (`.float()`) in every dtype.

float64 (the `.double()` case): what differs from float32
----------------------------------------------------------
  * Modules are built as above and then `.to(torch.float64)`; inputs are float64. The spikes
    snnTorch returns stay float32, so `fc2(spk1)` raises "mat1 and mat2 must have the same
    dtype"; the forward casts them with `.to(torch.float64)` (exact: 0 or 1).
  * beta: `snn.Leaky(beta=0.9).double()` would use float64(float32(0.9)) = 0.8999999761581421
    (the Python float becomes a float32 0-d buffer first). These files pass beta as a float64
    tensor, so float64 runs use beta = 0.9 exactly (the npz records the value used: lif*_beta).
  * The reset signal r is float32 too, and r*theta is then float32 (a 0-d float64 tensor does not
    promote a float32 tensor): with a threshold not representable in float32, float64 snnTorch
    subtracts float32(theta) but compares with float64 theta. Irrelevant here (theta = 1.0).
  * Weights and biases are the float32 values below, cast exactly to float64 (same numbers in
    both dtypes); only the arithmetic differs.

Weights: torch.manual_seed(WEIGHT_SEED), nn.Linear's default init for fc1, fc2, fc3 in this order,
then weight and bias multiplied by GAIN (in float32) so that every layer spikes 10-40% of the
time. Inputs: torch.Generator().manual_seed(INPUT_SEED), torch.bernoulli(full(p = 0.3)).

Each file holds: input (T, batch, 12); fc{1,2,3}_weight (out, in) and fc{1,2,3}_bias (out,);
lif{1,2,3}_beta and lif{1,2,3}_threshold (0-d); per step and layer cur{l} (the fc output, the
Leaky's input), spk{l} (float32 0/1, as snnTorch returns it) and mem{l} (T, batch, h_l); and a
JSON `config` (sizes, betas, threshold, reset, dtype, forward order, seeds, versions, and the
NumPy check's differences).

The NumPy check (same dtype): (a) the whole network in NumPy, Linear as `S @ W.T + b`: spikes must
equal snnTorch's exactly and mem agree to 1e-6 (float32) / 1e-12 (float64); (b) the neuron
equations alone, fed with snnTorch's own cur{l}: mem must be bit-identical; (c) the Linear alone
(snnTorch's cur{l} against several summation orders), to tell whether float32 bit-equality with
torch's matmul is reachable. Results are printed and stored in config["numpy_check"].

What the check found (torch 2.13.0+cpu, MKL sgemm, AVX512 CPU capability, 1 thread):
  * Both dtypes: NumPy reproduces every spike and every mem bit for bit (max |diff| 0).
  * float64: the Linear is order-independent here: every partial sum of at most 16 float32
    weights is exact in float64, so all summation orders give the same (exact) current.
  * float32: torch's Linear here (batch 3, in <= 16) equals `acc = 0; acc += W[:, k]*S[k] for
    k = 0, 1, ..; acc + b` (and NumPy's S @ W.T + b) bit for bit; adding the bias first, or rounding
    the exact sum once, differs in 20-40% of the currents by 1-2 ulp (<= 4.8e-7). So bit-equality
    is possible for THESE files, by summing the spiking inputs in index order and adding the bias
    last. It is not a property of torch in general: probing nn.Linear on this machine, batch 1
    (gemv) differs from that order already at in = 12, batch 3 at in >= 100, batch 128 at
    in = 1000, and the same input row gives different bits at batch 1 and batch 3. A different
    CPU (MKL dispatches by ISA) or thread count may change it. Outside such small cases, expect
    float32 agreement to ~1e-6 with identical spikes (unless a membrane lands within an ulp of
    theta), not bit-equality.
"""

import json
import sys
from pathlib import Path

import numpy as np
import snntorch
import snntorch as snn
import torch

OUT = Path(__file__).resolve().parent / "snntorch"
VERSIONS = {"snntorch": snntorch.__version__, "torch": torch.__version__,
            "numpy": np.__version__, "python": sys.version.split()[0]}

SIZES = (12, 16, 10, 4)
BETAS = (0.9, 0.8, 0.95)
THRESHOLD = 1.0
T, BATCH, P_INPUT = 40, 3, 0.3
WEIGHT_SEED, INPUT_SEED, GAIN = 1, 1, 3.0
RESETS = ("subtract", "zero")
DTYPES = {"float32": torch.float32, "float64": torch.float64}
TOLERANCE = {"float32": 1e-6, "float64": 1e-12}
FORWARD = ("mem1 = lif1.init_leaky(); mem2 = lif2.init_leaky(); mem3 = lif3.init_leaky()\n"
           "for t in range(T):\n"
           "    cur1 = fc1(x[t]); spk1, mem1 = lif1(cur1, mem1)\n"
           "    cur2 = fc2(spk1.to(dtype)); spk2, mem2 = lif2(cur2, mem2)\n"
           "    cur3 = fc3(spk2.to(dtype)); spk3, mem3 = lif3(cur3, mem3)")


def linears():
    """fc1, fc2, fc3 in float32: seeded default initialisation times GAIN."""
    torch.manual_seed(WEIGHT_SEED)
    layers = [torch.nn.Linear(n_in, n_out) for n_in, n_out in zip(SIZES, SIZES[1:])]
    with torch.no_grad():
        for fc in layers:
            fc.weight.mul_(GAIN)
            fc.bias.mul_(GAIN)
    return layers


def inputs():
    generator = torch.Generator().manual_seed(INPUT_SEED)
    return torch.bernoulli(torch.full((T, BATCH, SIZES[0]), P_INPUT), generator=generator)


def run_snntorch(reset, dtype):
    fcs = [fc.to(dtype) for fc in linears()]
    lifs = [snn.Leaky(beta=torch.tensor(beta, dtype=dtype), threshold=THRESHOLD,
                      reset_mechanism=reset).to(dtype) for beta in BETAS]
    x = inputs().to(dtype)
    mems = [lif.init_leaky() for lif in lifs]
    record = {f"{k}{l}": [] for k in ("cur", "spk", "mem") for l in (1, 2, 3)}
    with torch.no_grad():
        for t in range(T):
            spk = x[t]
            for l, (fc, lif) in enumerate(zip(fcs, lifs), 1):
                cur = fc(spk.to(dtype))
                spk, mems[l - 1] = lif(cur, mems[l - 1])
                record[f"cur{l}"].append(cur.numpy().copy())
                record[f"spk{l}"].append(spk.numpy().copy())
                record[f"mem{l}"].append(mems[l - 1].numpy().copy())
    arrays = {"input": x.numpy()}
    for l, (fc, lif) in enumerate(zip(fcs, lifs), 1):
        arrays[f"fc{l}_weight"] = fc.weight.detach().numpy().copy()
        arrays[f"fc{l}_bias"] = fc.bias.detach().numpy().copy()
        arrays[f"lif{l}_beta"] = lif.beta.clamp(0, 1).numpy().copy()
        arrays[f"lif{l}_threshold"] = lif.threshold.numpy().astype(x.numpy().dtype)
    arrays.update({k: np.array(v) for k, v in record.items()})
    assert arrays["spk1"].dtype == np.float32 and arrays["mem1"].dtype == x.numpy().dtype
    return arrays


# ---- the independent NumPy implementation: the next four functions use no torch ---------------

def leaky_step(mem, cur, beta, threshold, reset):
    """One Leaky step as in the docstring; every operation in mem's dtype, rounded separately."""
    r = (mem > threshold).astype(mem.dtype)
    if reset == "subtract":
        new = (beta * mem + cur) - r * threshold
    else:
        new = beta * ((1 - r) * mem) + cur
    return (new > threshold), new


def run_numpy(a, reset, currents=None):
    """The network in NumPy (currents=None), or the neurons alone driven by given currents."""
    dt = a["input"].dtype
    mems = [np.zeros((BATCH, n), dt) for n in SIZES[1:]]
    out = {f"{k}{l}": [] for k in ("spk", "mem") for l in (1, 2, 3)}
    for t in range(T):
        spk = a["input"][t]
        for l in (1, 2, 3):
            if currents is None:
                cur = spk.astype(dt) @ a[f"fc{l}_weight"].T + a[f"fc{l}_bias"]
            else:
                cur = currents[f"cur{l}"][t]
            assert cur.dtype == dt
            spk, mems[l - 1] = leaky_step(mems[l - 1], cur, a[f"lif{l}_beta"],
                                          a[f"lif{l}_threshold"], reset)
            out[f"spk{l}"].append(spk)
            out[f"mem{l}"].append(mems[l - 1])
    return {k: np.array(v) for k, v in out.items()}


def summation_orders(a):
    """snnTorch's Linear output against several orders of the same sum, fed snnTorch's spikes."""
    result = {}
    dt = a["input"].dtype
    for l in (1, 2, 3):
        s = a["input"] if l == 1 else a[f"spk{l - 1}"].astype(dt)
        w, b, torch_cur = a[f"fc{l}_weight"], a[f"fc{l}_bias"], a[f"cur{l}"]
        prods = s[..., None, :] * w  # (T, batch, out, in); exact, spikes are 0/1
        forward = np.zeros(torch_cur.shape, dt)
        for k in range(w.shape[1]):
            forward = forward + prods[..., k]
        bias_first = b + np.zeros(torch_cur.shape, dt)
        for k in range(w.shape[1]):
            bias_first = bias_first + prods[..., k]
        candidates = {
            "numpy S@W.T+b": s @ w.T + b,
            "sequential k=0.., then +b": forward + b,
            "b, then sequential k=0..": bias_first,
            "exact sum rounded once": (np.sum(prods.astype(np.float64), -1)
                                       + b.astype(np.float64)).astype(dt),
        }
        result[f"fc{l}"] = {
            name: {"max_abs_diff": float(np.max(np.abs(c - torch_cur))),
                   "n_not_bit_equal": int(np.sum(c != torch_cur)), "n": int(c.size)}
            for name, c in candidates.items()}
    return result


def check(a, reset, dtype_name):
    tol = TOLERANCE[dtype_name]
    full = run_numpy(a, reset)
    neurons = run_numpy(a, reset, currents=a)
    report = {"tolerance": tol}
    for l in (1, 2, 3):
        spk = a[f"spk{l}"] != 0
        mismatch = np.argwhere(full[f"spk{l}"] != spk)
        assert mismatch.size == 0, f"layer {l}: NumPy spikes differ first at {mismatch[0]}"
        diff = float(np.max(np.abs(full[f"mem{l}"] - a[f"mem{l}"])))
        assert diff <= tol, f"layer {l}: NumPy mem differs by {diff}"
        assert np.array_equal(neurons[f"spk{l}"], spk)
        assert np.array_equal(neurons[f"mem{l}"], a[f"mem{l}"]), f"layer {l}: neuron equations"
        report[f"layer{l}"] = {
            "mem_max_abs_diff": diff,
            "mem_n_not_bit_equal": int(np.sum(full[f"mem{l}"] != a[f"mem{l}"])),
            "cur_max_abs_diff": float(np.max(np.abs(
                (a["input"] if l == 1 else a[f"spk{l - 1}"].astype(a["input"].dtype))
                @ a[f"fc{l}_weight"].T + a[f"fc{l}_bias"] - a[f"cur{l}"]))),
            "spikes_equal": True,
            "neuron_equations_bit_exact_given_torch_cur": True,
            "spike_fraction": float(spk.mean()),
        }
    report["linear_summation_orders"] = summation_orders(a)
    return report


# ---- writing the files ------------------------------------------------------------------------

def write(reset, dtype_name):
    a = run_snntorch(reset, DTYPES[dtype_name])
    report = check(a, reset, dtype_name)
    fractions = [report[f"layer{l}"]["spike_fraction"] for l in (1, 2, 3)]
    assert all(0.05 <= f <= 0.5 for f in fractions), fractions
    config = {
        "network": "Linear(12,16) -> Leaky -> Linear(16,10) -> Leaky -> Linear(10,4) -> Leaky",
        "sizes": list(SIZES), "n_in": SIZES[0], "hidden": list(SIZES[1:3]), "n_out": SIZES[3],
        "layers": [{"linear": f"fc{l}", "in": SIZES[l - 1], "out": SIZES[l], "bias": True,
                    "leaky": f"lif{l}", "beta": BETAS[l - 1], "threshold": THRESHOLD,
                    "reset_mechanism": reset, "reset_delay": True, "graded_spikes_factor": 1.0}
                   for l in (1, 2, 3)],
        "betas": list(BETAS), "threshold": THRESHOLD, "reset": reset, "dtype": dtype_name,
        "beta_note": ("beta passed as a tensor of this dtype; float64 uses 0.9 exactly, not "
                      "float32(0.9) as Leaky(beta=0.9).double() would"),
        "steps": T, "batch": BATCH, "delay": 0, "initial_mem": 0.0,
        "forward": FORWARD,
        "spike_dtype_note": "snnTorch returns float32 spikes in every dtype; cast before fc",
        "inputs": {"kind": "bernoulli", "p": P_INPUT, "seed": INPUT_SEED,
                   "how": "torch.bernoulli(torch.full((T, batch, n_in), p), "
                          "generator=torch.Generator().manual_seed(seed))"},
        "weights": {"seed": WEIGHT_SEED, "gain": GAIN,
                    "how": "torch.manual_seed(seed); nn.Linear default init for fc1, fc2, fc3; "
                           "weight and bias *= gain in float32; cast to dtype"},
        "numpy_check": report, "versions": VERSIONS,
        "machine": {"torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
                    "torch_num_threads": torch.get_num_threads(), "blas": "MKL"
                    if torch.backends.mkl.is_available() else "not MKL"},
    }
    name = f"network_{reset}_{dtype_name}"
    np.savez_compressed(OUT / f"{name}.npz", config=json.dumps(config), **a)
    print(f"{name}: spike fraction per layer {[round(f, 4) for f in fractions]}")
    for l in (1, 2, 3):
        r = report[f"layer{l}"]
        print(f"  layer {l}: NumPy vs snnTorch mem max |diff| {r['mem_max_abs_diff']:.3g} "
              f"({r['mem_n_not_bit_equal']} not bit-equal), cur max |diff| "
              f"{r['cur_max_abs_diff']:.3g}; spikes equal; neurons bit-exact given snnTorch's cur")
    for layer, orders in report["linear_summation_orders"].items():
        print("  " + layer + ": " + "; ".join(
            f"{k}: {v['n_not_bit_equal']}/{v['n']} differ (max {v['max_abs_diff']:.3g})"
            for k, v in orders.items()))
    return report


if __name__ == "__main__":
    torch.set_num_threads(1)
    OUT.mkdir(exist_ok=True)
    for reset in RESETS:
        for dtype_name in DTYPES:
            write(reset, dtype_name)
    versions = json.loads((OUT / "VERSIONS.json").read_text())
    assert versions == VERSIONS, f"VERSIONS.json says {versions}, this run used {VERSIONS}"
