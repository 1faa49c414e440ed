/* Speculative decoding with the multi-token prediction modules as the draft (DeepSeek-V3 sec. 5.4.3: 85-90%
 * acceptance of the second token, 1.8x tokens per second). Greedy and exact: every emitted token is the main
 * model's argmax given the tokens before it, so the output equals model_generate's greedy output token for
 * token; the drafts only decide how many tokens one verification pass of the main model confirms.
 *
 * A round, with P tokens in the main model's cache and the next token t_P known:
 *   draft:  the modules run over the positions they have not seen (h^0 from the main model's history,
 *           h^{k-1} from module k-1), module k's last position proposing d_k = argmax P^k for t_{P+k};
 *   verify: the main model decodes [t_P, d_1 .. d_D] in one pass; d_j is accepted while it equals the main
 *           model's argmax g_{j-1} at the position before it; the first mismatch (or the end) contributes g_a,
 *           so a round emits a + 1 tokens for a accepted drafts;
 *   rollback: the caches forget the rejected positions (the main model's) and the module positions whose
 *           inputs were drafts (recomputed next round from the confirmed tokens). */
#ifndef AL_SPECULATIVE_H
#define AL_SPECULATIVE_H
#include "arch/model.h"

#define SPEC_MAX_DEPTH 16
typedef struct SpecStats {
    int rounds;                       /* verification passes of the main model */
    int drafted, accepted;            /* drafts proposed for verification, and accepted */
    int drafted_at[SPEC_MAX_DEPTH];   /* per depth j (index j-1): drafts d_j verified (d_1 .. d_{j-1} accepted) */
    int accepted_at[SPEC_MAX_DEPTH];  /* and accepted */
} SpecStats;

/* Greedy generation of n_new tokens after prompt (T0 tokens, one sequence) into out (n_new), drafting with
 * the model's mtp_depth modules. -1 + message without MTP modules, or when prompt + n_new - 1 exceeds
 * seq_len. */
int model_generate_speculative(Model *m, const int *prompt, int T0, int n_new, int chunk, int *out, SpecStats *st);
#endif
