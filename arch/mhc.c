/* Manifold-constrained hyper-connections (DeepSeek, mHC eqs. 7-9):
 *   v' = RMSNorm(vec x)  over the flattened n*C state (no learned scale: phi already scales it)
 *   H_pre  = sigmoid(a_pre v' phi_pre + b_pre)          in (0, 1)
 *   H_post = 2 sigmoid(a_post v' phi_post + b_post)     in (0, 2)
 *   H_res  = Sinkhorn-Knopp(a_res mat(v' phi_res) + b_res), t_max (column, row) normalizations:
 *            (approximately) doubly stochastic, so products over depth stay bounded.
 * phi = [phi_pre | phi_post | phi_res] is one (2n + n^2, nC) matrix: one GEMM per layer.
 * Init (the paper leaves it open; our documented choice): phi = 0, a_* = gate_init (0.01);
 * b_post = 0 (H_post = 1); b_pre gives stream (k mod n) weight 1 - 0.01 (n - 1) and the others 0.01 each
 * (weights summing to 1; reading mostly one stream, as HC's one-hot A_m does, breaks the symmetry between
 * the identical expanded streams);
 * b_res = 4 on the diagonal, 0 elsewhere: H_res = (e^4 I + (J - I)) / (e^4 + n - 1), 95% identity at n = 4. */
#include "arch/kinds.h"
#include "arch/mixing.h"

#include <math.h>
#include <string.h>

typedef struct Mhc {
    int n, C, dynamic, flags, iters;
    size_t phi, a;                  /* dynamic: (2n + n^2, nC), (3) */
    size_t b_pre, b_post, b_res;    /* (n), (n), (n, n) */
    size_t rstd, raw, logits, trace; /* activations */
} Mhc;

static int width(const Mhc *h) { return 2 * h->n + h->n * h->n; }

static void mhc_plan(void *self, Arena *act, size_t *scratch, int N) {
    Mhc *h = self;
    if (h->dynamic) {
        h->rstd = arena_take(act, (size_t)N);
        h->raw = arena_take(act, (size_t)N * width(h));
    }
    h->logits = arena_take(act, (size_t)N * h->n * h->n);
    h->trace = arena_take(act, (size_t)N * KS->sinkhorn_trace_size(h->n, h->iters));
    size_t need = KS->mhc_backward_work_size(N, h->n);
    if (need > *scratch) *scratch = need;
}

static void mhc_forward(void *self, Ctx *c, real *hpre, real *hpost, real *hres, const real *X, int N) {
    Mhc *h = self;
    int nC = h->n * h->C;
    const real *raw = NULL;
    if (h->dynamic) {
        KS->rms_projection_forward(ACT(c, h->raw), ACT(c, h->rstd), X, PW(c, h->phi), N, nC, width(h), 1e-6f);
        raw = ACT(c, h->raw);
    }
    KS->mhc_coeffs(hpre, hpost, ACT(c, h->logits), raw, h->dynamic ? PW(c, h->a) : NULL, PW(c, h->b_pre),
                  PW(c, h->b_post), PW(c, h->b_res), N, h->n, h->flags);
    KS->sinkhorn_forward(hres, ACT(c, h->trace), ACT(c, h->logits), N, h->n, h->iters);
}

/* One fused kernel (core/streams_cpu.c): H_pre's backward, Sinkhorn, the coefficient maps and the projection,
 * block by block of tokens */
static void mhc_backward(void *self, Ctx *c, real *dX, const real *du, real *dhpre, real *dhpost, real *dhres,
                         const real *X, const real *hpre, const real *hpost, int N) {
    Mhc *h = self;
    MhcBackward p = {
        .dX = dX, .du = du, .X = X, .hpre = hpre, .hpost = hpost, .dhpre = dhpre, .dhpost = dhpost, .dhres = dhres,
        .trace = ACT(c, h->trace), .db_pre = PG(c, h->b_pre), .db_post = PG(c, h->b_post), .db_res = PG(c, h->b_res),
        .work = c->scratch, .N = N, .n = h->n, .C = h->C, .iters = h->iters, .flags = h->flags,
    };
    if (h->dynamic) {
        p.raw = ACT(c, h->raw); p.rstd = ACT(c, h->rstd); p.phi = PW(c, h->phi); p.a = PW(c, h->a);
        p.dphi = PG(c, h->phi); p.da = PG(c, h->a);
    }
    KS->mhc_backward_fused(&p);
}

/* the one projection phi: (2n + n^2) outputs from the flattened nC state */
static double mhc_flops(const void *self) {
    const Mhc *h = self;
    double n = h->n;
    return 2.0 * n * h->C * (2 * n + n * n);
}

static void mhc_destroy(void *self) { free(self); }

static const MixingOps mhc_ops = {mhc_plan, mhc_forward, mhc_backward, mhc_flops, mhc_destroy};

static double logit(double p) { return log(p / (1 - p)); }

static Mixing mhc_create(ParamStore *ps, const ModelConfig *cfg, int sublayer) {
    Mhc *h = calloc(1, sizeof *h);
    AL_ASSERT(h);
    h->n = cfg->streams;
    h->C = cfg->d_model;
    h->dynamic = cfg->hc_dynamic;
    h->flags = mixing_flags(cfg);
    h->iters = cfg->sinkhorn_iters;
    int n = h->n;
    char name[96];
    if (h->dynamic) {
        mixing_param_name(name, sizeof name, sublayer, "mhc_phi");
        h->phi = ps_add(ps, name, 2, (int64_t[]){width(h), (int64_t)n * h->C}, INIT_ZEROS, 0, 1, "residual");
        mixing_param_name(name, sizeof name, sublayer, "mhc_alpha");
        h->a = ps_add_fill(ps, name, 1, (int64_t[]){3}, INIT_CONST, cfg->gate_init, 0, 0, 0, "residual");
    }
    /* n = 1: the single stream's weight is 1 - 1e-6, so mHC reduces to the standard residual */
    double hot = n > 1 ? 1 - 0.01 * (n - 1) : 1 - 1e-6, cold = 0.01;
    mixing_param_name(name, sizeof name, sublayer, "mhc_b_pre");
    h->b_pre = ps_add_fill(ps, name, 1, (int64_t[]){n}, INIT_ONEHOT, logit(hot), logit(cold), sublayer % n, 0, "residual");
    mixing_param_name(name, sizeof name, sublayer, "mhc_b_post");
    h->b_post = ps_add(ps, name, 1, (int64_t[]){n}, INIT_ZEROS, 0, 0, "residual");
    mixing_param_name(name, sizeof name, sublayer, "mhc_b_res");
    h->b_res = ps_add_fill(ps, name, 2, (int64_t[]){n, n}, INIT_EYE, 4.0, 0, 0, 0, "residual");
    return (Mixing){&mhc_ops, h};
}

static Residual *mhc_residual_create(ParamStore *ps, const ModelConfig *cfg, int first, int n_sublayers) {
    return mixing_residual_create(ps, cfg, first, n_sublayers, "mhc", mhc_create);
}

const ResidualKind residual_kind_mhc = {
    .info = {"mhc", "manifold-constrained hyper-connections (DeepSeek): H_res doubly stochastic by Sinkhorn-Knopp",
             "streams|sinkhorn_iters|hc_dynamic|gate_init|h_pre|h_post|h_res"},
    .default_streams = 4, .max_streams = 8, .create = mhc_residual_create,
};
