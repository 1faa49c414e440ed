/* The CUDA backend (make cuda: bin/archlab-cuda; registered as "cuda" in core/backend.c when built with
 * -DAL_CUDA): the three kernel tables on an NVIDIA GPU. Parameters, gradients, AdamW moments and activations live
 * in GPU memory (cudaMalloc); GEMMs through cuBLAS, everything else in CUDA kernels (core/backend_cuda.cu,
 * core/backend_cuda_attn.cu, core/moe_cuda.cu, core/streams_cuda.cu), with the per-element arithmetic of
 * core/elementwise.h shared with the CPU kernels. int arrays in the tables (tokens, targets, expert choices,
 * dispatch tables) stay host memory, as the contract says (core/backend.h); the kernels stage them. */
#ifndef AL_BACKEND_CUDA_H
#define AL_BACKEND_CUDA_H
#include "core/backend.h"

#ifdef __cplusplus
extern "C" {
#endif
struct MoeKernels;
struct StreamKernels;
extern const Backend al_backend_cuda;
extern const struct MoeKernels al_moe_cuda;
extern const struct StreamKernels al_streams_cuda;
/* The registry's init: a GPU and its driver answer (-1 + one line saying what is missing otherwise). */
int cuda_backend_init(void);
/* The GEMMs' arithmetic: "fp32" (the default: comparable with the CPU), "tf32" (TF32 tensor cores) or "bf16"
 * (bf16 products, fp32 accumulation, fp32 everything else); -1 + message for another name. */
int cuda_gemm_precision(const char *precision);
/* "NVIDIA H200, 132 SMs, 139.8 GiB, compute 9.0, driver 13.0" (after init) */
const char *cuda_device_description(void);
/* Waits for every kernel queued so far (timings). */
void cuda_synchronize(void);
#ifdef __cplusplus
}
#endif
#endif
