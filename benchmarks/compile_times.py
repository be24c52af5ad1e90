"""Cold compile times over a suite of model shapes (issue 13): coupled linear systems of 1-4
states with real, complex and repeated eigenvalues, feed-forward chains, and nonlinear models of
2-4 states. Each model compiles in a fresh process with an empty cache (SymPy, rendering and the
C compiler all counted). A second table times every library model (models/*.toml, its default
method), with `--baseline TREE` also another lifgen checkout's, the two alternating, so that a
change to the generated C is measured against what it replaces in one run. Run by hand:
`python -m benchmarks.compile_times [--out FILE] [--baseline TREE] [--only library]`.
"""

import argparse
import json
import os
import resource
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
LIBRARY_PROBE = """
import json, sys, time
import lifgen
started = time.perf_counter()
simulator = lifgen.compile(sys.argv[1])
print(json.dumps({"seconds": time.perf_counter() - started, "method": simulator.method}))
"""
LIBRARY = sorted(path.stem for path in (HERE.parent / "models").glob("*.toml"))


def cpu_seconds() -> float:
    """The CPU time of this process's finished children (the probe and the compiler it ran)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def cold_compile(probe: str, argument: str, tree: Path | None = None) -> dict:
    """One cold compile in a fresh process with an empty cache: seconds, the CPU seconds of the
    whole process (steadier than wall time on a shared machine) and method, or why not (lifgen
    imported from `tree`, by default this checkout)."""
    tree = tree or HERE.parent
    with tempfile.TemporaryDirectory() as cache:
        # run in the empty cache folder: `python -c` puts the working folder first on sys.path
        environment = dict(os.environ, LIFGEN_CACHE_DIR=cache, PYTHONPATH=str(tree))
        cpu = cpu_seconds()
        try:
            answer = subprocess.run([sys.executable, "-c", probe, argument], capture_output=True,
                                    text=True, timeout=120, env=environment, cwd=cache)
        except subprocess.TimeoutExpired:
            return {"seconds": float("inf"), "cpu": float("inf"), "method": "over 120 s"}
    if answer.returncode:
        return {"failed": answer.stderr.strip().splitlines()[-1]}
    return {**json.loads(answer.stdout), "cpu": cpu_seconds() - cpu}


def library_rows(baseline: Path | None) -> list[str]:
    """The library models' cold compile times, alternating with the baseline tree's if given."""
    rows = ["| library model | method | cold compile | CPU |"
            + (" baseline | baseline CPU | CPU ratio |" if baseline else ""),
            "|---|---|---|---|" + ("---|---|---|" if baseline else "")]
    for name in LIBRARY:
        before = cold_compile(LIBRARY_PROBE, name, baseline) if baseline else None
        now = cold_compile(LIBRARY_PROBE, name)
        if "failed" in now:
            rows.append(f"| {name} | failed: {now['failed']} | |")
            continue
        row = f"| {name} | {now['method']} | {now['seconds']:.2f} s | {now['cpu']:.2f} s |"
        if before and "failed" not in before:
            row += (f" {before['seconds']:.2f} s | {before['cpu']:.2f} s |"
                    f" {before['cpu'] / now['cpu']:.1f}x |")
        rows.append(row)
        print(row, flush=True)
    return rows


def shape_rows() -> list[str]:
    """The model shapes' cold compile times."""
    rows = ["| model shape | method (auto) | cold compile |", "|---|---|---|"]
    for name, document in SHAPES.items():
        result = cold_compile(PROBE, json.dumps(document))
        rows.append(f"| {name} | failed: {result['failed']} | |" if "failed" in result else
                    f"| {name} | {result['method']} | {result['seconds']:.2f} s |")
        print(rows[-1], flush=True)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.compile_times",
                                     description=__doc__)
    parser.add_argument("--out", default=str(HERE / "compile-times.md"))
    parser.add_argument("--baseline", type=Path, help="another lifgen checkout to time alongside")
    parser.add_argument("--only", choices=("shapes", "library"))
    args = parser.parse_args(argv)
    tables = []
    if args.only != "library":
        tables.append(shape_rows())
    if args.only != "shapes":
        tables.append(library_rows(args.baseline))
    Path(args.out).write_text("\n\n".join("\n".join(rows) for rows in tables) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
