/* One example of every plot kind, for a person to look at: `make gallery` writes them to out/gallery/.
 * Synthetic data shaped like what archlab's experiments produce (loss curves, NIAH grids, expert loads,
 * KV-cache sizes), so the figures can be judged as they will be used. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "plots/plot.h"

static unsigned long long rng = 88172645463325252ULL;
static double uniform(void) { /* xorshift64: a fixed stream, so the gallery is the same every run */
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return (rng >> 11) * (1.0 / 9007199254740992.0);
}

static int mkdirs(const char *path) {
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') { *p = 0; if (mkdir(buf, 0777) && errno != EEXIST) return -1; *p = '/'; }
    return mkdir(buf, 0777) && errno != EEXIST ? -1 : 0;
}

static int failed;
static void check(int rc, const char *dir, const char *name) {
    if (rc) { fprintf(stderr, "gallery: %s/%s: %s\n", dir, name, plot_last_error()); failed = 1; }
    else printf("  %s/%s\n", dir, name);
}

#define STEPS 300
static double steps[STEPS], loss_res[STEPS], loss_hc[STEPS], loss_mhc[STEPS];
static plot_series loss_series[3];
static plot_lines_spec loss_spec;

static void make_loss(void) {
    for (int i = 0; i < STEPS; i++) {
        double t = (i + 1) * 10.0;
        steps[i] = t;
        loss_res[i] = 2.9 + 7.5 * pow(t, -0.45) + 0.04 * (uniform() - 0.5);
        loss_mhc[i] = 2.8 + 7.0 * pow(t, -0.47) + 0.04 * (uniform() - 0.5);
        /* unconstrained HC blows up for a while: a NaN stretch leaves a gap, as a diverged run does */
        loss_hc[i] = i > 140 && i < 175 ? NAN : 2.85 + 7.2 * pow(t, -0.46) + (i > 120 && i < 180 ? 3.0 * uniform() : 0.04 * (uniform() - 0.5));
    }
    loss_series[0] = (plot_series){.name = "residual", .x = steps, .nx = STEPS, .y = loss_res, .ny = STEPS, .marker = 0};
    loss_series[1] = (plot_series){.name = "HC (unconstrained)", .x = steps, .nx = STEPS, .y = loss_hc, .ny = STEPS, .marker = 0};
    loss_series[2] = (plot_series){.name = "mHC", .x = steps, .nx = STEPS, .y = loss_mhc, .ny = STEPS, .marker = 0};
    loss_spec = (plot_lines_spec){.title = "Training loss by residual scheme", .xlabel = "step", .ylabel = "loss",
                                  .series = loss_series, .n_series = 3, .log_y = 1};
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "out/gallery";
    if (mkdirs(dir)) { fprintf(stderr, "gallery: cannot create %s: %s\n", dir, strerror(errno)); return 1; }
    char path[1200];
#define OUT(name) (snprintf(path, sizeof path, "%s/%s", dir, name), path)
    printf("gallery: writing\n");

    /* 1. Lines: log y, a NaN gap, and a second figure with markers on log-log axes. */
    make_loss();
    check(plot_lines(OUT("lines_log_y.png"), &loss_spec, NULL), dir, "lines_log_y.png");
    double gain_x[12], gain_a[12], gain_b[12];
    for (int i = 0; i < 12; i++) {
        gain_x[i] = pow(2, i + 1);
        gain_a[i] = pow(1.35, i + 1);  /* HC: compounds with depth */
        gain_b[i] = 1.0 + 0.02 * i;    /* mHC: bounded by the doubly stochastic constraint */
    }
    plot_series gs[2] = {{.name = "HC", .x = gain_x, .nx = 12, .y = gain_a, .ny = 12, .marker = 1}, {.name = "mHC", .x = gain_x, .nx = 12, .y = gain_b, .ny = 12, .marker = 1}};
    plot_lines_spec gain = {.title = "Amax gain vs depth", .xlabel = "layers", .ylabel = "max |gain|", .series = gs,
                            .n_series = 2, .log_x = 1, .log_y = 1, .markers = 1};
    check(plot_lines(OUT("lines_markers_loglog.png"), &gain, NULL), dir, "lines_markers_loglog.png");

    /* 2. NIAH grid: retrieval accuracy falls off at long contexts and mid depths. */
    enum { NC = 8, ND = 11 };
    const char *ctx[NC] = {"1K", "2K", "4K", "8K", "16K", "32K", "64K", "128K"};
    const char *depth[ND] = {"0%", "10%", "20%", "30%", "40%", "50%", "60%", "70%", "80%", "90%", "100%"};
    double niah[ND * NC];
    for (int d = 0; d < ND; d++)
        for (int c = 0; c < NC; c++) {
            double mid = 1 - fabs(d / 10.0 - 0.5) * 2; /* 1 in the middle of the context */
            double v = 1 - fmax(0, c - 3) * 0.16 * (0.4 + mid);
            niah[d * NC + c] = fmin(1, fmax(0, v + 0.05 * (uniform() - 0.5)));
        }
    plot_heatmap_spec nh = {.title = "Needle in a haystack", .xlabel = "context length", .ylabel = "needle depth",
                            .cbar_label = "accuracy", .nx = NC, .ny = ND, .values = niah, .x_labels = ctx,
                            .y_labels = depth, .cmap = PLOT_CMAP_NIAH, .has_vmin = 1, .has_vmax = 1, .vmin = 0, .vmax = 1,
                            .cell_labels = 1, .label_fmt = "%.2f"};
    check(plot_heatmap(OUT("heatmap_niah.png"), &nh, &(plot_output){.width = 560, .height = 380}), dir, "heatmap_niah.png");

    /* 3. Expert load: layers x routed experts, share of tokens; a few hot experts. */
    enum { NL = 12, NE = 16 };
    double load[NL * NE];
    for (int l = 0; l < NL; l++) {
        double sum = 0;
        for (int e = 0; e < NE; e++) { load[l * NE + e] = 0.5 + uniform() + ((e * 7 + l) % 13 == 0 ? 2.5 : 0); sum += load[l * NE + e]; }
        for (int e = 0; e < NE; e++) load[l * NE + e] /= sum;
    }
    const char *layers[NL] = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11"};
    plot_heatmap_spec el = {.title = "Expert load (share of routed tokens)", .xlabel = "expert", .ylabel = "layer",
                            .cbar_label = "load", .nx = NE, .ny = NL, .values = load, .y_labels = layers,
                            .cmap = PLOT_CMAP_SEQUENTIAL};
    check(plot_heatmap(OUT("heatmap_expert_load.png"), &el, NULL), dir, "heatmap_expert_load.png");

    /* 4. Bars: parameters per component of a small model. */
    const char *comp[5] = {"embedding", "attention", "MoE experts", "router", "norms"};
    double params[5] = {25.7, 50.3, 302.0, 0.4, 0.05};
    plot_bar_group pg = {NULL, params, 5};
    plot_bars_spec pb = {.title = "Parameters by component", .ylabel = "parameters (M)", .categories = comp,
                         .n_categories = 5, .groups = &pg, .n_groups = 1, .value_labels = 1};
    check(plot_bars(OUT("bars.png"), &pb, NULL), dir, "bars.png");

    /* 5. Grouped bars on a log axis: KV-cache bytes per token by attention type and model size. */
    const char *att[4] = {"MHA", "GQA (8 groups)", "MQA", "MLA"};
    double kv_small[4] = {49152, 12288, 1536, 3456}, kv_base[4] = {262144, 32768, 4096, 9216},
           kv_big[4] = {1015808, 126976, 15872, 35712};
    plot_bar_group kg[3] = {{"1B", kv_small, 4}, {"7B", kv_base, 4}, {"27B", kv_big, 4}};
    plot_bars_spec kb = {.title = "KV cache per token", .xlabel = "attention", .ylabel = "bytes / token (bf16)",
                         .categories = att, .n_categories = 4, .groups = kg, .n_groups = 3, .log_y = 1};
    check(plot_bars(OUT("bars_grouped_log.png"), &kb, NULL), dir, "bars_grouped_log.png");

    /* 6. Panels: the kinds side by side under one title. */
    plot_lines_spec loss_small = loss_spec;
    loss_small.title = "loss";
    plot_heatmap_spec nh_small = nh;
    nh_small.title = "NIAH";
    nh_small.cell_labels = 0;
    plot_heatmap_spec el_small = el;
    el_small.title = "expert load";
    plot_bars_spec kb_small = kb;
    kb_small.title = "KV bytes / token";
    const plot_kind *lines = plot_kind_find("lines"), *heat = plot_kind_find("heatmap"), *bars = plot_kind_find("bars");
    plot_panel pan[4] = {{lines, &loss_small}, {heat, &nh_small}, {bars, &kb_small}, {heat, &el_small}};
    plot_panels_spec ps = {.title = "archlab: one run at a glance", .cols = 2, .panels = pan, .n_panels = 4};
    check(plot_panels(OUT("panels.png"), &ps, NULL), dir, "panels.png");

    /* 7. The same figure in the vector formats. */
    check(plot_lines(OUT("lines_log_y.svg"), &loss_spec, NULL), dir, "lines_log_y.svg");
    check(plot_lines(OUT("lines_log_y.pdf"), &loss_spec, NULL), dir, "lines_log_y.pdf");
    check(plot_panels(OUT("panels.pdf"), &ps, NULL), dir, "panels.pdf");
    return failed;
}
