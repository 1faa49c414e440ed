/* CPU kernels for decoding and the attention families; see core/backend.h for the contracts. */
#include "core/backend_cpu_attn.h"
#include "core/fast_exp.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <string.h>

#ifdef AL_DOUBLE
#define GEMM cblas_dgemm
#else
#define GEMM cblas_sgemm
#endif

/* Parallel over rows; blocks run in order inside a row, so summing into a broadcast dst (block stride 0)
 * has no races and a fixed order. */
void cpu_copy_strided(real *dst, const real *src, int rows, int blocks, int cols, size_t dst_stride,
                      size_t dst_block, size_t src_stride, size_t src_block, int accumulate) {
#pragma omp parallel for schedule(static) if (rows > 1)
    for (int r = 0; r < rows; r++)
        for (int b = 0; b < blocks; b++) {
            real *d = dst + (size_t)r * dst_stride + (size_t)b * dst_block;
            const real *x = src + (size_t)r * src_stride + (size_t)b * src_block;
            if (accumulate)
                for (int i = 0; i < cols; i++) d[i] += x[i];
            else
                memcpy(d, x, sizeof(real) * cols);
        }
}

/* softmax of row[0..n) in place (n >= 1), zeroing row[n..len) */
static void softmax_row(real *row, int n, int len) {
    real mx = row[0];
    for (int j = 1; j < n; j++) mx = row[j] > mx ? row[j] : mx;
    double sum = 0;
#pragma omp simd reduction(+ : sum)
    for (int j = 0; j < n; j++) { row[j] = al_exp(row[j] - mx); sum += row[j]; }
    real inv = (real)(1.0 / sum);
    for (int j = 0; j < n; j++) row[j] *= inv;
    for (int j = n; j < len; j++) row[j] = 0;
}

/* One new token (T == 1) sees every cached key, so the query heads sharing a kv head form one
 * (group x dk) matrix (heads are dk apart within a row): one GEMM per (sequence, kv head) reads the cache
 * once for the whole group. That is where MQA and absorbed MLA (one latent "kv head") win at decode time.
 * Several new tokens (prefill) run per (sequence, head) with the causal mask shifted by pos0.
 * When there are fewer (sequence, kv head) pairs than threads, the loop runs serially so OpenBLAS can use
 * the threads inside each GEMM instead. */
void cpu_attention_decode(real *out, real *scores, const real *q, const real *k, const real *v,
                          const AttnShape *s, int pos0, size_t k_batch, size_t v_batch) {
    int B = s->B, T = s->T, H = s->H, Hkv = s->Hkv, group = H / Hkv, Tk = pos0 + T;
    int par = B * (T == 1 ? Hkv : H) >= omp_get_max_threads();
    CBLAS_TRANSPOSE N_ = CblasNoTrans, T_ = CblasTrans;
    if (T == 1) {
        /* Few (sequence, kv head) pairs (batch-1 MQA / absorbed MLA): split each group's query heads over
         * the threads instead. Each thread re-reads the (cache-resident) keys; OpenBLAS's own threading of
         * these short, wide GEMMs spent most of its time waiting (measured: 10x slower than one thread). */
        int nt = omp_get_max_threads(), chunks = par || group < nt ? 1 : nt;
        int split = chunks > 1 && Tk >= 64;
        if (!split) chunks = 1;
#pragma omp parallel for collapse(3) schedule(static) if (par || split)
        for (int b = 0; b < B; b++)
            for (int g = 0; g < Hkv; g++)
                for (int c = 0; c < chunks; c++) {
                    int h0 = group * c / chunks, h1 = group * (c + 1) / chunks, m = h1 - h0;
                    const real *Q = q + (size_t)b * s->q_stride + ((size_t)g * group + h0) * s->dk;
                    const real *Kg = k + (size_t)b * k_batch + (size_t)g * s->dk;
                    const real *V = v + (size_t)b * v_batch + (size_t)g * s->dv;
                    real *P = scores + ((size_t)b * H + (size_t)g * group + h0) * Tk;
                    real *O = out + (size_t)b * s->o_stride + ((size_t)g * group + h0) * s->dv;
                    GEMM(CblasRowMajor, N_, T_, m, Tk, s->dk, s->scale, Q, s->dk, Kg, s->k_stride, 0, P, Tk);
                    for (int h = 0; h < m; h++) softmax_row(P + (size_t)h * Tk, Tk, Tk);
                    GEMM(CblasRowMajor, N_, N_, m, s->dv, Tk, 1, P, Tk, V, s->v_stride, 0, O, s->dv);
                }
        return;
    }
#pragma omp parallel for collapse(2) schedule(static) if (par)
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++) {
            int g = h / group;
            const real *Q = q + (size_t)b * T * s->q_stride + (size_t)h * s->dk;
            const real *Kg = k + (size_t)b * k_batch + (size_t)g * s->dk;
            const real *V = v + (size_t)b * v_batch + (size_t)g * s->dv;
            real *P = scores + ((size_t)b * H + h) * T * Tk;
            real *O = out + (size_t)b * T * s->o_stride + (size_t)h * s->dv;
            GEMM(CblasRowMajor, N_, T_, T, Tk, s->dk, s->scale, Q, s->q_stride, Kg, s->k_stride, 0, P, Tk);
            for (int i = 0; i < T; i++) softmax_row(P + (size_t)i * Tk, pos0 + i + 1, Tk);
            GEMM(CblasRowMajor, N_, N_, T, s->dv, Tk, 1, P, Tk, V, s->v_stride, 0, O, s->o_stride);
        }
}

void cpu_sample_tokens(int *tokens, const real *logits, const double *u, int N, int V, real temperature) {
    for (int n = 0; n < N; n++) {
        const real *row = logits + (size_t)n * V;
        int best = 0;
        for (int i = 1; i < V; i++)
            if (row[i] > row[best]) best = i;
        if (temperature <= 0) { tokens[n] = best; continue; }
        double sum = 0, mx = row[best];
        for (int i = 0; i < V; i++) sum += exp((row[i] - mx) / temperature);
        double target = u[n] * sum, acc = 0;
        int pick = V - 1;
        for (int i = 0; i < V; i++) {
            acc += exp((row[i] - mx) / temperature);
            if (acc > target) { pick = i; break; }
        }
        tokens[n] = pick;
    }
}
