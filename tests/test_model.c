/* Model assembly: parameter counts by hand, meta mode = what training allocates, config validation,
 * learning below chance on a synthetic task, and bit-identical determinism. */
#include <math.h>
#include <string.h>

#include "arch/model.h"
#include "core/backend.h"
#include "data/data.h"
#include "tests/harness.h"
#include "train/trainer.h"

static ModelConfig cfg_small(void) {
    ModelConfig c;
    config_defaults(&c);
    c.vocab_size = 256; c.d_model = 128; c.n_layers = 4; c.n_heads = 4; c.d_ff = 352; c.seq_len = 128;
    return c;
}

TEST(param_count_by_hand) {
    ModelConfig c = cfg_small();
    Model *m = model_create(&c, 1);
    EXPECT(m != NULL);
    /* V C (embedding) + L (4 C^2 attention + 3 C F ffn + 2 C norms) + C (final norm) + V C (head) */
    size_t V = 256, C = 128, L = 4, F = 352;
    size_t expect = V * C + L * (4 * C * C + 3 * C * F + 2 * C) + C + V * C;
    EXPECT(m->ps.total == expect);
    EXPECT(ps_count(&m->ps, "attention") == L * 4 * C * C);
    model_free(m);
    /* GQA: k and v shrink to n_kv_heads * head_dim rows */
    c.n_heads = 8; c.n_kv_heads = 2; snprintf(c.attention, sizeof c.attention, "gqa");
    m = model_create(&c, 1);
    EXPECT(m && ps_count(&m->ps, "attention") == L * (2 * C * C + 2 * C * (2 * 16)));
    model_free(m);
}

TEST(meta_count_equals_allocation) {
    ModelConfig c = cfg_small();
    Model *meta = model_create(&c, 1), *real_m = model_create(&c, 0);
    EXPECT(meta && real_m);
    EXPECT(meta->ps.total == real_m->ps.total);
    EXPECT(meta->ps.data == NULL);
    EXPECT(model_plan(meta, 4, 64) == 0 && model_plan(real_m, 4, 64) == 0);
    EXPECT(meta->act.base == NULL && real_m->act.base != NULL);
    EXPECT(model_activation_elems(meta) == model_activation_elems(real_m));
    model_free(meta);
    model_free(real_m);
    /* a 27B-scale shape is counted without allocating anything */
    ModelConfig big = cfg_small();
    big.d_model = 8192; big.n_layers = 64; big.n_heads = 64; big.d_ff = 22016; big.vocab_size = 129280; big.seq_len = 4096;
    Model *b = model_create(&big, 1);
    EXPECT(b != NULL && b->ps.data == NULL);
    th_note("meta model: %.2f B parameters, nothing allocated", b ? b->ps.total / 1e9 : 0);
    EXPECT(b && b->ps.total > 30000000000ull);
    model_free(b);
}

TEST(config_errors_name_the_field) {
    ModelConfig c = cfg_small();
    c.n_heads = 5;
    EXPECT(model_create(&c, 1) == NULL);
    EXPECT(strstr(al_error_message(), "n_heads") != NULL);
    EXPECT(strcmp(config_suggest("n_head"), "n_heads") == 0);
    EXPECT(strcmp(config_suggest("dmodel"), "d_model") == 0);
    EXPECT(config_suggest("completely_unrelated_key") == NULL);
    ModelConfig d;
    config_defaults(&d);
    EXPECT(config_set_number(&d, config_field("n_layers"), 2.5) == -1);
    EXPECT(strstr(al_error_message(), "n_layers") && strstr(al_error_message(), "integer"));
    EXPECT(config_set_string(&d, config_field("attention"), "mla_typo") == -1);
    EXPECT(config_set_number(&d, config_field("d_model"), NAN) == -1);
}

static TrainOptions quick_opts(int steps) {
    TrainOptions o;
    train_defaults(&o);
    o.steps = steps; o.batch_size = 16; o.lr = 3e-3; o.quiet = 1; o.log_every = 10; o.eval_batches = 4;
    return o;
}

static ModelConfig cfg_tiny(int T) {
    ModelConfig c;
    config_defaults(&c);
    c.d_model = 64; c.n_layers = 2; c.n_heads = 4; c.d_ff = 192; c.seq_len = T;
    return c;
}

/* The copy task's symbols are i.i.d. uniform over the alphabet, so any predictor that does not read the
 * first copy has expected loss exactly ln(alphabet). A validation loss below a quarter of that is only
 * reachable by attending back to the first copy. */
TEST(learns_copy_task_below_chance) {
    ModelConfig c = cfg_tiny(32);
    Model *m = model_create(&c, 0);
    DataSource d;
    data_copy_init(&d, 8);
    TrainOptions o = quick_opts(200);
    TrainResult r;
    EXPECT(train_run(m, &d, &o, &r) == 0);
    double chance = data_chance_loss(&d);
    th_note("copy task: validation loss %.4f, chance ln(8) = %.4f", r.val_loss, chance);
    EXPECT(r.val_loss < 0.25 * chance);
    EXPECT(!r.diverged);
    train_result_free(&r);
    model_free(m);
}

TEST(determinism_bit_identical) {
    DataSource d;
    data_copy_init(&d, 8);
    double first[30];
    for (int rep = 0; rep < 2; rep++) {
        ModelConfig c = cfg_tiny(32);
        Model *m = model_create(&c, 0);
        TrainOptions o = quick_opts(30);
        TrainResult r;
        EXPECT(train_run(m, &d, &o, &r) == 0);
        const Series *s = metrics_get(&r.log, "loss");
        EXPECT(s && s->n == 30);
        if (rep == 0) memcpy(first, s->value, sizeof first);
        else EXPECT(memcmp(first, s->value, sizeof first) == 0);
        train_result_free(&r);
        model_free(m);
    }
}

TEST(divergence_is_recorded_and_stops) {
    ModelConfig c = cfg_tiny(32);
    Model *m = model_create(&c, 0);
    m->ps.data[0] = NAN; /* a poisoned embedding row reaches the loss as soon as its token appears */
    for (size_t i = 0; i < (size_t)c.d_model * 8; i++) m->ps.data[i] = NAN;
    DataSource d;
    data_copy_init(&d, 8);
    TrainOptions o = quick_opts(20);
    TrainResult r;
    EXPECT(train_run(m, &d, &o, &r) == 0);
    EXPECT(r.diverged);
    EXPECT(r.diverged_step == 1); /* the first step, counted from 1 like every record */
    train_result_free(&r);
    model_free(m);
}

TEST(train_option_errors) {
    ModelConfig c = cfg_tiny(32);
    Model *m = model_create(&c, 0);
    DataSource d;
    data_copy_init(&d, 8);
    TrainOptions o = quick_opts(5);
    TrainResult r;
    o.seq_len = 64; /* longer than the model's context */
    EXPECT(train_run(m, &d, &o, &r) == -1);
    EXPECT(strstr(al_error_message(), "seq_len") != NULL);
    train_result_free(&r);
    o = quick_opts(5);
    snprintf(o.schedule, sizeof o.schedule, "cosin");
    EXPECT(train_run(m, &d, &o, &r) == -1);
    EXPECT(strstr(al_error_message(), "schedule") != NULL);
    train_result_free(&r);
    model_free(m);
}
