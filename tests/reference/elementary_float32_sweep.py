"""Every float32 argument in the reachable range of lifgen's float32 exp, expm1, log and log1p
against glibc's float64 function (elementary_float32_sweep.c, compiled after lifgen's functions
with lifgen's flags): the largest error in ulps and where, and how many non-finite results
differ, written to elementary_float32_sweep.json beside this script (docs/elementary_functions.md
quotes it; tests/test_elementary.py samples densely and checks the special values).

    PYTHONPATH=. python tests/reference/elementary_float32_sweep.py [NAME ...]

The reachable range is where the result is neither a constant (0, -1, inf) nor NaN: beyond it
the special-value tests apply (sin and cos: where their reduction is exact). tanh, sinh, cosh,
exprel, inverse_exprel, sin and cos (any of them: NAME tanh) are not swept by default.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from lifgen.codegen.build import build
from lifgen.targets.cfamily.elementary import ELEMENTARY, elementary_source

HERE = Path(__file__).resolve().parent
# name -> float32 bit-pattern ranges [first, last): positive then negative arguments
POSITIVE, NEGATIVE = 0x00000000, 0x80000000
REACHABLE = {
    "exp": [(POSITIVE, 0x42b20000 + 1), (NEGATIVE, 0xc2d00000 + 1)],  # to 89 and -104
    "expm1": [(POSITIVE, 0x42b20000 + 1), (NEGATIVE, 0xc18c0000 + 1)],  # to 89 and -17.5
    "log": [(POSITIVE + 1, 0x7f800000)],  # positive finite
    "log1p": [(POSITIVE, 0x7f800000), (NEGATIVE, 0xbf800000)],  # (-1, inf)
    "tanh": [(POSITIVE, 0x41200000 + 1), (NEGATIVE, 0xc1200000 + 1)],  # |x| <= 10
    "sinh": [(POSITIVE, 0x42b40000 + 1), (NEGATIVE, 0xc2b40000 + 1)],  # |x| <= 90 (overflow: 89.4)
    "cosh": [(POSITIVE, 0x42b40000 + 1), (NEGATIVE, 0xc2b40000 + 1)],
    "exprel": [(POSITIVE, 0x42b20000 + 1), (NEGATIVE, 0xc18c0000 + 1)],
    "inverse_exprel": [(POSITIVE, 0x42b20000 + 1), (NEGATIVE, 0xc18c0000 + 1)],
    "sin": [(POSITIVE, 0x53c90fdb + 1), (NEGATIVE, 0xd3c90fdb + 1)],  # |x| <= 2^40 pi/2
    "cos": [(POSITIVE, 0x53c90fdb + 1), (NEGATIVE, 0xd3c90fdb + 1)],
}


def sweep(name: str) -> dict:
    """The largest ulp error of lifgen's float32 `name` over all 2^32 bit patterns."""
    cdef = "\n".join(f"double lg_sweep_{n}(uint64_t, uint64_t, float *, int64_t *);"
                     for n in ELEMENTARY)
    kernel = build(elementary_source() + (HERE / "elementary_float32_sweep.c").read_text(), cdef)
    where, mismatches = kernel.ffi.new("float *"), kernel.ffi.new("int64_t *")
    worst, at, count = 0.0, 0.0, 0
    for first, last in REACHABLE[name]:
        error = getattr(kernel.lib, f"lg_sweep_{name}")(first, last, where, mismatches)
        count += last - first
        if error > worst:
            worst, at = error, where[0]
    return {"max_ulp": worst, "at": at, "non_finite_mismatches": mismatches[0],
            "arguments": count}


if __name__ == "__main__":
    out = HERE / "elementary_float32_sweep.json"
    results = json.loads(out.read_text()) if out.exists() else {}
    for name in sys.argv[1:] or ["exp", "expm1", "log", "log1p"]:
        began = time.time()
        results[name] = sweep(name)
        print(name, results[name], f"{time.time() - began:.0f} s", flush=True)
        out.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
