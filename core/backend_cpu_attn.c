/* CPU kernels for decoding and the attention families; see core/backend.h for the contracts. */
#include "core/backend_cpu_attn.h"
#include "core/fast_exp.h"
#include "core/gemm_cpu.h"

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

/* row[0..n) (scaled scores) -> softmax probabilities, row[n..len) = 0 (n >= 1); returns the log-sum-exp.
 * Training and decoding share it, so a cached decode computes what the training forward does. */
static real softmax_causal_row(real *row, int n, int len) {
    /* the exp and normalization passes run over the whole row with the causal mask as a select: the rows of a
     * block differ in length by 1..32 entries, and loops over [0, n) spent much of their time in remainders */
    real mx = row[0];
#pragma omp simd reduction(max : mx)
    for (int j = 1; j < n; j++) mx = row[j] > mx ? row[j] : mx;
    real sum = 0;
#pragma omp simd reduction(+ : sum)
    for (int j = 0; j < len; j++) { row[j] = j < n ? al_exp(row[j] - mx) : 0; sum += row[j]; }
    real inv = 1 / sum;
#pragma omp simd
    for (int j = 0; j < len; j++) row[j] *= inv;
    return mx + (real)log(sum);
}

/* ---- training attention, in blocks of query rows ----
 * Block i holds query rows [i0, i0+m) and its scores cover keys [0, e = i0+m): the causal upper triangle is
 * never computed except inside the diagonal block (T 128: 62.5% of the full T x T product, T 1024: 52%), and
 * every block row is complete, so its softmax is exact with no online rescaling (flash-attention's other half).
 * The forward keeps only each row's log-sum-exp; the backward recomputes a block's probabilities from it with
 * one more GEMM, so memory is O(B H T) instead of O(B H T^2). 32 rows: fastest of 16/32/64/128 when timed
 * with OpenBLAS at T 128 and 256, head dims 32 and 64 (short calls' overhead against skipped work). ATTN_BLOCK
 * is in core/backend_cpu_attn.h. */

/* One thread's workspace: a block's probabilities and their gradient (2 x ATTN_BLOCK x T), and the head's keys
 * and values transposed (dk x T, dv x T): the score products then run as NN GEMMs, which OpenBLAS's small
 * kernels do 38% faster than the NT form at these shapes (32 x e x 32; 25% net of the transposes). */
static size_t attn_slot_elems(const AttnShape *s) { return ((size_t)2 * ATTN_BLOCK + s->dk + s->dv) * s->T; }

size_t cpu_attention_work_size(const AttnShape *s) {
    int slots = omp_get_max_threads();
    if (slots > s->B * s->H) slots = s->B * s->H;
    return (size_t)(slots < 1 ? 1 : slots) * attn_slot_elems(s);
}

/* threads for `units` independent (sequence, head) jobs with work_n reals of workspace */
static int attn_threads(size_t work_n, const AttnShape *s, int units) {
    size_t slots = work_n / attn_slot_elems(s);
    int n = omp_get_max_threads();
    if ((size_t)n > slots) n = (int)slots;
    if (n > units) n = units;
    return n < 1 ? 1 : n;
}

/* dst (d x T) = the first d columns of T rows of src (row stride `stride`), transposed. In the backward the rows
 * come cold from memory, one head-wide slice of a long row each, which the hardware prefetcher does not
 * follow: rows are prefetched 8 ahead (without it the transposes took half of the backward kernel's time). */
#define TRANSPOSE_PREFETCH 8
static void transpose_head(real *dst, const real *src, int T, int d, int stride) {
    for (int j = 0; j < T; j++) {
        if (j + TRANSPOSE_PREFETCH < T) {
            const char *ahead = (const char *)(src + (size_t)(j + TRANSPOSE_PREFETCH) * stride);
            for (size_t o = 0; o < sizeof(real) * (size_t)d; o += 64) __builtin_prefetch(ahead + o);
        }
        for (int c = 0; c < d; c++) dst[(size_t)c * T + j] = src[(size_t)j * stride + c];
    }
}

void cpu_attention_forward(real *out, real *lse, real *work, size_t work_n, const real *q, const real *k,
                           const real *v, const AttnShape *s) {
    int B = s->B, T = s->T, H = s->H, group = s->H / s->Hkv;
    AL_ASSERT(work_n >= attn_slot_elems(s));
    CBLAS_TRANSPOSE N_ = CblasNoTrans;
#pragma omp parallel num_threads(attn_threads(work_n, s, B * H))
    {
        real *P = work + (size_t)omp_get_thread_num() * attn_slot_elems(s), *Kt = P + (size_t)2 * ATTN_BLOCK * T;
#pragma omp for collapse(2) schedule(static)
        for (int b = 0; b < B; b++)
            for (int h = 0; h < H; h++) {
                int g = h / group;
                const real *Q = q + (size_t)b * T * s->q_stride + (size_t)h * s->dk;
                const real *V = v + (size_t)b * T * s->v_stride + (size_t)g * s->dv;
                real *O = out + (size_t)b * T * s->o_stride + (size_t)h * s->dv, *L = lse + ((size_t)b * H + h) * T;
                transpose_head(Kt, k + (size_t)b * T * s->k_stride + (size_t)g * s->dk, T, s->dk, s->k_stride);
                for (int i0 = 0; i0 < T; i0 += ATTN_BLOCK) {
                    int m = T - i0 < ATTN_BLOCK ? T - i0 : ATTN_BLOCK, e = i0 + m;
                    GEMM(CblasRowMajor, N_, N_, m, e, s->dk, s->scale, Q + (size_t)i0 * s->q_stride, s->q_stride, Kt, T,
                         0, P, e);
                    for (int r = 0; r < m; r++) L[i0 + r] = softmax_causal_row(P + (size_t)r * e, i0 + r + 1, e);
                    GEMM(CblasRowMajor, N_, N_, m, s->dv, e, 1, P, e, V, s->v_stride, 0, O + (size_t)i0 * s->o_stride,
                         s->o_stride);
                }
            }
    }
}

/* Per block: P = exp(scale Q K^T - lse) (recomputed), dP = dO V^T, dV += P^T dO, dS = P * (dP - rowsum(P * dP)),
 * dQ += scale dS K, dK += scale dS^T Q. Parallel over (sequence, kv head): the query heads sharing a kv head
 * accumulate into it one after another, so there are no races and the order is fixed. */
void cpu_attention_backward(real *dq, real *dk, real *dv, real *work, size_t work_n, const real *dout,
                            const real *lse, const real *q, const real *k, const real *v, const AttnShape *s) {
    int B = s->B, T = s->T, H = s->H, Hkv = s->Hkv, group = H / Hkv;
    AL_ASSERT(work_n >= attn_slot_elems(s));
    CBLAS_TRANSPOSE N_ = CblasNoTrans, T_ = CblasTrans;
#pragma omp parallel num_threads(attn_threads(work_n, s, B * Hkv))
    {
        real *P = work + (size_t)omp_get_thread_num() * attn_slot_elems(s), *dP = P + (size_t)ATTN_BLOCK * T;
        real *Kt = dP + (size_t)ATTN_BLOCK * T, *Vt = Kt + (size_t)s->dk * T;
#pragma omp for collapse(2) schedule(static)
        for (int b = 0; b < B; b++)
            for (int g = 0; g < Hkv; g++) {
                size_t ko = (size_t)b * T * s->k_stride + (size_t)g * s->dk;
                size_t vo = (size_t)b * T * s->v_stride + (size_t)g * s->dv;
                transpose_head(Kt, k + ko, T, s->dk, s->k_stride);
                transpose_head(Vt, v + vo, T, s->dv, s->v_stride);
                for (int h = g * group; h < (g + 1) * group; h++) {
                    size_t qo = (size_t)b * T * s->q_stride + (size_t)h * s->dk;
                    const real *dO = dout + (size_t)b * T * s->o_stride + (size_t)h * s->dv;
                    const real *L = lse + ((size_t)b * H + h) * T;
                    for (int i0 = 0; i0 < T; i0 += ATTN_BLOCK) {
                        int m = T - i0 < ATTN_BLOCK ? T - i0 : ATTN_BLOCK, e = i0 + m;
                        const real *Qi = q + qo + (size_t)i0 * s->q_stride, *dOi = dO + (size_t)i0 * s->o_stride;
                        GEMM(CblasRowMajor, N_, N_, m, e, s->dk, s->scale, Qi, s->q_stride, Kt, T, 0, P, e);
                        for (int r = 0; r < m; r++) {
                            real *p = P + (size_t)r * e, l = L[i0 + r];
                            int n = i0 + r + 1;
#pragma omp simd
                            for (int j = 0; j < e; j++) p[j] = j < n ? al_exp(p[j] - l) : 0;
                        }
                        GEMM(CblasRowMajor, N_, N_, m, e, s->dv, 1, dOi, s->o_stride, Vt, T, 0, dP, e);
                        GEMM(CblasRowMajor, T_, N_, e, s->dv, m, 1, P, e, dOi, s->o_stride, 1, dv + vo, s->v_stride);
                        for (int r = 0; r < m; r++) { /* whole rows: P is 0 past the diagonal, so is dS */
                            const real *p = P + (size_t)r * e;
                            real *d = dP + (size_t)r * e, dot = 0;
#pragma omp simd reduction(+ : dot)
                            for (int j = 0; j < e; j++) dot += p[j] * d[j];
#pragma omp simd
                            for (int j = 0; j < e; j++) d[j] = p[j] * (d[j] - dot);
                        }
                        GEMM(CblasRowMajor, N_, N_, m, s->dk, e, s->scale, dP, e, k + ko, s->k_stride, 1,
                             dq + qo + (size_t)i0 * s->q_stride, s->q_stride);
                        GEMM(CblasRowMajor, T_, N_, e, s->dk, m, s->scale, dP, e, Qi, s->q_stride, 1, dk + ko, s->k_stride);
                    }
                }
            }
    }
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
                    /* up to 4 query heads per kv head (MHA: 1) make these a few vector-matrix products: cpu_gemm
                     * runs them as gemv instead of a gemm that packs the whole cache first */
                    cpu_gemm(0, 1, m, Tk, s->dk, s->scale, Q, s->dk, Kg, s->k_stride, 0, P, Tk);
                    for (int h = 0; h < m; h++) softmax_causal_row(P + (size_t)h * Tk, Tk, Tk);
                    cpu_gemm(0, 0, m, s->dv, Tk, 1, P, Tk, V, s->v_stride, 0, O, s->dv);
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
            for (int i = 0; i < T; i++) softmax_causal_row(P + (size_t)i * Tk, pos0 + i + 1, Tk);
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
