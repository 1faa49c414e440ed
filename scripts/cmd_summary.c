/* archlab summary PRESET|FILE.lua|config.json [--json] [--context T] [--batch B]
 * Builds the model in meta mode (nothing allocated) and prints its parameters per component (total and
 * activated), FLOPs per token, KV-cache memory per dtype and training memory. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <strings.h>
#include <sys/stat.h>
#include <lualib.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/cost.h"
#include "arch/hf_config.h"
#include "arch/kinds.h"
#include "scripts/bridge.h"

static const char *target;

static void usage(FILE *f) {
    fprintf(f, "usage: archlab summary PRESET|FILE.lua|config.json [--json] [--context T] [--batch B]\n"
               "  parameters per component (total and activated), FLOPs per token, KV-cache and training memory of a\n"
               "  configuration, counted without allocating (a preset name from scripts/presets, a Lua file returning\n"
               "  a table of config fields, or a Hugging Face config.json)\n"
               "  --json       machine-readable output\n"
               "  --context T  context length for FLOPs and memory (default: min(seq_len, 4096))\n"
               "  --batch B    batch size for memory (default 1)\n");
}
static ModelConfig cfg;

/* A whole decimal number in [lo, hi]; -1 with a message naming the option otherwise. */
static int parse_int_option(const char *opt, const char *text, long lo, long hi, int *out) {
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (!*text || *end || errno || v < lo || v > hi) {
        fprintf(stderr, "archlab summary: %s '%s' must be a whole number in [%ld, %ld]\n", opt, text, lo, hi);
        return -1;
    }
    *out = (int)v;
    return 0;
}

static void human(double v, char *buf, const char *unit) {
    const char *p[] = {"", " K", " M", " G", " T", " P"};
    int i = 0;
    while (v >= 1000 && i < 5) { v /= 1000; i++; }
    snprintf(buf, 32, i ? "%.2f%s%s" : "%.0f%s%s", v, p[i], unit);
}

int al_cmd_summary(int argc, char **argv) {
    int json = 0, context = 0, batch = 1;
    target = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) json = 1;
        else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) { usage(stdout); return 0; }
        else if (!strcmp(argv[i], "--context") || !strcmp(argv[i], "--batch")) {
            if (i + 1 >= argc) { fprintf(stderr, "archlab summary: %s needs a value\n", argv[i]); return 1; }
            int *dst = !strcmp(argv[i], "--context") ? &context : &batch;
            if (parse_int_option(argv[i], argv[i + 1], 1, dst == &context ? 1L << 30 : 1L << 20, dst)) return 1;
            i++;
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "archlab summary: unknown option %s (archlab summary --help shows the usage)\n", argv[i]);
            return 1;
        } else if (target) {
            fprintf(stderr, "archlab summary: one configuration at a time ('%s' and '%s')\n", target, argv[i]);
            return 1;
        } else target = argv[i];
    }
    if (!target) {
        fprintf(stderr, "archlab summary: no configuration given (archlab summary --help shows the usage)\n");
        return 1;
    }
    HfImport info;
    if (cmd_load_config(target, &cfg, &info)) { fprintf(stderr, "%s\n", al_error_message()); return 1; }
    ModelConfig fin = cfg;
    if (config_finalize(&fin)) { fprintf(stderr, "%s: %s\n", target, al_error_message()); return 1; }
    if (context == 0) context = fin.seq_len < 4096 ? fin.seq_len : 4096;
    if (context > fin.seq_len) { fprintf(stderr, "%s: --context %d exceeds seq_len = %d\n", target, context, fin.seq_len); return 1; }
    ModelCost c;
    if (model_cost(&cfg, context, batch, &c)) { fprintf(stderr, "%s: %s\n", target, al_error_message()); return 1; }
    const double dtype_bytes[3] = {4, 2, 1};
    const char *dtype_names[3] = {"fp32", "bf16", "fp8"};
    if (json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "model", fin.preset);
        cJSON *comp = cJSON_AddObjectToObject(o, "components");
        for (int i = 0; i < c.params.n; i++) {
            cJSON *e = cJSON_AddObjectToObject(comp, c.params.c[i].name);
            cJSON_AddNumberToObject(e, "total", (double)c.params.c[i].total);
            cJSON_AddNumberToObject(e, "activated", (double)c.params.c[i].active);
        }
        cJSON_AddNumberToObject(o, "total_params", (double)c.params.total_params);
        cJSON_AddNumberToObject(o, "activated_params", (double)c.params.active_params);
        cJSON_AddNumberToObject(o, "mtp_params", (double)c.params.mtp_params);
        cJSON_AddNumberToObject(o, "mtp_activated_params", (double)c.params.mtp_active_params);
        cJSON_AddNumberToObject(o, "mtp_checkpoint_params", (double)c.params.mtp_checkpoint_params);
        cJSON_AddNumberToObject(o, "context", context);
        cJSON_AddNumberToObject(o, "batch", batch);
        cJSON_AddNumberToObject(o, "forward_flops_per_token", c.fwd_flops_per_token);
        cJSON_AddNumberToObject(o, "training_flops_per_token", 3 * c.fwd_flops_per_token);
        cJSON_AddNumberToObject(o, "kv_elements_per_token", c.kv_elems_per_token);
        cJSON_AddNumberToObject(o, "kv_mha_equivalent_elements_per_token", c.kv_mha_elems_per_token);
        cJSON *kv = cJSON_AddObjectToObject(o, "kv_bytes");
        for (int d = 0; d < 3; d++) {
            cJSON *e = cJSON_AddObjectToObject(kv, dtype_names[d]);
            cJSON_AddNumberToObject(e, "per_token", c.kv_elems_per_token * dtype_bytes[d]);
            cJSON_AddNumberToObject(e, "context_x_batch", c.kv_elems_per_token * dtype_bytes[d] * context * batch);
        }
        cJSON_AddNumberToObject(o, "train_state_bytes", c.train_state_bytes);
        cJSON_AddNumberToObject(o, "activation_bytes", c.activation_bytes);
        cJSON *mem = cJSON_AddObjectToObject(o, "training_memory");
        for (int r = 0; r < MEMORY_RECIPES; r++) {
            double by[6];
            memory_bytes(&c, &memory_recipes[r], by);
            cJSON *e = cJSON_AddObjectToObject(mem, memory_recipes[r].name);
            const char *keys[6] = {"weights", "master_weights", "gradients", "optimizer", "activations", "total"};
            for (int k = 0; k < 6; k++) cJSON_AddNumberToObject(e, keys[k], by[k]);
        }
        cJSON_AddStringToObject(o, "ignored_fields", info.ignored);
        cJSON_AddStringToObject(o, "unknown_fields", info.unknown);
        cJSON_AddStringToObject(o, "notes", info.notes);
        char *s = cJSON_Print(o);
        puts(s);
        free(s);
        cJSON_Delete(o);
        return 0;
    }
    char a[32], b[32], x[32];
    printf("%s: %d blocks, d_model %d, %d heads, attention %s, ffn %s, residual %s", fin.preset, fin.n_layers, fin.d_model,
           fin.n_heads, fin.attention, fin.ffn, fin.residual);
    if (residual_kind(&fin)->max_streams > 1) printf(" (n = %d)", fin.streams);
    printf(", vocab %d\n\n", fin.vocab_size);
    printf("  %-16s %18s %18s\n", "component", "parameters", "activated");
    for (int i = 0; i < c.params.n; i++) {
        const ComponentCount *k = &c.params.c[i];
        if (!k->total) continue;
        human((double)k->total, a, "");
        human((double)k->active, b, "");
        printf("  %-16s %18s %18s\n", k->name, a, b);
    }
    human((double)c.params.total_params, a, "");
    human((double)c.params.active_params, b, "");
    printf("  %-16s %18s %18s   (%zu / %zu exactly)\n", "total", a, b, c.params.total_params, c.params.active_params);
    if (c.params.mtp_params) {
        human((double)c.params.mtp_params, a, "");
        human((double)c.params.mtp_active_params, b, "");
        printf("  %-16s %18s %18s   (%d module%s, sharing the embedding and head)\n", "+ mtp", a, b, fin.mtp_depth,
               fin.mtp_depth > 1 ? "s" : "");
        human((double)(c.params.total_params + c.params.mtp_params), a, "");
        human((double)(c.params.total_params + c.params.mtp_checkpoint_params), b, "");
        printf("  %-16s %18s   (%s as a checkpoint stores it, each module with its own embedding and head)\n",
               "total with mtp", a, b);
    }
    printf("\n");
    human(c.fwd_flops_per_token, a, "FLOP");
    human(3 * c.fwd_flops_per_token, b, "FLOP");
    printf("  FLOPs per token at context %d: forward %s, training (forward + backward) %s\n", context, a, b);
    printf("  KV cache per token: %.0f elements (%s; an MHA model of the same shape: %.0f, %.1f%% less)\n",
           c.kv_elems_per_token, fin.attention, c.kv_mha_elems_per_token, 100 * (1 - c.kv_elems_per_token / c.kv_mha_elems_per_token));
    for (int d = 0; d < 3; d++) {
        al_format_bytes(c.kv_elems_per_token * dtype_bytes[d], a);
        al_format_bytes(c.kv_elems_per_token * dtype_bytes[d] * context * batch, b);
        printf("    %-5s %12s per token, %12s for %d x %d tokens\n", dtype_names[d], a, b, batch, context);
    }
    al_format_bytes(c.train_state_bytes, a);
    al_format_bytes(c.activation_bytes, b);
    al_format_bytes(c.train_state_bytes + c.activation_bytes, x);
    printf("  training memory (fp32): weights + gradients + AdamW %s, activations for %d x %d %s, total %s\n", a, batch,
           context, b, x);
    printf("    %-5s %12s %12s %12s %12s %12s %12s\n", "", "weights", "master", "gradients", "optimizer", "activations", "total");
    for (int r = 0; r < MEMORY_RECIPES; r++) {
        double by[6];
        char cell[6][32];
        memory_bytes(&c, &memory_recipes[r], by);
        for (int k = 0; k < 6; k++) {
            if (by[k] > 0) al_format_bytes(by[k], cell[k]);
            else snprintf(cell[k], sizeof cell[k], "-");
        }
        printf("    %-5s %12s %12s %12s %12s %12s %12s\n", memory_recipes[r].name, cell[0], cell[1], cell[2], cell[3], cell[4], cell[5]);
    }
    printf("    (fp8: DeepSeek-V3's recipe: fp8 GEMM weights and cached activations, fp32 master weights and gradients,\n"
           "     bf16 AdamW moments)\n");
    if (info.unknown[0]) printf("  config.json fields not understood: %s\n", info.unknown);
    if (info.ignored[0]) printf("  config.json fields without effect here: %s\n", info.ignored);
    if (info.notes[0]) printf("  notes: %s\n", info.notes);
    return 0;
}
