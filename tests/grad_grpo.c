/* Gradient checks of the reinforcement-learning and distillation objectives (train/grpo.h, train/distill.h)
 * against finite differences, every parameter tensor of tiny models, in double precision:
 *   - the GRPO loss (clipped ratio + the unbiased KL estimator) through the policy's log-probabilities at a
 *     temperature, in micro-batches, with ratios on both sides of the clip range;
 *   - logit distillation, forward and reverse KL at a temperature, with and without the hard-label term, a
 *     teacher of another architecture (MLA, mHC) than the student;
 *   - sequence-level distillation (the mean cross-entropy of the completion tokens).
 * The models run the very code the training loops run (grpo_loss, distill_loss), including the kernels
 * token_logprobs, logprob_backward and distill_kl and the backward from given logit gradients. */
#include <math.h>
#include <string.h>

#include "arch/model.h"
#include "tests/gradcheck.h"
#include "tests/harness.h"
#include "train/distill.h"
#include "train/grpo.h"

enum { V = 11, NSEQ = 3 };

static ModelConfig tiny(const char *attention, const char *residual, int seed) {
    ModelConfig c;
    config_defaults(&c);
    c.vocab_size = V; c.d_model = 8; c.n_layers = 1; c.n_heads = 2; c.d_ff = 12; c.seq_len = 8;
    c.init_std = 0.3; /* larger than training's, so every path carries a visible gradient */
    c.seed = seed;
    snprintf(c.attention, sizeof c.attention, "%s", attention);
    snprintf(c.residual, sizeof c.residual, "%s", residual);
    if (!strcmp(attention, "gqa")) c.n_kv_heads = 1; /* two query heads share one key/value head */
    if (!strcmp(attention, "mla")) { c.kv_lora_rank = 5; c.qk_nope_head_dim = 4; c.qk_rope_head_dim = 2; c.v_head_dim = 3; }
    if (strcmp(residual, "residual")) { c.streams = 2; c.sinkhorn_iters = 4; }
    return c;
}

static Model *make(const char *attention, const char *residual, int seed, Rng *rng) {
    ModelConfig cfg = tiny(attention, residual, seed);
    Model *m = model_create(&cfg, 0);
    AL_ASSERT(m);
    /* move the structured inits (ones, identities) so every parameter's gradient is generic */
    for (size_t i = 0; i < m->ps.total; i++) m->ps.data[i] += (real)rng_normal(rng, 0.2);
    return m;
}

/* three sequences: prompts of 2, 3 and 1 tokens, completions of 4, 2 and 5 (the second one padded) */
static void batch(SeqBatch *b, Rng *rng) {
    static const int pl[NSEQ] = {2, 3, 1}, cl[NSEQ] = {4, 2, 5};
    int seq[NSEQ][8], len[NSEQ];
    const int *ptr[NSEQ];
    for (int i = 0; i < NSEQ; i++) {
        len[i] = pl[i] + cl[i];
        for (int t = 0; t < len[i]; t++) seq[i][t] = (int)rng_below(rng, V);
        ptr[i] = seq[i];
    }
    AL_ASSERT(seqbatch_from_tokens(b, ptr, len, cl, NSEQ) == 0);
    AL_ASSERT(b->T == 5);
}

/* every parameter tensor of m: the analytic gradient of loss(ctx) (already in m's grad) against differences */
static double check_params(Model *m, gc_loss_fn loss, void *ctx, int samples, const char *label) {
    real *analytic = al_calloc(m->ps.total, sizeof(real), "test");
    memcpy(analytic, m->ps.grad, sizeof(real) * m->ps.total);
    double worst = 0;
    for (int i = 0; i < m->ps.n; i++) {
        const ParamInfo *p = &m->ps.info[i];
        char what[160];
        snprintf(what, sizeof what, "%s %s", label, p->name);
        worst = fmax(worst, gc_check(loss, ctx, m->ps.data + p->offset, analytic + p->offset, p->numel, samples, what));
    }
    al_free(analytic);
    return worst;
}

/* ---- GRPO ---- */

typedef struct { Model *m; GrpoBatch gb; double temp, eps, beta; int micro; } GrpoCtx;
static double grpo_objective(void *p) {
    GrpoCtx *c = p;
    return grpo_loss(c->m, &c->gb, c->temp, c->eps, c->beta, c->micro, 0, NULL, NULL);
}

static void check_grpo(const char *attention, const char *residual, int micro) {
    Rng rng;
    rng_init(&rng, 2024);
    Model *m = make(attention, residual, 5, &rng);
    SeqBatch b;
    batch(&b, &rng);
    b.logp_old = calloc((size_t)NSEQ * b.T, sizeof(double));
    double *lp = calloc((size_t)NSEQ * b.T, sizeof(double)), *lp_ref = calloc((size_t)NSEQ * b.T, sizeof(double));
    const double adv[NSEQ] = {1.3, -0.7, 0.4}, temp = 0.7, eps = 0.2, beta = 0.3;
    AL_ASSERT(b.logp_old && lp && lp_ref);
    /* the policy's own log-probabilities, then pi_old and pi_ref around them: ratios exp(lp - lp_old) spread over
     * [0.55, 1.8], so tokens fall on both sides of [1 - eps, 1 + eps]; none within 0.02 of its edges, far from
     * anything a probe of 1e-3 on one weight can move */
    AL_ASSERT(rl_target_logprobs(m, &b, temp, 0, lp, NULL) == 0);
    static const double offs[] = {0.6, -0.5, 0.35, -0.3, 0.1, -0.1, 0.45, -0.25, 0.05, -0.45, 0.3, 0.0};
    int k = 0, clipped = 0, unclipped = 0;
    for (int i = 0; i < NSEQ; i++)
        for (int t = 0; t < b.T; t++) {
            size_t j = (size_t)i * b.T + t;
            if (b.targets[j] < 0) continue;
            double o = offs[k++ % 12];
            b.logp_old[j] = lp[j] - o; /* rho = e^o */
            lp_ref[j] = lp[j] + 0.4 * sin(3.0 * (double)j);
            double rho = exp(o);
            AL_ASSERT(fabs(rho - (1 + eps)) > 0.02 && fabs(rho - (1 - eps)) > 0.02);
            int c = (adv[i] > 0 && rho > 1 + eps) || (adv[i] < 0 && rho < 1 - eps);
            clipped += c;
            unclipped += !c;
        }
    EXPECT(clipped >= 2 && unclipped >= 4); /* both branches of the min are exercised */
    GrpoCtx c = {m, {&b, lp_ref, adv, 6.0}, temp, eps, beta, micro};
    K->zero(m->ps.grad, m->ps.total);
    GrpoStats st = {0};
    double L0 = grpo_loss(m, &c.gb, temp, eps, beta, micro, 1, &st, NULL);
    EXPECT(isfinite(L0));
    EXPECT(st.tokens == 11 && st.clipped == clipped);
    char label[96];
    snprintf(label, sizeof label, "grpo %s/%s micro %d", attention, residual, micro);
    double worst = check_params(m, grpo_objective, &c, 40, label);
    th_note("%s: %d clipped, %d unclipped tokens, loss %.6f, worst relative error %.2e", label, clipped, unclipped, L0, worst);
    EXPECT(worst < GC_TOL);
    free(lp); free(lp_ref);
    seqbatch_free(&b);
    model_free(m);
    rng_free(&rng);
}

TEST(grad_grpo_loss) { check_grpo("mha", "residual", 0); }
TEST(grad_grpo_loss_micro_batches) { check_grpo("gqa", "residual", 2); }
TEST(grad_grpo_loss_mla_mhc) { check_grpo("mla", "mhc", 1); }

/* ---- distillation ---- */

typedef struct { Model *t, *s; SeqBatch *b; double tau, hard; int reverse, micro; } DistillCtx;
static double distill_objective(void *p) {
    DistillCtx *c = p;
    return distill_loss(c->t, c->s, c->b, c->tau, c->reverse, c->hard, c->micro, 0, NULL, NULL, NULL);
}

static void check_distill(int logits, double tau, int reverse, double hard, int micro) {
    Rng rng;
    rng_init(&rng, 77);
    Model *teacher = make("mla", "mhc", 9, &rng), *student = make("gqa", "residual", 3, &rng);
    SeqBatch b;
    batch(&b, &rng);
    DistillCtx c = {logits ? teacher : NULL, student, &b, tau, hard, reverse, micro};
    K->zero(student->ps.grad, student->ps.total);
    double kl = NAN, L0 = distill_loss(c.t, student, &b, tau, reverse, hard, micro, 1, &kl, NULL, NULL);
    EXPECT(isfinite(L0) && L0 > 0);
    if (logits) EXPECT(kl > 0);
    char label[96];
    snprintf(label, sizeof label, "distill %s tau %g%s hard %g micro %d", logits ? "logits" : "sequences", tau,
             reverse ? " reverse" : "", hard, micro);
    double worst = check_params(student, distill_objective, &c, 40, label);
    th_note("%s: loss %.6f, worst relative error %.2e", label, L0, worst);
    EXPECT(worst < GC_TOL);
    /* the teacher is only read */
    double tw = 0;
    for (int i = 0; i < teacher->ps.n; i++) tw += fabs(teacher->ps.grad[teacher->ps.info[i].offset]);
    EXPECT(tw == 0);
    seqbatch_free(&b);
    model_free(teacher);
    model_free(student);
    rng_free(&rng);
}

TEST(grad_distill_forward_kl) { check_distill(1, 2.0, 0, 0, 0); }
TEST(grad_distill_reverse_kl_hard) { check_distill(1, 0.5, 1, 0.3, 2); }
TEST(grad_distill_sequences) { check_distill(0, 1.0, 0, 0, 1); }
