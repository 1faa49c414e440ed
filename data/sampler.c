/* Batches: random windows of text for training, fixed windows for validation, and the synthetic tasks. */
#include <math.h>
#include <string.h>

#include "data/data.h"
#include "data/niah.h"

/* Synthetic token layout (within the byte vocabulary): 1 = BOS, 2 = separator, symbols from 3 on. */
enum { TOK_BOS = 1, TOK_SEP = 2, TOK_SYM = 3 };

void data_copy_init(DataSource *d, int alphabet) {
    memset(d, 0, sizeof *d);
    d->kind = DATA_COPY;
    d->alphabet = alphabet;
    snprintf(d->description, sizeof d->description, "copy: %d symbols", alphabet);
}

void data_recall_init(DataSource *d, int alphabet, int n_pairs) {
    memset(d, 0, sizeof *d);
    d->kind = DATA_RECALL;
    d->alphabet = alphabet;
    d->n_pairs = n_pairs;
    snprintf(d->description, sizeof d->description, "associative recall: %d pairs over %d keys", n_pairs, alphabet);
}

void data_free(DataSource *d) {
    free(d->split_bytes[0]);
    free(d->split_bytes[1]);
    memset(d, 0, sizeof *d);
}

int data_min_seq_len(const DataSource *d) {
    switch (d->kind) {
    case DATA_COPY: return 6;
    case DATA_RECALL: return 2 * d->n_pairs + 4;
    case DATA_NIAH: return NIAH_MIN_LEN;
    default: return 2;
    }
}

int data_vocab_size(const DataSource *d) {
    switch (d->kind) {
    case DATA_COPY: return TOK_SYM + d->alphabet;
    case DATA_RECALL: return TOK_SYM + 2 * d->alphabet;
    case DATA_NIAH: return NIAH_SYM + d->n_pairs + d->alphabet + d->n_filler;
    default: return 256;
    }
}

int data_check_vocab(const DataSource *d, int vocab_size) {
    int need = data_vocab_size(d);
    if (vocab_size < need)
        return al_errorf("field 'vocab_size' = %d of the model is too small for %s, whose token ids go up to %d "
                         "(vocab_size %d or more)", vocab_size, d->description, need - 1, need);
    return 0;
}

double data_chance_loss(const DataSource *d) {
    return d->kind == DATA_TEXT ? log(256.0) : log((double)d->alphabet);
}

/* BOS x_1..x_k SEP x_1..x_k (padded with SEP): the targets are the second copy. */
static void copy_sequence(const DataSource *d, Rng *rng, int T, int *in, int *tg) {
    int k = (T - 2) / 2;
    int seq[T + 1];
    seq[0] = TOK_BOS;
    for (int i = 0; i < k; i++) seq[1 + i] = TOK_SYM + (int)rng_below(rng, d->alphabet);
    seq[1 + k] = TOK_SEP;
    for (int i = 0; i < k; i++) seq[2 + k + i] = seq[1 + i];
    for (int i = 2 + 2 * k; i <= T; i++) seq[i] = TOK_SEP;
    for (int t = 0; t < T; t++) {
        in[t] = seq[t];
        /* position t predicts seq[t+1]; determined only inside the copy */
        tg[t] = (t >= 1 + k && t + 1 <= 1 + 2 * k) ? seq[t + 1] : -1;
    }
}

/* BOS k_1 v_1 ... k_n v_n SEP then queries q v(q) ... : the value after each query is the target. Keys are
 * distinct; values are drawn independently from the same number of symbols (offset past the keys). */
static void recall_sequence(const DataSource *d, Rng *rng, int T, int *in, int *tg) {
    int n = d->n_pairs, A = d->alphabet;
    int keys[A], vals[n];
    for (int i = 0; i < A; i++) keys[i] = i;
    for (int i = 0; i < n; i++) { /* partial Fisher-Yates: n distinct keys */
        int j = i + (int)rng_below(rng, A - i);
        int t = keys[i]; keys[i] = keys[j]; keys[j] = t;
        vals[i] = (int)rng_below(rng, A);
    }
    int seq[T + 1], p = 0;
    seq[p++] = TOK_BOS;
    for (int i = 0; i < n; i++) { seq[p++] = TOK_SYM + keys[i]; seq[p++] = TOK_SYM + A + vals[i]; }
    seq[p++] = TOK_SEP;
    int first_query = p;
    while (p + 1 <= T) {
        int i = (int)rng_below(rng, n);
        seq[p++] = TOK_SYM + keys[i];
        seq[p++] = TOK_SYM + A + vals[i];
    }
    for (int t = 0; t < T; t++) {
        in[t] = seq[t];
        tg[t] = (t >= first_query && (t - first_query) % 2 == 0) ? seq[t + 1] : -1;
    }
}

int data_batch(DataSource *d, Rng *rng, int split, int index, int B, int T, int *inputs, int *targets) {
    if (T < data_min_seq_len(d)) return al_errorf("seq_len %d is too short for %s (need %d)", T, d->description, data_min_seq_len(d));
    if (d->kind == DATA_RECALL && (TOK_SYM + 2 * d->alphabet > 256 || d->n_pairs > d->alphabet))
        return al_errorf("associative recall needs n_pairs (%d) <= keys (%d) <= %d", d->n_pairs, d->alphabet,
                         (256 - TOK_SYM) / 2);
    for (int b = 0; b < B; b++) {
        int *in = inputs + (size_t)b * T, *tg = targets + (size_t)b * T;
        if (d->kind == DATA_COPY) { copy_sequence(d, rng, T, in, tg); continue; }
        if (d->kind == DATA_RECALL) { recall_sequence(d, rng, T, in, tg); continue; }
        if (d->kind == DATA_NIAH) { niah_sequence(d, rng, T, rng_uniform(rng), in, tg); continue; }
        const uint8_t *bytes = d->split_bytes[split];
        size_t n = d->split_len[split];
        if (n < (size_t)T + 1) return al_errorf("the %s split (%zu bytes) is shorter than seq_len + 1 = %d",
                                                split ? "validation" : "train", n, T + 1);
        size_t span = n - T - 1, start;
        if (split == SPLIT_TRAIN) start = (size_t)rng_below(rng, span + 1);
        else {
            /* validation window j = index*B + b starts at frac(j * golden ratio) of the split: any number of
             * windows spreads evenly over it (a low-discrepancy sequence), the same in every run */
            double u = fmod((double)((size_t)index * B + b) * 0.61803398874989485, 1.0);
            start = (size_t)(u * (double)span);
        }
        for (int t = 0; t < T; t++) { in[t] = bytes[start + t]; tg[t] = bytes[start + t + 1]; }
    }
    return 0;
}
