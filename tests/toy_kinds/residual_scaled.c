/* A toy residual family, the worked example of docs/EXTENDING.md (not shipped: tests register it at run time,
 * standing for its one row in arch/kinds.c). Depth-scaled residual branches, a fixed version of what
 * SkipInit / T-Fixup learn or derive:
 *     x_{l+1} = x_l + beta F_l(x_l),   beta = 1 / sqrt(S)   (S sub-layers)
 * so the residual stream's variance grows like 1 + S beta^2 = 2 instead of 1 + S at init. One stream, no
 * parameters; everything numeric through the backend table (K->...), so any backend runs it.
 * To ship it: move this file to arch/ and add X(scaled) to RESIDUAL_KINDS in arch/kinds.c. */
#include <math.h>

#include "arch/kinds.h"

typedef struct Scaled {
    Residual base;
    real beta;
    size_t x;     /* (S+1) x (N, C): x_0 .. x_S, kept for the backward */
    size_t f;     /* (N, C): a branch's output, one layer at a time */
    size_t g;     /* (N, C): beta dL/dx_{l+1}, the gradient F sees */
    size_t dx[2]; /* (N, C) x 2: the running gradient */
} Scaled;

static real *state(const Scaled *r, Ctx *c, int l) { return ACT(c, r->x) + (size_t)l * r->base.N * r->base.C; }

static void scaled_plan(Residual *base, Arena *act, size_t *scratch, int N) {
    Scaled *r = (Scaled *)base;
    size_t nc = (size_t)N * base->C;
    base->N = N;
    r->x = arena_take(act, nc * (base->S + 1));
    r->f = arena_take(act, nc);
    r->g = arena_take(act, nc);
    r->dx[0] = arena_take(act, nc);
    r->dx[1] = arena_take(act, nc);
}

static real *scaled_input(const Residual *r, Ctx *c) { return state((const Scaled *)r, c, 0); }
static real *scaled_output(const Residual *r, Ctx *c) { return state((const Scaled *)r, c, r->S); }
static real *scaled_grad_top(const Residual *r, Ctx *c) { return ACT(c, ((const Scaled *)r)->dx[0]); }

static void scaled_forward(Residual *base, Ctx *c, Sublayer *subs, int B, int T) {
    Scaled *r = (Scaled *)base;
    size_t nc = (size_t)B * T * base->C;
    base->N_last = B * T;
    real *f = ACT(c, r->f);
    for (int l = 0; l < base->S; l++) {
        real *x = state(r, c, l);
        subs[l].ops->forward(subs[l].self, c, f, x, B, T);
        K->scale(f, r->beta, nc);
        K->add(state(r, c, l + 1), x, f, nc);
    }
}

/* dx_l = dx_{l+1} + J_F^T (beta dx_{l+1}) */
static real *scaled_backward(Residual *base, Ctx *c, Sublayer *subs, int B, int T) {
    Scaled *r = (Scaled *)base;
    size_t nc = (size_t)B * T * base->C;
    real *cur = ACT(c, r->dx[0]), *nxt = ACT(c, r->dx[1]), *g = ACT(c, r->g);
    for (int l = base->S - 1; l >= 0; l--) {
        K->copy(nxt, cur, nc);
        K->copy(g, cur, nc);
        K->scale(g, r->beta, nc);
        subs[l].ops->backward(subs[l].self, c, nxt, g, state(r, c, l), B, T);
        real *t = cur; cur = nxt; nxt = t;
    }
    return cur;
}

/* per sub-layer and token: C multiplications by beta and C additions, 2 FLOPs each as in the GEMMs */
static double scaled_flops(const Residual *r) { return 4.0 * r->S * r->C; }

static void scaled_destroy(Residual *r) { free(r); }

static const ResidualOps scaled_ops = {
    .plan = scaled_plan, .input = scaled_input, .forward = scaled_forward, .output = scaled_output,
    .grad_top = scaled_grad_top, .backward = scaled_backward, .flops = scaled_flops, .destroy = scaled_destroy,
};

static Residual *scaled_create(ParamStore *ps, const ModelConfig *cfg, int first, int n_sublayers) {
    Scaled *r = calloc(1, sizeof *r);
    AL_ASSERT(r);
    r->base = (Residual){.ops = &scaled_ops, .kind = "scaled", .S = n_sublayers, .C = cfg->d_model, .n = 1};
    r->beta = (real)(1.0 / sqrt((double)n_sublayers));
    return &r->base;
}

const ResidualKind residual_kind_scaled = {
    .info = {"scaled", "toy: residual branches scaled by 1/sqrt(sub-layers), x + F(x)/sqrt(S)", ""},
    .default_streams = 1, .max_streams = 1, .create = scaled_create,
};
