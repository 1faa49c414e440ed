/* The one default style: sizes in points, a colour-blind-safe palette, and the text helpers that every
 * kind uses, so lines, heatmaps, bars and panels look like one family in PNG, SVG and PDF alike. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "plots/plot_internal.h"

const plt_style PLT_STYLE = {
    .font = "DejaVu Sans",
    .font_tick = 9.0, .font_label = 10.5, .font_title = 12.0, .font_suptitle = 14.0,
    .font_legend = 9.0, .font_cell = 8.0,
    .line_width = 1.6, .axis_width = 0.8, .grid_width = 0.6, .tick_len = 4.0, .minor_len = 2.2,
    .marker_r = 2.6, .pad = 8.0, .gap = 4.0,
    .grid_grey = 0.90, .missing_grey = 0.85,
};

/* Okabe & Ito (2008), "Color Universal Design": distinguishable under the common colour-vision
 * deficiencies. Yellow is last because it is faint on white. */
static const unsigned okabe_ito[8] = {
    0x0072B2, /* blue */
    0xE69F00, /* orange */
    0x009E73, /* bluish green */
    0xD55E00, /* vermillion */
    0x56B4E9, /* sky blue */
    0xCC79A7, /* reddish purple */
    0x000000, /* black */
    0xF0E442, /* yellow */
};

void plt_palette(int i, double rgb[3]) {
    unsigned c = okabe_ito[((i % 8) + 8) % 8];
    rgb[0] = ((c >> 16) & 0xff) / 255.0;
    rgb[1] = ((c >> 8) & 0xff) / 255.0;
    rgb[2] = (c & 0xff) / 255.0;
}

static const char *const *style_names;
static size_t n_style_names;

void plt_style_names(const char *const *names, size_t n) {
    style_names = names;
    n_style_names = names ? n : 0;
}

int plt_series_style(const char *name, int position) {
    if (name && *name)
        for (size_t i = 0; i < n_style_names; i++)
            if (!strcmp(style_names[i], name)) return (int)i;
    return position;
}

void plt_series_dash(cairo_t *cr, int i) {
    static const double dashes[3][2] = {{6, 3}, {1.5, 2.5}, {8, 2.5}};
    int cycle = i / 8;
    if (cycle == 0) cairo_set_dash(cr, NULL, 0, 0);
    else cairo_set_dash(cr, dashes[(cycle - 1) % 3], 2, 0);
}

void plt_format_value(char *buf, size_t n, double v) {
    /* three significant digits; from a thousand up an SI suffix (1.97M, 12.3k, 671G) as people write counts */
    static const char *const suffix[] = {"", "k", "M", "G", "T", "P", "E"};
    double a = fabs(v);
    int e = 0;
    while (isfinite(a) && a >= 999.5 && e < 6) { a /= 1000; e++; }
    char digits[32];
    if (a >= 999.5) snprintf(digits, sizeof digits, "%.3g", fabs(v)); /* beyond the suffixes (and inf) */
    else if (e) snprintf(digits, sizeof digits, "%.3g%s", a, suffix[e]);
    else snprintf(digits, sizeof digits, "%.3g", a);
    if (v < 0 && n > 3) {
        memcpy(buf, "\u2212", 3);
        snprintf(buf + 3, n - 3, "%s", digits);
    } else {
        snprintf(buf, n, "%s", digits);
    }
}

void plt_font_setup(cairo_t *cr) {
    cairo_font_options_t *fo = cairo_font_options_create();
    /* Unhinted metrics: text widths (and so every margin) are the same at 72 dpi, 300 dpi and in vector
     * output, which keeps the documented layout exact. */
    cairo_font_options_set_hint_metrics(fo, CAIRO_HINT_METRICS_OFF);
    cairo_font_options_set_hint_style(fo, CAIRO_HINT_STYLE_NONE);
    cairo_set_font_options(cr, fo);
    cairo_font_options_destroy(fo);
}

void plt_set_font(cairo_t *cr, double size, int bold) {
    cairo_select_font_face(cr, PLT_STYLE.font, CAIRO_FONT_SLANT_NORMAL,
                           bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, size);
}

double plt_text_w(cairo_t *cr, const char *s) {
    if (!s || !*s) return 0;
    cairo_text_extents_t te;
    cairo_text_extents(cr, s, &te);
    return te.x_advance;
}

double plt_font_h(cairo_t *cr) {
    cairo_font_extents_t fe;
    cairo_font_extents(cr, &fe);
    return fe.ascent + fe.descent;
}

void plt_text(cairo_t *cr, double x, double y, const char *s, double ax, double ay, double angle) {
    if (!s || !*s) return;
    cairo_font_extents_t fe;
    cairo_font_extents(cr, &fe);
    double w = plt_text_w(cr, s);
    double h = fe.ascent + fe.descent;
    cairo_save(cr);
    cairo_translate(cr, x, y);
    cairo_rotate(cr, -angle);
    cairo_move_to(cr, -ax * w, -ay * h + fe.ascent);
    cairo_show_text(cr, s);
    cairo_restore(cr);
}

cairo_t *plt_measure_cr(void) {
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, 1, 1);
    cairo_t *cr = cairo_create(s);
    cairo_surface_destroy(s); /* the context holds its own reference */
    plt_font_setup(cr);
    return cr;
}
