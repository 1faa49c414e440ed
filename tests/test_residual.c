/* Residual families: Sinkhorn-Knopp properties, reductions to the standard residual, gains on hand-built
 * matrices, bad configs. */
#include <math.h>
#include <string.h>

#include "analysis/hres.h"
#include "arch/model.h"
#include "core/backend.h"
#include "core/stream_kernels.h"
#include "data/data.h"
#include "tests/harness.h"
#include "train/trainer.h"

/* Sinkhorn runs VLEN tokens at a time across SIMD lanes (core/streams_cpu.c; 16 in float, 8 in double): each
 * token's result must not depend on its neighbours or its position in the batch: a batch of 19 (full blocks
 * and a padded tail) gives, bit for bit, what each token gives alone; also for n = 8, t_max = 30, which takes
 * the per-token path. */
TEST(sinkhorn_batch_independent) {
    int shapes[2][2] = {{4, 20}, {8, 30}};
    for (int s = 0; s < 2; s++) {
        int N = 19, n = shapes[s][0], iters = shapes[s][1], nn = n * n;
        real *lg = al_calloc((size_t)N * nn, sizeof(real), "t"), *H = al_calloc((size_t)N * nn, sizeof(real), "t");
        real *tr = al_calloc((size_t)N * KS->sinkhorn_trace_size(n, iters), sizeof(real), "t");
        real *dH = al_calloc((size_t)N * nn, sizeof(real), "t"), *dl = al_calloc((size_t)N * nn, sizeof(real), "t");
        real h1[64], t1[64], d1[64];
        Rng r;
        rng_init(&r, 9 + s);
        for (int i = 0; i < N * nn; i++) { lg[i] = (real)rng_normal(&r, 2.0); dH[i] = (real)rng_normal(&r, 1.0); }
        KS->sinkhorn_forward(H, tr, lg, N, n, iters);
        KS->sinkhorn_backward(dl, dH, tr, N, n, iters);
        int same = 1;
        for (int t = 0; t < N; t++) {
            memset(d1, 0, sizeof d1);
            KS->sinkhorn_forward(h1, t1, lg + (size_t)t * nn, 1, n, iters);
            KS->sinkhorn_backward(d1, dH + (size_t)t * nn, t1, 1, n, iters);
            same &= !memcmp(h1, H + (size_t)t * nn, sizeof(real) * nn) && !memcmp(d1, dl + (size_t)t * nn, sizeof(real) * nn);
        }
        EXPECT(same);
        al_free(lg); al_free(H); al_free(tr); al_free(dH); al_free(dl);
        rng_free(&r);
    }
}

/* A column whose logits all sit far below the rest of the matrix (s = 85.5 here; found in training at
 * lr 3e-2): exact arithmetic ignores a column's common offset, so H and the gradient must stay finite and the
 * column-normalized matrix must equal that of the same logits shifted up by s in that column. */
TEST(sinkhorn_far_column_finite) {
    int n = 4, iters = 20;
    real L[16], L2[16], H[16], H2[16], tr[16], tr2[16], dH[16], dl[16] = {0};
    for (int a = 0; a < n; a++)
        for (int b = 0; b < n; b++) {
            L[a * n + b] = (a == b ? 4 : 0) - (b == 2 ? 85.5f : 0);
            L2[a * n + b] = a == b ? 4 : 0;
            dH[a * n + b] = 10 * (real)((a * 7 + b * 3) % 5 - 2);
        }
    KS->sinkhorn_forward(H, tr, L, 1, n, iters);
    KS->sinkhorn_forward(H2, tr2, L2, 1, n, iters);
    KS->sinkhorn_backward(dl, dH, tr, 1, n, iters);
    int finite = 1;
    double diff = 0;
    for (int k = 0; k < 16; k++) {
        finite &= isfinite(H[k]) && isfinite(dl[k]);
        diff = fmax(diff, fabs(H[k] - H2[k]));
    }
    EXPECT(finite);
    EXPECT(diff < 1e-6);
}

TEST(sinkhorn_rows_columns_nonnegative) {
    int N = 50, n = 4, iters = 20;
    real logits[50 * 16], H[50 * 16];
    real *trace = al_calloc((size_t)N * KS->sinkhorn_trace_size(n, iters), sizeof(real), "t");
    Rng r;
    rng_init(&r, 5);
    for (int i = 0; i < N * n * n; i++) logits[i] = (real)rng_normal(&r, 1.0);
    KS->sinkhorn_forward(H, trace, logits, N, n, iters);
    double row_err = 0, col_err = 0, min_entry = 1;
    for (int t = 0; t < N; t++)
        for (int a = 0; a < n; a++) {
            double rs = 0, cs = 0;
            for (int b = 0; b < n; b++) {
                rs += H[t * 16 + a * n + b];
                cs += H[t * 16 + b * n + a];
                min_entry = fmin(min_entry, H[t * 16 + a * n + b]);
            }
            row_err = fmax(row_err, fabs(rs - 1));
            col_err = fmax(col_err, fabs(cs - 1));
        }
    th_note("after 20 iterations (logits ~ N(0,1)): max |row sum - 1| %.2e, max |col sum - 1| %.2e", row_err, col_err);
    EXPECT(row_err < 1e-6);  /* rows are normalized last: exact up to float rounding */
    EXPECT(col_err < 1e-4);  /* columns converge geometrically; 20 iterations leave well under 1e-4 here */
    EXPECT(min_entry >= 0);
    /* one iteration of a 2x2 by hand: exp(logits) = [[1, 2], [3, 4]] -> columns / (4, 6) =
     * [[1/4, 1/3], [3/4, 2/3]] -> rows / (7/12, 17/12) = [[3/7, 4/7], [9/17, 8/17]] */
    real l2[4] = {0, (real)log(2.0), (real)log(3.0), (real)log(4.0)}, h2[4], tr2[64];
    KS->sinkhorn_forward(h2, tr2, l2, 1, 2, 1);
    EXPECT_NEAR(h2[0], 3.0 / 7, 1e-6);
    EXPECT_NEAR(h2[1], 4.0 / 7, 1e-6);
    EXPECT_NEAR(h2[2], 9.0 / 17, 1e-6);
    EXPECT_NEAR(h2[3], 8.0 / 17, 1e-6);
    al_free(trace);
    rng_free(&r);
}

TEST(gain_hand_built_matrices) {
    double I[16] = {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1};
    EXPECT_NEAR(gain_forward(I, 4), 1, 1e-12);
    EXPECT_NEAR(gain_backward(I, 4), 1, 1e-12);
    EXPECT_NEAR(spectral_norm(I, 4), 1, 1e-12);
    /* [[1, 2], [-3, 0.5]]: row sums 3, -2.5 -> forward 3; column sums -2, 2.5 -> backward 2.5 */
    double A[4] = {1, 2, -3, 0.5};
    EXPECT_NEAR(gain_forward(A, 2), 3, 1e-12);
    EXPECT_NEAR(gain_backward(A, 2), 2.5, 1e-12);
    /* a product: [[2, 0], [1, 1]] x [[1, 1], [0, 3]] = [[2, 2], [1, 4]]: forward 5, backward 6 */
    double B[4] = {2, 2, 1, 4};
    EXPECT_NEAR(gain_forward(B, 2), 5, 1e-12);
    EXPECT_NEAR(gain_backward(B, 2), 6, 1e-12);
    /* diag(3, 1): spectral norm 3 */
    double D[4] = {3, 0, 0, 1};
    EXPECT_NEAR(spectral_norm(D, 2), 3, 1e-12);
    /* a permutation: gain 1 */
    double P[9] = {0, 1, 0, 0, 0, 1, 1, 0, 0};
    EXPECT_NEAR(gain_forward(P, 3), 1, 1e-12);
    EXPECT_NEAR(gain_backward(P, 3), 1, 1e-12);
    /* a product of 60 doubly stochastic matrices (Sinkhorn outputs) stays at gain 1 */
    Rng r;
    rng_init(&r, 8);
    double Q[16], T[16], bound = 1;
    memcpy(Q, I, sizeof Q);
    real lg[16], h[16], tr[4096];
    for (int l = 0; l < 60; l++) {
        for (int i = 0; i < 16; i++) lg[i] = (real)rng_normal(&r, 2.0);
        KS->sinkhorn_forward(h, tr, lg, 1, 4, 20);
        double hd[16];
        for (int i = 0; i < 16; i++) hd[i] = h[i];
        bound *= gain_backward(hd, 4); /* the max column sum (induced 1-norm) is submultiplicative */
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++) {
                double s = 0;
                for (int k = 0; k < 4; k++) s += Q[i * 4 + k] * h[k * 4 + j];
                T[i * 4 + j] = s;
            }
        memcpy(Q, T, sizeof Q);
    }
    th_note("60 Sinkhorn matrices: forward gain %.6f, backward %.6f, spectral %.6f", gain_forward(Q, 4),
            gain_backward(Q, 4), spectral_norm(Q, 4));
    /* rows are normalized last, so every row sum of the product is 1 up to rounding; columns carry the
     * residual error of 20 iterations (the paper's "slight deviation"), bounded by the product of the
     * factors' column-sum maxima */
    th_note("product of the factors' max column sums: %.6f", bound);
    EXPECT_NEAR(gain_forward(Q, 4), 1, 1e-4);
    EXPECT(gain_backward(Q, 4) <= bound + 1e-9);
    EXPECT(gain_backward(Q, 4) < 1.05);
    EXPECT(spectral_norm(Q, 4) <= sqrt(gain_forward(Q, 4) * gain_backward(Q, 4)) + 1e-9); /* ||Q||_2^2 <= ||Q||_1 ||Q||_inf */
    rng_free(&r);
}

static ModelConfig tiny(const char *residual, int streams) {
    ModelConfig c;
    config_defaults(&c);
    c.d_model = 32; c.n_layers = 3; c.n_heads = 4; c.d_ff = 64; c.seq_len = 16;
    snprintf(c.residual, sizeof c.residual, "%s", residual);
    c.streams = streams;
    return c;
}

static double loss_of(const ModelConfig *c) {
    Model *m = model_create(c, 0);
    AL_ASSERT(m);
    DataSource d;
    data_copy_init(&d, 8);
    Rng r;
    rng_init(&r, 3);
    int in[4 * 16], tg[4 * 16];
    data_batch(&d, &r, SPLIT_TRAIN, 0, 4, 16, in, tg);
    model_plan(m, 4, 16);
    double loss = model_forward(m, in, tg, 4, 16);
    rng_free(&r);
    model_free(m);
    return loss;
}

/* The shared weights (embedding, attention, FFN, head) are drawn first with the same seed, so the models
 * below differ only in their residual connection. */
TEST(n1_reduces_to_standard_residual) {
    ModelConfig base = tiny("residual", 0);
    double ref = loss_of(&base);
    ModelConfig hc = tiny("hc", 1), mhc = tiny("mhc", 1);
    double lh = loss_of(&hc), lm = loss_of(&mhc);
    th_note("loss: residual %.9f, hc n=1 %.9f, mhc n=1 %.9f", ref, lh, lm);
    EXPECT_NEAR(lh, ref, 1e-6);
    EXPECT_NEAR(lm, ref, 1e-6);
}

/* HC at init, any n: streams stay identical copies x_l, H_pre reads one of them, H_post adds F to each,
 * H_res = I; the collapse sums n copies, and the final RMSNorm removes that factor n exactly when eps = 0
 * (with eps > 0 it differs by O(eps / mean square)). */
TEST(hc_init_matches_prenorm_any_n) {
    for (int n = 2; n <= 8; n *= 2) {
        ModelConfig base = tiny("residual", 0), hc = tiny("hc", n);
        base.norm_eps = hc.norm_eps = 0;
        double a = loss_of(&base), b = loss_of(&hc);
        th_note("n = %d: residual %.9f, hc %.9f", n, a, b);
        EXPECT_NEAR(a, b, 1e-6);
        hc.hc_dynamic = 0; /* static HC too */
        EXPECT_NEAR(a, loss_of(&hc), 1e-6);
    }
}

TEST(residual_config_errors) {
    ModelConfig c;
    config_defaults(&c);
    EXPECT(config_set_number(&c, config_field("streams"), 0) == -1);
    EXPECT(strstr(al_error_message(), "streams") != NULL);
    EXPECT(config_set_number(&c, config_field("sinkhorn_iters"), 0) == -1);
    EXPECT(strstr(al_error_message(), "sinkhorn_iters") != NULL);
    EXPECT(config_set_string(&c, config_field("residual"), "hyper") == -1);
    EXPECT(strstr(al_error_message(), "residual|hc|mhc") != NULL);
    ModelConfig d = tiny("residual", 4);
    EXPECT(model_create(&d, 1) == NULL);
    EXPECT(strstr(al_error_message(), "streams") != NULL);
}

/* Training records both gains; mHC's composite stays near 1 while HC's is whatever its A_r products are. */
TEST(gains_recorded_during_training) {
    ModelConfig c = tiny("mhc", 4);
    Model *m = model_create(&c, 0);
    DataSource d;
    data_copy_init(&d, 8);
    TrainOptions o;
    train_defaults(&o);
    o.steps = 10; o.batch_size = 4; o.quiet = 1; o.log_every = 5; o.eval_batches = 1;
    TrainResult r;
    EXPECT(train_run(m, &d, &o, &r) == 0);
    const Series *g = metrics_get(&r.log, "amax_gain_fwd"), *b = metrics_get(&r.log, "amax_gain_bwd");
    EXPECT(g && b && g->n == 2);
    if (g && b) {
        th_note("mhc gains after 10 steps: forward %.6f backward %.6f", g->value[1], b->value[1]);
        EXPECT_NEAR(g->value[1], 1, 1e-4); /* rows of each H_res sum to 1 exactly, so the products' too */
        EXPECT(b->value[1] < 1.1);
    }
    train_result_free(&r);
    model_free(m);
}

/* A forward with fewer tokens than planned (evaluation, decoding) must equal one planned for exactly that
 * batch: states are laid out for the planned size, and every family must address them that way. */
TEST(forward_smaller_than_planned) {
    const char *kinds[3] = {"residual", "hc", "mhc"};
    for (int k = 0; k < 3; k++) {
        ModelConfig c = tiny(kinds[k], 0);
        Model *big = model_create(&c, 0), *exact = model_create(&c, 0);
        DataSource d;
        data_copy_init(&d, 8);
        Rng r;
        rng_init(&r, 4);
        int in[2 * 12], tg[2 * 12];
        data_batch(&d, &r, SPLIT_TRAIN, 0, 2, 12, in, tg);
        model_plan(big, 4, 16);
        model_plan(exact, 2, 12);
        double a = model_forward(big, in, tg, 2, 12), b = model_forward(exact, in, tg, 2, 12);
        th_note("%s: planned 4x16 %.9f, planned 2x12 %.9f", kinds[k], a, b);
        EXPECT(a == b);
        rng_free(&r);
        model_free(big);
        model_free(exact);
    }
}
