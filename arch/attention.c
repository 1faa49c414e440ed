#include "arch/attention.h"
#include "arch/linear.h"
#include "arch/kinds.h"
#include "arch/kv_cache.h"
#include "arch/probe.h"

#include <math.h>
#include <string.h>

static int qkv_width(const Attention *a) { return (a->H + 2 * a->Hkv) * a->hd; }

static AttnShape shape_of(const Attention *a, int B, int T) {
    int W = qkv_width(a);
    return (AttnShape){.B = B, .T = T, .H = a->H, .Hkv = a->Hkv, .dk = a->hd, .dv = a->hd,
                       .q_stride = W, .k_stride = W, .v_stride = W, .o_stride = a->H * a->hd,
                       .scale = (real)(1.0 / sqrt((double)a->hd))};
}

static void attn_plan(void *self, Arena *act, size_t *scratch, int B, int T) {
    Attention *a = self;
    size_t N = (size_t)B * T;
    rmsnorm_plan(&a->norm, act, (int)N);
    a->qkv = arena_take(act, N * qkv_width(a));
    a->lse = arena_take(act, (size_t)B * a->H * T);
    a->y = arena_take(act, N * a->H * a->hd);
    /* backward: dqkv, dy, dln, then the attention workspace (alone at the scratch's start in the forward) */
    AttnShape s = shape_of(a, B, T);
    a->work_n = K->attention_work_size(&s);
    size_t need = N * qkv_width(a) + N * a->H * a->hd + N * a->C + a->work_n;
    if (need > *scratch) *scratch = need;
}

/* Decoding: append the new keys and values to this layer's cache rows [keys | values] at c->pos, then
 * attend over the cache. */
static void attn_decode(Attention *a, Ctx *c, real *out, const real *q, const real *k, const real *v, AttnShape *s) {
    KVCache *kv = c->kv;
    int B = s->B, T = s->T, W = qkv_width(a), kw = a->Hkv * a->hd, Wc = 2 * kw;
    real *cache = kv_cache_layer(kv, a->layer, Wc);
    size_t bs = (size_t)kv->max_len * Wc;
    K->copy_strided(cache + (size_t)c->pos * Wc, k, T, B, kw, Wc, bs, W, (size_t)T * W, 0);
    K->copy_strided(cache + (size_t)c->pos * Wc + kw, v, T, B, kw, Wc, bs, W, (size_t)T * W, 0);
    s->k_stride = s->v_stride = Wc;
    real *scores = kv_cache_work(kv, (size_t)B * a->H * T * (c->pos + T));
    K->attention_decode(ACT(c, a->y), scores, q, cache, cache + kw, s, c->pos, bs, bs);
    linear_fwd(c, out, ACT(c, a->y), PW(c, a->w_o), B * T, a->H * a->hd, a->C);
}

static void attn_forward(void *self, Ctx *c, real *out, const real *inp, int B, int T) {
    Attention *a = self;
    int N = B * T, W = qkv_width(a);
    rmsnorm_fwd(&a->norm, c, inp, N);
    real *qkv = ACT(c, a->qkv), *q = qkv, *k = qkv + a->H * a->hd, *v = k + a->Hkv * a->hd;
    linear_fwd(c, qkv, ACT(c, a->norm.out), PW(c, a->w_qkv), N, a->C, W);
    /* positions start at c->pos (0 in training; the cache length when decoding) */
    const real *cs = c->rope_cos + (size_t)c->pos * (a->hd / 2), *sn = c->rope_sin + (size_t)c->pos * (a->hd / 2);
    K->rope(q, B, T, a->H, a->hd, a->hd, W, cs, sn, 0);
    K->rope(k, B, T, a->Hkv, a->hd, a->hd, W, cs, sn, 0);
    AttnShape s = shape_of(a, B, T);
    if (c->kv) { attn_decode(a, c, out, q, k, v, &s); return; }
    K->attention_forward(ACT(c, a->y), ACT(c, a->lse), c->scratch, a->work_n, q, k, v, &s);
    linear_fwd(c, out, ACT(c, a->y), PW(c, a->w_o), N, a->H * a->hd, a->C);
    if (c->probes) probe_attention(c->probes, 2 * a->layer, q, k, v, ACT(c, a->lse), &s);
}

static void attn_backward(void *self, Ctx *c, real *dinp, const real *dout, const real *inp, int B, int T) {
    Attention *a = self;
    size_t N = (size_t)B * T;
    int W = qkv_width(a), Y = a->H * a->hd;
    real *dqkv = c->scratch, *dy = dqkv + N * W, *dln = dy + N * Y, *work = dln + N * a->C;
    K->zero(dy, N * Y);
    linear_bwd(c, dy, PG(c, a->w_o), dout, ACT(c, a->y), PW(c, a->w_o), (int)N, Y, a->C);
    K->zero(dqkv, N * W);
    real *qkv = ACT(c, a->qkv);
    int ko = a->H * a->hd, vo = ko + a->Hkv * a->hd;
    AttnShape s = shape_of(a, B, T);
    K->attention_backward(dqkv, dqkv + ko, dqkv + vo, work, a->work_n, dy, ACT(c, a->lse), qkv, qkv + ko, qkv + vo, &s);
    /* q and k were rotated in place; the rotation's transpose maps their gradients back */
    K->rope(dqkv, B, T, a->H, a->hd, a->hd, W, c->rope_cos, c->rope_sin, 1);
    K->rope(dqkv + ko, B, T, a->Hkv, a->hd, a->hd, W, c->rope_cos, c->rope_sin, 1);
    K->zero(dln, N * a->C);
    linear_bwd(c, dln, PG(c, a->w_qkv), dqkv, ACT(c, a->norm.out), PW(c, a->w_qkv), (int)N, a->C, W);
    rmsnorm_bwd(&a->norm, c, dinp, dln, inp, (int)N);
}

/* projections 2 * C * (H + 2 Hkv + H) hd; scores and P.V at causal position t touch t+1 keys, on average
 * (T+1)/2: 2 * 2 * H * hd * (T+1)/2 */
static double attn_flops(const void *self, int T) {
    const Attention *a = self;
    double proj = 2.0 * a->C * (double)(qkv_width(a) + a->H * a->hd);
    return proj + 2.0 * a->H * a->hd * (T + 1.0);
}

static void attn_destroy(void *self) { free(self); }

static const SublayerOps attention_ops = {"attention", attn_plan, attn_forward, attn_backward, attn_flops,
                                          attn_destroy, NULL, NULL, NULL};

static Sublayer attention_create(ParamStore *ps, const ModelConfig *cfg, int layer) {
    Attention *a = calloc(1, sizeof *a);
    AL_ASSERT(a);
    a->C = cfg->d_model;
    a->H = cfg->n_heads;
    a->Hkv = cfg->n_kv_heads;
    a->hd = cfg->head_dim;
    a->layer = layer;
    char name[96];
    snprintf(name, sizeof name, "model.layers.%d.input_layernorm.weight", layer);
    rmsnorm_declare(&a->norm, ps, name, a->C, cfg->norm_eps);
    const char *proj[3] = {"q_proj", "k_proj", "v_proj"};
    int rows[3] = {a->H * a->hd, a->Hkv * a->hd, a->Hkv * a->hd};
    for (int i = 0; i < 3; i++) {
        snprintf(name, sizeof name, "model.layers.%d.self_attn.%s.weight", layer, proj[i]);
        size_t off = ps_add(ps, name, 2, (int64_t[]){rows[i], a->C}, INIT_NORMAL, cfg->init_std, 1, "attention");
        if (i == 0) a->w_qkv = off;
    }
    snprintf(name, sizeof name, "model.layers.%d.self_attn.o_proj.weight", layer);
    /* GPT-2 style: output projections scaled by 1/sqrt(2 * blocks) keep the residual stream's variance
     * independent of depth at init */
    a->w_o = ps_add(ps, name, 2, (int64_t[]){a->C, a->H * a->hd}, INIT_NORMAL,
                    cfg->init_std / sqrt(2.0 * cfg->n_layers), 1, "attention");
    return (Sublayer){&attention_ops, a};
}

/* ---- the three registry entries: one sub-layer, told apart by how many key/value heads they keep ---- */

/* MHA: one key/value head per query head */
static int mha_finalize(ModelConfig *c) {
    if (c->n_kv_heads == 0) c->n_kv_heads = c->n_heads;
    if (c->n_kv_heads != c->n_heads)
        return al_errorf("field 'n_kv_heads' = %d differs from n_heads = %d with attention = \"mha\" (use \"gqa\")",
                         c->n_kv_heads, c->n_heads);
    return 0;
}

/* GQA: n_kv_heads groups of query heads share a key/value head (0: n_heads, i.e. MHA's layout) */
static int gqa_finalize(ModelConfig *c) {
    if (c->n_kv_heads == 0) c->n_kv_heads = c->n_heads;
    return 0;
}

/* MQA: one key/value head for all query heads */
static int mqa_finalize(ModelConfig *c) {
    if (c->n_kv_heads && c->n_kv_heads != 1)
        return al_errorf("field 'n_kv_heads' = %d contradicts attention = \"mqa\" (one kv head)", c->n_kv_heads);
    c->n_kv_heads = 1;
    return 0;
}

/* keys and values of every kv head: 2 n_kv_heads d_h per layer (MHA 2 n_h d_h, GQA 2 n_g d_h, MQA 2 d_h) */
static double kv_elems(const ModelConfig *c) { return 2.0 * c->n_kv_heads * c->head_dim; }
static int rope_dim(const ModelConfig *c) { return c->head_dim; }

const AttentionKind attention_kind_mha = {
    .info = {"mha", "multi-head attention: a key/value head per query head", "n_kv_heads"},
    .finalize = mha_finalize, .create = attention_create, .kv_elems = kv_elems, .rope_dim = rope_dim,
};
const AttentionKind attention_kind_gqa = {
    .info = {"gqa", "grouped-query attention: groups of query heads share a key/value head", "n_kv_heads"},
    .finalize = gqa_finalize, .create = attention_create, .kv_elems = kv_elems, .rope_dim = rope_dim,
};
const AttentionKind attention_kind_mqa = {
    .info = {"mqa", "multi-query attention: one key/value head for all query heads", "n_kv_heads"},
    .finalize = mqa_finalize, .create = attention_create, .kv_elems = kv_elems, .rope_dim = rope_dim,
};
