"""Every float32 argument of lifgen's float32 elementary functions against float64 NumPy: the
largest error in ulps and where it occurs, written to elementary_float32_sweep.json beside this
script (docs/elementary_functions.md quotes it; tests/test_elementary.py samples densely).

    PYTHONPATH=. python tests/reference/elementary_float32_sweep.py

Arguments whose result is not finite in float32, or whose reference is NaN, are checked to give
the same non-finite value (inf of the right sign, NaN) instead of an ulp count.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

from lifgen.targets.cfamily.elementary import ELEMENTARY, evaluate

CHUNK = 1 << 24
REFERENCE = {"exp": np.exp, "expm1": np.expm1, "log": np.log, "log1p": np.log1p, "tanh": np.tanh,
             "exprel": lambda x: np.where(x == 0, 1, np.expm1(x) / np.where(x == 0, 1, x))}


def sweep(name: str) -> dict:
    """The largest ulp error of `name` over all 2^32 float32 bit patterns."""
    worst, where, mismatched = 0.0, 0.0, 0
    for start in range(0, 1 << 32, CHUNK):
        x = np.arange(start, start + CHUNK, dtype=np.uint64).astype(np.uint32).view(np.float32)
        y = evaluate(name, x).astype(np.float64)
        with np.errstate(all="ignore"):
            reference = REFERENCE[name](x.astype(np.float64))
            rounded = reference.astype(np.float32)
        finite = np.isfinite(rounded)
        mismatched += int(np.count_nonzero(~finite & ~((y == rounded) | (np.isnan(y) & np.isnan(rounded)))))
        ulp = np.spacing(np.abs(rounded[finite])).astype(np.float64)
        error = np.abs(y[finite] - reference[finite]) / ulp
        if error.size and error.max() > worst:
            worst, where = float(error.max()), float(x[finite][np.argmax(error)])
    return {"max_ulp": worst, "at": where, "non_finite_mismatches": mismatched}


if __name__ == "__main__":
    names = sys.argv[1:] or list(ELEMENTARY)
    out = Path(__file__).with_name("elementary_float32_sweep.json")
    results = json.loads(out.read_text()) if out.exists() else {}
    for name in names:
        began = time.time()
        results[name] = sweep(name)
        print(name, results[name], f"{time.time() - began:.0f} s", flush=True)
        out.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
