/* The CPU backend's DeepSeekMoE kernels (see core/moe_kernels.h for their contracts): OpenMP loops over
 * tokens; routing, dispatch and the balance losses reduce in a fixed order, so results are deterministic. */
#include <math.h>
#include <omp.h>
#include <string.h>

#include "core/elementwise.h"
#include "core/moe_kernels.h"

/* Below this much work a loop runs on one thread (see core/backend_cpu.c) */
#define PAR_MIN 32768

static void moe_scores_forward(real *s, const real *logits, int N, int E, int sig) {
#pragma omp parallel for schedule(static) if ((size_t)(N) * (E) > PAR_MIN)
    for (int n = 0; n < N; n++) al_moe_scores_token(s + (size_t)n * E, logits + (size_t)n * E, E, sig);
}

/* softmax: dl_e = s_e (ds_e - sum_j ds_j s_j); sigmoid: dl_e = ds_e s_e (1 - s_e) */
static void moe_scores_backward(real *dlogits, const real *ds, const real *s, int N, int E, int sig) {
#pragma omp parallel for schedule(static) if ((size_t)(N) * (E) > PAR_MIN)
    for (int n = 0; n < N; n++) al_moe_scores_grad_token(dlogits + (size_t)n * E, ds + (size_t)n * E, s + (size_t)n * E, E, sig);
}

static void moe_route(int *idx, real *w, const real *s, const real *bias, int N, const MoeRouteSpec *r) {
    int E = r->E, Kk = r->K, G = r->n_group;
#pragma omp parallel for schedule(static) if ((size_t)(N) * (E) > PAR_MIN)
    for (int n = 0; n < N; n++) {
        real sel[E], gscore[G];
        unsigned char ok[E], gok[G], keep[G];
        al_moe_route_token(idx + (size_t)n * Kk, w + (size_t)n * Kk, s + (size_t)n * E, bias, E, Kk, G, r->topk_group,
                           r->group_score, r->norm, r->scale, sel, ok, gscore, gok, keep, 1);
    }
}

/* the gate values' gradient (core/elementwise.h al_moe_gate_grad_token) */
static void moe_gate_backward(real *ds, const real *dw, const real *s, const int *idx, int N, const MoeRouteSpec *r) {
    int E = r->E, Kk = r->K;
#pragma omp parallel for schedule(static) if ((size_t)(N) * (E) > PAR_MIN)
    for (int n = 0; n < N; n++)
        al_moe_gate_grad_token(ds + (size_t)n * E, dw + (size_t)n * Kk, s + (size_t)n * E, idx + (size_t)n * Kk, Kk,
                               r->norm, r->scale);
}

/* a counting sort: serial, O(N K + E), integer work only */
static void moe_dispatch(int *counts, int *offsets, int *tok, int *pos, const int *idx, int N, int Kk, int E) {
    memset(counts, 0, sizeof(int) * E);
    for (int i = 0; i < N * Kk; i++) counts[idx[i]]++;
    offsets[0] = 0;
    for (int e = 0; e < E; e++) offsets[e + 1] = offsets[e] + counts[e];
    int fill[E];
    memcpy(fill, offsets, sizeof(int) * E);
    for (int n = 0; n < N; n++)
        for (int k = 0; k < Kk; k++) {
            int row = fill[idx[n * Kk + k]]++;
            tok[row] = n;
            pos[n * Kk + k] = row;
        }
}

static void gather_rows(real *dst, const real *src, const int *rows, int M, int C) {
#pragma omp parallel for schedule(static) if ((size_t)(M) * (C) > PAR_MIN)
    for (int r = 0; r < M; r++) memcpy(dst + (size_t)r * C, src + (size_t)rows[r] * C, sizeof(real) * C);
}

static void moe_combine(real *out, const real *y, const int *pos, const real *w, int N, int Kk, int C) {
#pragma omp parallel for schedule(static) if ((size_t)(N) * (C) > PAR_MIN)
    for (int n = 0; n < N; n++) {
        real *o = out + (size_t)n * C;
        for (int k = 0; k < Kk; k++) {
            const real *v = y + (size_t)pos[n * Kk + k] * C;
            real a = w ? w[n * Kk + k] : 1;
            for (int c = 0; c < C; c++) o[c] += a * v[c];
        }
    }
}

static void moe_combine_backward(real *dy, real *dw, const real *dout, const real *y, const int *pos, const real *w,
                                 int N, int Kk, int C) {
#pragma omp parallel for schedule(static) if ((size_t)(N) * (C) > PAR_MIN)
    for (int n = 0; n < N; n++) {
        const real *g = dout + (size_t)n * C;
        for (int k = 0; k < Kk; k++) {
            size_t row = (size_t)pos[n * Kk + k];
            const real *v = y + row * C;
            real *d = dy + row * C, a = w[n * Kk + k];
            double dot = 0;
            for (int c = 0; c < C; c++) { d[c] = a * g[c]; dot += (double)g[c] * v[c]; }
            dw[n * Kk + k] += (real)dot;
        }
    }
}

/* per sequence b: the coefficient of s'_i,t in L_b, c_i = (a_exp f_i + a_dev f'_d(i)) / T; L_b = sum_i c_i sum_t s'_i,t */
static void balance_coeffs(double *coef, const int *idx, int b, int T, int E, int Kk, int group, real a_exp, real a_dev) {
    double f[E];
    for (int e = 0; e < E; e++) f[e] = 0;
    for (int i = b * T * Kk; i < (b + 1) * T * Kk; i++) f[idx[i]] += 1;
    for (int e = 0; e < E; e++) f[e] *= (double)E / ((double)Kk * T);
    for (int e = 0; e < E; e++) coef[e] = a_exp * f[e];
    if (a_dev != 0)
        for (int d = 0; d < E / group; d++) {
            double fd = 0;
            for (int i = 0; i < group; i++) fd += f[d * group + i];
            fd /= group;
            for (int i = 0; i < group; i++) coef[d * group + i] += a_dev * fd;
        }
    for (int e = 0; e < E; e++) coef[e] /= T;
}

static double moe_balance_forward(const real *s, const int *idx, int B, int T, int E, int Kk, int group, real a_exp,
                                  real a_dev) {
    double total = 0;
    for (int b = 0; b < B; b++) {
        double coef[E];
        balance_coeffs(coef, idx, b, T, E, Kk, group, a_exp, a_dev);
        for (int t = 0; t < T; t++) {
            const real *p = s + ((size_t)b * T + t) * E;
            double S = 0, acc = 0;
            for (int e = 0; e < E; e++) { S += p[e]; acc += coef[e] * p[e]; }
            total += acc / S;
        }
    }
    return total / B;
}

/* L = (1/B) sum_t sum_i c_i s_i / S:  dL/ds_j = (c_j - sum_i c_i s'_i) / (B S) */
static void moe_balance_backward(real *ds, const real *s, const int *idx, int B, int T, int E, int Kk, int group,
                                 real a_exp, real a_dev) {
    for (int b = 0; b < B; b++) {
        double coef[E];
        balance_coeffs(coef, idx, b, T, E, Kk, group, a_exp, a_dev);
#pragma omp parallel for schedule(static) if ((size_t)(T) * (E) > PAR_MIN)
        for (int t = 0; t < T; t++) {
            const real *p = s + ((size_t)b * T + t) * E;
            real *d = ds + ((size_t)b * T + t) * E;
            double S = 0, acc = 0;
            for (int e = 0; e < E; e++) { S += p[e]; acc += coef[e] * p[e]; }
            acc /= S;
            for (int e = 0; e < E; e++) d[e] += (real)((coef[e] - acc) / (B * S));
        }
    }
}

static double row_entropy(const real *s, int N, int E) {
    double total = 0;
    for (int n = 0; n < N; n++) {
        const real *p = s + (size_t)n * E;
        double S = 0, h = 0;
        for (int e = 0; e < E; e++) S += p[e];
        for (int e = 0; e < E; e++) {
            double q = p[e] / S;
            if (q > 0) h -= q * log(q);
        }
        total += h;
    }
    return N ? total / N : 0;
}

const MoeKernels al_moe_cpu = {
    .moe_scores_forward = moe_scores_forward, .moe_scores_backward = moe_scores_backward, .moe_route = moe_route,
    .moe_gate_backward = moe_gate_backward, .moe_dispatch = moe_dispatch, .gather_rows = gather_rows,
    .moe_combine = moe_combine, .moe_combine_backward = moe_combine_backward,
    .moe_balance_forward = moe_balance_forward, .moe_balance_backward = moe_balance_backward,
    .row_entropy = row_entropy,
};
