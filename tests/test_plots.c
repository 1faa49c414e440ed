/* plots/: ticks on known ranges, every kind rendered to PNG and read back with libpng (size, data pixels
 * at the pixels a hand-computed axis mapping predicts, evenly spaced decades, heatmap cell colours), the
 * three formats, bad input (clear errors, no files left behind), the Lua binding and `archlab plot`.
 *
 * Expected pixels come from the documented layout: a layout call gives the data rectangle and the axis
 * limits, and the test maps data to pixels itself (px = (area.x + frac * area.w) * dpi / 72), with colours
 * written out as hex constants from the palette and colour map definitions. */
#include <cairo.h>
#include <dirent.h>
#include <dlfcn.h>
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "plots/plot.h"
#include "plots/plot_internal.h" /* the toy plot kind's layout at the end */
#include "scripts/lua_plot.h"
#include "tests/harness.h"

#define BLUE 0x0072B2   /* Okabe-Ito, series 0 */
#define ORANGE 0xE69F00 /* series 1 */

/* ---- helpers ---- */

/* Cairo and fontconfig keep font caches for the life of the process; release them at exit so the
 * sanitizer build's leak check sees only our own allocations. FcFini is looked up at run time because
 * the tests do not link fontconfig directly (cairo does). */
__attribute__((destructor)) static void release_font_caches(void) {
    cairo_debug_reset_static_data();
    void (*fc_fini)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "FcFini");
    if (fc_fini) fc_fini();
}

typedef struct { int w, h; unsigned char *px; } img; /* 8-bit RGB */

static int img_read(const char *path, img *im) {
    png_image pi;
    memset(&pi, 0, sizeof pi);
    im->px = NULL;
    im->w = im->h = 0;
    pi.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&pi, path)) return -1;
    pi.format = PNG_FORMAT_RGB;
    im->w = (int)pi.width;
    im->h = (int)pi.height;
    im->px = malloc(PNG_IMAGE_SIZE(pi));
    if (!im->px || !png_image_finish_read(&pi, NULL, im->px, 0, NULL)) { free(im->px); png_image_free(&pi); return -1; }
    return 0;
}

static void img_at(const img *im, int x, int y, int rgb[3]) {
    if (x < 0 || y < 0 || x >= im->w || y >= im->h) { rgb[0] = rgb[1] = rgb[2] = -1000; return; }
    const unsigned char *p = im->px + ((size_t)y * im->w + x) * 3;
    rgb[0] = p[0]; rgb[1] = p[1]; rgb[2] = p[2];
}

/* Is the pixel holding point (x, y) in points within tol of colour hex (0xRRGGBB)? */
static int color_at(const img *im, double x_pt, double y_pt, double scale, unsigned hex, int tol) {
    int c[3];
    img_at(im, (int)floor(x_pt * scale), (int)floor(y_pt * scale), c);
    int want[3] = {(int)(hex >> 16) & 0xff, (int)(hex >> 8) & 0xff, (int)hex & 0xff};
    int ok = 1;
    for (int k = 0; k < 3; k++) ok &= abs(c[k] - want[k]) <= tol;
    if (!ok)
        th_note("pixel (%d,%d) is #%02X%02X%02X, expected #%06X", (int)floor(x_pt * scale), (int)floor(y_pt * scale),
                c[0] & 255, c[1] & 255, c[2] & 255, hex);
    return ok;
}

/* Is a pixel within one of point (x, y) (a 3 x 3 block: an antialiased line may straddle two rows) within tol of
 * colour hex? */
static int color_near(const img *im, double x_pt, double y_pt, unsigned hex, int tol) {
    int want[3] = {(int)(hex >> 16) & 0xff, (int)(hex >> 8) & 0xff, (int)hex & 0xff};
    for (int dy = -1; dy <= 1; dy++)
        for (int dx = -1; dx <= 1; dx++) {
            int c[3], ok = 1;
            int px = (int)floor(x_pt) + dx, py = (int)floor(y_pt) + dy;
            if (px < 0 || py < 0 || px >= im->w || py >= im->h) continue;
            img_at(im, px, py, c);
            for (int k = 0; k < 3; k++) ok &= abs(c[k] - want[k]) <= tol;
            if (ok) return 1;
        }
    th_note("no pixel near (%d,%d) is #%06X", (int)floor(x_pt), (int)floor(y_pt), hex);
    return 0;
}

static char tmpdir[64];
static const char *fresh_dir(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/archlab-plots-XXXXXX");
    return mkdtemp(tmpdir);
}
static char pathbuf[256];
static const char *in_dir(const char *name) {
    snprintf(pathbuf, sizeof pathbuf, "%s/%s", tmpdir, name);
    return pathbuf;
}
static int dir_entries(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}
static void rm_dir(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    char p[512];
    for (struct dirent *e; (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(dir);
}
static long file_size(const char *p) {
    struct stat st;
    return stat(p, &st) ? -1 : (long)st.st_size;
}

/* The hand-computed axis mapping: fraction of the way along an axis. */
static double frac(const plot_axis *a, double v) {
    return a->log ? (log10(v) - log10(a->lo)) / (log10(a->hi) - log10(a->lo)) : (v - a->lo) / (a->hi - a->lo);
}
static double px_x(plot_rect area, const plot_axis *a, double v) { return area.x + frac(a, v) * area.w; }
static double px_y(plot_rect area, const plot_axis *a, double v) { return area.y + area.h - frac(a, v) * area.h; }

/* Is step m x 10^k with m in {1, 2, 5}? */
static int is_125(double step) {
    double k = floor(log10(step) + 1e-9), m = step / pow(10, k);
    return fabs(m - 1) < 1e-6 || fabs(m - 2) < 1e-6 || fabs(m - 5) < 1e-6;
}

/* ---- ticks ---- */

TEST(plots_ticks_0_to_1) {
    plot_axis a;
    EXPECT(plot_axis_ticks(&a, 0, 1, 0, 6) == 0);
    EXPECT(a.n == 6);
    for (int i = 0; i < a.n; i++) EXPECT_NEAR(a.v[i], 0.2 * i, 1e-12);
    EXPECT(!strcmp(a.label[0], "0.0") && !strcmp(a.label[1], "0.2") && !strcmp(a.label[5], "1.0"));
    EXPECT(a.lo == 0 && a.hi == 1 && a.n_minor == 0);
    EXPECT(plot_axis_ticks(&a, 0, 1, 0, 11) == 0);
    EXPECT(a.n == 11 && !strcmp(a.label[3], "0.3")); /* 3 x 0.1 prints as 0.3, not 0.30000000000000004 */
    /* many ranges: 1-2-5 steps, within limits, at most max_ticks, at least 2 */
    double ranges[][2] = {{0, 7}, {0.013, 0.0171}, {-3, 1234}, {1e5, 3e7}, {99, 101}, {-1e-6, 1e-6}};
    for (size_t r = 0; r < sizeof ranges / sizeof ranges[0]; r++) {
        EXPECT(plot_axis_ticks(&a, ranges[r][0], ranges[r][1], 0, 7) == 0);
        EXPECT(a.n >= 2 && a.n <= 7);
        EXPECT(is_125(a.v[1] - a.v[0]));
        EXPECT(a.v[0] >= ranges[r][0] - 1e-12 && a.v[a.n - 1] <= ranges[r][1] + 1e-12);
    }
    EXPECT(plot_axis_ticks(&a, 0, 3e7, 0, 4) == 0);
    /* long digit strings get the x10^n form: 10⁷, 2×10⁷ */
    EXPECT(!strcmp(a.label[1], "10\u2077") && !strcmp(a.label[2], "2\u00d710\u2077"));
}

TEST(plots_ticks_log_1em3_to_1e4) {
    plot_axis a;
    EXPECT(plot_axis_ticks(&a, 1e-3, 1e4, 1, 10) == 0);
    EXPECT(a.n == 8);
    for (int i = 0; i < a.n; i++) EXPECT_NEAR(log10(a.v[i]), i - 3, 1e-12);
    EXPECT(!strcmp(a.label[0], "10\u207b\u00b3")); /* 10⁻³ */
    EXPECT(!strcmp(a.label[7], "10\u2074"));        /* 10⁴ */
    EXPECT(a.n_minor == 7 * 8);                      /* 2..9 x 10^k in each of the 7 decades */
    int has_2e_3 = 0, has_9e3 = 0;
    for (int i = 0; i < a.n_minor; i++) {
        has_2e_3 |= fabs(a.minor[i] - 2e-3) < 1e-15;
        has_9e3 |= fabs(a.minor[i] - 9e3) < 1e-9;
    }
    EXPECT(has_2e_3 && has_9e3);
    /* crowded: every 2nd decade, still powers of ten */
    EXPECT(plot_axis_ticks(&a, 1e-3, 1e4, 1, 5) == 0);
    EXPECT(a.n >= 2 && a.n <= 5);
    for (int i = 0; i < a.n; i++) EXPECT_NEAR(log10(a.v[i]), round(log10(a.v[i])), 1e-12);
    /* under two decades: 1-2-5 marks */
    EXPECT(plot_axis_ticks(&a, 1.5, 40, 1, 10) == 0);
    EXPECT(a.n == 4 && a.v[0] == 2 && a.v[1] == 5 && a.v[2] == 10 && a.v[3] == 20);
}

TEST(plots_ticks_negative_range) {
    plot_axis a;
    EXPECT(plot_axis_ticks(&a, -7.3, -2.1, 0, 6) == 0);
    EXPECT(a.n == 5);
    for (int i = 0; i < a.n; i++) EXPECT_NEAR(a.v[i], -7 + i, 1e-12);
    EXPECT(!strcmp(a.label[0], "\u22127")); /* a real minus sign */
    EXPECT(plot_axis_ticks(&a, -1, 1, 0, 5) == 0);
    EXPECT(a.n == 5 && !strcmp(a.label[2], "0.0")); /* no "-0.0" */
}

TEST(plots_ticks_constant_series) {
    plot_axis a;
    EXPECT(plot_axis_ticks(&a, 3, 3, 0, 6) == 0);
    EXPECT(a.lo < 3 && a.hi > 3 && a.n >= 2);
    int has3 = 0;
    for (int i = 0; i < a.n; i++) has3 |= fabs(a.v[i] - 3) < 1e-12;
    EXPECT(has3);
    EXPECT(plot_axis_ticks(&a, 0, 0, 0, 6) == 0);
    EXPECT(a.lo == -1 && a.hi == 1);
    EXPECT(plot_axis_auto(&a, 1e-3, 1e-3, 1, 10) == 0);
    EXPECT(a.lo < 1e-3 && a.hi > 1e-3);
    int has = 0;
    for (int i = 0; i < a.n; i++) has |= fabs(a.v[i] - 1e-3) < 1e-15;
    EXPECT(has);
}

TEST(plots_ticks_bad_limits) {
    plot_axis a;
    EXPECT(plot_axis_ticks(&a, 2, 1, 0, 6) == -1 && strstr(plot_last_error(), "reversed"));
    EXPECT(plot_axis_ticks(&a, NAN, 1, 0, 6) == -1 && strstr(plot_last_error(), "finite"));
    EXPECT(plot_axis_ticks(&a, 0, 1, 1, 6) == -1 && strstr(plot_last_error(), "positive"));
}

TEST(plots_colormap_anchors) {
    double c[3];
    plot_colormap(PLOT_CMAP_NIAH, 0, c);
    EXPECT_NEAR(c[0] * 255, 0xF0, 1e-9); EXPECT_NEAR(c[1] * 255, 0x49, 1e-9); EXPECT_NEAR(c[2] * 255, 0x6E, 1e-9);
    plot_colormap(PLOT_CMAP_NIAH, 1, c);
    EXPECT_NEAR(c[0] * 255, 0x0C, 1e-9); EXPECT_NEAR(c[1] * 255, 0xD7, 1e-9); EXPECT_NEAR(c[2] * 255, 0x9F, 1e-9);
    plot_colormap(PLOT_CMAP_SEQUENTIAL, 2.0, c); /* clamped */
    EXPECT_NEAR(c[0] * 255, 0xFD, 1e-9); EXPECT_NEAR(c[2] * 255, 0x25, 1e-9);
    plot_cmap cm;
    EXPECT(plot_cmap_by_name("niah", &cm) == 0 && cm == PLOT_CMAP_NIAH);
    EXPECT(plot_cmap_by_name("jet", &cm) == -1 && strstr(plot_last_error(), "'jet'"));
}

/* ---- line plots ---- */

TEST(plots_lines_png_pixels) {
    EXPECT(fresh_dir() != NULL);
    double x[5] = {0, 1, 2, 3, 4}, y[5] = {1, 2, NAN, 4, 5}, y2[5] = {5, 4.5, 4, 3.5, 3};
    plot_series s[2] = {{.name = "up", .x = x, .nx = 5, .y = y, .ny = 5, .marker = 1}, {.name = "down", .x = x, .nx = 5, .y = y2, .ny = 5, .marker = 1}};
    plot_lines_spec sp = {.title = "t", .xlabel = "x", .ylabel = "y", .series = s, .n_series = 2};
    plot_output o = {.width = 400, .height = 300, .dpi = 144};
    plot_lines_layout L;
    EXPECT(plot_lines(in_dir("l.png"), &sp, &o) == 0);
    EXPECT(plot_lines_layout_of(&sp, &o, &L) == 0);
    img im;
    EXPECT(img_read(in_dir("l.png"), &im) == 0);
    EXPECT(im.w == 800 && im.h == 600);
    /* the plot area lies inside the figure, with margins for the tick labels */
    EXPECT(L.area.x > 20 && L.area.y > 10 && L.area.x + L.area.w < 400 && L.area.y + L.area.h < 290);
    double sc = 2.0;
    /* markers sit where the axis mapping puts the points */
    EXPECT(color_at(&im, px_x(L.area, &L.x, 0), px_y(L.area, &L.y, 1), sc, BLUE, 12));
    EXPECT(color_at(&im, px_x(L.area, &L.x, 3), px_y(L.area, &L.y, 4), sc, BLUE, 12));
    EXPECT(color_at(&im, px_x(L.area, &L.x, 1), px_y(L.area, &L.y, 4.5), sc, ORANGE, 12));
    EXPECT(color_at(&im, px_x(L.area, &L.x, 4), px_y(L.area, &L.y, 3), sc, ORANGE, 12));
    /* the NaN leaves a gap: where the line would have passed (x=2, y=3) is not blue */
    int c[3];
    img_at(&im, (int)(px_x(L.area, &L.x, 2) * sc), (int)(px_y(L.area, &L.y, 3) * sc), c);
    EXPECT(c[0] > 150); /* blue has red 0x00; background and grid are light */
    /* and between two drawn points the line is there: midpoint of (0,1)-(1,2) */
    EXPECT(color_at(&im, px_x(L.area, &L.x, 0.5), px_y(L.area, &L.y, 1.5), sc, BLUE, 40));
    free(im.px);
    rm_dir(tmpdir);
}

TEST(plots_lines_log_decades_evenly_spaced) {
    EXPECT(fresh_dir() != NULL);
    double x[8], y[8];
    for (int i = 0; i < 8; i++) { x[i] = i; y[i] = pow(10, i - 3); }
    plot_series s = {.name = NULL, .x = x, .nx = 8, .y = y, .ny = 8, .marker = 1};
    plot_lines_spec sp = {.series = &s, .n_series = 1, .log_y = 1};
    plot_output o = {.width = 360, .height = 400, .dpi = 72};
    plot_lines_layout L;
    EXPECT(plot_lines(in_dir("log.png"), &sp, &o) == 0);
    EXPECT(plot_lines_layout_of(&sp, &o, &L) == 0);
    img im;
    EXPECT(img_read(in_dir("log.png"), &im) == 0);
    EXPECT(im.w == 360 && im.h == 400);
    EXPECT(L.y.log && L.y.n == 8);
    /* each decade's marker at its hand-computed pixel, and the pixel rows of successive decades a constant
     * distance apart */
    double rows[8];
    for (int i = 0; i < 8; i++) {
        rows[i] = px_y(L.area, &L.y, y[i]);
        EXPECT(color_at(&im, px_x(L.area, &L.x, x[i]), rows[i], 1.0, BLUE, 40));
    }
    for (int i = 1; i < 7; i++) EXPECT_NEAR(rows[i] - rows[i - 1], rows[i + 1] - rows[i], 1e-9);
    /* the marker's vertical centre found in the image: scan the column for blue runs */
    double d0 = -1;
    for (int i = 0; i + 1 < 8; i++) {
        int col = (int)px_x(L.area, &L.x, x[i]);
        int top = -1, bot = -1, c[3];
        for (int r = (int)rows[i] - 6; r <= (int)rows[i] + 6; r++) {
            img_at(&im, col, r, c);
            if (c[0] < 60 && c[2] > 120) { if (top < 0) top = r; bot = r; }
        }
        int col2 = (int)px_x(L.area, &L.x, x[i + 1]), top2 = -1, bot2 = -1;
        for (int r = (int)rows[i + 1] - 6; r <= (int)rows[i + 1] + 6; r++) {
            img_at(&im, col2, r, c);
            if (c[0] < 60 && c[2] > 120) { if (top2 < 0) top2 = r; bot2 = r; }
        }
        double d = (top2 + bot2) / 2.0 - (top + bot) / 2.0;
        if (d0 < 0) d0 = d;
        EXPECT_NEAR(d, d0, 1.01); /* evenly spaced to within a pixel */
    }
    free(im.px);
    rm_dir(tmpdir);
}

/* A long noisy run (a 200k-step loss curve) is thinned to what the pixels can show before cairo strokes it;
 * the drawn band must still reach the extremes, and a NaN stretch must still leave a gap. */
TEST(plots_lines_dense_series) {
    EXPECT(fresh_dir() != NULL);
    enum { N = 200000 };
    double *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y);
    for (int i = 0; i < N; i++) { x[i] = i; y[i] = (i >= 90000 && i < 110000) ? NAN : i % 2; }
    plot_series s = {.name = NULL, .x = x, .nx = N, .y = y, .ny = N, .marker = 0};
    plot_lines_spec sp = {.series = &s, .n_series = 1};
    plot_output o = {.width = 400, .height = 300, .dpi = 72};
    plot_lines_layout L;
    EXPECT(plot_lines(in_dir("dense.png"), &sp, &o) == 0);
    EXPECT(plot_lines_layout_of(&sp, &o, &L) == 0);
    img im;
    EXPECT(img_read(in_dir("dense.png"), &im) == 0);
    double at = px_x(L.area, &L.x, 40000);
    EXPECT(color_at(&im, at, px_y(L.area, &L.y, 0.5), 1.0, BLUE, 2));
    EXPECT(color_at(&im, at, px_y(L.area, &L.y, 0.98), 1.0, BLUE, 2));
    EXPECT(color_at(&im, at, px_y(L.area, &L.y, 0.02), 1.0, BLUE, 2));
    int c[3];
    img_at(&im, (int)px_x(L.area, &L.x, 100000), (int)px_y(L.area, &L.y, 0.5), c);
    EXPECT(c[0] > 150); /* the gap */
    free(im.px);
    free(x);
    free(y);
    rm_dir(tmpdir);
}

TEST(plots_lines_legend_avoids_data) {
    double x[3] = {0, 1, 2}, up[3] = {0, 1, 2};
    plot_series s = {.name = "rising", .x = x, .nx = 3, .y = up, .ny = 3, .marker = 0};
    plot_lines_spec sp = {.series = &s, .n_series = 1};
    plot_lines_layout L;
    EXPECT(plot_lines_layout_of(&sp, NULL, &L) == 0);
    /* the line runs bottom-left to top-right: the legend goes top-left */
    EXPECT(L.legend.w > 0 && !L.legend_outside);
    EXPECT(L.legend.x < L.area.x + L.area.w / 2 && L.legend.y < L.area.y + L.area.h / 2);
    /* a zig-zag through every corner: no free corner, the legend moves outside the data area */
    double zx[6] = {0, 1, 0, 1, 0, 1}, zy[6] = {0, 0, 1, 1, 0.5, 0.5};
    plot_series z = {.name = "everywhere", .x = zx, .nx = 6, .y = zy, .ny = 6, .marker = 0};
    sp.series = &z;
    double wide_x[2] = {0, 1}, wide_y[2] = {0, 1};
    (void)wide_x; (void)wide_y;
    EXPECT(plot_lines_layout_of(&sp, NULL, &L) == 0);
    EXPECT(L.legend_outside && L.legend.x >= L.area.x + L.area.w);
}

/* ---- heatmaps ---- */

/* Category labels are thinned only where neighbours would touch: the drawn ones keep 3 pt apart, and one step
 * less would not. 24 columns of "0".."23" on a 480 pt page have cells of about 15 pt for labels of at most
 * about 10 pt: all drawn (the rule before thinned them to every other one: widest + 6 pt > cell). */
static void check_label_step(const plot_heatmap_spec *hs, const plot_output *o, const char *const *labels) {
    plot_heatmap_layout H;
    EXPECT(plot_heatmap_layout_of(hs, o, &H) == 0);
    cairo_t *cr = plt_measure_cr();
    plt_set_font(cr, PLT_STYLE.font_tick, 0);
    size_t k = H.x_label_step;
    double worst = INFINITY, worst_less = INFINITY; /* the closest drawn pair at step k, and at k - 1 */
    for (size_t j = 0; j + k < hs->nx; j += k)
        worst = fmin(worst, k * H.cell_w - (plt_text_w(cr, labels[j]) + plt_text_w(cr, labels[j + k])) / 2);
    if (k > 1)
        for (size_t j = 0; j + k - 1 < hs->nx; j += k - 1)
            worst_less = fmin(worst_less, (k - 1) * H.cell_w - (plt_text_w(cr, labels[j]) + plt_text_w(cr, labels[j + k - 1])) / 2);
    cairo_destroy(cr);
    th_note("%zu columns of %.1f pt: every %zu-th label, closest gap %.1f pt (%.1f pt at one less)", hs->nx, H.cell_w, k,
            worst, worst_less);
    EXPECT(k >= 1 && worst >= 3 - 1e-9);
    EXPECT(k == 1 || worst_less < 3);
}

/* Value labels: three significant digits, SI suffixes from a thousand up, a real minus sign */
TEST(plots_value_labels_use_si_suffixes) {
    static const struct { double v; const char *want; } cases[] = {
        {1.97e6, "1.97M"}, {12345, "12.3k"}, {671e9, "671G"}, {999.4, "999"}, {999.7, "1k"}, {1000, "1k"},
        {0.0024, "0.0024"}, {0, "0"}, {-2500, "\u22122.5k"}, {3.14159, "3.14"}, {2.5e18, "2.5E"}, {1e22, "1e+22"},
    };
    char buf[32];
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        plt_format_value(buf, sizeof buf, cases[i].v);
        if (strcmp(buf, cases[i].want)) th_note("%g -> '%s', expected '%s'", cases[i].v, buf, cases[i].want);
        EXPECT(!strcmp(buf, cases[i].want));
    }
}

TEST(plots_heatmap_labels_thinned_only_where_they_collide) {
    static char text[64][8];
    const char *labels[64];
    for (int j = 0; j < 64; j++) { snprintf(text[j], sizeof text[j], "%d", j); labels[j] = text[j]; }
    double v[64];
    for (int j = 0; j < 64; j++) v[j] = j;
    plot_output o = {.width = 480, .height = 340};
    plot_heatmap_spec hs = {.nx = 24, .ny = 1, .values = v, .x_labels = labels, .n_x_labels = 24};
    plot_heatmap_layout H;
    EXPECT(plot_heatmap_layout_of(&hs, &o, &H) == 0 && H.x_label_step == 1);
    check_label_step(&hs, &o, labels);
    hs.nx = hs.n_x_labels = 64; /* 64 columns of about 6 pt: thinned */
    EXPECT(plot_heatmap_layout_of(&hs, &o, &H) == 0 && H.x_label_step > 1);
    check_label_step(&hs, &o, labels);
}

TEST(plots_heatmap_cell_colours) {
    EXPECT(fresh_dir() != NULL);
    /* rows top to bottom; NIAH map over 0..1: 0 -> #F0496E, 0.5 -> #EBB839, 1 -> #0CD79F */
    double v[2 * 3] = {0, 0.5, 1, 1, NAN, 0};
    const char *xl[3] = {"1K", "2K", "4K"}, *yl[2] = {"0%", "100%"};
    plot_heatmap_spec h = {.nx = 3, .ny = 2, .values = v, .x_labels = xl, .y_labels = yl, .cmap = PLOT_CMAP_NIAH,
                           .has_vmin = 1, .has_vmax = 1, .vmin = 0, .vmax = 1, .title = "niah"};
    plot_output o = {.width = 400, .height = 300, .dpi = 144};
    plot_heatmap_layout L;
    EXPECT(plot_heatmap(in_dir("h.png"), &h, &o) == 0);
    EXPECT(plot_heatmap_layout_of(&h, &o, &L) == 0);
    img im;
    EXPECT(img_read(in_dir("h.png"), &im) == 0);
    EXPECT(im.w == 800 && im.h == 600);
    EXPECT_NEAR(L.cell_w, L.grid.w / 3, 1e-9);
    unsigned want[6] = {0xF0496E, 0xEBB839, 0x0CD79F, 0x0CD79F, 0xD9D9D9 /* missing: 0.85 grey */, 0xF0496E};
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
            EXPECT(color_at(&im, L.grid.x + (j + 0.5) * L.grid.w / 3, L.grid.y + (i + 0.5) * L.grid.h / 2, 2.0,
                            want[i * 3 + j], 2));
    /* the colour bar: vmax colour at its top, vmin at its bottom */
    EXPECT(color_at(&im, L.cbar.x + L.cbar.w / 2, L.cbar.y + 2, 2.0, 0x0CD79F, 6));
    EXPECT(color_at(&im, L.cbar.x + L.cbar.w / 2, L.cbar.y + L.cbar.h - 2, 2.0, 0xF0496E, 6));
    EXPECT(L.cbar.x > L.grid.x + L.grid.w && L.cbar_axis.n >= 2);
    free(im.px);

    /* expert load: the sequential map, data range by default: min -> #440154, max -> #FDE725 */
    double load[2 * 4] = {0.1, 0.2, 0.3, 0.4, 0.25, 0.25, 0.25, 0.25};
    plot_heatmap_spec e = {.nx = 4, .ny = 2, .values = load, .cmap = PLOT_CMAP_SEQUENTIAL};
    EXPECT(plot_heatmap(in_dir("e.png"), &e, &o) == 0);
    EXPECT(plot_heatmap_layout_of(&e, &o, &L) == 0);
    EXPECT(img_read(in_dir("e.png"), &im) == 0);
    EXPECT_NEAR(L.vmin, 0.1, 1e-12); EXPECT_NEAR(L.vmax, 0.4, 1e-12);
    EXPECT(color_at(&im, L.grid.x + 0.5 * L.grid.w / 4, L.grid.y + 0.5 * L.grid.h / 2, 2.0, 0x440154, 2));
    EXPECT(color_at(&im, L.grid.x + 3.5 * L.grid.w / 4, L.grid.y + 0.5 * L.grid.h / 2, 2.0, 0xFDE725, 2));
    free(im.px);

    /* value labels: dark ink inside a light cell when on, none when off */
    h.cell_labels = 1;
    h.label_fmt = "%.1f";
    EXPECT(plot_heatmap(in_dir("hl.png"), &h, &o) == 0);
    EXPECT(img_read(in_dir("hl.png"), &im) == 0);
    int dark = 0, c[3];
    double cx = L.grid.x; (void)cx;
    plot_heatmap_layout L2;
    EXPECT(plot_heatmap_layout_of(&h, &o, &L2) == 0);
    for (int yy = (int)((L2.grid.y + 0.3 * L2.cell_h) * 2); yy < (int)((L2.grid.y + 0.7 * L2.cell_h) * 2); yy++)
        for (int xx = (int)((L2.grid.x + 2.3 * L2.cell_w) * 2); xx < (int)((L2.grid.x + 2.7 * L2.cell_w) * 2); xx++) {
            img_at(&im, xx, yy, c);
            dark += c[0] + c[1] + c[2] < 200;
        }
    EXPECT(dark > 5);
    free(im.px);
    rm_dir(tmpdir);
}

/* ---- bars ---- */

TEST(plots_bars_pixels) {
    EXPECT(fresh_dir() != NULL);
    const char *cats[3] = {"MHA", "GQA", "MLA"};
    double v[3] = {1, 2, 3};
    plot_bar_group g = {NULL, v, 3};
    plot_bars_spec b = {.categories = cats, .n_categories = 3, .groups = &g, .n_groups = 1};
    plot_output o = {.width = 400, .height = 300, .dpi = 72};
    plot_bars_layout L;
    EXPECT(plot_bars(in_dir("b.png"), &b, &o) == 0);
    EXPECT(plot_bars_layout_of(&b, &o, &L) == 0);
    img im;
    EXPECT(img_read(in_dir("b.png"), &im) == 0);
    EXPECT(im.w == 400 && im.h == 300);
    EXPECT(L.y.lo == 0); /* linear bars grow from zero */
    EXPECT_NEAR(L.slot_w, L.area.w / 3, 1e-9);
    for (int c = 0; c < 3; c++) {
        double cx = L.area.x + c * L.area.w / 3 + L.area.w / 6; /* bar centre: middle of its slot */
        double top = px_y(L.area, &L.y, v[c]), base = px_y(L.area, &L.y, 0);
        EXPECT(color_at(&im, cx, (top + base) / 2, 1.0, BLUE, 2));
        EXPECT(color_at(&im, cx, top + 2, 1.0, BLUE, 2));
        int px[3];
        img_at(&im, (int)cx, (int)(top - 3), px);
        EXPECT(px[0] > 200); /* above the bar: background */
    }
    free(im.px);

    /* grouped bars on a log axis: group g of category c at its slot offset, top at the log mapping */
    double a1[3] = {10, 100, 1000}, a2[3] = {1e4, 20, 5};
    plot_bar_group gg[2] = {{"small", a1, 3}, {"big", a2, 3}};
    b.groups = gg;
    b.n_groups = 2;
    b.log_y = 1;
    EXPECT(plot_bars(in_dir("bl.png"), &b, &o) == 0);
    EXPECT(plot_bars_layout_of(&b, &o, &L) == 0);
    EXPECT(img_read(in_dir("bl.png"), &im) == 0);
    EXPECT(L.y.log && L.y.lo == 1); /* the decade below the smallest value */
    double bw = L.area.w / 3 * 0.8 / 2;
    for (int c = 0; c < 3; c++) {
        double x1 = L.area.x + c * L.area.w / 3 + L.area.w / 3 * 0.1 + 0.5 * bw;
        double x2 = x1 + bw;
        EXPECT(color_at(&im, x1, px_y(L.area, &L.y, a1[c]) + 2, 1.0, BLUE, 2));
        EXPECT(color_at(&im, x2, px_y(L.area, &L.y, a2[c]) + 2, 1.0, ORANGE, 2));
    }
    free(im.px);
    rm_dir(tmpdir);
}

static int fails_cleanly(int rc, const char *want);

/* Stacked bars: one bar per category, the groups piled in order; the axis reaches the tallest stack (1 + 3 = 4). */
TEST(plots_bars_stacked) {
    EXPECT(fresh_dir() != NULL);
    const char *cats[2] = {"x", "y"};
    double a[2] = {1, 2}, b[2] = {3, 1};
    plot_bar_group gg[2] = {{"a", a, 2}, {"b", b, 2}};
    plot_bars_spec sp = {.categories = cats, .n_categories = 2, .groups = gg, .n_groups = 2, .stacked = 1};
    plot_output o = {.width = 400, .height = 300, .dpi = 72};
    EXPECT(plot_bars(in_dir("st.png"), &sp, &o) == 0);
    plot_bars_layout L;
    EXPECT(plot_bars_layout_of(&sp, &o, &L) == 0);
    EXPECT(L.y.hi >= 4 && L.bar_w > L.slot_w * 0.7); /* one bar the width of both */
    img im;
    EXPECT(img_read(in_dir("st.png"), &im) == 0);
    double cx = L.area.x + 0.5 * L.slot_w; /* category x's bar */
    EXPECT(color_near(&im, cx, px_y(L.area, &L.y, 0.5), BLUE, 4));   /* a: 0 .. 1 */
    EXPECT(color_near(&im, cx, px_y(L.area, &L.y, 2.5), ORANGE, 4)); /* b: 1 .. 4 */
    EXPECT(color_near(&im, L.area.x + 1.5 * L.slot_w, px_y(L.area, &L.y, 2.5), ORANGE, 4)); /* y: b from 2 to 3 */
    free(im.px);
    unlink(in_dir("st.png"));
    double neg[2] = {-1, 2};
    gg[0].values = neg;
    EXPECT(fails_cleanly(plot_bars(in_dir("n.png"), &sp, &o), "value -1 for 'x' cannot be stacked"));
    gg[0].values = a;
    sp.log_y = 1;
    EXPECT(fails_cleanly(plot_bars(in_dir("n.png"), &sp, &o), "stacked bars need a linear y axis"));
    rm_dir(tmpdir);
}

/* ---- panels ---- */

TEST(plots_panels_grid) {
    EXPECT(fresh_dir() != NULL);
    double x[3] = {0, 1, 2}, y[3] = {1, 3, 2};
    plot_series s = {.name = "s", .x = x, .nx = 3, .y = y, .ny = 3, .marker = 0};
    plot_lines_spec ls = {.title = "lines", .series = &s, .n_series = 1};
    double v[4] = {0, 1, 1, 0};
    plot_heatmap_spec hs = {.title = "map", .nx = 2, .ny = 2, .values = v, .cmap = PLOT_CMAP_NIAH};
    plot_panel p[2] = {{plot_kind_find("lines"), &ls}, {plot_kind_find("heatmap"), &hs}};
    plot_panels_spec ps = {.title = "shared", .cols = 2, .panels = p, .n_panels = 2};
    plot_output o = {.width = 700, .height = 300, .dpi = 72};
    EXPECT(plot_panels(in_dir("p.png"), &ps, &o) == 0);
    img im;
    EXPECT(img_read(in_dir("p.png"), &im) == 0);
    EXPECT(im.w == 700 && im.h == 300);
    plot_rect r0, r1;
    EXPECT(plot_panel_rect(&ps, &o, 0, &r0) == 0 && plot_panel_rect(&ps, &o, 1, &r1) == 0);
    EXPECT_NEAR(r0.w, 350, 1e-9);
    EXPECT_NEAR(r1.x, 350, 1e-9);
    EXPECT(r0.y > 15); /* room for the shared title */
    /* a panel is laid out exactly like the same plot on a page of its size, shifted into its cell */
    plot_heatmap_layout H;
    EXPECT(plot_heatmap_layout_of(&hs, &(plot_output){.width = r1.w, .height = r1.h}, &H) == 0);
    EXPECT(color_at(&im, r1.x + H.grid.x + 0.25 * H.grid.w, r1.y + H.grid.y + 0.25 * H.grid.h, 1.0, 0xF0496E, 2));
    EXPECT(color_at(&im, r1.x + H.grid.x + 0.75 * H.grid.w, r1.y + H.grid.y + 0.25 * H.grid.h, 1.0, 0x0CD79F, 2));
    EXPECT(plot_panel_rect(&ps, &o, 2, &r0) == -1);
    free(im.px);
    rm_dir(tmpdir);
}

/* One run, one colour: a series name keeps its palette entry in every panel of a figure, wherever it sits in
 * its own plot (the figure's names in order of first appearance), checked on the spec and on the pixels. */
TEST(plots_panels_one_colour_per_name) {
    EXPECT(fresh_dir() != NULL);
    double x[2] = {0, 1}, ya[2] = {1, 1}, yb[2] = {2, 2}, yc[2] = {3, 3};
    plot_series first[3] = {{.name = "a", .x = x, .nx = 2, .y = ya, .ny = 2, .marker = 0}, {.name = "b", .x = x, .nx = 2, .y = yb, .ny = 2, .marker = 0}, {.name = "c", .x = x, .nx = 2, .y = yc, .ny = 2, .marker = 0}};
    plot_series second[2] = {{.name = "c", .x = x, .nx = 2, .y = yc, .ny = 2, .marker = 0}, {.name = "a", .x = x, .nx = 2, .y = ya, .ny = 2, .marker = 0}};
    plot_lines_spec l1 = {.series = first, .n_series = 3}, l2 = {.series = second, .n_series = 2};
    plot_bar_group groups[2] = {{"b", ya, 2}, {"a", yb, 2}};
    const char *cats[2] = {"x", "y"};
    plot_bars_spec bs = {.categories = cats, .n_categories = 2, .groups = groups, .n_groups = 2};
    plot_panel p[3] = {{plot_kind_find("lines"), &l1}, {plot_kind_find("lines"), &l2}, {plot_kind_find("bars"), &bs}};
    plot_panels_spec ps = {.cols = 3, .panels = p, .n_panels = 3};
    /* a, b, c take entries 0, 1, 2 in every panel */
    EXPECT(plot_panels_series_style(&ps, 0, 2) == 2 && plot_panels_series_style(&ps, 1, 0) == 2);
    EXPECT(plot_panels_series_style(&ps, 0, 0) == 0 && plot_panels_series_style(&ps, 1, 1) == 0);
    EXPECT(plot_panels_series_style(&ps, 2, 0) == 1 && plot_panels_series_style(&ps, 2, 1) == 0);
    EXPECT(plot_panels_series_style(&ps, 1, 2) == -1 && plot_panels_series_style(&ps, 3, 0) == -1);
    /* on the figure: panel 2's first series ("c") is drawn in entry 2's colour, not entry 0's */
    plot_output o = {.width = 900, .height = 300, .dpi = 72};
    EXPECT(plot_panels(in_dir("one.png"), &ps, &o) == 0);
    img im;
    EXPECT(img_read(in_dir("one.png"), &im) == 0);
    plot_rect r;
    EXPECT(plot_panel_rect(&ps, &o, 1, &r) == 0);
    plot_lines_layout L;
    EXPECT(plot_lines_layout_of(&l2, &(plot_output){.width = r.w, .height = r.h}, &L) == 0);
    EXPECT(color_near(&im, r.x + px_x(L.area, &L.x, 0.5), r.y + px_y(L.area, &L.y, 3), 0x009E73, 12));
    free(im.px);
    /* a plot on its own keeps colouring by position */
    EXPECT(plot_lines(in_dir("alone.png"), &l2, &o) == 0);
    EXPECT(plot_lines_layout_of(&l2, &o, &L) == 0);
    EXPECT(img_read(in_dir("alone.png"), &im) == 0);
    EXPECT(color_near(&im, px_x(L.area, &L.x, 0.5), px_y(L.area, &L.y, 3), BLUE, 12));
    free(im.px);
    rm_dir(tmpdir);
}

/* Error bars and shaded bands (a mean and its interval): the axis covers them, the band is the series' colour
 * at 20% over white inside, the bars end where y +- err puts them. */
TEST(plots_lines_error_bars_and_bands) {
    EXPECT(fresh_dir() != NULL);
    double x[3] = {1, 2, 3}, y[3] = {2, 3, 2.5}, err[3] = {0.5, 1, 0}, lo[3] = {1, 1.5, 1.5}, hi[3] = {3, 5, 4};
    plot_series s = {.name = "mean", .x = x, .nx = 3, .y = y, .ny = 3, .err = err, .n_err = 3, .lo = lo, .n_lo = 3, .hi = hi, .n_hi = 3};
    plot_lines_spec sp = {.series = &s, .n_series = 1};
    plot_output o = {.width = 400, .height = 300, .dpi = 72};
    EXPECT(plot_lines(in_dir("band.png"), &sp, &o) == 0);
    plot_lines_layout L;
    EXPECT(plot_lines_layout_of(&sp, &o, &L) == 0);
    EXPECT(L.y.lo <= 1 && L.y.hi >= 5); /* the band's edges, not only the means (2 .. 3) */
    img im;
    EXPECT(img_read(in_dir("band.png"), &im) == 0);
    /* inside the band, away from the line: 0x0072B2 at alpha 0.2 over white = #CCE3F0 (255 - 0.2 (255 - c)) */
    EXPECT(color_near(&im, px_x(L.area, &L.x, 2), px_y(L.area, &L.y, 4.5), 0xCCE3F0, 4));
    /* the error bar at x = 2 reaches y = 2 and 4: its caps are the series' colour */
    EXPECT(color_near(&im, px_x(L.area, &L.x, 2) + 2, px_y(L.area, &L.y, 4), BLUE, 12));
    EXPECT(color_near(&im, px_x(L.area, &L.x, 2) + 2, px_y(L.area, &L.y, 2), BLUE, 12));
    free(im.px);
    unlink(in_dir("band.png"));
    /* bad input: an error and no file */
    double neg[3] = {0.1, -1, 0};
    s.err = neg;
    EXPECT(fails_cleanly(plot_lines(in_dir("x.png"), &sp, &o), "series 'mean': err[2] = -1 is negative"));
    s.err = err;
    s.n_err = 2;
    EXPECT(fails_cleanly(plot_lines(in_dir("x.png"), &sp, &o), "err has 2 values but y has 3"));
    s.n_err = 3;
    s.hi = NULL;
    EXPECT(fails_cleanly(plot_lines(in_dir("x.png"), &sp, &o), "a band needs both lo and hi"));
    rm_dir(tmpdir);
}

/* ---- formats ---- */

static int starts_with(const char *path, const char *magic, size_t n) {
    char buf[16] = {0};
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    size_t got = fread(buf, 1, n, f);
    fclose(f);
    return got == n && !memcmp(buf, magic, n);
}

static int contains(const char *path, const char *needle) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    for (size_t i = 0; i + strlen(needle) <= n; i++) if (!memcmp(buf + i, needle, strlen(needle))) return 1;
    return 0;
}

TEST(plots_same_figure_three_formats) {
    EXPECT(fresh_dir() != NULL);
    double x[4] = {1, 2, 3, 4}, y[4] = {1, 10, 100, 1000};
    plot_series s = {.name = "s", .x = x, .nx = 4, .y = y, .ny = 4, .marker = 1};
    plot_lines_spec sp = {.title = "formats", .series = &s, .n_series = 1, .log_y = 1};
    plot_output o = {.width = 300, .height = 200, .dpi = 144};
    EXPECT(plot_lines(in_dir("f.png"), &sp, &o) == 0);
    EXPECT(plot_lines(in_dir("f.svg"), &sp, &o) == 0);
    EXPECT(plot_lines(in_dir("f.PDF"), &sp, &o) == 0); /* extensions are case-insensitive */
    EXPECT(starts_with(in_dir("f.png"), "\x89PNG\r\n\x1a\n", 8));
    EXPECT(starts_with(in_dir("f.svg"), "<?xml", 5) && contains(in_dir("f.svg"), "<svg"));
    EXPECT(contains(in_dir("f.svg"), "width=\"300pt\""));
    EXPECT(starts_with(in_dir("f.PDF"), "%PDF-", 5) && contains(in_dir("f.PDF"), "%%EOF"));
    EXPECT(contains(in_dir("f.PDF"), "/MediaBox [ 0 0 300 200 ]"));
    EXPECT(file_size(in_dir("f.png")) > 1000 && file_size(in_dir("f.svg")) > 1000 && file_size(in_dir("f.PDF")) > 1000);
    EXPECT(dir_entries(tmpdir) == 3); /* no temporary files left */
    rm_dir(tmpdir);
}

TEST(plots_size_and_dpi) {
    EXPECT(fresh_dir() != NULL);
    double y[3] = {1, 2, 3};
    plot_series s = {.name = NULL, .x = NULL, .nx = 0, .y = y, .ny = 3, .marker = 0};
    plot_lines_spec sp = {.series = &s, .n_series = 1};
    img im;
    EXPECT(plot_lines(in_dir("a.png"), &sp, &(plot_output){.width = 300, .height = 200, .dpi = 72}) == 0);
    EXPECT(img_read(in_dir("a.png"), &im) == 0 && im.w == 300 && im.h == 200);
    free(im.px);
    EXPECT(plot_lines(in_dir("b.png"), &sp, &(plot_output){.width = 300, .height = 200, .dpi = 300}) == 0);
    EXPECT(img_read(in_dir("b.png"), &im) == 0 && im.w == 1250 && im.h == 833);
    free(im.px);
    EXPECT(plot_lines(in_dir("c.png"), &sp, NULL) == 0); /* defaults: 480 x 340 pt at 150 dpi */
    EXPECT(img_read(in_dir("c.png"), &im) == 0 && im.w == 1000 && im.h == 708);
    free(im.px);
    /* the DPI is recorded in the PNG (pHYs) */
    FILE *f = fopen(in_dir("b.png"), "rb");
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    png_uint_32 rx = 0, ry = 0;
    int unit = -1;
    if (!setjmp(png_jmpbuf(png))) {
        png_init_io(png, f);
        png_read_info(png, info);
        png_get_pHYs(png, info, &rx, &ry, &unit);
    }
    png_destroy_read_struct(&png, &info, NULL);
    fclose(f);
    EXPECT(unit == PNG_RESOLUTION_METER && rx == 11811); /* 300 dpi = 11811 px/m */
    EXPECT(plot_lines(in_dir("d.png"), &sp, &(plot_output){.dpi = 5}) == -1 && strstr(plot_last_error(), "dpi"));
    EXPECT(plot_lines(in_dir("d.png"), &sp, &(plot_output){.width = -3}) == -1 && strstr(plot_last_error(), "size"));
    rm_dir(tmpdir);
}

/* ---- bad input: a clear error, and no file (not even a temporary one) ---- */

static int fails_cleanly(int rc, const char *want) {
    int ok = rc == -1 && strstr(plot_last_error(), want) && dir_entries(tmpdir) == 0;
    if (!ok) th_note("rc %d, error \"%s\", want \"%s\", %d files", rc, plot_last_error(), want, dir_entries(tmpdir));
    return ok;
}

TEST(plots_bad_input_lines) {
    EXPECT(fresh_dir() != NULL);
    double x[10], y[10], nan[4] = {NAN, NAN, NAN, NAN};
    for (int i = 0; i < 10; i++) { x[i] = i; y[i] = i; }
    plot_series s = {.name = "loss", .x = x, .nx = 10, .y = y, .ny = 9, .marker = 0};
    plot_lines_spec sp = {.series = &s, .n_series = 1};
    EXPECT(fails_cleanly(plot_lines(in_dir("a.png"), &sp, NULL), "series 'loss': x has 10 points but y has 9"));
    s = (plot_series){.name = "loss", .x = x, .nx = 0, .y = y, .ny = 0, .marker = 0};
    EXPECT(fails_cleanly(plot_lines(in_dir("a.png"), &sp, NULL), "series 'loss': no points"));
    s = (plot_series){.name = NULL, .x = NULL, .nx = 0, .y = nan, .ny = 4, .marker = 0};
    EXPECT(fails_cleanly(plot_lines(in_dir("a.png"), &sp, NULL), "series 1: all 4 points are NaN"));
    sp.n_series = 0;
    EXPECT(fails_cleanly(plot_lines(in_dir("a.png"), &sp, NULL), "no series"));
    double neg[3] = {-1, 0, -2};
    s = (plot_series){.name = "g", .x = NULL, .nx = 0, .y = neg, .ny = 3, .marker = 0};
    sp = (plot_lines_spec){.series = &s, .n_series = 1, .log_y = 1};
    EXPECT(fails_cleanly(plot_lines(in_dir("a.png"), &sp, NULL), "no point has positive y"));
    sp.log_y = 0;
    EXPECT(fails_cleanly(plot_lines(NULL, &sp, NULL), "no output file"));
    rm_dir(tmpdir);
}

TEST(plots_bad_input_paths) {
    EXPECT(fresh_dir() != NULL);
    double y[3] = {1, 2, 3};
    plot_series s = {.name = "s", .x = NULL, .nx = 0, .y = y, .ny = 3, .marker = 0};
    plot_lines_spec sp = {.series = &s, .n_series = 1};
    EXPECT(fails_cleanly(plot_lines(in_dir("a.jpg"), &sp, NULL), "unknown extension '.jpg'"));
    EXPECT(fails_cleanly(plot_lines(in_dir("noext"), &sp, NULL), "no extension"));
    EXPECT(plot_lines("/nonexistent-archlab-dir/a.png", &sp, NULL) == -1);
    EXPECT(strstr(plot_last_error(), "cannot write '/nonexistent-archlab-dir/a.png'") != NULL);
    if (geteuid() != 0) { /* root writes anywhere */
        char ro[300];
        snprintf(ro, sizeof ro, "%s/ro", tmpdir);
        mkdir(ro, 0555);
        snprintf(ro, sizeof ro, "%s/ro/a.png", tmpdir);
        EXPECT(plot_lines(ro, &sp, NULL) == -1 && strstr(plot_last_error(), "Permission denied"));
        snprintf(ro, sizeof ro, "%s/ro", tmpdir);
        EXPECT(dir_entries(ro) == 0);
        rmdir(ro);
    }
    /* a failure after the temporary file exists (the page is too small to draw on) removes it, and an
     * existing figure at the target path survives any failure */
    EXPECT(plot_lines(in_dir("keep.png"), &sp, NULL) == 0);
    long before = file_size(in_dir("keep.png"));
    sp.title = "a title";
    EXPECT(plot_lines(in_dir("keep.png"), &sp, &(plot_output){.width = 60, .height = 50}) == -1);
    EXPECT(strstr(plot_last_error(), "too small") != NULL);
    EXPECT(dir_entries(tmpdir) == 1 && file_size(in_dir("keep.png")) == before);
    rm_dir(tmpdir);
}

TEST(plots_bad_input_heatmap_bars_panels) {
    EXPECT(fresh_dir() != NULL);
    double nan[4] = {NAN, NAN, NAN, NAN}, v[4] = {1, 2, 3, 4};
    plot_heatmap_spec h = {.nx = 2, .ny = 2, .values = nan};
    EXPECT(fails_cleanly(plot_heatmap(in_dir("h.png"), &h, NULL), "all 4 values are NaN"));
    h = (plot_heatmap_spec){.nx = 0, .ny = 2, .values = v};
    EXPECT(fails_cleanly(plot_heatmap(in_dir("h.png"), &h, NULL), "no cells"));
    h = (plot_heatmap_spec){.nx = 2, .ny = 2, .values = v, .has_vmin = 1, .has_vmax = 1, .vmin = 1, .vmax = 1};
    EXPECT(fails_cleanly(plot_heatmap(in_dir("h.png"), &h, NULL), "vmin"));
    h = (plot_heatmap_spec){.nx = 2, .ny = 2, .values = v, .cell_labels = 1, .label_fmt = "%s"};
    EXPECT(fails_cleanly(plot_heatmap(in_dir("h.png"), &h, NULL), "label format"));

    const char *cats[3] = {"a", "b", "c"};
    double bv[2] = {1, 2}, zero[3] = {0, 1, 2}, bn[3] = {NAN, NAN, NAN};
    plot_bar_group g = {"kv", bv, 2};
    plot_bars_spec b = {.categories = cats, .n_categories = 3, .groups = &g, .n_groups = 1};
    EXPECT(fails_cleanly(plot_bars(in_dir("b.png"), &b, NULL), "group 'kv': 2 values for 3 categories"));
    g = (plot_bar_group){"kv", zero, 3};
    b.log_y = 1;
    EXPECT(fails_cleanly(plot_bars(in_dir("b.png"), &b, NULL), "value 0 for 'a' cannot be drawn on a log axis"));
    g = (plot_bar_group){"kv", bn, 3};
    EXPECT(fails_cleanly(plot_bars(in_dir("b.png"), &b, NULL), "all 3 values are NaN"));
    b.n_groups = 0;
    EXPECT(fails_cleanly(plot_bars(in_dir("b.png"), &b, NULL), "no groups"));

    double y[2] = {1, 2};
    plot_series s = {.name = "ok", .x = NULL, .nx = 0, .y = y, .ny = 2, .marker = 0}, bad = {.name = "broken", .x = y, .nx = 1, .y = y, .ny = 2, .marker = 0};
    plot_lines_spec l1 = {.series = &s, .n_series = 1}, l2 = {.series = &bad, .n_series = 1};
    plot_panel p[2] = {{plot_kind_find("lines"), &l1}, {plot_kind_find("lines"), &l2}};
    plot_panels_spec ps = {.panels = p, .n_panels = 2};
    EXPECT(fails_cleanly(plot_panels(in_dir("p.png"), &ps, NULL), "panel 2: series 'broken': x has 1 points but y has 2"));
    p[1] = (plot_panel){0};
    EXPECT(fails_cleanly(plot_panels(in_dir("p.png"), &ps, NULL), "panel 2: no kind given"));
    ps.n_panels = 0;
    EXPECT(fails_cleanly(plot_panels(in_dir("p.png"), &ps, NULL), "no panels"));
    rm_dir(tmpdir);
}

/* ---- the Lua binding: archlab.plot.* ---- */

static lua_State *lua_with_plot(void) {
    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    lua_newtable(L);
    al_lua_plot_open(L);
    lua_setfield(L, -2, "plot");
    lua_setglobal(L, "archlab");
    lua_pushstring(L, tmpdir);
    lua_setglobal(L, "DIR");
    return L;
}

/* Runs code as script.lua; returns NULL on success or the error message (static copy). */
static const char *run_lua(lua_State *L, const char *code) {
    static char msg[1024];
    if (luaL_loadbuffer(L, code, strlen(code), "@script.lua") || lua_pcall(L, 0, 0, 0)) {
        snprintf(msg, sizeof msg, "%s", lua_tostring(L, -1));
        lua_pop(L, 1);
        return msg;
    }
    return NULL;
}

static int lua_fails_with(lua_State *L, const char *code, const char *want) {
    const char *e = run_lua(L, code);
    int ok = e && strstr(e, want);
    if (!ok) th_note("got %s, want \"%s\"", e ? e : "success", want);
    return ok;
}

TEST(plots_lua_kinds_render) {
    EXPECT(fresh_dir() != NULL);
    lua_State *L = lua_with_plot();
    const char *e = run_lua(L,
        "local f = archlab.plot.lines{ file = DIR .. '/l.png', title = 'gain', xlabel = 'step', ylabel = 'loss',\n"
        "  log_y = true, width = 200, height = 150, dpi = 72,\n"
        "  series = { {name = 'mhc', x = {1, 2, 3}, y = {1, 10, 100}}, {name = 'hc', y = {3, 0/0, 5}, marker = true} } }\n"
        "assert(f == DIR .. '/l.png')\n"
        "archlab.plot.lines{ file = DIR .. '/one.svg', series = {name = 'bare', y = {1, 2}} }\n"
        "archlab.plot.heatmap{ file = DIR .. '/h.png', x_labels = {'1K', '2K'}, y_labels = {'0%', '50%', '100%'},\n"
        "  values = {{1, 0.5}, {0, 1}, {0.25, 0.75}}, colormap = 'niah', vmin = 0, vmax = 1, labels = true }\n"
        "archlab.plot.heatmap{ file = DIR .. '/e.pdf', values = {{1, 2, 3}, {4, 5, 6}}, colormap = 'sequential' }\n"
        "archlab.plot.bars{ file = DIR .. '/b.png', categories = {'MHA', 'GQA', 'MLA'},\n"
        "  groups = { {name = '7B', values = {4096, 1024, 576}}, {name = '27B', values = {8192, 2048, 1152}} }, log_y = true }\n"
        "archlab.plot.bars{ file = DIR .. '/b1.png', categories = {'a', 'b'}, values = {1, 2}, labels = true }\n"
        "archlab.plot.panels{ file = DIR .. '/p.png', title = 'all', cols = 2, plots = {\n"
        "  {kind = 'lines', series = {{name = 's', y = {1, 2, 3}}}},\n"
        "  {kind = 'heatmap', values = {{1, 2}, {3, 4}}},\n"
        "  {kind = 'bars', categories = {'x'}, values = {3}} } }\n"
        "local r, g, b = archlab.plot.colormap('niah', 1)\n"
        "assert(math.abs(r - 12/255) < 1e-9 and math.abs(g - 215/255) < 1e-9 and math.abs(b - 159/255) < 1e-9)\n");
    if (e) th_note("%s", e);
    EXPECT(e == NULL);
    img im;
    EXPECT(img_read(in_dir("l.png"), &im) == 0 && im.w == 200 && im.h == 150);
    free(im.px);
    EXPECT(starts_with(in_dir("one.svg"), "<?xml", 5));
    EXPECT(starts_with(in_dir("e.pdf"), "%PDF-", 5));
    EXPECT(file_size(in_dir("h.png")) > 0 && file_size(in_dir("b.png")) > 0 && file_size(in_dir("b1.png")) > 0);
    EXPECT(file_size(in_dir("p.png")) > 0);
    /* the heatmap through Lua colours its cells like the C call */
    const char *xl[2] = {"1K", "2K"}, *yl[3] = {"0%", "50%", "100%"};
    double v[6] = {1, 0.5, 0, 1, 0.25, 0.75};
    plot_heatmap_spec hs = {.nx = 2, .ny = 3, .values = v, .x_labels = xl, .y_labels = yl, .cmap = PLOT_CMAP_NIAH,
                            .has_vmin = 1, .has_vmax = 1, .vmin = 0, .vmax = 1, .cell_labels = 1};
    plot_heatmap_layout H;
    EXPECT(plot_heatmap_layout_of(&hs, NULL, &H) == 0);
    EXPECT(img_read(in_dir("h.png"), &im) == 0);
    double sc = 150.0 / 72; /* default dpi */
    EXPECT(color_at(&im, H.grid.x + 0.5 * H.cell_w, H.grid.y + 1.15 * H.cell_h, sc, 0xF0496E, 2)); /* values[2][1] = 0 */
    free(im.px);
    lua_close(L);
    rm_dir(tmpdir);
}

TEST(plots_lua_errors_name_the_field) {
    EXPECT(fresh_dir() != NULL);
    lua_State *L = lua_with_plot();
    EXPECT(lua_fails_with(L,
        "archlab.plot.lines{ file = DIR .. '/a.png',\n"
        "  series = { {name = 'a', y = {1, 2}}, {name = 'b', y = {1, 'x'}} } }",
        "script.lua:1: archlab.plot.lines: field 'series[2].y': expected a number at [2], got string"));
    EXPECT(lua_fails_with(L, "\n\narchlab.plot.lines{ file = DIR .. '/a.png', titel = 't', series = {{y = {1}}} }",
                          "script.lua:3: archlab.plot.lines: unknown option 'titel' (did you mean 'title'?)"));
    EXPECT(lua_fails_with(L, "archlab.plot.lines{ file = DIR .. '/a.png', series = {{nmae = 'a', y = {1}}} }",
                          "field 'series[1]': unknown option 'nmae' (did you mean 'name'?)"));
    EXPECT(lua_fails_with(L, "archlab.plot.lines{ file = DIR .. '/a.png', series = {{name = 'a', x = {1, 2, 3}, y = {1, 2}}} }",
                          "script.lua:1: archlab.plot.lines: series 'a': x has 3 points but y has 2"));
    EXPECT(lua_fails_with(L, "archlab.plot.lines{ file = DIR .. '/a.png', series = {{name = 'a', y = {0/0, 0/0}}} }",
                          "all 2 points are NaN"));
    EXPECT(lua_fails_with(L, "archlab.plot.lines{ file = DIR .. '/a.png', series = {} }", "field 'series': no series"));
    EXPECT(lua_fails_with(L, "archlab.plot.lines{ series = {{y = {1}}} }", "field 'file': missing"));
    EXPECT(lua_fails_with(L, "archlab.plot.lines{ file = DIR .. '/a.gif', series = {{y = {1, 2}}} }",
                          "unknown extension '.gif'"));
    EXPECT(lua_fails_with(L, "archlab.plot.lines{ file = '/nonexistent-archlab-dir/a.png', series = {{y = {1, 2}}} }",
                          "cannot write '/nonexistent-archlab-dir/a.png'"));
    EXPECT(lua_fails_with(L, "archlab.plot.lines{ file = DIR .. '/a.png', log_y = 'yes', series = {{y = {1}}} }",
                          "field 'log_y': expected true or false, got string"));
    EXPECT(lua_fails_with(L, "archlab.plot.heatmap{ file = DIR .. '/h.png', values = {{1, 2}, {3}} }",
                          "archlab.plot.heatmap: field 'values[2]': row has 1 values but row 1 has 2"));
    EXPECT(lua_fails_with(L, "archlab.plot.heatmap{ file = DIR .. '/h.png', values = {{1, 2}}, x_labels = {'a'} }",
                          "field 'x_labels': 1 labels for 2 columns"));
    EXPECT(lua_fails_with(L, "archlab.plot.heatmap{ file = DIR .. '/h.png', values = {{1, 2}}, colormap = 'jet' }",
                          "field 'colormap': unknown colour map 'jet'"));
    EXPECT(lua_fails_with(L, "archlab.plot.bars{ file = DIR .. '/b.png', categories = {'a', 'b'}, groups = {{name = 'g', values = {1}}} }",
                          "archlab.plot.bars: group 'g': 1 values for 2 categories"));
    EXPECT(lua_fails_with(L, "archlab.plot.panels{ file = DIR .. '/p.png', plots = { {kind = 'lines', series = {{y = {1}}}},\n"
                             "  {kind = 'lines', series = {{y = {1, true}}}} } }",
                          "field 'plots[2].series[1].y': expected a number at [2], got boolean"));
    EXPECT(lua_fails_with(L, "archlab.plot.panels{ file = DIR .. '/p.png', plots = { {kind = 'pie'} } }",
                          "field 'plots[1].kind': unknown kind 'pie'"));
    EXPECT(lua_fails_with(L, "archlab.plot.lines('x.png')", "archlab.plot.lines: expected one table of options, got string"));
    EXPECT(dir_entries(tmpdir) == 0);
    lua_close(L);
    rm_dir(tmpdir);
}

/* ---- archlab plot METRICS.jsonl ---- */

#include <fcntl.h>

/* Runs al_cmd_plot with stderr captured into err. */
static int run_cmd(char *err, size_t n, int argc, const char **argv) {
    char cap[] = "/tmp/archlab-plots-stderr-XXXXXX";
    int fd = mkstemp(cap);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    int rc = al_cmd_plot(argc, (char **)argv);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    lseek(fd, 0, SEEK_SET);
    ssize_t got = read(fd, err, n - 1);
    err[got > 0 ? got : 0] = 0;
    close(fd);
    unlink(cap);
    return rc;
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

TEST(plots_cmd_plot_jsonl) {
    EXPECT(fresh_dir() != NULL);
    char metrics[300], out[300], err[2048];
    snprintf(metrics, sizeof metrics, "%s/metrics.jsonl", tmpdir);
    snprintf(out, sizeof out, "%s/loss.png", tmpdir);
    /* a missing field (step 3 has no grad_norm), a null, a bare NaN as Python writes it, a blank line */
    write_text(metrics,
               "{\"step\": 1, \"loss\": 4.0, \"grad_norm\": 2.0}\n"
               "{\"step\": 2, \"loss\": 3.0, \"grad_norm\": 1.5}\n"
               "{\"step\": 3, \"loss\": 2.5}\n"
               "\n"
               "{\"step\": 4, \"loss\": NaN, \"grad_norm\": null, \"note\": \"NaN inside a string\"}\n"
               "{\"step\": 5, \"loss\": 2.0, \"grad_norm\": 1.0}\n");
    const char *ok[] = {"plot", metrics, "--x", "step", "--y", "loss,grad_norm", "-o", out, "--log-y", "--title", "run",
                        "--width", "300", "--height", "200", "--dpi", "72"};
    EXPECT(run_cmd(err, sizeof err, 17, ok) == 0);
    if (err[0]) th_note("stderr: %s", err);
    img im;
    EXPECT(img_read(out, &im) == 0 && im.w == 300 && im.h == 200);
    free(im.px);

    /* a broken line: FILE:LINE on stderr, status 1, no figure */
    unlink(out);
    write_text(metrics, "{\"step\": 1, \"loss\": 4.0}\n{\"step\": 2, \"loss\": 3.0}\n{\"step\": 3, \"loss\": \n");
    const char *bad[] = {"plot", metrics, "--y", "loss", "-o", out};
    EXPECT(run_cmd(err, sizeof err, 6, bad) == 1);
    char want[400];
    snprintf(want, sizeof want, "%s:3: invalid JSON", metrics);
    EXPECT(strstr(err, want) != NULL);
    EXPECT(file_size(out) < 0);

    write_text(metrics, "{\"step\": 1, \"loss\": 4.0}\n[1, 2]\n");
    EXPECT(run_cmd(err, sizeof err, 6, bad) == 1);
    snprintf(want, sizeof want, "%s:2: expected a JSON object", metrics);
    EXPECT(strstr(err, want) != NULL);

    write_text(metrics, "{\"step\": 1, \"loss\": 4.0}\n{\"step\": 2, \"loss\": \"high\"}\n");
    EXPECT(run_cmd(err, sizeof err, 6, bad) == 1);
    snprintf(want, sizeof want, "%s:2: field 'loss' is a string, expected a number", metrics);
    EXPECT(strstr(err, want) != NULL);

    write_text(metrics, "{\"step\": 1, \"loss\": 4.0}\n");
    const char *typo[] = {"plot", metrics, "--y", "los", "-o", out};
    EXPECT(run_cmd(err, sizeof err, 6, typo) == 1);
    EXPECT(strstr(err, "no record has a numeric 'los' (fields of the first record: step, loss)") != NULL);

    const char *ext[] = {"plot", metrics, "--y", "loss", "-o", "loss.jpg"};
    EXPECT(run_cmd(err, sizeof err, 6, ext) == 1 && strstr(err, "unknown extension '.jpg'"));
    const char *nofile[] = {"plot", "/nonexistent-archlab.jsonl", "--y", "loss", "-o", out};
    EXPECT(run_cmd(err, sizeof err, 6, nofile) == 1 && strstr(err, "/nonexistent-archlab.jsonl: cannot open"));
    const char *noy[] = {"plot", metrics, "-o", out};
    EXPECT(run_cmd(err, sizeof err, 4, noy) == 1 && strstr(err, "--y is required"));
    EXPECT(file_size(out) < 0);
    rm_dir(tmpdir);
}

/* Several metrics files overlay: one series per file, named by the file, coloured in order (the runs of a
 * comparison side by side). */
TEST(plots_cmd_plot_overlays_files) {
    EXPECT(fresh_dir() != NULL);
    char a[300], b[300], out[300], err[2048];
    snprintf(a, sizeof a, "%s/run_a.jsonl", tmpdir);
    snprintf(b, sizeof b, "%s/run_b.jsonl", tmpdir);
    snprintf(out, sizeof out, "%s/both.png", tmpdir);
    write_text(a, "{\"step\": 1, \"loss\": 4}\n{\"step\": 2, \"loss\": 3.5}\n{\"step\": 3, \"loss\": 4}\n");
    write_text(b, "{\"step\": 1, \"loss\": 2}\n{\"step\": 2, \"loss\": 2.5}\n{\"step\": 3, \"loss\": 2}\n");
    const char *args[] = {"plot", a, b, "--y", "loss", "-o", out, "--width", "400", "--height", "300", "--dpi", "72"};
    EXPECT(run_cmd(err, sizeof err, 13, args) == 0);
    double x[3] = {1, 2, 3}, ya[3] = {4, 3.5, 4}, yb[3] = {2, 2.5, 2};
    plot_series s[2] = {{.name = "run_a", .x = x, .nx = 3, .y = ya, .ny = 3}, {.name = "run_b", .x = x, .nx = 3, .y = yb, .ny = 3}};
    plot_lines_spec sp = {.xlabel = "step", .ylabel = "loss", .series = s, .n_series = 2};
    plot_lines_layout L;
    EXPECT(plot_lines_layout_of(&sp, &(plot_output){.width = 400, .height = 300, .dpi = 72}, &L) == 0);
    img im;
    EXPECT(img_read(out, &im) == 0);
    EXPECT(color_near(&im, px_x(L.area, &L.x, 2), px_y(L.area, &L.y, 3.5), BLUE, 12));   /* run_a first */
    EXPECT(color_near(&im, px_x(L.area, &L.x, 2), px_y(L.area, &L.y, 2.5), ORANGE, 12)); /* run_b second */
    free(im.px);
    const char *bad[] = {"plot", a, "/nonexistent-archlab.jsonl", "--y", "loss", "-o", out};
    EXPECT(run_cmd(err, sizeof err, 7, bad) == 1 && strstr(err, "/nonexistent-archlab.jsonl: cannot open"));
    rm_dir(tmpdir);
}

/* A series held by a few records only (val_loss at evaluation steps) is joined from point to point and marked:
 * the line between evaluations at steps 10 and 50 passes through (30, 2.5), the markers sit on the points. */
TEST(plots_cmd_plot_sparse_series_drawn_as_lines_and_markers) {
    EXPECT(fresh_dir() != NULL);
    char metrics[300], out[300], err[2048];
    snprintf(metrics, sizeof metrics, "%s/metrics.jsonl", tmpdir);
    snprintf(out, sizeof out, "%s/val.png", tmpdir);
    FILE *f = fopen(metrics, "w");
    for (int step = 1; step <= 100; step++) {
        fprintf(f, "{\"step\": %d, \"loss\": %g", step, 5.0 - step / 50.0);
        if (step == 10 || step == 50 || step == 90) fprintf(f, ", \"val_loss\": %g", step == 10 ? 3.0 : step == 50 ? 2.0 : 1.0);
        fputs("}\n", f);
    }
    fclose(f);
    const char *args[] = {"plot", metrics, "--y", "val_loss", "-o", out, "--width", "400", "--height", "300", "--dpi", "72"};
    EXPECT(run_cmd(err, sizeof err, 12, args) == 0);
    /* the spec cmd_plot draws: the three points, marked, labelled as it labels them */
    double x[3] = {10, 50, 90}, y[3] = {3, 2, 1};
    plot_series s = {.name = "val_loss", .x = x, .nx = 3, .y = y, .ny = 3, .marker = 1};
    plot_lines_spec sp = {.xlabel = "step", .ylabel = "val_loss", .series = &s, .n_series = 1};
    plot_lines_layout L;
    plot_output o = {.width = 400, .height = 300, .dpi = 72};
    EXPECT(plot_lines_layout_of(&sp, &o, &L) == 0);
    img im;
    EXPECT(img_read(out, &im) == 0);
    EXPECT(color_near(&im, px_x(L.area, &L.x, 30), px_y(L.area, &L.y, 2.5), BLUE, 12)); /* the line */
    EXPECT(color_near(&im, px_x(L.area, &L.x, 90) + 2, px_y(L.area, &L.y, 1), BLUE, 12)); /* a marker's edge */
    free(im.px);
    rm_dir(tmpdir);
}

/* ---- documents: one multi-page PDF ---- */

/* PDF page objects ("/Type /Page", not "/Type /Pages") in the file */
static int pdf_pages(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    static char buf[1 << 22];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    int count = 0;
    for (size_t i = 0; i + 10 < n; i++)
        if (!memcmp(buf + i, "/Type /Page", 11) && buf[i + 11] != 's') count++;
    return count;
}

/* Markdown tables in documents: cells between pipes (an escaped pipe inside), trimmed; the rule row marks the
 * header and its colons the alignment; numeric columns right-aligned; fitted to the width, headers wrapping
 * before the font shrinks. */
TEST(plots_document_table_parse_and_fit) {
    const char *lines[] = {"| name | choices | value |", "|---|:-:|---|", "|  mha  | mha\\|gqa | 1.5 |",
                           "| mla | - | \u22122.5k |", "| gqa | x | n/a |"};
    size_t lens[5];
    for (int i = 0; i < 5; i++) lens[i] = strlen(lines[i]);
    plt_table t;
    EXPECT(plt_table_parse(lines, lens, 5, &t) == 0);
    EXPECT(t.rows == 4 && t.cols == 3 && t.header == 1);
    EXPECT(!strcmp(plt_table_cell(&t, 0, 1), "choices") && !strcmp(plt_table_cell(&t, 1, 0), "mha"));
    EXPECT(!strcmp(plt_table_cell(&t, 1, 1), "mha|gqa") && !strcmp(plt_table_cell(&t, 1, 2), "1.5"));
    EXPECT(t.align[0] == 'l' && t.align[1] == 'c' && t.align[2] == 'r');
    cairo_t *cr = plt_measure_cr();
    plt_table_fit(cr, &t, 400, 8.5);
    EXPECT(t.size == 8.5 && t.width <= 400 && !t.body_wraps);
    char cell[16][256];
    EXPECT(plt_table_lines(cr, &t, 0, 1, cell, 16) == 1); /* room enough: the header stays on one line */
    /* narrower: the header "choices" column keeps its word, a long header wraps, the font stays */
    plt_table_free(&t);
    const char *wide[] = {"| run | final training loss over the last window | v |", "|---|---|---|", "| hc | 2.5 | 1 |"};
    size_t wl[3];
    for (int i = 0; i < 3; i++) wl[i] = strlen(wide[i]);
    EXPECT(plt_table_parse(wide, wl, 3, &t) == 0);
    plt_table_fit(cr, &t, 120, 8.5);
    EXPECT(t.width <= 120 + 1e-9 && t.size == 8.5);
    EXPECT(plt_table_lines(cr, &t, 0, 1, cell, 16) > 1);
    plt_table_fit(cr, &t, 40, 8.5); /* narrower than the words: the font shrinks to its floor */
    EXPECT(t.size < 8.5 && t.size >= 5.5);
    plt_table_free(&t);
    cairo_destroy(cr);
    /* in a PDF: a table is set in the body font (no monospace font embedded); a code block is monospace */
    EXPECT(fresh_dir() != NULL);
    plot_page tp = {.text = "| a | b |\n|---|---|\n| 1 | 2 |\n"}, cp = {.text = "    code line\n"};
    plot_document_spec dt = {.pages = &tp, .n_pages = 1}, dc = {.pages = &cp, .n_pages = 1};
    EXPECT(plot_document(in_dir("t.pdf"), &dt, NULL, NULL) == 0 && plot_document(in_dir("c.pdf"), &dc, NULL, NULL) == 0);
    EXPECT(!contains(in_dir("t.pdf"), "Mono") && contains(in_dir("t.pdf"), "Bold"));
    EXPECT(contains(in_dir("c.pdf"), "Mono"));
    rm_dir(tmpdir);
}

TEST(plots_document_three_pages) {
    EXPECT(fresh_dir() != NULL);
    /* bad input: a clear message, nothing written */
    plot_page text_only = {.text = "x"};
    plot_document_spec dt = {.pages = &text_only, .n_pages = 1};
    EXPECT(fails_cleanly(plot_document(in_dir("r.png"), &dt, NULL, NULL), ".pdf only"));
    plot_page missing = {.image = "/nonexistent-archlab/x.png"};
    plot_document_spec dm = {.pages = &missing, .n_pages = 1};
    EXPECT(fails_cleanly(plot_document(in_dir("m.pdf"), &dm, NULL, NULL), "page 1: image '/nonexistent-archlab/x.png'"));
    plot_page empty = {0};
    plot_document_spec de = {.pages = &empty, .n_pages = 1};
    EXPECT(fails_cleanly(plot_document(in_dir("e.pdf"), &de, NULL, NULL), "page 1 is empty"));
    double y[3] = {1, 10, 100};
    plot_series s = {.name = "s", .x = NULL, .nx = 0, .y = y, .ny = 3, .marker = 0};
    plot_lines_spec sp = {.title = "a figure", .series = &s, .n_series = 1, .log_y = 1};
    EXPECT(plot_lines(in_dir("fig.png"), &sp, NULL) == 0);
    char img_path[256];
    snprintf(img_path, sizeof img_path, "%s", in_dir("fig.png"));
    plot_page pages[3] = {
        {.title = "Report", .text = "# Heading\n\nA paragraph long enough to be wrapped over more than one line of the "
                                    "page, which the document code does at word boundaries.\n\n- a bullet\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"},
        {.title = "A figure", .image = img_path, .caption = "The caption."},
        {.text = "The last page."},
    };
    plot_document_spec ds = {.title = "test report", .pages = pages, .n_pages = 3};
    int n = 0;
    EXPECT(plot_document(in_dir("r.pdf"), &ds, NULL, &n) == 0);
    EXPECT(n == 3);
    EXPECT(pdf_pages(in_dir("r.pdf")) == 3);
    EXPECT(starts_with(in_dir("r.pdf"), "%PDF-", 5) && contains(in_dir("r.pdf"), "/MediaBox [ 0 0 595 842 ]"));
    /* text longer than a page continues on new pages */
    char *longtext = malloc(40000);
    longtext[0] = 0;
    for (int i = 0; i < 800; i++) strcat(longtext, "Many words in a row. ");
    plot_page lp = {.title = "long", .text = longtext};
    plot_document_spec dl = {.pages = &lp, .n_pages = 1};
    EXPECT(plot_document(in_dir("long.pdf"), &dl, NULL, &n) == 0);
    EXPECT(n > 1 && pdf_pages(in_dir("long.pdf")) == n);
    free(longtext);
    EXPECT(dir_entries(tmpdir) == 3); /* fig.png, r.pdf, long.pdf: no temporary files left */
    rm_dir(tmpdir);
}

TEST(plots_lua_document) {
    EXPECT(fresh_dir() != NULL);
    lua_State *L = lua_with_plot();
    const char *e = run_lua(L,
        "archlab.plot.bars{ file = DIR .. '/b.png', categories = {'a', 'b'}, values = {1, 2} }\n"
        "local f, n = archlab.plot.document{ file = DIR .. '/r.pdf', title = 'lua report', pages = {\n"
        "  { title = 'one', text = 'text' }, { image = DIR .. '/b.png', caption = 'bars' }, { text = 'three' } } }\n"
        "assert(f == DIR .. '/r.pdf' and n == 3, 'pages: ' .. tostring(n))\n"
        "local ok, err = pcall(archlab.plot.document, { file = DIR .. '/x.pdf', pages = { { text = 'a' }, { caption = 'c' } } })\n"
        "assert(not ok and err:find(\"field 'pages%[2%]'\"), err)\n"
        "ok, err = pcall(archlab.plot.document, { file = DIR .. '/x.pdf', pages = { { text = 'a', captoin = 'c' } } })\n"
        "assert(not ok and err:find(\"did you mean 'caption'\"), err)\n"
        "ok, err = pcall(archlab.plot.document, { file = DIR .. '/x.pdf', pages = {} })\n"
        "assert(not ok and err:find(\"field 'pages': no pages\"), err)\n");
    if (e) th_note("%s", e);
    EXPECT(e == NULL);
    EXPECT(pdf_pages(in_dir("r.pdf")) == 3);
    lua_close(L);
    rm_dir(tmpdir);
}

/* ---- the worked example of docs/EXTENDING.md: a plot kind in one file ---- */

/* tests/toy_kinds/plot_scatter.c, joined by one plot_kind_register call (the one row in plots/kinds.c shipping
 * it would take): from its option table alone archlab.plot.scatter exists, panels take kind = "scatter",
 * bad options name their field, help lists it, and its dots land where its axes put them. */
extern const plot_kind plot_kind_scatter;
typedef struct { plot_rect area; plot_axis x, y; } scatter_layout; /* as in plot_scatter.c */

TEST(plots_toy_kind_in_one_file) {
    EXPECT(plot_kind_register(&plot_kind_scatter) == 0);
    EXPECT(plot_kind_register(&plot_kind_scatter) == -1 && strstr(plot_last_error(), "exists already"));
    EXPECT(strstr(plot_kind_names(), "lines|heatmap|bars|scatter") != NULL);
    EXPECT(fresh_dir() != NULL);
    lua_State *L = lua_with_plot();
    const char *e = run_lua(L,
        "archlab.plot.scatter{ file = DIR .. '/s.png', x = {1, 2, 3, 4}, y = {10, 0, 5, 7}, title = 'dots', dpi = 72 }\n"
        "archlab.plot.panels{ file = DIR .. '/p.png', plots = { {kind = 'scatter', x = {1, 2}, y = {2, 1}},\n"
        "  {kind = 'lines', series = {{y = {1, 2}}}} } }\n");
    if (e) th_note("%s", e);
    EXPECT(e == NULL);
    EXPECT(lua_fails_with(L, "archlab.plot.scatter{ file = DIR .. '/t.png', x = {1, 2}, y = {1, 'a'} }",
                          "archlab.plot.scatter: field 'y': expected a number at [2], got string"));
    EXPECT(lua_fails_with(L, "archlab.plot.scatter{ file = DIR .. '/t.png', x = {1, 2} }", "field 'y': missing"));
    EXPECT(lua_fails_with(L, "archlab.plot.scatter{ file = DIR .. '/t.png', x = {1, 2}, y = {1} }",
                          "scatter plot: x has 2 points but y has 1"));
    /* the point (3, 5): its pixel by hand from the kind's own layout */
    double x[4] = {1, 2, 3, 4}, y[4] = {10, 0, 5, 7};
    struct { const char *title, *xlabel, *ylabel; const double *x, *y; size_t nx, ny; } spec = {"dots", NULL, NULL, x, y, 4, 4};
    scatter_layout lay;
    cairo_t *cr = plt_measure_cr();
    EXPECT(plot_kind_scatter.draw(cr, (plot_rect){0, 0, PLT_DEF_W, PLT_DEF_H}, &spec, &lay, 0) == 0);
    cairo_destroy(cr);
    img im;
    EXPECT(img_read(in_dir("s.png"), &im) == 0 && im.w == (int)PLT_DEF_W);
    EXPECT(color_at(&im, px_x(lay.area, &lay.x, 3), px_y(lay.area, &lay.y, 5), 1.0, 0x0072B2, 40)); /* palette's first */
    EXPECT(color_at(&im, px_x(lay.area, &lay.x, 3.5), px_y(lay.area, &lay.y, 8.5), 1.0, 0xFFFFFF, 20)); /* between dots: paper or grid */
    free(im.px);
    lua_close(L);
    rm_dir(tmpdir);
}
