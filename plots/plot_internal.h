/* Shared by the files of plots/ and nothing else: the style, text helpers, the renderer that turns a
 * draw callback into a file, and the per-kind draw functions that panels reuse. Internal names use the
 * plt_ prefix; the public API (plot_*) is in plots/plot.h. */
#ifndef AL_PLOT_INTERNAL_H
#define AL_PLOT_INTERNAL_H
#include <cairo.h>

#include "plots/plot.h"

/* errors.c: set the message returned by plot_last_error(); returns -1 so callers can `return plt_fail(..)`. */
int plt_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* style.c: the one default style, in points. */
typedef struct {
    const char *font;
    double font_tick, font_label, font_title, font_suptitle, font_legend, font_cell;
    double line_width, axis_width, grid_width, tick_len, minor_len, marker_r, pad, gap;
    double grid_grey, missing_grey;
} plt_style;
extern const plt_style PLT_STYLE;
void plt_palette(int i, double rgb[3]);       /* Okabe-Ito, cycling */
/* Series past the palette's eight colours repeat a colour, so they get a dash pattern to stay distinct. */
void plt_series_dash(cairo_t *cr, int i);
/* Three significant digits with a real minus sign, matching the tick labels; from a thousand up with an SI
 * suffix: 1.97M, 12.3k, 671G. */
void plt_format_value(char *buf, size_t n, double v);
void plt_set_font(cairo_t *cr, double size, int bold);
double plt_text_w(cairo_t *cr, const char *s); /* advance width with the current font */
double plt_font_h(cairo_t *cr);                /* ascent + descent of the current font */
/* Draw s anchored at (x, y): ax 0 = left edge, 0.5 = centre, 1 = right; ay likewise top/middle/bottom of
 * the font box (not the ink), so labels of one row line up whatever their letters. angle in radians,
 * counter-clockwise, rotating about the anchor. */
void plt_text(cairo_t *cr, double x, double y, const char *s, double ax, double ay, double angle);
/* A context for measuring text when nothing is drawn yet (layout queries); free with cairo_destroy. */
cairo_t *plt_measure_cr(void);
/* Font options that make glyph metrics independent of the output scale, so a layout computed for
 * measuring equals the one drawn at any dpi. */
void plt_font_setup(cairo_t *cr);

/* figure.c: size defaults and rendering. */
int plt_output_size(const plot_output *out, double def_w, double def_h, double *w, double *h, double *dpi);
typedef int (*plt_draw_fn)(cairo_t *cr, plot_rect fig, const void *ctx);
int plt_render(const char *path, const plot_output *out, double def_w, double def_h, plt_draw_fn fn,
               const void *ctx);

/* ticks.c: fraction 0..1 of the way from a->lo to a->hi (log10 on log axes). */
double plt_axis_frac(const plot_axis *a, double v);
void plt_axis_scale_label(char *buf, size_t n, double v); /* "2×10⁶" for very large/small values */

/* colormap.c: the anchors of a colour map's ramp (0xRRGGBB, evenly spaced from t = 0 to 1). */
int plt_cmap_stops(plot_cmap cm, const unsigned **stops);

/* axes.c: frames, grids, ticks and labels shared by line and bar plots. */
double plt_ytick_w(cairo_t *cr, const plot_axis *y);          /* widest y tick label */
double plt_xtick_h(cairo_t *cr);                              /* height of the x tick label row */
void plt_draw_grid(cairo_t *cr, plot_rect area, const plot_axis *x, const plot_axis *y);
void plt_draw_frame(cairo_t *cr, plot_rect area);
void plt_draw_yaxis(cairo_t *cr, plot_rect area, const plot_axis *y);
void plt_draw_xaxis(cairo_t *cr, plot_rect area, const plot_axis *x);
/* The title above area, xlabel along the bottom of r, ylabel rotated along the left of r. */
void plt_draw_labels(cairo_t *cr, plot_rect r, plot_rect area, const char *title, const char *xlabel,
                     const char *ylabel);
double plt_title_h(cairo_t *cr, const char *title);           /* vertical room a title takes, 0 if none */
double plt_label_h(cairo_t *cr, const char *label);           /* room an axis label takes, 0 if none */
/* x ticks for an axis of len points: the most ticks (up to a density limit) whose labels do not collide.
 * auto_range: lo/hi are data limits to pad (plot_axis_auto), else fixed limits (plot_axis_ticks). */
int plt_x_fit(cairo_t *cr, plot_axis *a, double lo, double hi, int log, double len, int auto_range);
/* Like plt_x_fit for a vertical axis of len points (label height decides the density). */
int plt_y_fit(cairo_t *cr, plot_axis *a, double lo, double hi, int log, double len, int auto_range);

/* legend.c */
typedef struct {
    const char *const *names; /* entries; colour of entry i is plt_palette(idx[i]) */
    const int *idx;
    int n;
    int swatch_box;           /* 1: filled boxes (bars), 0: line segments */
    const int *marker;        /* per entry, may be NULL */
} plt_legend;
void plt_legend_size(cairo_t *cr, const plt_legend *lg, double *w, double *h);
void plt_legend_draw(cairo_t *cr, const plt_legend *lg, plot_rect box);
/* The first place in area (the corners top-right, top-left, bottom-right, bottom-left, then the middles
 * of the top, bottom, right and left edges) whose legend box is free of data, judged by hits(); returns 0
 * and sets *box, or -1 if every place covers something. */
int plt_legend_place(plot_rect area, double w, double h, int (*hits)(const void *ctx, plot_rect box),
                     const void *ctx, plot_rect *box);

/* table.c: a Markdown table of a document, parsed and fitted to a width (document.c draws it). */
#define PLT_TABLE_MAX_COLS 64
#define PLT_TABLE_PAD 4.0 /* points each side of a cell's text */
typedef struct {
    char **cell;                         /* rows x PLT_TABLE_MAX_COLS, row-major; NULL past a row's end */
    int rows, cols;                      /* rows counts the header row, not the rule under it */
    int header;                          /* 1: row 0 is a header (a rule row followed it) */
    char align[PLT_TABLE_MAX_COLS];      /* 'l', 'r' or 'c' */
    double colw[PLT_TABLE_MAX_COLS];     /* after plt_table_fit: column widths with padding, points */
    double size, width;                  /* the font size and the table's width */
    int body_wraps;                      /* too wide even at the smallest font: body cells wrap at spaces */
} plt_table;
/* The table in lines[0..n) (each starting with '|'); -1 with plt_fail's message when out of memory. */
int plt_table_parse(const char *const *lines, const size_t *lens, int n, plt_table *t);
const char *plt_table_cell(const plt_table *t, int r, int j); /* "" for a missing cell */
/* Column widths and the font size (at most base_size) so the table is at most avail wide. */
void plt_table_fit(cairo_t *cr, plt_table *t, double avail, double base_size);
/* Cell (r, j) broken into lines that fit its column (header cells, and body cells when body_wraps); returns
 * how many (at most cap). */
int plt_table_lines(cairo_t *cr, const plt_table *t, int r, int j, char lines[][256], int cap);
void plt_table_free(plt_table *t);

/* A plot kind (plots/plot.h): what the registry, panels and the one-figure calls need of it. */
struct plot_kind {
    const char *name, *help;
    size_t spec_size;
    const plot_option *options;  /* ended by a NULL name */
    double width, height;        /* default page size, points */
    /* the spec's validity, no drawing and no file: 0, or -1 with plt_fail's message */
    int (*check)(const void *spec);
    /* draws spec into r (its own title and axes included); layout may be NULL; draw = 0 computes the layout only */
    int (*draw)(cairo_t *cr, plot_rect r, const void *spec, void *layout, int draw);
    /* optional: the names of its coloured series (lines' series, bars' groups) in order, at most cap of them
     * (names NULL: only their count), for panels to give one name one colour across the figure; NULL for a
     * kind without named series */
    size_t (*series_names)(const void *spec, const char **names, size_t cap);
};

/* A figure-wide colour per series name (panels): while a list of names is set, a series whose name is in it
 * takes the palette entry and dash of its place in the list, wherever it sits in its own plot; other series
 * (and every series when no list is set) take their position. plt_style_names(NULL, 0) clears the list. */
void plt_style_names(const char *const *names, size_t n);
int plt_series_style(const char *name, int position);

/* Per-kind check (no drawing, no file) and draw-into-a-rectangle, used by the one-figure calls and by
 * panels. draw = 0 computes the layout only. */
int plt_lines_check(const plot_lines_spec *s);
int plt_lines_draw(cairo_t *cr, plot_rect r, const plot_lines_spec *s, plot_lines_layout *lay, int draw);
int plt_heatmap_check(const plot_heatmap_spec *s);
int plt_heatmap_draw(cairo_t *cr, plot_rect r, const plot_heatmap_spec *s, plot_heatmap_layout *lay, int draw);
int plt_bars_check(const plot_bars_spec *s);
int plt_bars_draw(cairo_t *cr, plot_rect r, const plot_bars_spec *s, plot_bars_layout *lay, int draw);

#define PLT_DEF_W 480.0
#define PLT_DEF_H 340.0
#endif
