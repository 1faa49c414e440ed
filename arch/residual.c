/* The standard pre-norm residual, x_{l+1} = x_l + F_l(x_l): one stream, no mappings, no parameters. The
 * states x_0 .. x_S are kept for the backward pass; F's output goes to one buffer reused by every layer. */
#include "arch/kinds.h"
#include "arch/probe.h"

#include <stdio.h>

typedef struct Single {
    Residual base;
    size_t x;     /* (S+1) x (N, C) */
    size_t f;     /* (N, C): F's output, one layer at a time */
    size_t dx[2]; /* (N, C) x 2: the backward's running gradient (F reads dout while accumulating dinp) */
} Single;

static real *state(const Single *r, Ctx *c, int l) { return ACT(c, r->x) + (size_t)l * r->base.N * r->base.C; }

static void single_plan(Residual *base, Arena *act, size_t *scratch, int N) {
    Single *r = (Single *)base;
    size_t nc = (size_t)N * base->C;
    base->N = N;
    r->x = arena_take(act, nc * (base->S + 1));
    r->dx[0] = arena_take(act, nc);
    r->dx[1] = arena_take(act, nc);
    r->f = arena_take(act, nc);
}

static real *single_input(const Residual *r, Ctx *c) { return state((const Single *)r, c, 0); }
static real *single_output(const Residual *r, Ctx *c) { return state((const Single *)r, c, r->S); }
static real *single_grad_top(const Residual *r, Ctx *c) { return ACT(c, ((const Single *)r)->dx[0]); }

static void single_forward(Residual *base, Ctx *c, Sublayer *subs, int B, int T) {
    Single *r = (Single *)base;
    size_t nc = (size_t)B * T * base->C;
    base->N_last = B * T; /* states are laid out for the planned N tokens; the first N_last are in use */
    real *f = ACT(c, r->f);
    for (int l = 0; l < base->S; l++) {
        real *x = state(r, c, l);
        if (c->probes) probe_rows(c->probes, l, "in", x, B, T, base->C); /* x_l */
        subs[l].ops->forward(subs[l].self, c, f, x, B, T);
        K->add(state(r, c, l + 1), x, f, nc);
        if (c->probes) { /* F_l(x_l), and after a block's FFN the stream x_{l+1} */
            probe_rows(c->probes, l, "out", f, B, T, base->C);
            char name[48];
            snprintf(name, sizeof name, "layer%d.hidden", l / 2);
            if (l % 2) probe_emit(c->probes, name, 3, (int64_t[]){B, T, base->C}, NULL, state(r, c, l + 1));
        }
    }
}

/* dx_l = dx_{l+1} + J_F^T dx_{l+1}: two buffers because F reads dout while accumulating dinp */
static real *single_backward(Residual *base, Ctx *c, Sublayer *subs, int B, int T) {
    Single *r = (Single *)base;
    size_t nc = (size_t)B * T * base->C;
    real *cur = ACT(c, r->dx[0]), *nxt = ACT(c, r->dx[1]);
    for (int l = base->S - 1; l >= 0; l--) {
        K->copy(nxt, cur, nc);
        subs[l].ops->backward(subs[l].self, c, nxt, cur, state(r, c, l), B, T);
        real *t = cur; cur = nxt; nxt = t;
    }
    return cur;
}

/* the additions, counted as in the GEMMs (2 per element) */
static double single_flops(const Residual *r) { return 2.0 * r->S * r->C; }

static void single_destroy(Residual *r) { free(r); }

static const ResidualOps single_ops = {
    .plan = single_plan, .input = single_input, .forward = single_forward, .output = single_output,
    .grad_top = single_grad_top, .backward = single_backward, .flops = single_flops, .destroy = single_destroy,
};

static Residual *single_create(ParamStore *ps, const ModelConfig *cfg, int first, int n_sublayers) {
    Single *r = calloc(1, sizeof *r);
    AL_ASSERT(r);
    r->base = (Residual){.ops = &single_ops, .kind = "residual", .S = n_sublayers, .C = cfg->d_model, .n = 1};
    return &r->base;
}

const ResidualKind residual_kind_residual = {
    .info = {"residual", "the standard pre-norm residual x + F(x): one stream, no parameters", ""},
    .default_streams = 1, .max_streams = 1, .create = single_create,
};
