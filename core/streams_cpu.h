/* CPU implementations of the multi-stream kernels (see core/backend.h for their contracts). */
#ifndef AL_STREAMS_CPU_H
#define AL_STREAMS_CPU_H
#include "core/backend.h"

void streams_broadcast(real *X, const real *x, int N, int n, int C, int accumulate);
void streams_sum(real *x, const real *X, int N, int n, int C, int accumulate);
void stream_pre(real *u, const real *X, const real *hpre, int N, int n, int C);
void stream_pre_backward(real *dX, real *dhpre, const real *du, const real *X, const real *hpre, int N, int n, int C);
void stream_post(real *Xn, const real *X, const real *hres, const real *hpost, const real *f, int N, int n, int C);
void stream_post_backward(real *dX, real *dhres, real *dhpost, real *df, real *u, const real *dXn, const real *X,
                          const real *hres, const real *hpost, const real *hpre, const real *f, int N, int n, int C);
void sinkhorn_forward(real *H, real *trace, const real *logits, int N, int n, int iters);
void sinkhorn_backward(real *dlogits, const real *dH, const real *trace, int N, int n, int iters);
void mhc_coeffs(real *hpre, real *hpost, real *res_logits, const real *raw, const real *a, const real *b_pre,
                const real *b_post, const real *b_res, int N, int n, int flags);
void mhc_coeffs_backward(real *draw, real *da, real *db_pre, real *db_post, real *db_res, const real *dhpre,
                         const real *dhpost, const real *dres_logits, const real *raw, const real *hpre,
                         const real *hpost, const real *a, int N, int n, int flags);
void hc_coeffs(real *hpre, real *hpost, real *hres, const real *raw, const real *s, const real *Am, const real *Bv,
               const real *Ar, int N, int n, int flags);
void hc_coeffs_backward(real *draw, real *ds, real *dAm, real *dBv, real *dAr, const real *dhpre, const real *dhpost,
                        const real *dhres, const real *raw, const real *s, int N, int n, int flags);
void mhc_backward_fused(const MhcBackward *p);
#endif
