#include "data/niah.h"

#include <math.h>
#include <string.h>

int data_niah_init(DataSource *d, int keys, int values, int filler, int vocab_size) {
    memset(d, 0, sizeof *d);
    if (keys < 1) return al_errorf("field 'keys' = %d must be >= 1", keys);
    if (values < 2) return al_errorf("field 'values' = %d must be >= 2", values);
    if (filler < 1) return al_errorf("field 'filler' = %d must be >= 1", filler);
    if (NIAH_SYM + keys + values + filler > vocab_size)
        return al_errorf("field 'filler': %d markers + %d keys + %d values + %d filler symbols exceed vocab_size %d",
                         NIAH_SYM, keys, values, filler, vocab_size);
    d->kind = DATA_NIAH;
    d->n_pairs = keys;
    d->alphabet = values;
    d->n_filler = filler;
    snprintf(d->description, sizeof d->description, "needle in a haystack: %d keys, %d values, %d filler symbols",
             keys, values, filler);
    return 0;
}

/* the needle [NEEDLE k v] starts at 1 + round(depth * (L - 6)): right after BOS at depth 0, right before
 * the query [QUERY k] at depth 1 */
int niah_needle_pos(int L, double depth) {
    if (depth < 0) depth = 0;
    if (depth > 1) depth = 1;
    return 1 + (int)lround(depth * (L - 6));
}

int niah_sequence(const DataSource *d, Rng *rng, int L, double depth, int *tok, int *tg) {
    int key = NIAH_SYM + (int)rng_below(rng, d->n_pairs);
    int val = NIAH_SYM + d->n_pairs + (int)rng_below(rng, d->alphabet);
    int f0 = NIAH_SYM + d->n_pairs + d->alphabet;
    tok[0] = NIAH_BOS;
    for (int t = 1; t < L; t++) tok[t] = f0 + (int)rng_below(rng, d->n_filler);
    int p = niah_needle_pos(L, depth);
    tok[p] = NIAH_NEEDLE;
    tok[p + 1] = key;
    tok[p + 2] = val;
    tok[L - 2] = NIAH_QUERY;
    tok[L - 1] = key;
    for (int t = 0; t < L; t++) tg[t] = -1;
    tg[L - 1] = val;
    return val;
}
