/* `archlab plot METRICS.jsonl [MORE.jsonl ...] --x step --y loss,grad_norm -o loss.png`: a line plot straight
 * from metrics files (several files: one series per file and field, named by the file, to compare runs). A series drawn from the records that hold it: one recorded at some records only (val_loss at
 * evaluation steps) is joined from point to point and marked at each, so a handful of evaluations is as
 * visible as the per-log loss; a null or NaN value is a gap. A record that is not valid JSON stops with
 * "FILE:LINE: ...". NaN and Infinity, which Python's json module writes bare, are read as gaps/values
 * rather than rejected, since a diverged run is exactly what one wants to plot. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "plots/plot.h"
#include "scripts/lua_plot.h"

#define MAX_Y 16

static void usage(FILE *f) {
    fprintf(f,
            "usage: archlab plot METRICS.jsonl [MORE.jsonl ...] --y NAME[,NAME...] -o OUT.png|.svg|.pdf\n"
            "         [--x NAME (default step)] [--log-x] [--log-y] [--markers] [--title T]\n"
            "         [--xlabel L] [--ylabel L] [--width PT] [--height PT] [--dpi N]\n");
}

/* A copy of s with bare NaN / Infinity / -Infinity tokens outside strings replaced by null (cJSON rejects
 * them), or NULL if there are none. Caller frees. */
static char *patch_nonfinite(const char *s) {
    static const char *const tok[] = {"-Infinity", "Infinity", "NaN"};
    char *out = malloc(strlen(s) * 2 + 1), *o = out;
    int in_str = 0, changed = 0;
    if (!out) return NULL;
    for (const char *p = s; *p;) {
        if (in_str) {
            if (*p == '\\' && p[1]) *o++ = *p++;
            else if (*p == '"') in_str = 0;
            *o++ = *p++;
            continue;
        }
        if (*p == '"') in_str = 1;
        int hit = 0;
        for (int k = 0; k < 3 && !hit; k++) {
            size_t n = strlen(tok[k]);
            if (!strncmp(p, tok[k], n)) { memcpy(o, "null", 4); o += 4; p += n; hit = changed = 1; }
        }
        if (!hit) *o++ = *p++;
    }
    *o = 0;
    if (!changed) { free(out); return NULL; }
    return out;
}

/* Field by name; "a.b" also looks into nested objects. */
static const cJSON *field(const cJSON *obj, const char *name) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (v || !strchr(name, '.')) return v;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", name);
    const cJSON *cur = obj;
    for (char *save = NULL, *part = strtok_r(buf, ".", &save); part && cur; part = strtok_r(NULL, ".", &save))
        cur = cJSON_IsObject(cur) ? cJSON_GetObjectItemCaseSensitive(cur, part) : NULL;
    return cur;
}

/* A number, NaN for missing/null, or -1 with a message for anything that is not a number. */
static int value_of(const cJSON *v, double *out, const char **why) {
    if (!v || cJSON_IsNull(v)) { *out = NAN; return 0; }
    if (cJSON_IsNumber(v)) { *out = v->valuedouble; return 0; }
    if (cJSON_IsString(v)) {
        const char *s = v->valuestring;
        if (!strcasecmp(s, "nan")) { *out = NAN; return 0; }
        if (!strcasecmp(s, "inf") || !strcasecmp(s, "infinity")) { *out = INFINITY; return 0; }
        if (!strcasecmp(s, "-inf") || !strcasecmp(s, "-infinity")) { *out = -INFINITY; return 0; }
        *why = "a string";
        return -1;
    }
    *why = cJSON_IsBool(v) ? "a boolean" : cJSON_IsArray(v) ? "an array" : "an object";
    return -1;
}

static int num_arg(const char *opt, const char *s, double *v) {
    char *end;
    errno = 0;
    *v = strtod(s, &end);
    if (errno || end == s || *end) {
        fprintf(stderr, "archlab plot: %s expects a number, got '%s'\n", opt, s);
        return -1;
    }
    return 0;
}

/* One metrics file's columns: x and each --y field per record, and whether the record held the field. */
typedef struct {
    size_t n, cap;
    double *xs, *ys[MAX_Y];
    char *present[MAX_Y];
    size_t n_present[MAX_Y];
} Columns;

static void columns_free(Columns *c, int ny) {
    free(c->xs);
    for (int j = 0; j < ny; j++) { free(c->ys[j]); free(c->present[j]); }
    memset(c, 0, sizeof *c);
}

/* Reads file into c; 0, or 1 after printing "FILE:LINE: message" */
static int read_columns(const char *file, const char *xname, const char *const *ynames, int ny, Columns *c) {
    memset(c, 0, sizeof *c);
    FILE *f = fopen(file, "r");
    if (!f) { fprintf(stderr, "%s: cannot open: %s\n", file, strerror(errno)); return 1; }
    int found[MAX_Y] = {0}, found_x = 0, rc = 1;
    char *line = NULL, seen[256] = "";
    size_t lcap = 0;
    long lineno = 0;
    ssize_t len;
    while ((len = getline(&line, &lcap, f)) >= 0) {
        lineno++;
        size_t k = strspn(line, " \t\r\n");
        if (line[k] == 0) continue;
        cJSON *rec = cJSON_ParseWithLength(line, (size_t)len);
        if (!rec) {
            char *patched = patch_nonfinite(line);
            if (patched) { rec = cJSON_Parse(patched); free(patched); }
        }
        if (!rec) {
            cJSON_ParseWithLength(line, (size_t)len); /* the error position in the line as written */
            const char *at = cJSON_GetErrorPtr();
            long col = at && at >= line && at <= line + len ? (long)(at - line) + 1 : 0;
            fprintf(stderr, "%s:%ld: invalid JSON%s", file, lineno, col ? "" : "\n");
            if (col) fprintf(stderr, " at column %ld\n", col);
            goto done;
        }
        if (!cJSON_IsObject(rec)) {
            fprintf(stderr, "%s:%ld: expected a JSON object (one record per line)\n", file, lineno);
            cJSON_Delete(rec);
            goto done;
        }
        if (!seen[0]) /* the first record's fields, to list when a --y name matches none */
            for (const cJSON *e = rec->child; e; e = e->next)
                if (e->string && strlen(seen) + strlen(e->string) + 3 < sizeof seen)
                    snprintf(seen + strlen(seen), sizeof seen - strlen(seen), "%s%s", seen[0] ? ", " : "", e->string);
        if (c->n == c->cap) {
            c->cap = c->cap ? c->cap * 2 : 256;
            double *nx = realloc(c->xs, c->cap * sizeof *nx);
            if (nx) c->xs = nx;
            int ok = nx != NULL;
            for (int j = 0; j < ny && ok; j++) {
                double *nyv = realloc(c->ys[j], c->cap * sizeof *nyv);
                if (nyv) c->ys[j] = nyv;
                char *np = nyv ? realloc(c->present[j], c->cap) : NULL;
                if (np) c->present[j] = np;
                ok = nyv && np;
            }
            if (!ok) { fprintf(stderr, "archlab plot: out of memory\n"); cJSON_Delete(rec); goto done; }
        }
        const char *why = NULL;
        size_t n = c->n;
        if (value_of(field(rec, xname), &c->xs[n], &why)) {
            fprintf(stderr, "%s:%ld: field '%s' is %s, expected a number\n", file, lineno, xname, why);
            cJSON_Delete(rec);
            goto done;
        }
        found_x |= isfinite(c->xs[n]) != 0;
        for (int j = 0; j < ny; j++) {
            c->present[j][n] = field(rec, ynames[j]) != NULL;
            c->n_present[j] += (size_t)c->present[j][n];
            if (value_of(field(rec, ynames[j]), &c->ys[j][n], &why)) {
                fprintf(stderr, "%s:%ld: field '%s' is %s, expected a number\n", file, lineno, ynames[j], why);
                cJSON_Delete(rec);
                goto done;
            }
            found[j] |= isfinite(c->ys[j][n]) != 0;
        }
        c->n++;
        cJSON_Delete(rec);
    }
    if (ferror(f)) { fprintf(stderr, "%s: read error: %s\n", file, strerror(errno)); goto done; }
    if (c->n == 0) { fprintf(stderr, "%s: no records\n", file); goto done; }
    if (!found_x) {
        fprintf(stderr, "%s: no record has a numeric '%s' for x (fields of the first record: %s)\n", file, xname, seen);
        goto done;
    }
    for (int j = 0; j < ny; j++)
        if (!found[j]) {
            fprintf(stderr, "%s: no record has a numeric '%s' (fields of the first record: %s)\n", file, ynames[j], seen);
            goto done;
        }
    rc = 0;
done:
    fclose(f);
    free(line);
    return rc;
}

/* A file's name for the legend: without its directory and .jsonl */
static void stem_of(const char *file, char *out, size_t n) {
    const char *b = strrchr(file, '/');
    b = b ? b + 1 : file;
    size_t len = strlen(b);
    if (len > 6 && !strcmp(b + len - 6, ".jsonl")) len -= 6;
    snprintf(out, n, "%.*s", (int)len, b);
}

#define MAX_FILES 16

int al_cmd_plot(int argc, char **argv) {
    const char *files[MAX_FILES], *xname = "step", *ylist = NULL, *out = NULL, *title = NULL, *xlabel = NULL,
               *ylabel = NULL;
    int nf = 0;
    int log_x = 0, log_y = 0, markers = 0;
    plot_output o = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = NULL;
        char key[64];
        /* --opt=value and --opt value both work */
        const char *eq = !strncmp(a, "--", 2) ? strchr(a, '=') : NULL;
        snprintf(key, sizeof key, "%.*s", eq ? (int)(eq - a) : (int)strlen(a), a);
        int takes = !strcmp(key, "--x") || !strcmp(key, "--y") || !strcmp(key, "-o") || !strcmp(key, "--output") ||
                    !strcmp(key, "--title") || !strcmp(key, "--xlabel") || !strcmp(key, "--ylabel") ||
                    !strcmp(key, "--width") || !strcmp(key, "--height") || !strcmp(key, "--dpi");
        if (takes) {
            if (eq) val = eq + 1;
            else if (i + 1 < argc) val = argv[++i];
            else { fprintf(stderr, "archlab plot: %s needs a value (archlab plot --help shows the usage)\n", key); return 1; }
        }
        double num;
        if (!strcmp(key, "-h") || !strcmp(key, "--help")) { usage(stdout); return 0; }
        else if (!strcmp(key, "--x")) xname = val;
        else if (!strcmp(key, "--y")) ylist = val;
        else if (!strcmp(key, "-o") || !strcmp(key, "--output")) out = val;
        else if (!strcmp(key, "--title")) title = val;
        else if (!strcmp(key, "--xlabel")) xlabel = val;
        else if (!strcmp(key, "--ylabel")) ylabel = val;
        else if (!strcmp(key, "--width")) { if (num_arg(key, val, &num)) return 1; o.width = num; }
        else if (!strcmp(key, "--height")) { if (num_arg(key, val, &num)) return 1; o.height = num; }
        else if (!strcmp(key, "--dpi")) { if (num_arg(key, val, &num)) return 1; o.dpi = num; }
        else if (!strcmp(key, "--log-x")) log_x = 1;
        else if (!strcmp(key, "--log-y")) log_y = 1;
        else if (!strcmp(key, "--markers")) markers = 1;
        else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "archlab plot: unknown option '%s' (archlab plot --help shows the usage)\n", a);
            return 1;
        }
        else if (nf == MAX_FILES) { fprintf(stderr, "archlab plot: at most %d metrics files\n", MAX_FILES); return 1; }
        else files[nf++] = a;
    }
    if (!nf || !ylist || !out) {
        fprintf(stderr, "archlab plot: %s (archlab plot --help shows the usage)\n",
                !nf ? "no metrics file given" : !ylist ? "--y is required" : "-o is required");
        return 1;
    }

    /* --y a,b,c */
    char ybuf[1024];
    const char *ynames[MAX_Y];
    int ny = 0;
    snprintf(ybuf, sizeof ybuf, "%s", ylist);
    for (char *save = NULL, *t = strtok_r(ybuf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (ny == MAX_Y) { fprintf(stderr, "archlab plot: at most %d --y fields\n", MAX_Y); return 1; }
        ynames[ny++] = t;
    }
    if (!ny) { fprintf(stderr, "archlab plot: --y names no field\n"); return 1; }
    /* Check the output before reading a large file, and so that a bad -o is reported as such. */
    plot_format fmt;
    if (plot_format_of(out, &fmt)) { fprintf(stderr, "archlab plot: %s\n", plot_last_error()); return 1; }

    /* one series per file and field; several files: named by the file (and the field when there are several) */
    Columns cols[MAX_FILES];
    memset(cols, 0, sizeof cols);
    plot_series s[MAX_FILES * MAX_Y];
    char names[MAX_FILES * MAX_Y][160];
    double *compact[MAX_FILES * MAX_Y * 2] = {0};
    int ns = 0, nc = 0, rc = 1;
    size_t records = 0;
    for (int fi = 0; fi < nf; fi++) {
        if (read_columns(files[fi], xname, ynames, ny, &cols[fi])) goto done;
        Columns *c = &cols[fi];
        records += c->n;
        char stem[128];
        stem_of(files[fi], stem, sizeof stem);
        for (int j = 0; j < ny; j++) {
            if (nf == 1) snprintf(names[ns], sizeof names[ns], "%s", ynames[j]);
            else if (ny == 1) snprintf(names[ns], sizeof names[ns], "%s", stem);
            else snprintf(names[ns], sizeof names[ns], "%s: %s", stem, ynames[j]);
            s[ns] = (plot_series){.name = names[ns], .x = c->xs, .nx = c->n, .y = c->ys[j], .ny = c->n};
            if (c->n_present[j] < c->n) { /* held by some records only: joined and marked */
                double *cx = malloc((c->n_present[j] ? c->n_present[j] : 1) * sizeof(double));
                double *cy = malloc((c->n_present[j] ? c->n_present[j] : 1) * sizeof(double));
                compact[nc++] = cx;
                compact[nc++] = cy;
                if (!cx || !cy) { fprintf(stderr, "archlab plot: out of memory\n"); goto done; }
                size_t m = 0;
                for (size_t i = 0; i < c->n; i++)
                    if (c->present[j][i]) { cx[m] = c->xs[i]; cy[m++] = c->ys[j][i]; }
                s[ns] = (plot_series){.name = names[ns], .x = cx, .nx = m, .y = cy, .ny = m, .marker = 1};
            }
            ns++;
        }
    }
    plot_lines_spec sp = {.title = title, .xlabel = xlabel ? xlabel : xname,
                          .ylabel = ylabel ? ylabel : ny == 1 ? ynames[0] : NULL, .series = s, .n_series = (size_t)ns,
                          .log_x = log_x, .log_y = log_y, .markers = markers};
    if (plot_lines(out, &sp, &o)) {
        fprintf(stderr, "archlab plot: %s: %s\n", nf == 1 ? files[0] : out, plot_last_error());
        goto done;
    }
    printf("archlab plot: wrote %s (%d series, %zu records)\n", out, ns, records);
    rc = 0;
done:
    for (int fi = 0; fi < nf; fi++) columns_free(&cols[fi], ny);
    for (int i = 0; i < nc; i++) free(compact[i]);
    return rc;
}
