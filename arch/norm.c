#include "arch/norm.h"

void rmsnorm_declare(RMSNorm *n, ParamStore *ps, const char *name, int C, double eps) {
    int64_t shape[1] = {C};
    n->w = ps_add(ps, name, 1, shape, INIT_ONES, 0, 0, "norm");
    n->C = C;
    n->eps = eps;
}

void rmsnorm_plan(RMSNorm *n, Arena *act, int N) {
    n->out = arena_take(act, (size_t)N * n->C);
    n->rstd = arena_take(act, (size_t)N);
}

void rmsnorm_fwd(RMSNorm *n, Ctx *c, const real *inp, int N) {
    K->rmsnorm_forward(ACT(c, n->out), ACT(c, n->rstd), inp, PW(c, n->w), N, n->C, (real)n->eps);
}

void rmsnorm_bwd(RMSNorm *n, Ctx *c, real *dinp, const real *dout, const real *inp, int N) {
    K->rmsnorm_backward(dinp, PG(c, n->w), dout, inp, PW(c, n->w), ACT(c, n->rstd), N, n->C);
}
