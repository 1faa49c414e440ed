/* Amax gain magnitude (mHC sec. 3.1) of a residual family's mappings H_res: how much the stream mixing alone
 * can amplify a signal (forward: largest absolute row sum) or a gradient (backward: largest absolute column
 * sum) across depth. For the composite mapping from layer l to the top, P_l = H_res_{S-1} ... H_res_l, and
 * for each single layer; per layer, averaged over tokens. Also the spectral norm (GSL SVD).
 * The hyper-connection family records these during training itself (its metrics hook, arch/mixing.c);
 * model:gains asks for the whole profile (analysis/hres.c checks that the model can answer). */
#ifndef AL_GAIN_H
#define AL_GAIN_H
#include "arch/residual.h"

double gain_forward(const double *P, int n);  /* max_i |sum_j P_ij| */
double gain_backward(const double *P, int n); /* max_j |sum_i P_ij| */
double spectral_norm(const double *P, int n); /* largest singular value */

typedef struct GainProfile {
    int S, n, tokens;
    /* per layer l (S entries), token means */
    double *comp_fwd, *comp_bwd, *comp_spec; /* composite l -> top */
    double *single_fwd, *single_bwd;         /* H_res_l alone */
} GainProfile;

/* From the mappings r recorded in its last forward (activations in c), over the first max_tokens tokens
 * (0 = all). -1 + message when r records no H_res or has not run a forward pass. */
int gain_profile_of(GainProfile *g, const Residual *r, Ctx *c, int max_tokens);
void gain_profile_free(GainProfile *g);
#endif
