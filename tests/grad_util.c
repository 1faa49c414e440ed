#include <math.h>
#include <stdlib.h>

#include "tests/gradcheck.h"
#include "tests/harness.h"

double gc_check(gc_loss_fn loss, void *ctx, real *x, const real *analytic, size_t n, int samples, const char *what) {
    const double h = 1e-3; /* five-point stencil: truncation O(h^4) ~ 1e-12, rounding ~1e-15/h */
    double worst = 0, amax = 0;
    for (size_t i = 0; i < n; i++) amax = fmax(amax, fabs(analytic[i]));
    /* entries far smaller than the tensor's largest gradient are judged at 1e-4 of that scale: there the
     * central difference's own rounding (~1e-11) would otherwise dominate the ratio */
    double floor_ = 1e-4 * amax + 1e-12;
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

void gc_fill(real *x, size_t n, Rng *rng, double std) {
    for (size_t i = 0; i < n; i++) x[i] = (real)rng_normal(rng, std);
}

double gc_dot(const real *a, const real *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}
