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
    /* The only way the host reads or writes device memory: n reals from a device buffer into host memory, and
     * from host memory into a device buffer (the CPU backend: memcpy). Everything the host reports (a gain, a
     * bias, a checkpoint) or sets up (initial weights, RoPE tables) goes through these; int arrays in the
     * tables (tokens, targets, expert choices, dispatch) are host memory, which a device backend stages. */
    void (*to_host)(real *dst_host, const real *src_device, size_t n);
    void (*to_device)(real *dst_device, const real *src_host, size_t n);

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

    /* ---- reinforcement learning and distillation (core/rl_cpu.c; docs/EQUATIONS.md sec. 8) ----
     * Per-row results and weights (logp, kl, ce, w) are host arrays of doubles, like u above. */
    /* tokens(N) from logits rows n at logits + n*ld (V wide): a draw from softmax(logits / temperature) restricted
     * to its nucleus (the fewest most probable tokens, ties by lower id, whose probabilities reach top_p, then
     * renormalized) by inverse CDF at u[n] in [0,1); top_p >= 1: the full distribution in token order (the same
     * draw as sample_tokens); temperature <= 0: argmax. logp[n] (NULL: not written): the chosen token's
     * log-probability under the full softmax(logits / temperature) (temperature 1 for argmax). */
    void (*sample_nucleus)(int *tokens, double *logp, const real *logits, size_t ld, const double *u, int N, int V,
                           real temperature, real top_p);
    /* logits(N,V) are replaced by p = softmax(logits / temperature); logp[n] = log p[n][tokens[n]] (0 where
     * tokens[n] < 0) */
    void (*token_logprobs)(double *logp, real *logits_to_probs, const int *tokens, int N, int V, real temperature);
    /* p(N,V) from token_logprobs are replaced by the gradient of sum_n w[n] logp[n] w.r.t. the logits:
     * w[n] / temperature * (onehot(tokens[n]) - p[n]); rows with tokens[n] < 0 or w[n] = 0 become zero */
    void (*logprob_backward)(real *probs_to_dlogits, const int *tokens, const double *w, int N, int V, real temperature);
    /* Distillation, per row n: p_s = softmax(student / tau), p_t = softmax(teacher / tau); kl[n] = KL(p_t || p_s)
     * (reverse = 0) or KL(p_s || p_t) (reverse = 1), ce[n] = -log softmax(student)[tokens[n]] (at temperature 1;
     * tokens may be NULL, ce may be NULL). The student's logits are replaced by the gradient of
     * w_kl[n] kl[n] + w_ce[n] ce[n] w.r.t. them (w_ce may be NULL); rows whose weights are both zero (or with no
     * token for the ce term alone) get kl = ce = 0 and a zero gradient. */
    void (*distill_kl)(double *kl, double *ce, real *student_to_dlogits, const real *teacher, const int *tokens,
                       const double *w_kl, const double *w_ce, int N, int V, real tau, int reverse);
} Backend;

struct MoeKernels;
struct StreamKernels;

/* The CPU backend's generic table (core/backend_cpu.c). */
extern const Backend al_backend_cpu;

/* The active tables (the CPU backend's until backend_select picks another). */
extern const Backend *K;
extern const struct MoeKernels *KM;
extern const struct StreamKernels *KS;

/* One row of the backend registry (core/backend.c): a name and its three tables. init (may be NULL) runs when
 * the backend is selected: -1 + a one-line message when it cannot run here (no GPU, no driver).
 * gemm_precision (NULL: float32 only, lower precisions simulated on the host by core/lowp_linear.c) sets the
 * arithmetic of the backend's own GEMMs for a training run ("fp32", "tf32", "bf16"; -1 + message otherwise). */
typedef struct BackendEntry {
    const char *name, *help;
    const Backend *ops;
    const struct MoeKernels *moe;
    const struct StreamKernels *streams;
    int (*init)(void);
    int (*gemm_precision)(const char *precision);
} BackendEntry;

/* Makes the named backend active; -1 + a message listing the known ones for an unknown name, naming what is
 * missing when it cannot run on this machine or in this build, or when buffers of the active backend are still
 * allocated (a model's memory belongs to the backend that allocated it: choose the device before building). */
int backend_select(const char *name);
int backend_count(void);
const BackendEntry *backend_at(int i);
/* The known names, '|'-separated ("cpu|cpu-checked"), for help text and error messages. */
const char *backend_names(void);
/* The active backend's registry name ("cpu" until backend_select picks another), and its row. */
const char *backend_active(void);
const BackendEntry *backend_current(void);
/* Buffers the backends' alloc returned and free has not taken back: every backend counts its own here, so
 * backend_select can refuse to switch under live buffers. */
extern long al_device_buffers;

/* Call first in main: re-executes the program once with a short OpenMP spin before idle threads sleep, unless
 * the user set OMP_WAIT_POLICY or GOMP_SPINCOUNT (core/backend_cpu.c has the measurements). */
void al_tune_openmp(char **argv);
/* Threads for OpenMP loops and OpenBLAS (0 = leave the default): core/backend_cpu.c. */
void al_set_threads(int n);
int al_get_threads(void);
#endif
