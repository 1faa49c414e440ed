#include "core/safetensors.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/common.h"

#define ST_MAX_HEADER (100u * 1000 * 1000)

size_t st_dtype_size(const char *d) {
    static const struct { const char *name; size_t size; } table[] = {
        {"F64", 8}, {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"F8_E4M3", 1}, {"F8_E5M2", 1}, {"I64", 8},
        {"I32", 4}, {"I16", 2}, {"I8", 1}, {"U64", 8}, {"U32", 4}, {"U16", 2}, {"U8", 1}, {"BOOL", 1}};
    for (size_t i = 0; i < sizeof table / sizeof *table; i++)
        if (!strcmp(d, table[i].name)) return table[i].size;
    return 0;
}

void st_free(StFile *f) {
    for (int i = 0; i < f->n; i++) free(f->t[i].name);
    for (int i = 0; i < f->n_meta; i++) { free(f->meta_keys[i]); free(f->meta_vals[i]); }
    free(f->t);
    free(f->meta_keys);
    free(f->meta_vals);
    free(f->buf);
    memset(f, 0, sizeof *f);
}

static int cmp_begin(const void *a, const void *b) {
    const StTensor *x = a, *y = b;
    return x->begin < y->begin ? -1 : x->begin > y->begin;
}

static int cmp_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int fail(StFile *f, int rc) {
    st_free(f);
    return rc;
}

int st_parse(StFile *f, uint8_t *buf, size_t len, const char *what) {
    memset(f, 0, sizeof *f);
    f->buf = buf;
    f->len = len;
    if (len < 8) return fail(f, al_errorf("%s: not a safetensors file: %zu bytes, shorter than the 8-byte header length", what, len));
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--) hl = hl << 8 | buf[i];
    if (hl > ST_MAX_HEADER) return fail(f, al_errorf("%s: header length %llu exceeds the 100 MB limit", what, (unsigned long long)hl));
    if (hl > len - 8) return fail(f, al_errorf("%s: header length %llu runs past the end of the file (%zu bytes): truncated?", what, (unsigned long long)hl, len));
    if (hl < 2 || buf[8] != '{') return fail(f, al_errorf("%s: the header is not a JSON object (it must start with '{')", what));
    f->data = buf + 8 + hl;
    f->data_len = len - 8 - hl;
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts((const char *)buf + 8, (size_t)hl, &end, 0);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return fail(f, al_errorf("%s: the header is not valid JSON", what));
    }
    /* anything after the parsed object must be padding spaces */
    for (const char *p = end; p && p < (const char *)buf + 8 + hl; p++)
        if (*p != ' ') {
            cJSON_Delete(root);
            return fail(f, al_errorf("%s: unexpected bytes after the header's JSON object", what));
        }
    int n = cJSON_GetArraySize(root);
    f->t = calloc(n ? n : 1, sizeof *f->t);
    AL_ASSERT(f->t);
    int rc = 0;
    for (cJSON *e = root->child; e && !rc; e = e->next) {
        if (!strcmp(e->string, "__metadata__")) {
            if (!cJSON_IsObject(e)) { rc = al_errorf("%s: __metadata__ must be an object of strings", what); break; }
            if (f->meta_keys) { rc = al_errorf("%s: duplicate key '__metadata__'", what); break; }
            int m = cJSON_GetArraySize(e);
            f->meta_keys = calloc(m ? m : 1, sizeof(char *));
            f->meta_vals = calloc(m ? m : 1, sizeof(char *));
            for (cJSON *kv = e->child; kv; kv = kv->next) {
                if (!cJSON_IsString(kv)) { rc = al_errorf("%s: __metadata__ value '%s' is not a string", what, kv->string); break; }
                f->meta_keys[f->n_meta] = strdup(kv->string);
                f->meta_vals[f->n_meta++] = strdup(kv->valuestring);
            }
            continue;
        }
        StTensor *t = &f->t[f->n];
        t->name = strdup(e->string);
        f->n++;
        cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype"), *sh = cJSON_GetObjectItemCaseSensitive(e, "shape"),
              *of = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
        if (!cJSON_IsObject(e) || !cJSON_IsString(dt) || !cJSON_IsArray(sh) || !cJSON_IsArray(of) || cJSON_GetArraySize(of) != 2) {
            rc = al_errorf("%s: tensor '%s' needs dtype (string), shape (array) and data_offsets ([begin, end])", what, t->name);
            break;
        }
        size_t es = st_dtype_size(dt->valuestring);
        if (!es) { rc = al_errorf("%s: tensor '%s' has unknown dtype '%s'", what, t->name, dt->valuestring); break; }
        snprintf(t->dtype, sizeof t->dtype, "%s", dt->valuestring);
        t->ndim = cJSON_GetArraySize(sh);
        if (t->ndim > ST_MAX_DIMS) { rc = al_errorf("%s: tensor '%s' has %d dimensions (at most %d)", what, t->name, t->ndim, ST_MAX_DIMS); break; }
        size_t bytes = es;
        int i = 0;
        for (cJSON *d = sh->child; d; d = d->next, i++) {
            if (!cJSON_IsNumber(d) || d->valuedouble < 0 || d->valuedouble != (double)(int64_t)d->valuedouble ||
                d->valuedouble > 9.0e15) {
                rc = al_errorf("%s: tensor '%s': shape[%d] is not a non-negative integer", what, t->name, i);
                break;
            }
            t->shape[i] = (int64_t)d->valuedouble;
            if (t->shape[i] && bytes > SIZE_MAX / (size_t)t->shape[i]) {
                rc = al_errorf("%s: tensor '%s': shape overflows 64 bits", what, t->name);
                break;
            }
            bytes *= (size_t)t->shape[i];
        }
        if (rc) break;
        cJSON *b0 = cJSON_GetArrayItem(of, 0), *b1 = cJSON_GetArrayItem(of, 1);
        if (!cJSON_IsNumber(b0) || !cJSON_IsNumber(b1) || b0->valuedouble < 0 || b1->valuedouble < b0->valuedouble ||
            b1->valuedouble > 9.0e15 || b0->valuedouble != floor(b0->valuedouble) || b1->valuedouble != floor(b1->valuedouble)) {
            rc = al_errorf("%s: tensor '%s': data_offsets must be non-negative integers with begin <= end", what, t->name);
            break;
        }
        t->begin = (size_t)b0->valuedouble;
        t->end = (size_t)b1->valuedouble;
        if (t->end > f->data_len) {
            rc = al_errorf("%s: tensor '%s': data_offsets [%zu, %zu] run past the data (%zu bytes): truncated?", what, t->name,
                           t->begin, t->end, f->data_len);
            break;
        }
        if (t->end - t->begin != bytes) {
            rc = al_errorf("%s: tensor '%s': %zu bytes in data_offsets, but dtype %s x shape needs %zu", what, t->name,
                           t->end - t->begin, t->dtype, bytes);
            break;
        }
    }
    cJSON_Delete(root);
    if (rc) return fail(f, rc);
    /* JSON allows repeated keys; a tensor name must name one tensor */
    if (!rc && f->n > 1) {
        char **names = malloc(sizeof(char *) * f->n);
        AL_ASSERT(names);
        for (int i = 0; i < f->n; i++) names[i] = f->t[i].name;
        qsort(names, f->n, sizeof(char *), cmp_name);
        for (int i = 1; i < f->n && !rc; i++)
            if (!strcmp(names[i - 1], names[i])) rc = al_errorf("%s: duplicate tensor name '%s'", what, names[i]);
        free(names);
    }
    if (rc) return fail(f, rc);
    /* ranges must tile the data section exactly: sorted, each starting where the previous ended */
    StTensor *sorted = malloc(sizeof *sorted * (f->n ? f->n : 1));
    AL_ASSERT(sorted);
    memcpy(sorted, f->t, sizeof *sorted * f->n);
    qsort(sorted, f->n, sizeof *sorted, cmp_begin);
    size_t pos = 0;
    for (int i = 0; i < f->n && !rc; i++) {
        if (sorted[i].begin != pos)
            rc = al_errorf("%s: tensor '%s' starts at byte %zu, expected %zu (%s)", what, sorted[i].name, sorted[i].begin, pos,
                           sorted[i].begin < pos ? "overlapping tensors" : "a gap in the data");
        pos = sorted[i].end;
    }
    if (!rc && pos != f->data_len)
        rc = al_errorf("%s: the tensors cover %zu of %zu data bytes", what, pos, f->data_len);
    free(sorted);
    return rc ? fail(f, rc) : 0;
}

int st_read(StFile *f, const char *path) {
    memset(f, 0, sizeof *f);
    FILE *fp = fopen(path, "rb");
    if (!fp) return al_errorf("cannot open '%s': %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(fp), &st) || !S_ISREG(st.st_mode)) { fclose(fp); return al_errorf("'%s' is not a regular file", path); }
    size_t len = (size_t)st.st_size;
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf) { fclose(fp); return al_errorf("out of memory reading '%s' (%zu bytes)", path, len); }
    size_t got = fread(buf, 1, len, fp);
    fclose(fp);
    if (got != len) { free(buf); return al_errorf("error reading '%s'", path); }
    return st_parse(f, buf, len, path);
}

const StTensor *st_find(const StFile *f, const char *name) {
    for (int i = 0; i < f->n; i++)
        if (!strcmp(f->t[i].name, name)) return &f->t[i];
    return NULL;
}

const char *st_meta(const StFile *f, const char *key) {
    for (int i = 0; i < f->n_meta; i++)
        if (!strcmp(f->meta_keys[i], key)) return f->meta_vals[i];
    return NULL;
}

static int write_all(int fd, const void *p, size_t n) {
    const uint8_t *b = p;
    while (n) {
        ssize_t w = write(fd, b, n);
        if (w < 0) { if (errno == EINTR) continue; return -1; }
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

int st_write(const char *path, const StWriteTensor *t, int n, const char *const *mk, const char *const *mv, int n_meta) {
    cJSON *root = cJSON_CreateObject();
    if (n_meta) {
        cJSON *meta = cJSON_AddObjectToObject(root, "__metadata__");
        for (int i = 0; i < n_meta; i++) cJSON_AddStringToObject(meta, mk[i], mv[i]);
    }
    size_t pos = 0;
    for (int i = 0; i < n; i++) {
        size_t bytes = st_dtype_size(t[i].dtype);
        AL_ASSERT(bytes);
        cJSON *e = cJSON_AddObjectToObject(root, t[i].name);
        cJSON_AddStringToObject(e, "dtype", t[i].dtype);
        cJSON *sh = cJSON_AddArrayToObject(e, "shape");
        for (int d = 0; d < t[i].ndim; d++) {
            cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)t[i].shape[d]));
            bytes *= (size_t)t[i].shape[d];
        }
        cJSON *of = cJSON_AddArrayToObject(e, "data_offsets");
        cJSON_AddItemToArray(of, cJSON_CreateNumber((double)pos));
        cJSON_AddItemToArray(of, cJSON_CreateNumber((double)(pos + bytes)));
        pos += bytes;
    }
    char *json = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    AL_ASSERT(json);
    /* pad the header with spaces so the data starts 8-byte aligned, as the reference writer does */
    size_t hl = strlen(json), padded = (hl + 8 + 7) / 8 * 8 - 8;
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    if (al_check_replaceable(path)) { free(json); return -1; }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) { free(json); return al_errorf("cannot write '%s': %s", tmp, strerror(errno)); }
    uint8_t len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (uint8_t)(padded >> (8 * i));
    int rc = write_all(fd, len8, 8) || write_all(fd, json, hl);
    for (size_t i = hl; i < padded && !rc; i++) rc = write_all(fd, " ", 1);
    free(json);
    for (int i = 0; i < n && !rc; i++) {
        size_t bytes = st_dtype_size(t[i].dtype);
        for (int d = 0; d < t[i].ndim; d++) bytes *= (size_t)t[i].shape[d];
        rc = write_all(fd, t[i].bytes, bytes);
    }
    if (!rc) rc = fsync(fd);
    if (close(fd)) rc = -1;
    if (rc) { unlink(tmp); return al_errorf("error writing '%s': %s", tmp, strerror(errno)); }
    if (rename(tmp, path)) { unlink(tmp); return al_errorf("cannot rename '%s' to '%s': %s", tmp, path, strerror(errno)); }
    /* make the rename itself durable */
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0; else snprintf(dir, sizeof dir, ".");
    int dfd = open(dir, O_RDONLY);
    if (dfd >= 0) { fsync(dfd); close(dfd); }
    return 0;
}
