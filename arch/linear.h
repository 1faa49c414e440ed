/* The linear layers of the sub-layers: the projections of attention, the FFN and expert matrices, MTP's
 * eh_proj. Through the kernel table in float32, or, when the context carries a low-precision simulation
 * (core/lowp_linear.h: DeepSeek-V3's FP8 recipe, or BF16), through it. The operators V3 keeps in higher
 * precision call the kernel table directly: the output head (arch/model.c, arch/mtp.c), the MoE gate
 * (arch/router.c), the norms and the attention core. */
#ifndef AL_LINEAR_H
#define AL_LINEAR_H
#include "arch/module.h"
#include "core/lowp_linear.h"

/* out(N,OC) = inp(N,IC) w(OC,IC)^T */
static inline void linear_fwd(Ctx *c, real *out, const real *inp, const real *w, int N, int IC, int OC) {
    if (c->lowp) lowp_linear_forward(c->lowp, out, inp, w, N, IC, OC);
    else K->linear_forward(out, inp, w, NULL, N, IC, OC);
}
/* dinp(N,IC) += dout w (dinp may be NULL); dw(OC,IC) += dout^T inp */
static inline void linear_bwd(Ctx *c, real *dinp, real *dw, const real *dout, const real *inp, const real *w, int N,
                              int IC, int OC) {
    if (c->lowp) lowp_linear_backward(c->lowp, dinp, dw, dout, inp, w, N, IC, OC);
    else K->linear_backward(dinp, dw, NULL, dout, inp, w, N, IC, OC);
}
#endif
