/* Residual connection families: how the sub-layers F_l (attention, FFN; each with its own pre-norm) are wired
 * into the residual stream. A family is one row of the residual registry (arch/kinds.c) whose create()
 * builds one of these objects:
 *   residual (arch/residual.c, one stream):         x_{l+1} = x_l + F_l(x_l)
 *   hc, mhc (arch/mixing.c's n-stream driver with the per-layer coefficients of arch/hc.c, arch/mhc.c;
 *            mHC eq. 3):                            X_{l+1} = H_res X_l + H_post^T F_l(H_pre X_l)
 * The model (arch/model.c) writes the embeddings at input(), runs forward(), reads output(); the backward
 * mirrors it. Every state is kept for the backward pass (and for analysis: mapping()). */
#ifndef AL_RESIDUAL_H
#define AL_RESIDUAL_H
#include "arch/module.h"
#include "core/metrics.h"

typedef struct Residual Residual;

/* the per-token mappings a family may record, for analysis (arch/gain.c, analysis/stochastic.c) */
typedef enum { MAP_PRE, MAP_POST, MAP_RES } ResidualMap;

typedef struct ResidualOps {
    /* reserve activations for N tokens; add the backward workspace need to *scratch */
    void (*plan)(Residual *r, Arena *act, size_t *scratch, int N);
    real *(*input)(const Residual *r, Ctx *c);  /* where the caller writes the input (N, C) */
    /* runs the sub-layers; the collapsed result is output() */
    void (*forward)(Residual *r, Ctx *c, Sublayer *subs, int B, int T);
    real *(*output)(const Residual *r, Ctx *c); /* (N, C) */
    /* where the caller puts dL/d(output) (N, C), zeroed by the caller */
    real *(*grad_top)(const Residual *r, Ctx *c);
    /* returns dL/d(input) (N, C); parameter gradients += */
    real *(*backward)(Residual *r, Ctx *c, Sublayer *subs, int B, int T);
    /* forward FLOPs per token of the connections themselves (mixing, coefficient maps) */
    double (*flops)(const Residual *r);
    /* Optional (NULL: the family has no mappings, i.e. the identity):
     * mapping: sub-layer l's per-token H_pre (N, n), H_post (N, n) or H_res (N, n, n) of the last forward;
     * record: appends the family's measurements of the last forward to the run's metrics (the HC family: its
     *   Amax gains, arch/gain.c). */
    const real *(*mapping)(const Residual *r, Ctx *c, int l, ResidualMap which);
    void (*record)(const Residual *r, Ctx *c, MetricLog *log, double step);
    void (*destroy)(Residual *r);
} ResidualOps;

/* The part every family shares; a family's own state follows it (first member). */
struct Residual {
    const ResidualOps *ops;
    const char *kind; /* the registry name */
    int S, C, n;      /* sub-layers, width, streams */
    int N;            /* planned tokens (the layout of the activations) */
    int N_last;       /* tokens of the last forward (<= N) */
};

static inline void residual_plan(Residual *r, Arena *act, size_t *scratch, int N) { r->ops->plan(r, act, scratch, N); }
static inline real *residual_input(const Residual *r, Ctx *c) { return r->ops->input(r, c); }
static inline void residual_forward(Residual *r, Ctx *c, Sublayer *subs, int B, int T) { r->ops->forward(r, c, subs, B, T); }
static inline real *residual_output(const Residual *r, Ctx *c) { return r->ops->output(r, c); }
static inline real *residual_grad_top(const Residual *r, Ctx *c) { return r->ops->grad_top(r, c); }
static inline real *residual_backward(Residual *r, Ctx *c, Sublayer *subs, int B, int T) {
    return r->ops->backward(r, c, subs, B, T);
}
static inline double residual_flops(const Residual *r) { return r->ops->flops(r); }
/* H_res of sub-layer l from the last forward (N, n, n); NULL when the family has none */
static inline const real *residual_hres(const Residual *r, Ctx *c, int l) {
    return r->ops->mapping ? r->ops->mapping(r, c, l, MAP_RES) : NULL;
}
static inline void residual_record(const Residual *r, Ctx *c, MetricLog *log, double step) {
    if (r->ops->record) r->ops->record(r, c, log, step);
}
static inline void residual_destroy(Residual *r) {
    if (r) r->ops->destroy(r);
}
#endif
