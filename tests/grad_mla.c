/* Gradient checks of Multi-head Latent Attention: every parameter of tiny MLA transformers, with and
 * without query compression, with d_h != d_v and a RoPE part narrower than the head. */
#include <math.h>
#include <string.h>

#include "arch/model.h"
#include "tests/gradcheck.h"
#include "tests/harness.h"

static void check_mla(int q_lora, int dn, int dr, int dv) {
    ModelConfig c;
    config_defaults(&c);
    c.vocab_size = 11; c.d_model = 8; c.n_layers = 2; c.n_heads = 2; c.d_ff = 12; c.seq_len = 6;
    c.init_std = 0.3;
    snprintf(c.attention, sizeof c.attention, "mla");
    c.kv_lora_rank = 5; c.q_lora_rank = q_lora; c.qk_nope_head_dim = dn; c.qk_rope_head_dim = dr; c.v_head_dim = dv;
    Model *m = model_create(&c, 0);
    EXPECT(m != NULL);
    if (!m) { fprintf(stderr, "%s\n", al_error_message()); return; }
    int B = 2, T = 6, tok[12], tg[12];
    Rng rng; rng_init(&rng, 21);
    for (int i = 0; i < 12; i++) { tok[i] = (int)rng_below(&rng, 11); tg[i] = i == 3 ? -1 : (int)rng_below(&rng, 11); }
    char label[32];
    snprintf(label, sizeof label, "mla q%d", q_lora);
    EXPECT(gc_check_model(m, tok, tg, B, T, 12, label) < GC_TOL);
    int seen_kvb = 0;
    for (int i = 0; i < m->ps.n; i++) seen_kvb |= strstr(m->ps.info[i].name, "kv_b_proj") != NULL;
    EXPECT(seen_kvb);
    EXPECT((q_lora > 0) == (ps_find(&m->ps, "model.layers.0.self_attn.q_a_layernorm.weight") != NULL));
    rng_free(&rng);
    model_free(m);
}

TEST(grad_model_mla) { check_mla(0, 4, 2, 3); }
TEST(grad_model_mla_q_lora) { check_mla(3, 2, 4, 5); }
