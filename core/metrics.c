#include "core/metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"

void metrics_init(MetricLog *m) { memset(m, 0, sizeof *m); }

void metrics_free(MetricLog *m) {
    for (int i = 0; i < m->n; i++) { free(m->series[i].step); free(m->series[i].value); }
    free(m->series);
    memset(m, 0, sizeof *m);
}

static Series *find(const MetricLog *m, const char *name) {
    for (int i = 0; i < m->n; i++)
        if (!strcmp(m->series[i].name, name)) return &m->series[i];
    return NULL;
}

void metrics_add(MetricLog *m, const char *name, double step, double value) {
    Series *s = find(m, name);
    if (!s) {
        if (m->n == m->cap) {
            m->cap = m->cap ? 2 * m->cap : 16;
            m->series = realloc(m->series, sizeof *m->series * m->cap);
            AL_ASSERT(m->series);
        }
        s = &m->series[m->n++];
        memset(s, 0, sizeof *s);
        snprintf(s->name, sizeof s->name, "%s", name);
    }
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 256;
        s->step = realloc(s->step, sizeof(double) * s->cap);
        s->value = realloc(s->value, sizeof(double) * s->cap);
        AL_ASSERT(s->step && s->value);
    }
    s->step[s->n] = step;
    s->value[s->n] = value;
    s->n++;
}

const Series *metrics_get(const MetricLog *m, const char *name) { return find(m, name); }

double metrics_last(const MetricLog *m, const char *name) {
    const Series *s = find(m, name);
    return s && s->n ? s->value[s->n - 1] : NAN;
}

int metrics_at(const Series *s, double step, double *value) {
    if (!s || !s->n || s->step[s->n - 1] != step) return 0;
    *value = s->value[s->n - 1];
    return 1;
}
