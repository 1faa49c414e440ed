#include "arch/residual.h"

#include <string.h>

void mixing_param_name(char *buf, size_t n, int sublayer, const char *what) {
    snprintf(buf, n, "model.layers.%d.%s_%s", sublayer / 2, sublayer % 2 ? "mlp" : "attn", what);
}

int mixing_flags(const ModelConfig *cfg) {
    return (cfg->h_pre ? MIX_PRE : 0) | (cfg->h_post ? MIX_POST : 0) | (cfg->h_res ? MIX_RES : 0);
}

int residual_create(ResidualStream *r, ParamStore *ps, const ModelConfig *cfg, int n_sublayers) {
    memset(r, 0, sizeof *r);
    r->S = n_sublayers;
    r->C = cfg->d_model;
    r->kind = !strcmp(cfg->residual, "hc") ? RESIDUAL_HC : !strcmp(cfg->residual, "mhc") ? RESIDUAL_MHC : RESIDUAL_STANDARD;
    r->n = r->kind == RESIDUAL_STANDARD ? 1 : cfg->streams;
    if (r->kind == RESIDUAL_STANDARD) return 0;
    r->mix = calloc(r->S, sizeof *r->mix);
    AL_ASSERT(r->mix);
    for (int l = 0; l < r->S; l++) r->mix[l] = r->kind == RESIDUAL_HC ? hc_create(ps, cfg, l) : mhc_create(ps, cfg, l);
    return 0;
}

void residual_destroy(ResidualStream *r) {
    if (r->mix)
        for (int l = 0; l < r->S; l++)
            if (r->mix[l].self) r->mix[l].ops->destroy(r->mix[l].self);
    free(r->mix);
    r->mix = NULL;
}

static size_t coeff_width(const ResidualStream *r) { return (size_t)2 * r->n + (size_t)r->n * r->n; }

void residual_plan(ResidualStream *r, Arena *act, size_t *scratch, int N) {
    size_t nc = (size_t)N * r->C, state = nc * r->n;
    r->N = N;
    r->x = arena_take(act, state * (r->S + 1));
    r->dx[0] = arena_take(act, state);
    r->dx[1] = arena_take(act, state);
    if (r->kind == RESIDUAL_STANDARD) {
        r->f = arena_take(act, nc);
        return;
    }
    r->f = arena_take(act, nc * r->S);
    r->h = arena_take(act, (size_t)N * coeff_width(r) * r->S);
    r->in = arena_take(act, nc);
    r->out = arena_take(act, nc);
    r->u = arena_take(act, nc);
    r->dtop = arena_take(act, nc);
    r->dh = arena_take(act, (size_t)N * coeff_width(r));
    r->du = arena_take(act, nc);
    r->df = arena_take(act, nc);
    for (int l = 0; l < r->S; l++) r->mix[l].ops->plan(r->mix[l].self, act, scratch, N);
}

static real *state(const ResidualStream *r, Ctx *c, int l) {
    return ACT(c, r->x) + (size_t)l * r->N * r->n * r->C;
}
static real *coeffs(const ResidualStream *r, Ctx *c, int l) {
    return ACT(c, r->h) + (size_t)l * r->N * coeff_width(r);
}

const real *residual_hpre(const ResidualStream *r, Ctx *c, int l) {
    return r->kind == RESIDUAL_STANDARD ? NULL : coeffs(r, c, l);
}
const real *residual_hpost(const ResidualStream *r, Ctx *c, int l) {
    return r->kind == RESIDUAL_STANDARD ? NULL : coeffs(r, c, l) + (size_t)r->N * r->n;
}
const real *residual_hres(const ResidualStream *r, Ctx *c, int l) {
    return r->kind == RESIDUAL_STANDARD ? NULL : coeffs(r, c, l) + (size_t)2 * r->N * r->n;
}

real *residual_input(const ResidualStream *r, Ctx *c) {
    return r->kind == RESIDUAL_STANDARD ? state(r, c, 0) : ACT(c, r->in);
}
real *residual_output(const ResidualStream *r, Ctx *c) {
    return r->kind == RESIDUAL_STANDARD ? state(r, c, r->S) : ACT(c, r->out);
}
real *residual_grad_top(const ResidualStream *r, Ctx *c) {
    return r->kind == RESIDUAL_STANDARD ? ACT(c, r->dx[0]) : ACT(c, r->dtop);
}

void residual_forward(ResidualStream *r, Ctx *c, Sublayer *subs, int B, int T) {
    int N = B * T, n = r->n, C = r->C;
    size_t nc = (size_t)N * C;
    r->N_last = N; /* states are laid out for the planned r->N tokens; the first N are in use */
    if (r->kind == RESIDUAL_STANDARD) {
        real *f = ACT(c, r->f);
        for (int l = 0; l < r->S; l++) {
            real *x = state(r, c, l);
            subs[l].ops->forward(subs[l].self, c, f, x, B, T);
            K->add(state(r, c, l + 1), x, f, nc);
        }
        return;
    }
    KS->streams_broadcast(state(r, c, 0), ACT(c, r->in), N, n, C, 0);
    real *u = ACT(c, r->u);
    for (int l = 0; l < r->S; l++) {
        real *X = state(r, c, l), *h = coeffs(r, c, l);
        real *hpre = h, *hpost = h + (size_t)N * n, *hres = hpost + (size_t)N * n;
        real *f = ACT(c, r->f) + (size_t)l * nc;
        r->mix[l].ops->forward(r->mix[l].self, c, hpre, hpost, hres, X, N);
        KS->stream_pre(u, X, hpre, N, n, C);
        subs[l].ops->forward(subs[l].self, c, f, u, B, T);
        KS->stream_post(state(r, c, l + 1), X, hres, hpost, f, N, n, C);
    }
    KS->streams_sum(ACT(c, r->out), state(r, c, r->S), N, n, C, 0);
}

/* standard: dx_l = dx_{l+1} + J_F^T dx_{l+1}, two buffers because F reads dout while accumulating dinp.
 * hc/mhc: through H_post and H_res into X_l and F's output, through F and H_pre into X_l, then through the
 * mappings' own dependence on X_l (dynamic forms). */
real *residual_backward(ResidualStream *r, Ctx *c, Sublayer *subs, int B, int T) {
    int N = B * T, n = r->n, C = r->C;
    size_t nc = (size_t)N * C;
    real *cur = ACT(c, r->dx[0]), *nxt = ACT(c, r->dx[1]);
    if (r->kind == RESIDUAL_STANDARD) {
        for (int l = r->S - 1; l >= 0; l--) {
            K->copy(nxt, cur, nc);
            subs[l].ops->backward(subs[l].self, c, nxt, cur, state(r, c, l), B, T);
            real *t = cur; cur = nxt; nxt = t;
        }
        return cur;
    }
    KS->streams_broadcast(cur, ACT(c, r->dtop), N, n, C, 0);
    real *u = ACT(c, r->u), *du = ACT(c, r->du), *df = ACT(c, r->df), *dh = ACT(c, r->dh);
    real *dhpre = dh, *dhpost = dh + (size_t)N * n, *dhres = dhpost + (size_t)N * n;
    for (int l = r->S - 1; l >= 0; l--) {
        real *X = state(r, c, l), *h = coeffs(r, c, l);
        real *hpre = h, *hpost = h + (size_t)N * n, *hres = hpost + (size_t)N * n;
        real *f = ACT(c, r->f) + (size_t)l * nc;
        /* overwrites nxt, dhres, dhpost, df; recomputes F's input u rather than storing it */
        KS->stream_post_backward(nxt, dhres, dhpost, df, u, cur, X, hres, hpost, hpre, f, N, n, C);
        K->zero(du, nc);
        subs[l].ops->backward(subs[l].self, c, du, df, u, B, T);
        r->mix[l].ops->backward(r->mix[l].self, c, nxt, du, dhpre, dhpost, dhres, X, hpre, hpost, N);
        real *t = cur; cur = nxt; nxt = t;
    }
    real *din = ACT(c, r->du); /* reuse: dL/d(input) */
    KS->streams_sum(din, cur, N, n, C, 0);
    return din;
}

double residual_flops(const ResidualStream *r) {
    if (r->kind == RESIDUAL_STANDARD) return 2.0 * r->S * r->C; /* the additions, counted as in the GEMMs */
    double n = r->n, C = r->C, mix = 2.0 * (n * n + 2 * n) * C; /* H_pre, H_res and H_post applied */
    double coeff = 0;
    if (r->mix && r->mix[0].ops && !strcmp(r->mix[0].ops->kind, "mhc")) coeff = 2.0 * n * C * (2 * n + n * n);
    else coeff = 2.0 * n * C * (2 + n); /* hc: per-stream W_m, W_b, W_r */
    return r->S * (mix + coeff);
}
