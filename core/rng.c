#include "core/rng.h"

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "core/common.h"

void rng_init(Rng *r, uint64_t seed) {
    gsl_rng *g = gsl_rng_alloc(gsl_rng_mt19937);
    AL_ASSERT(g);
    gsl_rng_set(g, (unsigned long)seed);
    r->gsl = g;
}

void rng_free(Rng *r) {
    if (r->gsl) gsl_rng_free(r->gsl);
    r->gsl = NULL;
}

double rng_normal(Rng *r, double std) { return gsl_ran_gaussian_ziggurat(r->gsl, std); }
double rng_uniform(Rng *r) { return gsl_rng_uniform(r->gsl); }

uint64_t rng_below(Rng *r, uint64_t n) {
    AL_ASSERT(n > 0);
    if (n <= gsl_rng_max(r->gsl)) return gsl_rng_uniform_int(r->gsl, (unsigned long)n);
    return (uint64_t)(gsl_rng_uniform(r->gsl) * (double)n) % n;
}

size_t rng_state_size(const Rng *r) { return gsl_rng_size(r->gsl); }
void *rng_state(Rng *r) { return gsl_rng_state(r->gsl); }
