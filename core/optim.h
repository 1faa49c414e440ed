/* AdamW with weight-decay groups, global-norm gradient clipping, and learning-rate schedules. */
#ifndef AL_OPTIM_H
#define AL_OPTIM_H
#include "core/params.h"

typedef struct AdamW {
    double beta1, beta2, eps, weight_decay;
    int step; /* completed steps; bias correction uses step + 1 */
} AdamW;

/* Default betas (0.9, 0.95), eps 1e-8, weight decay 0.1, as in the mHC/DeepSeek recipes. */
AdamW adamw_default(void);
/* One update of every parameter at learning rate lr. Weight decay applies only to parameters declared with
 * decay = 1. Allocates the moments on first use (-1 if that fails). */
int adamw_step(AdamW *opt, ParamStore *ps, double lr);

/* Global L2 norm of the gradient buffer. */
double grad_norm(const ParamStore *ps);
/* Scales gradients so their global norm is at most max_norm (no-op if max_norm <= 0); returns the
 * norm before clipping. */
double grad_clip(ParamStore *ps, double max_norm);

typedef enum { SCHED_CONSTANT, SCHED_COSINE, SCHED_STEP } SchedKind;
typedef struct Schedule {
    SchedKind kind;
    double lr, min_lr;  /* peak and floor (cosine) */
    int warmup, total;  /* steps */
    /* step schedule (mHC recipe): multiply by factor[i] from fraction milestone[i] of training on */
    int n_milestones;
    double milestone[4], factor[4];
} Schedule;

/* Learning rate at step (0-based): linear warm-up from lr/warmup to lr, then the schedule. */
double schedule_lr(const Schedule *s, int step);
/* Parses "constant" | "cosine" | "step"; -1 if unknown. */
int schedule_kind_from_name(const char *name, SchedKind *kind);
/* The schedule every loop uses (training, GRPO, distillation): kind by name, peak lr, floor min_lr (< 0: lr / 10),
 * warmup steps, total steps, and the mHC/DeepSeek step milestones (x0.316 at 80%, x0.1 at 90%). -1 + a message
 * naming field 'schedule' for an unknown kind. */
int schedule_init(Schedule *s, const char *kind, double lr, double min_lr, int warmup, int total);
#endif
