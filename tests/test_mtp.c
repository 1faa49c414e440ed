/* Multi-token prediction (arch/mtp.h, arch/speculative.h): D = 0 is the plain model exactly (and a zero weight
 * leaves the main model's training bit for bit unchanged), V3's MTP module counted by hand, speculative
 * decoding equal to greedy decoding token for token with its accounting, the configuration's errors. The
 * gradients are checked in tests/grad_mtp.c. */
#include <math.h>
#include <string.h>

#include "analysis/cost.h"
#include "arch/hf_config.h"
#include "arch/kv_cache.h"
#include "arch/model.h"
#include "arch/speculative.h"
#include "data/data.h"
#include "tests/harness.h"
#include "train/trainer.h"

static ModelConfig small_config(int depth) {
    ModelConfig c;
    config_defaults(&c);
    c.vocab_size = 16; c.d_model = 32; c.n_layers = 2; c.n_heads = 2; c.d_ff = 64; c.seq_len = 48;
    c.mtp_depth = depth;
    return c;
}

static TrainOptions options(int steps) {
    TrainOptions o;
    train_defaults(&o);
    o.steps = steps; o.batch_size = 8; o.seq_len = 32; o.lr = 1e-2; o.quiet = 1; o.eval_batches = 1;
    return o;
}

/* The modules' parameters come after every main-model parameter and their loss weight multiplies their whole
 * gradient: with lambda = 0 the main model trains exactly as without modules (same init draws, same loss
 * series, same weights, bit for bit), while the modules' own loss is still measured. */
TEST(mtp_zero_weight_trains_the_main_model_bit_for_bit) {
    DataSource d;
    data_copy_init(&d, 13); /* token ids: BOS 1, SEP 2, symbols 3 .. 15 (data/sampler.c) */
    ModelConfig c0 = small_config(0), c2 = small_config(2);
    c2.mtp_lambda = 0;
    Model *a = model_create(&c0, 0), *b = model_create(&c2, 0);
    EXPECT(a && b && a->n_mtp == 0 && b->n_mtp == 2);
    EXPECT(b->ps.total == a->ps.total + b->mtp_params && b->mtp_params > 0);
    for (int i = 0; i < a->ps.n; i++) EXPECT(!strcmp(a->ps.info[i].name, b->ps.info[i].name));
    EXPECT(!memcmp(a->ps.data, b->ps.data, sizeof(real) * a->ps.total));
    TrainOptions o = options(12);
    TrainResult ra, rb;
    EXPECT(train_run(a, &d, &o, &ra) == 0 && train_run(b, &d, &o, &rb) == 0);
    const Series *la = metrics_get(&ra.log, "loss"), *lb = metrics_get(&rb.log, "loss");
    EXPECT(la && lb && la->n == 12 && lb->n == 12 && !memcmp(la->value, lb->value, sizeof(double) * 12));
    EXPECT(!memcmp(a->ps.data, b->ps.data, sizeof(real) * a->ps.total));
    const Series *m1 = metrics_get(&rb.log, "mtp1.loss"), *m2 = metrics_get(&rb.log, "mtp2.accuracy");
    EXPECT(m1 && m2 && m1->n == 12 && isfinite(m1->value[11]) && m2->value[11] >= 0 && m2->value[11] <= 1);
    EXPECT(metrics_get(&ra.log, "mtp1.loss") == NULL);
    train_result_free(&ra);
    train_result_free(&rb);
    model_free(a);
    model_free(b);
}

/* The modules learn: on the copy task (a random first half, then the same symbols again) the second half is
 * predictable two and three tokens ahead, so each module's loss falls well below its start (about ln 16) */
TEST(mtp_modules_learn_to_predict_ahead) {
    DataSource d;
    data_copy_init(&d, 13);
    ModelConfig c = small_config(2);
    Model *m = model_create(&c, 0);
    TrainOptions o = options(150);
    TrainResult r;
    EXPECT(train_run(m, &d, &o, &r) == 0);
    for (int k = 1; k <= 2; k++) {
        char name[32];
        snprintf(name, sizeof name, "val_mtp%d.loss", k);
        double first = metrics_get(&r.log, "mtp1.loss")->value[0], last = metrics_last(&r.log, name);
        th_note("depth %d: training loss at step 1 %.3f, validation loss at the end %.3f", k, first, last);
        EXPECT(first > 2.5 && last < 0.75 * first);
    }
    train_result_free(&r);
    model_free(m);
}

/* Speculative decoding emits exactly the greedy tokens; each round emits its accepted drafts plus one token, the
 * prefill one more: rounds + accepted = n - 1. Trained (drafts mostly right) and untrained (mostly wrong). */
TEST(mtp_speculative_decoding_equals_greedy) {
    DataSource d;
    data_copy_init(&d, 13);
    for (int trained = 0; trained <= 1; trained++)
        for (int depth = 1; depth <= 3; depth += 2) {
            ModelConfig c = small_config(depth);
            Model *m = model_create(&c, 0);
            TrainResult r;
            TrainOptions o = options(120);
            if (trained) EXPECT(train_run(m, &d, &o, &r) == 0);
            int drafted = 0, accepted = 0, same = 1;
            for (int s = 0; s < 6; s++) {
                /* a copy-task prompt: BOS, k symbols, SEP; the model should continue with the k symbols */
                enum { N = 14 };
                int prompt[24], k = 8 + s, T0 = k + 2, greedy[N], spec[N];
                prompt[0] = 1;
                for (int i = 1; i <= k; i++) prompt[i] = 3 + (int)((i * 7 + s * 5) % 13);
                prompt[k + 1] = 2;
                KVCache *kv = model_kv_cache(m, 1, T0 + N - 1);
                EXPECT(kv && model_generate(m, kv, prompt, T0, N, 0, NULL, 5, greedy) == 0);
                kv_cache_free(kv);
                SpecStats st;
                EXPECT(model_generate_speculative(m, prompt, T0, N, 5, spec, &st) == 0);
                same &= !memcmp(greedy, spec, sizeof greedy);
                EXPECT(st.rounds + st.accepted == N - 1);
                EXPECT(st.drafted_at[0] <= st.rounds && st.accepted_at[0] <= st.drafted_at[0]);
                drafted += st.drafted;
                accepted += st.accepted;
            }
            EXPECT(same);
            th_note("%s, D = %d: %d of %d drafts accepted", trained ? "trained" : "untrained", depth, accepted, drafted);
            if (trained) { EXPECT(accepted > drafted / 3); train_result_free(&r); }
            model_free(m);
        }
}

/* V3's MTP module by hand (REFERENCE.md sec. 6; V3 sec. 2.2): one MoE block of the model's own shape, eh_proj
 * (7168 x 14336) and three norms, sharing the embedding and head; V3 counts 671B without it and 685B with it as
 * its checkpoint stores it (the module with its own copies of the embedding and head). */
TEST(mtp_counts_deepseek_v3_by_hand) {
    ModelConfig c;
    HfImport info;
    EXPECT(hf_config_load("tests/fixtures/deepseek-v3-config.json", &c, &info) == 0);
    EXPECT(c.mtp_depth == 1); /* num_nextn_predict_layers */
    ModelCost cost;
    EXPECT(model_cost(&c, 4096, 1, &cost) == 0);
    double C = 7168, H = 128;
    double attention = C * 1536 + 1536 + 1536 * H * (128 + 64) + C * (512 + 64) + 512 + 512 * H * (128 + 128) + H * 128 * C;
    double moe = 256 * 3 * C * 2048 + 1 * 3 * C * 2048 + 256 * C + 256; /* routed, shared, gate, its bias */
    double block = attention + moe + 2 * C;                                /* + the block's two norms */
    double module = block + C * 2 * C + 3 * C;                            /* + eh_proj, enorm, hnorm, head norm */
    double embed = 129280 * C;
    th_note("MTP module %.0f (hand) vs %zu; total %.4g, with the checkpoint's copies %.4g", module,
            cost.params.mtp_params, (double)cost.params.total_params,
            (double)(cost.params.total_params + cost.params.mtp_checkpoint_params));
    EXPECT((double)cost.params.mtp_params == module);
    EXPECT((double)cost.params.mtp_checkpoint_params == module + 2 * embed);
    EXPECT(fabs(cost.params.total_params / 671e9 - 1) < 0.001);
    EXPECT(fabs((cost.params.total_params + cost.params.mtp_checkpoint_params) / 685e9 - 1) < 0.001);
    /* activated by a token in the module: all but the 248 routed experts it is not sent to */
    EXPECT((double)cost.params.mtp_active_params == module - 248 * 3 * C * 2048);
}

TEST(mtp_config_errors) {
    ModelConfig c = small_config(0);
    EXPECT(config_set_number(&c, config_field("mtp_lambda"), 0.1) == 0);
    EXPECT(model_create(&c, 1) == NULL && strstr(al_error_message(), "mtp_lambda") && strstr(al_error_message(), "mtp_depth"));
    EXPECT(config_set_number(&c, config_field("mtp_depth"), 17) == -1 && strstr(al_error_message(), "mtp_depth"));
    /* the Hugging Face name is an alias: given both, they must agree */
    c = small_config(0);
    EXPECT(config_set_number(&c, config_field("mtp_depth"), 2) == 0);
    EXPECT(config_set_number(&c, config_field("num_nextn_predict_layers"), 1) == -1);
    /* speculative decoding needs modules */
    Model *m = model_create(&c, 0);
    c.mtp_depth = 0;
    Model *plain = model_create(&c, 0);
    int prompt[2] = {1, 2}, out[4];
    SpecStats st;
    EXPECT(model_generate_speculative(plain, prompt, 2, 4, 0, out, &st) == -1 && strstr(al_error_message(), "mtp_depth"));
    EXPECT(model_generate_speculative(m, prompt, 2, 48, 0, out, &st) == -1 && strstr(al_error_message(), "seq_len"));
    model_free(m);
    model_free(plain);
}
