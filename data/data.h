/* Token sources. Text is byte-level (vocab 256): a corpus of files is read, split into train and
 * validation, and sampled as random windows. Synthetic tasks (copy, associative recall) generate each
 * sequence from the RNG, with targets only where the answer is determined (-1 elsewhere, ignored by the
 * loss). */
#ifndef AL_DATA_H
#define AL_DATA_H
#include "core/common.h"
#include "core/rng.h"

typedef enum { DATA_TEXT, DATA_COPY, DATA_RECALL, DATA_NIAH } DataKind;
enum { SPLIT_TRAIN = 0, SPLIT_VAL = 1 };

typedef struct DataSource {
    DataKind kind;
    char description[256];
    /* text */
    uint8_t *split_bytes[2];
    size_t split_len[2];
    int n_files;
    /* synthetic */
    int alphabet;  /* copy: symbols to copy; recall: distinct keys (values use as many) */
    int n_pairs;   /* recall: key/value pairs per sequence */
    int n_filler;  /* needle in a haystack (data/niah.h): filler symbols; alphabet = values, n_pairs = keys */
} DataSource;

/* Reads files (a directory means its regular files, sorted, skipping symlinks and binary files such as
 * fortune's .dat indexes). Blocks of 8 KiB are assigned to validation every round(1/val_fraction)-th
 * block, so both splits cover every file. -1 + message naming the path on failure. */
int data_text_load(DataSource *d, const char *const *paths, int n_paths, double val_fraction);
void data_copy_init(DataSource *d, int alphabet);
void data_recall_init(DataSource *d, int alphabet, int n_pairs);
void data_free(DataSource *d);

/* A batch of B sequences of T tokens: inputs (B*T), targets (B*T, -1 = no target).
 * Train batches are random windows drawn from rng; validation batch `index` is a fixed, evenly spaced
 * window set (the same in every run), so validation losses are comparable. */
int data_batch(DataSource *d, Rng *rng, int split, int index, int B, int T, int *inputs, int *targets);
/* The source's token ids lie in [0, data_vocab_size(d)): 256 for byte-level text, the top id of a synthetic
 * task's layout + 1. */
int data_vocab_size(const DataSource *d);
/* Where a source meets a model: -1 + message naming the model's field 'vocab_size' when a model of
 * vocab_size tokens cannot take the source's ids (they would index past its embedding table). */
int data_check_vocab(const DataSource *d, int vocab_size);
/* Minimum T the source needs (synthetic tasks have a structure). */
int data_min_seq_len(const DataSource *d);
/* Entropy of the unigram (byte) distribution of the train split, nats per token: the loss of the best
 * context-free predictor, which a model must beat to have learned anything about context. */
double data_unigram_entropy(const DataSource *d);
/* Loss of guessing uniformly among the possible answers (synthetic tasks), nats. */
double data_chance_loss(const DataSource *d);
#endif
