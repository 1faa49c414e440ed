/* gpu_check: the CUDA backend against the CPU backend (tools/gpu_check.sh runs it on the GPU machine).
 *   gpu_check [--cpu-only] [--out DIR] [--only kernels|steps|curves|bench] [--quick]
 * 1. kernels: every kernel of the three tables on random inputs, the device table against the CPU table, each
 *    with its stated tolerance: max over elements of |device - cpu| / (1 + |cpu|);
 * 2. steps: one training step (forward, backward, clipping's norm, AdamW) of each model family on both backends
 *    from the same initial weights and batch: loss, gradient and updated weights compared;
 * 3. curves: 200 training steps on both backends; the loss curves compared step by step;
 * 4. bench: training tokens/s of the CUDA backend at GPT-2-small scale (d 768, 12 blocks, T 1024), dense and an
 *    mHC/MLA/MoE variant, fp32 and bf16, and the mHC overhead over the residual at n = 4 (PyTorch's numbers come
 *    from tools/gpu_bench_torch.py, which gpu_check.sh runs beside it).
 * --cpu-only: the "device" is the cpu-checked backend (the CPU kernels behind the host-access check), so the whole
 * harness runs on a machine without a GPU; kernels and steps must then agree exactly, and the bench runs at a tiny
 * scale on the CPU. Results: one line per check on stdout and TSV files in DIR (default out/gpu_check). The exit
 * status is 1 when any check fails. */
#include <math.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "arch/model.h"
#include "arch/rope.h"
#include "core/backend.h"
#include "core/moe_kernels.h"
#include "core/optim.h"
#include "core/rng.h"
#include "core/stream_kernels.h"
#include "data/data.h"
#include "train/checkpoint.h"
#include "train/trainer.h"
#ifdef AL_CUDA
#include "core/backend_cuda.h"
#endif

static const Backend *R = &al_backend_cpu, *D;
static const MoeKernels *RM = &al_moe_cpu, *DM;
static const StreamKernels *RS = &al_streams_cpu, *DS;
static const char *device_name = "cuda";
static int cpu_only, quick, failures;
static char out_dir[512] = "out/gpu_check";
static FILE *tsv;
static Rng rng;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void sync_device(void) {
#ifdef AL_CUDA
    if (!cpu_only) cuda_synchronize();
#endif
}

static FILE *open_tsv(const char *name, const char *header) {
    char path[700];
    snprintf(path, sizeof path, "%s/%s", out_dir, name);
    FILE *f = fopen(path, "w");
    if (!f) { fprintf(stderr, "gpu_check: cannot write %s\n", path); exit(2); }
    fprintf(f, "%s\n", header);
    return f;
}

/* ---- buffers: a host copy (the CPU kernel's operand) and a device copy (the device kernel's), same contents ---- */

typedef struct Buf { real *h, *d; size_t n; } Buf;

static Buf buf_of(const real *h, size_t n) {
    Buf b = {malloc(sizeof(real) * (n ? n : 1)), D->alloc(n ? n : 1, "gpu_check"), n};
    if (!b.h || !b.d) { fprintf(stderr, "gpu_check: out of memory: %s\n", al_error_message()); exit(2); }
    if (h) memcpy(b.h, h, sizeof(real) * n);
    else memset(b.h, 0, sizeof(real) * (n ? n : 1));
    D->to_device(b.d, b.h, n);
    return b;
}
static Buf buf_rand(size_t n, double std) {
    real *h = malloc(sizeof(real) * (n ? n : 1));
    for (size_t i = 0; i < n; i++) h[i] = (real)rng_normal(&rng, std);
    Buf b = buf_of(h, n);
    free(h);
    return b;
}
static Buf buf_uniform(size_t n, double lo, double hi) {
    real *h = malloc(sizeof(real) * (n ? n : 1));
    for (size_t i = 0; i < n; i++) h[i] = (real)(lo + (hi - lo) * rng_uniform(&rng));
    Buf b = buf_of(h, n);
    free(h);
    return b;
}
static Buf buf_zero(size_t n) { return buf_of(NULL, n); }
static void buf_free(Buf *b) { free(b->h); D->free(b->d); memset(b, 0, sizeof *b); }
#define FREE(...) do { Buf *all_[] = {__VA_ARGS__}; for (size_t i_ = 0; i_ < sizeof all_ / sizeof *all_; i_++) buf_free(all_[i_]); } while (0)

/* ---- the report ---- */

static void report(const char *part, const char *what, const char *shape, double err, double tol) {
    int ok = err <= tol; /* false for NaN */
    if (!ok) failures++;
    printf("%-8s %-34s %-30s err %-10.3g tol %-8.2g %s\n", part, what, shape, err, tol, ok ? "ok" : "FAIL");
    fflush(stdout);
    if (tsv) fprintf(tsv, "%s\t%s\t%s\t%.6g\t%.3g\t%s\n", part, what, shape, err, tol, ok ? "ok" : "FAIL");
}

/* max |device - cpu| / (1 + |cpu|) over b's elements */
static double buf_err(const Buf *b) {
    real *d = malloc(sizeof(real) * (b->n ? b->n : 1));
    D->to_host(d, b->d, b->n);
    double e = 0;
    for (size_t i = 0; i < b->n; i++) {
        double x = fabs((double)d[i] - b->h[i]) / (1 + fabs((double)b->h[i]));
        if (!(x <= e)) e = x; /* NaN wins */
    }
    free(d);
    return e;
}
static void check(const char *what, const char *shape, const Buf *b, double tol) { report("kernel", what, shape, buf_err(b), tol); }
static double rel(double a, double b) { return fabs(a - b) / (1 + fabs(b)); }
static void check_scalar(const char *what, const char *shape, double dev, double ref, double tol) {
    report("kernel", what, shape, rel(dev, ref), tol);
}
static void check_ints(const char *what, const char *shape, const int *dev, const int *ref, size_t n, int allowed) {
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) bad += dev[i] != ref[i];
    report("kernel", what, shape, (double)bad, allowed);
}
static void check_doubles(const char *what, const char *shape, const double *dev, const double *ref, size_t n, double tol) {
    double e = 0;
    for (size_t i = 0; i < n; i++) { double x = rel(dev[i], ref[i]); if (!(x <= e)) e = x; }
    report("kernel", what, shape, e, tol);
}

/* Tolerances (float32 against float32 in another order): elementwise formulas 1e-6 (FMA contraction differs),
 * reductions over a row 1e-5, GEMMs and what is built on them 1e-4; ints exact. cpu-only: all exact. */
static double T_EL = 1e-6, T_ROW = 1e-5, T_GEMM = 1e-4;

static char shp[128];
static const char *S(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(shp, sizeof shp, fmt, ap);
    va_end(ap);
    return shp;
}

/* ---- 1. kernels ---- */

static void k_gemm(void) {
    int M = 67, N = 129, Kd = 200;
    for (int ta = 0; ta <= 1; ta++)
        for (int tb = 0; tb <= 1; tb++) {
            int lda = (ta ? M : Kd) + 3, ldb = (tb ? Kd : N) + 5, ldc = N + 2;
            Buf A = buf_rand((size_t)(ta ? Kd : M) * lda, 1), B = buf_rand((size_t)(tb ? N : Kd) * ldb, 1),
                C = buf_rand((size_t)M * ldc, 1);
            R->gemm(ta, tb, M, N, Kd, 0.7f, A.h, lda, B.h, ldb, -0.3f, C.h, ldc);
            D->gemm(ta, tb, M, N, Kd, 0.7f, A.d, lda, B.d, ldb, -0.3f, C.d, ldc);
            check("gemm", S("ta %d tb %d %dx%dx%d", ta, tb, M, N, Kd), &C, T_GEMM);
            FREE(&A, &B, &C);
        }
}

static void k_linear(void) {
    int shapes[2][3] = {{300, 256, 384}, {1000, 768, 24}};
    for (int s = 0; s < 2; s++) {
        int N = shapes[s][0], IC = shapes[s][1], OC = shapes[s][2];
        Buf x = buf_rand((size_t)N * IC, 1), w = buf_rand((size_t)OC * IC, 0.05), bias = buf_rand(OC, 1),
            y = buf_zero((size_t)N * OC), dy = buf_rand((size_t)N * OC, 1), dx = buf_rand((size_t)N * IC, 1),
            dw = buf_rand((size_t)OC * IC, 1), db = buf_rand(OC, 1);
        R->linear_forward(y.h, x.h, w.h, bias.h, N, IC, OC);
        D->linear_forward(y.d, x.d, w.d, bias.d, N, IC, OC);
        check("linear_forward (+bias)", S("%dx%d -> %d", N, IC, OC), &y, T_GEMM);
        R->linear_backward(dx.h, dw.h, db.h, dy.h, x.h, w.h, N, IC, OC);
        D->linear_backward(dx.d, dw.d, db.d, dy.d, x.d, w.d, N, IC, OC);
        check("linear_backward dinp", shp, &dx, T_GEMM);
        check("linear_backward dw", shp, &dw, T_GEMM);
        check("linear_backward dbias", shp, &db, T_GEMM);
        FREE(&x, &w, &bias, &y, &dy, &dx, &dw, &db);
    }
}

static void k_rmsnorm(void) {
    int N = 300, C = 768;
    for (int with_w = 1; with_w >= 0; with_w--) {
        Buf x = buf_rand((size_t)N * C, 2), w = buf_rand(C, 1), o = buf_zero((size_t)N * C), r = buf_zero(N),
            g = buf_rand((size_t)N * C, 1), dx = buf_rand((size_t)N * C, 1), dw = buf_rand(C, 1);
        R->rmsnorm_forward(o.h, r.h, x.h, with_w ? w.h : NULL, N, C, 1e-6f);
        D->rmsnorm_forward(o.d, r.d, x.d, with_w ? w.d : NULL, N, C, 1e-6f);
        const char *sh = S("%dx%d%s", N, C, with_w ? "" : " no weight");
        check("rmsnorm_forward", sh, &o, T_ROW);
        check("rmsnorm_forward rstd", sh, &r, T_ROW);
        D->to_device(r.d, r.h, N); /* the backward from the same rstd */
        R->rmsnorm_backward(dx.h, with_w ? dw.h : NULL, g.h, x.h, with_w ? w.h : NULL, r.h, N, C);
        D->rmsnorm_backward(dx.d, with_w ? dw.d : NULL, g.d, x.d, with_w ? w.d : NULL, r.d, N, C);
        check("rmsnorm_backward dinp", sh, &dx, T_ROW);
        if (with_w) check("rmsnorm_backward dw", sh, &dw, T_ROW);
        FREE(&x, &w, &o, &r, &g, &dx, &dw);
    }
}

static void k_rope(void) {
    int B = 2, T = 50, H = 6, hs = 64, rot = 32, stride = H * hs + 10, half = rot / 2;
    real *cs = malloc(sizeof(real) * T * half * 2);
    rope_tables(cs, cs + T * half, T, rot, 10000);
    Buf c = buf_of(cs, (size_t)T * half), s = buf_of(cs + T * half, (size_t)T * half), x = buf_rand((size_t)B * T * stride, 1);
    for (int inv = 0; inv <= 1; inv++) {
        R->rope(x.h, B, T, H, hs, rot, stride, c.h, s.h, inv);
        D->rope(x.d, B, T, H, hs, rot, stride, c.d, s.d, inv);
        check(inv ? "rope (inverse)" : "rope", S("B %d T %d H %d rot %d", B, T, H, rot), &x, T_EL);
    }
    FREE(&c, &s, &x);
    free(cs);
}

static void k_attention(void) {
    int cfg[3][5] = {{2, 300, 4, 4, 32}, {2, 130, 8, 2, 48}, {1, 33, 3, 1, 16}}; /* B T H Hkv dk (dv = 32) */
    for (int c = 0; c < 3; c++) {
        int B = cfg[c][0], T = cfg[c][1], H = cfg[c][2], Hkv = cfg[c][3], dk = cfg[c][4], dv = 32;
        int W = H * dk + Hkv * dk + Hkv * dv;
        AttnShape s = {B, T, H, Hkv, dk, dv, W, W, W, H * dv, (real)(1 / sqrt(dk))};
        Buf qkv = buf_rand((size_t)B * T * W, 1), out = buf_zero((size_t)B * T * H * dv), lse = buf_zero((size_t)B * H * T),
            dout = buf_rand((size_t)B * T * H * dv, 1), dqkv = buf_rand((size_t)B * T * W, 1);
        size_t wr = R->attention_work_size(&s), wd = D->attention_work_size(&s);
        real *workr = malloc(sizeof(real) * wr), *workd = D->alloc(wd, "gpu_check");
        size_t ko = (size_t)H * dk, vo = ko + (size_t)Hkv * dk;
        R->attention_forward(out.h, lse.h, workr, wr, qkv.h, qkv.h + ko, qkv.h + vo, &s);
        D->attention_forward(out.d, lse.d, workd, wd, qkv.d, qkv.d + ko, qkv.d + vo, &s);
        const char *sh = S("B %d T %d H %d Hkv %d dk %d", B, T, H, Hkv, dk);
        check("attention_forward out", sh, &out, T_GEMM);
        check("attention_forward lse", sh, &lse, T_GEMM);
        D->to_device(lse.d, lse.h, lse.n);
        R->attention_backward(dqkv.h, dqkv.h + ko, dqkv.h + vo, workr, wr, dout.h, lse.h, qkv.h, qkv.h + ko, qkv.h + vo, &s);
        D->attention_backward(dqkv.d, dqkv.d + ko, dqkv.d + vo, workd, wd, dout.d, lse.d, qkv.d, qkv.d + ko, qkv.d + vo, &s);
        check("attention_backward dq|dk|dv", sh, &dqkv, T_GEMM);
        free(workr);
        D->free(workd);
        FREE(&qkv, &out, &lse, &dout, &dqkv);
    }
}

static void k_decode(void) {
    int B = 2, H = 4, Hkv = 2, dk = 32, dv = 32, maxlen = 64, Wc = Hkv * (dk + dv);
    size_t bs = (size_t)maxlen * Wc;
    Buf cache = buf_rand((size_t)B * bs, 1);
    int cases[2][2] = {{1, 40}, {5, 20}};
    for (int c = 0; c < 2; c++) {
        int T = cases[c][0], pos0 = cases[c][1], Tk = pos0 + T;
        AttnShape s = {B, T, H, Hkv, dk, dv, H * dk, Wc, Wc, H * dv, (real)(1 / sqrt(dk))};
        Buf q = buf_rand((size_t)B * T * H * dk, 1), out = buf_zero((size_t)B * T * H * dv),
            sc = buf_zero((size_t)B * H * T * Tk);
        R->attention_decode(out.h, sc.h, q.h, cache.h, cache.h + Hkv * dk, &s, pos0, bs, bs);
        D->attention_decode(out.d, sc.d, q.d, cache.d, cache.d + Hkv * dk, &s, pos0, bs, bs);
        check("attention_decode", S("B %d T %d pos0 %d GQA", B, T, pos0), &out, T_GEMM);
        FREE(&q, &out, &sc);
    }
    buf_free(&cache);
}

static void k_swiglu(void) {
    int N = 333, F = 500;
    Buf gu = buf_rand((size_t)N * 2 * F, 3), h = buf_zero((size_t)N * F), dh = buf_rand((size_t)N * F, 1),
        dgu = buf_zero((size_t)N * 2 * F);
    R->swiglu_forward(h.h, gu.h, N, F);
    D->swiglu_forward(h.d, gu.d, N, F);
    check("swiglu_forward", S("%dx%d", N, F), &h, T_EL);
    R->swiglu_backward(dgu.h, dh.h, gu.h, N, F);
    D->swiglu_backward(dgu.d, dh.d, gu.d, N, F);
    check("swiglu_backward", shp, &dgu, T_EL);
    FREE(&gu, &h, &dh, &dgu);
}

static void k_embedding(void) {
    int V = 100, N = 1000, C = 96;
    int *tok = malloc(sizeof(int) * N);
    for (int i = 0; i < N; i++) tok[i] = (int)(rng_uniform(&rng) * V * rng_uniform(&rng)); /* skewed: repeats */
    Buf t = buf_rand((size_t)V * C, 1), o = buf_zero((size_t)N * C), g = buf_rand((size_t)N * C, 1), dt = buf_rand((size_t)V * C, 1);
    R->embedding_forward(o.h, tok, t.h, N, C);
    D->embedding_forward(o.d, tok, t.d, N, C);
    check("embedding_forward", S("V %d N %d C %d", V, N, C), &o, 0);
    R->embedding_backward(dt.h, g.h, tok, N, C);
    D->embedding_backward(dt.d, g.d, tok, N, C);
    check("embedding_backward", shp, &dt, T_EL);
    FREE(&t, &o, &g, &dt);
    free(tok);
}

static void k_cross_entropy(void) {
    int N = 200, V = 1000;
    int *tg = malloc(sizeof(int) * N);
    for (int i = 0; i < N; i++) tg[i] = i % 7 == 3 ? -1 : (int)(rng_uniform(&rng) * V);
    Buf lg = buf_rand((size_t)N * V, 3), loss = buf_zero(N);
    int nr = 0, nd = 0;
    double tr = R->cross_entropy_forward(loss.h, lg.h, tg, N, V, &nr);
    double td = D->cross_entropy_forward(loss.d, lg.d, tg, N, V, &nd);
    const char *sh = S("N %d V %d", N, V);
    check_scalar("cross_entropy_forward total", sh, td, tr, T_ROW);
    check_scalar("cross_entropy_forward n_valid", sh, nd, nr, 0);
    check("cross_entropy_forward losses", sh, &loss, T_ROW);
    check("cross_entropy_forward probs", sh, &lg, T_ROW);
    D->to_device(lg.d, lg.h, lg.n);
    R->cross_entropy_backward(lg.h, tg, N, V, (real)(1.0 / nr));
    D->cross_entropy_backward(lg.d, tg, N, V, (real)(1.0 / nr));
    check("cross_entropy_backward", sh, &lg, T_EL);
    FREE(&lg, &loss);
    free(tg);
}

static void k_elementwise(void) {
    size_t n = 100003;
    Buf a = buf_rand(n, 1), b = buf_rand(n, 1), o = buf_rand(n, 1);
    R->add(o.h, a.h, b.h, n); D->add(o.d, a.d, b.d, n);
    check("add", S("n %zu", n), &o, 0);
    R->accumulate(o.h, a.h, n); D->accumulate(o.d, a.d, n);
    check("accumulate", shp, &o, 0);
    R->scale(o.h, 0.37f, n); D->scale(o.d, 0.37f, n);
    check("scale", shp, &o, 0);
    R->copy(o.h, a.h, n); D->copy(o.d, a.d, n);
    check("copy", shp, &o, 0);
    R->copy(o.h + 5, o.h, 1000); D->copy(o.d + 5, o.d, 1000);
    check("copy (overlapping)", "n 1000", &o, 0);
    R->zero(o.h, n); D->zero(o.d, n);
    check("zero", shp, &o, 0);
    Buf big = buf_rand(1 << 20, 1);
    check_scalar("sum_squares", "n 2^20", D->sum_squares(big.d, big.n), R->sum_squares(big.h, big.n), 1e-9);
    check_scalar("all_finite (finite)", "n 2^20", D->all_finite(big.d, big.n), 1, 0);
    real bad[2] = {NAN, INFINITY};
    for (int k = 0; k < 2; k++) {
        D->to_device(big.d + 777 + k * 5000, &bad[k], 1);
        check_scalar(k ? "all_finite (an inf)" : "all_finite (a NaN)", "n 2^20", D->all_finite(big.d, big.n), 0, 0);
        real one = 1;
        D->to_device(big.d + 777 + k * 5000, &one, 1);
    }
    Buf w = buf_rand(n, 1), g = buf_rand(n, 1), m = buf_rand(n, 0.1), v = buf_uniform(n, 0, 0.01);
    R->adamw(w.h, g.h, m.h, v.h, n, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 3);
    D->adamw(w.d, g.d, m.d, v.d, n, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 3);
    check("adamw weights", S("n %zu t 3", n), &w, T_EL);
    check("adamw m", shp, &m, T_EL);
    check("adamw v", shp, &v, T_EL);
    FREE(&a, &b, &o, &big, &w, &g, &m, &v);
}

static void k_copy_strided(void) {
    int rows = 50, blocks = 6, cols = 40;
    /* (dst_stride, dst_block, src_stride, src_block, accumulate) */
    size_t cases[3][5] = {{blocks * 48, 48, cols + 7, 0, 0}, {blocks * cols, cols, blocks * 45, 45, 0}, {cols + 3, 0, blocks * cols, cols, 1}};
    const char *names[3] = {"copy_strided (broadcast src)", "copy_strided (blocks)", "copy_strided (sum over blocks)"};
    for (int c = 0; c < 3; c++) {
        Buf dst = buf_rand((size_t)rows * cases[c][0] + blocks * cases[c][1] + cols, 1);
        Buf src = buf_rand((size_t)rows * cases[c][2] + blocks * cases[c][3] + cols, 1);
        R->copy_strided(dst.h, src.h, rows, blocks, cols, cases[c][0], cases[c][1], cases[c][2], cases[c][3], (int)cases[c][4]);
        D->copy_strided(dst.d, src.d, rows, blocks, cols, cases[c][0], cases[c][1], cases[c][2], cases[c][3], (int)cases[c][4]);
        check(names[c], S("%d x %d x %d", rows, blocks, cols), &dst, T_EL);
        FREE(&dst, &src);
    }
}

static void k_sampling(void) {
    int N = 64, V = 500;
    Buf lg = buf_rand((size_t)N * V, 2);
    int tr[64], td[64];
    double u[64], lr[64], ld[64];
    for (int i = 0; i < N; i++) u[i] = rng_uniform(&rng);
    R->sample_tokens(tr, lg.h, u, N, V, 0);
    D->sample_tokens(td, lg.d, u, N, V, 0);
    check_ints("sample_tokens (argmax)", S("N %d V %d", N, V), td, tr, N, 0);
    R->sample_tokens(tr, lg.h, u, N, V, 0.8f);
    D->sample_tokens(td, lg.d, u, N, V, 0.8f);
    /* a draw can land on the other side of a boundary when exp rounds differently: at most one in 64 */
    check_ints("sample_tokens (temperature 0.8)", shp, td, tr, N, cpu_only ? 0 : 1);
    R->sample_nucleus(tr, lr, lg.h, V, u, N, V, 0.9f, 0.8f);
    D->sample_nucleus(td, ld, lg.d, V, u, N, V, 0.9f, 0.8f);
    check_ints("sample_nucleus (top_p 0.8)", shp, td, tr, N, 0);
    check_doubles("sample_nucleus logp", shp, ld, lr, N, T_ROW);
    int tok[64];
    for (int i = 0; i < N; i++) tok[i] = i % 9 == 0 ? -1 : (int)(rng_uniform(&rng) * V);
    R->token_logprobs(lr, lg.h, tok, N, V, 0.7f);
    D->token_logprobs(ld, lg.d, tok, N, V, 0.7f);
    check_doubles("token_logprobs logp", shp, ld, lr, N, T_ROW);
    check("token_logprobs probs", shp, &lg, T_ROW);
    D->to_device(lg.d, lg.h, lg.n);
    double w[64];
    for (int i = 0; i < N; i++) w[i] = i % 5 == 0 ? 0 : rng_normal(&rng, 1);
    R->logprob_backward(lg.h, tok, w, N, V, 0.7f);
    D->logprob_backward(lg.d, tok, w, N, V, 0.7f);
    check("logprob_backward", shp, &lg, T_EL);
    for (int reverse = 0; reverse <= 1; reverse++) {
        Buf st = buf_rand((size_t)N * V, 2), te = buf_rand((size_t)N * V, 2);
        double klr[64], kld[64], cer[64], ced[64], wc[64];
        for (int i = 0; i < N; i++) wc[i] = i % 3 ? 0.5 : 0;
        R->distill_kl(klr, cer, st.h, te.h, tok, w, wc, N, V, 2.0f, reverse);
        D->distill_kl(kld, ced, st.d, te.d, tok, w, wc, N, V, 2.0f, reverse);
        check_doubles(reverse ? "distill_kl kl (reverse)" : "distill_kl kl", shp, kld, klr, N, T_ROW);
        check_doubles("distill_kl ce", shp, ced, cer, N, T_ROW);
        check("distill_kl dlogits", shp, &st, T_ROW);
        FREE(&st, &te);
    }
    buf_free(&lg);
}

/* ---- MoE ---- */

static void k_moe(void) {
    int B = 4, T = 64, N = B * T, E = 16, Kk = 4;
    for (int sig = 0; sig <= 1; sig++) {
        Buf l = buf_rand((size_t)N * E, 1), s = buf_zero((size_t)N * E), ds = buf_rand((size_t)N * E, 1), dl = buf_rand((size_t)N * E, 1);
        RM->moe_scores_forward(s.h, l.h, N, E, sig);
        DM->moe_scores_forward(s.d, l.d, N, E, sig);
        check(sig ? "moe_scores_forward (sigmoid)" : "moe_scores_forward (softmax)", S("N %d E %d", N, E), &s, T_EL);
        D->to_device(s.d, s.h, s.n);
        RM->moe_scores_backward(dl.h, ds.h, s.h, N, E, sig);
        DM->moe_scores_backward(dl.d, ds.d, s.d, N, E, sig);
        check(sig ? "moe_scores_backward (sigmoid)" : "moe_scores_backward (softmax)", shp, &dl, T_EL);
        FREE(&l, &s, &ds, &dl);
    }
    MoeRouteSpec specs[3] = {{E, Kk, 1, 1, 0, 0, 1}, {E, Kk, 4, 2, 1, 1, 1}, {E, Kk, 4, 2, 2, 1, 2.5f}};
    const char *names[3] = {"greedy", "group-limited (V2)", "noaux_tc + bias (V3)"};
    for (int c = 0; c < 3; c++) {
        Buf s = buf_uniform((size_t)N * E, 0, 1), bias = buf_rand(E, 0.1), w = buf_zero((size_t)N * Kk),
            dw = buf_rand((size_t)N * Kk, 1), ds = buf_rand((size_t)N * E, 1);
        int *ir = malloc(sizeof(int) * N * Kk), *id = malloc(sizeof(int) * N * Kk);
        const real *bh = c == 2 ? bias.h : NULL, *bd = c == 2 ? bias.d : NULL;
        RM->moe_route(ir, w.h, s.h, bh, N, &specs[c]);
        DM->moe_route(id, w.d, s.d, bd, N, &specs[c]);
        char what[64];
        snprintf(what, sizeof what, "moe_route %s experts", names[c]);
        check_ints(what, S("N %d E %d K %d", N, E, Kk), id, ir, (size_t)N * Kk, 0);
        snprintf(what, sizeof what, "moe_route %s gates", names[c]);
        check(what, shp, &w, T_EL);
        RM->moe_gate_backward(ds.h, dw.h, s.h, ir, N, &specs[c]);
        DM->moe_gate_backward(ds.d, dw.d, s.d, ir, N, &specs[c]);
        snprintf(what, sizeof what, "moe_gate_backward %s", names[c]);
        check(what, shp, &ds, T_EL);
        if (c == 2) { /* dispatch, gather, combine and the balance losses on these choices */
            int C = 96, M = N * Kk;
            int *cr = malloc(sizeof(int) * (E + E + 1 + 2 * M)), *cd = malloc(sizeof(int) * (E + E + 1 + 2 * M));
            RM->moe_dispatch(cr, cr + E, cr + 2 * E + 1, cr + 2 * E + 1 + M, ir, N, Kk, E);
            DM->moe_dispatch(cd, cd + E, cd + 2 * E + 1, cd + 2 * E + 1 + M, ir, N, Kk, E);
            check_ints("moe_dispatch", S("N %d K %d E %d", N, Kk, E), cd, cr, (size_t)2 * E + 1 + 2 * M, 0);
            const int *tok = cr + 2 * E + 1, *pos = tok + M;
            Buf x = buf_rand((size_t)N * C, 1), xg = buf_zero((size_t)M * C), y = buf_rand((size_t)M * C, 1),
                out = buf_rand((size_t)N * C, 1), dout = buf_rand((size_t)N * C, 1), dy = buf_zero((size_t)M * C),
                dg = buf_rand((size_t)N * Kk, 1);
            D->to_device(w.d, w.h, w.n);
            RM->gather_rows(xg.h, x.h, tok, M, C);
            DM->gather_rows(xg.d, x.d, tok, M, C);
            check("gather_rows", S("M %d C %d", M, C), &xg, 0);
            RM->moe_combine(out.h, y.h, pos, w.h, N, Kk, C);
            DM->moe_combine(out.d, y.d, pos, w.d, N, Kk, C);
            check("moe_combine", S("N %d K %d C %d", N, Kk, C), &out, T_EL);
            RM->moe_combine(out.h, y.h, pos, NULL, N, Kk, C);
            DM->moe_combine(out.d, y.d, pos, NULL, N, Kk, C);
            check("moe_combine (no weights)", shp, &out, T_EL);
            RM->moe_combine_backward(dy.h, dg.h, dout.h, y.h, pos, w.h, N, Kk, C);
            DM->moe_combine_backward(dy.d, dg.d, dout.d, y.d, pos, w.d, N, Kk, C);
            check("moe_combine_backward dy", shp, &dy, T_EL);
            check("moe_combine_backward dw", shp, &dg, T_ROW);
            double br = RM->moe_balance_forward(s.h, ir, B, T, E, Kk, 4, 0.01f, 0.02f);
            double bd2 = DM->moe_balance_forward(s.d, ir, B, T, E, Kk, 4, 0.01f, 0.02f);
            check_scalar("moe_balance_forward", S("B %d T %d E %d", B, T, E), bd2, br, T_ROW);
            RM->moe_balance_backward(ds.h, s.h, ir, B, T, E, Kk, 4, 0.01f, 0.02f);
            DM->moe_balance_backward(ds.d, s.d, ir, B, T, E, Kk, 4, 0.01f, 0.02f);
            check("moe_balance_backward", shp, &ds, T_EL);
            check_scalar("row_entropy", S("N %d E %d", N, E), DM->row_entropy(s.d, N, E), RM->row_entropy(s.h, N, E), T_ROW);
            FREE(&x, &xg, &y, &out, &dout, &dy, &dg);
            free(cr);
            free(cd);
        }
        FREE(&s, &bias, &w, &dw, &ds);
        free(ir);
        free(id);
    }
}

/* ---- HC / mHC streams ---- */

static void k_streams(void) {
    int N = 257, n = 4, C = 192, nC = n * C, W = 2 * n + n * n;
    Buf X = buf_rand((size_t)N * nC, 1), x = buf_rand((size_t)N * C, 1), hpre = buf_uniform((size_t)N * n, 0, 1),
        hpost = buf_uniform((size_t)N * n, 0, 2), hres = buf_uniform((size_t)N * n * n, 0, 0.5), f = buf_rand((size_t)N * C, 1);
    const char *sh = S("N %d n %d C %d", N, n, C);
    char s1[64];
    snprintf(s1, sizeof s1, "%s", sh);
    for (int acc = 0; acc <= 1; acc++) {
        Buf Xo = buf_rand((size_t)N * nC, 1), xo = buf_rand((size_t)N * C, 1);
        RS->streams_broadcast(Xo.h, x.h, N, n, C, acc); DS->streams_broadcast(Xo.d, x.d, N, n, C, acc);
        check(acc ? "streams_broadcast (accumulate)" : "streams_broadcast", s1, &Xo, T_EL);
        RS->streams_sum(xo.h, X.h, N, n, C, acc); DS->streams_sum(xo.d, X.d, N, n, C, acc);
        check(acc ? "streams_sum (accumulate)" : "streams_sum", s1, &xo, T_EL);
        FREE(&Xo, &xo);
    }
    Buf u = buf_zero((size_t)N * C), Xn = buf_zero((size_t)N * nC), dX = buf_rand((size_t)N * nC, 1), dhp = buf_zero((size_t)N * n),
        du = buf_rand((size_t)N * C, 1), dXn = buf_rand((size_t)N * nC, 1), dhres = buf_zero((size_t)N * n * n),
        dhpost = buf_zero((size_t)N * n), df = buf_zero((size_t)N * C);
    RS->stream_pre(u.h, X.h, hpre.h, N, n, C); DS->stream_pre(u.d, X.d, hpre.d, N, n, C);
    check("stream_pre", s1, &u, T_EL);
    RS->stream_pre_backward(dX.h, dhp.h, du.h, X.h, hpre.h, N, n, C);
    DS->stream_pre_backward(dX.d, dhp.d, du.d, X.d, hpre.d, N, n, C);
    check("stream_pre_backward dX", s1, &dX, T_EL);
    check("stream_pre_backward dhpre", s1, &dhp, T_ROW);
    RS->stream_post(Xn.h, X.h, hres.h, hpost.h, f.h, N, n, C); DS->stream_post(Xn.d, X.d, hres.d, hpost.d, f.d, N, n, C);
    check("stream_post", s1, &Xn, T_EL);
    RS->stream_post_backward(dX.h, dhres.h, dhpost.h, df.h, u.h, dXn.h, X.h, hres.h, hpost.h, hpre.h, f.h, N, n, C);
    DS->stream_post_backward(dX.d, dhres.d, dhpost.d, df.d, u.d, dXn.d, X.d, hres.d, hpost.d, hpre.d, f.d, N, n, C);
    check("stream_post_backward dX", s1, &dX, T_EL);
    check("stream_post_backward dhres", s1, &dhres, T_ROW);
    check("stream_post_backward dhpost", s1, &dhpost, T_ROW);
    check("stream_post_backward df", s1, &df, T_EL);
    check("stream_post_backward u", s1, &u, T_EL);
    /* the projection of the coefficient maps */
    Buf phi = buf_rand((size_t)W * nC, 0.05), raw = buf_zero((size_t)N * W), rstd = buf_zero(N), draw = buf_rand((size_t)N * W, 1),
        dphi = buf_rand((size_t)W * nC, 1), dXp = buf_rand((size_t)N * nC, 1);
    RS->rms_projection_forward(raw.h, rstd.h, X.h, phi.h, N, nC, W, 1e-6f);
    DS->rms_projection_forward(raw.d, rstd.d, X.d, phi.d, N, nC, W, 1e-6f);
    check("rms_projection_forward", S("N %d %d -> %d", N, nC, W), &raw, T_GEMM);
    check("rms_projection_forward rstd", shp, &rstd, T_ROW);
    D->to_device(raw.d, raw.h, raw.n);
    D->to_device(rstd.d, rstd.h, rstd.n);
    RS->rms_projection_backward(dXp.h, dphi.h, draw.h, raw.h, X.h, phi.h, rstd.h, N, nC, W);
    DS->rms_projection_backward(dXp.d, dphi.d, draw.d, raw.d, X.d, phi.d, rstd.d, N, nC, W);
    check("rms_projection_backward dinp", shp, &dXp, T_GEMM);
    check("rms_projection_backward dw", shp, &dphi, T_GEMM);
    check("rms_projection_backward G", shp, &draw, T_EL);
    RS->rms_projection_weight_grad(dphi.h, draw.h, X.h, N, nC, W);
    DS->rms_projection_weight_grad(dphi.d, draw.d, X.d, N, nC, W);
    check("rms_projection_weight_grad", shp, &dphi, T_GEMM);
    /* Sinkhorn-Knopp, fused per token */
    int sk[2][2] = {{4, 20}, {8, 7}};
    for (int c = 0; c < 2; c++) {
        int m = sk[c][0], it = sk[c][1];
        Buf L = buf_rand((size_t)N * m * m, 2), H = buf_zero((size_t)N * m * m), tr = buf_zero((size_t)N * m * m),
            dH = buf_rand((size_t)N * m * m, 1), dL = buf_rand((size_t)N * m * m, 1);
        RS->sinkhorn_forward(H.h, tr.h, L.h, N, m, it); DS->sinkhorn_forward(H.d, tr.d, L.d, N, m, it);
        const char *s2 = S("N %d n %d iters %d", N, m, it);
        check("sinkhorn_forward", s2, &H, T_ROW);
        D->to_device(tr.d, tr.h, tr.n);
        RS->sinkhorn_backward(dL.h, dH.h, tr.h, N, m, it); DS->sinkhorn_backward(dL.d, dH.d, tr.d, N, m, it);
        check("sinkhorn_backward", s2, &dL, T_ROW);
        FREE(&L, &H, &tr, &dH, &dL);
    }
    /* the coefficient maps: mHC dynamic (all, and H_post off) and static; HC dynamic and static */
    Buf a = buf_uniform(3, 0.5, 1.5), bpre = buf_rand(n, 1), bpost = buf_rand(n, 1), bres = buf_rand((size_t)n * n, 1),
        rl = buf_zero((size_t)N * n * n), da = buf_rand(3, 1), dbp = buf_rand(n, 1), dbq = buf_rand(n, 1), dbr = buf_rand((size_t)n * n, 1),
        dhpre2 = buf_rand((size_t)N * n, 1), dhpost2 = buf_rand((size_t)N * n, 1), dres = buf_rand((size_t)N * n * n, 1),
        draw2 = buf_rand((size_t)N * W, 1);
    int flag_cases[3] = {7, 5, 7};
    for (int c = 0; c < 3; c++) {
        int dyn = c < 2, fl = flag_cases[c];
        const char *s3 = S("N %d n %d flags %d %s", N, n, fl, dyn ? "dynamic" : "static");
        RS->mhc_coeffs(hpre.h, hpost.h, rl.h, dyn ? raw.h : NULL, a.h, bpre.h, bpost.h, bres.h, N, n, fl);
        DS->mhc_coeffs(hpre.d, hpost.d, rl.d, dyn ? raw.d : NULL, a.d, bpre.d, bpost.d, bres.d, N, n, fl);
        check("mhc_coeffs hpre", s3, &hpre, T_EL);
        check("mhc_coeffs hpost", s3, &hpost, T_EL);
        check("mhc_coeffs res_logits", s3, &rl, T_EL);
        RS->mhc_coeffs_backward(dyn ? draw2.h : NULL, da.h, dbp.h, dbq.h, dbr.h, dhpre2.h, dhpost2.h, dres.h, dyn ? raw.h : NULL,
                                hpre.h, hpost.h, a.h, N, n, fl);
        DS->mhc_coeffs_backward(dyn ? draw2.d : NULL, da.d, dbp.d, dbq.d, dbr.d, dhpre2.d, dhpost2.d, dres.d, dyn ? raw.d : NULL,
                                hpre.d, hpost.d, a.d, N, n, fl);
        if (dyn) check("mhc_coeffs_backward draw", s3, &draw2, T_EL);
        if (dyn) check("mhc_coeffs_backward da", s3, &da, T_ROW);
        check("mhc_coeffs_backward db_pre", s3, &dbp, T_ROW);
        check("mhc_coeffs_backward db_post", s3, &dbq, T_ROW);
        check("mhc_coeffs_backward db_res", s3, &dbr, T_ROW);
    }
    /* the fused backward below F (dynamic, all mappings): inputs as a forward leaves them */
    {
        int iters = 20;
        Buf tr = buf_zero((size_t)N * n * n), H = buf_zero((size_t)N * n * n);
        RS->mhc_coeffs(hpre.h, hpost.h, rl.h, raw.h, a.h, bpre.h, bpost.h, bres.h, N, n, 7);
        RS->sinkhorn_forward(H.h, tr.h, rl.h, N, n, iters);
        D->to_device(hpre.d, hpre.h, hpre.n);
        D->to_device(hpost.d, hpost.h, hpost.n);
        D->to_device(tr.d, tr.h, tr.n);
        Buf dX2 = buf_rand((size_t)N * nC, 1), dhpre3 = buf_zero((size_t)N * n), dhpost3 = buf_rand((size_t)N * n, 1),
            dhres3 = buf_rand((size_t)N * n * n, 1), dphi2 = buf_rand((size_t)W * nC, 1), da2 = buf_rand(3, 1),
            db1 = buf_rand(n, 1), db2 = buf_rand(n, 1), db3 = buf_rand((size_t)n * n, 1);
        size_t wr = RS->mhc_backward_work_size(N, n), wd = DS->mhc_backward_work_size(N, n);
        real *workr = malloc(sizeof(real) * wr), *workd = D->alloc(wd, "gpu_check");
        MhcBackward pr = {dX2.h, du.h, X.h, hpre.h, hpost.h, dhpre3.h, dhpost3.h, dhres3.h, tr.h, raw.h, rstd.h, phi.h, a.h,
                          dphi2.h, da2.h, db1.h, db2.h, db3.h, workr, N, n, C, iters, 7};
        MhcBackward pd = {dX2.d, du.d, X.d, hpre.d, hpost.d, dhpre3.d, dhpost3.d, dhres3.d, tr.d, raw.d, rstd.d, phi.d, a.d,
                          dphi2.d, da2.d, db1.d, db2.d, db3.d, workd, N, n, C, iters, 7};
        RS->mhc_backward_fused(&pr);
        DS->mhc_backward_fused(&pd);
        const char *s4 = S("N %d n %d C %d iters %d", N, n, C, iters);
        check("mhc_backward_fused dX", s4, &dX2, T_GEMM);
        check("mhc_backward_fused dphi", s4, &dphi2, T_GEMM);
        check("mhc_backward_fused da", s4, &da2, T_GEMM);
        check("mhc_backward_fused db_pre", s4, &db1, T_ROW);
        check("mhc_backward_fused db_post", s4, &db2, T_ROW);
        check("mhc_backward_fused db_res", s4, &db3, T_ROW);
        free(workr);
        D->free(workd);
        FREE(&tr, &H, &dX2, &dhpre3, &dhpost3, &dhres3, &dphi2, &da2, &db1, &db2, &db3);
    }
    /* HC */
    int Wh = 2 + n;
    Buf hraw = buf_rand((size_t)N * n * Wh, 1), s = buf_uniform(2, 0.5, 1), Am = buf_rand(n, 1), Bv = buf_rand(n, 1),
        Ar = buf_rand((size_t)n * n, 1), hdraw = buf_rand((size_t)N * n * Wh, 1), ds = buf_rand(2, 1), dAm = buf_rand(n, 1),
        dBv = buf_rand(n, 1), dAr = buf_rand((size_t)n * n, 1);
    for (int dyn = 1; dyn >= 0; dyn--) {
        const char *s5 = S("N %d n %d %s", N, n, dyn ? "dynamic" : "static");
        RS->hc_coeffs(hpre.h, hpost.h, hres.h, dyn ? hraw.h : NULL, s.h, Am.h, Bv.h, Ar.h, N, n, 7);
        DS->hc_coeffs(hpre.d, hpost.d, hres.d, dyn ? hraw.d : NULL, s.d, Am.d, Bv.d, Ar.d, N, n, 7);
        check("hc_coeffs hpre", s5, &hpre, T_EL);
        check("hc_coeffs hpost", s5, &hpost, T_EL);
        check("hc_coeffs hres", s5, &hres, T_EL);
        RS->hc_coeffs_backward(dyn ? hdraw.h : NULL, ds.h, dAm.h, dBv.h, dAr.h, dhpre2.h, dhpost2.h, dres.h, dyn ? hraw.h : NULL,
                               s.h, N, n, 7);
        DS->hc_coeffs_backward(dyn ? hdraw.d : NULL, ds.d, dAm.d, dBv.d, dAr.d, dhpre2.d, dhpost2.d, dres.d, dyn ? hraw.d : NULL,
                               s.d, N, n, 7);
        if (dyn) check("hc_coeffs_backward draw", s5, &hdraw, T_EL);
        if (dyn) check("hc_coeffs_backward ds", s5, &ds, T_ROW);
        check("hc_coeffs_backward dAm", s5, &dAm, T_ROW);
        check("hc_coeffs_backward dBv", s5, &dBv, T_ROW);
        check("hc_coeffs_backward dAr", s5, &dAr, T_ROW);
    }
    FREE(&X, &x, &hpre, &hpost, &hres, &f, &u, &Xn, &dX, &dhp, &du, &dXn, &dhres, &dhpost, &df, &phi, &raw, &rstd, &draw,
         &dphi, &dXp, &a, &bpre, &bpost, &bres, &rl, &da, &dbp, &dbq, &dbr, &dhpre2, &dhpost2, &dres, &draw2, &hraw, &s, &Am,
         &Bv, &Ar, &hdraw, &ds, &dAm, &dBv, &dAr);
}

static void part_kernels(void) {
    tsv = open_tsv("kernels.tsv", "part\tkernel\tshape\terr\ttol\tresult");
    k_gemm(); k_linear(); k_rmsnorm(); k_rope(); k_attention(); k_decode(); k_swiglu(); k_embedding();
    k_cross_entropy(); k_elementwise(); k_copy_strided(); k_sampling(); k_moe(); k_streams();
    fclose(tsv);
    tsv = NULL;
}

/* ---- 2. one training step of each family; 3. loss curves ---- */

typedef struct Family { const char *name; void (*set)(ModelConfig *c); } Family;

static void fam_dense(ModelConfig *c) { (void)c; }
static void fam_gqa(ModelConfig *c) { snprintf(c->attention, sizeof c->attention, "gqa"); c->n_kv_heads = 2; }
static void fam_mla_moe(ModelConfig *c) {
    snprintf(c->attention, sizeof c->attention, "mla");
    c->kv_lora_rank = 32; c->q_lora_rank = 48;
    snprintf(c->ffn, sizeof c->ffn, "moe");
    c->n_routed_experts = 8; c->num_experts_per_tok = 2; c->n_shared_experts = 1; c->moe_intermediate_size = 64;
    c->first_k_dense_replace = 1; c->n_group = 4; c->topk_group = 2; c->norm_topk_prob = 1;
    snprintf(c->scoring_func, sizeof c->scoring_func, "sigmoid");
    snprintf(c->balance, sizeof c->balance, "aux_free");
}
static void fam_hc(ModelConfig *c) { snprintf(c->residual, sizeof c->residual, "hc"); c->streams = 4; }
static void fam_mhc(ModelConfig *c) { snprintf(c->residual, sizeof c->residual, "mhc"); c->streams = 4; }
static void fam_mtp(ModelConfig *c) { c->mtp_depth = 2; }
static const Family families[] = {{"mha + dense + residual", fam_dense}, {"gqa", fam_gqa},
                                  {"mla + moe (sigmoid, aux_free)", fam_mla_moe}, {"hc (dynamic)", fam_hc},
                                  {"mhc (dynamic)", fam_mhc}, {"mtp_depth 2", fam_mtp}};
enum { N_FAMILIES = sizeof families / sizeof families[0] };

static ModelConfig small_config(const Family *f) {
    ModelConfig c;
    config_defaults(&c);
    c.vocab_size = 64; c.d_model = 128; c.n_layers = 2; c.n_heads = 4; c.d_ff = 256; c.seq_len = 128;
    f->set(&c);
    return c;
}

typedef struct StepOut { double loss, gnorm; real *grad, *w; size_t n; } StepOut;

static int one_step(const char *backend, const Family *f, StepOut *o) {
    if (backend_select(backend)) { fprintf(stderr, "gpu_check: %s\n", al_error_message()); return -1; }
    ModelConfig c = small_config(f);
    Model *m = model_create(&c, 0);
    int B = 4, T = 96;
    if (!m || model_plan(m, B, T)) { fprintf(stderr, "gpu_check: %s: %s\n", f->name, al_error_message()); return -1; }
    DataSource d;
    data_copy_init(&d, 50);
    Rng r;
    rng_init(&r, 7);
    int *in = malloc(sizeof(int) * B * T), *tg = malloc(sizeof(int) * B * T);
    data_batch(&d, &r, SPLIT_TRAIN, 0, B, T, in, tg);
    K->zero(m->ps.grad, m->ps.total);
    o->loss = model_forward(m, in, tg, B, T) + model_aux_loss(m) + model_mtp_loss(m);
    model_backward(m, in, tg, B, T);
    o->n = m->ps.total;
    o->grad = malloc(sizeof(real) * o->n);
    o->w = malloc(sizeof(real) * o->n);
    K->to_host(o->grad, m->ps.grad, o->n);
    o->gnorm = grad_norm(&m->ps);
    AdamW opt = adamw_default();
    adamw_step(&opt, &m->ps, 1e-2);
    model_after_step(m);
    K->to_host(o->w, m->ps.data, o->n);
    free(in); free(tg);
    rng_free(&r);
    data_free(&d);
    model_free(m);
    return backend_select("cpu");
}

/* relative error of a whole vector: ||a - b|| / ||b|| */
static double vec_err(const real *a, const real *b, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) { double d = (double)a[i] - b[i]; num += d * d; den += (double)b[i] * b[i]; }
    return sqrt(num) / (den > 0 ? sqrt(den) : 1);
}

static void part_steps(void) {
    tsv = open_tsv("steps.tsv", "part\tfamily\tquantity\terr\ttol\tresult");
    for (int i = 0; i < N_FAMILIES; i++) {
        StepOut a = {0}, b = {0};
        if (one_step("cpu", &families[i], &a) || one_step(device_name, &families[i], &b)) { failures++; continue; }
        double tol = cpu_only ? 0 : 1e-4;
        report("step", families[i].name, "loss (main + aux + MTP)", rel(b.loss, a.loss), cpu_only ? 0 : 1e-5);
        report("step", families[i].name, "gradient norm", rel(b.gnorm, a.gnorm), cpu_only ? 0 : 1e-4);
        report("step", families[i].name, "gradient ||dev-cpu||/||cpu||", vec_err(b.grad, a.grad, a.n), tol);
        report("step", families[i].name, "weights after AdamW ||dev-cpu||/||cpu||", vec_err(b.w, a.w, a.n), cpu_only ? 0 : 1e-5);
        free(a.grad); free(a.w); free(b.grad); free(b.w);
    }
    fclose(tsv);
    tsv = NULL;
}

/* 200 steps of train_run on each backend; the loss at every step */
static int curve(const char *backend, const Family *f, int steps, double *loss) {
    if (backend_select(backend)) return -1;
    ModelConfig c = small_config(f);
    Model *m = model_create(&c, 0);
    DataSource d;
    data_copy_init(&d, 50);
    TrainOptions o;
    train_defaults(&o);
    o.steps = steps; o.batch_size = 8; o.seq_len = 96; o.lr = 3e-3; o.quiet = 1; o.eval_batches = 1; o.log_every = steps;
    TrainResult r;
    int rc = !m || train_run(m, &d, &o, &r);
    if (!rc) {
        const Series *s = metrics_get(&r.log, "loss");
        for (int i = 0; i < steps; i++) loss[i] = s && i < s->n ? s->value[i] : NAN;
        train_result_free(&r);
    } else fprintf(stderr, "gpu_check: %s on %s: %s\n", f->name, backend, al_error_message());
    model_free(m);
    data_free(&d);
    return rc || backend_select("cpu");
}

static void part_curves(void) {
    int steps = quick ? 20 : 200;
    tsv = open_tsv("curves_check.tsv", "part\tfamily\tquantity\terr\ttol\tresult");
    char path[700];
    snprintf(path, sizeof path, "%s/curves.tsv", out_dir);
    FILE *cf = fopen(path, "w");
    fprintf(cf, "family\tstep\tloss_cpu\tloss_%s\n", device_name);
    const Family *fams[3] = {&families[0], &families[4], &families[2]};
    for (int i = 0; i < 3; i++) {
        double *a = malloc(sizeof(double) * steps), *b = malloc(sizeof(double) * steps);
        if (curve("cpu", fams[i], steps, a) || curve(device_name, fams[i], steps, b)) { failures++; free(a); free(b); continue; }
        double mx = 0, mean = 0;
        for (int s = 0; s < steps; s++) {
            double e = fabs(a[s] - b[s]);
            if (!(e <= mx)) mx = e;
            mean += e / steps;
            fprintf(cf, "%s\t%d\t%.6f\t%.6f\n", fams[i]->name, s + 1, a[s], b[s]);
        }
        /* float32 in two summation orders drifts apart slowly; these bound the drift over 200 steps */
        report("curve", fams[i]->name, S("max |dloss| over %d steps", steps), mx, cpu_only ? 0 : 0.05);
        report("curve", fams[i]->name, S("mean |dloss| over %d steps", steps), mean, cpu_only ? 0 : 0.01);
        report("curve", fams[i]->name, S("final loss %.4f vs %.4f", b[steps - 1], a[steps - 1]), rel(b[steps - 1], a[steps - 1]),
               cpu_only ? 0 : 0.01);
        free(a); free(b);
    }
    fclose(cf);
    fclose(tsv);
    tsv = NULL;
}

/* ---- 4. bench: training tokens/s ---- */

static ModelConfig bench_config(int variant, int C, int L, int T, const char *residual) {
    ModelConfig c;
    config_defaults(&c);
    c.vocab_size = 256; c.d_model = C; c.n_layers = L; c.n_heads = C / 64; c.d_ff = C * 8 / 3 / 64 * 64; c.seq_len = T;
    snprintf(c.residual, sizeof c.residual, "%s", residual);
    if (strcmp(residual, "residual")) c.streams = 4;
    if (variant) { /* the mHC/MLA/MoE variant: V2-style attention and FFN */
        snprintf(c.attention, sizeof c.attention, "mla");
        c.kv_lora_rank = C >= 192 ? C / 3 / 64 * 64 : 32; c.qk_rope_head_dim = 32; c.qk_nope_head_dim = 64; c.v_head_dim = 64;
        snprintf(c.ffn, sizeof c.ffn, "moe");
        c.n_routed_experts = 16; c.num_experts_per_tok = 2; c.n_shared_experts = 1; c.moe_intermediate_size = c.d_ff / 2;
        snprintf(c.balance, sizeof c.balance, "aux_free");
    }
    return c;
}

/* The model's finalized config as JSON in DIR/config_NAME.json: what tools/gpu_bench_torch.py builds in PyTorch */
static void write_config(const Model *m, const char *name) {
    char path[800];
    snprintf(path, sizeof path, "%s/config_%s.json", out_dir, name);
    FILE *f = fopen(path, "w");
    char *j = config_to_json(&m->cfg);
    if (f) { fprintf(f, "%s\n", j); fclose(f); }
    free(j);
}

static double bench_tokens_per_s(ModelConfig *c, int B, int T, const char *precision, int steps, double *step_s,
                                 const char *name) {
    if (backend_select(cpu_only ? "cpu" : device_name)) { fprintf(stderr, "gpu_check: %s\n", al_error_message()); return NAN; }
#ifdef AL_CUDA
    if (!cpu_only && cuda_gemm_precision(precision)) { fprintf(stderr, "gpu_check: %s\n", al_error_message()); return NAN; }
#endif
    Model *m = model_create(c, 0);
    if (!m || model_plan(m, B, T) || ps_allocate_adam(&m->ps)) {
        fprintf(stderr, "gpu_check: bench model: %s\n", al_error_message());
        model_free(m);
        backend_select("cpu");
        return NAN;
    }
    if (name) write_config(m, name);
    DataSource d;
    data_copy_init(&d, 200);
    Rng r;
    rng_init(&r, 1);
    int *in = malloc(sizeof(int) * B * T), *tg = malloc(sizeof(int) * B * T);
    AdamW opt = adamw_default();
    double t0 = 0;
    for (int s = 0; s < steps + 2; s++) {
        if (s == 2) { sync_device(); t0 = now_s(); } /* two warm-up steps */
        data_batch(&d, &r, SPLIT_TRAIN, s, B, T, in, tg);
        K->zero(m->ps.grad, m->ps.total);
        model_forward(m, in, tg, B, T);
        model_backward(m, in, tg, B, T);
        grad_clip(&m->ps, 1.0);
        adamw_step(&opt, &m->ps, 1e-4);
        model_after_step(m);
    }
    sync_device();
    double dt = (now_s() - t0) / steps;
    *step_s = dt;
    free(in); free(tg);
    rng_free(&r);
    data_free(&d);
    model_free(m);
#ifdef AL_CUDA
    if (!cpu_only) cuda_gemm_precision("fp32");
#endif
    backend_select("cpu");
    return B * T / dt;
}

static void part_bench(void) {
    char path[700];
    snprintf(path, sizeof path, "%s/bench.tsv", out_dir);
    FILE *f = fopen(path, "w");
    fprintf(f, "engine\tmodel\tprecision\td_model\tblocks\tT\tbatch\ttokens_per_s\tstep_s\n");
    /* GPT-2-small scale on the GPU; a tiny scale on the CPU (--cpu-only: the code path, not a measurement) */
    int C = cpu_only ? 64 : 768, L = cpu_only ? 2 : 12, T = cpu_only ? 64 : 1024, B = cpu_only ? 2 : 8, steps = cpu_only ? 2 : 5;
    const char *prec[2] = {"fp32", "bf16"};
    for (int v = 0; v < 2; v++)
        for (int p = 0; p < 2; p++) {
            if (cpu_only && p) continue; /* bf16 GEMMs exist on the GPU only */
            ModelConfig c = bench_config(v, C, L, T, v ? "mhc" : "residual");
            const char *name = v ? "mhc+mla+moe" : "dense";
            double st = 0, tps = bench_tokens_per_s(&c, B, T, prec[p], steps, &st, v ? "variant" : "dense");
            printf("bench    archlab-%-8s %-12s %-5s d %d L %d T %d B %d: %10.0f tokens/s (%.3f s/step)\n",
                   cpu_only ? "cpu" : device_name, name, prec[p], C, L, T, B, tps, st);
            fprintf(f, "archlab-%s\t%s\t%s\t%d\t%d\t%d\t%d\t%.1f\t%.5f\n", cpu_only ? "cpu" : device_name, name, prec[p], C, L, T,
                    B, tps, st);
            fflush(stdout);
        }
    /* mHC's overhead over the residual at n = 4, same dense model otherwise, fp32 and bf16 */
    for (int p = 0; p < (cpu_only ? 1 : 2); p++) {
        ModelConfig a = bench_config(0, C, L, T, "residual"), b = bench_config(0, C, L, T, "mhc");
        double sa, sb, ta = bench_tokens_per_s(&a, B, T, prec[p], steps, &sa, NULL),
                       tb = bench_tokens_per_s(&b, B, T, prec[p], steps, &sb, "dense_mhc");
        printf("bench    mHC overhead (n 4, %s): residual %.0f, mhc %.0f tokens/s: %+.1f%% step time (paper: 6.7%%)\n",
               prec[p], ta, tb, 100 * (sb / sa - 1));
        fprintf(f, "archlab-%s\tdense-mhc-n4\t%s\t%d\t%d\t%d\t%d\t%.1f\t%.5f\n", cpu_only ? "cpu" : device_name, prec[p], C, L, T, B,
                tb, sb);
        fprintf(f, "mhc_overhead_pct\t%s\t%s\t%d\t%d\t%d\t%d\t%.2f\t\n", "dense", prec[p], C, L, T, B, 100 * (sb / sa - 1));
    }
    fclose(f);
}

int main(int argc, char **argv) {
    al_tune_openmp(argv); /* the CPU side's thread waits as bin/archlab sets them (core/backend_cpu.c) */
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--cpu-only")) cpu_only = 1;
        else if (!strcmp(argv[i], "--quick")) quick = 1;
        else if (!strcmp(argv[i], "--out") && i + 1 < argc) snprintf(out_dir, sizeof out_dir, "%s", argv[++i]);
        else if (!strcmp(argv[i], "--only") && i + 1 < argc) only = argv[++i];
        else {
            fprintf(stderr, "usage: gpu_check [--cpu-only] [--quick] [--out DIR] [--only kernels|steps|curves|bench]\n");
            return 2;
        }
    }
    if (only && strcmp(only, "kernels") && strcmp(only, "steps") && strcmp(only, "curves") && strcmp(only, "bench")) {
        fprintf(stderr, "gpu_check: --only takes kernels|steps|curves|bench, not '%s'\n", only);
        return 2;
    }
    if (make_parent_dirs(out_dir) || (mkdir(out_dir, 0777) && access(out_dir, W_OK))) {
        fprintf(stderr, "gpu_check: cannot create %s\n", out_dir);
        return 2;
    }
    if (cpu_only) {
        device_name = "cpu-checked";
        T_EL = T_ROW = T_GEMM = 0; /* the same CPU kernels: exactly equal */
    }
    /* the device tables (initialized: a GPU must answer, or the run stops here with the reason) */
    for (int i = 0; i < backend_count(); i++)
        if (!strcmp(backend_at(i)->name, device_name)) {
            const BackendEntry *e = backend_at(i);
            if (e->init && e->init()) { fprintf(stderr, "gpu_check: %s\n", al_error_message()); return 2; }
            D = e->ops; DM = e->moe; DS = e->streams;
        }
    if (!D) {
        fprintf(stderr, "gpu_check: this build has no backend '%s' (build it with make cuda; --cpu-only runs without)\n",
                device_name);
        return 2;
    }
#ifdef AL_CUDA
    if (!cpu_only) printf("device: %s\n", cuda_device_description());
#endif
    printf("gpu_check: %s against cpu (%d threads), results in %s\n", device_name, al_get_threads(), out_dir);
    rng_init(&rng, 2024);
    double t0 = now_s();
    if (!only || !strcmp(only, "kernels")) part_kernels();
    if (!only || !strcmp(only, "steps")) part_steps();
    if (!only || !strcmp(only, "curves")) part_curves();
    if (!only || !strcmp(only, "bench")) part_bench();
    rng_free(&rng);
    printf("gpu_check: %d failed check(s), %.1f s\n", failures, now_s() - t0);
    return failures ? 1 : 0;
}
