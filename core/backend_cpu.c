/* The CPU backend: GEMMs through OpenBLAS (cblas), everything else as OpenMP loops.
 * Determinism: every loop writes disjoint outputs or reduces in a fixed order, so a given thread count
 * gives bit-identical results run after run. */
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <string.h>

#include "core/backend.h"
#include "core/fast_exp.h"
#include "core/backend_cpu_attn.h"
#include "core/streams_cpu.h"

/* Below this much work a loop runs on one thread: a parallel region costs microseconds, more when an idle
 * thread has gone to sleep (decoding one token runs hundreds of tiny kernels). */
#define PAR_MIN 32768

#ifdef AL_DOUBLE
#define GEMM cblas_dgemm
#define GEMV cblas_dgemv
#else
#define GEMM cblas_sgemm
#define GEMV cblas_sgemv
#endif

static real *cpu_alloc(size_t n, const char *what) { return al_calloc(n, sizeof(real), what); }
static void cpu_free(real *p) { al_free(p); }

/* Up to GEMV_MAX_ROWS rows (decoding a token: every projection is a vector times a matrix) go to gemv, a row at
 * a time: OpenBLAS 0.3.21's gemm packs the whole weight matrix first even for M = 1, which was most of a decode
 * step (35% of its time in packing, at d 256). Measured at 256 x 768 weights, one thread: gemv per row is
 * faster up to 4 rows (M = 2: 22 vs 47 us, M = 4: 43 vs 51 us) and slower from 8 (86 vs 65 us). */
#define GEMV_MAX_ROWS 4
void cpu_gemm(int ta, int tb, int M, int N, int Kd, real alpha, const real *A, int lda, const real *B, int ldb,
              real beta, real *C, int ldc) {
    if (M <= GEMV_MAX_ROWS) { /* row m: c_m = alpha op(B)^T a_m + beta c_m; a_m's entries lda apart when A is K x M */
        for (int m = 0; m < M; m++) {
            const real *a = ta ? A + m : A + (size_t)m * lda;
            if (tb) GEMV(CblasRowMajor, CblasNoTrans, N, Kd, alpha, B, ldb, a, ta ? lda : 1, beta, C + (size_t)m * ldc, 1);
            else GEMV(CblasRowMajor, CblasTrans, Kd, N, alpha, B, ldb, a, ta ? lda : 1, beta, C + (size_t)m * ldc, 1);
        }
        return;
    }
    GEMM(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, Kd, alpha, A,
         lda, B, ldb, beta, C, ldc);
}

/* Skinny projections (few outputs: the hyper-connection coefficient maps, small routers) are memory-bound;
 * sgemm blocks them badly, so they run as one pass of dot products / axpys over the input instead. */
#define SKINNY_OC 32

/* Tokens go in blocks of 4 so each weight row is read once per 4 tokens instead of once per token: the
 * weights (OC x IC, tens of KB) then stream from L2 a quarter as often. */
#define SKINNY_BLOCK 4

static void skinny_forward(real *out, const real *inp, const real *w, int N, int IC, int OC) {
    int nb = (N + SKINNY_BLOCK - 1) / SKINNY_BLOCK;
#pragma omp parallel for schedule(static) if ((size_t)N * IC > PAR_MIN)
    for (int blk = 0; blk < nb; blk++) {
        int n0 = blk * SKINNY_BLOCK, m = N - n0 < SKINNY_BLOCK ? N - n0 : SKINNY_BLOCK;
        const real *x0 = inp + (size_t)n0 * IC, *x1 = x0 + (m > 1) * (size_t)IC, *x2 = x0 + (m > 2) * 2 * (size_t)IC,
                   *x3 = x0 + (m > 3) * 3 * (size_t)IC;
        for (int o = 0; o < OC; o++) {
            const real *wo = w + (size_t)o * IC;
            real a0 = 0, a1 = 0, a2 = 0, a3 = 0;
#pragma omp simd reduction(+ : a0, a1, a2, a3)
            for (int i = 0; i < IC; i++) { a0 += x0[i] * wo[i]; a1 += x1[i] * wo[i]; a2 += x2[i] * wo[i]; a3 += x3[i] * wo[i]; }
            real a[4] = {a0, a1, a2, a3};
            for (int k = 0; k < m; k++) out[(size_t)(n0 + k) * OC + o] = a[k];
        }
    }
}

static void skinny_backward(real *dinp, real *dw, const real *dout, const real *inp, const real *w, int N, int IC,
                            int OC) {
    int nb = (N + SKINNY_BLOCK - 1) / SKINNY_BLOCK;
    if (dinp) {
#pragma omp parallel for schedule(static) if ((size_t)N * IC > PAR_MIN)
        for (int blk = 0; blk < nb; blk++) {
            int n0 = blk * SKINNY_BLOCK, m = N - n0 < SKINNY_BLOCK ? N - n0 : SKINNY_BLOCK;
            if (m < SKINNY_BLOCK) { /* the tail, token by token */
                for (int n = n0; n < N; n++)
                    for (int o = 0; o < OC; o++) {
                        real g = dout[(size_t)n * OC + o], *dx = dinp + (size_t)n * IC;
                        const real *wo = w + (size_t)o * IC;
                        for (int i = 0; i < IC; i++) dx[i] += g * wo[i];
                    }
                continue;
            }
            real *d0 = dinp + (size_t)n0 * IC, *d1 = d0 + IC, *d2 = d1 + IC, *d3 = d2 + IC;
            for (int o = 0; o < OC; o++) {
                const real *g = dout + (size_t)n0 * OC + o, *wo = w + (size_t)o * IC;
                real g0 = g[0], g1 = g[OC], g2 = g[2 * OC], g3 = g[3 * OC];
                for (int i = 0; i < IC; i++) {
                    real wi = wo[i];
                    d0[i] += g0 * wi; d1[i] += g1 * wi; d2[i] += g2 * wi; d3[i] += g3 * wi;
                }
            }
        }
    }
    /* dw(OC, IC) += dout^T inp: each thread owns a slice of input columns for all rows: fixed order */
#pragma omp parallel if ((size_t)N * IC > PAR_MIN)
    {
        int nt = omp_get_num_threads(), id = omp_get_thread_num();
        int c0 = (int)((long)IC * id / nt), c1 = (int)((long)IC * (id + 1) / nt);
        for (int blk = 0; blk < nb; blk++) {
            int n0 = blk * SKINNY_BLOCK, m = N - n0 < SKINNY_BLOCK ? N - n0 : SKINNY_BLOCK;
            const real *x[4];
            for (int k = 0; k < 4; k++) x[k] = inp + (size_t)(n0 + (k < m ? k : 0)) * IC;
            for (int o = 0; o < OC; o++) {
                real g[4];
                for (int k = 0; k < 4; k++) g[k] = k < m ? dout[(size_t)(n0 + k) * OC + o] : 0;
                real *d = dw + (size_t)o * IC;
                for (int i = c0; i < c1; i++) d[i] += g[0] * x[0][i] + g[1] * x[1][i] + g[2] * x[2][i] + g[3] * x[3][i];
            }
        }
    }
}

/* RMSNorm (no learned scale) folded into a projection with few outputs: the HC/mHC coefficient maps (mHC eq. 7).
 * The normalized input is never written: out = r (x w^T) row by row, r = (mean x^2 + eps)^-1/2.
 * Rows go in blocks of RP_ROWS, each thread its own blocks, each block's GEMM single-threaded (OpenBLAS runs
 * one thread inside our parallel region): the block is still in L2 for the norm's pass, and OpenBLAS's own
 * threading of such skinny shapes mostly duplicated packing work (+50% step overhead at 2 threads). */
#define RP_ROWS 128
/* The forward's and the weight gradient's blocks are smaller: at 32 x 24 x nC the products take OpenBLAS's
 * small-matrix kernels, which read the state without packing it (1.6 -> 1.0-1.1 ms each per mHC layer at
 * d 256, n 4); the input gradient's (rows x nC x 24) product is faster in larger, packed blocks. */
#define RP_FWD_ROWS 32

static void rms_projection_forward(real *out, real *rstd, const real *inp, const real *w, int N, int IC, int OC,
                                   real eps) {
    int nb = (N + RP_FWD_ROWS - 1) / RP_FWD_ROWS;
#pragma omp parallel for schedule(static) if ((size_t)N * IC > PAR_MIN)
    for (int blk = 0; blk < nb; blk++) {
        int n0 = blk * RP_FWD_ROWS, m = N - n0 < RP_FWD_ROWS ? N - n0 : RP_FWD_ROWS;
        for (int n = n0; n < n0 + m; n++) {
            const real *x = inp + (size_t)n * IC;
            real ss = 0;
#pragma omp simd reduction(+ : ss)
            for (int i = 0; i < IC; i++) ss += x[i] * x[i];
            rstd[n] = (real)(1.0 / sqrt((double)ss / IC + eps));
        }
        cpu_gemm(0, 1, m, OC, IC, 1, inp + (size_t)n0 * IC, IC, w, IC, 0, out + (size_t)n0 * OC, OC);
        for (int n = n0; n < n0 + m; n++)
            for (int o = 0; o < OC; o++) out[(size_t)n * OC + o] *= rstd[n];
    }
}

/* With g = dout w the gradient of the normalized input, dx = r g - x r^3 / IC (g . x), and
 * g . x = dout . (w x) = dout . out / r: so with G = r dout (dout is scaled in place),
 * dx = G w - x (r / IC) (G . out) and dw = G^T x: per row block one GEMM and the correction while the block
 * is in cache; dw by column slices, one per thread (no reduction, fixed order). */
static void rms_projection_weight_grad(real *dw, const real *g, const real *inp, int N, int IC, int OC) {
#pragma omp parallel if ((size_t)N * IC > PAR_MIN)
    {
        int nt = omp_get_num_threads(), id = omp_get_thread_num();
        int c0 = (int)((long)IC * id / nt), c1 = (int)((long)IC * (id + 1) / nt);
        /* in blocks of RP_FWD_ROWS tokens: small-matrix products that do not pack the state (one GEMM over all N
         * packed all of it: 1.6 vs 1.0 ms for N 2048, nC 1024, 24 outputs) */
        for (int n0 = 0; c1 > c0 && n0 < N; n0 += RP_FWD_ROWS) {
            int m = N - n0 < RP_FWD_ROWS ? N - n0 : RP_FWD_ROWS;
            cpu_gemm(1, 0, OC, c1 - c0, m, 1, g + (size_t)n0 * OC, OC, inp + (size_t)n0 * IC + c0, IC, 1, dw + c0, IC);
        }
    }
}

static void rms_projection_backward(real *dinp, real *dw, real *dout, const real *out, const real *inp, const real *w,
                                    const real *rstd, int N, int IC, int OC) {
    int nb = (N + RP_ROWS - 1) / RP_ROWS;
    for (int n = 0; n < N; n++)
        for (int o = 0; o < OC; o++) dout[(size_t)n * OC + o] *= rstd[n];
    if (dw) rms_projection_weight_grad(dw, dout, inp, N, IC, OC);
    if (!dinp) return;
#pragma omp parallel for schedule(static) if ((size_t)N * IC > PAR_MIN)
    for (int blk = 0; blk < nb; blk++) {
        int n0 = blk * RP_ROWS, m = N - n0 < RP_ROWS ? N - n0 : RP_ROWS;
        cpu_gemm(0, 0, m, IC, OC, 1, dout + (size_t)n0 * OC, OC, w, IC, 1, dinp + (size_t)n0 * IC, IC);
        for (int n = n0; n < n0 + m; n++) {
            const real *g = dout + (size_t)n * OC, *y = out + (size_t)n * OC, *x = inp + (size_t)n * IC;
            double dot = 0;
            for (int o = 0; o < OC; o++) dot += (double)g[o] * y[o];
            real c = (real)(dot * rstd[n] / IC);
            real *dx = dinp + (size_t)n * IC;
#pragma omp simd
            for (int i = 0; i < IC; i++) dx[i] -= c * x[i];
        }
    }
}

static void linear_forward(real *out, const real *inp, const real *w, const real *bias, int N, int IC, int OC) {
    if (OC <= SKINNY_OC) skinny_forward(out, inp, w, N, IC, OC);
    else cpu_gemm(0, 1, N, OC, IC, 1, inp, IC, w, IC, 0, out, OC);
    if (bias) {
#pragma omp parallel for schedule(static) if ((size_t)(N) * (IC) > PAR_MIN)
        for (int n = 0; n < N; n++)
            for (int o = 0; o < OC; o++) out[(size_t)n * OC + o] += bias[o];
    }
}

static void linear_backward(real *dinp, real *dw, real *dbias, const real *dout, const real *inp, const real *w,
                            int N, int IC, int OC) {
    if (OC <= SKINNY_OC) skinny_backward(dinp, dw, dout, inp, w, N, IC, OC);
    else {
        if (dinp) cpu_gemm(0, 0, N, IC, OC, 1, dout, OC, w, IC, 1, dinp, IC);
        cpu_gemm(1, 0, OC, IC, N, 1, dout, OC, inp, IC, 1, dw, IC);
    }
    if (dbias) {
#pragma omp parallel for schedule(static) if ((size_t)(OC) * (N) > PAR_MIN)
        for (int o = 0; o < OC; o++) {
            double s = 0;
            for (int n = 0; n < N; n++) s += dout[(size_t)n * OC + o];
            dbias[o] += (real)s;
        }
    }
}

static void rmsnorm_forward(real *out, real *rstd, const real *inp, const real *w, int N, int C, real eps) {
#pragma omp parallel for schedule(static) if ((size_t)(N) * (C) > PAR_MIN)
    for (int n = 0; n < N; n++) {
        const real *x = inp + (size_t)n * C;
        real *o = out + (size_t)n * C;
        real ss = 0;
#pragma omp simd reduction(+ : ss)
        for (int i = 0; i < C; i++) ss += x[i] * x[i];
        real r = (real)(1.0 / sqrt((double)ss / C + eps));
        rstd[n] = r;
        if (w) for (int i = 0; i < C; i++) o[i] = x[i] * r * w[i];
        else for (int i = 0; i < C; i++) o[i] = x[i] * r;
    }
}

/* y_i = x_i r w_i with r = (mean x^2 + eps)^-1/2:
 * dx_i = r w_i g_i - x_i r^3 / C * sum_j g_j w_j x_j;  dw_i = sum_n g_i x_i r */
static void rmsnorm_backward(real *dinp, real *dw, const real *dout, const real *inp, const real *w,
                             const real *rstd, int N, int C) {
#pragma omp parallel for schedule(static) if ((size_t)(N) * (C) > PAR_MIN)
    for (int n = 0; n < N; n++) {
        const real *x = inp + (size_t)n * C, *g = dout + (size_t)n * C;
        real *dx = dinp + (size_t)n * C;
        real r = rstd[n];
        real dot = 0;
        if (w) {
#pragma omp simd reduction(+ : dot)
            for (int i = 0; i < C; i++) dot += g[i] * w[i] * x[i];
        } else {
#pragma omp simd reduction(+ : dot)
            for (int i = 0; i < C; i++) dot += g[i] * x[i];
        }
        real c = (real)((double)dot * r * r * r / C);
        for (int i = 0; i < C; i++) dx[i] += r * (w ? w[i] : 1) * g[i] - x[i] * c;
    }
    if (!dw) return;
    /* dw: each thread owns a slice of channels and walks the rows in order (contiguous reads, a fixed order of
     * additions), accumulating in double */
#pragma omp parallel if ((size_t)(C) * (N) > PAR_MIN)
    {
        int nt = omp_get_num_threads(), id = omp_get_thread_num();
        for (int c0 = (int)((long)C * id / nt), c1 = (int)((long)C * (id + 1) / nt); c0 < c1; c0 += 256) {
            int w = c1 - c0 < 256 ? c1 - c0 : 256;
            double acc[256] = {0};
            for (int n = 0; n < N; n++) {
                const real *g = dout + (size_t)n * C + c0, *x = inp + (size_t)n * C + c0;
                double r = rstd[n];
#pragma omp simd
                for (int i = 0; i < w; i++) acc[i] += (double)g[i] * x[i] * r;
            }
            for (int i = 0; i < w; i++) dw[c0 + i] += (real)acc[i];
        }
    }
}

static void rope(real *x, int B, int T, int n_heads, int head_stride, int rot, int stride, const real *cs,
                 const real *sn, int inverse) {
    int half = rot / 2;
#pragma omp parallel for schedule(static) if ((size_t)(B * T) * n_heads * rot > PAR_MIN)
    for (int bt = 0; bt < B * T; bt++) {
        int t = bt % T;
        const real *c = cs + (size_t)t * half, *s = sn + (size_t)t * half;
        for (int h = 0; h < n_heads; h++) {
            real *v = x + (size_t)bt * stride + (size_t)h * head_stride;
            for (int i = 0; i < half; i++) {
                real x1 = v[i], x2 = v[i + half], si = inverse ? -s[i] : s[i];
                v[i] = x1 * c[i] - x2 * si;
                v[i + half] = x1 * si + x2 * c[i];
            }
        }
    }
}

static void swiglu_forward(real *h, const real *gu, int N, int F) {
#pragma omp parallel for schedule(static) if ((size_t)(N) * (F) > PAR_MIN)
    for (int n = 0; n < N; n++) {
        const real *a = gu + (size_t)n * 2 * F, *b = a + F;
        real *o = h + (size_t)n * F;
#pragma omp simd
        for (int i = 0; i < F; i++) o[i] = a[i] * al_sigmoid(a[i]) * b[i];
    }
}

/* h = silu(a) b: da = dh b sigma(a) (1 + a (1 - sigma(a))), db = dh silu(a) */
static void swiglu_backward(real *dgu, const real *dh, const real *gu, int N, int F) {
#pragma omp parallel for schedule(static) if ((size_t)(N) * (F) > PAR_MIN)
    for (int n = 0; n < N; n++) {
        const real *a = gu + (size_t)n * 2 * F, *b = a + F, *g = dh + (size_t)n * F;
        real *da = dgu + (size_t)n * 2 * F, *db = da + F;
#pragma omp simd
        for (int i = 0; i < F; i++) {
            real sg = al_sigmoid(a[i]);
            da[i] = g[i] * b[i] * sg * (1 + a[i] * (1 - sg));
            db[i] = g[i] * a[i] * sg;
        }
    }
}

static void embedding_forward(real *out, const int *tokens, const real *table, int N, int C) {
#pragma omp parallel for schedule(static) if ((size_t)(N) * (C) > PAR_MIN)
    for (int n = 0; n < N; n++) memcpy(out + (size_t)n * C, table + (size_t)tokens[n] * C, sizeof(real) * C);
}

/* Each thread owns a slice of channels and walks all tokens: no races, fixed order. */
static void embedding_backward(real *dtable, const real *dout, const int *tokens, int N, int C) {
#pragma omp parallel if ((size_t)N * C > PAR_MIN)
    {
        int nt = omp_get_num_threads(), id = omp_get_thread_num();
        int c0 = (int)((long)C * id / nt), c1 = (int)((long)C * (id + 1) / nt);
        for (int n = 0; n < N; n++) {
            real *d = dtable + (size_t)tokens[n] * C;
            const real *g = dout + (size_t)n * C;
            for (int c = c0; c < c1; c++) d[c] += g[c];
        }
    }
}

static double cross_entropy_forward(real *losses, real *logits, const int *targets, int N, int V, int *n_valid) {
#pragma omp parallel for schedule(static) if ((size_t)(N) * (V) > PAR_MIN)
    for (int n = 0; n < N; n++) {
        real *row = logits + (size_t)n * V;
        real mx = row[0];
#pragma omp simd reduction(max : mx)
        for (int i = 1; i < V; i++) mx = row[i] > mx ? row[i] : mx;
        /* loss = log-sum-exp - logit, not -log(prob), which underflows for confident wrong answers */
        double zt = targets[n] >= 0 ? (double)row[targets[n]] - mx : 0;
        double sum = 0;
#pragma omp simd reduction(+ : sum)
        for (int i = 0; i < V; i++) { row[i] = al_exp(row[i] - mx); sum += row[i]; }
        real inv = (real)(1.0 / sum);
#pragma omp simd
        for (int i = 0; i < V; i++) row[i] *= inv;
        losses[n] = targets[n] >= 0 ? (real)(log(sum) - zt) : 0;
    }
    double total = 0;
    int valid = 0;
    for (int n = 0; n < N; n++)
        if (targets[n] >= 0) { total += losses[n]; valid++; }
    *n_valid = valid;
    return total;
}

static void cross_entropy_backward(real *probs, const int *targets, int N, int V, real scale) {
#pragma omp parallel for schedule(static) if ((size_t)(N) * (V) > PAR_MIN)
    for (int n = 0; n < N; n++) {
        real *row = probs + (size_t)n * V;
        if (targets[n] < 0) { memset(row, 0, sizeof(real) * V); continue; }
        for (int i = 0; i < V; i++) row[i] *= scale;
        row[targets[n]] -= scale;
    }
}

/* Large fills and copies (the n-stream gradient buffers are megabytes) are split over the threads: serial
 * they would cap the scaling of the whole step. */
#define PAR_BYTES_MIN (1 << 20)
static void zero(real *x, size_t n) {
    if (n * sizeof(real) < PAR_BYTES_MIN) { memset(x, 0, n * sizeof(real)); return; }
#pragma omp parallel
    {
        int nt = omp_get_num_threads(), id = omp_get_thread_num();
        size_t lo = n * id / nt, hi = n * (id + 1) / nt;
        memset(x + lo, 0, (hi - lo) * sizeof(real));
    }
}
static void copy(real *dst, const real *src, size_t n) {
    /* overlapping ranges (memmove semantics) stay serial */
    if (n * sizeof(real) < PAR_BYTES_MIN || (dst < src + n && src < dst + n)) { memmove(dst, src, n * sizeof(real)); return; }
#pragma omp parallel
    {
        int nt = omp_get_num_threads(), id = omp_get_thread_num();
        size_t lo = n * id / nt, hi = n * (id + 1) / nt;
        memcpy(dst + lo, src + lo, (hi - lo) * sizeof(real));
    }
}

static void add(real *out, const real *a, const real *b, size_t n) {
#pragma omp parallel for schedule(static) if ((n) > PAR_MIN)
    for (size_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}
static void accumulate(real *acc, const real *x, size_t n) {
#pragma omp parallel for schedule(static) if ((n) > PAR_MIN)
    for (size_t i = 0; i < n; i++) acc[i] += x[i];
}
static void scale(real *x, real s, size_t n) {
#pragma omp parallel for schedule(static) if ((n) > PAR_MIN)
    for (size_t i = 0; i < n; i++) x[i] *= s;
}

/* Fixed partition by thread id, then a serial sum of the partials in thread order: deterministic. */
static double sum_squares(const real *x, size_t n) {
    double partial[256] = {0};
    int nt = 1;
#pragma omp parallel if (n > PAR_MIN)
    {
        int t = omp_get_thread_num();
#pragma omp single
        nt = omp_get_num_threads() < 256 ? omp_get_num_threads() : 256;
        if (t < nt) {
            size_t lo = n * t / nt, hi = n * (t + 1) / nt;
            double s = 0;
            for (size_t i = lo; i < hi; i++) s += (double)x[i] * x[i];
            partial[t] = s;
        }
    }
    double s = 0;
    for (int t = 0; t < nt; t++) s += partial[t];
    return s;
}

static int all_finite(const real *x, size_t n) {
    int ok = 1;
#pragma omp parallel for schedule(static) reduction(&& : ok) if ((n) > PAR_MIN)
    for (size_t i = 0; i < n; i++) ok = ok && isfinite(x[i]);
    return ok;
}

static void adamw(real *w, const real *g, real *m, real *v, size_t n, real lr, real b1, real b2, real eps,
                  real wd, int t) {
    real c1 = (real)(1.0 / (1.0 - pow(b1, t))), c2 = (real)(1.0 / (1.0 - pow(b2, t)));
#pragma omp parallel for schedule(static) if ((n) > PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        m[i] = b1 * m[i] + (1 - b1) * g[i];
        v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
        real mh = m[i] * c1, vh = v[i] * c2;
        w[i] -= lr * (mh / ((real)sqrt(vh) + eps) + wd * w[i]);
    }
}

/* ======================= MoE kernels (DeepSeekMoE: arch/router.c, arch/moe.c) ======================= */

static void moe_scores_forward(real *s, const real *logits, int N, int E, int sig) {
#pragma omp parallel for schedule(static) if ((size_t)(N) * (E) > PAR_MIN)
    for (int n = 0; n < N; n++) {
        const real *l = logits + (size_t)n * E;
        real *o = s + (size_t)n * E;
        if (sig) {
            for (int e = 0; e < E; e++) o[e] = al_sigmoid(l[e]);
        } else {
            real mx = l[0];
            for (int e = 1; e < E; e++) if (l[e] > mx) mx = l[e];
            double z = 0;
            for (int e = 0; e < E; e++) { o[e] = al_exp(l[e] - mx); z += o[e]; }
            for (int e = 0; e < E; e++) o[e] = (real)(o[e] / z);
        }
    }
}

/* softmax: dl_e = s_e (ds_e - sum_j ds_j s_j); sigmoid: dl_e = ds_e s_e (1 - s_e) */
static void moe_scores_backward(real *dlogits, const real *ds, const real *s, int N, int E, int sig) {
#pragma omp parallel for schedule(static) if ((size_t)(N) * (E) > PAR_MIN)
    for (int n = 0; n < N; n++) {
        const real *g = ds + (size_t)n * E, *p = s + (size_t)n * E;
        real *d = dlogits + (size_t)n * E;
        if (sig) {
            for (int e = 0; e < E; e++) d[e] += g[e] * p[e] * (1 - p[e]);
        } else {
            double dot = 0;
            for (int e = 0; e < E; e++) dot += (double)g[e] * p[e];
            for (int e = 0; e < E; e++) d[e] += p[e] * (real)(g[e] - dot);
        }
    }
}

/* index of the largest v[i] with ok[i] (ties: lower index); -1 if none */
static int argmax_masked(const real *v, const unsigned char *ok, int n) {
    int best = -1;
    for (int i = 0; i < n; i++)
        if (ok[i] && (best < 0 || v[i] > v[best])) best = i;
    return best;
}

static void moe_route(int *idx, real *w, const real *s, const real *bias, int N, const MoeRouteSpec *r) {
    int E = r->E, Kk = r->K, G = r->n_group, gs = E / G;
#pragma omp parallel for schedule(static) if ((size_t)(N) * (E) > PAR_MIN)
    for (int n = 0; n < N; n++) {
        const real *p = s + (size_t)n * E;
        real sel[E], gscore[G];
        unsigned char ok[E], gok[G];
        for (int e = 0; e < E; e++) { sel[e] = p[e] + (bias ? bias[e] : 0); ok[e] = 1; }
        if (r->group_score && G > 1 && r->topk_group < G) {
            for (int g = 0; g < G; g++) {
                const real *v = sel + g * gs;
                if (r->group_score == 1 || gs < 2) { /* V2: the group's best score */
                    real m = v[0];
                    for (int i = 1; i < gs; i++) if (v[i] > m) m = v[i];
                    gscore[g] = m;
                } else { /* V3: the sum of the group's two best scores */
                    int a = 0;
                    for (int i = 1; i < gs; i++) if (v[i] > v[a]) a = i;
                    int b = a == 0 ? 1 : 0;
                    for (int i = 0; i < gs; i++) if (i != a && v[i] > v[b]) b = i;
                    gscore[g] = v[a] + v[b];
                }
                gok[g] = 1;
            }
            unsigned char keep[G];
            memset(keep, 0, sizeof keep);
            for (int j = 0; j < r->topk_group; j++) {
                int g = argmax_masked(gscore, gok, G);
                keep[g] = 1;
                gok[g] = 0;
            }
            for (int e = 0; e < E; e++) ok[e] = keep[e / gs];
        }
        int *ix = idx + (size_t)n * Kk;
        real *wv = w + (size_t)n * Kk;
        double sum = 0;
        for (int k = 0; k < Kk; k++) {
            int e = argmax_masked(sel, ok, E);
            ok[e] = 0;
            ix[k] = e;
            wv[k] = p[e];
            sum += p[e];
        }
        double f = r->norm && Kk > 1 ? r->scale / sum : r->scale;
        for (int k = 0; k < Kk; k++) wv[k] = (real)(wv[k] * f);
    }
}

/* g_k = c s_k / S (S = sum of the K chosen s) if normalized, else c s_k:
 * ds_{i_m} += c (dw_m / S - sum_k dw_k s_k / S^2), or c dw_m */
static void moe_gate_backward(real *ds, const real *dw, const real *s, const int *idx, int N, const MoeRouteSpec *r) {
    int E = r->E, Kk = r->K;
#pragma omp parallel for schedule(static) if ((size_t)(N) * (E) > PAR_MIN)
    for (int n = 0; n < N; n++) {
        const real *p = s + (size_t)n * E, *g = dw + (size_t)n * Kk;
        const int *ix = idx + (size_t)n * Kk;
        real *d = ds + (size_t)n * E;
        if (r->norm && Kk > 1) {
            double S = 0, dot = 0;
            for (int k = 0; k < Kk; k++) { S += p[ix[k]]; dot += (double)g[k] * p[ix[k]]; }
            for (int k = 0; k < Kk; k++) d[ix[k]] += (real)(r->scale * (g[k] / S - dot / (S * S)));
        } else {
            for (int k = 0; k < Kk; k++) d[ix[k]] += r->scale * g[k];
        }
    }
}

/* a counting sort: serial, O(N K + E), integer work only */
static void moe_dispatch(int *counts, int *offsets, int *tok, int *pos, const int *idx, int N, int Kk, int E) {
    memset(counts, 0, sizeof(int) * E);
    for (int i = 0; i < N * Kk; i++) counts[idx[i]]++;
    offsets[0] = 0;
    for (int e = 0; e < E; e++) offsets[e + 1] = offsets[e] + counts[e];
    int fill[E];
    memcpy(fill, offsets, sizeof(int) * E);
    for (int n = 0; n < N; n++)
        for (int k = 0; k < Kk; k++) {
            int row = fill[idx[n * Kk + k]]++;
            tok[row] = n;
            pos[n * Kk + k] = row;
        }
}

static void gather_rows(real *dst, const real *src, const int *rows, int M, int C) {
#pragma omp parallel for schedule(static) if ((size_t)(M) * (C) > PAR_MIN)
    for (int r = 0; r < M; r++) memcpy(dst + (size_t)r * C, src + (size_t)rows[r] * C, sizeof(real) * C);
}

static void moe_combine(real *out, const real *y, const int *pos, const real *w, int N, int Kk, int C) {
#pragma omp parallel for schedule(static) if ((size_t)(N) * (C) > PAR_MIN)
    for (int n = 0; n < N; n++) {
        real *o = out + (size_t)n * C;
        for (int k = 0; k < Kk; k++) {
            const real *v = y + (size_t)pos[n * Kk + k] * C;
            real a = w ? w[n * Kk + k] : 1;
            for (int c = 0; c < C; c++) o[c] += a * v[c];
        }
    }
}

static void moe_combine_backward(real *dy, real *dw, const real *dout, const real *y, const int *pos, const real *w,
                                 int N, int Kk, int C) {
#pragma omp parallel for schedule(static) if ((size_t)(N) * (C) > PAR_MIN)
    for (int n = 0; n < N; n++) {
        const real *g = dout + (size_t)n * C;
        for (int k = 0; k < Kk; k++) {
            size_t row = (size_t)pos[n * Kk + k];
            const real *v = y + row * C;
            real *d = dy + row * C, a = w[n * Kk + k];
            double dot = 0;
            for (int c = 0; c < C; c++) { d[c] = a * g[c]; dot += (double)g[c] * v[c]; }
            dw[n * Kk + k] += (real)dot;
        }
    }
}

/* per sequence b: the coefficient of s'_i,t in L_b, c_i = (a_exp f_i + a_dev f'_d(i)) / T; L_b = sum_i c_i sum_t s'_i,t */
static void balance_coeffs(double *coef, const int *idx, int b, int T, int E, int Kk, int group, real a_exp, real a_dev) {
    double f[E];
    for (int e = 0; e < E; e++) f[e] = 0;
    for (int i = b * T * Kk; i < (b + 1) * T * Kk; i++) f[idx[i]] += 1;
    for (int e = 0; e < E; e++) f[e] *= (double)E / ((double)Kk * T);
    for (int e = 0; e < E; e++) coef[e] = a_exp * f[e];
    if (a_dev != 0)
        for (int d = 0; d < E / group; d++) {
            double fd = 0;
            for (int i = 0; i < group; i++) fd += f[d * group + i];
            fd /= group;
            for (int i = 0; i < group; i++) coef[d * group + i] += a_dev * fd;
        }
    for (int e = 0; e < E; e++) coef[e] /= T;
}

static double moe_balance_forward(const real *s, const int *idx, int B, int T, int E, int Kk, int group, real a_exp,
                                  real a_dev) {
    double total = 0;
    for (int b = 0; b < B; b++) {
        double coef[E];
        balance_coeffs(coef, idx, b, T, E, Kk, group, a_exp, a_dev);
        for (int t = 0; t < T; t++) {
            const real *p = s + ((size_t)b * T + t) * E;
            double S = 0, acc = 0;
            for (int e = 0; e < E; e++) { S += p[e]; acc += coef[e] * p[e]; }
            total += acc / S;
        }
    }
    return total / B;
}

/* L = (1/B) sum_t sum_i c_i s_i / S:  dL/ds_j = (c_j - sum_i c_i s'_i) / (B S) */
static void moe_balance_backward(real *ds, const real *s, const int *idx, int B, int T, int E, int Kk, int group,
                                 real a_exp, real a_dev) {
    for (int b = 0; b < B; b++) {
        double coef[E];
        balance_coeffs(coef, idx, b, T, E, Kk, group, a_exp, a_dev);
#pragma omp parallel for schedule(static) if ((size_t)(T) * (E) > PAR_MIN)
        for (int t = 0; t < T; t++) {
            const real *p = s + ((size_t)b * T + t) * E;
            real *d = ds + ((size_t)b * T + t) * E;
            double S = 0, acc = 0;
            for (int e = 0; e < E; e++) { S += p[e]; acc += coef[e] * p[e]; }
            acc /= S;
            for (int e = 0; e < E; e++) d[e] += (real)((coef[e] - acc) / (B * S));
        }
    }
}

static double row_entropy(const real *s, int N, int E) {
    double total = 0;
    for (int n = 0; n < N; n++) {
        const real *p = s + (size_t)n * E;
        double S = 0, h = 0;
        for (int e = 0; e < E; e++) S += p[e];
        for (int e = 0; e < E; e++) {
            double q = p[e] / S;
            if (q > 0) h -= q * log(q);
        }
        total += h;
    }
    return N ? total / N : 0;
}
/* ===================== end of MoE kernels ===================== */

const Backend al_backend_cpu = {
    .name = "cpu-openblas",
    .alloc = cpu_alloc, .free = cpu_free, .gemm = cpu_gemm,
    .linear_forward = linear_forward, .linear_backward = linear_backward,
    .rmsnorm_forward = rmsnorm_forward, .rmsnorm_backward = rmsnorm_backward,
    .rms_projection_forward = rms_projection_forward, .rms_projection_backward = rms_projection_backward,
    .rms_projection_weight_grad = rms_projection_weight_grad, .mhc_backward_fused = mhc_backward_fused, .rope = rope,
    .attention_forward = cpu_attention_forward, .attention_backward = cpu_attention_backward,
    .swiglu_forward = swiglu_forward, .swiglu_backward = swiglu_backward,
    .embedding_forward = embedding_forward, .embedding_backward = embedding_backward,
    .cross_entropy_forward = cross_entropy_forward, .cross_entropy_backward = cross_entropy_backward,
    .zero = zero, .copy = copy, .add = add, .accumulate = accumulate, .scale = scale,
    .sum_squares = sum_squares, .all_finite = all_finite, .adamw = adamw,
    /* MoE */
    .moe_scores_forward = moe_scores_forward, .moe_scores_backward = moe_scores_backward, .moe_route = moe_route,
    .moe_gate_backward = moe_gate_backward, .moe_dispatch = moe_dispatch, .gather_rows = gather_rows,
    .moe_combine = moe_combine, .moe_combine_backward = moe_combine_backward,
    .moe_balance_forward = moe_balance_forward, .moe_balance_backward = moe_balance_backward,
    .row_entropy = row_entropy,
    /* multi-stream residual kernels: core/streams_cpu.c */
    .streams_broadcast = streams_broadcast, .streams_sum = streams_sum, .stream_pre = stream_pre,
    .stream_pre_backward = stream_pre_backward, .stream_post = stream_post,
    .stream_post_backward = stream_post_backward, .sinkhorn_forward = sinkhorn_forward,
    .sinkhorn_backward = sinkhorn_backward, .mhc_coeffs = mhc_coeffs, .mhc_coeffs_backward = mhc_coeffs_backward,
    .hc_coeffs = hc_coeffs, .hc_coeffs_backward = hc_coeffs_backward,
    .copy_strided = cpu_copy_strided, .attention_decode = cpu_attention_decode,
    .sample_tokens = cpu_sample_tokens,
};

const Backend *K = &al_backend_cpu;

void al_set_threads(int n) {
    if (n <= 0) return;
    omp_set_num_threads(n);
    openblas_set_num_threads(n);
}

int al_get_threads(void) { return omp_get_max_threads(); }
