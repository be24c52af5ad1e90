"""The polynomial coefficients of lifgen's elementary functions (templates/c/elementary.c.j2),
fitted with mpmath's Chebyshev fit (near-minimax) at 50 digits and rounded to double.

    python tests/reference/elementary_polynomials.py

prints them as C hex literals; tests/test_elementary.py checks the template holds these.
"""

from __future__ import annotations

import mpmath

# the intervals' ends at mpmath's default 15 digits, whatever precision the importer set
with mpmath.workdps(15):
    # exp and expm1 reduce x to r with |r| <= ln2/256 (a table of 2^(j/128), j = 0..127)
    LN2_256 = mpmath.log(2) / 256
    # s = f/(2 + f) for f in [sqrt(1/2) - 1, sqrt(2) - 1]: z = s*s lies in [0, Z_MAX]
    Z_MAX = ((mpmath.sqrt(2) - 1) / (mpmath.sqrt(2) + 1)) ** 2
# sin and cos take r in [-pi/4, pi/4], a little beyond where x*2/pi rounded: z = r*r up to 0.8^2
TRIG_Z_MAX = mpmath.mpf("0.64")


def exp_tail(r: mpmath.mpf) -> mpmath.mpf:
    """(e^r - 1 - r)/r^2: e^r = 1 + r + r^2*exp_tail(r) on |r| <= ln(2)/256."""
    return (mpmath.exp(r) - 1 - r) / r**2 if r else mpmath.mpf(1) / 2


def atanh_tail(z: mpmath.mpf) -> mpmath.mpf:
    """(2 atanh(s) - 2s)/(s z), z = s^2: log1p(f) = 2s + s*z*atanh_tail(z)."""
    if not z:
        return mpmath.mpf(2) / 3
    s = mpmath.sqrt(z)
    return (2 * mpmath.atanh(s) - 2 * s) / (s * z)


def atanh_rest(z: mpmath.mpf) -> mpmath.mpf:
    """(atanh_tail(z) - 2/3)/z: pow's log carries 2s^3/3 apart, in double-double."""
    return (atanh_tail(z) - mpmath.mpf(2) / 3) / z if z else mpmath.mpf(2) / 5


def sin_tail(z: mpmath.mpf) -> mpmath.mpf:
    """(sin(r) - r)/(r z), z = r^2: sin(r) = r + r*z*sin_tail(z)."""
    if not z:
        return -mpmath.mpf(1) / 6
    r = mpmath.sqrt(z)
    return (mpmath.sin(r) - r) / (r * z)


def cos_tail(z: mpmath.mpf) -> mpmath.mpf:
    """(cos(r) - 1 + z/2)/z^2, z = r^2: cos(r) = 1 - z/2 + z^2*cos_tail(z)."""
    if not z:
        return mpmath.mpf(1) / 24
    return (mpmath.cos(mpmath.sqrt(z)) - 1 + z / 2) / z**2


# name -> (function, interval, number of coefficients); "_double" for float64, "_single" for
# float32 (evaluated in double and rounded once to float)
POLYNOMIALS = {
    "exp_double": (exp_tail, (-LN2_256, LN2_256), 4),
    "exp_single": (exp_tail, (-LN2_256, LN2_256), 2),
    "expm1_double": (exp_tail, (-LN2_256, LN2_256), 5),  # relative to e^r - 1 ~ r: one more
    "expm1_single": (exp_tail, (-LN2_256, LN2_256), 3),
    "log_double": (atanh_tail, (0, Z_MAX), 7),
    "log_single": (atanh_tail, (0, Z_MAX), 4),
    "log_rest_double": (atanh_rest, (0, Z_MAX), 8),
    "sin_double": (sin_tail, (0, TRIG_Z_MAX), 7),
    "sin_single": (sin_tail, (0, TRIG_Z_MAX), 5),
    "cos_double": (cos_tail, (0, TRIG_Z_MAX), 6),
    "cos_single": (cos_tail, (0, TRIG_Z_MAX), 4),
}


def coefficients() -> dict[str, list[float]]:
    """Each polynomial's coefficients, lowest degree first, as doubles."""
    out = {}
    with mpmath.workdps(50):
        for name, (function, interval, count) in POLYNOMIALS.items():
            fitted = mpmath.chebyfit(function, list(interval), count)
            out[name] = [float(c) for c in reversed(fitted)]
    return out


def exp_table() -> list[float]:
    """2^(j/128) for j = 0..127 as pairs (tail, hi): hi the nearest double, tail the rest
    relative to it, (2^(j/128) - hi)/hi rounded to double: 2^(j/128) = hi (1 + tail)."""
    pairs = []
    with mpmath.workdps(50):
        for j in range(128):
            exact = mpmath.mpf(2) ** (mpmath.mpf(j) / 128)
            hi = float(exact)
            pairs += [float((exact - hi) / hi), hi]
    return pairs


if __name__ == "__main__":
    for name, values in coefficients().items():
        print(name, ", ".join(v.hex() for v in values))
    print("exp_table", ", ".join(v.hex() for v in exp_table()))
