/* Model assembly from a config: token embedding, the residual stream of sub-layers (attention, FFN per
 * block), final RMSNorm, untied output head, cross-entropy. The same code builds a model to train and, in
 * meta mode, only counts what it would allocate. */
#ifndef AL_MODEL_H
#define AL_MODEL_H
#include "arch/config.h"
#include "arch/module.h"
#include "arch/norm.h"
#include "arch/residual.h"

typedef struct Model {
    ModelConfig cfg;
    ParamStore ps;
    size_t wte, head; /* embed_tokens (V, C), lm_head (V, C) */
    RMSNorm final_norm;
    int n_sub;
    Sublayer *sub; /* 2 per block: attention, FFN (their kinds: arch/kinds.h) */
    Residual *res; /* the residual family wiring them */
    /* multi-token prediction (arch/mtp.h): cfg.mtp_depth modules after the main stack, their parameters
     * (mtp_params elements, component "mtp") declared after every main-model parameter */
    int n_mtp;
    struct MtpModule *mtp;
    size_t mtp_params;
    /* activations, planned for planB x planT tokens */
    Arena act;
    size_t scratch_n;
    real *scratch;
    size_t act_cap, scratch_cap; /* what the buffers hold (a smaller plan reuses them) */
    int planB, planT;
    size_t logits, losses, dlnf;
    real *rope_cos, *rope_sin;
    Ctx ctx;
    int n_valid; /* targets counted by the last forward */
} Model;

/* The block (transformer layer) sub-layer i belongs to: blocks are numbered from 0, as the parameter names
 * (model.layers.<l>.*), the metric names (layer<l>.maxvio), expert_load's layers and gains' `layer` number
 * them; sub-layer 2l is block l's attention, 2l + 1 its FFN. */
static inline int model_block_of(int sublayer) { return sublayer / 2; }

/* NULL + al_errorf on a bad config or failed allocation. meta = 1 allocates nothing. */
Model *model_create(const ModelConfig *cfg, int meta);
void model_free(Model *m);
/* Makes room for a B x T batch (T <= seq_len); reallocates activations only when the batch grows.
 * In meta mode only the sizes are computed. */
int model_plan(Model *m, int B, int T);
/* Mean cross-entropy of the main model over targets >= 0 (NaN when targets is NULL: logits stay in
 * model_logits). With targets and MTP modules, they run too (model_mtp_loss). */
double model_forward(Model *m, const int *tokens, const int *targets, int B, int T);
/* The MTP term of the objective of the last forward with targets, lambda / D sum_k L_MTP_k (0 without MTP);
 * module k's own mean loss and argmax accuracy (over its valid targets) by model_mtp_depth_stats. */
double model_mtp_loss(const Model *m);
void model_mtp_depth_stats(const Model *m, int k, double *loss, double *accuracy);
/* The main stack's last hidden state (B*T, C), before the final norm, of the last forward */
real *model_hidden(Model *m);
/* Accumulates all parameter gradients of the last forward's objective: the main loss, the MTP term and the
 * sub-layers' auxiliary losses (forward must have had targets). */
void model_backward(Model *m, const int *tokens, const int *targets, int B, int T);
/* Sum of the sub-layers' auxiliary losses of the last forward (0 without any). */
double model_aux_loss(const Model *m);
/* After each optimizer step: lets sub-layers update non-gradient state (e.g. routing biases). */
void model_after_step(Model *m);
/* Appends the measurements of the last forward to log at step: the sub-layers' (e.g. expert loads), then the
 * residual family's (e.g. Amax gains). */
void model_record(const Model *m, MetricLog *log, double step);
/* A forward pass over tokens (B x T, no targets) offering its intermediates to sink (arch/probe.h);
 * -1 + message when planning or a copy failed. */
struct ProbeSink;
int model_inspect(Model *m, const int *tokens, int B, int T, struct ProbeSink *sink);
/* (B*T, V) logits of the last forward without targets */
real *model_logits(Model *m);
/* Elements of activation memory (arena + backward workspace) for the planned batch. */
size_t model_activation_elems(const Model *m);
struct KVCache;
/* A KV cache for B sequences of up to max_len tokens of this model (max_len <= seq_len). NULL + message
 * naming 'seq_len' when max_len exceeds the model's context, or when the cache (sized by the attention
 * kind's kv_elems) would not fit in memory. Free with kv_cache_free. */
struct KVCache *model_kv_cache(const Model *m, int B, int max_len);
/* Decoding (arch/kv_cache.h): T new tokens per sequence (tokens (B,T)) are appended to kv, which holds
 * kv->len tokens per sequence, attending over everything cached; (B*T, V) logits land in model_logits.
 * Same logits as model_forward on the whole sequence. -1 + message when the context would exceed the cache
 * (the model's seq_len) or B differs from the cache's. */
int model_decode(Model *m, struct KVCache *kv, const int *tokens, int B, int T);
/* Prefills prompt (kv->B sequences of T0 tokens, in chunks of `chunk` tokens; <= 0: 256) and generates n_new
 * tokens per sequence into out (B, n_new): greedy when temperature <= 0, else sampled from
 * softmax(logits / temperature) with rng. */
int model_generate(Model *m, struct KVCache *kv, const int *prompt, int T0, int n_new, double temperature,
                   Rng *rng, int chunk, int *out);
/* Forward FLOPs per token at context length T (multiply-adds x 2, causal attention averaged). */
double model_flops_per_token(const Model *m, int T);
#endif
