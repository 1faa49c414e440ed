/* One multi-token prediction module (arch/mtp.h): two RMSNorms and eh_proj in front of one block of the
 * model's own kinds, its own final norm, the model's shared head. */
#include "arch/mtp.h"

#include <stdio.h>
#include <string.h>

#include "arch/kinds.h"
#include "arch/linear.h"

void mtp_create(MtpModule *m, ParamStore *ps, const ModelConfig *cfg, int k) {
    memset(m, 0, sizeof *m);
    int C = cfg->d_model;
    m->k = k;
    m->layer = cfg->n_layers + k - 1;
    char name[96];
    snprintf(name, sizeof name, "model.layers.%d.enorm.weight", m->layer);
    rmsnorm_declare(&m->enorm, ps, name, C, cfg->norm_eps);
    snprintf(name, sizeof name, "model.layers.%d.hnorm.weight", m->layer);
    rmsnorm_declare(&m->hnorm, ps, name, C, cfg->norm_eps);
    snprintf(name, sizeof name, "model.layers.%d.eh_proj.weight", m->layer);
    /* scaled like the blocks' output projections: h' enters a residual stream */
    m->eh_proj = ps_add(ps, name, 2, (int64_t[]){C, 2 * C}, INIT_NORMAL, cfg->init_std, 1, "mtp");
    /* the block: the same registry entries as the main stack's, numbered after it (so an MoE block past
     * first_k_dense_replace is an MoE block, as V3's MTP module is) */
    m->sub[0] = attention_kind(cfg)->create(ps, cfg, m->layer);
    m->sub[1] = ffn_kind(cfg)->create(ps, cfg, m->layer);
    m->res = residual_kind(cfg)->create(ps, cfg, 2 * m->layer, 2);
    snprintf(name, sizeof name, "model.layers.%d.shared_head.norm.weight", m->layer);
    rmsnorm_declare(&m->head_norm, ps, name, C, cfg->norm_eps);
}

void mtp_destroy(MtpModule *m) {
    for (int i = 0; i < 2; i++)
        if (m->sub[i].self) m->sub[i].ops->destroy(m->sub[i].self);
    residual_destroy(m->res);
    free(m->tok);
    free(m->tgt);
    free(m->pred);
    memset(m, 0, sizeof *m);
}

void mtp_plan(MtpModule *m, Arena *act, size_t *scratch, int B, int T, int V) {
    int N = B * T, C = m->enorm.C;
    for (int i = 0; i < 2; i++) m->sub[i].ops->plan(m->sub[i].self, act, scratch, B, T);
    residual_plan(m->res, act, scratch, N);
    rmsnorm_plan(&m->enorm, act, N);
    rmsnorm_plan(&m->hnorm, act, N);
    rmsnorm_plan(&m->head_norm, act, N);
    m->emb = arena_take(act, (size_t)N * C);
    m->cat = arena_take(act, (size_t)N * 2 * C);
    m->losses = arena_take(act, (size_t)N);
    m->logits = arena_take(act, (size_t)N * V);
    if (N > m->n_tok) {
        free(m->tok); free(m->tgt); free(m->pred);
        m->tok = malloc(sizeof(int) * N);
        m->tgt = malloc(sizeof(int) * N);
        m->pred = malloc(sizeof(int) * N);
        AL_ASSERT(m->tok && m->tgt && m->pred);
        m->n_tok = N;
    }
    /* the backward's buffers: dh_norm (N, C), dcat (N, 2C), a split half (N, C), demb (N, C) after the block's
     * own workspace (sub-layers and the family use the scratch only inside their calls) */
    size_t need = (size_t)N * C * 5;
    if (need > *scratch) *scratch = need;
}

real *mtp_hidden(const MtpModule *m, Ctx *c) { return residual_output(m->res, c); }
real *mtp_grad_hidden(const MtpModule *m, Ctx *c) { return residual_grad_top(m->res, c); }
real *mtp_logits(const MtpModule *m, Ctx *c) { return ACT(c, m->logits); }

/* embeddings of next_tokens, both norms, the concatenation, eh_proj, the block, its norm and the head */
static void run(MtpModule *m, Ctx *c, const real *h_prev, const int *next_tokens, int B, int T, size_t wte,
                size_t head, int V) {
    int N = B * T, C = m->enorm.C;
    K->embedding_forward(ACT(c, m->emb), next_tokens, PW(c, wte), N, C);
    rmsnorm_fwd(&m->enorm, c, ACT(c, m->emb), N);
    rmsnorm_fwd(&m->hnorm, c, h_prev, N);
    real *cat = ACT(c, m->cat);
    K->copy_strided(cat, ACT(c, m->enorm.out), N, 1, C, 2 * (size_t)C, 0, C, 0, 0);
    K->copy_strided(cat + C, ACT(c, m->hnorm.out), N, 1, C, 2 * (size_t)C, 0, C, 0, 0);
    linear_fwd(c, residual_input(m->res, c), cat, PW(c, m->eh_proj), N, 2 * C, C);
    residual_forward(m->res, c, m->sub, B, T);
    rmsnorm_fwd(&m->head_norm, c, residual_output(m->res, c), N);
    K->linear_forward(ACT(c, m->logits), ACT(c, m->head_norm.out), PW(c, head), NULL, N, C, V);
}

double mtp_forward(MtpModule *m, Ctx *c, const real *h_prev, const int *tokens, const int *targets, int B, int T,
                   size_t wte, size_t head, int V) {
    int k = m->k, N = B * T;
    /* position i takes t_{i+k} and predicts t_{i+k+1} = targets[i + k]; past the window's end there is no
     * such token: any valid input (causal attention keeps it from earlier positions) and no target */
    for (int b = 0; b < B; b++)
        for (int i = 0; i < T; i++) {
            int in = i + k < T;
            m->tok[b * T + i] = tokens[b * T + (in ? i + k : T - 1)];
            m->tgt[b * T + i] = in ? targets[b * T + i + k] : -1;
        }
    run(m, c, h_prev, m->tok, B, T, wte, head, V);
    real *probs = ACT(c, m->logits);
    K->sample_tokens(m->pred, probs, NULL, N, V, 0); /* argmax, before the softmax overwrites the logits */
    double total = K->cross_entropy_forward(ACT(c, m->losses), probs, m->tgt, N, V, &m->n_valid);
    m->n_correct = 0;
    for (int n = 0; n < N; n++) m->n_correct += m->tgt[n] >= 0 && m->pred[n] == m->tgt[n];
    m->loss = m->n_valid ? total / m->n_valid : 0;
    return m->loss;
}

void mtp_backward(MtpModule *m, Ctx *c, real *dh_prev, const real *h_prev, int B, int T, size_t wte, size_t head,
                  int V, double weight) {
    int N = B * T, C = m->enorm.C;
    if (!m->n_valid) return;
    real *dlogits = ACT(c, m->logits);
    K->cross_entropy_backward(dlogits, m->tgt, N, V, (real)(weight / m->n_valid));
    /* the scratch holds these five (N, C) buffers until the block's backward needs it, then the last three */
    real *dhn = c->scratch;
    K->zero(dhn, (size_t)N * C);
    K->linear_backward(dhn, PG(c, head), NULL, dlogits, ACT(c, m->head_norm.out), PW(c, head), N, C, V);
    rmsnorm_bwd(&m->head_norm, c, residual_grad_top(m->res, c), dhn, residual_output(m->res, c), N);
    real *dx0 = residual_backward(m->res, c, m->sub, B, T);
    real *dcat = c->scratch, *half = dcat + (size_t)N * 2 * C, *demb = half + (size_t)N * C;
    K->zero(dcat, (size_t)N * 2 * C);
    linear_bwd(c, dcat, PG(c, m->eh_proj), dx0, ACT(c, m->cat), PW(c, m->eh_proj), N, 2 * C, C);
    K->copy_strided(half, dcat, N, 1, C, C, 0, 2 * (size_t)C, 0, 0);
    K->zero(demb, (size_t)N * C);
    rmsnorm_bwd(&m->enorm, c, demb, half, ACT(c, m->emb), N);
    K->embedding_backward(PG(c, wte), demb, m->tok, N, C);
    K->copy_strided(half, dcat + C, N, 1, C, C, 0, 2 * (size_t)C, 0, 0);
    rmsnorm_bwd(&m->hnorm, c, dh_prev, half, h_prev, N);
}

void mtp_decode(MtpModule *m, Ctx *c, const real *h_prev, const int *next_tokens, int B, int T, size_t wte,
                size_t head, int V) {
    run(m, c, h_prev, next_tokens, B, T, wte, head, V);
}

double mtp_flops(const MtpModule *m, int T, int V) {
    int C = m->enorm.C;
    double f = 2.0 * C * 2.0 * C + 2.0 * C * V + residual_flops(m->res);
    for (int i = 0; i < 2; i++) f += m->sub[i].ops->flops(m->sub[i].self, T);
    return f;
}
