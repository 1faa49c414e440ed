/* Line plots: several series on linear or log axes, a legend in a free corner, NaN points as gaps. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plots/plot_internal.h"

/* "series 'loss'" or, for an unnamed one, "series 2" (1-based, as a script author counts). */
static const char *sname(const plot_series *s, size_t i, char *buf, size_t n) {
    if (s->name && *s->name) snprintf(buf, n, "series '%s'", s->name);
    else snprintf(buf, n, "series %zu", i + 1);
    return buf;
}

static double sx(const plot_series *s, size_t i) { return s->x ? s->x[i] : (double)i; }

/* A point is drawn only if both coordinates are finite and positive on a log axis; anything else is a gap. */
static int usable(const plot_lines_spec *p, double x, double y) {
    return isfinite(x) && isfinite(y) && (!p->log_x || x > 0) && (!p->log_y || y > 0);
}

static int check_lim(const char *which, const double lim[2], int log) {
    if (!isfinite(lim[0]) || !isfinite(lim[1]) || lim[0] >= lim[1])
        return plt_fail("%s limits must be finite and increasing, got %g to %g", which, lim[0], lim[1]);
    if (log && lim[0] <= 0) return plt_fail("%s limits must be positive on a log axis, got %g", which, lim[0]);
    return 0;
}

int plt_lines_check(const plot_lines_spec *p) {
    char b[160];
    if (!p) return plt_fail("no line plot given");
    if (!p->series || p->n_series == 0) return plt_fail("no series to plot");
    if (p->has_xlim && check_lim("x", p->xlim, p->log_x)) return -1;
    if (p->has_ylim && check_lim("y", p->ylim, p->log_y)) return -1;
    for (size_t k = 0; k < p->n_series; k++) {
        const plot_series *s = &p->series[k];
        if (!s->y || s->ny == 0) return plt_fail("%s: no points", sname(s, k, b, sizeof b));
        if ((s->x || s->nx) && s->nx != s->ny)
            return plt_fail("%s: x has %zu points but y has %zu", sname(s, k, b, sizeof b), s->nx, s->ny);
        if (s->nx && !s->x) return plt_fail("%s: x has %zu points but no data", sname(s, k, b, sizeof b), s->nx);
        size_t finite = 0, ok = 0;
        for (size_t i = 0; i < s->ny; i++) {
            double x = sx(s, i), y = s->y[i];
            finite += isfinite(x) && isfinite(y);
            ok += usable(p, x, y);
        }
        if (!finite) return plt_fail("%s: all %zu points are NaN or infinite", sname(s, k, b, sizeof b), s->ny);
        if (s->err && s->n_err != s->ny)
            return plt_fail("%s: err has %zu values but y has %zu", sname(s, k, b, sizeof b), s->n_err, s->ny);
        for (size_t i = 0; s->err && i < s->n_err; i++)
            if (s->err[i] < 0) return plt_fail("%s: err[%zu] = %g is negative (a half-width)", sname(s, k, b, sizeof b), i + 1, s->err[i]);
        if (!s->lo != !s->hi) return plt_fail("%s: a band needs both lo and hi", sname(s, k, b, sizeof b));
        if (s->lo && (s->n_lo != s->ny || s->n_hi != s->ny))
            return plt_fail("%s: lo and hi have %zu and %zu values but y has %zu", sname(s, k, b, sizeof b), s->n_lo, s->n_hi, s->ny);
        if (!ok)
            return plt_fail("%s: no point has positive %s for the log axis", sname(s, k, b, sizeof b),
                            p->log_x && p->log_y ? "x and y" : p->log_x ? "x" : "y");
    }
    return 0;
}

typedef struct {
    const plot_lines_spec *p;
    plot_rect area;
    const plot_axis *x, *y;
} hit_ctx;

/* Cairo's fixed-point coordinates overflow far outside the page; anything this far out is clipped anyway. */
static double clampc(double v) { return v < -1e5 ? -1e5 : v > 1e5 ? 1e5 : v; }
static double map_x(const hit_ctx *h, double v) { return clampc(h->area.x + plt_axis_frac(h->x, v) * h->area.w); }
static double map_y(const hit_ctx *h, double v) {
    return clampc(h->area.y + h->area.h - plt_axis_frac(h->y, v) * h->area.h);
}

static int inside(plot_rect b, double x, double y) {
    return x >= b.x - 2 && x <= b.x + b.w + 2 && y >= b.y - 2 && y <= b.y + b.h + 2;
}

/* Does any drawn point or segment pass through box? Segments are sampled every ~2 pt. */
static int hits(const void *vctx, plot_rect box) {
    const hit_ctx *h = vctx;
    for (size_t k = 0; k < h->p->n_series; k++) {
        const plot_series *s = &h->p->series[k];
        int have = 0;
        double px = 0, py = 0;
        for (size_t i = 0; i < s->ny; i++) {
            if (!usable(h->p, sx(s, i), s->y[i])) { have = 0; continue; }
            double qx = map_x(h, sx(s, i)), qy = map_y(h, s->y[i]);
            if (inside(box, qx, qy)) return 1;
            if (have) {
                double d = hypot(qx - px, qy - py);
                int n = d > 2 ? (int)fmin(d / 2, 400) : 0;
                for (int j = 1; j < n; j++)
                    if (inside(box, px + (qx - px) * j / n, py + (qy - py) * j / n)) return 1;
            }
            px = qx; py = qy; have = 1;
        }
    }
    return 0;
}

#define CHUNK 512
#define BUCKETS_PER_PT 4.0

/* Consecutive points that fall in the same quarter-point column are drawn as their first, lowest,
 * highest and last point: the same ink, but a 200k-step loss curve becomes a path of a few thousand
 * points instead of one that takes cairo tens of seconds to stroke. In place; returns the new count.
 * Writing slot out + k never overtakes the k-th index read, which is at least i + k >= out + k. */
static size_t decimate(double *pts, size_t m) {
    size_t out = 0;
    for (size_t i = 0; i < m;) {
        double b = floor(pts[2 * i] * BUCKETS_PER_PT);
        size_t j = i, lo = i, hi = i;
        for (; j < m && floor(pts[2 * j] * BUCKETS_PER_PT) == b; j++) {
            if (pts[2 * j + 1] < pts[2 * lo + 1]) lo = j;
            if (pts[2 * j + 1] > pts[2 * hi + 1]) hi = j;
        }
        size_t pick[4] = {i, lo < hi ? lo : hi, lo < hi ? hi : lo, j - 1};
        for (int k = 0; k < 4; k++) {
            if (k && pick[k] == pick[k - 1]) continue;
            double x = pts[2 * pick[k]], y = pts[2 * pick[k] + 1];
            pts[2 * out] = x;
            pts[2 * out + 1] = y;
            out++;
        }
        i = j;
    }
    return out;
}

/* Stroke one unbroken run in chunks (round caps make the seams invisible); a lone point, which would
 * vanish as a zero-length line, becomes a dot. */
static void stroke_run(cairo_t *cr, double *pts, size_t m) {
    if (m == 0) return;
    if (m == 1) {
        cairo_new_sub_path(cr);
        cairo_arc(cr, pts[0], pts[1], PLT_STYLE.line_width, 0, 2 * M_PI);
        cairo_fill(cr);
        return;
    }
    m = decimate(pts, m);
    for (size_t s = 0; s + 1 < m; s += CHUNK) {
        cairo_move_to(cr, pts[2 * s], pts[2 * s + 1]);
        for (size_t t = s + 1; t < m && t <= s + CHUNK; t++) cairo_line_to(cr, pts[2 * t], pts[2 * t + 1]);
        cairo_stroke(cr);
    }
}

/* the vertical extras of point i: its error bar's ends and its band's edges, where drawable */
static void extent(const plot_lines_spec *p, const plot_series *s, size_t i, double *lo, double *hi) {
    double x = sx(s, i), v[4] = {NAN, NAN, NAN, NAN};
    if (s->err && isfinite(s->err[i])) { v[0] = s->y[i] - s->err[i]; v[1] = s->y[i] + s->err[i]; }
    if (s->lo) { v[2] = s->lo[i]; v[3] = s->hi[i]; }
    for (int k = 0; k < 4; k++)
        if (usable(p, x, v[k])) { *lo = fmin(*lo, v[k]); *hi = fmax(*hi, v[k]); }
}

static void data_range(const plot_lines_spec *p, int want_x, double *lo, double *hi) {
    *lo = INFINITY; *hi = -INFINITY;
    for (size_t k = 0; k < p->n_series; k++) {
        const plot_series *s = &p->series[k];
        for (size_t i = 0; i < s->ny; i++) {
            if (!usable(p, sx(s, i), s->y[i])) continue;
            double v = want_x ? sx(s, i) : s->y[i];
            *lo = fmin(*lo, v); *hi = fmax(*hi, v);
            if (!want_x) extent(p, s, i, lo, hi);
        }
    }
}

/* A band: the polygon along lo and back along hi, for each run of points where both are drawable. */
static void fill_band(cairo_t *cr, const plot_lines_spec *p, const plot_series *s, const hit_ctx *h) {
    size_t i = 0;
    while (i < s->ny) {
        while (i < s->ny && !(usable(p, sx(s, i), s->lo[i]) && usable(p, sx(s, i), s->hi[i]))) i++;
        size_t j = i;
        while (j < s->ny && usable(p, sx(s, j), s->lo[j]) && usable(p, sx(s, j), s->hi[j])) j++;
        if (j > i) {
            cairo_move_to(cr, map_x(h, sx(s, i)), map_y(h, s->lo[i]));
            for (size_t q = i + 1; q < j; q++) cairo_line_to(cr, map_x(h, sx(s, q)), map_y(h, s->lo[q]));
            for (size_t q = j; q-- > i;) cairo_line_to(cr, map_x(h, sx(s, q)), map_y(h, s->hi[q]));
            cairo_close_path(cr);
            cairo_fill(cr);
        }
        i = j;
    }
}

/* Error bars: a vertical line from y - err to y + err with short caps. */
static void error_bars(cairo_t *cr, const plot_lines_spec *p, const plot_series *s, const hit_ctx *h) {
    double cap = PLT_STYLE.marker_r * 1.2;
    for (size_t i = 0; i < s->ny; i++) {
        double x = sx(s, i), e = s->err[i];
        if (!usable(p, x, s->y[i]) || !isfinite(e) || e == 0) continue;
        double a = s->y[i] - e, b = s->y[i] + e;
        if (p->log_y && a <= 0) a = s->y[i] * 1e-3; /* a bar reaching zero on a log axis runs off the bottom */
        double px = map_x(h, x), ya = map_y(h, a), yb = map_y(h, b);
        cairo_move_to(cr, px, ya);
        cairo_line_to(cr, px, yb);
        cairo_move_to(cr, px - cap, ya);
        cairo_line_to(cr, px + cap, ya);
        cairo_move_to(cr, px - cap, yb);
        cairo_line_to(cr, px + cap, yb);
    }
    cairo_stroke(cr);
}

static int fit_x(cairo_t *cr, const plot_lines_spec *p, plot_axis *a, double len) {
    double lo, hi;
    if (p->has_xlim) return plt_x_fit(cr, a, p->xlim[0], p->xlim[1], p->log_x, len, 0);
    data_range(p, 1, &lo, &hi);
    return plt_x_fit(cr, a, lo, hi, p->log_x, len, 1);
}

int plt_lines_draw(cairo_t *cr, plot_rect r, const plot_lines_spec *p, plot_lines_layout *lay, int draw) {
    const plt_style *st = &PLT_STYLE;
    plot_lines_layout L;
    memset(&L, 0, sizeof L);
    L.figure = r;

    /* Vertical margins depend only on fonts; y ticks then depend on the height left, the left margin on
     * the widest y label, and the x ticks on the width left. */
    double top = r.y + st->pad + plt_title_h(cr, p->title);
    double bottom = r.y + r.h - st->pad - plt_label_h(cr, p->xlabel) - plt_xtick_h(cr) - st->tick_len - st->gap;
    double ylo, yhi;
    int rc;
    if (p->has_ylim) rc = plt_y_fit(cr, &L.y, p->ylim[0], p->ylim[1], p->log_y, bottom - top, 0);
    else { data_range(p, 0, &ylo, &yhi); rc = plt_y_fit(cr, &L.y, ylo, yhi, p->log_y, bottom - top, 1); }
    if (rc) return -1;
    double left = r.x + st->pad + plt_label_h(cr, p->ylabel) + plt_ytick_w(cr, &L.y) + st->tick_len + st->gap;
    double right = r.x + r.w - st->pad - 10; /* room for half of the last x tick label */
    L.area = (plot_rect){left, top, right - left, bottom - top};
    if (L.area.w < 20 || L.area.h < 20)
        return plt_fail("figure too small for a line plot (%g x %g pt)", r.w, r.h);
    if (fit_x(cr, p, &L.x, L.area.w)) return -1;

    /* Legend: named series only. */
    const char **names = calloc(p->n_series, sizeof *names);
    int *idx = calloc(p->n_series, sizeof *idx), *mk = calloc(p->n_series, sizeof *mk);
    if (!names || !idx || !mk) { free(names); free(idx); free(mk); return plt_fail("out of memory"); }
    plt_legend lg = {names, idx, 0, 0, mk};
    for (size_t k = 0; k < p->n_series; k++)
        if (p->series[k].name && *p->series[k].name) {
            names[lg.n] = p->series[k].name;
            idx[lg.n] = plt_series_style(p->series[k].name, (int)k);
            mk[lg.n] = p->markers || p->series[k].marker;
            lg.n++;
        }
    if (lg.n) {
        double lw, lh;
        plt_legend_size(cr, &lg, &lw, &lh);
        hit_ctx h = {p, L.area, &L.x, &L.y};
        if (plt_legend_place(L.area, lw, lh, hits, &h, &L.legend) != 0) {
            /* Every corner covers data: move the legend out to the right rather than hide a curve. */
            L.legend_outside = 1;
            L.area.w -= lw + 2 * st->gap;
            if (L.area.w < 20 || fit_x(cr, p, &L.x, L.area.w)) {
                free(names); free(idx); free(mk);
                return L.area.w < 20 ? plt_fail("figure too narrow for the legend") : -1;
            }
            L.legend = (plot_rect){L.area.x + L.area.w + 2 * st->gap, L.area.y, lw, lh};
        }
    }

    size_t maxn = 0;
    for (size_t k = 0; k < p->n_series; k++) maxn = p->series[k].ny > maxn ? p->series[k].ny : maxn;
    double *pts = draw ? malloc(maxn * 2 * sizeof *pts) : NULL;
    if (draw && !pts) { free(names); free(idx); free(mk); return plt_fail("out of memory"); }
    if (draw) {
        hit_ctx h = {p, L.area, &L.x, &L.y};
        plt_draw_grid(cr, L.area, &L.x, &L.y);
        cairo_save(cr);
        cairo_rectangle(cr, L.area.x, L.area.y, L.area.w, L.area.h);
        cairo_clip(cr);
        cairo_set_line_width(cr, st->line_width);
        cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
        cairo_set_line_cap(cr, CAIRO_LINE_CAP_ROUND);
        for (size_t k = 0; k < p->n_series; k++) {
            const plot_series *s = &p->series[k];
            double rgb[3];
            int style = plt_series_style(s->name, (int)k);
            plt_palette(style, rgb);
            if (s->lo) { /* under its line: the band, translucent so overlapping bands stay readable */
                cairo_set_source_rgba(cr, rgb[0], rgb[1], rgb[2], 0.2);
                fill_band(cr, p, s, &h);
            }
            cairo_set_source_rgb(cr, rgb[0], rgb[1], rgb[2]);
            if (s->err) error_bars(cr, p, s, &h);
            plt_series_dash(cr, style);
            /* Each unbroken run is decimated and stroked on its own; a NaN ends a run, leaving a gap. */
            size_t m = 0;
            for (size_t i = 0; i <= s->ny; i++) {
                if (i < s->ny && usable(p, sx(s, i), s->y[i])) {
                    pts[2 * m] = map_x(&h, sx(s, i));
                    pts[2 * m + 1] = map_y(&h, s->y[i]);
                    m++;
                    continue;
                }
                stroke_run(cr, pts, m);
                m = 0;
            }
            cairo_set_dash(cr, NULL, 0, 0);
            if (p->markers || s->marker) {
                size_t k2 = 0;
                for (size_t i = 0; i < s->ny; i++) {
                    if (!usable(p, sx(s, i), s->y[i])) continue;
                    cairo_new_sub_path(cr);
                    cairo_arc(cr, map_x(&h, sx(s, i)), map_y(&h, s->y[i]), st->marker_r, 0, 2 * M_PI);
                    if (++k2 % CHUNK == 0) cairo_fill(cr); /* short paths keep cairo's tessellator fast */
                }
                cairo_fill(cr);
            }
        }
        cairo_restore(cr);
        plt_draw_frame(cr, L.area);
        plt_draw_yaxis(cr, L.area, &L.y);
        plt_draw_xaxis(cr, L.area, &L.x);
        plt_draw_labels(cr, r, L.area, p->title, p->xlabel, p->ylabel);
        if (lg.n) plt_legend_draw(cr, &lg, L.legend);
    }
    free(names); free(idx); free(mk); free(pts);
    if (lay) *lay = L;
    return 0;
}

extern const plot_kind plot_kind_lines; /* this file's registry entry, below */

int plot_lines(const char *path, const plot_lines_spec *spec, const plot_output *out) {
    return plot_figure(path, &plot_kind_lines, spec, out);
}

int plot_lines_layout_of(const plot_lines_spec *spec, const plot_output *out, plot_lines_layout *lay) {
    double w, h, dpi;
    if (plt_lines_check(spec) || plt_output_size(out, PLT_DEF_W, PLT_DEF_H, &w, &h, &dpi)) return -1;
    cairo_t *cr = plt_measure_cr();
    int rc = plt_lines_draw(cr, (plot_rect){0, 0, w, h}, spec, lay, 0);
    cairo_destroy(cr);
    return rc;
}

/* ---- the registry entry (plots/kinds.c) ---- */

static int check(const void *spec) { return plt_lines_check(spec); }
static int draw(cairo_t *cr, plot_rect r, const void *spec, void *lay, int d) { return plt_lines_draw(cr, r, spec, lay, d); }

#define S(f) offsetof(plot_series, f)
static const plot_option series_options[] = {
    {"y", PLOT_OPT_NUMBERS, PLOT_OPT_REQUIRED, S(y), -1, S(ny), -1, .help = "the series' values (0/0 = a gap)"},
    {"x", PLOT_OPT_NUMBERS, PLOT_OPT_INDEX, S(x), -1, S(nx), -1, .like = "y", .help = "positions (default 1 .. #y)"},
    {"name", PLOT_OPT_STRING, 0, S(name), -1, -1, -1, .help = "legend entry"},
    {"marker", PLOT_OPT_BOOL, 0, S(marker), -1, -1, -1, .help = "a marker at every point"},
    {"err", PLOT_OPT_NUMBERS, 0, S(err), -1, S(n_err), -1, .help = "error bars: a half-width per point (y +- err)"},
    {"lo", PLOT_OPT_NUMBERS, 0, S(lo), -1, S(n_lo), -1, .help = "a shaded band's lower edge, one per point (with hi)"},
    {"hi", PLOT_OPT_NUMBERS, 0, S(hi), -1, S(n_hi), -1, .help = "the band's upper edge (a mean +- an interval: lo, hi)"},
    {NULL},
};
#undef S
#define L(f) offsetof(plot_lines_spec, f)
static const plot_option options[] = {
    {"series", PLOT_OPT_LIST, PLOT_OPT_REQUIRED | PLOT_OPT_BARE, L(series), -1, L(n_series), -1, series_options,
     sizeof(plot_series), .help = "a list of {name=, x=, y=} tables (or one bare series)"},
    {"title", PLOT_OPT_STRING, 0, L(title), -1, -1, -1, .help = "above the plot"},
    {"xlabel", PLOT_OPT_STRING, 0, L(xlabel), -1, -1, -1, .help = "x axis label"},
    {"ylabel", PLOT_OPT_STRING, 0, L(ylabel), -1, -1, -1, .help = "y axis label"},
    {"log_x", PLOT_OPT_BOOL, 0, L(log_x), -1, -1, -1, .help = "logarithmic x axis"},
    {"log_y", PLOT_OPT_BOOL, 0, L(log_y), -1, -1, -1, .help = "logarithmic y axis"},
    {"markers", PLOT_OPT_BOOL, 0, L(markers), -1, -1, -1, .help = "markers on every series"},
    {"xlim", PLOT_OPT_RANGE, 0, L(xlim), L(has_xlim), -1, -1, .help = "{lo, hi}: fixed x limits"},
    {"ylim", PLOT_OPT_RANGE, 0, L(ylim), L(has_ylim), -1, -1, .help = "{lo, hi}: fixed y limits"},
    {NULL},
};
#undef L

static size_t series_names(const void *spec, const char **names, size_t cap) {
    const plot_lines_spec *p = spec;
    if (!names) return p->n_series;
    size_t n = 0;
    for (size_t k = 0; k < p->n_series && n < cap; k++) names[n++] = p->series[k].name;
    return n;
}

const plot_kind plot_kind_lines = {
    .name = "lines", .help = "line plots of one or more series, linear or log axes, NaN gaps, a legend placed off the data",
    .spec_size = sizeof(plot_lines_spec), .options = options, .width = PLT_DEF_W, .height = PLT_DEF_H,
    .check = check, .draw = draw, .series_names = series_names,
};
