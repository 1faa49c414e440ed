/* archlab compare's table as text, Markdown, CSV or JSON (analysis/compare.h holds the numbers). Cells are
 * human-sized (15.71 B parameters, 2.37 GFLOP, 1.5 GiB) with the difference to the first column in percent;
 * CSV and JSON keep the exact numbers. A quantity not counted (a context beyond the model's seq_len) is "-". */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scripts/compare_format.h"

static void si(double v, char *buf, size_t n, const char *unit) {
    static const char *const p[] = {"", " K", " M", " G", " T", " P"};
    int i = 0;
    while (fabs(v) >= 1000 && i < 5) { v /= 1000; i++; }
    if (i) snprintf(buf, n, "%.2f%s%s", v, p[i], unit);
    else snprintf(buf, n, "%.0f%s%s", v, *unit ? " " : "", unit);
}

static void grouped(double v, char *buf, size_t n) { /* 1,966,080 */
    char d[64];
    snprintf(d, sizeof d, "%.0f", v);
    size_t len = strlen(d), k = 0;
    int neg = d[0] == '-';
    for (size_t i = 0; i < len && k + 2 < n; i++) {
        buf[k++] = d[i];
        size_t left = len - i - 1;
        if (left && left % 3 == 0 && !(neg && i == 0)) buf[k++] = ',';
    }
    buf[k] = 0;
}

static void cell(const CompareRow *r, int j, char *buf, size_t n) {
    double v = r->v[j];
    if (isnan(v)) { snprintf(buf, n, "%s", r->note[j][0] ? r->note[j] : "-"); return; }
    char a[48];
    if (!strcmp(r->unit, "bytes")) al_format_bytes(v, a);
    else if (!strcmp(r->unit, "params")) si(v, a, sizeof a, "");
    else if (!strcmp(r->unit, "FLOP")) si(v, a, sizeof a, "FLOP");
    else if (!strcmp(r->unit, "tokens/s")) snprintf(a, sizeof a, "%.0f tok/s", v);
    else grouped(v, a, sizeof a);
    if (j == 0 || isnan(r->v[0]) || r->v[0] == 0) { snprintf(buf, n, "%s", a); return; }
    snprintf(buf, n, "%s (%+.1f%%)", a, 100.0 * (v - r->v[0]) / r->v[0]);
}

double compare_diff_pct(const CompareRow *r, int j) {
    if (isnan(r->v[j]) || isnan(r->v[0]) || r->v[0] == 0) return NAN;
    return 100.0 * (r->v[j] - r->v[0]) / r->v[0];
}

/* a growing string */
typedef struct { char *s; size_t n, cap; } Out;
static void put(Out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(Out *o, const char *fmt, ...) {
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int k = vsnprintf(o->s ? o->s + o->n : NULL, o->s ? o->cap - o->n : 0, fmt, ap);
        va_end(ap);
        if (k < 0) return;
        if (o->s && o->n + (size_t)k < o->cap) { o->n += (size_t)k; return; }
        size_t cap = (o->cap + (size_t)k + 1) * 2;
        char *s = realloc(o->s, cap);
        if (!s) return;
        o->s = s;
        o->cap = cap;
    }
}

static void csv_field(Out *o, const char *s) {
    put(o, "\"");
    for (; *s; s++) put(o, *s == '"' ? "\"\"" : "%c", *s);
    put(o, "\"");
}

char *compare_format(const Compare *c, const char *format) {
    Out o = {0};
    put(&o, "%s", "");
    if (!strcmp(format, "json")) {
        cJSON *root = cJSON_CreateObject(), *labels = cJSON_AddArrayToObject(root, "configs");
        for (int j = 0; j < c->n; j++) cJSON_AddItemToArray(labels, cJSON_CreateString(c->label[j]));
        cJSON *rows = cJSON_AddArrayToObject(root, "rows");
        for (int i = 0; i < c->n_rows; i++) {
            const CompareRow *r = &c->rows[i];
            cJSON *e = cJSON_CreateObject();
            cJSON_AddStringToObject(e, "quantity", r->name);
            cJSON_AddStringToObject(e, "unit", r->unit);
            cJSON *v = cJSON_AddArrayToObject(e, "values"), *d = cJSON_AddArrayToObject(e, "diff_pct");
            cJSON *notes = NULL;
            for (int j = 0; j < c->n; j++) {
                if (r->note[j][0]) {
                    if (!notes) notes = cJSON_AddObjectToObject(e, "notes");
                    cJSON_AddStringToObject(notes, c->label[j], r->note[j]);
                }
                cJSON_AddItemToArray(v, isnan(r->v[j]) ? cJSON_CreateNull() : cJSON_CreateNumber(r->v[j]));
                double p = compare_diff_pct(r, j);
                cJSON_AddItemToArray(d, isnan(p) ? cJSON_CreateNull() : cJSON_CreateNumber(p));
            }
            cJSON_AddItemToArray(rows, e);
        }
        char *s = cJSON_Print(root);
        cJSON_Delete(root);
        put(&o, "%s\n", s ? s : "");
        free(s);
        return o.s;
    }
    if (!strcmp(format, "csv")) {
        put(&o, "quantity,unit");
        for (int j = 0; j < c->n; j++) { put(&o, ","); csv_field(&o, c->label[j]); }
        put(&o, "\n");
        for (int i = 0; i < c->n_rows; i++) {
            const CompareRow *r = &c->rows[i];
            csv_field(&o, r->name);
            put(&o, ",%s", r->unit);
            for (int j = 0; j < c->n; j++) isnan(r->v[j]) ? put(&o, ",") : put(&o, ",%.17g", r->v[j]);
            put(&o, "\n");
        }
        return o.s;
    }
    /* text and Markdown: the cells first, then the widths */
    int md = !strcmp(format, "markdown") || !strcmp(format, "md");
    size_t w0 = strlen("quantity"), w[COMPARE_MAX_CONFIGS];
    static char cells[COMPARE_MAX_ROWS][COMPARE_MAX_CONFIGS][64];
    for (int j = 0; j < c->n; j++) w[j] = strlen(c->label[j]);
    for (int i = 0; i < c->n_rows; i++) {
        if (strlen(c->rows[i].name) > w0) w0 = strlen(c->rows[i].name);
        for (int j = 0; j < c->n; j++) {
            cell(&c->rows[i], j, cells[i][j], sizeof cells[i][j]);
            if (strlen(cells[i][j]) > w[j]) w[j] = strlen(cells[i][j]);
        }
    }
    const char *sep = md ? " | " : "  ";
    put(&o, "%s%-*s", md ? "| " : "", (int)w0, "quantity");
    for (int j = 0; j < c->n; j++) put(&o, "%s%*s", sep, (int)w[j], c->label[j]);
    put(&o, "%s\n", md ? " |" : "");
    if (md) {
        put(&o, "|%s", "");
        for (size_t k = 0; k < w0 + 2; k++) put(&o, "-");
        for (int j = 0; j < c->n; j++) {
            put(&o, "|");
            for (size_t k = 0; k < w[j] + 1; k++) put(&o, "-");
            put(&o, ":");
        }
        put(&o, "|\n");
    }
    for (int i = 0; i < c->n_rows; i++) {
        put(&o, "%s%-*s", md ? "| " : "", (int)w0, c->rows[i].name);
        for (int j = 0; j < c->n; j++) put(&o, "%s%*s", sep, (int)w[j], cells[i][j]);
        put(&o, "%s\n", md ? " |" : "");
    }
    return o.s;
}
