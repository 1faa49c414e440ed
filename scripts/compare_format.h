/* archlab compare's table rendered (scripts/compare_format.c). */
#ifndef AL_COMPARE_FORMAT_H
#define AL_COMPARE_FORMAT_H
#include "analysis/compare.h"
#include "core/common.h"

/* format: "text", "markdown" (or "md"), "csv", "json"; a malloc'd string (NULL when out of memory) */
char *compare_format(const Compare *c, const char *format);
/* The difference of column j to the first in percent, NaN where either is not counted */
double compare_diff_pct(const CompareRow *r, int j);
#endif
