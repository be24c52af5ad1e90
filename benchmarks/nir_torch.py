"""The torch side of benchmarks/nir.py: the NIR paper's graphs as the tools that import them run
them, timed in a process of their own that serves timed passes on request, so that its passes
interleave with lifgen's (protocol: one line "run" on stdin -> one JSON line {"seconds",
"cpu_seconds", "spikes"} on stdout; "quit" ends it).

    braille: the Braille RNN (braille_noDelay_bias_zero.nir) as snnTorch 1.0's import_from_nir
             builds it (its modules, as tests/reference/nir/make_nir_snntorch_refs.py runs
             them: fc1 -> RSynaptic -> fc2 -> Synaptic), stepped through T.
    cnn:     the N-MNIST CNN (cnn_sinabs.nir) as Sinabs 3.1's from_nir builds it (its IAF
             layers with their default MultiSpike, as lifgen's convention="sinabs"), one
             forward call on the (batch*T, 2, 34, 34) events.

float32, torch.set_num_threads(1), under torch.no_grad(); the inputs (Bernoulli events of the
seed and density given) are made before timing; one untimed warm-up pass. Run it with the torch
environment that has snnTorch and Sinabs (nir 1.0.4 as Sinabs installs it):

    /tmp/torchenv/bin/python benchmarks/nir_torch.py cnn --batch 256 --steps 100
"""

import argparse
import contextlib
import json
import sys
import time
from pathlib import Path

# this script's folder holds benchmarks/nir.py, which would shadow the nir package
sys.path = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import nir  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
NIR_DIR = ROOT / "tests" / "reference" / "nir"


def events(steps, batch, shape, p, seed):
    return (np.random.default_rng(seed).random((steps, batch, *shape)) < p).astype(np.float32)


def braille(batch, steps, p, seed):
    sys.path.insert(0, str(NIR_DIR))
    from make_nir_snntorch_refs import _nir_to_snntorch_module, _replace_rnn_subgraph_with_nirgraph

    graph = _replace_rnn_subgraph_with_nirgraph(nir.read(str(NIR_DIR / "braille_noDelay_bias_zero.nir")))
    fc1 = _nir_to_snntorch_module(graph.nodes["fc1"], init_hidden=True)
    lif1 = _nir_to_snntorch_module(graph.nodes["lif1"], init_hidden=False)
    fc2 = _nir_to_snntorch_module(graph.nodes["fc2"], init_hidden=True)
    lif2 = _nir_to_snntorch_module(graph.nodes["lif2"], init_hidden=False)
    x = torch.from_numpy(events(steps, batch, (12,), p, seed))
    n1, n2 = lif1.recurrent.weight.shape[0], fc2.weight.shape[0]

    def run():
        s1, syn1, mem1 = (torch.zeros(batch, n1) for _ in range(3))
        syn2, mem2 = torch.zeros(batch, n2), torch.zeros(batch, n2)
        out = []
        for t in range(steps):
            s1, syn1, mem1 = lif1(fc1(x[t]), s1, syn1, mem1)
            s2, syn2, mem2 = lif2(fc2(s1), syn2, mem2)
            out.append(s2)
        return float(torch.stack(out).sum())
    return run


def cnn(batch, steps, p, seed):
    import sinabs.layers as sl
    from sinabs.nir import from_nir

    model = from_nir(nir.read(str(NIR_DIR / "cnn_sinabs.nir")), batch_size=batch)
    x = events(steps, batch, (2, 34, 34), p, seed)
    data = torch.from_numpy(np.ascontiguousarray(np.moveaxis(x, 0, 1)).reshape(
        batch * steps, 2, 34, 34))

    def run():
        for layer in model.modules():
            if isinstance(layer, sl.IAFSqueeze):
                layer.reset_states()
        out = model(data)
        out = out[0] if isinstance(out, tuple) else out
        return float(out.sum())
    return run


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("graph", choices=["braille", "cnn"])
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--p", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    with torch.no_grad(), contextlib.redirect_stdout(sys.stderr):  # (snnTorch prints)
        run = (braille if args.graph == "braille" else cnn)(args.batch, args.steps, args.p,
                                                            args.seed)
        run()  # warm-up
    with torch.no_grad():
        print(json.dumps({"ready": True, "torch": torch.__version__}), flush=True)
        for line in sys.stdin:
            if line.strip() != "run":
                break
            start, cpu = time.perf_counter(), time.process_time()
            spikes = run()
            seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
            print(json.dumps({"seconds": seconds, "cpu_seconds": cpu, "spikes": spikes}),
                  flush=True)


if __name__ == "__main__":
    main()
