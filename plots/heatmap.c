/* Heatmaps with a colour bar: needle-in-a-haystack grids (context length x depth) and expert-load maps
 * (layer x expert). Row 0 is drawn at the top, as in the NIAH figures where depth grows downwards. */
#include <ctype.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "plots/plot_internal.h"

#define CBAR_GAP 12.0   /* between the grid and the colour bar */
#define CBAR_W 12.0

/* A user-supplied printf format must convert exactly one double, or printing it is undefined behaviour. */
static int check_fmt(const char *f) {
    int conv = 0;
    for (const char *c = f; *c; c++) {
        if (*c != '%') continue;
        if (c[1] == '%') { c++; continue; }
        c++;
        while (*c && strchr("-+ #0", *c)) c++;
        while (isdigit((unsigned char)*c)) c++;
        if (*c == '.') { c++; while (isdigit((unsigned char)*c)) c++; }
        if (!*c || !strchr("eEfFgGaA", *c)) return -1;
        conv++;
    }
    return conv == 1 ? 0 : -1;
}

/* The colour scale's ends: vmin / vmax where given, else the data's min / max. */
static void value_range(const plot_heatmap_spec *s, double *vmin, double *vmax) {
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < s->nx * s->ny; i++)
        if (isfinite(s->values[i])) { lo = fmin(lo, s->values[i]); hi = fmax(hi, s->values[i]); }
    *vmin = s->has_vmin ? s->vmin : lo;
    *vmax = s->has_vmax ? s->vmax : hi;
}

int plt_heatmap_check(const plot_heatmap_spec *s) {
    if (!s) return plt_fail("no heatmap given");
    if (s->nx == 0 || s->ny == 0) return plt_fail("heatmap has no cells (%zu columns x %zu rows)", s->nx, s->ny);
    if (!s->values) return plt_fail("heatmap has no values");
    size_t n = s->nx * s->ny, finite = 0;
    for (size_t i = 0; i < n; i++) finite += isfinite(s->values[i]) != 0;
    if (!finite) return plt_fail("heatmap: all %zu values are NaN or infinite", n);
    if (s->x_labels && s->n_x_labels && s->n_x_labels != s->nx)
        return plt_fail("field 'x_labels': %zu labels for %zu columns", s->n_x_labels, s->nx);
    if (s->y_labels && s->n_y_labels && s->n_y_labels != s->ny)
        return plt_fail("field 'y_labels': %zu labels for %zu rows", s->n_y_labels, s->ny);
    double vmin, vmax;
    value_range(s, &vmin, &vmax);
    if ((s->has_vmin || s->has_vmax) && !(isfinite(vmin) && isfinite(vmax) && vmin < vmax))
        return plt_fail("heatmap: vmin (%g) must be below vmax (%g)", vmin, vmax);
    if (s->label_fmt && check_fmt(s->label_fmt))
        return plt_fail("heatmap: label format '%s' must convert exactly one number (e.g. \"%%.2f\")", s->label_fmt);
    return 0;
}

static const char *label_of(const char *const *labels, size_t i, char *buf, size_t n) {
    if (labels && labels[i]) return labels[i];
    snprintf(buf, n, "%zu", i);
    return buf;
}

/* The smallest k such that every k-th x label (centred under its column) keeps LABEL_GAP from the next one
 * drawn: judged on the two labels' own widths, so labels that fit are all drawn. */
#define LABEL_GAP 3.0
static size_t x_label_step(cairo_t *cr, const plot_heatmap_spec *s, double cell_w) {
    char a[32], b[32];
    for (size_t k = 1; k < s->nx; k++) {
        int fits = 1;
        for (size_t j = 0; j + k < s->nx && fits; j += k) {
            double wa = plt_text_w(cr, label_of(s->x_labels, j, a, sizeof a));
            double wb = plt_text_w(cr, label_of(s->x_labels, j + k, b, sizeof b));
            fits = (wa + wb) / 2 + LABEL_GAP <= k * cell_w;
        }
        if (fits) return k;
    }
    return s->nx > 0 ? s->nx : 1;
}

int plt_heatmap_draw(cairo_t *cr, plot_rect r, const plot_heatmap_spec *s, plot_heatmap_layout *lay, int draw) {
    const plt_style *st = &PLT_STYLE;
    plot_heatmap_layout L;
    memset(&L, 0, sizeof L);
    L.figure = r;
    char buf[32];

    double vmin, vmax;
    value_range(s, &vmin, &vmax);

    double top = r.y + st->pad + plt_title_h(cr, s->title);
    double bottom = r.y + r.h - st->pad - plt_label_h(cr, s->xlabel) - plt_xtick_h(cr) - st->tick_len - st->gap;
    /* The colour bar spans the grid's height; its ticks decide how wide its labels are. */
    if (plt_y_fit(cr, &L.cbar_axis, vmin, vmax, 0, bottom - top, 0)) return -1;
    L.vmin = L.cbar_axis.lo; /* a constant map widens to v +- 10% so it shows the middle colour */
    L.vmax = L.cbar_axis.hi;
    double cbw = plt_ytick_w(cr, &L.cbar_axis);
    double right = r.x + r.w - st->pad - plt_label_h(cr, s->cbar_label) - cbw - st->tick_len - st->gap - CBAR_W - CBAR_GAP;
    plt_set_font(cr, st->font_tick, 0);
    double yw = 0;
    for (size_t i = 0; i < s->ny; i++) yw = fmax(yw, plt_text_w(cr, label_of(s->y_labels, i, buf, sizeof buf)));
    double left = r.x + st->pad + plt_label_h(cr, s->ylabel) + yw + st->tick_len + st->gap;
    L.grid = (plot_rect){left, top, right - left, bottom - top};
    if (L.grid.w < 20 || L.grid.h < 20) return plt_fail("figure too small for a heatmap (%g x %g pt)", r.w, r.h);
    L.cell_w = L.grid.w / s->nx;
    L.cell_h = L.grid.h / s->ny;
    L.cbar = (plot_rect){right + CBAR_GAP, top, CBAR_W, L.grid.h};
    /* category labels: every one where they fit, else every k-th (y: a line of text per shown row) */
    plt_set_font(cr, st->font_tick, 0);
    L.x_label_step = x_label_step(cr, s, L.cell_w);
    L.y_label_step = (size_t)ceil(plt_font_h(cr) / L.cell_h);
    if (L.y_label_step < 1) L.y_label_step = 1;
    if (lay) *lay = L;
    if (!draw) return 0;

    /* Cells. */
    for (size_t i = 0; i < s->ny; i++)
        for (size_t j = 0; j < s->nx; j++) {
            double v = s->values[i * s->nx + j], rgb[3];
            plot_colormap(s->cmap, isfinite(v) ? (v - L.vmin) / (L.vmax - L.vmin) : NAN, rgb);
            cairo_set_source_rgb(cr, rgb[0], rgb[1], rgb[2]);
            cairo_rectangle(cr, L.grid.x + j * L.cell_w, L.grid.y + i * L.cell_h, L.cell_w, L.cell_h);
            cairo_fill(cr);
        }
    /* Thin white separators read as a grid without shifting any cell's colour; skipped for tiny cells. */
    if (L.cell_w >= 6 && L.cell_h >= 6) {
        cairo_set_source_rgb(cr, 1, 1, 1);
        cairo_set_line_width(cr, 0.75);
        for (size_t j = 1; j < s->nx; j++) {
            cairo_move_to(cr, L.grid.x + j * L.cell_w, L.grid.y);
            cairo_line_to(cr, L.grid.x + j * L.cell_w, L.grid.y + L.grid.h);
        }
        for (size_t i = 1; i < s->ny; i++) {
            cairo_move_to(cr, L.grid.x, L.grid.y + i * L.cell_h);
            cairo_line_to(cr, L.grid.x + L.grid.w, L.grid.y + i * L.cell_h);
        }
        cairo_stroke(cr);
    }
    if (s->cell_labels) {
        /* The largest font up to font_cell at which every label fits its cell; none if that is unreadable. */
        const char *fmt = s->label_fmt ? s->label_fmt : "%.2g";
        double fs = fmin(st->font_cell, L.cell_h * 0.55);
        for (; fs >= 5; fs -= 0.5) {
            plt_set_font(cr, fs, 0);
            double mw = 0;
            for (size_t i = 0; i < s->nx * s->ny; i++) {
                if (!isfinite(s->values[i])) continue;
                snprintf(buf, sizeof buf, fmt, s->values[i]);
                mw = fmax(mw, plt_text_w(cr, buf));
            }
            if (mw <= L.cell_w - 2) break;
        }
        if (fs >= 5) {
            for (size_t i = 0; i < s->ny; i++)
                for (size_t j = 0; j < s->nx; j++) {
                    double v = s->values[i * s->nx + j], rgb[3];
                    if (!isfinite(v)) continue;
                    plot_colormap(s->cmap, (v - L.vmin) / (L.vmax - L.vmin), rgb);
                    double lum = 0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2];
                    double ink = lum > 0.45 ? 0.1 : 1.0; /* dark text on light cells, white on dark */
                    cairo_set_source_rgb(cr, ink, ink, ink);
                    snprintf(buf, sizeof buf, fmt, v);
                    plt_text(cr, L.grid.x + (j + 0.5) * L.cell_w, L.grid.y + (i + 0.5) * L.cell_h, buf, 0.5, 0.5, 0);
                }
        }
    }
    plt_draw_frame(cr, L.grid);

    /* Category labels, every k-th of them where they would collide (the layout's steps). */
    cairo_set_source_rgb(cr, 0.15, 0.15, 0.15);
    plt_set_font(cr, st->font_tick, 0);
    size_t kx = L.x_label_step, ky = L.y_label_step;
    for (size_t j = 0; j < s->nx; j += kx)
        plt_text(cr, L.grid.x + (j + 0.5) * L.cell_w, L.grid.y + L.grid.h + st->tick_len + st->gap,
                 label_of(s->x_labels, j, buf, sizeof buf), 0.5, 0, 0);
    for (size_t i = 0; i < s->ny; i += ky)
        plt_text(cr, L.grid.x - st->gap, L.grid.y + (i + 0.5) * L.cell_h,
                 label_of(s->y_labels, i, buf, sizeof buf), 1, 0.5, 0);
    plt_draw_labels(cr, r, L.grid, s->title, s->xlabel, s->ylabel);

    /* Colour bar: a gradient through the map's own anchors, so it matches the cells exactly. */
    const unsigned *stops;
    int ns = plt_cmap_stops(s->cmap, &stops);
    cairo_pattern_t *g = cairo_pattern_create_linear(0, L.cbar.y + L.cbar.h, 0, L.cbar.y);
    for (int k = 0; k < ns; k++)
        cairo_pattern_add_color_stop_rgb(g, (double)k / (ns - 1), ((stops[k] >> 16) & 0xff) / 255.0,
                                         ((stops[k] >> 8) & 0xff) / 255.0, (stops[k] & 0xff) / 255.0);
    cairo_rectangle(cr, L.cbar.x, L.cbar.y, L.cbar.w, L.cbar.h);
    cairo_set_source(cr, g);
    cairo_fill(cr);
    cairo_pattern_destroy(g);
    plt_draw_frame(cr, L.cbar);
    cairo_set_source_rgb(cr, 0.15, 0.15, 0.15);
    cairo_set_line_width(cr, st->axis_width);
    for (int k = 0; k < L.cbar_axis.n; k++) {
        double py = L.cbar.y + L.cbar.h - plt_axis_frac(&L.cbar_axis, L.cbar_axis.v[k]) * L.cbar.h;
        cairo_move_to(cr, L.cbar.x + L.cbar.w, py);
        cairo_line_to(cr, L.cbar.x + L.cbar.w + st->tick_len, py);
        cairo_stroke(cr);
        plt_text(cr, L.cbar.x + L.cbar.w + st->tick_len + st->gap, py, L.cbar_axis.label[k], 0, 0.5, 0);
    }
    if (s->cbar_label && *s->cbar_label) {
        plt_set_font(cr, st->font_label, 0);
        plt_text(cr, r.x + r.w - st->pad - plt_font_h(cr), L.cbar.y + L.cbar.h / 2, s->cbar_label, 0.5, 0, M_PI / 2);
    }
    return 0;
}

extern const plot_kind plot_kind_heatmap; /* this file's registry entry, below */

int plot_heatmap(const char *path, const plot_heatmap_spec *spec, const plot_output *out) {
    return plot_figure(path, &plot_kind_heatmap, spec, out);
}

int plot_heatmap_layout_of(const plot_heatmap_spec *spec, const plot_output *out, plot_heatmap_layout *lay) {
    double w, h, dpi;
    if (plt_heatmap_check(spec) || plt_output_size(out, PLT_DEF_W, PLT_DEF_H, &w, &h, &dpi)) return -1;
    cairo_t *cr = plt_measure_cr();
    int rc = plt_heatmap_draw(cr, (plot_rect){0, 0, w, h}, spec, lay, 0);
    cairo_destroy(cr);
    return rc;
}

/* ---- the registry entry (plots/kinds.c) ---- */

static int check(const void *spec) { return plt_heatmap_check(spec); }
static int draw(cairo_t *cr, plot_rect r, const void *spec, void *lay, int d) { return plt_heatmap_draw(cr, r, spec, lay, d); }

#define H(f) offsetof(plot_heatmap_spec, f)
static const plot_option options[] = {
    {"values", PLOT_OPT_MATRIX, PLOT_OPT_REQUIRED, H(values), -1, H(nx), H(ny),
     .help = "a list of rows, one per y label (the first row on top); 0/0 = a missing cell"},
    {"title", PLOT_OPT_STRING, 0, H(title), -1, -1, -1, .help = "above the plot"},
    {"xlabel", PLOT_OPT_STRING, 0, H(xlabel), -1, -1, -1, .help = "x axis label"},
    {"ylabel", PLOT_OPT_STRING, 0, H(ylabel), -1, -1, -1, .help = "y axis label"},
    {"cbar_label", PLOT_OPT_STRING, 0, H(cbar_label), -1, -1, -1, .help = "colour bar label"},
    {"x_labels", PLOT_OPT_STRINGS, 0, H(x_labels), -1, H(n_x_labels), -1, .help = "one label per column"},
    {"y_labels", PLOT_OPT_STRINGS, 0, H(y_labels), -1, H(n_y_labels), -1, .help = "one label per row"},
    {"colormap", PLOT_OPT_COLORMAP, 0, H(cmap), -1, -1, -1, .help = "\"sequential\" (viridis, default) or \"niah\""},
    {"vmin", PLOT_OPT_NUMBER, 0, H(vmin), H(has_vmin), -1, -1, .help = "the value at the colour scale's bottom (default: the data's min)"},
    {"vmax", PLOT_OPT_NUMBER, 0, H(vmax), H(has_vmax), -1, -1, .help = "the value at its top (default: the data's max)"},
    {"labels", PLOT_OPT_BOOL, 0, H(cell_labels), -1, -1, -1, .help = "each value printed in its cell"},
    {"label_format", PLOT_OPT_STRING, 0, H(label_fmt), -1, -1, -1, .help = "printf format of cell labels (\"%.2g\")"},
    {NULL},
};
#undef H

const plot_kind plot_kind_heatmap = {
    .name = "heatmap", .help = "a grid of coloured cells with a colour bar (needle-in-a-haystack grids, expert loads)",
    .spec_size = sizeof(plot_heatmap_spec), .options = options, .width = PLT_DEF_W, .height = PLT_DEF_H,
    .check = check, .draw = draw,
};
