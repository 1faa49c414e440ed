/* Probes: the intermediates of one forward pass, captured for analysis (m:inspect, m:probes; scripts/
 * lua_probe.c). A forward pass run with a sink in its context (Ctx.probes) offers each intermediate by name
 * as it is computed; the sink copies the ones a pattern asks for (or, listing, notes only names and shapes).
 * Copying never changes what the forward computes, and without a sink (training, evaluation) nothing is
 * offered: one pointer test per sub-layer. Each kind offers its own (attention its q, k, v and probabilities;
 * MLA its latent; MoE its router's choices; a residual family its mappings): docs/EXTENDING.md.
 *
 * Names: "embed", "logits", "final_norm"; "layer<l>.hidden" (the residual stream after block l);
 * "layer<l>.attn.<what>", "layer<l>.ffn.<what>" for block l's two sub-layers. Patterns match names with '*'
 * (any characters, dots included) and '?' (one character). Shapes start with the batch and the position. */
#ifndef AL_PROBE_H
#define AL_PROBE_H
#include "core/backend.h"
#include "core/tensor.h"

typedef struct Probe {
    char name[80];
    Tensor t;         /* the copy (empty when listing) */
    int ndim;
    int64_t shape[TENSOR_MAX_DIMS];
} Probe;

typedef struct ProbeSink ProbeSink;

/* A sink keeping the probes whose names match one of the patterns; list_only: names and shapes only. */
ProbeSink *probe_sink_new(const char *const *patterns, int n_patterns, int list_only);
void probe_sink_free(ProbeSink *s);
int probe_count(const ProbeSink *s);
Probe *probe_at(ProbeSink *s, int i);
/* -1 + the message when a copy failed (out of memory), else 0 */
int probe_status(const ProbeSink *s);
/* Whether a pattern matches the name (and, listing, that the name is noted). */
int probe_wants(ProbeSink *s, const char *name);
int probe_match(const char *pattern, const char *name);

/* Offers a probe: data holds it with the given element strides (NULL: row-major contiguous). */
void probe_emit(ProbeSink *s, const char *name, int ndim, const int64_t *shape, const int64_t *stride, const real *data);
/* Offers an integer probe (chosen experts): copied as numbers. */
void probe_emit_ints(ProbeSink *s, const char *name, int ndim, const int64_t *shape, const int *data);
/* "layer<l>.attn.<what>" / "layer<l>.ffn.<what>" for sub-layer `sub` (2l: attention, 2l + 1: FFN) */
void probe_name(char *buf, size_t n, int sub, const char *what);
/* (B, T, width) activations of sub-layer `sub` under "layer<l>.<part>.<what>" */
void probe_rows(ProbeSink *s, int sub, const char *what, const real *data, int B, int T, int width);
/* An attention's q, k, v (as attention uses them: after RoPE) and its probabilities (B, H, T, T), the causal
 * softmax exp(scale q.k - lse) from the forward's own log-sum-exp, under prefix "layer<l>.attn". */
void probe_attention(ProbeSink *s, int sub, const real *q, const real *k, const real *v, const real *lse,
                     const AttnShape *sh);
#endif
