/* Configurations on paper: the presets against the papers' stated totals, KV formulas, speed and memory of
 * a 27B summary, Hugging Face config.json import and its bad inputs. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>

#include "analysis/cost.h"
#include "arch/hf_config.h"
#include "tests/harness.h"

static const char *archlab_bin(void) {
    const char *b = getenv("AL_BIN");
    return b && *b ? b : "bin/archlab";
}

/* `archlab summary NAME --json`, parsed */
static cJSON *summary_json(const char *target) {
    char cmd[512];
    snprintf(cmd, sizeof cmd, "%s summary %s --json 2>&1", archlab_bin(), target);
    FILE *p = popen(cmd, "r");
    if (!p) return NULL;
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, p);
    buf[n] = 0;
    pclose(p);
    cJSON *j = cJSON_Parse(buf);
    if (!j) th_note("not JSON: %s", buf);
    return j;
}

static double num(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

/* The papers' stated totals (docs/EQUATIONS.md sec. 5): within 2% (total) and 3% (activated, rounded to two
 * digits by the papers), with one counting convention for all (analysis/cost.h). */
TEST(presets_match_stated_totals) {
    struct { const char *name; double total, active; } p[3] = {
        {"deepseek-v2-lite", 15.7e9, 2.4e9}, {"deepseek-v2", 236e9, 21e9}, {"deepseek-v3", 671e9, 37e9}};
    for (int i = 0; i < 3; i++) {
        cJSON *j = summary_json(p[i].name);
        EXPECT(j != NULL);
        if (!j) continue;
        double t = num(j, "total_params"), a = num(j, "activated_params");
        th_note("%-17s total %.2fB (stated %.1fB, ratio %.4f), activated %.2fB (stated %.1fB, ratio %.4f)", p[i].name,
                t / 1e9, p[i].total / 1e9, t / p[i].total, a / 1e9, p[i].active / 1e9, a / p[i].active);
        EXPECT(fabs(t / p[i].total - 1) < 0.02);
        EXPECT(fabs(a / p[i].active - 1) < 0.03);
        cJSON_Delete(j);
    }
    /* the mHC paper's models by name: 3B, 9B, 27B (names, not stated counts; within 5%) */
    struct { const char *name; double total; } m[3] = {{"mhc-3b", 3e9}, {"mhc-9b", 9e9}, {"mhc-27b", 27e9}};
    for (int i = 0; i < 3; i++) {
        cJSON *j = summary_json(m[i].name);
        EXPECT(j != NULL);
        if (!j) continue;
        th_note("%-17s total %.2fB", m[i].name, num(j, "total_params") / 1e9);
        EXPECT(fabs(num(j, "total_params") / m[i].total - 1) < 0.05);
        cJSON_Delete(j);
    }
}

TEST(mla_kv_per_token_v2) {
    cJSON *j = summary_json("deepseek-v2");
    EXPECT(j != NULL);
    if (!j) return;
    EXPECT(num(j, "kv_elements_per_token") == (512 + 64) * 60);
    EXPECT(num(j, "kv_mha_equivalent_elements_per_token") == 2.0 * 128 * 128 * 60);
    const cJSON *bf16 = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "kv_bytes"), "bf16");
    EXPECT(num(bf16, "per_token") == 2.0 * (512 + 64) * 60);
    cJSON_Delete(j);
}

/* 27B on paper: under a second, and no parameter memory (peak RSS far below the 108 GB of its weights). */
TEST(summary_27b_fast_and_allocation_free) {
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "%s summary mhc-27b > /dev/null", archlab_bin());
    pid_t pid = fork();
    if (pid == 0) { execl("/bin/sh", "sh", "-c", cmd, (char *)NULL); _exit(127); }
    int st;
    struct rusage ru;
    wait4(pid, &st, 0, &ru);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9;
    th_note("summary mhc-27b: %.3f s, peak RSS %.1f MB", secs, ru.ru_maxrss / 1024.0);
    EXPECT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    EXPECT(secs < 1.0 || getenv("AL_SANITIZE")); /* sanitizers slow everything down several times */
    /* An upper bound: the child's count starts from the test process's pages that fork copied before exec.
     * Under the sanitizers that process alone is over 200 MB, so there the bound says nothing. */
    EXPECT(ru.ru_maxrss < 200 * 1024 || getenv("AL_SANITIZE")); /* kB */
}

TEST(hf_config_import_matches_preset) {
    ModelConfig c;
    HfImport info;
    EXPECT(hf_config_load("tests/fixtures/deepseek-v3-config.json", &c, &info) == 0);
    ModelCost cost;
    EXPECT(model_cost(&c, 4096, 1, &cost) == 0);
    cJSON *j = summary_json("deepseek-v3");
    EXPECT(j && num(j, "total_params") == (double)cost.params.total_params && num(j, "activated_params") == (double)cost.params.active_params);
    cJSON_Delete(j);
    EXPECT(strstr(info.unknown, "some_future_field") != NULL); /* listed, not silently dropped */
    EXPECT(strstr(info.ignored, "torch_dtype") != NULL);
    EXPECT(c.mtp_depth == 1); /* num_nextn_predict_layers: the MTP module is built and counted apart */
}

static void expect_bad_json(const char *text, const char *expect) {
    FILE *f = fopen("/tmp/archlab_bad_config.json", "w");
    fputs(text, f);
    fclose(f);
    ModelConfig c;
    HfImport info;
    int rc = hf_config_load("/tmp/archlab_bad_config.json", &c, &info);
    th_note("%s", rc ? al_error_message() : "(accepted!)");
    EXPECT(rc == -1);
    EXPECT(strstr(al_error_message(), "/tmp/archlab_bad_config.json") != NULL);
    EXPECT(strstr(al_error_message(), expect) != NULL);
}

TEST(hf_config_bad_inputs) {
    const char *ok = "\"vocab_size\": 256, \"num_hidden_layers\": 2, \"num_attention_heads\": 4, \"intermediate_size\": 64";
    char buf[512];
    expect_bad_json("{\"hidden_size\": 64, \"vocab_si", "not a valid JSON object");
    snprintf(buf, sizeof buf, "{\"hidden_size\": \"wide\", %s}", ok);
    expect_bad_json(buf, "hidden_size");
    expect_bad_json("{\"vocab_size\": 256}", "missing field 'hidden_size'");
    snprintf(buf, sizeof buf, "{\"hidden_size\": 0, %s}", ok);
    expect_bad_json(buf, "hidden_size");
    snprintf(buf, sizeof buf, "{\"hidden_size\": -64, %s}", ok);
    expect_bad_json(buf, "out of range");
    expect_bad_json("[1, 2]", "not a valid JSON object");
    /* sizes in range one by one whose product overflows 64-bit byte counts */
    ModelConfig c;
    config_defaults(&c);
    c.d_model = 1 << 20; c.n_layers = 4096; c.d_ff = 1 << 22; c.n_heads = 4096; c.vocab_size = 1 << 24;
    snprintf(c.ffn, sizeof c.ffn, "moe");
    c.n_routed_experts = 65536; c.num_experts_per_tok = 8; c.moe_intermediate_size = 1 << 22;
    ModelCost cost;
    EXPECT(model_cost(&c, 16, 1, &cost) == -1);
    th_note("%s", al_error_message());
    EXPECT(strstr(al_error_message(), "too large to count") != NULL);
}

/* meta mode = what training allocates, for a small config with every family switched on */
TEST(meta_equals_allocation_all_families) {
    ModelConfig c;
    config_defaults(&c);
    c.d_model = 64; c.n_layers = 3; c.n_heads = 4; c.d_ff = 128; c.seq_len = 32;
    snprintf(c.attention, sizeof c.attention, "mla");
    c.kv_lora_rank = 32; c.q_lora_rank = 24;
    snprintf(c.ffn, sizeof c.ffn, "moe");
    c.n_routed_experts = 8; c.num_experts_per_tok = 2; c.n_shared_experts = 1; c.first_k_dense_replace = 1;
    snprintf(c.residual, sizeof c.residual, "mhc");
    Model *meta = model_create(&c, 1), *real_m = model_create(&c, 0);
    EXPECT(meta && real_m);
    if (!meta || !real_m) { th_note("%s", al_error_message()); return; }
    EXPECT(meta->ps.total == real_m->ps.total && meta->ps.data == NULL);
    EXPECT(model_plan(meta, 2, 32) == 0 && model_plan(real_m, 2, 32) == 0);
    EXPECT(model_activation_elems(meta) == model_activation_elems(real_m));
    model_free(meta);
    model_free(real_m);
}

TEST(summary_bad_targets) {
    char cmd[512];
    snprintf(cmd, sizeof cmd, "%s summary no-such-preset 2>/tmp/archlab_sum_err.txt >/dev/null", archlab_bin());
    int st = system(cmd);
    EXPECT(WIFEXITED(st) && WEXITSTATUS(st) == 1);
    FILE *f = fopen("/tmp/archlab_sum_err.txt", "r");
    char buf[1024] = "";
    if (f) { size_t n = fread(buf, 1, sizeof buf - 1, f); buf[n] = 0; fclose(f); }
    th_note("%s", buf);
    EXPECT(strstr(buf, "no preset named 'no-such-preset'") != NULL);
    snprintf(cmd, sizeof cmd, "%s summary /nonexistent/config.json 2>/tmp/archlab_sum_err.txt >/dev/null", archlab_bin());
    st = system(cmd);
    EXPECT(WIFEXITED(st) && WEXITSTATUS(st) == 1);
}

/* One breakdown behind every summary (analysis/cost.h): its rows add up to the total, total and activated
 * alike, for every preset (through `archlab summary --json`) and for HC/mHC/MoE/MLA models; the activated
 * count follows the convention by hand: all but the input embedding and, per MoE layer, the routed experts a
 * token is not sent to. */
TEST(breakdown_rows_add_up) {
    const char *presets[] = {"tiny", "small", "deepseek-v2-lite", "deepseek-v2", "deepseek-v3", "mhc-3b", "mhc-9b", "mhc-27b"};
    for (size_t p = 0; p < sizeof presets / sizeof *presets; p++) {
        cJSON *j = summary_json(presets[p]);
        EXPECT(j != NULL);
        if (!j) continue;
        double t = 0, a = 0;
        const cJSON *e;
        cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(j, "components")) {
            t += num(e, "total");
            a += num(e, "activated");
        }
        if (t != num(j, "total_params") || a != num(j, "activated_params"))
            th_note("%s: rows %.0f / %.0f, totals %.0f / %.0f", presets[p], t, a, num(j, "total_params"), num(j, "activated_params"));
        EXPECT(t == num(j, "total_params") && a == num(j, "activated_params"));
        cJSON_Delete(j);
    }
    struct { const char *residual, *attention, *ffn; int kv_rank, q_rank, shared, first_dense; } v[] = {
        {"hc", "gqa", "dense", 0, 0, 0, 0},  {"mhc", "mla", "moe", 32, 0, 1, 1}, {"mhc", "mla", "moe", 32, 24, 2, 0},
        {"hc", "mqa", "moe", 0, 0, 0, 1},    {"residual", "mha", "moe", 0, 0, 1, 0}};
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
        ModelConfig c;
        config_defaults(&c);
        c.d_model = 64; c.n_layers = 3; c.n_heads = 4; c.d_ff = 192;
        config_set_string(&c, config_field("residual"), v[i].residual);
        config_set_string(&c, config_field("attention"), v[i].attention);
        config_set_string(&c, config_field("ffn"), v[i].ffn);
        if (!strcmp(v[i].attention, "gqa")) c.n_kv_heads = 2;
        c.kv_lora_rank = v[i].kv_rank; c.q_lora_rank = v[i].q_rank;
        c.n_shared_experts = v[i].shared; c.first_k_dense_replace = v[i].first_dense;
        c.n_routed_experts = 8; c.num_experts_per_tok = 2; c.moe_intermediate_size = 48;
        Model *m = model_create(&c, 1);
        EXPECT(m != NULL);
        if (!m) { th_note("%s", al_error_message()); continue; }
        ParamBreakdown b;
        param_breakdown(m, &b);
        size_t t = 0, a = 0;
        for (int k = 0; k < b.n; k++) { t += b.c[k].total; a += b.c[k].active; }
        int moe_layers = strcmp(v[i].ffn, "moe") ? 0 : c.n_layers - v[i].first_dense;
        size_t by_hand = m->ps.total - 256 * 64 - (size_t)moe_layers * (8 - 2) * 3 * 64 * 48;
        EXPECT(t == m->ps.total && b.total_params == m->ps.total);
        EXPECT(a == b.active_params && a == by_hand);
        model_free(m);
    }
}

/* Training memory under the three recipes, by hand for a 2-block d 64 model: 139,584 parameters (tiny's count,
 * worked out in tests/test_cli.c's cli_compare) priced at fp32 4+4+8 = 16 bytes, bf16 2+4+4+8 = 18 (bf16
 * weights beside fp32 master weights, fp32 gradients and moments), fp8 1+4+4+4 = 13 (V3: fp8 GEMM weights, fp32
 * master weights and gradients, bf16 moments); activations at 4, 2 and 1 bytes per element */
TEST(training_memory_recipes_by_hand) {
    ModelConfig c;
    config_defaults(&c);
    c.d_model = 64; c.n_layers = 2; c.n_heads = 4; c.d_ff = 192; c.seq_len = 64;
    ModelCost cost;
    EXPECT(model_cost(&c, 64, 2, &cost) == 0);
    EXPECT(cost.param_elems == 139584);
    double per_param[3] = {16, 18, 13}, per_act[3] = {4, 2, 1};
    for (int r = 0; r < MEMORY_RECIPES; r++) {
        double b[6];
        memory_bytes(&cost, &memory_recipes[r], b);
        EXPECT(b[0] + b[1] + b[2] + b[3] == per_param[r] * 139584);
        EXPECT(b[4] == per_act[r] * cost.activation_elems && cost.activation_elems > 0);
        EXPECT(b[5] == b[0] + b[1] + b[2] + b[3] + b[4]);
    }
    EXPECT(cost.activation_bytes == 4 * cost.activation_elems); /* the fp32 figure the summary always printed */
}
