/* Linear layers in simulated low precision (core/lowp.h, docs/LOWP.md): DeepSeek-V3's FP8 recipe (sec. 3.3) for
 * the three GEMMs of a linear layer, and a BF16 variant. On the CPU backend only: it is a simulation of the
 * numerics (its point), several times slower than the float32 GEMMs.
 *
 *   Fprop  y  = x W^T       x (N, IC) by activation tiles along IC, W (OC, IC) by weight blocks
 *   Dgrad  dx = dy W        dy (N, OC) by activation tiles along OC, W^T (IC, OC) by the same weight blocks
 *   Wgrad  dW = dy^T x      dy^T (OC, N) and x^T (IC, N) by activation tiles along N (V3's 128 x 1 tiles)
 *
 * Every operand is quantized online (scale = amax / max of the format, from the current values), the products
 * accumulate in an accumulator of `acc.bits` mantissa bits promoted to FP32 every `acc.promote_every` products
 * and at tile boundaries. "fp8" uses E4M3 for every GEMM input, as V3 does; "bf16" rounds the inputs to BF16
 * (no scales) with the same accumulation options (0 bits: full FP32 accumulation). The callers keep V3's
 * high-precision operators out of it: embedding, output head, MoE gating, norms and the attention core. */
#ifndef AL_LOWP_LINEAR_H
#define AL_LOWP_LINEAR_H
#include "core/common.h"
#include "core/lowp.h"

typedef struct LowpLinear {
    LowpFormat format;     /* LOWP_E4M3 (fp8) or LOWP_BF16 */
    int act_tile;          /* activation/gradient tile width along K: 128 (V3), 0 = one scale per tensor */
    int weight_tile;       /* weight block side: 128 (V3), 0 = one scale per tensor */
    LowpAccum acc;
    /* workspace, grown on first use and kept (float: the simulated hardware's values, whatever real is) */
    float *buf;
    size_t cap;
    double gemms, macs;    /* counted: simulated GEMM calls and multiply-adds */
} LowpLinear;

/* "fp32" (returns 0 and leaves p unused: the caller uses the backend's kernels), "bf16" or "fp8"; scaling
 * "tile" (1 x 128 activations, 128 x 128 weights) or "tensor"; accum_bits -1: the format's default (14 for fp8,
 * V3's figure for Hopper; 0, full float32, for bf16); -1 + message naming the option. */
int lowp_linear_init(LowpLinear *p, const char *precision, const char *scaling, int accum_bits, int promote_every,
                     const char *accum_round);
void lowp_linear_free(LowpLinear *p);
/* out(N,OC) = inp(N,IC) w(OC,IC)^T, simulated (the kernel table's linear_forward, without bias) */
void lowp_linear_forward(LowpLinear *p, real *out, const real *inp, const real *w, int N, int IC, int OC);
/* dinp(N,IC) += dout w; dw(OC,IC) += dout^T inp, both simulated; dinp may be NULL */
void lowp_linear_backward(LowpLinear *p, real *dinp, real *dw, const real *dout, const real *inp, const real *w, int N,
                          int IC, int OC);
#endif
