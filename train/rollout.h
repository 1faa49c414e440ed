/* What reinforcement learning and distillation share (docs/EQUATIONS.md sec. 8): rollouts (problems of a task,
 * G completions each sampled from a model with their log-probabilities, scored by the task's checker), the
 * training batch built from them, the per-token log-probabilities of a model on such a batch, held-out
 * evaluation with a binomial interval, a frozen copy of a model, and compute accounting. */
#ifndef AL_ROLLOUT_H
#define AL_ROLLOUT_H
#include "arch/model.h"
#include "arch/policy.h"
#include "data/tasks.h"

typedef struct Rollouts {
    int P, G, n;            /* problems, completions per problem, n = P * G sequences (problem p: p*G .. p*G+G-1) */
    int max_new;
    TaskProblem *problem;   /* P */
    int *prompt;            /* (n, TASK_PROMPT_MAX): BOS + prompt bytes */
    int *plen;              /* n */
    int *comp;              /* (n, max_new): completion tokens, -1 after the end */
    double *logp;           /* (n, max_new): the sampler's log-probabilities of them */
    int *clen;              /* n: completion tokens (the stop token included) */
    TaskScore *score;       /* n: the checker's verdict */
    double *reward;         /* n: accuracy + format_weight * format */
} Rollouts;

/* Draws P problems of `split` from problem_rng and samples G completions of each from m with so (rng: the
 * draws), scoring them. *tokens_run (may be NULL) grows by the tokens the decoder ran. -1 + message. */
int rollouts_sample(Rollouts *r, Model *m, const Task *t, Rng *problem_rng, int split, int P, int G,
                    const SampleOptions *so, Rng *rng, double format_weight, double *tokens_run);
void rollouts_free(Rollouts *r);

/* A training batch of sequences BOS + prompt + completion, right-padded: inputs (n, T) and targets (n, T),
 * targets being the next token at the positions that predict a completion token (-1 elsewhere: the prompt
 * and the padding), T = the longest sequence - 1. aligned (n, T), optional: the sampler's log-probability of
 * each target (0 elsewhere). */
typedef struct SeqBatch {
    int n, T;
    int *tokens, *targets;
    double *logp_old;   /* aligned with targets; NULL when not asked for */
    int *clen;          /* n: targets per sequence */
} SeqBatch;
/* The batch of the sequences sel[0..k) of r (all of them when sel is NULL, k = r->n). */
int seqbatch_from_rollouts(SeqBatch *b, const Rollouts *r, const int *sel, int k, int with_logp);
/* The batch of k sequences given as token lists (seq[i]: len[i] tokens, the completion being its last clen[i]). */
int seqbatch_from_tokens(SeqBatch *b, const int *const *seq, const int *len, const int *clen, int k);
void seqbatch_free(SeqBatch *b);

/* logp (n, T) = log softmax(logits / temperature) of each target under m (0 where targets < 0), forward only, in
 * micro-batches of `micro` sequences (<= 0: all). *tokens_run grows by the tokens run. -1 + message (planning). */
int rl_target_logprobs(Model *m, const SeqBatch *b, double temperature, int micro, double *logp, double *tokens_run);

/* Held-out evaluation: n problems of the held-out split drawn from seed, one completion each sampled with so
 * (greedy when so->temperature <= 0), scored. */
typedef struct TaskEval {
    int n;
    double accuracy, format, length; /* means: accuracy and format rewards, completion tokens */
    double think_length;             /* mean scratchpad bytes over the well-formatted completions (NaN if none) */
    double lo, hi;                   /* the accuracy's 95% Wilson score interval */
} TaskEval;
int task_evaluate(Model *m, const Task *t, int n, const SampleOptions *so, uint64_t seed, TaskEval *e);
/* The Wilson score interval of k successes in n trials at normal quantile z (1.96: 95%). */
void wilson_interval(double k, double n, double z, double *lo, double *hi);

/* A new model of the same configuration holding a copy of m's weights (through the kernel table): GRPO's
 * frozen reference. NULL + message. */
Model *rl_model_copy(const Model *m);
/* The default max_new: the longest reference completion of the task + 16 (room to think longer), within the
 * model's context after the longest prompt. */
int rl_default_max_new(const Model *m, const Task *t);
/* Appends a held-out evaluation to log at step: val_accuracy, val_format, val_length, val_think_length. */
struct MetricLog;
void rl_record_eval(struct MetricLog *log, int step, const TaskEval *e);
/* One record of a metrics file: "step", then every series of log with a point at this step (w->f NULL: nothing).
 * -1 + message when the line could not be written. */
struct JsonlWriter;
int rl_write_row(struct JsonlWriter *w, const struct MetricLog *log, int step);
/* The optimizer step whose learning rate a schedule of `total` steps gives at this point of a run: `step`, or with
 * a compute budget (budget > 0) the share of it spent so far times total, so that a run stopped by its budget
 * goes through its whole schedule (warm-up, decay) whatever its step count. */
int rl_schedule_step(int step, int total, double flops, double budget);
#endif
