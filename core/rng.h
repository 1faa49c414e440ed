/* Seeded random numbers from GSL (MT19937). Separate streams for init and data keep a run reproducible
 * when one of them changes. */
#ifndef AL_RNG_H
#define AL_RNG_H
#include <stddef.h>
#include <stdint.h>

typedef struct Rng { void *gsl; } Rng;

void rng_init(Rng *r, uint64_t seed);
void rng_free(Rng *r);
double rng_normal(Rng *r, double std);
double rng_uniform(Rng *r);                /* [0, 1) */
uint64_t rng_below(Rng *r, uint64_t n);     /* uniform integer in [0, n) */
/* The full generator state, for checkpoints: size in bytes and raw access. */
size_t rng_state_size(const Rng *r);
void *rng_state(Rng *r);
/* 0 when n bytes are a state this generator can take, else -1 + message (a checkpoint is checked first). */
int rng_state_check(const Rng *r, const void *bytes, size_t n);
#endif
