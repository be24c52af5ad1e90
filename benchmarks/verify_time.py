"""How long `lifgen verify` takes, cold (empty kernel cache) and warm, and how many kernels it
builds, for a few library models with their default methods and dts: with one kernel per method
(dt a kernel argument, today) and with one per method and dt (as before), alternating in one
run. Run by hand: `python -m benchmarks.verify_time [--out FILE]`. Each run is a fresh process.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
MODELS = ("lapicque", "lif_cuba", "hodgkin_huxley")

PROBE = """
import json, sys, time
import lifgen, lifgen.runtime.simulate
from lifgen.codegen.build import cache_info
if sys.argv[2] == "per-dt":  # as before runtime_dt: dt written into each kernel
    compile_with_dt = lifgen.runtime.simulate.compile
    lifgen.runtime.simulate.compile = lambda *a, **k: compile_with_dt(*a, **{**k, "runtime_dt": False})
started = time.perf_counter()
report = lifgen.verify(sys.argv[1])
print(json.dumps({"seconds": time.perf_counter() - started, "passed": report.passed,
                  "runs": len(report.rows), "kernels": cache_info()["kernels"],
                  "megabytes": cache_info()["bytes"] / 1e6}))
"""


def _probe(model, cache, kernels):
    answer = subprocess.run([sys.executable, "-c", PROBE, model, kernels], capture_output=True,
                            text=True,
                            timeout=1200, env=dict(os.environ, LIFGEN_CACHE_DIR=cache))
    if answer.returncode:
        raise SystemExit(f"{model}: {answer.stderr.strip().splitlines()[-1]}")
    return json.loads(answer.stdout)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.verify_time", description=__doc__)
    parser.add_argument("--out", default=str(HERE / "verify-times.md"))
    parser.add_argument("--models", default=",".join(MODELS))
    args = parser.parse_args(argv)
    rows = ["| model | kernels | simulations | kernels built | cache | cold | warm | passed |",
            "|---|---|---|---|---|---|---|---|"]
    for model in args.models.split(","):
        for kernels in ("per-dt", "one per method"):  # alternating, in one run
            with tempfile.TemporaryDirectory() as cache:
                cold, warm = _probe(model, cache, kernels), _probe(model, cache, kernels)
            rows.append(f"| {model} | {kernels} | {cold['runs']} | {cold['kernels']} | "
                        f"{cold['megabytes']:.1f} MB | {cold['seconds']:.1f} s | "
                        f"{warm['seconds']:.1f} s | {cold['passed']} |")
            print(rows[-1], flush=True)
    Path(args.out).write_text("\n".join(rows) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
