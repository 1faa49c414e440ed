/* Kernel correctness against direct loops written here (independent of the backend), hand-worked values,
 * and the proof that cblas_sgemm resolves to OpenBLAS. */
#include <dlfcn.h>
#include <math.h>
#include <string.h>

#include "arch/rope.h"
#include "core/backend.h"
#include "core/optim.h"
#include "core/rng.h"
#include "tests/harness.h"

extern void cblas_sgemm();
extern char *openblas_get_config(void);

TEST(sgemm_resolves_to_openblas) {
    Dl_info info;
    EXPECT(dladdr((void *)cblas_sgemm, &info) != 0);
    th_note("cblas_sgemm comes from %s", info.dli_fname ? info.dli_fname : "?");
    EXPECT(info.dli_fname && strstr(info.dli_fname, "openblas"));
    EXPECT(!strstr(info.dli_fname, "gslcblas"));
    th_note("OpenBLAS config: %s", openblas_get_config());
}

static void fill(real *x, size_t n, Rng *r) { for (size_t i = 0; i < n; i++) x[i] = (real)rng_normal(r, 1); }

/* OC = 3: the skinny path; OC = 48: the GEMM path */
/* Products of up to 4 rows go to gemv a row at a time (core/backend_cpu.c): every transpose combination, alpha,
 * beta and leading dimensions wider than the matrices, against direct loops; M = 5 (gemm) alongside */
TEST(gemm_few_rows_match_direct_loops) {
    Rng r; rng_init(&r, 12);
    enum { Kd = 6, N = 9, LD = 11 };
    real A[LD * LD], B[N * LD], C[5 * LD], C0[5 * LD];
    double worst = 0;
    for (int M = 1; M <= 5; M++)
        for (int ta = 0; ta <= 1; ta++)
            for (int tb = 0; tb <= 1; tb++) {
                fill(A, LD * LD, &r); fill(B, N * LD, &r); fill(C0, 5 * LD, &r);
                memcpy(C, C0, sizeof C);
                real alpha = 0.7f, beta = -0.4f;
                K->gemm(ta, tb, M, N, Kd, alpha, A, LD, B, LD, beta, C, LD);
                for (int m = 0; m < M; m++)
                    for (int n = 0; n < N; n++) {
                        double s = 0;
                        for (int k = 0; k < Kd; k++)
                            s += (double)(ta ? A[k * LD + m] : A[m * LD + k]) * (tb ? B[n * LD + k] : B[k * LD + n]);
                        worst = fmax(worst, fabs(alpha * s + beta * C0[m * LD + n] - C[m * LD + n]));
                    }
                for (int m = 0; m < M; m++) /* past N: untouched */
                    for (int n = N; n < LD; n++) worst = fmax(worst, fabs(C[m * LD + n] - C0[m * LD + n]));
            }
    th_note("worst abs error %.2e", worst);
    EXPECT(worst < 1e-5);
    /* beta 0 overwrites: NaN left in C by an earlier step must not survive (BLAS does not read C then) */
    for (int tb = 0; tb <= 1; tb++) {
        for (int n = 0; n < N; n++) C[n] = NAN;
        K->gemm(0, tb, 1, N, Kd, 1, A, LD, B, LD, 0, C, LD);
        int finite = 1;
        for (int n = 0; n < N; n++) finite &= isfinite(C[n]);
        EXPECT(finite);
    }
    rng_free(&r);
}

TEST(linear_matches_direct_loops) {
    Rng r; rng_init(&r, 11);
    for (int OC = 3; OC <= 48; OC += 45) {
        int N = 7, IC = 5;
        real inp[35], w[48 * 5], b[48], out[7 * 48];
        fill(inp, 35, &r); fill(w, (size_t)OC * IC, &r); fill(b, OC, &r);
        K->linear_forward(out, inp, w, b, N, IC, OC);
        double worst = 0;
        for (int n = 0; n < N; n++)
            for (int o = 0; o < OC; o++) {
                double s = b[o];
                for (int i = 0; i < IC; i++) s += (double)inp[n * IC + i] * w[o * IC + i];
                worst = fmax(worst, fabs(s - out[n * OC + o]));
            }
        EXPECT(worst < 1e-5);
    }
    rng_free(&r);
}

TEST(rmsnorm_hand_values) {
    /* x = (3, 4): mean square 12.5, rms = 3.5355339; w = (1, 2) -> (0.8485281, 2.2627417) */
    real x[2] = {3, 4}, w[2] = {1, 2}, out[2], rstd[1];
    K->rmsnorm_forward(out, rstd, x, w, 1, 2, 0);
    EXPECT_NEAR(out[0], 3 / sqrt(12.5), 1e-6);
    EXPECT_NEAR(out[1], 2 * 4 / sqrt(12.5), 1e-6);
}

TEST(rope_rotates_pairs_and_preserves_norm) {
    /* rot = 4: pairs (0,2) and (1,3); theta_0 = 1, theta_1 = 10000^(-1/2) = 0.01; position 1 */
    real cs[4], sn[4];
    rope_tables(cs, sn, 2, 4, 10000);
    real x[8] = {0, 0, 0, 0, 1, 2, 3, 4}; /* rows t=0 and t=1 of one head */
    K->rope(x, 1, 2, 1, 4, 4, 4, cs, sn, 0);
    EXPECT_NEAR(x[4], 1 * cos(1.0) - 3 * sin(1.0), 1e-6);
    EXPECT_NEAR(x[6], 1 * sin(1.0) + 3 * cos(1.0), 1e-6);
    EXPECT_NEAR(x[5], 2 * cos(0.01) - 4 * sin(0.01), 1e-6);
    EXPECT_NEAR(x[7], 2 * sin(0.01) + 4 * cos(0.01), 1e-6);
    EXPECT_NEAR(x[4] * x[4] + x[5] * x[5] + x[6] * x[6] + x[7] * x[7], 30.0, 1e-4);
}

/* Attention against a direct implementation in double: for each head, softmax over j <= i of q.k scaled,
 * and each row's log-sum-exp. T spans several query blocks and ends inside one; work_n gives the kernel either
 * every thread's workspace or a single one (it must then run on fewer threads, with the same result). */
static void attention_vs_direct(int T, int one_slot) {
    Rng r; rng_init(&r, 12 + T);
    int B = 2, H = 4, Hkv = 2, dk = 3, dv = 5;
    int W = H * dk + Hkv * dk + Hkv * dv;
    real *qkv = al_calloc((size_t)B * T * W, sizeof(real), "t"), *out = al_calloc((size_t)B * T * H * dv, sizeof(real), "t");
    real *lse = al_calloc((size_t)B * H * T, sizeof(real), "t");
    AttnShape s = {B, T, H, Hkv, dk, dv, W, W, W, H * dv, (real)0.7}, one = s;
    one.B = one.H = one.Hkv = 1;
    size_t work_n = K->attention_work_size(one_slot ? &one : &s);
    real *work = al_calloc(work_n, sizeof(real), "t");
    double *sc = malloc(sizeof(double) * T);
    fill(qkv, (size_t)B * T * W, &r);
    for (size_t i = 0; i < (size_t)B * T * W; i++) qkv[i] *= 3; /* scores of several units: a peaked softmax */
    K->attention_forward(out, lse, work, work_n, qkv, qkv + H * dk, qkv + H * dk + Hkv * dk, &s);
    double worst = 0, worst_lse = 0;
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int i = 0; i < T; i++) {
                int g = h / (H / Hkv);
                double mx = -1e300, sum = 0;
                for (int j = 0; j <= i; j++) {
                    double d = 0;
                    for (int c = 0; c < dk; c++)
                        d += (double)qkv[(b * T + i) * W + h * dk + c] * qkv[(b * T + j) * W + H * dk + g * dk + c];
                    sc[j] = 0.7 * d;
                    mx = fmax(mx, sc[j]);
                }
                for (int j = 0; j <= i; j++) { sc[j] = exp(sc[j] - mx); sum += sc[j]; }
                worst_lse = fmax(worst_lse, fabs(mx + log(sum) - lse[(b * H + h) * T + i]));
                for (int c = 0; c < dv; c++) {
                    double o = 0;
                    for (int j = 0; j <= i; j++) o += sc[j] / sum * qkv[(b * T + j) * W + H * dk + Hkv * dk + g * dv + c];
                    worst = fmax(worst, fabs(o - out[(b * T + i) * H * dv + h * dv + c]));
                }
            }
    th_note("T %d%s: max abs difference %.2e, log-sum-exp %.2e", T, one_slot ? " (one workspace slot)" : "", worst,
            worst_lse);
    EXPECT(worst < 3e-5); /* float32 rounding; values are up to ~5 (scaled input), a masking error is O(1) */
    EXPECT(worst_lse < 3e-5);
    al_free(qkv); al_free(out); al_free(lse); al_free(work); free(sc);
    rng_free(&r);
}
TEST(attention_matches_direct_loops_gqa) {
    attention_vs_direct(1, 0);
    attention_vs_direct(6, 0);
    attention_vs_direct(32, 0); /* exactly one block */
    attention_vs_direct(33, 0); /* a last block of one row */
    attention_vs_direct(77, 0); /* blocks of 32, 32, 13 */
    attention_vs_direct(77, 1);
}

TEST(cross_entropy_hand_values) {
    /* logits (0, ln 2, ln 3): probs (1/6, 2/6, 3/6); target 2 -> loss ln 2 = -ln(1/2) */
    real logits[3] = {0, (real)log(2.0), (real)log(3.0)}, losses[1];
    int tg[1] = {2}, nv;
    double s = K->cross_entropy_forward(losses, logits, tg, 1, 3, &nv);
    EXPECT(nv == 1);
    EXPECT_NEAR(s, log(2.0), 1e-6);
    EXPECT_NEAR(logits[0], 1.0 / 6, 1e-6);
    /* ignored target: no loss, no count */
    real l2[3] = {1, 2, 3};
    int tg2[1] = {-1};
    EXPECT_NEAR(K->cross_entropy_forward(losses, l2, tg2, 1, 3, &nv), 0.0, 0);
    EXPECT(nv == 0);
}

TEST(adamw_first_step_by_hand) {
    /* step 1: m = 0.1 g, v = 0.05 g^2 (betas 0.9, 0.95); bias-corrected m/sqrt(v) = g/|g| = sign(g):
     * w' = w - lr (sign(g) + wd w) when eps is negligible */
    real w[2] = {1.0f, -2.0f}, g[2] = {0.5f, -3.0f}, m[2] = {0}, v[2] = {0};
    K->adamw(w, g, m, v, 2, 0.1f, 0.9f, 0.95f, 1e-12f, 0.01f, 1);
    EXPECT_NEAR(w[0], 1.0 - 0.1 * (1 + 0.01 * 1.0), 1e-6);
    EXPECT_NEAR(w[1], -2.0 - 0.1 * (-1 + 0.01 * -2.0), 1e-6);
}

TEST(schedules_by_hand) {
    Schedule s = {.kind = SCHED_COSINE, .lr = 1.0, .min_lr = 0.1, .warmup = 10, .total = 110};
    EXPECT_NEAR(schedule_lr(&s, 0), 0.1, 1e-12);   /* warm-up: (step+1)/warmup */
    EXPECT_NEAR(schedule_lr(&s, 9), 1.0, 1e-12);
    EXPECT_NEAR(schedule_lr(&s, 10), 1.0, 1e-12);  /* cosine starts at the peak */
    EXPECT_NEAR(schedule_lr(&s, 60), 0.55, 1e-12); /* halfway: (1 + 0.1) / 2 */
    EXPECT_NEAR(schedule_lr(&s, 110), 0.1, 1e-12);
    Schedule st = {.kind = SCHED_STEP, .lr = 2.0, .warmup = 0, .total = 100, .n_milestones = 2,
                   .milestone = {0.8, 0.9}, .factor = {0.316, 0.1}};
    EXPECT_NEAR(schedule_lr(&st, 79), 2.0, 1e-12);
    EXPECT_NEAR(schedule_lr(&st, 80), 0.632, 1e-12);
    EXPECT_NEAR(schedule_lr(&st, 95), 0.2, 1e-12);
}

TEST(grad_clip_scales_to_max_norm) {
    ParamStore ps;
    ps_init(&ps, 0);
    ps_add(&ps, "a", 1, (int64_t[]){2}, INIT_ZEROS, 0, 1, "x");
    Rng r; rng_init(&r, 1);
    EXPECT(ps_allocate(&ps, &r) == 0);
    ps.grad[0] = 3; ps.grad[1] = 4; /* norm 5 */
    EXPECT_NEAR(grad_clip(&ps, 1.0), 5.0, 1e-6);
    EXPECT_NEAR(ps.grad[0], 0.6, 1e-6);
    EXPECT_NEAR(ps.grad[1], 0.8, 1e-6);
    ps_free(&ps);
    rng_free(&r);
}

TEST(sum_squares_deterministic_across_calls) {
    size_t n = 1000003;
    real *x = al_calloc(n, sizeof(real), "t");
    Rng r; rng_init(&r, 3);
    fill(x, n, &r);
    double a = K->sum_squares(x, n), b = K->sum_squares(x, n), direct = 0;
    for (size_t i = 0; i < n; i++) direct += (double)x[i] * x[i];
    EXPECT(a == b);
    EXPECT_NEAR(a, direct, 1e-9 * direct);
    al_free(x);
    rng_free(&r);
}

/* core/fast_exp.h against libm's expf: within 2 ulp over [-87, 88.3], exact limits outside it */
#include "core/fast_exp.h"
TEST(fast_exp_accuracy) {
    double worst = 0;
    for (double x = -87.0; x <= 88.3; x += 1e-3) {
        float a = al_expf((float)x), b = expf((float)x);
        double ulp = nextafterf(b, INFINITY) - b;
        worst = fmax(worst, fabs((double)a - b) / ulp);
    }
    th_note("al_expf vs expf over [-87, 88.3]: worst %.2f ulp", worst);
    EXPECT(worst <= 2);
    EXPECT(al_expf(-INFINITY) == 0 && al_expf(-100) == 0 && al_expf(0) == 1);
    EXPECT(isinf(al_expf(100)) && isinf(al_expf(INFINITY)) && isnan(al_expf(NAN)) && al_expf(88.3f) > 1e38f);
}

/* al_sigmoid (SwiGLU, sigmoid routing) against 1 / (1 + exp(-x)) in double: within 4 float ulp over [-80, 80],
 * the limits 0 and 1 beyond, and NaN in gives NaN out (a diverged run must show, not be squashed to 0 or 1) */
TEST(fast_sigmoid_accuracy) {
    double worst = 0;
    for (double x = -80.0; x <= 80.0; x += 1e-3) {
        float a = al_sigmoid((float)x);
        double b = 1 / (1 + exp(-(double)(float)x));
        double ulp = nextafterf((float)b, INFINITY) - (float)b;
        worst = fmax(worst, fabs((double)a - b) / ulp);
    }
    th_note("al_sigmoid vs 1 / (1 + exp(-x)) over [-80, 80]: worst %.2f ulp", worst);
    EXPECT(worst <= 4);
    EXPECT(al_sigmoid(0) == 0.5f && al_sigmoid(200) == 1 && al_sigmoid(-200) < 1e-37f && al_sigmoid(-200) >= 0);
    EXPECT(al_sigmoid(INFINITY) == 1 && al_sigmoid(-INFINITY) < 1e-37f && isnan(al_sigmoid(NAN)));
}
