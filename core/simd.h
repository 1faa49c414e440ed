/* Explicit vectors for kernels whose loops the compiler vectorizes the wrong way by itself (Sinkhorn across
 * tokens: GCC vectorized its plain loops over lanes across the matrix entries instead, with gathers). GCC's
 * vector extensions, not intrinsics: one 64-byte type (one AVX-512 register, two AVX2 ones, four SSE ones:
 * whatever -march=native gives), in the float and in the double build alike. */
#ifndef AL_SIMD_H
#define AL_SIMD_H
#include "core/common.h"

typedef real vreal __attribute__((vector_size(64)));
#define VLEN ((int)(sizeof(vreal) / sizeof(real)))

static inline vreal vsplat(real x) { return (vreal){0} + x; }
#endif
