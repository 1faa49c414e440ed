/* The DeepSeekMoE router (docs/EQUATIONS.md sec. 4): scores s = softmax or sigmoid of (u . e_i), group-limited
 * top-K selection on s + b (b: the aux-loss-free bias, used for selection only), gate values from the
 * unbiased s (renormalized or not, times routed_scaling_factor), the balance losses (V2 expert- and
 * device-level, V3 sequence-wise) and the aux-loss-free bias update. Numeric work is in backend kernels. */
#ifndef AL_ROUTER_H
#define AL_ROUTER_H
#include "arch/config.h"
#include "arch/module.h"
#include "core/moe_kernels.h"

typedef struct Router {
    MoeRouteSpec spec;
    int C, E, K, sigmoid;
    double a_exp;       /* aux_alpha + seq_alpha: the V2 expert-level and V3 sequence-wise losses are one formula */
    double a_dev;       /* device_alpha, over n_group groups of E / n_group experts */
    double gamma;       /* bias_gamma: the aux-loss-free bias step */
    size_t w;           /* model.layers.L.mlp.gate.weight (E, C) */
    int has_bias;
    size_t bias;        /* model.layers.L.mlp.gate.e_score_correction_bias (E): not gradient-trained */
    ParamStore *ps;     /* for the bias update after a step (no Ctx there) */
    size_t logits, s, gate; /* activations (N,E), (N,E), (N,K) */
    int *idx;           /* (N,K) chosen experts of the last forward */
    size_t cap;         /* elements of idx */
    double aux;         /* balance loss of the last forward (already in the backward) */
    double score_entropy; /* mean per-token entropy of the normalized scores, last forward */
} Router;

void router_declare(Router *r, ParamStore *ps, const ModelConfig *cfg, int layer);
void router_plan(Router *r, Arena *act, size_t *scratch_need, int N);
/* xn(N,C) is the normed sub-layer input; fills idx and the gate values ACT(gate) */
void router_forward(Router *r, Ctx *c, const real *xn, int B, int T);
/* dgate(N,K): gradient of the gate values; dxn += the router's input gradient; parameter gradients +=.
 * work: 2 N E elements. */
void router_backward(Router *r, Ctx *c, real *dxn, const real *dgate, const real *xn, int B, int T, real *work);
/* b_i += gamma sign(mean load - load_i), counts(E) of the last batch */
void router_update_bias(Router *r, const int *counts);
void router_free(Router *r);

/* Load measurements of one layer from its per-expert token counts. */
typedef struct MoeLoadStats {
    double tokens;       /* assignments (tokens x K) */
    double maxvio;       /* (max load - mean load) / mean load */
    double min_frac, max_frac; /* load fractions (sum 1) */
    double load_entropy; /* entropy (nats) of the load fractions; ln E when balanced */
    int dead;            /* experts that received no tokens */
} MoeLoadStats;
void moe_load_stats(const double *counts, int E, MoeLoadStats *st);
#endif
