/* plots/: a small cairo plotting library. It draws numbers and knows nothing of models.
 *
 * Every figure is described by a plain spec struct (zero-initialise it, then fill what you need) and
 * rendered by one call whose output format follows the file extension: .png, .svg or .pdf.
 *
 * Units. All layout is in points (1 pt = 1/72 inch): plot_output.width/height are the page size of an SVG
 * or PDF, and a PNG has round(width * dpi / 72) x round(height * dpi / 72) pixels. Fonts and line widths
 * are in points too, so a figure looks the same in every format and only gets sharper with dpi.
 *
 * Errors. Every int-returning function returns 0 on success and -1 on failure; plot_last_error() then
 * names the problem ("series 'loss': x has 10 points but y has 9"). Input is validated before any file
 * is created, and files are written to a temporary name in the target directory and renamed, so a failed
 * call never leaves a partial figure behind. Nothing here aborts or exits. */
#ifndef AL_PLOT_H
#define AL_PLOT_H
#include <stddef.h>

const char *plot_last_error(void);

/* ---- output (figure.c) ---- */
typedef struct {
    double width, height; /* points; 0 = the kind's default (480 x 340, panels scale with the grid) */
    double dpi;           /* PNG only; 0 = 150 (72 gives one pixel per point) */
} plot_output;

typedef enum { PLOT_FMT_PNG, PLOT_FMT_SVG, PLOT_FMT_PDF } plot_format;
/* The format implied by path's extension (case-insensitive); -1 with an error for anything else. */
int plot_format_of(const char *path, plot_format *fmt);

/* A rectangle in points, origin at the top-left of the figure, y growing downwards (cairo's convention). */
typedef struct { double x, y, w, h; } plot_rect;

/* ---- axes and ticks (ticks.c) ---- */
#define PLOT_MAX_TICKS 32
#define PLOT_MAX_MINOR 128
typedef struct {
    double lo, hi;  /* the axis limits actually used: a degenerate range (lo == hi) is widened */
    int log;        /* 1: base-10 logarithmic axis */
    int n;          /* major ticks, ascending, all within [lo, hi] */
    double v[PLOT_MAX_TICKS];
    char label[PLOT_MAX_TICKS][24];
    int n_minor;    /* log axes: the 2..9 x 10^k marks between decades; linear axes: none */
    double minor[PLOT_MAX_MINOR];
} plot_axis;

/* Ticks for the fixed limits [lo, hi]. Linear axes step by 1, 2 or 5 x 10^k with at most max_ticks marks;
 * log axes (lo > 0) put majors on powers of ten (every k-th decade when there are more than max_ticks)
 * and fall back to 1-2-5 marks when the range spans less than a decade. */
int plot_axis_ticks(plot_axis *a, double lo, double hi, int log, int max_ticks);
/* Limits that enclose data in [dlo, dhi] with a small margin (3% of the span, in log space on a log
 * axis), then ticks as above. */
int plot_axis_auto(plot_axis *a, double dlo, double dhi, int log, int max_ticks);

/* ---- colour maps (colormap.c) ---- */
typedef enum {
    PLOT_CMAP_SEQUENTIAL = 0, /* viridis: dark purple -> blue -> green -> yellow, perceptually uniform */
    PLOT_CMAP_NIAH            /* the needle-in-a-haystack figures' red #F0496E -> yellow #EBB839 -> green #0CD79F */
} plot_cmap;
/* rgb in [0,1] for t in [0,1] (clamped); NaN t gives the light grey used for missing cells. */
void plot_colormap(plot_cmap cm, double t, double rgb[3]);
/* "niah", "sequential" (also "viridis"); -1 with an error otherwise. */
int plot_cmap_by_name(const char *name, plot_cmap *cm);

/* ---- line plots (lines.c) ---- */
typedef struct {
    const char *name;  /* legend entry; NULL or "" leaves the series out of the legend */
    const double *x;   /* NULL: x = 0, 1, ..., ny-1 */
    size_t nx;
    const double *y;
    size_t ny;
    int marker;        /* draw a marker at every point of this series */
    const double *err; /* NULL, or ny half-widths: an error bar y +- err at each point (NaN: none there) */
    size_t n_err;
    const double *lo, *hi; /* NULL, or ny values each: a shaded band from lo to hi (a mean +- an interval) */
    size_t n_lo, n_hi;
} plot_series;

typedef struct {
    const char *title, *xlabel, *ylabel;
    const plot_series *series;
    size_t n_series;
    int log_x, log_y;
    int markers;                    /* markers on every series */
    int has_xlim, has_ylim;         /* fixed limits instead of auto-ranging */
    double xlim[2], ylim[2];
} plot_lines_spec;

/* Where a line plot puts things: the data rectangle and the axes that map data into it. A test can
 * compute a point's pixel by hand from these: px = (area.x + (x - lo) / (hi - lo) * area.w) * dpi / 72
 * (log10 of everything on a log axis), and py the same way from the bottom of area upwards. */
typedef struct {
    plot_rect figure, area, legend; /* legend.w == 0 when there is none */
    int legend_outside;             /* 1 when no corner or edge middle of the data area was free of data */
    plot_axis x, y;
} plot_lines_layout;

int plot_lines(const char *path, const plot_lines_spec *spec, const plot_output *out);
int plot_lines_layout_of(const plot_lines_spec *spec, const plot_output *out, plot_lines_layout *lay);

/* ---- heatmaps (heatmap.c) ---- */
typedef struct {
    const char *title, *xlabel, *ylabel, *cbar_label;
    size_t nx, ny;                  /* columns (x) and rows (y) */
    const double *values;           /* ny * nx, row-major; row 0 is drawn at the top; NaN = missing cell */
    const char *const *x_labels;    /* nx labels, or NULL for 0..nx-1 */
    const char *const *y_labels;    /* ny labels, or NULL for 0..ny-1 */
    size_t n_x_labels, n_y_labels;  /* how many labels were given, checked against nx / ny (0: trusted to match) */
    plot_cmap cmap;
    int has_vmin, has_vmax;         /* fixed ends of the colour scale; an end not given is the data's min / max */
    double vmin, vmax;
    int cell_labels;                /* print each value in its cell */
    const char *label_fmt;          /* printf format for cell labels; NULL = "%.2g" */
} plot_heatmap_spec;

typedef struct {
    plot_rect figure, grid, cbar;   /* grid: the cells; cbar: the colour bar's colour strip */
    double cell_w, cell_h;          /* cell (i, j) spans grid.x + j*cell_w .. and grid.y + i*cell_h .. */
    double vmin, vmax;
    plot_axis cbar_axis;
    size_t x_label_step, y_label_step; /* every k-th category label is drawn: 1 wherever they all fit */
} plot_heatmap_layout;

int plot_heatmap(const char *path, const plot_heatmap_spec *spec, const plot_output *out);
int plot_heatmap_layout_of(const plot_heatmap_spec *spec, const plot_output *out, plot_heatmap_layout *lay);

/* ---- bar charts (bars.c) ---- */
typedef struct {
    const char *name;     /* legend entry */
    const double *values; /* one per category; NaN = no bar */
    size_t n;
} plot_bar_group;

typedef struct {
    const char *title, *xlabel, *ylabel;
    const char *const *categories;
    size_t n_categories;
    const plot_bar_group *groups;  /* one group = plain bars; several = grouped bars */
    size_t n_groups;
    const double *values;          /* instead of groups: plain bars, one unnamed group */
    size_t n_values;
    int log_y;                     /* log y: bars rise from the axis bottom; values must be > 0 */
    int value_labels;              /* print each value above its bar (stacked: each stack's total) */
    int stacked;                   /* the groups stacked in one bar per category (linear axis, values >= 0) */
} plot_bars_spec;

typedef struct {
    plot_rect figure, area, legend;
    int legend_outside;
    double slot_w;                 /* category c spans area.x + c*slot_w .. */
    double bar_w;                  /* bar g of category c starts at area.x + c*slot_w + bar_off + g*bar_w */
    double bar_off;
    plot_axis y;
} plot_bars_layout;

int plot_bars(const char *path, const plot_bars_spec *spec, const plot_output *out);
int plot_bars_layout_of(const plot_bars_spec *spec, const plot_output *out, plot_bars_layout *lay);

/* ---- plot kinds (kinds.c): one table row per kind ----
 * A kind is a spec struct, its check and its drawing (plots/plot_internal.h), and a description of its options
 * from which the Lua bridge reads a spec out of a table (scripts/lua_plot.c), panels draw it, and help lists
 * it. The kinds: lines, heatmap, bars. Adding one: a new file in plots/ defining `const plot_kind
 * plot_kind_<name>` and one row in plots/kinds.c (docs/EXTENDING.md). */
typedef struct plot_kind plot_kind;

typedef enum {
    PLOT_OPT_STRING,   /* const char *                                                                  */
    PLOT_OPT_BOOL,     /* int 0/1                                                                      */
    PLOT_OPT_NUMBER,   /* double; `given`: an int set to 1 when the option is given                    */
    PLOT_OPT_RANGE,    /* double[2] {lo, hi}; `given` as for NUMBER                                    */
    PLOT_OPT_NUMBERS,  /* const double * and its size_t length at `count` (NaN entries allowed)         */
    PLOT_OPT_STRINGS,  /* const char *const * and its size_t length at `count`                         */
    PLOT_OPT_MATRIX,   /* rows of numbers: const double * row-major, size_t columns at `count`, rows at `count2` */
    PLOT_OPT_LIST,     /* a list of item structs (`item` options, `item_size` bytes each), length at `count` */
    PLOT_OPT_COLORMAP, /* plot_cmap, by name                                                           */
} plot_option_type;
enum {
    PLOT_OPT_REQUIRED = 1, /* missing is an error */
    PLOT_OPT_BARE = 2,     /* LIST: a single item may be given bare, recognized by its first required option */
    PLOT_OPT_INDEX = 4,    /* NUMBERS: when absent, 1..n with n the length of the option named `like` */
};
typedef struct plot_option {
    const char *name;
    plot_option_type type;
    int flags;
    size_t offset;                   /* where the value goes in the spec (or item) struct */
    long given, count, count2;       /* offsets of companion fields (see the types); -1: none */
    const struct plot_option *item;  /* LIST: the item's options, ended by a NULL name */
    size_t item_size;
    const char *like;                /* INDEX: the option whose length n is */
    const char *help;                /* one line; for a required option, what it must hold */
} plot_option;

int plot_kind_count(void);
const plot_kind *plot_kind_at(int i);
/* NULL when no kind has the name */
const plot_kind *plot_kind_find(const char *name);
/* "lines|heatmap|bars" (a static buffer) */
const char *plot_kind_names(void);
const char *plot_kind_name(const plot_kind *k);
const char *plot_kind_help(const plot_kind *k);
size_t plot_kind_spec_size(const plot_kind *k);
/* the kind's options, ended by an entry with a NULL name */
const plot_option *plot_kind_options(const plot_kind *k);
/* Adds a kind at run time (a test's toy kind, an extension); -1 with an error on a duplicate name or when
 * the extension table (8 entries) is full. */
int plot_kind_register(const plot_kind *k);
/* One figure of kind k from spec (a filled struct of the kind's spec type). */
int plot_figure(const char *path, const plot_kind *k, const void *spec, const plot_output *out);

/* ---- panels (panels.c) ---- */
typedef struct {
    const plot_kind *kind;         /* e.g. plot_kind_find("lines") */
    const void *spec;              /* a spec of that kind */
} plot_panel;

typedef struct {
    const char *title;             /* shared title above the grid */
    int cols;                      /* 0 = min(n, 3) */
    const plot_panel *panels;
    size_t n_panels;               /* filled row by row */
} plot_panels_spec;

int plot_panels(const char *path, const plot_panels_spec *spec, const plot_output *out);
/* The palette entry (and dash) series `series` of panel `panel` is drawn with: one name, one colour in every
 * panel of the figure (the figure's names in order of first appearance); an unnamed series takes its position.
 * -1 + message for a panel or series that does not exist. */
int plot_panels_series_style(const plot_panels_spec *spec, size_t panel, size_t series);
/* The rectangle panel i is drawn into (its own title and axes included). */
int plot_panel_rect(const plot_panels_spec *spec, const plot_output *out, size_t i, plot_rect *r);

/* ---- documents (document.c): text and figures in one multi-page PDF ---- */
typedef struct {
    const char *title;   /* heading at the top of the page; NULL = none */
    const char *text;    /* body: "# " / "## " headings, "- " bullets, blank-line paragraphs, verbatim lines
                            (starting with '|' or four spaces) in monospace; wrapped, continued on new pages */
    const char *image;   /* a PNG file drawn below the text, scaled to fit; NULL = none */
    const char *caption; /* under the image */
} plot_page;

typedef struct {
    const char *title;   /* PDF metadata and the footer of every page */
    const plot_page *pages;
    size_t n_pages;      /* each starts a new PDF page; long text adds pages */
} plot_document_spec;

/* A .pdf only (A4 unless out->width/height are set, in points; dpi unused). *n_pages (may be NULL) receives
 * the number of PDF pages written. */
int plot_document(const char *path, const plot_document_spec *spec, const plot_output *out, int *n_pages);

#endif
