/* The host-access check (core/backend_checked.c, backend "cpu-checked"): device buffers are PROT_NONE outside
 * kernel calls, so code that touches device memory other than through a kernel or the explicit copies faults.
 * These tests prove that the check catches a planted host read and write (in forked children, which die of
 * SIGSEGV with a report naming the buffer), that its tables wrap every kernel, and that a whole training step of
 * every model family (forward, backward, clipping, AdamW, the aux-free bias update, the per-step records: gains,
 * expert loads, MTP accuracies, and the final evaluation) runs under it with results bit for bit those of the
 * plain CPU backend: no host access of device memory is left in a training step. */
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "analysis/hres.h"
#include "analysis/stochastic.h"
#include "arch/kv_cache.h"
#include "arch/model.h"
#include "arch/probe.h"
#include "core/backend_checked.h"
#include "core/moe_kernels.h"
#include "core/stream_kernels.h"
#include "data/data.h"
#include "tests/harness.h"
#include "train/checkpoint.h"
#include "train/trainer.h"

/* Every slot of a kernel table (an array of pointers after `skip` leading non-kernel pointers) is set. */
static int slots_set(const void *table, size_t bytes, size_t skip, const char *what) {
    int ok = 1;
    for (size_t i = skip; i < bytes / sizeof(void *); i++) {
        void *p;
        memcpy(&p, (const char *)table + i * sizeof(void *), sizeof p);
        if (!p) { th_note("%s: slot %zu is NULL (a kernel added without this backend's version)", what, i); ok = 0; }
    }
    return ok;
}

/* The checked tables wrap every kernel of the three CPU tables: each slot set, none the CPU's own function (an
 * unwrapped kernel would run with the buffers closed, or a copied CPU pointer would bypass the check). */
TEST(device_check_tables_wrap_every_kernel) {
    EXPECT(sizeof(Backend) % sizeof(void *) == 0 && sizeof(MoeKernels) % sizeof(void *) == 0 &&
           sizeof(StreamKernels) % sizeof(void *) == 0);
    EXPECT(slots_set(&al_backend_cpu, sizeof(Backend), 1, "cpu Backend"));
    EXPECT(slots_set(&al_backend_checked, sizeof(Backend), 1, "cpu-checked Backend"));
    EXPECT(slots_set(&al_moe_checked, sizeof(MoeKernels), 0, "cpu-checked MoeKernels"));
    EXPECT(slots_set(&al_streams_checked, sizeof(StreamKernels), 0, "cpu-checked StreamKernels"));
    const void *tables[3][2] = {{&al_backend_cpu, &al_backend_checked}, {&al_moe_cpu, &al_moe_checked},
                                {&al_streams_cpu, &al_streams_checked}};
    size_t sizes[3] = {sizeof(Backend), sizeof(MoeKernels), sizeof(StreamKernels)}, skip[3] = {1, 0, 0};
    int shared = 0;
    for (int t = 0; t < 3; t++)
        for (size_t i = skip[t]; i < sizes[t] / sizeof(void *); i++) {
            void *a, *b;
            memcpy(&a, (const char *)tables[t][0] + i * sizeof(void *), sizeof a);
            memcpy(&b, (const char *)tables[t][1] + i * sizeof(void *), sizeof b);
            if (a == b) { th_note("table %d slot %zu is the CPU kernel itself, not wrapped", t, i); shared++; }
        }
    EXPECT(shared == 0);
    EXPECT(strstr(backend_names(), "cpu-checked") != NULL);
}

/* Runs fn(p) in a forked child (no OpenMP there: libgomp does not survive a fork) with its stderr captured into
 * err; returns the child's wait status. */
static int in_child(void (*fn)(real *), real *p, char *err, size_t cap) {
    int fd[2];
    if (pipe(fd)) return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(fd[0]);
        dup2(fd[1], 2);
        fn(p);
        _exit(0);
    }
    close(fd[1]);
    size_t n = 0;
    ssize_t r;
    while (n + 1 < cap && (r = read(fd[0], err + n, cap - 1 - n)) > 0) n += (size_t)r;
    err[n] = 0;
    close(fd[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    return status;
}

static volatile real sink;
static void host_read(real *p) { sink = p[3]; }
static void host_write(real *p) { p[5] = 1; }
static void copy_read(real *p) { real x[8]; K->to_host(x, p, 8); sink = x[3]; if (x[3] != 3) _exit(3); }

/* Under a sanitizer that takes SIGSEGV itself (AL_SANITIZE: make sanitize), the child ends with the sanitizer's
 * SEGV report and a failure status instead of the signal. */
static int died_of_segv(int status, const char *err) {
    if (WIFSIGNALED(status)) return WTERMSIG(status) == SIGSEGV;
    return getenv("AL_SANITIZE") && WIFEXITED(status) && WEXITSTATUS(status) != 0 && strstr(err, "SEGV");
}

TEST(device_check_catches_a_planted_host_read) {
    EXPECT(backend_select("cpu-checked") == 0);
    real *p = K->alloc(1000, "planted buffer");
    EXPECT(p != NULL);
    if (!p) { backend_select("cpu"); return; }
    real v[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    K->to_device(p, v, 8);
    K->scale(p, 2, 8); /* a kernel reads and writes it */
    real back[8];
    K->to_host(back, p, 8);
    EXPECT(back[3] == 6 && back[7] == 14);
    K->scale(p, 0.5f, 8);
    char err[4096];
    /* the control: the same child, reading through the explicit copy, exits normally */
    int st = in_child(copy_read, p, err, sizeof err);
    EXPECT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    st = in_child(host_read, p, err, sizeof err);
    th_note("planted read: %s", WIFSIGNALED(st) ? strsignal(WTERMSIG(st)) : "no signal");
    EXPECT(died_of_segv(st, err));
    if (!getenv("AL_SANITIZE")) {
        EXPECT(strstr(err, "host access of device buffer 'planted buffer' at element 3, outside a kernel call"));
        const char *nl = strchr(err, '\n');
        if (nl) th_note("its report: %.*s", (int)(nl - err), err);
    }
    st = in_child(host_write, p, err, sizeof err);
    EXPECT(died_of_segv(st, err));
    if (!getenv("AL_SANITIZE")) EXPECT(strstr(err, "'planted buffer' at element 5"));
    /* nothing of the parent changed: the buffer still holds what the kernels left */
    K->to_host(back, p, 8);
    EXPECT(back[5] == 5);
    K->free(p);
    EXPECT(backend_select("cpu") == 0);
}

/* Switching backends under live buffers is refused (they belong to the backend that allocated them). */
TEST(device_check_switch_refused_under_live_buffers) {
    long before = al_device_buffers;
    real *p = K->alloc(10, "a live buffer");
    EXPECT(backend_select("cpu-checked") == -1 && strstr(al_error_message(), "still allocated"));
    EXPECT(!strcmp(backend_active(), "cpu"));
    K->free(p);
    EXPECT(al_device_buffers == before);
    EXPECT(backend_select("no-such-device") == -1 && strstr(al_error_message(), "known: cpu|cpu-checked"));
#ifndef AL_CUDA
    EXPECT(backend_select("cuda") == -1 && strstr(al_error_message(), "make cuda"));
#endif
}

typedef struct Family {
    const char *name;
    void (*set)(ModelConfig *c);
    const char *metric; /* one of its per-step records that must match */
} Family;

static void mha_dense(ModelConfig *c) { (void)c; }
static void gqa(ModelConfig *c) { snprintf(c->attention, sizeof c->attention, "gqa"); c->n_heads = 4; c->n_kv_heads = 2; }
static void mla_moe(ModelConfig *c) {
    snprintf(c->attention, sizeof c->attention, "mla");
    c->kv_lora_rank = 16; c->q_lora_rank = 24;
    snprintf(c->ffn, sizeof c->ffn, "moe");
    c->n_routed_experts = 4; c->num_experts_per_tok = 2; c->n_shared_experts = 1; c->moe_intermediate_size = 16;
    c->first_k_dense_replace = 1; c->n_group = 2; c->topk_group = 1; c->norm_topk_prob = 1;
    snprintf(c->scoring_func, sizeof c->scoring_func, "sigmoid");
    snprintf(c->balance, sizeof c->balance, "aux_free");
}
static void hc(ModelConfig *c) { snprintf(c->residual, sizeof c->residual, "hc"); c->streams = 4; c->hc_dynamic = 1; }
static void mhc(ModelConfig *c) { snprintf(c->residual, sizeof c->residual, "mhc"); c->streams = 4; c->hc_dynamic = 1; }
static void mtp2(ModelConfig *c) { c->mtp_depth = 2; }

static const Family families[] = {
    {"mha + dense + residual", mha_dense, "grad_norm"},
    {"gqa", gqa, "grad_norm"},
    {"mla + moe (sigmoid, aux_free)", mla_moe, "layer1.maxvio"},
    {"hc (dynamic)", hc, "amax_gain_fwd"},
    {"mhc (dynamic)", mhc, "amax_gain_bwd"},
    {"mtp_depth 2", mtp2, "mtp2.accuracy"},
};

/* Trains `steps` steps of family f on the named backend; the loss series, the family's metric series, the
 * validation loss and the final weights (read through the backend's copy) into the out-arguments. */
static int train_on(const char *backend, const Family *f, int steps, double *loss, double *metric, double *val,
                    real **weights, size_t *n_weights) {
    if (backend_select(backend)) { th_note("%s", al_error_message()); return -1; }
    ModelConfig c;
    config_defaults(&c);
    c.vocab_size = 16; c.d_model = 32; c.n_layers = 2; c.n_heads = 2; c.d_ff = 64; c.seq_len = 32;
    f->set(&c);
    DataSource d;
    data_copy_init(&d, 13);
    Model *m = model_create(&c, 0);
    if (!m) { th_note("%s: %s", f->name, al_error_message()); data_free(&d); backend_select("cpu"); return -1; }
    TrainOptions o;
    train_defaults(&o);
    o.steps = steps; o.batch_size = 4; o.seq_len = 24; o.lr = 1e-2; o.quiet = 1; o.eval_batches = 1;
    o.record_every = 1; o.warmup = 0;
    TrainResult r;
    int rc = train_run(m, &d, &o, &r);
    if (rc) th_note("%s: %s", f->name, al_error_message());
    const Series *ls = metrics_get(&r.log, "loss"), *ms = metrics_get(&r.log, f->metric);
    if (!rc && (!ls || ls->n != steps || !ms || ms->n != steps)) {
        th_note("%s: series missing (loss %d, %s %d points)", f->name, ls ? ls->n : -1, f->metric, ms ? ms->n : -1);
        rc = -1;
    }
    for (int i = 0; !rc && i < steps; i++) { loss[i] = ls->value[i]; metric[i] = ms->value[i]; }
    *val = r.val_loss;
    *n_weights = m->ps.total;
    *weights = malloc(sizeof(real) * m->ps.total);
    K->to_host(*weights, m->ps.data, m->ps.total);
    train_result_free(&r);
    model_free(m);
    data_free(&d);
    if (backend_select("cpu")) rc = -1;
    return rc;
}

TEST(device_check_training_step_of_every_family) {
    enum { STEPS = 2 };
    for (size_t i = 0; i < sizeof families / sizeof families[0]; i++) {
        const Family *f = &families[i];
        double la[STEPS], lb[STEPS], ma[STEPS], mb[STEPS], va, vb;
        real *wa = NULL, *wb = NULL;
        size_t na = 0, nb = 0;
        int ra = train_on("cpu", f, STEPS, la, ma, &va, &wa, &na);
        int rb = train_on("cpu-checked", f, STEPS, lb, mb, &vb, &wb, &nb);
        int same = !ra && !rb && na == nb && !memcmp(la, lb, sizeof la) && !memcmp(ma, mb, sizeof ma) &&
                   !memcmp(&va, &vb, sizeof va) && !memcmp(wa, wb, sizeof(real) * na);
        th_note("%-30s loss %.6f -> %.6f, %s %.6g, val %.6f: cpu-checked %s", f->name, la[0], la[STEPS - 1], f->metric,
                ma[STEPS - 1], va, same ? "bit-identical" : "DIFFERS");
        EXPECT(!ra && !rb);
        EXPECT(same);
        EXPECT(isfinite(la[STEPS - 1]) && la[STEPS - 1] < la[0] + 1); /* it trained: finite, no blow-up */
        free(wa);
        free(wb);
    }
    EXPECT(!strcmp(backend_active(), "cpu"));
}

static Model *guarded_model;
static void read_params(real *p) { (void)p; sink = guarded_model->ps.data[0]; }
static void read_grads(real *p) { (void)p; sink = guarded_model->ps.grad[1]; }
static void read_moments(real *p) { (void)p; sink = guarded_model->ps.adam_v[2]; }
static void read_activations(real *p) { (void)p; sink = guarded_model->act.base[7]; }

/* The model a training step ran on keeps its parameters, gradients, AdamW moments and activations closed: the
 * training test above exercised protected buffers, not host memory. */
TEST(device_check_protects_a_trained_models_buffers) {
    EXPECT(backend_select("cpu-checked") == 0);
    ModelConfig c;
    config_defaults(&c);
    c.vocab_size = 16; c.d_model = 32; c.n_layers = 1; c.n_heads = 2; c.d_ff = 64; c.seq_len = 16;
    DataSource d;
    data_copy_init(&d, 13);
    Model *m = model_create(&c, 0);
    EXPECT(m != NULL);
    TrainOptions o;
    train_defaults(&o);
    o.steps = 1; o.batch_size = 2; o.quiet = 1; o.eval_batches = 1;
    TrainResult r;
    EXPECT(m && train_run(m, &d, &o, &r) == 0);
    if (m) {
        train_result_free(&r);
        guarded_model = m;
        void (*reads[4])(real *) = {read_params, read_grads, read_moments, read_activations};
        const char *names[4] = {"'parameters'", "'gradients'", "'AdamW second moments'", "'activations'"};
        for (int i = 0; i < 4; i++) {
            char err[4096];
            int st = in_child(reads[i], NULL, err, sizeof err);
            EXPECT(died_of_segv(st, err));
            if (!getenv("AL_SANITIZE") && !EXPECT(strstr(err, names[i]))) th_note("child said: %.200s", err);
        }
        model_free(m);
    }
    data_free(&d);
    EXPECT(backend_select("cpu") == 0);
}

/* What one backend's run of the paths around training gave: numbers the host read back through the copies. */
typedef struct Digest {
    double v[4096];
    int n;
} Digest;
static void put_num(Digest *d, double x) { if (d->n < 4096) d->v[d->n++] = x; }
static void put_buf(Digest *d, const real *h, size_t n) { for (size_t i = 0; i < n; i++) put_num(d, h[i]); }

/* The paths beside a training step that read or write device memory through the copies: checkpoint save and
 * resume (weights, AdamW moments), weights files, probes (every capture of an mHC + MLA + MoE model, attention
 * probabilities included), the gain and doubly-stochastic analyses, cached generation, m:param's copy. */
static int around_training(const char *backend, Digest *d) {
    memset(d, 0, sizeof *d);
    if (backend_select(backend)) return -1;
    ModelConfig c;
    config_defaults(&c);
    c.vocab_size = 16; c.d_model = 32; c.n_layers = 2; c.n_heads = 2; c.d_ff = 64; c.seq_len = 32;
    mhc(&c);
    mla_moe(&c);
    DataSource data;
    data_copy_init(&data, 13);
    char dir[64], wfile[80];
    snprintf(dir, sizeof dir, "/tmp/archlab_devchk_%d_%s", (int)getpid(), backend);
    snprintf(wfile, sizeof wfile, "%s.safetensors", dir);
    Model *m = model_create(&c, 0), *r = model_create(&c, 0), *w = model_create(&c, 0);
    int rc = !m || !r || !w;
    TrainOptions o;
    train_defaults(&o);
    o.steps = 2; o.batch_size = 4; o.seq_len = 24; o.quiet = 1; o.eval_batches = 1;
    snprintf(o.checkpoint_dir, sizeof o.checkpoint_dir, "%s", dir);
    TrainResult tr;
    if (!rc && (rc = train_run(m, &data, &o, &tr)) == 0) train_result_free(&tr);
    /* resume: weights and moments back through to_device, compared through to_host */
    Rng rng;
    rng_init(&rng, 1);
    TrainState st = {.rng = &rng};
    if (!rc) rc = checkpoint_load(dir, r, &st) || weights_save(wfile, m) || weights_load(wfile, w);
    rng_free(&rng);
    size_t P = m ? m->ps.total : 0;
    real *a = malloc(sizeof(real) * (P ? P : 1)), *b = malloc(sizeof(real) * (P ? P : 1));
    if (!rc) {
        K->to_host(a, m->ps.data, P);
        K->to_host(b, r->ps.data, P);
        put_num(d, !memcmp(a, b, sizeof(real) * P));
        K->to_host(b, w->ps.data, P);
        put_num(d, !memcmp(a, b, sizeof(real) * P));
        K->to_host(a, m->ps.adam_v, P);
        K->to_host(b, r->ps.adam_v, P);
        put_num(d, !memcmp(a, b, sizeof(real) * P));
        put_buf(d, a, P < 64 ? P : 64);
    }
    /* probes: every capture of one forward */
    int tokens[12] = {1, 3, 4, 5, 2, 3, 4, 5, 6, 7, 8, 9};
    const char *all[1] = {"*"};
    ProbeSink *s = probe_sink_new(all, 1, 0);
    if (!rc) rc = model_inspect(m, tokens, 1, 12, s);
    for (int i = 0; !rc && i < probe_count(s); i++) {
        Probe *p = probe_at(s, i);
        const real *t = tensor_data(&p->t);
        double sum = 0;
        for (int64_t j = 0; j < tensor_numel(&p->t); j++) sum += t[j] * (1 + j % 7);
        put_num(d, sum);
    }
    put_num(d, probe_count(s));
    probe_sink_free(s);
    /* the analyses of the last forward's mappings */
    GainProfile g;
    HresStochastic hs;
    if (!rc && !(rc = gain_profile(&g, m, 0))) { put_num(d, g.comp_fwd[0]); put_num(d, g.comp_bwd[0]); gain_profile_free(&g); }
    if (!rc && !(rc = hres_stochastic(&hs, m, 0))) { put_num(d, hs.col_err_max); hres_stochastic_free(&hs); }
    /* cached generation (MLA's absorbed decode, the KV cache's buffers) */
    KVCache *kv = m ? model_kv_cache(m, 1, 24) : NULL;
    int out[8] = {0};
    if (!rc) rc = !kv || model_generate(m, kv, tokens, 6, 8, 0, NULL, 4, out);
    for (int i = 0; i < 8; i++) put_num(d, out[i]);
    kv_cache_free(kv);
    free(a); free(b);
    model_free(m); model_free(r); model_free(w);
    data_free(&data);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s %s.old %s.tmp %s", dir, dir, dir, wfile);
    if (system(cmd)) rc = -1;
    if (rc) th_note("%s: %s", backend, al_error_message());
    if (backend_select("cpu")) rc = -1;
    return rc;
}

TEST(device_check_checkpoints_probes_analyses_generation) {
    static Digest a, b;
    int ra = around_training("cpu", &a), rb = around_training("cpu-checked", &b);
    EXPECT(ra == 0 && rb == 0);
    EXPECT(a.n > 100 && a.n == b.n);
    EXPECT(a.v[0] == 1 && a.v[1] == 1 && a.v[2] == 1); /* resumed weights, weights file and moments equal */
    int same = a.n == b.n && !memcmp(a.v, b.v, sizeof(double) * a.n);
    th_note("%d numbers read back (checkpoint, weights file, %d probe sums, gains, generation): cpu-checked %s", a.n,
            (int)a.v[a.n - 12], same ? "bit-identical" : "DIFFERS");
    EXPECT(same);
}
