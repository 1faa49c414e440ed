/* archlab compare's figures, drawn from the table's own rows (analysis/compare.h):
 *   kv_context.png  KV cache (bf16) against context for each configuration, log axes, with a line at the
 *                   stated memory when there is one;
 *   params.png      total and activated parameters per configuration;
 *   flops.png       forward FLOPs per token at the first context, stacked by part (attention, FFN, residual
 *                   connections, output head). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "plots/plot.h"
#include "scripts/compare_figures.h"

static const CompareRow *find_prefix(const Compare *c, const char *prefix) {
    for (int i = 0; i < c->n_rows; i++)
        if (!strncmp(c->rows[i].name, prefix, strlen(prefix))) return &c->rows[i];
    return NULL;
}

int compare_figures(const Compare *c, int batch, double memory, const char *dir, char paths[3][4096]) {
    const CompareRow *kv = compare_row(c, "KV cache per token (bf16)");
    const CompareRow *total = compare_row(c, "total parameters"), *active = compare_row(c, "activated parameters");
    if (!kv || !total || !active) return al_errorf("compare_figures: the table lacks its rows");
    const char *labels[COMPARE_MAX_CONFIGS];
    for (int j = 0; j < c->n; j++) labels[j] = c->label[j];

    /* 1. KV against context: 1K .. 1M tokens, powers of two */
    enum { NX = 11 };
    static double x[NX], y[COMPARE_MAX_CONFIGS + 1][NX];
    plot_series s[COMPARE_MAX_CONFIGS + 1];
    for (int i = 0; i < NX; i++) x[i] = 1024.0 * (1 << i);
    int ns = 0;
    for (int j = 0; j < c->n; j++) {
        for (int i = 0; i < NX; i++) y[ns][i] = kv->v[j] * x[i] * batch;
        s[ns] = (plot_series){.name = labels[j], .x = x, .nx = NX, .y = y[ns], .ny = NX};
        ns++;
    }
    char mname[64] = "";
    if (memory > 0) {
        char b[32];
        snprintf(mname, sizeof mname, "memory %s", al_format_bytes(memory, b));
        for (int i = 0; i < NX; i++) y[ns][i] = memory;
        s[ns] = (plot_series){.name = mname, .x = x, .nx = NX, .y = y[ns], .ny = NX};
        ns++;
    }
    char title[128];
    snprintf(title, sizeof title, "KV cache (bf16) against context, batch %d", batch);
    plot_lines_spec ls = {.title = title, .xlabel = "context (tokens)", .ylabel = "bytes", .series = s,
                          .n_series = (size_t)ns, .log_x = 1, .log_y = 1};
    snprintf(paths[0], 4096, "%s/kv_context.png", dir);
    if (plot_lines(paths[0], &ls, &(plot_output){.width = 560, .height = 380})) return al_errorf("%s", plot_last_error());

    /* 2. parameters: total and activated */
    plot_bar_group pg[2] = {{"total", total->v, (size_t)c->n}, {"activated", active->v, (size_t)c->n}};
    double lo = INFINITY, hi = 0;
    for (int j = 0; j < c->n; j++) { lo = fmin(lo, active->v[j]); hi = fmax(hi, total->v[j]); }
    plot_bars_spec pb = {.title = "parameters", .ylabel = "parameters", .categories = labels, .n_categories = (size_t)c->n,
                         .groups = pg, .n_groups = 2, .log_y = hi > 100 * lo, .value_labels = 1};
    snprintf(paths[1], 4096, "%s/params.png", dir);
    if (plot_bars(paths[1], &pb, &(plot_output){.width = 560, .height = 380})) return al_errorf("%s", plot_last_error());

    /* 3. FLOPs by part, stacked */
    static const char *const parts[4] = {"  of which attention", "  of which FFN", "  of which residual connections",
                                         "  of which output head"};
    static const char *const names[4] = {"attention", "FFN", "residual connections", "output head"};
    plot_bar_group fg[4];
    int nf = 0;
    const char *at = "";
    for (int p = 0; p < 4; p++) {
        const CompareRow *r = find_prefix(c, parts[p]);
        if (!r) return al_errorf("compare_figures: the table lacks '%s'", parts[p]);
        fg[nf++] = (plot_bar_group){names[p], r->v, (size_t)c->n};
        at = strstr(r->name, "(at ");
    }
    char ftitle[128];
    snprintf(ftitle, sizeof ftitle, "forward FLOPs per token %.*s", at ? (int)strcspn(at, ")") + 1 : 0, at ? at : "");
    plot_bars_spec fb = {.title = ftitle, .ylabel = "FLOP per token", .categories = labels, .n_categories = (size_t)c->n,
                         .groups = fg, .n_groups = (size_t)nf, .stacked = 1, .value_labels = 1};
    snprintf(paths[2], 4096, "%s/flops.png", dir);
    if (plot_bars(paths[2], &fb, &(plot_output){.width = 560, .height = 380})) return al_errorf("%s", plot_last_error());
    return 0;
}
