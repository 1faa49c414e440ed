/* Gradient checks of multi-token prediction (arch/mtp.h): the objective L_main + lambda / D sum_k L_MTP_k
 * (+ the MoE balance losses) against finite differences, for every parameter of tiny models with D = 1 and
 * D = 2 across the kinds (the MTP block is built from the model's own attention, FFN and residual kinds). */
#include <math.h>
#include <string.h>

#include "arch/model.h"
#include "arch/moe.h"
#include "arch/mtp.h"
#include "tests/gradcheck.h"
#include "tests/harness.h"

typedef struct { Model *m; const int *tok, *tg; int B, T; } ObjCtx;
static double objective(void *p) {
    ObjCtx *c = p;
    double main_loss = model_forward(c->m, c->tok, c->tg, c->B, c->T);
    return main_loss + model_mtp_loss(c->m) + model_aux_loss(c->m);
}

static ModelConfig tiny(const char *attention, const char *ffn, const char *residual, int depth) {
    ModelConfig c;
    config_defaults(&c);
    c.vocab_size = 11; c.d_model = 8; c.n_layers = 1; c.n_heads = 2; c.d_ff = 12; c.seq_len = 7;
    c.init_std = 0.3; /* larger than training's, so every path carries a visible gradient */
    snprintf(c.attention, sizeof c.attention, "%s", attention);
    snprintf(c.ffn, sizeof c.ffn, "%s", ffn);
    snprintf(c.residual, sizeof c.residual, "%s", residual);
    if (!strcmp(attention, "mla")) { c.kv_lora_rank = 5; c.qk_nope_head_dim = 4; c.qk_rope_head_dim = 2; c.v_head_dim = 3; }
    if (!strcmp(ffn, "moe")) {
        /* V3's MTP block is an MoE block: no top-K flip under the probes at this seed (checked below) */
        c.n_routed_experts = 4; c.num_experts_per_tok = 2; c.n_shared_experts = 1; c.moe_intermediate_size = 6;
        snprintf(c.balance, sizeof c.balance, "aux");
        c.aux_alpha = 0.2;
    }
    if (strcmp(residual, "residual")) { c.streams = 2; c.sinkhorn_iters = 4; }
    c.mtp_depth = depth;
    c.mtp_lambda = 0.7; /* not 1, so a missing or doubled weight shows */
    return c;
}

/* the routing of every MoE sub-layer (main and MTP blocks), to tell a probe that flipped a top-K choice */
static void routing(const Model *m, int N, int *out, int n) {
    int o = 0;
    for (int i = 0; i < m->n_sub + 2 * m->n_mtp; i++) {
        Sublayer s = i < m->n_sub ? m->sub[i] : m->mtp[(i - m->n_sub) / 2].sub[(i - m->n_sub) % 2];
        const Moe *moe = moe_of(s);
        if (!moe) continue;
        int k = N * moe->K;
        AL_ASSERT(o + k <= n);
        memcpy(out + o, moe->r.idx, sizeof(int) * k);
        o += k;
    }
}

static void check(const char *attention, const char *ffn, const char *residual, int depth, int samples) {
    ModelConfig cfg = tiny(attention, ffn, residual, depth);
    Model *m = model_create(&cfg, 0);
    EXPECT(m != NULL);
    if (!m) { fprintf(stderr, "%s\n", al_error_message()); return; }
    enum { B = 2, T = 7 };
    int tok[B * T], tg[B * T];
    Rng rng;
    rng_init(&rng, 77 + depth);
    /* move the structured inits (ones, identities, one-hots) so every parameter's gradient is generic */
    for (size_t i = 0; i < m->ps.total; i++) m->ps.data[i] += (real)rng_normal(&rng, 0.2);
    for (int i = 0; i < B * T; i++) { tok[i] = (int)rng_below(&rng, 11); tg[i] = i == 4 ? -1 : (int)rng_below(&rng, 11); }
    EXPECT(model_plan(m, B, T) == 0);
    K->zero(m->ps.grad, m->ps.total);
    ObjCtx x = {m, tok, tg, B, T};
    objective(&x);
    int ref[4096], now[4096];
    memset(ref, 0, sizeof ref);
    routing(m, B * T, ref, 4096);
    for (int k = 1; k <= depth; k++) {
        double loss, acc;
        model_mtp_depth_stats(m, k, &loss, &acc);
        EXPECT(loss > 0 && isfinite(loss));
    }
    model_backward(m, tok, tg, B, T);
    real *analytic = al_calloc(m->ps.total, sizeof(real), "test");
    memcpy(analytic, m->ps.grad, sizeof(real) * m->ps.total);
    double worst = 0;
    int mtp_tensors = 0;
    for (int i = 0; i < m->ps.n; i++) {
        ParamInfo *p = &m->ps.info[i];
        char what[160];
        snprintf(what, sizeof what, "mtp D=%d %s/%s/%s %s", depth, attention, ffn, residual, p->name);
        double e = gc_check(objective, &x, m->ps.data + p->offset, analytic + p->offset, p->numel, samples, what);
        worst = fmax(worst, e);
        mtp_tensors += !strcmp(p->component, "mtp");
    }
    EXPECT(worst < GC_TOL);
    objective(&x);
    memset(now, 0, sizeof now);
    routing(m, B * T, now, 4096);
    EXPECT(!memcmp(ref, now, sizeof(int) * 4096) || !strcmp(ffn, "dense"));
    th_note("mtp D=%d %s/%s/%s: %d parameter tensors, %d of them the MTP modules', worst relative error %.2e", depth,
            attention, ffn, residual, m->ps.n, mtp_tensors, worst);
    /* V3's names for module k's own tensors, numbered after the main stack (1 block here) */
    for (int k = 1; k <= depth; k++) {
        char name[96];
        const char *own[] = {"enorm.weight", "hnorm.weight", "eh_proj.weight", "shared_head.norm.weight"};
        for (int j = 0; j < 4; j++) {
            snprintf(name, sizeof name, "model.layers.%d.%s", k, own[j]);
            EXPECT(ps_find(&m->ps, name) != NULL);
        }
    }
    al_free(analytic);
    rng_free(&rng);
    model_free(m);
}

/* one module: its norms, eh_proj, block and head norm, and the shared embedding and head, every entry */
TEST(grad_mtp_module) { check("mha", "dense", "residual", 1, 1000); }
TEST(grad_mtp_model_depth2) { check("gqa", "dense", "residual", 2, 12); }
TEST(grad_mtp_model_depth2_mla_moe_mhc) { check("mla", "moe", "mhc", 2, 8); }
TEST(grad_mtp_model_depth2_hc) { check("mha", "dense", "hc", 2, 8); }
