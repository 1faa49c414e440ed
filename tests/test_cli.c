/* The archlab command end to end: bad input gives ONE line naming file:line and the field, exit code 1. */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "tests/harness.h"

static const char *archlab_bin(void) {
    const char *b = getenv("AL_BIN");
    return b && *b ? b : "bin/archlab";
}

/* Runs `archlab SCRIPT ARGS`, returns the exit code; stdout and stderr land in the buffers. */
static int run_archlab(const char *script_and_args, char *out, size_t nout, char *err, size_t nerr) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s --quiet %s >/tmp/archlab_cli_out.txt 2>/tmp/archlab_cli_err.txt", archlab_bin(),
             script_and_args);
    int st = system(cmd);
    const char *files[2] = {"/tmp/archlab_cli_out.txt", "/tmp/archlab_cli_err.txt"};
    char *bufs[2] = {out, err};
    size_t ns[2] = {nout, nerr};
    for (int i = 0; i < 2; i++) {
        FILE *f = fopen(files[i], "r");
        size_t n = f ? fread(bufs[i], 1, ns[i] - 1, f) : 0;
        bufs[i][n] = 0;
        if (f) fclose(f);
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static int count_lines(const char *s) {
    int n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

static void expect_error(const char *script, const char *where, const char *what) {
    char out[4096], err[4096];
    int rc = run_archlab(script, out, sizeof out, err, sizeof err);
    th_note("%s -> exit %d: %s", script, rc, err);
    EXPECT(rc == 1);
    EXPECT(count_lines(err) == 1);
    EXPECT(strstr(err, where) != NULL);
    EXPECT(strstr(err, what) != NULL);
}

TEST(cli_syntax_error) { expect_error("tests/lua/bad_syntax.lua", "bad_syntax.lua:3:", "expected"); }
TEST(cli_unknown_key_suggests) {
    expect_error("tests/lua/bad_unknown_key.lua", "bad_unknown_key.lua:2:", "did you mean 'n_heads'");
}
TEST(cli_wrong_type) { expect_error("tests/lua/bad_wrong_type.lua", "bad_wrong_type.lua:1:", "'d_model' must be a number"); }
TEST(cli_heads_not_dividing) { expect_error("tests/lua/bad_heads.lua", "bad_heads.lua:2:", "'n_heads' = 5 does not divide"); }
TEST(cli_missing_data_file) {
    expect_error("tests/lua/bad_missing_data.lua", "bad_missing_data.lua:1:", "/nonexistent/corpus.txt");
}
TEST(cli_train_option_typo) { expect_error("tests/lua/bad_train_key.lua", "bad_train_key.lua:3:", "did you mean 'steps'"); }
TEST(cli_nan_in_config) { expect_error("tests/lua/bad_nan.lua", "bad_nan.lua:1:", "'d_model' must be a finite number"); }
TEST(cli_huge_config_refused) { expect_error("tests/lua/bad_huge.lua", "bad_huge.lua:1:", "too large for this machine"); }
TEST(cli_unknown_preset) { expect_error("tests/lua/bad_preset.lua", "bad_preset.lua:1:", "no preset named 'tinny'"); }
TEST(cli_missing_script) { expect_error("tests/lua/no_such_script.lua", "no_such_script.lua", "cannot open"); }

TEST(cli_script_arguments_and_preset) {
    char out[4096], err[4096];
    int rc = run_archlab("tests/lua/ok_args.lua first second", out, sizeof out, err, sizeof err);
    EXPECT(rc == 0);
    EXPECT(strstr(out, "true\tfirst\tsecond\tfirst\tsecond") != NULL);
    /* tiny with one block: 256*64 (embedding) + 4*64*64 (attention) + 3*64*192 (ffn) + 2*64 + 64 (norms)
     * + 256*64 (head) = 86208 */
    EXPECT(strstr(out, "86208") != NULL);
    if (rc) th_note("stderr: %s", err);
}

TEST(cli_residual_bad_input) {
    expect_error("tests/lua/bad_streams.lua", "bad_streams.lua:1:", "'streams' = 0 is out of range [1, 8]");
    expect_error("tests/lua/bad_residual_kind.lua", "bad_residual_kind.lua:1:", "is not one of residual|hc|mhc");
    expect_error("tests/lua/bad_tmax.lua", "bad_tmax.lua:1:", "'sinkhorn_iters' = 0 is out of range");
}
