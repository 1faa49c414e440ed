/* The dense SwiGLU feed-forward sub-layer: pre-norm, down(silu(gate x) * up x). */
#ifndef AL_FFN_H
#define AL_FFN_H
#include "arch/config.h"
#include "arch/module.h"
#include "arch/norm.h"

typedef struct Ffn {
    RMSNorm norm;
    int C, F;
    int layer; /* its block, for probe names */
    size_t w_gu;   /* gate_proj (F, C), up_proj (F, C): adjacent, one GEMM */
    size_t w_down; /* down_proj (C, F) */
    size_t gu, h;  /* activations (N, 2F), (N, F) */
} Ffn;

Sublayer ffn_create(ParamStore *ps, const ModelConfig *cfg, int layer);
#endif
