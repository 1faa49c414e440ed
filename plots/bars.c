/* Bar charts, grouped bars and stacked bars: categories along x, one bar per group in each category (or, stacked,
 * the groups piled in one bar), linear axes anchored at zero or log axes with bars rising from the bottom of
 * the axis. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plots/plot_internal.h"

#define SLOT_FILL 0.8   /* the share of a category's slot its bars take; the rest separates categories */
#define LABEL_ANGLE (M_PI / 6)

static const char *gname(const plot_bar_group *g, size_t i, char *buf, size_t n) {
    if (g->name && *g->name) snprintf(buf, n, "group '%s'", g->name);
    else snprintf(buf, n, "group %zu", i + 1);
    return buf;
}

static const char *cat_of(const plot_bars_spec *s, size_t c, char *buf, size_t n) {
    if (s->categories && s->categories[c]) return s->categories[c];
    snprintf(buf, n, "%zu", c + 1);
    return buf;
}

/* values = {...} is plain bars: one unnamed group (*one is where it goes); the spec as drawn */
static plot_bars_spec resolved(const plot_bars_spec *s, plot_bar_group *one) {
    plot_bars_spec r = *s;
    if (s->values) {
        *one = (plot_bar_group){NULL, s->values, s->n_values};
        r.groups = one;
        r.n_groups = 1;
    }
    return r;
}

int plt_bars_check(const plot_bars_spec *spec) {
    char b[160], cb[32];
    if (!spec) return plt_fail("no bar chart given");
    if (spec->values && spec->groups) return plt_fail("field 'groups': give either groups or values, not both");
    plot_bar_group one;
    plot_bars_spec rs = resolved(spec, &one);
    const plot_bars_spec *s = &rs;
    if (s->n_categories == 0) return plt_fail("bar chart has no categories");
    if (!s->groups || s->n_groups == 0)
        return plt_fail("bar chart has no groups of values (groups = {{name=, values=}, ...} or values = {...})");
    for (size_t g = 0; g < s->n_groups; g++) {
        const plot_bar_group *G = &s->groups[g];
        if (!G->values || G->n != s->n_categories)
            return plt_fail("%s: %zu values for %zu categories", gname(G, g, b, sizeof b), G->values ? G->n : 0,
                            s->n_categories);
        size_t finite = 0;
        for (size_t c = 0; c < G->n; c++) {
            double v = G->values[c];
            if (!isfinite(v)) continue;
            finite++;
            if (s->log_y && v <= 0)
                return plt_fail("%s: value %g for '%s' cannot be drawn on a log axis", gname(G, g, b, sizeof b), v,
                                cat_of(s, c, cb, sizeof cb));
        }
        if (!finite) return plt_fail("%s: all %zu values are NaN or infinite", gname(G, g, b, sizeof b), G->n);
        for (size_t c = 0; s->stacked && c < G->n; c++)
            if (G->values[c] < 0)
                return plt_fail("%s: value %g for '%s' cannot be stacked (stacked bars are >= 0)", gname(G, g, b, sizeof b),
                                G->values[c], cat_of(s, c, cb, sizeof cb));
    }
    if (s->stacked && s->log_y) return plt_fail("stacked bars need a linear y axis (log_y with stacked)");
    return 0;
}

typedef struct {
    const plot_bars_spec *s;
    const plot_bars_layout *L;
} hit_ctx;

static double bar_top(const plot_bars_layout *L, double v) {
    return L->area.y + L->area.h - plt_axis_frac(&L->y, v) * L->area.h;
}
static double baseline(const plot_bars_layout *L) {
    double b = L->y.log ? L->y.lo : fmin(fmax(0, L->y.lo), L->y.hi);
    return bar_top(L, b);
}

/* Where group g's bar of category c stands: x0 and width in points, the pixel rows of its two ends. 0 when
 * there is none (a NaN value). Side by side, bars rise from the baseline; stacked, from the groups below. */
static int segment(const plot_bars_spec *s, const plot_bars_layout *L, size_t g, size_t c, double *x0, double *w,
                   double *y_from, double *y_to) {
    double v = s->groups[g].values[c];
    if (!isfinite(v)) return 0;
    if (s->stacked) {
        double below = 0;
        for (size_t k = 0; k < g; k++)
            if (isfinite(s->groups[k].values[c])) below += s->groups[k].values[c];
        *x0 = L->area.x + c * L->slot_w + L->bar_off;
        *w = L->bar_w;
        *y_from = bar_top(L, below);
        *y_to = bar_top(L, below + v);
        return 1;
    }
    *x0 = L->area.x + c * L->slot_w + L->bar_off + g * L->bar_w;
    *w = L->bar_w;
    *y_from = baseline(L);
    *y_to = bar_top(L, v);
    return 1;
}

static int hits(const void *vctx, plot_rect box) {
    const hit_ctx *h = vctx;
    for (size_t g = 0; g < h->s->n_groups; g++)
        for (size_t c = 0; c < h->s->n_categories; c++) {
            double x0, w, a, b;
            if (!segment(h->s, h->L, g, c, &x0, &w, &a, &b)) continue;
            double y0 = fmin(a, b) - 3, y1 = fmax(a, b);
            if (x0 + w > box.x && x0 < box.x + box.w && y1 > box.y && y0 < box.y + box.h) return 1;
        }
    return 0;
}

int plt_bars_draw(cairo_t *cr, plot_rect r, const plot_bars_spec *spec, plot_bars_layout *lay, int draw) {
    plot_bar_group one;
    plot_bars_spec rs = resolved(spec, &one);
    const plot_bars_spec *s = &rs;
    const plt_style *st = &PLT_STYLE;
    plot_bars_layout L;
    memset(&L, 0, sizeof L);
    L.figure = r;
    char buf[64];
    size_t nc = s->n_categories, ng = s->n_groups;

    double lo = INFINITY, hi = -INFINITY;
    for (size_t g = 0; g < ng; g++)
        for (size_t c = 0; c < nc; c++) {
            double v = s->groups[g].values[c];
            if (isfinite(v)) { lo = fmin(lo, v); hi = fmax(hi, v); }
        }
    for (size_t c = 0; s->stacked && c < nc; c++) { /* stacked: up to the tallest stack */
        double sum = 0;
        for (size_t g = 0; g < ng; g++)
            if (isfinite(s->groups[g].values[c])) sum += s->groups[g].values[c];
        hi = fmax(hi, sum);
    }
    /* Linear bars grow from zero, so zero is always on the axis and only the far side is padded (more when
     * value labels need room). Log bars grow from the decade below the smallest value. */
    double head = s->value_labels ? 0.12 : 0.05;
    double ylo, yhi;
    if (s->log_y) {
        ylo = pow(10, floor(log10(lo)));
        yhi = pow(10, log10(hi) + head * fmax(log10(hi) - log10(ylo), 1));
    } else {
        ylo = fmin(lo, 0); yhi = fmax(hi, 0);
        double span = yhi - ylo;
        if (span == 0) span = fabs(hi) > 0 ? fabs(hi) : 1;
        if (yhi > 0) yhi += head * span;
        if (ylo < 0) ylo -= head * span;
    }

    /* Category labels go horizontal when they fit their slot, else slanted. */
    plt_set_font(cr, st->font_tick, 0);
    double cw = 0, fh = plt_font_h(cr);
    for (size_t c = 0; c < nc; c++) cw = fmax(cw, plt_text_w(cr, cat_of(s, c, buf, sizeof buf)));
    double top = r.y + st->pad + plt_title_h(cr, s->title);
    double right = r.x + r.w - st->pad;
    double xl_h = plt_label_h(cr, s->xlabel);
    double bottom = r.y + r.h - st->pad - xl_h - fh - st->tick_len - st->gap;
    if (plt_y_fit(cr, &L.y, ylo, yhi, s->log_y, bottom - top, 0)) return -1;
    double left = r.x + st->pad + plt_label_h(cr, s->ylabel) + plt_ytick_w(cr, &L.y) + st->tick_len + st->gap;
    int slant = cw + 6 > (right - left) / nc;
    if (slant) {
        double extra = cw * sin(LABEL_ANGLE) + fh * cos(LABEL_ANGLE) - fh;
        bottom -= extra;
        if (plt_y_fit(cr, &L.y, ylo, yhi, s->log_y, bottom - top, 0)) return -1;
        left = r.x + st->pad + plt_label_h(cr, s->ylabel) + plt_ytick_w(cr, &L.y) + st->tick_len + st->gap;
        /* a slanted label hangs left of its bar: keep the first one on the page */
        left = fmax(left, r.x + st->pad + cw * cos(LABEL_ANGLE) - (right - left) / nc / 2);
    }
    L.area = (plot_rect){left, top, right - left, bottom - top};
    if (L.area.w < 20 || L.area.h < 20) return plt_fail("figure too small for a bar chart (%g x %g pt)", r.w, r.h);

    const char **names = calloc(ng, sizeof *names);
    int *idx = calloc(ng, sizeof *idx);
    if (!names || !idx) { free(names); free(idx); return plt_fail("out of memory"); }
    plt_legend lg = {names, idx, 0, 1, NULL};
    for (size_t g = 0; g < ng; g++)
        if (s->groups[g].name && *s->groups[g].name) {
            names[lg.n] = s->groups[g].name;
            idx[lg.n++] = plt_series_style(s->groups[g].name, (int)g);
        }
    double lw = 0, lh = 0;
    if (lg.n) plt_legend_size(cr, &lg, &lw, &lh);
    for (int pass = 0; pass < 2; pass++) {
        L.slot_w = L.area.w / nc;
        L.bar_w = L.slot_w * SLOT_FILL / (s->stacked ? 1 : ng);
        L.bar_off = L.slot_w * (1 - SLOT_FILL) / 2;
        if (!lg.n) break;
        hit_ctx h = {s, &L};
        if (pass == 0 && plt_legend_place(L.area, lw, lh, hits, &h, &L.legend) == 0) break;
        if (pass == 0) { /* no free corner: put the legend beside the bars */
            L.legend_outside = 1;
            L.area.w -= lw + 2 * st->gap;
            if (L.area.w < 20) { free(names); free(idx); return plt_fail("figure too narrow for the legend"); }
            L.legend = (plot_rect){L.area.x + L.area.w + 2 * st->gap, L.area.y, lw, lh};
        }
    }

    if (draw) {
        plt_draw_grid(cr, L.area, NULL, &L.y);
        cairo_save(cr);
        cairo_rectangle(cr, L.area.x, L.area.y, L.area.w, L.area.h);
        cairo_clip(cr);
        double base = baseline(&L);
        for (size_t g = 0; g < ng; g++) {
            double rgb[3];
            plt_palette(plt_series_style(s->groups[g].name, (int)g), rgb);
            cairo_set_source_rgb(cr, rgb[0], rgb[1], rgb[2]);
            for (size_t c = 0; c < nc; c++) {
                double x0, w, a, b;
                if (!segment(s, &L, g, c, &x0, &w, &a, &b)) continue;
                cairo_rectangle(cr, x0, fmin(a, b), w, fabs(a - b));
            }
            cairo_fill(cr);
        }
        if (!L.y.log && L.y.lo < 0 && L.y.hi > 0) { /* a zero line when bars go both ways */
            cairo_set_source_rgb(cr, 0.15, 0.15, 0.15);
            cairo_set_line_width(cr, st->axis_width);
            cairo_move_to(cr, L.area.x, base);
            cairo_line_to(cr, L.area.x + L.area.w, base);
            cairo_stroke(cr);
        }
        if (s->value_labels) {
            cairo_set_source_rgb(cr, 0.15, 0.15, 0.15);
            plt_set_font(cr, fmin(st->font_tick - 1, L.bar_w * 0.9), 0);
            for (size_t g = 0; g < ng; g++)
                for (size_t c = 0; c < nc; c++) {
                    double x0, w, a, t;
                    if (!segment(s, &L, g, c, &x0, &w, &a, &t)) continue;
                    double v = s->groups[g].values[c];
                    if (s->stacked) { /* the stack's total, above its top segment */
                        size_t last = g;
                        for (size_t k = g + 1; k < ng; k++)
                            if (isfinite(s->groups[k].values[c])) last = k;
                        if (last != g) continue;
                        v = 0;
                        for (size_t k = 0; k < ng; k++)
                            if (isfinite(s->groups[k].values[c])) v += s->groups[k].values[c];
                    }
                    plt_format_value(buf, sizeof buf, v);
                    double cx = x0 + w / 2;
                    if (t <= base) plt_text(cr, cx, t - 2, buf, 0.5, 1, 0);
                    else plt_text(cr, cx, t + 2, buf, 0.5, 0, 0);
                }
        }
        cairo_restore(cr);
        plt_draw_frame(cr, L.area);
        plt_draw_yaxis(cr, L.area, &L.y);
        cairo_set_source_rgb(cr, 0.15, 0.15, 0.15);
        plt_set_font(cr, st->font_tick, 0);
        cairo_set_line_width(cr, st->axis_width);
        for (size_t c = 0; c < nc; c++) {
            double cx = L.area.x + (c + 0.5) * L.slot_w, by = L.area.y + L.area.h;
            cairo_move_to(cr, cx, by);
            cairo_line_to(cr, cx, by + st->tick_len);
            cairo_stroke(cr);
            const char *lab = cat_of(s, c, buf, sizeof buf);
            if (slant) plt_text(cr, cx + 3, by + st->tick_len + st->gap, lab, 1, 0, LABEL_ANGLE);
            else plt_text(cr, cx, by + st->tick_len + st->gap, lab, 0.5, 0, 0);
        }
        plt_draw_labels(cr, r, L.area, s->title, s->xlabel, s->ylabel);
        if (lg.n) plt_legend_draw(cr, &lg, L.legend);
    }
    free(names); free(idx);
    if (lay) *lay = L;
    return 0;
}

extern const plot_kind plot_kind_bars; /* this file's registry entry, below */

int plot_bars(const char *path, const plot_bars_spec *spec, const plot_output *out) {
    return plot_figure(path, &plot_kind_bars, spec, out);
}

int plot_bars_layout_of(const plot_bars_spec *spec, const plot_output *out, plot_bars_layout *lay) {
    double w, h, dpi;
    if (plt_bars_check(spec) || plt_output_size(out, PLT_DEF_W, PLT_DEF_H, &w, &h, &dpi)) return -1;
    cairo_t *cr = plt_measure_cr();
    int rc = plt_bars_draw(cr, (plot_rect){0, 0, w, h}, spec, lay, 0);
    cairo_destroy(cr);
    return rc;
}

/* ---- the registry entry (plots/kinds.c) ---- */

static int check(const void *spec) { return plt_bars_check(spec); }
static int draw_kind(cairo_t *cr, plot_rect r, const void *spec, void *lay, int d) { return plt_bars_draw(cr, r, spec, lay, d); }

#define G(f) offsetof(plot_bar_group, f)
static const plot_option group_options[] = {
    {"values", PLOT_OPT_NUMBERS, PLOT_OPT_REQUIRED, G(values), -1, G(n), -1, .help = "one value per category (0/0 = no bar)"},
    {"name", PLOT_OPT_STRING, 0, G(name), -1, -1, -1, .help = "legend entry"},
    {NULL},
};
#undef G
#define B(f) offsetof(plot_bars_spec, f)
static const plot_option options[] = {
    {"categories", PLOT_OPT_STRINGS, PLOT_OPT_REQUIRED, B(categories), -1, B(n_categories), -1,
     .help = "a list of category names (along x)"},
    {"groups", PLOT_OPT_LIST, 0, B(groups), -1, B(n_groups), -1, group_options, sizeof(plot_bar_group),
     .help = "{{name=, values=}, ...}: grouped bars"},
    {"values", PLOT_OPT_NUMBERS, 0, B(values), -1, B(n_values), -1, .help = "plain bars, one value per category"},
    {"title", PLOT_OPT_STRING, 0, B(title), -1, -1, -1, .help = "above the plot"},
    {"xlabel", PLOT_OPT_STRING, 0, B(xlabel), -1, -1, -1, .help = "x axis label"},
    {"ylabel", PLOT_OPT_STRING, 0, B(ylabel), -1, -1, -1, .help = "y axis label"},
    {"log_y", PLOT_OPT_BOOL, 0, B(log_y), -1, -1, -1, .help = "logarithmic y axis (bars rise from its bottom)"},
    {"labels", PLOT_OPT_BOOL, 0, B(value_labels), -1, -1, -1, .help = "each value printed above its bar (stacked: the total)"},
    {"stacked", PLOT_OPT_BOOL, 0, B(stacked), -1, -1, -1, .help = "the groups piled in one bar per category (values >= 0)"},
    {NULL},
};
#undef B

static size_t series_names(const void *spec, const char **names, size_t cap) {
    const plot_bars_spec *p = spec;
    if (!names) return p->n_groups;
    size_t n = 0;
    for (size_t g = 0; g < p->n_groups && n < cap; g++) names[n++] = p->groups[g].name;
    return n;
}

const plot_kind plot_kind_bars = {
    .name = "bars", .help = "bar charts: plain or grouped bars per category, linear or log y",
    .spec_size = sizeof(plot_bars_spec), .options = options, .width = PLT_DEF_W, .height = PLT_DEF_H,
    .check = check, .draw = draw_kind, .series_names = series_names,
};
