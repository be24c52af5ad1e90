/* Hand-written CUDA references for benchmarks/gpu.py: one thread per neuron, the time loop in
 * registers, the same updates as benchmarks/ceiling.c (float32, subtractive reset of the step
 * before). Compiled with NVRTC and the same options as lifgen's kernels (--fmad=false). */

extern "C" __global__ void leaky_held(long long n_steps, long long n, float beta, float threshold,
                                      float *v, const float *input, long long *count)
{
    const long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    float x = v[i];
    const float in = input[i];
    int c = 0;
    for (long long t = 0; t < n_steps; ++t) {
        const float reset = x > threshold ? threshold : 0.0f;
        x = (beta * x + in) - reset;
        c += x > threshold;
    }
    v[i] = x;
    count[i] = c;
}

extern "C" __global__ void leaky_streamed(long long n_steps, long long n, float beta,
                                          float threshold, float *v, const float *input,
                                          long long *count)
{
    const long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    float x = v[i];
    int c = 0;
    for (long long t = 0; t < n_steps; ++t) {
        const float reset = x > threshold ? threshold : 0.0f;
        x = (beta * x + input[t * n + i]) - reset;
        c += x > threshold;
    }
    v[i] = x;
    count[i] = c;
}

extern "C" __global__ void synaptic_held(long long n_steps, long long n, float alpha, float beta,
                                         float threshold, float *syn, float *v,
                                         const float *input, long long *count)
{
    const long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    float s = syn[i], x = v[i];
    const float in = input[i];
    int c = 0;
    for (long long t = 0; t < n_steps; ++t) {
        const float reset = x > threshold ? threshold : 0.0f;
        s = alpha * s + in;
        x = (beta * x + s) - reset;
        c += x > threshold;
    }
    syn[i] = s;
    v[i] = x;
    count[i] = c;
}
