/* make bench: training throughput of ~1M and ~10M parameter models with 1 and 2 threads, beside the
 * cblas_sgemm rate measured in the same process (the ceiling a training step can approach), and against the
 * independent PyTorch reference (tests/reference/) on the same configs.
 * Achieved GFLOP/s = tokens/s x 3 x forward FLOPs per token (backward costs twice the forward), counting
 * matmul FLOPs of the model and causal attention (half the T x T scores), i.e. useful work only.
 * Results go to stdout and out/bench.json. */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "analysis/expert_load.h"
#include "arch/kv_cache.h"
#include "arch/model.h"
#include "core/backend.h"
#include "core/backend_cpu_attn.h" /* ATTN_BLOCK, for the GEMM ceiling */
#include "core/lowp_linear.h"
#include "data/data.h"
#include "train/checkpoint.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Best of several 2048^3 products (peak, not a typical run) */
static double sgemm_gflops(void) {
    int n = 2048;
    float *a = al_calloc((size_t)n * n, 4, "bench"), *b = al_calloc((size_t)n * n, 4, "bench"),
          *c = al_calloc((size_t)n * n, 4, "bench");
    for (size_t i = 0; i < (size_t)n * n; i++) { a[i] = (float)(i % 7) * 0.1f; b[i] = (float)(i % 5) * 0.1f; }
    double best = 0;
    for (int rep = 0; rep < 6; rep++) {
        double t = now_s();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, c, n);
        double g = 2.0 * n * n * n / (now_s() - t) / 1e9;
        if (rep && g > best) best = g; /* rep 0 warms up */
    }
    al_free(a); al_free(b); al_free(c);
    return best;
}

typedef struct { const char *name; int C, L, H, F, T, B; } BenchModel;

/* The defaults with a dense model's shape: d_model C, L blocks, H heads, SwiGLU F, sequences of T */
static ModelConfig dense_config(int C, int L, int H, int F, int T) {
    ModelConfig c;
    config_defaults(&c);
    c.d_model = C; c.n_layers = L; c.n_heads = H; c.d_ff = F; c.seq_len = T;
    return c;
}

/* One model being trained for timing: a full step is forward, backward and AdamW. */
typedef struct { Model *m; DataSource d; Rng rng; int *in, *tg, B, T, s; } BenchRun;

static void bench_run_init(BenchRun *r, Model *m, int B, int T) {
    r->m = m; r->B = B; r->T = T; r->s = 0;
    data_copy_init(&r->d, 200);
    rng_init(&r->rng, 1);
    r->in = malloc(sizeof(int) * B * T);
    r->tg = malloc(sizeof(int) * B * T);
    model_plan(m, B, T);
    ps_allocate_adam(&m->ps);
}

static double bench_run_step(BenchRun *r) { /* seconds */
    Model *m = r->m;
    data_batch(&r->d, &r->rng, SPLIT_TRAIN, r->s, r->B, r->T, r->in, r->tg);
    double t = now_s();
    K->zero(m->ps.grad, m->ps.total);
    model_forward(m, r->in, r->tg, r->B, r->T);
    model_backward(m, r->in, r->tg, r->B, r->T);
    r->s++;
    K->adamw(m->ps.data, m->ps.grad, m->ps.adam_m, m->ps.adam_v, m->ps.total, 1e-4f, 0.9f, 0.95f, 1e-8f, 0.1f, r->s);
    return now_s() - t;
}

static void bench_run_free(BenchRun *r) {
    free(r->in); free(r->tg);
    rng_free(&r->rng);
}

static double median(double *x, int n) {
    qsort(x, n, sizeof(double), cmp_d);
    return x[n / 2];
}

/* Median step time over `steps` steps after 3 warm-up steps */
static double train_tokens_per_s(Model *m, int B, int T, int steps) {
    BenchRun r;
    bench_run_init(&r, m, B, T);
    double times[64];
    for (int s = 0; s < steps + 3; s++) {
        double t = bench_run_step(&r);
        if (s >= 3) times[s - 3] = t;
    }
    bench_run_free(&r);
    return (double)B * T / median(times, steps);
}

/* ---- simulated low precision (core/lowp_linear.h): what the simulation costs on the CPU ----
 * The same 1M-parameter model's training step with its linear layers in float32 (OpenBLAS) and simulated
 * BF16 / FP8, side by side in this process. The simulation quantizes every GEMM input and accumulates in a
 * vectorized loop instead of OpenBLAS: its point is the numerics, not speed. */
static void bench_precision(FILE *json, int steps) {
    struct { const char *name, *precision, *scaling; int bits; } v[] = {
        {"fp32 (OpenBLAS)", "fp32", "tile", 0}, {"bf16", "bf16", "tile", 0},
        {"fp8 tiles, fp32 accum", "fp8", "tile", 0}, {"fp8 tiles, 14-bit accum", "fp8", "tile", 14},
        {"fp8 per tensor, 14-bit", "fp8", "tensor", 14},
    };
    printf("\nsimulated low precision: 1M model (d 128, 4 blocks, T 128, 16 x 128 tokens/step), 1 thread\n");
    printf("%-26s %12s %10s\n", "linear layers", "tokens/s", "vs fp32");
    al_set_threads(1);
    double base = 0;
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
        ModelConfig c = dense_config(128, 4, 4, 352, 128);
        Model *m = model_create(&c, 0);
        LowpLinear lowp;
        AL_ASSERT(m && lowp_linear_init(&lowp, v[i].precision, v[i].scaling, v[i].bits, 128, "toward_zero") == 0);
        if (strcmp(v[i].precision, "fp32")) m->ctx.lowp = &lowp;
        double tps = train_tokens_per_s(m, 16, 128, steps);
        if (i == 0) base = tps;
        printf("%-26s %12.0f %9.2fx\n", v[i].name, tps, tps / base);
        if (json)
            fprintf(json, ",\n  {\"precision\": \"%s\", \"tokens_per_s\": %.1f, \"vs_fp32\": %.4f}", v[i].name, tps, tps / base);
        m->ctx.lowp = NULL;
        lowp_linear_free(&lowp);
        model_free(m);
        fflush(stdout);
    }
}

/* ---- MoE vs dense at equal active parameters (DeepSeekMoE, arch/moe.c) ----
 * Both models share attention, embedding and head; the dense FFN is SwiGLU 704 wide, the MoE layer has
 * 16 routed experts of 176 (top-3) + 1 shared of 176: 704 active columns, 4x the dense FFN's total.
 * Active-parameter FLOPs (router, K routed + shared experts) per second, side by side in this process. */
static void bench_moe(FILE *json, int steps) {
    printf("\nMoE vs dense at equal active parameters (d 256, 4 blocks, T 128, 16 x 128 tokens/step)\n");
    printf("%-26s %7s %8s %8s %12s %10s %8s\n", "model", "threads", "active", "total", "tokens/s", "GFLOP/s", "vs dense");
    for (int threads = 1; threads <= 2; threads++) {
        al_set_threads(threads);
        double dense_gf = 0;
        for (int moe = 0; moe <= 1; moe++) {
            ModelConfig c = dense_config(256, 4, 4, 704, 128);
            if (moe) {
                snprintf(c.ffn, sizeof c.ffn, "moe");
                c.n_routed_experts = 16; c.num_experts_per_tok = 3; c.n_shared_experts = 1; c.moe_intermediate_size = 176;
                snprintf(c.scoring_func, sizeof c.scoring_func, "sigmoid");
                c.norm_topk_prob = 1;
                snprintf(c.balance, sizeof c.balance, "aux_free");
            }
            Model *m = model_create(&c, 0);
            if (!m) { fprintf(stderr, "bench: %s\n", al_error_message()); return; }
            double tps = train_tokens_per_s(m, 16, 128, steps);
            double gf = tps * 3 * model_flops_per_token(m, 128) / 1e9;
            if (!moe) dense_gf = gf;
            const char *name = moe ? "MoE 16x176 top-3 + 1 shared" : "dense SwiGLU 704";
            printf("%-26s %7d %7.2fM %7.2fM %12.0f %10.1f %7.1f%%\n", name, threads, model_active_params(m) / 1e6,
                   m->ps.total / 1e6, tps, gf, 100 * gf / dense_gf);
            if (json)
                fprintf(json, ",\n  {\"model\": \"%s\", \"threads\": %d, \"active_params\": %zu, \"params\": %zu, "
                              "\"tokens_per_s\": %.1f, \"active_gflops\": %.2f, \"vs_dense\": %.4f}",
                        name, threads, model_active_params(m), m->ps.total, tps, gf, gf / dense_gf);
            fflush(stdout);
            model_free(m);
        }
    }
}
/* ---- end of MoE vs dense ---- */

/* ---- residual families: per-step overhead of HC / mHC (n = 4) over the standard residual ----
 * The same model (d 256, 4 blocks, T 128, 16 x 128 tokens/step) with each residual kind; full training steps
 * INTERLEAVED (residual, hc, mhc, residual, ...) so a change in the machine's load hits all three alike; the
 * overhead is the ratio of median step times. mHC reports 6.7% on GPU with fused kernels; our target is below
 * 15% at d_model 256. */
/* The residual-family comparison's model (also `bin/bench STEPS residual256 | hc256 | mhc256 [THREADS]`) */
static const BenchModel RESIDUAL_MODEL = {"d 256, 4 blocks", 256, 4, 4, 704, 128, 16};
static const char *const RESIDUAL_KINDS[3] = {"residual", "hc", "mhc"};

static ModelConfig residual_model_config(const char *kind) {
    const BenchModel *b = &RESIDUAL_MODEL;
    ModelConfig c = dense_config(b->C, b->L, b->H, b->F, b->T);
    snprintf(c.residual, sizeof c.residual, "%s", kind);
    return c;
}

static void bench_residual(FILE *json, int steps) {
    printf("\nresidual families (d 256, 4 blocks, T 128, 16 x 128 tokens/step), n = 4 streams, steps interleaved\n");
    printf("%-26s %7s %8s %12s %10s\n", "residual", "threads", "params", "tokens/s", "overhead");
    for (int threads = 1; threads <= 2; threads++) {
        al_set_threads(threads);
        Model *m[3];
        BenchRun r[3];
        double times[3][64];
        for (int k = 0; k < 3; k++) {
            ModelConfig c = residual_model_config(RESIDUAL_KINDS[k]);
            m[k] = model_create(&c, 0);
            if (!m[k]) { fprintf(stderr, "bench: %s\n", al_error_message()); return; }
            bench_run_init(&r[k], m[k], RESIDUAL_MODEL.B, RESIDUAL_MODEL.T);
        }
        for (int s = 0; s < steps + 3; s++)
            for (int k = 0; k < 3; k++) {
                double t = bench_run_step(&r[k]);
                if (s >= 3) times[k][s - 3] = t;
            }
        double base = 0;
        for (int k = 0; k < 3; k++) {
            double tps = (double)RESIDUAL_MODEL.B * RESIDUAL_MODEL.T / median(times[k], steps);
            if (k == 0) base = tps;
            printf("%-26s %7d %7.2fM %12.0f %9.1f%%\n", RESIDUAL_KINDS[k], threads, m[k]->ps.total / 1e6, tps, 100 * (base / tps - 1));
            if (json)
                fprintf(json, ",\n  {\"residual\": \"%s\", \"threads\": %d, \"params\": %zu, \"tokens_per_s\": %.1f, "
                              "\"step_time_overhead\": %.4f}", RESIDUAL_KINDS[k], threads, m[k]->ps.total, tps, base / tps - 1);
            bench_run_free(&r[k]);
            model_free(m[k]);
        }
        fflush(stdout);
    }
}
/* ---- end of residual families ---- */

/* ---- decoding: MHA vs MLA (arch/kv_cache.c, arch/mla.c) ----
 * Batch 1, a context of ctx tokens prefilled, then 32 single-token decode steps timed one by one (median).
 * d 256, 4 blocks, 8 heads of 32; MLA with V2's ratios d_c = 4 d_h = 128, d_hR = d_h / 2 = 16, absorbed. */
static void bench_decode(FILE *json) {
    printf("\ndecode tokens/s, batch 1 (d 256, 4 blocks, 8 heads of 32; MLA d_c 128, d_hR 16, absorbed)\n");
    printf("%-6s %7s %8s %12s %14s\n", "attn", "threads", "context", "tokens/s", "KV bytes/token");
    int ctxs[2] = {512, 2048}, steps = 32;
    for (int threads = 1; threads <= 2; threads++) {
        al_set_threads(threads);
        for (int ci = 0; ci < 2; ci++)
            for (int mla = 0; mla <= 1; mla++) {
                ModelConfig c;
                config_defaults(&c);
                c.d_model = 256; c.n_layers = 4; c.n_heads = 8; c.seq_len = 2048 + steps;
                if (mla) { snprintf(c.attention, sizeof c.attention, "mla"); c.kv_lora_rank = 128; c.qk_rope_head_dim = 16; }
                Model *m = model_create(&c, 0);
                if (!m) { fprintf(stderr, "bench: %s\n", al_error_message()); return; }
                int ctx = ctxs[ci], *tok = malloc(sizeof(int) * ctx);
                for (int i = 0; i < ctx; i++) tok[i] = 32 + i % 90;
                KVCache *kv = model_kv_cache(m, 1, ctx + steps);
                for (int p = 0; p < ctx; p += 256) model_decode(m, kv, tok + p, 1, ctx - p < 256 ? ctx - p : 256);
                double times[64];
                for (int s = 0; s < steps; s++) {
                    int t = 65 + s % 26;
                    double t0 = now_s();
                    model_decode(m, kv, &t, 1, 1);
                    times[s] = now_s() - t0;
                }
                qsort(times, steps, sizeof(double), cmp_d);
                double tps = 1.0 / times[steps / 2], bpt = (double)kv_cache_bytes(kv) / (ctx + steps);
                printf("%-6s %7d %8d %12.0f %14.0f\n", mla ? "MLA" : "MHA", threads, ctx, tps, bpt);
                if (json)
                    fprintf(json, ",\n  {\"decode\": \"%s\", \"threads\": %d, \"context\": %d, \"tokens_per_s\": %.1f, "
                                  "\"kv_bytes_per_token\": %.0f}", mla ? "mla" : "mha", threads, ctx, tps, bpt);
                fflush(stdout);
                kv_cache_free(kv);
                free(tok);
                model_free(m);
            }
    }
}
/* ---- end of decoding ---- */

/* ---- long-context training ----
 * The same 4096 tokens per step as 4 x 1024 and 2 x 2048 (d 256, 4 blocks, 4 heads of 64, one thread): the
 * attention products grow with T while everything else stays, so this is where attention's blocking (causal
 * blocks skipped) and its memory (log-sum-exp only, no B*H*T*T probabilities) show. */
static void bench_long(FILE *json, int steps) {
    printf("\nlong-context training, 4096 tokens per step (d 256, 4 blocks, 4 heads of 64), 1 thread\n");
    printf("%-8s %6s %12s %22s\n", "T", "batch", "tokens/s", "activations + work MB");
    al_set_threads(1);
    for (int T = 1024; T <= 2048; T *= 2) {
        int B = 4096 / T;
        ModelConfig c = dense_config(256, 4, 4, 704, T);
        Model *m = model_create(&c, 0);
        if (!m) { fprintf(stderr, "bench: %s\n", al_error_message()); return; }
        double tps = train_tokens_per_s(m, B, T, steps < 5 ? steps : 5);
        double mb = sizeof(real) * (double)model_activation_elems(m) / 1e6;
        printf("%-8d %6d %12.0f %22.1f\n", T, B, tps, mb);
        if (json)
            fprintf(json, ",\n  {\"long_context\": %d, \"batch\": %d, \"tokens_per_s\": %.1f, \"activation_mb\": %.1f}", T,
                    B, tps, mb);
        fflush(stdout);
        model_free(m);
    }
}
/* ---- end of long-context training ---- */

/* ---- archlab against the PyTorch reference (tests/reference/bench_ref.py) ----
 * The same config, batch and thread count: archlab's training step (forward, backward, AdamW) against the
 * reference's (float32 eager PyTorch, autograd, torch.optim.AdamW), run in a subprocess per thread count with
 * OPENBLAS_NUM_THREADS = OMP_NUM_THREADS = threads (Debian's torch does its matmuls in the system BLAS,
 * which torch.set_num_threads alone does not bound). Ratio = archlab tokens/s / PyTorch tokens/s; the issue's
 * target is >= 1.5 on the two small configs. Skipped, and said so, when python3-torch is not installed.
 *
 * PyTorch gets its best of three set-ups, so the ratio is not flattered by a bad one: the system BLAS (Debian's
 * libblas.so.3 alternative, OpenBLAS with pthreads, whose spinning threads fight torch's OpenMP threads:
 * measured 4,400 tokens/s on 2 threads against 11,000 on 1 for the small dense model), the OpenMP build of
 * OpenBLAS that archlab links (AL_OPENBLAS_DIR, preloaded; 15,000-17,000 tokens/s on 2 threads), and, on more
 * than one thread, the system BLAS on all threads with torch's own loops on one (the small mHC/MLA/MoE
 * model's best: 3,800 against 1,700 with both on 2). */
#define REF_PY "/usr/bin/python3"
#define REF_SCRIPT "tests/reference/bench_ref.py"
#ifndef AL_OPENBLAS_DIR
#define AL_OPENBLAS_DIR "/usr/lib/x86_64-linux-gnu/openblas-openmp"
#endif

/* One run of the reference; preload: a BLAS library to LD_PRELOAD, or NULL for the system default; torch_threads:
 * torch's own loops (OMP_NUM_THREADS, set_num_threads), the BLAS gets `threads` */
static double reference_run(const char *cpath, const char *preload, int threads, int torch_threads, int B, int T,
                            int steps, char *why, size_t nwhy) {
    char cmd[1280], pre[320] = "";
    if (preload) snprintf(pre, sizeof pre, "LD_PRELOAD=%s ", preload);
    snprintf(cmd, sizeof cmd,
             "%sPYTHONDONTWRITEBYTECODE=1 OPENBLAS_NUM_THREADS=%d OMP_NUM_THREADS=%d " REF_PY " " REF_SCRIPT
             " %s --threads %d --torch-threads %d --batch %d --seq %d --steps %d 2>&1", pre, threads, torch_threads,
             cpath, threads, torch_threads, B, T, steps);
    FILE *p = popen(cmd, "r");
    if (!p) { snprintf(why, nwhy, "cannot run %s", REF_SCRIPT); return -1; }
    char line[512];
    double tps = -1;
    why[0] = 0;
    while (fgets(line, sizeof line, p)) {
        double v;
        if (sscanf(line, "tokens_per_s %lf", &v) == 1) tps = v;
        else if (!why[0]) { snprintf(why, nwhy, "%.200s", line); why[strcspn(why, "\n")] = 0; }
    }
    int rc = pclose(p);
    if (rc != 0 || tps <= 0) {
        if (!why[0]) snprintf(why, nwhy, "%s exited with status %d", REF_SCRIPT, rc);
        return -1;
    }
    return tps;
}

/* The reference's best tokens/s over the set-ups above; *blas names the winner */
static double reference_tokens_per_s(const ModelConfig *cfg, int threads, int B, int T, int steps, const char **blas,
                                     char *why, size_t nwhy) {
    const char *cpath = "out/bench_ref_config.json";
    char *js = config_to_json(cfg);
    FILE *f = fopen(cpath, "w");
    if (!f) { free(js); snprintf(why, nwhy, "cannot write %s", cpath); return -1; }
    fputs(js, f);
    fclose(f);
    free(js);
    const char *omp_blas = AL_OPENBLAS_DIR "/libblas.so.3";
    double best = reference_run(cpath, NULL, threads, threads, B, T, steps, why, nwhy);
    *blas = "system";
    char why2[256];
    if (!access(omp_blas, R_OK)) {
        double t = reference_run(cpath, omp_blas, threads, threads, B, T, steps, why2, sizeof why2);
        if (t > best) { best = t; *blas = "openblas-openmp"; }
    }
    if (threads > 1) {
        double t = reference_run(cpath, NULL, threads, 1, B, T, steps, why2, sizeof why2);
        if (t > best) { best = t; *blas = "system, torch 1 thread"; }
    }
    return best;
}

/* The GEMM ceiling of a dense residual/MHA model's training step: every sgemm of one step (projections, head,
 * and the attention products as archlab blocks them: per ATTN_BLOCK query rows, keys up to the block's end,
 * scores recomputed in the backward; see core/backend_cpu_attn.c), each timed alone at its exact shape with
 * warm caches (best of 10, the current thread count), summed. Past B*T tokens per that time only fewer FLOPs
 * or a faster sgemm can go; it shows how far a ratio against PyTorch (which uses the same sgemm, and the full
 * T x T attention products) can go. */
typedef struct { int ta, tb, M, N, K, count; } GemmShape;
static double gemm_ceiling_tokens_per_s(int C, int F, int V, int T, int B, int L, int H) {
    int Nt = B * T, hd = C / H, BH = B * H;
    GemmShape gs[15 + 6 * 64] = {
        {0, 1, Nt, 3 * C, C, L}, {0, 1, Nt, C, C, L}, {0, 1, Nt, 2 * F, C, L}, {0, 1, Nt, C, F, L}, {0, 1, Nt, V, C, 1},
        {0, 0, Nt, C, 3 * C, L}, {0, 0, Nt, C, C, L}, {0, 0, Nt, C, 2 * F, L}, {0, 0, Nt, F, C, L}, {0, 0, Nt, C, V, 1},
        {1, 0, 3 * C, C, Nt, L}, {1, 0, C, C, Nt, L}, {1, 0, 2 * F, C, Nt, L}, {1, 0, C, F, Nt, L}, {1, 0, V, C, Nt, 1},
    };
    size_t n = 15;
    for (int i0 = 0; i0 < T && n + 6 <= sizeof gs / sizeof *gs; i0 += ATTN_BLOCK) {
        int m = T - i0 < ATTN_BLOCK ? T - i0 : ATTN_BLOCK, e = i0 + m;
        GemmShape blk[6] = {
            {0, 1, m, e, hd, 2 * L * BH}, {0, 0, m, hd, e, L * BH}, /* scores (forward, recomputed), P V */
            {0, 1, m, e, hd, L * BH}, {1, 0, e, hd, m, L * BH}, {0, 0, m, hd, e, L * BH}, {1, 0, e, hd, m, L * BH}, /* dP dV dQ dK */
        };
        for (int j = 0; j < 6; j++) gs[n++] = blk[j];
    }
    size_t need = (size_t)Nt * (3 * C > 2 * F ? 3 * C : 2 * F);
    if ((size_t)Nt * V > need) need = (size_t)Nt * V;
    float *a = al_calloc(need, 4, "bench"), *b = al_calloc(need, 4, "bench"), *c = al_calloc(need, 4, "bench");
    double secs = 0;
    for (size_t g = 0; g < n; g++) {
        double best = 1e9;
        for (int rep = 0; rep < 10; rep++) {
            double t = now_s();
            cblas_sgemm(CblasRowMajor, gs[g].ta ? CblasTrans : CblasNoTrans, gs[g].tb ? CblasTrans : CblasNoTrans,
                        gs[g].M, gs[g].N, gs[g].K, 1, a, gs[g].ta ? gs[g].M : gs[g].K, b, gs[g].tb ? gs[g].K : gs[g].N,
                        0, c, gs[g].N);
            t = now_s() - t;
            if (t < best) best = t;
        }
        secs += best * gs[g].count;
    }
    al_free(a); al_free(b); al_free(c);
    return Nt / secs;
}

static void bench_pytorch(FILE *json, int steps) {
    printf("\narchlab vs the PyTorch reference (%s, float32, torch.optim.AdamW), training tokens/s\n", REF_SCRIPT);
    if (access(REF_SCRIPT, R_OK) || system(REF_PY " -c 'import torch' >/dev/null 2>&1") != 0) {
        printf("SKIPPED: python3-torch not installed (or %s missing): no PyTorch comparison\n", REF_SCRIPT);
        if (json) fprintf(json, ",\n  {\"vs_pytorch\": \"skipped\", \"reason\": \"python3-torch not installed\"}");
        return;
    }
    struct { const char *name; int small_mhc, C, L, H, F, T, B; } cfgs[] = {
        {"small residual/MHA/dense", 0, 128, 4, 4, 352, 128, 16},
        {"small mHC/MLA/MoE", 1, 128, 4, 4, 352, 128, 16},
        {"10M residual/MHA/dense", 0, 384, 6, 6, 1024, 256, 8},
    };
    /* the reference is several times slower per step: fewer steps keep the section in minutes */
    int ref_steps = steps < 6 ? steps : 6;
    printf("%-26s %7s %8s %8s %14s %14s %8s %14s  %s\n", "config", "threads", "params", "tokens", "archlab tok/s",
           "PyTorch tok/s", "ratio", "GEMM ceiling", "PyTorch's best set-up");
    for (size_t i = 0; i < sizeof cfgs / sizeof *cfgs; i++)
        for (int threads = 1; threads <= 2; threads++) {
            ModelConfig c = dense_config(cfgs[i].C, cfgs[i].L, cfgs[i].H, cfgs[i].F, cfgs[i].T);
            if (cfgs[i].small_mhc) {
                snprintf(c.residual, sizeof c.residual, "mhc");
                c.streams = 4;
                snprintf(c.attention, sizeof c.attention, "mla");
                c.kv_lora_rank = 64;
                snprintf(c.ffn, sizeof c.ffn, "moe");
                c.n_routed_experts = 8; c.num_experts_per_tok = 2; c.n_shared_experts = 1;
                snprintf(c.scoring_func, sizeof c.scoring_func, "sigmoid");
                c.norm_topk_prob = 1;
                snprintf(c.balance, sizeof c.balance, "aux_free");
            }
            al_set_threads(threads);
            Model *m = model_create(&c, 0);
            if (!m) { fprintf(stderr, "bench: %s\n", al_error_message()); return; }
            double tps = train_tokens_per_s(m, cfgs[i].B, cfgs[i].T, steps);
            char why[256];
            const char *blas = "";
            double ref = reference_tokens_per_s(&m->cfg, threads, cfgs[i].B, cfgs[i].T, ref_steps, &blas, why, sizeof why);
            /* dense configs only: the ceiling's GEMM list is that of a residual/MHA/dense model */
            double ceil = cfgs[i].small_mhc ? 0 : gemm_ceiling_tokens_per_s(c.d_model, c.d_ff, c.vocab_size, cfgs[i].T,
                                                                           cfgs[i].B, c.n_layers, c.n_heads);
            char ceil_s[32] = "-";
            if (ceil > 0) snprintf(ceil_s, sizeof ceil_s, "%.0f", ceil);
            if (ref > 0)
                printf("%-26s %7d %7.2fM %8d %14.0f %14.0f %7.2fx %14s  %s\n", cfgs[i].name, threads,
                       m->ps.total / 1e6, cfgs[i].B * cfgs[i].T, tps, ref, tps / ref, ceil_s, blas);
            else
                printf("%-26s %7d %7.2fM %8d %14.0f %14s   (reference failed: %s)\n", cfgs[i].name, threads,
                       m->ps.total / 1e6, cfgs[i].B * cfgs[i].T, tps, "-", why);
            if (json) {
                fprintf(json, ",\n  {\"vs_pytorch\": \"%s\", \"threads\": %d, \"params\": %zu, \"batch_tokens\": %d, "
                              "\"archlab_tokens_per_s\": %.1f, ", cfgs[i].name, threads, m->ps.total,
                        cfgs[i].B * cfgs[i].T, tps);
                if (ceil > 0) fprintf(json, "\"gemm_ceiling_tokens_per_s\": %.1f, ", ceil);
                if (ref > 0)
                    fprintf(json, "\"pytorch_tokens_per_s\": %.1f, \"pytorch_blas\": \"%s\", \"ratio\": %.4f}", ref, blas,
                            tps / ref);
                else fprintf(json, "\"pytorch_tokens_per_s\": null, \"ratio\": null}");
            }
            fflush(stdout);
            model_free(m);
        }
}
/* ---- end of archlab vs PyTorch ---- */

int main(int argc, char **argv) {
    al_tune_openmp(argv); /* measure what the archlab command runs with */
    BenchModel models[] = {
        {"1M (small preset)", 128, 4, 4, 352, 128, 16},
        {"10M", 384, 6, 6, 1024, 256, 8},
    };
    int steps = argc > 1 ? atoi(argv[1]) : 15;
    if (steps < 1 || steps > 64) steps = 15;
    /* bin/bench [STEPS] [pytorch | residual | decode | long | precision | small | 10m | residual256 | hc256 | mhc256 [THREADS]]:
     * the second form runs only the PyTorch comparison (out/bench_pytorch.json), the residual families
     * (out/bench_residual.json), decoding (out/bench_decode.json), long-context training (out/bench_long.json), the
     * simulated low precision (out/bench_precision.json), or
     * trains one model (a dense one, or one of the residual-family comparison) on THREADS threads (default 1)
     * and prints its tokens/s (no JSON: a target for perf record) */
    const char *kind = NULL;
    for (int k = 0; k < 3 && argc > 2; k++) {
        char name[16];
        snprintf(name, sizeof name, "%s256", RESIDUAL_KINDS[k]);
        if (!strcmp(argv[2], name)) kind = RESIDUAL_KINDS[k];
    }
    if (argc > 2 && (!strcmp(argv[2], "small") || !strcmp(argv[2], "10m") || kind)) {
        const BenchModel *b = kind ? &RESIDUAL_MODEL : &models[!strcmp(argv[2], "10m")];
        ModelConfig c = kind ? residual_model_config(kind) : dense_config(b->C, b->L, b->H, b->F, b->T);
        int threads = argc > 3 ? atoi(argv[3]) : 1;
        al_set_threads(threads < 1 ? 1 : threads);
        Model *m = model_create(&c, 0);
        if (!m) { fprintf(stderr, "bench: %s\n", al_error_message()); return 1; }
        printf("%s, %d thread(s): %.0f tokens/s\n", b->name, threads, train_tokens_per_s(m, b->B, b->T, steps));
        model_free(m);
        return 0;
    }
    int only_pytorch = argc > 2 && !strcmp(argv[2], "pytorch"), only_residual = argc > 2 && !strcmp(argv[2], "residual");
    int only_decode = argc > 2 && !strcmp(argv[2], "decode"), only_long = argc > 2 && !strcmp(argv[2], "long");
    int only_precision = argc > 2 && !strcmp(argv[2], "precision");
    if (argc > 2 && !(only_pytorch || only_residual || only_decode || only_long || only_precision)) {
        fprintf(stderr, "bench: unknown section '%s' (pytorch, residual, decode, long, precision, small, 10m, residual256, "
                        "hc256, mhc256)\n", argv[2]);
        return 2;
    }
    const char *jpath = only_pytorch    ? "out/bench_pytorch.json"
                        : only_residual ? "out/bench_residual.json"
                        : only_decode   ? "out/bench_decode.json"
                        : only_long     ? "out/bench_long.json"
                        : only_precision ? "out/bench_precision.json"
                                        : "out/bench.json";
    FILE *json = NULL;
    if (!make_parent_dirs(jpath)) json = fopen(jpath, "w");
    if (json) fprintf(json, "[\n");
    if (only_pytorch || only_residual || only_decode || only_long || only_precision) {
        if (json) fprintf(json, "  {\"steps\": %d}", steps);
        if (only_pytorch) bench_pytorch(json, steps);
        else if (only_residual) bench_residual(json, steps);
        else if (only_long) bench_long(json, steps);
        else if (only_precision) bench_precision(json, steps);
        else bench_decode(json);
        if (json) { fprintf(json, "\n]\n"); fclose(json); printf("written: %s\n", jpath); }
        return 0;
    }
    printf("%-18s %7s %8s %8s %12s %10s %10s %8s\n", "model", "threads", "params", "tokens", "tokens/s", "GFLOP/s",
           "sgemm", "ratio");
    int first = 1;
    for (int threads = 1; threads <= 2; threads++) {
        al_set_threads(threads);
        double peak = sgemm_gflops();
        for (size_t i = 0; i < sizeof models / sizeof *models; i++) {
            BenchModel *b = &models[i];
            ModelConfig c = dense_config(b->C, b->L, b->H, b->F, b->T);
            Model *m = model_create(&c, 0);
            if (!m) { fprintf(stderr, "bench: %s\n", al_error_message()); return 1; }
            double tps = train_tokens_per_s(m, b->B, b->T, steps);
            double gf = tps * 3 * model_flops_per_token(m, b->T) / 1e9;
            printf("%-18s %7d %7.2fM %8d %12.0f %10.1f %10.1f %7.1f%%\n", b->name, threads, m->ps.total / 1e6,
                   b->B * b->T, tps, gf, peak, 100 * gf / peak);
            if (json)
                fprintf(json, "%s  {\"model\": \"%s\", \"threads\": %d, \"params\": %zu, \"batch_tokens\": %d, "
                              "\"tokens_per_s\": %.1f, \"gflops\": %.2f, \"sgemm_gflops\": %.2f, \"ratio\": %.4f}",
                        first ? "" : ",\n", b->name, threads, m->ps.total, b->B * b->T, tps, gf, peak, gf / peak);
            first = 0;
            fflush(stdout);
            model_free(m);
        }
    }
    bench_moe(json, steps);
    bench_precision(json, steps);
    bench_residual(json, steps);
    bench_decode(json);
    bench_long(json, steps);
    bench_pytorch(json, steps);
    if (json) { fprintf(json, "\n]\n"); fclose(json); printf("written: out/bench.json\n"); }
    return 0;
}
