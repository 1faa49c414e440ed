/* Gradient checks of whole modules: each sub-layer alone, and a complete tiny transformer. */
#include <math.h>
#include <string.h>

#include "arch/attention.h"
#include "arch/ffn.h"
#include "arch/model.h"
#include "tests/gradcheck.h"
#include "tests/harness.h"

static ModelConfig tiny_config(const char *attention, int n_kv) {
    ModelConfig c;
    config_defaults(&c);
    c.vocab_size = 11;
    c.d_model = 8;
    c.n_layers = 2;
    c.n_heads = 2;
    c.n_kv_heads = n_kv;
    c.d_ff = 12;
    c.seq_len = 6;
    c.init_std = 0.3; /* larger than training's 0.02, so every path carries a visible gradient */
    snprintf(c.attention, sizeof c.attention, "%s", attention);
    return c;
}

static void check_model(const char *attention, int n_kv, int heads) {
    ModelConfig cfg = tiny_config(attention, n_kv);
    cfg.n_heads = heads;
    Model *m = model_create(&cfg, 0);
    EXPECT(m != NULL);
    if (!m) { fprintf(stderr, "%s\n", al_error_message()); return; }
    int B = 2, T = 6, tok[12], tg[12];
    Rng rng; rng_init(&rng, 9);
    for (int i = 0; i < 12; i++) { tok[i] = (int)rng_below(&rng, 11); tg[i] = i == 4 ? -1 : (int)rng_below(&rng, 11); }
    EXPECT(gc_check_model(m, tok, tg, B, T, 12, attention) < GC_TOL);
    rng_free(&rng);
    model_free(m);
}

TEST(grad_model_mha) { check_model("mha", 0, 2); }
TEST(grad_model_gqa) { check_model("gqa", 2, 4); }
TEST(grad_model_mqa) { check_model("mqa", 0, 2); }
