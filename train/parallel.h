/* Data parallelism over MPI ranks (core/dist.h; issue 23). Every rank holds the whole model and draws the
 * SAME global batch from the same sampler state; rank r trains on its share, sequences [r B/R, (r+1) B/R).
 * After the backward pass the gradients are summed over ranks in a fixed order, each rank's first weighted by
 * its share of the valid targets, so every rank applies the gradient of the global batch's mean loss: the
 * single-process step, up to the order of the additions (a GEMM over all B sequences sums them in another
 * order than two GEMMs over halves and a sum). Everything the run records (loss, MTP losses and accuracies,
 * the MoE loads and the aux-loss-free bias update they drive) is likewise the global batch's. With one rank
 * every function here does nothing, and the single-process path is unchanged bit for bit.
 * Exact when every rank's share holds the same number of valid targets (text and the synthetic tasks: every
 * sequence has the same count); otherwise the main loss's weights n_r / N also weight the auxiliary terms (MoE
 * balance, MTP), which a single process would weight by sequences and by each module's own targets. */
#ifndef AL_PARALLEL_H
#define AL_PARALLEL_H
#include "arch/model.h"
#include "data/data.h"

/* The rank's share of the global batch Bg (B = Bg / R sequences of T) into in/tg: the global batch is drawn
 * whole into global_in/global_tg (Bg x T each; unused with one rank) and this rank's rows copied. */
int dp_batch(DataSource *d, Rng *rng, int split, int index, int Bg, int T, int *in, int *tg, int *global_in,
             int *global_tg);
/* After model_backward on the share: the gradients summed over ranks (weighted by valid targets), *loss the
 * global mean, the MTP modules' statistics and the MoE loads made global. -1 + message (a rank died). */
int dp_reduce_step(Model *m, double *loss);
/* sum_r x over ranks, for a number every rank computed on its share (e.g. evaluation totals) */
int dp_sum(double *x, int n);
#endif
