/* archlab compare --measure (train/measure.h). */
#include "train/measure.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "analysis/cost.h"
#include "arch/kv_cache.h"
#include "arch/model.h"
#include "core/rng.h"
#include "data/data.h"
#include "train/trainer.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

#define NEW_TOKENS 16

int measure_config(const ModelConfig *cfg, int batch, int seq, int steps, const int *contexts, int n_contexts,
                   Measured *out) {
    memset(out, 0, sizeof *out);
    for (int k = 0; k < MEASURE_MAX_CONTEXTS; k++) out->decode_tokens_per_s[k] = NAN;
    out->train_tokens_per_s = out->allocated_bytes = NAN;
    ModelCost c;
    if (model_cost(cfg, seq, batch, &c)) return -1;
    double need = c.train_state_bytes + c.activation_bytes, avail = (double)al_available_memory();
    if (avail > 0 && need > 0.5 * avail) { /* half: the machine keeps room for everything else */
        char a[32], b[32];
        snprintf(out->why, sizeof out->why, "too large here: needs %s of %s", al_format_bytes(need, a), al_format_bytes(avail, b));
        return 0;
    }
    out->fits = 1;
    Model *m = model_create(cfg, 0);
    if (!m) return -1;
    DataSource d;
    data_copy_init(&d, cfg->vocab_size >= 10 ? 8 : cfg->vocab_size - 2);
    TrainOptions o;
    train_defaults(&o);
    o.steps = steps;
    o.batch_size = batch;
    o.seq_len = seq;
    o.quiet = 1;
    o.log_every = steps;
    o.eval_batches = 1;
    TrainResult r;
    int rc = train_run(m, &d, &o, &r);
    if (rc == 0) {
        out->train_tokens_per_s = r.tokens_per_s;
        out->allocated_bytes = sizeof(real) * (4.0 * m->ps.total + (double)model_activation_elems(m));
        train_result_free(&r);
    }
    for (int k = 0; k < n_contexts && k < MEASURE_MAX_CONTEXTS && rc == 0; k++) {
        int T = contexts[k];
        if (T > m->cfg.seq_len || T <= NEW_TOKENS) continue;
        int prompt_len = T - NEW_TOKENS;
        int *prompt = calloc((size_t)prompt_len, sizeof(int)), outk[NEW_TOKENS + 1];
        if (!prompt) { rc = al_errorf("out of memory"); break; }
        for (int i = 0; i < prompt_len; i++) prompt[i] = i % 8;
        Rng rng;
        rng_init(&rng, 1);
        double t[2];
        for (int pass = 0; pass < 2 && rc == 0; pass++) { /* the prefill alone, then prefill and the new tokens */
            KVCache *kv = model_kv_cache(m, 1, T);
            if (!kv) { rc = -1; break; }
            double t0 = now();
            rc = model_generate(m, kv, prompt, prompt_len, pass ? NEW_TOKENS + 1 : 1, 0, &rng, 256, outk);
            t[pass] = now() - t0;
            kv_cache_free(kv);
        }
        rng_free(&rng);
        free(prompt);
        if (rc == 0 && t[1] > t[0]) out->decode_tokens_per_s[k] = NEW_TOKENS / (t[1] - t[0]);
    }
    data_free(&d);
    model_free(m);
    return rc;
}
