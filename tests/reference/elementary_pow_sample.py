"""lifgen's pow against references in higher precision, on the pairs of `pow_arguments`
(tests/test_elementary.py): float64 on 2,000,000 draws (seed 64) against NumPy's long double and
20,000 of them against mpmath at 40 digits; float32 on 2,000,000 draws (seed 65) against float64
pow, rounded once. The largest errors in ulps, written to elementary_pow_sample.json beside this
script (quoted in docs/elementary_functions.md and the README).

    PYTHONPATH=. python tests/reference/elementary_pow_sample.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import mpmath
import numpy as np

from lifgen.targets.cfamily.elementary import evaluate

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from test_elementary import pow_arguments  # noqa: E402


def float64_errors() -> dict:
    """The largest error of float64 pow against long double and, on a subsample, mpmath."""
    rng = np.random.default_rng(64)
    x, y = pow_arguments(2_000_000, rng)
    with np.errstate(all="ignore"):
        reference = np.power(x.astype(np.longdouble), y.astype(np.longdouble))
    z = evaluate("pow", x, y=y)
    finite = np.isfinite(reference) & (np.abs(reference) < 1.7e308) & (reference != 0)
    spacing = np.spacing(np.abs(reference[finite]).astype(np.float64)).astype(np.longdouble)
    errors = np.abs(z[finite] - reference[finite]) / spacing
    worst = int(np.argmax(errors))
    chosen = rng.choice(np.flatnonzero(finite), 20_000, replace=False)
    exact_worst = 0.0
    with mpmath.workdps(40):
        for i in chosen:
            exact = mpmath.power(mpmath.mpf(float(x[i])), mpmath.mpf(float(y[i])))
            exact_worst = max(exact_worst, float(abs(mpmath.mpf(float(z[i])) - exact)
                                                 / np.spacing(abs(float(exact)))))
    return {"pairs": int(finite.sum()), "max_ulp_long_double": float(errors[worst]),
            "at": [float(x[finite][worst]), float(y[finite][worst])],
            "max_ulp_mpmath_20000": exact_worst}


def float32_errors() -> dict:
    """The largest error of float32 pow against float64 pow (correct rounding but for ties)."""
    x, y = pow_arguments(2_000_000, np.random.default_rng(65))
    with np.errstate(all="ignore"):
        x, y = x.astype(np.float32), y.astype(np.float32)
        reference = np.power(x.astype(np.float64), y.astype(np.float64))
    z = evaluate("pow", x, y=y)
    finite = np.isfinite(reference) & (np.abs(reference) <= np.finfo(np.float32).max) & (reference != 0)
    spacing = np.spacing(np.abs(reference[finite]).astype(np.float32)).astype(np.float64)
    errors = np.abs(z[finite].astype(np.float64) - reference[finite]) / spacing
    return {"pairs": int(finite.sum()), "max_ulp": float(errors.max())}


if __name__ == "__main__":
    results = {"float64": float64_errors(), "float32": float32_errors()}
    print(json.dumps(results, indent=1))
    (HERE / "elementary_pow_sample.json").write_text(json.dumps(results, indent=1) + "\n")
