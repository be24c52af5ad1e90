/* Hand-written reference kernels for benchmarks only: the ceiling lifgen's generated kernels are
 * measured against. Workload: V <- beta*V + I, spike if V > threshold, reset by subtraction
 * (next-step reset as snnTorch: the reset is decided from the membrane before the update). */
#include <stdint.h>
#include <string.h>

/* lifgen builds with -fvisibility=hidden and loads the library with cffi's ABI mode: the
 * functions it calls are exported. */
#define CEILING_ENTRY __attribute__((visibility("default")))

/* A tile of 64 neurons kept in registers for all steps, constant per-neuron input. The last,
 * partial tile is padded (its extra lanes are simulated and discarded). Tiles are shared among
 * `threads` OpenMP threads. */
CEILING_ENTRY int ceiling_register_tiled(int64_t n_steps, int64_t n, float beta, float threshold,
                           float *restrict v, const float *restrict input, int64_t *restrict count,
                           int threads)
{
    enum { TILE = 64 };
    #pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t first = 0; first < n; first += TILE) {
        const int64_t len = n - first < TILE ? n - first : TILE;
        float x[TILE] = {0}, in[TILE] = {0};
        int32_t c[TILE] = {0};
        for (int j = 0; j < len; ++j) { x[j] = v[first + j]; in[j] = input[first + j]; }
        for (int64_t t = 0; t < n_steps; ++t) {
            for (int j = 0; j < TILE; ++j) {
                const float reset = x[j] > threshold ? threshold : 0.0f;
                const float y = (beta * x[j] + in[j]) - reset;
                x[j] = y;
                c[j] += y > threshold;
            }
        }
        for (int j = 0; j < len; ++j) { v[first + j] = x[j]; count[first + j] += c[j]; }
    }
    return 0;
}

/* Branch-free, time outside: input streamed from a (T, N) array. */
CEILING_ENTRY int ceiling_streamed(int64_t n_steps, int64_t n, float beta, float threshold,
                     float *restrict v, const float *restrict input, int64_t *restrict count)
{
    for (int64_t t = 0; t < n_steps; ++t) {
        const float *restrict row = input + t * n;
        for (int64_t i = 0; i < n; ++i) {
            const float reset = v[i] > threshold ? threshold : 0.0f;
            const float y = (beta * v[i] + row[i]) - reset;
            v[i] = y;
            count[i] += y > threshold;
        }
    }
    return 0;
}

/* Synaptic (second-order) LIF, register-tiled: I <- alpha*I + x, V <- beta*V + I; tiles shared
 * among `threads` OpenMP threads. */
CEILING_ENTRY int ceiling_synaptic_tiled(int64_t n_steps, int64_t n, float alpha, float beta, float threshold,
                           float *restrict syn, float *restrict v, const float *restrict input,
                           int64_t *restrict count, int threads)
{
    enum { TILE = 64 };
    #pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t first = 0; first < n; first += TILE) {
        const int64_t len = n - first < TILE ? n - first : TILE;
        float s[TILE] = {0}, x[TILE] = {0}, in[TILE] = {0};
        int32_t c[TILE] = {0};
        for (int j = 0; j < len; ++j) { s[j] = syn[first + j]; x[j] = v[first + j]; in[j] = input[first + j]; }
        for (int64_t t = 0; t < n_steps; ++t) {
            for (int j = 0; j < TILE; ++j) {
                const float reset = x[j] > threshold ? threshold : 0.0f;
                s[j] = alpha * s[j] + in[j];
                const float y = (beta * x[j] + s[j]) - reset;
                x[j] = y;
                c[j] += y > threshold;
            }
        }
        for (int j = 0; j < len; ++j) { syn[first + j] = s[j]; v[first + j] = x[j]; count[first + j] += c[j]; }
    }
    return 0;
}

/* Read n floats once: how fast this machine streams an array from memory. */
CEILING_ENTRY double ceiling_read(const float *restrict data, int64_t n)
{
    float lanes[16] = {0};
    for (int64_t i = 0; i + 16 <= n; i += 16)
        for (int j = 0; j < 16; ++j) lanes[j] += data[i + j];
    double total = 0;
    for (int j = 0; j < 16; ++j) total += lanes[j];
    return total;
}
