"""Sinabs 3.1's numbers for lifgen's convention="sinabs" of LIF and LI nodes (tests/test_nir.py).
Run with the torch environment that has sinabs (pip install sinabs: it brings nir 1.0.4,
nirtorch 2.0.2): /tmp/torchenv/bin/python tests/reference/nir/make_nir_sinabs_lif_refs.py

sinabs_lif.nir: a network built in Sinabs and written by sinabs.nir.to_nir: nn.Linear(12, 10)
-> sl.LIFSqueeze(tau_mem per neuron, 2-12 steps; spike_threshold per neuron, 0.6-1.4) ->
nn.Linear(10, 8) -> sl.LIFSqueeze(tau_mem 6 steps, spike_threshold 0.8, as arrays) ->
nn.Linear(8, 4) -> sl.ExpLeakSqueeze(tau_mem 4-9 steps). norm_input=False, as
sinabs.nir.from_nir builds them (the layers' default, norm_input=True, scales the input by
1 - alpha, which NIR has no field for). Sinabs writes a LIF's or LI's parameters as it holds
them, so they are arrays here (a scalar tau_mem is written as a scalar, which Sinabs's own
from_nir cannot read back from the file).

sinabs_lif_sinabs.npz: sinabs.nir.from_nir of that file (nir.read), in float64, on fixed
synthetic events (T=60, batch 3, 12): `x` (uint8), `out` (the ExpLeak layer's v, each step),
`spikes1` and `spikes3` (the LIF layers' spikes, each step) with the default MultiSpike
(floor(v/threshold) spikes a step), and `single_out`, `single_spikes1`, `single_spikes3` with
the LIF layers' spike_fn set to SingleSpike (one spike a step); `out32`, `spikes1_32`,
`spikes3_32`: the default import in float32 (Sinabs's own type).

sinabs_lif_scalar.nir + sinabs_lif_scalar_sinabs.npz: a convolutional network whose LIF and
ExpLeak layers have one tau_mem (and threshold) each, which sinabs.nir.to_nir writes as scalars:
nn.Conv2d(2, 4, 3, stride 2, padding 1) -> sl.LIFSqueeze(tau_mem 5) -> sl.SumPool2d(2) ->
nn.Flatten -> nn.Linear(64, 5) -> sl.ExpLeakSqueeze(tau_mem 3). Sinabs's from_nir cannot read
such a file back (its import calls .unsqueeze on the numpy scalars nir.read gives), so its
numbers are those of from_nir of the graph to_nir returned (torch tensors), in float64, on fixed
events (T=40, batch 2, 2, 16, 16): `x`, `out` (the ExpLeak's v), `spikes1` (the LIF's). to_nir
leaves the Conv2d's input_shape and the Flatten's input_type None, which nir.write cannot
store: the script sets them."""

from pathlib import Path

import nir
import numpy as np
import sinabs.layers as sl
import torch
import torch.nn as nn
from sinabs_spikes64 import MultiSpike64, SingleSpike64
from sinabs.nir import from_nir, to_nir

HERE = Path(__file__).resolve().parent
STEPS, BATCH = 60, 3


def network():
    """The Sinabs network, written as sinabs_lif.nir."""
    torch.manual_seed(4)
    rng = np.random.default_rng(4)
    lif1 = sl.LIFSqueeze(tau_mem=torch.tensor(rng.uniform(2, 12, 10), dtype=torch.float32),
                         spike_threshold=torch.tensor(rng.uniform(0.6, 1.4, 10),
                                                      dtype=torch.float32),
                         norm_input=False, batch_size=1)
    lif2 = sl.LIFSqueeze(tau_mem=torch.full((8,), 6.0), spike_threshold=torch.full((8,), 0.8),
                         norm_input=False, batch_size=1)
    leak = sl.ExpLeakSqueeze(tau_mem=torch.tensor(rng.uniform(4, 9, 4), dtype=torch.float32),
                             batch_size=1)
    model = nn.Sequential(nn.Linear(12, 10), lif1, nn.Linear(10, 8), lif2, nn.Linear(8, 4), leak)
    with torch.no_grad():  # weights that make the layers fire, some neurons several a step
        model[0].weight.mul_(3.0).add_(0.3)
        model[0].bias.uniform_(-0.1, 0.2)
        model[2].weight.mul_(1.5).add_(0.1)
        model[4].weight.mul_(2.0)
    graph = to_nir(model, torch.zeros(1, 12))
    nir.write(str(HERE / "sinabs_lif.nir"), graph)


def run(x, single, dtype=torch.float64):
    """from_nir of the file, in `dtype`, on x (T, batch, 12): the ExpLeak's v and the LIF
    layers' spikes, each (T, batch, n)."""
    model = from_nir(nir.read(str(HERE / "sinabs_lif.nir")), batch_size=BATCH).to(dtype)
    lifs = [m for m in model.modules() if isinstance(m, sl.LIFSqueeze)
            and not isinstance(m, sl.ExpLeakSqueeze)]
    assert len(lifs) == 2
    spikes = []
    for layer in lifs:
        layer.spike_fn = SingleSpike64 if single else MultiSpike64
        layer.register_forward_hook(lambda m, i, o: spikes.append(o.detach().clone()))
    data = torch.tensor(np.moveaxis(x, 0, 1).reshape(BATCH * STEPS, 12), dtype=dtype)
    with torch.no_grad():
        out = model(data)
    out = out[0] if isinstance(out, tuple) else out

    def time_first(values):
        return np.moveaxis(values.reshape(BATCH, STEPS, -1).numpy(), 0, 1)
    return time_first(out), time_first(spikes[0]), time_first(spikes[1])


def scalar():
    """The network of scalar time constants, its file and Sinabs's numbers."""
    torch.manual_seed(6)
    model = nn.Sequential(
        nn.Conv2d(2, 4, 3, stride=2, padding=1),
        sl.LIFSqueeze(tau_mem=5.0, norm_input=False, batch_size=1), sl.SumPool2d(2),
        nn.Flatten(), nn.Linear(64, 5), sl.ExpLeakSqueeze(tau_mem=3.0, batch_size=1))
    with torch.no_grad():
        model[0].weight.mul_(2.0).add_(0.2)
        model[4].weight.mul_(0.5)
    graph = to_nir(model, torch.zeros(1, 2, 16, 16))
    # (Sinabs 3.1's to_nir leaves a Conv2d's input_shape and a Flatten's input_type None,
    # which nir.write cannot store)
    graph.nodes["0"].input_shape = np.array([16, 16])
    graph.nodes["3"].input_type = {"input": np.array([4, 4, 4])}
    nir.write(str(HERE / "sinabs_lif_scalar.nir"), graph)
    steps, batch = 40, 2
    x = (np.random.default_rng(12).random((steps, batch, 2, 16, 16)) < 0.2).astype(np.float64)
    imported = from_nir(graph, batch_size=batch).double()
    lifs = [m for m in imported.modules() if type(m) is sl.LIFSqueeze]
    spikes = []
    lifs[0].spike_fn = MultiSpike64
    lifs[0].register_forward_hook(lambda m, i, o: spikes.append(o.detach().clone()))
    data = torch.tensor(np.moveaxis(x, 0, 1).reshape(batch * steps, 2, 16, 16))
    with torch.no_grad():
        out = imported(data)
    out = out[0] if isinstance(out, tuple) else out

    def time_first(values):
        return np.moveaxis(values.reshape(batch, steps, *values.shape[1:]).numpy(), 0, 1)
    np.savez_compressed(HERE / "sinabs_lif_scalar_sinabs.npz", x=x.astype(np.uint8),
                        out=time_first(out), spikes1=time_first(spikes[0]))
    print("scalar: LIF spikes", spikes[0].sum().item(), "several",
          int((spikes[0] > 1).sum()), "out range", float(out.min()), float(out.max()))


def main():
    network()
    x = (np.random.default_rng(9).random((STEPS, BATCH, 12)) < 0.3).astype(np.float64)
    out, spikes1, spikes3 = run(x, single=False)
    single = run(x, single=True)
    float32 = run(x, single=False, dtype=torch.float32)
    np.savez_compressed(HERE / "sinabs_lif_sinabs.npz", x=x.astype(np.uint8), out=out,
                        spikes1=spikes1, spikes3=spikes3, single_out=single[0],
                        single_spikes1=single[1], single_spikes3=single[2],
                        out32=float32[0], spikes1_32=float32[1], spikes3_32=float32[2])
    print("MultiSpike: spikes", spikes1.sum(), spikes3.sum(), "places with more than one",
          int((spikes1 > 1).sum() + (spikes3 > 1).sum()), "out range", out.min(), out.max())
    print("SingleSpike: spikes", single[1].sum(), single[2].sum())
    scalar()


if __name__ == "__main__":
    main()
