/* Group Relative Policy Optimization (DeepSeekMath sec. 4.1, DeepSeek-R1 sec. 2.2; docs/EQUATIONS.md sec. 8):
 * per step, P problems of a verifiable task, G completions of each sampled from the current policy (which is
 * pi_old for this batch), rule-based rewards from the task's checker, group-relative advantages, then `updates`
 * AdamW steps on
 *   L = -1/(P G) sum_i 1/|o_i| sum_t [ min(rho_it A_i, clip(rho_it, 1-eps, 1+eps) A_i) - beta KL_it ],
 *   rho_it = pi(o_it | q, o_<t) / pi_old(o_it | q, o_<t),   KL_it = pi_ref/pi - log(pi_ref/pi) - 1,
 * with the frozen reference pi_ref. No value model. */
#ifndef AL_GRPO_H
#define AL_GRPO_H
#include "core/metrics.h"
#include "train/rollout.h"

typedef struct GrpoOptions {
    int steps;               /* sampling steps (each: one batch of P x G completions, `updates` policy updates) */
    int prompts, group;      /* P problems per step, G completions per problem (G >= 2) */
    int updates;             /* mu: AdamW steps on each batch of samples */
    int micro_batch;         /* sequences per forward/backward (gradients accumulate); <= 0: the whole batch */
    double temperature, top_p; /* sampling; the policy's log-probabilities are of softmax(logits / temperature) */
    int max_new;             /* completion tokens at most; 0: the task's longest reference + 16, within seq_len */
    double clip_eps, kl_beta;
    double adv_eps;          /* A = (r - mean) / (std + adv_eps), std with G - 1 (the sample standard deviation) */
    double format_weight;    /* reward = accuracy + format_weight * format */
    double lr, min_lr;       /* min_lr < 0: lr / 10 */
    int warmup;              /* steps of linear warm-up (< 0: none) */
    char schedule[16];       /* constant | cosine | step, over the optimizer steps (steps x updates) */
    double weight_decay, beta1, beta2, eps, grad_clip;
    int seed;                /* problems and sampling */
    int eval_every, eval_n;  /* held-out greedy accuracy every eval_every steps (0: at the start and the end) */
    double budget_flops;     /* > 0: stop after the step at which the policy's compute reaches this */
    int log_every;
    char metrics_path[1024]; /* JSON Lines, one record per step; empty: none */
    char label[64];
    int quiet;
} GrpoOptions;

typedef struct GrpoResult {
    MetricLog log;           /* per step: reward, accuracy, format, length, kl, clip_fraction, loss, grad_norm, lr,
                                flops; at evaluations: val_accuracy, val_format, val_length, val_think_length */
    int steps_done, diverged, interrupted;
    double seconds, flops;   /* wall time; the policy's forward + backward FLOPs (sampling, reference, updates) */
    TaskEval final_eval;     /* held-out, greedy, after the last step */
} GrpoResult;

void grpo_defaults(GrpoOptions *o);
/* Trains policy in place. reference: the frozen pi_ref (NULL: a copy of the policy as it is at the start; it
 * must share the policy's vocabulary). -1 + message (naming the field) for bad options; a diverging run returns
 * 0 with r->diverged set. */
int grpo_run(Model *policy, Model *reference, const Task *task, const GrpoOptions *o, GrpoResult *r);
void grpo_result_free(GrpoResult *r);

/* ---- the pieces, each tested by hand (tests/test_grpo.c) ---- */
/* Group-relative advantages of G rewards: (r_i - mean) / (std + eps), std the sample standard deviation (G - 1);
 * all equal: zeros. */
void grpo_advantages(const double *reward, int G, double eps, double *adv);

/* Sums over the tokens seen: the KL estimates, the clipped tokens, the tokens. */
typedef struct GrpoStats { double kl, clipped, tokens; } GrpoStats;
/* One completion of L tokens with advantage A: returns its term of the objective, 1/L sum_t [min(...) - beta KL],
 * and writes dterm/dlogp_t into dj[t] (dj may be NULL); st (may be NULL) accumulates the KL and clip counts. A
 * token is clipped when its ratio is outside [1 - eps, 1 + eps] on the side where the clipped term is the min
 * (A > 0 and rho > 1 + eps, or A < 0 and rho < 1 - eps): its surrogate gradient is zero. */
double grpo_sequence(const double *lp, const double *lp_old, const double *lp_ref, int L, double A, double eps,
                     double beta, double *dj, GrpoStats *st);

/* A batch ready for the loss: sequences (SeqBatch, with the sampler's log-probs), the reference's log-probs
 * aligned with it, each sequence's advantage, and the normalizer (P G, the number of completions). */
typedef struct GrpoBatch {
    const SeqBatch *seq;
    const double *lp_ref;    /* (n, T) */
    const double *adv;       /* n */
    double norm;             /* P x G */
} GrpoBatch;
/* The GRPO loss L of the policy on the batch (forward in micro-batches of `micro` sequences, <= 0: all); with
 * backward, its gradient is accumulated into the policy's parameter gradients. st (may be NULL) accumulates the
 * token statistics, *tokens_run (may be NULL) the tokens the forward ran. NaN + message when planning fails. */
double grpo_loss(Model *policy, const GrpoBatch *b, double temperature, double eps, double beta, int micro,
                 int backward, GrpoStats *st, double *tokens_run);
#endif
