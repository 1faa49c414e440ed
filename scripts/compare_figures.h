/* archlab compare's figures (scripts/compare_figures.c). */
#ifndef AL_COMPARE_FIGURES_H
#define AL_COMPARE_FIGURES_H
#include "analysis/compare.h"
#include "core/common.h"

/* Writes DIR/kv_context.png, params.png and flops.png from the table; their paths into paths. -1 + message
 * (a FLOPs part not counted, a context beyond a model's seq_len, leaves a bar out rather than failing). */
int compare_figures(const Compare *c, int batch, double memory, const char *dir, char paths[3][4096]);
#endif
