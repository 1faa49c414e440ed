#include "arch/kv_cache.h"

#include <string.h>

#include "core/backend.h"

double kv_cache_formula_elems(const ModelConfig *c) {
    double l = c->n_layers;
    if (!strcmp(c->attention, "mla")) return (c->kv_lora_rank + c->qk_rope_head_dim) * l;
    if (!strcmp(c->attention, "mqa")) return 2.0 * c->head_dim * l;
    if (!strcmp(c->attention, "gqa")) return 2.0 * c->n_kv_heads * c->head_dim * l;
    return 2.0 * c->n_heads * c->head_dim * l; /* mha */
}

KVCache *kv_cache_create(const ModelConfig *cfg, int B, int max_len) {
    if (B < 1) { al_errorf("KV cache: batch size %d must be at least 1", B); return NULL; }
    if (max_len < 1 || max_len > cfg->seq_len) {
        al_errorf("KV cache: a context of %d tokens is outside [1, seq_len = %d], the model's maximum context "
                  "(field 'seq_len')", max_len, cfg->seq_len);
        return NULL;
    }
    double need = kv_cache_formula_elems(cfg) * B * max_len * sizeof(real);
    size_t avail = al_available_memory();
    if (avail && need > 0.5 * (double)avail) {
        char a[32], b[32];
        al_errorf("KV cache: %d x %d tokens need %s, but only %s is available", B, max_len, al_format_bytes(need, a),
                  al_format_bytes((double)avail, b));
        return NULL;
    }
    KVCache *kv = calloc(1, sizeof *kv);
    AL_ASSERT(kv);
    kv->B = B;
    kv->max_len = max_len;
    kv->n_layers = cfg->n_layers;
    kv->width = calloc(cfg->n_layers, sizeof(int));
    kv->layer = calloc(cfg->n_layers, sizeof(real *));
    AL_ASSERT(kv->width && kv->layer);
    return kv;
}

void kv_cache_free(KVCache *kv) {
    if (!kv) return;
    for (int l = 0; l < kv->n_layers; l++) K->free(kv->layer[l]);
    free(kv->layer);
    free(kv->width);
    K->free(kv->work);
    free(kv);
}

void kv_cache_reset(KVCache *kv) { kv->len = 0; }

real *kv_cache_layer(KVCache *kv, int l, int width) {
    AL_ASSERT(l >= 0 && l < kv->n_layers);
    if (!kv->layer[l]) {
        size_t n = (size_t)kv->B * kv->max_len * width;
        kv->layer[l] = K->alloc(n, "KV cache");
        AL_ASSERT(kv->layer[l]); /* kv_cache_create checked the memory */
        kv->width[l] = width;
        kv->bytes += n * sizeof(real);
    }
    AL_ASSERT(kv->width[l] == width);
    return kv->layer[l];
}

real *kv_cache_work(KVCache *kv, size_t n) {
    if (n > kv->work_n) {
        K->free(kv->work);
        kv->work = K->alloc(n, "decode workspace");
        AL_ASSERT(kv->work);
        kv->work_n = n;
    }
    return kv->work;
}

size_t kv_cache_bytes(const KVCache *kv) { return kv->bytes; }
