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
    int context, batch;
} ModelCost;

/* Builds cfg in meta mode and plans activations for batch x context. -1 + message on a bad config. */
int model_cost(const ModelConfig *cfg, int context, int batch, ModelCost *out);
#endif
