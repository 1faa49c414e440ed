/* Hyper-connections (ByteDance, HC eqs. 10-13), static and dynamic, in mHC notation:
 *   Hbar = RMSNorm(stream j) (per stream, no learned scale: W_* already scale it)
 *   H_pre[j]    = s_a tanh(Hbar_j W_m) + A_m[j]
 *   H_post[j]   = s_b tanh(Hbar_j W_b) + B[j]
 *   H_res[i][j] = s_a tanh(Hbar_j W_r)[i] + A_r[j][i]        (H_res = A_r^T)
 * Init for layer k: W = 0, B = 1, A_m = e_{k mod n}, A_r = I, s_a = s_b = gate_init (0.01): exactly the
 * pre-norm residual on n identical streams. Static HC drops the tanh terms. Nothing bounds A_r. */
#include "arch/kinds.h"
#include "arch/mixing.h"

#include <string.h>

typedef struct Hc {
    int n, C, dynamic, flags;
    size_t w;        /* dynamic: (2 + n, C) rows [W_m | W_b | W_r] */
    size_t s;        /* dynamic: (s_a, s_b) */
    size_t am, bv, ar; /* static: A_m (n), B (n), A_r (n, n) */
    size_t rstd, raw; /* activations: (N n), (N n, 2 + n) */
} Hc;

static void hc_plan(void *self, Arena *act, size_t *scratch, int N) {
    Hc *h = self;
    if (!h->dynamic) return;
    size_t rows = (size_t)N * h->n;
    h->rstd = arena_take(act, rows);
    h->raw = arena_take(act, rows * (2 + h->n));
    size_t need = rows * (2 + h->n); /* draw */
    if (need > *scratch) *scratch = need;
}

static void hc_forward(void *self, Ctx *c, real *hpre, real *hpost, real *hres, const real *X, int N) {
    Hc *h = self;
    const real *raw = NULL;
    if (h->dynamic) {
        int rows = N * h->n;
        KS->rms_projection_forward(ACT(c, h->raw), ACT(c, h->rstd), X, PW(c, h->w), rows, h->C, 2 + h->n, 1e-6f);
        raw = ACT(c, h->raw);
    }
    KS->hc_coeffs(hpre, hpost, hres, raw, h->dynamic ? PW(c, h->s) : NULL, PW(c, h->am), PW(c, h->bv), PW(c, h->ar),
                 N, h->n, h->flags);
}

static void hc_backward(void *self, Ctx *c, real *dX, const real *du, real *dhpre, real *dhpost, real *dhres,
                        const real *X, const real *hpre, const real *hpost, int N) {
    Hc *h = self;
    KS->stream_pre_backward(dX, dhpre, du, X, hpre, N, h->n, h->C);
    size_t rows = (size_t)N * h->n;
    real *draw = h->dynamic ? c->scratch : NULL;
    if (draw) K->zero(draw, rows * (2 + h->n));
    KS->hc_coeffs_backward(draw, h->dynamic ? PG(c, h->s) : NULL, PG(c, h->am), PG(c, h->bv), PG(c, h->ar), dhpre,
                          dhpost, dhres, draw ? ACT(c, h->raw) : NULL, h->dynamic ? PW(c, h->s) : NULL, N, h->n,
                          h->flags);
    if (!draw) return;
    KS->rms_projection_backward(dX, PG(c, h->w), draw, ACT(c, h->raw), X, PW(c, h->w), ACT(c, h->rstd), (int)rows, h->C,
                               2 + h->n);
}

/* per stream the rows W_m, W_b, W_r: (2 + n) outputs from C inputs, n streams */
static double hc_flops(const void *self) {
    const Hc *h = self;
    return 2.0 * h->n * h->C * (2 + h->n);
}

static void hc_destroy(void *self) { free(self); }

static const MixingOps hc_ops = {hc_plan, hc_forward, hc_backward, hc_flops, hc_destroy};

static Mixing hc_create(ParamStore *ps, const ModelConfig *cfg, int sublayer) {
    Hc *h = calloc(1, sizeof *h);
    AL_ASSERT(h);
    h->n = cfg->streams;
    h->C = cfg->d_model;
    h->dynamic = cfg->hc_dynamic;
    h->flags = mixing_flags(cfg);
    char name[96];
    int n = h->n;
    if (h->dynamic) {
        mixing_param_name(name, sizeof name, sublayer, "hc_w");
        h->w = ps_add(ps, name, 2, (int64_t[]){2 + n, h->C}, INIT_ZEROS, 0, 1, "residual");
        mixing_param_name(name, sizeof name, sublayer, "hc_scale");
        h->s = ps_add_fill(ps, name, 1, (int64_t[]){2}, INIT_CONST, cfg->gate_init, 0, 0, 0, "residual");
    }
    mixing_param_name(name, sizeof name, sublayer, "hc_am");
    h->am = ps_add_fill(ps, name, 1, (int64_t[]){n}, INIT_ONEHOT, 1, 0, sublayer % n, 0, "residual");
    mixing_param_name(name, sizeof name, sublayer, "hc_b");
    h->bv = ps_add(ps, name, 1, (int64_t[]){n}, INIT_ONES, 0, 0, "residual");
    mixing_param_name(name, sizeof name, sublayer, "hc_ar");
    h->ar = ps_add_fill(ps, name, 2, (int64_t[]){n, n}, INIT_EYE, 1, 0, 0, 0, "residual");
    return (Mixing){&hc_ops, h};
}

static Residual *hc_residual_create(ParamStore *ps, const ModelConfig *cfg, int first, int n_sublayers) {
    return mixing_residual_create(ps, cfg, first, n_sublayers, "hc", hc_create);
}

const ResidualKind residual_kind_hc = {
    .info = {"hc", "hyper-connections (ByteDance): learned, unconstrained stream mappings, static or dynamic",
             "streams|hc_dynamic|gate_init|h_pre|h_post|h_res"},
    .default_streams = 4, .max_streams = 8, .create = hc_residual_create,
};
