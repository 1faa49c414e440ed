/* archlab compare --measure: rows measured on this machine (train/measure.h) appended to the table on paper.
 * A configuration too large to build here says so in its cells. */
#include <math.h>
#include <stdio.h>

#include "scripts/compare_measure.h"
#include "train/measure.h"

int compare_measure(Compare *t, const ModelConfig *cfgs, int batch, const int *contexts, int n_contexts) {
    char name[96];
    snprintf(name, sizeof name, "measured: training tokens/s (%d x up to 128)", batch);
    CompareRow *train = compare_add_row(t, "tokens/s", name);
    CompareRow *dec[MEASURE_MAX_CONTEXTS] = {0};
    int nd = n_contexts < MEASURE_MAX_CONTEXTS ? n_contexts : MEASURE_MAX_CONTEXTS;
    for (int k = 0; k < nd; k++) {
        snprintf(name, sizeof name, "measured: decode tokens/s after %d tokens", contexts[k]);
        dec[k] = compare_add_row(t, "tokens/s", name);
    }
    CompareRow *mem = compare_add_row(t, "bytes", "measured: memory allocated for training");
    if (!train || !mem) return al_errorf("the table has no room for the measured rows");
    for (int j = 0; j < t->n; j++) {
        ModelConfig fin = cfgs[j];
        if (config_finalize(&fin)) return al_errorf("%s: %s", t->label[j], al_error_message());
        int seq = fin.seq_len < 128 ? fin.seq_len : 128;
        Measured m;
        if (measure_config(&cfgs[j], batch, seq, 6, contexts, nd, &m)) return al_errorf("%s: %s", t->label[j], al_error_message());
        if (!m.fits) {
            snprintf(train->note[j], sizeof train->note[j], "%s", m.why);
            continue;
        }
        train->v[j] = m.train_tokens_per_s;
        mem->v[j] = m.allocated_bytes;
        for (int k = 0; k < nd; k++)
            if (dec[k]) dec[k]->v[j] = m.decode_tokens_per_s[k];
    }
    return 0;
}
