/* The kernel table of the multi-stream residual families (HC, mHC; arch/hc.c, arch/mhc.c, arch/mixing.c):
 * stream mixing, Sinkhorn-Knopp, the per-token coefficient maps and their projections. X is (N, n, C): n
 * streams of width C per token. Per-token coefficients: hpre (N, n), hpost (N, n), hres (N, n, n),
 * hres[t][i][j] mixes stream j into stream i. A backend fills one StreamKernels table (the CPU one is
 * core/streams_cpu.c); arch/ calls them as KS->op(...). Conventions as in core/backend.h. */
#ifndef AL_STREAM_KERNELS_H
#define AL_STREAM_KERNELS_H
#include "core/backend.h"

/* Which hyper-connection mappings are learned; a switched-off one is the paper's constant
 * (H_pre = 1/n, H_post = 1, H_res = I). */
enum { MIX_PRE = 1, MIX_POST = 2, MIX_RES = 4, MIX_ALL = 7 };

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

typedef struct StreamKernels {
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
     * the projection's input gradient; then phi's gradient. See MhcBackward above. */
    void (*mhc_backward_fused)(const MhcBackward *p);
    /* HC coefficient maps (HC eqs. 10-13) */
    void (*hc_coeffs)(real *hpre, real *hpost, real *hres, const real *raw, const real *s, const real *Am,
                      const real *Bv, const real *Ar, int N, int n, int flags);
    void (*hc_coeffs_backward)(real *draw, real *ds, real *dAm, real *dBv, real *dAr, const real *dhpre,
                               const real *dhpost, const real *dhres, const real *raw, const real *s, int N, int n,
                               int flags);

    /* the Sinkhorn trace's reals per token (sinkhorn_forward keeps it for the backward) */
    size_t (*sinkhorn_trace_size)(int n, int iters);
    /* the reals of workspace mhc_backward_fused needs for N tokens of n streams */
    size_t (*mhc_backward_work_size)(int N, int n);
} StreamKernels;

extern const StreamKernels al_streams_cpu;
#endif
