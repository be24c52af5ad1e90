/* Hand-written neuron steps of four library models, compiled by benchmarks/transcendentals.py
 * with -O3 -ffast-math -march=native: gcc then calls glibc's vector math (libmvec), as Brian2's
 * default flags do. The same equations, methods and dt as lifgen's kernels of the models (float64);
 * neurons in tiles of LG_TILE advanced through all steps, as lifgen's schedule does. */
#include <math.h>
#include <stdint.h>

enum { TILE = 512 };

static inline double exprel(double x) { return x == 0.0 ? 1.0 : expm1(x) / x; }

/* hodgkin_huxley.toml: rates in 1/ms, V in mV; dt 0.01 ms; a spike is an upward crossing of 0 mV */
static inline void hh_derivatives(double V, double m, double h, double n, double I,
                                  double *dV, double *dm, double *dh, double *dn)
{
    const double alpha_m = 1.0 / exprel(-(V + 40.0) / 10.0), beta_m = 4.0 * exp(-(V + 65.0) / 18.0);
    const double alpha_h = 0.07 * exp(-(V + 65.0) / 20.0), beta_h = 1.0 / (1.0 + exp(-(V + 35.0) / 10.0));
    const double alpha_n = 0.1 / exprel(-(V + 55.0) / 10.0), beta_n = 0.125 * exp(-(V + 65.0) / 80.0);
    *dV = I - 120.0 * m * m * m * h * (V - 50.0) - 36.0 * n * n * n * n * (V + 77.0) - 0.3 * (V + 54.387);
    *dm = alpha_m * (1.0 - m) - beta_m * m;
    *dh = alpha_h * (1.0 - h) - beta_h * h;
    *dn = alpha_n * (1.0 - n) - beta_n * n;
}

void hodgkin_huxley_rk4(int64_t steps, int64_t count, double dt, double *restrict V_, double *restrict m_,
                        double *restrict h_, double *restrict n_, const double *restrict I_, int64_t *restrict spikes)
{
    for (int64_t first = 0; first < count; first += TILE) {
        const int64_t size = count - first < TILE ? count - first : TILE;
        double *restrict Vs = V_ + first, *restrict ms = m_ + first, *restrict hs = h_ + first, *restrict ns = n_ + first;
        const double *restrict Is = I_ + first;
        int64_t *restrict tally = spikes + first;
        for (int64_t t = 0; t < steps; ++t)
            for (int64_t i = 0; i < size; ++i) {
                const double V = Vs[i], m = ms[i], h = hs[i], n = ns[i], I = Is[i];
                double a1, b1, c1, d1, a2, b2, c2, d2, a3, b3, c3, d3, a4, b4, c4, d4;
                hh_derivatives(V, m, h, n, I, &a1, &b1, &c1, &d1);
                hh_derivatives(V + 0.5 * dt * a1, m + 0.5 * dt * b1, h + 0.5 * dt * c1, n + 0.5 * dt * d1, I, &a2, &b2, &c2, &d2);
                hh_derivatives(V + 0.5 * dt * a2, m + 0.5 * dt * b2, h + 0.5 * dt * c2, n + 0.5 * dt * d2, I, &a3, &b3, &c3, &d3);
                hh_derivatives(V + dt * a3, m + dt * b3, h + dt * c3, n + dt * d3, I, &a4, &b4, &c4, &d4);
                const double V_new = V + dt / 6.0 * (a1 + 2.0 * a2 + 2.0 * a3 + a4);
                ms[i] = m + dt / 6.0 * (b1 + 2.0 * b2 + 2.0 * b3 + b4);
                hs[i] = h + dt / 6.0 * (c1 + 2.0 * c2 + 2.0 * c3 + c4);
                ns[i] = n + dt / 6.0 * (d1 + 2.0 * d2 + 2.0 * d3 + d4);
                tally[i] += V_new > 0.0 && V <= 0.0;
                Vs[i] = V_new;
            }
    }
}

/* adex.toml (pF, nS, mV, ms, pA); dt 0.1 ms; V > V_peak: V = V_r, w += b */
static inline double adex_dV(double V, double w, double I)
{
    return (-10.0 * (V + 70.0) + 10.0 * 2.0 * exp((V + 50.0) / 2.0) - w + I) / 200.0;
}

static inline double adex_dw(double V, double w) { return (2.0 * (V + 70.0) - w) / 30.0; }

void adex_rk4(int64_t steps, int64_t count, double dt, double *restrict V_, double *restrict w_,
              const double *restrict I_, int64_t *restrict spikes)
{
    for (int64_t first = 0; first < count; first += TILE) {
        const int64_t size = count - first < TILE ? count - first : TILE;
        double *restrict Vs = V_ + first, *restrict ws = w_ + first;
        const double *restrict Is = I_ + first;
        int64_t *restrict tally = spikes + first;
        for (int64_t t = 0; t < steps; ++t)
            for (int64_t i = 0; i < size; ++i) {
                const double V = Vs[i], w = ws[i], I = Is[i];
                const double a1 = adex_dV(V, w, I), b1 = adex_dw(V, w);
                const double a2 = adex_dV(V + 0.5 * dt * a1, w + 0.5 * dt * b1, I), b2 = adex_dw(V + 0.5 * dt * a1, w + 0.5 * dt * b1);
                const double a3 = adex_dV(V + 0.5 * dt * a2, w + 0.5 * dt * b2, I), b3 = adex_dw(V + 0.5 * dt * a2, w + 0.5 * dt * b2);
                const double a4 = adex_dV(V + dt * a3, w + dt * b3, I), b4 = adex_dw(V + dt * a3, w + dt * b3);
                const double V_new = V + dt / 6.0 * (a1 + 2.0 * a2 + 2.0 * a3 + a4);
                const double w_new = w + dt / 6.0 * (b1 + 2.0 * b2 + 2.0 * b3 + b4);
                const int spike = V_new > -40.0;
                Vs[i] = spike ? -58.0 : V_new;
                ws[i] = w_new;  /* b = 0 */
                tally[i] += spike;
            }
    }
}

/* eif.toml (ms, mV, Mohm, nA); dt 0.1 ms; V > V_peak: V = V_r */
static inline double eif_dV(double V, double I)
{
    return (-(V + 65.0) + 2.0 * exp((V + 50.0) / 2.0) + 10.0 * I) / 10.0;
}

void eif_rk4(int64_t steps, int64_t count, double dt, double *restrict V_, const double *restrict I_,
             int64_t *restrict spikes)
{
    for (int64_t first = 0; first < count; first += TILE) {
        const int64_t size = count - first < TILE ? count - first : TILE;
        double *restrict Vs = V_ + first;
        const double *restrict Is = I_ + first;
        int64_t *restrict tally = spikes + first;
        for (int64_t t = 0; t < steps; ++t)
            for (int64_t i = 0; i < size; ++i) {
                const double V = Vs[i], I = Is[i];
                const double a1 = eif_dV(V, I), a2 = eif_dV(V + 0.5 * dt * a1, I);
                const double a3 = eif_dV(V + 0.5 * dt * a2, I), a4 = eif_dV(V + dt * a3, I);
                const double V_new = V + dt / 6.0 * (a1 + 2.0 * a2 + 2.0 * a3 + a4);
                const int spike = V_new > -40.0;
                Vs[i] = spike ? -68.0 : V_new;
                tally[i] += spike;
            }
    }
}

/* lif_coba.toml, exponential Euler (ms, mV); dt 0.1 ms; refractory 5 ms with V held */
void lif_coba_exponential_euler(int64_t steps, int64_t count, double dt, double *restrict V_,
                                double *restrict ge_, double *restrict gi_, double *restrict ref_,
                                const double *restrict I_, int64_t *restrict spikes)
{
    const double k0 = dt / 20.0, decay_e = exp(-dt / 5.0), decay_i = exp(-dt / 10.0);
    const double refractory_steps = round(5.0 / dt);
    for (int64_t first = 0; first < count; first += TILE) {
        const int64_t size = count - first < TILE ? count - first : TILE;
        double *restrict Vs = V_ + first, *restrict ges = ge_ + first, *restrict gis = gi_ + first;
        double *restrict refs = ref_ + first;
        const double *restrict Is = I_ + first;
        int64_t *restrict tally = spikes + first;
        for (int64_t t = 0; t < steps; ++t)
            for (int64_t i = 0; i < size; ++i) {
                const double V = Vs[i], ge = ges[i], gi = gis[i], ref = refs[i], I = Is[i];
                const int refractory = ref > 0.0;
                double V_new = V + k0 * ((-60.0 + I - V + ge * (0.0 - V) + gi * (-80.0 - V))
                                         * exprel(k0 * (-1.0 - ge - gi)));
                V_new = refractory ? V : V_new;
                const int spike = V_new > -50.0 && !refractory;
                Vs[i] = spike ? -60.0 : V_new;
                refs[i] = spike ? refractory_steps : (refractory ? ref - 1.0 : ref);
                ges[i] = decay_e * ge;
                gis[i] = decay_i * gi;
                tally[i] += spike;
            }
    }
}
