/* The CPU backend: GEMMs through OpenBLAS (cblas), everything else as OpenMP loops.
 * Determinism: every loop writes disjoint outputs or reduces in a fixed order, so a given thread count
 * gives bit-identical results run after run. */
#include <cblas.h> /* openblas_set_num_threads */
#include <math.h>
#include <omp.h>
#include <string.h>
#include <unistd.h>

#include "core/backend.h"
#include "core/elementwise.h"
#include "core/backend_cpu_attn.h"
#include "core/gemm_cpu.h"
#include "core/rl_cpu.h"

/* Below this much work a loop runs on one thread: a parallel region costs microseconds, more when an idle
 * thread has gone to sleep (decoding one token runs hundreds of tiny kernels). */
#define PAR_MIN 32768

static real *cpu_alloc(size_t n, const char *what) {
    real *p = al_calloc(n, sizeof(real), what);
    if (p) al_device_buffers++;
    return p;
}
static void cpu_free(real *p) {
    if (!p) return;
    al_device_buffers--;
    al_free(p);
}
/* host and device memory are one here: the copies are the contract's, so code written against them runs on a
 * device backend unchanged */
static void cpu_to_host(real *dst, const real *src, size_t n) { if (n) memcpy(dst, src, n * sizeof(real)); }
static void cpu_to_device(real *dst, const real *src, size_t n) { if (n) memcpy(dst, src, n * sizeof(real)); }

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
        real r = al_rms_rstd(ss, C, eps);
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
            for (int i = 0; i < half; i++) al_rope_pair(&v[i], &v[i + half], c[i], inverse ? -s[i] : s[i]);
        }
    }
}

static void swiglu_forward(real *h, const real *gu, int N, int F) {
#pragma omp parallel for schedule(static) if ((size_t)(N) * (F) > PAR_MIN)
    for (int n = 0; n < N; n++) {
        const real *a = gu + (size_t)n * 2 * F, *b = a + F;
        real *o = h + (size_t)n * F;
#pragma omp simd
        for (int i = 0; i < F; i++) o[i] = al_swiglu(a[i], b[i]);
    }
}

/* h = silu(a) b: da = dh b sigma(a) (1 + a (1 - sigma(a))), db = dh silu(a) */
static void swiglu_backward(real *dgu, const real *dh, const real *gu, int N, int F) {
#pragma omp parallel for schedule(static) if ((size_t)(N) * (F) > PAR_MIN)
    for (int n = 0; n < N; n++) {
        const real *a = gu + (size_t)n * 2 * F, *b = a + F, *g = dh + (size_t)n * F;
        real *da = dgu + (size_t)n * 2 * F, *db = da + F;
#pragma omp simd
        for (int i = 0; i < F; i++) al_swiglu_grad(g[i], a[i], b[i], &da[i], &db[i]);
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
    for (size_t i = 0; i < n; i++) al_adamw(&w[i], g[i], &m[i], &v[i], lr, b1, b2, eps, wd, c1, c2);
}

const Backend al_backend_cpu = {
    .name = "cpu-openblas",
    .alloc = cpu_alloc, .free = cpu_free, .to_host = cpu_to_host, .to_device = cpu_to_device, .gemm = cpu_gemm,
    .linear_forward = linear_forward, .linear_backward = linear_backward,
    .rmsnorm_forward = rmsnorm_forward, .rmsnorm_backward = rmsnorm_backward, .rope = rope,
    .attention_forward = cpu_attention_forward, .attention_backward = cpu_attention_backward,
    .attention_work_size = cpu_attention_work_size,
    .swiglu_forward = swiglu_forward, .swiglu_backward = swiglu_backward,
    .embedding_forward = embedding_forward, .embedding_backward = embedding_backward,
    .cross_entropy_forward = cross_entropy_forward, .cross_entropy_backward = cross_entropy_backward,
    .zero = zero, .copy = copy, .add = add, .accumulate = accumulate, .scale = scale,
    .sum_squares = sum_squares, .all_finite = all_finite, .adamw = adamw,
    .copy_strided = cpu_copy_strided, .attention_decode = cpu_attention_decode,
    .sample_tokens = cpu_sample_tokens,
    .sample_nucleus = cpu_sample_nucleus, .token_logprobs = cpu_token_logprobs, .logprob_backward = cpu_logprob_backward,
    .distill_kl = cpu_distill_kl,
};

/* OpenMP threads that wait for work spin (libgomp's default: 300,000 spins, or forever with
 * OMP_WAIT_POLICY=active) before they sleep. On a busy machine a spinning thread holds the core another
 * process needs, and the small model's step fell from 29,000 to 1,100-1,600 tokens/s with 2 threads beside two
 * busy processes. Measured on the 2-core machine (bench 8 small 2, three runs each): 1,000 spins keep the idle
 * speed (24,000-29,700 vs 17,300-29,400 default) and give 12,900-13,700 beside one busy process (default
 * 10,400-11,100; passive 10,600-14,800) and 4,000-13,700 beside two (default 1,200-1,600; passive 4,500-15,100).
 * libgomp reads its environment when it loads, so the setting takes a re-exec; a user's own OMP_WAIT_POLICY or
 * GOMP_SPINCOUNT is left alone. The thread count stays fixed (results depend on it, bit for bit). */
void al_tune_openmp(char **argv) {
    if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT")) return;
    if (setenv("GOMP_SPINCOUNT", "1000", 1)) return;
    execv("/proc/self/exe", argv); /* returns only on failure: then run as we are */
}

void al_set_threads(int n) {
    if (n <= 0) return;
    omp_set_num_threads(n);
    openblas_set_num_threads(n);
}

int al_get_threads(void) { return omp_get_max_threads(); }
