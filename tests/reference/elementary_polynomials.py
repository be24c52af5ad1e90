"""The polynomial coefficients of lifgen's elementary functions (templates/c/elementary.c.j2),
fitted with mpmath's Chebyshev fit (near-minimax) at 50 digits and rounded to double.

    python tests/reference/elementary_polynomials.py

prints them as C hex literals; tests/test_elementary.py checks the template holds these.
"""

from __future__ import annotations

import mpmath

LN2_HALF = mpmath.log(2) / 2
# s = f/(2 + f) for f in [sqrt(1/2) - 1, sqrt(2) - 1]: z = s*s lies in [0, Z_MAX]
Z_MAX = ((mpmath.sqrt(2) - 1) / (mpmath.sqrt(2) + 1)) ** 2


def exp_tail(r: mpmath.mpf) -> mpmath.mpf:
    """(e^r - 1 - r)/r^2: e^r = 1 + r + r^2*exp_tail(r) on |r| <= ln(2)/2."""
    return (mpmath.exp(r) - 1 - r) / r**2 if r else mpmath.mpf(1) / 2


def atanh_tail(z: mpmath.mpf) -> mpmath.mpf:
    """(2 atanh(s) - 2s)/(s z), z = s^2: log1p(f) = 2s + s*z*atanh_tail(z)."""
    if not z:
        return mpmath.mpf(2) / 3
    s = mpmath.sqrt(z)
    return (2 * mpmath.atanh(s) - 2 * s) / (s * z)


# name -> (function, interval, number of coefficients); "_double" for float64, "_single" for
# float32 (evaluated in double and rounded once to float)
POLYNOMIALS = {
    "exp_double": (exp_tail, (-LN2_HALF, LN2_HALF), 11),
    "exp_single": (exp_tail, (-LN2_HALF, LN2_HALF), 7),
    "log_double": (atanh_tail, (0, Z_MAX), 7),
    "log_single": (atanh_tail, (0, Z_MAX), 4),
}


def coefficients() -> dict[str, list[float]]:
    """Each polynomial's coefficients, lowest degree first, as doubles."""
    out = {}
    with mpmath.workdps(50):
        for name, (function, interval, count) in POLYNOMIALS.items():
            fitted = mpmath.chebyfit(function, list(interval), count)
            out[name] = [float(c) for c in reversed(fitted)]
    return out


if __name__ == "__main__":
    for name, values in coefficients().items():
        print(name, ", ".join(v.hex() for v in values))
