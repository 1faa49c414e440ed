/* exp for the hot elementwise loops (SwiGLU's sigmoid, softmax rows): libm's exp is a call per element that
 * the compiler cannot vectorize without -ffast-math; this one is branch-free, so loops over it vectorize.
 * Float build: Cody-Waite range reduction x = k ln2 + r, |r| <= ln2/2, and the Cephes expf polynomial; max
 * relative error 2 ulp against expf over [-87, 88.3] (tests/test_kernels.c), 0 below -87.3 (exp(-inf) = 0 as
 * masked logits need), +inf above 88.3 (expf itself overflows at 88.72; the callers only take exp of
 * non-positive numbers or of -x inside a sigmoid, where either is 1 / (1 + huge) = 0). The double build
 * (gradient checks) uses libm's exp. The CUDA kernels compute the same polynomial (AL_HD: core/common.h). */
#ifndef AL_FAST_EXP_H
#define AL_FAST_EXP_H
#include <math.h>
#include <stdint.h>

#include "core/common.h"

/* The core: finite for every input, exp(clamp(x, -87.3, 88.3)); NaN gives exp(-87.3). For callers that need no
 * special values (a sigmoid: 1 / (1 + e) is 0 or 1 at either end anyway) and whose selects would otherwise be
 * if-converted around a division (SwiGLU's loops computed 1 / (1 + e) three times under masks). */
AL_HD float al_expf_finite(float x) {
    float xc = x > -87.3f ? x : -87.3f; /* NaN -> -87.3 here (so the integer conversion below stays defined) */
    xc = xc < 88.3f ? xc : 88.3f;
    /* k = round(x / ln2) by the 1.5 * 2^23 trick: floorf does not vectorize under -fopenmp's trapping math */
    float k = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    float r = xc - k * 0.693359375f + k * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    /* 2^k, k in [-126, 127] after the clamp; a union (not memcpy) so the loop still vectorizes */
    union { uint32_t i; float f; } scale = {(uint32_t)((int32_t)k + 127) << 23};
    return p * scale.f;
}

AL_HD float al_expf(float x) {
    float y = al_expf_finite(x);
    return x < -87.3f ? 0.0f : x > 88.3f ? INFINITY : x != x ? x : y; /* NaN stays NaN */
}

AL_HD real al_exp(real x) {
#ifdef AL_DOUBLE
    return exp(x);
#else
    return al_expf(x);
#endif
}

/* 1 / (1 + exp(-x)); NaN stays NaN (one select after the division) */
AL_HD real al_sigmoid(real x) {
#ifdef AL_DOUBLE
    real s = 1 / (1 + exp(-x));
#else
    real s = 1 / (1 + al_expf_finite(-x));
#endif
    return x == x ? s : x;
}
#endif
