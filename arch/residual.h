/* The pre-norm residual stream: x_{l+1} = x_l + F_l(x_l) over the sub-layers F_l (each F applies its own
 * RMSNorm). Every x_l is kept for the backward pass. */
#ifndef AL_RESIDUAL_H
#define AL_RESIDUAL_H
#include "arch/module.h"

typedef struct ResidualStream {
    int S, C;       /* sub-layers, width */
    size_t x;       /* activations: (S+1) x (N, C) */
    size_t fout;    /* (N, C): one sub-layer's output */
    size_t dx[2];   /* (N, C) x 2: gradient ping-pong */
} ResidualStream;

void residual_plan(ResidualStream *r, Arena *act, int N);
/* x_l, l in [0, S] */
real *residual_state(const ResidualStream *r, Ctx *c, int l, int N);
/* runs the sub-layers from x_0 (filled by the caller) to x_S */
void residual_forward(ResidualStream *r, Ctx *c, Sublayer *subs, int B, int T);
/* where the caller puts dL/dx_S (zeroed by the caller), before residual_backward */
real *residual_grad_top(ResidualStream *r, Ctx *c);
/* returns dL/dx_0 */
real *residual_backward(ResidualStream *r, Ctx *c, Sublayer *subs, int B, int T);
#endif
