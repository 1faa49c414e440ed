/* The per-token arithmetic the CUDA kernels share with the CPU ones (core/elementwise.h). Sinkhorn-Knopp is the
 * one family where the CPU mostly runs another implementation (explicit vectors across tokens, core/streams_cpu.c):
 * the shared scalar code, which the GPU runs a thread per token, must give bit for bit what the CPU kernels give,
 * in the CPU's layout (stride 1) and in the GPU's (stages interleaved across tokens). */
#include <string.h>

#include "core/elementwise.h"
#include "core/rng.h"
#include "core/stream_kernels.h"
#include "tests/harness.h"

TEST(elementwise_sinkhorn_shared_code_equals_cpu_kernels) {
    enum { N = 37, n = 4, NN = n * n, ITERS = 20 };
    Rng r;
    rng_init(&r, 5);
    static real L[N * NN], dH[N * NN], H[N * NN], trace[N * NN], dl[N * NN];
    for (int i = 0; i < N * NN; i++) { L[i] = (real)rng_normal(&r, 2); dH[i] = (real)rng_normal(&r, 1); }
    memset(dl, 0, sizeof dl);
    KS->sinkhorn_forward(H, trace, L, N, n, ITERS);
    KS->sinkhorn_backward(dl, dH, trace, N, n, ITERS);
    /* the GPU's layout: token t's stage element e at [e N + t] */
    static real Ys[2 * ITERS * NN * N], sums[2 * ITERS * n * N];
    int same_f = 1, same_b = 1, same_layout = 1;
    for (int t = 0; t < N; t++) {
        real M[NN], Y[NN], g[NN], g2[NN], Y1[2 * ITERS * NN], s1[2 * ITERS * n];
        al_sinkhorn_m0(M, L + t * NN, n);
        same_f &= !memcmp(M, trace + t * NN, sizeof M);
        al_sinkhorn_stages(Y, NULL, M, n, ITERS, 1);
        same_f &= !memcmp(Y, H + t * NN, sizeof Y);
        memcpy(g, dH + t * NN, sizeof g);
        memcpy(g2, g, sizeof g);
        al_sinkhorn_stages(Y1, s1, M, n, ITERS, 1);
        al_sinkhorn_backprop(g, Y1, s1, n, ITERS, 1);
        al_sinkhorn_stages(Ys + t, sums + t, M, n, ITERS, N);
        al_sinkhorn_backprop(g2, Ys + t, sums + t, n, ITERS, N);
        same_layout &= !memcmp(g, g2, sizeof g);
        for (int k = 0; k < NN; k++) same_b &= g[k] * M[k] == dl[t * NN + k];
        same_f &= !memcmp(Y, Y1 + (2 * ITERS - 1) * NN, sizeof Y); /* in place = the stored last stage */
    }
    EXPECT(same_f);
    EXPECT(same_b);
    EXPECT(same_layout);
    rng_free(&r);
}

/* the shared SwiGLU gradient against central differences of the shared forward (double sums of float steps) */
TEST(elementwise_swiglu_gradient_matches_differences) {
    double worst = 0;
    for (int i = -40; i <= 40; i++) {
        real a = (real)(i * 0.2), b = (real)(0.7 - i * 0.05), da, db, h = (real)1e-2;
        al_swiglu_grad(1, a, b, &da, &db);
        double na = ((double)al_swiglu(a + h, b) - al_swiglu(a - h, b)) / (2 * (double)h);
        double nb = ((double)al_swiglu(a, b + h) - al_swiglu(a, b - h)) / (2 * (double)h);
        worst = fmax(worst, fmax(fabs(na - da), fabs(nb - db)) / (1 + fabs(na) + fabs(nb)));
    }
    th_note("worst relative difference %.2e", worst);
    EXPECT(worst < 2e-3);
}

/* AdamW's shared update against the formula written out here in double (first step: m = (1-b1) g, ...) */
TEST(elementwise_adamw_by_hand) {
    real w = 0.5f, m = 0, v = 0, g = 0.2f, lr = 0.01f, b1 = 0.9f, b2 = 0.95f, eps = 1e-8f, wd = 0.1f;
    al_adamw(&w, g, &m, &v, lr, b1, b2, eps, wd, (real)(1 / (1 - 0.9)), (real)(1 / (1 - 0.95)));
    /* m_hat = g, v_hat = g^2: the step is lr (sign(g) + wd w) */
    EXPECT_NEAR(w, 0.5 - 0.01 * (1 + 0.1 * 0.5), 1e-6);
    EXPECT_NEAR(m, 0.1 * 0.2, 1e-7);
    EXPECT_NEAR(v, 0.05 * 0.04, 1e-8);
}
