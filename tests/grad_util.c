#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/backend.h"

#include "arch/model.h"
#include "tests/gradcheck.h"
#include "tests/harness.h"

double gc_check(gc_loss_fn loss, void *ctx, real *x, const real *analytic, size_t n, int samples, const char *what) {
    const double h = 1e-3; /* five-point stencil: truncation O(h^4) ~ 1e-12, rounding ~1e-15/h */
    double worst = 0, amax = 0;
    for (size_t i = 0; i < n; i++) amax = fmax(amax, fabs(analytic[i]));
    /* Entries far smaller than the tensor's largest gradient are judged at 1e-4 of that scale, and no entry
     * below 1e-5 absolute: the difference quotient's own rounding is ~1e-15 |L| / h ~ 1e-12 here, which
     * would otherwise dominate the ratio for gradients that are exactly zero in exact arithmetic (e.g. mixing
     * identical streams, whose rows sum to one). At the floor the tolerance is 1e-11 absolute. */
    double floor_ = fmax(1e-4 * amax, 1e-5);
    size_t stride = n <= (size_t)samples ? 1 : n / samples;
    for (size_t i = 0; i < n; i += stride) {
        real save = x[i];
        double f[4];
        const double off[4] = {h, -h, 2 * h, -2 * h};
        for (int k = 0; k < 4; k++) { x[i] = save + off[k]; f[k] = loss(ctx); }
        x[i] = save;
        double num = (8 * (f[0] - f[1]) - (f[2] - f[3])) / (12 * h), a = analytic[i];
        double err = fabs(a - num) / fmax(fabs(a) + fabs(num), floor_);
        if (err > worst) worst = err;
        if (getenv("GC_DEBUG") && err > 1e-8) th_note("  [%zu] analytic %.6e numeric %.6e", i, a, num);
    }
    th_note("%-40s max rel err %.2e over %zu entries", what, worst, (n + stride - 1) / stride);
    return worst;
}

static real *bufs[64];
static int n_bufs;

real *gc_buf(size_t n) {
    AL_ASSERT(n_bufs < 64);
    return bufs[n_bufs++] = al_calloc(n, sizeof(real), "test");
}

void gc_free_bufs(void) {
    while (n_bufs) al_free(bufs[--n_bufs]);
}

void gc_fill(real *x, size_t n, Rng *rng, double std) {
    for (size_t i = 0; i < n; i++) x[i] = (real)rng_normal(rng, std);
}

double gc_dot(const real *a, const real *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

typedef struct { Model *m; const int *tok, *tg; int B, T; } ModelLossCtx;
static double model_loss(void *p) {
    ModelLossCtx *c = p;
    return model_forward(c->m, c->tok, c->tg, c->B, c->T) + model_mtp_loss(c->m);
}

double gc_check_model(Model *m, const int *tokens, const int *targets, int B, int T, int samples, const char *label) {
    AL_ASSERT(model_plan(m, B, T) == 0);
    ModelLossCtx c = {m, tokens, targets, B, T};
    K->zero(m->ps.grad, m->ps.total);
    model_forward(m, tokens, targets, B, T);
    model_backward(m, tokens, targets, B, T);
    real *analytic = al_calloc(m->ps.total, sizeof(real), "gradcheck");
    memcpy(analytic, m->ps.grad, sizeof(real) * m->ps.total);
    double worst = 0;
    for (int i = 0; i < m->ps.n; i++) {
        ParamInfo *p = &m->ps.info[i];
        char what[160];
        snprintf(what, sizeof what, "%s %s", label, p->name);
        double e = gc_check(model_loss, &c, m->ps.data + p->offset, analytic + p->offset, p->numel, samples, what);
        if (e > worst) worst = e;
    }
    al_free(analytic);
    return worst;
}
