/* The kernel interface. arch/ never loops over tensor data itself: every numeric operation goes through
 * the backend table, so a GPU backend (CUDA) can be slotted in by providing another table, without
 * touching arch/. Conventions (after llm.c): outputs first, a shape comment per kernel, row-major,
 * and backward kernels ACCUMULATE (+=) into gradient buffers, which the caller zeroes. */
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
    /* out(N,C) = inp / rms(inp) * w; rstd(N) saved for backward */
    void (*rmsnorm_forward)(real *out, real *rstd, const real *inp, const real *w, int N, int C, real eps);
    void (*rmsnorm_backward)(real *dinp, real *dw, const real *dout, const real *inp, const real *w,
                             const real *rstd, int N, int C);
    /* Rotary embedding in place on x: rows (B*T) of `stride`, n_heads heads `head_stride` apart, rotating the
     * first `rot` dims of each head as pairs (i, i + rot/2) by angle pos * theta_i; cos/sin are (T, rot/2).
     * inverse = 1 rotates by -angle: that is the backward pass (rotations are orthogonal). */
    void (*rope)(real *x, int B, int T, int n_heads, int head_stride, int rot, int stride, const real *cos,
                 const real *sin, int inverse);
    /* Causal softmax attention. probs (B,H,T,T) is saved for backward. */
    void (*attention_forward)(real *out, real *probs, const real *q, const real *k, const real *v,
                              const AttnShape *s);
    /* dq, dk, dv (strided like q, k, v) +=; scratch is (B,H,T,T). */
    void (*attention_backward)(real *dq, real *dk, real *dv, real *scratch, const real *dout,
                               const real *probs, const real *q, const real *k, const real *v,
                               const AttnShape *s);
    /* h(N,F) = silu(gu[:, :F]) * gu[:, F:], gu is (N, 2F) */
    void (*swiglu_forward)(real *h, const real *gu, int N, int F);
    /* dgu(N,2F) += from dh(N,F) */
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
} Backend;

extern const Backend al_backend_cpu;
/* The active backend; arch/ calls kernels as K->op(...). */
extern const Backend *K;

/* Threads for OpenMP loops and OpenBLAS (0 = leave the default). */
void al_set_threads(int n);
int al_get_threads(void);
#endif
