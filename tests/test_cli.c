/* The archlab command end to end: bad input gives ONE line naming file:line and the field, exit code 1. */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/safetensors.h"
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

/* The bad-input suite (tests/bad/cases.lua: 17 classes, at least 20 cases each), every case its own process:
 * exit status, one line on stderr naming the script line or the file, the message pattern. */
TEST(cli_bad_input_suite) {
    char cmd[2048], out[16384] = "";
    snprintf(cmd, sizeof cmd, "%s --quiet tests/bad/run.lua %s > /tmp/archlab_bad_suite.txt 2>&1", archlab_bin(), archlab_bin());
    int st = system(cmd);
    FILE *f = fopen("/tmp/archlab_bad_suite.txt", "r");
    if (f) { size_t n = fread(out, 1, sizeof out - 1, f); out[n] = 0; fclose(f); }
    th_note("%s", out);
    EXPECT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    EXPECT(strstr(out, "classes") && strstr(out, ", 0 failed"));
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

TEST(cli_summary_rows_add_up) {
    char out[8192], err[4096];
    int rc = run_archlab("tests/lua/ok_summary_rows.lua", out, sizeof out, err, sizeof err);
    if (rc) th_note("%s", err);
    EXPECT(rc == 0 && strstr(out, "summary rows add up") != NULL);
}

TEST(cli_help_lists_every_kind) {
    char out[8192], err[4096];
    int rc = run_archlab("tests/lua/ok_kinds.lua", out, sizeof out, err, sizeof err);
    if (rc) th_note("%s", err);
    EXPECT(rc == 0 && strstr(out, "kinds in help") != NULL);
}

/* A Hugging Face config.json as a script's preset: the same counts as the hand-written preset and the paper's
 * stated sizes; scaled down, it trains (tests/lua/ok_hf_script.lua). */
TEST(cli_hf_config_in_a_script) {
    char out[4096], err[4096];
    int rc = run_archlab("tests/lua/ok_hf_script.lua /tmp/archlab_hf_preset.lua", out, sizeof out, err, sizeof err);
    if (rc) th_note("%s", err);
    EXPECT(rc == 0 && strstr(out, "hf script ok") != NULL);
    th_note("%s", out);
}

/* `archlab summary FILE.lua` applies the preset the file names, then the file's fields (tiny: d_model 64;
 * the defaults would give 128) */
TEST(cli_summary_file_with_preset) {
    FILE *f = fopen("/tmp/archlab_summary_preset.lua", "w");
    EXPECT(f != NULL);
    if (!f) return;
    fputs("return { preset = \"tiny\", n_layers = 3 }\n", f);
    fclose(f);
    char out[8192], err[4096];
    int rc = run_archlab("summary /tmp/archlab_summary_preset.lua", out, sizeof out, err, sizeof err);
    EXPECT(rc == 0 && strstr(out, "3 blocks, d_model 64,") != NULL);
}

/* archlab.tensor end to end: indexing, views, broadcasting, reductions, matmul, .npy and .safetensors round
 * trips, errors (tests/lua/ok_tensor.lua; values worked by hand there) */
TEST(cli_tensor_api) {
    char out[4096], err[4096];
    int rc = run_archlab("tests/lua/ok_tensor.lua /tmp", out, sizeof out, err, sizeof err);
    if (rc) th_note("%s", err);
    EXPECT(rc == 0 && strstr(out, "tensor api ok") != NULL);
}

/* Probes: every capture checked against what it must equal (tests/lua/ok_probe.lua): attention probabilities
 * against a causal softmax of the captured q and k, the residual stream against its additions, the logits
 * against the final norm and head applied in Lua, mHC's H_res doubly stochastic, capture changing nothing */
TEST(cli_probes) {
    char out[4096], err[4096];
    int rc = run_archlab("tests/lua/ok_probe.lua", out, sizeof out, err, sizeof err);
    if (rc) th_note("%s", err);
    th_note("%s", out);
    EXPECT(rc == 0 && strstr(out, "probes ok") != NULL);
}

/* archlab.compare: hand values (DeepSeek-V2's KV per layer 32768 / 2048 / 256 / 576), columns equal to each
 * configuration's own cost, --vary columns equal to the configurations built directly (tests/lua/ok_compare.lua);
 * and the command: tiny's total by hand, 256 x 64 (embedding) + 2 x (4 x 64 x 64 + 3 x 64 x 192 + 2 x 64)
 * + 64 + 256 x 64 (head) = 139584, small's 869504 (the quickstart's) */
TEST(cli_compare) {
    char out[16384], err[4096];
    int rc = run_archlab("tests/lua/ok_compare.lua /tmp", out, sizeof out, err, sizeof err);
    if (rc) th_note("%s", err);
    EXPECT(rc == 0 && strstr(out, "compare ok") != NULL);
    rc = run_archlab("compare tiny small --format csv --context 64", out, sizeof out, err, sizeof err);
    EXPECT(rc == 0 && strstr(out, "\n\"total parameters\",params,139584,869504\n") != NULL);
    rc = run_archlab("compare tiny --vary n_layers=1,2 --format csv", out, sizeof out, err, sizeof err);
    EXPECT(rc == 0 && strstr(out, "quantity,unit,\"n_layers=1\",\"n_layers=2\"") && strstr(out, ",params,86208,139584\n"));
}

TEST(cli_residual_bad_input) {
    expect_error("tests/lua/bad_streams.lua", "bad_streams.lua:1:", "'streams' = 0 is out of range [1, 8]");
    expect_error("tests/lua/bad_residual_kind.lua", "bad_residual_kind.lua:1:", "is not one of residual|hc|mhc");
    expect_error("tests/lua/bad_tmax.lua", "bad_tmax.lua:1:", "'sinkhorn_iters' = 0 is out of range");
}

TEST(cli_sweep_with_divergence_completes_and_resumes) {
    char out[8192], err[8192];
    system("rm -rf /tmp/archlab_sweep_test");
    int rc = run_archlab("tests/lua/ok_sweep.lua /tmp/archlab_sweep_test", out, sizeof out, err, sizeof err);
    EXPECT(rc == 0);
    th_note("%s", out);
    EXPECT(strstr(out, "lr=0.001\t2\t0\t2") != NULL); /* two finite runs */
    EXPECT(strstr(out, "lr=100\t2\t2\t0") != NULL);  /* both diverged, none in the mean */
    EXPECT(strstr(out, "skipped\t0") != NULL);
    rc = run_archlab("tests/lua/ok_sweep.lua /tmp/archlab_sweep_test", out, sizeof out, err, sizeof err);
    EXPECT(rc == 0 && strstr(out, "skipped\t4") != NULL);
    FILE *f = fopen("/tmp/archlab_sweep_test/run.csv", "r");
    char line[256] = "";
    EXPECT(f && fgets(line, sizeof line, f));
    EXPECT(strncmp(line, "step,loss,lr,grad_norm", 22) == 0);
    if (f) fclose(f);
}

/* A signal outside the training loop stops whatever runs, promptly, with status 130: a Lua loop (through a
 * hook), a long evaluation, a needle-in-a-haystack grid, generation. (The wait loop only guards against a
 * hang; nothing here is timed.) */
TEST(cli_signals_outside_training_stop_the_script) {
    const char *ops[] = {"lua", "evaluate", "niah", "generate"};
    const char *sigs[] = {"INT", "TERM"};
    for (int i = 0; i < 4; i++)
        for (int s = 0; s < 2; s++) {
            char cmd[1024];
            snprintf(cmd, sizeof cmd,
                     "%s --quiet tests/lua/ok_busy.lua %s >/tmp/archlab_busy_out.txt 2>/tmp/archlab_busy_err.txt & pid=$!; "
                     "for k in $(seq 300); do sleep 0.05; grep -q started /tmp/archlab_busy_out.txt 2>/dev/null && break; done; "
                     "sleep 0.3; kill -%s $pid; "
                     "for k in $(seq 600); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done; "
                     "kill -9 $pid 2>/dev/null; wait $pid; echo $? > /tmp/archlab_busy_rc.txt",
                     archlab_bin(), ops[i], sigs[s]);
            EXPECT(system(cmd) == 0);
            FILE *f = fopen("/tmp/archlab_busy_rc.txt", "r");
            int rc = -1;
            if (f) { EXPECT(fscanf(f, "%d", &rc) == 1); fclose(f); }
            char err[512] = "";
            f = fopen("/tmp/archlab_busy_err.txt", "r");
            if (f) { size_t n = fread(err, 1, sizeof err - 1, f); err[n] = 0; fclose(f); }
            if (rc != 130) th_note("%s, SIG%s: exit %d, %s", ops[i], sigs[s], rc, err);
            EXPECT(rc == 130 && strstr(err, "archlab: interrupted") != NULL);
        }
}

/* An installation path with a quote in it (it used to be pasted into Lua source) runs scripts, presets and the
 * Lua library alike. */
TEST(cli_install_path_with_a_quote) {
    char cmd[2048], out[4096] = "";
    snprintf(cmd, sizeof cmd, "rm -rf \"/tmp/arch'lab q\" && mkdir -p \"/tmp/arch'lab q/bin\" && cp %s \"/tmp/arch'lab q/bin/\" && "
             "cp -r scripts \"/tmp/arch'lab q/\" && printf 'local m = archlab.model{ preset = \"tiny\" }\\n"
             "print(type(archlab.sweep), m:params().total)\\n' > /tmp/archlab_quote.lua && "
             "\"/tmp/arch'lab q/bin/archlab\" --quiet /tmp/archlab_quote.lua > /tmp/archlab_quote_out.txt 2>&1", archlab_bin());
    int rc = system(cmd);
    FILE *f = fopen("/tmp/archlab_quote_out.txt", "r");
    if (f) { size_t n = fread(out, 1, sizeof out - 1, f); out[n] = 0; fclose(f); }
    th_note("%s", out);
    EXPECT(rc == 0 && strstr(out, "function\t") != NULL);
    system("rm -rf \"/tmp/arch'lab q\"");
}

/* SIGINT in the middle of training: checkpoint written, metrics kept, exit status 130. */
TEST(cli_sigint_checkpoints_and_exits) {
    system("rm -rf /tmp/archlab_int_test && mkdir -p /tmp/archlab_int_test");
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s --quiet tests/lua/ok_interrupt.lua /tmp/archlab_int_test >/tmp/archlab_int_out.txt 2>/tmp/archlab_int_err.txt & "
                              "pid=$!; for i in $(seq 100); do sleep 0.1; [ -s /tmp/archlab_int_test/m.jsonl ] && break; done; "
                              "sleep 0.5; kill -INT $pid; wait $pid; echo $? > /tmp/archlab_int_rc.txt", archlab_bin());
    EXPECT(system(cmd) == 0);
    FILE *f = fopen("/tmp/archlab_int_rc.txt", "r");
    int rc = -1;
    if (f) { EXPECT(fscanf(f, "%d", &rc) == 1); fclose(f); }
    th_note("exit status after SIGINT: %d", rc);
    EXPECT(rc == 130);
    EXPECT(access("/tmp/archlab_int_test/ckpt/model.safetensors", R_OK) == 0);
    EXPECT(access("/tmp/archlab_int_test/ckpt/train_state.safetensors", R_OK) == 0);
    EXPECT(access("/tmp/archlab_int_test/m.summary.json", R_OK) == 0);
    f = fopen("/tmp/archlab_int_test/m.summary.json", "r");
    char buf[4096] = "";
    if (f) { size_t n = fread(buf, 1, sizeof buf - 1, f); buf[n] = 0; fclose(f); }
    EXPECT(strstr(buf, "\"interrupted\": 1") != NULL);
}

TEST(cli_out_of_range_option) {
    expect_error("tests/lua/bad_range.lua", "bad_range.lua:1:", "field 'lr' = 1000 is out of range [1e-12, 100]");
}

/* model:dump_grads (scripts/lua_crosscheck.c), what make crosscheck compares with the PyTorch reference:
 * the file holds the batch, the logits, loss = ce_loss + aux_loss and one gradient per parameter, and the
 * dynamic mHC weights (zero at init, perturbed here) get a non-zero gradient. */
TEST(cli_dump_grads) {
    char out[4096], err[4096];
    const char *path = "/tmp/archlab_dump_grads_test.safetensors";
    remove(path);
    int rc = run_archlab("tests/lua/ok_dump_grads.lua /tmp/archlab_dump_grads_test.safetensors", out, sizeof out, err,
                         sizeof err);
    EXPECT(rc == 0);
    if (rc) { th_note("stderr: %s", err); return; }
    StFile f;
    if (!EXPECT(st_read(&f, path) == 0)) return;
    const StTensor *lg = st_find(&f, "logits"), *tk = st_find(&f, "tokens"), *tg = st_find(&f, "targets");
    const StTensor *l = st_find(&f, "loss"), *ce = st_find(&f, "ce_loss"), *aux = st_find(&f, "aux_loss");
    EXPECT(lg && lg->ndim == 3 && lg->shape[0] == 2 && lg->shape[1] == 8 && lg->shape[2] == 32);
    EXPECT(tk && !strcmp(tk->dtype, "I32") && tg && tk->shape[0] == 2 && tk->shape[1] == 8);
    if (l && ce && aux && tg) {
        double lv, cv, av;
        int t7;
        memcpy(&lv, f.data + l->begin, 8);
        memcpy(&cv, f.data + ce->begin, 8);
        memcpy(&av, f.data + aux->begin, 8);
        memcpy(&t7, f.data + tg->begin + 7 * 4, 4);
        EXPECT_NEAR(lv, cv + av, 1e-12);
        EXPECT(av > 0 && cv > 1 && cv < 10);
        EXPECT(t7 == -1);
        char want[64];
        snprintf(want, sizeof want, "loss %.6f", lv);
        EXPECT(strstr(out, want) != NULL);
    } else {
        EXPECT(!"loss, ce_loss, aux_loss and targets present");
    }
    EXPECT(st_meta(&f, "archlab.config") != NULL);
    int grads = 0;
    for (int i = 0; i < f.n; i++) grads += !strncmp(f.t[i].name, "grad.", 5);
    EXPECT(grads > 20);
    const StTensor *phi = st_find(&f, "grad.model.layers.1.attn_mhc_phi");
    if (EXPECT(phi && !strcmp(phi->dtype, "F32"))) {
        double s = 0;
        for (size_t i = phi->begin; i < phi->end; i += 4) {
            float v;
            memcpy(&v, f.data + i, 4);
            s += fabs(v);
        }
        EXPECT(s > 0);
    }
    st_free(&f);
    remove(path);
}

TEST(cli_dump_grads_bad_input) {
    expect_error("tests/lua/bad_dump_grads.lua", "bad_dump_grads.lua:2:", "field 'targets[1]' has 3 tokens, 'tokens[1]' has 4");
}
