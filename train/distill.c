/* Sequence-level and logit distillation (train/distill.h, docs/EQUATIONS.md sec. 8). */
#include "train/distill.h"

#include <math.h>
#include <string.h>
#include <time.h>

#include "core/dist.h"
#include "core/jsonl.h"
#include "core/optim.h"
#include "train/progress.h"

void distill_defaults(DistillOptions *o) {
    memset(o, 0, sizeof *o);
    AdamW a = adamw_default();
    o->mode = DISTILL_SEQUENCES;
    o->prompts = 512;
    o->per_prompt = 1;
    o->filter = 1;
    o->temperature = 0.6; /* R1's recommended sampling temperature for its models' outputs */
    o->top_p = 0.95;      /* R1's */
    o->steps = 100;
    o->batch_size = 32;
    o->tau = 2.0;
    o->lr = 1e-3;
    o->min_lr = -1;
    o->warmup = -1;
    snprintf(o->schedule, sizeof o->schedule, "cosine");
    o->weight_decay = a.weight_decay;
    o->beta1 = a.beta1;
    o->beta2 = a.beta2;
    o->eps = a.eps;
    o->grad_clip = 1.0;
    o->seed = 1;
    o->eval_n = 200;
    o->log_every = 10;
}

void distill_result_free(DistillResult *r) { metrics_free(&r->log); }

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

double distill_loss(Model *teacher, Model *student, const SeqBatch *b, double tau, int reverse, double hard_weight,
                    int micro, int backward, double *kl_mean, double *tokens_student, double *tokens_teacher) {
    int T = b->T, V = student->cfg.vocab_size, mb = micro > 0 ? micro : b->n;
    size_t ntok = 0;
    for (size_t k = 0; k < (size_t)b->n * T; k++) ntok += b->targets[k] >= 0;
    if (!ntok) return NAN;
    double *wa = malloc(sizeof(double) * (size_t)mb * T), *wc = malloc(sizeof(double) * (size_t)mb * T);
    double *kl = malloc(sizeof(double) * (size_t)mb * T), *ce = malloc(sizeof(double) * (size_t)mb * T);
    AL_ASSERT(wa && wc && kl && ce);
    double total = 0, klsum = 0;
    for (int s0 = 0; s0 < b->n; s0 += mb) {
        int nb = b->n - s0 < mb ? b->n - s0 : mb, N = nb * T;
        const int *tok = b->tokens + (size_t)s0 * T, *tg = b->targets + (size_t)s0 * T;
        if (model_plan(student, nb, T) || (teacher && model_plan(teacher, nb, T))) { total = NAN; break; }
        if (teacher) {
            model_forward(teacher, tok, NULL, nb, T);
            if (tokens_teacher) *tokens_teacher += N;
        }
        model_forward(student, tok, NULL, nb, T);
        if (tokens_student) *tokens_student += N;
        if (teacher) {
            for (int k = 0; k < N; k++) {
                wa[k] = tg[k] >= 0 ? tau * tau / ntok : 0; /* tau^2 keeps the gradient's scale as tau varies */
                wc[k] = tg[k] >= 0 ? hard_weight / ntok : 0;
            }
            /* the student's logits become d loss / d logits in place */
            K->distill_kl(kl, ce, model_logits(student), model_logits(teacher), tg, wa, wc, N, V, (real)tau, reverse);
            for (int k = 0; k < N; k++) {
                total += wa[k] * kl[k] + wc[k] * ce[k];
                klsum += tg[k] >= 0 ? kl[k] : 0;
            }
        } else {
            K->token_logprobs(kl, model_logits(student), tg, N, V, 1);
            for (int k = 0; k < N; k++) {
                total -= tg[k] >= 0 ? kl[k] / ntok : 0;
                wa[k] = tg[k] >= 0 ? -1.0 / ntok : 0; /* dL / dlogp */
            }
            if (backward) K->logprob_backward(model_logits(student), tg, wa, N, V, 1);
        }
        if (backward) policy_backward_logits(student, tok, nb, T);
    }
    if (kl_mean) *kl_mean = teacher ? klsum / ntok : NAN;
    free(wa); free(wc); free(kl); free(ce);
    return total;
}

static int check_options(const Model *t, const Model *s, const Task *task, const DistillOptions *o, int max_new,
                         Schedule *sc) {
    /* one process: sampling, the rewards and the updates are not split over MPI ranks (each rank would train its
     * own copy on its own samples) */
    if (dist_size() > 1)
        return al_errorf("runs in one process, not under mpirun (%d ranks here): its sampling and updates are not split over ranks", dist_size());
    if (t == s) return al_errorf("fields 'teacher' and 'student' are the same model");
    if (t->cfg.vocab_size != s->cfg.vocab_size)
        return al_errorf("field 'student': vocab_size = %d differs from the teacher's %d (they must share the vocabulary)",
                         s->cfg.vocab_size, t->cfg.vocab_size);
    if (s->cfg.vocab_size < 256)
        return al_errorf("field 'student': vocab_size = %d, but the task's text is bytes (vocab_size 256)", s->cfg.vocab_size);
    int need = task_max_prompt(task) + max_new - 1;
    if (max_new < 1 || need > t->cfg.seq_len || need > s->cfg.seq_len)
        return al_errorf("field 'max_new' = %d: the task's longest prompt (%d tokens) + max_new - 1 exceeds the %s's "
                         "seq_len = %d", max_new, task_max_prompt(task), need > t->cfg.seq_len ? "teacher" : "student",
                         need > t->cfg.seq_len ? t->cfg.seq_len : s->cfg.seq_len);
    if (o->prompts < 1) return al_errorf("field 'prompts' = %d must be >= 1", o->prompts);
    if (o->per_prompt < 1) return al_errorf("field 'per_prompt' = %d must be >= 1", o->per_prompt);
    if (!(o->temperature >= 0)) return al_errorf("field 'temperature' = %g must be >= 0 (0: greedy)", o->temperature);
    if (!(o->top_p > 0 && o->top_p <= 1)) return al_errorf("field 'top_p' = %g must be in (0, 1]", o->top_p);
    if (o->steps < 1) return al_errorf("field 'steps' = %d must be >= 1", o->steps);
    if (o->batch_size < 1) return al_errorf("field 'batch_size' = %d must be >= 1", o->batch_size);
    if (!(o->tau > 0)) return al_errorf("field 'tau' = %g must be > 0", o->tau);
    if (!(o->hard_weight >= 0)) return al_errorf("field 'hard_weight' = %g must be >= 0", o->hard_weight);
    if (!(o->lr > 0) || !isfinite(o->lr)) return al_errorf("field 'lr' = %g must be a positive number", o->lr);
    if (o->min_lr > o->lr) return al_errorf("field 'min_lr' = %g is above lr = %g", o->min_lr, o->lr);
    return schedule_init(sc, o->schedule, o->lr, o->min_lr, o->warmup >= 0 ? o->warmup : o->steps / 20, o->steps);
}

void distill_data_free(DistillData *d) {
    for (int i = 0; i < d->n; i++) free(d->seq[i]);
    free(d->seq); free(d->len); free(d->clen);
    memset(d, 0, sizeof *d);
}

int distill_generate(Model *teacher, const Task *task, const DistillOptions *o, int max_new, DistillData *d,
                     DistillResult *r) {
    const int chunk = 64; /* problems per sampling call: bounds the KV cache */
    SampleOptions so = {o->temperature, o->top_p, max_new, TASK_STOP, 0};
    Rng prng, srng; /* the problems', the draws' */
    rng_init(&prng, (uint64_t)o->seed);
    rng_init(&srng, (uint64_t)o->seed * 7919u + 17);
    memset(d, 0, sizeof *d);
    double acc = 0, fmt = 0, tokens = 0;
    int rc = 0;
    d->cap = o->prompts * o->per_prompt;
    d->seq = calloc(d->cap, sizeof *d->seq);
    d->len = calloc(d->cap, sizeof(int));
    d->clen = calloc(d->cap, sizeof(int));
    AL_ASSERT(d->seq && d->len && d->clen);
    for (int p0 = 0; p0 < o->prompts && !rc; p0 += chunk) {
        int P = o->prompts - p0 < chunk ? o->prompts - p0 : chunk;
        Rollouts ro;
        if ((rc = rollouts_sample(&ro, teacher, task, &prng, TASK_SPLIT_TRAIN, P, o->per_prompt, &so, &srng, 0, &tokens)))
            break;
        for (int i = 0; i < ro.n; i++) {
            acc += ro.score[i].accuracy;
            fmt += ro.score[i].format;
            r->generated++;
            if (o->filter && !(ro.score[i].accuracy && ro.score[i].format)) continue;
            int L = ro.plen[i] + ro.clen[i];
            int *s = malloc(sizeof(int) * L);
            AL_ASSERT(s);
            memcpy(s, ro.prompt + (size_t)i * TASK_PROMPT_MAX, sizeof(int) * ro.plen[i]);
            memcpy(s + ro.plen[i], ro.comp + (size_t)i * ro.max_new, sizeof(int) * ro.clen[i]);
            d->seq[d->n] = s;
            d->len[d->n] = L;
            d->clen[d->n] = ro.clen[i];
            d->n++;
        }
        int T = 1;
        for (int i = 0; i < ro.n; i++) T = ro.plen[i] + ro.clen[i] > T ? ro.plen[i] + ro.clen[i] : T;
        r->teacher_flops += model_flops_per_token(teacher, T) * tokens;
        tokens = 0;
        rollouts_free(&ro);
    }
    rng_free(&prng);
    rng_free(&srng);
    if (rc) return -1;
    r->kept = d->n;
    r->teacher_accuracy = acc / r->generated;
    r->teacher_format = fmt / r->generated;
    if (!d->n)
        return al_errorf("the teacher's %d completions hold none the checker accepts (teacher accuracy %.3f, format %.3f): "
                         "nothing to distill (filter = false keeps them all)", r->generated, r->teacher_accuracy,
                         r->teacher_format);
    return 0;
}

int distill_run(Model *teacher, Model *student, const Task *task, const DistillOptions *o, DistillResult *r) {
    memset(r, 0, sizeof *r);
    metrics_init(&r->log);
    r->final_eval = (TaskEval){0, NAN, NAN, NAN, NAN, NAN, NAN}; /* until an evaluation runs (eval_n = 0: never) */
    int mt = rl_default_max_new(teacher, task), ms = rl_default_max_new(student, task);
    int max_new = o->max_new > 0 ? o->max_new : mt < ms ? mt : ms;
    Schedule sched;
    if (check_options(teacher, student, task, o, max_new, &sched)) return -1;
    JsonlWriter jw = {0};
    if (o->metrics_path[0] && jsonl_open(&jw, o->metrics_path, 0)) return -1;
    AdamW opt = {.beta1 = o->beta1, .beta2 = o->beta2, .eps = o->eps, .weight_decay = o->weight_decay};
    Rng brng;
    rng_init(&brng, (uint64_t)o->seed * 104729u + 3);
    Progress prog;
    progress_init(&prog, o->label[0] ? o->label : "distill", o->steps, o->quiet);
    SampleOptions greedy = {0, 1, max_new, TASK_STOP, 0};
    const uint64_t eval_seed = 0x5eed0fa1u; /* the held-out problems GRPO evaluates on, too */
    double t0 = now_s();
    DistillData d = {0};
    TaskEval ev;
    int rc = distill_generate(teacher, task, o, max_new, &d, r);
    int *sel = malloc(sizeof(int) * o->batch_size);
    const int **seqs = malloc(sizeof(int *) * o->batch_size);
    int *lens = malloc(sizeof(int) * o->batch_size), *clens = malloc(sizeof(int) * o->batch_size);
    AL_ASSERT(sel && seqs && lens && clens);
    if (!rc && !o->quiet)
        progress_message(&prog, "teacher: %d completions, %d kept (accuracy %.3f, format %.3f)", r->generated, r->kept,
                         r->teacher_accuracy, r->teacher_format);
    if (!rc && o->eval_n > 0 && !(rc = task_evaluate(student, task, o->eval_n, &greedy, eval_seed, &ev))) {
        rl_record_eval(&r->log, 0, &ev);
        rc = rl_write_row(&jw, &r->log, 0);
    }
    for (int step = 0; step < o->steps && !rc; step++) {
        if ((rc = al_interrupted())) { r->interrupted = 1; break; }
        for (int j = 0; j < o->batch_size; j++) {
            int i = (int)rng_below(&brng, (uint64_t)d.n);
            seqs[j] = d.seq[i];
            lens[j] = d.len[i];
            clens[j] = d.clen[i];
        }
        SeqBatch b;
        if ((rc = seqbatch_from_tokens(&b, seqs, lens, clens, o->batch_size))) break;
        double ts = 0, tt = 0, klm = NAN, f0 = r->flops; /* the compute spent before this step */
        K->zero(student->ps.grad, student->ps.total);
        double loss = distill_loss(o->mode == DISTILL_LOGITS ? teacher : NULL, student, &b, o->tau, o->reverse,
                                   o->hard_weight, o->micro_batch, 1, &klm, &ts, &tt);
        r->flops += 3 * model_flops_per_token(student, b.T) * ts;
        r->teacher_flops += model_flops_per_token(teacher, b.T) * tt;
        seqbatch_free(&b);
        double gn = grad_clip(&student->ps, o->grad_clip), lr = schedule_lr(&sched, rl_schedule_step(step, sched.total, f0, o->budget_flops));
        int done = step + 1;
        if (!isfinite(loss) || !isfinite(gn)) r->diverged = 1;
        else if ((rc = adamw_step(&opt, &student->ps, lr))) break;
        else if (!K->all_finite(student->ps.data, student->ps.total)) r->diverged = 1;
        else model_after_step(student);
        metrics_add(&r->log, "loss", done, loss);
        if (o->mode == DISTILL_LOGITS) metrics_add(&r->log, "kl", done, klm);
        metrics_add(&r->log, "grad_norm", done, gn);
        metrics_add(&r->log, "lr", done, lr);
        metrics_add(&r->log, "flops", done, r->flops);
        r->steps_done = done;
        if (r->diverged) {
            progress_message(&prog, "diverged at step %d (loss %g, grad norm %g); run stopped", done, loss, gn);
            rl_write_row(&jw, &r->log, done);
            break;
        }
        int last = done == o->steps || (o->budget_flops > 0 && r->flops >= o->budget_flops);
        if (o->eval_n > 0 && (last || (o->eval_every > 0 && done % o->eval_every == 0))) {
            if ((rc = task_evaluate(student, task, o->eval_n, &greedy, eval_seed, &ev))) break;
            rl_record_eval(&r->log, done, &ev);
            if (last) r->final_eval = ev;
        }
        if ((rc = rl_write_row(&jw, &r->log, done))) break;
        if (!o->quiet && (done % (o->log_every > 0 ? o->log_every : 1) == 0 || last))
            progress_message(&prog, "step %d/%d loss %.4f%s", done, o->steps, loss, "");
        if (last) break;
    }
    r->seconds = now_s() - t0;
    progress_finish(&prog);
    jsonl_close(&jw);
    rng_free(&brng);
    free(sel); free(seqs); free(lens); free(clens);
    distill_data_free(&d);
    return rc;
}
