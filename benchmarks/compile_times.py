"""Cold compile times over a suite of model shapes (issue 13): coupled linear systems of 1-4
states with real, complex and repeated eigenvalues, feed-forward chains, and nonlinear models of
2-4 states. Each model compiles in a fresh process with an empty cache (SymPy, rendering and the
C compiler all counted). Run by hand: `python -m benchmarks.compile_times [--out FILE]`.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def linear_chain(n, coupled, repeated=False, complex_pair=False):
    """n linear states: a chain (each drives the next) or fully coupled, with symbolic
    parameters; `repeated` gives every state one time constant, `complex_pair` a rotation."""
    parameters = {f"tau{i}": (10.0 if repeated else 5.0 * (i + 1)) for i in range(n)}
    parameters.update({f"k{i}": 0.3 for i in range(n)})
    laws = []
    for i in range(n):
        drive = " + ".join(f"k{j}*x{j}" for j in range(n) if j != i) if coupled \
            else (f"x{i - 1}/tau{i}" if i else "I")
        if complex_pair and i == 0 and n > 1:
            drive = "-20*x1/tau0 + I"
        laws.append(f"dx{i}/dt = (-x{i} + {drive or '0'})/tau{i}")
    return {"model": {"name": "shape"}, "parameters": {**parameters, "theta": 1e9},
            "states": {f"x{i}": 0.0 for i in range(n)}, "inputs": {"I": {}},
            "equations": {"laws": laws}, "spike": {"condition": "x0 > theta"},
            "reset": {"mechanism": "none"}, "simulation": {"dt": 0.1}}


def nonlinear(n):
    """A nonlinear model of n states (an adaptive exponential neuron with n - 1 adaptations)."""
    laws = ["dV/dt = (-V + exp(V - 2) - " + " - ".join(f"w{i}" for i in range(1, n)) + " + I)/10"]
    laws += [f"dw{i}/dt = (0.1*V - w{i})/({50 * i})" for i in range(1, n)]
    return {"model": {"name": "shape"}, "parameters": {"theta": 1e9},
            "states": {"V": 0.0, **{f"w{i}": 0.0 for i in range(1, n)}}, "inputs": {"I": {}},
            "equations": {"laws": laws}, "spike": {"condition": "V > theta"},
            "reset": {"mechanism": "none"}, "simulation": {"dt": 0.1}}


SHAPES = {
    **{f"linear, {n} coupled states, real eigenvalues": linear_chain(n, True) for n in (1, 2, 3, 4, 5, 6)},
    **{f"linear, {n} coupled states, one time constant": linear_chain(n, True, repeated=True)
       for n in (2, 3, 4)},
    **{f"linear, {n} states, a complex pair": linear_chain(n, False, complex_pair=True)
       for n in (2, 3)},
    **{f"feed-forward chain of {n}": linear_chain(n, False) for n in (2, 3, 4, 6)},
    **{f"feed-forward chain of {n}, one time constant": linear_chain(n, False, repeated=True)
       for n in (2, 3)},
    **{f"nonlinear, {n} states": nonlinear(n) for n in (2, 3, 4)},
}

PROBE = """
import json, sys, time
from lifgen.frontend.modelfile import model_from_document
import lifgen
document = json.loads(sys.argv[1])
started = time.perf_counter()
simulator = lifgen.compile(model_from_document(document, "shape.toml"), method="auto")
print(json.dumps({"seconds": time.perf_counter() - started, "method": simulator.method}))
"""


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.compile_times",
                                     description=__doc__)
    parser.add_argument("--out", default=str(HERE / "compile-times.md"))
    args = parser.parse_args(argv)
    rows = ["| model shape | method (auto) | cold compile |", "|---|---|---|"]
    for name, document in SHAPES.items():
        with tempfile.TemporaryDirectory() as cache:
            environment = dict(os.environ, LIFGEN_CACHE_DIR=cache)
            try:
                answer = subprocess.run([sys.executable, "-c", PROBE, json.dumps(document)],
                                        capture_output=True, text=True, timeout=120,
                                        env=environment)
                result = json.loads(answer.stdout) if answer.returncode == 0 else None
            except subprocess.TimeoutExpired:
                result = {"seconds": float("inf"), "method": "over 120 s"}
        cell = "failed: " + answer.stderr.strip().splitlines()[-1] if result is None else \
            f"| {result['method']} | {result['seconds']:.2f} s |"
        rows.append(f"| {name} {cell}" if result else f"| {name} | {cell} | |")
        print(rows[-1], flush=True)
    Path(args.out).write_text("\n".join(rows) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
