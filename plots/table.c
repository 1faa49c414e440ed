/* Markdown tables for documents (plots/document.c): parsed into cells and fitted to a width, so a report's
 * tables print as tables (proportional font, ruled, numbers right-aligned), not as monospace text.
 *
 * What is read: consecutive lines starting with '|'. A row's cells sit between its pipes ("\|" is a pipe
 * inside a cell) and are trimmed; a row of only '-', ':' and spaces after the first marks the first row as
 * the header and gives the alignment (":--" left, "--:" right, ":-:" centre); a column without one is right-
 * aligned when all its body cells read as numbers, else left-aligned.
 *
 * Fitting (plt_table_fit): each column as wide as its widest cell plus padding; when that is too wide, headers
 * wrap at spaces (a column at least its header's longest word, the spare width to the headers that want it);
 * then the font shrinks from base_size down to TABLE_MIN_FONT, past which body cells wrap at spaces too. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plots/plot_internal.h"

#define TABLE_MIN_FONT 5.5

static int is_rule_row(const char *s, size_t n) {
    int dash = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '-') dash = 1;
        else if (!strchr("|: \t", s[i])) return 0;
    }
    return dash;
}

/* the cells of one line into out (NUL-terminated copies, trimmed); returns how many. The leading pipe and a
 * trailing one are the row's edges, not cell separators. */
static int split_row(const char *s, size_t n, char **out, int cap) {
    size_t i = 0, e = n;
    while (i < e && isspace((unsigned char)s[i])) i++;
    while (e > i && isspace((unsigned char)s[e - 1])) e--;
    if (i < e && s[i] == '|') i++;
    if (e > i && s[e - 1] == '|' && !(e >= 2 && s[e - 2] == '\\')) e--;
    int k = 0;
    while (k < cap) {
        char *cell = malloc(e - i + 1);
        if (!cell) break;
        size_t m = 0;
        while (i < e && s[i] != '|') {
            if (s[i] == '\\' && i + 1 < e && s[i + 1] == '|') i++; /* "\|": a pipe inside the cell */
            cell[m++] = s[i++];
        }
        while (m > 0 && isspace((unsigned char)cell[m - 1])) m--;
        cell[m] = 0;
        size_t lead = strspn(cell, " \t");
        memmove(cell, cell + lead, m - lead + 1);
        out[k++] = cell;
        if (i >= e) break;
        i++; /* past the separator */
    }
    return k;
}

static int numeric(const char *s) {
    if (!*s || !strcmp(s, "-") || !strcmp(s, "n/a")) return *s != 0; /* placeholders do not decide */
    const char *p = s;
    if (!strncmp(p, "\u2212", 3)) p += 3; /* a real minus sign */
    else if (*p == '+' || *p == '-') p++;
    int digits = 0;
    for (; *p; p++) {
        if (isdigit((unsigned char)*p)) digits = 1;
        else if (!strchr(".,eE+-%xKMGTBk ", *p)) return 0;
    }
    return digits;
}

#define MAX_COLS PLT_TABLE_MAX_COLS

int plt_table_parse(const char *const *lines, const size_t *lens, int n, plt_table *t) {
    memset(t, 0, sizeof *t);
    if (n < 1) return plt_fail("a table without rows");
    t->cell = calloc((size_t)n * MAX_COLS, sizeof *t->cell);
    if (!t->cell) return plt_fail("out of memory");
    char *row[MAX_COLS];
    for (int r = 0; r < n; r++) {
        if (r == 1 && is_rule_row(lines[r], lens[r])) { /* the header's rule: alignments */
            t->header = 1;
            int k = split_row(lines[r], lens[r], row, MAX_COLS);
            for (int j = 0; j < k; j++) {
                size_t l = strlen(row[j]);
                int left = l && row[j][0] == ':', right = l && row[j][l - 1] == ':';
                t->align[j] = left && right ? 'c' : right ? 'r' : left ? 'l' : 0;
                free(row[j]);
            }
            continue;
        }
        int k = split_row(lines[r], lens[r], row, MAX_COLS);
        for (int j = 0; j < k; j++) t->cell[(size_t)t->rows * MAX_COLS + j] = row[j];
        if (k > t->cols) t->cols = k;
        t->rows++;
    }
    for (int j = 0; j < t->cols; j++) {
        if (t->align[j]) continue;
        int all = t->rows > t->header;
        for (int r = t->header; r < t->rows && all; r++) {
            const char *c = plt_table_cell(t, r, j);
            all = !*c || numeric(c);
        }
        t->align[j] = all ? 'r' : 'l';
    }
    return 0;
}

const char *plt_table_cell(const plt_table *t, int r, int j) {
    const char *c = r < t->rows && j < t->cols ? t->cell[(size_t)r * MAX_COLS + j] : NULL;
    return c ? c : "";
}

void plt_table_free(plt_table *t) {
    if (t->cell)
        for (size_t i = 0; i < (size_t)t->rows * MAX_COLS; i++) free(t->cell[i]);
    free(t->cell);
    memset(t, 0, sizeof *t);
}

/* the widest word of s (a header wraps at spaces) */
static double widest_word(cairo_t *cr, const char *s) {
    double w = 0;
    char word[512];
    while (*s) {
        while (*s == ' ') s++;
        size_t n = strcspn(s, " ");
        if (!n) break;
        snprintf(word, sizeof word, "%.*s", (int)(n < sizeof word - 1 ? n : sizeof word - 1), s);
        w = fmax(w, plt_text_w(cr, word));
        s += n;
    }
    return w;
}

/* Column widths at a font size: each column's widest cell; a header counts whole (head_wraps = 0) or by its
 * widest word (1); body cells whole, or by their widest word when body_wraps. */
static double widths(cairo_t *cr, const plt_table *t, double size, int head_wraps, int body_wraps, double *colw) {
    double total = 0;
    for (int j = 0; j < t->cols; j++) {
        colw[j] = 0;
        for (int r = 0; r < t->rows; r++) {
            int head = r < t->header, wraps = head ? head_wraps : body_wraps;
            plt_set_font(cr, size, head);
            const char *c = plt_table_cell(t, r, j);
            colw[j] = fmax(colw[j], wraps ? widest_word(cr, c) : plt_text_w(cr, c));
        }
        colw[j] += 2 * PLT_TABLE_PAD;
        total += colw[j];
    }
    return total;
}

/* Widths at a size with the header on one line if that fits, else headers wrapped just enough: the spare width
 * goes to the columns whose headers want it, in proportion. Returns the total (> avail: does not fit). */
static double widths_fitting(cairo_t *cr, const plt_table *t, double size, int body_wraps, double avail, double *colw) {
    double whole[PLT_TABLE_MAX_COLS];
    double total = widths(cr, t, size, 0, body_wraps, whole);
    if (total <= avail) { memcpy(colw, whole, sizeof whole); return total; }
    double least = widths(cr, t, size, 1, body_wraps, colw);
    if (least >= avail) return least;
    double want = total - least; /* > 0: some header is wider than its column's body */
    for (int j = 0; j < t->cols; j++) colw[j] += (whole[j] - colw[j]) * (avail - least) / want;
    return avail;
}

void plt_table_fit(cairo_t *cr, plt_table *t, double avail, double base_size) {
    double size = base_size, total = widths_fitting(cr, t, size, 0, avail, t->colw);
    if (total > avail) {
        size = fmax(TABLE_MIN_FONT, base_size * avail / total);
        total = widths_fitting(cr, t, size, 0, avail, t->colw);
        while (total > avail && size > TABLE_MIN_FONT) { /* text widths are not exactly linear in the size */
            size = fmax(TABLE_MIN_FONT, size * 0.97);
            total = widths_fitting(cr, t, size, 0, avail, t->colw);
        }
    }
    t->body_wraps = 0;
    if (total > avail) { /* still too wide at the smallest font: body cells wrap too */
        t->body_wraps = 1;
        total = widths_fitting(cr, t, size, 1, avail, t->colw);
    }
    t->size = size;
    t->width = 0;
    for (int j = 0; j < t->cols; j++) t->width += t->colw[j];
}

int plt_table_lines(cairo_t *cr, const plt_table *t, int r, int j, char lines[][256], int cap) {
    int head = r < t->header;
    plt_set_font(cr, t->size, head);
    const char *c = plt_table_cell(t, r, j);
    double w = t->colw[j] - 2 * PLT_TABLE_PAD;
    if (!head && !t->body_wraps) {
        snprintf(lines[0], 256, "%s", c);
        return 1;
    }
    int n = 0;
    while (*c && n < cap) { /* greedy at spaces: a word wider than the column stands alone */
        while (*c == ' ') c++;
        if (!*c) break;
        size_t fit = 0, at = 0;
        for (;;) {
            size_t next = at + strcspn(c + at, " ");
            char probe[256];
            snprintf(probe, sizeof probe, "%.*s", (int)(next < 255 ? next : 255), c);
            if (fit && plt_text_w(cr, probe) > w) break;
            fit = next;
            if (!c[next]) break;
            at = next + 1;
        }
        snprintf(lines[n++], 256, "%.*s", (int)(fit < 255 ? fit : 255), c);
        c += fit;
    }
    if (n == 0) lines[n++][0] = 0;
    return n;
}
