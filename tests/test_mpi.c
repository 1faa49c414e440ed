/* Several ranks under mpirun against one process (core/dist.h, train/parallel.h, arch/moe_ep.c): data-parallel
 * loss series on 2 and 3 ranks, expert-parallel loss and gradients on 2, resuming across rank counts, and a
 * rank killed mid-run. Each case launches `mpirun --oversubscribe` (ranks share this machine's cores) on the
 * scripts of tests/mpi/; they run when archlab was built with MPI and mpirun exists, and say SKIPPED loudly
 * otherwise (CI installs Open MPI: tools/deps.sh). The tolerance: R ranks sum their shares' gradients after
 * the GEMMs instead of inside one, so float32 sums differ in order: agreement to 1e-6 relative per step, where
 * a wrong share, scale or routing is off by percents. */
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/dist.h"
#include "core/safetensors.h"
#include "tests/harness.h"

static const char *bin(void) {
    const char *b = getenv("AL_BIN");
    return b && *b ? b : "bin/archlab";
}

static int mpi_ready(void) {
    if (!dist_built_with_mpi() || system("command -v mpirun >/dev/null 2>&1") != 0 || getenv("AL_SANITIZE")) {
        th_note("SKIPPED: %s", getenv("AL_SANITIZE") ? "under the sanitizers (Open MPI's own allocations)"
                                                     : "archlab was built without MPI or mpirun is missing");
        return 0;
    }
    return 1;
}

/* `[mpirun -np R] archlab ARGS` (R = 0: one process, no mpirun), stdout into out; the exit status */
static int launch(int R, const char *args, char *out, size_t n) {
    char cmd[2048];
    if (R > 0)
        snprintf(cmd, sizeof cmd,
                 "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 timeout 300 mpirun --oversubscribe -np %d "
                 "%s --threads 1 %s > /tmp/archlab_mpi_out.txt 2>/tmp/archlab_mpi_err.txt", R, bin(), args);
    else
        snprintf(cmd, sizeof cmd, "timeout 300 %s --threads 1 %s > /tmp/archlab_mpi_out.txt 2>/tmp/archlab_mpi_err.txt",
                 bin(), args);
    int st = system(cmd);
    FILE *f = fopen("/tmp/archlab_mpi_out.txt", "r");
    size_t len = f ? fread(out, 1, n - 1, f) : 0;
    out[len] = 0;
    if (f) fclose(f);
    if (st) {
        char err[2048] = "";
        f = fopen("/tmp/archlab_mpi_err.txt", "r");
        len = f ? fread(err, 1, sizeof err - 1, f) : 0;
        err[len] = 0;
        if (f) fclose(f);
        th_note("`%s` failed: %s", cmd, err);
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* "step S LOSS" lines into loss[S] (steps 1..n); returns how many */
static int parse_series(const char *out, double *loss, int n, double *val) {
    int count = 0;
    for (const char *p = out; (p = strstr(p, "step ")); p++) {
        int s;
        double v;
        if (sscanf(p, "step %d %lf", &s, &v) == 2 && s >= 1 && s <= n) { loss[s] = v; count++; }
    }
    const char *q = strstr(out, "val ");
    *val = q ? atof(q + 4) : NAN;
    return count;
}

/* largest relative difference of the series' common steps first..last */
static double series_diff(const double *a, const double *b, int first, int last) {
    double d = 0;
    for (int s = first; s <= last; s++) d = fmax(d, fabs(a[s] - b[s]) / fabs(b[s]));
    return d;
}

static void check_data_parallel(const char *config) {
    enum { STEPS = 6 };
    char out[8192], args[256];
    double one[STEPS + 1] = {0}, many[STEPS + 1] = {0}, v1, vr;
    snprintf(args, sizeof args, "tests/mpi/series.lua %s %d", config, STEPS);
    EXPECT(launch(0, args, out, sizeof out) == 0 && parse_series(out, one, STEPS, &v1) == STEPS);
    for (int R = 2; R <= 3; R++) {
        EXPECT(launch(R, args, out, sizeof out) == 0 && parse_series(out, many, STEPS, &vr) == STEPS);
        EXPECT(strstr(out, "ranks ") && atoi(strstr(out, "ranks ") + 6) == R);
        double d = series_diff(many, one, 1, STEPS), dv = fabs(vr - v1) / v1;
        th_note("%s, %d ranks: loss series within %.2e of one process, validation loss %.2e (step 1 %.9g vs %.9g)",
                config, R, d, dv, many[1], one[1]);
        EXPECT(d < 1e-6 && dv < 1e-6);
    }
}

TEST(mpi_data_parallel_dense_matches_one_process) {
    if (mpi_ready()) check_data_parallel("dense");
}
/* MLA, mHC, MoE with the aux-loss-free bias (its update reads the global loads), MTP */
TEST(mpi_data_parallel_mixed_matches_one_process) {
    if (mpi_ready()) check_data_parallel("mixed");
}

/* Expert parallelism on 2 ranks: the loss and every parameter's gradient of one step equal the single
 * process's (which computes every expert itself), and the loss series of a few steps too */
TEST(mpi_expert_parallel_matches_one_process) {
    if (!mpi_ready()) return;
    char out[8192];
    EXPECT(launch(0, "tests/mpi/grads.lua 2 /tmp/archlab_ep1.safetensors", out, sizeof out) == 0);
    EXPECT(launch(2, "tests/mpi/grads.lua 2 /tmp/archlab_ep2.safetensors", out, sizeof out) == 0);
    StFile a, b;
    EXPECT(st_read(&a, "/tmp/archlab_ep1.safetensors") == 0 && st_read(&b, "/tmp/archlab_ep2.safetensors") == 0);
    int grads = 0, experts = 0;
    double worst = 0;
    for (int i = 0; i < a.n; i++) {
        const StTensor *x = &a.t[i], *y = st_find(&b, x->name);
        if (!y) { if (strcmp(x->name, "logits")) EXPECT(!"every tensor but the logits in both files"); continue; }
        size_t n = (x->end - x->begin) / st_dtype_size(x->dtype);
        EXPECT(y->end - y->begin == x->end - x->begin);
        double mx = 0, d = 0;
        for (size_t k = 0; k < n; k++) {
            double u, v;
            if (!strcmp(x->dtype, "F32")) { float f, g; memcpy(&f, a.data + x->begin + 4 * k, 4); memcpy(&g, b.data + y->begin + 4 * k, 4); u = f; v = g; }
            else if (!strcmp(x->dtype, "F64")) { memcpy(&u, a.data + x->begin + 8 * k, 8); memcpy(&v, b.data + y->begin + 8 * k, 8); }
            else { int32_t f, g; memcpy(&f, a.data + x->begin + 4 * k, 4); memcpy(&g, b.data + y->begin + 4 * k, 4); u = f; v = g; }
            mx = fmax(mx, fabs(u));
            d = fmax(d, fabs(u - v));
        }
        double rel = mx > 0 ? d / mx : d;
        worst = fmax(worst, rel);
        grads += !strncmp(x->name, "grad.", 5);
        experts += strstr(x->name, ".experts.") != NULL;
        if (rel > 1e-5) th_note("%s differs by %.2e relative", x->name, rel);
    }
    th_note("expert parallel, 2 ranks: %d gradients (%d of routed experts) and the losses within %.2e of one process",
            grads, experts, worst);
    EXPECT(grads > 20 && experts == 4 * 3 * 2 && worst < 1e-5);
    st_free(&a);
    st_free(&b);
    double one[7] = {0}, two[7] = {0}, v1, v2;
    EXPECT(launch(0, "tests/mpi/series.lua ep2 6", out, sizeof out) == 0 && parse_series(out, one, 6, &v1) == 6);
    EXPECT(launch(2, "tests/mpi/series.lua ep2 6", out, sizeof out) == 0 && parse_series(out, two, 6, &v2) == 6);
    th_note("expert parallel training, 2 ranks: loss series within %.2e of one process", series_diff(two, one, 1, 6));
    EXPECT(series_diff(two, one, 1, 6) < 1e-6);
    /* the rows sent to each rank = the routing's (token, expert) pairs whose expert is there, on 2 and 4 ranks */
    for (int R = 2; R <= 4; R += 2) {
        EXPECT(launch(R, "tests/mpi/routing.lua", out, sizeof out) == 0 && strstr(out, "layer 1 rank 0 sent"));
        th_note("%d ranks: %s", R, out);
    }
}

/* A checkpoint is the same whatever the rank count: stopped at step 4 on 4 ranks and resumed on 1, and stopped
 * on 1 and resumed on 2, the runs continue the uninterrupted single-process trajectory */
TEST(mpi_resume_across_rank_counts) {
    if (!mpi_ready()) return;
    char out[8192];
    double ref[9] = {0}, got[9] = {0}, v;
    EXPECT(launch(0, "tests/mpi/series.lua dense 8", out, sizeof out) == 0 && parse_series(out, ref, 8, &v) == 8);
    int counts[2][2] = {{4, 0}, {0, 2}};
    for (int c = 0; c < 2; c++) {
        EXPECT(system("rm -rf /tmp/archlab_mpi_ck") == 0);
        EXPECT(launch(counts[c][0], "tests/mpi/series.lua dense 8 checkpoint=/tmp/archlab_mpi_ck stop_at=4", out,
                      sizeof out) == 0);
        memset(got, 0, sizeof got);
        EXPECT(parse_series(out, got, 8, &v) == 4);
        EXPECT(launch(counts[c][1], "tests/mpi/series.lua dense 8 resume=/tmp/archlab_mpi_ck", out, sizeof out) == 0);
        EXPECT(parse_series(out, got, 8, &v) == 4); /* steps 5..8 */
        double d = series_diff(got, ref, 1, 8);
        th_note("%d ranks to step 4, %d after: loss series within %.2e of the uninterrupted run", counts[c][0] ? counts[c][0] : 1,
                counts[c][1] ? counts[c][1] : 1, d);
        EXPECT(d < 1e-6);
    }
}

/* SIGKILL to one rank of a checkpointing run: the job ends (no hang), non-zero, naming what happened, and the
 * last checkpoint loads */
TEST(mpi_dead_rank_ends_the_job) {
    if (!mpi_ready()) return;
    EXPECT(system("rm -rf /tmp/archlab_mpi_dead /tmp/archlab_mpi_pid") == 0);
    pid_t job = fork();
    if (job == 0) {
        execl("/bin/sh", "sh", "-c",
              "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 AL_DIST_TIMEOUT=20 exec timeout 120 mpirun "
              "--oversubscribe -np 2 \"$0\" --threads 1 tests/mpi/dead.lua /tmp/archlab_mpi_dead /tmp/archlab_mpi_pid "
              "> /tmp/archlab_mpi_dead.out 2>&1", bin(), (char *)NULL);
        _exit(127);
    }
    /* wait for rank 1's pid and a first checkpoint, then kill rank 1 */
    int killed = 0;
    for (int i = 0; i < 600 && !killed; i++) {
        usleep(100000);
        FILE *f = fopen("/tmp/archlab_mpi_pid", "r");
        int pid = 0;
        if (f) { if (fscanf(f, "%d", &pid) != 1) pid = 0; fclose(f); }
        if (pid > 0 && access("/tmp/archlab_mpi_dead/model.safetensors", R_OK) == 0) killed = kill(pid, SIGKILL) == 0;
    }
    EXPECT(killed);
    int st;
    waitpid(job, &st, 0);
    char out[8192] = "";
    FILE *f = fopen("/tmp/archlab_mpi_dead.out", "r");
    size_t n = f ? fread(out, 1, sizeof out - 1, f) : 0;
    out[n] = 0;
    if (f) fclose(f);
    th_note("status %d; the job's last lines: %s", WIFEXITED(st) ? WEXITSTATUS(st) : -1, n > 600 ? out + n - 600 : out);
    EXPECT(WIFEXITED(st) && WEXITSTATUS(st) != 0 && WEXITSTATUS(st) != 124); /* ended, and not by the timeout */
    EXPECT(strstr(out, "signal 9") || strstr(out, "did not answer") || strstr(out, "died"));
    char o2[8192];
    EXPECT(launch(0, "tests/mpi/load.lua /tmp/archlab_mpi_dead", o2, sizeof o2) == 0 && strstr(o2, "val "));
    th_note("the last checkpoint loads: %s", o2);
}
