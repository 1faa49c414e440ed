#include "arch/speculative.h"

#include <string.h>

#include "arch/kv_cache.h"
#include "arch/mtp.h"

typedef struct Spec {
    Model *m;
    KVCache *kv;              /* the main model's */
    KVCache *mkv[SPEC_MAX_DEPTH]; /* each module's block (one layer used of each) */
    real *hist;               /* (max_len, C): h^0 of every position the main model has confirmed */
    int *ext;                 /* prompt, confirmed tokens, then this round's drafts */
    int Q;                    /* positions every module has cached from confirmed inputs */
} Spec;

/* the planned shape must be exactly 1 x T: residual families lay out their states by it (model_decode) */
static int plan_exact(Model *m, int T) {
    if (m->planB != 1 || m->planT != T) m->planB = m->planT = 0;
    return model_plan(m, 1, T);
}

/* the modules over positions Q .. P-1; returns the D drafts into ext[P+1 .. P+D] */
static int draft(Spec *s, int P) {
    Model *m = s->m;
    int D = m->n_mtp, T = P - s->Q, V = m->cfg.vocab_size;
    if (plan_exact(m, T)) return -1;
    Ctx *c = &m->ctx;
    const real *h = s->hist + (size_t)s->Q * m->cfg.d_model;
    for (int k = 1; k <= D; k++) {
        MtpModule *mod = &m->mtp[k - 1];
        c->kv = s->mkv[k - 1];
        c->pos = s->Q;
        /* module k at position i reads t_{i+k}: confirmed up to P, then the drafts d_1 .. d_{k-1} */
        mtp_decode(mod, c, h, s->ext + s->Q + k, 1, T, m->wte, m->head, V);
        c->kv = NULL;
        c->pos = 0;
        s->mkv[k - 1]->len = P;
        K->sample_tokens(&s->ext[P + k], mtp_logits(mod, c) + (size_t)(T - 1) * V, NULL, 1, V, 0);
        h = mtp_hidden(mod, c);
    }
    return 0;
}

int model_generate_speculative(Model *m, const int *prompt, int T0, int n_new, int chunk, int *out, SpecStats *st) {
    memset(st, 0, sizeof *st);
    int D = m->n_mtp, V = m->cfg.vocab_size, C = m->cfg.d_model;
    if (D < 1) return al_errorf("generate: speculative = \"mtp\" needs multi-token prediction modules (field 'mtp_depth' > 0)");
    if (D > SPEC_MAX_DEPTH) return al_errorf("generate: speculative decoding drafts at most %d tokens", SPEC_MAX_DEPTH);
    if (T0 < 1) return al_errorf("generate: the prompt is empty");
    if (n_new < 1) return al_errorf("generate: %d new tokens (need at least 1)", n_new);
    int max_len = T0 + n_new - 1;
    if (max_len > m->cfg.seq_len)
        return al_errorf("generate: prompt (%d) + new tokens (%d) exceed the maximum context (field 'seq_len' = %d)", T0,
                         n_new, m->cfg.seq_len);
    if (chunk < 1) chunk = 256;
    Spec s = {.m = m};
    int rc = 0;
    s.kv = model_kv_cache(m, 1, max_len);
    for (int k = 0; k < D && s.kv; k++)
        if (!(s.mkv[k] = model_kv_cache(m, 1, max_len))) rc = -1;
    s.hist = K->alloc((size_t)(max_len + D + 1) * C, "speculative decoding history");
    s.ext = calloc((size_t)max_len + 2 * D + 2, sizeof(int));
    AL_ASSERT(s.ext);
    if (!s.kv || rc || !s.hist) { rc = -1; goto done; }
    memcpy(s.ext, prompt, sizeof(int) * T0);
    /* prefill in chunks, keeping h^0 of every prompt position */
    for (int p = 0, T = 0; p < T0 && !rc; p += T) {
        T = T0 - p < chunk ? T0 - p : chunk;
        if (!(rc = al_interrupted()) && !(rc = model_decode(m, s.kv, prompt + p, 1, T)))
            K->copy(s.hist + (size_t)p * C, model_hidden(m), (size_t)T * C);
        if (!rc && p + T == T0) K->sample_tokens(&s.ext[T0], model_logits(m) + (size_t)(T - 1) * V, NULL, 1, V, 0);
    }
    int produced = 1, P = T0; /* ext[P] = t_P is the next token, known, not yet fed */
    if (!rc) out[0] = s.ext[T0];
    while (!rc && produced < n_new && !(rc = al_interrupted())) {
        int Dr = D, room = max_len - 1 - P;
        if (Dr > n_new - produced - 1) Dr = n_new - produced - 1;
        if (Dr > room) Dr = room;
        if (Dr > 0 && (rc = draft(&s, P))) break;
        /* verify t_P and the Dr drafts in one pass of the main model */
        int T = Dr + 1, g[SPEC_MAX_DEPTH + 1];
        if ((rc = model_decode(m, s.kv, s.ext + P, 1, T))) break;
        K->sample_tokens(g, model_logits(m), NULL, T, V, 0);
        int a = 0;
        while (a < Dr && s.ext[P + 1 + a] == g[a]) a++;
        st->rounds++;
        st->drafted += Dr;
        st->accepted += a;
        for (int j = 1; j <= Dr && j <= a + 1; j++) { st->drafted_at[j - 1]++; st->accepted_at[j - 1] += j <= a; }
        K->copy(s.hist + (size_t)P * C, model_hidden(m), (size_t)(a + 1) * C);
        s.ext[P + 1 + a] = g[a];
        for (int j = 1; j <= a + 1; j++) out[produced++] = s.ext[P + j];
        s.kv->len = P + a + 1; /* forget the rejected drafts' positions */
        /* module k's entry at position i read t_{i+k}: confirmed when i + k <= P + a */
        if (Dr > 0) {
            int Q = P + a - D + 1;
            if (Q > P) Q = P;
            if (Q < 0) Q = 0;
            if (Q > s.Q) s.Q = Q;
            for (int k = 0; k < D; k++) s.mkv[k]->len = s.Q;
        }
        P += a + 1;
    }
done:
    kv_cache_free(s.kv);
    for (int k = 0; k < D && k < SPEC_MAX_DEPTH; k++) kv_cache_free(s.mkv[k]);
    K->free(s.hist);
    free(s.ext);
    return rc;
}
