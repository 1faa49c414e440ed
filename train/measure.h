/* Measuring a configuration on this machine (archlab compare --measure): build it for real, train a few steps
 * on a synthetic task, decode at given contexts, and count what it allocated. A configuration whose training
 * state and activations would not fit in half the available memory is not built: `fits` is 0 and `why` says
 * what it would need. The numbers are timings of this machine at this moment: they belong beside the numbers
 * on paper, never in a test's expected values. */
#ifndef AL_MEASURE_H
#define AL_MEASURE_H
#include "arch/config.h"

#define MEASURE_MAX_CONTEXTS 8

typedef struct Measured {
    int fits;
    char why[64];                              /* when it does not fit: "needs 3.4 TiB of 24 GiB" */
    double train_tokens_per_s;                 /* batch x seq tokens per optimizer step, steps timed */
    double decode_tokens_per_s[MEASURE_MAX_CONTEXTS]; /* after a prompt of the context less the new tokens; NaN
                                                 * beyond the model's seq_len */
    double allocated_bytes;                    /* parameters, gradients, AdamW, activations, workspace */
} Measured;

/* Trains `steps` steps of batch x seq tokens (seq <= the model's seq_len) and decodes 16 tokens after prompts
 * filling each context. -1 + message on a bad configuration or a failed run. */
int measure_config(const ModelConfig *cfg, int batch, int seq, int steps, const int *contexts, int n_contexts,
                   Measured *out);
#endif
