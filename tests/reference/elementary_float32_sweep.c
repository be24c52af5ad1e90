/* Every float32 argument of lifgen's float32 elementary functions against glibc's float64
 * function of the same argument (within 1 ulp of double: 2^-29 ulp of float), compiled after
 * lifgen's elementary functions by elementary_float32_sweep.py. */
#include <math.h>

/* The ulp of the finite float `rounded` (the subnormal ulp below the normal range), built from
 * its exponent bits. */
static double float_ulp(float rounded)
{
    union { float f; uint32_t u; } v;
    union { uint64_t u; double d; } ulp;
    v.f = rounded;
    const int64_t exponent = (int64_t)((v.u >> 23) & 0xff);
    ulp.u = (uint64_t)((exponent < 1 ? 1 : exponent) - 150 + 1023) << 52;
    return ulp.d;
}

static double exprel_reference(double x) { return x == 0.0 ? 1.0 : expm1(x) / x; }
static double inverse_exprel_reference(double x) { return x == 0.0 ? 1.0 : x / expm1(x); }

/* The largest error in ulps over the bit patterns [first, last), its argument in *where, and in
 * *mismatches the arguments whose float result is inf or NaN where lifgen's differs. */
#define SWEEP(name, reference)                                                              \
LG_ENTRY double lg_sweep_##name(uint64_t first, uint64_t last, float *where, int64_t *mismatches)    \
{                                                                                           \
    double worst = 0.0;                                                                     \
    for (uint64_t bits = first; bits < last; ++bits) {                                      \
        union { uint32_t u; float f; } v;                                                   \
        v.u = (uint32_t)bits;                                                               \
        const float y = lg_##name##f(v.f);                                                  \
        const double exact = reference((double)v.f);                                        \
        const float rounded = (float)exact;                                                 \
        if (!isfinite(rounded)) {                                                           \
            *mismatches += !(y == rounded || (isnan(y) && isnan(rounded)));                 \
            continue;                                                                       \
        }                                                                                   \
        const double error = fabs((double)y - exact) / float_ulp(rounded);                  \
        if (error > worst || error != error) { worst = error; *where = v.f; }               \
    }                                                                                       \
    return worst;                                                                           \
}

SWEEP(exp, exp)
SWEEP(expm1, expm1)
SWEEP(log, log)
SWEEP(log1p, log1p)
SWEEP(tanh, tanh)
SWEEP(sinh, sinh)
SWEEP(cosh, cosh)
SWEEP(exprel, exprel_reference)
SWEEP(inverse_exprel, inverse_exprel_reference)
SWEEP(sin, sin)
SWEEP(cos, cos)
