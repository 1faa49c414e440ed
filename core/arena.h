/* Activation memory: modules reserve regions (offsets) when a model is planned for a batch shape, then
 * ONE allocation backs them all, so a training step allocates nothing. In meta mode only the size counts. */
#ifndef AL_ARENA_H
#define AL_ARENA_H
#include "core/common.h"

typedef struct Arena {
    size_t used;  /* elements reserved */
    real *base;   /* NULL until allocated */
    int overflow; /* a reservation past what 64-bit byte counts hold: the plan is refused */
} Arena;

/* Reserve n elements, 64-byte aligned; returns the offset. */
static inline size_t arena_take(Arena *a, size_t n) {
    size_t off = a->used, add = (n + 15) & ~(size_t)15;
    if (n > ((size_t)1 << 58) || add > ((size_t)1 << 58) - a->used) { a->overflow = 1; return 0; }
    a->used += add;
    return off;
}
static inline real *arena_ptr(const Arena *a, size_t off) { return a->base + off; }
#endif
