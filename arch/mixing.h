/* The per-layer coefficient generator of a hyper-connection family: given the n streams of every token,
 * it produces H_pre (1 x n), H_post (1 x n) and H_res (n x n) per token (mHC eq. 3). HC (arch/hc.c) and
 * mHC (arch/mhc.c) implement it; the stream driver (arch/residual.c) applies the mappings. */
#ifndef AL_MIXING_H
#define AL_MIXING_H
#include "arch/config.h"
#include "arch/module.h"
#include "core/stream_kernels.h"

typedef struct MixingOps {
    const char *kind;
    void (*plan)(void *self, Arena *act, size_t *scratch, int N);
    /* X (N, n, C) -> hpre (N, n), hpost (N, n), hres (N, n, n) */
    void (*forward)(void *self, Ctx *c, real *hpre, real *hpost, real *hres, const real *X, int N);
    /* Everything below F's input u = sum_i hpre_i X_i: given du and the gradients of H_post and H_res, dX +=
     * (through H_pre's application and the mappings' dependence on X, the dynamic forms) and the parameter
     * gradients +=. dhpre is workspace for H_pre's gradient; dhpost and dhres may be modified too. */
    void (*backward)(void *self, Ctx *c, real *dX, const real *du, real *dhpre, real *dhpost, real *dhres,
                     const real *X, const real *hpre, const real *hpost, int N);
    void (*destroy)(void *self);
} MixingOps;

typedef struct Mixing {
    const MixingOps *ops;
    void *self;
} Mixing;

/* sublayer: index of the layer in the family (0 .. 2 n_layers - 1); names and the H_pre init use it */
Mixing hc_create(ParamStore *ps, const ModelConfig *cfg, int sublayer);
Mixing mhc_create(ParamStore *ps, const ModelConfig *cfg, int sublayer);
/* "model.layers.<block>.<attn|mlp>_<what>" for the parameters of a sub-layer's mixing */
void mixing_param_name(char *buf, size_t n, int sublayer, const char *what);
int mixing_flags(const ModelConfig *cfg);
#endif
