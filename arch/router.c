#include "arch/router.h"

#include <math.h>
#include <string.h>

void router_declare(Router *r, ParamStore *ps, const ModelConfig *cfg, int layer) {
    memset(r, 0, sizeof *r);
    r->C = cfg->d_model;
    r->E = cfg->n_routed_experts;
    r->K = cfg->num_experts_per_tok;
    r->sigmoid = !strcmp(cfg->scoring_func, "sigmoid");
    int gs = !strcmp(cfg->topk_method, "group_limited_greedy") ? 1 : !strcmp(cfg->topk_method, "noaux_tc") ? 2 : 0;
    r->spec = (MoeRouteSpec){.E = r->E, .K = r->K, .n_group = cfg->n_group, .topk_group = cfg->topk_group,
                             .group_score = gs, .norm = cfg->norm_topk_prob, .scale = (real)cfg->routed_scaling_factor};
    r->a_exp = cfg->aux_alpha + cfg->seq_alpha;
    r->a_dev = cfg->device_alpha;
    r->gamma = cfg->bias_gamma;
    r->ps = ps;
    char name[96];
    snprintf(name, sizeof name, "model.layers.%d.mlp.gate.weight", layer);
    r->w = ps_add(ps, name, 2, (int64_t[]){r->E, r->C}, INIT_NORMAL, cfg->init_std, 1, "router");
    /* The V3 correction bias is state, not a trained weight: its gradient is never written (always 0) and
     * it is in the no-decay group, so AdamW leaves it exactly unchanged (0 / (sqrt(0) + eps) = 0); only
     * router_update_bias moves it. It lives in the store so checkpoints carry it under the HF name. */
    r->has_bias = !strcmp(cfg->balance, "aux_free") || gs == 2;
    if (r->has_bias) {
        snprintf(name, sizeof name, "model.layers.%d.mlp.gate.e_score_correction_bias", layer);
        r->bias = ps_add(ps, name, 1, (int64_t[]){r->E}, INIT_ZEROS, 0, 0, "router_bias");
    }
}

void router_plan(Router *r, Arena *act, size_t *scratch_need, int N) {
    r->logits = arena_take(act, (size_t)N * r->E);
    r->s = arena_take(act, (size_t)N * r->E);
    r->gate = arena_take(act, (size_t)N * r->K);
    size_t n = (size_t)N * r->K;
    if (n > r->cap) {
        free(r->idx);
        r->idx = malloc(sizeof(int) * n);
        AL_ASSERT(r->idx);
        r->cap = n;
    }
    *scratch_need = 2 * (size_t)N * r->E;
}

void router_forward(Router *r, Ctx *c, const real *xn, int B, int T) {
    int N = B * T;
    K->linear_forward(ACT(c, r->logits), xn, PW(c, r->w), NULL, N, r->C, r->E);
    KM->moe_scores_forward(ACT(c, r->s), ACT(c, r->logits), N, r->E, r->sigmoid);
    KM->moe_route(r->idx, ACT(c, r->gate), ACT(c, r->s), r->has_bias ? PW(c, r->bias) : NULL, N, &r->spec);
    r->aux = 0;
    if (r->a_exp != 0 || r->a_dev != 0)
        r->aux = KM->moe_balance_forward(ACT(c, r->s), r->idx, B, T, r->E, r->K, r->E / r->spec.n_group,
                                        (real)r->a_exp, (real)r->a_dev);
    r->score_entropy = KM->row_entropy(ACT(c, r->s), N, r->E);
}

void router_backward(Router *r, Ctx *c, real *dxn, const real *dgate, const real *xn, int B, int T, real *work) {
    int N = B * T;
    size_t NE = (size_t)N * r->E;
    real *ds = work, *dl = work + NE;
    K->zero(ds, NE);
    KM->moe_gate_backward(ds, dgate, ACT(c, r->s), r->idx, N, &r->spec);
    if (r->a_exp != 0 || r->a_dev != 0)
        KM->moe_balance_backward(ds, ACT(c, r->s), r->idx, B, T, r->E, r->K, r->E / r->spec.n_group, (real)r->a_exp,
                                (real)r->a_dev);
    K->zero(dl, NE);
    KM->moe_scores_backward(dl, ds, ACT(c, r->s), N, r->E, r->sigmoid);
    K->linear_backward(dxn, PG(c, r->w), NULL, dl, xn, PW(c, r->w), N, r->C, r->E);
}

/* E values, once per step: bookkeeping of the layer's state, not a loop over activations */
void router_update_bias(Router *r, const int *counts) {
    if (!r->has_bias || r->gamma == 0 || !r->ps->data) return;
    real b[r->E]; /* the bias is device memory: updated through a host copy (E <= 65536: at most 256 KiB) */
    K->to_host(b, r->ps->data + r->bias, r->E);
    double mean = 0;
    for (int e = 0; e < r->E; e++) mean += counts[e];
    mean /= r->E;
    for (int e = 0; e < r->E; e++) {
        double d = mean - counts[e];
        b[e] += (real)(d > 0 ? r->gamma : d < 0 ? -r->gamma : 0);
    }
    K->to_device(r->ps->data + r->bias, b, r->E);
}

void router_free(Router *r) { free(r->idx); r->idx = NULL; }

void moe_load_stats(const double *counts, int E, MoeLoadStats *st) {
    memset(st, 0, sizeof *st);
    double total = 0, mx = 0, mn = INFINITY;
    for (int e = 0; e < E; e++) {
        total += counts[e];
        if (counts[e] > mx) mx = counts[e];
        if (counts[e] < mn) mn = counts[e];
        if (counts[e] == 0) st->dead++;
    }
    st->tokens = total;
    if (total <= 0) { st->maxvio = NAN; st->min_frac = st->max_frac = st->load_entropy = NAN; return; }
    double mean = total / E;
    st->maxvio = (mx - mean) / mean;
    st->min_frac = mn / total;
    st->max_frac = mx / total;
    for (int e = 0; e < E; e++) {
        double p = counts[e] / total;
        if (p > 0) st->load_entropy -= p * log(p);
    }
}
