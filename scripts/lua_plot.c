/* archlab.plot.*: Lua tables in, plots/ specs out. Every option table is checked strictly, so a typo'd key
 * is an error that names it (and suggests the key meant), and every bad value names its field path:
 *   script.lua:12: archlab.plot.lines: field 'series[2].y': expected a number at [5], got string
 * Buffers live in Lua userdata anchored for the duration of the call, so an error (a longjmp through
 * luaL_error) frees them with everything else instead of leaking. */
#include <lauxlib.h>
#include <lua.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "plots/plot.h"
#include "scripts/lua_plot.h"

#define SCRATCH 2 /* stack slot of the table that anchors this call's buffers and strings */

typedef struct {
    lua_State *L;
    const char *fn; /* "archlab.plot.lines" */
} ctx;

static int lerr(ctx *c, const char *field, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int lerr(ctx *c, const char *field, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (field && *field) return luaL_error(c->L, "%s: field '%s': %s", c->fn, field, msg);
    return luaL_error(c->L, "%s: %s", c->fn, msg);
}

/* Memory that Lua's collector frees after the call, whether it returns or raises. */
static void *scratch(ctx *c, size_t n) {
    void *p = lua_newuserdatauv(c->L, n ? n : 1, 0);
    lua_rawseti(c->L, SCRATCH, (lua_Integer)lua_rawlen(c->L, SCRATCH) + 1);
    return p;
}

/* The string at idx (a string or a number), kept alive in the scratch table. */
static const char *keep_str(ctx *c, int idx) {
    lua_pushvalue(c->L, idx);
    const char *s = lua_tostring(c->L, -1);
    lua_rawseti(c->L, SCRATCH, (lua_Integer)lua_rawlen(c->L, SCRATCH) + 1);
    return s;
}

static const char *tname(lua_State *L, int idx) { return luaL_typename(L, idx); }

static size_t edit_distance(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b), d[64];
    if (la >= 63 || lb >= 63) return 99;
    for (size_t j = 0; j <= lb; j++) d[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t prev = d[0];
        d[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t cur = d[j], sub = prev + (a[i - 1] != b[j - 1]);
            d[j] = sub < d[j] + 1 ? sub : d[j] + 1;
            if (d[j - 1] + 1 < d[j]) d[j] = d[j - 1] + 1;
            prev = cur;
        }
    }
    return d[lb];
}

/* Every key of the table at idx must be one of allowed (NULL-terminated). */
static void check_keys(ctx *c, int idx, const char *field, const char *const *allowed) {
    lua_State *L = c->L;
    idx = lua_absindex(L, idx);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TSTRING) {
            if (lua_isinteger(L, -1))
                lerr(c, field, "unexpected list entry [%lld]; options are named (key = value)",
                      (long long)lua_tointeger(L, -1));
            lerr(c, field, "unexpected %s key", tname(L, -1));
        }
        const char *k = lua_tostring(L, -1), *best = NULL;
        size_t bd = 3;
        int found = 0;
        for (const char *const *a = allowed; *a; a++) {
            if (!strcmp(k, *a)) { found = 1; break; }
            size_t d = edit_distance(k, *a);
            if (d < bd) { bd = d; best = *a; }
        }
        if (!found) {
            if (best) lerr(c, field, "unknown option '%s' (did you mean '%s'?)", k, best);
            char list[400] = "";
            for (const char *const *a = allowed; *a; a++)
                snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", a == allowed ? "" : ", ", *a);
            lerr(c, field, "unknown option '%s' (options: %s)", k, list);
        }
    }
}

static void join(char *out, size_t n, const char *prefix, const char *key) {
    if (prefix && *prefix) snprintf(out, n, "%s.%s", prefix, key);
    else snprintf(out, n, "%s", key);
}

/* Field getters: push t[key] (t at idx); return 0 and pop if absent. */
static int get(ctx *c, int idx, const char *key) {
    if (lua_getfield(c->L, idx, key) == LUA_TNIL) { lua_pop(c->L, 1); return 0; }
    return 1;
}

/* Push the required, non-empty list t[key] (t at idx; f names it in errors) and return its length. missing:
 * what to write when it is absent; items: what it is a list of; noun: what is counted when it is empty. */
static size_t req_list(ctx *c, int idx, const char *f, const char *key, const char *missing, const char *items,
                       const char *noun) {
    if (!get(c, idx, key)) lerr(c, f, "missing (%s)", missing);
    if (!lua_istable(c->L, -1)) lerr(c, f, "expected a list of %s, got %s", items, tname(c->L, -1));
    size_t n = (size_t)lua_rawlen(c->L, -1);
    if (n == 0) lerr(c, f, "no %s given (an empty list)", noun);
    return n;
}

static const char *opt_str(ctx *c, int idx, const char *prefix, const char *key) {
    if (!get(c, idx, key)) return NULL;
    char f[256];
    join(f, sizeof f, prefix, key);
    if (lua_type(c->L, -1) != LUA_TSTRING && lua_type(c->L, -1) != LUA_TNUMBER)
        lerr(c, f, "expected a string, got %s", tname(c->L, -1));
    const char *s = keep_str(c, -1);
    lua_pop(c->L, 1);
    return s;
}

static int opt_bool(ctx *c, int idx, const char *prefix, const char *key) {
    if (!get(c, idx, key)) return 0;
    char f[256];
    join(f, sizeof f, prefix, key);
    if (!lua_isboolean(c->L, -1)) lerr(c, f, "expected true or false, got %s", tname(c->L, -1));
    int b = lua_toboolean(c->L, -1);
    lua_pop(c->L, 1);
    return b;
}

static int opt_num(ctx *c, int idx, const char *prefix, const char *key, double *v) {
    if (!get(c, idx, key)) return 0;
    char f[256];
    join(f, sizeof f, prefix, key);
    if (lua_type(c->L, -1) != LUA_TNUMBER) lerr(c, f, "expected a number, got %s", tname(c->L, -1));
    *v = lua_tonumber(c->L, -1);
    lua_pop(c->L, 1);
    return 1;
}

/* A list of numbers at the top of the stack (left there). NaN (0/0) entries are gaps. */
static double *num_list(ctx *c, const char *field, size_t *n) {
    lua_State *L = c->L;
    if (!lua_istable(L, -1)) lerr(c, field, "expected a list of numbers, got %s", tname(L, -1));
    *n = (size_t)lua_rawlen(L, -1);
    double *v = scratch(c, *n * sizeof *v);
    for (size_t i = 0; i < *n; i++) {
        int t = lua_rawgeti(L, -1, (lua_Integer)i + 1);
        if (t != LUA_TNUMBER) lerr(c, field, "expected a number at [%zu], got %s", i + 1, tname(L, -1));
        v[i] = lua_tonumber(L, -1);
        lua_pop(L, 1);
    }
    return v;
}

static const char **str_list(ctx *c, const char *field, size_t *n) {
    lua_State *L = c->L;
    if (!lua_istable(L, -1)) lerr(c, field, "expected a list of strings, got %s", tname(L, -1));
    *n = (size_t)lua_rawlen(L, -1);
    const char **v = scratch(c, *n * sizeof *v);
    for (size_t i = 0; i < *n; i++) {
        int t = lua_rawgeti(L, -1, (lua_Integer)i + 1);
        if (t != LUA_TSTRING && t != LUA_TNUMBER) lerr(c, field, "expected a string at [%zu], got %s", i + 1, tname(L, -1));
        v[i] = keep_str(c, -1);
        lua_pop(L, 1);
    }
    return v;
}

static void opt_lim(ctx *c, int idx, const char *prefix, const char *key, int *has, double lim[2]) {
    if (!get(c, idx, key)) return;
    char f[256];
    join(f, sizeof f, prefix, key);
    size_t n;
    double *v = num_list(c, f, &n);
    if (n != 2) lerr(c, f, "expected {lo, hi}, got %zu numbers", n);
    lim[0] = v[0]; lim[1] = v[1];
    *has = 1;
    lua_pop(c->L, 1);
}

/* width/height/dpi, shared by every figure-level call */
static void read_output(ctx *c, int idx, plot_output *o) {
    memset(o, 0, sizeof *o);
    opt_num(c, idx, "", "width", &o->width);
    opt_num(c, idx, "", "height", &o->height);
    opt_num(c, idx, "", "dpi", &o->dpi);
}

static const char *need_file(ctx *c, int idx) {
    const char *f = opt_str(c, idx, "", "file");
    if (!f) lerr(c, "file", "missing (the output path: .png, .svg or .pdf)");
    return f;
}

/* ---- lines ---- */

static const char *const SERIES_KEYS[] = {"name", "x", "y", "marker", NULL};

static void read_series(ctx *c, int idx, const char *field, plot_series *s) {
    lua_State *L = c->L;
    idx = lua_absindex(L, idx);
    if (!lua_istable(L, idx)) lerr(c, field, "expected a series table {name=, x=, y=}, got %s", tname(L, idx));
    check_keys(c, idx, field, SERIES_KEYS);
    memset(s, 0, sizeof *s);
    s->name = opt_str(c, idx, field, "name");
    s->marker = opt_bool(c, idx, field, "marker");
    char f[256];
    join(f, sizeof f, field, "y");
    if (!get(c, idx, "y")) lerr(c, f, "missing (the series' values)");
    s->y = num_list(c, f, &s->ny);
    lua_pop(L, 1);
    join(f, sizeof f, field, "x");
    if (get(c, idx, "x")) {
        s->x = num_list(c, f, &s->nx);
        lua_pop(L, 1);
    } else { /* Lua counts from 1: x = 1..n, like ipairs */
        double *x = scratch(c, s->ny * sizeof *x);
        for (size_t i = 0; i < s->ny; i++) x[i] = (double)(i + 1);
        s->x = x;
        s->nx = s->ny;
    }
}

static const char *const LINES_KEYS[] = {"file", "width", "height", "dpi", "title", "xlabel", "ylabel", "log_x",
                                         "log_y", "markers", "xlim", "ylim", "series", "kind", NULL};

static void read_lines(ctx *c, int idx, const char *prefix, plot_lines_spec *p) {
    lua_State *L = c->L;
    idx = lua_absindex(L, idx);
    memset(p, 0, sizeof *p);
    p->title = opt_str(c, idx, prefix, "title");
    p->xlabel = opt_str(c, idx, prefix, "xlabel");
    p->ylabel = opt_str(c, idx, prefix, "ylabel");
    p->log_x = opt_bool(c, idx, prefix, "log_x");
    p->log_y = opt_bool(c, idx, prefix, "log_y");
    p->markers = opt_bool(c, idx, prefix, "markers");
    opt_lim(c, idx, prefix, "xlim", &p->has_xlim, p->xlim);
    opt_lim(c, idx, prefix, "ylim", &p->has_ylim, p->ylim);
    char f[256], e[280];
    join(f, sizeof f, prefix, "series");
    if (!get(c, idx, "series")) lerr(c, f, "missing (a list of {name=, x=, y=} tables)");
    if (!lua_istable(L, -1)) lerr(c, f, "expected a list of series, got %s", tname(L, -1));
    /* One series may be given bare: series = {name=, x=, y=} */
    if (lua_getfield(L, -1, "y") != LUA_TNIL) {
        lua_pop(L, 1);
        plot_series *s = scratch(c, sizeof *s);
        read_series(c, -1, f, s);
        p->series = s;
        p->n_series = 1;
    } else {
        lua_pop(L, 1);
        size_t n = (size_t)lua_rawlen(L, -1);
        if (n == 0) lerr(c, f, "no series given (an empty list)");
        plot_series *s = scratch(c, n * sizeof *s);
        for (size_t i = 0; i < n; i++) {
            snprintf(e, sizeof e, "%s[%zu]", f, i + 1);
            lua_rawgeti(L, -1, (lua_Integer)i + 1);
            read_series(c, -1, e, &s[i]);
            lua_pop(L, 1);
        }
        p->series = s;
        p->n_series = n;
    }
    lua_pop(L, 1);
}

/* ---- heatmap ---- */

static const char *const HEATMAP_KEYS[] = {"file", "width", "height", "dpi", "title", "xlabel", "ylabel",
                                           "cbar_label", "x_labels", "y_labels", "values", "colormap", "vmin",
                                           "vmax", "labels", "label_format", "kind", NULL};

static void read_heatmap(ctx *c, int idx, const char *prefix, plot_heatmap_spec *h) {
    lua_State *L = c->L;
    idx = lua_absindex(L, idx);
    memset(h, 0, sizeof *h);
    h->title = opt_str(c, idx, prefix, "title");
    h->xlabel = opt_str(c, idx, prefix, "xlabel");
    h->ylabel = opt_str(c, idx, prefix, "ylabel");
    h->cbar_label = opt_str(c, idx, prefix, "cbar_label");
    h->cell_labels = opt_bool(c, idx, prefix, "labels");
    h->label_fmt = opt_str(c, idx, prefix, "label_format");
    char f[256], e[280];
    const char *cm = opt_str(c, idx, prefix, "colormap");
    join(f, sizeof f, prefix, "colormap");
    if (cm && plot_cmap_by_name(cm, &h->cmap)) lerr(c, f, "%s", plot_last_error());

    join(f, sizeof f, prefix, "values");
    h->ny = req_list(c, idx, f, "values", "a list of rows, one per y label", "rows", "rows");
    double *v = NULL;
    for (size_t i = 0; i < h->ny; i++) {
        snprintf(e, sizeof e, "%s[%zu]", f, i + 1);
        lua_rawgeti(L, -1, (lua_Integer)i + 1);
        size_t n;
        double *row = num_list(c, e, &n);
        if (i == 0) {
            if (n == 0) lerr(c, e, "an empty row");
            h->nx = n;
            v = scratch(c, h->nx * h->ny * sizeof *v);
        } else if (n != h->nx) {
            lerr(c, e, "row has %zu values but row 1 has %zu", n, h->nx);
        }
        memcpy(v + i * h->nx, row, n * sizeof *v);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    h->values = v;

    size_t n;
    join(f, sizeof f, prefix, "x_labels");
    if (get(c, idx, "x_labels")) {
        h->x_labels = str_list(c, f, &n);
        if (n != h->nx) lerr(c, f, "%zu labels for %zu columns", n, h->nx);
        lua_pop(L, 1);
    }
    join(f, sizeof f, prefix, "y_labels");
    if (get(c, idx, "y_labels")) {
        h->y_labels = str_list(c, f, &n);
        if (n != h->ny) lerr(c, f, "%zu labels for %zu rows", n, h->ny);
        lua_pop(L, 1);
    }
    /* vmin or vmax alone: the other end comes from the data */
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < h->nx * h->ny; i++)
        if (isfinite(v[i])) { lo = fmin(lo, v[i]); hi = fmax(hi, v[i]); }
    int has_lo = opt_num(c, idx, prefix, "vmin", &h->vmin), has_hi = opt_num(c, idx, prefix, "vmax", &h->vmax);
    if (has_lo || has_hi) {
        h->has_range = 1;
        if (!has_lo) h->vmin = lo;
        if (!has_hi) h->vmax = hi;
    }
}

/* ---- bars ---- */

static const char *const BARS_KEYS[] = {"file", "width", "height", "dpi", "title", "xlabel", "ylabel", "categories",
                                        "groups", "values", "log_y", "labels", "kind", NULL};
static const char *const GROUP_KEYS[] = {"name", "values", NULL};

static void read_bars(ctx *c, int idx, const char *prefix, plot_bars_spec *b) {
    lua_State *L = c->L;
    idx = lua_absindex(L, idx);
    memset(b, 0, sizeof *b);
    b->title = opt_str(c, idx, prefix, "title");
    b->xlabel = opt_str(c, idx, prefix, "xlabel");
    b->ylabel = opt_str(c, idx, prefix, "ylabel");
    b->log_y = opt_bool(c, idx, prefix, "log_y");
    b->value_labels = opt_bool(c, idx, prefix, "labels");
    char f[256], e[280], v[300];
    join(f, sizeof f, prefix, "categories");
    if (!get(c, idx, "categories")) lerr(c, f, "missing (a list of category names)");
    b->categories = str_list(c, f, &b->n_categories);
    lua_pop(L, 1);
    int has_groups = get(c, idx, "groups");
    if (has_groups) lua_pop(L, 1);
    int has_values = get(c, idx, "values");
    if (has_values) lua_pop(L, 1);
    if (has_groups == has_values) {
        join(f, sizeof f, prefix, "groups");
        lerr(c, f, has_groups ? "give either groups or values, not both" : "missing (groups = {{name=, values=}, ...} or values = {...})");
    }
    if (has_values) { /* plain bars: values = {...} */
        plot_bar_group *g = scratch(c, sizeof *g);
        memset(g, 0, sizeof *g);
        join(f, sizeof f, prefix, "values");
        get(c, idx, "values");
        g->values = num_list(c, f, &g->n);
        lua_pop(L, 1);
        b->groups = g;
        b->n_groups = 1;
        return;
    }
    join(f, sizeof f, prefix, "groups");
    get(c, idx, "groups");
    if (!lua_istable(L, -1)) lerr(c, f, "expected a list of {name=, values=} tables, got %s", tname(L, -1));
    size_t n = (size_t)lua_rawlen(L, -1);
    if (n == 0) lerr(c, f, "no groups given (an empty list)");
    plot_bar_group *g = scratch(c, n * sizeof *g);
    for (size_t i = 0; i < n; i++) {
        snprintf(e, sizeof e, "%s[%zu]", f, i + 1);
        lua_rawgeti(L, -1, (lua_Integer)i + 1);
        if (!lua_istable(L, -1)) lerr(c, e, "expected a group table {name=, values=}, got %s", tname(L, -1));
        check_keys(c, -1, e, GROUP_KEYS);
        g[i].name = opt_str(c, lua_gettop(L), e, "name");
        snprintf(v, sizeof v, "%s.values", e);
        if (!get(c, lua_gettop(L), "values")) lerr(c, v, "missing");
        g[i].values = num_list(c, v, &g[i].n);
        lua_pop(L, 2);
    }
    lua_pop(L, 1);
    b->groups = g;
    b->n_groups = n;
}

/* ---- the Lua functions ---- */

static void begin(lua_State *L, ctx *c, const char *fn) {
    c->L = L;
    c->fn = fn;
    if (!lua_istable(L, 1)) lerr(c, NULL, "expected one table of options, got %s", luaL_typename(L, 1));
    lua_settop(L, 1);
    lua_newtable(L); /* SCRATCH */
}

static int done(ctx *c, int rc, const char *file) {
    if (rc) lerr(c, NULL, "%s", plot_last_error());
    lua_pushstring(c->L, file);
    return 1;
}

static int l_lines(lua_State *L) {
    ctx c;
    begin(L, &c, "archlab.plot.lines");
    check_keys(&c, 1, "", LINES_KEYS);
    if (get(&c, 1, "kind")) lerr(&c, "kind", "only used inside panels");
    const char *file = need_file(&c, 1);
    plot_output o;
    read_output(&c, 1, &o);
    plot_lines_spec p;
    read_lines(&c, 1, "", &p);
    return done(&c, plot_lines(file, &p, &o), file);
}

static int l_heatmap(lua_State *L) {
    ctx c;
    begin(L, &c, "archlab.plot.heatmap");
    check_keys(&c, 1, "", HEATMAP_KEYS);
    if (get(&c, 1, "kind")) lerr(&c, "kind", "only used inside panels");
    const char *file = need_file(&c, 1);
    plot_output o;
    read_output(&c, 1, &o);
    plot_heatmap_spec h;
    read_heatmap(&c, 1, "", &h);
    return done(&c, plot_heatmap(file, &h, &o), file);
}

static int l_bars(lua_State *L) {
    ctx c;
    begin(L, &c, "archlab.plot.bars");
    check_keys(&c, 1, "", BARS_KEYS);
    if (get(&c, 1, "kind")) lerr(&c, "kind", "only used inside panels");
    const char *file = need_file(&c, 1);
    plot_output o;
    read_output(&c, 1, &o);
    plot_bars_spec b;
    read_bars(&c, 1, "", &b);
    return done(&c, plot_bars(file, &b, &o), file);
}

static const char *const PANELS_KEYS[] = {"file", "width", "height", "dpi", "title", "cols", "plots", NULL};

static int l_panels(lua_State *L) {
    ctx c;
    begin(L, &c, "archlab.plot.panels");
    check_keys(&c, 1, "", PANELS_KEYS);
    const char *file = need_file(&c, 1);
    plot_output o;
    read_output(&c, 1, &o);
    plot_panels_spec ps;
    memset(&ps, 0, sizeof ps);
    ps.title = opt_str(&c, 1, "", "title");
    double cols = 0;
    if (opt_num(&c, 1, "", "cols", &cols) && (cols < 1 || cols > 64 || cols != floor(cols)))
        lerr(&c, "cols", "expected a whole number from 1 to 64, got %g", cols);
    ps.cols = (int)cols;
    size_t n = req_list(&c, 1, "plots", "plots", "a list of {kind = \"lines\"|\"heatmap\"|\"bars\", ...}", "plot tables",
                        "plots");
    plot_panel *pan = scratch(&c, n * sizeof *pan);
    char f[64];
    for (size_t i = 0; i < n; i++) {
        snprintf(f, sizeof f, "plots[%zu]", i + 1);
        lua_rawgeti(L, -1, (lua_Integer)i + 1);
        int t = lua_gettop(L);
        if (!lua_istable(L, t)) lerr(&c, f, "expected a plot table, got %s", tname(L, t));
        const char *kind = opt_str(&c, t, f, "kind");
        memset(&pan[i], 0, sizeof pan[i]);
        if (!kind) lerr(&c, f, "missing kind (\"lines\", \"heatmap\" or \"bars\")");
        /* a panel has no file or size of its own */
        static const char *const own[] = {"file", "width", "height", "dpi"};
        for (int k = 0; k < 4; k++)
            if (get(&c, t, own[k])) lerr(&c, f, "'%s' belongs to the panels call, not to one plot", own[k]);
        if (!strcmp(kind, "lines")) {
            check_keys(&c, t, f, LINES_KEYS);
            plot_lines_spec *p = scratch(&c, sizeof *p);
            read_lines(&c, t, f, p);
            pan[i].lines = p;
        } else if (!strcmp(kind, "heatmap")) {
            check_keys(&c, t, f, HEATMAP_KEYS);
            plot_heatmap_spec *h = scratch(&c, sizeof *h);
            read_heatmap(&c, t, f, h);
            pan[i].heatmap = h;
        } else if (!strcmp(kind, "bars")) {
            check_keys(&c, t, f, BARS_KEYS);
            plot_bars_spec *b = scratch(&c, sizeof *b);
            read_bars(&c, t, f, b);
            pan[i].bars = b;
        } else {
            char kf[80];
            snprintf(kf, sizeof kf, "%s.kind", f);
            lerr(&c, kf, "unknown kind '%s'; use \"lines\", \"heatmap\" or \"bars\"", kind);
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    ps.panels = pan;
    ps.n_panels = n;
    return done(&c, plot_panels(file, &ps, &o), file);
}

/* archlab.plot.document{ file = "r.pdf", title = "...", pages = { { title =, text =, image =, caption = }, ... } }
 * -> file, number of PDF pages: text and PNG figures in one multi-page PDF (plots/document.c). */
static const char *const DOC_KEYS[] = {"file", "width", "height", "title", "pages", NULL};
static const char *const PAGE_KEYS[] = {"title", "text", "image", "caption", NULL};

static int l_document(lua_State *L) {
    ctx c;
    begin(L, &c, "archlab.plot.document");
    check_keys(&c, 1, "", DOC_KEYS);
    const char *file = need_file(&c, 1);
    plot_output o;
    memset(&o, 0, sizeof o);
    opt_num(&c, 1, "", "width", &o.width);
    opt_num(&c, 1, "", "height", &o.height);
    plot_document_spec ds;
    memset(&ds, 0, sizeof ds);
    ds.title = opt_str(&c, 1, "", "title");
    size_t n = req_list(&c, 1, "pages", "pages", "a list of {title=, text=, image=, caption=} tables", "page tables", "pages");
    plot_page *pg = scratch(&c, n * sizeof *pg);
    char f[64];
    for (size_t i = 0; i < n; i++) {
        snprintf(f, sizeof f, "pages[%zu]", i + 1);
        lua_rawgeti(L, -1, (lua_Integer)i + 1);
        int t = lua_gettop(L);
        if (!lua_istable(L, t)) lerr(&c, f, "expected a page table {title=, text=, image=, caption=}, got %s", tname(L, t));
        check_keys(&c, t, f, PAGE_KEYS);
        pg[i].title = opt_str(&c, t, f, "title");
        pg[i].text = opt_str(&c, t, f, "text");
        pg[i].image = opt_str(&c, t, f, "image");
        pg[i].caption = opt_str(&c, t, f, "caption");
        if (!pg[i].title && !pg[i].text && !pg[i].image) lerr(&c, f, "an empty page (give title, text or image)");
        if (pg[i].caption && !pg[i].image) {
            char cf[80];
            snprintf(cf, sizeof cf, "%s.caption", f);
            lerr(&c, cf, "a caption needs an image on the same page");
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    ds.pages = pg;
    ds.n_pages = n;
    int pages = 0;
    if (plot_document(file, &ds, &o, &pages)) lerr(&c, NULL, "%s", plot_last_error());
    lua_pushstring(L, file);
    lua_pushinteger(L, pages);
    return 2;
}

/* archlab.plot.colormap(name, t) -> r, g, b in [0, 1]: the colours the heatmaps use, for scripts that
 * want to match them. */
static int l_colormap(lua_State *L) {
    const char *name = luaL_checkstring(L, 1);
    double t = luaL_checknumber(L, 2), rgb[3];
    plot_cmap cm;
    if (plot_cmap_by_name(name, &cm)) return luaL_error(L, "archlab.plot.colormap: %s", plot_last_error());
    plot_colormap(cm, t, rgb);
    for (int k = 0; k < 3; k++) lua_pushnumber(L, rgb[k]);
    return 3;
}

int al_lua_plot_open(lua_State *L) {
    static const luaL_Reg fns[] = {{"lines", l_lines},   {"heatmap", l_heatmap}, {"bars", l_bars},
                                   {"panels", l_panels}, {"colormap", l_colormap},
                                   {"document", l_document}, {NULL, NULL}};
    luaL_newlib(L, fns);
    return 1;
}
