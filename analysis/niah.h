/* Needle-in-a-haystack evaluation over a grid of context lengths x needle depths (data/niah.h task).
 * Each cell runs `trials` haystacks through the cached decode path (prefill in chunks, so a 2048-token
 * context never materializes a 2048 x 2048 probability matrix) and scores exact-match recall of the value
 * at the final position (argmax). */
#ifndef AL_ANALYSIS_NIAH_H
#define AL_ANALYSIS_NIAH_H
#include "arch/model.h"
#include "data/niah.h"

typedef struct NiahGrid {
    int n_len, n_depth, trials;
    int *lengths;    /* n_len */
    double *depths;  /* n_depth, in [0, 1] */
    double *recall;  /* n_depth x n_len, row = depth */
    double chance;   /* 1 / values */
    double seconds;
} NiahGrid;

/* -1 + message naming the field ('lengths' beyond the model's seq_len, a depth outside [0, 1], ...). */
int niah_evaluate(Model *m, const DataSource *task, const int *lengths, int n_len, const double *depths, int n_depth,
                  int trials, uint64_t seed, int chunk, NiahGrid *out);
void niah_grid_free(NiahGrid *g);
/* JSON: {"task", "attention", "lengths", "depths", "recall" (rows = depths), "chance", "trials"} */
int niah_write_json(const NiahGrid *g, const DataSource *task, const Model *m, const char *path);
#endif
