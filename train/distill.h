/* Distillation of a teacher into a student on a verifiable task (DeepSeek-R1 sec. 2.4; Hinton et al. 2015;
 * docs/EQUATIONS.md sec. 8). First the teacher answers training problems (sampled completions, optionally
 * filtered by the task's checker: R1 kept only correct, well-formatted reasoning), then the student trains on
 * those sequences, by one of:
 *   "sequences": sequence-level distillation, R1's recipe: supervised fine-tuning on the teacher's completions,
 *                L = mean over completion tokens of -log p_s(token);
 *   "logits":    logit distillation on the same sequences: L = mean over completion tokens of
 *                tau^2 KL(p_t^tau || p_s^tau) (forward) or tau^2 KL(p_s^tau || p_t^tau) (reverse), plus
 *                hard_weight x the cross-entropy of the sampled token, p^tau = softmax(logits / tau).
 * Teacher and student may differ in every architectural choice; they share the vocabulary. */
#ifndef AL_DISTILL_H
#define AL_DISTILL_H
#include "core/metrics.h"
#include "train/rollout.h"

typedef enum { DISTILL_SEQUENCES, DISTILL_LOGITS } DistillMode;

typedef struct DistillOptions {
    DistillMode mode;
    int prompts, per_prompt;   /* training problems the teacher answers, completions per problem */
    int filter;                /* keep only completions with accuracy = format = 1 */
    double temperature, top_p; /* the teacher's sampling */
    int max_new;               /* 0: the task's longest reference + 16, within both models' contexts */
    int steps, batch_size, micro_batch;
    double tau;                /* logits: the distillation temperature */
    int reverse;               /* logits: 1 = KL(p_s || p_t) */
    double hard_weight;        /* logits: weight of the sampled token's cross-entropy */
    double lr, min_lr;
    int warmup;
    char schedule[16];
    double weight_decay, beta1, beta2, eps, grad_clip;
    int seed;
    int eval_every, eval_n;
    double budget_flops;       /* > 0: stop after the step at which the student's compute reaches this */
    int log_every;
    char metrics_path[1024];
    char label[64];
    int quiet;
} DistillOptions;

typedef struct DistillResult {
    MetricLog log;              /* per step: loss, kl (logits), grad_norm, lr, flops; val_* at evaluations */
    int steps_done, diverged, interrupted;
    int generated, kept;        /* teacher completions sampled, kept after the filter */
    double teacher_accuracy, teacher_format; /* of the sampled completions */
    double seconds, flops;      /* the student's forward + backward FLOPs */
    double teacher_flops;       /* the teacher's: sampling, and the logit targets */
    TaskEval final_eval;
} DistillResult;

void distill_defaults(DistillOptions *o);
/* -1 + message naming the field; a diverging run returns 0 with r->diverged set. */
int distill_run(Model *teacher, Model *student, const Task *task, const DistillOptions *o, DistillResult *r);
void distill_result_free(DistillResult *r);

/* The teacher's completions of training problems, kept as token sequences (BOS + prompt + completion). */
typedef struct DistillData { int n, cap; int **seq; int *len, *clen; } DistillData;
/* Samples o->prompts x o->per_prompt completions from the teacher (o->seed: problems and draws), keeping those the
 * checker accepts when o->filter (all otherwise); counts into r (generated, kept, teacher_accuracy/format,
 * teacher_flops). max_new: the completions' limit. -1 + message, also when nothing is kept. */
int distill_generate(Model *teacher, const Task *task, const DistillOptions *o, int max_new, DistillData *d,
                     DistillResult *r);
void distill_data_free(DistillData *d);

/* The logit-distillation loss of the student on a batch (targets mark the completion tokens), averaged over
 * them; with backward, its gradient accumulates into the student's parameter gradients. teacher NULL: the
 * sequence-level loss (the mean cross-entropy of the targets). *kl_mean (may be NULL): the mean KL (without
 * tau^2). NaN when planning fails. */
double distill_loss(Model *teacher, Model *student, const SeqBatch *b, double tau, int reverse, double hard_weight,
                    int micro, int backward, double *kl_mean, double *tokens_student, double *tokens_teacher);
#endif
