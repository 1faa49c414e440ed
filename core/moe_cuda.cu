/* The CUDA backend's DeepSeekMoE kernels (core/moe_kernels.h). Per-token work (scores, routing, the gates'
 * backward) is one thread per token running the per-token code of core/elementwise.h, which the CPU kernels run
 * too. The int arrays are host memory by the contract: the expert choices come back to the host (the dispatch
 * sizes the per-expert GEMMs there), the dispatch itself is the CPU's counting sort, and the kernels that read
 * rows, positions or choices stage them. */
#include "core/cuda_internal.cuh"

__global__ void k_scores_forward(real *s, const real *logits, int N, int E, int sig) {
    GRID_STRIDE(n, (size_t)N) al_moe_scores_token(s + n * E, logits + n * E, E, sig);
}

static void moe_scores_forward(real *s, const real *logits, int N, int E, int sig) {
    if (N <= 0) return;
    k_scores_forward<<<cu_blocks(N, 128), 128, 0, cu_stream>>>(s, logits, N, E, sig);
    CU_LAUNCHED();
}

__global__ void k_scores_backward(real *dlogits, const real *ds, const real *s, int N, int E, int sig) {
    GRID_STRIDE(n, (size_t)N) al_moe_scores_grad_token(dlogits + n * E, ds + n * E, s + n * E, E, sig);
}

static void moe_scores_backward(real *dlogits, const real *ds, const real *s, int N, int E, int sig) {
    if (N <= 0) return;
    k_scores_backward<<<cu_blocks(N, 128), 128, 0, cu_stream>>>(dlogits, ds, s, N, E, sig);
    CU_LAUNCHED();
}

/* workspace per token, strided by N so that neighbouring threads touch neighbouring words */
__global__ void k_route(int *idx, real *w, const real *s, const real *bias, int N, MoeRouteSpec r, real *sel,
                        unsigned char *ok, real *gscore, unsigned char *gok, unsigned char *keep) {
    GRID_STRIDE(n, (size_t)N)
        al_moe_route_token(idx + n * r.K, w + n * r.K, s + n * r.E, bias, r.E, r.K, r.n_group, r.topk_group,
                           r.group_score, r.norm, r.scale, sel + n, ok + n, gscore + n, gok + n, keep + n, (size_t)N);
}

static void moe_route(int *idx, real *w, const real *s, const real *bias, int N, const MoeRouteSpec *r) {
    if (N <= 0) return;
    size_t E = r->E, G = r->n_group, nk = (size_t)N * r->K;
    size_t bytes = sizeof(int) * nk + sizeof(real) * N * (E + G) + (size_t)N * (E + 2 * G) + 64;
    char *ws = (char *)cu_scratch(bytes, 4);
    int *didx = (int *)ws;
    real *sel = (real *)(ws + sizeof(int) * nk), *gscore = sel + (size_t)N * E;
    unsigned char *ok = (unsigned char *)(gscore + (size_t)N * G), *gok = ok + (size_t)N * E, *keep = gok + (size_t)N * G;
    k_route<<<cu_blocks(N, 128), 128, 0, cu_stream>>>(didx, w, s, bias, N, *r, sel, ok, gscore, gok, keep);
    CU_LAUNCHED();
    /* the choices go to the host, where the dispatch (and the load statistics) read them */
    CU(cudaMemcpyAsync(idx, didx, sizeof(int) * nk, cudaMemcpyDeviceToHost, cu_stream));
    CU(cudaStreamSynchronize(cu_stream));
}

__global__ void k_gate_backward(real *ds, const real *dw, const real *s, const int *idx, int N, int E, int Kk, int norm,
                                real scale) {
    GRID_STRIDE(n, (size_t)N) al_moe_gate_grad_token(ds + n * E, dw + n * Kk, s + n * E, idx + n * Kk, Kk, norm, scale);
}

static void moe_gate_backward(real *ds, const real *dw, const real *s, const int *idx, int N, const MoeRouteSpec *r) {
    if (N <= 0) return;
    const int *di = cu_stage_ints(idx, (size_t)N * r->K, 0);
    k_gate_backward<<<cu_blocks(N, 128), 128, 0, cu_stream>>>(ds, dw, s, di, N, r->E, r->K, r->norm, r->scale);
    CU_LAUNCHED();
}

/* all host arrays: the CPU's counting sort */
static void moe_dispatch(int *counts, int *offsets, int *tok, int *pos, const int *idx, int N, int Kk, int E) {
    al_moe_cpu.moe_dispatch(counts, offsets, tok, pos, idx, N, Kk, E);
}

__global__ void k_gather_rows(real *dst, const real *src, const int *rows, int C, size_t total) {
    GRID_STRIDE(k, total) dst[k] = src[(size_t)rows[k / C] * C + k % C];
}

static void gather_rows(real *dst, const real *src, const int *rows, int M, int C) {
    size_t total = (size_t)M * C;
    if (!total) return;
    const int *dr = cu_stage_ints(rows, M, 0);
    k_gather_rows<<<cu_blocks(total, 256), 256, 0, cu_stream>>>(dst, src, dr, C, total);
    CU_LAUNCHED();
}

/* out[t] += sum_k w[t,k] y[pos[t,k]]: a thread per (token, channel), the K terms in order */
__global__ void k_combine(real *out, const real *y, const int *pos, const real *w, int Kk, int C, size_t total) {
    GRID_STRIDE(x, total) {
        size_t n = x / C;
        int c = (int)(x % C);
        real o = out[x];
        for (int k = 0; k < Kk; k++) o += (w ? w[n * Kk + k] : 1) * y[(size_t)pos[n * Kk + k] * C + c];
        out[x] = o;
    }
}

static void moe_combine(real *out, const real *y, const int *pos, const real *w, int N, int Kk, int C) {
    size_t total = (size_t)N * C;
    if (!total) return;
    const int *dp = cu_stage_ints(pos, (size_t)N * Kk, 1);
    k_combine<<<cu_blocks(total, 256), 256, 0, cu_stream>>>(out, y, dp, w, Kk, C, total);
    CU_LAUNCHED();
}

/* a block per (token, slot): dy row = w dout[t] (overwritten), dw += dout[t] . y[row] */
__global__ void k_combine_backward(real *dy, real *dw, const real *dout, const real *y, const int *pos, const real *w,
                                   int Kk, int C) {
    size_t nk = blockIdx.x, n = nk / Kk, row = (size_t)pos[nk];
    const real *g = dout + n * C, *v = y + row * C;
    real *d = dy + row * C, a = w[nk];
    double dot = 0;
    for (int c = threadIdx.x; c < C; c += blockDim.x) {
        d[c] = a * g[c];
        dot += (double)g[c] * v[c];
    }
    dot = block_sum(dot);
    if (threadIdx.x == 0) dw[nk] += (real)dot;
}

static void moe_combine_backward(real *dy, real *dw, const real *dout, const real *y, const int *pos, const real *w, int N,
                                 int Kk, int C) {
    size_t nk = (size_t)N * Kk;
    if (!nk) return;
    const int *dp = cu_stage_ints(pos, nk, 1);
    k_combine_backward<<<(unsigned)nk, 128, 0, cu_stream>>>(dy, dw, dout, y, dp, w, Kk, C);
    CU_LAUNCHED();
}

/* The balance losses' coefficients per sequence from the (host) choices, as the CPU computes them:
 * c_i = (a_exp f_i + a_dev f'_d(i)) / T, f_i = E / (K T) #(tokens of the sequence choosing i) */
static double *balance_coeffs(const int *idx, int B, int T, int E, int Kk, int group, real a_exp, real a_dev) {
    double *coef = (double *)cu_host_scratch(sizeof(double) * (size_t)B * E, 5);
    for (int b = 0; b < B; b++) {
        double *c = coef + (size_t)b * E;
        for (int e = 0; e < E; e++) c[e] = 0;
        for (size_t i = (size_t)b * T * Kk; i < (size_t)(b + 1) * T * Kk; i++) c[idx[i]] += 1;
        for (int e = 0; e < E; e++) c[e] *= (double)E / ((double)Kk * T);
        if (a_dev != 0)
            for (int d = 0; d < E / group; d++) {
                double fd = 0;
                for (int i = 0; i < group; i++) fd += c[d * group + i];
                fd /= group;
                for (int i = 0; i < group; i++) c[d * group + i] = a_exp * c[d * group + i] + a_dev * fd;
            }
        else
            for (int e = 0; e < E; e++) c[e] *= a_exp;
        for (int e = 0; e < E; e++) c[e] /= T;
    }
    double *dc = (double *)cu_scratch(sizeof(double) * (size_t)B * E, 5);
    CU(cudaMemcpyAsync(dc, coef, sizeof(double) * (size_t)B * E, cudaMemcpyHostToDevice, cu_stream));
    return dc;
}

/* per token: acc / S with S = sum s, acc = sum c_i s_i (its sequence's coefficients) */
__global__ void k_balance_forward(double *per_token, const real *s, const double *coef, int T, int E, size_t N) {
    GRID_STRIDE(t, N) {
        const real *p = s + t * E;
        const double *c = coef + (t / T) * E;
        double S = 0, acc = 0;
        for (int e = 0; e < E; e++) { S += p[e]; acc += c[e] * p[e]; }
        per_token[t] = acc / S;
    }
}

static double moe_balance_forward(const real *s, const int *idx, int B, int T, int E, int Kk, int group, real a_exp,
                                  real a_dev) {
    size_t N = (size_t)B * T;
    if (!N) return 0;
    double *coef = balance_coeffs(idx, B, T, E, Kk, group, a_exp, a_dev);
    double *pt = (double *)cu_scratch(sizeof(double) * N, 3);
    k_balance_forward<<<cu_blocks(N, 128), 128, 0, cu_stream>>>(pt, s, coef, T, E, N);
    CU_LAUNCHED();
    return cu_sum_doubles(pt, N) / B;
}

/* dL/ds_j = (c_j - sum_i c_i s'_i) / (B S) */
__global__ void k_balance_backward(real *ds, const real *s, const double *coef, int B, int T, int E, size_t N) {
    GRID_STRIDE(t, N) {
        const real *p = s + t * E;
        const double *c = coef + (t / T) * E;
        real *d = ds + t * E;
        double S = 0, acc = 0;
        for (int e = 0; e < E; e++) { S += p[e]; acc += c[e] * p[e]; }
        acc /= S;
        for (int e = 0; e < E; e++) d[e] += (real)((c[e] - acc) / (B * S));
    }
}

static void moe_balance_backward(real *ds, const real *s, const int *idx, int B, int T, int E, int Kk, int group,
                                 real a_exp, real a_dev) {
    size_t N = (size_t)B * T;
    if (!N) return;
    double *coef = balance_coeffs(idx, B, T, E, Kk, group, a_exp, a_dev);
    k_balance_backward<<<cu_blocks(N, 128), 128, 0, cu_stream>>>(ds, s, coef, B, T, E, N);
    CU_LAUNCHED();
}

__global__ void k_row_entropy(double *per_token, const real *s, int E, size_t N) {
    GRID_STRIDE(n, N) {
        const real *p = s + n * E;
        double S = 0, h = 0;
        for (int e = 0; e < E; e++) S += p[e];
        for (int e = 0; e < E; e++) {
            double q = p[e] / S;
            if (q > 0) h -= q * log(q);
        }
        per_token[n] = h;
    }
}

static double row_entropy(const real *s, int N, int E) {
    if (N <= 0) return 0;
    double *pt = (double *)cu_scratch(sizeof(double) * N, 3);
    k_row_entropy<<<cu_blocks(N, 128), 128, 0, cu_stream>>>(pt, s, E, N);
    CU_LAUNCHED();
    return cu_sum_doubles(pt, N) / N;
}

extern "C" const MoeKernels al_moe_cuda = {
    .moe_scores_forward = moe_scores_forward,
    .moe_scores_backward = moe_scores_backward,
    .moe_route = moe_route,
    .moe_gate_backward = moe_gate_backward,
    .moe_dispatch = moe_dispatch,
    .gather_rows = gather_rows,
    .moe_combine = moe_combine,
    .moe_combine_backward = moe_combine_backward,
    .moe_balance_forward = moe_balance_forward,
    .moe_balance_backward = moe_balance_backward,
    .row_entropy = row_entropy,
};
