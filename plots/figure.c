/* Figures to files: the format follows the extension, sizes are in points, and every file is written to
 * a temporary name in the target directory and renamed into place, so a failed or interrupted render
 * never leaves a partial figure where a finished one is expected. PNGs go through libpng so they carry
 * their DPI (pHYs chunk) and are plain 8-bit RGB. */
#include <cairo-pdf.h>
#include <cairo-svg.h>
#include <errno.h>
#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "plots/plot_internal.h"

#define DEF_DPI 150.0
#define MAX_PIXELS 20000.0 /* per side: a typo'd dpi should fail, not allocate gigabytes */

int plot_format_of(const char *path, plot_format *fmt) {
    if (!path || !*path) return plt_fail("no output file given");
    const char *slash = strrchr(path, '/');
    const char *dot = strrchr(slash ? slash + 1 : path, '.');
    if (!dot) return plt_fail("output '%s' has no extension; use .png, .svg or .pdf", path);
    if (!strcasecmp(dot, ".png")) *fmt = PLOT_FMT_PNG;
    else if (!strcasecmp(dot, ".svg")) *fmt = PLOT_FMT_SVG;
    else if (!strcasecmp(dot, ".pdf")) *fmt = PLOT_FMT_PDF;
    else return plt_fail("output '%s': unknown extension '%s'; use .png, .svg or .pdf", path, dot);
    return 0;
}

int plt_output_size(const plot_output *out, double def_w, double def_h, double *w, double *h, double *dpi) {
    *w = out && out->width != 0 ? out->width : def_w;
    *h = out && out->height != 0 ? out->height : def_h;
    *dpi = out && out->dpi != 0 ? out->dpi : DEF_DPI;
    if (!(*w >= 50 && *h >= 50 && *w <= 10000 && *h <= 10000))
        return plt_fail("figure size %g x %g pt is out of range (50 to 10000 pt per side)", *w, *h);
    if (!(*dpi >= 10 && *dpi <= 2400)) return plt_fail("dpi %g is out of range (10 to 2400)", *dpi);
    if (*w * *dpi / 72 > MAX_PIXELS || *h * *dpi / 72 > MAX_PIXELS)
        return plt_fail("figure of %g x %g pt at %g dpi exceeds %g pixels per side", *w, *h, *dpi, MAX_PIXELS);
    return 0;
}

static cairo_status_t write_stream(void *closure, const unsigned char *data, unsigned int len) {
    return fwrite(data, 1, len, (FILE *)closure) == len ? CAIRO_STATUS_SUCCESS : CAIRO_STATUS_WRITE_ERROR;
}

/* Cairo's ARGB32 is premultiplied, native-endian 32-bit words; libpng wants RGB bytes. The background is
 * opaque white, so alpha is 255 everywhere and un-premultiplying is exact. */
static int write_png(FILE *f, cairo_surface_t *s, double dpi, const char *path) {
    int w = cairo_image_surface_get_width(s), h = cairo_image_surface_get_height(s);
    int stride = cairo_image_surface_get_stride(s);
    const unsigned char *data = cairo_image_surface_get_data(s);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    if (!png) return plt_fail("%s: out of memory in libpng", path);
    png_infop info = png_create_info_struct(png);
    unsigned char *row = malloc((size_t)w * 3);
    if (!info || !row) {
        png_destroy_write_struct(&png, info ? &info : NULL);
        free(row);
        return plt_fail("%s: out of memory writing PNG", path);
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        free(row);
        return plt_fail("%s: libpng failed while writing", path);
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_uint_32 ppm = (png_uint_32)lround(dpi / 0.0254);
    png_set_pHYs(png, info, ppm, ppm, PNG_RESOLUTION_METER);
    png_write_info(png, info);
    for (int y = 0; y < h; y++) {
        const uint32_t *src = (const uint32_t *)(data + (size_t)y * stride);
        for (int x = 0; x < w; x++) {
            uint32_t p = src[x];
            unsigned a = p >> 24;
            unsigned c[3] = {(p >> 16) & 0xff, (p >> 8) & 0xff, p & 0xff};
            for (int k = 0; k < 3; k++)
                row[3 * x + k] = (unsigned char)(a == 255 ? c[k] : a == 0 ? 255 : (c[k] * 255 + a / 2) / a);
        }
        png_write_row(png, row);
    }
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(row);
    return 0;
}

/* A temporary file beside path (same directory, so rename() is atomic), with the permissions a plain
 * fopen() would have given, not mkstemp's 0600. */
static FILE *open_temp(const char *path, char *tmp, size_t n) {
    struct stat st; /* the rename must not put a file where a device or a directory was */
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        plt_fail("'%s' exists and is not a regular file: it is not replaced", path);
        return NULL;
    }
    const char *slash = strrchr(path, '/');
    int dirlen = slash ? (int)(slash - path + 1) : 0;
    if ((size_t)snprintf(tmp, n, "%.*s.%s.tmp-XXXXXX", dirlen, path, slash ? slash + 1 : path) >= n) {
        plt_fail("output path '%s' is too long", path);
        return NULL;
    }
    int fd = mkstemp(tmp);
    if (fd < 0) {
        plt_fail("cannot write '%s': %s", path, strerror(errno));
        return NULL;
    }
    mode_t um = umask(0);
    umask(um);
    if (fchmod(fd, 0666 & ~um) != 0) { /* not fatal: the figure is still readable by its owner */ }
    FILE *f = fdopen(fd, "wb");
    if (!f) {
        plt_fail("cannot write '%s': %s", path, strerror(errno));
        close(fd);
        unlink(tmp);
    }
    return f;
}

int plt_render(const char *path, const plot_output *out, double def_w, double def_h, plt_draw_fn fn,
               const void *ctx) {
    plot_format fmt;
    double w, h, dpi;
    if (plot_format_of(path, &fmt) || plt_output_size(out, def_w, def_h, &w, &h, &dpi)) return -1;
    char tmp[4096];
    FILE *f = open_temp(path, tmp, sizeof tmp);
    if (!f) return -1;

    cairo_surface_t *surf;
    double scale = 1;
    if (fmt == PLOT_FMT_PNG) {
        scale = dpi / 72.0;
        surf = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, (int)lround(w * scale), (int)lround(h * scale));
    } else if (fmt == PLOT_FMT_SVG) {
        surf = cairo_svg_surface_create_for_stream(write_stream, f, w, h);
    } else {
        surf = cairo_pdf_surface_create_for_stream(write_stream, f, w, h);
    }
    cairo_t *cr = cairo_create(surf);
    cairo_scale(cr, scale, scale);
    plt_font_setup(cr);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    int rc = fn(cr, (plot_rect){0, 0, w, h}, ctx);
    if (rc == 0 && cairo_status(cr) != CAIRO_STATUS_SUCCESS)
        rc = plt_fail("%s: cairo: %s", path, cairo_status_to_string(cairo_status(cr)));
    cairo_destroy(cr);
    cairo_surface_flush(surf);
    if (rc == 0 && fmt == PLOT_FMT_PNG) rc = write_png(f, surf, dpi, path);
    cairo_surface_finish(surf); /* SVG and PDF are written out here */
    if (rc == 0 && cairo_surface_status(surf) != CAIRO_STATUS_SUCCESS)
        rc = plt_fail("cannot write '%s': %s", path, cairo_status_to_string(cairo_surface_status(surf)));
    cairo_surface_destroy(surf);
    if (fflush(f) != 0 || ferror(f)) {
        if (rc == 0) rc = plt_fail("cannot write '%s': %s", path, strerror(errno));
    }
    if (fclose(f) != 0 && rc == 0) rc = plt_fail("cannot write '%s': %s", path, strerror(errno));
    if (rc == 0 && rename(tmp, path) != 0) rc = plt_fail("cannot write '%s': %s", path, strerror(errno));
    if (rc != 0) unlink(tmp);
    return rc;
}

/* One figure of any kind: its check, then its drawing at its default size (plots/plot.h) */
typedef struct {
    const plot_kind *k;
    const void *spec;
} figure_ctx;

static int draw_one(cairo_t *cr, plot_rect fig, const void *ctx) {
    const figure_ctx *f = ctx;
    return f->k->draw(cr, fig, f->spec, NULL, 1);
}

int plot_figure(const char *path, const plot_kind *k, const void *spec, const plot_output *out) {
    if (!k) return plt_fail("no plot kind given");
    if (k->check(spec)) return -1;
    figure_ctx f = {k, spec};
    return plt_render(path, out, k->width, k->height, draw_one, &f);
}
