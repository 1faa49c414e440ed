#include "core/jsonl.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include "core/common.h"

int jsonl_open(JsonlWriter *w, const char *path, int append) {
    memset(w, 0, sizeof *w);
    if (make_parent_dirs(path)) return -1;
    snprintf(w->path, sizeof w->path, "%s", path);
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

int jsonl_end(JsonlWriter *w) {
    if (!w->f) return 0;
    fputs("}\n", w->f);
    errno = 0;
    if (fflush(w->f) || ferror(w->f))
        return al_errorf("cannot write metrics file '%s': %s", w->path, errno ? strerror(errno) : "write error");
    return 0;
}

void jsonl_close(JsonlWriter *w) {
    if (w->f) fclose(w->f);
    w->f = NULL;
}
