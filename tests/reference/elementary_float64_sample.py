"""Dense samples of lifgen's float64 elementary functions against references in higher
precision: 2,000,000 arguments per function against NumPy's long double (x87, 64-bit mantissa)
and 20,000 against mpmath at 40 digits; the largest error in ulps of each, written to
elementary_float64_sample.json beside this script (quoted in docs/elementary_functions.md).

    PYTHONPATH=. python tests/reference/elementary_float64_sample.py [NAME ...]

sin and cos are sampled where their reduction is exact, |x| <= 2^40 pi/2.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import mpmath
import numpy as np

from lifgen.targets.cfamily.elementary import ELEMENTARY, evaluate

# The finite domain of each function where its value is finite and not yet constant.
RANGES = {"exp": (-745.2, 709.78), "expm1": (-40, 709.78), "log": (0, 1e308), "log1p": (-1, 1e308),
          "tanh": (-20, 20), "exprel": (-40, 709.78), "sin": (-2**40 * math.pi / 2, 2**40 * math.pi / 2),
          "cos": (-2**40 * math.pi / 2, 2**40 * math.pi / 2), "sinh": (-710.47, 710.47),
          "inverse_exprel": (-40, 709.78),
          "cosh": (-710.47, 710.47)}
LONG = {"exp": np.exp, "expm1": np.expm1, "log": np.log, "log1p": np.log1p, "tanh": np.tanh,
        "exprel": lambda x: np.expm1(x) / x, "sin": np.sin, "cos": np.cos, "sinh": np.sinh,
        "cosh": np.cosh, "inverse_exprel": lambda x: x / np.expm1(x)}
PRECISE = {"exp": mpmath.exp, "expm1": mpmath.expm1, "log": mpmath.log,
           "log1p": lambda x: mpmath.log1p(x), "tanh": mpmath.tanh,
           "exprel": lambda x: mpmath.expm1(x) / x, "sin": mpmath.sin, "cos": mpmath.cos,
           "sinh": mpmath.sinh, "cosh": mpmath.cosh,
           "inverse_exprel": lambda x: x / mpmath.expm1(x)}


def arguments(name: str, count: int, rng: np.random.Generator) -> np.ndarray:
    """Uniform over the range, log-uniform in magnitude within it, and near 0 and the ends."""
    low, high = RANGES[name]
    spread = np.exp(rng.uniform(-700, np.log(min(abs(high), 1e300)), count))
    signs = rng.choice([-1.0, 1.0], count) if low < 0 else np.ones(count)
    x = np.concatenate([rng.uniform(low, min(high, 710), count), spread * signs,
                        rng.uniform(-1e-3, 1e-3, count // 4), rng.uniform(-2, 2, count // 2)])
    if name == "log1p":
        x = np.concatenate([x, -1 + np.exp(rng.uniform(-50, 0, count // 4))])
    x = x[(x > low) & (x <= high) & (x != 0)]
    return x


def ulps(y: np.ndarray, reference: np.ndarray) -> np.ndarray:
    rounded = np.abs(reference.astype(np.float64))
    return np.abs(y.astype(reference.dtype) - reference) / np.spacing(rounded).astype(reference.dtype)


def sample(name: str) -> dict:
    rng = np.random.default_rng(64)
    x = arguments(name, 2_000_000, rng)
    with np.errstate(all="ignore"):
        errors = ulps(evaluate(name, x), LONG[name](x.astype(np.longdouble)))
    worst = int(np.argmax(errors))
    few = rng.choice(x, 20_000, replace=False)
    with mpmath.workdps(40):
        exact = np.array([PRECISE[name](mpmath.mpf(float(v))) for v in few], dtype=object)
    mine = evaluate(name, few)
    spacing = np.spacing(np.abs(np.array([float(v) for v in exact])))
    precise = max(float(abs(mpmath.mpf(float(m)) - e) / s) for m, e, s in zip(mine, exact, spacing))
    return {"max_ulp_long_double": float(errors[worst]), "at": float(x[worst]),
            "max_ulp_mpmath_20000": precise, "samples": int(x.size)}


if __name__ == "__main__":
    out = Path(__file__).with_name("elementary_float64_sample.json")
    results = json.loads(out.read_text()) if out.exists() else {}
    results.update({name: sample(name) for name in sys.argv[1:] or ELEMENTARY})
    out.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    print(json.dumps(results, indent=1))
