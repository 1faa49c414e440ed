#include "arch/ffn.h"
#include "arch/linear.h"

#include "arch/kinds.h"
#include "arch/probe.h"

#include <math.h>

static void ffn_plan(void *self, Arena *act, size_t *scratch, int B, int T) {
    Ffn *f = self;
    size_t N = (size_t)B * T;
    rmsnorm_plan(&f->norm, act, (int)N);
    f->gu = arena_take(act, N * 2 * f->F);
    f->h = arena_take(act, N * f->F);
    size_t need = N * f->F + N * 2 * f->F + N * f->C;
    if (need > *scratch) *scratch = need;
}

static void ffn_forward(void *self, Ctx *c, real *out, const real *inp, int B, int T) {
    Ffn *f = self;
    int N = B * T;
    rmsnorm_fwd(&f->norm, c, inp, N);
    linear_fwd(c, ACT(c, f->gu), ACT(c, f->norm.out), PW(c, f->w_gu), N, f->C, 2 * f->F);
    K->swiglu_forward(ACT(c, f->h), ACT(c, f->gu), N, f->F);
    linear_fwd(c, out, ACT(c, f->h), PW(c, f->w_down), N, f->F, f->C);
    if (c->probes) probe_rows(c->probes, 2 * f->layer + 1, "act", ACT(c, f->h), B, T, f->F); /* silu(gate) * up */
}

static void ffn_backward(void *self, Ctx *c, real *dinp, const real *dout, const real *inp, int B, int T) {
    Ffn *f = self;
    size_t N = (size_t)B * T;
    real *dh = c->scratch, *dgu = dh + N * f->F, *dln = dgu + N * 2 * f->F;
    K->zero(dh, N * f->F);
    linear_bwd(c, dh, PG(c, f->w_down), dout, ACT(c, f->h), PW(c, f->w_down), (int)N, f->F, f->C);
    K->swiglu_backward(dgu, dh, ACT(c, f->gu), (int)N, f->F);
    K->zero(dln, N * f->C);
    linear_bwd(c, dln, PG(c, f->w_gu), dgu, ACT(c, f->norm.out), PW(c, f->w_gu), (int)N, f->C, 2 * f->F);
    rmsnorm_bwd(&f->norm, c, dinp, dln, inp, (int)N);
}

static double ffn_flops(const void *self, int T) {
    const Ffn *f = self;
    return 2.0 * 3.0 * f->C * (double)f->F;
}

static void ffn_destroy(void *self) { free(self); }

static const SublayerOps ffn_ops = {"ffn", ffn_plan, ffn_forward, ffn_backward, ffn_flops, ffn_destroy, NULL, NULL, NULL};

Sublayer ffn_create(ParamStore *ps, const ModelConfig *cfg, int layer) {
    Ffn *f = calloc(1, sizeof *f);
    AL_ASSERT(f);
    f->C = cfg->d_model;
    f->layer = layer;
    f->F = cfg->d_ff;
    char name[96];
    snprintf(name, sizeof name, "model.layers.%d.post_attention_layernorm.weight", layer);
    rmsnorm_declare(&f->norm, ps, name, f->C, cfg->norm_eps);
    snprintf(name, sizeof name, "model.layers.%d.mlp.gate_proj.weight", layer);
    f->w_gu = ps_add(ps, name, 2, (int64_t[]){f->F, f->C}, INIT_NORMAL, cfg->init_std, 1, "ffn");
    snprintf(name, sizeof name, "model.layers.%d.mlp.up_proj.weight", layer);
    ps_add(ps, name, 2, (int64_t[]){f->F, f->C}, INIT_NORMAL, cfg->init_std, 1, "ffn");
    snprintf(name, sizeof name, "model.layers.%d.mlp.down_proj.weight", layer);
    f->w_down = ps_add(ps, name, 2, (int64_t[]){f->C, f->F}, INIT_NORMAL, cfg->init_std / sqrt(2.0 * cfg->n_layers),
                       1, "ffn");
    return (Sublayer){&ffn_ops, f};
}

static Sublayer dense_create(ParamStore *ps, const ModelConfig *cfg, int layer) { return ffn_create(ps, cfg, layer); }

const FfnKind ffn_kind_dense = {
    .info = {"dense", "a dense SwiGLU feed-forward of width d_ff", "d_ff"},
    .create = dense_create,
};
