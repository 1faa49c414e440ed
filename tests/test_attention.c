/* Attention families and decoding: cached decoding (MHA/GQA/MQA, naive and absorbed MLA) against the
 * training forward, RoPE at an offset against hand rotations, KV-cache bytes against DeepSeek-V2 Table 1
 * worked by hand, greedy/sampled generation, and bad input naming the field. */
#include <math.h>
#include <string.h>

#include "arch/kinds.h"
#include "arch/kv_cache.h"
#include "arch/model.h"
#include "arch/rope.h"
#include "core/backend.h"
#include "tests/harness.h"

static ModelConfig small_cfg(const char *attention) {
    ModelConfig c;
    config_defaults(&c);
    c.vocab_size = 37; c.d_model = 32; c.n_layers = 2; c.n_heads = 4; c.d_ff = 48; c.seq_len = 40;
    c.init_std = 0.15; /* sharper attention than training's 0.02, so positions matter */
    snprintf(c.attention, sizeof c.attention, "%s", attention);
    if (!strcmp(attention, "gqa")) c.n_kv_heads = 2;
    if (!strcmp(attention, "mla")) { c.kv_lora_rank = 12; c.qk_rope_head_dim = 4; c.qk_nope_head_dim = 6; c.v_head_dim = 10; }
    return c;
}

/* Full forward logits of B x T tokens vs decoding them in uneven chunks (prefill, single tokens, a chunk). */
static double decode_vs_forward(ModelConfig c, int mla_naive) {
    Model *m = model_create(&c, 0);
    EXPECT(m != NULL);
    if (!m) { th_note("%s", al_error_message()); return 1e9; }
    int B = 2, T = 29, V = c.vocab_size, tok[58];
    Rng r; rng_init(&r, 5);
    for (int i = 0; i < B * T; i++) tok[i] = (int)rng_below(&r, V);
    rng_free(&r);
    EXPECT(model_plan(m, B, T) == 0);
    model_forward(m, tok, NULL, B, T);
    real *full = al_calloc((size_t)B * T * V, sizeof(real), "test");
    memcpy(full, model_logits(m), sizeof(real) * B * T * V);
    KVCache *kv = model_kv_cache(m, B, 32);
    kv->mla_naive = mla_naive;
    int chunks[] = {7, 1, 1, 5, 1, 12, 2}, p = 0, buf[64];
    double worst = 0;
    for (int ci = 0; ci < 7; ci++) {
        int n = chunks[ci];
        for (int b = 0; b < B; b++)
            for (int t = 0; t < n; t++) buf[b * n + t] = tok[b * T + p + t];
        EXPECT(model_decode(m, kv, buf, B, n) == 0);
        const real *lg = model_logits(m);
        for (int b = 0; b < B; b++)
            for (int t = 0; t < n; t++)
                for (int v = 0; v < V; v++)
                    worst = fmax(worst, fabs(lg[((size_t)b * n + t) * V + v] - full[((size_t)b * T + p + t) * V + v]));
        p += n;
    }
    EXPECT(p == T && kv->len == T);
    kv_cache_free(kv);
    al_free(full);
    model_free(m);
    return worst;
}

TEST(decode_equals_forward_all_attention_types) {
    const char *types[] = {"mha", "gqa", "mqa", "mla"};
    for (int i = 0; i < 4; i++) {
        double d = decode_vs_forward(small_cfg(types[i]), 0);
        th_note("%-4s%s cached decode vs full forward: max abs logit difference %.2e", types[i],
                i == 3 ? " absorbed" : "", d);
        EXPECT(d < 1e-4);
    }
    double d = decode_vs_forward(small_cfg("mla"), 1);
    th_note("mla naive cached decode vs full forward: max abs logit difference %.2e", d);
    EXPECT(d < 1e-4);
    ModelConfig q = small_cfg("mla");
    q.q_lora_rank = 10;
    d = decode_vs_forward(q, 0);
    th_note("mla (q_lora_rank 10) absorbed: max abs logit difference %.2e", d);
    EXPECT(d < 1e-4);
}

TEST(rope_at_offset_by_hand) {
    /* rot = 4 (pairs (0,2), (1,3)), theta = (1, 10000^(-1/2) = 0.01); the rope part sits at dims 3..6 of a
     * head of stride 7 (as MLA's q_R after the nope part); decoding at position 5 uses the tables from
     * row 5: angles 5 and 0.05 */
    real cs[8 * 2], sn[8 * 2];
    rope_tables(cs, sn, 8, 4, 10000);
    real x[7] = {9, 9, 9, 1, 2, 3, 4};
    K->rope(x + 3, 1, 1, 1, 7, 4, 7, cs + 5 * 2, sn + 5 * 2, 0);
    EXPECT(x[0] == 9 && x[1] == 9 && x[2] == 9); /* the non-rope part is untouched */
    EXPECT_NEAR(x[3], 1 * cos(5.0) - 3 * sin(5.0), 1e-6);
    EXPECT_NEAR(x[5], 1 * sin(5.0) + 3 * cos(5.0), 1e-6);
    EXPECT_NEAR(x[4], 2 * cos(0.05) - 4 * sin(0.05), 1e-6);
    EXPECT_NEAR(x[6], 2 * sin(0.05) + 4 * cos(0.05), 1e-6);
    /* relative positions: q at 7 and k at 5 score like q at 2 and k at 0 */
    real q1[4] = {1, -2, 0.5f, 3}, k1[4] = {0.3f, 1, -1, 2}, q2[4], k2[4];
    memcpy(q2, q1, sizeof q1); memcpy(k2, k1, sizeof k1);
    K->rope(q1, 1, 1, 1, 4, 4, 4, cs + 7 * 2, sn + 7 * 2, 0);
    K->rope(k1, 1, 1, 1, 4, 4, 4, cs + 5 * 2, sn + 5 * 2, 0);
    K->rope(q2, 1, 1, 1, 4, 4, 4, cs + 2 * 2, sn + 2 * 2, 0);
    double d1 = 0, d2 = 0;
    for (int i = 0; i < 4; i++) { d1 += q1[i] * k1[i]; d2 += q2[i] * k2[i]; }
    EXPECT_NEAR(d1, d2, 1e-5);
}

/* bytes measured after the layers have appended, against the V2 Table 1 formula worked by hand */
static void check_bytes(ModelConfig c, double per_token_by_hand) {
    Model *m = model_create(&c, 0);
    EXPECT(m != NULL);
    if (!m) { th_note("%s", al_error_message()); return; }
    int B = 3, L = 20, tok[3] = {1, 2, 3};
    KVCache *kv = model_kv_cache(m, B, L);
    EXPECT(model_decode(m, kv, tok, B, 1) == 0);
    size_t expect = (size_t)(per_token_by_hand * B * L * sizeof(real));
    th_note("%-4s n_h %d n_kv %d d_h %d d_c %d d_hR %d layers %d: %zu bytes for %d x %d tokens (%.0f elements/token)",
            c.attention, c.n_heads, m->cfg.n_kv_heads, m->cfg.head_dim, c.kv_lora_rank, m->cfg.qk_rope_head_dim,
            c.n_layers, kv_cache_bytes(kv), B, L, per_token_by_hand);
    EXPECT(kv_cache_bytes(kv) == expect);
    EXPECT(kv_elems_per_token(&m->cfg) == per_token_by_hand);
    kv_cache_free(kv);
    model_free(m);
}

TEST(kv_cache_bytes_equal_formula) {
    ModelConfig c = small_cfg("mha"); /* 2 n_h d_h l = 2 * 4 * 8 * 2 */
    check_bytes(c, 128);
    c.n_layers = 3; c.d_model = 64; c.n_heads = 8;   /* 2 * 8 * 8 * 3 */
    check_bytes(c, 384);
    c = small_cfg("gqa");                            /* 2 n_g d_h l = 2 * 2 * 8 * 2 */
    check_bytes(c, 64);
    c.n_heads = 8; c.n_kv_heads = 4; c.d_model = 64; c.n_layers = 3; /* 2 * 4 * 8 * 3 */
    check_bytes(c, 192);
    c = small_cfg("mqa");                            /* 2 d_h l = 2 * 8 * 2 */
    check_bytes(c, 32);
    c = small_cfg("mla");                            /* (d_c + d_hR) l = (12 + 4) * 2 */
    check_bytes(c, 32);
    /* V2's ratios d_c = 4 d_h, d_hR = d_h / 2 (default): 4.5 d_h l = 4.5 * 16 * 3 */
    c = small_cfg("mla");
    c.d_model = 64; c.n_layers = 3; c.kv_lora_rank = 64; c.qk_rope_head_dim = 0; c.qk_nope_head_dim = 0; c.v_head_dim = 0;
    check_bytes(c, 216);
}

TEST(generate_greedy_matches_argmax_of_full_forward) {
    const char *types[] = {"mha", "mla"};
    for (int ti = 0; ti < 2; ti++) {
        ModelConfig c = small_cfg(types[ti]);
        Model *m = model_create(&c, 0);
        int B = 2, T0 = 5, n = 8, V = c.vocab_size, prompt[10] = {3, 4, 5, 6, 7, 9, 8, 7, 6, 5}, out[16];
        KVCache *kv = model_kv_cache(m, B, T0 + n);
        Rng r; rng_init(&r, 1);
        EXPECT(model_generate(m, kv, prompt, T0, n, 0, &r, 2, out) == 0);
        /* independent: one full forward over prompt + generated tokens; by causality, each generated token
         * must be the argmax of the logits at the position before it */
        int ok = 1;
        for (int b = 0; b < B; b++) {
            int seq[16], T = T0 + n;
            memcpy(seq, prompt + b * T0, sizeof(int) * T0);
            memcpy(seq + T0, out + b * n, sizeof(int) * n);
            model_plan(m, 1, T);
            model_forward(m, seq, NULL, 1, T);
            for (int i = 0; i < n; i++) {
                const real *lg = model_logits(m) + (size_t)(T0 + i - 1) * V;
                int best = 0;
                for (int v = 1; v < V; v++) if (lg[v] > lg[best]) best = v;
                ok &= out[b * n + i] == best;
            }
        }
        EXPECT(ok);
        /* sampling: reproducible from the seed, and near-zero temperature is greedy */
        int s1[16], s2[16], s3[16];
        rng_free(&r); rng_init(&r, 7);
        kv_cache_reset(kv); EXPECT(model_generate(m, kv, prompt, T0, n, 1.0, &r, 0, s1) == 0);
        rng_free(&r); rng_init(&r, 7);
        kv_cache_reset(kv); EXPECT(model_generate(m, kv, prompt, T0, n, 1.0, &r, 0, s2) == 0);
        kv_cache_reset(kv); EXPECT(model_generate(m, kv, prompt, T0, n, 1e-4, &r, 0, s3) == 0);
        EXPECT(memcmp(s1, s2, sizeof(int) * B * n) == 0);
        EXPECT(memcmp(s3, out, sizeof(int) * B * n) == 0);
        /* past the cache: an error, not a crash */
        kv_cache_reset(kv);
        EXPECT(model_generate(m, kv, prompt, T0, n + 2, 0, &r, 0, out) == -1);
        EXPECT(strstr(al_error_message(), "seq_len") != NULL);
        rng_free(&r);
        kv_cache_free(kv);
        model_free(m);
    }
}

TEST(sample_tokens_by_hand) {
    /* logits (0, ln 3): softmax (1/4, 3/4); inverse CDF: u < 0.25 -> 0, else 1; argmax 1 */
    real lg[2] = {0, (real)log(3.0)};
    double u[1];
    int t;
    u[0] = 0.2; K->sample_tokens(&t, lg, u, 1, 2, 1); EXPECT(t == 0);
    u[0] = 0.3; K->sample_tokens(&t, lg, u, 1, 2, 1); EXPECT(t == 1);
    u[0] = 0.0; K->sample_tokens(&t, lg, u, 1, 2, 0); EXPECT(t == 1);
    /* temperature 2: weights (1, sqrt 3): P(0) = 1 / (1 + 1.732) = 0.366 */
    u[0] = 0.35; K->sample_tokens(&t, lg, u, 1, 2, 2); EXPECT(t == 0);
    u[0] = 0.38; K->sample_tokens(&t, lg, u, 1, 2, 2); EXPECT(t == 1);
}

static void expect_error(ModelConfig c, const char *field) {
    Model *m = model_create(&c, 1);
    EXPECT(m == NULL);
    const char *msg = al_error_message();
    if (!strstr(msg, field)) th_note("expected '%s' in: %s", field, msg);
    EXPECT(strstr(msg, field) != NULL);
    model_free(m);
}

TEST(attention_bad_input_names_the_field) {
    ModelConfig c = small_cfg("mla");
    c.kv_lora_rank = 0;
    expect_error(c, "kv_lora_rank");
    c.kv_lora_rank = -4;
    expect_error(c, "kv_lora_rank");
    c = small_cfg("mla");
    c.qk_rope_head_dim = 5;
    expect_error(c, "qk_rope_head_dim");
    c = small_cfg("mha");
    c.head_dim = 7;
    expect_error(c, "head_dim");
    c = small_cfg("gqa");
    c.n_kv_heads = 3;
    expect_error(c, "n_kv_heads");
    /* the Hugging Face name sets the same field */
    ModelConfig d = small_cfg("gqa");
    EXPECT(config_set_number(&d, config_field("num_key_value_heads"), 3) == 0 && d.n_kv_heads == 3);
    EXPECT(config_set_number(&d, config_field("kv_lora_rank"), -1) == -1 && strstr(al_error_message(), "kv_lora_rank"));
    /* a context longer than the model's maximum */
    c = small_cfg("mqa");
    Model *m = model_create(&c, 0);
    EXPECT(model_kv_cache(m, 1, c.seq_len + 1) == NULL);
    EXPECT(strstr(al_error_message(), "seq_len") != NULL);
    KVCache *kv = model_kv_cache(m, 1, 4);
    int tok[5] = {1, 2, 3, 4, 5};
    EXPECT(model_decode(m, kv, tok, 1, 5) == -1);
    EXPECT(strstr(al_error_message(), "seq_len") != NULL);
    EXPECT(model_decode(m, kv, tok, 2, 1) == -1);
    kv_cache_free(kv);
    model_free(m);
}

#include "analysis/niah.h"
#include "train/trainer.h"

TEST(niah_generator_layout) {
    DataSource d;
    EXPECT(data_niah_init(&d, 4, 5, 6, 256) == 0);
    Rng r; rng_init(&r, 3);
    int tok[40], tg[40];
    /* depth 0.5 of L = 40: needle at 1 + round(0.5 * 34) = 18 */
    int v = niah_sequence(&d, &r, 40, 0.5, tok, tg);
    EXPECT(tok[0] == NIAH_BOS && tok[18] == NIAH_NEEDLE && tok[38] == NIAH_QUERY);
    EXPECT(tok[19] == tok[39]);                     /* the query asks for the needle's key */
    EXPECT(tok[20] == v && tg[39] == v);            /* the answer is the needle's value */
    EXPECT(v >= NIAH_SYM + 4 && v < NIAH_SYM + 9);  /* values follow the 4 keys */
    int targets = 0, markers = 0;
    for (int t = 0; t < 40; t++) {
        targets += tg[t] >= 0;
        markers += tok[t] == NIAH_NEEDLE || tok[t] == NIAH_QUERY;
        if (t != 0 && (t < 18 || t > 20) && t < 38) EXPECT(tok[t] >= NIAH_SYM + 9 && tok[t] < NIAH_SYM + 15);
    }
    EXPECT(targets == 1 && markers == 2);
    EXPECT(niah_needle_pos(40, 0) == 1 && niah_needle_pos(40, 1) == 35); /* 35..37, then the query */
    EXPECT(data_niah_init(&d, 100, 100, 100, 256) == -1 && strstr(al_error_message(), "filler"));
    rng_free(&r);
}

TEST(niah_tiny_model_recalls_above_chance) {
    /* values 8: chance recall 1/8 = 0.125. A 2-block MHA model trained ~80 steps on 32-token haystacks. */
    DataSource d;
    EXPECT(data_niah_init(&d, 8, 8, 16, 64) == 0);
    ModelConfig c;
    config_defaults(&c);
    c.vocab_size = 64; c.d_model = 32; c.n_layers = 2; c.n_heads = 2; c.d_ff = 64; c.seq_len = 64;
    Model *m = model_create(&c, 0);
    TrainOptions o;
    train_defaults(&o);
    o.steps = 80; o.batch_size = 16; o.seq_len = 32; o.lr = 1e-2; o.quiet = 1; o.eval_batches = 2;
    TrainResult tr;
    EXPECT(train_run(m, &d, &o, &tr) == 0);
    int lengths[3] = {16, 32, 64};
    double depths[3] = {0, 0.5, 1};
    NiahGrid g;
    EXPECT(niah_evaluate(m, &d, lengths, 3, depths, 3, 16, 1, 16, &g) == 0);
    EXPECT(g.n_len == 3 && g.n_depth == 3 && g.recall && g.chance == 0.125);
    double at32 = 0;
    for (int j = 0; j < 3; j++) {
        th_note("depth %.1f: recall %.3f (L 16)  %.3f (L 32)  %.3f (L 64)", depths[j], g.recall[j * 3],
                g.recall[j * 3 + 1], g.recall[j * 3 + 2]);
        at32 += g.recall[j * 3 + 1] / 3;
    }
    th_note("mean recall at the training length 32: %.3f (chance 0.125); train %.1f s, grid %.2f s", at32, tr.seconds, g.seconds);
    EXPECT(at32 > 0.5);
    niah_grid_free(&g);
    /* a context beyond the model's maximum names the field */
    int too_long[1] = {65};
    EXPECT(niah_evaluate(m, &d, too_long, 1, depths, 1, 2, 1, 16, &g) == -1);
    EXPECT(strstr(al_error_message(), "lengths") && strstr(al_error_message(), "seq_len"));
    train_result_free(&tr);
    model_free(m);
}

/* Training attention keeps each row's log-sum-exp and recomputes probabilities in the backward, so the
 * planned activations + workspace grow linearly in T: equal steps in T give equal steps in memory (keeping the
 * B*H*T*T probabilities, as before, made the second difference L*B*H*(256^2 - 2*128^2 + 64^2) elements). */
TEST(training_attention_memory_linear_in_T) {
    const char *kinds[] = {"mha", "mla"};
    for (int k = 0; k < 2; k++) {
        size_t e[3];
        for (int i = 0; i < 3; i++) {
            ModelConfig c;
            config_defaults(&c);
            c.d_model = 64; c.n_layers = 2; c.n_heads = 4; c.d_ff = 128; c.seq_len = 256;
            snprintf(c.attention, sizeof c.attention, "%s", kinds[k]);
            if (k) { c.kv_lora_rank = 32; c.qk_nope_head_dim = 16; c.qk_rope_head_dim = 8; c.v_head_dim = 16; }
            Model *m = model_create(&c, 1);
            EXPECT(m != NULL);
            if (!m) return;
            EXPECT(model_plan(m, 2, 64 << i) == 0);
            e[i] = model_activation_elems(m);
            model_free(m);
        }
        th_note("%s: %zu, %zu, %zu elements at T 64, 128, 256", kinds[k], e[0], e[1], e[2]);
        EXPECT(e[2] - e[1] == 2 * (e[1] - e[0]));
    }
}
