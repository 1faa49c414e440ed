#include "analysis/niah.h"

#include <string.h>
#include <time.h>

#include "arch/kv_cache.h"
#include "core/backend.h"

int niah_evaluate(Model *m, const DataSource *task, const int *lengths, int n_len, const double *depths, int n_depth,
                  int trials, uint64_t seed, int chunk, NiahGrid *g) {
    memset(g, 0, sizeof *g);
    if (task->kind != DATA_NIAH) return al_errorf("field 'data' must be a needle-in-a-haystack task (archlab.data.niah)");
    if (n_len < 1 || n_depth < 1) return al_errorf("field 'lengths' and 'depths' must each list at least one value");
    if (trials < 1) return al_errorf("field 'trials' = %d must be >= 1", trials);
    if (NIAH_SYM + task->n_pairs + task->alphabet + task->n_filler > m->cfg.vocab_size)
        return al_errorf("field 'vocab_size' = %d of the model is too small for %s", m->cfg.vocab_size, task->description);
    int maxL = 0;
    for (int i = 0; i < n_len; i++) {
        if (lengths[i] < NIAH_MIN_LEN)
            return al_errorf("field 'lengths[%d]' = %d is shorter than a haystack's minimum %d", i + 1, lengths[i], NIAH_MIN_LEN);
        if (lengths[i] > m->cfg.seq_len)
            return al_errorf("field 'lengths[%d]' = %d is longer than the model's maximum context (seq_len = %d)", i + 1,
                             lengths[i], m->cfg.seq_len);
        if (lengths[i] > maxL) maxL = lengths[i];
    }
    for (int j = 0; j < n_depth; j++)
        if (!(depths[j] >= 0 && depths[j] <= 1)) return al_errorf("field 'depths[%d]' = %g is outside [0, 1]", j + 1, depths[j]);
    if (chunk < 1) chunk = 256;
    int B = trials;
    KVCache *kv = model_kv_cache(m, B, maxL);
    if (!kv) return -1;
    g->n_len = n_len; g->n_depth = n_depth; g->trials = trials;
    g->lengths = malloc(sizeof(int) * n_len);
    g->depths = malloc(sizeof(double) * n_depth);
    g->recall = calloc((size_t)n_len * n_depth, sizeof(double));
    memcpy(g->lengths, lengths, sizeof(int) * n_len);
    memcpy(g->depths, depths, sizeof(double) * n_depth);
    g->chance = 1.0 / task->alphabet;
    int *tok = malloc(sizeof(int) * (size_t)B * maxL), *tg = malloc(sizeof(int) * maxL), *val = malloc(sizeof(int) * B);
    int *buf = malloc(sizeof(int) * (size_t)B * chunk), *pred = malloc(sizeof(int) * B);
    AL_ASSERT(tok && tg && val && buf && pred && g->lengths && g->depths && g->recall);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = 0, V = m->cfg.vocab_size;
    for (int i = 0; i < n_len && !rc; i++)
        for (int j = 0; j < n_depth && !(rc = al_interrupted()); j++) {
            int L = lengths[i];
            Rng rng; /* each cell its own stream: a cell's haystacks do not depend on the grid around it */
            rng_init(&rng, seed * 1000003u + (uint64_t)i * 1009u + (uint64_t)j);
            for (int b = 0; b < B; b++) val[b] = niah_sequence(task, &rng, L, depths[j], tok + (size_t)b * L, tg);
            rng_free(&rng);
            kv_cache_reset(kv);
            int T = 0;
            for (int p = 0; p < L && !rc; p += T) {
                T = L - p < chunk ? L - p : chunk;
                for (int b = 0; b < B; b++) memcpy(buf + (size_t)b * T, tok + (size_t)b * L + p, sizeof(int) * T);
                rc = model_decode(m, kv, buf, B, T);
            }
            if (rc) break;
            const real *lg = model_logits(m);
            int hits = 0;
            for (int b = 0; b < B; b++) {
                K->sample_tokens(&pred[b], lg + ((size_t)b * T + T - 1) * V, NULL, 1, V, 0);
                hits += pred[b] == val[b];
            }
            g->recall[(size_t)j * n_len + i] = (double)hits / B;
        }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    g->seconds = (t1.tv_sec - t0.tv_sec) + 1e-9 * (t1.tv_nsec - t0.tv_nsec);
    free(tok); free(tg); free(val); free(buf); free(pred);
    kv_cache_free(kv);
    if (rc) niah_grid_free(g);
    return rc;
}

void niah_grid_free(NiahGrid *g) {
    free(g->lengths);
    free(g->depths);
    free(g->recall);
    memset(g, 0, sizeof *g);
}

int niah_write_json(const NiahGrid *g, const DataSource *task, const Model *m, const char *path) {
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    if (al_check_replaceable(path)) return -1;
    FILE *f = fopen(tmp, "w");
    if (!f) return al_errorf("cannot write '%s'", path);
    fprintf(f, "{\"task\": \"%s\", \"attention\": \"%s\", \"trials\": %d, \"chance\": %.6g,\n \"lengths\": [",
            task->description, m->cfg.attention, g->trials, g->chance);
    for (int i = 0; i < g->n_len; i++) fprintf(f, "%s%d", i ? ", " : "", g->lengths[i]);
    fprintf(f, "],\n \"depths\": [");
    for (int j = 0; j < g->n_depth; j++) fprintf(f, "%s%.6g", j ? ", " : "", g->depths[j]);
    fprintf(f, "],\n \"recall\": [");
    for (int j = 0; j < g->n_depth; j++) {
        fprintf(f, "%s\n  [", j ? "," : "");
        for (int i = 0; i < g->n_len; i++) fprintf(f, "%s%.6g", i ? ", " : "", g->recall[(size_t)j * g->n_len + i]);
        fprintf(f, "]");
    }
    fprintf(f, "\n ]}\n");
    if (fclose(f) || rename(tmp, path)) return al_errorf("cannot write '%s'", path);
    return 0;
}
