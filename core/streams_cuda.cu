/* The CUDA backend's HC/mHC stream kernels (core/stream_kernels.h). Mixing runs a thread per (token, channel) or
 * a block per token where it also takes dot products over the channels (the mappings' gradients); Sinkhorn-Knopp
 * forward and backward are fused per token, a thread each, running the per-token code of core/elementwise.h that
 * the CPU kernels run too (the backward's stages in a workspace interleaved across tokens, so a warp reads
 * consecutive words). Parameter gradients are per-token partials summed in a fixed order. */
#include "core/cuda_internal.cuh"

#define TOKEN_THREADS 128

/* ---- RMSNorm folded into a small projection (the coefficient maps) ---- */

__global__ void k_row_rstd(real *rstd, const real *inp, int IC, real eps) {
    size_t n = blockIdx.x;
    const real *x = inp + n * IC;
    double ss = 0;
    for (int i = threadIdx.x; i < IC; i += blockDim.x) ss += (double)x[i] * x[i];
    ss = block_sum(ss);
    if (threadIdx.x == 0) rstd[n] = al_rms_rstd(ss, IC, eps);
}

__global__ void k_scale_rows(real *x, const real *rstd, int C, size_t total) {
    GRID_STRIDE(k, total) x[k] *= rstd[k / C];
}

static void rms_projection_forward(real *out, real *rstd, const real *inp, const real *w, int N, int IC, int OC, real eps) {
    if (N <= 0) return;
    k_row_rstd<<<N, 256, 0, cu_stream>>>(rstd, inp, IC, eps);
    CU_LAUNCHED();
    cu_gemm(0, 1, N, OC, IC, 1, inp, IC, w, IC, 0, out, OC);
    k_scale_rows<<<cu_blocks((size_t)N * OC, 256), 256, 0, cu_stream>>>(out, rstd, OC, (size_t)N * OC);
    CU_LAUNCHED();
}

static void rms_projection_weight_grad(real *dw, const real *g, const real *inp, int N, int IC, int OC) {
    cu_gemm(1, 0, OC, IC, N, 1, g, OC, inp, IC, 1, dw, IC);
}

/* dx -= x (r / IC) (G . out), G the scaled dout */
__global__ void k_rms_projection_correction(real *dinp, const real *g, const real *out, const real *inp, const real *rstd,
                                            int IC, int OC) {
    size_t n = blockIdx.x;
    double dot = 0;
    for (int o = threadIdx.x; o < OC; o += blockDim.x) dot += (double)g[n * OC + o] * out[n * OC + o];
    dot = block_sum(dot);
    real c = (real)(dot * rstd[n] / IC);
    const real *x = inp + n * IC;
    real *dx = dinp + n * IC;
    for (int i = threadIdx.x; i < IC; i += blockDim.x) dx[i] -= c * x[i];
}

static void rms_projection_backward(real *dinp, real *dw, real *dout, const real *out, const real *inp, const real *w,
                                    const real *rstd, int N, int IC, int OC) {
    if (N <= 0) return;
    k_scale_rows<<<cu_blocks((size_t)N * OC, 256), 256, 0, cu_stream>>>(dout, rstd, OC, (size_t)N * OC);
    CU_LAUNCHED();
    if (dw) rms_projection_weight_grad(dw, dout, inp, N, IC, OC);
    if (!dinp) return;
    cu_gemm(0, 0, N, IC, OC, 1, dout, OC, w, IC, 1, dinp, IC);
    k_rms_projection_correction<<<N, 256, 0, cu_stream>>>(dinp, dout, out, inp, rstd, IC, OC);
    CU_LAUNCHED();
}

/* ---- stream mixing ---- */

__global__ void k_broadcast(real *X, const real *x, int n, int C, int acc, size_t total) {
    GRID_STRIDE(k, total) { /* k over (t, i, c) */
        size_t t = k / ((size_t)n * C);
        real v = x[t * C + k % C];
        X[k] = acc ? X[k] + v : v;
    }
}

static void streams_broadcast(real *X, const real *x, int N, int n, int C, int accumulate) {
    size_t total = (size_t)N * n * C;
    if (!total) return;
    k_broadcast<<<cu_blocks(total, 256), 256, 0, cu_stream>>>(X, x, n, C, accumulate, total);
    CU_LAUNCHED();
}

__global__ void k_streams_sum(real *x, const real *X, int n, int C, int acc, size_t total) {
    GRID_STRIDE(k, total) { /* k over (t, c) */
        size_t t = k / C, c = k % C;
        real d = acc ? x[k] : 0;
        for (int i = 0; i < n; i++) d += X[(t * n + i) * C + c];
        x[k] = d;
    }
}

static void streams_sum(real *x, const real *X, int N, int n, int C, int accumulate) {
    size_t total = (size_t)N * C;
    if (!total) return;
    k_streams_sum<<<cu_blocks(total, 256), 256, 0, cu_stream>>>(x, X, n, C, accumulate, total);
    CU_LAUNCHED();
}

__global__ void k_stream_pre(real *u, const real *X, const real *hpre, int n, int C, size_t total) {
    GRID_STRIDE(k, total) {
        size_t t = k / C, c = k % C;
        real d = 0;
        for (int i = 0; i < n; i++) d += hpre[t * n + i] * X[(t * n + i) * C + c];
        u[k] = d;
    }
}

static void stream_pre(real *u, const real *X, const real *hpre, int N, int n, int C) {
    size_t total = (size_t)N * C;
    if (!total) return;
    k_stream_pre<<<cu_blocks(total, 256), 256, 0, cu_stream>>>(u, X, hpre, n, C, total);
    CU_LAUNCHED();
}

__global__ void k_stream_post(real *Xn, const real *X, const real *hres, const real *hpost, const real *f, int n, int C,
                              size_t total) {
    GRID_STRIDE(k, total) { /* k over (t, i, c) */
        size_t c = k % C, ti = k / C, t = ti / n;
        int i = (int)(ti % n);
        real d = hpost[ti] * f[t * C + c];
        for (int j = 0; j < n; j++) d += hres[(t * n + i) * n + j] * X[(t * n + j) * C + c];
        Xn[k] = d;
    }
}

static void stream_post(real *Xn, const real *X, const real *hres, const real *hpost, const real *f, int N, int n, int C) {
    size_t total = (size_t)N * n * C;
    if (!total) return;
    k_stream_post<<<cu_blocks(total, 256), 256, 0, cu_stream>>>(Xn, X, hres, hpost, f, n, C, total);
    CU_LAUNCHED();
}

/* K sums over the block at once: each warp reduces its lanes, then thread k adds the warps in order; every
 * thread gets the K results in v */
template <int K>
__device__ void block_sum_many(double (&v)[K]) {
    __shared__ double part[TOKEN_THREADS / 32][K];
    __shared__ double total[K];
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
#pragma unroll
    for (int k = 0; k < K; k++) {
        double x = v[k];
        for (int o = 16; o > 0; o >>= 1) x += __shfl_down_sync(0xffffffffu, x, o);
        if (lane == 0) part[warp][k] = x;
    }
    __syncthreads();
    for (int k = threadIdx.x; k < K; k += blockDim.x) {
        double s = 0;
        for (int w = 0; w < TOKEN_THREADS / 32; w++) s += part[w][k];
        total[k] = s;
    }
    __syncthreads();
#pragma unroll
    for (int k = 0; k < K; k++) v[k] = total[k];
}

/* dX += hpre du per stream; dhpre = du . X (overwritten). A block (TOKEN_THREADS) per token. */
template <int NS>
__global__ void k_stream_pre_backward(real *dX, real *dhpre, const real *du, const real *X, const real *hpre, int C) {
    size_t t = blockIdx.x;
    const real *g = du + t * C;
    real h[NS];
    double dot[NS];
#pragma unroll
    for (int i = 0; i < NS; i++) { h[i] = hpre[t * NS + i]; dot[i] = 0; }
    for (int c = threadIdx.x; c < C; c += blockDim.x) {
        real gc = g[c];
#pragma unroll
        for (int i = 0; i < NS; i++) {
            size_t at = (t * NS + i) * C + c;
            dX[at] += h[i] * gc;
            dot[i] += (double)gc * X[at];
        }
    }
    block_sum_many<NS>(dot);
    if (threadIdx.x < NS) dhpre[t * NS + threadIdx.x] = (real)dot[threadIdx.x];
}

/* One block per token: df = sum_i hpost_i dXn_i; dhpost_i = dXn_i . f; dhres_ij = dXn_i . X_j;
 * dX_j = sum_i hres_ij dXn_i; u = sum_i hpre_i X_i (when wanted). Everything overwritten. */
template <int NS>
__global__ void k_stream_post_backward(real *dX, real *dhres, real *dhpost, real *df, real *u, const real *dXn,
                                       const real *X, const real *hres, const real *hpost, const real *hpre, const real *f,
                                       int C) {
    size_t t = blockIdx.x;
    real hp[NS], hr[NS * NS], hq[NS];
    double dot[NS + NS * NS];
#pragma unroll
    for (int i = 0; i < NS; i++) { hp[i] = hpost[t * NS + i]; hq[i] = hpre ? hpre[t * NS + i] : 0; }
#pragma unroll
    for (int k = 0; k < NS * NS; k++) hr[k] = hres[t * NS * NS + k];
#pragma unroll
    for (int k = 0; k < NS + NS * NS; k++) dot[k] = 0;
    for (int c = threadIdx.x; c < C; c += blockDim.x) {
        real g[NS], x[NS], fc = f[t * C + c], d = 0;
#pragma unroll
        for (int i = 0; i < NS; i++) { g[i] = dXn[(t * NS + i) * C + c]; x[i] = X[(t * NS + i) * C + c]; }
#pragma unroll
        for (int i = 0; i < NS; i++) {
            d += hp[i] * g[i];
            dot[i] += (double)g[i] * fc;
#pragma unroll
            for (int j = 0; j < NS; j++) dot[NS + i * NS + j] += (double)g[i] * x[j];
        }
        df[t * C + c] = d;
#pragma unroll
        for (int j = 0; j < NS; j++) {
            real s = 0;
#pragma unroll
            for (int i = 0; i < NS; i++) s += hr[i * NS + j] * g[i];
            dX[(t * NS + j) * C + c] = s;
        }
        if (u) {
            real s = 0;
#pragma unroll
            for (int i = 0; i < NS; i++) s += hq[i] * x[i];
            u[t * C + c] = s;
        }
    }
    block_sum_many<NS + NS * NS>(dot);
    for (int k = threadIdx.x; k < NS + NS * NS; k += blockDim.x) {
        if (k < NS) dhpost[t * NS + k] = (real)dot[k];
        else dhres[t * NS * NS + (k - NS)] = (real)dot[k];
    }
}

#define DISPATCH_STREAMS(n, launch) \
    switch (n) {                    \
    case 1: launch(1); break;       \
    case 2: launch(2); break;       \
    case 3: launch(3); break;       \
    case 4: launch(4); break;       \
    case 5: launch(5); break;       \
    case 6: launch(6); break;       \
    case 7: launch(7); break;       \
    case 8: launch(8); break;       \
    default: cu_fail("streams", "n outside 1..8", __FILE__, __LINE__); \
    }

static void stream_pre_backward(real *dX, real *dhpre, const real *du, const real *X, const real *hpre, int N, int n, int C) {
    if (N <= 0) return;
#define L(NS) k_stream_pre_backward<NS><<<N, TOKEN_THREADS, 0, cu_stream>>>(dX, dhpre, du, X, hpre, C)
    DISPATCH_STREAMS(n, L);
#undef L
    CU_LAUNCHED();
}

static void stream_post_backward(real *dX, real *dhres, real *dhpost, real *df, real *u, const real *dXn, const real *X,
                                 const real *hres, const real *hpost, const real *hpre, const real *f, int N, int n, int C) {
    if (N <= 0) return;
#define L(NS) k_stream_post_backward<NS><<<N, TOKEN_THREADS, 0, cu_stream>>>(dX, dhres, dhpost, df, u, dXn, X, hres, hpost, hpre, f, C)
    DISPATCH_STREAMS(n, L);
#undef L
    CU_LAUNCHED();
}

/* ---- Sinkhorn-Knopp, a thread per token ---- */

static size_t sinkhorn_trace_size(int n, int iters) { return (size_t)n * n; }

__global__ void k_sinkhorn_forward(real *H, real *trace, const real *logits, int N, int n, int iters) {
    GRID_STRIDE(t, (size_t)N) {
        size_t nn = (size_t)n * n;
        real *M = trace + t * nn, Y[64];
        al_sinkhorn_m0(M, logits + t * nn, n);
        al_sinkhorn_stages(Y, NULL, M, n, iters, 1);
        for (size_t k = 0; k < nn; k++) H[t * nn + k] = Y[k];
    }
}

static void sinkhorn_forward(real *H, real *trace, const real *logits, int N, int n, int iters) {
    if (N <= 0) return;
    k_sinkhorn_forward<<<cu_blocks(N, 128), 128, 0, cu_stream>>>(H, trace, logits, N, n, iters);
    CU_LAUNCHED();
}

/* the stages recomputed from the trace into Ys/sums (token t's element e at [e N + t]), then back through them */
__global__ void k_sinkhorn_backward(real *dlogits, const real *dH, const real *trace, real *Ys, real *sums, int N, int n,
                                    int iters) {
    GRID_STRIDE(t, (size_t)N) {
        size_t nn = (size_t)n * n;
        const real *M = trace + t * nn;
        real g[64];
        for (size_t k = 0; k < nn; k++) g[k] = dH[t * nn + k];
        al_sinkhorn_stages(Ys + t, sums + t, M, n, iters, (size_t)N);
        al_sinkhorn_backprop(g, Ys + t, sums + t, n, iters, (size_t)N);
        for (size_t k = 0; k < nn; k++) dlogits[t * nn + k] += g[k] * M[k];
    }
}

static void sinkhorn_backward(real *dlogits, const real *dH, const real *trace, int N, int n, int iters) {
    if (N <= 0) return;
    size_t stages = (size_t)2 * iters;
    real *Ys = (real *)cu_scratch(sizeof(real) * (size_t)N * stages * (n * n + n), 5), *sums = Ys + (size_t)N * stages * n * n;
    k_sinkhorn_backward<<<cu_blocks(N, 128), 128, 0, cu_stream>>>(dlogits, dH, trace, Ys, sums, N, n, iters);
    CU_LAUNCHED();
}

/* ---- the coefficient maps ---- */

__global__ void k_mhc_coeffs(real *hpre, real *hpost, real *res_logits, const real *raw, const real *a, const real *b_pre,
                             const real *b_post, const real *b_res, int N, int n, int flags) {
    int W = 2 * n + n * n;
    GRID_STRIDE(t, (size_t)N)
        al_mhc_coeffs_token(hpre + t * n, hpost + t * n, res_logits + t * n * n, raw ? raw + t * W : NULL, a, b_pre, b_post,
                            b_res, n, flags);
}

static void mhc_coeffs(real *hpre, real *hpost, real *res_logits, const real *raw, const real *a, const real *b_pre,
                       const real *b_post, const real *b_res, int N, int n, int flags) {
    if (N <= 0) return;
    k_mhc_coeffs<<<cu_blocks(N, 128), 128, 0, cu_stream>>>(hpre, hpost, res_logits, raw, a, b_pre, b_post, b_res, N, n, flags);
    CU_LAUNCHED();
}

/* the parameter gradients of one token as a row of doubles: [sa (3) | db_pre (n) | db_post (n) | db_res (n^2)] */
__global__ void k_mhc_coeffs_backward(double *part, real *draw, const real *dhpre, const real *dhpost, const real *dres,
                                      const real *raw, const real *hpre, const real *hpost, const real *a, int N, int n,
                                      int flags) {
    int W = 2 * n + n * n, P = 3 + W;
    GRID_STRIDE(t, (size_t)N) {
        double sa[3] = {0, 0, 0};
        real bp[8], bq[8], br[64];
        for (int i = 0; i < n; i++) bp[i] = bq[i] = 0;
        for (int k = 0; k < n * n; k++) br[k] = 0;
        al_mhc_coeffs_grad_token(draw ? draw + t * W : NULL, sa, bp, bq, br, dhpre + t * n, dhpost + t * n, dres + t * n * n,
                                 raw ? raw + t * W : NULL, hpre + t * n, hpost + t * n, a, n, flags);
        double *o = part + t * P;
        for (int k = 0; k < 3; k++) o[k] = sa[k];
        for (int i = 0; i < n; i++) { o[3 + i] = bp[i]; o[3 + n + i] = bq[i]; }
        for (int k = 0; k < n * n; k++) o[3 + 2 * n + k] = br[k];
    }
}

struct PartialColumn {
    const double *p;
    int P, off;
    __device__ double operator()(size_t n, int c) const { return p[n * P + off + c]; }
};

static void mhc_coeffs_backward(real *draw, real *da, real *db_pre, real *db_post, real *db_res, const real *dhpre,
                                const real *dhpost, const real *dres_logits, const real *raw, const real *hpre,
                                const real *hpost, const real *a, int N, int n, int flags) {
    if (N <= 0) return;
    int P = 3 + 2 * n + n * n;
    double *part = (double *)cu_scratch(sizeof(double) * (size_t)N * P, 6);
    k_mhc_coeffs_backward<<<cu_blocks(N, 128), 128, 0, cu_stream>>>(part, draw, dhpre, dhpost, dres_logits, raw, hpre, hpost,
                                                                    a, N, n, flags);
    CU_LAUNCHED();
    if (raw) cu_column_sums(da, N, 3, PartialColumn{part, P, 0});
    if (flags & MIX_PRE) cu_column_sums(db_pre, N, n, PartialColumn{part, P, 3});
    if (flags & MIX_POST) cu_column_sums(db_post, N, n, PartialColumn{part, P, 3 + n});
    if (flags & MIX_RES) cu_column_sums(db_res, N, n * n, PartialColumn{part, P, 3 + 2 * n});
}

static size_t mhc_backward_work_size(int N, int n) {
    return (size_t)N * n * n + (size_t)N * (2 * n + n * n);
}

/* The CPU fuses these per block of tokens for its caches; here they are whole-batch kernels in the same order. */
static void mhc_backward_fused(const MhcBackward *p) {
    int N = p->N, n = p->n, nn = n * n, W = 2 * n + nn, dynamic = p->raw != NULL;
    real *dl = p->work, *draw = dl + (size_t)N * nn;
    stream_pre_backward(p->dX, p->dhpre, p->du, p->X, p->hpre, N, n, p->C);
    CU(cudaMemsetAsync(dl, 0, sizeof(real) * (size_t)N * nn, cu_stream));
    if (p->flags & MIX_RES) sinkhorn_backward(dl, p->dhres, p->trace, N, n, p->iters);
    if (dynamic) CU(cudaMemsetAsync(draw, 0, sizeof(real) * (size_t)N * W, cu_stream));
    mhc_coeffs_backward(dynamic ? draw : NULL, p->da, p->db_pre, p->db_post, p->db_res, p->dhpre, p->dhpost, dl,
                        dynamic ? p->raw : NULL, p->hpre, p->hpost, p->a, N, n, p->flags);
    if (dynamic) { /* scales draw to G = r draw, dX += G phi - correction; then phi's gradient */
        rms_projection_backward(p->dX, NULL, draw, p->raw, p->X, p->phi, p->rstd, N, n * p->C, W);
        rms_projection_weight_grad(p->dphi, draw, p->X, N, n * p->C, W);
    }
}

__global__ void k_hc_coeffs(real *hpre, real *hpost, real *hres, const real *raw, const real *s, const real *Am,
                            const real *Bv, const real *Ar, int N, int n, int flags) {
    int W = 2 + n;
    GRID_STRIDE(x, (size_t)N * n) {
        size_t t = x / n;
        int j = (int)(x % n);
        al_hc_coeffs_stream(&hpre[x], &hpost[x], hres + t * n * n, j, raw ? raw + x * W : NULL, s, Am, Bv, Ar, n, flags);
    }
}

static void hc_coeffs(real *hpre, real *hpost, real *hres, const real *raw, const real *s, const real *Am, const real *Bv,
                      const real *Ar, int N, int n, int flags) {
    if (N <= 0) return;
    k_hc_coeffs<<<cu_blocks((size_t)N * n, 128), 128, 0, cu_stream>>>(hpre, hpost, hres, raw, s, Am, Bv, Ar, N, n, flags);
    CU_LAUNCHED();
}

/* per token a row of doubles: [ss (2) | dAm (n) | dBv (n) | dAr (n^2)] */
__global__ void k_hc_coeffs_backward(double *part, real *draw, const real *dhpre, const real *dhpost, const real *dhres,
                                     const real *raw, const real *s, int N, int n, int flags) {
    int W = 2 + n, P = 2 + 2 * n + n * n;
    GRID_STRIDE(t, (size_t)N) {
        double ss[2] = {0, 0};
        real am[8], bv[8], ar[64];
        for (int i = 0; i < n; i++) am[i] = bv[i] = 0;
        for (int k = 0; k < n * n; k++) ar[k] = 0;
        for (int j = 0; j < n; j++) {
            size_t x = t * n + j;
            al_hc_coeffs_grad_stream(draw ? draw + x * W : NULL, ss, am, bv, ar, j, dhpre[x], dhpost[x], dhres + t * n * n,
                                     raw ? raw + x * W : NULL, s, n, flags);
        }
        double *o = part + t * P;
        o[0] = ss[0];
        o[1] = ss[1];
        for (int i = 0; i < n; i++) { o[2 + i] = am[i]; o[2 + n + i] = bv[i]; }
        for (int k = 0; k < n * n; k++) o[2 + 2 * n + k] = ar[k];
    }
}

static void hc_coeffs_backward(real *draw, real *ds, real *dAm, real *dBv, real *dAr, const real *dhpre, const real *dhpost,
                               const real *dhres, const real *raw, const real *s, int N, int n, int flags) {
    if (N <= 0) return;
    int P = 2 + 2 * n + n * n;
    double *part = (double *)cu_scratch(sizeof(double) * (size_t)N * P, 6);
    k_hc_coeffs_backward<<<cu_blocks(N, 128), 128, 0, cu_stream>>>(part, draw, dhpre, dhpost, dhres, raw, s, N, n, flags);
    CU_LAUNCHED();
    if (raw) cu_column_sums(ds, N, 2, PartialColumn{part, P, 0});
    if (flags & MIX_PRE) cu_column_sums(dAm, N, n, PartialColumn{part, P, 2});
    if (flags & MIX_POST) cu_column_sums(dBv, N, n, PartialColumn{part, P, 2 + n});
    if (flags & MIX_RES) cu_column_sums(dAr, N, n * n, PartialColumn{part, P, 2 + 2 * n});
}

extern "C" const StreamKernels al_streams_cuda = {
    .rms_projection_forward = rms_projection_forward,
    .rms_projection_backward = rms_projection_backward,
    .rms_projection_weight_grad = rms_projection_weight_grad,
    .streams_broadcast = streams_broadcast,
    .streams_sum = streams_sum,
    .stream_pre = stream_pre,
    .stream_pre_backward = stream_pre_backward,
    .stream_post = stream_post,
    .stream_post_backward = stream_post_backward,
    .sinkhorn_forward = sinkhorn_forward,
    .sinkhorn_backward = sinkhorn_backward,
    .mhc_coeffs = mhc_coeffs,
    .mhc_coeffs_backward = mhc_coeffs_backward,
    .mhc_backward_fused = mhc_backward_fused,
    .hc_coeffs = hc_coeffs,
    .hc_coeffs_backward = hc_coeffs_backward,
    .sinkhorn_trace_size = sinkhorn_trace_size,
    .mhc_backward_work_size = mhc_backward_work_size,
};
