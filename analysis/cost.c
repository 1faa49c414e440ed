#include "analysis/cost.h"

#include <string.h>

#include "analysis/expert_load.h"
#include "arch/kinds.h"
#include "arch/kv_cache.h"

const char *const cost_component_names[COST_COMPONENTS] = {
    "embedding", "attention", "ffn", "routed_experts", "shared_experts", "router", "residual", "norm", "head"};

int model_cost(const ModelConfig *cfg, int context, int batch, ModelCost *out) {
    memset(out, 0, sizeof *out);
    Model *m = model_create(cfg, 1);
    if (!m) return -1;
    for (int i = 0; i < COST_COMPONENTS; i++) out->total[i] = ps_count(&m->ps, cost_component_names[i]);
    out->total[5] += ps_count(&m->ps, "router_bias");
    size_t counted = 0;
    for (int i = 0; i < COST_COMPONENTS; i++) counted += out->total[i];
    AL_ASSERT(counted == m->ps.total); /* every parameter belongs to one component */
    out->total_params = m->ps.total;
    /* routed experts a token is not sent to: total - model_active_params (which keeps top-K per layer) */
    size_t inactive = m->ps.total - model_active_params(m);
    for (int i = 0; i < COST_COMPONENTS; i++) out->active[i] = out->total[i];
    out->active[0] = 0; /* the input embedding is a lookup */
    out->active[3] -= inactive;
    for (int i = 0; i < COST_COMPONENTS; i++) out->active_params += out->active[i];
    out->context = context;
    out->batch = batch;
    out->fwd_flops_per_token = model_flops_per_token(m, context);
    out->kv_elems_per_token = kv_elems_per_token(&m->cfg);
    out->kv_mha_elems_per_token = 2.0 * m->cfg.n_heads * m->cfg.head_dim * m->cfg.n_layers;
    out->train_state_bytes = 16.0 * (double)m->ps.total;
    if (model_plan(m, batch, context)) { model_free(m); return -1; }
    out->activation_bytes = 4.0 * (double)model_activation_elems(m);
    model_free(m);
    return 0;
}
