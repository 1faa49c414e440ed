#include "arch/residual.h"

void residual_plan(ResidualStream *r, Arena *act, int N) {
    size_t n = (size_t)N * r->C;
    r->x = arena_take(act, n * (r->S + 1));
    r->fout = arena_take(act, n);
    r->dx[0] = arena_take(act, n);
    r->dx[1] = arena_take(act, n);
}

real *residual_state(const ResidualStream *r, Ctx *c, int l, int N) {
    return ACT(c, r->x) + (size_t)l * N * r->C;
}

void residual_forward(ResidualStream *r, Ctx *c, Sublayer *subs, int B, int T) {
    int N = B * T;
    real *f = ACT(c, r->fout);
    for (int l = 0; l < r->S; l++) {
        real *x = residual_state(r, c, l, N);
        subs[l].ops->forward(subs[l].self, c, f, x, B, T);
        K->add(x + (size_t)N * r->C, x, f, (size_t)N * r->C);
    }
}

real *residual_grad_top(ResidualStream *r, Ctx *c) { return ACT(c, r->dx[0]); }

/* dx_l = dx_{l+1} + J_F^T dx_{l+1}: copy the identity path, then let F accumulate its path. Two buffers,
 * because F reads dout while it accumulates into dinp. */
real *residual_backward(ResidualStream *r, Ctx *c, Sublayer *subs, int B, int T) {
    int N = B * T;
    size_t n = (size_t)N * r->C;
    real *cur = ACT(c, r->dx[0]), *nxt = ACT(c, r->dx[1]);
    for (int l = r->S - 1; l >= 0; l--) {
        K->copy(nxt, cur, n);
        subs[l].ops->backward(subs[l].self, c, nxt, cur, residual_state(r, c, l, N), B, T);
        real *t = cur; cur = nxt; nxt = t;
    }
    return cur;
}
