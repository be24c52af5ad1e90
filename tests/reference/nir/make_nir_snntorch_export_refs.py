"""snnTorch 1.0's own forward passes of small networks and their graphs exported by
snntorch.export_to_nir, for lifgen's NIR tests (tests/test_nir.py). Run with snnTorch's
environment and nir 1.0.8 first on the path (snnTorch's export writes LIF/CubaLIF v_reset, which
nir 1.0.4, the version Sinabs installs, lacks):

    pip install --target /tmp/nir108 --no-deps nir==1.0.8
    PYTHONPATH=/tmp/nir108 /tmp/torchenv/bin/python tests/reference/nir/make_nir_snntorch_export_refs.py

export_to_nir passes nir 1.0.8's type check when the sample input has no batch axis and each
neuron layer's beta (alpha) and threshold are per-neuron tensors (scalars give nodes of shape (),
which the check compares with the Affine's (n,) and refuses). Networks: fc1 -> Leaky / Synaptic /
RLeaky / RSynaptic -> fc2 -> Leaky (output=True), init_hidden=True, float32, in the form an
export keeps: reset_mechanism="zero" (NIR's LIF resets to v_reset; a subtracting reset is not in
the graph) and reset_delay=False (as snnTorch's import_from_nir builds Leaky and Synaptic; the
recurrent ones keep their default reset_delay=True, which the import's RLeaky/RSynaptic run
too); inputs fixed Bernoulli spike trains (T, batch, 4). Saved per
network: snntorch_export_KIND.nir and snntorch_export_KIND.npz (input, the spikes and membranes
of both layers, syn1 for the Synaptic ones)."""

import json
from pathlib import Path

import nir
import numpy as np
import snntorch as snn
import snntorch.utils
import torch
from snntorch.export_nir import export_to_nir

HERE = Path(__file__).resolve().parent
T, BATCH, N_IN, N1, N2 = 100, 3, 4, 6, 3


class Net(torch.nn.Module):
    def __init__(self, kind):
        super().__init__()
        self.fc1 = torch.nn.Linear(N_IN, N1)
        beta, alpha, threshold = torch.full((N1,), 0.8), torch.full((N1,), 0.7), torch.ones(N1)
        same = dict(init_hidden=True, reset_mechanism="zero")
        if kind == "leaky":
            self.lif1 = snn.Leaky(beta=beta, threshold=threshold, reset_delay=False, **same)
        elif kind == "synaptic":
            self.lif1 = snn.Synaptic(alpha=alpha, beta=beta, threshold=threshold,
                                     reset_delay=False, **same)
        elif kind == "rleaky":
            self.lif1 = snn.RLeaky(beta=0.8, linear_features=N1, **same)
        else:
            self.lif1 = snn.RSynaptic(alpha=0.7, beta=0.8, linear_features=N1, **same)
        self.fc2 = torch.nn.Linear(N1, N2)
        self.lif2 = snn.Leaky(beta=torch.full((N2,), 0.9), threshold=torch.ones(N2),
                              output=True, reset_delay=False, **same)

    def forward(self, x):
        return self.lif2(self.fc2(self.lif1(self.fc1(x))))


def make(kind, seed):
    torch.manual_seed(seed)
    net = Net(kind)
    with torch.no_grad():
        net.fc1.weight.mul_(3.0)
        net.fc2.weight.mul_(2.0)
    graph = export_to_nir(net, torch.zeros(N_IN))
    nir.write(str(HERE / f"snntorch_export_{kind}.nir"), graph)
    x = (np.random.default_rng(seed).random((T, BATCH, N_IN)) < 0.3).astype(np.float32)
    out = {k: [] for k in ("spk1", "mem1", "syn1", "spk2", "mem2")}
    snn.utils.reset(net)
    with torch.no_grad():
        for t in range(T):
            spk1 = net.lif1(net.fc1(torch.from_numpy(x[t])))
            spk2, mem2 = net.lif2(net.fc2(spk1))
            out["spk1"].append(spk1.numpy().copy())
            out["mem1"].append(net.lif1.mem.numpy().copy())
            out["syn1"].append(getattr(net.lif1, "syn", net.lif1.mem).numpy().copy())
            out["spk2"].append(spk2.numpy().copy())
            out["mem2"].append(mem2.numpy().copy())
    out = {k: np.stack(v) for k, v in out.items()}
    np.savez_compressed(HERE / f"snntorch_export_{kind}.npz", input=x, **out, config=json.dumps(
        {"versions": {"snntorch": snn.__version__, "torch": torch.__version__,
                      "nir": nir.version}}))
    print(kind, "spikes", out["spk1"].sum(), out["spk2"].sum())


if __name__ == "__main__":
    for seed, kind in enumerate(("leaky", "synaptic", "rleaky", "rsynaptic")):
        make(kind, seed)
