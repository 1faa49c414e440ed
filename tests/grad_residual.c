/* Gradient checks of the residual families: the multi-stream kernels, the unrolled Sinkhorn-Knopp, and whole
 * tiny HC / mHC models (static, dynamic, with mappings switched off) with every parameter randomized, so
 * the dynamic coefficient paths (zero at init) carry gradient. */
#include <math.h>
#include <string.h>

#include "arch/model.h"
#include "core/backend.h"
#include "core/stream_kernels.h"
#include "tests/gradcheck.h"
#include "tests/harness.h"

typedef struct { int N, n, iters; real *logits, *H, *trace, *R; } SkCtx;
static double sk_loss(void *p) {
    SkCtx *c = p;
    KS->sinkhorn_forward(c->H, c->trace, c->logits, c->N, c->n, c->iters);
    return gc_dot(c->H, c->R, (size_t)c->N * c->n * c->n);
}

static void check_sinkhorn(int n, int iters) {
    Rng rng;
    rng_init(&rng, 21 + iters);
    int N = 11; /* one block of 8 tokens and a padded tail (core/streams_cpu.c) */
    size_t nn = (size_t)N * n * n;
    SkCtx c = {.N = N, .n = n, .iters = iters};
    c.logits = al_calloc(nn, sizeof(real), "t");
    c.H = al_calloc(nn, sizeof(real), "t");
    c.R = al_calloc(nn, sizeof(real), "t");
    c.trace = al_calloc((size_t)N * KS->sinkhorn_trace_size(n, iters), sizeof(real), "t");
    real *d = al_calloc(nn, sizeof(real), "t");
    gc_fill(c.logits, nn, &rng, 1.0);
    gc_fill(c.R, nn, &rng, 1.0);
    sk_loss(&c);
    KS->sinkhorn_backward(d, c.R, c.trace, N, n, iters);
    char what[64];
    snprintf(what, sizeof what, "sinkhorn n=%d t_max=%d dlogits", n, iters);
    EXPECT(gc_check(sk_loss, &c, c.logits, d, nn, 200, what) < GC_TOL);
    al_free(c.logits); al_free(c.H); al_free(c.R); al_free(c.trace); al_free(d);
    rng_free(&rng);
}
TEST(grad_sinkhorn) {
    check_sinkhorn(2, 1);
    check_sinkhorn(4, 5);
    check_sinkhorn(4, 20);
    check_sinkhorn(8, 30); /* beyond the lane path's stack budget: the per-token path */
}

/* stream_pre then stream_post with an arbitrary f: checks X, hpre, hres, hpost and f paths */
typedef struct { int N, n, C; real *X, *hpre, *hpost, *hres, *f, *u, *Xn, *R1, *R2; } StCtx;
static double st_loss(void *p) {
    StCtx *c = p;
    KS->stream_pre(c->u, c->X, c->hpre, c->N, c->n, c->C);
    KS->stream_post(c->Xn, c->X, c->hres, c->hpost, c->f, c->N, c->n, c->C);
    return gc_dot(c->u, c->R1, (size_t)c->N * c->C) + gc_dot(c->Xn, c->R2, (size_t)c->N * c->n * c->C);
}
/* n = 3 takes the general loops, n = 4 the one-pass kernels (core/streams_cpu.c) */
static void check_stream_mixing(int n) {
    Rng rng;
    rng_init(&rng, 31 + n);
    int N = 3, C = 5;
    size_t ns = (size_t)N * n * C, nc = (size_t)N * C;
    StCtx c = {.N = N, .n = n, .C = C};
    real *all = al_calloc(6 * ns + 4 * nc + 3 * (size_t)N * n * n, sizeof(real), "t"), *p = all;
    c.X = p; p += ns; c.Xn = p; p += ns; c.R2 = p; p += ns;
    real *dX = p; p += ns;
    c.f = p; p += nc; c.u = p; p += nc; c.R1 = p; p += nc;
    real *df = p; p += nc;
    c.hpre = p; p += N * n; c.hpost = p; p += N * n; c.hres = p; p += N * n * n;
    real *dhpre = p; p += N * n; real *dhpost = p; p += N * n; real *dhres = p; p += N * n * n;
    gc_fill(c.X, ns, &rng, 1); gc_fill(c.f, nc, &rng, 1); gc_fill(c.R1, nc, &rng, 1); gc_fill(c.R2, ns, &rng, 1);
    gc_fill(c.hpre, N * n, &rng, 1); gc_fill(c.hpost, N * n, &rng, 1); gc_fill(c.hres, N * n * n, &rng, 1);
    /* stream_post_backward and stream_pre_backward overwrite dhres/dhpost/df/dhpre and stream_post_backward
     * dX: garbage in them must not survive */
    gc_fill(dX, ns, &rng, 5); gc_fill(df, nc, &rng, 5); gc_fill(dhpre, N * n, &rng, 5);
    gc_fill(dhpost, N * n, &rng, 5); gc_fill(dhres, N * n * n, &rng, 5);
    real *u2 = gc_buf(nc);
    KS->stream_post_backward(dX, dhres, dhpost, df, u2, c.R2, c.X, c.hres, c.hpost, c.hpre, c.f, N, n, C);
    KS->stream_pre_backward(dX, dhpre, c.R1, c.X, c.hpre, N, n, C);
    KS->stream_pre(c.u, c.X, c.hpre, N, n, C);
    double du_err = 0; /* the fused recomputation of F's input */
    for (size_t k = 0; k < nc; k++) du_err = fmax(du_err, fabs(u2[k] - c.u[k]));
    EXPECT(du_err < 1e-12);
    EXPECT(gc_check(st_loss, &c, c.X, dX, ns, 100, "streams dX") < GC_TOL);
    EXPECT(gc_check(st_loss, &c, c.f, df, nc, 100, "streams df") < GC_TOL);
    EXPECT(gc_check(st_loss, &c, c.hpre, dhpre, N * n, 100, "streams dhpre") < GC_TOL);
    EXPECT(gc_check(st_loss, &c, c.hpost, dhpost, N * n, 100, "streams dhpost") < GC_TOL);
    EXPECT(gc_check(st_loss, &c, c.hres, dhres, N * n * n, 100, "streams dhres") < GC_TOL);
    al_free(all);
    gc_free_bufs();
    rng_free(&rng);
}
TEST(grad_stream_mixing) {
    check_stream_mixing(3);
    check_stream_mixing(4);
}

static void check_family_bt(const char *residual, int streams, int dynamic, int pre, int post, int res_on, int B, int T) {
    ModelConfig c;
    config_defaults(&c);
    c.vocab_size = 11; c.d_model = 8; c.n_layers = 2; c.n_heads = 2; c.d_ff = 12; c.seq_len = T;
    c.init_std = 0.3;
    snprintf(c.residual, sizeof c.residual, "%s", residual);
    c.streams = streams; c.hc_dynamic = dynamic; c.h_pre = pre; c.h_post = post; c.h_res = res_on;
    c.sinkhorn_iters = 4;
    Model *m = model_create(&c, 0);
    EXPECT(m != NULL);
    if (!m) return;
    Rng rng;
    rng_init(&rng, 41);
    /* move every parameter off its structured init (zeros, one-hots, identities) */
    for (size_t i = 0; i < m->ps.total; i++) m->ps.data[i] += (real)rng_normal(&rng, 0.3);
    int tok[B * T], tg[B * T];
    for (int i = 0; i < B * T; i++) { tok[i] = (int)rng_below(&rng, 11); tg[i] = (int)rng_below(&rng, 11); }
    char label[96];
    snprintf(label, sizeof label, "%s n=%d %s%s%s%s %d tokens", residual, streams, dynamic ? "dyn" : "static",
             pre ? "" : " -pre", post ? "" : " -post", res_on ? "" : " -res", B * T);
    EXPECT(gc_check_model(m, tok, tg, B, T, 10, label) < GC_TOL);
    rng_free(&rng);
    model_free(m);
}

static void check_family(const char *residual, int streams, int dynamic, int pre, int post, int res_on) {
    check_family_bt(residual, streams, dynamic, pre, post, res_on, 2, 5);
}
/* 90 tokens: mHC's fused backward works in blocks of 64 tokens (core/streams_cpu.c), a full one and a tail */
TEST(grad_model_mhc_blocks) {
    check_family_bt("mhc", 4, 1, 1, 1, 1, 3, 30);
    check_family_bt("hc", 4, 1, 1, 1, 1, 2, 5);
    check_family_bt("mhc", 3, 1, 1, 1, 1, 3, 30);
    check_family_bt("mhc", 2, 0, 1, 1, 1, 3, 30);
}
TEST(grad_model_hc_dynamic) { check_family("hc", 3, 1, 1, 1, 1); }
TEST(grad_model_hc_static) { check_family("hc", 2, 0, 1, 1, 1); }
TEST(grad_model_mhc_dynamic) { check_family("mhc", 3, 1, 1, 1, 1); }
TEST(grad_model_mhc_static) { check_family("mhc", 2, 0, 1, 1, 1); }
TEST(grad_model_mhc_ablations) {
    check_family("mhc", 2, 1, 0, 1, 1);
    check_family("mhc", 2, 1, 1, 0, 0);
    check_family("hc", 2, 1, 0, 0, 1);
}
