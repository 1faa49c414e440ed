/* Activation memory: modules reserve regions (offsets) when a model is planned for a batch shape, then
 * ONE allocation backs them all, so a training step allocates nothing. In meta mode only the size counts. */
#ifndef AL_ARENA_H
#define AL_ARENA_H
#include "core/common.h"

typedef struct Arena {
    size_t used; /* elements reserved */
    real *base;  /* NULL until allocated */
} Arena;

/* Reserve n elements, 64-byte aligned; returns the offset. */
static inline size_t arena_take(Arena *a, size_t n) {
    size_t off = a->used;
    a->used += (n + 15) & ~(size_t)15;
    return off;
}
static inline real *arena_ptr(const Arena *a, size_t off) { return a->base + off; }
#endif
