/* What every module of arch/ shares: the context a forward/backward pass runs in, and the sub-layer
 * interface. A sub-layer is F in x_{l+1} = x_l + F(x_l) (attention or FFN, with its own pre-norm); the
 * residual family (arch/residual.h) decides how sub-layers are wired, the sub-layer what F computes.
 * Modules keep offsets into the parameter store and the activation arena, resolved through the Ctx. */
#ifndef AL_MODULE_H
#define AL_MODULE_H
#include "core/arena.h"
#include "core/backend.h"
#include "core/params.h"

struct MetricLog;
struct KVCache;
struct ProbeSink;

typedef struct Ctx {
    ParamStore *ps;
    Arena *act;
    real *scratch;                 /* shared workspace, sized by the largest sub-layer's need: the backward's,
                                    * and the attention kernels' in the forward (nothing else uses it there) */
    const real *rope_cos, *rope_sin; /* (seq_len, rot/2) tables */
    /* Decoding (arch/kv_cache.h): with kv set, a forward pass runs on T NEW tokens per sequence at positions
     * pos .. pos+T-1; attention sub-layers append their keys/values (or latents) to kv at pos and attend over
     * the cache, RoPE starts at pos, other sub-layers run on the new tokens as usual. NULL in training. */
    struct KVCache *kv;
    int pos;
    /* Analysis (arch/probe.h): with a sink set, the forward offers its intermediates to it; NULL otherwise. */
    struct ProbeSink *probes;
    /* Simulated low precision (core/lowp_linear.h): with it set, the linear layers V3 runs in FP8 (or BF16) go
     * through it (arch/linear.h); NULL: float32 through the kernel table. */
    struct LowpLinear *lowp;
} Ctx;

#define PW(c, off) ((c)->ps->data + (off)) /* parameter */
#define PG(c, off) ((c)->ps->grad + (off)) /* its gradient */
#define ACT(c, off) ((c)->act->base + (off))

typedef struct SublayerOps {
    const char *kind;
    /* reserve activations for N = B*T tokens; add this sub-layer's backward workspace need to *scratch */
    void (*plan)(void *self, Arena *act, size_t *scratch, int B, int T);
    /* out(B,T,C) = F(inp); overwrites out */
    void (*forward)(void *self, Ctx *c, real *out, const real *inp, int B, int T);
    /* dinp += dF/dinp^T dout; parameter gradients +=. inp is the forward input. */
    void (*backward)(void *self, Ctx *c, real *dinp, const real *dout, const real *inp, int B, int T);
    /* forward multiply-add FLOPs (x2) per token at context length T, causal attention averaged over
     * positions */
    double (*flops)(const void *self, int T);
    void (*destroy)(void *self);
    /* Optional hooks (NULL when a sub-layer has nothing to say):
     * aux_loss: the auxiliary loss its last forward added to the objective (already part of its backward),
     *   for reporting, e.g. MoE balance losses;
     * after_step: called after each optimizer step, e.g. the aux-loss-free bias update;
     * record: appends its measurements of the last forward to the run's metrics, names prefixed with
     *   "layer<l>." where l is its block (transformer layer), numbered from 0 as the parameter names number it
     *   (model.layers.<l>.*), e.g. layer1.maxvio for the MoE of model.layers.1.mlp. */
    double (*aux_loss)(const void *self);
    void (*after_step)(void *self);
    void (*record)(const void *self, struct MetricLog *log, int layer, double step);
} SublayerOps;

typedef struct Sublayer {
    const SublayerOps *ops;
    void *self;
} Sublayer;
#endif
