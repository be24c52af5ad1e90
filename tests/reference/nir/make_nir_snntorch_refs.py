"""snnTorch 1.0's numbers for lifgen's NIR tests (tests/test_nir.py). Run with snnTorch's
environment: /tmp/torchenv/bin/python tests/reference/nir/make_nir_snntorch_refs.py

1. The NIR paper's Braille RNN graphs as snnTorch's import_from_nir builds them: its modules
   made by snntorch.import_nir._nir_to_snntorch_module after _replace_rnn_subgraph_with_nirgraph
   (fc1 -> RSynaptic -> fc2 -> Synaptic, init_hidden=True), run in the graph's order.
   import_from_nir itself cannot run these graphs with any nirtorch 2.x (2.0 refuses the '.'
   in 'lif1.lif', 2.0.5 and 2.6 fail in _construct_state_recursive on the subgraph), so the
   executor is written out; the modules and their arithmetic are snnTorch's own.
(snntorch.export_to_nir of small networks fails nir 1.0.8's type inference here: not yet.)
Inputs: fixed Bernoulli spike trains (T, batch, n)."""

import json
from pathlib import Path

import nir
import numpy as np
import snntorch as snn
import torch
from snntorch.import_nir import _nir_to_snntorch_module, _replace_rnn_subgraph_with_nirgraph

HERE = Path(__file__).resolve().parent
T, BATCH = 120, 3


def spikes(n, seed, p=0.3):
    return (np.random.default_rng(seed).random((T, BATCH, n)) < p).astype(np.float32)


def braille(name):
    graph = _replace_rnn_subgraph_with_nirgraph(nir.read(str(HERE / f"{name}.nir")))
    fc1 = _nir_to_snntorch_module(graph.nodes["fc1"], init_hidden=True)
    # init_hidden=True (import_from_nir's) fails in RSynaptic.forward's reset_delay=False branch
    # (None / tensor: it reads the spk argument); with the states passed explicitly that branch
    # changes a local only, so snnTorch 1.0's RSynaptic resets a step late (reset_delay=True)
    lif1 = _nir_to_snntorch_module(graph.nodes["lif1"], init_hidden=False)
    fc2 = _nir_to_snntorch_module(graph.nodes["fc2"], init_hidden=True)
    lif2 = _nir_to_snntorch_module(graph.nodes["lif2"], init_hidden=True)
    x = spikes(12, 1)
    out = {k: [] for k in ("spk1", "syn1", "mem1", "spk2", "syn2", "mem2")}
    n1 = lif1.recurrent.weight.shape[0]
    s1, syn1, mem1 = (torch.zeros(BATCH, n1) for _ in range(3))
    with torch.no_grad():
        for t in range(T):
            s1, syn1, mem1 = lif1(fc1(torch.from_numpy(x[t])), s1, syn1, mem1)
            s2 = lif2(fc2(s1))
            for k, v in (("spk1", s1), ("syn1", lif1.syn), ("mem1", lif1.mem),
                         ("spk2", s2), ("syn2", lif2.syn), ("mem2", lif2.mem)):
                out[k].append(v.detach().numpy().copy())
    np.savez_compressed(HERE / f"{name}_snntorch.npz", input=x,
                        **{k: np.stack(v) for k, v in out.items()}, config=json.dumps(
                            {"versions": {"snntorch": snn.__version__, "torch": torch.__version__,
                                          "nir": nir.version}}))


if __name__ == "__main__":
    for name in ("braille_noDelay_bias_zero", "braille_noDelay_noBias_subtract"):
        braille(name)
