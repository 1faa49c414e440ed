/* A run's recorded metrics: named series of (step, value) pairs, appended by the code that measures them,
 * and optionally streamed to a JSON Lines file as they come. */
#ifndef AL_METRICS_H
#define AL_METRICS_H
#include <stdio.h>

typedef struct Series {
    char name[48];
    int n, cap;
    double *step, *value;
} Series;

typedef struct MetricLog {
    Series *series;
    int n, cap;
} MetricLog;

void metrics_init(MetricLog *m);
void metrics_free(MetricLog *m);
void metrics_add(MetricLog *m, const char *name, double step, double value);
const Series *metrics_get(const MetricLog *m, const char *name);
/* last value of a series, NaN if empty or absent */
double metrics_last(const MetricLog *m, const char *name);

/* One JSON object per line: {"step": 10, "loss": 2.31, ...}; non-finite values are written as null. */
typedef struct JsonlWriter {
    FILE *f;
    int fields;
} JsonlWriter;
/* Creates parent directories; append = 1 continues an existing file. -1 + message naming the path. */
int jsonl_open(JsonlWriter *w, const char *path, int append);
void jsonl_begin(JsonlWriter *w);
void jsonl_num(JsonlWriter *w, const char *key, double v);
void jsonl_str(JsonlWriter *w, const char *key, const char *v);
void jsonl_end(JsonlWriter *w); /* newline + flush, so a crash loses at most the line being written */
void jsonl_close(JsonlWriter *w);
/* mkdir -p of the directory part of path */
int make_parent_dirs(const char *path);
#endif
