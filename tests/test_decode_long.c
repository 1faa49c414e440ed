/* Decoding past 64 cached tokens with one sequence and shared kv heads (MQA, absorbed MLA) takes the path that
 * splits a group's query heads over threads (core/backend_cpu_attn.c): its logits must equal the full
 * forward's, on two threads. */
#include <math.h>
#include <string.h>

#include "arch/kv_cache.h"
#include "arch/model.h"
#include "tests/harness.h"

static double long_decode_vs_forward(const char *attention) {
    ModelConfig c;
    config_defaults(&c);
    c.vocab_size = 64; c.d_model = 32; c.n_layers = 2; c.n_heads = 4; c.d_ff = 48; c.seq_len = 128;
    snprintf(c.attention, sizeof c.attention, "%s", attention);
    if (!strcmp(attention, "mla")) { c.kv_lora_rank = 16; c.qk_rope_head_dim = 4; }
    Model *m = model_create(&c, 0);
    if (!m) { th_note("%s", al_error_message()); return 1e9; }
    int T = 96, T0 = 70, V = c.vocab_size, tok[96];
    Rng r;
    rng_init(&r, 6);
    for (int i = 0; i < T; i++) tok[i] = (int)rng_below(&r, V);
    rng_free(&r);
    model_plan(m, 1, T);
    model_forward(m, tok, NULL, 1, T);
    real *full = al_calloc((size_t)T * V, sizeof(real), "test");
    memcpy(full, model_logits(m), sizeof(real) * T * V);
    KVCache *kv = model_kv_cache(m, 1, T);
    double worst = 0;
    EXPECT(model_decode(m, kv, tok, 1, T0) == 0);
    for (int p = T0; p < T; p++) {
        EXPECT(model_decode(m, kv, tok + p, 1, 1) == 0);
        const real *lg = model_logits(m);
        for (int v = 0; v < V; v++) worst = fmax(worst, fabs(lg[v] - full[(size_t)p * V + v]));
    }
    kv_cache_free(kv);
    al_free(full);
    model_free(m);
    return worst;
}

TEST(decode_long_context_split_heads) {
    int saved = al_get_threads();
    al_set_threads(2);
    const char *types[2] = {"mqa", "mla"};
    for (int i = 0; i < 2; i++) {
        double d = long_decode_vs_forward(types[i]);
        th_note("%s, 2 threads, 70 prefilled + 26 decoded: max abs logit difference %.2e", types[i], d);
        EXPECT(d < 1e-4);
    }
    al_set_threads(saved);
}
