#include "analysis/cost.h"

#include <string.h>

#include "analysis/expert_load.h"
#include "arch/kinds.h"

const char *const cost_component_names[COST_COMPONENTS] = {
    "embedding", "attention", "ffn", "routed_experts", "shared_experts", "router", "residual", "norm", "head"};

static ComponentCount *component(ParamBreakdown *b, const char *name) {
    if (!strcmp(name, "router_bias")) name = "router";
    for (int i = 0; i < b->n; i++)
        if (!strcmp(b->c[i].name, name)) return &b->c[i];
    AL_ASSERT(b->n < COST_MAX_COMPONENTS);
    ComponentCount *c = &b->c[b->n++];
    snprintf(c->name, sizeof c->name, "%s", name);
    return c;
}

void param_breakdown(const Model *m, ParamBreakdown *b) {
    memset(b, 0, sizeof *b);
    for (int i = 0; i < COST_COMPONENTS; i++) component(b, cost_component_names[i]);
    for (int i = 0; i < m->ps.n; i++)
        if (strcmp(m->ps.info[i].component, "mtp")) component(b, m->ps.info[i].component)->total += m->ps.info[i].numel;
    b->mtp_params = m->mtp_params;
    b->mtp_active_params = model_mtp_active_params(m);
    b->mtp_checkpoint_params = m->mtp_params + (size_t)m->n_mtp * (ps_count(&m->ps, "embedding") + ps_count(&m->ps, "head"));
    /* activated (model_active_params' convention): all but the input embedding (a lookup) and the routed
     * experts a token is not sent to */
    size_t inactive = model_unrouted_params(m);
    for (int i = 0; i < b->n; i++) {
        ComponentCount *c = &b->c[i];
        c->active = !strcmp(c->name, "embedding") ? 0 : c->total;
        if (!strcmp(c->name, "routed_experts")) c->active -= inactive;
        b->total_params += c->total;
        b->active_params += c->active;
    }
    AL_ASSERT(b->total_params + b->mtp_params == m->ps.total); /* every parameter counted once */
    AL_ASSERT(b->active_params == model_active_params(m)); /* one convention */
}

int model_cost(const ModelConfig *cfg, int context, int batch, ModelCost *out) {
    memset(out, 0, sizeof *out);
    Model *m = model_create(cfg, 1);
    if (!m) return -1;
    param_breakdown(m, &out->params);
    out->context = context;
    out->batch = batch;
    out->fwd_flops_per_token = model_flops_per_token(m, context);
    for (int i = 0; i < m->n_sub; i++) /* sub-layer 2l is block l's attention, 2l + 1 its FFN */
        *(i % 2 ? &out->fwd_flops_ffn : &out->fwd_flops_attention) += m->sub[i].ops->flops(m->sub[i].self, context);
    out->fwd_flops_residual = residual_flops(m->res);
    out->fwd_flops_head = 2.0 * m->cfg.d_model * m->cfg.vocab_size;
    out->kv_elems_per_token = kv_elems_per_token(&m->cfg);
    out->kv_mha_elems_per_token = 2.0 * m->cfg.n_heads * m->cfg.head_dim * m->cfg.n_layers;
    out->train_state_bytes = 16.0 * (double)m->ps.total;
    if (model_plan(m, batch, context)) { model_free(m); return -1; }
    out->activation_bytes = 4.0 * (double)model_activation_elems(m);
    out->param_elems = (double)m->ps.total;
    out->activation_elems = (double)model_activation_elems(m);
    model_free(m);
    return 0;
}

const MemoryRecipe memory_recipes[MEMORY_RECIPES] = {
    {"fp32", 4, 0, 4, 8, 4},
    {"bf16", 2, 4, 4, 8, 2},
    {"fp8", 1, 4, 4, 4, 1},
};

void memory_bytes(const ModelCost *c, const MemoryRecipe *r, double out[6]) {
    out[0] = r->weights * c->param_elems;
    out[1] = r->master * c->param_elems;
    out[2] = r->grads * c->param_elems;
    out[3] = r->moments * c->param_elems;
    out[4] = r->activations * c->activation_elems;
    out[5] = out[0] + out[1] + out[2] + out[3] + out[4];
}
