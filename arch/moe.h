/* The DeepSeekMoE feed-forward sub-layer (docs/EQUATIONS.md sec. 4):
 *     h' = sum_{shared} FFN_s(u) + sum_{routed} g_i FFN_i(u),  u = RMSNorm(x),  experts SwiGLU
 * (the residual adds x). Token dispatch sorts the token x slot assignments by expert, gathers each
 * expert's tokens into one contiguous block and runs one GEMM per expert and projection (never per token),
 * then combines the outputs weighted by the gate values. The N_s shared experts run as one SwiGLU of width
 * N_s x moe_intermediate_size (the same function; Hugging Face stores them that way). */
#ifndef AL_MOE_H
#define AL_MOE_H
#include "arch/config.h"
#include "arch/module.h"
#include "arch/norm.h"
#include "arch/router.h"

typedef struct Moe {
    RMSNorm norm;
    Router r;
    int C, F, E, K, Fs; /* Fs = n_shared_experts x F (0: none) */
    int layer;          /* its block, for probe names */
    size_t *w_gu, *w_down; /* per expert: gate_proj|up_proj (2F, C) adjacent, down_proj (C, F) */
    size_t ws_gu, ws_down; /* shared experts */
    size_t xg, gu, h, y;   /* activations of the N K dispatched rows: (M,C), (M,2F), (M,F), (M,C) */
    size_t sgu, sh;        /* shared: (N, 2Fs), (N, Fs) */
    int *counts, *offsets; /* (E), (E+1) of the last forward */
    int *tok, *pos;        /* (N K) */
    size_t cap;
    double *acc;           /* per-expert assignments accumulated since moe_load_reset (over forwards) */
    long acc_forwards;
} Moe;

Sublayer moe_create(ParamStore *ps, const ModelConfig *cfg, int layer);
/* The MoE behind a sub-layer, or NULL when it is not one. */
Moe *moe_of(Sublayer s);
/* Forgets the accumulated counts (e.g. before measuring over a validation set). */
void moe_load_reset(Moe *m);

#endif
