/* The simulated low-precision linear layer (core/lowp_linear.h) against products written here: each GEMM's
 * operands fake-quantized by the tiles V3 prescribes for it (core/lowp.c's quantization is checked on its own in
 * tests/test_lowp.c), transposed by hand, multiplied in double. With full float32 accumulation the layer must
 * agree to float rounding; a wrong tile orientation (tiles along the wrong dimension, W's blocks transposed the
 * wrong way) shows up as an O(2^-4) error. Then the training path: an fp8 model learns like the fp32 one. */
#include <math.h>
#include <string.h>

#include "arch/model.h"
#include "core/lowp.h"
#include "core/lowp_linear.h"
#include "core/rng.h"
#include "data/data.h"
#include "tests/harness.h"
#include "train/trainer.h"

/* x (rows, cols) fake-quantized by tiles tr x tc, as doubles; transposed first when asked */
static void quantized(double *out, const float *x, int rows, int cols, int tr, int tc, LowpFormat f, int transpose) {
    int R = transpose ? cols : rows, Cc = transpose ? rows : cols;
    float *t = malloc(sizeof(float) * rows * cols), *q = malloc(sizeof(float) * rows * cols);
    for (int r = 0; r < R; r++)
        for (int c = 0; c < Cc; c++) t[r * Cc + c] = transpose ? x[c * cols + r] : x[r * Cc + c];
    EXPECT(lowp_fake_quantize(t, R, Cc, tr, tc, f, q, NULL) == 0);
    for (int i = 0; i < rows * cols; i++) out[i] = q[i];
    free(t);
    free(q);
}

/* max |got - want| / max |want| */
static double rel_err(const float *got, const double *want, int n) {
    double e = 0, m = 0;
    for (int i = 0; i < n; i++) { e = fmax(e, fabs(got[i] - want[i])); m = fmax(m, fabs(want[i])); }
    return e / m;
}

static void check_layer(const char *precision, const char *scaling, LowpFormat f) {
    enum { N = 70, IC = 300, OC = 136 }; /* tiles that do not divide: the last ones are partial */
    int t = strcmp(scaling, "tile") ? 0 : 128, one = t ? 1 : 0;
    LowpLinear p;
    EXPECT(lowp_linear_init(&p, precision, scaling, 0, 128, "nearest") == 0);
    static float x[N * IC], w[OC * IC], dy[N * OC], y[N * OC], dx[N * IC], dw[OC * IC];
    static double qx[N * IC], qw[OC * IC], qdy[N * OC], qwt[IC * OC], qdyt[OC * N], qxt[IC * N], ref[OC * IC];
    Rng r;
    rng_init(&r, 5);
    for (int i = 0; i < N * IC; i++) x[i] = (float)rng_normal(&r, 1) * (i % 97 == 0 ? 50 : 1); /* some outliers */
    for (int i = 0; i < OC * IC; i++) w[i] = (float)rng_normal(&r, 0.05);
    for (int i = 0; i < N * OC; i++) dy[i] = (float)rng_normal(&r, 1e-3);
    rng_free(&r);
    /* Fprop: x by 1 x 128 along IC, W by 128 x 128 */
    lowp_linear_forward(&p, y, x, w, N, IC, OC);
    quantized(qx, x, N, IC, one, t, f, 0);
    quantized(qw, w, OC, IC, t, t, f, 0);
    double *want = malloc(sizeof(double) * N * IC);
    for (int n = 0; n < N; n++)
        for (int o = 0; o < OC; o++) {
            double s = 0;
            for (int i = 0; i < IC; i++) s += qx[n * IC + i] * qw[o * IC + i];
            want[n * OC + o] = s;
        }
    double ef = rel_err(y, want, N * OC);
    /* Dgrad: dy by 1 x 128 along OC; W^T (IC, OC) by the 128 x 128 blocks of W, transposed */
    memset(dx, 0, sizeof dx);
    memset(dw, 0, sizeof dw);
    lowp_linear_backward(&p, dx, dw, dy, x, w, N, IC, OC);
    quantized(qdy, dy, N, OC, one, t, f, 0);
    quantized(qwt, w, OC, IC, t, t, f, 1); /* qwt[i * OC + o] = W^T quantized */
    for (int n = 0; n < N; n++)
        for (int i = 0; i < IC; i++) {
            double s = 0;
            for (int o = 0; o < OC; o++) s += qdy[n * OC + o] * qwt[i * OC + o];
            want[n * IC + i] = s;
        }
    double ed = rel_err(dx, want, N * IC);
    /* Wgrad: dy^T (OC, N) and x^T (IC, N), both by 1 x 128 along the tokens (V3's 128 x 1 tiles) */
    quantized(qdyt, dy, N, OC, one, t, f, 1);
    quantized(qxt, x, N, IC, one, t, f, 1);
    for (int o = 0; o < OC; o++)
        for (int i = 0; i < IC; i++) {
            double s = 0;
            for (int n = 0; n < N; n++) s += qdyt[o * N + n] * qxt[i * N + n];
            ref[o * IC + i] = s;
        }
    double ew = rel_err(dw, ref, OC * IC);
    th_note("%s %s: relative error against the hand-built products: Fprop %.2e, Dgrad %.2e, Wgrad %.2e", precision,
            scaling, ef, ed, ew);
    EXPECT(ef < 1e-5 && ed < 1e-5 && ew < 1e-5);
    /* backward accumulates */
    lowp_linear_backward(&p, dx, dw, dy, x, w, N, IC, OC);
    for (int i = 0; i < OC * IC; i++) ref[i] *= 2;
    EXPECT(rel_err(dw, ref, OC * IC) < 1e-5);
    EXPECT(p.gemms == 5 && p.macs == 5.0 * N * IC * OC);
    free(want);
    lowp_linear_free(&p);
}

TEST(lowp_linear_fp8_tiles_match_hand_products) { check_layer("fp8", "tile", LOWP_E4M3); }
TEST(lowp_linear_fp8_per_tensor_matches_hand_products) { check_layer("fp8", "tensor", LOWP_E4M3); }
TEST(lowp_linear_bf16_matches_hand_products) { check_layer("bf16", "tile", LOWP_BF16); }

TEST(lowp_linear_options_are_checked) {
    LowpLinear p;
    EXPECT(lowp_linear_init(&p, "fp16", "tile", 0, 128, "toward_zero") == -1 && strstr(al_error_message(), "precision"));
    EXPECT(lowp_linear_init(&p, "fp8", "block", 0, 128, "toward_zero") == -1 && strstr(al_error_message(), "fp8_scaling"));
    EXPECT(lowp_linear_init(&p, "fp8", "tile", 24, 128, "toward_zero") == -1 && strstr(al_error_message(), "accum_bits"));
    EXPECT(lowp_linear_init(&p, "fp8", "tile", 14, 0, "toward_zero") == -1 && strstr(al_error_message(), "promote_every"));
    EXPECT(lowp_linear_init(&p, "fp8", "tensor", 14, 0, "up") == -1 && strstr(al_error_message(), "accum_round"));
    EXPECT(lowp_linear_init(&p, "fp8", "tensor", 14, 0, "toward_zero") == 0);
    lowp_linear_free(&p);
}

/* The training path: fp8 (V3's recipe, 14-bit truncating accumulator promoted every 128) and bf16 models learn
 * the copy task like the float32 one (the same init and batches; the loss after 60 steps within 10% of it),
 * and the float32 run is untouched by the option's existence (precision = "fp32" is the kernel table). */
TEST(lowp_training_learns_like_fp32) {
    DataSource d;
    data_copy_init(&d, 13);
    double final[3];
    const char *prec[3] = {"fp32", "bf16", "fp8"};
    for (int i = 0; i < 3; i++) {
        ModelConfig c;
        config_defaults(&c);
        c.vocab_size = 16; c.d_model = 32; c.n_layers = 2; c.n_heads = 2; c.d_ff = 64; c.seq_len = 32;
        Model *m = model_create(&c, 0);
        TrainOptions o;
        train_defaults(&o);
        o.steps = 60; o.batch_size = 8; o.lr = 1e-2; o.quiet = 1; o.eval_batches = 1;
        snprintf(o.precision, sizeof o.precision, "%s", prec[i]);
        TrainResult r;
        EXPECT(train_run(m, &d, &o, &r) == 0);
        EXPECT(m->ctx.lowp == NULL); /* the simulation belongs to the run */
        final[i] = metrics_last(&r.log, "loss");
        th_note("%s: loss at step 1 %.4f, at step 60 %.4f", prec[i], metrics_get(&r.log, "loss")->value[0], final[i]);
        train_result_free(&r);
        model_free(m);
    }
    EXPECT(final[0] < 1.5); /* the copy task is learned: chance is ln 13 = 2.56 */
    EXPECT(fabs(final[1] / final[0] - 1) < 0.1 && fabs(final[2] / final[0] - 1) < 0.1);
}
