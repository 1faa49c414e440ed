/* Gradient checks of DeepSeekMoE: the router kernels (scores, gate values, balance losses, combine), the MoE
 * sub-layer alone (input, router, routed and shared experts, with each balance loss switched on) and a whole
 * tiny MoE transformer. Top-K selection is piecewise constant: every check verifies that no finite-difference
 * probe changed the selection, so the comparison is between derivatives of one smooth piece. */
#include <math.h>
#include <string.h>

#include "arch/model.h"
#include "arch/moe.h"
#include "tests/gradcheck.h"
#include "tests/harness.h"


/* ---- scores: softmax and sigmoid ---- */
typedef struct { int N, E, sig; real *l, *s, *R; } ScoreCtx;
static double score_loss(void *p) {
    ScoreCtx *c = p;
    KM->moe_scores_forward(c->s, c->l, c->N, c->E, c->sig);
    return gc_dot(c->s, c->R, (size_t)c->N * c->E);
}
TEST(grad_moe_scores) {
    for (int sig = 0; sig < 2; sig++) {
        Rng rng; rng_init(&rng, 3 + sig);
        ScoreCtx c = {.N = 3, .E = 5, .sig = sig};
        c.l = gc_buf(15); c.s = gc_buf(15); c.R = gc_buf(15);
        gc_fill(c.l, 15, &rng, 1); gc_fill(c.R, 15, &rng, 1);
        score_loss(&c);
        real *d = gc_buf(15);
        KM->moe_scores_backward(d, c.R, c.s, 3, 5, sig);
        EXPECT(gc_check(score_loss, &c, c.l, d, 15, 100, sig ? "sigmoid scores dlogits" : "softmax scores dlogits") < GC_TOL);
        rng_free(&rng);
        gc_free_bufs();
    }
}

/* ---- gate values (top-K, optional renormalization, scaling) ---- */
typedef struct { int N; MoeRouteSpec r; real *s, *w, *R; int *idx, *ref; int flipped; } GateCtx;
static double gate_loss(void *p) {
    GateCtx *c = p;
    KM->moe_route(c->idx, c->w, c->s, NULL, c->N, &c->r);
    if (memcmp(c->idx, c->ref, sizeof(int) * c->N * c->r.K)) c->flipped = 1;
    return gc_dot(c->w, c->R, (size_t)c->N * c->r.K);
}
TEST(grad_moe_gate_values) {
    for (int norm = 0; norm < 2; norm++) {
        Rng rng; rng_init(&rng, 11 + norm);
        int N = 4, E = 6, Kk = 3;
        GateCtx c = {.N = N, .r = {.E = E, .K = Kk, .n_group = 1, .topk_group = 1, .norm = norm, .scale = 2.5}};
        c.s = gc_buf(N * E); c.w = gc_buf(N * Kk); c.R = gc_buf(N * Kk);
        int idx[12], ref[12];
        c.idx = idx; c.ref = ref;
        for (int i = 0; i < N * E; i++) c.s[i] = 0.05 + 0.9 * rng_uniform(&rng);
        gc_fill(c.R, N * Kk, &rng, 1);
        KM->moe_route(ref, c.w, c.s, NULL, N, &c.r);
        real *d = gc_buf(N * E);
        KM->moe_gate_backward(d, c.R, c.s, ref, N, &c.r);
        EXPECT(gc_check(gate_loss, &c, c.s, d, N * E, 100, norm ? "gates (renormalized) ds" : "gates ds") < GC_TOL);
        EXPECT(!c.flipped);
        rng_free(&rng);
        gc_free_bufs();
    }
}

/* ---- balance losses (expert-level / sequence-wise and device-level) on softmax and sigmoid scores ---- */
typedef struct { int B, T, E, Kk, group; real a_exp, a_dev; real *s; int *idx; } BalCtx;
static double bal_loss(void *p) {
    BalCtx *c = p;
    return KM->moe_balance_forward(c->s, c->idx, c->B, c->T, c->E, c->Kk, c->group, c->a_exp, c->a_dev);
}
TEST(grad_moe_balance_losses) {
    const real coef[3][2] = {{0.7, 0}, {0, 0.4}, {0.3, 0.2}};
    for (int sig = 0; sig < 2; sig++)
        for (int v = 0; v < 3; v++) {
            Rng rng; rng_init(&rng, 20 + v + 3 * sig);
            BalCtx c = {.B = 2, .T = 3, .E = 6, .Kk = 2, .group = 3, .a_exp = coef[v][0], .a_dev = coef[v][1]};
            int n = c.B * c.T * c.E, idx[12];
            c.s = gc_buf(n); c.idx = idx;
            real *l = gc_buf(n);
            gc_fill(l, n, &rng, 1);
            KM->moe_scores_forward(c.s, l, c.B * c.T, c.E, sig);
            MoeRouteSpec r = {.E = 6, .K = 2, .n_group = 1, .topk_group = 1, .scale = 1};
            real *w = gc_buf(12);
            KM->moe_route(idx, w, c.s, NULL, c.B * c.T, &r);
            real *d = gc_buf(n);
            KM->moe_balance_backward(d, c.s, idx, c.B, c.T, c.E, c.Kk, c.group, c.a_exp, c.a_dev);
            char what[64];
            snprintf(what, sizeof what, "balance (%s, a1 %.1f a2 %.1f) ds", sig ? "sigmoid" : "softmax", coef[v][0],
                     coef[v][1]);
            EXPECT(gc_check(bal_loss, &c, c.s, d, n, 100, what) < GC_TOL);
            rng_free(&rng);
            gc_free_bufs();
        }
}

/* ---- combine (weighted sum of the experts' rows) ---- */
typedef struct { int N, Kk, C; real *y, *w, *out, *R; int *pos; } CombCtx;
static double comb_loss(void *p) {
    CombCtx *c = p;
    K->zero(c->out, (size_t)c->N * c->C);
    KM->moe_combine(c->out, c->y, c->pos, c->w, c->N, c->Kk, c->C);
    return gc_dot(c->out, c->R, (size_t)c->N * c->C);
}
TEST(grad_moe_combine) {
    Rng rng; rng_init(&rng, 31);
    CombCtx c = {.N = 3, .Kk = 2, .C = 4};
    int pos[6] = {4, 0, 2, 5, 1, 3};
    c.pos = pos; c.y = gc_buf(24); c.w = gc_buf(6); c.out = gc_buf(12); c.R = gc_buf(12);
    gc_fill(c.y, 24, &rng, 1); gc_fill(c.w, 6, &rng, 1); gc_fill(c.R, 12, &rng, 1);
    real *dy = gc_buf(24), *dw = gc_buf(6);
    KM->moe_combine_backward(dy, dw, c.R, c.y, pos, c.w, 3, 2, 4);
    EXPECT(gc_check(comb_loss, &c, c.y, dy, 24, 100, "combine dy") < GC_TOL);
    EXPECT(gc_check(comb_loss, &c, c.w, dw, 6, 100, "combine dgate") < GC_TOL);
    rng_free(&rng);
    gc_free_bufs();
}

/* ---- the MoE sub-layer alone ---- */
typedef struct {
    Sublayer s; Moe *moe; Ctx *c; real *inp, *out, *R; int B, T; int *ref; int flipped;
} LayerCtx;
static double layer_loss(void *p) {
    LayerCtx *l = p;
    l->s.ops->forward(l->s.self, l->c, l->out, l->inp, l->B, l->T);
    size_t n = (size_t)l->B * l->T * l->moe->K;
    if (memcmp(l->ref, l->moe->r.idx, sizeof(int) * n)) l->flipped = 1;
    return gc_dot(l->out, l->R, (size_t)l->B * l->T * l->moe->C) + l->s.ops->aux_loss(l->s.self);
}

static void check_layer(const char *label, void (*setup)(ModelConfig *), unsigned seed) {
    ModelConfig cfg;
    config_defaults(&cfg);
    cfg.d_model = 6; cfg.n_heads = 1; cfg.n_layers = 1; cfg.init_std = 0.5;
    snprintf(cfg.ffn, sizeof cfg.ffn, "moe");
    cfg.n_routed_experts = 6; cfg.num_experts_per_tok = 2; cfg.moe_intermediate_size = 5;
    setup(&cfg);
    EXPECT(config_finalize(&cfg) == 0);
    ParamStore ps;
    ps_init(&ps, 0);
    Sublayer s = moe_create(&ps, &cfg, 0);
    Moe *moe = moe_of(s);
    Rng rng; rng_init(&rng, seed);
    EXPECT(ps_allocate(&ps, &rng) == 0);
    int B = 2, T = 5, N = B * T, C = cfg.d_model;
    Arena act = {0};
    size_t scratch_n = 0;
    s.ops->plan(s.self, &act, &scratch_n, B, T);
    act.base = K->alloc(act.used, "test");
    real *scratch = K->alloc(scratch_n, "test");
    Ctx c = {.ps = &ps, .act = &act, .scratch = scratch};
    if (moe->r.has_bias) gc_fill(ps.data + moe->r.bias, cfg.n_routed_experts, &rng, 0.3); /* selection uses it */
    real *inp = gc_buf((size_t)N * C), *out = gc_buf((size_t)N * C), *R = gc_buf((size_t)N * C), *dinp = gc_buf((size_t)N * C);
    gc_fill(inp, (size_t)N * C, &rng, 1);
    gc_fill(R, (size_t)N * C, &rng, 1);
    int ref[64];
    LayerCtx l = {s, moe, &c, inp, out, R, B, T, ref, 0};
    s.ops->forward(s.self, &c, out, inp, B, T);
    memcpy(ref, moe->r.idx, sizeof(int) * N * moe->K);
    K->zero(ps.grad, ps.total);
    s.ops->backward(s.self, &c, dinp, R, inp, B, T);
    th_note("%s: aux loss %.4g", label, s.ops->aux_loss(s.self));
    char what[160];
    snprintf(what, sizeof what, "%s dinp", label);
    EXPECT(gc_check(layer_loss, &l, inp, dinp, (size_t)N * C, 60, what) < GC_TOL);
    real *analytic = al_calloc(ps.total, sizeof(real), "test");
    memcpy(analytic, ps.grad, sizeof(real) * ps.total);
    for (int i = 0; i < ps.n; i++) {
        ParamInfo *p = &ps.info[i];
        if (!strcmp(p->component, "router_bias")) { /* not differentiable: selection only; gradient stays 0 */
            for (size_t j = 0; j < p->numel; j++) EXPECT(analytic[p->offset + j] == 0);
            continue;
        }
        snprintf(what, sizeof what, "%s %s", label, p->name + strlen("model.layers.0."));
        EXPECT(gc_check(layer_loss, &l, ps.data + p->offset, analytic + p->offset, p->numel, 12, what) < GC_TOL);
    }
    EXPECT(!l.flipped);
    if (l.flipped) th_note("%s: a probe flipped a top-K selection; the check is void for this seed", label);
    al_free(analytic);
    K->free(act.base);
    K->free(scratch);
    s.ops->destroy(s.self);
    ps_free(&ps);
    rng_free(&rng);
    gc_free_bufs();
}

/* V2 style: softmax, no renormalization, shared experts, expert- and device-level losses over 2 groups */
static void setup_v2(ModelConfig *c) {
    c->n_shared_experts = 1;
    snprintf(c->balance, sizeof c->balance, "aux");
    c->aux_alpha = 0.3; c->device_alpha = 0.2; c->n_group = 2; c->topk_group = 2;
}
/* V2 group-limited routing (max score), routed scaling factor */
static void setup_v2_groups(ModelConfig *c) {
    c->n_group = 3; c->topk_group = 2; c->routed_scaling_factor = 1.7;
    snprintf(c->balance, sizeof c->balance, "aux");
    c->aux_alpha = 0.5;
}
/* V3 style: sigmoid, renormalized, x2.5, V3 group score, aux-loss-free bias (set nonzero) + sequence-wise loss */
static void setup_v3(ModelConfig *c) {
    snprintf(c->scoring_func, sizeof c->scoring_func, "sigmoid");
    c->norm_topk_prob = 1; c->routed_scaling_factor = 2.5; c->n_group = 3; c->topk_group = 2;
    c->n_shared_experts = 2;
    snprintf(c->balance, sizeof c->balance, "aux_free");
    c->seq_alpha = 0.4;
}
/* no balancing at all, top-1 */
static void setup_plain(ModelConfig *c) { c->num_experts_per_tok = 1; }

TEST(grad_moe_layer_v2_aux_device) { check_layer("moe v2 aux+device", setup_v2, 41); }
TEST(grad_moe_layer_v2_group_limited) { check_layer("moe v2 groups", setup_v2_groups, 42); }
TEST(grad_moe_layer_v3_sigmoid_seqwise) { check_layer("moe v3", setup_v3, 43); }
TEST(grad_moe_layer_top1_plain) { check_layer("moe top1", setup_plain, 44); }

/* ---- a whole tiny MoE transformer (first block dense, second MoE) ---- */
typedef struct { Model *m; int *tok, *tg; int B, T; Moe *moe; int *ref; int flipped; } MCtx;
static double mloss(void *p) {
    MCtx *c = p;
    double l = model_forward(c->m, c->tok, c->tg, c->B, c->T) + model_aux_loss(c->m);
    if (memcmp(c->ref, c->moe->r.idx, sizeof(int) * c->B * c->T * c->moe->K)) c->flipped = 1;
    return l;
}
TEST(grad_moe_model) {
    ModelConfig c;
    config_defaults(&c);
    c.vocab_size = 11; c.d_model = 8; c.n_layers = 2; c.n_heads = 2; c.d_ff = 12; c.seq_len = 6; c.init_std = 0.3;
    snprintf(c.ffn, sizeof c.ffn, "moe");
    c.n_routed_experts = 4; c.num_experts_per_tok = 2; c.n_shared_experts = 1; c.moe_intermediate_size = 6;
    c.first_k_dense_replace = 1;
    snprintf(c.balance, sizeof c.balance, "aux");
    c.aux_alpha = 0.2;
    Model *m = model_create(&c, 0);
    EXPECT(m != NULL);
    if (!m) return;
    int B = 2, T = 6, tok[12], tg[12], ref[24];
    Rng rng; rng_init(&rng, 9);
    for (int i = 0; i < 12; i++) { tok[i] = (int)rng_below(&rng, 11); tg[i] = (int)rng_below(&rng, 11); }
    EXPECT(model_plan(m, B, T) == 0);
    Moe *moe = moe_of(m->sub[3]);
    EXPECT(moe != NULL && moe_of(m->sub[1]) == NULL);
    MCtx x = {m, tok, tg, B, T, moe, ref, 0};
    K->zero(m->ps.grad, m->ps.total);
    model_forward(m, tok, tg, B, T);
    memcpy(ref, moe->r.idx, sizeof(int) * B * T * moe->K);
    model_backward(m, tok, tg, B, T);
    real *analytic = al_calloc(m->ps.total, sizeof(real), "test");
    memcpy(analytic, m->ps.grad, sizeof(real) * m->ps.total);
    for (int i = 0; i < m->ps.n; i++) {
        ParamInfo *p = &m->ps.info[i];
        char what[128];
        snprintf(what, sizeof what, "moe model %s", p->name);
        EXPECT(gc_check(mloss, &x, m->ps.data + p->offset, analytic + p->offset, p->numel, 8, what) < GC_TOL);
    }
    EXPECT(!x.flipped);
    al_free(analytic);
    rng_free(&rng);
    model_free(m);
}
