/* Gradient checks of Multi-head Latent Attention: every parameter of tiny MLA transformers, with and
 * without query compression, with d_h != d_v and a RoPE part narrower than the head. */
#include <math.h>
#include <string.h>

#include "arch/model.h"
#include "tests/gradcheck.h"
#include "tests/harness.h"

typedef struct { Model *m; int *tok, *tg; int B, T; } MlaCtx;
static double mla_loss(void *p) {
    MlaCtx *c = p;
    return model_forward(c->m, c->tok, c->tg, c->B, c->T);
}

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
    EXPECT(model_plan(m, B, T) == 0);
    MlaCtx x = {m, tok, tg, B, T};
    K->zero(m->ps.grad, m->ps.total);
    model_forward(m, tok, tg, B, T);
    model_backward(m, tok, tg, B, T);
    real *analytic = al_calloc(m->ps.total, sizeof(real), "test");
    memcpy(analytic, m->ps.grad, sizeof(real) * m->ps.total);
    int seen_kvb = 0;
    for (int i = 0; i < m->ps.n; i++) {
        ParamInfo *p = &m->ps.info[i];
        if (strstr(p->name, "kv_b_proj")) seen_kvb = 1;
        char what[128];
        snprintf(what, sizeof what, "mla q%d %s", q_lora, p->name);
        double e = gc_check(mla_loss, &x, m->ps.data + p->offset, analytic + p->offset, p->numel, 12, what);
        EXPECT(e < GC_TOL);
    }
    EXPECT(seen_kvb);
    EXPECT((q_lora > 0) == (ps_find(&m->ps, "model.layers.0.self_attn.q_a_layernorm.weight") != NULL));
    al_free(analytic);
    rng_free(&rng);
    model_free(m);
}

TEST(grad_model_mla) { check_mla(0, 4, 2, 3); }
TEST(grad_model_mla_q_lora) { check_mla(3, 2, 4, 5); }
