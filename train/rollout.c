/* Rollouts, training batches, log-probabilities, held-out evaluation (train/rollout.h). */
#include "train/rollout.h"

#include <math.h>
#include <string.h>

#include "core/jsonl.h"
#include "core/metrics.h"

void rollouts_free(Rollouts *r) {
    free(r->problem); free(r->prompt); free(r->plen); free(r->comp); free(r->logp); free(r->clen); free(r->score);
    free(r->reward);
    memset(r, 0, sizeof *r);
}

int rollouts_sample(Rollouts *r, Model *m, const Task *t, Rng *problem_rng, int split, int P, int G,
                    const SampleOptions *so, Rng *rng, double format_weight, double *tokens_run) {
    memset(r, 0, sizeof *r);
    int n = P * G, S = so->max_new;
    r->P = P; r->G = G; r->n = n; r->max_new = S;
    r->problem = calloc(P, sizeof *r->problem);
    r->prompt = calloc((size_t)n * TASK_PROMPT_MAX, sizeof(int));
    r->plen = calloc(n, sizeof(int));
    r->comp = calloc((size_t)n * S, sizeof(int));
    r->logp = calloc((size_t)n * S, sizeof(double));
    r->clen = calloc(n, sizeof(int));
    r->score = calloc(n, sizeof *r->score);
    r->reward = calloc(n, sizeof(double));
    const int **pp = calloc(n, sizeof *pp);
    AL_ASSERT(r->problem && r->prompt && r->plen && r->comp && r->logp && r->clen && r->score && r->reward && pp);
    for (int p = 0; p < P; p++) {
        if (task_draw(t, problem_rng, split, &r->problem[p])) { free(pp); rollouts_free(r); return -1; }
        for (int g = 0; g < G; g++) {
            int i = p * G + g, *q = r->prompt + (size_t)i * TASK_PROMPT_MAX;
            const char *s = r->problem[p].prompt;
            q[0] = TASK_BOS;
            int k = 1;
            for (; s[k - 1]; k++) q[k] = (unsigned char)s[k - 1];
            r->plen[i] = k;
            pp[i] = q;
        }
    }
    int rc = policy_sample(m, pp, r->plen, n, so, rng, r->comp, r->logp, r->clen, tokens_run);
    free(pp);
    if (rc) { rollouts_free(r); return -1; }
    for (int i = 0; i < n; i++) {
        char text[1024];
        int L = r->clen[i] < (int)sizeof text ? r->clen[i] : (int)sizeof text;
        for (int k = 0; k < L; k++) text[k] = (char)r->comp[(size_t)i * S + k];
        task_check(&r->problem[i / G], text, L, &r->score[i]);
        r->reward[i] = r->score[i].accuracy + format_weight * r->score[i].format;
    }
    return 0;
}

void seqbatch_free(SeqBatch *b) {
    free(b->tokens); free(b->targets); free(b->logp_old); free(b->clen);
    memset(b, 0, sizeof *b);
}

static void seqbatch_alloc(SeqBatch *b, int k, int T, int with_logp) {
    memset(b, 0, sizeof *b);
    b->n = k;
    b->T = T;
    b->tokens = calloc((size_t)k * T, sizeof(int));
    b->targets = malloc(sizeof(int) * (size_t)k * T);
    b->clen = calloc(k, sizeof(int));
    b->logp_old = with_logp ? calloc((size_t)k * T, sizeof(double)) : NULL;
    AL_ASSERT(b->tokens && b->targets && b->clen && (b->logp_old || !with_logp));
    for (size_t i = 0; i < (size_t)k * T; i++) b->targets[i] = -1;
}

/* sequence i of the batch from its prompt (pl tokens) and completion (cl tokens): position t reads token t and,
 * where token t + 1 is a completion token, predicts it */
static void seqbatch_put(SeqBatch *b, int i, const int *prompt, int pl, const int *comp, int cl, const double *lp) {
    int *in = b->tokens + (size_t)i * b->T, *tg = b->targets + (size_t)i * b->T;
    int L = pl + cl;
    for (int t = 0; t < L - 1; t++) in[t] = t < pl ? prompt[t] : comp[t - pl];
    for (int t = L - 1; t < b->T; t++) in[t] = comp ? comp[cl - 1] : prompt[pl - 1]; /* padding: never a target */
    for (int k = 0; k < cl; k++) {
        tg[pl - 1 + k] = comp[k];
        if (lp && b->logp_old) b->logp_old[(size_t)i * b->T + pl - 1 + k] = lp[k];
    }
    b->clen[i] = cl;
}

int seqbatch_from_rollouts(SeqBatch *b, const Rollouts *r, const int *sel, int k, int with_logp) {
    if (!sel) k = r->n;
    int T = 1;
    for (int j = 0; j < k; j++) {
        int i = sel ? sel[j] : j;
        if (r->plen[i] + r->clen[i] - 1 > T) T = r->plen[i] + r->clen[i] - 1;
    }
    seqbatch_alloc(b, k, T, with_logp);
    for (int j = 0; j < k; j++) {
        int i = sel ? sel[j] : j;
        seqbatch_put(b, j, r->prompt + (size_t)i * TASK_PROMPT_MAX, r->plen[i], r->comp + (size_t)i * r->max_new,
                     r->clen[i], r->logp + (size_t)i * r->max_new);
    }
    return 0;
}

int seqbatch_from_tokens(SeqBatch *b, const int *const *seq, const int *len, const int *clen, int k) {
    int T = 1;
    for (int j = 0; j < k; j++) {
        if (clen[j] < 1 || clen[j] >= len[j]) return al_errorf("sequence %d: a completion of %d of its %d tokens", j + 1, clen[j], len[j]);
        if (len[j] - 1 > T) T = len[j] - 1;
    }
    seqbatch_alloc(b, k, T, 0);
    for (int j = 0; j < k; j++) seqbatch_put(b, j, seq[j], len[j] - clen[j], seq[j] + len[j] - clen[j], clen[j], NULL);
    return 0;
}

int rl_target_logprobs(Model *m, const SeqBatch *b, double temperature, int micro, double *logp, double *tokens_run) {
    int T = b->T, V = m->cfg.vocab_size, mb = micro > 0 ? micro : b->n;
    for (int s = 0; s < b->n; s += mb) {
        int nb = b->n - s < mb ? b->n - s : mb;
        if (model_plan(m, nb, T)) return -1;
        model_forward(m, b->tokens + (size_t)s * T, NULL, nb, T);
        K->token_logprobs(logp + (size_t)s * T, model_logits(m), b->targets + (size_t)s * T, nb * T, V, (real)temperature);
        if (tokens_run) *tokens_run += (double)nb * T;
    }
    return 0;
}

void wilson_interval(double k, double n, double z, double *lo, double *hi) {
    if (n <= 0) { *lo = NAN; *hi = NAN; return; }
    double p = k / n, z2 = z * z, den = 1 + z2 / n;
    double mid = (p + z2 / (2 * n)) / den, half = z * sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / den;
    *lo = mid - half;
    *hi = mid + half;
}

int task_evaluate(Model *m, const Task *t, int n, const SampleOptions *so, uint64_t seed, TaskEval *e) {
    memset(e, 0, sizeof *e);
    if (n < 1) return al_errorf("field 'n' = %d must be at least 1", n);
    Rng prng, srng;
    rng_init(&prng, seed);
    rng_init(&srng, seed + 1);
    Rollouts r;
    int rc = rollouts_sample(&r, m, t, &prng, TASK_SPLIT_TEST, n, 1, so, &srng, 0, NULL);
    rng_free(&prng);
    rng_free(&srng);
    if (rc) return -1;
    double acc = 0, fmt = 0, len = 0, think = 0;
    for (int i = 0; i < n; i++) {
        acc += r.score[i].accuracy;
        fmt += r.score[i].format;
        len += r.clen[i];
        if (r.score[i].format) think += r.score[i].think_len;
    }
    e->n = n;
    e->accuracy = acc / n;
    e->format = fmt / n;
    e->length = len / n;
    e->think_length = fmt > 0 ? think / fmt : NAN;
    wilson_interval(acc, n, 1.959963984540054, &e->lo, &e->hi);
    rollouts_free(&r);
    return 0;
}

Model *rl_model_copy(const Model *m) {
    Model *c = model_create(&m->cfg, 0);
    if (!c) return NULL;
    AL_ASSERT(c->ps.total == m->ps.total);
    K->copy(c->ps.data, m->ps.data, m->ps.total);
    return c;
}

/* The longest completion the task's references reach + 16 (room to think longer), within the model's context. */
int rl_default_max_new(const Model *m, const Task *t) {
    int want = task_max_completion(t) + 16, room = m->cfg.seq_len - task_max_prompt(t) + 1;
    return want < room ? want : room;
}

/* one row of the metrics file: every series with a point at this step */
int rl_write_row(JsonlWriter *w, const MetricLog *log, int step) {
    if (!w->f) return 0;
    jsonl_begin(w);
    jsonl_num(w, "step", step);
    for (int s = 0; s < log->n; s++) {
        double v;
        if (metrics_at(&log->series[s], step, &v)) jsonl_num(w, log->series[s].name, v);
    }
    return jsonl_end(w);
}

void rl_record_eval(MetricLog *log, int step, const TaskEval *e) {
    metrics_add(log, "val_accuracy", step, e->accuracy);
    metrics_add(log, "val_format", step, e->format);
    metrics_add(log, "val_length", step, e->length);
    metrics_add(log, "val_think_length", step, e->think_length);
}


int rl_schedule_step(int step, int total, double flops, double budget) {
    if (budget <= 0) return step;
    double k = flops / budget * total;
    return k >= total - 1 ? total - 1 : (int)k;
}
