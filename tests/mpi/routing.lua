-- Expert parallelism's traffic against the routing itself (tests/test_mpi.c): after one forward on each rank's
-- own tokens, the rows a rank sent to each rank (model:expert_load's ep_rows_sent) must equal the number of its
-- tokens with at least one chosen expert there (a token travels once per rank, as in V3's dispatch), counted
-- here from the captured routing. Every rank checks its own and fails the job on a mismatch; rank 0 prints.
local R, me = archlab.size(), archlab.rank()
local m = archlab.model{ preset = "tiny", ffn = "moe", n_routed_experts = 8, num_experts_per_tok = 2,
                         scoring_func = "sigmoid", balance = "aux_free", expert_parallel = R }
local tokens = {}
for t = 1, 48 do tokens[t] = (t * 37 + me * 101) % 256 end -- each rank its own sequence
local cap = m:inspect{ tokens = tokens, capture = { "layer*.ffn.router.experts" } }
local el = m:expert_load()
for j, layer in ipairs(el.layers) do
  local idx = cap[string.format("layer%d.ffn.router.experts", layer)]
  local want = {}
  for r = 1, R do want[r] = 0 end
  local T, K = idx.shape[2], idx.shape[3]
  for t = 1, T do
    local seen = {}
    for k = 1, K do
      local owner = idx[{ 1, t, k }] // (8 // R) + 1
      if not seen[owner] then want[owner] = want[owner] + 1 end
      seen[owner] = true
    end
  end
  for r = 1, R do
    if el.ep_rows_sent[j][r] ~= want[r] then
      error(string.format("rank %d layer %d: sent %d rows to rank %d, the routing has %d", me, layer,
                          el.ep_rows_sent[j][r], r - 1, want[r]))
    end
  end
  print(string.format("layer %d rank 0 sent %s (routing: %s)", layer, table.concat(el.ep_rows_sent[j], " "),
                      table.concat(want, " ")))
end
