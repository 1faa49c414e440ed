/* The kernel interface. arch/ never loops over tensor data itself: every numeric operation goes through a
 * kernel table, so a GPU backend (CUDA) can be slotted in by providing other tables, without touching arch/.
 * Three tables, one per family of kernels, each next to its CPU implementation:
 *   Backend (this file, core/backend_cpu.c): the generic tensor operations every model uses,   K->op(...)
 *   MoeKernels (core/moe_kernels.h, core/moe_cpu.c): DeepSeekMoE routing, dispatch, balance,   KM->op(...)
 *   StreamKernels (core/stream_kernels.h, core/streams_cpu.c): the HC/mHC residual streams,      KS->op(...)
 * A backend is one row of the registry in core/backend.c naming its three tables; backend_select() makes
 * one active. Conventions (after llm.c): outputs first, a shape comment per kernel, row-major, and backward
 * kernels ACCUMULATE (+=) into gradient buffers, which the caller zeroes. */
#ifndef AL_BACKEND_H
#define AL_BACKEND_H
#include "core/common.h"

/* Shapes of one attention call. Head h of query row (b,t) starts at q + (b*T+t)*q_stride + h*dk; it reads
 * key/value head h / (H/Hkv) (GQA; MHA is Hkv == H, MQA is Hkv == 1). Heads are dk (query/key) and dv
 * (value) wide; out has head h at out + (b*T+t)*o_stride + h*dv. */
typedef struct AttnShape {
    int B, T, H, Hkv, dk, dv;
    int q_stride, k_stride, v_stride, o_stride;
    real scale; /* softmax scale, usually 1/sqrt(dk) */
} AttnShape;

typedef struct Backend {
    const char *name;
    /* memory: device buffers (host memory on the CPU backend), zero-filled */
    real *(*alloc)(size_t n, const char *what);
    void (*free)(real *p);

    /* C(M,N) = alpha * op(A) op(B) + beta * C, row-major with leading dimensions. */
    void (*gemm)(int trans_a, int trans_b, int M, int N, int K, real alpha, const real *A, int lda,
                 const real *B, int ldb, real beta, real *C, int ldc);
    /* out(N,OC) = inp(N,IC) w(OC,IC)^T  [+ bias(OC)] */
    void (*linear_forward)(real *out, const real *inp, const real *w, const real *bias, int N, int IC, int OC);
    /* dinp(N,IC) += dout w; dw(OC,IC) += dout^T inp; dbias += colsum(dout). dinp/dbias may be NULL. */
    void (*linear_backward)(real *dinp, real *dw, real *dbias, const real *dout, const real *inp,
                            const real *w, int N, int IC, int OC);
    /* out(N,C) = inp / rms(inp) * w; rstd(N) saved for backward. w == NULL: no learned scale (dw NULL too) */
    void (*rmsnorm_forward)(real *out, real *rstd, const real *inp, const real *w, int N, int C, real eps);
    void (*rmsnorm_backward)(real *dinp, real *dw, const real *dout, const real *inp, const real *w,
                             const real *rstd, int N, int C);
    /* Rotary embedding in place on x: rows (B*T) of `stride`, n_heads heads `head_stride` apart, rotating the
     * first `rot` dims of each head as pairs (i, i + rot/2) by angle pos * theta_i; cos/sin are (T, rot/2).
     * inverse = 1 rotates by -angle: that is the backward pass (rotations are orthogonal). */
    void (*rope)(real *x, int B, int T, int n_heads, int head_stride, int rot, int stride, const real *cos,
                 const real *sin, int inverse);
    /* Causal softmax attention for training, in blocks of query rows (core/backend_cpu_attn.c): only lse
     * (B,H,T), each row's log-sum-exp of its scaled scores, is saved for the backward, which recomputes the
     * probabilities block by block; no (B,H,T,T) tensor exists. work: attention_work_size(s) reals
     * (work_n of them; fewer threads run when it was sized for fewer than are running now). */
    void (*attention_forward)(real *out, real *lse, real *work, size_t work_n, const real *q, const real *k,
                              const real *v, const AttnShape *s);
    /* dq, dk, dv (strided like q, k, v) +=, from dout (like out) and the forward's lse */
    void (*attention_backward)(real *dq, real *dk, real *dv, real *work, size_t work_n, const real *dout,
                               const real *lse, const real *q, const real *k, const real *v, const AttnShape *s);
    /* the workspace attention_forward/backward need for shape s at the current thread count, in reals */
    size_t (*attention_work_size)(const AttnShape *s);
    /* h(N,F) = silu(gu[:, :F]) * gu[:, F:], gu is (N, 2F) */
    void (*swiglu_forward)(real *h, const real *gu, int N, int F);
    /* dgu(N,2F) = from dh(N,F): overwritten, not accumulated (gu feeds nothing else, so no caller sums into
     * dgu; skipping the zeroing and the read saves two passes over N*2F) */
    void (*swiglu_backward)(real *dgu, const real *dh, const real *gu, int N, int F);
    /* out(N,C) = table[tokens[n]] */
    void (*embedding_forward)(real *out, const int *tokens, const real *table, int N, int C);
    /* dtable(V,C) += scatter of dout by tokens */
    void (*embedding_backward)(real *dtable, const real *dout, const int *tokens, int N, int C);
    /* logits(N,V) are replaced by softmax probabilities; returns the summed loss over targets >= 0 and
     * counts them into *n_valid. losses(N) gets each row's loss (0 where ignored). */
    double (*cross_entropy_forward)(real *losses, real *logits_to_probs, const int *targets, int N, int V,
                                    int *n_valid);
    /* probs(N,V) are replaced by dlogits = scale * (probs - onehot); rows with target < 0 get zero */
    void (*cross_entropy_backward)(real *probs_to_dlogits, const int *targets, int N, int V, real scale);

    /* elementwise, n elements */
    void (*zero)(real *x, size_t n);
    void (*copy)(real *dst, const real *src, size_t n);
    void (*add)(real *out, const real *a, const real *b, size_t n); /* out = a + b */
    void (*accumulate)(real *acc, const real *x, size_t n);        /* acc += x */
    void (*scale)(real *x, real s, size_t n);
    /* sum of squares in double, deterministic for a given thread count */
    double (*sum_squares)(const real *x, size_t n);
    /* returns 1 if every element is finite */
    int (*all_finite)(const real *x, size_t n);
    /* AdamW on n parameters: m, v moments; step t >= 1 (for bias correction); decoupled weight decay */
    void (*adamw)(real *w, const real *g, real *m, real *v, size_t n, real lr, real beta1, real beta2,
                  real eps, real weight_decay, int t);

    /* ---- decoding and attention-family kernels (core/backend_cpu_attn.c) ---- */
    /* A 3-D strided copy: for r < rows, b < blocks, i < cols:
     *   dst[r*dst_stride + b*dst_block + i] (= or += when accumulate) src[r*src_stride + b*src_block + i].
     * A block stride of 0 broadcasts (src) or, with accumulate, sums over blocks (dst). Assembles per-head
     * keys (MLA: k_nope per head + one shared k_R), splits their gradients, appends rows to a KV cache. */
    void (*copy_strided)(real *dst, const real *src, int rows, int blocks, int cols, size_t dst_stride,
                         size_t dst_block, size_t src_stride, size_t src_block, int accumulate);
    /* Cached (decode) attention: s->T new queries per sequence, at positions pos0 .. pos0+T-1, attend
     * causally to the first Tk = pos0 + T rows of a cache. q and out as in attention_forward; sequence b's
     * keys/values start at k + b*k_batch, v + b*v_batch (rows of k_stride/v_stride, heads dk/dv apart).
     * scores: workspace of B*H*T*Tk. No probabilities are kept (inference only). */
    void (*attention_decode)(real *out, real *scores, const real *q, const real *k, const real *v,
                             const AttnShape *s, int pos0, size_t k_batch, size_t v_batch);
    /* tokens(N) from logits(N,V): argmax when temperature <= 0, else a draw from softmax(logits / temperature)
     * by inverse CDF at u[n] in [0,1) (the caller's RNG, so sampling is reproducible). */
    void (*sample_tokens)(int *tokens, const real *logits, const double *u, int N, int V, real temperature);
} Backend;

struct MoeKernels;
struct StreamKernels;

/* The CPU backend's generic table (core/backend_cpu.c). */
extern const Backend al_backend_cpu;

/* The active tables (the CPU backend's until backend_select picks another). */
extern const Backend *K;
extern const struct MoeKernels *KM;
extern const struct StreamKernels *KS;

/* One row of the backend registry (core/backend.c): a name and its three tables. */
typedef struct BackendEntry {
    const char *name, *help;
    const Backend *ops;
    const struct MoeKernels *moe;
    const struct StreamKernels *streams;
} BackendEntry;

/* Makes the named backend active; -1 + a message listing the known ones for an unknown name. */
int backend_select(const char *name);
int backend_count(void);
const BackendEntry *backend_at(int i);
/* The known names, '|'-separated ("cpu"), for help text and error messages. */
const char *backend_names(void);

/* Call first in main: re-executes the program once with a short OpenMP spin before idle threads sleep, unless
 * the user set OMP_WAIT_POLICY or GOMP_SPINCOUNT (core/backend_cpu.c has the measurements). */
void al_tune_openmp(char **argv);
/* Threads for OpenMP loops and OpenBLAS (0 = leave the default): core/backend_cpu.c. */
void al_set_threads(int n);
int al_get_threads(void);
#endif
