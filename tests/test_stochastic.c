/* analysis/stochastic.c: the distance of the recorded H_res from doubly stochastic, against a direct
 * recomputation from residual_hres, on trained mHC and HC models; the disabled mapping (identity) has none;
 * fewer Sinkhorn iterations leave a larger column error; the standard residual is refused by name. */
#include <math.h>
#include <string.h>

#include "analysis/stochastic.h"
#include "arch/model.h"
#include "data/data.h"
#include "tests/harness.h"
#include "train/trainer.h"

static Model *trained(const char *residual, int iters, int h_res) {
    ModelConfig c;
    config_defaults(&c);
    c.d_model = 32; c.n_layers = 2; c.n_heads = 4; c.d_ff = 64; c.seq_len = 16;
    snprintf(c.residual, sizeof c.residual, "%s", residual);
    if (iters) c.sinkhorn_iters = iters;
    c.h_res = h_res;
    Model *m = model_create(&c, 0);
    AL_ASSERT(m);
    DataSource d;
    data_copy_init(&d, 8);
    TrainOptions o;
    train_defaults(&o);
    o.steps = 20; o.batch_size = 4; o.quiet = 1; o.lr = 3e-2; o.eval_batches = 1;
    TrainResult r;
    AL_ASSERT(train_run(m, &d, &o, &r) == 0);
    train_result_free(&r);
    return m;
}

/* token-mean of max_j |col sum - 1| of layer l, straight from the recorded mappings */
static double direct_col_err(const Model *m, int l, int tokens) {
    const Residual *r = m->res;
    int n = r->n;
    const real *h0 = residual_hres(r, (Ctx *)&m->ctx, l);
    double acc = 0;
    for (int t = 0; t < tokens; t++) {
        double e = 0;
        for (int j = 0; j < n; j++) {
            double s = 0;
            for (int i = 0; i < n; i++) s += h0[(size_t)t * n * n + i * n + j];
            e = fmax(e, fabs(s - 1));
        }
        acc += e;
    }
    return acc / tokens;
}

TEST(stochastic_error_of_recorded_hres) {
    Model *m = trained("mhc", 3, 1);
    HresStochastic s;
    EXPECT(hres_stochastic(&s, m, 0) == 0);
    EXPECT(s.S == 4 && s.n == 4 && s.tokens > 0);
    for (int l = 0; l < s.S; l++) {
        EXPECT(s.row_err[l] < 1e-5); /* Sinkhorn ends on the rows */
        EXPECT(s.col_err[l] >= 0 && s.min_entry[l] >= 0);
        EXPECT_NEAR(s.col_err[l], direct_col_err(m, l, s.tokens), 1e-9);
        EXPECT(s.col_err_max >= s.col_err[l]);
    }
    double few = 0;
    for (int l = 0; l < s.S; l++) few += s.col_err[l] / s.S;
    hres_stochastic_free(&s);
    model_free(m);
    /* the same training with 50 iterations leaves a smaller column error */
    m = trained("mhc", 50, 1);
    EXPECT(hres_stochastic(&s, m, 0) == 0);
    double many = 0;
    for (int l = 0; l < s.S; l++) many += s.col_err[l] / s.S;
    th_note("mean column-sum error after 20 steps: t_max 3 %.3g, t_max 50 %.3g", few, many);
    EXPECT(many < few);
    hres_stochastic_free(&s);
    model_free(m);
}

TEST(stochastic_error_identity_and_refusal) {
    Model *m = trained("hc", 0, 0); /* H_res switched off: the identity */
    HresStochastic s;
    EXPECT(hres_stochastic(&s, m, 0) == 0);
    for (int l = 0; l < s.S; l++) EXPECT(s.col_err[l] == 0 && s.row_err[l] == 0);
    hres_stochastic_free(&s);
    model_free(m);
    m = trained("residual", 0, 1);
    EXPECT(hres_stochastic(&s, m, 0) == -1);
    EXPECT(strstr(al_error_message(), "residual = \"hc\" or \"mhc\"") != NULL);
    model_free(m);
}

/* A measurement at a smaller batch than the model was planned for (trained at 4 x 16, measured at 2 x 16)
 * reads the mappings of the tokens it ran: the same gains and column errors as a fresh model with the same
 * weights planned for that batch alone. (Reading at the planned batch's stride took other tokens: half of them
 * left over from an earlier forward.) */
#include "analysis/hres.h"
TEST(hres_measured_at_a_smaller_batch) {
    const char *kinds[2] = {"hc", "mhc"};
    for (int k = 0; k < 2; k++) {
        Model *m = trained(kinds[k], 0, 1);
        Model *fresh = model_create(&m->cfg, 0);
        memcpy(fresh->ps.data, m->ps.data, sizeof(real) * m->ps.total);
        DataSource d;
        data_copy_init(&d, 8);
        EXPECT(model_plan(m, 2, 16) == 0 && model_plan(fresh, 2, 16) == 0);
        evaluate(m, &d, 2, 16, 1, SPLIT_VAL);
        evaluate(fresh, &d, 2, 16, 1, SPLIT_VAL);
        GainProfile a, b;
        EXPECT(gain_profile(&a, m, 0) == 0 && gain_profile(&b, fresh, 0) == 0);
        EXPECT(a.tokens == 32 && b.tokens == 32);
        double worst = 0;
        for (int l = 0; l < a.S; l++) {
            worst = fmax(worst, fabs(a.comp_fwd[l] - b.comp_fwd[l]) + fabs(a.comp_bwd[l] - b.comp_bwd[l]));
            worst = fmax(worst, fabs(direct_col_err(m, l, 32) - direct_col_err(fresh, l, 32)));
        }
        th_note("%s: largest difference to the fresh model: %.3g (composite fwd gain %.6f)", kinds[k], worst, a.comp_fwd[0]);
        EXPECT(worst == 0);
        gain_profile_free(&a);
        gain_profile_free(&b);
        model_free(fresh);
        model_free(m);
    }
}
