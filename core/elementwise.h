/* Per-element and per-token arithmetic shared by the CPU kernels (core/backend_cpu.c, core/moe_cpu.c,
 * core/streams_cpu.c) and the CUDA kernels (core/backend_cuda*.cu): one definition of each formula, compiled
 * by gcc for the CPU and by nvcc for the GPU (AL_HD, core/common.h), so the CPU tests and gradient checks cover
 * the arithmetic the GPU runs. What is not here is how the work is laid out (loops, threads, reductions), which
 * differs by design; docs/EQUATIONS.md has the equations. */
#ifndef AL_ELEMENTWISE_H
#define AL_ELEMENTWISE_H
#include <math.h>

#include "core/fast_exp.h"

/* ---- generic tensor operations ---- */

/* SwiGLU: h = silu(a) b */
AL_HD real al_swiglu(real a, real b) { return a * al_sigmoid(a) * b; }
/* its gradient from dh = g: da = g b sigma(a) (1 + a (1 - sigma(a))), db = g silu(a) = g a sigma(a) */
AL_HD void al_swiglu_grad(real g, real a, real b, real *da, real *db) {
    real sg = al_sigmoid(a);
    *da = g * b * sg * (1 + a * (1 - sg));
    *db = g * a * sg;
}

/* RMSNorm's reciprocal scale from the row's sum of squares: (mean x^2 + eps)^-1/2 */
AL_HD real al_rms_rstd(double sum_squares, int C, real eps) { return (real)(1.0 / sqrt(sum_squares / C + eps)); }

/* One rotary pair (x1, x2) by the angle whose cosine and sine are c, s (s negated: the inverse rotation) */
AL_HD void al_rope_pair(real *x1, real *x2, real c, real s) {
    real a = *x1, b = *x2;
    *x1 = a * c - b * s;
    *x2 = a * s + b * c;
}

/* AdamW on one parameter: moments m, v; c1, c2 = the bias corrections 1 / (1 - beta^t); decoupled decay wd */
AL_HD void al_adamw(real *w, real g, real *m, real *v, real lr, real b1, real b2, real eps, real wd, real c1, real c2) {
    real mi = b1 * *m + (1 - b1) * g, vi = b2 * *v + (1 - b2) * g * g;
    *m = mi;
    *v = vi;
    real mh = mi * c1, vh = vi * c2;
    *w -= lr * (mh / ((real)sqrt((double)vh) + eps) + wd * *w);
}

/* ---- Sinkhorn-Knopp (mHC eq. 9), per token; n <= 8 ---- */

/* M = exp(L - the max of each column) (n x n): the first normalization divides each column by its sum, so the
 * shift changes nothing exactly, and every column keeps an entry of 1 (see core/streams_cpu.c) */
AL_HD void al_sinkhorn_m0(real *M, const real *L, int n) {
    for (int b = 0; b < n; b++) {
        real mx = L[b];
        for (int a = 1; a < n; a++) mx = L[a * n + b] > mx ? L[a * n + b] : mx;
        for (int a = 0; a < n; a++) M[a * n + b] = al_exp(L[a * n + b] - mx);
    }
}

/* The 2 iters normalizations of M (stage s even: columns to sum 1, odd: rows). sm != NULL (the backward): stage
 * s into Y (entry k at Y[(s n^2 + k) ys]) and the sums divided by into sm[(s n + a) ys], ys the stride between
 * consecutive elements (1 on the CPU, the token count on the GPU, whose threads then read consecutive words).
 * sm == NULL (the forward, which needs only the result): Y is one n x n matrix (stride 1) normalized in place
 * from a copy of M by the same operations in the same order, so both give bit-identical stages. */
AL_HD void al_sinkhorn_stages(real *Y, real *sm, const real *M, int n, int iters, size_t ys) {
    size_t nn = (size_t)n * n;
    const real *prev = M;
    size_t ps = 1; /* prev's stride */
    if (!sm) {
        for (size_t k = 0; k < nn; k++) Y[k] = M[k];
        prev = Y;
        ys = 1;
    }
    for (int s = 0; s < 2 * iters; s++) {
        real *y = sm ? Y + (size_t)s * nn * ys : Y;
        int by_col = s % 2 == 0;
        for (int a = 0; a < n; a++) {
            real acc = 0;
            for (int b = 0; b < n; b++) acc += prev[(size_t)(by_col ? b * n + a : a * n + b) * ps];
            real inv = 1 / acc; /* one division per sum, not per entry */
            if (sm) sm[((size_t)s * n + a) * ys] = acc;
            for (int b = 0; b < n; b++) {
                size_t k = (size_t)(by_col ? b * n + a : a * n + b);
                y[k * ys] = prev[k * ps] * inv;
            }
        }
        prev = y;
        ps = ys;
    }
}

/* Back through the stages (as al_sinkhorn_stages stored them): g (n x n, stride 1) enters as dL/dH and leaves as
 * dL/dM. y = x / s along a column (row): dx = (dy - sum_k dy_k y_k) / s on the same column (row), in place. */
AL_HD void al_sinkhorn_backprop(real *g, const real *Y, const real *sm, int n, int iters, size_t ys) {
    size_t nn = (size_t)n * n;
    for (int s = 2 * iters - 1; s >= 0; s--) {
        const real *y = Y + (size_t)s * nn * ys;
        int by_col = s % 2 == 0;
        for (int a = 0; a < n; a++) {
            real dot = 0;
            for (int b = 0; b < n; b++) {
                int k = by_col ? b * n + a : a * n + b;
                dot += g[k] * y[(size_t)k * ys];
            }
            real inv = 1 / sm[((size_t)s * n + a) * ys];
            for (int b = 0; b < n; b++) {
                int k = by_col ? b * n + a : a * n + b;
                g[k] = (g[k] - dot) * inv;
            }
        }
    }
}

/* ---- the hyper-connection coefficient maps, per token ---- */

/* which mappings are learned (the flags of core/stream_kernels.h, repeated here so this header stands alone) */
enum { AL_MIX_PRE = 1, AL_MIX_POST = 2, AL_MIX_RES = 4 };

AL_HD real al_sigm(real z) { return (real)(1.0 / (1.0 + exp(-(double)z))); }

/* mHC eqs. 7-8 for one token: r its projection row (2n + n^2; NULL: static), a = (a_pre, a_post, a_res). A mapping
 * switched off is the paper's constant: hpre 1/n, hpost 1, H_res logits 0 on the diagonal and -inf elsewhere
 * (Sinkhorn gives exactly I). */
AL_HD void al_mhc_coeffs_token(real *hpre, real *hpost, real *res_logits, const real *r, const real *a,
                               const real *b_pre, const real *b_post, const real *b_res, int n, int flags) {
    for (int i = 0; i < n; i++) {
        hpre[i] = (flags & AL_MIX_PRE) ? al_sigm((r ? a[0] * r[i] : 0) + b_pre[i]) : (real)(1.0 / n);
        hpost[i] = (flags & AL_MIX_POST) ? 2 * al_sigm((r ? a[1] * r[n + i] : 0) + b_post[i]) : 1;
    }
    for (int k = 0; k < n * n; k++)
        res_logits[k] = (flags & AL_MIX_RES) ? (r ? a[2] * r[2 * n + k] : 0) + b_res[k] : (k / n == k % n ? 0 : -INFINITY);
}

/* Its backward for one token: dr (the projection row's gradient, +=; NULL when static), sa[3] += the gradients of
 * a (in double), db_pre, db_post, db_res +=; from dhpre, dhpost (n) and the H_res logits' gradient (n^2). */
AL_HD void al_mhc_coeffs_grad_token(real *dr, double *sa, real *db_pre, real *db_post, real *db_res, const real *dhpre,
                                    const real *dhpost, const real *dres, const real *r, const real *hpre,
                                    const real *hpost, const real *a, int n, int flags) {
    for (int i = 0; i < n; i++) {
        if (flags & AL_MIX_PRE) {
            real h = hpre[i], dz = dhpre[i] * h * (1 - h);
            db_pre[i] += dz;
            if (r) { sa[0] += (double)dz * r[i]; dr[i] += a[0] * dz; }
        }
        if (flags & AL_MIX_POST) {
            real h = hpost[i], dz = dhpost[i] * h * (1 - h / 2);
            db_post[i] += dz;
            if (r) { sa[1] += (double)dz * r[n + i]; dr[n + i] += a[1] * dz; }
        }
    }
    if (flags & AL_MIX_RES)
        for (int k = 0; k < n * n; k++) {
            real dz = dres[k];
            db_res[k] += dz;
            if (r) { sa[2] += (double)dz * r[2 * n + k]; dr[2 * n + k] += a[2] * dz; }
        }
}

/* HC eqs. 10-13 for stream j of one token: r its projection row (2 + n; NULL: static), s = (s_a, s_b).
 * hpre[j] = s_a tanh(r0) + A_m[j], hpost[j] = s_b tanh(r1) + B[j], hres[i][j] = s_a tanh(r[2+i]) + A_r[j][i]
 * (hres, the token's n x n, gets column j). */
AL_HD void al_hc_coeffs_stream(real *hpre_j, real *hpost_j, real *hres, int j, const real *r, const real *s,
                               const real *Am, const real *Bv, const real *Ar, int n, int flags) {
    *hpre_j = (flags & AL_MIX_PRE) ? (r ? s[0] * (real)tanh((double)r[0]) : 0) + Am[j] : (real)(1.0 / n);
    *hpost_j = (flags & AL_MIX_POST) ? (r ? s[1] * (real)tanh((double)r[1]) : 0) + Bv[j] : 1;
    for (int i = 0; i < n; i++)
        hres[i * n + j] = (flags & AL_MIX_RES) ? (r ? s[0] * (real)tanh((double)r[2 + i]) : 0) + Ar[j * n + i] : (real)(i == j);
}

/* Its backward for stream j of one token: dr +=, ss[2] += (s's gradient, double), dAm[j], dBv[j], dAr[j][.] += */
AL_HD void al_hc_coeffs_grad_stream(real *dr, double *ss, real *dAm, real *dBv, real *dAr, int j, real dhpre_j,
                                    real dhpost_j, const real *dhres, const real *r, const real *s, int n, int flags) {
    if (flags & AL_MIX_PRE) {
        real g = dhpre_j;
        dAm[j] += g;
        if (r) { real th = (real)tanh((double)r[0]); ss[0] += (double)g * th; dr[0] += g * s[0] * (1 - th * th); }
    }
    if (flags & AL_MIX_POST) {
        real g = dhpost_j;
        dBv[j] += g;
        if (r) { real th = (real)tanh((double)r[1]); ss[1] += (double)g * th; dr[1] += g * s[1] * (1 - th * th); }
    }
    if (flags & AL_MIX_RES)
        for (int i = 0; i < n; i++) {
            real g = dhres[i * n + j];
            dAr[j * n + i] += g;
            if (r) { real th = (real)tanh((double)r[2 + i]); ss[0] += (double)g * th; dr[2 + i] += g * s[0] * (1 - th * th); }
        }
}

/* ---- DeepSeekMoE routing, per token ---- */

/* router scores of one token: softmax (sig 0) or sigmoid (sig 1) of its E logits */
AL_HD void al_moe_scores_token(real *o, const real *l, int E, int sig) {
    if (sig) {
        for (int e = 0; e < E; e++) o[e] = al_sigmoid(l[e]);
        return;
    }
    real mx = l[0];
    for (int e = 1; e < E; e++) if (l[e] > mx) mx = l[e];
    double z = 0;
    for (int e = 0; e < E; e++) { o[e] = al_exp(l[e] - mx); z += o[e]; }
    for (int e = 0; e < E; e++) o[e] = (real)(o[e] / z);
}

/* dl += J^T ds for one token: softmax dl_e = s_e (ds_e - sum_j ds_j s_j); sigmoid dl_e = ds_e s_e (1 - s_e) */
AL_HD void al_moe_scores_grad_token(real *d, const real *g, const real *p, int E, int sig) {
    if (sig) {
        for (int e = 0; e < E; e++) d[e] += g[e] * p[e] * (1 - p[e]);
        return;
    }
    double dot = 0;
    for (int e = 0; e < E; e++) dot += (double)g[e] * p[e];
    for (int e = 0; e < E; e++) d[e] += p[e] * (real)(g[e] - dot);
}

/* index of the largest v[i * vs] with ok[i * vs] (ties: the lower index); -1 if none */
AL_HD int al_argmax_masked(const real *v, const unsigned char *ok, int n, size_t vs) {
    int best = -1;
    for (int i = 0; i < n; i++)
        if (ok[i * vs] && (best < 0 || v[i * vs] > v[best * vs])) best = i;
    return best;
}

/* The routing of one token (core/moe_kernels.h moe_route): p its E scores, bias (E) or NULL; ix, wv its K experts
 * and gate values. Workspace: sel, ok (E entries each, vs apart: 1 on the CPU, the token count on the GPU),
 * gscore, gok, keep (n_group each, same stride). E, K, n_group, topk_group, group_score, norm, scale as in
 * MoeRouteSpec. */
AL_HD void al_moe_route_token(int *ix, real *wv, const real *p, const real *bias, int E, int Kk, int G, int topk_group,
                              int group_score, int norm, real scale, real *sel, unsigned char *ok, real *gscore,
                              unsigned char *gok, unsigned char *keep, size_t vs) {
    int gs = E / G;
    for (int e = 0; e < E; e++) { sel[e * vs] = p[e] + (bias ? bias[e] : 0); ok[e * vs] = 1; }
    if (group_score && G > 1 && topk_group < G) {
        for (int g = 0; g < G; g++) {
            const real *v = sel + (size_t)g * gs * vs;
            if (group_score == 1 || gs < 2) { /* V2: the group's best score */
                real m = v[0];
                for (int i = 1; i < gs; i++) if (v[i * vs] > m) m = v[i * vs];
                gscore[g * vs] = m;
            } else { /* V3: the sum of the group's two best scores */
                int a = 0;
                for (int i = 1; i < gs; i++) if (v[i * vs] > v[a * vs]) a = i;
                int b = a == 0 ? 1 : 0;
                for (int i = 0; i < gs; i++) if (i != a && v[i * vs] > v[b * vs]) b = i;
                gscore[g * vs] = v[a * vs] + v[b * vs];
            }
            gok[g * vs] = 1;
            keep[g * vs] = 0;
        }
        for (int j = 0; j < topk_group; j++) {
            int g = al_argmax_masked(gscore, gok, G, vs);
            keep[g * vs] = 1;
            gok[g * vs] = 0;
        }
        for (int e = 0; e < E; e++) ok[e * vs] = keep[(e / gs) * vs];
    }
    double sum = 0;
    for (int k = 0; k < Kk; k++) {
        int e = al_argmax_masked(sel, ok, E, vs);
        ok[e * vs] = 0;
        ix[k] = e;
        wv[k] = p[e];
        sum += p[e];
    }
    double f = norm && Kk > 1 ? scale / sum : scale;
    for (int k = 0; k < Kk; k++) wv[k] = (real)(wv[k] * f);
}

/* The gate values' backward for one token: g_k = c s_k / S (S = sum of the K chosen s) when normalized, else
 * c s_k: ds_{i_m} += c (dw_m / S - sum_k dw_k s_k / S^2), or c dw_m */
AL_HD void al_moe_gate_grad_token(real *d, const real *g, const real *p, const int *ix, int Kk, int norm, real scale) {
    if (norm && Kk > 1) {
        double S = 0, dot = 0;
        for (int k = 0; k < Kk; k++) { S += p[ix[k]]; dot += (double)g[k] * p[ix[k]]; }
        for (int k = 0; k < Kk; k++) d[ix[k]] += (real)(scale * (g[k] / S - dot / (S * S)));
    } else {
        for (int k = 0; k < Kk; k++) d[ix[k]] += scale * g[k];
    }
}
#endif
