/* Expert utilization of a MoE model (DeepSeekMoE, arch/moe.c): the layer x expert token-count matrix, load
 * fractions, MaxVio, experts that received no tokens, load entropy, either of the last forward (one batch)
 * or accumulated over many forwards since expert_load_reset (e.g. a validation set); and the activated
 * parameter count. The per-step numbers of training runs are recorded by the MoE layer itself (record hook:
 * layer<l>.maxvio, .dead_experts, .load_entropy, .score_entropy, .aux_loss, .bias_spread, .load_e<i>). */
#ifndef AL_EXPERT_LOAD_H
#define AL_EXPERT_LOAD_H
#include "arch/model.h"
#include "arch/router.h"

typedef struct ExpertLoad {
    int n;               /* MoE sub-layers */
    int E;               /* routed experts per layer */
    int *layer;          /* (n) their blocks, from 0 as the parameter names (model.layers.<l>.mlp) and the
                          * metric names (layer<l>.maxvio) number them */
    double *counts;      /* (n, E) token assignments */
    MoeLoadStats *stats; /* (n) */
    MoeLoadStats all;    /* over all layers' counts summed (MaxVio of the pooled load) */
    double maxvio_max;   /* the worst layer's MaxVio */
} ExpertLoad;

/* accumulated = 0: the last forward's batch; 1: everything since expert_load_reset. n = 0 for a dense model. */
void expert_load_collect(const Model *m, int accumulated, ExpertLoad *out);
void expert_load_free(ExpertLoad *l);
void expert_load_reset(Model *m);
/* The routed experts' parameters a token is not sent to: each MoE layer keeps num_experts_per_tok of
 * n_routed_experts. 0 for a dense model. */
size_t model_unrouted_params(const Model *m);
/* Parameters a token activates, the one convention of archlab (summaries, archlab.cost, m:params().activated,
 * m:active_params(), the README): all but the input embedding (a table lookup, no multiply) and the routed
 * experts it is not sent to. The output head counts: every token multiplies by it. */
size_t model_active_params(const Model *m);
/* The multi-token prediction modules are counted apart, as DeepSeek-V3 counts them (671B + the MTP module):
 * model_active_params excludes them; this is what their blocks activate per token, in the same convention
 * (m->mtp_params is their total; the embedding and head they share are the model's). */
size_t model_mtp_active_params(const Model *m);
#endif
