"""Norse 1.1.0's numbers for lifgen's convention="norse" (tests/test_nir.py). Run with the torch
environment (torch 2.13 CPU, nir 1.0.4, nirtorch 2.0.2) and Norse's source on the path (pip
download norse==1.1.0 --no-deps, unpack it: Norse is pure Python):
PYTHONPATH=norse-1.1.0 /tmp/torchenv/bin/python tests/reference/nir/make_nir_norse_refs.py

norse_ff.nir: a graph written with nir's API: Input(8) -> Affine(8 -> 10) -> LIF (per-neuron
tau 5-20 ms, thresholds 0.5-1.5, v_leak 0.05) -> Affine(10 -> 6) -> CubaLIF (per-neuron tau_syn,
tau_mem, w_in, r, v_leak 0.1) -> Affine(6 -> 4) -> IF -> Output (nir 1.0.4: no v_reset
fields; Norse resets to 0 whatever they hold).

norse_ff_norse.npz: norse.torch.utils.import_nir.from_nir of the file (dt = 1e-3, its default),
run a step at a time (Norse's cells take one step) on fixed synthetic events (T=80, batch 3,
8): `x`; in float32 (Norse's own type) `lif`, `cubalif`, `out` (each layer's spikes, (T, batch,
n)) and `lif_v` (the LIF layer's v after each step); the same in float64 (the imported model's
.double(): its Linear layers in float64, the cells' parameters as Norse keeps them, float32,
promoted) as `lif64`, `cubalif64`, `out64`, `lif_v64`; `k_lif` (dt * tau_mem_inv as torch
computes it in float32: the factor of Norse's Euler step) to check lifgen's own.

norse_dag.nir + norse_dag_norse.npz: a graph whose edges nirtorch's executor (Norse's import
runs the graph with it) reads a step late: Input -> fa -> lif1 and Input -> fb -> lif1 (a
merge), lif1 -> rec -> lif1 (a recurrent Affine with a bias), lif1 -> f2 -> cuba and
Input -> fskip -> cuba (a skip connection); its edges listed so that the executor's
depth-first order runs fb, rec and fskip after the nodes they feed; fa's weights and lif1's
thresholds written in float64 (Norse reads them as float32). Run a step at a time at
dt = 1e-3, float64 (the model's .double()) and float32: `lif1`, `cuba` (spikes),
`lif1_v`, with suffix 64 for float64.

lif_norse_norse.npz: the NIR paper's single LIF (lif_norse.nir, written by Norse) imported
by Norse at the paper's dt = 1e-4, on the paper's input current (lif_exact.csv's first column,
batch 1), float32: `v` and `z` each step."""

from pathlib import Path

import nir
import numpy as np
import torch
from norse.torch.utils.import_nir import from_nir

HERE = Path(__file__).resolve().parent
STEPS, BATCH = 80, 3


def graph():
    rng = np.random.default_rng(21)
    f32 = np.float32
    nodes = {
        "input": nir.Input(input_type={"input": np.array([8])}),
        "fc1": nir.Affine(weight=rng.normal(0.5, 0.6, (10, 8)).astype(f32),
                          bias=rng.normal(0.0, 0.05, 10).astype(f32)),
        "lif": nir.LIF(tau=rng.uniform(5e-3, 20e-3, 10).astype(f32), r=np.ones(10, f32),
                       v_leak=np.full(10, 0.05, f32),
                       v_threshold=rng.uniform(0.5, 1.5, 10).astype(f32)),
        "fc2": nir.Affine(weight=rng.normal(1.0, 1.0, (6, 10)).astype(f32),
                          bias=np.zeros(6, f32)),
        "cubalif": nir.CubaLIF(tau_syn=rng.uniform(2e-3, 8e-3, 6).astype(f32),
                               tau_mem=rng.uniform(5e-3, 15e-3, 6).astype(f32),
                               r=rng.uniform(0.8, 1.5, 6).astype(f32),
                               v_leak=np.full(6, 0.1, f32),
                               v_threshold=rng.uniform(0.3, 0.8, 6).astype(f32),
                               w_in=rng.uniform(0.8, 1.2, 6).astype(f32)),
        "fc3": nir.Affine(weight=rng.normal(1.0, 0.5, (4, 6)).astype(f32),
                          bias=np.zeros(4, f32)),
        "if": nir.IF(r=np.ones(4, f32), v_threshold=rng.uniform(1.0, 2.0, 4).astype(f32)),
        "output": nir.Output(output_type={"output": np.array([4])})}
    order = ["input", "fc1", "lif", "fc2", "cubalif", "fc3", "if", "output"]
    nir.write(str(HERE / "norse_ff.nir"),
              nir.NIRGraph(nodes=nodes, edges=list(zip(order, order[1:]))))


def dag():
    rng = np.random.default_rng(23)
    f32 = np.float32

    def affine(n_out, n_in, mean, bias=0.1, dtype=f32):
        return nir.Affine(weight=rng.normal(mean, 0.5, (n_out, n_in)).astype(dtype),
                          bias=rng.normal(bias, 0.05, n_out).astype(dtype))
    nodes = {
        "input": nir.Input(input_type={"input": np.array([6])}),
        "fa": affine(5, 6, 0.5, dtype=np.float64), "fb": affine(5, 6, 0.3),
        "lif1": nir.LIF(tau=rng.uniform(5e-3, 15e-3, 5).astype(f32), r=np.ones(5, f32),
                        v_leak=np.zeros(5, f32), v_threshold=rng.uniform(0.5, 1.0, 5)),
        "rec": affine(5, 5, -0.2, bias=0.2), "f2": affine(4, 5, 0.8), "fskip": affine(4, 6, 0.3),
        "cuba": nir.CubaLIF(tau_syn=np.full(4, 4e-3, f32), tau_mem=np.full(4, 8e-3, f32),
                            r=np.ones(4, f32), v_leak=np.zeros(4, f32),
                            v_threshold=np.full(4, 0.4, f32), w_in=np.ones(4, f32)),
        "output": nir.Output(output_type={"output": np.array([4])})}
    edges = [("input", "fa"), ("fa", "lif1"), ("lif1", "rec"), ("rec", "lif1"), ("lif1", "f2"),
             ("f2", "cuba"), ("cuba", "output"), ("input", "fb"), ("fb", "lif1"),
             ("input", "fskip"), ("fskip", "cuba")]
    nir.write(str(HERE / "norse_dag.nir"), nir.NIRGraph(nodes=nodes, edges=edges))
    x = (np.random.default_rng(24).random((STEPS, BATCH, 6)) < 0.3).astype(np.float32)
    found = {"x": x.astype(np.uint8)}
    for dtype, suffix in ((torch.float32, ""), (torch.float64, "64")):
        (lif1, cuba), v, _ = run(HERE / "norse_dag.nir", ("lif1", "cuba"), x, 1e-3, dtype)
        found.update({f"lif1{suffix}": lif1, f"cuba{suffix}": cuba, f"lif1_v{suffix}": v})
    np.savez_compressed(HERE / "norse_dag_norse.npz", **found)
    print("dag spikes", found["lif1"].sum(), found["cuba"].sum(), found["lif164"].sum())


def run(path, keys, x, dt, dtype):
    """Norse's import of `path` run a step at a time on x (T, batch, n): the spikes of the
    neuron nodes `keys` and the first one's v, each (T, batch, n), and its dt * tau_mem_inv."""
    model = from_nir(nir.read(str(path)), dt=dt).to(dtype)
    cells = [getattr(model, key) for key in keys]
    seen = {id(m): [] for m in cells}
    for cell in cells:
        cell.register_forward_hook(lambda m, i, o: seen[id(m)].append(
            (o[0].detach().clone(), o[1])))
    state = None
    with torch.no_grad():
        for t in range(x.shape[0]):
            _, state = model(torch.tensor(x[t], dtype=dtype), state)
    spikes = [np.stack([z.numpy() for z, _ in seen[id(m)]]) for m in cells]
    v = np.stack([s.v.numpy() for _, s in seen[id(cells[0])]])
    return spikes, v, (cells[0].dt * cells[0].p.tau_mem_inv).numpy()


def main():
    graph()
    x = (np.random.default_rng(22).random((STEPS, BATCH, 8)) < 0.3).astype(np.float32)
    keys = ("lif", "cubalif", "if")
    (lif, cuba, out), v, k = run(HERE / "norse_ff.nir", keys, x, 1e-3, torch.float32)
    (lif64, cuba64, out64), v64, _ = run(HERE / "norse_ff.nir", keys, x, 1e-3, torch.float64)
    np.savez_compressed(HERE / "norse_ff_norse.npz", x=x.astype(np.uint8), lif=lif, cubalif=cuba,
                        out=out, lif_v=v, lif64=lif64, cubalif64=cuba64, out64=out64,
                        lif_v64=v64, k_lif=k)
    print("float32 spikes", lif.sum(), cuba.sum(), out.sum(), "float64", lif64.sum(),
          cuba64.sum(), out64.sum())
    current = np.loadtxt(HERE / "lif_exact.csv", delimiter=",")[:, 0]
    (z,), v1, _ = run(HERE / "lif_norse.nir", ("1",),
                      current.reshape(-1, 1, 1).astype(np.float32), 1e-4, torch.float32)
    np.savez_compressed(HERE / "lif_norse_norse.npz", current=current, v=v1, z=z)
    print("paper LIF spikes", z.sum())
    dag()


if __name__ == "__main__":
    main()
