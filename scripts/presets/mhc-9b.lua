-- The mHC paper's 9B MoE model (arXiv 2512.24880, "based on the DeepSeek-V3 architecture"):
-- 18 layers, hidden 1920, expert FFN 1280, 64 routed experts, 24 heads; n = 4 streams, t_max = 20, gate init 0.01.
-- Stated by the paper: MLA (head dim 128, kv rank 512, rope dim 64), 2 shared + 6 active routed experts,
-- 1 leading dense layer, aux-loss-free balancing, vocab 129280, sequence length 4096.
-- Assumptions (the paper leaves them open), the same for 3B, 9B and 27B:
--   * no query compression (q_lora_rank = 0), as in DeepSeek-V2-Lite at this scale;
--   * the dense layer's FFN width = moe_intermediate_size x (6 routed + 2 shared) = the MoE layer's active
--     width, the rule DeepSeek-V3 follows (18432 = 2048 x 9);
--   * V3 gating: sigmoid scores, top-K renormalized, routed_scaling_factor 2.5, no group limit (n_group 1);
--   * untied embedding and head, RMSNorm eps 1e-6, RoPE theta 10000.
return {
  vocab_size = 129280, d_model = 1920, n_layers = 18, n_heads = 24, seq_len = 4096,
  residual = "mhc", streams = 4, sinkhorn_iters = 20, gate_init = 0.01,
  attention = "mla", kv_lora_rank = 512, q_lora_rank = 0, qk_nope_head_dim = 128, qk_rope_head_dim = 64,
  v_head_dim = 128, head_dim = 128,
  d_ff = 10240, ffn = "moe", first_k_dense_replace = 1, moe_intermediate_size = 1280,
  n_routed_experts = 64, n_shared_experts = 2, num_experts_per_tok = 6, n_group = 1, topk_group = 1,
  scoring_func = "sigmoid", norm_topk_prob = 1, routed_scaling_factor = 2.5,
  balance = "aux_free", bias_gamma = 0.001, seq_alpha = 0.0001,
  rope_theta = 10000, norm_eps = 1e-6,
}
