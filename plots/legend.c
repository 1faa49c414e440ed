/* Legends: sized from their entries, placed in the first corner of the data area they do not cover, and
 * drawn on a translucent white box so grid lines do not run through the names. */
#include <math.h>

#include "plots/plot_internal.h"

#define INSET 6.0   /* from the data area's frame */
#define BOX_PAD 5.0
#define SWATCH 20.0

void plt_legend_size(cairo_t *cr, const plt_legend *lg, double *w, double *h) {
    plt_set_font(cr, PLT_STYLE.font_legend, 0);
    double tw = 0;
    for (int i = 0; i < lg->n; i++) tw = fmax(tw, plt_text_w(cr, lg->names[i]));
    double row = plt_font_h(cr) * 1.3;
    *w = 2 * BOX_PAD + SWATCH + PLT_STYLE.gap + tw;
    *h = 2 * BOX_PAD + lg->n * row;
}

void plt_legend_draw(cairo_t *cr, const plt_legend *lg, plot_rect box) {
    cairo_save(cr);
    cairo_rectangle(cr, box.x, box.y, box.w, box.h);
    cairo_set_source_rgba(cr, 1, 1, 1, 0.9);
    cairo_fill_preserve(cr);
    cairo_set_source_rgb(cr, 0.8, 0.8, 0.8);
    cairo_set_line_width(cr, 0.6);
    cairo_stroke(cr);
    plt_set_font(cr, PLT_STYLE.font_legend, 0);
    double row = plt_font_h(cr) * 1.3;
    for (int i = 0; i < lg->n; i++) {
        double cy = box.y + BOX_PAD + (i + 0.5) * row, x0 = box.x + BOX_PAD;
        double rgb[3];
        plt_palette(lg->idx[i], rgb);
        cairo_set_source_rgb(cr, rgb[0], rgb[1], rgb[2]);
        if (lg->swatch_box) {
            double s = row * 0.7;
            cairo_rectangle(cr, x0 + (SWATCH - s) / 2, cy - s / 2, s, s);
            cairo_fill(cr);
        } else {
            cairo_set_line_width(cr, PLT_STYLE.line_width);
            plt_series_dash(cr, lg->idx[i]);
            cairo_move_to(cr, x0, cy);
            cairo_line_to(cr, x0 + SWATCH, cy);
            cairo_stroke(cr);
            cairo_set_dash(cr, NULL, 0, 0);
            if (lg->marker && lg->marker[i]) {
                cairo_arc(cr, x0 + SWATCH / 2, cy, PLT_STYLE.marker_r, 0, 2 * M_PI);
                cairo_fill(cr);
            }
        }
        cairo_set_source_rgb(cr, 0.15, 0.15, 0.15);
        plt_text(cr, x0 + SWATCH + PLT_STYLE.gap, cy, lg->names[i], 0, 0.5, 0);
    }
    cairo_restore(cr);
}

int plt_legend_place(plot_rect area, double w, double h, int (*hits)(const void *ctx, plot_rect box),
                     const void *ctx, plot_rect *box) {
    if (w + 2 * INSET > area.w || h + 2 * INSET > area.h) return -1;
    /* x and y choices: 0 = right/top edge, 1 = left/bottom edge, 2 = centre. Corners first, where a
     * reader looks for a legend, then the middles of the edges. */
    double xs[3] = {area.x + area.w - INSET - w, area.x + INSET, area.x + (area.w - w) / 2};
    double ys[3] = {area.y + INSET, area.y + area.h - INSET - h, area.y + (area.h - h) / 2};
    static const int order[8][2] = {{0, 0}, {1, 0}, {0, 1}, {1, 1}, {2, 0}, {2, 1}, {0, 2}, {1, 2}};
    for (int k = 0; k < 8; k++) {
        plot_rect b = {xs[order[k][0]], ys[order[k][1]], w, h};
        if (!hits(ctx, b)) { *box = b; return 0; }
    }
    return -1;
}
