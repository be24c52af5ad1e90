"""Sinabs 3.1's numbers for lifgen's NIR convolution tests (tests/test_nir.py). Run with the
torch environment that has sinabs (pip install sinabs: it brings nir 1.0.4, nirtorch 2.0.2):
/tmp/torchenv/bin/python tests/reference/nir/make_nir_sinabs_refs.py

1. cnn_sinabs_sinabs.npz: the NIR paper's N-MNIST CNN (cnn_sinabs.nir) imported by
   sinabs.nir.from_nir (IAFSqueeze layers, nn.Conv2d, sl.SumPool2d, nn.Linear), in float64,
   on fixed synthetic events (T, batch, 2, 34, 34). Sinabs's IAF emits floor(v/threshold)
   spikes per step (MultiSpike); a lifgen population emits one, so the reference sets each
   IAF layer's spike_fn to sinabs.activation.SingleSpike (otherwise the import as it is). The
   default import's output counts are stored too (`multi_counts`), with the number of
   (step, neuron) places where some layer emitted more than one spike.
2. conv_geometry.npz: torch.nn.functional.conv1d / conv2d / avg_pool2d (and a sum pool as
   avg_pool2d times the window) of random inputs with stride, padding, dilation, groups and
   bias, to check lifgen's sparse maps of Conv1d, Conv2d, AvgPool2d and SumPool2d.
3. conv_small.nir + conv_small_sinabs.npz: a small graph (Conv2d with stride 2, padding 1,
   dilation 2, groups 2 and a bias -> IF -> SumPool2d -> Conv2d -> IF) written with nir's API
   and run by Sinabs's import (SingleSpike, float64) on fixed events.
4. sinabs_multispike.npz: Sinabs's default import (MultiSpike: floor(v/threshold) spikes per
   step) of cnn_sinabs.nir and conv_small.nir, float64, on the events of 1. and 3.: every
   step's output spike counts (`cnn_out`, `small_out`) and the number of (step, neuron) places
   where a layer emitted more than one spike (`cnn_places`, `small_places`). Made by
   `multispike()` alone (python -c "import make_nir_sinabs_refs as m; m.multispike()" in this
   folder), which reads the files above and rewrites none of them."""

from pathlib import Path

import nir
import numpy as np
import sinabs.layers as sl
import torch
import torch.nn.functional as F
from sinabs_spikes64 import MultiSpike64, SingleSpike64
from sinabs.nir import from_nir

HERE = Path(__file__).resolve().parent
torch.set_default_dtype(torch.float64)


def events(shape, seed, p):
    return (np.random.default_rng(seed).random(shape) < p).astype(np.float64)


def run_sinabs(graph, x, single=True):
    """Sinabs's import of `graph` on x (T, batch, *shape): its output (T, batch, n) and the
    number of places where a layer emitted more than one spike."""
    steps, batch = x.shape[:2]
    model = from_nir(graph, batch_size=batch).double()
    iafs = [m for m in model.modules() if isinstance(m, sl.IAFSqueeze)]
    for layer in iafs:
        layer.spike_fn = SingleSpike64 if single else MultiSpike64
    multi = []
    hooks = [layer.register_forward_hook(lambda m, i, o: multi.append(int((o > 1).sum())))
             for layer in iafs]
    data = torch.tensor(np.moveaxis(x, 0, 1).reshape(batch * steps, *x.shape[2:]))
    with torch.no_grad():
        out = model(data)
    out = out[0] if isinstance(out, tuple) else out
    for hook in hooks:
        hook.remove()
    out = out.reshape(batch, steps, -1).numpy()
    return np.moveaxis(out, 0, 1), sum(multi)


def cnn():
    graph = nir.read(str(HERE / "cnn_sinabs.nir"))
    x = events((60, 3, 2, 34, 34), 7, 0.1)
    out, multi = run_sinabs(graph, x)
    assert multi == 0
    default, multi_default = run_sinabs(nir.read(str(HERE / "cnn_sinabs.nir")), x, single=False)
    np.savez_compressed(HERE / "cnn_sinabs_sinabs.npz", x=x.astype(np.uint8), out=out,
                        counts=out.sum(0), multi_counts=default.sum(0),
                        multi_places=multi_default)
    print("cnn counts", out.sum(0), "default import", default.sum(0), "multi", multi_default)


def geometry():
    rng = np.random.default_rng(3)
    cases = {}
    for k, (shape, wshape, stride, padding, dilation, groups) in enumerate([
            ((4, 9, 11), (6, 2, 3, 2), (2, 1), (1, 2), (2, 1), 2),
            ((3, 8, 8), (5, 3, 3, 3), (1, 1), (0, 0), (1, 1), 1),
            ((2, 7, 10), (4, 1, 2, 3), (3, 2), (2, 0), (1, 3), 2),
            ((4, 13), (4, 2, 3), (2,), (1,), (2,), 2),
            ((3, 10), (2, 3, 4), (1,), (0,), (1,), 1)]):
        x = rng.normal(size=shape)
        w = rng.normal(size=wshape)
        b = rng.normal(size=wshape[0])
        conv = F.conv2d if len(shape) == 3 else F.conv1d
        y = conv(torch.tensor(x)[None], torch.tensor(w), torch.tensor(b), stride, padding,
                 dilation, groups)[0].numpy()
        cases.update({f"conv{k}_x": x, f"conv{k}_w": w, f"conv{k}_b": b, f"conv{k}_y": y,
                      f"conv{k}_geometry": np.array([*stride, *padding, *dilation, groups])})
    for k, (shape, kernel, stride, padding) in enumerate([
            ((3, 8, 9), (2, 2), (2, 2), (0, 0)), ((2, 7, 7), (3, 2), (2, 1), (1, 1))]):
        x = rng.normal(size=shape)
        y = F.avg_pool2d(torch.tensor(x)[None], kernel, stride, padding)[0].numpy()
        cases.update({f"pool{k}_x": x, f"pool{k}_avg": y, f"pool{k}_sum": y * np.prod(kernel),
                      f"pool{k}_geometry": np.array([*kernel, *stride, *padding])})
    np.savez_compressed(HERE / "conv_geometry.npz", **cases)


def small():
    rng = np.random.default_rng(5)
    w1 = rng.normal(0.4, 0.5, (6, 2, 3, 3)).astype(np.float32)
    b1 = rng.normal(0.05, 0.05, 6).astype(np.float32)
    w2 = rng.normal(0.3, 0.5, (4, 6, 2, 2)).astype(np.float32)
    nodes = {
        "input": nir.Input(input_type={"input": np.array([4, 12, 12])}),
        "conv1": nir.Conv2d(input_shape=(12, 12), weight=w1, stride=(2, 2), padding=(1, 1),
                            dilation=(2, 2), groups=2, bias=b1),
        "if1": nir.IF(r=np.ones((6, 5, 5)), v_threshold=np.ones((6, 5, 5))),  # (nir 1.0.4:
        # no v_reset; Sinabs does not read it)
        "pool": nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]),
                              padding=np.array([0, 0])),
        "conv2": nir.Conv2d(input_shape=(2, 2), weight=w2, stride=(1, 1), padding=(1, 1),
                            dilation=(1, 1), groups=1, bias=np.zeros(4, np.float32)),
        "if2": nir.IF(r=np.ones((4, 3, 3)), v_threshold=np.full((4, 3, 3), 1.5)),
        "output": nir.Output(output_type={"output": np.array([4, 3, 3])})}
    edges = [("input", "conv1"), ("conv1", "if1"), ("if1", "pool"), ("pool", "conv2"),
             ("conv2", "if2"), ("if2", "output")]
    graph = nir.NIRGraph(nodes=nodes, edges=edges)
    nir.write(str(HERE / "conv_small.nir"), graph)
    x = events((80, 2, 4, 12, 12), 11, 0.2)
    out, multi = run_sinabs(nir.read(str(HERE / "conv_small.nir")), x)
    assert multi == 0
    np.savez_compressed(HERE / "conv_small_sinabs.npz", x=x.astype(np.uint8), out=out)
    print("small counts", out.sum((0, 2)))


def multispike():
    cases = {}
    for case, graph, x in (("cnn", "cnn_sinabs.nir", "cnn_sinabs_sinabs.npz"),
                           ("small", "conv_small.nir", "conv_small_sinabs.npz")):
        events_in = np.load(HERE / x)["x"].astype(np.float64)
        out, places = run_sinabs(nir.read(str(HERE / graph)), events_in, single=False)
        cases.update({f"{case}_out": out, f"{case}_places": places})
        print(case, "MultiSpike counts per class", out.sum((0, 1)).reshape(-1)[:10],
              "places with more than one spike", places)
    np.savez_compressed(HERE / "sinabs_multispike.npz", **cases)


if __name__ == "__main__":
    cnn()
    geometry()
    small()
    multispike()
