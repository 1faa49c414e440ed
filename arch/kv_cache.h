/* The KV cache for incremental decoding. One buffer per attention layer, (B, max_len, width) with width
 * the elements that layer keeps per token: MHA/GQA/MQA keep [keys | values] (2 n_kv_heads head_dim), MLA
 * keeps [c_KV | k_R] (kv_lora_rank + qk_rope_head_dim). The attention sub-layers ask for their buffer with
 * their own width (kv_cache_layer), so the bytes allocated are measured from what the layers actually
 * cache, and can be compared with the analytic formula of DeepSeek-V2 Table 1 (kv_elems_per_token, arch/kinds.h).
 * All B sequences advance together (len tokens each). */
#ifndef AL_KV_CACHE_H
#define AL_KV_CACHE_H
#include "arch/config.h"
#include "core/common.h"

typedef struct KVCache {
    int B, max_len, n_layers;
    int len;        /* tokens cached per sequence */
    int mla_naive;  /* MLA: 1 = decompress the latents to per-head keys/values (naive); 0 = absorbed */
    int *width;     /* per layer, elements per token (0 until the layer first appends) */
    real **layer;   /* per layer: (B, max_len, width) */
    size_t bytes;   /* bytes allocated for cached keys/values/latents */
    real *work;     /* decode workspace (scores, absorbed queries): not part of the cache proper */
    size_t work_n;
} KVCache;

/* An empty cache for B sequences of up to max_len tokens of n_layers layers; layer buffers are allocated
 * when each layer first appends. A model's cache, with its checks: model_kv_cache (arch/model.h). */
KVCache *kv_cache_alloc(int n_layers, int B, int max_len);
void kv_cache_free(KVCache *kv);
/* Forgets the cached tokens (len = 0), keeping the memory. */
void kv_cache_reset(KVCache *kv);
/* Layer l's buffer of `width` elements per token; allocated on first use. */
real *kv_cache_layer(KVCache *kv, int l, int width);
/* A workspace of at least n elements (grows; contents not kept between calls). */
real *kv_cache_work(KVCache *kv, size_t n);
/* Bytes allocated for the cache proper (sum over layers of B * max_len * width * sizeof(real)). */
size_t kv_cache_bytes(const KVCache *kv);
#endif
