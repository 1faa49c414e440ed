/* The furniture shared by line and bar plots: grid, frame, ticks, tick labels, axis labels and title.
 * Ticks point outwards so they never hide data near the frame. */
#include <math.h>

#include "plots/plot_internal.h"

static const double INK = 0.15; /* frame and text: near-black, softer than pure black in print */

double plt_ytick_w(cairo_t *cr, const plot_axis *y) {
    plt_set_font(cr, PLT_STYLE.font_tick, 0);
    double w = 0;
    for (int i = 0; i < y->n; i++) w = fmax(w, plt_text_w(cr, y->label[i]));
    return w;
}

double plt_xtick_h(cairo_t *cr) {
    plt_set_font(cr, PLT_STYLE.font_tick, 0);
    return plt_font_h(cr);
}

double plt_title_h(cairo_t *cr, const char *title) {
    if (!title || !*title) return 0;
    plt_set_font(cr, PLT_STYLE.font_title, 0);
    return plt_font_h(cr) + PLT_STYLE.pad;
}

double plt_label_h(cairo_t *cr, const char *label) {
    if (!label || !*label) return 0;
    plt_set_font(cr, PLT_STYLE.font_label, 0);
    return plt_font_h(cr) + PLT_STYLE.gap;
}

static int fit(cairo_t *cr, plot_axis *a, double lo, double hi, int log, double len, int auto_range,
               int horizontal) {
    plt_set_font(cr, PLT_STYLE.font_tick, 0);
    double fh = plt_font_h(cr);
    /* Density limit: a tick every ~55 pt across, ~32 pt up (log axes may label every decade more densely). */
    int max = (int)(len / (horizontal ? 55.0 : (log ? 22.0 : 32.0)));
    if (max < 3) max = 3;
    if (max > (log ? 12 : 10)) max = log ? 12 : 10;
    for (; max >= 2; max--) {
        int rc = auto_range ? plot_axis_auto(a, lo, hi, log, max) : plot_axis_ticks(a, lo, hi, log, max);
        if (rc) return -1;
        int ok = 1;
        for (int i = 0; i + 1 < a->n && ok; i++) {
            double d = (plt_axis_frac(a, a->v[i + 1]) - plt_axis_frac(a, a->v[i])) * len;
            double need = horizontal ? (plt_text_w(cr, a->label[i]) + plt_text_w(cr, a->label[i + 1])) / 2 + 8
                                     : fh + 2;
            if (d < need) ok = 0;
        }
        if (ok) return 0;
    }
    return 0; /* two ticks that still collide: better crowded labels than none */
}

int plt_x_fit(cairo_t *cr, plot_axis *a, double lo, double hi, int log, double len, int auto_range) {
    return fit(cr, a, lo, hi, log, len, auto_range, 1);
}

int plt_y_fit(cairo_t *cr, plot_axis *a, double lo, double hi, int log, double len, int auto_range) {
    return fit(cr, a, lo, hi, log, len, auto_range, 0);
}

void plt_draw_grid(cairo_t *cr, plot_rect area, const plot_axis *x, const plot_axis *y) {
    cairo_save(cr);
    cairo_set_source_rgb(cr, PLT_STYLE.grid_grey, PLT_STYLE.grid_grey, PLT_STYLE.grid_grey);
    cairo_set_line_width(cr, PLT_STYLE.grid_width);
    for (int i = 0; x && i < x->n; i++) {
        double px = area.x + plt_axis_frac(x, x->v[i]) * area.w;
        cairo_move_to(cr, px, area.y);
        cairo_line_to(cr, px, area.y + area.h);
    }
    for (int i = 0; y && i < y->n; i++) {
        double py = area.y + area.h - plt_axis_frac(y, y->v[i]) * area.h;
        cairo_move_to(cr, area.x, py);
        cairo_line_to(cr, area.x + area.w, py);
    }
    cairo_stroke(cr);
    cairo_restore(cr);
}

void plt_draw_frame(cairo_t *cr, plot_rect area) {
    cairo_save(cr);
    cairo_set_source_rgb(cr, INK, INK, INK);
    cairo_set_line_width(cr, PLT_STYLE.axis_width);
    cairo_rectangle(cr, area.x, area.y, area.w, area.h);
    cairo_stroke(cr);
    cairo_restore(cr);
}

void plt_draw_yaxis(cairo_t *cr, plot_rect area, const plot_axis *y) {
    cairo_save(cr);
    cairo_set_source_rgb(cr, INK, INK, INK);
    cairo_set_line_width(cr, PLT_STYLE.axis_width);
    plt_set_font(cr, PLT_STYLE.font_tick, 0);
    for (int i = 0; i < y->n_minor; i++) {
        double py = area.y + area.h - plt_axis_frac(y, y->minor[i]) * area.h;
        cairo_move_to(cr, area.x, py);
        cairo_line_to(cr, area.x - PLT_STYLE.minor_len, py);
    }
    for (int i = 0; i < y->n; i++) {
        double py = area.y + area.h - plt_axis_frac(y, y->v[i]) * area.h;
        cairo_move_to(cr, area.x, py);
        cairo_line_to(cr, area.x - PLT_STYLE.tick_len, py);
    }
    cairo_stroke(cr);
    for (int i = 0; i < y->n; i++) {
        double py = area.y + area.h - plt_axis_frac(y, y->v[i]) * area.h;
        plt_text(cr, area.x - PLT_STYLE.tick_len - PLT_STYLE.gap, py, y->label[i], 1, 0.5, 0);
    }
    cairo_restore(cr);
}

void plt_draw_xaxis(cairo_t *cr, plot_rect area, const plot_axis *x) {
    cairo_save(cr);
    cairo_set_source_rgb(cr, INK, INK, INK);
    cairo_set_line_width(cr, PLT_STYLE.axis_width);
    plt_set_font(cr, PLT_STYLE.font_tick, 0);
    double base = area.y + area.h;
    for (int i = 0; i < x->n_minor; i++) {
        double px = area.x + plt_axis_frac(x, x->minor[i]) * area.w;
        cairo_move_to(cr, px, base);
        cairo_line_to(cr, px, base + PLT_STYLE.minor_len);
    }
    for (int i = 0; i < x->n; i++) {
        double px = area.x + plt_axis_frac(x, x->v[i]) * area.w;
        cairo_move_to(cr, px, base);
        cairo_line_to(cr, px, base + PLT_STYLE.tick_len);
    }
    cairo_stroke(cr);
    for (int i = 0; i < x->n; i++) {
        double px = area.x + plt_axis_frac(x, x->v[i]) * area.w;
        plt_text(cr, px, base + PLT_STYLE.tick_len + PLT_STYLE.gap, x->label[i], 0.5, 0, 0);
    }
    cairo_restore(cr);
}

void plt_draw_labels(cairo_t *cr, plot_rect r, plot_rect area, const char *title, const char *xlabel,
                     const char *ylabel) {
    cairo_save(cr);
    cairo_set_source_rgb(cr, INK, INK, INK);
    if (title && *title) {
        plt_set_font(cr, PLT_STYLE.font_title, 0);
        plt_text(cr, area.x + area.w / 2, r.y + PLT_STYLE.pad, title, 0.5, 0, 0);
    }
    plt_set_font(cr, PLT_STYLE.font_label, 0);
    if (xlabel && *xlabel) plt_text(cr, area.x + area.w / 2, r.y + r.h - PLT_STYLE.pad, xlabel, 0.5, 1, 0);
    /* Rotated a quarter turn counter-clockwise: the text's top faces the left edge. */
    if (ylabel && *ylabel) plt_text(cr, r.x + PLT_STYLE.pad, area.y + area.h / 2, ylabel, 0.5, 0, M_PI / 2);
    cairo_restore(cr);
}
