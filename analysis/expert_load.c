#include "analysis/expert_load.h"

#include <math.h>
#include <string.h>

#include "arch/moe.h"
#include "arch/mtp.h"

void expert_load_collect(const Model *m, int accumulated, ExpertLoad *out) {
    memset(out, 0, sizeof *out);
    for (int i = 0; i < m->n_sub; i++)
        if (moe_of(m->sub[i])) { out->n++; out->E = moe_of(m->sub[i])->E; }
    if (!out->n) return;
    out->layer = calloc(out->n, sizeof(int));
    out->counts = calloc((size_t)out->n * out->E, sizeof(double));
    out->stats = calloc(out->n, sizeof(MoeLoadStats));
    AL_ASSERT(out->layer && out->counts && out->stats);
    double *pooled = calloc(out->E, sizeof(double));
    AL_ASSERT(pooled);
    int j = 0;
    for (int i = 0; i < m->n_sub; i++) {
        const Moe *moe = moe_of(m->sub[i]);
        if (!moe) continue;
        double *row = out->counts + (size_t)j * out->E;
        for (int e = 0; e < out->E; e++) {
            row[e] = accumulated ? moe->acc[e] : moe->counts[e];
            pooled[e] += row[e];
        }
        out->layer[j] = model_block_of(i);
        moe_load_stats(row, out->E, &out->stats[j]);
        if (j == 0 || out->stats[j].maxvio > out->maxvio_max) out->maxvio_max = out->stats[j].maxvio;
        j++;
    }
    moe_load_stats(pooled, out->E, &out->all);
    free(pooled);
}

void expert_load_free(ExpertLoad *l) {
    free(l->layer);
    free(l->counts);
    free(l->stats);
    memset(l, 0, sizeof *l);
}

void expert_load_reset(Model *m) {
    for (int i = 0; i < m->n_sub; i++)
        if (moe_of(m->sub[i])) moe_load_reset(moe_of(m->sub[i]));
}

size_t model_unrouted_params(const Model *m) {
    size_t n = 0;
    for (int i = 0; i < m->n_sub; i++) {
        const Moe *moe = moe_of(m->sub[i]);
        if (moe) n += 3 * (size_t)moe->C * moe->F * (size_t)(moe->E - moe->K);
    }
    return n;
}

size_t model_active_params(const Model *m) {
    return m->ps.total - m->mtp_params - ps_count(&m->ps, "embedding") - model_unrouted_params(m);
}

size_t model_mtp_active_params(const Model *m) {
    size_t n = m->mtp_params;
    for (int k = 0; k < m->n_mtp; k++) {
        const Moe *moe = moe_of(m->mtp[k].sub[1]);
        if (moe) n -= 3 * (size_t)moe->C * moe->F * (size_t)(moe->E - moe->K);
    }
    return n;
}
