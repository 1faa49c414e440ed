/* What the CUDA backend's files share (core/backend_cuda.cu, core/backend_cuda_attn.cu, core/moe_cuda.cu,
 * core/streams_cuda.cu): the stream and cuBLAS handle every kernel runs on, error checks, the staging of host int
 * arrays, grow-only workspaces, deterministic reductions and the row-major GEMM. C++ (nvcc) only. */
#ifndef AL_CUDA_INTERNAL_CUH
#define AL_CUDA_INTERNAL_CUH
/* the C library headers first, outside extern "C" (C++ overloads live in them) */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cublas_v2.h>
#include <cuda_runtime.h>

extern "C" {
#include "core/backend.h"
#include "core/backend_cuda.h"
#include "core/moe_kernels.h"
#include "core/stream_kernels.h"
}
#include "core/elementwise.h"

#ifdef AL_DOUBLE
#error "the CUDA backend computes in float32 (real = float): build it without AL_DOUBLE"
#endif

/* every kernel and cuBLAS call of the backend runs on this stream, in order */
extern cudaStream_t cu_stream;
extern cublasHandle_t cu_blas;

/* A failed CUDA call is not bad input but a broken device or a bug: one line naming the call, exit status 1. */
[[noreturn]] void cu_fail(const char *call, const char *err, const char *file, int line);
#define CU(call)                                                                           \
    do {                                                                                   \
        cudaError_t e_ = (call);                                                           \
        if (e_ != cudaSuccess) cu_fail(#call, cudaGetErrorString(e_), __FILE__, __LINE__); \
    } while (0)
#define CUBLAS(call)                                                                                         \
    do {                                                                                                     \
        cublasStatus_t s_ = (call);                                                                          \
        if (s_ != CUBLAS_STATUS_SUCCESS) cu_fail(#call, cublasGetStatusString(s_), __FILE__, __LINE__);    \
    } while (0)
/* after a kernel launch: a bad configuration shows here, a fault at the next synchronizing call */
#define CU_LAUNCHED() CU(cudaGetLastError())

/* Blocks for a grid-stride loop over n items: enough to fill the GPU, capped (the loops cover the rest). */
static inline unsigned cu_blocks(size_t n, unsigned threads) {
    size_t b = (n + threads - 1) / threads;
    return b == 0 ? 1 : b > 8192 ? 8192 : (unsigned)b;
}
#define GRID_STRIDE(i, n) for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < (n); i += (size_t)gridDim.x * blockDim.x)

/* n host ints copied into device slot `slot` (0..7; a slot's previous contents are dead once the next copy is
 * queued: the stream orders them after the kernels that read them). */
const int *cu_stage_ints(const int *host, size_t n, int slot);
/* A device workspace of at least `bytes`, slot 0..7, grown on demand and kept (contents not kept). */
void *cu_scratch(size_t bytes, int slot);
/* A host workspace likewise (slot 0..7), for the host halves of some kernels. */
void *cu_host_scratch(size_t bytes, int slot);
/* One double read back from the device (synchronizes). */
double cu_read_double(const double *dev);
/* sum of n device doubles in a fixed order (the same result for the same n, run after run) */
double cu_sum_doubles(const double *dev, size_t n);
/* out[c] += sum over n < N of f(n, c) for c < C, in a fixed order (deterministic), accumulated in double;
 * f is a functor with __device__ double operator()(size_t n, int c) const. */
template <typename F>
void cu_column_sums(real *out, int N, int C, F f);

/* C(M,N) = alpha op(A) op(B) + beta C, row-major with leading dimensions (core/backend.h's gemm), through cuBLAS
 * in the precision cuda_gemm_precision chose */
void cu_gemm(int ta, int tb, int M, int N, int K, real alpha, const real *A, int lda, const real *B, int ldb, real beta,
             real *C, int ldc);
/* count products of the same shapes, A[i], B[i], C[i] device arrays of device pointers (row-major, as cu_gemm) */
void cu_gemm_batched(int ta, int tb, int M, int N, int K, real alpha, const real *const *A, int lda,
                     const real *const *B, int ldb, real beta, real *const *C, int ldc, int count);

/* ---- device helpers ---- */

/* sum over the block (blockDim.x a multiple of 32, at most 1024); every thread gets the result */
template <typename T>
__device__ inline T block_sum(T v) {
    __shared__ T part[32];
    __shared__ T total;
    for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = (blockDim.x + 31) >> 5;
    __syncthreads(); /* part/total may still be read by a previous call's threads */
    if (lane == 0) part[warp] = v;
    __syncthreads();
    if (warp == 0) {
        T w = lane < warps ? part[lane] : T(0);
        for (int o = 16; o > 0; o >>= 1) w += __shfl_down_sync(0xffffffffu, w, o);
        if (lane == 0) total = w;
    }
    __syncthreads();
    return total;
}

/* max over the block, as block_sum */
__device__ inline float block_max(float v) {
    __shared__ float part[32];
    __shared__ float total;
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_down_sync(0xffffffffu, v, o));
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = (blockDim.x + 31) >> 5;
    __syncthreads();
    if (lane == 0) part[warp] = v;
    __syncthreads();
    if (warp == 0) {
        float w = lane < warps ? part[lane] : -INFINITY;
        for (int o = 16; o > 0; o >>= 1) w = fmaxf(w, __shfl_down_sync(0xffffffffu, w, o));
        if (lane == 0) total = w;
    }
    __syncthreads();
    return total;
}

/* ---- the deterministic column sums (template: defined here) ---- */

#define CS_COLS 32
#define CS_ROWS 8
#define CS_CHUNK 256 /* rows per partial */

template <typename F>
__global__ void k_column_partials(double *part, int N, int C, F f) {
    __shared__ double acc[CS_ROWS][CS_COLS];
    int c = blockIdx.x * CS_COLS + threadIdx.x;
    size_t n0 = (size_t)blockIdx.y * CS_CHUNK, n1 = n0 + CS_CHUNK < (size_t)N ? n0 + CS_CHUNK : (size_t)N;
    double s = 0;
    if (c < C)
        for (size_t n = n0 + threadIdx.y; n < n1; n += CS_ROWS) s += f(n, c);
    acc[threadIdx.y][threadIdx.x] = s;
    __syncthreads();
    if (threadIdx.y == 0 && c < C) {
        double t = 0;
        for (int r = 0; r < CS_ROWS; r++) t += acc[r][threadIdx.x];
        part[(size_t)blockIdx.y * C + c] = t;
    }
}

__global__ void k_column_finish(real *out, const double *part, int chunks, int C);

template <typename F>
void cu_column_sums(real *out, int N, int C, F f) {
    if (N <= 0 || C <= 0) return;
    int chunks = (N + CS_CHUNK - 1) / CS_CHUNK;
    double *part = (double *)cu_scratch(sizeof(double) * (size_t)chunks * C, 7);
    dim3 grid((C + CS_COLS - 1) / CS_COLS, chunks), block(CS_COLS, CS_ROWS);
    k_column_partials<<<grid, block, 0, cu_stream>>>(part, N, C, f);
    CU_LAUNCHED();
    k_column_finish<<<cu_blocks(C, 256), 256, 0, cu_stream>>>(out, part, chunks, C);
    CU_LAUNCHED();
}
#endif
