/* The CPU backend's matrix product: OpenBLAS cblas gemm, with products of a few rows sent to gemv (see
 * core/gemm_cpu.c). Every CPU kernel file that multiplies matrices calls it; it calls nothing of ours. */
#ifndef AL_GEMM_CPU_H
#define AL_GEMM_CPU_H
#include "core/common.h"

/* C(M,N) = alpha op(A) op(B) + beta C, row-major (the backend's gemm; products of up to 4 rows go to gemv) */
void cpu_gemm(int ta, int tb, int M, int N, int Kd, real alpha, const real *A, int lda, const real *B, int ldb,
              real beta, real *C, int ldc);
#endif
