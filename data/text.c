/* Text corpora: file loading and the train/validation split. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>

#include "data/data.h"

typedef struct { uint8_t *p; size_t n, cap; } Buf;

static int buf_append(Buf *b, const uint8_t *src, size_t n) {
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 1 << 20;
        while (cap < b->n + n) cap *= 2;
        uint8_t *p = realloc(b->p, cap);
        if (!p) return al_errorf("out of memory reading the corpus");
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, src, n);
    b->n += n;
    return 0;
}

/* The most corpus bytes a load takes: loading holds the corpus about three times (the file, the whole corpus,
 * the two splits), so a quarter of the available memory, and at most 8 GiB. A file larger, or a stream that
 * never ends (/dev/zero, a pipe), is refused with the limit rather than read until memory runs out. */
static size_t corpus_limit(void) {
    size_t avail = al_available_memory(), cap = (size_t)8 << 30;
    return avail && avail / 4 < cap ? avail / 4 : cap;
}

static int read_file(Buf *all, const char *path, int skip_binary, int *n_files) {
    FILE *f = fopen(path, "rb");
    if (!f) return al_errorf("cannot open data file '%s': %s", path, strerror(errno));
    size_t limit = corpus_limit();
    char lim[32];
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode))) {
        fclose(f);
        return al_errorf("data path '%s' is a device, not a file of text", path);
    }
    if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) && (size_t)st.st_size + all->n > limit) {
        fclose(f);
        return al_errorf("data file '%s' (%s) would take the corpus past what this machine can load (%s: a quarter of "
                         "the available memory, at most 8 GiB)", path, al_format_bytes((double)st.st_size, lim),
                         al_format_bytes((double)limit, lim));
    }
    Buf one = {0};
    uint8_t chunk[65536];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (one.n + got + all->n > limit) {
            fclose(f);
            free(one.p);
            return al_errorf("data file '%s' reads on past %s, what this machine can load (a device or a pipe "
                             "without end?)", path, al_format_bytes((double)limit, lim));
        }
        if (buf_append(&one, chunk, got)) { fclose(f); free(one.p); return -1; }
    }
    int err = ferror(f);
    fclose(f);
    if (err) { free(one.p); return al_errorf("error reading data file '%s'", path); }
    if (skip_binary && one.n && memchr(one.p, 0, one.n)) { free(one.p); return 0; }
    int rc = one.n ? buf_append(all, one.p, one.n) : 0;
    free(one.p);
    if (!rc && one.n) (*n_files)++;
    return rc;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int read_dir(Buf *all, const char *dir, int *n_files) {
    DIR *d = opendir(dir);
    if (!d) return al_errorf("cannot open data directory '%s': %s", dir, strerror(errno));
    char **names = NULL;
    int n = 0, cap = 0, rc = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        if (n == cap) { cap = cap ? 2 * cap : 64; names = realloc(names, cap * sizeof *names); AL_ASSERT(names); }
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    if (n > 1) qsort(names, n, sizeof *names, cmp_str); /* (an empty directory: no list to sort) */
    for (int i = 0; i < n && !rc; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        struct stat st;
        if (lstat(path, &st) == 0 && S_ISREG(st.st_mode)) rc = read_file(all, path, 1, n_files);
    }
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
    return rc;
}

int data_text_load(DataSource *d, const char *const *paths, int n_paths, double val_fraction) {
    memset(d, 0, sizeof *d);
    d->kind = DATA_TEXT;
    if (!(val_fraction > 0 && val_fraction < 1))
        return al_errorf("field 'val_fraction' = %g must be in (0, 1)", val_fraction);
    Buf all = {0};
    for (int i = 0; i < n_paths; i++) {
        struct stat st;
        if (stat(paths[i], &st) != 0) {
            free(all.p);
            return al_errorf("cannot open data path '%s': %s", paths[i], strerror(errno));
        }
        int rc = S_ISDIR(st.st_mode) ? read_dir(&all, paths[i], &d->n_files) : read_file(&all, paths[i], 0, &d->n_files);
        if (rc) { free(all.p); return -1; }
    }
    const size_t block = 8192;
    int every = (int)lround(1.0 / val_fraction);
    size_t n_blocks = (all.n + block - 1) / block;
    if (all.n < 4 * block || n_blocks < (size_t)every) {
        free(all.p);
        return al_errorf("corpus %s is too small: %zu bytes (need at least %zu for a train/validation split)",
                         n_paths ? paths[0] : "", all.n, (size_t)every * block > 4 * block ? (size_t)every * block : 4 * block);
    }
    Buf split[2] = {{0}, {0}};
    for (size_t b = 0; b < n_blocks; b++) {
        size_t lo = b * block, hi = lo + block < all.n ? lo + block : all.n;
        int s = (int)(b % every) == every - 1 ? SPLIT_VAL : SPLIT_TRAIN;
        if (buf_append(&split[s], all.p + lo, hi - lo)) { free(all.p); free(split[0].p); free(split[1].p); return -1; }
    }
    free(all.p);
    for (int s = 0; s < 2; s++) { d->split_bytes[s] = split[s].p; d->split_len[s] = split[s].n; }
    snprintf(d->description, sizeof d->description, "text: %d files, %zu train + %zu validation bytes",
             d->n_files, d->split_len[0], d->split_len[1]);
    return 0;
}

double data_unigram_entropy(const DataSource *d) {
    if (d->kind != DATA_TEXT) return NAN;
    double count[256] = {0};
    for (size_t i = 0; i < d->split_len[SPLIT_TRAIN]; i++) count[d->split_bytes[SPLIT_TRAIN][i]]++;
    double h = 0, n = (double)d->split_len[SPLIT_TRAIN];
    for (int i = 0; i < 256; i++)
        if (count[i] > 0) h -= count[i] / n * log(count[i] / n);
    return h;
}
