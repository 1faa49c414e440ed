/* Documents: several pages of text and figures in one multi-page PDF (a report), through one cairo PDF
 * surface and cairo_show_page. The text is a light Markdown subset that a report generator writes anyway:
 *   "# " and "## " headings, "- " bullets (hanging indent), blank lines between paragraphs, Markdown tables
 *   (lines starting with '|': drawn as ruled tables in the body font, header bold, numbers right-aligned,
 *   shrunk to fit the width; plots/table.c) and code (lines starting with four spaces: monospace).
 * Paragraphs and bullets are wrapped at word boundaries; text that does not fit continues on a new page.
 * A page's image (a PNG file) is drawn below its text, scaled to the free width and height keeping its
 * aspect ratio, on a new page when less than a third of the page is left. Every page gets a footer with the
 * document title and the page number. Images are all loaded (and checked) before the file is created, and
 * the PDF is written to a temporary name and renamed, so a failed call leaves nothing behind. */
#include <cairo-pdf.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "plots/plot_internal.h"

#define DOC_W 595.0 /* A4 in points */
#define DOC_H 842.0
#define MARGIN 50.0
#define FONT_BODY 10.0
#define FONT_MONO 8.0
#define FONT_H1 16.0
#define FONT_H2 12.5
#define FONT_FOOT 8.0
#define FONT_TABLE 8.5
#define TABLE_VPAD 2.0 /* points above and below a row's text */
#define LEADING 1.35 /* line height / font height */
#define MONO "DejaVu Sans Mono"

typedef struct {
    cairo_t *cr;
    const plot_document_spec *spec;
    double w, h;   /* page */
    double y;      /* next line's top */
    int page;      /* pages shown so far (the current one is page + 1) */
    int dirty;     /* something drawn on the current page */
} doc;

static double bottom(const doc *d) { return d->h - MARGIN; }

static void footer(doc *d) {
    cairo_t *cr = d->cr;
    char buf[512];
    snprintf(buf, sizeof buf, "%s%s%d", d->spec->title ? d->spec->title : "", d->spec->title ? "  \u2014  page " : "page ",
             d->page + 1);
    cairo_set_source_rgb(cr, 0.45, 0.45, 0.45);
    plt_set_font(cr, FONT_FOOT, 0);
    plt_text(cr, d->w / 2, d->h - MARGIN / 2, buf, 0.5, 0.5, 0);
}

static void new_page(doc *d) {
    footer(d);
    cairo_show_page(d->cr);
    d->page++;
    d->y = MARGIN;
    d->dirty = 0;
}

/* room for h more points on this page, else a new page */
static void need(doc *d, double h) {
    if (d->dirty && d->y + h > bottom(d)) new_page(d);
}

static void draw_line(doc *d, const char *s, double x, double size, int bold, int mono) {
    cairo_t *cr = d->cr;
    if (mono) {
        cairo_select_font_face(cr, MONO, CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
        cairo_set_font_size(cr, size);
    } else {
        plt_set_font(cr, size, bold);
    }
    double lh = plt_font_h(cr) * LEADING;
    need(d, lh);
    cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
    plt_text(cr, x, d->y, s, 0, 0, 0);
    d->y += lh;
    d->dirty = 1;
}

/* Greedy word wrap of s[0..n) into lines no wider than width, drawn at x (the first line at x0). */
static void wrap(doc *d, const char *s, size_t n, double x0, double x, double size, int bold) {
    cairo_t *cr = d->cr;
    plt_set_font(cr, size, bold);
    char *line = malloc(n + 1);
    if (!line) return;
    size_t i = 0;
    int first = 1;
    while (i < n) {
        while (i < n && s[i] == ' ') i++;
        if (i >= n) break;
        double left = first ? x0 : x, width = d->w - MARGIN - left;
        size_t len = 0, last_fit = 0, j = i;
        while (j <= n) {
            if (j == n || s[j] == ' ') {
                memcpy(line, s + i, j - i);
                line[j - i] = 0;
                plt_set_font(cr, size, bold);
                if (plt_text_w(cr, line) <= width || last_fit == 0) last_fit = j - i;
                else break;
                if (j == n) break;
            }
            j++;
        }
        len = last_fit;
        if (len == 0) len = n - i; /* one word wider than the page: let it overflow */
        memcpy(line, s + i, len);
        line[len] = 0;
        draw_line(d, line, left, size, bold, 0);
        i += len;
        first = 0;
    }
    free(line);
}

/* Verbatim lines (tables): one monospace size for the whole block, shrunk so its widest line fits. */
static void verbatim(doc *d, const char *const *lines, const size_t *lens, int n) {
    cairo_t *cr = d->cr;
    cairo_select_font_face(cr, MONO, CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, FONT_MONO);
    double widest = 0;
    char buf[4096];
    for (int k = 0; k < n; k++) {
        size_t l = lens[k] < sizeof buf - 1 ? lens[k] : sizeof buf - 1;
        memcpy(buf, lines[k], l);
        buf[l] = 0;
        widest = fmax(widest, plt_text_w(cr, buf));
    }
    double avail = d->w - 2 * MARGIN, size = FONT_MONO;
    if (widest > avail) size = fmax(3.5, FONT_MONO * avail / widest);
    for (int k = 0; k < n; k++) {
        size_t l = lens[k] < sizeof buf - 1 ? lens[k] : sizeof buf - 1;
        memcpy(buf, lines[k], l);
        buf[l] = 0;
        draw_line(d, buf, MARGIN, size, 0, 1);
    }
}

static int is_table(const char *s, size_t n) { return n > 0 && s[0] == '|'; }
static int is_verbatim(const char *s, size_t n) { return is_table(s, n) || (n >= 4 && !strncmp(s, "    ", 4)); }

/* Row r of table t: its height, and (draw) its cells at d->y, shaded when odd */
static double table_row(doc *d, const plt_table *t, int r, double lh, int draw) {
    cairo_t *cr = d->cr;
    static char lines[16][256];
    int most = 1;
    for (int j = 0; j < t->cols; j++) {
        int k = plt_table_lines(cr, t, r, j, lines, 16);
        most = k > most ? k : most;
    }
    double h = most * lh + 2 * TABLE_VPAD;
    if (!draw) return h;
    int body = r - t->header;
    if (body >= 0 && body % 2 == 1) { /* light bands help the eye along wide rows */
        cairo_set_source_rgb(cr, 0.95, 0.95, 0.95);
        cairo_rectangle(cr, MARGIN, d->y, t->width, h);
        cairo_fill(cr);
    }
    double x = MARGIN;
    for (int j = 0; j < t->cols; j++) {
        int k = plt_table_lines(cr, t, r, j, lines, 16);
        cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
        for (int q = 0; q < k; q++) {
            double ax = t->align[j] == 'r' ? 1 : t->align[j] == 'c' ? 0.5 : 0;
            double tx = x + PLT_TABLE_PAD + ax * (t->colw[j] - 2 * PLT_TABLE_PAD);
            plt_text(cr, tx, d->y + TABLE_VPAD + q * lh, lines[q], ax, 0, 0);
        }
        x += t->colw[j];
    }
    return h;
}

static void rule(doc *d, double width, double weight) {
    cairo_set_source_rgb(d->cr, 0.2, 0.2, 0.2);
    cairo_set_line_width(d->cr, weight);
    cairo_move_to(d->cr, MARGIN, d->y);
    cairo_line_to(d->cr, MARGIN + width, d->y);
    cairo_stroke(d->cr);
}

/* A Markdown table as a ruled table (booktabs style: heavier rules above and below, a light one under the
 * header); a table longer than the page continues on the next, its header repeated. */
static void table_block(doc *d, const char *const *lines, const size_t *lens, int n) {
    plt_table t;
    if (plt_table_parse(lines, lens, n, &t)) { verbatim(d, lines, lens, n); return; }
    cairo_t *cr = d->cr;
    plt_table_fit(cr, &t, d->w - 2 * MARGIN, FONT_TABLE);
    plt_set_font(cr, t.size, 0);
    double lh = plt_font_h(cr) * 1.2;
    int start = 1;
    for (int r = 0; r < t.rows; r++) {
        double h = table_row(d, &t, r, lh, 0);
        int is_head = r < t.header;
        /* a header never ends a page alone; a continued table repeats its header */
        if (d->dirty && d->y + h + (is_head ? h : 0) + 2 > bottom(d)) {
            if (!start) rule(d, t.width, 0.8);
            new_page(d);
            start = 1;
            if (!is_head && t.header) {
                rule(d, t.width, 0.8);
                for (int q = 0; q < t.header; q++) d->y += table_row(d, &t, q, lh, 1);
                rule(d, t.width, 0.5);
                start = 0;
            }
        }
        if (start) { rule(d, t.width, 0.8); start = 0; }
        d->y += table_row(d, &t, r, lh, 1);
        d->dirty = 1;
        if (is_head && r == t.header - 1) rule(d, t.width, 0.5);
    }
    rule(d, t.width, 0.8);
    plt_table_free(&t);
}

static void gap(doc *d, double g) {
    if (d->dirty) d->y += g;
}

static void text_block(doc *d, const char *text) {
    const char *p = text;
    /* collect lines */
    size_t cap = 64, n = 0;
    const char **ls = malloc(cap * sizeof *ls);
    size_t *ln = malloc(cap * sizeof *ln);
    if (!ls || !ln) { free(ls); free(ln); return; }
    while (*p) {
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (n == cap) {
            cap *= 2;
            const char **nl = realloc(ls, cap * sizeof *ls);
            size_t *nn = realloc(ln, cap * sizeof *ln);
            if (!nl || !nn) { free(nl ? nl : ls); free(nn ? nn : ln); return; }
            ls = nl; ln = nn;
        }
        ls[n] = p; ln[n] = len; n++;
        p += len + (e ? 1 : 0);
        if (!e) break;
    }
    size_t i = 0;
    char *para = NULL;
    while (i < n) {
        const char *s = ls[i];
        size_t len = ln[i];
        while (len > 0 && s[len - 1] == '\r') len--;
        if (len == 0) { i++; gap(d, FONT_BODY * 0.5); continue; }
        if (is_verbatim(s, len)) {
            int table = is_table(s, len);
            size_t j = i;
            while (j < n && (table ? is_table(ls[j], ln[j]) : is_verbatim(ls[j], ln[j]) && !is_table(ls[j], ln[j]))) j++;
            gap(d, table ? 4 : 2);
            if (table) table_block(d, ls + i, ln + i, (int)(j - i));
            else verbatim(d, ls + i, ln + i, (int)(j - i));
            gap(d, table ? 6 : 4);
            i = j;
            continue;
        }
        if (len > 2 && !strncmp(s, "# ", 2)) {
            gap(d, 8);
            need(d, 3 * FONT_H1); /* a heading never ends a page */
            wrap(d, s + 2, len - 2, MARGIN, MARGIN, FONT_H1, 1);
            gap(d, 3);
            i++;
            continue;
        }
        if (len > 3 && !strncmp(s, "## ", 3)) {
            gap(d, 6);
            need(d, 4 * FONT_H2);
            wrap(d, s + 3, len - 3, MARGIN, MARGIN, FONT_H2, 1);
            gap(d, 2);
            i++;
            continue;
        }
        /* a paragraph or a bullet: joined lines up to a blank, verbatim, heading or next bullet */
        int bullet = len > 2 && !strncmp(s, "- ", 2);
        size_t j = i + 1, total = len + 1;
        while (j < n && ln[j] > 0 && !is_verbatim(ls[j], ln[j]) && strncmp(ls[j], "# ", 2) &&
               strncmp(ls[j], "## ", 3) && strncmp(ls[j], "- ", 2)) {
            total += ln[j] + 1;
            j++;
        }
        free(para);
        para = malloc(total + 1);
        if (!para) break;
        size_t k = 0;
        for (size_t q = i; q < j; q++) {
            const char *t = ls[q];
            size_t tl = ln[q];
            if (q == i && bullet) { t += 2; tl -= 2; }
            memcpy(para + k, t, tl);
            k += tl;
            para[k++] = ' ';
        }
        para[k] = 0;
        if (bullet) {
            plt_set_font(d->cr, FONT_BODY, 0);
            double ind = plt_text_w(d->cr, "\u2022  ");
            need(d, plt_font_h(d->cr) * LEADING);
            cairo_set_source_rgb(d->cr, 0.1, 0.1, 0.1);
            plt_text(d->cr, MARGIN + 6, d->y, "\u2022", 0, 0, 0);
            wrap(d, para, k, MARGIN + 6 + ind, MARGIN + 6 + ind, FONT_BODY, 0);
        } else {
            wrap(d, para, k, MARGIN, MARGIN, FONT_BODY, 0);
            gap(d, 3);
        }
        i = j;
    }
    free(para);
    free(ls);
    free(ln);
}

static void image_block(doc *d, cairo_surface_t *img, const char *caption) {
    cairo_t *cr = d->cr;
    double iw = cairo_image_surface_get_width(img), ih = cairo_image_surface_get_height(img);
    double cap_h = 0;
    if (caption && *caption) {
        plt_set_font(cr, FONT_BODY - 1, 0);
        cap_h = 3 * plt_font_h(cr) * LEADING;
    }
    double avail_w = d->w - 2 * MARGIN;
    if (d->dirty && bottom(d) - d->y - cap_h < (d->h - 2 * MARGIN) / 3) new_page(d);
    gap(d, 6);
    double avail_h = bottom(d) - d->y - cap_h;
    double s = fmin(avail_w / iw, avail_h / ih);
    double x = MARGIN + (avail_w - iw * s) / 2;
    cairo_save(cr);
    cairo_translate(cr, x, d->y);
    cairo_scale(cr, s, s);
    cairo_set_source_surface(cr, img, 0, 0);
    cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_GOOD);
    cairo_paint(cr);
    cairo_restore(cr);
    d->y += ih * s + 4;
    d->dirty = 1;
    if (caption && *caption) {
        /* the caption in a smaller, grey font */
        plt_set_font(cr, FONT_BODY - 1, 0);
        wrap(d, caption, strlen(caption), MARGIN, MARGIN, FONT_BODY - 1, 0);
    }
}

int plot_document(const char *path, const plot_document_spec *spec, const plot_output *out, int *n_pages) {
    plot_format fmt;
    if (plot_format_of(path, &fmt)) return -1;
    if (fmt != PLOT_FMT_PDF) return plt_fail("document '%s': a multi-page document is written as .pdf only", path);
    if (!spec || !spec->pages || spec->n_pages == 0) return plt_fail("document '%s' has no pages", path);
    double w = out && out->width ? out->width : DOC_W, h = out && out->height ? out->height : DOC_H;
    if (!(w >= 200 && h >= 200 && w <= 10000 && h <= 10000))
        return plt_fail("document page size %g x %g pt is out of range (200 to 10000 pt per side)", w, h);
    cairo_surface_t **imgs = calloc(spec->n_pages, sizeof *imgs);
    if (!imgs) return plt_fail("out of memory");
    int rc = 0;
    for (size_t i = 0; i < spec->n_pages && rc == 0; i++) {
        const plot_page *pg = &spec->pages[i];
        if (!pg->title && !pg->text && !pg->image)
            rc = plt_fail("page %zu is empty (give a title, text or an image)", i + 1);
        else if (pg->image) {
            if (access(pg->image, R_OK) != 0) {
                rc = plt_fail("page %zu: image '%s': %s", i + 1, pg->image, strerror(errno));
                break;
            }
            imgs[i] = cairo_image_surface_create_from_png(pg->image);
            if (cairo_surface_status(imgs[i]) != CAIRO_STATUS_SUCCESS)
                rc = plt_fail("page %zu: image '%s' is not a readable PNG (%s)", i + 1, pg->image,
                              cairo_status_to_string(cairo_surface_status(imgs[i])));
        }
    }
    char tmp[4096];
    struct stat dst; /* the rename must not put a file where a device or a directory was */
    if (rc == 0 && stat(path, &dst) == 0 && !S_ISREG(dst.st_mode))
        rc = plt_fail("'%s' exists and is not a regular file: it is not replaced", path);
    if (rc == 0 && (size_t)snprintf(tmp, sizeof tmp, "%s.tmp-XXXXXX", path) >= sizeof tmp)
        rc = plt_fail("output path '%s' is too long", path);
    int fd = -1;
    if (rc == 0 && (fd = mkstemp(tmp)) < 0) rc = plt_fail("cannot write '%s': %s", path, strerror(errno));
    if (rc == 0) {
        close(fd);
        cairo_surface_t *surf = cairo_pdf_surface_create(tmp, w, h);
        if (spec->title) cairo_pdf_surface_set_metadata(surf, CAIRO_PDF_METADATA_TITLE, spec->title);
        cairo_pdf_surface_set_metadata(surf, CAIRO_PDF_METADATA_CREATOR, "archlab plots/document.c");
        cairo_t *cr = cairo_create(surf);
        plt_font_setup(cr);
        doc d = {.cr = cr, .spec = spec, .w = w, .h = h, .y = MARGIN};
        for (size_t i = 0; i < spec->n_pages; i++) {
            const plot_page *pg = &spec->pages[i];
            if (d.dirty) new_page(&d);
            if (pg->title) {
                wrap(&d, pg->title, strlen(pg->title), MARGIN, MARGIN, FONT_H1, 1);
                gap(&d, 6);
            }
            if (pg->text) text_block(&d, pg->text);
            if (imgs[i]) image_block(&d, imgs[i], pg->caption);
        }
        footer(&d);
        cairo_show_page(cr);
        if (n_pages) *n_pages = d.page + 1;
        if (cairo_status(cr) != CAIRO_STATUS_SUCCESS)
            rc = plt_fail("%s: cairo: %s", path, cairo_status_to_string(cairo_status(cr)));
        cairo_destroy(cr);
        cairo_surface_finish(surf);
        if (rc == 0 && cairo_surface_status(surf) != CAIRO_STATUS_SUCCESS)
            rc = plt_fail("cannot write '%s': %s", path, cairo_status_to_string(cairo_surface_status(surf)));
        cairo_surface_destroy(surf);
        if (rc == 0 && rename(tmp, path) != 0) rc = plt_fail("cannot write '%s': %s", path, strerror(errno));
        if (rc != 0) unlink(tmp);
        if (rc == 0) {
            /* mkstemp's 0600: give the report the permissions a plain fopen() would have */
            mode_t um = umask(0);
            umask(um);
            chmod(path, 0666 & ~um);
        }
    }
    for (size_t i = 0; i < spec->n_pages; i++)
        if (imgs[i]) cairo_surface_destroy(imgs[i]);
    free(imgs);
    return rc;
}
