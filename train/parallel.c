#include "train/parallel.h"

#include <string.h>

#include "arch/moe.h"
#include "arch/mtp.h"
#include "core/dist.h"

int dp_batch(DataSource *d, Rng *rng, int split, int index, int Bg, int T, int *in, int *tg, int *global_in,
             int *global_tg) {
    int R = dist_size();
    if (R == 1) return data_batch(d, rng, split, index, Bg, T, in, tg);
    if (data_batch(d, rng, split, index, Bg, T, global_in, global_tg)) return -1;
    size_t share = (size_t)(Bg / R) * T, from = (size_t)dist_rank() * share;
    memcpy(in, global_in + from, sizeof(int) * share);
    memcpy(tg, global_tg + from, sizeof(int) * share);
    return 0;
}

int dp_sum(double *x, int n) { return dist_allreduce_sum_d(x, (size_t)n); }

/* every MoE sub-layer: the main stack's and the MTP modules' blocks */
static int moe_layers(Model *m, Moe **out, int cap) {
    int n = 0;
    for (int i = 0; i < m->n_sub; i++)
        if (moe_of(m->sub[i]) && n < cap) out[n++] = moe_of(m->sub[i]);
    for (int k = 0; k < m->n_mtp; k++)
        if (moe_of(m->mtp[k].sub[1]) && n < cap) out[n++] = moe_of(m->mtp[k].sub[1]);
    return n;
}

int dp_reduce_step(Model *m, double *loss) {
    if (dist_size() == 1) return 0;
    /* the counts first: every rank learns N (the global valid targets) and its weight n_r / N */
    int D = m->n_mtp < 16 ? m->n_mtp : 16;
    double s[2 + 3 * 16] = {(double)m->n_valid, m->n_valid ? *loss * m->n_valid : 0};
    for (int k = 0; k < D; k++) {
        MtpModule *t = &m->mtp[k];
        s[2 + 3 * k] = t->n_valid;
        s[3 + 3 * k] = t->loss * t->n_valid;
        s[4 + 3 * k] = t->n_correct;
    }
    if (dist_allreduce_sum_d(s, 2 + 3 * (size_t)D)) return -1;
    double N = s[0];
    if (N > 0) {
        /* each rank's backward divided by its own count: rescaled to the global count before the sum */
        K->scale(m->ps.grad, (real)(m->n_valid / N), m->ps.total);
        *loss = s[1] / N;
    }
    for (int k = 0; k < D; k++) {
        MtpModule *t = &m->mtp[k];
        t->n_valid = (int)s[2 + 3 * k];
        t->loss = t->n_valid ? s[3 + 3 * k] / t->n_valid : 0;
        t->n_correct = (int)s[4 + 3 * k];
    }
    m->n_valid = (int)N;
    if (dist_allreduce_sum(m->ps.grad, m->ps.total)) return -1;
    /* the expert loads of the global batch: what the bias update and the recorded loads read */
    Moe *moes[4096];
    int nm = moe_layers(m, moes, 4096);
    for (int i = 0; i < nm; i++) {
        Moe *e = moes[i];
        int local[e->E];
        memcpy(local, e->counts, sizeof local);
        if (dist_allreduce_sum_i(e->counts, (size_t)e->E)) return -1;
        for (int j = 0; j < e->E; j++) e->acc[j] += e->counts[j] - local[j];
    }
    return 0;
}
