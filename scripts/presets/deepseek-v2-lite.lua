-- DeepSeek-V2-Lite (V2 paper; Hugging Face config.json of deepseek-ai/DeepSeek-V2-Lite): 15.7B total,
-- 2.4B activated. MLA without query compression, 64 routed + 2 shared experts, top-6, softmax gating.
return {
  vocab_size = 102400, d_model = 2048, n_layers = 27, n_heads = 16, seq_len = 32768,
  attention = "mla", kv_lora_rank = 512, q_lora_rank = 0, qk_nope_head_dim = 128, qk_rope_head_dim = 64,
  v_head_dim = 128, head_dim = 128,
  d_ff = 10944, ffn = "moe", first_k_dense_replace = 1, moe_intermediate_size = 1408,
  n_routed_experts = 64, n_shared_experts = 2, num_experts_per_tok = 6, n_group = 1, topk_group = 1,
  scoring_func = "softmax", norm_topk_prob = 0, routed_scaling_factor = 1.0,
  balance = "aux", aux_alpha = 0.001,           -- V2-Lite: expert-level loss only, a1 = 0.001
  rope_theta = 10000, norm_eps = 1e-6,
}
