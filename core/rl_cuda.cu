/* The CUDA backend's reinforcement-learning and distillation kernels (the last group of core/backend.h; the CPU's
 * are core/rl_cpu.c): a block per row, sums in double as on the CPU. The per-row results (logp, kl, ce) and
 * weights are host arrays of doubles by the contract: weights are staged to the device, results copied back.
 * Nucleus sampling runs the CPU's code on a host copy of the rows: it sorts each row, it is called on a few rows
 * at a time (one per sequence being generated), and its draws then equal the CPU's exactly. */
#include "core/cuda_internal.cuh"

extern "C" {
#include "core/rl_cpu.h"
}

#define RL_THREADS 256

void cuda_sample_nucleus(int *tokens, double *logp, const real *logits, size_t ld, const double *u, int N, int V,
                           real temperature, real top_p) {
    if (N <= 0) return;
    real *rows = (real *)cu_host_scratch(sizeof(real) * (size_t)N * V, 6);
    CU(cudaMemcpy2DAsync(rows, sizeof(real) * V, logits, sizeof(real) * ld, sizeof(real) * V, N, cudaMemcpyDeviceToHost,
                         cu_stream));
    CU(cudaStreamSynchronize(cu_stream));
    cpu_sample_nucleus(tokens, logp, rows, (size_t)V, u, N, V, temperature, top_p);
}

static double *host_doubles_to_device(const double *h, size_t n, int slot) {
    double *d = (double *)cu_scratch(sizeof(double) * (n ? n : 1), slot);
    if (n) CU(cudaMemcpyAsync(d, h, sizeof(double) * n, cudaMemcpyHostToDevice, cu_stream));
    return d;
}

static void device_doubles_to_host(double *h, const double *d, size_t n) {
    if (!n) return;
    CU(cudaMemcpyAsync(h, d, sizeof(double) * n, cudaMemcpyDeviceToHost, cu_stream));
    CU(cudaStreamSynchronize(cu_stream));
}

__global__ void k_token_logprobs(double *logp, real *logits, const int *tokens, int V, double inv_t) {
    size_t n = blockIdx.x;
    real *row = logits + n * V;
    int tok = tokens[n];
    real m = -INFINITY;
    for (int i = threadIdx.x; i < V; i += blockDim.x) m = fmaxf(m, row[i]);
    double mx = block_max(m);
    /* log p = (z_t - max)/T - log sum exp((z - max)/T): no log of an underflowed probability */
    double zt = tok >= 0 ? ((double)row[tok] - mx) * inv_t : 0;
    __syncthreads(); /* row[tok] read by every thread before it is overwritten */
    double sum = 0;
    for (int i = threadIdx.x; i < V; i += blockDim.x) {
        double e = exp(((double)row[i] - mx) * inv_t);
        row[i] = (real)e;
        sum += e;
    }
    sum = block_sum(sum);
    double inv = 1.0 / sum;
    for (int i = threadIdx.x; i < V; i += blockDim.x) row[i] = (real)(row[i] * inv);
    if (threadIdx.x == 0) logp[n] = tok >= 0 ? zt - log(sum) : 0;
}

void cuda_token_logprobs(double *logp, real *logits, const int *tokens, int N, int V, real temperature) {
    if (N <= 0) return;
    const int *dt = cu_stage_ints(tokens, N, 0);
    double *dl = (double *)cu_scratch(sizeof(double) * N, 3);
    k_token_logprobs<<<N, RL_THREADS, 0, cu_stream>>>(dl, logits, dt, V, 1.0 / temperature);
    CU_LAUNCHED();
    device_doubles_to_host(logp, dl, N);
}

__global__ void k_logprob_backward(real *probs, const int *tokens, const double *w, int V, real temperature, size_t total) {
    GRID_STRIDE(k, total) {
        size_t n = k / V;
        int i = (int)(k % V), t = tokens[n];
        if (t < 0 || w[n] == 0) { probs[k] = 0; continue; }
        /* d log p_t / d z_i = (1[i = t] - p_i) / T */
        real p = probs[k] * (real)(-w[n] / temperature);
        probs[k] = i == t ? p + (real)(w[n] / temperature) : p;
    }
}

void cuda_logprob_backward(real *probs, const int *tokens, const double *w, int N, int V, real temperature) {
    size_t total = (size_t)N * V;
    if (!total) return;
    const int *dt = cu_stage_ints(tokens, N, 0);
    const double *dw = host_doubles_to_device(w, N, 4);
    k_logprob_backward<<<cu_blocks(total, 256), 256, 0, cu_stream>>>(probs, dt, dw, V, temperature, total);
    CU_LAUNCHED();
}

/* a block per row, in passes over the row instead of the CPU's three stored rows of log-probabilities */
__global__ void k_distill_kl(double *kl, double *ce, real *zs, const real *zt, const int *tokens, const double *w_kl,
                             const double *w_ce, int V, double tau, int reverse) {
    size_t n = blockIdx.x;
    real *row = zs + n * V;
    const real *trow = zt + n * V;
    double a = w_kl[n], c = w_ce ? w_ce[n] : 0;
    int tok = tokens ? tokens[n] : -1;
    if (a == 0 && (c == 0 || tok < 0)) {
        for (int i = threadIdx.x; i < V; i += blockDim.x) row[i] = 0;
        if (threadIdx.x == 0) { kl[n] = 0; ce[n] = 0; }
        return;
    }
    real m1 = -INFINITY, m2 = -INFINITY;
    for (int i = threadIdx.x; i < V; i += blockDim.x) { m1 = fmaxf(m1, row[i]); m2 = fmaxf(m2, trow[i]); }
    double ms = block_max(m1), mt = block_max(m2);
    double ss = 0, st = 0, s1 = 0;
    for (int i = threadIdx.x; i < V; i += blockDim.x) {
        ss += exp((row[i] - ms) / tau);
        st += exp((trow[i] - mt) / tau);
        s1 += exp(row[i] - ms);
    }
    ss = block_sum(ss);
    st = block_sum(st);
    s1 = block_sum(s1);
    double lss = log(ss), lst = log(st), ls1 = log(s1), k = 0;
    for (int i = threadIdx.x; i < V; i += blockDim.x) {
        double ls = (row[i] - ms) / tau - lss, lt = (trow[i] - mt) / tau - lst;
        k += reverse ? exp(ls) * (ls - lt) : exp(lt) * (lt - ls);
    }
    k = block_sum(k);
    double cev = tok >= 0 ? -((double)row[tok] - ms - ls1) : 0;
    __syncthreads(); /* the row is read whole before the gradient overwrites it */
    for (int i = threadIdx.x; i < V; i += blockDim.x) {
        double ls = (row[i] - ms) / tau - lss, lt = (trow[i] - mt) / tau - lst, l1 = row[i] - ms - ls1, ps = exp(ls);
        /* forward KL(p_t || p_s): (p_s - p_t) / tau; reverse KL(p_s || p_t): p_s (log p_s - log p_t - KL) / tau */
        double g = reverse ? ps * (ls - lt - k) / tau : (ps - exp(lt)) / tau;
        double h = tok >= 0 ? exp(l1) - (i == tok) : 0; /* cross-entropy at temperature 1 */
        row[i] = (real)(a * g + c * h);
    }
    if (threadIdx.x == 0) { kl[n] = k; ce[n] = cev; }
}

void cuda_distill_kl(double *kl, double *ce, real *zs, const real *zt, const int *tokens, const double *w_kl,
                       const double *w_ce, int N, int V, real tau, int reverse) {
    if (N <= 0) return;
    const int *dt = tokens ? cu_stage_ints(tokens, N, 0) : NULL;
    const double *da = host_doubles_to_device(w_kl, N, 4), *dc = w_ce ? host_doubles_to_device(w_ce, N, 5) : NULL;
    double *out = (double *)cu_scratch(sizeof(double) * 2 * N, 3);
    k_distill_kl<<<N, RL_THREADS, 0, cu_stream>>>(out, out + N, zs, zt, dt, da, dc, V, tau, reverse);
    CU_LAUNCHED();
    device_doubles_to_host(kl, out, N);
    if (ce) device_doubles_to_host(ce, out + N, N);
}
