#include "arch/moe.h"
#include "arch/linear.h"

#include <math.h>
#include <string.h>

#include "arch/ffn.h"
#include "arch/kinds.h"
#include "arch/probe.h"
#include "core/metrics.h"

static void moe_config_defaults(ModelConfig *c) {
    c->n_routed_experts = 8;
    c->n_shared_experts = 0;
    c->num_experts_per_tok = 2;
    c->moe_intermediate_size = 0;
    snprintf(c->scoring_func, sizeof c->scoring_func, "softmax");
    c->norm_topk_prob = 0;
    c->routed_scaling_factor = 1.0;
    c->n_group = 1;
    c->topk_group = 1;
    snprintf(c->topk_method, sizeof c->topk_method, "auto");
    c->first_k_dense_replace = 0;
    snprintf(c->balance, sizeof c->balance, "none");
    c->expert_parallel = 1;
    c->aux_alpha = c->device_alpha = c->seq_alpha = c->bias_gamma = -1;
}

/* a coefficient left at -1 takes the balance mode's default; a positive one that the mode does not use is
 * refused rather than silently ignored */
static int resolve(double *v, const char *name, double dflt, int allowed, const char *mode) {
    if (*v < 0) { *v = allowed ? dflt : 0; return 0; }
    if (*v > 0 && !allowed) return al_errorf("field '%s' = %g has no effect with balance = \"%s\"", name, *v, mode);
    return 0;
}

static int moe_config_finalize(ModelConfig *c) {
    int E = c->n_routed_experts, Kk = c->num_experts_per_tok;
    if (Kk > E)
        return al_errorf("field 'num_experts_per_tok' = %d exceeds n_routed_experts = %d (top-K must choose among "
                         "the routed experts)", Kk, E);
    if (E % c->n_group)
        return al_errorf("field 'n_group' = %d does not divide n_routed_experts = %d (groups must be equal)",
                         c->n_group, E);
    if (c->topk_group > c->n_group)
        return al_errorf("field 'topk_group' = %d exceeds n_group = %d", c->topk_group, c->n_group);
    if (!strcmp(c->topk_method, "auto"))
        snprintf(c->topk_method, sizeof c->topk_method, "%s",
                 c->n_group == 1 ? "greedy" : !strcmp(c->scoring_func, "sigmoid") ? "noaux_tc" : "group_limited_greedy");
    if (strcmp(c->topk_method, "greedy") && Kk > c->topk_group * (E / c->n_group))
        return al_errorf("field 'num_experts_per_tok' = %d exceeds the %d experts of the topk_group = %d groups kept",
                         Kk, c->topk_group * (E / c->n_group), c->topk_group);
    if (c->first_k_dense_replace > c->n_layers)
        return al_errorf("field 'first_k_dense_replace' = %d exceeds n_layers = %d", c->first_k_dense_replace,
                         c->n_layers);
    if (c->moe_intermediate_size == 0) {
        c->moe_intermediate_size = c->d_ff / (Kk + c->n_shared_experts);
        if (c->moe_intermediate_size < 1) c->moe_intermediate_size = 1;
    }
    const char *b = c->balance;
    int aux = !strcmp(b, "aux"), free_ = !strcmp(b, "aux_free");
    if (resolve(&c->aux_alpha, "aux_alpha", aux ? 0.003 : 0, aux || free_, b)) return -1;
    if (resolve(&c->device_alpha, "device_alpha", 0, aux || free_, b)) return -1;
    if (resolve(&c->seq_alpha, "seq_alpha", free_ ? 1e-4 : 0, aux || free_, b)) return -1;
    if (resolve(&c->bias_gamma, "bias_gamma", 0.001, free_, b)) return -1;
    if (E % c->expert_parallel)
        return al_errorf("field 'expert_parallel' = %d does not divide n_routed_experts = %d (each rank holds an equal "
                         "share)", c->expert_parallel, E);
    if (c->expert_parallel > 1 && c->n_group > 1 && c->n_group != c->expert_parallel)
        return al_errorf("field 'n_group' = %d must be 1 or expert_parallel = %d: with experts spread over ranks the "
                         "groups stand for the ranks (device-limited routing keeps topk_group of them)", c->n_group,
                         c->expert_parallel);
    if (c->device_alpha > 0 && c->n_group == 1)
        return al_errorf("field 'device_alpha' = %g needs n_group > 1 (the groups stand for devices)", c->device_alpha);
    return 0;
}

static void moe_plan(void *self, Arena *act, size_t *scratch, int B, int T) {
    Moe *m = self;
    size_t N = (size_t)B * T, M = N * m->K;
    rmsnorm_plan(&m->norm, act, (int)N);
    size_t rwork = 0;
    router_plan(&m->r, act, &rwork, (int)N);
    m->xg = arena_take(act, M * m->C);
    m->gu = arena_take(act, M * 2 * m->F);
    m->h = arena_take(act, M * m->F);
    m->y = arena_take(act, M * m->C);
    m->sgu = arena_take(act, N * 2 * m->Fs);
    m->sh = arena_take(act, N * m->Fs);
    if (M > m->cap) {
        free(m->tok); free(m->pos);
        m->tok = malloc(sizeof(int) * M);
        m->pos = malloc(sizeof(int) * M);
        AL_ASSERT(m->tok && m->pos);
        m->cap = M;
    }
    /* backward: dxn (N,C), shared dh, dgu (N, 3Fs), routed dy, dxg (M, 2C), dh, dgu (M, 3F), dgate (N,K), router
     * work, then expert parallelism's */
    size_t need = N * m->C + N * 3 * m->Fs + M * (2 * m->C + 3 * m->F) + N * m->K + rwork + moe_ep_plan(m, act, M);
    if (need > *scratch) *scratch = need;
}

static void moe_forward(void *self, Ctx *c, real *out, const real *inp, int B, int T) {
    Moe *m = self;
    int N = B * T, M = N * m->K, C = m->C, F = m->F;
    rmsnorm_fwd(&m->norm, c, inp, N);
    const real *xn = ACT(c, m->norm.out);
    router_forward(&m->r, c, xn, B, T);
    KM->moe_dispatch(m->counts, m->offsets, m->tok, m->pos, m->r.idx, N, m->K, m->E);
    /* the routed experts here, or on their ranks (expert parallelism, arch/moe_ep.c: after the shared experts) */
    int remote = moe_ep_active(m) && !c->kv;
    if (!remote) KM->gather_rows(ACT(c, m->xg), xn, m->tok, M, C);
    for (int e = 0; e < m->E && !remote; e++) {
        int n = m->counts[e];
        size_t o = (size_t)m->offsets[e];
        if (!n) continue;
        linear_fwd(c, ACT(c, m->gu) + o * 2 * F, ACT(c, m->xg) + o * C, PW(c, m->w_gu[e]), n, C, 2 * F);
        K->swiglu_forward(ACT(c, m->h) + o * F, ACT(c, m->gu) + o * 2 * F, n, F);
        linear_fwd(c, ACT(c, m->y) + o * C, ACT(c, m->h) + o * F, PW(c, m->w_down[e]), n, F, C);
    }
    if (m->Fs) {
        linear_fwd(c, ACT(c, m->sgu), xn, PW(c, m->ws_gu), N, C, 2 * m->Fs);
        K->swiglu_forward(ACT(c, m->sh), ACT(c, m->sgu), N, m->Fs);
        linear_fwd(c, out, ACT(c, m->sh), PW(c, m->ws_down), N, m->Fs, C);
    } else {
        K->zero(out, (size_t)N * C);
    }
    if (!remote) KM->moe_combine(out, ACT(c, m->y), m->pos, ACT(c, m->r.gate), N, m->K, C);
    else moe_ep_forward(m, c, N, out);
    for (int e = 0; e < m->E; e++) m->acc[e] += m->counts[e];
    m->acc_forwards++;
    if (c->probes) { /* the router: its logits, normalized scores, and per token the chosen experts and gates */
        int sub = 2 * m->layer + 1;
        char name[64];
        probe_rows(c->probes, sub, "router.logits", ACT(c, m->r.logits), B, T, m->E);
        probe_rows(c->probes, sub, "router.scores", ACT(c, m->r.s), B, T, m->E);
        probe_rows(c->probes, sub, "router.gates", ACT(c, m->r.gate), B, T, m->K);
        probe_name(name, sizeof name, sub, "router.experts");
        probe_emit_ints(c->probes, name, 3, (int64_t[]){B, T, m->K}, m->r.idx);
    }
}

static void moe_backward(void *self, Ctx *c, real *dinp, const real *dout, const real *inp, int B, int T) {
    Moe *m = self;
    size_t N = (size_t)B * T, M = N * m->K;
    int C = m->C, F = m->F, Fs = m->Fs;
    const real *xn = ACT(c, m->norm.out);
    real *dxn = c->scratch, *dsh = dxn + N * C, *dsgu = dsh + N * Fs, *dy = dsgu + N * 2 * Fs, *dxg = dy + M * C,
         *dh = dxg + M * C, *dgu = dh + M * F, *dgate = dgu + M * 2 * F, *rwork = dgate + N * m->K;
    K->zero(dxn, N * C);
    if (Fs) {
        K->zero(dsh, N * Fs);
        linear_bwd(c, dsh, PG(c, m->ws_down), dout, ACT(c, m->sh), PW(c, m->ws_down), (int)N, Fs, C);
        K->swiglu_backward(dsgu, dsh, ACT(c, m->sgu), (int)N, Fs);
        linear_bwd(c, dxn, PG(c, m->ws_gu), dsgu, xn, PW(c, m->ws_gu), (int)N, C, 2 * Fs);
    }
    K->zero(dgate, N * m->K);
    /* router_backward's work is 2 N E (arch/router.h); expert parallelism's follows it */
    int remote = moe_ep_backward(m, c, dout, dxn, dgate, rwork + 2 * N * m->E, (int)N);
    if (!remote) {
        KM->moe_combine_backward(dy, dgate, dout, ACT(c, m->y), m->pos, ACT(c, m->r.gate), (int)N, m->K, C);
        K->zero(dxg, M * C);
        K->zero(dh, M * F);
    }
    for (int e = 0; e < m->E && !remote; e++) {
        int n = m->counts[e];
        size_t o = (size_t)m->offsets[e];
        if (!n) continue;
        linear_bwd(c, dh + o * F, PG(c, m->w_down[e]), dy + o * C, ACT(c, m->h) + o * F, PW(c, m->w_down[e]),
                           n, F, C);
        K->swiglu_backward(dgu + o * 2 * F, dh + o * F, ACT(c, m->gu) + o * 2 * F, n, F);
        linear_bwd(c, dxg + o * C, PG(c, m->w_gu[e]), dgu + o * 2 * F, ACT(c, m->xg) + o * C,
                           PW(c, m->w_gu[e]), n, C, 2 * F);
    }
    if (!remote) KM->moe_combine(dxn, dxg, m->pos, NULL, (int)N, m->K, C);
    router_backward(&m->r, c, dxn, dgate, xn, B, T, rwork);
    rmsnorm_bwd(&m->norm, c, dinp, dxn, inp, (int)N);
}

/* active FLOPs: the router, K routed experts and the shared experts */
static double moe_flops(const void *self, int T) {
    const Moe *m = self;
    return 2.0 * m->C * m->E + 2.0 * 3.0 * m->C * ((double)m->K * m->F + m->Fs);
}

static void moe_destroy(void *self) {
    Moe *m = self;
    router_free(&m->r);
    free(m->w_gu); free(m->w_down); free(m->counts); free(m->offsets); free(m->tok); free(m->pos); free(m->acc);
    free(m->ep_send); free(m->ep_recv); free(m->ep_send_tok); free(m->ep_pos_s); free(m->ep_meta_h); free(m->ep_gate_h);
    free(m->ep_idx); free(m->ep_tok); free(m->ep_pos); free(m->ep_cnt); free(m->ep_off);
    free(m->ep_used); free(m->ep_rmeta_h); free(m->ep_rgate_h);
    free(m);
}

static double moe_aux(const void *self) { return ((const Moe *)self)->r.aux; }

static void moe_after_step(void *self) {
    Moe *m = self;
    router_update_bias(&m->r, m->counts);
}

static void moe_record(const void *self, struct MetricLog *log, int layer, double step) {
    const Moe *m = self;
    double cnt[m->E];
    for (int e = 0; e < m->E; e++) cnt[e] = m->counts[e];
    MoeLoadStats st;
    moe_load_stats(cnt, m->E, &st);
    char name[48];
#define REC(suffix, v) do { snprintf(name, sizeof name, "layer%d.%s", layer, suffix); metrics_add(log, name, step, v); } while (0)
    REC("maxvio", st.maxvio);
    REC("dead_experts", st.dead);
    REC("load_entropy", st.load_entropy);
    REC("score_entropy", m->r.score_entropy);
    if (m->r.a_exp != 0 || m->r.a_dev != 0) REC("aux_loss", m->r.aux);
    if (moe_ep_active(m)) { /* this rank's dispatch traffic (rank 0's is what the run records) */
        REC("ep_bytes_per_token", m->ep_bytes_per_token);
        REC("ep_ranks_per_token", m->ep_ranks_per_token);
    }
    if (m->r.has_bias && m->r.ps->data) {
        real b[m->E]; /* the bias is device memory: read through the backend's copy */
        K->to_host(b, m->r.ps->data + m->r.bias, m->E);
        double lo = b[0], hi = b[0];
        for (int e = 1; e < m->E; e++) { lo = fmin(lo, b[e]); hi = fmax(hi, b[e]); }
        REC("bias_spread", hi - lo);
    }
    for (int e = 0; e < m->E; e++) {
        char s[24]; /* "load_e" + up to 11 digits */
        snprintf(s, sizeof s, "load_e%d", e);
        REC(s, cnt[e]);
    }
#undef REC
}

static const SublayerOps moe_ops = {"moe", moe_plan, moe_forward, moe_backward, moe_flops, moe_destroy,
                                    moe_aux, moe_after_step, moe_record};

Moe *moe_of(Sublayer s) { return s.ops == &moe_ops ? s.self : NULL; }

void moe_load_reset(Moe *m) {
    memset(m->acc, 0, sizeof(double) * m->E);
    m->acc_forwards = 0;
}

Sublayer moe_create(ParamStore *ps, const ModelConfig *cfg, int layer) {
    Moe *m = calloc(1, sizeof *m);
    AL_ASSERT(m);
    m->C = cfg->d_model;
    m->layer = layer;
    m->F = cfg->moe_intermediate_size;
    m->E = cfg->n_routed_experts;
    m->K = cfg->num_experts_per_tok;
    m->Fs = cfg->n_shared_experts * m->F;
    m->w_gu = calloc(m->E, sizeof(size_t));
    m->w_down = calloc(m->E, sizeof(size_t));
    m->counts = calloc(m->E, sizeof(int));
    m->offsets = calloc(m->E + 1, sizeof(int));
    m->acc = calloc(m->E, sizeof(double));
    m->ep = cfg->expert_parallel;
    AL_ASSERT(m->w_gu && m->w_down && m->counts && m->offsets && m->acc);
    char name[96];
    snprintf(name, sizeof name, "model.layers.%d.post_attention_layernorm.weight", layer);
    rmsnorm_declare(&m->norm, ps, name, m->C, cfg->norm_eps);
    router_declare(&m->r, ps, cfg, layer);
    double down_std = cfg->init_std / sqrt(2.0 * cfg->n_layers);
    static const char *proj[3] = {"gate_proj", "up_proj", "down_proj"};
    for (int e = 0; e < m->E; e++)
        for (int p = 0; p < 3; p++) {
            snprintf(name, sizeof name, "model.layers.%d.mlp.experts.%d.%s.weight", layer, e, proj[p]);
            int64_t shape[2] = {p < 2 ? m->F : m->C, p < 2 ? m->C : m->F};
            size_t off = ps_add(ps, name, 2, shape, INIT_NORMAL, p < 2 ? cfg->init_std : down_std, 1, "routed_experts");
            if (p == 0) m->w_gu[e] = off;
            if (p == 2) m->w_down[e] = off;
        }
    if (m->Fs)
        for (int p = 0; p < 3; p++) {
            snprintf(name, sizeof name, "model.layers.%d.mlp.shared_experts.%s.weight", layer, proj[p]);
            int64_t shape[2] = {p < 2 ? m->Fs : m->C, p < 2 ? m->C : m->Fs};
            size_t off = ps_add(ps, name, 2, shape, INIT_NORMAL, p < 2 ? cfg->init_std : down_std, 1, "shared_experts");
            if (p == 0) m->ws_gu = off;
            if (p == 2) m->ws_down = off;
        }
    return (Sublayer){&moe_ops, m};
}

/* the first first_k_dense_replace blocks keep the dense FFN (DeepSeek's leading dense layers) */
static Sublayer moe_or_dense_create(ParamStore *ps, const ModelConfig *cfg, int layer) {
    return layer >= cfg->first_k_dense_replace ? moe_create(ps, cfg, layer) : ffn_create(ps, cfg, layer);
}

/* three matrices per routed expert */
static double moe_extra_tensors(const ModelConfig *c) { return 3.0 * c->n_routed_experts; }

const FfnKind ffn_kind_moe = {
    .info = {"moe", "DeepSeekMoE: shared experts plus top-K routed experts, with load balancing",
             "d_ff|n_routed_experts|n_shared_experts|num_experts_per_tok|moe_intermediate_size|scoring_func|"
             "norm_topk_prob|routed_scaling_factor|n_group|topk_group|topk_method|first_k_dense_replace|balance|"
             "aux_alpha|device_alpha|seq_alpha|bias_gamma|expert_parallel"},
    .defaults = moe_config_defaults, .finalize = moe_config_finalize, .create = moe_or_dense_create,
    .extra_tensors = moe_extra_tensors,
};
