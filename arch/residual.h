/* Residual connection families. The stream driver runs the sub-layers F_l:
 *   residual (n = 1): x_{l+1} = x_l + F_l(x_l)
 *   hc, mhc (n streams, mHC eq. 3): X_{l+1} = H_res X_l + H_post^T F_l(H_pre X_l), with the per-token
 *     mappings from arch/hc.c or arch/mhc.c. The input is copied to every stream (expansion) and the
 *     streams are summed at the end (collapse). Each F applies its own pre-norm.
 * Every X_l, every F_l output and every mapping are kept for the backward pass (and for analysis). */
#ifndef AL_RESIDUAL_H
#define AL_RESIDUAL_H
#include "arch/mixing.h"
#include "arch/module.h"

typedef enum { RESIDUAL_STANDARD, RESIDUAL_HC, RESIDUAL_MHC } ResidualKind;

typedef struct ResidualStream {
    ResidualKind kind;
    int S, C, n;   /* sub-layers, width, streams */
    Mixing *mix;   /* S mappings (hc, mhc) */
    int N;         /* planned tokens (the layout of the activations) */
    int N_last;    /* tokens of the last forward (<= N) */
    /* activations */
    size_t x;      /* (S+1) x (N, n, C) */
    size_t f;      /* standard: (N, C) one output; hc/mhc: S x (N, C) */
    size_t h;      /* hc/mhc: S x (N, 2n + n^2): [hpre | hpost | hres] per token */
    size_t in, out, u;       /* (N, C) */
    size_t dx[2], dtop, dh;  /* gradients: (N, n, C) x 2, (N, C), (N, 2n + n^2) */
    size_t du, df;           /* (N, C) */
} ResidualStream;

/* Declares the mappings' parameters (none for the standard residual). -1 + message on a bad config. */
int residual_create(ResidualStream *r, ParamStore *ps, const ModelConfig *cfg, int n_sublayers);
void residual_destroy(ResidualStream *r);
void residual_plan(ResidualStream *r, Arena *act, size_t *scratch, int N);
/* where the caller writes the input (N, C) */
real *residual_input(const ResidualStream *r, Ctx *c);
/* runs the sub-layers; the collapsed result is residual_output */
void residual_forward(ResidualStream *r, Ctx *c, Sublayer *subs, int B, int T);
real *residual_output(const ResidualStream *r, Ctx *c);
/* where the caller puts dL/d(output) (N, C), zeroed by the caller */
real *residual_grad_top(const ResidualStream *r, Ctx *c);
/* returns dL/d(input) (N, C) */
real *residual_backward(ResidualStream *r, Ctx *c, Sublayer *subs, int B, int T);
/* Forward FLOPs per token of the residual connections themselves (mixing and, for hc/mhc, the dynamic
 * coefficient GEMMs; static mappings count the same upper bound). */
double residual_flops(const ResidualStream *r);
/* The mappings of sub-layer l from the last forward: hpre (N, n), hpost (N, n), hres (N, n, n); NULL for
 * the standard residual. */
const real *residual_hpre(const ResidualStream *r, Ctx *c, int l);
const real *residual_hpost(const ResidualStream *r, Ctx *c, int l);
const real *residual_hres(const ResidualStream *r, Ctx *c, int l);
#endif
