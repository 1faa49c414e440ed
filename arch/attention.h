/* Multi-head causal self-attention with RoPE: MHA (n_kv_heads == n_heads), GQA (groups of query heads
 * share a key/value head) and MQA (one key/value head). A sub-layer: pre-norm, fused q|k|v projection,
 * attention, output projection. Its registry entries (mha, gqa, mqa) are in arch/attention.c. */
#ifndef AL_ATTENTION_H
#define AL_ATTENTION_H
#include "arch/config.h"
#include "arch/module.h"
#include "arch/norm.h"

typedef struct Attention {
    RMSNorm norm;
    int C, H, Hkv, hd;
    size_t w_qkv; /* q_proj (H*hd, C), k_proj (Hkv*hd, C), v_proj (Hkv*hd, C): adjacent, one GEMM */
    size_t w_o;   /* o_proj (C, H*hd) */
    size_t qkv, lse, y; /* activations (lse: each attention row's log-sum-exp, B*H*T) */
    size_t work_n;      /* attention kernels' workspace, planned */
    int planB, planT;
    int layer; /* block index: this layer's slot in a KV cache */
} Attention;
#endif
