/* What a configuration costs, from a meta build (nothing allocated): parameters per component, total and
 * activated; FLOPs per token; KV-cache bytes; training memory.
 * Counting convention, the same for every config: "activated" counts what one token passes through,
 * i.e. everything except the input embedding (a table lookup) and the routed experts it is not sent to
 * (per MoE layer, top-K of the N_r routed experts). The DeepSeek papers' stated figures fit this
 * convention (the output head counted, the input embedding not). */
#ifndef AL_COST_H
#define AL_COST_H
#include "arch/model.h"

/* The components summaries list first, in this order; a component a kind declares that is not among them (a
 * new kind's own) follows them, in the order of its first parameter. */
#define COST_COMPONENTS 9
extern const char *const cost_component_names[COST_COMPONENTS];

/* Parameters by component: ONE breakdown behind model:summary(), model:params(), archlab.cost and
 * `archlab summary`. Its rows add up to the model's total, total and activated alike. */
#define COST_MAX_COMPONENTS 24
typedef struct ComponentCount {
    char name[24];
    size_t total, active;
} ComponentCount;
typedef struct ParamBreakdown {
    int n;                                /* the COST_COMPONENTS standard ones (zero or not), then any others */
    ComponentCount c[COST_MAX_COMPONENTS];
    size_t total_params, active_params;
    /* the multi-token prediction modules (component "mtp"), apart from the rows and totals above; and the
     * count as DeepSeek-V3's checkpoint stores them: each module with its own copy of the embedding and head */
    size_t mtp_params, mtp_active_params, mtp_checkpoint_params;
} ParamBreakdown;

/* The breakdown of a built model (real or meta). The router's bias (component "router_bias") counts under
 * "router". */
void param_breakdown(const Model *m, ParamBreakdown *b);

typedef struct ModelCost {
    ParamBreakdown params;
    double fwd_flops_per_token;  /* at context T */
    /* its parts: the attention sub-layers, the FFN sub-layers (dense or MoE), the residual connections
     * (HC/mHC mixing), the output head; they add up to fwd_flops_per_token */
    double fwd_flops_attention, fwd_flops_ffn, fwd_flops_residual, fwd_flops_head;
    double kv_elems_per_token;   /* all layers (DeepSeek-V2 Table 1) */
    double kv_mha_elems_per_token; /* an MHA model of the same shape: 2 n_h d_h l */
    double train_state_bytes;    /* fp32 weights + gradients + AdamW m, v: 16 bytes per parameter */
    double activation_bytes;     /* for a batch B x T, fp32 */
    double param_elems, activation_elems; /* what the memory recipes below price: every trained parameter (MTP
                                           * modules included) and the activations kept for the backward */
    int context, batch;
} ModelCost;

/* Training memory under a number format recipe, bytes per element of each kind of state:
 *   fp32: weights, gradients, AdamW m and v in fp32, fp32 activations (what archlab trains with);
 *   bf16: bf16 weights for the products with fp32 master weights and gradients, fp32 moments, bf16 activations;
 *   fp8 (DeepSeek-V3 sec. 3.3): fp8 copies of the weights for the GEMMs, fp32 master weights and gradients,
 *     bf16 AdamW moments, activations cached in fp8 (V3 caches the Linear operators' inputs in FP8; some, such
 *     as attention's, in BF16 or E5M6: the fp8 row is the lower bound of that mix). */
typedef struct MemoryRecipe {
    const char *name;
    double weights, master, grads, moments, activations;
} MemoryRecipe;
#define MEMORY_RECIPES 3
extern const MemoryRecipe memory_recipes[MEMORY_RECIPES];
/* Bytes of each state under recipe r: weights, master weights, gradients, optimizer moments, activations, and
 * their total (out[5]). */
void memory_bytes(const ModelCost *c, const MemoryRecipe *r, double out[6]);

/* Builds cfg in meta mode and plans activations for batch x context. -1 + message on a bad config. */
int model_cost(const ModelConfig *cfg, int context, int batch, ModelCost *out);
#endif
