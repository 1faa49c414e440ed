#include "arch/mla.h"
#include "arch/linear.h"

#include <math.h>

#include "arch/kinds.h"
#include "arch/kv_cache.h"
#include "arch/probe.h"

static int dqk(const Mla *a) { return a->dn + a->dr; }

static AttnShape train_shape(const Mla *a, int B, int T) {
    int H = a->H;
    return (AttnShape){.B = B, .T = T, .H = H, .Hkv = H, .dk = dqk(a), .dv = a->dv, .q_stride = H * dqk(a),
                       .k_stride = H * dqk(a), .v_stride = H * a->dv, .o_stride = H * a->dv,
                       .scale = (real)(1.0 / sqrt((double)dqk(a)))};
}

static void mla_plan(void *self, Arena *act, size_t *scratch, int B, int T) {
    Mla *a = self;
    size_t N = (size_t)B * T, H = a->H;
    rmsnorm_plan(&a->norm, act, (int)N);
    if (a->dq) {
        a->cq = arena_take(act, N * a->dq);
        rmsnorm_plan(&a->q_norm, act, (int)N);
    }
    a->q = arena_take(act, N * H * dqk(a));
    a->ckv = arena_take(act, N * a->dc);
    a->kr = arena_take(act, N * a->dr);
    rmsnorm_plan(&a->kv_norm, act, (int)N);
    a->kv = arena_take(act, N * H * (a->dn + a->dv));
    a->kf = arena_take(act, N * H * dqk(a));
    a->vf = arena_take(act, N * H * a->dv);
    a->lse = arena_take(act, (size_t)B * H * T);
    a->y = arena_take(act, N * H * a->dv);
    /* dy, dq, dK, dV, attention workspace (alone at the scratch's start in the forward), dkv, dkr, dc_KV (normed
     * and raw), dln, dc_Q (normed and raw) */
    AttnShape s = train_shape(a, B, T);
    a->work_n = K->attention_work_size(&s);
    size_t need = N * H * a->dv * 2 + N * H * dqk(a) * 2 + a->work_n + N * H * (a->dn + a->dv) + N * a->dr +
                  2 * N * a->dc + N * a->C + 2 * N * a->dq;
    if (need > *scratch) *scratch = need;
}

/* Everything up to attention, shared by training and decoding: the query (RoPE applied to each head's
 * rope part), the normalized latent c_KV (kv_norm.out) and the rotated shared key k_R, at positions from
 * c->pos. */
static void mla_front(Mla *a, Ctx *c, const real *inp, int B, int T) {
    int N = B * T, H = a->H, Q = H * dqk(a);
    rmsnorm_fwd(&a->norm, c, inp, N);
    const real *ln = ACT(c, a->norm.out);
    real *q = ACT(c, a->q), *kr = ACT(c, a->kr);
    if (a->dq) {
        linear_fwd(c, ACT(c, a->cq), ln, PW(c, a->w_q), N, a->C, a->dq);
        rmsnorm_fwd(&a->q_norm, c, ACT(c, a->cq), N);
        linear_fwd(c, q, ACT(c, a->q_norm.out), PW(c, a->w_qb), N, a->dq, Q);
    } else {
        linear_fwd(c, q, ln, PW(c, a->w_q), N, a->C, Q);
    }
    /* kv_a_proj_with_mqa rows [W_DKV ; W_KR]: two GEMMs so c_KV and k_R land in separate contiguous rows */
    linear_fwd(c, ACT(c, a->ckv), ln, PW(c, a->w_kva), N, a->C, a->dc);
    linear_fwd(c, kr, ln, PW(c, a->w_kva) + (size_t)a->dc * a->C, N, a->C, a->dr);
    rmsnorm_fwd(&a->kv_norm, c, ACT(c, a->ckv), N);
    size_t off = (size_t)c->pos * (a->dr / 2);
    K->rope(q + a->dn, B, T, H, dqk(a), a->dr, Q, c->rope_cos + off, c->rope_sin + off, 0);
    K->rope(kr, B, T, 1, a->dr, a->dr, a->dr, c->rope_cos + off, c->rope_sin + off, 0);
}

/* The absorbed output projection W_O' (C, H*dc): block i = W_O[:, i-th dv columns] W_UV,i. */
static void build_absorbed_o(Mla *a, Ctx *c) {
    int H = a->H;
    if (!a->w_o_abs) {
        a->w_o_abs = K->alloc((size_t)a->C * H * a->dc, "absorbed o_proj");
        AL_ASSERT(a->w_o_abs);
    }
    for (int h = 0; h < H; h++)
        K->gemm(0, 0, a->C, a->dc, a->dv, 1, PW(c, a->w_o) + (size_t)h * a->dv, H * a->dv,
                PW(c, a->w_kvb) + ((size_t)h * (a->dn + a->dv) + a->dn) * a->dc, a->dc, 0,
                a->w_o_abs + (size_t)h * a->dc, H * a->dc);
}

static void mla_decode(Mla *a, Ctx *c, real *out, int B, int T) {
    KVCache *kv = c->kv;
    int N = B * T, H = a->H, Wc = a->dc + a->dr, pos = c->pos, Tk = pos + T, D = dqk(a);
    real *cache = kv_cache_layer(kv, a->layer, Wc);
    size_t bs = (size_t)kv->max_len * Wc;
    /* cache only [c_KV | k_R] */
    K->copy_strided(cache + (size_t)pos * Wc, ACT(c, a->kv_norm.out), T, B, a->dc, Wc, bs, a->dc, (size_t)T * a->dc, 0);
    K->copy_strided(cache + (size_t)pos * Wc + a->dc, ACT(c, a->kr), T, B, a->dr, Wc, bs, a->dr, (size_t)T * a->dr, 0);
    const real *q = ACT(c, a->q);
    size_t nscore = (size_t)B * H * T * Tk;
    if (!kv->mla_naive) {
        if (pos == 0 || !a->w_o_abs) build_absorbed_o(a, c);
        real *qa = kv_cache_work(kv, nscore + (size_t)N * H * Wc + (size_t)N * H * a->dc);
        real *o = qa + (size_t)N * H * Wc, *scores = o + (size_t)N * H * a->dc;
        /* q'_i = W_UK,i^T q_C,i (d_c), then the rope part as is: one query of width d_c + d_hR per head */
        for (int h = 0; h < H; h++)
            K->gemm(0, 0, N, a->dc, a->dn, 1, q + (size_t)h * D, H * D, PW(c, a->w_kvb) + (size_t)h * (a->dn + a->dv) * a->dc,
                    a->dc, 0, qa + (size_t)h * Wc, H * Wc);
        K->copy_strided(qa + a->dc, q + a->dn, N, H, a->dr, (size_t)H * Wc, Wc, (size_t)H * D, D, 0);
        /* one shared kv head: keys are the cache rows [c_KV | k_R], values their c_KV part */
        AttnShape s = {.B = B, .T = T, .H = H, .Hkv = 1, .dk = Wc, .dv = a->dc, .q_stride = H * Wc, .k_stride = Wc,
                       .v_stride = Wc, .o_stride = H * a->dc, .scale = (real)(1.0 / sqrt((double)D))};
        K->attention_decode(o, scores, qa, cache, cache, &s, pos, bs, bs);
        K->linear_forward(out, o, a->w_o_abs, NULL, N, H * a->dc, a->C);
        return;
    }
    /* naive: decompress all Tk cached latents of each sequence to per-head keys and values */
    size_t KV = (size_t)H * (a->dn + a->dv);
    real *kvf = kv_cache_work(kv, nscore + (size_t)B * Tk * (KV + (size_t)H * D + (size_t)H * a->dv));
    real *kf = kvf + (size_t)B * Tk * KV, *vf = kf + (size_t)B * Tk * H * D, *scores = vf + (size_t)B * Tk * H * a->dv;
    for (int b = 0; b < B; b++) {
        K->gemm(0, 1, Tk, (int)KV, a->dc, 1, cache + b * bs, Wc, PW(c, a->w_kvb), a->dc, 0, kvf + (size_t)b * Tk * KV, (int)KV);
        K->copy_strided(kf + (size_t)b * Tk * H * D + a->dn, cache + b * bs + a->dc, Tk, H, a->dr, (size_t)H * D, D, Wc, 0, 0);
    }
    K->copy_strided(kf, kvf, B * Tk, H, a->dn, (size_t)H * D, D, KV, a->dn + a->dv, 0);
    K->copy_strided(vf, kvf + a->dn, B * Tk, H, a->dv, (size_t)H * a->dv, a->dv, KV, a->dn + a->dv, 0);
    AttnShape s = train_shape(a, B, T);
    K->attention_decode(ACT(c, a->y), scores, q, kf, vf, &s, pos, (size_t)Tk * H * D, (size_t)Tk * H * a->dv);
    linear_fwd(c, out, ACT(c, a->y), PW(c, a->w_o), N, H * a->dv, a->C);
}

static void mla_forward(void *self, Ctx *c, real *out, const real *inp, int B, int T) {
    Mla *a = self;
    int N = B * T, H = a->H, D = dqk(a);
    size_t KV = (size_t)H * (a->dn + a->dv);
    mla_front(a, c, inp, B, T);
    if (c->kv) { mla_decode(a, c, out, B, T); return; }
    real *kv = ACT(c, a->kv), *kf = ACT(c, a->kf), *vf = ACT(c, a->vf);
    linear_fwd(c, kv, ACT(c, a->kv_norm.out), PW(c, a->w_kvb), N, a->dc, (int)KV);
    /* k_i = [k_C,i ; k_R] (k_R broadcast to every head), v_i contiguous per head */
    K->copy_strided(kf, kv, N, H, a->dn, (size_t)H * D, D, KV, a->dn + a->dv, 0);
    K->copy_strided(kf + a->dn, ACT(c, a->kr), N, H, a->dr, (size_t)H * D, D, a->dr, 0, 0);
    K->copy_strided(vf, kv + a->dn, N, H, a->dv, (size_t)H * a->dv, a->dv, KV, a->dn + a->dv, 0);
    AttnShape s = train_shape(a, B, T);
    K->attention_forward(ACT(c, a->y), ACT(c, a->lse), c->scratch, a->work_n, ACT(c, a->q), kf, vf, &s);
    linear_fwd(c, out, ACT(c, a->y), PW(c, a->w_o), N, H * a->dv, a->C);
    if (c->probes) { /* the per-head q, k, v attention used, and the latents the cache keeps */
        probe_attention(c->probes, 2 * a->layer, ACT(c, a->q), kf, vf, ACT(c, a->lse), &s);
        probe_rows(c->probes, 2 * a->layer, "c_kv", ACT(c, a->kv_norm.out), B, T, a->dc);
        probe_rows(c->probes, 2 * a->layer, "k_rope", ACT(c, a->kr), B, T, a->dr);
        if (a->dq) probe_rows(c->probes, 2 * a->layer, "c_q", ACT(c, a->q_norm.out), B, T, a->dq);
    }
}

static void mla_backward(void *self, Ctx *c, real *dinp, const real *dout, const real *inp, int B, int T) {
    Mla *a = self;
    size_t N = (size_t)B * T, H = a->H, D = dqk(a), KV = H * (a->dn + a->dv);
    int n = (int)N, Q = (int)(H * D);
    real *dy = c->scratch, *dq = dy + N * H * a->dv, *dK = dq + N * H * D, *dV = dK + N * H * D;
    real *work = dV + N * H * a->dv, *dkv = work + a->work_n, *dkr = dkv + N * KV, *dcn = dkr + N * a->dr;
    real *dcraw = dcn + N * a->dc, *dln = dcraw + N * a->dc, *dqn = dln + N * a->C, *dqraw = dqn + N * a->dq;
    const real *ln = ACT(c, a->norm.out);
    K->zero(dy, N * H * a->dv);
    linear_bwd(c, dy, PG(c, a->w_o), dout, ACT(c, a->y), PW(c, a->w_o), n, (int)H * a->dv, a->C);
    K->zero(dq, N * H * D * 2 + N * H * a->dv); /* dq, dK, dV */
    AttnShape s = train_shape(a, B, T);
    K->attention_backward(dq, dK, dV, work, a->work_n, dy, ACT(c, a->lse), ACT(c, a->q), ACT(c, a->kf), ACT(c, a->vf),
                          &s);
    /* undo the assembly: k_C and v gradients back into kv_b's output layout, k_R's summed over heads */
    K->zero(dkv, N * KV + N * a->dr);
    K->copy_strided(dkv, dK, n, (int)H, a->dn, KV, a->dn + a->dv, H * D, D, 1);
    K->copy_strided(dkv + a->dn, dV, n, (int)H, a->dv, KV, a->dn + a->dv, H * a->dv, a->dv, 1);
    K->copy_strided(dkr, dK + a->dn, n, (int)H, a->dr, a->dr, 0, H * D, D, 1);
    K->rope(dq + a->dn, B, T, (int)H, (int)D, a->dr, Q, c->rope_cos, c->rope_sin, 1);
    K->rope(dkr, B, T, 1, a->dr, a->dr, a->dr, c->rope_cos, c->rope_sin, 1);
    K->zero(dcn, 2 * N * a->dc + N * a->C);
    linear_bwd(c, dcn, PG(c, a->w_kvb), dkv, ACT(c, a->kv_norm.out), PW(c, a->w_kvb), n, a->dc, (int)KV);
    rmsnorm_bwd(&a->kv_norm, c, dcraw, dcn, ACT(c, a->ckv), n);
    linear_bwd(c, dln, PG(c, a->w_kva), dcraw, ln, PW(c, a->w_kva), n, a->C, a->dc);
    linear_bwd(c, dln, PG(c, a->w_kva) + (size_t)a->dc * a->C, dkr, ln, PW(c, a->w_kva) + (size_t)a->dc * a->C,
                       n, a->C, a->dr);
    if (a->dq) {
        K->zero(dqn, 2 * N * a->dq);
        linear_bwd(c, dqn, PG(c, a->w_qb), dq, ACT(c, a->q_norm.out), PW(c, a->w_qb), n, a->dq, Q);
        rmsnorm_bwd(&a->q_norm, c, dqraw, dqn, ACT(c, a->cq), n);
        linear_bwd(c, dln, PG(c, a->w_q), dqraw, ln, PW(c, a->w_q), n, a->C, a->dq);
    } else {
        linear_bwd(c, dln, PG(c, a->w_q), dq, ln, PW(c, a->w_q), n, a->C, Q);
    }
    rmsnorm_bwd(&a->norm, c, dinp, dln, inp, n);
}

/* projections (x2 FLOPs per multiply-add) plus causal attention over (T+1)/2 keys on average:
 * scores d_h + d_hR and P.V d_v wide per head */
static double mla_flops(const void *self, int T) {
    const Mla *a = self;
    double H = a->H, D = dqk(a);
    double q = a->dq ? (double)a->C * a->dq + (double)a->dq * H * D : a->C * H * D;
    double proj = q + (double)a->C * (a->dc + a->dr) + a->dc * H * (a->dn + a->dv) + H * a->dv * a->C;
    return 2.0 * proj + H * (D + a->dv) * (T + 1.0);
}

static void mla_destroy(void *self) {
    Mla *a = self;
    K->free(a->w_o_abs);
    free(a);
}

static const SublayerOps mla_ops = {"mla", mla_plan, mla_forward, mla_backward, mla_flops, mla_destroy, NULL, NULL, NULL};

static Sublayer mla_create(ParamStore *ps, const ModelConfig *cfg, int layer) {
    Mla *a = calloc(1, sizeof *a);
    AL_ASSERT(a);
    a->C = cfg->d_model;
    a->H = cfg->n_heads;
    a->dn = cfg->qk_nope_head_dim;
    a->dr = cfg->qk_rope_head_dim;
    a->dv = cfg->v_head_dim;
    a->dc = cfg->kv_lora_rank;
    a->dq = cfg->q_lora_rank;
    a->layer = layer;
    int64_t H = a->H, D = dqk(a), C = a->C;
    double sd = cfg->init_std;
    char name[96];
#define NAME(fmt) (snprintf(name, sizeof name, "model.layers.%d.self_attn." fmt, layer), name)
    snprintf(name, sizeof name, "model.layers.%d.input_layernorm.weight", layer);
    rmsnorm_declare(&a->norm, ps, name, a->C, cfg->norm_eps);
    if (a->dq) {
        a->w_q = ps_add(ps, NAME("q_a_proj.weight"), 2, (int64_t[]){a->dq, C}, INIT_NORMAL, sd, 1, "attention");
        rmsnorm_declare(&a->q_norm, ps, NAME("q_a_layernorm.weight"), a->dq, cfg->norm_eps);
        a->w_qb = ps_add(ps, NAME("q_b_proj.weight"), 2, (int64_t[]){H * D, a->dq}, INIT_NORMAL, sd, 1, "attention");
    } else {
        a->w_q = ps_add(ps, NAME("q_proj.weight"), 2, (int64_t[]){H * D, C}, INIT_NORMAL, sd, 1, "attention");
    }
    a->w_kva = ps_add(ps, NAME("kv_a_proj_with_mqa.weight"), 2, (int64_t[]){a->dc + a->dr, C}, INIT_NORMAL, sd, 1,
                      "attention");
    rmsnorm_declare(&a->kv_norm, ps, NAME("kv_a_layernorm.weight"), a->dc, cfg->norm_eps);
    a->w_kvb = ps_add(ps, NAME("kv_b_proj.weight"), 2, (int64_t[]){H * (a->dn + a->dv), a->dc}, INIT_NORMAL, sd, 1,
                      "attention");
    a->w_o = ps_add(ps, NAME("o_proj.weight"), 2, (int64_t[]){C, H * a->dv}, INIT_NORMAL,
                    sd / sqrt(2.0 * cfg->n_layers), 1, "attention");
#undef NAME
    return (Sublayer){&mla_ops, a};
}

/* MLA's own fields: the latent widths, required or derived from head_dim */
static int mla_finalize(ModelConfig *c) {
    if (c->n_kv_heads == 0) c->n_kv_heads = c->n_heads; /* unused by MLA: every head reads the shared latent */
    if (c->kv_lora_rank <= 0)
        return al_errorf("field 'kv_lora_rank' = %d must be > 0 with attention = \"mla\" (the cached KV latent "
                         "width d_c; DeepSeek-V2 uses 4 x head_dim)", c->kv_lora_rank);
    if (c->q_lora_rank < 0) return al_errorf("field 'q_lora_rank' = %d must be >= 0 (0 = none)", c->q_lora_rank);
    if (c->qk_nope_head_dim == 0) c->qk_nope_head_dim = c->head_dim;
    if (c->v_head_dim == 0) c->v_head_dim = c->head_dim;
    if (c->qk_rope_head_dim == 0) c->qk_rope_head_dim = c->head_dim / 2;
    if (c->qk_nope_head_dim < 0) return al_errorf("field 'qk_nope_head_dim' = %d must be >= 0", c->qk_nope_head_dim);
    if (c->v_head_dim < 0) return al_errorf("field 'v_head_dim' = %d must be > 0", c->v_head_dim);
    if (c->qk_rope_head_dim <= 0 || c->qk_rope_head_dim % 2)
        return al_errorf("field 'qk_rope_head_dim' = %d must be even and > 0 for RoPE", c->qk_rope_head_dim);
    return 0;
}

/* only [c_KV | k_R] per token: d_c + d_hR (V2 Table 1: 4.5 d_h with d_c = 4 d_h, d_hR = d_h / 2) */
static double mla_kv_elems(const ModelConfig *c) { return c->kv_lora_rank + c->qk_rope_head_dim; }
/* RoPE rotates only the decoupled part */
static int mla_rope_dim(const ModelConfig *c) { return c->qk_rope_head_dim; }

const AttentionKind attention_kind_mla = {
    .info = {"mla", "multi-head latent attention (DeepSeek-V2): caches one compressed latent per token",
             "kv_lora_rank|q_lora_rank|qk_nope_head_dim|qk_rope_head_dim|v_head_dim"},
    .finalize = mla_finalize, .create = mla_create, .kv_elems = mla_kv_elems, .rope_dim = mla_rope_dim,
};
