/* GRPO (train/grpo.h, docs/EQUATIONS.md sec. 8). The numbers over the vocabulary (log-probabilities, their
 * gradient) run through the kernel table; what is computed here is per token and per sequence: ratios, clipping,
 * the KL estimator, advantages, on small host arrays. */
#include "train/grpo.h"

#include <math.h>
#include <string.h>
#include <time.h>

#include "core/dist.h"
#include "core/jsonl.h"
#include "core/optim.h"
#include "train/progress.h"

void grpo_defaults(GrpoOptions *o) {
    memset(o, 0, sizeof *o);
    AdamW a = adamw_default();
    o->steps = 50;
    o->prompts = 8;
    o->group = 8;
    o->updates = 2;         /* our choice: more than one, so the ratio and its clipping matter (mu in the paper) */
    o->temperature = 1.0;
    o->top_p = 1.0;
    o->clip_eps = 0.2;      /* DeepSeekMath */
    o->kl_beta = 0.04;      /* DeepSeekMath */
    o->adv_eps = 1e-4;
    o->format_weight = 0.5; /* our choice: R1 sums an accuracy and a format reward without stating weights */
    o->lr = 1e-4;
    o->min_lr = -1;
    o->warmup = 0;
    snprintf(o->schedule, sizeof o->schedule, "constant");
    o->weight_decay = 0;    /* fine-tuning: no decay toward zero of a pretrained model's weights */
    o->beta1 = a.beta1;
    o->beta2 = a.beta2;
    o->eps = a.eps;
    o->grad_clip = 1.0;
    o->seed = 1;
    o->eval_n = 200;
    o->log_every = 1;
}

void grpo_result_free(GrpoResult *r) { metrics_free(&r->log); }

void grpo_advantages(const double *reward, int G, double eps, double *adv) {
    double mean = 0, var = 0;
    for (int i = 0; i < G; i++) mean += reward[i];
    mean /= G;
    for (int i = 0; i < G; i++) var += (reward[i] - mean) * (reward[i] - mean);
    double sd = G > 1 ? sqrt(var / (G - 1)) : 0;
    for (int i = 0; i < G; i++) adv[i] = var > 0 ? (reward[i] - mean) / (sd + eps) : 0;
}

double grpo_sequence(const double *lp, const double *lp_old, const double *lp_ref, int L, double A, double eps,
                     double beta, double *dj, GrpoStats *st) {
    double J = 0;
    for (int t = 0; t < L; t++) {
        double rho = exp(lp[t] - lp_old[t]);
        int clipped = (A > 0 && rho > 1 + eps) || (A < 0 && rho < 1 - eps);
        /* min(rho A, clip(rho) A): the clipped term exactly where `clipped`, where it is constant in theta */
        double surr = clipped ? (A > 0 ? 1 + eps : 1 - eps) * A : rho * A;
        double x = lp_ref[t] - lp[t], kl = exp(x) - x - 1; /* pi_ref/pi - log(pi_ref/pi) - 1 >= 0 */
        J += surr - beta * kl;
        if (dj) dj[t] = ((clipped ? 0 : rho * A) - beta * (1 - exp(x))) / L;
        if (st) { st->kl += kl; st->clipped += clipped; st->tokens += 1; }
    }
    return J / L;
}

double grpo_loss(Model *policy, const GrpoBatch *b, double temperature, double eps, double beta, int micro,
                 int backward, GrpoStats *st, double *tokens_run) {
    const SeqBatch *s = b->seq;
    int T = s->T, V = policy->cfg.vocab_size, mb = micro > 0 ? micro : s->n;
    double *lp = malloc(sizeof(double) * (size_t)mb * T), *w = malloc(sizeof(double) * (size_t)mb * T);
    double *x = malloc(sizeof(double) * 4 * (T + 1));
    AL_ASSERT(lp && w && x);
    double total = 0;
    for (int s0 = 0; s0 < s->n; s0 += mb) {
        int nb = s->n - s0 < mb ? s->n - s0 : mb;
        if (model_plan(policy, nb, T)) { total = NAN; break; }
        const int *tok = s->tokens + (size_t)s0 * T, *tg = s->targets + (size_t)s0 * T;
        model_forward(policy, tok, NULL, nb, T);
        K->token_logprobs(lp, model_logits(policy), tg, nb * T, V, (real)temperature);
        memset(w, 0, sizeof(double) * (size_t)nb * T);
        for (int j = 0; j < nb; j++) {
            int i = s0 + j, L = 0, first = -1;
            /* the completion's targets are contiguous: gather them, then scatter the weights back */
            double *a = x, *o = x + (T + 1), *r = x + 2 * (T + 1), *d = x + 3 * (T + 1);
            for (int t = 0; t < T; t++)
                if (tg[(size_t)j * T + t] >= 0) {
                    if (first < 0) first = t;
                    a[L] = lp[(size_t)j * T + t];
                    o[L] = s->logp_old[(size_t)i * T + t];
                    r[L] = b->lp_ref[(size_t)i * T + t];
                    L++;
                }
            if (!L) continue;
            double term = grpo_sequence(a, o, r, L, b->adv[i], eps, beta, d, st);
            total -= term / b->norm;
            for (int k = 0; k < L; k++) w[(size_t)j * T + first + k] = -d[k] / b->norm; /* dL/dlogp */
        }
        if (tokens_run) *tokens_run += (double)nb * T;
        if (!backward) continue;
        /* the kernel writes the gradient of sum_n w_n log p_n over the logits: with w = dL/dlogp, dL/dlogits */
        K->logprob_backward(model_logits(policy), tg, w, nb * T, V, (real)temperature);
        policy_backward_logits(policy, tok, nb, T);
    }
    free(lp); free(w); free(x);
    return total;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int check_options(const Model *p, const Model *ref, const Task *t, const GrpoOptions *o, int max_new, Schedule *s) {
    /* one process: sampling, the rewards and the updates are not split over MPI ranks (each rank would train its
     * own copy on its own samples) */
    if (dist_size() > 1)
        return al_errorf("runs in one process, not under mpirun (%d ranks here): its sampling and updates are not split over ranks", dist_size());
    if (o->steps < 1) return al_errorf("field 'steps' = %d must be >= 1", o->steps);
    if (o->prompts < 1) return al_errorf("field 'prompts' = %d must be >= 1", o->prompts);
    if (o->group < 2) return al_errorf("field 'group' = %d must be >= 2 (advantages are relative to the group)", o->group);
    if (o->updates < 1) return al_errorf("field 'updates' = %d must be >= 1", o->updates);
    if (!(o->temperature > 0)) return al_errorf("field 'temperature' = %g must be > 0 (GRPO samples its groups)", o->temperature);
    if (!(o->top_p > 0 && o->top_p <= 1)) return al_errorf("field 'top_p' = %g must be in (0, 1]", o->top_p);
    if (!(o->clip_eps > 0 && o->clip_eps < 1)) return al_errorf("field 'clip' = %g must be in (0, 1)", o->clip_eps);
    if (!(o->kl_beta >= 0)) return al_errorf("field 'kl_beta' = %g must be >= 0", o->kl_beta);
    if (!(o->lr > 0) || !isfinite(o->lr)) return al_errorf("field 'lr' = %g must be a positive number", o->lr);
    if (o->min_lr > o->lr) return al_errorf("field 'min_lr' = %g is above lr = %g", o->min_lr, o->lr);
    if (p->cfg.vocab_size < 256)
        return al_errorf("field 'policy': vocab_size = %d, but the task's text is bytes (vocab_size 256)", p->cfg.vocab_size);
    if (ref && ref->cfg.vocab_size != p->cfg.vocab_size)
        return al_errorf("field 'reference': vocab_size = %d differs from the policy's %d", ref->cfg.vocab_size, p->cfg.vocab_size);
    if (max_new < 1 || task_max_prompt(t) + max_new - 1 > p->cfg.seq_len)
        return al_errorf("field 'max_new' = %d: the task's longest prompt (%d tokens) + max_new - 1 exceeds the policy's "
                         "seq_len = %d", max_new, task_max_prompt(t), p->cfg.seq_len);
    if (ref && task_max_prompt(t) + max_new - 1 > ref->cfg.seq_len)
        return al_errorf("field 'reference': its seq_len = %d is too short for prompt + max_new = %d tokens",
                         ref->cfg.seq_len, task_max_prompt(t) + max_new - 1);
    return schedule_init(s, o->schedule, o->lr, o->min_lr, o->warmup > 0 ? o->warmup : 0, o->steps * o->updates);
}

int grpo_run(Model *policy, Model *reference, const Task *task, const GrpoOptions *o, GrpoResult *r) {
    memset(r, 0, sizeof *r);
    metrics_init(&r->log);
    r->final_eval = (TaskEval){0, NAN, NAN, NAN, NAN, NAN, NAN}; /* until an evaluation runs (eval_n = 0: never) */
    int max_new = o->max_new > 0 ? o->max_new : rl_default_max_new(policy, task);
    Schedule sched;
    if (check_options(policy, reference, task, o, max_new, &sched)) return -1;
    Model *ref = reference ? reference : rl_model_copy(policy);
    if (!ref) return -1;
    JsonlWriter jw = {0};
    if (o->metrics_path[0] && jsonl_open(&jw, o->metrics_path, 0)) { if (!reference) model_free(ref); return -1; }
    AdamW opt = {.beta1 = o->beta1, .beta2 = o->beta2, .eps = o->eps, .weight_decay = o->weight_decay};
    Rng prng, srng;
    rng_init(&prng, (uint64_t)o->seed);
    rng_init(&srng, (uint64_t)o->seed * 7919u + 17);
    Progress prog;
    progress_init(&prog, o->label[0] ? o->label : "grpo", o->steps, o->quiet);
    SampleOptions so = {o->temperature, o->top_p, max_new, TASK_STOP, 0};
    SampleOptions greedy = {0, 1, max_new, TASK_STOP, 0};
    const uint64_t eval_seed = 0x5eed0fa1u; /* the same held-out problems at every evaluation, in every run */
    double t0 = now_s();
    int rc = 0, P = o->prompts, G = o->group, n = P * G;
    double *adv = malloc(sizeof(double) * n);
    AL_ASSERT(adv);
    TaskEval ev;
    if (o->eval_n > 0) {
        if ((rc = task_evaluate(policy, task, o->eval_n, &greedy, eval_seed, &ev))) goto done;
        rl_record_eval(&r->log, 0, &ev);
        if ((rc = rl_write_row(&jw, &r->log, 0))) goto done;
    }
    for (int step = 0; step < o->steps; step++) {
        if ((rc = al_interrupted())) { r->interrupted = 1; break; }
        double tok_fwd = 0, tok_train = 0;
        Rollouts ro;
        if ((rc = rollouts_sample(&ro, policy, task, &prng, TASK_SPLIT_TRAIN, P, G, &so, &srng, o->format_weight, &tok_fwd)))
            break;
        for (int p = 0; p < P; p++) grpo_advantages(ro.reward + p * G, G, o->adv_eps, adv + p * G);
        SeqBatch sb;
        seqbatch_from_rollouts(&sb, &ro, NULL, 0, 1);
        double *lp_ref = malloc(sizeof(double) * (size_t)sb.n * sb.T);
        AL_ASSERT(lp_ref);
        rc = rl_target_logprobs(ref, &sb, o->temperature, o->micro_batch, lp_ref, &tok_fwd);
        GrpoBatch gb = {&sb, lp_ref, adv, (double)n};
        GrpoStats st = {0};
        double loss = 0, gn = 0, lr = 0;
        for (int u = 0; u < o->updates && !rc; u++) {
            K->zero(policy->ps.grad, policy->ps.total);
            loss = grpo_loss(policy, &gb, o->temperature, o->clip_eps, o->kl_beta, o->micro_batch, 1, &st, &tok_train);
            if (isnan(loss)) { rc = -1; break; }
            gn = grad_clip(&policy->ps, o->grad_clip);
            if (!isfinite(loss) || !isfinite(gn)) { r->diverged = 1; break; }
            lr = schedule_lr(&sched, rl_schedule_step(step * o->updates + u, sched.total, r->flops, o->budget_flops));
            if ((rc = adamw_step(&opt, &policy->ps, lr))) break;
            if (!K->all_finite(policy->ps.data, policy->ps.total)) { r->diverged = 1; break; }
            model_after_step(policy);
        }
        /* compute: every token a forward ran (sampling, the reference), 3x for those with a backward */
        double F = model_flops_per_token(policy, sb.T);
        r->flops += F * (tok_fwd + 3 * tok_train);
        double racc = 0, acc = 0, fmt = 0, len = 0, think = 0;
        for (int i = 0; i < n; i++) {
            racc += ro.reward[i];
            acc += ro.score[i].accuracy;
            fmt += ro.score[i].format;
            len += ro.clen[i];
            if (ro.score[i].format) think += ro.score[i].think_len;
        }
        free(lp_ref);
        seqbatch_free(&sb);
        rollouts_free(&ro);
        if (rc) break;
        int done = step + 1;
        MetricLog *log = &r->log;
        metrics_add(log, "reward", done, racc / n);
        metrics_add(log, "accuracy", done, acc / n);
        metrics_add(log, "format", done, fmt / n);
        metrics_add(log, "length", done, len / n);
        metrics_add(log, "think_length", done, fmt > 0 ? think / fmt : NAN);
        metrics_add(log, "kl", done, st.tokens ? st.kl / st.tokens : NAN);
        metrics_add(log, "clip_fraction", done, st.tokens ? st.clipped / st.tokens : NAN);
        metrics_add(log, "loss", done, loss);
        metrics_add(log, "grad_norm", done, gn);
        metrics_add(log, "lr", done, lr);
        metrics_add(log, "flops", done, r->flops);
        r->steps_done = done;
        if (r->diverged) {
            progress_message(&prog, "diverged at step %d (loss %g, grad norm %g); run stopped", done, loss, gn);
            rl_write_row(&jw, log, done);
            break;
        }
        int last = done == o->steps || (o->budget_flops > 0 && r->flops >= o->budget_flops);
        if (o->eval_n > 0 && (last || (o->eval_every > 0 && done % o->eval_every == 0))) {
            if ((rc = task_evaluate(policy, task, o->eval_n, &greedy, eval_seed, &ev))) break;
            rl_record_eval(log, done, &ev);
        }
        if ((rc = rl_write_row(&jw, log, done))) break;
        if (!o->quiet && (done % (o->log_every > 0 ? o->log_every : 1) == 0 || last))
            progress_message(&prog, "step %d/%d reward %.3f accuracy %.3f format %.3f length %.1f kl %.4f clip %.3f%s",
                             done, o->steps, racc / n, acc / n, fmt / n, len / n, st.tokens ? st.kl / st.tokens : NAN,
                             st.tokens ? st.clipped / st.tokens : NAN, "");
        if (last) break;
    }
    if (!rc && !r->diverged && !r->interrupted) {
        if (o->eval_n > 0) {
            double v;
            const Series *s = metrics_get(&r->log, "val_accuracy");
            if (s && metrics_at(s, r->steps_done, &v)) r->final_eval = ev;
            else if (!(rc = task_evaluate(policy, task, o->eval_n, &greedy, eval_seed, &ev))) r->final_eval = ev;
        }
    }
done:
    r->seconds = now_s() - t0;
    progress_finish(&prog);
    jsonl_close(&jw);
    rng_free(&prng);
    rng_free(&srng);
    free(adv);
    if (!reference) model_free(ref);
    return rc;
}
