/* Faults and their outcomes in the training loop: token ids past the model's vocabulary refused where data
 * meets a model; non-finite weights after a step counted as divergence (numbered from 1); losses that never
 * existed reported as NaN, not 0; token counts and summaries that survive a resume; metrics files that keep
 * whole records (long lines, a record cut by a crash) and a write failure that stops the run at once. */
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "data/data.h"
#include "tests/harness.h"
#include "train/trainer.h"

static ModelConfig tiny(int vocab) {
    ModelConfig c;
    config_defaults(&c);
    c.vocab_size = vocab; c.d_model = 32; c.n_layers = 1; c.n_heads = 4; c.d_ff = 64; c.seq_len = 16;
    return c;
}

static TrainOptions opts(int steps) {
    TrainOptions o;
    train_defaults(&o);
    o.steps = steps; o.batch_size = 2; o.quiet = 1; o.log_every = 2; o.eval_batches = 1;
    return o;
}

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc(n + 1);
    s[fread(s, 1, n, f)] = 0;
    fclose(f);
    return s;
}

TEST(reliability_token_ids_beyond_vocab_refused) {
    DataSource copy, text;
    data_copy_init(&copy, 8); /* ids up to 3 + 8 - 1 = 10 */
    const char *corpus = "/usr/share/games/fortunes";
    EXPECT(data_text_load(&text, &corpus, 1, 0.1) == 0);
    EXPECT(data_vocab_size(&copy) == 11 && data_vocab_size(&text) == 256);
    int vocabs[3] = {2, 10, 255};
    for (int i = 0; i < 3; i++) {
        ModelConfig c = tiny(vocabs[i]);
        Model *m = model_create(&c, 0);
        DataSource *d = vocabs[i] < 11 ? &copy : &text;
        TrainOptions o = opts(4);
        TrainResult r;
        EXPECT(train_run(m, d, &o, &r) == -1);
        EXPECT(strstr(al_error_message(), "field 'vocab_size'") != NULL);
        train_result_free(&r);
        EXPECT(model_plan(m, 2, 16) == 0 && isnan(evaluate(m, d, 2, 16, 1, SPLIT_VAL)));
        EXPECT(strstr(al_error_message(), "too small") != NULL);
        model_free(m);
    }
    ModelConfig c = tiny(11); /* exactly enough */
    Model *m = model_create(&c, 0);
    TrainOptions o = opts(2);
    TrainResult r;
    EXPECT(train_run(m, &copy, &o, &r) == 0);
    train_result_free(&r);
    model_free(m);
    data_free(&text);
}

/* eps = 0: the rows of tokens the copy task never shows get a zero gradient, so AdamW divides 0 by 0 on the
 * first step; the loss and gradient norm were finite, the weights are not: divergence at step 1. A run that
 * stops before any log window or evaluation has no train or validation loss: NaN. */
TEST(reliability_nonfinite_weights_are_divergence) {
    ModelConfig c = tiny(64);
    Model *m = model_create(&c, 0);
    DataSource d;
    data_copy_init(&d, 8);
    TrainOptions o = opts(6);
    o.eps = 0;
    TrainResult r;
    EXPECT(train_run(m, &d, &o, &r) == 0);
    EXPECT(r.diverged && r.diverged_step == 1 && r.steps_done == 0);
    EXPECT(isnan(r.train_loss) && isnan(r.val_loss));
    train_result_free(&r);
    model_free(m);
}

/* The first slice of an 8-step run, to step 4, checkpointing into dir and logging into metrics (both cleared
 * first); o is left set up for the rest of the run. */
static Model *first_half(const char *dir, const char *metrics, DataSource *d, TrainOptions *o) {
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf %s %s*", dir, dir);
    EXPECT(system(cmd) == 0);
    ModelConfig c = tiny(64);
    data_copy_init(d, 8);
    *o = opts(8);
    snprintf(o->checkpoint_dir, sizeof o->checkpoint_dir, "%s", dir);
    snprintf(o->metrics_path, sizeof o->metrics_path, "%s", metrics);
    o->stop_at = 4;
    Model *m = model_create(&c, 0);
    TrainResult r;
    EXPECT(train_run(m, d, o, &r) == 0);
    train_result_free(&r);
    return m;
}

TEST(reliability_resume_keeps_tokens_and_summary) {
    const char *dir = "/tmp/archlab_rel_resume", *metrics = "/tmp/archlab_rel_resume.jsonl";
    DataSource d;
    TrainOptions o;
    Model *m = first_half(dir, metrics, &d, &o);
    TrainResult r;
    o.stop_at = 0;
    snprintf(o.resume_dir, sizeof o.resume_dir, "%s", dir);
    EXPECT(train_run(m, &d, &o, &r) == 0);
    double val = r.val_loss;
    train_result_free(&r);
    /* the last record counts every token since step 0: 8 steps x 2 x 16 */
    char *s = slurp(metrics);
    EXPECT(s && strstr(s, "{\"step\": 8, \"tokens\": 256,") != NULL);
    free(s);
    /* resumed at its end: nothing trained, the numbers come from the summary, which stays as it was */
    char *before = slurp("/tmp/archlab_rel_resume.summary.json");
    EXPECT(train_run(m, &d, &o, &r) == 0);
    char *after = slurp("/tmp/archlab_rel_resume.summary.json");
    EXPECT(before && after && !strcmp(before, after));
    EXPECT(fabs(r.val_loss - val) < 1e-7 * val && isfinite(val)); /* the summary keeps 9 digits */
    free(before);
    free(after);
    train_result_free(&r);
    model_free(m);
}

/* A resume rewrites the metrics file up to its step: a record of any length survives whole, a record cut short
 * (no closing brace and newline: a crash or a full disk mid-write) is dropped. */
TEST(reliability_resume_truncation_keeps_whole_records) {
    const char *dir = "/tmp/archlab_rel_trunc", *metrics = "/tmp/archlab_rel_trunc.jsonl";
    DataSource d;
    TrainOptions o;
    Model *m = first_half(dir, metrics, &d, &o);
    TrainResult r;
    /* rewrite the file: step 2's record made 20 KB long, and a half-written record of step 4 at the end */
    FILE *f = fopen(metrics, "w");
    fputs("{\"step\": 2, \"loss\": 3.5, \"long\": \"", f);
    for (int i = 0; i < 20000; i++) fputc('x', f);
    fputs("\"}\n{\"step\": 4, \"loss\": 3.1", f);
    fclose(f);
    o.stop_at = 0;
    snprintf(o.resume_dir, sizeof o.resume_dir, "%s", dir);
    EXPECT(train_run(m, &d, &o, &r) == 0);
    train_result_free(&r);
    char *s = slurp(metrics);
    EXPECT(s != NULL);
    if (s) {
        char *second = strstr(s, "\n{\"step\": ");
        EXPECT(strncmp(s, "{\"step\": 2, \"loss\": 3.5, \"long\": \"xxx", 36) == 0 && strlen(s) > 20000);
        EXPECT(second && !strncmp(second + 1, "{\"step\": 6, \"tokens\"", 20)); /* the cut record is gone */
        EXPECT(strstr(s, "\"loss\": 3.1") == NULL);
    }
    free(s);
    model_free(m);
}

/* A metrics file that cannot be written (a full disk: /dev/full) stops the run at the first record, naming
 * the file and the reason. */
TEST(reliability_metrics_write_failure_stops_the_run) {
    ModelConfig c = tiny(64);
    Model *m = model_create(&c, 0);
    DataSource d;
    data_copy_init(&d, 8);
    TrainOptions o = opts(20);
    snprintf(o.metrics_path, sizeof o.metrics_path, "/dev/full");
    TrainResult r;
    EXPECT(train_run(m, &d, &o, &r) == -1);
    th_note("%s", al_error_message());
    EXPECT(strstr(al_error_message(), "/dev/full") && strstr(al_error_message(), "No space left on device"));
    EXPECT(r.steps_done == o.log_every);
    train_result_free(&r);
    model_free(m);
}

TEST(reliability_train_option_rules) {
    ModelConfig c = tiny(64);
    Model *m = model_create(&c, 0);
    DataSource d;
    data_copy_init(&d, 8);
    TrainResult r;
    TrainOptions o = opts(0);
    EXPECT(train_run(m, &d, &o, &r) == -1 && strstr(al_error_message(), "field 'steps' = 0 must be >= 1"));
    train_result_free(&r);
    o = opts(4); o.min_lr = 0.5; o.lr = 0.1;
    EXPECT(train_run(m, &d, &o, &r) == -1 && strstr(al_error_message(), "field 'min_lr' = 0.5 is above lr = 0.1"));
    train_result_free(&r);
    o = opts(4); o.checkpoint_every = 2;
    EXPECT(train_run(m, &d, &o, &r) == -1 && strstr(al_error_message(), "needs field 'checkpoint'"));
    train_result_free(&r);
    o = opts(4); o.stop_at = 9;
    EXPECT(train_run(m, &d, &o, &r) == -1 && strstr(al_error_message(), "field 'stop_at' = 9 is beyond steps = 4"));
    train_result_free(&r);
    model_free(m);
}
