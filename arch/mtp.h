/* Multi-token prediction (DeepSeek-V3 sec. 2.2; docs/EQUATIONS.md "Multi-token prediction"). D sequential
 * modules after the main model; module k (1..D) predicts, at position i, the token i + k + 1:
 *   h'_i^k = M_k [RMSNorm(Emb(t_{i+k})); RMSNorm(h_i^{k-1})]       M_k = eh_proj, (C, 2C)
 *   h_i^k  = one transformer block of the model's own kinds (attention, FFN or MoE, residual family) on h'^k
 *   P_i^k  = softmax(head(RMSNorm_k(h_i^k)))                          head and embedding shared with the model
 * h^0 is the main model's last hidden state (before its final norm). The objective becomes
 *   L = L_main + lambda / D * sum_k L_MTP_k,   L_MTP_k = mean CE of P^k against t_{i+k+1}
 * over the positions whose target exists (i + k + 1 within the window). The concatenation order is the one of
 * V3's released checkpoints ([embedding | hidden], eh_proj's columns), the paper writes [hidden; embedding]:
 * the same family of maps. Parameters carry V3's names: model.layers.<L + k - 1>.{enorm, hnorm, eh_proj,
 * shared_head.norm} and the block's own (self_attn, mlp, norms, mixing), summed in the "mtp" component. */
#ifndef AL_MTP_H
#define AL_MTP_H
#include "arch/config.h"
#include "arch/norm.h"
#include "arch/residual.h"

typedef struct MtpModule {
    int k;                       /* depth, 1..D */
    int layer;                   /* its block's number in the parameter names: n_layers + k - 1 */
    RMSNorm enorm, hnorm, head_norm;
    size_t eh_proj;              /* (C, 2C) */
    Sublayer sub[2];             /* attention, FFN of its block */
    Residual *res;
    /* activations, for the planned tokens */
    size_t emb, cat, logits, losses;
    int *tok, *tgt, *pred;       /* (N): shifted inputs, shifted targets, argmax predictions */
    int n_tok;
    /* the last training forward */
    int n_valid, n_correct;
    double loss;                 /* mean CE over valid targets (0 without any) */
} MtpModule;

/* Declares module k's parameters (after the main model's) and builds its block. */
void mtp_create(MtpModule *m, ParamStore *ps, const ModelConfig *cfg, int k);
void mtp_destroy(MtpModule *m);
void mtp_plan(MtpModule *m, Arena *act, size_t *scratch, int B, int T, int V);
/* Training forward of module k over the window tokens/targets (B, T): h_prev (N, C) is h^{k-1}; returns the
 * mean loss (also in m->loss) and leaves h^k at mtp_hidden. wte, head: the shared embedding and head. */
double mtp_forward(MtpModule *m, Ctx *c, const real *h_prev, const int *tokens, const int *targets, int B, int T,
                   size_t wte, size_t head, int V);
/* h^k of the last forward (N, C) */
real *mtp_hidden(const MtpModule *m, Ctx *c);
/* where the next module's gradient w.r.t. h^k is accumulated (zero it before the backward pass) */
real *mtp_grad_hidden(const MtpModule *m, Ctx *c);
/* Backward of weight * L_MTP_k: parameter gradients += (the shared embedding and head included), and
 * dh_prev += dL/dh^{k-1}. */
void mtp_backward(MtpModule *m, Ctx *c, real *dh_prev, const real *h_prev, int B, int T, size_t wte, size_t head,
                  int V, double weight);
/* Decoding (speculative drafts): module k over T new positions at c->pos with c->kv holding its block's
 * cache: h_prev (B*T, C) and the tokens t_{i+k} (B*T); logits (B*T, V) land at mtp_logits, h^k at mtp_hidden. */
void mtp_decode(MtpModule *m, Ctx *c, const real *h_prev, const int *next_tokens, int B, int T, size_t wte,
                size_t head, int V);
real *mtp_logits(const MtpModule *m, Ctx *c);
/* forward FLOPs per token (its block, eh_proj, the head) */
double mtp_flops(const MtpModule *m, int T, int V);
#endif
