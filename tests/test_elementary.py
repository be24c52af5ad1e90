"""lifgen's own elementary functions (templates/c/elementary.c.j2): their accuracy in ulps against
a reference in higher precision (float64 against long double, float32 against float64), their
special values as C99 Annex F gives them, and their polynomials as the fitting script makes them.
The exhaustive float32 sweep is tests/reference/elementary_float32_sweep.py (results beside it);
the bounds are documented in docs/elementary_functions.md."""

import math
import re
from pathlib import Path

import numpy as np
import pytest

from lifgen.targets.cfamily.elementary import ELEMENTARY, evaluate

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = {"exp": np.exp, "expm1": np.expm1, "log": np.log, "log1p": np.log1p, "tanh": np.tanh,
             "sinh": np.sinh, "cosh": np.cosh, "sin": np.sin, "cos": np.cos,
             "exprel": lambda x: np.where(x == 0, 1, np.expm1(x) / np.where(x == 0, 1, x)),
             "inverse_exprel": lambda x: np.where(x == 0, 1, np.where(x == 0, 1, x) / np.expm1(x))}
# The largest error in ulps each function may have (docs/elementary_functions.md).
BOUND = {"float64": {"exp": 1.0, "expm1": 1.0, "log": 1.0, "log1p": 1.0, "tanh": 2.5,
                     "sinh": 2.0, "cosh": 1.5, "exprel": 1.5, "inverse_exprel": 1.5, "sin": 1.0, "cos": 1.0},
         "float32": {name: 0.501 for name in ELEMENTARY}}
# sin and cos reduce exactly for |x| <= 2^40 pi/2; beyond, their error is absolute (below)
TRIG_LIMIT = 2**40 * math.pi / 2
EXTENDED = np.finfo(np.longdouble).nmant >= 63  # x87 long double: 11 more bits than double


def domain(name: str, count: int, rng: np.random.Generator) -> np.ndarray:
    """Inputs over a function's whole finite domain: uniform over the range where its values are
    finite and not yet constant, log-uniform in magnitude, and near 0 and near its edges."""
    magnitude = np.exp(rng.uniform(-740, 709, count)) * rng.choice([-1, 1], count)
    near_zero = rng.uniform(-1e-3, 1e-3, count // 4)
    ranges = {"exp": (-746, 710), "expm1": (-40, 710), "tanh": (-25, 25), "exprel": (-40, 709.7),
              "sinh": (-711, 711), "cosh": (-711, 711), "inverse_exprel": (-709.7, 709.7),
              "log": (0, 4), "log1p": (-1, 4), "sin": (-10, 10), "cos": (-10, 10)}
    low, high = ranges[name]
    x = np.concatenate([rng.uniform(low, high, count), magnitude, near_zero,
                        rng.uniform(-2, 2, count // 2)])
    if name == "log":
        x = np.abs(x)
    if name in ("exprel", "inverse_exprel"):  # expm1(x) overflows past 709.78 (e^x/x past 716)
        x = x[x < 709.78]
    if name == "log1p":
        x = np.concatenate([np.abs(x), -np.abs(near_zero), -1 + np.exp(rng.uniform(-50, 0, count))])
    if name in ("sin", "cos"):
        x = x[np.abs(x) <= TRIG_LIMIT]
    return x


def ulp_error(y: np.ndarray, reference: np.ndarray, dtype: type) -> float:
    """The largest |y - reference| in units of the last place of the reference rounded to dtype
    (subnormal results in the subnormal ulp), over finite references within dtype's range."""
    finite = np.isfinite(reference) & (np.abs(reference) <= np.finfo(dtype).max)
    rounded = np.abs(reference[finite]).astype(dtype)
    ulp = np.spacing(rounded).astype(reference.dtype)
    return float(np.max(np.abs(y[finite].astype(reference.dtype) - reference[finite]) / ulp))


@pytest.mark.skipif(not EXTENDED, reason="needs an extended long double for a float64 reference")
@pytest.mark.parametrize("name", sorted(ELEMENTARY))
def test_float64_is_within_its_bound_over_the_domain(name):
    x = domain(name, 400_000, np.random.default_rng(25))
    with np.errstate(all="ignore"):
        reference = REFERENCE[name](x.astype(np.longdouble))
    assert ulp_error(evaluate(name, x), reference, np.float64) <= BOUND["float64"][name]


@pytest.mark.parametrize("name", sorted(ELEMENTARY))
def test_float32_is_within_its_bound_over_the_domain(name):
    with np.errstate(all="ignore"):
        x = domain(name, 400_000, np.random.default_rng(32)).astype(np.float32)
        reference = REFERENCE[name](x.astype(np.float64))
    assert ulp_error(evaluate(name, x), reference, np.float32) <= BOUND["float32"][name]


INF, NAN = math.inf, math.nan
# C99 Annex F (F.9.3): (function, argument, result); a signed zero must keep its sign.
SPECIAL = [("exp", 0.0, 1.0), ("exp", -0.0, 1.0), ("exp", INF, INF), ("exp", -INF, 0.0),
           ("exp", NAN, NAN), ("exp", 1000.0, INF), ("exp", -1000.0, 0.0),
           ("expm1", 0.0, 0.0), ("expm1", -0.0, -0.0), ("expm1", INF, INF), ("expm1", -INF, -1.0),
           ("expm1", NAN, NAN), ("expm1", 1000.0, INF), ("expm1", -1000.0, -1.0),
           ("log", 0.0, -INF), ("log", -0.0, -INF), ("log", 1.0, 0.0), ("log", -1.0, NAN),
           ("log", -INF, NAN), ("log", INF, INF), ("log", NAN, NAN),
           ("log1p", 0.0, 0.0), ("log1p", -0.0, -0.0), ("log1p", -1.0, -INF),
           ("log1p", -2.0, NAN), ("log1p", -INF, NAN), ("log1p", INF, INF), ("log1p", NAN, NAN),
           ("tanh", 0.0, 0.0), ("tanh", -0.0, -0.0), ("tanh", INF, 1.0), ("tanh", -INF, -1.0),
           ("tanh", NAN, NAN),
           ("sinh", 0.0, 0.0), ("sinh", -0.0, -0.0), ("sinh", INF, INF), ("sinh", -INF, -INF),
           ("sinh", NAN, NAN), ("sinh", 711.0, INF), ("sinh", -711.0, -INF),
           ("cosh", 0.0, 1.0), ("cosh", -0.0, 1.0), ("cosh", INF, INF), ("cosh", -INF, INF),
           ("cosh", NAN, NAN), ("cosh", 711.0, INF), ("cosh", -711.0, INF),
           ("exprel", 0.0, 1.0), ("exprel", -0.0, 1.0), ("exprel", INF, INF),
           ("exprel", -INF, 0.0), ("exprel", NAN, NAN),
           ("inverse_exprel", 0.0, 1.0), ("inverse_exprel", -0.0, 1.0),
           ("inverse_exprel", INF, 0.0), ("inverse_exprel", -INF, INF),
           ("inverse_exprel", NAN, NAN),
           ("sin", 0.0, 0.0), ("sin", -0.0, -0.0), ("sin", INF, NAN), ("sin", -INF, NAN),
           ("sin", NAN, NAN), ("cos", 0.0, 1.0), ("cos", -0.0, 1.0), ("cos", INF, NAN),
           ("cos", -INF, NAN), ("cos", NAN, NAN)]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name, argument, expected", SPECIAL)
def test_special_values_are_as_annex_f_says(name, argument, expected, dtype):
    result = float(evaluate(name, np.array([argument], dtype=dtype))[0])
    if math.isnan(expected):
        assert math.isnan(result)
    else:
        assert result == expected and math.copysign(1, result) == math.copysign(1, expected)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_tiny_and_subnormal_arguments(dtype):
    tiny = np.array([np.finfo(dtype).smallest_subnormal, np.finfo(dtype).tiny, 1e-30],
                    dtype=dtype)
    assert np.array_equal(evaluate("expm1", tiny), tiny)
    assert np.array_equal(evaluate("log1p", tiny), tiny)
    assert np.array_equal(evaluate("exp", tiny), np.ones_like(tiny))
    with np.errstate(all="ignore"):
        reference = np.log(tiny.astype(np.longdouble if dtype == np.float64 else np.float64))
    assert ulp_error(evaluate("log", tiny), reference, dtype) <= BOUND[np.dtype(dtype).name]["log"]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", ["sin", "cos"])
def test_sin_and_cos_beyond_exact_reduction(name, dtype):
    """Beyond |x| = 2^40 pi/2 the products n*pi/2 round: the error is absolute, about |x| 2^-53
    up to 2^50 (documented; beyond, no accuracy), and the values stay within [-1, 1] up to the
    largest finite x."""
    rng = np.random.default_rng(3)
    x = np.exp(rng.uniform(math.log(TRIG_LIMIT), math.log(2.0**50), 20_000)).astype(dtype)
    error = np.abs(evaluate(name, x).astype(np.float64) - REFERENCE[name](x.astype(np.float64)))
    assert np.all(error <= np.abs(x.astype(np.float64)) * 2.0**-51 + np.spacing(dtype(1)))
    huge = np.exp(rng.uniform(math.log(2.0**50), math.log(np.finfo(dtype).max), 20_000))
    values = evaluate(name, huge.astype(dtype))
    assert np.all(np.abs(values) <= 1)


def pow_arguments(count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (x, y) whose x^y is finite and nonzero: |y ln x| up to 700, x across its range."""
    x = np.exp(rng.uniform(-700, 700, count)) * rng.choice([1.0, 1.0, 1.0, -1.0], count)
    y = rng.uniform(-1, 1, count) * 700 / np.maximum(np.abs(np.log(np.abs(x))), 1e-3)
    y = np.where(rng.uniform(0, 1, count) < 0.3, np.round(y), y)  # whole: negative x allowed
    y = np.where(x < 0, np.round(y), y)
    near_one = 1 + rng.uniform(-1e-3, 1e-3, count // 4)
    return (np.concatenate([x, near_one, rng.uniform(0, 4, count // 4)]),
            np.concatenate([y, rng.uniform(-1e5, 1e5, count // 4), rng.uniform(-30, 30, count // 4)]))


@pytest.mark.skipif(not EXTENDED, reason="needs an extended long double for a float64 reference")
def test_pow_float64_is_within_one_ulp():
    x, y = pow_arguments(200_000, np.random.default_rng(44))
    with np.errstate(all="ignore"):
        reference = np.power(x.astype(np.longdouble), y.astype(np.longdouble))
    assert ulp_error(evaluate("pow", x, y=y), reference, np.float64) <= 1.0


@pytest.mark.skipif(not EXTENDED, reason="needs an extended long double for a float64 reference")
def test_pow_float64_stays_within_one_ulp_where_y_log_x_nears_700():
    """Where |y ln x| nears 700, an error in log|x| is multiplied by |y| ~ 2000: log's hi + lo
    must be good to about 2^-66 there (x near sqrt(2) showed 2^-64, 1.49 ulp, before the
    rounding of s^5 P(z) was carried)."""
    rng = np.random.default_rng(46)
    x = np.exp(rng.uniform(-3, 3, 100_000))
    y = rng.uniform(690, 709, x.size) * rng.choice([-1.0, 1.0], x.size) / np.log(x)
    with np.errstate(all="ignore"):
        reference = np.power(x.astype(np.longdouble), y.astype(np.longdouble))
    assert ulp_error(evaluate("pow", x, y=y), reference, np.float64) <= 1.0


def test_pow_float32_is_correctly_rounded_but_for_ties():
    x, y = pow_arguments(200_000, np.random.default_rng(45))
    x, y = x.astype(np.float32), y.astype(np.float32)
    with np.errstate(all="ignore"):
        reference = np.power(x.astype(np.float64), y.astype(np.float64))
        assert ulp_error(evaluate("pow", x, y=y), reference, np.float32) <= 0.501


# C99 Annex F (F.9.4.4): (x, y, x^y)
POW_SPECIAL = [(0.0, -3.0, INF), (-0.0, -3.0, -INF), (0.0, -2.0, INF), (-0.0, -0.5, INF),
               (0.0, 3.0, 0.0), (-0.0, 3.0, -0.0), (-0.0, 2.0, 0.0), (-0.0, 0.5, 0.0),
               (0.0, -INF, INF), (-1.0, INF, 1.0), (-1.0, -INF, 1.0), (1.0, NAN, 1.0),
               (1.0, -INF, 1.0), (NAN, 0.0, 1.0), (NAN, -0.0, 1.0), (INF, 0.0, 1.0),
               (-2.0, 0.5, NAN), (-2.0, 3.0, -8.0), (-2.0, -3.0, -0.125), (-2.0, 2.0, 4.0),
               (0.5, -INF, INF), (2.0, -INF, 0.0), (0.5, INF, 0.0), (2.0, INF, INF),
               (-INF, -3.0, -0.0), (-INF, -2.0, 0.0), (-INF, -0.5, 0.0), (-INF, 3.0, -INF),
               (-INF, 2.0, INF), (-INF, 0.5, INF), (INF, -1.0, 0.0), (INF, 1.0, INF),
               (NAN, 1.0, NAN), (2.0, NAN, NAN), (-1.0, 2.0**53 - 1, -1.0), (-1.0, 2.0**53, 1.0),
               (2.0, 1e300, INF), (2.0, -1e300, 0.0), (10.0, 308.0, 1e308), (2.0, -1074.0, 5e-324)]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_pow_special_values_are_as_annex_f_says(dtype):
    x, y, expected = (np.array(column) for column in zip(*POW_SPECIAL))
    with np.errstate(all="ignore"):
        result = evaluate("pow", x.astype(dtype), y=y.astype(dtype))
        expected = np.power(x.astype(dtype), y.astype(dtype)) if dtype == np.float32 else expected
    same = (result == expected) & (np.signbit(result) == np.signbit(expected))
    assert np.all(same | (np.isnan(result) & np.isnan(expected))), list(zip(x, y, result, expected))


@pytest.mark.parametrize("name", ["exp", "expm1", "log", "log1p"])
def test_contraction_into_fused_multiply_adds_keeps_the_bound(name):
    """Compiled with -ffp-contract=fast the bits may change; the accuracy must not rely on it."""
    x = domain(name, 100_000, np.random.default_rng(7))
    with np.errstate(all="ignore"):
        reference = REFERENCE[name](x.astype(np.longdouble))
    assert ulp_error(evaluate(name, x, fma=True), reference, np.float64) <= 1.0 + 1e-9 or \
        not EXTENDED


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_vector_functions_and_inlined_ones_give_the_same_bits(dtype):
    """lifgen's builds call the functions' vector clones; a build without them (an emitted
    library) inlines them: the numbers must not tell the two apart."""
    rng = np.random.default_rng(11)
    for name in sorted(ELEMENTARY):
        with np.errstate(all="ignore"):
            x = domain(name, 2_000, rng).astype(dtype)
        assert np.array_equal(evaluate(name, x), evaluate(name, x, inlined=True), equal_nan=True)


def test_the_polynomials_are_the_fitting_scripts():
    """The template's coefficients and exp's table of 2^(j/128) are what the script computes."""
    import importlib.util

    path = ROOT / "tests" / "reference" / "elementary_polynomials.py"
    spec = importlib.util.spec_from_file_location("elementary_polynomials", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    template = (ROOT / "templates" / "c" / "elementary.c.j2").read_text()
    for name, values in module.coefficients().items():
        written = re.search(rf"set {name.upper()} = \[([^\]]*)\]", template).group(1)
        assert [float.fromhex(v.strip(' "')) for v in written.split(",")] == values
    table = re.search(r"lg_exp_table\[256\] = \{([^}]*)\}", template).group(1)
    assert [float.fromhex(v) for v in table.replace(",", " ").split()] == module.exp_table()
