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

/* How one token's experts are chosen (DeepSeekMoE routing, arch/router.c). */
typedef struct MoeRouteSpec {
    int E, K;              /* routed experts, experts per token */
    int n_group, topk_group; /* group-limited routing: keep topk_group of n_group groups (n_group 1: off) */
    int group_score;       /* 0: no group limit, 1: max score in the group (V2), 2: sum of its top-2 (V3) */
    int norm;              /* renormalize the K gate values to sum 1 (when K > 1) */
    real scale;            /* routed_scaling_factor, applied to the gate values last */
} MoeRouteSpec;

/* Arguments of mhc_backward_fused (arch/mhc.c): N tokens, n streams of width C, W = 2n + n^2 coefficients. */
typedef struct MhcBackward {
    real *dX;                        /* (N, n, C) += */
    const real *du;                  /* (N, C): gradient of F's input u = sum_i hpre_i X_i */
    const real *X, *hpre, *hpost;    /* (N, n, C), (N, n), (N, n) */
    real *dhpre;                     /* (N, n) workspace: H_pre's gradient is computed here */
    real *dhpost, *dhres;            /* (N, n), (N, n, n): gradients of H_post, H_res (used as workspace) */
    const real *trace;               /* the forward's Sinkhorn trace */
    const real *raw, *rstd, *phi, *a; /* dynamic: (N, W) projection output, (N), (W, nC), (3); NULL: static */
    real *dphi, *da, *db_pre, *db_post, *db_res; /* parameter gradients += (dphi, da unused when static) */
    real *work;                      /* mhc_backward_work_size(N, n) reals */
    int N, n, C, iters, flags;
} MhcBackward;

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
    /* out(N,OC) = RMSNorm(inp)(N,IC) w(OC,IC)^T with no learned scale, the normalized input never stored
     * (the HC/mHC coefficient maps; OC small); rstd(N) saved for backward. */
    void (*rms_projection_forward)(real *out, real *rstd, const real *inp, const real *w, int N, int IC, int OC,
                                   real eps);
    /* dinp(N,IC) +=, dw(OC,IC) += from dout(N,OC), which is used as workspace (scaled in place by rstd: G);
     * out is the forward's output. dinp or dw may be NULL. */
    void (*rms_projection_backward)(real *dinp, real *dw, real *dout, const real *out, const real *inp,
                                    const real *w, const real *rstd, int N, int IC, int OC);
    /* dw(OC,IC) += g^T inp, g (N,OC) already scaled (the G that rms_projection_backward left in its dout) */
    void (*rms_projection_weight_grad)(real *dw, const real *g, const real *inp, int N, int IC, int OC);
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

    /* ---- MoE kernels (arch/router.c, arch/moe.c); see core/backend_cpu.c "MoE kernels" ---- */
    /* s(N,E) = softmax (sigmoid = 0) or sigmoid (sigmoid = 1) of logits(N,E), row-wise */
    void (*moe_scores_forward)(real *s, const real *logits, int N, int E, int sigmoid);
    /* dlogits(N,E) += J^T ds */
    void (*moe_scores_backward)(real *dlogits, const real *ds, const real *s, int N, int E, int sigmoid);
    /* Per token: selection scores s + bias (bias(E) may be NULL), optional group limit, top-K (ties: lower
     * index); idx(N,K) the chosen experts in descending selection score, w(N,K) their gate values from the
     * UNBIASED s (renormalized if r->norm and K > 1), times r->scale. */
    void (*moe_route)(int *idx, real *w, const real *s, const real *bias, int N, const MoeRouteSpec *r);
    /* ds(N,E) += d(gate values)/ds^T dw(N,K) */
    void (*moe_gate_backward)(real *ds, const real *dw, const real *s, const int *idx, int N, const MoeRouteSpec *r);
    /* Sorts the N*K (token, slot) assignments by expert, then token: counts(E), offsets(E+1) into rows,
     * tok(N*K) the token of each row, pos(N*K) the row of assignment (t, k). */
    void (*moe_dispatch)(int *counts, int *offsets, int *tok, int *pos, const int *idx, int N, int K, int E);
    /* dst(M,C) = src[rows[r]] */
    void (*gather_rows)(real *dst, const real *src, const int *rows, int M, int C);
    /* out(N,C) += sum_k w(N,K)[t,k] * y[pos[t,k]] (w NULL: weight 1), y is (N*K, C) */
    void (*moe_combine)(real *out, const real *y, const int *pos, const real *w, int N, int K, int C);
    /* backward of moe_combine: dy[pos[t,k]] = w[t,k] dout[t] (overwrites dy rows); dw(N,K) += dout[t].y[pos[t,k]] */
    void (*moe_combine_backward)(real *dy, real *dw, const real *dout, const real *y, const int *pos,
                                 const real *w, int N, int K, int C);
    /* Balance losses over B sequences of T tokens, per sequence then averaged over the B sequences, on
     * s' = s / sum_j s_j (the identity for softmax scores): with f_i = E/(K T) #(tokens of the sequence that
     * chose i) and P_i = mean_t s'_i,t, L = a_exp sum_i f_i P_i + a_dev sum_d f'_d P'_d over groups of
     * `group` experts (f' = mean f in the group, P' = sum P). f is a count: no gradient flows through it. */
    double (*moe_balance_forward)(const real *s, const int *idx, int B, int T, int E, int K, int group,
                                  real a_exp, real a_dev);
    /* ds(B*T, E) += dL/ds */
    void (*moe_balance_backward)(real *ds, const real *s, const int *idx, int B, int T, int E, int K, int group,
                                 real a_exp, real a_dev);
    /* mean over rows of the entropy (nats) of s'(N,E) = s / rowsum(s) */
    double (*row_entropy)(const real *s, int N, int E);

    /* ---- multi-stream residual families (HC, mHC). X is (N, n, C): n streams of width C per token.
     * Per-token coefficients: hpre (N, n), hpost (N, n), hres (N, n, n), hres[t][i][j] mixes stream j
     * into stream i. ---- */
    /* X[t,i] = x[t] (accumulate: +=) */
    void (*streams_broadcast)(real *X, const real *x, int N, int n, int C, int accumulate);
    /* x[t] = sum_i X[t,i] (accumulate: +=) */
    void (*streams_sum)(real *x, const real *X, int N, int n, int C, int accumulate);
    /* u(N,C) = sum_i hpre[t,i] X[t,i] */
    void (*stream_pre)(real *u, const real *X, const real *hpre, int N, int n, int C);
    /* dX +=; dhpre = (overwritten: H_pre has no other path) */
    void (*stream_pre_backward)(real *dX, real *dhpre, const real *du, const real *X, const real *hpre, int N,
                                int n, int C);
    /* Xn[t,i] = sum_j hres[t,i,j] X[t,j] + hpost[t,i] f[t] */
    void (*stream_post)(real *Xn, const real *X, const real *hres, const real *hpost, const real *f, int N, int n,
                        int C);
    /* Unlike other backward kernels it OVERWRITES dX, dhres, dhpost and df (it is their first contribution in a
     * layer's backward, so nothing needs zeroing); fused: u = stream_pre(X, hpre) from the same reads of X
     * (u NULL: skipped) */
    void (*stream_post_backward)(real *dX, real *dhres, real *dhpost, real *df, real *u, const real *dXn,
                                 const real *X, const real *hres, const real *hpost, const real *hpre, const real *f,
                                 int N, int n, int C);
    /* H(N,n,n) = Sinkhorn-Knopp(exp(logits)) with `iters` (column, row) normalization pairs; the trace
     * (sinkhorn_trace_size(n, iters) per token) lets the backward differentiate the unrolled iterations
     * exactly (dlogits +=). n <= 8, iters <= 200. */
    void (*sinkhorn_forward)(real *H, real *trace, const real *logits, int N, int n, int iters);
    void (*sinkhorn_backward)(real *dlogits, const real *dH, const real *trace, int N, int n, int iters);
    /* mHC coefficient maps (mHC eqs. 7-8), see core/streams_cpu.c; flags: MIX_PRE | MIX_POST | MIX_RES */
    void (*mhc_coeffs)(real *hpre, real *hpost, real *res_logits, const real *raw, const real *a, const real *b_pre,
                       const real *b_post, const real *b_res, int N, int n, int flags);
    void (*mhc_coeffs_backward)(real *draw, real *da, real *db_pre, real *db_post, real *db_res, const real *dhpre,
                                const real *dhpost, const real *dres_logits, const real *raw, const real *hpre,
                                const real *hpost, const real *a, int N, int n, int flags);
    /* mHC's whole backward below F, fused per block of tokens while the block's streams are in cache:
     * H_pre's backward (dX += hpre du, dhpre), Sinkhorn's and the coefficient maps' backward, and (dynamic)
     * the projection's input gradient; then phi's gradient. See MhcBackward in core/streams_cpu.h. */
    void (*mhc_backward_fused)(const MhcBackward *p);
    /* HC coefficient maps (HC eqs. 10-13) */
    void (*hc_coeffs)(real *hpre, real *hpost, real *hres, const real *raw, const real *s, const real *Am,
                      const real *Bv, const real *Ar, int N, int n, int flags);
    void (*hc_coeffs_backward)(real *draw, real *ds, real *dAm, real *dBv, real *dAr, const real *dhpre,
                               const real *dhpost, const real *dhres, const real *raw, const real *s, int N, int n,
                               int flags);
    /* ---- end of multi-stream kernels ---- */

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

/* Which hyper-connection mappings are learned; a switched-off one is the paper's constant
 * (H_pre = 1/n, H_post = 1, H_res = I). */
enum { MIX_PRE = 1, MIX_POST = 2, MIX_RES = 4, MIX_ALL = 7 };
size_t sinkhorn_trace_size(int n, int iters);
size_t mhc_backward_work_size(int N, int n);
/* workspace of attention_forward/backward for shape s at the current thread count */
size_t attention_work_size(const AttnShape *s);

extern const Backend al_backend_cpu;
/* The active backend; arch/ calls kernels as K->op(...). */
extern const Backend *K;

/* Threads for OpenMP loops and OpenBLAS (0 = leave the default). */
void al_set_threads(int n);
int al_get_threads(void);
#endif
