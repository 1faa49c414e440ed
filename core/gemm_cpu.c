/* The CPU backend's GEMM: OpenBLAS cblas_sgemm (dgemm in the double-precision gradient-check build). */
#include "core/gemm_cpu.h"

#include <cblas.h>

#ifdef AL_DOUBLE
#define GEMM cblas_dgemm
#define GEMV cblas_dgemv
#else
#define GEMM cblas_sgemm
#define GEMV cblas_sgemv
#endif

/* Up to GEMV_MAX_ROWS rows (decoding a token: every projection is a vector times a matrix) go to gemv, a row at
 * a time: OpenBLAS 0.3.21's gemm packs the whole weight matrix first even for M = 1, which was most of a decode
 * step (35% of its time in packing, at d 256). Measured at 256 x 768 weights, one thread: gemv per row is
 * faster up to 4 rows (M = 2: 22 vs 47 us, M = 4: 43 vs 51 us) and slower from 8 (86 vs 65 us). */
#define GEMV_MAX_ROWS 4
void cpu_gemm(int ta, int tb, int M, int N, int Kd, real alpha, const real *A, int lda, const real *B, int ldb,
              real beta, real *C, int ldc) {
    if (M <= GEMV_MAX_ROWS) { /* row m: c_m = alpha op(B)^T a_m + beta c_m; a_m's entries lda apart when A is K x M */
        for (int m = 0; m < M; m++) {
            const real *a = ta ? A + m : A + (size_t)m * lda;
            if (tb) GEMV(CblasRowMajor, CblasNoTrans, N, Kd, alpha, B, ldb, a, ta ? lda : 1, beta, C + (size_t)m * ldc, 1);
            else GEMV(CblasRowMajor, CblasTrans, Kd, N, alpha, B, ldb, a, ta ? lda : 1, beta, C + (size_t)m * ldc, 1);
        }
        return;
    }
    GEMM(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, Kd, alpha, A,
         lda, B, ldb, beta, C, ldc);
}

