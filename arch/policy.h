/* The model as a policy (reinforcement learning, docs/EQUATIONS.md sec. 8): batched sampling of completions
 * from the KV-cached decoder with each chosen token's log-probability kept, and the backward pass of any
 * objective of the model's logits whose gradient the caller has written (GRPO's clipped surrogate and KL,
 * distillation's KL to a teacher). Every number goes through the kernel tables (core/backend.h). */
#ifndef AL_POLICY_H
#define AL_POLICY_H
#include "arch/model.h"

typedef struct SampleOptions {
    double temperature; /* softmax(logits / temperature); <= 0: greedy (argmax) */
    double top_p;       /* nucleus: the fewest most probable tokens holding top_p of the mass, in (0, 1]; 1: all */
    int max_new;        /* tokens per completion at most (>= 1) */
    int stop;           /* the token that ends a completion (it is kept as its last token); < 0: none */
    int max_batch;      /* sequences decoded together at most (memory); <= 0: all prompts of one length */
} SampleOptions;

/* Completions of n prompts, prompt i being plen[i] tokens at prompts[i]. Prompts of equal length are decoded
 * together in one KV cache (up to max_batch sequences), in the order (length, index); a sampled step draws one
 * uniform per sequence of the batch from rng, so a seed fixes every completion. out (n, max_new): the tokens,
 * -1 after a completion's end; logp (n, max_new) (NULL: not kept): each chosen token's log-probability under the
 * full softmax(logits / temperature) (temperature 1 when greedy), 0 after the end; len[i]: tokens generated,
 * the stop token included. *tokens_run (may be NULL) grows by the tokens the decoder ran (prefill and steps),
 * for compute accounting. -1 + message when a prompt is empty, holds a token outside the vocabulary, or
 * plen + max_new - 1 exceeds seq_len (field 'max_new'). */
int policy_sample(Model *m, const int *const *prompts, const int *plen, int n, const SampleOptions *o, Rng *rng,
                  int *out, double *logp, int *len, double *tokens_run);

/* The backward of an objective of the last forward (run WITHOUT targets on tokens (B, T)) whose gradient with
 * respect to the logits the caller has written over model_logits(m) (B*T, V): accumulates (+=) every parameter
 * gradient of the main model, the sub-layers' auxiliary balance losses included (as model_backward does); the
 * multi-token prediction modules take no part (they receive no gradient). The chain is model_backward's after
 * its cross-entropy kernel: head, final norm, the residual family's backward, the embedding. */
void policy_backward_logits(Model *m, const int *tokens, int B, int T);
#endif
