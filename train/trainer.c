#include "train/trainer.h"

#include <math.h>
#include <string.h>
#include <time.h>
#include <unistd.h>


#include "train/checkpoint.h"
#include "train/progress.h"

void train_defaults(TrainOptions *o) {
    memset(o, 0, sizeof *o);
    AdamW a = adamw_default();
    o->steps = 100;
    o->batch_size = 8;
    o->lr = 1e-3;
    o->min_lr = -1; /* -1: lr / 10 */
    o->warmup = -1; /* -1: steps / 20 */
    snprintf(o->schedule, sizeof o->schedule, "cosine");
    o->weight_decay = a.weight_decay;
    o->beta1 = a.beta1;
    o->beta2 = a.beta2;
    o->eps = a.eps;
    o->grad_clip = 1.0;
    o->seed = 1;
    o->log_every = 10;
    o->eval_every = 0; /* 0: only at the end */
    o->eval_batches = 8;
}

void grads_reduce(ParamStore *ps) { (void)ps; }

volatile int train_interrupt_requested = 0;

/* Keeps the records of a metrics file up to step `keep` (a resumed run rewrites what follows). */
static int truncate_jsonl(const char *path, int keep) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *o = fopen(tmp, "w");
    if (!o) { fclose(f); return al_errorf("cannot write '%s'", tmp); }
    char line[8192];
    while (fgets(line, sizeof line, f)) {
        const char *p = strstr(line, "\"step\": ");
        if (p && atof(p + 8) <= keep) fputs(line, o);
    }
    fclose(f);
    fclose(o);
    if (rename(tmp, path)) return al_errorf("cannot rename '%s'", tmp);
    return 0;
}

/* PATH.jsonl -> PATH.summary.json: the final numbers of a run, the last value of every recorded series and
 * the model config; written atomically at the end (sweeps use it to skip finished runs). */
void summary_path(const char *metrics_path, char *out, size_t n) {
    size_t len = strlen(metrics_path);
    if (len > 6 && !strcmp(metrics_path + len - 6, ".jsonl")) len -= 6;
    snprintf(out, n, "%.*s.summary.json", (int)len, metrics_path);
}

static int write_summary(const char *metrics_path, const Model *m, const TrainResult *r) {
    char path[1200], tmp[1300];
    summary_path(metrics_path, path, sizeof path);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return al_errorf("cannot write '%s'", tmp);
    JsonlWriter w = {.f = f};
    jsonl_begin(&w);
    jsonl_num(&w, "steps", r->steps_done);
    jsonl_num(&w, "start_step", r->start_step);
    jsonl_num(&w, "train_loss", r->train_loss);
    jsonl_num(&w, "val_loss", r->val_loss);
    jsonl_num(&w, "tokens_per_s", r->tokens_per_s);
    jsonl_num(&w, "seconds", r->seconds);
    jsonl_num(&w, "diverged", r->diverged);
    if (r->diverged) jsonl_num(&w, "diverged_step", r->diverged_step);
    jsonl_num(&w, "interrupted", r->interrupted);
    jsonl_num(&w, "params", (double)m->ps.total);
    for (int i = 0; i < r->log.n; i++) {
        char key[64];
        snprintf(key, sizeof key, "last.%s", r->log.series[i].name);
        jsonl_num(&w, key, r->log.series[i].n ? r->log.series[i].value[r->log.series[i].n - 1] : NAN);
    }
    char *cfg = config_to_json(&m->cfg);
    fprintf(f, ", \"config\": %s", cfg);
    free(cfg);
    fputs("}\n", f);
    int bad = fflush(f) || fsync(fileno(f));
    if (fclose(f) || bad) return al_errorf("error writing '%s'", tmp);
    if (rename(tmp, path)) return al_errorf("cannot rename '%s'", tmp);
    return 0;
}

static int save_checkpoint(const char *dir, Model *m, AdamW *opt, Rng *rng, int step, TrainResult *r) {
    TrainState st = {.step = step, .opt = *opt, .rng = rng};
    if (checkpoint_save(dir, m, &st)) return -1;
    snprintf(r->checkpoint_written, sizeof r->checkpoint_written, "%s", dir);
    return 0;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

double evaluate(Model *m, DataSource *data, int B, int T, int n_batches, int split) {
    int *in = malloc(sizeof(int) * B * T), *tg = malloc(sizeof(int) * B * T);
    AL_ASSERT(in && tg);
    Rng rng; /* synthetic tasks draw validation sequences from a fixed seed, distinct from training's */
    rng_init(&rng, 0x5eed0fa1u);
    double total = 0;
    long valid = 0;
    for (int i = 0; i < n_batches; i++) {
        if (data_batch(data, &rng, split, i, B, T, in, tg)) { total = NAN; break; }
        double loss = model_forward(m, in, tg, B, T);
        if (m->n_valid) { total += loss * m->n_valid; valid += m->n_valid; }
    }
    rng_free(&rng);
    free(in);
    free(tg);
    return valid ? total / valid : NAN;
}

static int check_options(const Model *m, const DataSource *d, const TrainOptions *o, Schedule *s) {
    if (o->steps < 0) return al_errorf("field 'steps' = %d must be >= 0", o->steps);
    if (o->batch_size < 1) return al_errorf("field 'batch_size' = %d must be >= 1", o->batch_size);
    int T = o->seq_len ? o->seq_len : m->cfg.seq_len;
    if (T < 1 || T > m->cfg.seq_len)
        return al_errorf("field 'seq_len' = %d must be in [1, model seq_len = %d]", T, m->cfg.seq_len);
    if (T < data_min_seq_len(d))
        return al_errorf("field 'seq_len' = %d is too short for %s (need %d)", T, d->description, data_min_seq_len(d));
    if (!(o->lr > 0) || !isfinite(o->lr)) return al_errorf("field 'lr' = %g must be a positive number", o->lr);
    if (!(o->beta1 >= 0 && o->beta1 < 1)) return al_errorf("field 'beta1' = %g must be in [0, 1)", o->beta1);
    if (!(o->beta2 >= 0 && o->beta2 < 1)) return al_errorf("field 'beta2' = %g must be in [0, 1)", o->beta2);
    if (!(o->weight_decay >= 0)) return al_errorf("field 'weight_decay' = %g must be >= 0", o->weight_decay);
    if (o->log_every < 1) return al_errorf("field 'log_every' = %d must be >= 1", o->log_every);
    if (o->eval_batches < 1) return al_errorf("field 'eval_batches' = %d must be >= 1", o->eval_batches);
    memset(s, 0, sizeof *s);
    if (schedule_kind_from_name(o->schedule, &s->kind))
        return al_errorf("field 'schedule' = \"%s\" is not one of constant|cosine|step", o->schedule);
    s->lr = o->lr;
    s->min_lr = o->min_lr >= 0 ? o->min_lr : o->lr / 10;
    s->warmup = o->warmup >= 0 ? o->warmup : o->steps / 20;
    s->total = o->steps;
    /* the mHC/DeepSeek step schedule: x0.316 at 80% of training, x0.1 at 90% */
    s->n_milestones = 2;
    s->milestone[0] = 0.8; s->factor[0] = 0.316;
    s->milestone[1] = 0.9; s->factor[1] = 0.1;
    return 0;
}

int train_run(Model *m, DataSource *data, const TrainOptions *o, TrainResult *r) {
    memset(r, 0, sizeof *r);
    metrics_init(&r->log);
    Schedule sched;
    if (check_options(m, data, o, &sched)) return -1;
    int B = o->batch_size, T = o->seq_len ? o->seq_len : m->cfg.seq_len;
    if (model_plan(m, B, T)) return -1;
    Rng rng;
    rng_init(&rng, (uint64_t)o->seed);
    AdamW opt = {.beta1 = o->beta1, .beta2 = o->beta2, .eps = o->eps, .weight_decay = o->weight_decay};
    int start = 0;
    if (o->resume_dir[0]) {
        TrainState st = {.rng = &rng, .opt = opt};
        if (checkpoint_load(o->resume_dir, m, &st)) { rng_free(&rng); return -1; }
        start = st.step;
        opt.step = st.opt.step;
        r->start_step = start;
        if (o->metrics_path[0] && truncate_jsonl(o->metrics_path, start)) { rng_free(&rng); return -1; }
    }
    JsonlWriter jw = {0};
    if (o->metrics_path[0] && jsonl_open(&jw, o->metrics_path, start > 0)) { rng_free(&rng); return -1; }
    int *in = malloc(sizeof(int) * B * T), *tg = malloc(sizeof(int) * B * T);
    AL_ASSERT(in && tg);
    Progress prog;
    progress_init(&prog, o->label, o->steps, o->quiet);
    double t0 = now_s(), window_loss = 0, last_tps = 0;
    int window_n = 0, rc = 0;
    long tokens = 0;
    r->steps_done = start;
    int end = o->stop_at > 0 && o->stop_at < o->steps ? o->stop_at : o->steps;
    for (int step = start; step < end && !rc; step++) {
        if (train_interrupt_requested) {
            const char *dir = o->checkpoint_dir[0] ? o->checkpoint_dir : "out/interrupted";
            if (save_checkpoint(dir, m, &opt, &rng, step, r)) { rc = -1; break; }
            r->interrupted = 1;
            progress_message(&prog, "interrupted at step %d: checkpoint in %s, metrics so far in %s", step, dir,
                             o->metrics_path[0] ? o->metrics_path : "(none)");
            break;
        }
        if (data_batch(data, &rng, SPLIT_TRAIN, step, B, T, in, tg)) { rc = -1; break; }
        K->zero(m->ps.grad, m->ps.total);
        double loss = model_forward(m, in, tg, B, T);
        model_backward(m, in, tg, B, T);
        grads_reduce(&m->ps);
        double gnorm = grad_clip(&m->ps, o->grad_clip);
        if (!isfinite(loss) || !isfinite(gnorm)) {
            r->diverged = 1;
            r->diverged_step = step;
            jsonl_begin(&jw);
            jsonl_num(&jw, "step", step);
            jsonl_num(&jw, "loss", loss);
            jsonl_num(&jw, "grad_norm", gnorm);
            jsonl_str(&jw, "event", "diverged");
            jsonl_end(&jw);
            progress_message(&prog, "diverged at step %d (loss %g, grad norm %g); run stopped", step, loss, gnorm);
            break;
        }
        double lr = schedule_lr(&sched, step);
        if (adamw_step(&opt, &m->ps, lr)) { rc = -1; break; }
        model_after_step(m);
        tokens += (long)B * T;
        r->steps_done = step + 1;
        window_loss += loss;
        window_n++;
        metrics_add(&r->log, "loss", step + 1, loss);
        metrics_add(&r->log, "lr", step + 1, lr);
        metrics_add(&r->log, "grad_norm", step + 1, gnorm);
        double aux = model_aux_loss(m);
        if (aux != 0) metrics_add(&r->log, "aux_loss", step + 1, aux);
        int rec_every = o->record_every > 0 ? o->record_every : o->log_every;
        if ((step + 1) % rec_every == 0 || step + 1 == o->steps) {
            model_record(m, &r->log, step + 1);
        }
        int last = step + 1 == end;
        int do_eval = last || (o->eval_every > 0 && (step + 1) % o->eval_every == 0);
        double val = NAN;
        if (do_eval) {
            double te = now_s();
            val = evaluate(m, data, B, T, o->eval_batches, SPLIT_VAL);
            t0 += now_s() - te; /* evaluation time is not training throughput */
            metrics_add(&r->log, "val_loss", step + 1, val);
            r->val_loss = val;
        }
        if ((step + 1) % o->log_every == 0 || last || do_eval) {
            double el = now_s() - t0;
            last_tps = el > 0 ? tokens / el : 0;
            metrics_add(&r->log, "tokens_per_s", step + 1, last_tps);
            r->train_loss = window_loss / window_n;
            jsonl_begin(&jw);
            jsonl_num(&jw, "step", step + 1);
            jsonl_num(&jw, "tokens", (double)tokens);
            jsonl_num(&jw, "loss", r->train_loss);
            jsonl_num(&jw, "lr", lr);
            jsonl_num(&jw, "grad_norm", gnorm);
            jsonl_num(&jw, "tokens_per_s", last_tps);
            if (do_eval) jsonl_num(&jw, "val_loss", val);
            /* everything else measured at this step (gains, expert loads, aux losses, ...) */
            for (int i = 0; i < r->log.n; i++) {
                const Series *se = &r->log.series[i];
                const char *nm = se->name;
                if (!se->n || se->step[se->n - 1] != step + 1 || !strcmp(nm, "loss") || !strcmp(nm, "lr") ||
                    !strcmp(nm, "grad_norm") || !strcmp(nm, "tokens_per_s") || !strcmp(nm, "val_loss"))
                    continue;
                jsonl_num(&jw, nm, se->value[se->n - 1]);
            }
            jsonl_end(&jw);
            progress_update(&prog, step + 1, r->train_loss, val, last_tps, el);
            window_loss = 0;
            window_n = 0;
        }
        /* after the step's metrics are written, so a resume from here rewrites nothing it needs */
        if (o->checkpoint_dir[0] && o->checkpoint_every > 0 && (step + 1) % o->checkpoint_every == 0 &&
            step + 1 < end && save_checkpoint(o->checkpoint_dir, m, &opt, &rng, step + 1, r))
            rc = -1;
    }
    if (!rc && !r->interrupted && !r->diverged && o->checkpoint_dir[0] && r->steps_done == end && end > start &&
        save_checkpoint(o->checkpoint_dir, m, &opt, &rng, end, r))
        rc = -1;
    r->seconds = now_s() - t0;
    r->tokens_per_s = r->seconds > 0 ? tokens / r->seconds : 0;
    progress_finish(&prog);
    jsonl_close(&jw);
    if (o->metrics_path[0] && write_summary(o->metrics_path, m, r)) rc = -1;
    rng_free(&rng);
    free(in);
    free(tg);
    return rc;
}

void train_result_free(TrainResult *r) { metrics_free(&r->log); }
