/* Multi-head Latent Attention (DeepSeek-V2 sec. 2.1, V3 eqs. 1-11; docs/EQUATIONS.md sec. 3).
 *   c_KV = RMSNorm(W_DKV h) (d_c)        k_C,i = W_UK,i c_KV, v_i = W_UV,i c_KV        (n_h heads)
 *   q_C = W_UQ RMSNorm(W_DQ h) with q_lora_rank d_c' > 0, else q_C = W_Q h
 *   q_R,i = RoPE(per-head part of the query) (d_hR), k_R = RoPE(W_KR h): ONE rope key shared by all heads
 *   q_i = [q_C,i ; q_R,i], k_i = [k_C,i ; k_R], softmax scale 1/sqrt(d_h + d_hR), out = W_O [o_1 .. o_nh]
 * Parameters follow Hugging Face's DeepSeek-V2 layout and names: q_proj or q_a_proj/q_a_layernorm/q_b_proj
 * (query rows per head [nope ; rope]), kv_a_proj_with_mqa (rows [W_DKV ; W_KR]), kv_a_layernorm,
 * kv_b_proj (rows per head [W_UK,i ; W_UV,i]), o_proj.
 * Decoding caches only [c_KV | k_R] per token. The absorbed path (default) folds W_UK,i into the query
 * (q'_i = W_UK,i^T q_C,i, so scores = q'_i . c_KV + q_R,i . k_R: one shared "kv head" of width d_c + d_hR)
 * and W_UV,i into W_O (W_O' = [W_O,i W_UV,i]_i, applied to the attention-weighted latents); the naive path
 * (KVCache.mla_naive) decompresses every cached latent to per-head keys and values. Both must equal the
 * training forward. */
#ifndef AL_MLA_H
#define AL_MLA_H
#include "arch/config.h"
#include "arch/module.h"
#include "arch/norm.h"

typedef struct Mla {
    RMSNorm norm, q_norm, kv_norm;
    int C, H, dn, dr, dv, dc, dq, layer; /* dq = q_lora_rank, 0 = no query compression */
    size_t w_q;   /* q_proj (H*(dn+dr), C), or q_a_proj (dq, C) */
    size_t w_qb;  /* q_b_proj (H*(dn+dr), dq) when dq > 0 */
    size_t w_kva; /* kv_a_proj_with_mqa (dc + dr, C) */
    size_t w_kvb; /* kv_b_proj (H*(dn+dv), dc) */
    size_t w_o;   /* o_proj (C, H*dv) */
    size_t cq, q, ckv, kr, kv, kf, vf, lse, y; /* activations (lse: attention rows' log-sum-exp, B*H*T) */
    size_t work_n;                             /* attention kernels' workspace, planned */
    real *w_o_abs; /* absorbed o_proj (C, H*dc), rebuilt at the start of each decoded sequence */
} Mla;

#endif
