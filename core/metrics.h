/* A run's recorded metrics: named series of (step, value) pairs, appended by the code that measures them
 * (the trainer its loss, a MoE layer its expert loads, a residual family its gains). In core/ so that arch/
 * modules record their own measurements and train/ reads them, both from below. */
#ifndef AL_METRICS_H
#define AL_METRICS_H

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
/* the value of a series at exactly `step` when its last point is there (1), else 0 */
int metrics_at(const Series *s, double step, double *value);
#endif
