-- DeepSeek-V3 (arXiv 2412.19437; HF config.json of deepseek-ai/DeepSeek-V3): 671B total, 37B activated
-- without its multi-token-prediction module (mtp_depth = 1, counted apart: 685B with it, as the checkpoint
-- stores it). 256 routed + 1 shared experts, top-8, sigmoid gating with the aux-loss-free bias, 8 groups with
-- 4 kept, routed_scaling_factor 2.5.
return {
  vocab_size = 129280, d_model = 7168, n_layers = 61, n_heads = 128, seq_len = 163840,
  attention = "mla", kv_lora_rank = 512, q_lora_rank = 1536, qk_nope_head_dim = 128, qk_rope_head_dim = 64,
  v_head_dim = 128, head_dim = 128,
  d_ff = 18432, ffn = "moe", first_k_dense_replace = 3, moe_intermediate_size = 2048,
  n_routed_experts = 256, n_shared_experts = 1, num_experts_per_tok = 8, n_group = 8, topk_group = 4,
  scoring_func = "sigmoid", norm_topk_prob = 1, routed_scaling_factor = 2.5,
  balance = "aux_free", bias_gamma = 0.001, seq_alpha = 0.0001,
  rope_theta = 10000, norm_eps = 1e-6, mtp_depth = 1, mtp_lambda = 0.3,
}
