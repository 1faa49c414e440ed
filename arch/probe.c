/* The probe sink (arch/probe.h): a growing list of named copies. */
#include "arch/probe.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/backend.h"

struct ProbeSink {
    char **patterns;
    int n_patterns, list_only, failed;
    Probe *p;
    int n, cap;
};

ProbeSink *probe_sink_new(const char *const *patterns, int n_patterns, int list_only) {
    ProbeSink *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->patterns = calloc(n_patterns ? n_patterns : 1, sizeof *s->patterns);
    if (!s->patterns) { free(s); return NULL; }
    for (int i = 0; i < n_patterns; i++) {
        s->patterns[i] = strdup(patterns[i]);
        if (!s->patterns[i]) { s->n_patterns = i; probe_sink_free(s); return NULL; }
    }
    s->n_patterns = n_patterns;
    s->list_only = list_only;
    return s;
}

void probe_sink_free(ProbeSink *s) {
    if (!s) return;
    for (int i = 0; i < s->n_patterns; i++) free(s->patterns[i]);
    free(s->patterns);
    for (int i = 0; i < s->n; i++) tensor_free(&s->p[i].t);
    free(s->p);
    free(s);
}

int probe_count(const ProbeSink *s) { return s->n; }
Probe *probe_at(ProbeSink *s, int i) { return i >= 0 && i < s->n ? &s->p[i] : NULL; }
int probe_status(const ProbeSink *s) { return s->failed ? -1 : 0; }

int probe_match(const char *p, const char *n) {
    if (!*p) return !*n;
    if (*p == '*') {
        for (const char *k = n;; k++) {
            if (probe_match(p + 1, k)) return 1;
            if (!*k) return 0;
        }
    }
    if (!*n) return 0;
    return (*p == '?' || *p == *n) && probe_match(p + 1, n + 1);
}

int probe_wants(ProbeSink *s, const char *name) {
    if (!s || s->failed) return 0;
    for (int i = 0; i < s->n_patterns; i++)
        if (probe_match(s->patterns[i], name)) return 1;
    return 0;
}

/* a new entry (NULL + failed on out of memory) */
static Probe *add(ProbeSink *s, const char *name, int ndim, const int64_t *shape) {
    if (s->n == s->cap) {
        int cap = s->cap ? 2 * s->cap : 64;
        Probe *p = realloc(s->p, (size_t)cap * sizeof *p);
        if (!p) { s->failed = 1; al_errorf("out of memory for probes"); return NULL; }
        s->p = p;
        s->cap = cap;
    }
    Probe *e = &s->p[s->n++];
    memset(e, 0, sizeof *e);
    snprintf(e->name, sizeof e->name, "%s", name);
    e->ndim = ndim;
    for (int d = 0; d < ndim; d++) e->shape[d] = shape[d];
    return e;
}

#ifdef AL_DOUBLE
#define REAL_DTYPE TENSOR_F64
#else
#define REAL_DTYPE TENSOR_F32
#endif

/* the entry's tensor, allocated (NULL when listing, unwanted or out of memory) */
static real *buffer(ProbeSink *s, const char *name, int ndim, const int64_t *shape) {
    if (!probe_wants(s, name)) return NULL;
    Probe *e = add(s, name, ndim, shape);
    if (!e || s->list_only) return NULL;
    if (tensor_new(&e->t, REAL_DTYPE, ndim, shape)) { s->failed = 1; s->n--; return NULL; }
    return tensor_data(&e->t);
}

/* n elements of a device buffer copied to a new host buffer (the activations may be device memory: read only
 * through the backend's copy); NULL + failed on out of memory */
static real *host_copy(ProbeSink *s, const real *dev, size_t n) {
    real *h = malloc(sizeof(real) * (n ? n : 1));
    if (!h) { s->failed = 1; al_errorf("out of memory for probes"); return NULL; }
    K->to_host(h, dev, n);
    return h;
}

void probe_emit(ProbeSink *s, const char *name, int ndim, const int64_t *shape, const int64_t *stride, const real *data) {
    real *out = buffer(s, name, ndim, shape);
    if (!out) return;
    int64_t n = 1, idx[TENSOR_MAX_DIMS] = {0}, st[TENSOR_MAX_DIMS], extent = 1;
    for (int d = ndim - 1; d >= 0; d--) {
        st[d] = stride ? stride[d] : n;
        n *= shape[d];
        extent += shape[d] ? (shape[d] - 1) * st[d] : 0;
    }
    if (!stride) { K->to_host(out, data, (size_t)n); return; }
    real *h = n ? host_copy(s, data, (size_t)extent) : NULL; /* the strided view's whole span, then gathered */
    if (n && !h) return;
    for (int64_t i = 0; i < n; i++) {
        int64_t o = 0;
        for (int d = 0; d < ndim; d++) o += idx[d] * st[d];
        out[i] = h[o];
        for (int d = ndim - 1; d >= 0 && ++idx[d] == shape[d]; d--) idx[d] = 0;
    }
    free(h);
}

void probe_emit_ints(ProbeSink *s, const char *name, int ndim, const int64_t *shape, const int *data) {
    real *out = buffer(s, name, ndim, shape);
    if (!out) return;
    int64_t n = 1;
    for (int d = 0; d < ndim; d++) n *= shape[d];
    for (int64_t i = 0; i < n; i++) out[i] = (real)data[i];
}

void probe_name(char *buf, size_t n, int sub, const char *what) {
    snprintf(buf, n, "layer%d.%s.%s", sub / 2, sub % 2 ? "ffn" : "attn", what);
}

void probe_rows(ProbeSink *s, int sub, const char *what, const real *data, int B, int T, int width) {
    char name[80];
    probe_name(name, sizeof name, sub, what);
    probe_emit(s, name, 3, (int64_t[]){B, T, width}, NULL, data);
}

void probe_attention(ProbeSink *s, int sub, const real *q, const real *k, const real *v, const real *lse,
                     const AttnShape *a) {
    char name[80];
    int B = a->B, T = a->T, H = a->H, G = a->H / a->Hkv;
    probe_name(name, sizeof name, sub, "q");
    probe_emit(s, name, 4, (int64_t[]){B, T, H, a->dk}, (int64_t[]){(int64_t)T * a->q_stride, a->q_stride, a->dk, 1}, q);
    probe_name(name, sizeof name, sub, "k");
    probe_emit(s, name, 4, (int64_t[]){B, T, a->Hkv, a->dk}, (int64_t[]){(int64_t)T * a->k_stride, a->k_stride, a->dk, 1}, k);
    probe_name(name, sizeof name, sub, "v");
    probe_emit(s, name, 4, (int64_t[]){B, T, a->Hkv, a->dv}, (int64_t[]){(int64_t)T * a->v_stride, a->v_stride, a->dv, 1}, v);
    probe_name(name, sizeof name, sub, "probs");
    real *p = buffer(s, name, 4, (int64_t[]){B, H, T, T});
    if (!p) return;
    const real *qd = q, *kd = k, *ld = lse;
    size_t rows = (size_t)B * T - 1;
    real *qh = host_copy(s, qd, rows * a->q_stride + (size_t)H * a->dk);
    real *kh = host_copy(s, kd, rows * a->k_stride + (size_t)a->Hkv * a->dk);
    real *lh = host_copy(s, ld, (size_t)B * H * T);
    if (!qh || !kh || !lh) { free(qh); free(kh); free(lh); return; }
    q = qh; k = kh; lse = lh;
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int i = 0; i < T; i++) {
                const real *qi = q + ((size_t)b * T + i) * a->q_stride + (size_t)h * a->dk;
                double L = lse[((size_t)b * H + h) * T + i];
                real *row = p + (((size_t)b * H + h) * T + i) * T;
                for (int j = 0; j <= i; j++) {
                    const real *kj = k + ((size_t)b * T + j) * a->k_stride + (size_t)(h / G) * a->dk;
                    double dot = 0;
                    for (int d = 0; d < a->dk; d++) dot += (double)qi[d] * kj[d];
                    row[j] = (real)exp(a->scale * dot - L);
                }
            }
    free(qh); free(kh); free(lh);
}
