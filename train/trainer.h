/* The training loop: batches from a data source, forward, backward, the gradient reduction (the one place
 * where data-parallel training will all-reduce), clipping, the schedule, AdamW; periodic validation,
 * progress display and metrics. */
#ifndef AL_TRAINER_H
#define AL_TRAINER_H
#include "arch/model.h"
#include "core/optim.h"
#include "data/data.h"
#include "core/jsonl.h"
#include "core/metrics.h"

typedef struct TrainOptions {
    int steps, batch_size, seq_len; /* seq_len 0 = the model's */
    double lr, min_lr;              /* peak, floor (cosine) */
    int warmup;
    char schedule[16];              /* constant | cosine | step */
    double weight_decay, beta1, beta2, eps, grad_clip;
    int seed;                       /* data sampling */
    int log_every, eval_every, eval_batches;
    int record_every;               /* model measurements (model_record) every this many steps; 0 = at logs */
    char metrics_path[1024];        /* JSON Lines; empty = none */
    char label[64];                 /* shown in progress lines */
    char checkpoint_dir[1024];      /* empty = no checkpoints */
    int checkpoint_every;           /* steps; 0 = only at the end (and on interrupt) */
    char resume_dir[1024];          /* continue from this checkpoint (same trajectory); empty = fresh */
    int stop_at;                    /* > 0: stop after this step (checkpointing), keeping the schedule of
                                       `steps`: a long run in slices, or 100 + resume + 100 */
    int quiet;
    /* Simulated low precision of the linear layers (core/lowp_linear.h, docs/LOWP.md): "fp32" (none), "bf16"
     * or "fp8" (DeepSeek-V3's recipe); scaling "tile" (1 x 128 / 128 x 128) or "tensor"; the accumulator's
     * mantissa bits (-1: the precision's default, 14 for fp8, 0 = full float32 for bf16), promotion interval
     * N_C and its rounding ("toward_zero": truncation, "nearest") */
    char precision[8], fp8_scaling[8], accum_round[16];
    int accum_bits, promote_every;
} TrainOptions;

typedef struct TrainResult {
    MetricLog log;   /* loss, lr, grad_norm, tokens_per_s per step; val_loss at evaluations */
    int steps_done;
    double seconds, tokens_per_s;
    double train_loss, val_loss; /* final: mean train loss of the last log window, last validation loss */
    int diverged, diverged_step;
    int start_step;  /* > 0 when resumed */
    int interrupted; /* stopped by SIGINT/SIGTERM after saving a checkpoint */
    char checkpoint_written[1100];
} TrainResult;


void train_defaults(TrainOptions *o);
/* Runs the loop. -1 + message for bad options (nothing trained); a diverging run returns 0 with
 * r->diverged set and the metrics up to the last finite step. */
int train_run(Model *m, DataSource *data, const TrainOptions *o, TrainResult *r);
void train_result_free(TrainResult *r);

/* The summary file of a metrics file: PATH.jsonl -> PATH.summary.json */
void summary_path(const char *metrics_path, char *out, size_t n);

/* Mean validation loss over n_batches fixed batches (target-weighted). */
double evaluate(Model *m, DataSource *data, int B, int T, int n_batches, int split);
/* The same, also averaging each multi-token prediction module's loss and argmax accuracy over its own valid
 * targets into mtp_loss[k-1], mtp_accuracy[k-1] (either may be NULL; mtp_depth <= 16 entries). */
double evaluate_mtp(Model *m, DataSource *data, int B, int T, int n_batches, int split, double *mtp_loss,
                    double *mtp_accuracy);

/* The one reduction seam of a step: with several MPI ranks (train/parallel.h) the gradients, the loss and the
 * model's statistics of the global batch, summed over ranks in a fixed order; nothing with one rank. -1 +
 * message when a rank died or hangs. */
int grads_reduce(Model *m, double *loss);
#endif
