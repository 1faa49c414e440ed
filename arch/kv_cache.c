#include "arch/kv_cache.h"

#include "core/backend.h"

KVCache *kv_cache_alloc(int n_layers, int B, int max_len) {
    KVCache *kv = calloc(1, sizeof *kv);
    AL_ASSERT(kv);
    kv->B = B;
    kv->max_len = max_len;
    kv->n_layers = n_layers;
    kv->width = calloc(n_layers, sizeof(int));
    kv->layer = calloc(n_layers, sizeof(real *));
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
        AL_ASSERT(kv->layer[l]); /* model_kv_cache checked the memory */
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
