/* The DeepSeekMoE kernel table (arch/router.c, arch/moe.c): router scores, group-limited top-K routing,
 * token dispatch and combine, the balance losses. A backend fills one MoeKernels table (the CPU one is
 * core/moe_cpu.c); arch/ calls them as KM->op(...). Conventions as in core/backend.h. */
#ifndef AL_MOE_KERNELS_H
#define AL_MOE_KERNELS_H
#include "core/backend.h"

/* How one token's experts are chosen (DeepSeekMoE routing, arch/router.c). */
typedef struct MoeRouteSpec {
    int E, K;              /* routed experts, experts per token */
    int n_group, topk_group; /* group-limited routing: keep topk_group of n_group groups (n_group 1: off) */
    int group_score;       /* 0: no group limit, 1: max score in the group (V2), 2: sum of its top-2 (V3) */
    int norm;              /* renormalize the K gate values to sum 1 (when K > 1) */
    real scale;            /* routed_scaling_factor, applied to the gate values last */
} MoeRouteSpec;

typedef struct MoeKernels {
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

} MoeKernels;

extern const MoeKernels al_moe_cpu;
#endif
