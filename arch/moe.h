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
    /* expert parallelism (arch/moe_ep.c): ep ranks, each computing E / ep of the routed experts; a token travels
     * once to each rank holding any of its experts. Host lists of the last forward, then activation offsets. */
    int ep;
    size_t *ep_send, *ep_recv;   /* (ep): rows sent to / received from each rank */
    int *ep_send_tok;            /* (N K): the token of each row sent, grouped by destination rank */
    int *ep_pos_s;               /* (N K): per token, its sent rows, padded with the zero row S */
    int *ep_idx, *ep_tok, *ep_pos, *ep_cnt, *ep_off; /* the dispatch of the received rows' slots (E/ep + 1 buckets) */
    real *ep_meta_h;             /* (N K, 2K) host copy of the metadata sent: expert slot, gate */
    real *ep_gate_h;             /* (N K) host copy of the gates */
    int *ep_used;                /* (N) destinations each token got so far, while the rows are listed */
    real *ep_rmeta_h, *ep_rgate_h; /* host copies of the received metadata (R N, 2K) and gates (R N, K) */
    size_t ep_S, ep_Nr, ep_cap_s, ep_cap_r;
    size_t xs, ms, back, dwb;        /* sent rows (NK, C), their metadata (NK, 2K), returned rows and gate grads (NK+1, C|K) */
    size_t rin, rmeta, xr, gur, hr, yr, rout, rgate; /* received rows (RN, C), metadata (RN, 2K), slots (RNK, ...), outputs (RN, C), gates (RN, K) */
    double ep_bytes_per_token;   /* bytes this rank sent to other ranks per token in the dispatch, last forward */
    double ep_ranks_per_token;   /* mean number of other ranks a token's experts were on */
} Moe;

Sublayer moe_create(ParamStore *ps, const ModelConfig *cfg, int layer);
/* The MoE behind a sub-layer, or NULL when it is not one. */
Moe *moe_of(Sublayer s);
/* Forgets the accumulated counts (e.g. before measuring over a validation set). */
void moe_load_reset(Moe *m);

/* Expert parallelism (arch/moe_ep.c), active when the run has exactly m->ep > 1 ranks (and not decoding): the
 * routed experts' part of the forward, each token sent once to every rank holding one of its experts, the
 * weighted sum of its experts added to out(N,C); the backward adds the routed part of dxn(N,C) and the gate
 * gradients dgate(N,K) from dout(N,C). A rank whose peers died ends the job. 1 when it ran, 0 when the caller
 * computes locally. */
int moe_ep_active(const Moe *m);
/* reserves its activations for M = N K local assignments; returns the backward work it needs (reals) */
size_t moe_ep_plan(Moe *m, Arena *act, size_t M);
int moe_ep_forward(Moe *m, Ctx *c, int N, real *out);
int moe_ep_backward(Moe *m, Ctx *c, const real *dout, real *dxn, real *dgate, real *work, int N);

#endif
