#include "arch/model.h"
#include "arch/probe.h"

#include <math.h>
#include <string.h>

#include "arch/kinds.h"
#include "arch/kv_cache.h"
#include "arch/mtp.h"
#include "arch/rope.h"

Model *model_create(const ModelConfig *cfg, int meta) {
    ModelConfig c = *cfg;
    if (config_finalize(&c)) return NULL;
    /* refuse absurd expert x layer counts before any per-expert bookkeeping is built */
    const FfnKind *ffn = ffn_kind(&c);
    double tensors = (double)(c.n_layers + c.mtp_depth) * (32.0 + (ffn->extra_tensors ? ffn->extra_tensors(&c) : 0));
    if (tensors > PS_MAX_TENSORS) {
        al_errorf("this config is too large to count: about %.3g parameter tensors (%d layers x %d experts), over %d",
                  tensors, c.n_layers, c.n_routed_experts, PS_MAX_TENSORS);
        return NULL;
    }
    Model *m = calloc(1, sizeof *m);
    AL_ASSERT(m);
    m->cfg = c;
    ps_init(&m->ps, meta);
    int C = c.d_model, V = c.vocab_size;
    m->wte = ps_add(&m->ps, "model.embed_tokens.weight", 2, (int64_t[]){V, C}, INIT_NORMAL, c.init_std, 1,
                    "embedding");
    m->n_sub = 2 * c.n_layers;
    m->sub = calloc(m->n_sub, sizeof *m->sub);
    AL_ASSERT(m->sub);
    const AttentionKind *attn = attention_kind(&c);
    for (int l = 0; l < c.n_layers; l++) {
        m->sub[2 * l] = attn->create(&m->ps, &c, l);
        m->sub[2 * l + 1] = ffn->create(&m->ps, &c, l);
    }
    rmsnorm_declare(&m->final_norm, &m->ps, "model.norm.weight", C, c.norm_eps);
    m->head = ps_add(&m->ps, "lm_head.weight", 2, (int64_t[]){V, C}, INIT_NORMAL, c.init_std, 1, "head");
    m->res = residual_kind(&c)->create(&m->ps, &c, 0, m->n_sub);
    if (c.mtp_depth > 0) { /* after every main-model parameter, so the main model's layout is unchanged */
        size_t main_total = m->ps.total;
        int first = m->ps.n;
        m->n_mtp = c.mtp_depth;
        m->mtp = calloc(c.mtp_depth, sizeof *m->mtp);
        AL_ASSERT(m->mtp);
        for (int k = 0; k < c.mtp_depth; k++) mtp_create(&m->mtp[k], &m->ps, &c, k + 1);
        /* one component for summaries: the modules are counted apart from the model (V3: 671B + MTP) */
        for (int i = first; i < m->ps.n; i++)
            snprintf(m->ps.info[i].component, sizeof m->ps.info[i].component, "mtp");
        m->mtp_params = m->ps.total - main_total;
    }
    if (m->ps.overflow) {
        model_free(m);
        al_errorf("this config is too large to count: its parameter count overflows 64 bits or it has over %d "
                  "parameter tensors (check d_model, d_ff, n_layers, experts)", PS_MAX_TENSORS);
        return NULL;
    }
    if (!meta) {
        /* refuse before allocating: weights, gradients and the two AdamW moments */
        double need = 4.0 * sizeof(real) * (double)m->ps.total;
        size_t avail = al_available_memory();
        if (avail && need > 0.9 * (double)avail) {
            char a[32], b[32];
            al_errorf("model too large for this machine: %zu parameters need %s for weights, gradients and "
                      "AdamW state, but only %s is available (count it without allocating: archlab summary)",
                      m->ps.total, al_format_bytes(need, a), al_format_bytes((double)avail, b));
            model_free(m);
            return NULL;
        }
        Rng rng;
        rng_init(&rng, (uint64_t)c.seed);
        int rc = ps_allocate(&m->ps, &rng);
        rng_free(&rng);
        int half = config_rope_dim(&c) / 2; /* MLA rotates only its qk_rope_head_dim part */
        m->rope_cos = K->alloc((size_t)c.seq_len * half, "RoPE tables");
        m->rope_sin = K->alloc((size_t)c.seq_len * half, "RoPE tables");
        if (rc || !m->rope_cos || !m->rope_sin) { model_free(m); return NULL; }
        /* computed on the host, copied to the backend's buffers */
        size_t nt = (size_t)c.seq_len * half;
        real *cs = malloc(sizeof(real) * (nt ? 2 * nt : 1));
        AL_ASSERT(cs);
        rope_tables(cs, cs + nt, c.seq_len, 2 * half, c.rope_theta);
        K->to_device(m->rope_cos, cs, nt);
        K->to_device(m->rope_sin, cs + nt, nt);
        free(cs);
    }
    m->ctx = (Ctx){.ps = &m->ps, .act = &m->act, .rope_cos = m->rope_cos, .rope_sin = m->rope_sin};
    return m;
}

void model_free(Model *m) {
    if (!m) return;
    for (int i = 0; i < m->n_sub; i++)
        if (m->sub[i].self) m->sub[i].ops->destroy(m->sub[i].self);
    free(m->sub);
    residual_destroy(m->res);
    for (int k = 0; k < m->n_mtp; k++) mtp_destroy(&m->mtp[k]);
    free(m->mtp);
    ps_free(&m->ps);
    K->free(m->act.base);
    K->free(m->scratch);
    K->free(m->rope_cos);
    K->free(m->rope_sin);
    free(m);
}

int model_plan(Model *m, int B, int T) {
    if (T < 1 || T > m->cfg.seq_len)
        return al_errorf("sequence length %d is outside [1, seq_len = %d]", T, m->cfg.seq_len);
    if (B < 1) return al_errorf("batch size %d must be at least 1", B);
    /* token counts are ints throughout (and N x vocab products size_t): refuse what would overflow */
    if ((double)B * T > 1 << 30)
        return al_errorf("batch %d x %d = %.0f tokens is more than one forward pass can count (2^30)", B, T, (double)B * T);
    if (m->act.base && (size_t)B * T <= (size_t)m->planB * m->planT && T <= m->planT && B <= m->planB) return 0;
    int N = B * T, V = m->cfg.vocab_size;
    Arena a = {0};
    size_t scratch = 0;
    for (int i = 0; i < m->n_sub; i++) m->sub[i].ops->plan(m->sub[i].self, &a, &scratch, B, T);
    residual_plan(m->res, &a, &scratch, N);
    rmsnorm_plan(&m->final_norm, &a, N);
    m->logits = arena_take(&a, (size_t)N * V);
    m->losses = arena_take(&a, (size_t)N);
    m->dlnf = arena_take(&a, (size_t)N * m->cfg.d_model);
    for (int k = 0; k < m->n_mtp; k++) mtp_plan(&m->mtp[k], &a, &scratch, B, T, V);
    if (a.overflow || (size_t)scratch > ((size_t)1 << 58))
        return al_errorf("batch %d x %d needs more activation memory than 64-bit byte counts hold", B, T);
    /* a plan that fits the buffers keeps them: decoding alternates token counts (a prompt's chunks, speculative
     * decoding's drafts and verifications), and a fresh allocation per call costs more than a small model's pass.
     * Activations are written before they are read, as they are between two training steps. */
    if (!m->ps.meta && m->act.base && a.used <= m->act_cap && scratch <= m->scratch_cap) {
        real *base = m->act.base;
        m->act = a;
        m->act.base = base;
        m->scratch_n = scratch;
        m->planB = B;
        m->planT = T;
        return 0;
    }
    K->free(m->act.base);
    K->free(m->scratch);
    m->act = a;
    m->act.base = NULL;
    m->scratch = NULL;
    m->scratch_n = scratch;
    m->planB = B;
    m->planT = T;
    if (m->ps.meta) return 0;
    double need = sizeof(real) * ((double)a.used + (double)scratch);
    size_t avail = al_available_memory();
    if (avail && need > 0.9 * (double)avail) {
        char x[32], y[32];
        m->planB = m->planT = 0;
        return al_errorf("batch %d x %d needs %s of activations, but only %s is available (use a smaller batch_size "
                         "or seq_len)", B, T, al_format_bytes(need, x), al_format_bytes((double)avail, y));
    }
    m->act.base = K->alloc(a.used, "activations");
    m->scratch = K->alloc(scratch, "backward workspace");
    if (!m->act.base || !m->scratch) {
        m->planB = m->planT = 0;
        return -1;
    }
    m->act_cap = a.used;
    m->scratch_cap = scratch;
    m->ctx.scratch = m->scratch;
    return 0;
}

double model_forward(Model *m, const int *tokens, const int *targets, int B, int T) {
    AL_ASSERT(m->act.base && B <= m->planB && T <= m->planT);
    Ctx *c = &m->ctx;
    int N = B * T, C = m->cfg.d_model, V = m->cfg.vocab_size;
    K->embedding_forward(residual_input(m->res, c), tokens, PW(c, m->wte), N, C);
    if (c->probes) probe_emit(c->probes, "embed", 3, (int64_t[]){B, T, C}, NULL, residual_input(m->res, c));
    residual_forward(m->res, c, m->sub, B, T);
    rmsnorm_fwd(&m->final_norm, c, residual_output(m->res, c), N);
    K->linear_forward(ACT(c, m->logits), ACT(c, m->final_norm.out), PW(c, m->head), NULL, N, C, V);
    if (c->probes) {
        probe_emit(c->probes, "final_norm", 3, (int64_t[]){B, T, C}, NULL, ACT(c, m->final_norm.out));
        probe_emit(c->probes, "logits", 3, (int64_t[]){B, T, V}, NULL, ACT(c, m->logits));
    }
    if (!targets) return NAN;
    double total = K->cross_entropy_forward(ACT(c, m->losses), ACT(c, m->logits), targets, N, V, &m->n_valid);
    /* module k reads h^{k-1}: the main stack's output for k = 1, the previous module's otherwise */
    const real *h = residual_output(m->res, c);
    for (int k = 0; k < m->n_mtp; k++) {
        mtp_forward(&m->mtp[k], c, h, tokens, targets, B, T, m->wte, m->head, V);
        h = mtp_hidden(&m->mtp[k], c);
    }
    return m->n_valid ? total / m->n_valid : NAN;
}

double model_mtp_loss(const Model *m) {
    double s = 0;
    for (int k = 0; k < m->n_mtp; k++) s += m->mtp[k].loss;
    return m->n_mtp ? m->cfg.mtp_lambda / m->n_mtp * s : 0;
}

void model_mtp_depth_stats(const Model *m, int k, double *loss, double *accuracy) {
    AL_ASSERT(k >= 1 && k <= m->n_mtp);
    const MtpModule *t = &m->mtp[k - 1];
    *loss = t->loss;
    *accuracy = t->n_valid ? (double)t->n_correct / t->n_valid : 0;
}

real *model_hidden(Model *m) { return residual_output(m->res, &m->ctx); }

void model_backward(Model *m, const int *tokens, const int *targets, int B, int T) {
    Ctx *c = &m->ctx;
    int N = B * T, C = m->cfg.d_model, V = m->cfg.vocab_size;
    if (!m->n_valid) return;
    real *dlogits = ACT(c, m->logits); /* probs, turned into dlogits in place */
    K->cross_entropy_backward(dlogits, targets, N, V, (real)(1.0 / m->n_valid));
    real *dlnf = ACT(c, m->dlnf);
    K->zero(dlnf, (size_t)N * C);
    K->linear_backward(dlnf, PG(c, m->head), NULL, dlogits, ACT(c, m->final_norm.out), PW(c, m->head), N, C, V);
    real *dtop = residual_grad_top(m->res, c);
    K->zero(dtop, (size_t)N * C);
    /* the MTP modules last to first: module k's gradient w.r.t. h^{k-1} accumulates into module k-1's top
     * gradient (into the main stack's for k = 1), before that one's own backward runs */
    for (int k = 0; k < m->n_mtp; k++) K->zero(mtp_grad_hidden(&m->mtp[k], c), (size_t)N * C);
    for (int k = m->n_mtp - 1; k >= 0; k--) {
        real *dprev = k ? mtp_grad_hidden(&m->mtp[k - 1], c) : dtop;
        const real *hprev = k ? mtp_hidden(&m->mtp[k - 1], c) : residual_output(m->res, c);
        mtp_backward(&m->mtp[k], c, dprev, hprev, B, T, m->wte, m->head, V, m->cfg.mtp_lambda / m->n_mtp);
    }
    rmsnorm_bwd(&m->final_norm, c, dtop, dlnf, residual_output(m->res, c), N);
    real *dx0 = residual_backward(m->res, c, m->sub, B, T);
    K->embedding_backward(PG(c, m->wte), dx0, tokens, N, C);
}

real *model_logits(Model *m) { return ACT(&m->ctx, m->logits); }

int model_inspect(Model *m, const int *tokens, int B, int T, ProbeSink *sink) {
    if (model_plan(m, B, T)) return -1;
    m->ctx.probes = sink;
    model_forward(m, tokens, NULL, B, T);
    m->ctx.probes = NULL;
    return probe_status(sink);
}

size_t model_activation_elems(const Model *m) { return m->act.used + m->scratch_n; }

double model_flops_per_token(const Model *m, int T) {
    double f = 2.0 * m->cfg.d_model * m->cfg.vocab_size; /* head (the embedding is a lookup) */
    for (int i = 0; i < m->n_sub; i++) f += m->sub[i].ops->flops(m->sub[i].self, T);
    f += residual_flops(m->res);
    return f;
}

/* every sub-layer: the main stack's, then the MTP modules' blocks (numbered after it) */
static int n_sublayers_all(const Model *m) { return m->n_sub + 2 * m->n_mtp; }
static const Sublayer *sublayer_at(const Model *m, int i) {
    return i < m->n_sub ? &m->sub[i] : &m->mtp[(i - m->n_sub) / 2].sub[(i - m->n_sub) % 2];
}

double model_aux_loss(const Model *m) {
    double s = 0;
    for (int i = 0; i < n_sublayers_all(m); i++) {
        const Sublayer *l = sublayer_at(m, i);
        if (l->ops->aux_loss) s += l->ops->aux_loss(l->self);
    }
    return s;
}

void model_after_step(Model *m) {
    for (int i = 0; i < n_sublayers_all(m); i++) {
        const Sublayer *l = sublayer_at(m, i);
        if (l->ops->after_step) l->ops->after_step(l->self);
    }
}

void model_record(const Model *m, MetricLog *log, double step) {
    for (int i = 0; i < n_sublayers_all(m); i++) {
        const Sublayer *l = sublayer_at(m, i);
        if (l->ops->record) l->ops->record(l->self, log, model_block_of(i), step);
    }
    residual_record(m->res, (Ctx *)&m->ctx, log, step);
}

KVCache *model_kv_cache(const Model *m, int B, int max_len) {
    const ModelConfig *cfg = &m->cfg;
    if (B < 1) { al_errorf("KV cache: batch size %d must be at least 1", B); return NULL; }
    if (max_len < 1 || max_len > cfg->seq_len) {
        al_errorf("KV cache: a context of %d tokens is outside [1, seq_len = %d], the model's maximum context "
                  "(field 'seq_len')", max_len, cfg->seq_len);
        return NULL;
    }
    double need = kv_elems_per_token(cfg) * B * max_len * sizeof(real);
    size_t avail = al_available_memory();
    if (avail && need > 0.5 * (double)avail) {
        char a[32], b[32];
        al_errorf("KV cache: %d x %d tokens need %s, but only %s is available", B, max_len, al_format_bytes(need, a),
                  al_format_bytes((double)avail, b));
        return NULL;
    }
    /* the MTP modules' blocks are layers n_layers .. n_layers + D - 1 (their buffers appear only when used) */
    return kv_cache_alloc(cfg->n_layers + cfg->mtp_depth, B, max_len);
}

/* Decoding runs the training forward itself with the cache in the context: embedding -> the residual
 * family's forward -> final norm -> head, for T new tokens per sequence. The attention sub-layers see
 * c->kv and append/attend over the cache; every other sub-layer and the residual family are unchanged, so
 * decoding works for any residual family. */
int model_decode(Model *m, KVCache *kv, const int *tokens, int B, int T) {
    if (B != kv->B) return al_errorf("decode: %d sequences given to a KV cache made for %d", B, kv->B);
    if (T < 1) return al_errorf("decode: %d new tokens (need at least 1)", T);
    if (kv->len + T > kv->max_len)
        return al_errorf("decode: a context of %d tokens is longer than the KV cache's %d (the model's maximum is "
                         "seq_len = %d)", kv->len + T, kv->max_len, m->cfg.seq_len);
    /* plan exactly B x T: residual families may lay out their states by the planned token count */
    if (m->planB != B || m->planT != T) m->planB = m->planT = 0;
    if (model_plan(m, B, T)) return -1;
    m->ctx.kv = kv;
    m->ctx.pos = kv->len;
    model_forward(m, tokens, NULL, B, T);
    m->ctx.kv = NULL;
    m->ctx.pos = 0;
    kv->len += T;
    return 0;
}

int model_generate(Model *m, KVCache *kv, const int *prompt, int T0, int n_new, double temperature, Rng *rng,
                   int chunk, int *out) {
    int B = kv->B, V = m->cfg.vocab_size;
    if (T0 < 1) return al_errorf("generate: the prompt is empty");
    if (kv->len + T0 + n_new - 1 > kv->max_len)
        return al_errorf("generate: prompt (%d) + new tokens (%d) exceed the maximum context (field 'seq_len' = %d)",
                         T0, n_new, kv->max_len);
    if (chunk < 1) chunk = 256;
    int *buf = malloc(sizeof(int) * (size_t)B * (chunk > 1 ? chunk : 1)), *tok = malloc(sizeof(int) * B);
    double *u = malloc(sizeof(double) * B);
    AL_ASSERT(buf && tok && u);
    int rc = 0, T = 0;
    /* prefill in chunks: the decode scores are T x (pos + T) per head, so chunks bound the memory */
    for (int p = 0; p < T0 && !(rc = al_interrupted()); p += T) {
        T = T0 - p < chunk ? T0 - p : chunk;
        for (int b = 0; b < B; b++)
            for (int t = 0; t < T; t++) buf[b * T + t] = prompt[(size_t)b * T0 + p + t];
        rc = model_decode(m, kv, buf, B, T);
    }
    for (int i = 0; i < n_new && !(rc = al_interrupted()); i++) {
        /* the last position of each sequence predicts the next token */
        real *logits = model_logits(m);
        for (int b = 0; b < B; b++) u[b] = temperature > 0 ? rng_uniform(rng) : 0;
        for (int b = 0; b < B; b++) K->sample_tokens(&tok[b], logits + ((size_t)b * T + T - 1) * V, &u[b], 1, V, (real)temperature);
        for (int b = 0; b < B; b++) out[(size_t)b * n_new + i] = tok[b];
        if (i + 1 < n_new) { rc = model_decode(m, kv, tok, B, 1); T = 1; }
    }
    free(buf); free(tok); free(u);
    return rc;
}
