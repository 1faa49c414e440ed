/* A toy plot kind, the worked example of docs/EXTENDING.md (not shipped: tests register it at run time,
 * standing for its one row in plots/kinds.c). A scatter plot: one dot per (x, y) point, linear axes, drawn
 * with the same axes, ticks and labels as the line plots. Its option table is all the Lua bridge needs:
 * archlab.plot.scatter{ file =, x = {...}, y = {...}, title = ... } and panels of kind "scatter" follow from it.
 * To ship it: move this file to plots/ and add X(scatter) to PLOT_KINDS in plots/kinds.c. */
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "plots/plot_internal.h"

typedef struct scatter_spec {
    const char *title, *xlabel, *ylabel;
    const double *x, *y; /* the points; NaN in either leaves a point out */
    size_t nx, ny;
} scatter_spec;

/* what the tests read back: where the data lands */
typedef struct scatter_layout {
    plot_rect area;
    plot_axis x, y;
} scatter_layout;

static int scatter_check(const void *spec) {
    const scatter_spec *s = spec;
    if (!s || !s->x || !s->y || s->nx == 0) return plt_fail("scatter plot has no points");
    if (s->nx != s->ny) return plt_fail("scatter plot: x has %zu points but y has %zu", s->nx, s->ny);
    for (size_t i = 0; i < s->nx; i++)
        if (isfinite(s->x[i]) && isfinite(s->y[i])) return 0;
    return plt_fail("scatter plot: no point has finite x and y");
}

static void range(const double *v, const double *w, size_t n, double *lo, double *hi) {
    *lo = INFINITY; *hi = -INFINITY;
    for (size_t i = 0; i < n; i++)
        if (isfinite(v[i]) && isfinite(w[i])) { *lo = fmin(*lo, v[i]); *hi = fmax(*hi, v[i]); }
}

static int scatter_draw(cairo_t *cr, plot_rect r, const void *spec, void *layout, int draw) {
    const scatter_spec *s = spec;
    const plt_style *st = &PLT_STYLE;
    scatter_layout L;
    memset(&L, 0, sizeof L);
    double top = r.y + st->pad + plt_title_h(cr, s->title);
    double bottom = r.y + r.h - st->pad - plt_label_h(cr, s->xlabel) - plt_xtick_h(cr) - st->tick_len - st->gap;
    double lo, hi;
    range(s->y, s->x, s->ny, &lo, &hi);
    if (plt_y_fit(cr, &L.y, lo, hi, 0, bottom - top, 1)) return -1;
    double left = r.x + st->pad + plt_label_h(cr, s->ylabel) + plt_ytick_w(cr, &L.y) + st->tick_len + st->gap;
    double right = r.x + r.w - st->pad - 10;
    L.area = (plot_rect){left, top, right - left, bottom - top};
    if (L.area.w < 20 || L.area.h < 20) return plt_fail("figure too small for a scatter plot (%g x %g pt)", r.w, r.h);
    range(s->x, s->y, s->nx, &lo, &hi);
    if (plt_x_fit(cr, &L.x, lo, hi, 0, L.area.w, 1)) return -1;
    if (draw) {
        plt_draw_grid(cr, L.area, &L.x, &L.y);
        double rgb[3];
        plt_palette(0, rgb);
        cairo_set_source_rgb(cr, rgb[0], rgb[1], rgb[2]);
        for (size_t i = 0; i < s->nx; i++) {
            if (!isfinite(s->x[i]) || !isfinite(s->y[i])) continue;
            double px = L.area.x + plt_axis_frac(&L.x, s->x[i]) * L.area.w;
            double py = L.area.y + L.area.h - plt_axis_frac(&L.y, s->y[i]) * L.area.h;
            cairo_new_sub_path(cr);
            cairo_arc(cr, px, py, 1.5 * st->marker_r, 0, 2 * M_PI);
        }
        cairo_fill(cr);
        plt_draw_frame(cr, L.area);
        plt_draw_yaxis(cr, L.area, &L.y);
        plt_draw_xaxis(cr, L.area, &L.x);
        plt_draw_labels(cr, r, L.area, s->title, s->xlabel, s->ylabel);
    }
    if (layout) *(scatter_layout *)layout = L;
    return 0;
}

#define S(f) offsetof(scatter_spec, f)
static const plot_option scatter_options[] = {
    {"x", PLOT_OPT_NUMBERS, PLOT_OPT_REQUIRED, S(x), -1, S(nx), -1, .help = "the points' x"},
    {"y", PLOT_OPT_NUMBERS, PLOT_OPT_REQUIRED, S(y), -1, S(ny), -1, .help = "the points' y"},
    {"title", PLOT_OPT_STRING, 0, S(title), -1, -1, -1, .help = "above the plot"},
    {"xlabel", PLOT_OPT_STRING, 0, S(xlabel), -1, -1, -1, .help = "x axis label"},
    {"ylabel", PLOT_OPT_STRING, 0, S(ylabel), -1, -1, -1, .help = "y axis label"},
    {NULL},
};
#undef S

const plot_kind plot_kind_scatter = {
    .name = "scatter", .help = "toy: one dot per (x, y) point", .spec_size = sizeof(scatter_spec),
    .options = scatter_options, .width = PLT_DEF_W, .height = PLT_DEF_H, .check = scatter_check, .draw = scatter_draw,
};
