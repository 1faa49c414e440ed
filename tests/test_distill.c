/* Distillation (train/distill.h): the KL kernel against hand distributions, a student equal to its teacher at
 * zero loss and zero gradient, the checker's filter (the kept completions are exactly the accepted ones of the
 * same draws), logit distillation between different architectures lowering the KL, sequence-level distillation
 * lowering the cross-entropy, and the errors. The gradients are checked in tests/grad_grpo.c. */
#include <math.h>
#include <string.h>

#include "tests/harness.h"
#include "train/distill.h"
#include "train/rollout.h"
#include "train/trainer.h"

/* teacher p_t = (1/2, 1/2) (logits 0, 0), student p_s = (1/4, 3/4) (logits 0, ln 3):
 *   KL(p_t || p_s) = 1/2 ln 2 + 1/2 ln(2/3) = 1/2 ln(4/3) = 0.143841, gradient (p_s - p_t) = (-1/4, 1/4);
 *   KL(p_s || p_t) = 1/4 ln(1/2) + 3/4 ln(3/2) = 0.130812, gradient p_s (ln p_s - ln p_t - KL);
 *   tau = 2 with student logits (0, 2 ln 3): the same p_s at tau, the gradient halved; its cross-entropy at 1 for
 *   token 1: p = (1/10, 9/10), -ln 0.9 = 0.105361, gradient (p - onehot) = (0.1, -0.1). */
TEST(distill_kl_kernel_by_hand) {
    const real t[2] = {0, 0};
    real s[2] = {0, (real)log(3.0)};
    double kl, ce;
    K->distill_kl(&kl, &ce, s, t, NULL, (const double[]){1}, NULL, 1, 2, 1, 0);
    EXPECT_NEAR(kl, 0.5 * log(4.0 / 3), 1e-6);
    EXPECT_NEAR(s[0], -0.25, 1e-6); EXPECT_NEAR(s[1], 0.25, 1e-6);
    s[0] = 0; s[1] = (real)log(3.0);
    K->distill_kl(&kl, &ce, s, t, NULL, (const double[]){1}, NULL, 1, 2, 1, 1);
    double rev = 0.25 * log(0.5) + 0.75 * log(1.5);
    EXPECT_NEAR(kl, rev, 1e-6);
    EXPECT_NEAR(kl, 0.130812, 1e-6);
    EXPECT_NEAR(s[0], 0.25 * (log(0.5) - rev), 1e-6);
    EXPECT_NEAR(s[1], 0.75 * (log(1.5) - rev), 1e-6);
    s[0] = 0; s[1] = (real)(2 * log(3.0));
    K->distill_kl(&kl, &ce, s, t, (const int[]){1}, (const double[]){3}, (const double[]){2}, 1, 2, 2, 0);
    EXPECT_NEAR(kl, 0.5 * log(4.0 / 3), 1e-6);
    EXPECT_NEAR(ce, -log(0.9), 1e-6);
    EXPECT_NEAR(s[0], 3 * -0.125 + 2 * 0.1, 1e-6);
    EXPECT_NEAR(s[1], 3 * 0.125 - 2 * 0.1, 1e-6);
    /* weightless rows: nothing computed, a zero gradient */
    s[0] = 5; s[1] = 7;
    K->distill_kl(&kl, &ce, s, t, (const int[]){-1}, (const double[]){0}, (const double[]){1}, 1, 2, 1, 0);
    EXPECT(kl == 0 && ce == 0 && s[0] == 0 && s[1] == 0);
}

static Model *byte_model(int d_model, const char *attention, const char *ffn, int seed) {
    ModelConfig c;
    config_defaults(&c);
    c.vocab_size = 256; c.d_model = d_model; c.n_layers = 2; c.n_heads = 2; c.d_ff = 2 * d_model; c.seq_len = 48;
    c.seed = seed;
    snprintf(c.attention, sizeof c.attention, "%s", attention);
    snprintf(c.ffn, sizeof c.ffn, "%s", ffn);
    if (!strcmp(attention, "gqa")) c.n_kv_heads = 1;
    if (!strcmp(attention, "mla")) c.kv_lora_rank = 16;
    if (!strcmp(ffn, "moe")) { c.n_routed_experts = 4; c.num_experts_per_tok = 2; c.n_shared_experts = 1; }
    Model *m = model_create(&c, 0);
    AL_ASSERT(m);
    return m;
}

/* a teacher that has seen one-digit additions for 200 steps: some of its completions right, some not */
static Model *trained_teacher(const Task *t) {
    Model *m = byte_model(32, "mha", "dense", 1);
    DataSource d;
    AL_ASSERT(task_corpus(&d, t, 3000, 1.0, 0.1, 1) == 0);
    TrainOptions o;
    train_defaults(&o);
    o.steps = 200; o.batch_size = 8; o.seq_len = 48; o.lr = 1e-2; o.quiet = 1; o.eval_batches = 1;
    TrainResult r;
    AL_ASSERT(train_run(m, &d, &o, &r) == 0);
    train_result_free(&r);
    data_free(&d);
    return m;
}

static DistillOptions options(void) {
    DistillOptions o;
    distill_defaults(&o);
    o.prompts = 48; o.per_prompt = 2; o.steps = 20; o.batch_size = 8; o.eval_n = 0; o.quiet = 1; /* max_new: 44, the room seq_len 48 leaves */
    o.lr = 3e-3;
    return o;
}

/* With the filter, the kept completions are exactly those of the unfiltered run (the same seed: the same
 * problems and draws) that the checker accepts, each re-checked from its tokens. */
TEST(distill_filter_keeps_exactly_the_accepted) {
    Task t;
    EXPECT(task_addition_init(&t, 1, 1, 0.2) == 0);
    Model *teacher = trained_teacher(&t);
    DistillOptions o = options();
    DistillData all, kept;
    DistillResult ra, rk;
    memset(&ra, 0, sizeof ra);
    memset(&rk, 0, sizeof rk);
    o.filter = 0;
    EXPECT(distill_generate(teacher, &t, &o, 44, &all, &ra) == 0);
    o.filter = 1;
    EXPECT(distill_generate(teacher, &t, &o, 44, &kept, &rk) == 0);
    EXPECT(ra.generated == 96 && rk.generated == 96 && all.n == 96);
    int accepted = 0, j = 0;
    for (int i = 0; i < all.n; i++) {
        char prompt[TASK_PROMPT_MAX], text[64];
        int pl = all.len[i] - all.clen[i];
        for (int k = 1; k < pl; k++) prompt[k - 1] = (char)all.seq[i][k]; /* after the BOS */
        prompt[pl - 1] = 0;
        for (int k = 0; k < all.clen[i]; k++) text[k] = (char)all.seq[i][pl + k];
        TaskProblem p;
        TaskScore s;
        EXPECT(task_problem_from_prompt(&t, prompt, &p) == 0);
        task_check(&p, text, all.clen[i], &s);
        if (!(s.accuracy && s.format)) continue;
        accepted++;
        /* the next kept one is this very sequence */
        EXPECT(j < kept.n && kept.len[j] == all.len[i] && !memcmp(kept.seq[j], all.seq[i], sizeof(int) * all.len[i]));
        j++;
    }
    th_note("teacher: %d of %d completions accepted (accuracy %.3f, format %.3f)", accepted, all.n, ra.teacher_accuracy,
            ra.teacher_format);
    EXPECT(accepted == kept.n && rk.kept == kept.n && accepted > 0 && accepted < all.n);
    EXPECT(ra.teacher_accuracy == rk.teacher_accuracy && ra.teacher_flops > 0);
    distill_data_free(&all);
    distill_data_free(&kept);
    model_free(teacher);
}

/* A student that is a copy of its teacher: the distillation loss and its gradient are exactly zero. */
TEST(distill_student_equal_to_teacher_has_zero_loss) {
    Model *t = byte_model(32, "gqa", "dense", 4), *s = rl_model_copy(t);
    int seq[2][10] = {{10, 51, 43, 52, 61, 60, 116, 62, 49, 10}, {10, 50, 43, 50, 61, 60, 47, 62, 52, 10}}, len[2] = {10, 10},
        cl[2] = {6, 6};
    const int *sp[2] = {seq[0], seq[1]};
    SeqBatch b;
    EXPECT(seqbatch_from_tokens(&b, sp, len, cl, 2) == 0);
    K->zero(s->ps.grad, s->ps.total);
    double kl = -1;
    double L = distill_loss(t, s, &b, 2.0, 0, 0, 0, 1, &kl, NULL, NULL);
    EXPECT(L == 0 && kl == 0);
    EXPECT(grad_norm(&s->ps) == 0);
    K->zero(s->ps.grad, s->ps.total);
    L = distill_loss(t, s, &b, 0.5, 1, 0, 1, 1, &kl, NULL, NULL); /* reverse, in micro-batches of one */
    EXPECT(L == 0 && kl == 0 && grad_norm(&s->ps) == 0);
    seqbatch_free(&b);
    model_free(t);
    model_free(s);
}

static double mean_of(const Series *s, int from, int n) {
    double m = 0;
    for (int i = from; i < from + n; i++) m += s->value[i];
    return m / n;
}

/* Logit distillation from an MLA + MoE teacher into a dense GQA student (other attention, other FFN, other
 * width) lowers the KL between them over 20 steps; sequence-level distillation lowers the student's
 * cross-entropy on the teacher's completions. */
TEST(distill_runs_across_architectures) {
    Task t;
    EXPECT(task_addition_init(&t, 1, 1, 0.2) == 0);
    Model *teacher = byte_model(48, "mla", "moe", 7), *student = byte_model(32, "gqa", "dense", 8);
    DistillOptions o = options();
    o.filter = 0; /* an untrained teacher: nothing of it would pass the checker */
    o.mode = DISTILL_LOGITS;
    o.temperature = 1;
    DistillResult r;
    EXPECT(distill_run(teacher, student, &t, &o, &r) == 0);
    const Series *kl = metrics_get(&r.log, "kl");
    EXPECT(kl && kl->n == 20);
    if (kl && kl->n == 20) {
        th_note("logit distillation KL: first steps %.4f, last steps %.4f", mean_of(kl, 0, 3), mean_of(kl, 17, 3));
        EXPECT(mean_of(kl, 17, 3) < 0.8 * mean_of(kl, 0, 3));
    }
    EXPECT(r.kept == r.generated && r.generated == 96 && r.flops > 0 && r.teacher_flops > 0);
    distill_result_free(&r);
    o.mode = DISTILL_SEQUENCES;
    EXPECT(distill_run(teacher, student, &t, &o, &r) == 0);
    const Series *loss = metrics_get(&r.log, "loss");
    EXPECT(loss && loss->n == 20 && !metrics_get(&r.log, "kl"));
    if (loss && loss->n == 20) {
        th_note("sequence-level distillation loss: first steps %.4f, last steps %.4f", mean_of(loss, 0, 3), mean_of(loss, 17, 3));
        EXPECT(mean_of(loss, 17, 3) < mean_of(loss, 0, 3));
    }
    distill_result_free(&r);
    /* errors name the field */
    o.filter = 1;
    EXPECT(distill_run(teacher, student, &t, &o, &r) == -1 && strstr(al_error_message(), "none the checker accepts"));
    distill_result_free(&r);
    EXPECT(distill_run(teacher, teacher, &t, &o, &r) == -1 && strstr(al_error_message(), "same model"));
    distill_result_free(&r);
    o.max_new = 48;
    EXPECT(distill_run(teacher, student, &t, &o, &r) == -1 && strstr(al_error_message(), "field 'max_new'"));
    distill_result_free(&r);
    model_free(teacher);
    model_free(student);
}
