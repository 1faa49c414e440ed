/* Configurations side by side, on paper (archlab compare, archlab.compare): one column per configuration, one
 * row per quantity, each from the same meta build as `archlab summary` (analysis/cost.c), so a column equals
 * the configuration's own summary. Quantities at a context beyond a model's seq_len are NaN (not counted). */
#ifndef AL_COMPARE_H
#define AL_COMPARE_H
#include "arch/config.h"

#define COMPARE_MAX_CONFIGS 64
#define COMPARE_MAX_CONTEXTS 8
#define COMPARE_MAX_ROWS 48

typedef struct CompareRow {
    char name[96];
    char unit[12];   /* "params", "FLOP", "elements", "bytes", "tokens", "tokens/s" */
    double v[COMPARE_MAX_CONFIGS];
    char note[COMPARE_MAX_CONFIGS][64]; /* why a value is missing, shown in its place ("too large here: ...") */
} CompareRow;

typedef struct Compare {
    int n;                                  /* configurations */
    char label[COMPARE_MAX_CONFIGS][96];
    int n_rows;
    CompareRow rows[COMPARE_MAX_ROWS];
} Compare;

/* The table for cfgs[0..n) at the given contexts (batch sequences each) and, when memory_bytes > 0, the longest
 * context whose bf16 KV cache fits beside the bf16 weights. -1 + a message naming the configuration. */
int compare_configs(const ModelConfig *cfgs, const char *const *labels, int n, const int *contexts, int n_contexts,
                    int batch, double memory_bytes, Compare *out);
/* Appends a row (values NaN until set); NULL when the table is full. */
CompareRow *compare_add_row(Compare *c, const char *unit, const char *name);
/* The row of that name, or NULL */
const CompareRow *compare_row(const Compare *c, const char *name);
#endif
