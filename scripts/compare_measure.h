/* archlab compare --measure (scripts/compare_measure.c). */
#ifndef AL_COMPARE_MEASURE_H
#define AL_COMPARE_MEASURE_H
#include "analysis/compare.h"
#include "core/common.h"

/* Appends the measured rows (training tokens/s, decode tokens/s after each context, memory allocated) for every
 * column of t, building each configuration that fits here. -1 + message. */
int compare_measure(Compare *t, const ModelConfig *cfgs, int batch, const int *contexts, int n_contexts);
#endif
