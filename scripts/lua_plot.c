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

#include "arch/config.h" /* closest_word */
#include "core/dist.h"
#include "plots/plot.h"
#include "scripts/lua_opts.h"
#include "scripts/lua_plot.h"
#include "scripts/lua_tensor.h"

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

/* Every key of the table at idx must be one of allowed (n names); a typo gets the closest (closest_word, the
 * same rule as config fields), anything else the list. */
static void check_keys(ctx *c, int idx, const char *field, const char *const *allowed, int n) {
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
        const char *k = lua_tostring(L, -1);
        int found = 0;
        for (int a = 0; a < n && !found; a++) found = !strcmp(k, allowed[a]);
        if (found) continue;
        const char *best = closest_word(k, allowed, n);
        if (best) lerr(c, field, "unknown option '%s' (did you mean '%s'?)", k, best);
        char list[600] = "";
        for (int a = 0; a < n; a++) snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", a ? ", " : "", allowed[a]);
        lerr(c, field, "unknown option '%s' (options: %s)", k, list);
    }
}

/* the names of an OptSpec table (ended by a NULL name) into keys, then the extra names; returns how many */
static int spec_keys(const OptSpec *opts, const char **keys, int cap, const char *const *extra) {
    int n = 0;
    for (const OptSpec *o = opts; o->name && n < cap; o++) keys[n++] = o->name;
    for (; extra && *extra && n < cap; extra++) keys[n++] = *extra;
    return n;
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

static const char *read_str(ctx *c, int idx, const char *prefix, const char *key) {
    if (!get(c, idx, key)) return NULL;
    char f[256];
    join(f, sizeof f, prefix, key);
    if (lua_type(c->L, -1) != LUA_TSTRING && lua_type(c->L, -1) != LUA_TNUMBER)
        lerr(c, f, "expected a string, got %s", tname(c->L, -1));
    const char *s = keep_str(c, -1);
    lua_pop(c->L, 1);
    return s;
}

static int read_bool(ctx *c, int idx, const char *prefix, const char *key) {
    if (!get(c, idx, key)) return 0;
    char f[256];
    join(f, sizeof f, prefix, key);
    if (!lua_isboolean(c->L, -1)) lerr(c, f, "expected true or false, got %s", tname(c->L, -1));
    int b = lua_toboolean(c->L, -1);
    lua_pop(c->L, 1);
    return b;
}

static int read_num(ctx *c, int idx, const char *prefix, const char *key, double *v) {
    if (!get(c, idx, key)) return 0;
    char f[256];
    join(f, sizeof f, prefix, key);
    if (lua_type(c->L, -1) != LUA_TNUMBER) lerr(c, f, "expected a number, got %s", tname(c->L, -1));
    *v = lua_tonumber(c->L, -1);
    lua_pop(c->L, 1);
    return 1;
}

/* The elements of a tensor at the top of the stack in row-major order (scratch memory), checked to have nd
 * dimensions: plots take tensors wherever they take lists (a 1-d one) or rows (a 2-d one). */
static double *tensor_values(ctx *c, const char *field, const Tensor *t, int nd) {
    if (t->ndim != nd)
        lerr(c, field, "expected a %d-dimensional tensor, got %d dimensions", nd, t->ndim);
    int64_t n = tensor_numel(t), idx[TENSOR_MAX_DIMS] = {0};
    double *v = scratch(c, (size_t)(n ? n : 1) * sizeof *v);
    for (int64_t i = 0; i < n; i++) {
        v[i] = tensor_get(t, idx);
        for (int d = t->ndim - 1; d >= 0 && ++idx[d] == t->shape[d]; d--) idx[d] = 0;
    }
    return v;
}

/* A list of numbers (or a 1-d tensor) at the top of the stack (left there). NaN (0/0) entries are gaps. */
static double *num_list(ctx *c, const char *field, size_t *n) {
    lua_State *L = c->L;
    const Tensor *t = lua_tensor_test(L, -1);
    if (t) {
        double *v = tensor_values(c, field, t, 1);
        *n = (size_t)t->shape[0];
        return v;
    }
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

/* file/width/height/dpi, shared by every figure-level call */
const OptSpec lua_plot_output_opts[] = {
    {"file", OPT_STRING, 0, 0, NULL, "the output path; .png, .svg or .pdf picks the format"},
    {"width", OPT_NUMBER, 0, 0, "the kind's", "in points"},
    {"height", OPT_NUMBER, 0, 0, "the kind's", "in points"},
    {"dpi", OPT_NUMBER, 0, 0, "150", "PNG pixels per inch (a PNG is width * dpi / 72 pixels wide)"},
    {NULL},
};

static void read_output(ctx *c, int idx, plot_output *o) {
    memset(o, 0, sizeof *o);
    read_num(c, idx, "", "width", &o->width);
    read_num(c, idx, "", "height", &o->height);
    read_num(c, idx, "", "dpi", &o->dpi);
}

static const char *need_file(ctx *c, int idx) {
    const char *f = read_str(c, idx, "", "file");
    if (!f) lerr(c, "file", "missing (the output path: .png, .svg or .pdf)");
    return f;
}

/* ---- any plot kind: its options (plots/plot.h) read into its spec ---- */

#define AT(base, off, type) ((type *)((char *)(base) + (off)))

/* the keys a table of the kind's options may have: the options, and the extra names */
static int option_keys(const plot_option *opts, const char **keys, int cap, const char *const *extra) {
    int n = 0;
    for (const plot_option *o = opts; o->name && n < cap; o++) keys[n++] = o->name;
    for (; extra && *extra && n < cap; extra++) keys[n++] = *extra;
    return n;
}

static void read_options(ctx *c, int idx, const char *prefix, const plot_option *opts, void *spec);

/* A list of item structs at the top of the stack (field f): a bare item when allowed and recognized. */
static void read_list(ctx *c, const char *f, const plot_option *o, void *spec) {
    lua_State *L = c->L;
    if (!lua_istable(L, -1)) lerr(c, f, "expected a list of tables, got %s", tname(L, -1));
    const char *keys[48];
    int nk = option_keys(o->item, keys, 48, NULL);
    size_t n;
    char *items;
    int bare = 0;
    if (o->flags & PLOT_OPT_BARE) { /* recognized by the item's first (required) option */
        bare = lua_getfield(L, -1, o->item[0].name) != LUA_TNIL;
        lua_pop(L, 1);
    }
    if (bare) {
        n = 1;
        items = scratch(c, o->item_size);
        memset(items, 0, o->item_size);
        check_keys(c, -1, f, keys, nk);
        read_options(c, lua_gettop(L), f, o->item, items);
    } else {
        n = (size_t)lua_rawlen(L, -1);
        if (n == 0) lerr(c, f, "no %s given (an empty list)", o->name);
        items = scratch(c, n * o->item_size);
        memset(items, 0, n * o->item_size);
        char e[340];
        for (size_t i = 0; i < n; i++) {
            snprintf(e, sizeof e, "%s[%zu]", f, i + 1);
            lua_rawgeti(L, -1, (lua_Integer)i + 1);
            if (!lua_istable(L, -1)) lerr(c, e, "expected a table of options, got %s", tname(L, -1));
            check_keys(c, -1, e, keys, nk);
            read_options(c, lua_gettop(L), e, o->item, items + i * o->item_size);
            lua_pop(L, 1);
        }
    }
    *AT(spec, o->offset, const void *) = items;
    *AT(spec, o->count, size_t) = n;
}

/* A matrix given as a list of rows (or a 2-d tensor) at the top of the stack (field f). */
static void read_matrix(ctx *c, const char *f, const plot_option *o, void *spec) {
    lua_State *L = c->L;
    const Tensor *t = lua_tensor_test(L, -1);
    if (t) {
        double *v = tensor_values(c, f, t, 2);
        if (t->shape[0] == 0 || t->shape[1] == 0) lerr(c, f, "an empty tensor (%d x %d)", (int)t->shape[0], (int)t->shape[1]);
        *AT(spec, o->offset, const double *) = v;
        *AT(spec, o->count, size_t) = (size_t)t->shape[1];
        *AT(spec, o->count2, size_t) = (size_t)t->shape[0];
        return;
    }
    if (!lua_istable(L, -1)) lerr(c, f, "expected a list of rows, got %s", tname(L, -1));
    size_t ny = (size_t)lua_rawlen(L, -1), nx = 0;
    if (ny == 0) lerr(c, f, "no rows given (an empty list)");
    double *v = NULL;
    char e[340];
    for (size_t i = 0; i < ny; i++) {
        snprintf(e, sizeof e, "%s[%zu]", f, i + 1);
        lua_rawgeti(L, -1, (lua_Integer)i + 1);
        size_t n;
        double *row = num_list(c, e, &n);
        if (i == 0) {
            if (n == 0) lerr(c, e, "an empty row");
            nx = n;
            v = scratch(c, nx * ny * sizeof *v);
        } else if (n != nx) {
            lerr(c, e, "row has %zu values but row 1 has %zu", n, nx);
        }
        memcpy(v + i * nx, row, n * sizeof *v);
        lua_pop(L, 1);
    }
    *AT(spec, o->offset, const double *) = v;
    *AT(spec, o->count, size_t) = nx;
    *AT(spec, o->count2, size_t) = ny;
}

/* The options of the table at idx into spec (errors name prefix.option); keys were checked by the caller. */
static void read_options(ctx *c, int idx, const char *prefix, const plot_option *opts, void *spec) {
    lua_State *L = c->L;
    char f[300];
    for (const plot_option *o = opts; o->name; o++) {
        join(f, sizeof f, prefix, o->name);
        if (!get(c, idx, o->name)) {
            if (o->flags & PLOT_OPT_REQUIRED) lerr(c, f, "missing (%s)", o->help ? o->help : "required");
            continue;
        }
        lua_pop(L, 1); /* the typed getters below push it again */
        switch (o->type) {
        case PLOT_OPT_STRING: *AT(spec, o->offset, const char *) = read_str(c, idx, prefix, o->name); break;
        case PLOT_OPT_BOOL: *AT(spec, o->offset, int) = read_bool(c, idx, prefix, o->name); break;
        case PLOT_OPT_NUMBER:
            read_num(c, idx, prefix, o->name, AT(spec, o->offset, double));
            if (o->given >= 0) *AT(spec, o->given, int) = 1;
            break;
        case PLOT_OPT_RANGE: opt_lim(c, idx, prefix, o->name, AT(spec, o->given, int), AT(spec, o->offset, double)); break;
        case PLOT_OPT_COLORMAP: {
            const char *name = read_str(c, idx, prefix, o->name);
            if (plot_cmap_by_name(name, AT(spec, o->offset, plot_cmap))) lerr(c, f, "%s", plot_last_error());
            break;
        }
        case PLOT_OPT_NUMBERS:
        case PLOT_OPT_STRINGS:
        case PLOT_OPT_MATRIX:
        case PLOT_OPT_LIST:
            get(c, idx, o->name);
            if (o->type == PLOT_OPT_NUMBERS) *AT(spec, o->offset, const double *) = num_list(c, f, AT(spec, o->count, size_t));
            else if (o->type == PLOT_OPT_STRINGS) *AT(spec, o->offset, const char **) = str_list(c, f, AT(spec, o->count, size_t));
            else if (o->type == PLOT_OPT_MATRIX) read_matrix(c, f, o, spec);
            else read_list(c, f, o, spec);
            lua_pop(L, 1);
            break;
        }
    }
    /* absent INDEX lists: 1 .. n (Lua counts from 1, like ipairs), n the length of the option they follow */
    for (const plot_option *o = opts; o->name; o++) {
        if (!(o->flags & PLOT_OPT_INDEX) || *AT(spec, o->offset, const double *)) continue;
        const plot_option *like = opts;
        while (like->name && strcmp(like->name, o->like)) like++;
        size_t n = *AT(spec, like->count, size_t);
        double *x = scratch(c, (n ? n : 1) * sizeof *x);
        for (size_t i = 0; i < n; i++) x[i] = (double)(i + 1);
        *AT(spec, o->offset, const double *) = x;
        *AT(spec, o->count, size_t) = n;
    }
}

/* A spec of kind k from the table at idx; own: the keys the table may have besides the kind's options. */
static void *read_spec(ctx *c, int idx, const char *prefix, const plot_kind *k, const char *const *own) {
    const char *keys[64];
    int nk = option_keys(plot_kind_options(k), keys, 64, own);
    check_keys(c, idx, prefix, keys, nk);
    void *spec = scratch(c, plot_kind_spec_size(k));
    memset(spec, 0, plot_kind_spec_size(k));
    read_options(c, idx, prefix, plot_kind_options(k), spec);
    return spec;
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

/* archlab.plot.<kind>{ file =, width =, height =, dpi =, <the kind's options> }: one figure; the kind is the
 * closure's upvalue */
static int l_figure(lua_State *L) {
    const plot_kind *k = lua_touserdata(L, lua_upvalueindex(1));
    char fn[64];
    snprintf(fn, sizeof fn, "archlab.plot.%s", plot_kind_name(k));
    ctx c;
    begin(L, &c, fn);
    const char *own[8];
    own[spec_keys(lua_plot_output_opts, own, 6, (const char *const[]){"kind", NULL})] = NULL;
    const char *keys[64];
    check_keys(&c, 1, "", keys, option_keys(plot_kind_options(k), keys, 64, own));
    if (get(&c, 1, "kind")) lerr(&c, "kind", "only used inside panels");
    const char *file = need_file(&c, 1);
    plot_output o;
    read_output(&c, 1, &o);
    void *spec = read_spec(&c, 1, "", k, own);
    /* under mpirun every rank runs the script and rank 0 alone writes files */
    return done(&c, dist_rank() ? 0 : plot_figure(file, k, spec, &o), file);
}

static const OptSpec PANELS_OPTS[] = {
    {"file", OPT_STRING, 0, 0, NULL, "the output path; .png, .svg or .pdf picks the format"},
    {"width", OPT_NUMBER, 0, 0, "the panels' sizes", "the whole figure's, in points"},
    {"height", OPT_NUMBER, 0, 0, "the panels' sizes", "the whole figure's, in points"},
    {"dpi", OPT_NUMBER, 0, 0, "150", "PNG pixels per inch"},
    {"title", OPT_STRING, 0, 0, NULL, "shared title above the grid"},
    {"cols", OPT_INT, 1, 64, "min(#plots, 3)", "panels per row"},
    {"plots", OPT_TABLE, 0, 0, NULL, "(required) a list of { kind = \"lines\" | \"heatmap\" | ..., <that kind's options> }"},
    {NULL},
};
static const FnSpec PANELS = {"archlab.plot.panels", "archlab.plot.panels{ file =, plots = {...}, title =, cols = } -> file",
                              "several plots of any kinds in one figure, row by row; one series name keeps one colour "
                              "in every panel", PANELS_OPTS};

static int l_panels(lua_State *L) {
    ctx c;
    begin(L, &c, PANELS.name);
    const char *keys[16];
    check_keys(&c, 1, "", keys, spec_keys(PANELS.opts, keys, 16, NULL));
    const char *file = need_file(&c, 1);
    plot_output o;
    read_output(&c, 1, &o);
    plot_panels_spec ps;
    memset(&ps, 0, sizeof ps);
    ps.title = read_str(&c, 1, "", "title");
    double cols = 0;
    if (read_num(&c, 1, "", "cols", &cols) && (cols < 1 || cols > 64 || cols != floor(cols)))
        lerr(&c, "cols", "expected a whole number from 1 to 64, got %g", cols);
    ps.cols = (int)cols;
    size_t n = req_list(&c, 1, "plots", "plots", "a list of {kind = NAME, ...} tables", "plot tables", "plots");
    plot_panel *pan = scratch(&c, n * sizeof *pan);
    char f[64];
    for (size_t i = 0; i < n; i++) {
        snprintf(f, sizeof f, "plots[%zu]", i + 1);
        lua_rawgeti(L, -1, (lua_Integer)i + 1);
        int t = lua_gettop(L);
        if (!lua_istable(L, t)) lerr(&c, f, "expected a plot table, got %s", tname(L, t));
        const char *kind = read_str(&c, t, f, "kind");
        memset(&pan[i], 0, sizeof pan[i]);
        if (!kind) lerr(&c, f, "missing kind (one of %s)", plot_kind_names());
        /* a panel has no file or size of its own */
        static const char *const own[] = {"file", "width", "height", "dpi"};
        for (int k = 0; k < 4; k++)
            if (get(&c, t, own[k])) lerr(&c, f, "'%s' belongs to the panels call, not to one plot", own[k]);
        const plot_kind *k = plot_kind_find(kind);
        if (!k) {
            char kf[80];
            snprintf(kf, sizeof kf, "%s.kind", f);
            lerr(&c, kf, "unknown kind '%s'; use one of %s", kind, plot_kind_names());
        }
        static const char *const panel_own[] = {"kind", NULL};
        pan[i].kind = k;
        pan[i].spec = read_spec(&c, t, f, k, panel_own);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    ps.panels = pan;
    ps.n_panels = n;
    return done(&c, dist_rank() ? 0 : plot_panels(file, &ps, &o), file);
}

/* archlab.plot.document{ file = "r.pdf", title = "...", pages = { { title =, text =, image =, caption = }, ... } }
 * -> file, number of PDF pages: text and PNG figures in one multi-page PDF (plots/document.c). */
static const OptSpec DOC_OPTS[] = {
    {"file", OPT_STRING, 0, 0, NULL, "(required) the output path (.pdf)"},
    {"width", OPT_NUMBER, 0, 0, "595 (A4)", "page width in points"},
    {"height", OPT_NUMBER, 0, 0, "842 (A4)", "page height in points"},
    {"title", OPT_STRING, 0, 0, NULL, "the document's title (PDF metadata and the first page)"},
    {"pages", OPT_TABLE, 0, 0, NULL, "(required) a list of pages, each { title =, text =, image =, caption = }: "
                                   "text is Markdown-like (# headings, - bullets, | tables |), image a PNG"},
    {NULL},
};
static const OptSpec PAGE_OPTS[] = {
    {"title", OPT_STRING, 0, 0, NULL, "the page's heading"},
    {"text", OPT_STRING, 0, 0, NULL, "paragraphs, bullets and tables"},
    {"image", OPT_STRING, 0, 0, NULL, "a PNG file"},
    {"caption", OPT_STRING, 0, 0, NULL, "under the image"},
    {NULL},
};
static const FnSpec DOCUMENT = {"archlab.plot.document",
                                "archlab.plot.document{ file = \"r.pdf\", title =, pages = {{ title =, text =, image =, caption = }} } -> file, pages",
                                "text and PNG figures in one multi-page PDF", DOC_OPTS};

static int l_document(lua_State *L) {
    ctx c;
    begin(L, &c, DOCUMENT.name);
    const char *keys[16];
    check_keys(&c, 1, "", keys, spec_keys(DOCUMENT.opts, keys, 16, NULL));
    const char *file = need_file(&c, 1);
    plot_output o;
    memset(&o, 0, sizeof o);
    read_num(&c, 1, "", "width", &o.width);
    read_num(&c, 1, "", "height", &o.height);
    plot_document_spec ds;
    memset(&ds, 0, sizeof ds);
    ds.title = read_str(&c, 1, "", "title");
    size_t n = req_list(&c, 1, "pages", "pages", "a list of {title=, text=, image=, caption=} tables", "page tables", "pages");
    plot_page *pg = scratch(&c, n * sizeof *pg);
    char f[64];
    for (size_t i = 0; i < n; i++) {
        snprintf(f, sizeof f, "pages[%zu]", i + 1);
        lua_rawgeti(L, -1, (lua_Integer)i + 1);
        int t = lua_gettop(L);
        if (!lua_istable(L, t)) lerr(&c, f, "expected a page table {title=, text=, image=, caption=}, got %s", tname(L, t));
        check_keys(&c, t, f, keys, spec_keys(PAGE_OPTS, keys, 16, NULL));
        pg[i].title = read_str(&c, t, f, "title");
        pg[i].text = read_str(&c, t, f, "text");
        pg[i].image = read_str(&c, t, f, "image");
        pg[i].caption = read_str(&c, t, f, "caption");
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
    if (!dist_rank() && plot_document(file, &ds, &o, &pages)) lerr(&c, NULL, "%s", plot_last_error());
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

static const FnSpec COLORMAP = {"archlab.plot.colormap", "archlab.plot.colormap(name, t) -> r, g, b",
                                "the colour at t in [0, 1] of a heatmap colour map (\"sequential\", \"niah\"), "
                                "each in [0, 1]", NULL};

int al_lua_plot_open(lua_State *L) {
    opts_register(&PANELS);
    opts_register(&DOCUMENT);
    opts_register(&COLORMAP);
    static const luaL_Reg fns[] = {{"panels", l_panels}, {"colormap", l_colormap}, {"document", l_document},
                                   {NULL, NULL}};
    luaL_newlib(L, fns);
    /* one function per plot kind, generated from the registry */
    for (int i = 0; i < plot_kind_count(); i++) {
        lua_pushlightuserdata(L, (void *)plot_kind_at(i));
        lua_pushcclosure(L, l_figure, 1);
        lua_setfield(L, -2, plot_kind_name(plot_kind_at(i)));
    }
    return 1;
}
