/* Amax gain magnitude (mHC sec. 3.1) of the residual mappings H_res: how much the stream mixing alone can
 * amplify a signal (forward: largest absolute row sum) or a gradient (backward: largest absolute column
 * sum) across depth. For the composite mapping from layer l to the top, P_l = H_res_{S-1} ... H_res_l,
 * and for each single layer; per layer, averaged over tokens. Also the spectral norm (GSL SVD). */
#ifndef AL_GAIN_H
#define AL_GAIN_H
#include "arch/model.h"
#include "core/metrics.h"

double gain_forward(const double *P, int n);  /* max_i |sum_j P_ij| */
double gain_backward(const double *P, int n); /* max_j |sum_i P_ij| */
double spectral_norm(const double *P, int n); /* largest singular value */

/* How many tokens of the last forward's recorded H_res an analysis reads: max_tokens (0 = all) capped at the
 * batch; -1 + message "<what> needs ..." when the model has no multi-stream residual or no forward has run. */
int hres_recorded_tokens(const Model *m, int max_tokens, const char *what);

typedef struct GainProfile {
    int S, n, tokens;
    /* per layer l (S entries), token means */
    double *comp_fwd, *comp_bwd, *comp_spec; /* composite l -> top */
    double *single_fwd, *single_bwd;         /* H_res_l alone */
} GainProfile;

/* From the mappings of the model's last forward, over its first max_tokens tokens (0 = all).
 * -1 + message when the model has no multi-stream residual or no forward has run. */
int gain_profile(GainProfile *g, const Model *m, int max_tokens);
void gain_profile_free(GainProfile *g);
/* Records amax_gain_fwd / amax_gain_bwd (composite over the full depth, i.e. from layer 0),
 * max_single_gain_fwd / _bwd (the largest single-layer gains) and composite_spectral_norm at step.
 * Nothing for the standard residual, whose mapping is the identity. */
void gain_record(const Model *m, MetricLog *log, double step);
#endif
