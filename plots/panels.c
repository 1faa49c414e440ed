/* Panels: several plots in a grid under one shared title, each drawn by its kind's own code into its
 * cell, so a panel looks exactly like the same plot on its own page, only smaller. One series name keeps
 * one colour (and dash) in every panel: the figure's names, in order of first appearance, set the styles
 * (plt_style_names) while the panels draw, so "hc lr=0.1" is the same colour wherever it appears. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plots/plot_internal.h"

#define CELL_W 340.0 /* default size of one panel, points */
#define CELL_H 260.0

static int cols_of(const plot_panels_spec *s) {
    int c = s->cols > 0 ? s->cols : (s->n_panels < 3 ? (int)s->n_panels : 3);
    return c > (int)s->n_panels ? (int)s->n_panels : c;
}

/* Prefix the failing panel's own message (copied first: it lives in the buffer being rewritten). */
static int panel_fail(size_t i) {
    char msg[512];
    snprintf(msg, sizeof msg, "%s", plot_last_error());
    return plt_fail("panel %zu: %s", i + 1, msg);
}

static int check(const plot_panels_spec *s) {
    if (!s) return plt_fail("no panels given");
    if (!s->panels || s->n_panels == 0) return plt_fail("panel figure has no panels");
    if (s->cols < 0) return plt_fail("panel figure: cols must be positive, got %d", s->cols);
    for (size_t i = 0; i < s->n_panels; i++) {
        const plot_panel *p = &s->panels[i];
        if (!p->kind || !p->spec) return plt_fail("panel %zu: no %s given", i + 1, p->kind ? "spec" : "kind");
        if (p->kind->check(p->spec)) return panel_fail(i);
    }
    return 0;
}

static double suptitle_h(cairo_t *cr, const plot_panels_spec *s) {
    if (!s->title || !*s->title) return 0;
    plt_set_font(cr, PLT_STYLE.font_suptitle, 1);
    return plt_font_h(cr) + PLT_STYLE.pad;
}

static plot_rect cell(cairo_t *cr, const plot_panels_spec *s, plot_rect fig, size_t i) {
    int cols = cols_of(s), rows = (int)((s->n_panels + cols - 1) / cols);
    double top = fig.y + suptitle_h(cr, s) + (s->title && *s->title ? PLT_STYLE.pad : 0);
    double cw = fig.w / cols, ch = (fig.y + fig.h - top) / rows;
    return (plot_rect){fig.x + (i % cols) * cw, top + (i / cols) * ch, cw, ch};
}

static void default_size(const plot_panels_spec *s, double *w, double *h) {
    int cols = cols_of(s), rows = (int)((s->n_panels + cols - 1) / cols);
    *w = CELL_W * cols;
    *h = CELL_H * rows + (s->title && *s->title ? 30 : 0);
}

/* The distinct series names of all panels, first appearance first (malloc'd; *n of them). */
static const char **figure_names(const plot_panels_spec *s, size_t *n) {
    size_t cap = 0;
    for (size_t i = 0; i < s->n_panels; i++)
        if (s->panels[i].kind->series_names) cap += s->panels[i].kind->series_names(s->panels[i].spec, NULL, 0);
    *n = 0;
    if (!cap) return NULL;
    const char **all = malloc(cap * sizeof *all), **own = malloc(cap * sizeof *own);
    if (!all || !own) { free(all); free(own); return NULL; }
    for (size_t i = 0; i < s->n_panels; i++) {
        const plot_panel *p = &s->panels[i];
        if (!p->kind->series_names) continue;
        size_t m = p->kind->series_names(p->spec, own, cap);
        for (size_t k = 0; k < m; k++) {
            if (!own[k] || !*own[k]) continue;
            size_t j = 0;
            while (j < *n && strcmp(all[j], own[k])) j++;
            if (j == *n && *n < cap) all[(*n)++] = own[k];
        }
    }
    free(own);
    return all;
}

int plot_panels_series_style(const plot_panels_spec *spec, size_t panel, size_t series) {
    if (check(spec)) return -1;
    const plot_panel *p = &spec->panels[panel < spec->n_panels ? panel : 0];
    if (panel >= spec->n_panels || !p->kind->series_names) return plt_fail("panel %zu has no series", panel + 1);
    size_t m = p->kind->series_names(p->spec, NULL, 0);
    if (series >= m) return plt_fail("panel %zu has %zu series", panel + 1, m);
    const char **own = malloc(m * sizeof *own);
    size_t n;
    const char **names = figure_names(spec, &n);
    if (!own || (n && !names)) { free(own); free(names); return plt_fail("out of memory"); }
    p->kind->series_names(p->spec, own, m);
    plt_style_names(names, n);
    int style = plt_series_style(own[series], (int)series);
    plt_style_names(NULL, 0);
    free(own);
    free(names);
    return style;
}

static int draw_cb(cairo_t *cr, plot_rect fig, const void *ctx) {
    const plot_panels_spec *s = ctx;
    if (s->title && *s->title) {
        cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
        plt_set_font(cr, PLT_STYLE.font_suptitle, 1);
        plt_text(cr, fig.x + fig.w / 2, fig.y + PLT_STYLE.pad, s->title, 0.5, 0, 0);
    }
    size_t n;
    const char **names = figure_names(s, &n);
    plt_style_names(names, n);
    int rc = 0;
    for (size_t i = 0; i < s->n_panels && !rc; i++) {
        const plot_panel *p = &s->panels[i];
        plot_rect r = cell(cr, s, fig, i);
        if (p->kind->draw(cr, r, p->spec, NULL, 1)) rc = panel_fail(i);
    }
    plt_style_names(NULL, 0);
    free(names);
    return rc;
}

int plot_panels(const char *path, const plot_panels_spec *spec, const plot_output *out) {
    if (check(spec)) return -1;
    double w, h;
    default_size(spec, &w, &h);
    return plt_render(path, out, w, h, draw_cb, spec);
}

int plot_panel_rect(const plot_panels_spec *spec, const plot_output *out, size_t i, plot_rect *r) {
    if (check(spec)) return -1;
    if (i >= spec->n_panels) return plt_fail("panel %zu does not exist (%zu panels)", i + 1, spec->n_panels);
    double dw, dh, w, h, dpi;
    default_size(spec, &dw, &dh);
    if (plt_output_size(out, dw, dh, &w, &h, &dpi)) return -1;
    cairo_t *cr = plt_measure_cr();
    *r = cell(cr, spec, (plot_rect){0, 0, w, h}, i);
    cairo_destroy(cr);
    return 0;
}
