/* Every experiment script runs end to end at a tiny scale, so none of them rots between the long runs. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
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
TEST(experiment_mhc_stability) { EXPECT(run_quiet("mhc_stability.lua quick") == 0); }
TEST(experiment_kv_tradeoff) { EXPECT(run_quiet("kv_tradeoff.lua 3 3 1 quick") == 0); }
TEST(experiment_moe_balance) { EXPECT(run_quiet("moe_balance.lua 5") == 0); }
TEST(experiment_moe_granularity) { EXPECT(run_quiet("moe_granularity.lua 5") == 0); }
TEST(experiment_config_table) { EXPECT(run_quiet("config_table.lua") == 0); }
