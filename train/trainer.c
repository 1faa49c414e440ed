#include "train/trainer.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "arch/mtp.h"
#include "core/lowp_linear.h"
#include "core/dist.h"
#include "train/checkpoint.h"
#include "train/parallel.h"
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
    snprintf(o->precision, sizeof o->precision, "fp32");
    snprintf(o->fp8_scaling, sizeof o->fp8_scaling, "tile");
    snprintf(o->accum_round, sizeof o->accum_round, "toward_zero");
    o->accum_bits = -1;
    o->promote_every = 128;
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

/* The one reduction seam: with several ranks (train/parallel.h) the gradients of the global batch, summed over
 * ranks in a fixed order, and the loss and the model's statistics of the global batch; nothing with one. */
int grads_reduce(Model *m, double *loss) { return dp_reduce_step(m, loss); }


/* Keeps the records of a metrics file up to step `keep` (a resumed run rewrites what follows): lines of any
 * length; the file is replaced only when the shortened copy was written completely (a full disk leaves the
 * original as it was). */
static int truncate_jsonl(const char *path, int keep) {
    if (al_check_replaceable(path)) return 0; /* metrics = "/dev/null": nothing to truncate, and it is not replaced */
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *o = fopen(tmp, "w");
    if (!o) { fclose(f); return al_errorf("cannot write '%s': %s", tmp, strerror(errno)); }
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        /* a record cut short by a crash or a full disk has no closing "}\n": it is dropped */
        size_t len = strlen(line);
        const char *p = strstr(line, "\"step\": ");
        if (p && len >= 2 && !strcmp(line + len - 2, "}\n") && atof(p + 8) <= keep) fputs(line, o);
    }
    free(line);
    int rerr = ferror(f);
    fclose(f);
    int werr = fflush(o) || ferror(o) || fsync(fileno(o));
    int e = errno;
    if (fclose(o) || werr || rerr) {
        unlink(tmp);
        return al_errorf("cannot rewrite metrics file '%s' for the resume: %s", path, rerr ? "read error" : strerror(e));
    }
    if (rename(tmp, path)) return al_errorf("cannot rename '%s': %s", tmp, strerror(errno));
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
    return evaluate_mtp(m, data, B, T, n_batches, split, NULL, NULL);
}

double evaluate_mtp(Model *m, DataSource *data, int B, int T, int n_batches, int split, double *mtp_loss,
                    double *mtp_accuracy) {
    double mtp_sum[16] = {0}, mtp_hits[16] = {0}, mtp_n[16] = {0};
    if (data_check_vocab(data, m->cfg.vocab_size)) return NAN;
    /* with several ranks, B is this rank's share of each global batch of B x ranks sequences */
    int R = dist_size();
    int *in = malloc(sizeof(int) * B * T), *tg = malloc(sizeof(int) * B * T);
    int *gin = R > 1 ? malloc(sizeof(int) * B * R * T) : NULL, *gtg = R > 1 ? malloc(sizeof(int) * B * R * T) : NULL;
    AL_ASSERT(in && tg && (R == 1 || (gin && gtg)));
    Rng rng; /* synthetic tasks draw validation sequences from a fixed seed, distinct from training's */
    rng_init(&rng, 0x5eed0fa1u);
    double total = 0;
    long valid = 0;
    for (int i = 0; i < n_batches; i++) {
        if (al_interrupted() || dp_batch(data, &rng, split, i, B * R, T, in, tg, gin, gtg)) { total = NAN; valid = 0; break; }
        double loss = model_forward(m, in, tg, B, T);
        if (m->n_valid) { total += loss * m->n_valid; valid += m->n_valid; }
        for (int k = 0; k < m->n_mtp && k < 16; k++) { /* weighted by each module's own valid targets */
            mtp_sum[k] += m->mtp[k].loss * m->mtp[k].n_valid;
            mtp_hits[k] += m->mtp[k].n_correct;
            mtp_n[k] += m->mtp[k].n_valid;
        }
    }
    if (R > 1) { /* the totals of every rank's share: the global batches' */
        /* every rank takes part in the sum, a failed one too (its count of failures says so) */
        double t[3 + 3 * 16] = {isnan(total) ? 0 : total, (double)valid, isnan(total) ? 1 : 0};
        for (int k = 0; k < 16; k++) { t[3 + 3 * k] = mtp_sum[k]; t[4 + 3 * k] = mtp_hits[k]; t[5 + 3 * k] = mtp_n[k]; }
        if (dp_sum(t, 3 + 3 * 16) || t[2] > 0) { total = NAN; valid = 0; }
        else {
            total = t[0]; valid = (long)t[1];
            for (int k = 0; k < 16; k++) { mtp_sum[k] = t[3 + 3 * k]; mtp_hits[k] = t[4 + 3 * k]; mtp_n[k] = t[5 + 3 * k]; }
        }
    }
    free(gin);
    free(gtg);
    for (int k = 0; k < m->n_mtp && k < 16; k++) {
        if (mtp_loss) mtp_loss[k] = mtp_n[k] ? mtp_sum[k] / mtp_n[k] : NAN;
        if (mtp_accuracy) mtp_accuracy[k] = mtp_n[k] ? mtp_hits[k] / mtp_n[k] : NAN;
    }
    rng_free(&rng);
    free(in);
    free(tg);
    return valid ? total / valid : NAN;
}

static int check_options(const Model *m, const DataSource *d, const TrainOptions *o, Schedule *s) {
    if (o->steps < 1) return al_errorf("field 'steps' = %d must be >= 1", o->steps);
    if (o->stop_at > o->steps)
        return al_errorf("field 'stop_at' = %d is beyond steps = %d (it stops a run of `steps` early)", o->stop_at, o->steps);
    if (o->checkpoint_every > 0 && !o->checkpoint_dir[0])
        return al_errorf("field 'checkpoint_every' = %d needs field 'checkpoint' (the directory to write)", o->checkpoint_every);
    if (o->batch_size < 1) return al_errorf("field 'batch_size' = %d must be >= 1", o->batch_size);
    int T = o->seq_len ? o->seq_len : m->cfg.seq_len;
    if (T < 1 || T > m->cfg.seq_len)
        return al_errorf("field 'seq_len' = %d must be in [1, model seq_len = %d]", T, m->cfg.seq_len);
    if (T < data_min_seq_len(d))
        return al_errorf("field 'seq_len' = %d is too short for %s (need %d)", T, d->description, data_min_seq_len(d));
    if (data_check_vocab(d, m->cfg.vocab_size)) return -1;
    if (!(o->lr > 0) || !isfinite(o->lr)) return al_errorf("field 'lr' = %g must be a positive number", o->lr);
    if (!(o->beta1 >= 0 && o->beta1 < 1)) return al_errorf("field 'beta1' = %g must be in [0, 1)", o->beta1);
    if (!(o->beta2 >= 0 && o->beta2 < 1)) return al_errorf("field 'beta2' = %g must be in [0, 1)", o->beta2);
    if (!(o->weight_decay >= 0)) return al_errorf("field 'weight_decay' = %g must be >= 0", o->weight_decay);
    if (o->min_lr > o->lr) return al_errorf("field 'min_lr' = %g is above lr = %g", o->min_lr, o->lr);
    if (o->log_every < 1) return al_errorf("field 'log_every' = %d must be >= 1", o->log_every);
    if (o->eval_batches < 1) return al_errorf("field 'eval_batches' = %d must be >= 1", o->eval_batches);
    return schedule_init(s, o->schedule, o->lr, o->min_lr, o->warmup >= 0 ? o->warmup : o->steps / 20, o->steps);
}

/* ---- the loop, as named steps over one Loop ---- */

typedef struct Loop {
    Model *m;
    DataSource *data;
    const TrainOptions *o;
    TrainResult *r;
    Schedule sched;
    AdamW opt;
    Rng rng;          /* the data sampler's */
    JsonlWriter jw;   /* the metrics file (no file: writes nothing) */
    Progress prog;
    int B, T, end;    /* batch shape (B: this rank's share of batch_size); the step the run stops at */
    int *in, *tg;     /* (B, T) tokens and targets */
    int *gin, *gtg;   /* with several ranks: the global batch (batch_size, T), drawn whole by every rank */
    int lead;         /* rank 0: the one that prints, writes metrics and checkpoints */
    double t0;        /* start of the training clock (evaluation time is taken off it) */
    long tokens;      /* trained since start */
    double tokens_before; /* a resumed run's: start x B x T */
    double window_loss; int window_n; /* train loss over the current log window */
} Loop;

/* What one step measured. */
typedef struct StepResult { double loss, grad_norm, lr; } StepResult;

/* One row of the metrics file, written here and nowhere else: "step", the given fields in order, then every
 * series of log with a point at this step whose name no field took (gains, expert loads, aux losses, ...),
 * and an "event" when one is given. */
typedef struct RowField { const char *key; double value; } RowField;
static int write_row(JsonlWriter *w, int step, const RowField *f, int n, const MetricLog *log, const char *event) {
    jsonl_begin(w);
    jsonl_num(w, "step", step);
    for (int i = 0; i < n; i++) jsonl_num(w, f[i].key, f[i].value);
    for (int s = 0; log && s < log->n; s++) {
        double v;
        int taken = 0;
        for (int i = 0; i < n && !taken; i++) taken = !strcmp(f[i].key, log->series[s].name);
        if (!taken && metrics_at(&log->series[s], step, &v)) jsonl_num(w, log->series[s].name, v);
    }
    if (event) jsonl_str(w, "event", event);
    return jsonl_end(w);
}

/* Options, the batch plan, the RNG and optimizer, a resumed checkpoint, the metrics file. */
static int loop_begin(Loop *L) {
    const TrainOptions *o = L->o;
    Model *m = L->m;
    if (check_options(m, L->data, o, &L->sched)) return -1;
    int R = dist_size();
    if (o->batch_size % R)
        return al_errorf("field 'batch_size' = %d does not divide among %d ranks (each trains an equal share)", o->batch_size, R);
    L->B = o->batch_size / R;
    L->lead = dist_rank() == 0;
    L->T = o->seq_len ? o->seq_len : m->cfg.seq_len;
    if (model_plan(m, L->B, L->T)) return -1;
    rng_init(&L->rng, (uint64_t)o->seed);
    L->opt = (AdamW){.beta1 = o->beta1, .beta2 = o->beta2, .eps = o->eps, .weight_decay = o->weight_decay};
    int start = 0;
    if (o->resume_dir[0]) {
        TrainState st = {.rng = &L->rng, .opt = L->opt};
        if (checkpoint_load(o->resume_dir, m, &st)) return -1;
        start = st.step;
        L->opt.step = st.opt.step;
        L->r->start_step = start;
        if (L->lead && o->metrics_path[0] && truncate_jsonl(o->metrics_path, start)) return -1;
    }
    if (L->lead && o->metrics_path[0] && jsonl_open(&L->jw, o->metrics_path, start > 0)) return -1;
    L->in = malloc(sizeof(int) * L->B * L->T);
    L->tg = malloc(sizeof(int) * L->B * L->T);
    AL_ASSERT(L->in && L->tg);
    if (R > 1) {
        L->gin = malloc(sizeof(int) * o->batch_size * L->T);
        L->gtg = malloc(sizeof(int) * o->batch_size * L->T);
        AL_ASSERT(L->gin && L->gtg);
    }
    progress_init(&L->prog, o->label, o->steps, o->quiet || !L->lead);
    L->t0 = now_s();
    L->r->steps_done = start;
    L->tokens_before = (double)start * L->B * L->T;
    L->end = o->stop_at > 0 ? o->stop_at : o->steps;
    return start;
}

/* A batch, forward, backward, the gradient reduction and clipping; then (when finite) the optimizer and the
 * sub-layers' after-step updates. 1 = diverged (nothing updated), -1 = error. */
static int one_step(Loop *L, int step, StepResult *s) {
    Model *m = L->m;
    if (dp_batch(L->data, &L->rng, SPLIT_TRAIN, step, L->o->batch_size, L->T, L->in, L->tg, L->gin, L->gtg)) return -1;
    K->zero(m->ps.grad, m->ps.total);
    s->loss = model_forward(m, L->in, L->tg, L->B, L->T);
    model_backward(m, L->in, L->tg, L->B, L->T);
    if (grads_reduce(m, &s->loss)) return -1;
    s->grad_norm = grad_clip(&m->ps, L->o->grad_clip);
    if (!isfinite(s->loss) || !isfinite(s->grad_norm)) return 1;
    s->lr = schedule_lr(&L->sched, step);
    if (adamw_step(&L->opt, &m->ps, s->lr)) return -1;
    /* a finite loss and gradient can still leave non-finite weights (eps = 0 with a zero gradient: 0/0) */
    if (!K->all_finite(m->ps.data, m->ps.total)) return 1;
    model_after_step(m);
    return 0;
}

/* A diverged step (numbered from 1 like every record: the step that failed) stops the run; the metrics up to
 * the last finite step are kept. */
static int diverged(Loop *L, int step, const StepResult *s) {
    L->r->diverged = 1;
    L->r->diverged_step = step + 1;
    progress_message(&L->prog, "diverged at step %d (loss %g, grad norm %g); run stopped", step + 1, s->loss,
                     s->grad_norm);
    return write_row(&L->jw, step + 1, (RowField[]){{"loss", s->loss}, {"grad_norm", s->grad_norm}}, 2, NULL, "diverged");
}

/* The step's own numbers every step; the model's measurements (model_record: expert loads, gains, ...) every
 * record_every steps (0: at the log steps) and at the last step. done = steps completed. */
static void record(Loop *L, int done, const StepResult *s) {
    MetricLog *log = &L->r->log;
    metrics_add(log, "loss", done, s->loss);
    metrics_add(log, "lr", done, s->lr);
    metrics_add(log, "grad_norm", done, s->grad_norm);
    double aux = model_aux_loss(L->m);
    if (dist_size() > 1) { /* each rank's is the mean over its sequences: the global batch's is their mean */
        if (dp_sum(&aux, 1)) aux = NAN;
        aux /= dist_size();
    }
    if (aux != 0) metrics_add(log, "aux_loss", done, aux);
    for (int k = 1; k <= L->m->n_mtp; k++) { /* multi-token prediction: each depth's loss and accuracy */
        double loss, acc;
        char name[40];
        model_mtp_depth_stats(L->m, k, &loss, &acc);
        snprintf(name, sizeof name, "mtp%d.loss", k);
        metrics_add(log, name, done, loss);
        snprintf(name, sizeof name, "mtp%d.accuracy", k);
        metrics_add(log, name, done, acc);
    }
    int every = L->o->record_every > 0 ? L->o->record_every : L->o->log_every;
    if (done % every == 0 || done == L->o->steps) model_record(L->m, log, done);
}

/* The validation loss at the evaluation steps (eval_every, and the last): 1 and *val there, else 0. */
static int evaluate_at(Loop *L, int done, double *val) {
    const TrainOptions *o = L->o;
    *val = NAN;
    if (!(done == L->end || (o->eval_every > 0 && done % o->eval_every == 0))) return 0;
    double te = now_s();
    double mloss[16], macc[16];
    *val = evaluate_mtp(L->m, L->data, L->B, L->T, o->eval_batches, SPLIT_VAL, mloss, macc);
    L->t0 += now_s() - te; /* evaluation time is not training throughput */
    metrics_add(&L->r->log, "val_loss", done, *val);
    for (int k = 1; k <= L->m->n_mtp; k++) {
        char name[40];
        snprintf(name, sizeof name, "val_mtp%d.loss", k);
        metrics_add(&L->r->log, name, done, mloss[k - 1]);
        snprintf(name, sizeof name, "val_mtp%d.accuracy", k);
        metrics_add(&L->r->log, name, done, macc[k - 1]);
    }
    L->r->val_loss = *val;
    return 1;
}

/* At the log steps (log_every, the last, an evaluation): throughput, the metrics file's row, the progress line;
 * the train loss reported is the mean over the log window. */
static int log_at(Loop *L, int done, const StepResult *s, int evaluated, double val) {
    if (!(done % L->o->log_every == 0 || done == L->end || evaluated)) return 0;
    TrainResult *r = L->r;
    double el = now_s() - L->t0, tps = el > 0 ? L->tokens / el : 0;
    metrics_add(&r->log, "tokens_per_s", done, tps);
    r->train_loss = L->window_loss / L->window_n;
    /* tokens: trained since step 0, a resumed run's earlier steps included (same batch shape) */
    RowField f[] = {{"tokens", (double)L->tokens_before + L->tokens}, {"loss", r->train_loss}, {"lr", s->lr},
                    {"grad_norm", s->grad_norm}, {"tokens_per_s", tps}, {"val_loss", val}};
    int rc = write_row(&L->jw, done, f, evaluated ? 6 : 5, &r->log, NULL);
    progress_update(&L->prog, done, r->train_loss, val, tps, el);
    L->window_loss = 0;
    L->window_n = 0;
    return rc;
}

/* Every checkpoint_every steps (after the step's row is written, so a resume from here rewrites nothing it
 * needs), except at the end, which loop_end saves. */
static int checkpoint_at(Loop *L, int done) {
    const TrainOptions *o = L->o;
    if (!L->lead || !o->checkpoint_dir[0] || o->checkpoint_every <= 0 || done % o->checkpoint_every || done >= L->end) return 0;
    return save_checkpoint(o->checkpoint_dir, L->m, &L->opt, &L->rng, done, L->r);
}

/* SIGINT/SIGTERM: a checkpoint of the state before `step` (when this run trained a step: an interrupt that
 * arrives before the first one saves nothing, rather than a checkpoint of an untrained model), then the run
 * stops. */
static int interrupted(Loop *L, int step, int start) {
    const TrainOptions *o = L->o;
    L->r->interrupted = 1;
    /* quiet: the caller says what happened (the archlab command prints one line with the resume hint) */
    if (step == start) {
        if (!o->quiet) progress_message(&L->prog, "interrupted before step %d: nothing trained, nothing saved", step + 1);
        return 0;
    }
    const char *dir = o->checkpoint_dir[0] ? o->checkpoint_dir : "out/interrupted";
    if (L->lead && save_checkpoint(dir, L->m, &L->opt, &L->rng, step, L->r)) return -1;
    if (!o->quiet)
        progress_message(&L->prog, "interrupted at step %d: checkpoint in %s, metrics so far in %s", step, dir,
                         o->metrics_path[0] ? o->metrics_path : "(none)");
    return 0;
}

/* A run resumed at its end trains nothing: it reports the numbers its summary file holds and leaves the file
 * as it is. 1 when the file was read. */
static int read_summary(const char *metrics_path, TrainResult *r) {
    char path[1200];
    summary_path(metrics_path, path, sizeof path);
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    cJSON *j = cJSON_Parse(buf);
    if (!j) return 0;
    const cJSON *v;
    if ((v = cJSON_GetObjectItemCaseSensitive(j, "train_loss")) && cJSON_IsNumber(v)) r->train_loss = v->valuedouble;
    if ((v = cJSON_GetObjectItemCaseSensitive(j, "val_loss")) && cJSON_IsNumber(v)) r->val_loss = v->valuedouble;
    if ((v = cJSON_GetObjectItemCaseSensitive(j, "tokens_per_s")) && cJSON_IsNumber(v)) r->tokens_per_s = v->valuedouble;
    if ((v = cJSON_GetObjectItemCaseSensitive(j, "seconds")) && cJSON_IsNumber(v)) r->seconds = v->valuedouble;
    cJSON_Delete(j);
    return 1;
}

/* The final checkpoint (a run that reached its end), timings, the metrics file closed, the summary file. */
static int loop_end(Loop *L, int start, int rc) {
    const TrainOptions *o = L->o;
    TrainResult *r = L->r;
    if (!rc && L->lead && !r->interrupted && !r->diverged && o->checkpoint_dir[0] && r->steps_done == L->end && L->end > start &&
        save_checkpoint(o->checkpoint_dir, L->m, &L->opt, &L->rng, L->end, r))
        rc = -1;
    r->seconds = now_s() - L->t0;
    r->tokens_per_s = r->seconds > 0 ? L->tokens / r->seconds : 0;
    progress_finish(&L->prog);
    jsonl_close(&L->jw);
    if (start >= L->end && o->metrics_path[0] && read_summary(o->metrics_path, r)) return rc;
    if (L->lead && o->metrics_path[0] && write_summary(o->metrics_path, L->m, r)) rc = -1;
    return rc;
}

static int train_loop(Model *m, DataSource *data, const TrainOptions *o, TrainResult *r);

int train_run(Model *m, DataSource *data, const TrainOptions *o, TrainResult *r) {
    memset(r, 0, sizeof *r);
    metrics_init(&r->log);
    r->train_loss = r->val_loss = NAN; /* none until a log window or an evaluation completes */
    const BackendEntry *be = backend_current();
    if (be->gemm_precision) { /* a device backend (cuda): its GEMMs run in the precision asked for, nothing simulated */
        if (be->gemm_precision(o->precision)) return -1;
        int rc = train_loop(m, data, o, r);
        be->gemm_precision("fp32");
        return rc;
    }
    /* simulated low precision for the linear layers, for this run's forward and backward passes (and its
     * evaluations: the model as it is trained) */
    LowpLinear lowp;
    if (lowp_linear_init(&lowp, o->precision, o->fp8_scaling, o->accum_bits, o->promote_every, o->accum_round)) return -1;
    /* the simulation reads the operands on the host: the CPU backend's memory only */
    if (strcmp(o->precision, "fp32") && strcmp(backend_active(), "cpu"))
        return al_errorf("field 'precision' = \"%s\" is a simulation on the host (core/lowp_linear.c) and runs on "
                         "device 'cpu' only (this model is on '%s')", o->precision, backend_active());
    if (strcmp(o->precision, "fp32")) m->ctx.lowp = &lowp;
    int rc = train_loop(m, data, o, r);
    m->ctx.lowp = NULL;
    lowp_linear_free(&lowp);
    return rc;
}

static int train_loop(Model *m, DataSource *data, const TrainOptions *o, TrainResult *r) {
    Loop L = {.m = m, .data = data, .o = o, .r = r};
    int start = loop_begin(&L), rc = 0;
    if (start < 0) {
        jsonl_close(&L.jw);
        if (L.rng.gsl) rng_free(&L.rng);
        return -1;
    }
    for (int step = start; step < L.end && !rc; step++) {
        if (al_interrupt_requested) { rc = interrupted(&L, step, start); break; }
        StepResult s;
        int st = one_step(&L, step, &s);
        if (st < 0) { rc = -1; break; }
        if (st > 0) { rc = diverged(&L, step, &s); break; }
        L.tokens += (long)L.B * L.T;
        r->steps_done = step + 1;
        L.window_loss += s.loss;
        L.window_n++;
        record(&L, step + 1, &s);
        double val;
        int evaluated = evaluate_at(&L, step + 1, &val);
        rc = log_at(&L, step + 1, &s, evaluated, val);
        if (!rc) rc = checkpoint_at(&L, step + 1);
    }
    rc = loop_end(&L, start, rc);
    rng_free(&L.rng);
    free(L.in);
    free(L.gin);
    free(L.gtg);
    free(L.tg);
    return rc;
}

void train_result_free(TrainResult *r) { metrics_free(&r->log); }
