#include "core/params.h"

#include <string.h>

#include "core/backend.h"

void ps_init(ParamStore *ps, int meta) {
    memset(ps, 0, sizeof *ps);
    ps->meta = meta;
}

void ps_free(ParamStore *ps) {
    free(ps->info);
    K->free(ps->data);
    K->free(ps->grad);
    K->free(ps->adam_m);
    K->free(ps->adam_v);
    memset(ps, 0, sizeof *ps);
}

size_t ps_add(ParamStore *ps, const char *name, int ndim, const int64_t *shape, InitKind init, double std,
              int decay, const char *component) {
    AL_ASSERT(ndim >= 1 && ndim <= 4);
    AL_ASSERT(!ps->data); /* declarations come before allocation */
    if (ps->n >= PS_MAX_TENSORS) { /* a config with absurd counts (experts x layers): refused, not stored */
        ps->overflow = 1;
        return ps->total;
    }
    if (ps->n == ps->cap) {
        ps->cap = ps->cap ? 2 * ps->cap : 64;
        ps->info = realloc(ps->info, sizeof(ParamInfo) * ps->cap);
        AL_ASSERT(ps->info);
    }
    ParamInfo *p = &ps->info[ps->n++];
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    snprintf(p->component, sizeof p->component, "%s", component);
    p->ndim = ndim;
    p->numel = 1;
    for (int i = 0; i < ndim; i++) {
        p->shape[i] = shape[i];
        if (shape[i] < 0 || (shape[i] && p->numel > SIZE_MAX / 8 / (size_t)shape[i])) ps->overflow = 1;
        else p->numel *= (size_t)shape[i];
    }
    p->init = init;
    p->std = std;
    p->decay = decay;
    p->offset = ps->total;
    if (ps->total > SIZE_MAX / 8 - p->numel) ps->overflow = 1; /* counts (and byte sizes) must fit 64 bits */
    else ps->total += p->numel;
    return p->offset;
}

size_t ps_add_fill(ParamStore *ps, const char *name, int ndim, const int64_t *shape, InitKind init, double hot,
                   double cold, int index, int decay, const char *component) {
    size_t off = ps_add(ps, name, ndim, shape, init, 0, decay, component);
    ParamInfo *p = &ps->info[ps->n - 1];
    p->hot = hot;
    p->cold = cold;
    p->index = index;
    AL_ASSERT(init != INIT_EYE || (ndim == 2 && shape[0] == shape[1]));
    return off;
}

static real init_value(const ParamInfo *p, size_t j, Rng *rng) {
    switch (p->init) {
    case INIT_ONES: return 1;
    case INIT_NORMAL: return (real)rng_normal(rng, p->std);
    case INIT_CONST: return (real)p->hot;
    case INIT_EYE: return (real)(j / p->shape[1] == j % p->shape[1] ? p->hot : p->cold);
    case INIT_ONEHOT: return (real)(j == (size_t)p->index ? p->hot : p->cold);
    default: return 0;
    }
}

int ps_allocate(ParamStore *ps, Rng *rng) {
    AL_ASSERT(!ps->meta);
    if (!(ps->data = K->alloc(ps->total, "parameters"))) return -1;
    if (!(ps->grad = K->alloc(ps->total, "gradients"))) return -1;
    /* drawn on the host in declaration order and copied to the device a chunk at a time (the store may be
     * device memory: written only through the backend's copy) */
    enum { CHUNK = 16384 };
    real *buf = malloc(sizeof(real) * CHUNK);
    AL_ASSERT(buf);
    for (int i = 0; i < ps->n; i++) {
        ParamInfo *p = &ps->info[i];
        for (size_t j0 = 0; j0 < p->numel; j0 += CHUNK) {
            size_t n = p->numel - j0 < CHUNK ? p->numel - j0 : CHUNK;
            for (size_t j = 0; j < n; j++) buf[j] = init_value(p, j0 + j, rng);
            K->to_device(ps->data + p->offset + j0, buf, n);
        }
    }
    free(buf);
    return 0;
}

int ps_allocate_adam(ParamStore *ps) {
    if (ps->adam_m) return 0;
    if (!(ps->adam_m = K->alloc(ps->total, "AdamW first moments"))) return -1;
    if (!(ps->adam_v = K->alloc(ps->total, "AdamW second moments"))) return -1;
    return 0;
}

const ParamInfo *ps_find(const ParamStore *ps, const char *name) {
    for (int i = 0; i < ps->n; i++)
        if (!strcmp(ps->info[i].name, name)) return &ps->info[i];
    return NULL;
}

size_t ps_count(const ParamStore *ps, const char *component) {
    size_t s = 0;
    for (int i = 0; i < ps->n; i++)
        if (!component || !strcmp(ps->info[i].component, component)) s += ps->info[i].numel;
    return s;
}
