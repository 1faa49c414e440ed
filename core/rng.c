#include "core/rng.h"

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include <string.h>

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

/* GSL's MT19937 state: 624 words (unsigned long, 32 bits used) and the next index mti in [0, 624]. A state
 * read from a file is checked before GSL sees it: an index out of range makes GSL read past its array, and an
 * all-zero state makes MT19937 emit zeros forever. */
int rng_state_check(const Rng *r, const void *bytes, size_t n) {
    typedef struct { unsigned long mt[624]; int mti; } mt_state;
    if (n != rng_state_size(r) || n != sizeof(mt_state))
        return al_errorf("rng.state has %zu bytes, this build's generator (MT19937) keeps %zu", n, rng_state_size(r));
    mt_state s;
    memcpy(&s, bytes, sizeof s);
    if (s.mti < 0 || s.mti > 624) return al_errorf("rng.state: index %d is outside [0, 624]", s.mti);
    unsigned long any = 0;
    for (int i = 0; i < 624; i++) {
        if (s.mt[i] > 0xffffffffUL) return al_errorf("rng.state: word %d = %lu is beyond 32 bits", i, s.mt[i]);
        any |= s.mt[i];
    }
    if (!any) return al_errorf("rng.state: all zero (not a state MT19937 can reach)");
    return 0;
}