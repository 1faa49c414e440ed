/* The n-stream residual driver of the hyper-connection family (see arch/mixing.h): per sub-layer, the
 * generator's mappings from X_l, F's input u = H_pre X_l, F, then X_{l+1} = H_res X_l + H_post^T F(u). Every
 * X_l, every F_l output and every mapping are kept for the backward pass and for analysis. During training
 * the family records its own measurements: the Amax gains of its H_res (arch/gain.c). */
#include "arch/mixing.h"
#include "arch/probe.h"

#include <math.h>

#include "arch/gain.h"

typedef struct Streams {
    Residual base;
    Mixing *mix;             /* S generators */
    size_t x;                /* (S+1) x (N, n, C) */
    size_t f;                /* S x (N, C) */
    size_t h;                /* S x (N, 2n + n^2): [hpre | hpost | hres] per token */
    size_t in, out, u;       /* (N, C) */
    size_t dx[2], dtop, dh;  /* gradients: (N, n, C) x 2, (N, C), (N, 2n + n^2) */
    size_t du, df;           /* (N, C) */
} Streams;

void mixing_param_name(char *buf, size_t n, int sublayer, const char *what) {
    snprintf(buf, n, "model.layers.%d.%s_%s", sublayer / 2, sublayer % 2 ? "mlp" : "attn", what);
}

int mixing_flags(const ModelConfig *cfg) {
    return (cfg->h_pre ? MIX_PRE : 0) | (cfg->h_post ? MIX_POST : 0) | (cfg->h_res ? MIX_RES : 0);
}

static size_t coeff_width(const Residual *r) { return (size_t)2 * r->n + (size_t)r->n * r->n; }

static void streams_plan(Residual *base, Arena *act, size_t *scratch, int N) {
    Streams *r = (Streams *)base;
    size_t nc = (size_t)N * base->C, state = nc * base->n;
    base->N = N;
    r->x = arena_take(act, state * (base->S + 1));
    r->dx[0] = arena_take(act, state);
    r->dx[1] = arena_take(act, state);
    r->f = arena_take(act, nc * base->S);
    r->h = arena_take(act, (size_t)N * coeff_width(base) * base->S);
    r->in = arena_take(act, nc);
    r->out = arena_take(act, nc);
    r->u = arena_take(act, nc);
    r->dtop = arena_take(act, nc);
    r->dh = arena_take(act, (size_t)N * coeff_width(base));
    r->du = arena_take(act, nc);
    r->df = arena_take(act, nc);
    for (int l = 0; l < base->S; l++) r->mix[l].ops->plan(r->mix[l].self, act, scratch, N);
}

/* Layer l's blocks are laid out for the planned N tokens; a forward of N' <= N tokens uses the first part of
 * each. Within a layer's coefficient block the three mappings of N' tokens lie back to back: the forward, the
 * backward and the analyses all find them through mappings(), with the N' of the forward that wrote them. */
static real *state(const Streams *r, Ctx *c, int l) { return ACT(c, r->x) + (size_t)l * r->base.N * r->base.n * r->base.C; }

static void mappings(const Streams *r, Ctx *c, int l, int N, real **hpre, real **hpost, real **hres) {
    size_t Nn = (size_t)N * r->base.n;
    *hpre = ACT(c, r->h) + (size_t)l * r->base.N * coeff_width(&r->base);
    *hpost = *hpre + Nn;
    *hres = *hpost + Nn;
}

static const real *streams_mapping(const Residual *base, Ctx *c, int l, ResidualMap which) {
    real *pre, *post, *res;
    mappings((const Streams *)base, c, l, base->N_last, &pre, &post, &res);
    return which == MAP_PRE ? pre : which == MAP_POST ? post : res;
}

static real *streams_input(const Residual *r, Ctx *c) { return ACT(c, ((const Streams *)r)->in); }
static real *streams_output(const Residual *r, Ctx *c) { return ACT(c, ((const Streams *)r)->out); }
static real *streams_grad_top(const Residual *r, Ctx *c) { return ACT(c, ((const Streams *)r)->dtop); }

/* Probes of sub-layer l, before F runs: its input H_pre X_l and the three mappings per token */
static void offer_in(const Streams *r, Ctx *c, int l, int B, int T, const real *u, const real *hpre, const real *hpost,
                     const real *hres) {
    int n = r->base.n, C = r->base.C;
    char name[64];
    probe_rows(c->probes, l, "in", u, B, T, C);
    probe_name(name, sizeof name, l, "hpre");
    probe_emit(c->probes, name, 3, (int64_t[]){B, T, n}, NULL, hpre);
    probe_name(name, sizeof name, l, "hpost");
    probe_emit(c->probes, name, 3, (int64_t[]){B, T, n}, NULL, hpost);
    probe_name(name, sizeof name, l, "hres");
    probe_emit(c->probes, name, 4, (int64_t[]){B, T, n, n}, NULL, hres);
}

/* after: F's output, and after a block's FFN the n streams X_{l+1} */
static void offer_out(const Streams *r, Ctx *c, int l, int B, int T, const real *f) {
    int n = r->base.n, C = r->base.C;
    char name[64];
    probe_rows(c->probes, l, "out", f, B, T, C);
    if (l % 2) {
        snprintf(name, sizeof name, "layer%d.hidden", l / 2);
        probe_emit(c->probes, name, 4, (int64_t[]){B, T, n, C}, NULL, state(r, c, l + 1));
    }
}

static void streams_forward(Residual *base, Ctx *c, Sublayer *subs, int B, int T) {
    Streams *r = (Streams *)base;
    int N = B * T, n = base->n, C = base->C;
    size_t nc = (size_t)N * C;
    base->N_last = N; /* states are laid out for the planned N tokens; the first N_last are in use */
    KS->streams_broadcast(state(r, c, 0), ACT(c, r->in), N, n, C, 0);
    real *u = ACT(c, r->u);
    for (int l = 0; l < base->S; l++) {
        real *X = state(r, c, l), *hpre, *hpost, *hres;
        mappings(r, c, l, N, &hpre, &hpost, &hres);
        real *f = ACT(c, r->f) + (size_t)l * nc;
        r->mix[l].ops->forward(r->mix[l].self, c, hpre, hpost, hres, X, N);
        KS->stream_pre(u, X, hpre, N, n, C);
        if (c->probes) offer_in(r, c, l, B, T, u, hpre, hpost, hres);
        subs[l].ops->forward(subs[l].self, c, f, u, B, T);
        KS->stream_post(state(r, c, l + 1), X, hres, hpost, f, N, n, C);
        if (c->probes) offer_out(r, c, l, B, T, f);
    }
    KS->streams_sum(ACT(c, r->out), state(r, c, base->S), N, n, C, 0);
}

/* through H_post and H_res into X_l and F's output, through F and H_pre into X_l, then through the mappings'
 * own dependence on X_l (dynamic forms) */
static real *streams_backward(Residual *base, Ctx *c, Sublayer *subs, int B, int T) {
    Streams *r = (Streams *)base;
    int N = B * T, n = base->n, C = base->C;
    size_t nc = (size_t)N * C;
    real *cur = ACT(c, r->dx[0]), *nxt = ACT(c, r->dx[1]);
    KS->streams_broadcast(cur, ACT(c, r->dtop), N, n, C, 0);
    real *u = ACT(c, r->u), *du = ACT(c, r->du), *df = ACT(c, r->df), *dh = ACT(c, r->dh);
    real *dhpre = dh, *dhpost = dh + (size_t)N * n, *dhres = dhpost + (size_t)N * n;
    for (int l = base->S - 1; l >= 0; l--) {
        real *X = state(r, c, l), *hpre, *hpost, *hres;
        mappings(r, c, l, N, &hpre, &hpost, &hres);
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

/* H_pre, H_res and H_post applied, plus the generator's coefficients, per sub-layer */
static double streams_flops(const Residual *base) {
    const Streams *r = (const Streams *)base;
    double n = base->n, C = base->C, mix = 2.0 * (n * n + 2 * n) * C;
    double coeff = base->S ? r->mix[0].ops->flops(r->mix[0].self) : 0;
    return base->S * (mix + coeff);
}

/* The family's own measurements, every record_every steps: the composite gain over the full depth and the
 * largest single-layer gains (arch/gain.c), over 512 tokens of the last forward: enough for a stable token
 * mean, cheap enough to run every few steps. */
static void streams_record(const Residual *r, Ctx *c, MetricLog *log, double step) {
    GainProfile g;
    if (gain_profile_of(&g, r, c, 512)) return;
    double sf = 0, sb = 0;
    for (int l = 0; l < g.S; l++) { sf = fmax(sf, g.single_fwd[l]); sb = fmax(sb, g.single_bwd[l]); }
    metrics_add(log, "amax_gain_fwd", step, g.comp_fwd[0]);
    metrics_add(log, "amax_gain_bwd", step, g.comp_bwd[0]);
    metrics_add(log, "composite_spectral_norm", step, g.comp_spec[0]);
    metrics_add(log, "max_single_gain_fwd", step, sf);
    metrics_add(log, "max_single_gain_bwd", step, sb);
    gain_profile_free(&g);
}

static void streams_destroy(Residual *base) {
    Streams *r = (Streams *)base;
    for (int l = 0; l < base->S; l++)
        if (r->mix[l].self) r->mix[l].ops->destroy(r->mix[l].self);
    free(r->mix);
    free(r);
}

static const ResidualOps streams_ops = {
    .plan = streams_plan, .input = streams_input, .forward = streams_forward, .output = streams_output,
    .grad_top = streams_grad_top, .backward = streams_backward, .flops = streams_flops,
    .mapping = streams_mapping, .record = streams_record, .destroy = streams_destroy,
};

Residual *mixing_residual_create(ParamStore *ps, const ModelConfig *cfg, int first, int n_sublayers, const char *kind,
                                 MixingCreate make) {
    Streams *r = calloc(1, sizeof *r);
    AL_ASSERT(r);
    r->base = (Residual){.ops = &streams_ops, .kind = kind, .S = n_sublayers, .C = cfg->d_model, .n = cfg->streams};
    r->mix = calloc(n_sublayers, sizeof *r->mix);
    AL_ASSERT(r->mix);
    for (int l = 0; l < n_sublayers; l++) r->mix[l] = make(ps, cfg, first + l);
    return &r->base;
}
