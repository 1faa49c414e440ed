/* Finite-difference gradient checking for the double-precision build (bin/gradcheck).
 * Every check compares the analytic gradient of L = sum(out * R) (R random) with the five-point central
 * difference (8(f(x+h) - f(x-h)) - (f(x+2h) - f(x-2h))) / 12h, h = 1e-3: truncation error O(h^4) ~ 1e-12
 * and rounding ~1e-15/h = 1e-12 in double, so a correct backward agrees to ~1e-8 relative, the 1e-6
 * tolerance leaves margin, and any real bug (a wrong term, a missing accumulation) shows up as O(1). */
#ifndef AL_GRADCHECK_H
#define AL_GRADCHECK_H
#include "core/common.h"
#include "core/rng.h"

#define GC_TOL 1e-6

typedef double (*gc_loss_fn)(void *ctx);

/* Largest relative error |a - n| / max(|a| + |n|, 1e-4 max|a|, 1e-5) over up to `samples` entries of x
 * (all if fewer). */
double gc_check(gc_loss_fn loss, void *ctx, real *x, const real *analytic, size_t n, int samples, const char *what);
void gc_fill(real *x, size_t n, Rng *rng, double std);
/* Zeroed test buffers, released together by gc_free_bufs() at the end of a test. */
real *gc_buf(size_t n);
void gc_free_bufs(void);
/* Checks every parameter tensor of a model (sampled entries) against differences of its objective on the given
 * batch (model_forward's loss + the MTP term); returns the worst relative error. */
struct Model;
double gc_check_model(struct Model *m, const int *tokens, const int *targets, int B, int T, int samples,
                      const char *label);
double gc_dot(const real *a, const real *b, size_t n);
#endif
