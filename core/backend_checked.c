/* The host-access checking backend, "cpu-checked": the CPU kernels, with every device buffer unreadable outside
 * a kernel call. Its alloc maps page-aligned anonymous regions (zero-filled, like every backend's alloc) and
 * keeps them PROT_NONE; each entry of the three kernel tables (core/backend.h, core/moe_kernels.h,
 * core/stream_kernels.h) opens every region for reading and writing, runs the CPU kernel, and closes them
 * again. So any host code that touches a device buffer other than through a kernel or the explicit copies
 * (to_host, to_device) faults at once, as it would read garbage (or crash) on a GPU: a training step that runs
 * here runs on a device backend without host accesses of device memory. A fault inside a region is reported on
 * stderr as one line naming the buffer and the offset, then a backtrace, and the process dies of SIGSEGV.
 * Results are bit for bit the CPU backend's (same kernels); only the mprotect calls cost time. */
#include <execinfo.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/backend.h"
#include "core/backend_checked.h"
#include "core/moe_kernels.h"
#include "core/stream_kernels.h"

typedef struct Region {
    char *base;
    size_t bytes;
    char what[48];
} Region;

static Region *regions;
static int n_regions, cap_regions;
static int depth; /* kernel calls in progress (0 or 1: kernels do not call the table) */

static void protect_all(int prot) {
    for (int i = 0; i < n_regions; i++)
        if (mprotect(regions[i].base, regions[i].bytes, prot)) {
            fprintf(stderr, "archlab internal error: mprotect of device buffer '%s' failed\n", regions[i].what);
            abort();
        }
}

static void enter(void) { if (depth++ == 0) protect_all(PROT_READ | PROT_WRITE); }
static void leave(void) { if (--depth == 0) protect_all(PROT_NONE); }

int checked_in_kernel(void) { return depth > 0; }

static size_t page_round(size_t bytes) {
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    return (bytes + page - 1) / page * page;
}

static real *chk_alloc(size_t n, const char *what) {
    if (!n) return NULL; /* as the CPU backend: nothing to allocate */
    if (n > SIZE_MAX / sizeof(real) / 2) {
        al_errorf("cannot allocate %s: %zu elements overflow", what, n);
        return NULL;
    }
    size_t bytes = page_round(n * sizeof(real));
    void *p = mmap(NULL, bytes, depth ? PROT_READ | PROT_WRITE : PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        char b[32];
        al_errorf("out of memory allocating %s (%s)", what, al_format_bytes((double)bytes, b));
        return NULL;
    }
    if (n_regions == cap_regions) {
        cap_regions = cap_regions ? 2 * cap_regions : 64;
        regions = realloc(regions, sizeof *regions * cap_regions);
        AL_ASSERT(regions);
    }
    Region *r = &regions[n_regions++];
    r->base = p;
    r->bytes = bytes;
    snprintf(r->what, sizeof r->what, "%s", what);
    al_device_buffers++;
    return p;
}

static void chk_free(real *p) {
    if (!p) return;
    for (int i = 0; i < n_regions; i++)
        if (regions[i].base == (char *)p) {
            munmap(regions[i].base, regions[i].bytes);
            regions[i] = regions[--n_regions];
            al_device_buffers--;
            return;
        }
    fprintf(stderr, "archlab internal error: cpu-checked free of %p, which it did not allocate\n", (void *)p);
    abort();
}

static void chk_to_host(real *dst, const real *src, size_t n) { enter(); al_backend_cpu.to_host(dst, src, n); leave(); }
static void chk_to_device(real *dst, const real *src, size_t n) { enter(); al_backend_cpu.to_device(dst, src, n); leave(); }

/* ---- the fault report ---- */

static struct sigaction previous;

/* Async-signal context: only write(2), and backtrace (loaded at install time, so it does not allocate here). */
static void put(const char *s) { ssize_t w = write(2, s, strlen(s)); (void)w; }
static void on_segv(int sig, siginfo_t *info, void *uctx) {
    char *a = info->si_addr;
    for (int i = 0; i < n_regions; i++)
        if (a >= regions[i].base && a < regions[i].base + regions[i].bytes) {
            char line[256];
            snprintf(line, sizeof line,
                     "archlab cpu-checked: host access of device buffer '%s' at element %zu, outside a kernel call "
                     "(read it through K->to_host / write it through K->to_device); backtrace:\n",
                     regions[i].what, (size_t)(a - regions[i].base) / sizeof(real));
            put(line);
            void *frames[48];
            int n = backtrace(frames, 48);
            backtrace_symbols_fd(frames, n, 2);
            break;
        }
    /* the previous disposition takes the re-executed access: by default the process dies of SIGSEGV */
    sigaction(SIGSEGV, &previous, NULL);
    (void)sig; (void)uctx;
}

static int installed;
static int chk_init(void) {
    if (installed) return 0;
    void *warm[2];
    backtrace(warm, 2); /* loads libgcc's unwinder now, not inside the signal handler */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSEGV, &sa, &previous)) return al_errorf("cpu-checked: cannot install its SIGSEGV handler");
    installed = 1;
    return 0;
}

int checked_backend_init(void) { return chk_init(); }

/* ---- every kernel: open the device buffers, run the CPU kernel, close them ---- */

#define WRAP(tbl, fn, params, args) \
    static void chk_##fn params { enter(); tbl.fn args; leave(); }
#define WRAP_R(type, tbl, fn, params, args) \
    static type chk_##fn params { enter(); type r_ = tbl.fn args; leave(); return r_; }
#define C al_backend_cpu

WRAP(C, gemm, (int ta, int tb, int M, int N, int Kd, real alpha, const real *A, int lda, const real *B, int ldb,
               real beta, real *Cm, int ldc), (ta, tb, M, N, Kd, alpha, A, lda, B, ldb, beta, Cm, ldc))
WRAP(C, linear_forward, (real *out, const real *inp, const real *w, const real *bias, int N, int IC, int OC),
     (out, inp, w, bias, N, IC, OC))
WRAP(C, linear_backward, (real *dinp, real *dw, real *dbias, const real *dout, const real *inp, const real *w, int N,
                          int IC, int OC), (dinp, dw, dbias, dout, inp, w, N, IC, OC))
WRAP(C, rmsnorm_forward, (real *out, real *rstd, const real *inp, const real *w, int N, int Cc, real eps),
     (out, rstd, inp, w, N, Cc, eps))
WRAP(C, rmsnorm_backward, (real *dinp, real *dw, const real *dout, const real *inp, const real *w, const real *rstd,
                           int N, int Cc), (dinp, dw, dout, inp, w, rstd, N, Cc))
WRAP(C, rope, (real *x, int B, int T, int nh, int hs, int rot, int stride, const real *cs, const real *sn, int inv),
     (x, B, T, nh, hs, rot, stride, cs, sn, inv))
WRAP(C, attention_forward, (real *out, real *lse, real *work, size_t work_n, const real *q, const real *k,
                            const real *v, const AttnShape *s), (out, lse, work, work_n, q, k, v, s))
WRAP(C, attention_backward, (real *dq, real *dk, real *dv, real *work, size_t work_n, const real *dout,
                             const real *lse, const real *q, const real *k, const real *v, const AttnShape *s),
     (dq, dk, dv, work, work_n, dout, lse, q, k, v, s))
WRAP_R(size_t, C, attention_work_size, (const AttnShape *s), (s))
WRAP(C, swiglu_forward, (real *h, const real *gu, int N, int F), (h, gu, N, F))
WRAP(C, swiglu_backward, (real *dgu, const real *dh, const real *gu, int N, int F), (dgu, dh, gu, N, F))
WRAP(C, embedding_forward, (real *out, const int *tokens, const real *table, int N, int Cc), (out, tokens, table, N, Cc))
WRAP(C, embedding_backward, (real *dtable, const real *dout, const int *tokens, int N, int Cc),
     (dtable, dout, tokens, N, Cc))
WRAP_R(double, C, cross_entropy_forward, (real *losses, real *logits, const int *targets, int N, int V, int *n_valid),
       (losses, logits, targets, N, V, n_valid))
WRAP(C, cross_entropy_backward, (real *probs, const int *targets, int N, int V, real scale),
     (probs, targets, N, V, scale))
WRAP(C, zero, (real *x, size_t n), (x, n))
WRAP(C, copy, (real *dst, const real *src, size_t n), (dst, src, n))
WRAP(C, add, (real *out, const real *a, const real *b, size_t n), (out, a, b, n))
WRAP(C, accumulate, (real *acc, const real *x, size_t n), (acc, x, n))
WRAP(C, scale, (real *x, real s, size_t n), (x, s, n))
WRAP_R(double, C, sum_squares, (const real *x, size_t n), (x, n))
WRAP_R(int, C, all_finite, (const real *x, size_t n), (x, n))
WRAP(C, adamw, (real *w, const real *g, real *m, real *v, size_t n, real lr, real b1, real b2, real eps, real wd,
                int t), (w, g, m, v, n, lr, b1, b2, eps, wd, t))
WRAP(C, copy_strided, (real *dst, const real *src, int rows, int blocks, int cols, size_t dst_stride,
                       size_t dst_block, size_t src_stride, size_t src_block, int accumulate),
     (dst, src, rows, blocks, cols, dst_stride, dst_block, src_stride, src_block, accumulate))
WRAP(C, attention_decode, (real *out, real *scores, const real *q, const real *k, const real *v, const AttnShape *s,
                           int pos0, size_t k_batch, size_t v_batch), (out, scores, q, k, v, s, pos0, k_batch, v_batch))
WRAP(C, sample_tokens, (int *tokens, const real *logits, const double *u, int N, int V, real temperature),
     (tokens, logits, u, N, V, temperature))
WRAP(C, sample_nucleus, (int *tokens, double *logp, const real *logits, size_t ld, const double *u, int N, int V,
                         real temperature, real top_p), (tokens, logp, logits, ld, u, N, V, temperature, top_p))
WRAP(C, token_logprobs, (double *logp, real *logits, const int *tokens, int N, int V, real temperature),
     (logp, logits, tokens, N, V, temperature))
WRAP(C, logprob_backward, (real *probs, const int *tokens, const double *w, int N, int V, real temperature),
     (probs, tokens, w, N, V, temperature))
WRAP(C, distill_kl, (double *kl, double *ce, real *zs, const real *zt, const int *tokens, const double *w_kl,
                     const double *w_ce, int N, int V, real tau, int reverse),
     (kl, ce, zs, zt, tokens, w_kl, w_ce, N, V, tau, reverse))
#undef C

const Backend al_backend_checked = {
    .name = "cpu-checked",
    .alloc = chk_alloc, .free = chk_free, .to_host = chk_to_host, .to_device = chk_to_device, .gemm = chk_gemm,
    .linear_forward = chk_linear_forward, .linear_backward = chk_linear_backward,
    .rmsnorm_forward = chk_rmsnorm_forward, .rmsnorm_backward = chk_rmsnorm_backward, .rope = chk_rope,
    .attention_forward = chk_attention_forward, .attention_backward = chk_attention_backward,
    .attention_work_size = chk_attention_work_size,
    .swiglu_forward = chk_swiglu_forward, .swiglu_backward = chk_swiglu_backward,
    .embedding_forward = chk_embedding_forward, .embedding_backward = chk_embedding_backward,
    .cross_entropy_forward = chk_cross_entropy_forward, .cross_entropy_backward = chk_cross_entropy_backward,
    .zero = chk_zero, .copy = chk_copy, .add = chk_add, .accumulate = chk_accumulate, .scale = chk_scale,
    .sum_squares = chk_sum_squares, .all_finite = chk_all_finite, .adamw = chk_adamw,
    .copy_strided = chk_copy_strided, .attention_decode = chk_attention_decode, .sample_tokens = chk_sample_tokens,
    .sample_nucleus = chk_sample_nucleus, .token_logprobs = chk_token_logprobs, .logprob_backward = chk_logprob_backward,
    .distill_kl = chk_distill_kl,
};

#define M al_moe_cpu
WRAP(M, moe_scores_forward, (real *s, const real *logits, int N, int E, int sigmoid), (s, logits, N, E, sigmoid))
WRAP(M, moe_scores_backward, (real *dlogits, const real *ds, const real *s, int N, int E, int sigmoid),
     (dlogits, ds, s, N, E, sigmoid))
WRAP(M, moe_route, (int *idx, real *w, const real *s, const real *bias, int N, const MoeRouteSpec *r),
     (idx, w, s, bias, N, r))
WRAP(M, moe_gate_backward, (real *ds, const real *dw, const real *s, const int *idx, int N, const MoeRouteSpec *r),
     (ds, dw, s, idx, N, r))
WRAP(M, moe_dispatch, (int *counts, int *offsets, int *tok, int *pos, const int *idx, int N, int Kk, int E),
     (counts, offsets, tok, pos, idx, N, Kk, E))
WRAP(M, gather_rows, (real *dst, const real *src, const int *rows, int Mr, int Cc), (dst, src, rows, Mr, Cc))
WRAP(M, moe_combine, (real *out, const real *y, const int *pos, const real *w, int N, int Kk, int Cc),
     (out, y, pos, w, N, Kk, Cc))
WRAP(M, moe_combine_backward, (real *dy, real *dw, const real *dout, const real *y, const int *pos, const real *w,
                               int N, int Kk, int Cc), (dy, dw, dout, y, pos, w, N, Kk, Cc))
WRAP_R(double, M, moe_balance_forward, (const real *s, const int *idx, int B, int T, int E, int Kk, int group,
                                        real a_exp, real a_dev), (s, idx, B, T, E, Kk, group, a_exp, a_dev))
WRAP(M, moe_balance_backward, (real *ds, const real *s, const int *idx, int B, int T, int E, int Kk, int group,
                               real a_exp, real a_dev), (ds, s, idx, B, T, E, Kk, group, a_exp, a_dev))
WRAP_R(double, M, row_entropy, (const real *s, int N, int E), (s, N, E))
#undef M

const MoeKernels al_moe_checked = {
    .moe_scores_forward = chk_moe_scores_forward, .moe_scores_backward = chk_moe_scores_backward,
    .moe_route = chk_moe_route, .moe_gate_backward = chk_moe_gate_backward, .moe_dispatch = chk_moe_dispatch,
    .gather_rows = chk_gather_rows, .moe_combine = chk_moe_combine, .moe_combine_backward = chk_moe_combine_backward,
    .moe_balance_forward = chk_moe_balance_forward, .moe_balance_backward = chk_moe_balance_backward,
    .row_entropy = chk_row_entropy,
};

#define S al_streams_cpu
WRAP(S, rms_projection_forward, (real *out, real *rstd, const real *inp, const real *w, int N, int IC, int OC,
                                 real eps), (out, rstd, inp, w, N, IC, OC, eps))
WRAP(S, rms_projection_backward, (real *dinp, real *dw, real *dout, const real *out, const real *inp, const real *w,
                                  const real *rstd, int N, int IC, int OC), (dinp, dw, dout, out, inp, w, rstd, N, IC, OC))
WRAP(S, rms_projection_weight_grad, (real *dw, const real *g, const real *inp, int N, int IC, int OC),
     (dw, g, inp, N, IC, OC))
WRAP(S, streams_broadcast, (real *X, const real *x, int N, int n, int Cc, int accumulate), (X, x, N, n, Cc, accumulate))
WRAP(S, streams_sum, (real *x, const real *X, int N, int n, int Cc, int accumulate), (x, X, N, n, Cc, accumulate))
WRAP(S, stream_pre, (real *u, const real *X, const real *hpre, int N, int n, int Cc), (u, X, hpre, N, n, Cc))
WRAP(S, stream_pre_backward, (real *dX, real *dhpre, const real *du, const real *X, const real *hpre, int N, int n,
                              int Cc), (dX, dhpre, du, X, hpre, N, n, Cc))
WRAP(S, stream_post, (real *Xn, const real *X, const real *hres, const real *hpost, const real *f, int N, int n, int Cc),
     (Xn, X, hres, hpost, f, N, n, Cc))
WRAP(S, stream_post_backward, (real *dX, real *dhres, real *dhpost, real *df, real *u, const real *dXn, const real *X,
                               const real *hres, const real *hpost, const real *hpre, const real *f, int N, int n,
                               int Cc), (dX, dhres, dhpost, df, u, dXn, X, hres, hpost, hpre, f, N, n, Cc))
WRAP(S, sinkhorn_forward, (real *H, real *trace, const real *logits, int N, int n, int iters),
     (H, trace, logits, N, n, iters))
WRAP(S, sinkhorn_backward, (real *dlogits, const real *dH, const real *trace, int N, int n, int iters),
     (dlogits, dH, trace, N, n, iters))
WRAP(S, mhc_coeffs, (real *hpre, real *hpost, real *res_logits, const real *raw, const real *a, const real *b_pre,
                     const real *b_post, const real *b_res, int N, int n, int flags),
     (hpre, hpost, res_logits, raw, a, b_pre, b_post, b_res, N, n, flags))
WRAP(S, mhc_coeffs_backward, (real *draw, real *da, real *db_pre, real *db_post, real *db_res, const real *dhpre,
                              const real *dhpost, const real *dres_logits, const real *raw, const real *hpre,
                              const real *hpost, const real *a, int N, int n, int flags),
     (draw, da, db_pre, db_post, db_res, dhpre, dhpost, dres_logits, raw, hpre, hpost, a, N, n, flags))
WRAP(S, mhc_backward_fused, (const MhcBackward *p), (p))
WRAP(S, hc_coeffs, (real *hpre, real *hpost, real *hres, const real *raw, const real *s, const real *Am,
                    const real *Bv, const real *Ar, int N, int n, int flags),
     (hpre, hpost, hres, raw, s, Am, Bv, Ar, N, n, flags))
WRAP(S, hc_coeffs_backward, (real *draw, real *ds, real *dAm, real *dBv, real *dAr, const real *dhpre,
                             const real *dhpost, const real *dhres, const real *raw, const real *s, int N, int n,
                             int flags), (draw, ds, dAm, dBv, dAr, dhpre, dhpost, dhres, raw, s, N, n, flags))
WRAP_R(size_t, S, sinkhorn_trace_size, (int n, int iters), (n, iters))
WRAP_R(size_t, S, mhc_backward_work_size, (int N, int n), (N, n))
#undef S

const StreamKernels al_streams_checked = {
    .rms_projection_forward = chk_rms_projection_forward, .rms_projection_backward = chk_rms_projection_backward,
    .rms_projection_weight_grad = chk_rms_projection_weight_grad,
    .streams_broadcast = chk_streams_broadcast, .streams_sum = chk_streams_sum, .stream_pre = chk_stream_pre,
    .stream_pre_backward = chk_stream_pre_backward, .stream_post = chk_stream_post,
    .stream_post_backward = chk_stream_post_backward, .sinkhorn_forward = chk_sinkhorn_forward,
    .sinkhorn_backward = chk_sinkhorn_backward, .mhc_coeffs = chk_mhc_coeffs,
    .mhc_coeffs_backward = chk_mhc_coeffs_backward, .mhc_backward_fused = chk_mhc_backward_fused,
    .hc_coeffs = chk_hc_coeffs, .hc_coeffs_backward = chk_hc_coeffs_backward,
    .sinkhorn_trace_size = chk_sinkhorn_trace_size, .mhc_backward_work_size = chk_mhc_backward_work_size,
};
