/* The worked example of docs/EXTENDING.md: a toy residual family (tests/toy_kinds/residual_scaled.c) and a
 * toy attention kind (tests/toy_kinds/attention_uniform.c), each ONE file, joined to the registries by one
 * kind_register call here (the one row in arch/kinds.c that shipping them would take). From that alone the
 * config accepts their names, models build, train and decode with them, and their gradients are exact.
 * Expected values by hand (the uniform average, the branch scale) and by finite differences. */
#include <math.h>
#include <string.h>

#include "arch/kinds.h"
#include "arch/kv_cache.h"
#include "arch/model.h"
#include "data/data.h"
#include "tests/gradcheck.h"
#include "tests/harness.h"
#include "train/trainer.h"

extern const ResidualKind residual_kind_scaled;   /* tests/toy_kinds/residual_scaled.c */
extern const AttentionKind attention_kind_uniform; /* tests/toy_kinds/attention_uniform.c */

/* the "one row" of each toy kind */
static void register_toys(void) {
    static int done;
    if (done) return;
    done = 1;
    EXPECT(kind_register(KIND_RESIDUAL, &residual_kind_scaled.info) == 0);
    EXPECT(kind_register(KIND_ATTENTION, &attention_kind_uniform.info) == 0);
}

static ModelConfig toy_config(const char *residual, const char *attention, const char *ffn) {
    ModelConfig c;
    config_defaults(&c);
    c.vocab_size = 11; c.d_model = 8; c.n_layers = 2; c.n_heads = 2; c.d_ff = 12; c.seq_len = 8;
    c.init_std = 0.3; /* a visible gradient on every path */
    EXPECT(config_set_string(&c, config_field("residual"), residual) == 0);
    EXPECT(config_set_string(&c, config_field("attention"), attention) == 0);
    EXPECT(config_set_string(&c, config_field("ffn"), ffn) == 0);
    if (!strcmp(attention, "mla")) { c.kv_lora_rank = 6; c.qk_rope_head_dim = 2; }
    c.n_routed_experts = 4; c.num_experts_per_tok = 2; c.n_shared_experts = 1;
    return c;
}

TEST(toy_kinds_join_the_registries) {
    register_toys();
    EXPECT(strstr(kind_names(KIND_RESIDUAL), "|scaled") != NULL);
    EXPECT(strstr(kind_names(KIND_ATTENTION), "|uniform") != NULL);
    EXPECT(strstr(config_field_choices(config_field("attention")), "uniform") != NULL);
    EXPECT(kind_register(KIND_RESIDUAL, &residual_kind_scaled.info) == -1); /* a name is taken once */
    EXPECT(strstr(al_error_message(), "exists already") != NULL);
    ModelConfig c;
    config_defaults(&c);
    EXPECT(config_set_string(&c, config_field("attention"), "unifrom") == -1); /* still no fallback */
    EXPECT(strstr(al_error_message(), "mha|gqa|mqa|mla|uniform") != NULL);
}

static void check_grads(const char *residual, const char *attention, const char *ffn) {
    register_toys();
    ModelConfig c = toy_config(residual, attention, ffn);
    Model *m = model_create(&c, 0);
    EXPECT(m != NULL);
    if (!m) { th_note("%s", al_error_message()); return; }
    int B = 2, T = 8, tok[16], tg[16];
    Rng rng; rng_init(&rng, 4);
    for (int i = 0; i < 16; i++) { tok[i] = (int)rng_below(&rng, 11); tg[i] = (int)rng_below(&rng, 11); }
    rng_free(&rng);
    char label[64];
    snprintf(label, sizeof label, "%s/%s/%s", residual, attention, ffn);
    EXPECT(gc_check_model(m, tok, tg, B, T, 12, label) < GC_TOL);
    model_free(m);
}

TEST(grad_toy_scaled_uniform) { check_grads("scaled", "uniform", "dense"); }
TEST(grad_toy_scaled_mla_moe) { check_grads("scaled", "mla", "moe"); }
TEST(grad_toy_uniform_mhc) { check_grads("mhc", "uniform", "dense"); }

/* One block whose FFN outputs zero (down_proj = 0): the residual output is x0 + beta F_attn(x0) for "scaled"
 * and x0 + F_attn(x0) for the standard residual, with the same attention weights: beta = 1/sqrt(2). */
TEST(toy_scaled_branch_scale_by_hand) {
    register_toys();
    Model *m[2];
    const char *kinds[2] = {"scaled", "residual"};
    int B = 1, T = 8, tok[8] = {1, 5, 2, 7, 7, 3, 0, 9};
    real *out[2], *x0 = NULL;
    for (int k = 0; k < 2; k++) {
        ModelConfig c = toy_config(kinds[k], "mha", "dense");
        c.n_layers = 1;
        m[k] = model_create(&c, 0);
        EXPECT(m[k] && model_plan(m[k], B, T) == 0);
        const ParamInfo *down = ps_find(&m[k]->ps, "model.layers.0.mlp.down_proj.weight");
        memset(m[k]->ps.data + down->offset, 0, sizeof(real) * down->numel);
        model_forward(m[k], tok, NULL, B, T);
        out[k] = residual_output(m[k]->res, &m[k]->ctx);
        x0 = residual_input(m[k]->res, &m[k]->ctx); /* the same embeddings in both (same seed, same layout) */
    }
    double worst = 0, beta = 1 / sqrt(2.0);
    for (int i = 0; i < T * 8; i++) worst = fmax(worst, fabs((out[0][i] - x0[i]) - beta * (out[1][i] - x0[i])));
    th_note("largest deviation from x0 + beta F(x0): %.3g", worst);
    EXPECT(worst < 1e-12);
    EXPECT(fabs(out[1][3] - x0[3]) > 1e-3); /* the branch is not zero */
    model_free(m[0]);
    model_free(m[1]);
}

/* The uniform attention sub-layer against the average worked here: v = W_V RMSNorm(x) (unit norm weights),
 * y_t = mean_{j <= t} v_j per head, out = W_O y. */
TEST(toy_uniform_attention_by_hand) {
    register_toys();
    ModelConfig c = toy_config("residual", "uniform", "dense");
    c.n_layers = 1;
    Model *m = model_create(&c, 0);
    EXPECT(m && model_plan(m, 1, 8) == 0);
    int B = 1, T = 8, C = 8, W = 8; /* 2 heads of 4 */
    Rng rng; rng_init(&rng, 7);
    real x[64], out[64];
    gc_fill(x, 64, &rng, 1.0);
    rng_free(&rng);
    m->sub[0].ops->forward(m->sub[0].self, &m->ctx, out, x, B, T);
    const real *wv = m->ps.data + ps_find(&m->ps, "model.layers.0.self_attn.v_proj.weight")->offset;
    const real *wo = m->ps.data + ps_find(&m->ps, "model.layers.0.self_attn.o_proj.weight")->offset;
    double v[8][8], y[8][8], worst = 0;
    for (int t = 0; t < T; t++) {
        double ss = 0;
        for (int i = 0; i < C; i++) ss += x[t * C + i] * x[t * C + i];
        double r = 1 / sqrt(ss / C + c.norm_eps);
        for (int o = 0; o < W; o++) {
            v[t][o] = 0;
            for (int i = 0; i < C; i++) v[t][o] += wv[o * C + i] * x[t * C + i] * r;
        }
        for (int o = 0; o < W; o++) {
            y[t][o] = 0;
            for (int j = 0; j <= t; j++) y[t][o] += v[j][o] / (t + 1);
        }
        for (int o = 0; o < C; o++) {
            double s = 0;
            for (int i = 0; i < W; i++) s += wo[o * W + i] * y[t][i];
            worst = fmax(worst, fabs(s - out[t * C + o]));
        }
    }
    th_note("largest deviation from the hand average: %.3g", worst);
    EXPECT(worst < 1e-12);
    model_free(m);
}

/* Decoding with the toy attention (its cache holds values only) gives the training forward's logits, and the
 * cache holds exactly what its kv_elems says: H d_h per token and layer. */
TEST(toy_uniform_decodes_from_its_cache) {
    register_toys();
    ModelConfig c = toy_config("scaled", "uniform", "dense");
    Model *m = model_create(&c, 0);
    int B = 2, T = 8, V = 11, tok[16];
    for (int i = 0; i < 16; i++) tok[i] = (i * 7 + 3) % V;
    EXPECT(model_plan(m, B, T) == 0);
    model_forward(m, tok, NULL, B, T);
    real full[16 * 11];
    memcpy(full, model_logits(m), sizeof full);
    KVCache *kv = model_kv_cache(m, B, T);
    double worst = 0;
    for (int t = 0; t < T; t++) {
        int step[2] = {tok[t], tok[T + t]};
        EXPECT(model_decode(m, kv, step, B, 1) == 0);
        for (int b = 0; b < B; b++)
            for (int v = 0; v < V; v++) worst = fmax(worst, fabs(model_logits(m)[b * V + v] - full[(b * T + t) * V + v]));
    }
    th_note("decode vs forward: %.3g", worst);
    EXPECT(worst < 1e-12);
    EXPECT(kv_elems_per_token(&m->cfg) == 2.0 * 2 * 4); /* layers x heads x head_dim */
    EXPECT(kv_cache_bytes(kv) == (size_t)(2 * 2 * 4) * B * T * sizeof(real));
    kv_cache_free(kv);
    model_free(m);
}

/* Both toys train: on the copy task the loss falls from ln 256 to the task's chance level ln 8 in 60 steps
 * (what the alphabet alone gives; averaging every earlier token cannot copy a position). */
TEST(toy_kinds_train) {
    register_toys();
    ModelConfig c = toy_config("scaled", "uniform", "dense");
    c.vocab_size = 256; c.d_model = 32; c.n_heads = 4; c.d_ff = 64; c.seq_len = 32; c.init_std = 0.02;
    Model *m = model_create(&c, 0);
    DataSource d;
    data_copy_init(&d, 8);
    TrainOptions o;
    train_defaults(&o);
    o.steps = 60; o.batch_size = 8; o.lr = 1e-2; o.quiet = 1; o.eval_batches = 2;
    TrainResult r;
    EXPECT(train_run(m, &d, &o, &r) == 0);
    th_note("loss %.3f -> %.3f (chance %.3f)", metrics_get(&r.log, "loss")->value[0], r.train_loss, data_chance_loss(&d));
    EXPECT(r.train_loss < 0.5 * metrics_get(&r.log, "loss")->value[0] && r.train_loss < 1.05 * data_chance_loss(&d));
    train_result_free(&r);
    data_free(&d);
    model_free(m);
}
