/* What the analyses of a model's recorded residual mappings share (model:gains, analysis/stochastic.c):
 * whether the model can answer at all (a residual family that records H_res, a forward pass run), with an
 * error that names the families that can, and the model-level gain profile (arch/gain.c). */
#ifndef AL_HRES_H
#define AL_HRES_H
#include "arch/gain.h"
#include "arch/model.h"

/* How many tokens of the last forward's recorded H_res an analysis reads: max_tokens (0 = all) capped at the
 * batch; -1 + message "<what> needs ..." when the model's residual family has no H_res or no forward has
 * run. */
int hres_recorded_tokens(const Model *m, int max_tokens, const char *what);
/* gain_profile_of the model's residual family over its last forward; -1 + message as above. */
int gain_profile(GainProfile *g, const Model *m, int max_tokens);
#endif
