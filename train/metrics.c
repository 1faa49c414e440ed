#include "train/metrics.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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

int make_parent_dirs(const char *path) {
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(buf, 0777) && errno != EEXIST) return al_errorf("cannot create directory '%s': %s", buf, strerror(errno));
        *p = '/';
    }
    return 0;
}

int jsonl_open(JsonlWriter *w, const char *path, int append) {
    memset(w, 0, sizeof *w);
    if (make_parent_dirs(path)) return -1;
    w->f = fopen(path, append ? "a" : "w");
    if (!w->f) return al_errorf("cannot write metrics file '%s': %s", path, strerror(errno));
    return 0;
}

void jsonl_begin(JsonlWriter *w) {
    if (!w->f) return;
    fputc('{', w->f);
    w->fields = 0;
}

void jsonl_num(JsonlWriter *w, const char *key, double v) {
    if (!w->f) return;
    fprintf(w->f, "%s\"%s\": ", w->fields++ ? ", " : "", key);
    if (isfinite(v)) fprintf(w->f, "%.9g", v); else fputs("null", w->f);
}

void jsonl_str(JsonlWriter *w, const char *key, const char *v) {
    if (!w->f) return;
    fprintf(w->f, "%s\"%s\": \"", w->fields++ ? ", " : "", key);
    for (const char *p = v; *p; p++) {
        if (*p == '"' || *p == '\\') fputc('\\', w->f);
        if ((unsigned char)*p < 0x20) fprintf(w->f, "\\u%04x", *p); else fputc(*p, w->f);
    }
    fputc('"', w->f);
}

void jsonl_end(JsonlWriter *w) {
    if (!w->f) return;
    fputs("}\n", w->f);
    fflush(w->f);
}

void jsonl_close(JsonlWriter *w) {
    if (w->f) fclose(w->f);
    w->f = NULL;
}
