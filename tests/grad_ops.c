/* Gradient checks of every differentiable kernel of the backend, in double precision. */
#include <math.h>
#include <string.h>

#include "arch/rope.h"
#include "core/backend.h"
#include "core/stream_kernels.h"
#include "tests/gradcheck.h"
#include "tests/harness.h"


/* ---- linear ---- */
typedef struct { int N, IC, OC; real *inp, *w, *b, *out, *R; } LinCtx;
static double lin_loss(void *p) {
    LinCtx *c = p;
    K->linear_forward(c->out, c->inp, c->w, c->b, c->N, c->IC, c->OC);
    return gc_dot(c->out, c->R, (size_t)c->N * c->OC);
}
/* OC = 3 takes the skinny path, OC = 40 the GEMM path (core/backend_cpu.c) */
static void check_linear(int N, int IC, int OC) {
    Rng rng; rng_init(&rng, 1 + OC);
    LinCtx c = {.N = N, .IC = IC, .OC = OC};
    size_t ni = (size_t)N * IC, nw = (size_t)OC * IC, no = (size_t)N * OC;
    c.inp = gc_buf(ni); c.w = gc_buf(nw); c.b = gc_buf(OC); c.out = gc_buf(no); c.R = gc_buf(no);
    gc_fill(c.inp, ni, &rng, 1); gc_fill(c.w, nw, &rng, 1); gc_fill(c.b, OC, &rng, 1); gc_fill(c.R, no, &rng, 1);
    real *di = gc_buf(ni), *dw = gc_buf(nw), *db = gc_buf(OC);
    K->linear_backward(di, dw, db, c.R, c.inp, c.w, c.N, c.IC, c.OC);
    char what[64];
    snprintf(what, sizeof what, "linear OC=%d dinp", OC);
    EXPECT(gc_check(lin_loss, &c, c.inp, di, ni, 100, what) < GC_TOL);
    snprintf(what, sizeof what, "linear OC=%d dw", OC);
    EXPECT(gc_check(lin_loss, &c, c.w, dw, nw, 100, what) < GC_TOL);
    snprintf(what, sizeof what, "linear OC=%d dbias", OC);
    EXPECT(gc_check(lin_loss, &c, c.b, db, OC, 100, what) < GC_TOL);
    rng_free(&rng);
    gc_free_bufs();
}
TEST(grad_linear) {
    check_linear(5, 7, 3);
    check_linear(6, 9, 40);
}

/* ---- rmsnorm ---- */
typedef struct { int N, C; real *inp, *w, *out, *rstd, *R; } NormCtx;
static double norm_loss(void *p) {
    NormCtx *c = p;
    K->rmsnorm_forward(c->out, c->rstd, c->inp, c->w, c->N, c->C, 1e-6);
    return gc_dot(c->out, c->R, (size_t)c->N * c->C);
}
static void check_rmsnorm(int N, int C) {
    Rng rng; rng_init(&rng, 2 + C);
    NormCtx c = {.N = N, .C = C};
    size_t n = (size_t)N * C;
    c.inp = gc_buf(n); c.w = gc_buf(C); c.out = gc_buf(n); c.rstd = gc_buf(N); c.R = gc_buf(n);
    gc_fill(c.inp, n, &rng, 1); gc_fill(c.w, C, &rng, 1); gc_fill(c.R, n, &rng, 1);
    norm_loss(&c);
    real *di = gc_buf(n), *dw = gc_buf(C);
    K->rmsnorm_backward(di, dw, c.R, c.inp, c.w, c.rstd, c.N, c.C);
    char what[64];
    snprintf(what, sizeof what, "rmsnorm C=%d dinp", C);
    EXPECT(gc_check(norm_loss, &c, c.inp, di, n, 100, what) < GC_TOL);
    snprintf(what, sizeof what, "rmsnorm C=%d dw", C);
    EXPECT(gc_check(norm_loss, &c, c.w, dw, C, 100, what) < GC_TOL);
    rng_free(&rng);
    gc_free_bufs();
}
/* C = 300: the weight gradient's channel slices of 256 and a partial one (core/backend_cpu.c) */
TEST(grad_rmsnorm) {
    check_rmsnorm(4, 6);
    check_rmsnorm(3, 300);
}

/* ---- RMSNorm folded into a projection (HC/mHC coefficient maps) ---- */
typedef struct { int N, IC, OC; real *inp, *w, *out, *rstd, *R; } RmsProjCtx;
static double rmsproj_loss(void *p) {
    RmsProjCtx *c = p;
    KS->rms_projection_forward(c->out, c->rstd, c->inp, c->w, c->N, c->IC, c->OC, 1e-6);
    return gc_dot(c->out, c->R, (size_t)c->N * c->OC);
}
static void check_rms_projection(int N, int IC, int OC) {
    Rng rng; rng_init(&rng, 3 + OC);
    RmsProjCtx c = {.N = N, .IC = IC, .OC = OC};
    size_t ni = (size_t)N * IC, nw = (size_t)OC * IC, no = (size_t)N * OC;
    c.inp = gc_buf(ni); c.w = gc_buf(nw); c.out = gc_buf(no); c.rstd = gc_buf(N); c.R = gc_buf(no);
    gc_fill(c.inp, ni, &rng, 1); gc_fill(c.w, nw, &rng, 1); gc_fill(c.R, no, &rng, 1);
    rmsproj_loss(&c);
    real *di = gc_buf(ni), *dw = gc_buf(nw);
    gc_fill(di, ni, &rng, 1); /* backward accumulates: start from non-zero and subtract */
    real *di0 = gc_buf(ni);
    memcpy(di0, di, sizeof(real) * ni);
    real *dout = gc_buf(no); /* the kernel scales its dout in place */
    memcpy(dout, c.R, sizeof(real) * no);
    KS->rms_projection_backward(di, dw, dout, c.out, c.inp, c.w, c.rstd, c.N, c.IC, c.OC);
    for (size_t k = 0; k < ni; k++) di[k] -= di0[k];
    char what[64];
    snprintf(what, sizeof what, "rms_projection OC=%d dinp", OC);
    EXPECT(gc_check(rmsproj_loss, &c, c.inp, di, ni, 100, what) < GC_TOL);
    snprintf(what, sizeof what, "rms_projection OC=%d dw", OC);
    EXPECT(gc_check(rmsproj_loss, &c, c.w, dw, nw, 100, what) < GC_TOL);
    rng_free(&rng);
    gc_free_bufs();
}
TEST(grad_rms_projection) {
    check_rms_projection(7, 9, 5);
    check_rms_projection(8, 37, 24);
}

/* ---- rope: the backward is the inverse rotation ---- */
typedef struct { int B, T, H, hd, stride; real *x, *y, *cs, *sn, *R; } RopeCtx;
static double rope_loss(void *p) {
    RopeCtx *c = p;
    size_t n = (size_t)c->B * c->T * c->stride;
    memcpy(c->y, c->x, n * sizeof(real));
    K->rope(c->y, c->B, c->T, c->H, c->hd, c->hd, c->stride, c->cs, c->sn, 0);
    return gc_dot(c->y, c->R, n);
}
TEST(grad_rope) {
    Rng rng; rng_init(&rng, 3);
    RopeCtx c = {.B = 2, .T = 5, .H = 2, .hd = 4, .stride = 10}; /* stride > H*hd: untouched columns */
    size_t n = 2 * 5 * 10;
    c.x = gc_buf(n); c.y = gc_buf(n); c.R = gc_buf(n); c.cs = gc_buf(5 * 2); c.sn = gc_buf(5 * 2);
    rope_tables(c.cs, c.sn, 5, 4, 10000);
    gc_fill(c.x, n, &rng, 1); gc_fill(c.R, n, &rng, 1);
    real *dx = gc_buf(n);
    memcpy(dx, c.R, n * sizeof(real));
    K->rope(dx, c.B, c.T, c.H, c.hd, c.hd, c.stride, c.cs, c.sn, 1);
    EXPECT(gc_check(rope_loss, &c, c.x, dx, n, 200, "rope dx") < GC_TOL);
    rng_free(&rng);
    gc_free_bufs();
}

/* ---- attention: MHA, GQA and MQA, with dk != dv and strided (fused q|k|v) layouts ---- */
typedef struct { AttnShape s; real *q, *k, *v, *out, *lse, *work, *R; size_t work_n; } AttCtx;
static double att_loss(void *p) {
    AttCtx *c = p;
    K->attention_forward(c->out, c->lse, c->work, c->work_n, c->q, c->k, c->v, &c->s);
    return gc_dot(c->out, c->R, (size_t)c->s.B * c->s.T * c->s.o_stride);
}
/* T 37: two query blocks of the kernel (32 + 5), so the recomputed probabilities of a later block, its
 * skipped upper triangle and the partial last block are all checked */
static void check_attention(int H, int Hkv, int T, const char *name) {
    Rng rng; rng_init(&rng, 4 + H * 10 + Hkv);
    int B = 2, dk = 4, dv = 3;
    int W = H * dk + Hkv * dk + Hkv * dv;
    AttCtx c;
    c.s = (AttnShape){.B = B, .T = T, .H = H, .Hkv = Hkv, .dk = dk, .dv = dv, .q_stride = W, .k_stride = W,
                      .v_stride = W, .o_stride = H * dv, .scale = 0.5};
    size_t nqkv = (size_t)B * T * W, no = (size_t)B * T * H * dv;
    real *qkv = gc_buf(nqkv);
    gc_fill(qkv, nqkv, &rng, 1);
    c.q = qkv; c.k = qkv + H * dk; c.v = c.k + Hkv * dk;
    c.work_n = K->attention_work_size(&c.s);
    c.out = gc_buf(no); c.lse = gc_buf((size_t)B * H * T); c.work = gc_buf(c.work_n); c.R = gc_buf(no);
    gc_fill(c.R, no, &rng, 1);
    att_loss(&c);
    real *d = gc_buf(nqkv);
    K->attention_backward(d, d + H * dk, d + H * dk + Hkv * dk, c.work, c.work_n, c.R, c.lse, c.q, c.k, c.v, &c.s);
    char what[64];
    snprintf(what, sizeof what, "attention %s d(q|k|v)", name);
    EXPECT(gc_check(att_loss, &c, qkv, d, nqkv, 400, what) < GC_TOL);
    rng_free(&rng);
    gc_free_bufs();
}
TEST(grad_attention_mha) { check_attention(2, 2, 5, "MHA"); }
TEST(grad_attention_gqa) { check_attention(4, 2, 37, "GQA"); }
TEST(grad_attention_mqa) { check_attention(3, 1, 37, "MQA"); }

/* ---- swiglu ---- */
typedef struct { int N, F; real *gu, *h, *R; } SwiCtx;
static double swi_loss(void *p) {
    SwiCtx *c = p;
    K->swiglu_forward(c->h, c->gu, c->N, c->F);
    return gc_dot(c->h, c->R, (size_t)c->N * c->F);
}
TEST(grad_swiglu) {
    Rng rng; rng_init(&rng, 5);
    SwiCtx c = {.N = 3, .F = 5};
    c.gu = gc_buf(30); c.h = gc_buf(15); c.R = gc_buf(15);
    gc_fill(c.gu, 30, &rng, 2); gc_fill(c.R, 15, &rng, 1);
    real *d = gc_buf(30);
    gc_fill(d, 30, &rng, 5); /* garbage: the kernel overwrites its output */
    K->swiglu_backward(d, c.R, c.gu, 3, 5);
    EXPECT(gc_check(swi_loss, &c, c.gu, d, 30, 100, "swiglu d(gate|up)") < GC_TOL);
    rng_free(&rng);
    gc_free_bufs();
}

/* ---- embedding (repeated tokens accumulate) ---- */
typedef struct { int N, C; int *tok; real *table, *out, *R; } EmbCtx;
static double emb_loss(void *p) {
    EmbCtx *c = p;
    K->embedding_forward(c->out, c->tok, c->table, c->N, c->C);
    return gc_dot(c->out, c->R, (size_t)c->N * c->C);
}
TEST(grad_embedding) {
    Rng rng; rng_init(&rng, 6);
    int tok[6] = {1, 3, 1, 0, 4, 1};
    EmbCtx c = {.N = 6, .C = 3, .tok = tok};
    c.table = gc_buf(15); c.out = gc_buf(18); c.R = gc_buf(18);
    gc_fill(c.table, 15, &rng, 1); gc_fill(c.R, 18, &rng, 1);
    real *d = gc_buf(15);
    K->embedding_backward(d, c.R, tok, 6, 3);
    EXPECT(gc_check(emb_loss, &c, c.table, d, 15, 100, "embedding dtable") < GC_TOL);
    rng_free(&rng);
    gc_free_bufs();
}

/* ---- cross-entropy with ignored targets ---- */
typedef struct { int N, V; int *tg; real *logits, *work, *losses; } CeCtx;
static double ce_loss(void *p) {
    CeCtx *c = p;
    memcpy(c->work, c->logits, sizeof(real) * c->N * c->V);
    int nv;
    double s = K->cross_entropy_forward(c->losses, c->work, c->tg, c->N, c->V, &nv);
    return s / nv;
}
TEST(grad_cross_entropy) {
    Rng rng; rng_init(&rng, 7);
    int tg[4] = {2, -1, 0, 4};
    CeCtx c = {.N = 4, .V = 5, .tg = tg};
    c.logits = gc_buf(20); c.work = gc_buf(20); c.losses = gc_buf(4);
    gc_fill(c.logits, 20, &rng, 2);
    ce_loss(&c);
    K->cross_entropy_backward(c.work, tg, 4, 5, (real)(1.0 / 3));
    real *d = gc_buf(20);
    memcpy(d, c.work, sizeof(real) * 20);
    EXPECT(gc_check(ce_loss, &c, c.logits, d, 20, 100, "cross-entropy dlogits") < GC_TOL);
    rng_free(&rng);
    gc_free_bufs();
}
