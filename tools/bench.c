/* make bench: training throughput of ~1M and ~10M parameter models with 1 and 2 threads, beside the
 * cblas_sgemm rate measured in the same process (the ceiling a training step can approach).
 * Achieved GFLOP/s = tokens/s x 3 x forward FLOPs per token (backward costs twice the forward), counting
 * matmul FLOPs of the model and causal attention (half the T x T scores), i.e. useful work only.
 * Results go to stdout and out/bench.json. */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "arch/model.h"
#include "core/backend.h"
#include "data/data.h"
#include "train/metrics.h"

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

/* Median step time over `steps` steps after 3 warm-up steps: forward, backward, AdamW (the full step). */
static double train_tokens_per_s(Model *m, int B, int T, int steps) {
    DataSource d;
    data_copy_init(&d, 200);
    Rng rng;
    rng_init(&rng, 1);
    int *in = malloc(sizeof(int) * B * T), *tg = malloc(sizeof(int) * B * T);
    model_plan(m, B, T);
    ps_allocate_adam(&m->ps);
    double times[64];
    for (int s = 0; s < steps + 3; s++) {
        data_batch(&d, &rng, SPLIT_TRAIN, s, B, T, in, tg);
        double t = now_s();
        K->zero(m->ps.grad, m->ps.total);
        model_forward(m, in, tg, B, T);
        model_backward(m, in, tg, B, T);
        K->adamw(m->ps.data, m->ps.grad, m->ps.adam_m, m->ps.adam_v, m->ps.total, 1e-4f, 0.9f, 0.95f, 1e-8f, 0.1f, s + 1);
        if (s >= 3) times[s - 3] = now_s() - t;
    }
    qsort(times, steps, sizeof(double), cmp_d);
    free(in); free(tg);
    rng_free(&rng);
    return (double)B * T / times[steps / 2];
}

int main(int argc, char **argv) {
    BenchModel models[] = {
        {"1M (small preset)", 128, 4, 4, 352, 128, 16},
        {"10M", 384, 6, 6, 1024, 256, 8},
    };
    int steps = argc > 1 ? atoi(argv[1]) : 15;
    if (steps < 1 || steps > 64) steps = 15;
    FILE *json = NULL;
    if (!make_parent_dirs("out/bench.json")) json = fopen("out/bench.json", "w");
    if (json) fprintf(json, "[\n");
    printf("%-18s %7s %8s %8s %12s %10s %10s %8s\n", "model", "threads", "params", "tokens", "tokens/s", "GFLOP/s",
           "sgemm", "ratio");
    int first = 1;
    for (int threads = 1; threads <= 2; threads++) {
        al_set_threads(threads);
        double peak = sgemm_gflops();
        for (size_t i = 0; i < sizeof models / sizeof *models; i++) {
            BenchModel *b = &models[i];
            ModelConfig c;
            config_defaults(&c);
            c.d_model = b->C; c.n_layers = b->L; c.n_heads = b->H; c.d_ff = b->F; c.seq_len = b->T;
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
    if (json) { fprintf(json, "\n]\n"); fclose(json); printf("written: out/bench.json\n"); }
    return 0;
}
