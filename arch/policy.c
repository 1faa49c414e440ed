/* Sampling with log-probabilities and the backward from given logit gradients (arch/policy.h). */
#include "arch/policy.h"

#include <string.h>

#include "arch/kv_cache.h"

void policy_backward_logits(Model *m, const int *tokens, int B, int T) {
    Ctx *c = &m->ctx;
    int N = B * T, C = m->cfg.d_model, V = m->cfg.vocab_size;
    AL_ASSERT(m->act.base && B <= m->planB && T <= m->planT);
    real *dlnf = ACT(c, m->dlnf);
    K->zero(dlnf, (size_t)N * C);
    K->linear_backward(dlnf, PG(c, m->head), NULL, ACT(c, m->logits), ACT(c, m->final_norm.out), PW(c, m->head), N, C, V);
    real *dtop = residual_grad_top(m->res, c);
    K->zero(dtop, (size_t)N * C);
    rmsnorm_bwd(&m->final_norm, c, dtop, dlnf, residual_output(m->res, c), N);
    real *dx0 = residual_backward(m->res, c, m->sub, B, T);
    K->embedding_backward(PG(c, m->wte), dx0, tokens, N, C);
}

/* one batch of B prompts of the same length T0: order[0..B) index the prompts */
static int sample_group(Model *m, const int *const *prompts, const int *order, int B, int T0, const SampleOptions *o,
                        Rng *rng, int *out, double *logp, int *len, double *tokens_run) {
    int V = m->cfg.vocab_size, S = o->max_new;
    KVCache *kv = model_kv_cache(m, B, T0 + S - 1);
    if (!kv) return -1;
    int chunk = T0 < 256 ? T0 : 256;
    int *buf = malloc(sizeof(int) * (size_t)B * chunk), *tok = malloc(sizeof(int) * B), *done = calloc(B, sizeof(int));
    double *u = malloc(sizeof(double) * B), *lp = malloc(sizeof(double) * B);
    AL_ASSERT(buf && tok && done && u && lp);
    int rc = 0, T = 0;
    for (int p = 0; p < T0 && !rc; p += T) { /* prefill, in chunks that bound the decode scores' memory */
        T = T0 - p < chunk ? T0 - p : chunk;
        for (int b = 0; b < B; b++) memcpy(buf + (size_t)b * T, prompts[order[b]] + p, sizeof(int) * T);
        rc = model_decode(m, kv, buf, B, T);
        if (tokens_run) *tokens_run += (double)B * T;
    }
    /* the last position of each sequence predicts its next token: rows T - 1, T*V apart */
    size_t ld = (size_t)T * V;
    const real *rows = model_logits(m) + (size_t)(T - 1) * V;
    int left = B;
    for (int i = 0; i < S && !rc && left > 0; i++) {
        if ((rc = al_interrupted())) break;
        for (int b = 0; b < B; b++) u[b] = o->temperature > 0 ? rng_uniform(rng) : 0;
        K->sample_nucleus(tok, lp, rows, ld, u, B, V, (real)o->temperature, (real)o->top_p);
        for (int b = 0; b < B; b++) {
            int k = order[b];
            if (done[b]) { tok[b] = o->stop >= 0 ? o->stop : tok[b]; continue; } /* fed, never kept */
            out[(size_t)k * S + i] = tok[b];
            if (logp) logp[(size_t)k * S + i] = lp[b];
            len[k] = i + 1;
            if (tok[b] == o->stop || i + 1 == S) { done[b] = 1; left--; }
        }
        if (left == 0) break;
        rc = model_decode(m, kv, tok, B, 1);
        if (tokens_run) *tokens_run += B;
        ld = (size_t)V;
        rows = model_logits(m);
    }
    kv_cache_free(kv);
    free(buf); free(tok); free(done); free(u); free(lp);
    return rc;
}

int policy_sample(Model *m, const int *const *prompts, const int *plen, int n, const SampleOptions *o, Rng *rng,
                  int *out, double *logp, int *len, double *tokens_run) {
    int V = m->cfg.vocab_size, S = o->max_new;
    if (S < 1) return al_errorf("field 'max_new' = %d must be at least 1", S);
    if (!(o->top_p > 0 && o->top_p <= 1)) return al_errorf("field 'top_p' = %g must be in (0, 1]", o->top_p);
    for (int i = 0; i < n; i++) {
        if (plen[i] < 1) return al_errorf("prompt %d is empty", i + 1);
        if (plen[i] + S - 1 > m->cfg.seq_len)
            return al_errorf("field 'max_new' = %d: prompt %d (%d tokens) + max_new - 1 exceeds the model's seq_len = %d",
                             S, i + 1, plen[i], m->cfg.seq_len);
        for (int t = 0; t < plen[i]; t++)
            if (prompts[i][t] < 0 || prompts[i][t] >= V)
                return al_errorf("prompt %d: token %d = %d is outside the vocabulary [0, %d)", i + 1, t + 1, prompts[i][t], V);
    }
    for (size_t i = 0; i < (size_t)n * S; i++) out[i] = -1;
    if (logp) memset(logp, 0, sizeof(double) * (size_t)n * S);
    memset(len, 0, sizeof(int) * n);
    /* order by (length, index): an insertion sort keeps equal lengths in index order */
    int *order = malloc(sizeof(int) * (n ? n : 1));
    AL_ASSERT(order);
    for (int i = 0; i < n; i++) {
        int j = i;
        while (j > 0 && plen[order[j - 1]] > plen[i]) { order[j] = order[j - 1]; j--; }
        order[j] = i;
    }
    int rc = 0, cap = o->max_batch > 0 ? o->max_batch : n;
    for (int s = 0; s < n && !rc;) {
        int e = s + 1;
        while (e < n && e - s < cap && plen[order[e]] == plen[order[s]]) e++;
        rc = sample_group(m, prompts, order + s, e - s, plen[order[s]], o, rng, out, logp, len, tokens_run);
        s = e;
    }
    free(order);
    return rc;
}
