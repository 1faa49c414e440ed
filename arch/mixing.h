/* The hyper-connection family's n-stream residual driver (arch/mixing.c) and the per-layer coefficient
 * generator it runs: given the n streams of every token, a generator produces H_pre (1 x n), H_post (1 x n)
 * and H_res (n x n) per token (mHC eq. 3); the driver applies them around each sub-layer:
 *   X_{l+1} = H_res X_l + H_post^T F_l(H_pre X_l),
 * copies the input to every stream (expansion) and sums the streams at the end (collapse). HC (arch/hc.c)
 * and mHC (arch/mhc.c) are generators; a new member of the family is a new generator plus its registry row
 * (arch/kinds.c), whose create calls mixing_residual_create with the generator's constructor. */
#ifndef AL_MIXING_H
#define AL_MIXING_H
#include "arch/config.h"
#include "arch/residual.h"
#include "core/stream_kernels.h"

typedef struct MixingOps {
    void (*plan)(void *self, Arena *act, size_t *scratch, int N);
    /* X (N, n, C) -> hpre (N, n), hpost (N, n), hres (N, n, n) */
    void (*forward)(void *self, Ctx *c, real *hpre, real *hpost, real *hres, const real *X, int N);
    /* Everything below F's input u = sum_i hpre_i X_i: given du and the gradients of H_post and H_res, dX +=
     * (through H_pre's application and the mappings' dependence on X, the dynamic forms) and the parameter
     * gradients +=. dhpre is workspace for H_pre's gradient; dhpost and dhres may be modified too. */
    void (*backward)(void *self, Ctx *c, real *dX, const real *du, real *dhpre, real *dhpost, real *dhres,
                     const real *X, const real *hpre, const real *hpost, int N);
    /* forward FLOPs per token of producing the coefficients (static mappings count the dynamic form's upper
     * bound) */
    double (*flops)(const void *self);
    void (*destroy)(void *self);
} MixingOps;

typedef struct Mixing {
    const MixingOps *ops;
    void *self;
} Mixing;

/* A generator's constructor for the layer with index `sublayer` (0 .. 2 n_layers - 1); names and the H_pre
 * init use it. */
typedef Mixing (*MixingCreate)(ParamStore *ps, const ModelConfig *cfg, int sublayer);

/* The n-stream driver with one generator per sub-layer (cfg->streams streams), for the model's sub-layers
 * first .. first + n_sublayers - 1; kind is the registry name. */
Residual *mixing_residual_create(ParamStore *ps, const ModelConfig *cfg, int first, int n_sublayers, const char *kind,
                                 MixingCreate make);
/* "model.layers.<block>.<attn|mlp>_<what>" for the parameters of a sub-layer's mixing */
void mixing_param_name(char *buf, size_t n, int sublayer, const char *what);
/* which mappings are learned (MIX_PRE | MIX_POST | MIX_RES) from the h_pre/h_post/h_res ablation fields */
int mixing_flags(const ModelConfig *cfg);
#endif
