/* How far the residual mappings H_res of the model's last forward are from doubly stochastic: the measure
 * behind mHC's Sinkhorn-iteration ablation. Sinkhorn-Knopp ends each iteration with a row normalization, so
 * the rows of mHC's H_res sum to 1 (up to rounding) and the columns carry the error that t_max iterations
 * leave; HC's H_res is unconstrained and both deviate. Per sub-layer, token means of
 *   col_err = max_j |sum_i H_ij - 1|,  row_err = max_i |sum_j H_ij - 1|,  min_entry = min_ij H_ij
 * over the first max_tokens tokens (0 = all). Reads the H_res the stream driver recorded (residual_hres),
 * never recomputes it. */
#ifndef AL_STOCHASTIC_H
#define AL_STOCHASTIC_H
#include "arch/model.h"

typedef struct HresStochastic {
    int S, n, tokens;
    double *col_err, *row_err, *min_entry; /* S entries each */
    double col_err_max, row_err_max;        /* the largest single-token deviation over all layers */
} HresStochastic;

/* -1 + message when the model has no multi-stream residual or no forward has run. */
int hres_stochastic(HresStochastic *s, const Model *m, int max_tokens);
void hres_stochastic_free(HresStochastic *s);
#endif
