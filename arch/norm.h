/* RMSNorm with a learned scale (initialized to 1, no weight decay). */
#ifndef AL_NORM_H
#define AL_NORM_H
#include "arch/module.h"

typedef struct RMSNorm {
    size_t w;     /* parameter (C) */
    int C;
    double eps;
    size_t out, rstd; /* activations: (N, C) and (N) */
} RMSNorm;

void rmsnorm_declare(RMSNorm *n, ParamStore *ps, const char *name, int C, double eps);
void rmsnorm_plan(RMSNorm *n, Arena *act, int N);
/* ACT(out) = norm(inp) */
void rmsnorm_fwd(RMSNorm *n, Ctx *c, const real *inp, int N);
/* dinp += ...; dout is (N, C) */
void rmsnorm_bwd(RMSNorm *n, Ctx *c, real *dinp, const real *dout, const real *inp, int N);
#endif
