/* Reinforcement learning with verifiable rewards (data/tasks.h, arch/policy.h, train/grpo.h): the tasks'
 * problems, reference solutions and checker on hand-made completions; the held-out split; demonstration corpora;
 * group-relative advantages and the GRPO objective on a hand-made group worked by hand; the sampling kernels
 * against hand distributions; batched sampling against the training forward and against model_generate; one
 * GRPO update's direction; the loop's metrics where their values are known. The gradients are checked in
 * tests/grad_grpo.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "arch/kv_cache.h"
#include "arch/policy.h"
#include "data/tasks.h"
#include "tests/harness.h"
#include "train/grpo.h"
#include "train/trainer.h"

/* ---- tasks ---- */

static void expect_solution(const Task *t, const char *prompt, int think, const char *want) {
    TaskProblem p;
    char out[TASK_TEXT_MAX];
    EXPECT(task_problem_from_prompt(t, prompt, &p) == 0);
    int n = task_solution(t, &p, think, out);
    int ok = n == (int)strlen(want) && !memcmp(out, want, (size_t)n);
    if (!ok) th_note("%s: got '%.*s', want '%s'", prompt, n, out, want);
    EXPECT(ok);
}

TEST(task_solutions_by_hand) {
    Task a, e;
    EXPECT(task_addition_init(&a, 1, 3, 0.1) == 0);
    /* column by column from the units, "x+y+carry=s" */
    expect_solution(&a, "57+68=", 1, "<think>7+8+0=15,5+6+1=12</think><answer>125</answer>\n");
    expect_solution(&a, "5+68=", 1, "<think>5+8+0=13,0+6+1=7</think><answer>73</answer>\n");
    expect_solution(&a, "999+1=", 1, "<think>9+1+0=10,9+0+1=10,9+0+1=10</think><answer>1000</answer>\n");
    expect_solution(&a, "0+0=", 1, "<think>0+0+0=0</think><answer>0</answer>\n");
    expect_solution(&a, "57+68=", 0, "<think></think><answer>125</answer>\n");
    EXPECT(task_expression_init(&e, 1, 3, 9, 0.1) == 0);
    /* the leftmost '*' first, then + and - from the left */
    expect_solution(&e, "3+4*5=", 1, "<think>4*5=20,3+20=23</think><answer>23</answer>\n");
    expect_solution(&e, "3-4-5=", 1, "<think>3-4=-1,-1-5=-6</think><answer>-6</answer>\n");
    expect_solution(&e, "2*3*4-5=", 1, "<think>2*3=6,6*4=24,24-5=19</think><answer>19</answer>\n");
    expect_solution(&e, "8-2*3+1=", 1, "<think>2*3=6,8-6=2,2+1=3</think><answer>3</answer>\n");
    TaskProblem p;
    EXPECT(task_problem_from_prompt(&a, "57-68=", &p) == -1 && strstr(al_error_message(), "not an addition"));
    EXPECT(task_problem_from_prompt(&a, "57+68", &p) == -1 && strstr(al_error_message(), "field 'prompt'"));
    EXPECT(task_problem_from_prompt(&e, "3+x=", &p) == -1);
    EXPECT(task_problem_from_prompt(&e, "9-9*9=", &p) == 0 && !strcmp(p.answer, "-72"));
    /* the bounds of the tasks' sizes */
    EXPECT(task_max_prompt(&a) == 1 + 3 + 1 + 3 + 1);                /* "\n999+999=" */
    EXPECT(task_max_completion(&a) == (int)strlen("<think>9+9+0=18,9+9+1=19,9+9+1=19</think><answer>1998</answer>\n"));
    EXPECT(task_addition_init(&a, 4, 3, 0.1) == -1 && strstr(al_error_message(), "field 'min_digits'"));
    EXPECT(task_expression_init(&e, 1, 2, 0, 0.1) == -1 && strstr(al_error_message(), "field 'max_operand'"));
}

static TaskScore check(const char *answer, const char *completion) {
    TaskProblem p;
    memset(&p, 0, sizeof p);
    snprintf(p.answer, sizeof p.answer, "%s", answer);
    TaskScore s;
    task_check(&p, completion, (int)strlen(completion), &s);
    return s;
}

/* R1's two rule-based rewards on hand-made completions */
TEST(task_checker_on_hand_made_completions) {
    TaskScore s = check("125", "<think>7+8+0=15,5+6+1=12</think><answer>125</answer>\n");
    EXPECT(s.accuracy == 1 && s.format == 1 && s.think_len == 17 && !strcmp(s.given, "125")); /* "7+8+0=15,5+6+1=12" */
    s = check("125", "<think>7+8+0=15,5+6+1=12</think><answer>124</answer>\n"); /* wrong: format still right */
    EXPECT(s.accuracy == 0 && s.format == 1 && !strcmp(s.given, "124"));
    s = check("125", "<think></think><answer>125</answer>\n"); /* an empty scratchpad is well formed */
    EXPECT(s.accuracy == 1 && s.format == 1 && s.think_len == 0);
    s = check("125", "<think>x</think><answer>125</answer>"); /* no stop byte: cut off at max_new */
    EXPECT(s.accuracy == 1 && s.format == 0);
    s = check("125", "ok <think>x</think><answer>125</answer>\n"); /* text before <think> */
    EXPECT(s.accuracy == 1 && s.format == 0);
    s = check("125", "<think>x<answer>125</answer>\n"); /* no </think> */
    EXPECT(s.accuracy == 1 && s.format == 0 && s.think_len == -1);
    s = check("125", "<think>a<b</think><answer>125</answer>\n"); /* a tag character inside the scratchpad */
    EXPECT(s.accuracy == 1 && s.format == 0);
    s = check("125", "<think>x</think> <answer>125</answer>\n"); /* a space between the blocks */
    EXPECT(s.accuracy == 1 && s.format == 0);
    s = check("125", "<think>x</think><answer>0125</answer>\n"); /* digits, but not the answer's text */
    EXPECT(s.accuracy == 0 && s.format == 1);
    s = check("125", "<think>x</think><answer></answer>\n");
    EXPECT(s.accuracy == 0 && s.format == 0 && s.given[0] == 0);
    s = check("125", "<think>x</think><answer>12a</answer>\n");
    EXPECT(s.accuracy == 0 && s.format == 0);
    s = check("-6", "<think>3-4=-1,-1-5=-6</think><answer>-6</answer>\n");
    EXPECT(s.accuracy == 1 && s.format == 1);
    s = check("-6", "<think>x</think><answer>-</answer>\n");
    EXPECT(s.accuracy == 0 && s.format == 0);
    s = check("7", "<think>x</think><answer>7</answer><answer>8</answer>\n"); /* the first answer counts */
    EXPECT(s.accuracy == 1 && s.format == 0 && !strcmp(s.given, "7"));
    s = check("7", "<answer>7");
    EXPECT(s.accuracy == 0 && s.format == 0);
    s = check("7", "");
    EXPECT(s.accuracy == 0 && s.format == 0 && s.think_len == -1);
}

/* Held-out problems are a fixed tenth of the problem space, by a hash of the text: every 2-digit addition
 * (8,100 of them) is assigned once, about 10% held out (the binomial sd is 0.33%), and draws of each split
 * stay in it. */
TEST(task_held_out_split) {
    Task t;
    EXPECT(task_addition_init(&t, 2, 2, 0.1) == 0);
    int held = 0;
    for (int a = 10; a < 100; a++)
        for (int b = 10; b < 100; b++) {
            char s[16];
            snprintf(s, sizeof s, "%d+%d=", a, b);
            held += task_split_of(&t, s) == TASK_SPLIT_TEST;
        }
    th_note("2-digit additions held out: %d of 8100", held);
    EXPECT(held > 8100 * 0.09 && held < 8100 * 0.11);
    Rng rng;
    rng_init(&rng, 3);
    for (int i = 0; i < 300; i++) {
        TaskProblem p;
        int split = i % 2 ? TASK_SPLIT_TEST : TASK_SPLIT_TRAIN;
        EXPECT(task_draw(&t, &rng, split, &p) == 0);
        EXPECT(task_split_of(&t, p.prompt) == split);
    }
    /* a task too small to hold a part out says so */
    Task one;
    EXPECT(task_addition_init(&one, 1, 1, 0.001) == 0);
    int got = 0;
    for (int i = 0; i < 100; i++) {
        char s[16];
        snprintf(s, sizeof s, "%d+%d=", i / 10, i % 10);
        got += task_split_of(&one, s) == TASK_SPLIT_TEST;
    }
    if (!got) {
        TaskProblem p;
        EXPECT(task_draw(&one, &rng, TASK_SPLIT_TEST, &p) == -1 && strstr(al_error_message(), "too small"));
    }
    rng_free(&rng);
}

/* The corpus is '\n' + problem + reference completion, joined: every line of it is a problem of its split
 * whose completion the checker accepts, and about `think` of them are worked. */
TEST(task_corpus_lines_are_accepted_demonstrations) {
    Task t;
    EXPECT(task_expression_init(&t, 1, 3, 12, 0.1) == 0);
    DataSource d;
    EXPECT(task_corpus(&d, &t, 2000, 0.5, 0.1, 7) == 0);
    EXPECT(d.kind == DATA_TEXT && d.split_len[0] > 0 && d.split_len[1] > 0);
    int lines[2] = {0, 0}, worked = 0;
    for (int split = 0; split < 2; split++) {
        const char *s = (const char *)d.split_bytes[split], *end = s + d.split_len[split];
        EXPECT(s[0] == '\n' && end[-1] == '\n');
        for (const char *p = s + 1; p < end;) {
            const char *nl = memchr(p, '\n', (size_t)(end - p)), *eq = memchr(p, '=', (size_t)(nl - p));
            char prompt[TASK_PROMPT_MAX];
            int pl = (int)(eq - p) + 1;
            memcpy(prompt, p, (size_t)pl);
            prompt[pl] = 0;
            TaskProblem pr;
            TaskScore sc;
            EXPECT(task_problem_from_prompt(&t, prompt, &pr) == 0);
            task_check(&pr, eq + 1, (int)(nl - eq), &sc); /* the completion with its stop byte */
            EXPECT(sc.accuracy == 1 && sc.format == 1);
            EXPECT(task_split_of(&t, prompt) == (split ? TASK_SPLIT_TEST : TASK_SPLIT_TRAIN));
            worked += sc.think_len > 0;
            lines[split]++;
            p = nl + 1;
        }
    }
    EXPECT(lines[0] == 1800 && lines[1] == 200);
    th_note("corpus: %d + %d lines, %d worked", lines[0], lines[1], worked);
    EXPECT(worked > 900 && worked < 1100); /* binomial(2000, 0.5): sd 22 */
    data_free(&d);
}

/* ---- the objective on a hand-made group ---- */

TEST(grpo_advantages_by_hand) {
    double A[4];
    grpo_advantages((const double[]){1, 0, 0.5, 0.5}, 4, 1e-4, A);
    /* mean 0.5; sample variance (0.25 + 0.25) / 3, sd sqrt(1/6) = 0.408248 */
    double sd = sqrt(1.0 / 6);
    EXPECT_NEAR(A[0], 0.5 / (sd + 1e-4), 1e-12);
    EXPECT_NEAR(A[1], -0.5 / (sd + 1e-4), 1e-12);
    EXPECT_NEAR(A[2], 0, 1e-15);
    EXPECT_NEAR(A[0], 1.224445, 1e-6);
    grpo_advantages((const double[]){1.5, 1.5, 1.5}, 3, 1e-4, A); /* no signal in a group all alike */
    EXPECT(A[0] == 0 && A[1] == 0 && A[2] == 0);
    grpo_advantages((const double[]){1, 0}, 2, 0, A); /* sd = sqrt(0.5) */
    EXPECT_NEAR(A[0], 0.5 / sqrt(0.5), 1e-12);
    EXPECT_NEAR(A[1], -0.707107, 1e-6);
}

/* Two completions, eps = 0.2, beta = 0.1, worked by hand:
 *   o_1 (A = +1): t1 rho = e^0.1 = 1.105171 (inside the range): term 1.105171, KL(x = 0) = 0;
 *                 t2 rho = e^0.5 = 1.648721 > 1.2 with A > 0: clipped, term 1.2, KL = e^0.5 - 0.5 - 1 = 0.148721;
 *                 J_1 = (1.105171 + 1.2 - 0.0148721) / 2 = 1.145149
 *   o_2 (A = -1): rho = e^-0.3 = 0.740818 < 0.8 with A < 0: clipped, term -0.8, KL = e^-0.2 + 0.2 - 1 = 0.0187308;
 *                 J_2 = -0.8 - 0.00187308 = -0.801873
 *   L = -(J_1 + J_2) / 2 = -0.171638; dJ/dlogp: o_1 (1.105171 / 2, 0.1 (e^0.5 - 1) / 2) = (0.552585, 0.0324361),
 *   o_2: -0.1 (1 - e^-0.2) = -0.0181269 (a clipped token keeps only its KL gradient). */
TEST(grpo_objective_on_a_hand_made_group) {
    const double eps = 0.2, beta = 0.1;
    double d1[2], d2[1];
    GrpoStats st = {0};
    double J1 = grpo_sequence((const double[]){-1.0, -2.0}, (const double[]){-1.1, -2.5}, (const double[]){-1.0, -1.5},
                              2, 1.0, eps, beta, d1, &st);
    double J2 = grpo_sequence((const double[]){-0.5}, (const double[]){-0.2}, (const double[]){-0.7}, 1, -1.0, eps,
                              beta, d2, &st);
    EXPECT_NEAR(J1, (exp(0.1) + 1.2 - beta * (exp(0.5) - 1.5)) / 2, 1e-12);
    EXPECT_NEAR(J1, 1.145149, 1e-6);
    EXPECT_NEAR(J2, -0.8 - beta * (exp(-0.2) - 0.8), 1e-12);
    EXPECT_NEAR(J2, -0.801873, 1e-6);
    EXPECT_NEAR(-(J1 + J2) / 2, -0.171638, 1e-6);
    EXPECT_NEAR(d1[0], 0.552585, 1e-6);
    EXPECT_NEAR(d1[1], 0.0324361, 1e-7);
    EXPECT_NEAR(d2[0], -0.0181269, 1e-7);
    EXPECT(st.tokens == 3 && st.clipped == 2);
    EXPECT_NEAR(st.kl, (exp(0.5) - 1.5) + (exp(-0.2) - 0.8), 1e-12);
    /* the estimator is >= 0 and zero only at pi_ref = pi */
    double J = grpo_sequence((const double[]){-1.0}, (const double[]){-1.0}, (const double[]){-1.0}, 1, 0.0, eps, beta, NULL, NULL);
    EXPECT(J == 0);
}

/* ---- the kernels against hand distributions ---- */

TEST(rl_kernels_logprobs_by_hand) {
    /* logits (0, ln 2, ln 3): p = (1, 2, 3) / 6 */
    real z[6] = {0, (real)log(2.0), (real)log(3.0), 0, (real)log(2.0), (real)log(3.0)};
    double lp[2];
    K->token_logprobs(lp, z, (const int[]){2, -1}, 2, 3, 1);
    EXPECT_NEAR(lp[0], log(0.5), 1e-6);
    EXPECT(lp[1] == 0);
    EXPECT_NEAR(z[0], 1.0 / 6, 1e-6); EXPECT_NEAR(z[1], 2.0 / 6, 1e-6); EXPECT_NEAR(z[2], 3.0 / 6, 1e-6);
    /* the gradient of 2 log p_2: 2 (onehot - p) = (-1/3, -2/3, 1); the row without a token is zero */
    K->logprob_backward(z, (const int[]){2, -1}, (const double[]){2, 5}, 2, 3, 1);
    EXPECT_NEAR(z[0], -1.0 / 3, 1e-6); EXPECT_NEAR(z[1], -2.0 / 3, 1e-6); EXPECT_NEAR(z[2], 1.0, 1e-6);
    EXPECT(z[3] == 0 && z[4] == 0 && z[5] == 0);
    /* temperature 2: p ~ (1, sqrt 2, sqrt 3); the gradient carries 1 / T */
    real y[3] = {0, (real)log(2.0), (real)log(3.0)};
    double s = 1 + sqrt(2.0) + sqrt(3.0);
    K->token_logprobs(lp, y, (const int[]){1}, 1, 3, 2);
    EXPECT_NEAR(lp[0], log(sqrt(2.0) / s), 1e-6);
    K->logprob_backward(y, (const int[]){1}, (const double[]){1}, 1, 3, 2);
    EXPECT_NEAR(y[0], -0.5 / s, 1e-6);
    EXPECT_NEAR(y[1], 0.5 * (1 - sqrt(2.0) / s), 1e-6);
}

/* Nucleus sampling at 1,000 evenly spaced u on p = (0.5, 0.3, 0.15, 0.05): top_p 0.7 keeps {0, 1} (0.8 >= 0.7)
 * renormalized to (0.625, 0.375); top_p 0.5 keeps {0}; top_p 1 is sample_tokens' draw, token for token. */
TEST(rl_kernels_nucleus_by_hand) {
    enum { N = 1000 };
    static real z[N * 4];
    static double u[N], lp[N];
    static int tok[N], ref[N];
    const double p[4] = {0.5, 0.3, 0.15, 0.05};
    for (int n = 0; n < N; n++) {
        u[n] = (n + 0.5) / N;
        for (int i = 0; i < 4; i++) z[n * 4 + i] = (real)(log(p[i]) + 1.7); /* any shift */
    }
    int count[4] = {0};
    K->sample_nucleus(tok, lp, z, 4, u, N, 4, 1, 0.7f);
    for (int n = 0; n < N; n++) count[tok[n]]++;
    EXPECT(count[0] == 625 && count[1] == 375 && count[2] == 0 && count[3] == 0);
    EXPECT_NEAR(lp[N - 1], log(0.3), 1e-6); /* under the full distribution, not the nucleus */
    K->sample_nucleus(tok, lp, z, 4, u, N, 4, 1, 0.5f);
    memset(count, 0, sizeof count);
    for (int n = 0; n < N; n++) count[tok[n]]++;
    EXPECT(count[0] == N);
    K->sample_nucleus(tok, lp, z, 4, u, N, 4, 1, 1.0f);
    K->sample_tokens(ref, z, u, N, 4, 1);
    memset(count, 0, sizeof count);
    int same = 1;
    for (int n = 0; n < N; n++) { count[tok[n]]++; same &= tok[n] == ref[n]; }
    EXPECT(same && count[0] == 500 && count[1] == 300 && count[2] == 150 && count[3] == 50);
    /* greedy, and rows ld apart: row 1 of a (2, 8) buffer read with ld = 8 */
    real two[8] = {0, 0, 0, 0, 0, 3, 1, 2};
    K->sample_nucleus(tok, lp, two, 4, u, 2, 4, 0, 1.0f);
    EXPECT(tok[1] == 1);
    EXPECT_NEAR(lp[1], 3 - log(exp(3.0) + exp(1.0) + exp(2.0) + 1), 1e-6);
    /* temperature 0.5 sharpens: p ~ p^2 = (0.25, 0.09, 0.0225, 0.0025) / 0.365 */
    K->sample_nucleus(tok, lp, z, 4, u, N, 4, 0.5f, 1.0f);
    memset(count, 0, sizeof count);
    for (int n = 0; n < N; n++) count[tok[n]]++;
    EXPECT(abs(count[0] - (int)lround(1000 * 0.25 / 0.365)) <= 1 && abs(count[1] - (int)lround(1000 * 0.09 / 0.365)) <= 1);
}

/* ---- sampling from a model ---- */

static ModelConfig small(int V) {
    ModelConfig c;
    config_defaults(&c);
    c.vocab_size = V; c.d_model = 32; c.n_layers = 2; c.n_heads = 4; c.d_ff = 64; c.seq_len = 40; c.init_std = 0.1;
    return c;
}

/* The log-probabilities kept while decoding from the KV cache equal the training forward's on the finished
 * sequences (an independent path: full causal attention, no cache), at a temperature and with top-p; prompts of
 * three lengths are decoded in three groups. */
TEST(policy_sample_logprobs_match_the_forward) {
    ModelConfig c = small(11);
    Model *m = model_create(&c, 0);
    Rng rng;
    rng_init(&rng, 5);
    enum { P = 6, S = 12 };
    int prompts[P][8], plen[P] = {3, 5, 3, 7, 5, 3}, out[P * S], len[P];
    const int *pp[P];
    double logp[P * S], run = 0;
    for (int i = 0; i < P; i++) {
        for (int t = 0; t < plen[i]; t++) prompts[i][t] = (int)rng_below(&rng, 11);
        pp[i] = prompts[i];
    }
    SampleOptions so = {0.8, 0.9, S, 3, 0};
    EXPECT(policy_sample(m, pp, plen, P, &so, &rng, out, logp, len, &run) == 0);
    int stopped = 0;
    for (int i = 0; i < P; i++) {
        EXPECT(len[i] >= 1 && len[i] <= S);
        for (int k = 0; k < len[i] - 1; k++) EXPECT(out[i * S + k] != 3); /* nothing after the stop token */
        if (len[i] < S) { EXPECT(out[i * S + len[i] - 1] == 3); stopped++; }
        for (int k = len[i]; k < S; k++) EXPECT(out[i * S + k] == -1 && logp[i * S + k] == 0);
    }
    EXPECT(run > 0);
    th_note("%d of %d completions stopped", stopped, P);
    /* the same sequences through the forward */
    int seq[P][8 + S], tl[P];
    const int *sp[P];
    for (int i = 0; i < P; i++) {
        memcpy(seq[i], prompts[i], sizeof(int) * plen[i]);
        memcpy(seq[i] + plen[i], out + i * S, sizeof(int) * len[i]);
        tl[i] = plen[i] + len[i];
        sp[i] = seq[i];
    }
    SeqBatch b;
    EXPECT(seqbatch_from_tokens(&b, sp, tl, len, P) == 0);
    double *lp = calloc((size_t)P * b.T, sizeof(double));
    EXPECT(rl_target_logprobs(m, &b, 0.8, 4, lp, NULL) == 0);
    double worst = 0;
    for (int i = 0; i < P; i++)
        for (int k = 0; k < len[i]; k++) worst = fmax(worst, fabs(lp[(size_t)i * b.T + plen[i] - 1 + k] - logp[i * S + k]));
    th_note("kept vs forward log-probabilities: worst difference %.2e", worst);
    EXPECT(worst < 2e-4);
    free(lp);
    seqbatch_free(&b);
    rng_free(&rng);
    model_free(m);
}

/* Greedy completions equal model_generate's greedy tokens, whether a prompt is decoded alone or with others of
 * its length (batching changes nothing a sequence sees). */
TEST(policy_sample_greedy_equals_generate) {
    ModelConfig c = small(13);
    Model *m = model_create(&c, 0);
    enum { P = 4, S = 10 };
    int prompts[P][4] = {{1, 2, 3, 4}, {4, 3, 2, 1}, {5, 6, 7, 8}, {9, 9, 1, 0}}, plen[P] = {4, 4, 4, 4};
    const int *pp[P] = {prompts[0], prompts[1], prompts[2], prompts[3]};
    int out[P * S], len[P], one[S], len1, gen[S];
    SampleOptions so = {0, 1, S, -1, 0};
    EXPECT(policy_sample(m, pp, plen, P, &so, NULL, out, NULL, len, NULL) == 0);
    for (int i = 0; i < P; i++) {
        EXPECT(len[i] == S);
        EXPECT(policy_sample(m, &pp[i], &plen[i], 1, &so, NULL, one, NULL, &len1, NULL) == 0);
        EXPECT(!memcmp(one, out + i * S, sizeof one));
        KVCache *kv = model_kv_cache(m, 1, 4 + S);
        EXPECT(model_generate(m, kv, prompts[i], 4, S, 0, NULL, 0, gen) == 0);
        kv_cache_free(kv);
        EXPECT(!memcmp(gen, out + i * S, sizeof gen));
    }
    /* max_batch splits a group: the same completions */
    int out2[P * S], len2[P];
    so.max_batch = 3;
    EXPECT(policy_sample(m, pp, plen, P, &so, NULL, out2, NULL, len2, NULL) == 0);
    EXPECT(!memcmp(out, out2, sizeof out));
    /* errors name the field */
    so.max_new = 40;
    EXPECT(policy_sample(m, pp, plen, P, &so, NULL, out2, NULL, len2, NULL) == -1 && strstr(al_error_message(), "'max_new'"));
    int bad[1] = {13}, bl = 1;
    const int *bp = bad;
    so.max_new = 2;
    EXPECT(policy_sample(m, &bp, &bl, 1, &so, NULL, out2, NULL, len2, NULL) == -1 && strstr(al_error_message(), "vocabulary"));
    model_free(m);
}

/* ---- training ---- */

/* One plain gradient step on the GRPO loss of a hand-made group (one prompt, a rewarded and an unrewarded
 * completion, ratios 1, beta = 0) raises the mean per-token log-probability of the rewarded completion relative
 * to the other: to first order the step changes (S_w / L_w - S_l / L_l) by lr A |grad of it|^2 > 0. */
TEST(grpo_update_favours_the_rewarded_completion) {
    ModelConfig c = small(11);
    Model *m = model_create(&c, 0);
    int w[9] = {1, 4, 4, 5, 6, 2, 3, 7, 8}, l[8] = {1, 4, 4, 9, 9, 0, 10, 3}, lw = 9, ll = 8, cl[2] = {5, 4};
    const int *sp[2] = {w, l};
    int lens[2] = {lw, ll};
    SeqBatch b;
    EXPECT(seqbatch_from_tokens(&b, sp, lens, cl, 2) == 0);
    double *lp = calloc((size_t)2 * b.T, sizeof(double)), *after = calloc((size_t)2 * b.T, sizeof(double));
    b.logp_old = calloc((size_t)2 * b.T, sizeof(double));
    EXPECT(rl_target_logprobs(m, &b, 1, 0, lp, NULL) == 0);
    memcpy(b.logp_old, lp, sizeof(double) * 2 * b.T);
    double adv[2];
    grpo_advantages((const double[]){1.5, 0}, 2, 1e-4, adv);
    GrpoBatch gb = {&b, lp, adv, 2};
    K->zero(m->ps.grad, m->ps.total);
    GrpoStats st = {0};
    double L0 = grpo_loss(m, &gb, 1, 0.2, 0, 0, 1, &st, NULL);
    EXPECT(st.clipped == 0 && st.tokens == 9);
    EXPECT_NEAR(L0, -(adv[0] + adv[1]) / 2, 1e-6); /* ratios 1: L = -mean A */
    for (size_t i = 0; i < m->ps.total; i++) m->ps.data[i] -= (real)(1e-2 * m->ps.grad[i]);
    EXPECT(rl_target_logprobs(m, &b, 1, 0, after, NULL) == 0);
    double gap0 = 0, gap1 = 0;
    for (int t = 0; t < b.T; t++) {
        gap0 += (b.targets[t] >= 0 ? lp[t] / cl[0] : 0) - (b.targets[b.T + t] >= 0 ? lp[b.T + t] / cl[1] : 0);
        gap1 += (b.targets[t] >= 0 ? after[t] / cl[0] : 0) - (b.targets[b.T + t] >= 0 ? after[b.T + t] / cl[1] : 0);
    }
    th_note("mean log-prob gap rewarded - unrewarded: %.6f -> %.6f", gap0, gap1);
    EXPECT(gap1 > gap0 + 1e-4);
    double L1 = grpo_loss(m, &gb, 1, 0.2, 0, 0, 0, NULL, NULL);
    EXPECT(L1 < L0);
    free(lp); free(after);
    seqbatch_free(&b);
    model_free(m);
}

/* The loop on a byte-level model, a few steps: the metrics whose values are known. At the first update of the
 * first batch the policy is its own frozen reference (same weights, same kernels): the KL estimate is exactly 0
 * and no ratio is clipped (the kept log-probabilities equal the forward's to ~1e-6); the reward is accuracy +
 * format_weight x format at every step (means of a linear function); a compute budget stops the run. */
TEST(grpo_loop_metrics) {
    ModelConfig c;
    config_defaults(&c);
    c.vocab_size = 256; c.d_model = 32; c.n_layers = 1; c.n_heads = 2; c.d_ff = 64; c.seq_len = 48;
    Model *m = model_create(&c, 0);
    Task t;
    EXPECT(task_addition_init(&t, 1, 1, 0.2) == 0);
    GrpoOptions o;
    grpo_defaults(&o);
    o.steps = 3; o.prompts = 2; o.group = 4; o.updates = 1; o.max_new = 24; o.eval_n = 8; o.quiet = 1;
    o.format_weight = 0.25;
    GrpoResult r;
    EXPECT(grpo_run(m, NULL, &t, &o, &r) == 0);
    EXPECT(r.steps_done == 3 && !r.diverged);
    const Series *kl = metrics_get(&r.log, "kl"), *clip = metrics_get(&r.log, "clip_fraction");
    const Series *rw = metrics_get(&r.log, "reward"), *acc = metrics_get(&r.log, "accuracy"), *fmt = metrics_get(&r.log, "format");
    const Series *len = metrics_get(&r.log, "length"), *va = metrics_get(&r.log, "val_accuracy");
    EXPECT(kl && clip && rw && acc && fmt && len && va);
    if (kl && clip && rw && acc && fmt && len && va) {
        EXPECT(kl->n == 3 && kl->value[0] == 0 && kl->value[2] >= 0);
        EXPECT(clip->value[0] == 0);
        for (int i = 0; i < 3; i++) EXPECT_NEAR(rw->value[i], acc->value[i] + 0.25 * fmt->value[i], 1e-12);
        for (int i = 0; i < 3; i++) EXPECT(len->value[i] >= 1 && len->value[i] <= 24);
        EXPECT(va->n == 2 && va->step[0] == 0 && va->step[1] == 3); /* at the start and the end */
    }
    EXPECT(r.flops > 0 && r.final_eval.n == 8);
    double per_step = r.flops / 3;
    grpo_result_free(&r);
    o.budget_flops = 0.5 * per_step; /* reached by the first step */
    o.steps = 10;
    EXPECT(grpo_run(m, NULL, &t, &o, &r) == 0);
    EXPECT(r.steps_done == 1);
    grpo_result_free(&r);
    /* bad options name their field */
    o.group = 1;
    EXPECT(grpo_run(m, NULL, &t, &o, &r) == -1 && strstr(al_error_message(), "field 'group'"));
    grpo_result_free(&r);
    o.group = 4;
    o.max_new = 60;
    EXPECT(grpo_run(m, NULL, &t, &o, &r) == -1 && strstr(al_error_message(), "field 'max_new'"));
    grpo_result_free(&r);
    model_free(m);
}

TEST(wilson_interval_by_hand) {
    double lo, hi;
    /* 8 of 10 at 95%: centre (0.8 + 1.96^2 / 20) / (1 + 1.96^2 / 10), half-width 1.96 sqrt(0.016 + 1.96^2 / 400) / same */
    wilson_interval(8, 10, 1.96, &lo, &hi);
    EXPECT_NEAR(lo, 0.490157, 1e-5);
    EXPECT_NEAR(hi, 0.943319, 1e-5);
    wilson_interval(0, 20, 1.96, &lo, &hi); /* never 0 width at the edge */
    EXPECT(lo == 0 || fabs(lo) < 1e-12);
    EXPECT_NEAR(hi, 0.161130, 1e-5);
}

/* The Lua side (tests/lua/ok_rl.lua): task methods' help and options, the checker through the binding, corpus,
 * model:clone, strict runs whose series hold what they must, distillation into another architecture. */
TEST(grpo_lua_api) {
    const char *b = getenv("AL_BIN");
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "%s --quiet tests/lua/ok_rl.lua > /tmp/archlab_ok_rl.txt 2>&1", b && *b ? b : "bin/archlab");
    int rc = system(cmd);
    if (rc) {
        char buf[2048] = "";
        FILE *f = fopen("/tmp/archlab_ok_rl.txt", "r");
        if (f) { size_t n = fread(buf, 1, sizeof buf - 1, f); buf[n] = 0; fclose(f); }
        th_note("tests/lua/ok_rl.lua failed: %s", buf);
    }
    EXPECT(rc == 0);
}
