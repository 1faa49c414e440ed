/* The plot kind registry (plots/plot.h): the built-in kinds listed here, one row each; everything else about
 * a kind lives in its own file. */
#include <stdio.h>
#include <string.h>

#include "plots/plot_internal.h"

/* ---- the list: ONE row per kind; X(name) stands for `plot_kind_<name>` defined in plots/<name>.c ---- */
#define PLOT_KINDS(X) X(lines) X(heatmap) X(bars)

#define DECLARE(n) extern const plot_kind plot_kind_##n;
PLOT_KINDS(DECLARE)
#define ENTRY(n) &plot_kind_##n,
static const plot_kind *const builtin[] = {PLOT_KINDS(ENTRY)};
enum { N_BUILTIN = sizeof builtin / sizeof builtin[0] };

#define MAX_EXTRA 8
static const plot_kind *extra[MAX_EXTRA];
static int n_extra;

int plot_kind_count(void) { return N_BUILTIN + n_extra; }

const plot_kind *plot_kind_at(int i) {
    if (i < 0 || i >= plot_kind_count()) return NULL;
    return i < N_BUILTIN ? builtin[i] : extra[i - N_BUILTIN];
}

const plot_kind *plot_kind_find(const char *name) {
    for (int i = 0; name && i < plot_kind_count(); i++)
        if (!strcmp(plot_kind_at(i)->name, name)) return plot_kind_at(i);
    return NULL;
}

const char *plot_kind_names(void) {
    static char buf[256];
    buf[0] = 0;
    for (int i = 0; i < plot_kind_count(); i++)
        snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%s", i ? "|" : "", plot_kind_at(i)->name);
    return buf;
}

const char *plot_kind_name(const plot_kind *k) { return k->name; }
const char *plot_kind_help(const plot_kind *k) { return k->help; }
size_t plot_kind_spec_size(const plot_kind *k) { return k->spec_size; }
const plot_option *plot_kind_options(const plot_kind *k) { return k->options; }

int plot_kind_register(const plot_kind *k) {
    if (plot_kind_find(k->name)) return plt_fail("a plot kind named '%s' exists already", k->name);
    if (n_extra == MAX_EXTRA) return plt_fail("no room for another plot kind (%d added)", MAX_EXTRA);
    extra[n_extra++] = k;
    return 0;
}
