/* Every experiment script runs end to end at its quick scale, so none of them rots between the long runs:
 * `make figures QUICK=1` (tools/figures.sh quick) runs once, into a scratch directory, and each experiment
 * is one test that checks its results.json and figures; the report (report.md and a multi-page report.pdf)
 * is one more. A failing experiment fails its test and so fails make test. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/harness.h"

/* Runs in a scratch directory, so the scripts' out/ files land there and never replace the results of a
 * real run in the repository's out/. */
static int run_quiet(const char *script_and_args) {
    const char *b = getenv("AL_BIN");
    char bin[4096], repo[4096], dir[] = "/tmp/archlab_exp_XXXXXX", cmd[9000];
    if (!realpath(b && *b ? b : "bin/archlab", bin) || !getcwd(repo, sizeof repo) || !mkdtemp(dir)) return -1;
    snprintf(cmd, sizeof cmd, "cd %s && %s --quiet %s/experiments/%s > /tmp/archlab_exp_out.txt 2>&1; rc=$?; rm -rf %s; exit $rc",
             dir, bin, repo, script_and_args, dir);
    int st = system(cmd);
    int rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
    if (rc) {
        char buf[2048] = "";
        FILE *f = fopen("/tmp/archlab_exp_out.txt", "r");
        if (f) { size_t n = fread(buf, 1, sizeof buf - 1, f); buf[n] = 0; fclose(f); }
        th_note("%s failed (%d): %s", script_and_args, rc, buf);
    }
    return rc;
}

TEST(experiment_quickstart) { EXPECT(run_quiet("quickstart.lua 5") == 0); }

/* ---- the lessons (experiments/lessons/): each at its tiny scale, a one-page handout with its numbers ---- */
static void check_lesson(const char *name) {
    char dir[] = "/tmp/archlab_lesson_XXXXXX", args[256], path[256], buf[1 << 16];
    if (!mkdtemp(dir)) { EXPECT(0); return; }
    snprintf(args, sizeof args, "lessons/%s.lua quick out=%s", name, dir);
    EXPECT(run_quiet(args) == 0);
    snprintf(path, sizeof path, "%s/handout.pdf", dir);
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f) fclose(f);
    buf[n] = 0;
    int pages = 0;
    for (size_t i = 0; i + 11 < n; i++) pages += !memcmp(buf + i, "/Type /Page", 11) && buf[i + 11] != 's';
    EXPECT(n > 1000 && pages == 1);
    snprintf(path, sizeof path, "%s/results.json", dir);
    f = fopen(path, "rb");
    n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f) fclose(f);
    buf[n] = 0;
    EXPECT(strstr(buf, "\"sentences\"") && strstr(buf, "\"scale_name\": \"quick\""));
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) { /* a leftover scratch directory is harmless */ }
}
TEST(lesson_kv_cache) { check_lesson("kv_cache"); }
TEST(lesson_moe_granularity) { check_lesson("moe_granularity"); }
TEST(lesson_hc_gain) { check_lesson("hc_gain"); }
TEST(lesson_balance) { check_lesson("balance"); }
TEST(lesson_mla_absorption) { check_lesson("mla_absorption"); }

/* ---- make figures QUICK=1, once ---- */
static char fig_dir[64];
static int fig_rc = -1;

static void fig_cleanup(void) {
    if (!fig_dir[0]) return;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", fig_dir);
    if (system(cmd) != 0) { /* a leftover scratch directory in /tmp is harmless */ }
}

static void figures_quick(void) {
    if (fig_dir[0]) return;
    snprintf(fig_dir, sizeof fig_dir, "/tmp/archlab_figures_XXXXXX");
    if (!mkdtemp(fig_dir)) { fig_dir[0] = 0; fig_rc = -1; return; }
    atexit(fig_cleanup);
    const char *b = getenv("AL_BIN");
    char bin[4096], cmd[9000];
    if (!realpath(b && *b ? b : "bin/archlab", bin)) { fig_rc = -1; return; }
    snprintf(cmd, sizeof cmd, "AL_BIN=%s FIGURES_OUT=%s/figures tools/figures.sh quick > %s/figures_log.txt 2>&1", bin,
             fig_dir, fig_dir);
    int st = system(cmd);
    fig_rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
    if (fig_rc) {
        char path[256], buf[3000] = "";
        snprintf(path, sizeof path, "%s/figures_log.txt", fig_dir);
        FILE *f = fopen(path, "r");
        if (f) { size_t n = fread(buf, 1, sizeof buf - 1, f); buf[n] = 0; fclose(f); }
        th_note("tools/figures.sh quick failed (%d): %s", fig_rc, buf);
    }
}

static int exists(const char *rel) {
    char p[512];
    struct stat st;
    snprintf(p, sizeof p, "%s/figures/%s", fig_dir, rel);
    int ok = stat(p, &st) == 0 && st.st_size > 0;
    if (!ok) th_note("missing or empty: %s", p);
    return ok;
}

static int contains(const char *rel, const char *needle) {
    char p[512];
    snprintf(p, sizeof p, "%s/figures/%s", fig_dir, rel);
    FILE *f = fopen(p, "rb");
    if (!f) return 0;
    static char buf[1 << 22];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    return strstr(buf, needle) != NULL;
}

/* results.json of one experiment at quick scale, and each of its figures */
static void check_experiment(const char *name, const char *const *figures) {
    figures_quick();
    char rel[256];
    snprintf(rel, sizeof rel, "%s/results.json", name);
    EXPECT(exists(rel));
    EXPECT(contains(rel, "\"scale_name\": \"quick\""));
    for (const char *const *f = figures; *f; f++) {
        snprintf(rel, sizeof rel, "%s/%s", name, *f);
        EXPECT(exists(rel));
    }
}

TEST(figures_quick_mhc_stability) {
    static const char *const f[] = {"training.png", "gain_vs_depth.png", "summary.md", NULL};
    check_experiment("mhc_stability", f);
}
TEST(figures_quick_mhc_ablations) {
    static const char *const f[] = {"sinkhorn.png", "expansion.png", "components.png", NULL};
    check_experiment("mhc_ablations", f);
    EXPECT(contains("mhc_ablations/results.json", "\"col_sum_err_mean\""));
}
TEST(figures_quick_kv_tradeoff) {
    static const char *const f[] = {"tradeoff.png", "niah.png", "niah_mla.png", NULL};
    check_experiment("kv_tradeoff", f);
}
TEST(figures_quick_moe_balance) {
    static const char *const f[] = {"maxvio.png", "load.png", NULL};
    check_experiment("moe_balance", f);
}
TEST(figures_quick_moe_granularity) {
    static const char *const f[] = {"granularity.png", NULL};
    check_experiment("moe_granularity", f);
}
TEST(figures_quick_mtp) { static const char *const f[] = {"mtp.png", NULL}; check_experiment("mtp", f); }
TEST(figures_quick_fp8) {
    static const char *const f[] = {"fp8.png", NULL};
    check_experiment("fp8", f);
    EXPECT(contains("fp8/results.json", "\"fixed_weights_rel_to_bf16\""));
}
TEST(figures_quick_r1_zero) {
    static const char *const f[] = {"training.png", NULL};
    check_experiment("r1_zero", f);
    EXPECT(contains("r1_zero/results.json", "\"verdict\"") && contains("r1_zero/results.json", "\"accuracy_change\""));
}
TEST(figures_quick_r1_distill) {
    static const char *const f[] = {"distill.png", NULL};
    check_experiment("r1_distill", f);
    EXPECT(contains("r1_distill/results.json", "\"difference_to_rl\"") && contains("r1_distill/results.json", "\"verdict\""));
}
TEST(figures_quick_inside) {
    static const char *const f[] = {"attention.png", "hres.png", "routing.png", NULL};
    check_experiment("inside", f);
    EXPECT(contains("inside/results.json", "\"worst_col_sum_err\""));
}
TEST(figures_quick_config_table) {
    static const char *const f[] = {"kv_cache.png", "config_table.md", "config_table.csv", NULL};
    check_experiment("config_table", f);
}

/* PDF page objects ("/Type /Page", not "/Type /Pages") */
static int pdf_pages(const char *rel) {
    char p[512];
    snprintf(p, sizeof p, "%s/figures/%s", fig_dir, rel);
    FILE *f = fopen(p, "rb");
    if (!f) return -1;
    static char buf[1 << 24];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    int count = 0;
    for (size_t i = 0; i + 11 < n; i++)
        if (!memcmp(buf + i, "/Type /Page", 11) && buf[i + 11] != 's') count++;
    return count;
}

/* The report's loss verdicts follow the measured seed-to-seed noise floor: from the quick results with hand-set
 * losses (tests/lua/report_verdict_inputs.lua), the report must call a gap inside the floor "not resolvable" (or
 * "direction only" when mHC is best) and one beyond it "not reproduced", with the gap it computed. Expected
 * texts worked by hand: residual 2.50, HC 2.40, mHC 2.45 -> mHC 0.05 above the best; mHC 2.38 -> best by 0.02. */
static int report_says(const char *losses, const char *needle1, const char *needle2) {
    const char *b = getenv("AL_BIN");
    char bin[4096], dir[] = "/tmp/archlab_verdict_XXXXXX", cmd[9000], path[256];
    if (!realpath(b && *b ? b : "bin/archlab", bin) || !mkdtemp(dir)) return 0;
    snprintf(cmd, sizeof cmd, "%s --quiet tests/lua/report_verdict_inputs.lua %s/figures/ %s/ %s > %s/log.txt 2>&1 && "
                              "%s --quiet experiments/report.lua out=%s/ >> %s/log.txt 2>&1",
             bin, fig_dir, dir, losses, dir, bin, dir, dir);
    int ok = system(cmd) == 0;
    snprintf(path, sizeof path, "%s/report.md", dir);
    FILE *f = fopen(path, "rb");
    static char buf[1 << 20];
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f) fclose(f);
    buf[n] = 0;
    int found = ok && strstr(buf, needle1) && strstr(buf, needle2);
    if (!found) th_note("%s: expected '%s' and '%s' in %s (run ok: %d)", losses, needle1, needle2, path, ok);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) { /* a leftover scratch directory in /tmp is harmless */ }
    return found;
}

TEST(figures_quick_report_verdicts_follow_noise_floor) {
    figures_quick();
    EXPECT(fig_rc == 0);
    /* RESIDUAL HC MHC NOISE_FLOOR ALL_THREE_GAP */
    EXPECT(report_says("2.50 2.40 2.45 0.2 0.05",
                       "Not resolvable at this scale: mHC is not the best of the three, but every gap to the best (at most 0.0500 nats)",
                       "Not resolvable at this scale: enabling the mappings raised the loss here (all three +0.0500), but within"));
    EXPECT(report_says("2.50 2.40 2.45 0.01 0.05", "Not reproduced at this scale: after",
                       "Not reproduced at this scale: enabling the mappings raised the loss here (all three +0.0500), beyond"));
    EXPECT(report_says("2.50 2.40 2.38 0.2 -0.05", "Direction only, within the noise floor: mHC is the best by at most 0.0200 nats",
                       "Direction only, within the noise floor: not a finding at this scale."));
}

/* what the run must do: finish with status 0 (every experiment and the report succeeded; tools/figures.sh
 * exits 1 if any failed) and leave a complete report. No wall-time bound: the machine is shared. */
TEST(figures_quick_report) {
    figures_quick();
    EXPECT(fig_rc == 0);
    EXPECT(exists("report.md") && exists("report.pdf"));
    EXPECT(contains("report.md", "QUICK SCALE"));
    EXPECT(contains("report.md", "](mhc_stability/training.png)"));
    EXPECT(!contains("report.md", "Not available"));
    int pages = pdf_pages("report.pdf");
    if (pages < 8) th_note("report.pdf has %d pages", pages);
    EXPECT(pages >= 8);
}
