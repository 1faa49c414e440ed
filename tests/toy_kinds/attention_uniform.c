/* A toy attention kind, the worked example of docs/EXTENDING.md (not shipped: tests register it at run time,
 * standing for its one row in arch/kinds.c). Causal uniform attention: each position averages the values of
 * every position up to it, with no queries or keys (attention with all scores equal):
 *     v = W_V RMSNorm(x)  (H heads of d_h),   y_t,h = (1 / (t+1)) sum_{j <= t} v_j,h,   out = W_O y
 * It runs on the backend's attention kernels with softmax scale 0 (every score 0, so the probabilities are
 * uniform), trains, and decodes from a KV cache holding only the values: H d_h elements per token and layer,
 * half of MHA's. To ship it: move this file to arch/ and add X(uniform) to ATTENTION_KINDS in arch/kinds.c. */
#include <math.h>

#include "arch/kinds.h"
#include "arch/kv_cache.h"
#include "arch/norm.h"

typedef struct Uniform {
    RMSNorm norm;
    int C, H, hd, layer;
    size_t w_v, w_o;  /* v_proj (H*hd, C), o_proj (C, H*hd) */
    size_t v, lse, y; /* activations (N, H*hd), (B*H*T), (N, H*hd) */
    size_t work_n;
} Uniform;

/* every score is multiplied by 0: q and k only have to be finite, so both point at v */
static AttnShape shape(const Uniform *a, int B, int T) {
    int W = a->H * a->hd;
    return (AttnShape){.B = B, .T = T, .H = a->H, .Hkv = a->H, .dk = a->hd, .dv = a->hd, .q_stride = W,
                       .k_stride = W, .v_stride = W, .o_stride = W, .scale = 0};
}

static void uniform_plan(void *self, Arena *act, size_t *scratch, int B, int T) {
    Uniform *a = self;
    size_t N = (size_t)B * T, W = (size_t)a->H * a->hd;
    rmsnorm_plan(&a->norm, act, (int)N);
    a->v = arena_take(act, N * W);
    a->lse = arena_take(act, (size_t)B * a->H * T);
    a->y = arena_take(act, N * W);
    AttnShape s = shape(a, B, T);
    a->work_n = K->attention_work_size(&s);
    /* backward: dy, dq, dk, dv, dln, the attention workspace */
    size_t need = 4 * N * W + N * a->C + a->work_n;
    if (need > *scratch) *scratch = need;
}

static void uniform_forward(void *self, Ctx *c, real *out, const real *inp, int B, int T) {
    Uniform *a = self;
    int N = B * T, W = a->H * a->hd;
    rmsnorm_fwd(&a->norm, c, inp, N);
    real *v = ACT(c, a->v);
    K->linear_forward(v, ACT(c, a->norm.out), PW(c, a->w_v), NULL, N, a->C, W);
    AttnShape s = shape(a, B, T);
    if (c->kv) { /* decoding: append the new values to this layer's cache, attend over all cached ones */
        KVCache *kv = c->kv;
        real *cache = kv_cache_layer(kv, a->layer, W);
        size_t bs = (size_t)kv->max_len * W;
        K->copy_strided(cache + (size_t)c->pos * W, v, T, B, W, W, bs, W, (size_t)T * W, 0);
        real *scores = kv_cache_work(kv, (size_t)B * a->H * T * (c->pos + T));
        K->attention_decode(ACT(c, a->y), scores, v, cache, cache, &s, c->pos, bs, bs);
    } else {
        K->attention_forward(ACT(c, a->y), ACT(c, a->lse), c->scratch, a->work_n, v, v, v, &s);
    }
    K->linear_forward(out, ACT(c, a->y), PW(c, a->w_o), NULL, N, W, a->C);
}

static void uniform_backward(void *self, Ctx *c, real *dinp, const real *dout, const real *inp, int B, int T) {
    Uniform *a = self;
    size_t N = (size_t)B * T, W = (size_t)a->H * a->hd;
    real *dy = c->scratch, *dq = dy + N * W, *dk = dq + N * W, *dv = dk + N * W, *dln = dv + N * W, *work = dln + N * a->C;
    K->zero(dy, 4 * N * W);
    K->linear_backward(dy, PG(c, a->w_o), NULL, dout, ACT(c, a->y), PW(c, a->w_o), (int)N, (int)W, a->C);
    AttnShape s = shape(a, B, T);
    const real *v = ACT(c, a->v);
    /* q and k are v too, but with scale 0 their gradients are 0: dq, dk are discarded */
    K->attention_backward(dq, dk, dv, work, a->work_n, dy, ACT(c, a->lse), v, v, v, &s);
    K->zero(dln, N * a->C);
    K->linear_backward(dln, PG(c, a->w_v), NULL, dv, ACT(c, a->norm.out), PW(c, a->w_v), (int)N, a->C, (int)W);
    rmsnorm_bwd(&a->norm, c, dinp, dln, inp, (int)N);
}

/* two projections, and the averaging: (T+1)/2 values of d_h per head on average */
static double uniform_flops(const void *self, int T) {
    const Uniform *a = self;
    double W = (double)a->H * a->hd;
    return 2.0 * 2.0 * a->C * W + W * (T + 1.0);
}

static void uniform_destroy(void *self) { free(self); }

static const SublayerOps uniform_ops = {"uniform", uniform_plan, uniform_forward, uniform_backward, uniform_flops,
                                        uniform_destroy, NULL, NULL, NULL};

static Sublayer uniform_create(ParamStore *ps, const ModelConfig *cfg, int layer) {
    Uniform *a = calloc(1, sizeof *a);
    AL_ASSERT(a);
    a->C = cfg->d_model;
    a->H = cfg->n_heads;
    a->hd = cfg->head_dim;
    a->layer = layer;
    char name[96];
    snprintf(name, sizeof name, "model.layers.%d.input_layernorm.weight", layer);
    rmsnorm_declare(&a->norm, ps, name, a->C, cfg->norm_eps);
    snprintf(name, sizeof name, "model.layers.%d.self_attn.v_proj.weight", layer);
    a->w_v = ps_add(ps, name, 2, (int64_t[]){a->H * a->hd, a->C}, INIT_NORMAL, cfg->init_std, 1, "attention");
    snprintf(name, sizeof name, "model.layers.%d.self_attn.o_proj.weight", layer);
    a->w_o = ps_add(ps, name, 2, (int64_t[]){a->C, a->H * a->hd}, INIT_NORMAL, cfg->init_std / sqrt(2.0 * cfg->n_layers),
                    1, "attention");
    return (Sublayer){&uniform_ops, a};
}

static int uniform_finalize(ModelConfig *c) {
    if (c->n_kv_heads == 0) c->n_kv_heads = c->n_heads; /* unused: no keys */
    return 0;
}
/* only the values: H d_h per token and layer */
static double uniform_kv_elems(const ModelConfig *c) { return (double)c->n_heads * c->head_dim; }
/* no queries or keys, so nothing is rotated; the RoPE tables are built at the head width all the same */
static int uniform_rope_dim(const ModelConfig *c) { return c->head_dim; }

const AttentionKind attention_kind_uniform = {
    .info = {"uniform", "toy: causal uniform averaging of values (no queries or keys)", ""},
    .finalize = uniform_finalize, .create = uniform_create, .kv_elems = uniform_kv_elems, .rope_dim = uniform_rope_dim,
};
