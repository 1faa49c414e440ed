/* `archlab compare CONFIG [CONFIG ...] [--vary KEY=V1,V2,...] [--context T1,T2] [--batch B] [--memory SIZE]
 *  [--format text|markdown|csv|json]`: configurations side by side on paper (analysis/compare.h). A CONFIG is a
 * preset, a FILE.lua or a config.json, optionally with overrides: deepseek-v2:attention=gqa:n_kv_heads=8.
 * --vary on one CONFIG makes a column per value; several --vary make the grid (first key slowest). */
#include <errno.h>
#include <stdarg.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "analysis/compare.h"
#include "scripts/bridge.h"
#include "scripts/compare_figures.h"
#include "scripts/compare_format.h"
#include "scripts/compare_measure.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: archlab compare CONFIG [CONFIG ...] [--vary KEY=V1,V2,...] [--context T1,T2,...] [--batch B]\n"
            "                       [--memory SIZE] [--format text|markdown|csv|json] [--figures DIR] [--measure]\n"
            "  configurations side by side, counted without allocating: parameters, FLOPs, KV cache, training memory,\n"
            "  and each column's difference to the first in percent\n"
            "  CONFIG       a preset, a FILE.lua or a Hugging Face config.json, with overrides after colons:\n"
            "               deepseek-v2:attention=gqa:n_kv_heads=8\n"
            "  --vary K=V,  one column per value (with one CONFIG); several --vary: every combination\n"
            "  --context    contexts for FLOPs, KV cache and activations, e.g. 4K,128K (default 4096 or the shortest\n"
            "               seq_len; beyond a model's seq_len a quantity is not counted: -)\n"
            "  --batch B    sequences for the KV cache and activations (default 1)\n"
            "  --memory     e.g. 80GiB, 141GB: the longest context whose bf16 KV cache fits beside the bf16 weights\n"
            "  --figures D  also D/kv_context.png, D/params.png, D/flops.png from the same numbers\n"
            "  --measure    also build, train (6 steps) and decode each configuration that fits here, and time it\n");
}

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "archlab compare: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    return 1;
}

/* "80GiB", "141GB", "1e11": bytes */
static int parse_size(const char *s, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno || !(v > 0) || !isfinite(v)) return -1;
    static const struct { const char *u; double m; } units[] = {
        {"", 1}, {"B", 1}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
        {"KiB", 1024.0}, {"MiB", 1048576.0}, {"GiB", 1073741824.0}, {"TiB", 1099511627776.0},
    };
    for (size_t i = 0; i < sizeof units / sizeof *units; i++)
        if (!strcasecmp(end, units[i].u)) { *out = v * units[i].m; return 0; }
    return -1;
}

int al_cmd_compare(int argc, char **argv) {
    const char *targets[COMPARE_MAX_CONFIGS], *format = "text", *figures = NULL;
    int nt = 0, nv = 0, batch = 1, contexts[COMPARE_MAX_CONTEXTS], nc = 0, measure = 0;
    double memory = 0;
    static CmdVary vary[8];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int takes = !strcmp(a, "--vary") || !strcmp(a, "--context") || !strcmp(a, "--batch") || !strcmp(a, "--memory") ||
                    !strcmp(a, "--format") || !strcmp(a, "--figures");
        if (takes && i + 1 >= argc) return fail("%s needs a value (archlab compare --help shows the usage)", a);
        const char *v = takes ? argv[++i] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { usage(stdout); return 0; }
        else if (!strcmp(a, "--measure")) measure = 1;
        else if (!strcmp(a, "--figures")) figures = v;
        else if (!strcmp(a, "--format")) {
            if (strcmp(v, "text") && strcmp(v, "markdown") && strcmp(v, "md") && strcmp(v, "csv") && strcmp(v, "json"))
                return fail("--format '%s' is not text, markdown, csv or json", v);
            format = v;
        } else if (!strcmp(a, "--batch")) {
            char *end;
            long b = strtol(v, &end, 10);
            if (*end || !*v || b < 1 || b > 1 << 20) return fail("--batch '%s' must be a whole number in [1, 1048576]", v);
            batch = (int)b;
        } else if (!strcmp(a, "--memory")) {
            if (parse_size(v, &memory)) return fail("--memory '%s' is not a size (e.g. 80GiB, 141GB, 1e11)", v);
        } else if (!strcmp(a, "--context")) {
            char buf[512];
            snprintf(buf, sizeof buf, "%s", v);
            nc = 0;
            for (char *s = NULL, *t = strtok_r(buf, ",", &s); t; t = strtok_r(NULL, ",", &s)) {
                char *end;
                long x = strtol(t, &end, 10);
                if ((*end && strcasecmp(end, "K")) || x < 1) return fail("--context '%s': '%s' is not a context length", v, t);
                if (*end) x *= 1024; /* 128K */
                if (x > 1L << 30) return fail("--context '%s': %ld is more than 2^30", v, x);
                if (nc == COMPARE_MAX_CONTEXTS) return fail("--context takes at most %d lengths", COMPARE_MAX_CONTEXTS);
                contexts[nc++] = (int)x;
            }
            if (!nc) return fail("--context '%s' names no length", v);
        } else if (!strcmp(a, "--vary")) {
            if (nv == 8) return fail("at most 8 --vary");
            const char *eq = strchr(v, '=');
            if (!eq || eq == v) return fail("--vary '%s' is not KEY=V1,V2,...", v);
            CmdVary *y = &vary[nv++];
            snprintf(y->key, sizeof y->key, "%.*s", (int)(eq - v), v);
            if (!config_field(y->key)) {
                const char *s = config_suggest(y->key);
                if (s) return fail("--vary '%s': unknown field '%s' (did you mean '%s'?)", v, y->key, s);
                return fail("--vary '%s': unknown field '%s'", v, y->key);
            }
            char buf[2048];
            snprintf(buf, sizeof buf, "%s", eq + 1);
            y->n = 0;
            for (char *s = NULL, *t = strtok_r(buf, ",", &s); t; t = strtok_r(NULL, ",", &s)) {
                if (y->n == 32) return fail("--vary '%s': at most 32 values", v);
                snprintf(y->values[y->n++], sizeof y->values[0], "%s", t);
            }
            if (!y->n) return fail("--vary '%s' lists no value", v);
        } else if (a[0] == '-' && a[1]) {
            return fail("unknown option %s (archlab compare --help shows the usage)", a);
        } else {
            if (nt == COMPARE_MAX_CONFIGS) return fail("at most %d configurations", COMPARE_MAX_CONFIGS);
            targets[nt++] = a;
        }
    }
    if (!nt) return fail("no configuration given (archlab compare --help shows the usage)");
    if (nv && nt > 1) return fail("--vary varies one configuration; %d were given", nt);
    static ModelConfig cfgs[COMPARE_MAX_CONFIGS];
    static char labels[COMPARE_MAX_CONFIGS][96];
    const char *lp[COMPARE_MAX_CONFIGS];
    int n = 0;
    if (!nv) {
        for (int i = 0; i < nt; i++) {
            if (cmd_load_with_overrides(targets[i], &cfgs[i])) return fail("%s", al_error_message());
            snprintf(labels[i], sizeof labels[i], "%s", targets[i]);
        }
        n = nt;
    } else {
        ModelConfig base;
        if (cmd_load_with_overrides(targets[0], &base)) return fail("%s", al_error_message());
        n = cmd_vary_grid(&base, vary, nv, cfgs, labels, COMPARE_MAX_CONFIGS);
        if (n < 0) return fail("--vary %s", al_error_message());
    }
    for (int i = 0; i < n; i++) lp[i] = labels[i];
    if (!nc) { /* 4096, or the shortest seq_len among the configurations */
        contexts[0] = 4096;
        for (int i = 0; i < n; i++) contexts[0] = cfgs[i].seq_len < contexts[0] ? cfgs[i].seq_len : contexts[0];
        nc = 1;
    }
    static Compare table;
    if (compare_configs(cfgs, lp, n, contexts, nc, batch, memory, &table)) return fail("%s", al_error_message());
    if (measure && compare_measure(&table, cfgs, batch, contexts, nc)) return fail("--measure: %s", al_error_message());
    if (figures) {
        char paths[3][4096], probe[4200];
        snprintf(probe, sizeof probe, "%s/x", figures);
        if (make_parent_dirs(probe) || compare_figures(&table, batch, memory, figures, paths)) return fail("--figures: %s", al_error_message());
    }
    char *s = compare_format(&table, format);
    if (!s) return fail("out of memory");
    fputs(s, stdout);
    free(s);
    return 0;
}
