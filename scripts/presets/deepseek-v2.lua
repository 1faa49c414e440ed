-- DeepSeek-V2 (arXiv 2405.04434; HF config.json of deepseek-ai/DeepSeek-V2): 236B total, 21B activated.
-- MLA with query compression (d_c' 1536), 160 routed + 2 shared experts, top-6, device-limited routing
-- (8 groups standing for devices, 3 kept), softmax gating, routed_scaling_factor 16.
return {
  vocab_size = 102400, d_model = 5120, n_layers = 60, n_heads = 128, seq_len = 131072,
  attention = "mla", kv_lora_rank = 512, q_lora_rank = 1536, qk_nope_head_dim = 128, qk_rope_head_dim = 64,
  v_head_dim = 128, head_dim = 128,
  d_ff = 12288, ffn = "moe", first_k_dense_replace = 1, moe_intermediate_size = 1536,
  n_routed_experts = 160, n_shared_experts = 2, num_experts_per_tok = 6, n_group = 8, topk_group = 3,
  scoring_func = "softmax", norm_topk_prob = 0, routed_scaling_factor = 16.0,
  balance = "aux", aux_alpha = 0.003, device_alpha = 0.05,
  rope_theta = 10000, norm_eps = 1e-6,
}
