/* archlab.compare{ configs = { "deepseek-v2", "deepseek-v2:attention=mha", { preset = "tiny", d_model = 96 } },
 *                  vary = { attention = { "mha", "mla" } }, contexts = { 4096, 131072 }, batch = 1, memory = 80e9 }
 * -> { configs = { labels }, rows = { { quantity =, unit =, values = {...}, diff_pct = {...} }, ... },
 *      text =, markdown =, csv =, json = }: the table of `archlab compare` (analysis/compare.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/compare.h"
#include "scripts/bridge.h"
#include "scripts/compare_figures.h"
#include "scripts/compare_format.h"
#include "scripts/compare_measure.h"
#include "scripts/lua_opts.h"

static const OptSpec COMPARE_OPTS[] = {
    {"configs", OPT_TABLE, 0, 0, NULL, "(required) a list: preset names, FILE.lua or config.json (with :key=value "
                                       "overrides), or config tables { preset =, <fields> }"},
    {"vary", OPT_TABLE, 0, 0, NULL, "{ key = { values } } over the one config: a column per combination (keys in "
                                    "alphabetical order, the first slowest)"},
    {"contexts", OPT_TABLE, 0, 0, "{ min(4096, shortest seq_len) }", "context lengths for FLOPs, KV cache and activations (beyond a model's seq_len: not counted)"},
    {"batch", OPT_INT, 1, 1 << 20, "1", "sequences for the KV cache and activations"},
    {"memory", OPT_NUMBER, 1, 1e18, NULL, "bytes: adds the longest context whose bf16 KV cache fits beside the bf16 weights"},
    {"measure", OPT_BOOL, 0, 0, "false", "also build, train (6 steps) and decode each configuration that fits here, and time it (rows 'measured: ...')"},
    {"figures", OPT_STRING, 0, 0, NULL, "a directory: kv_context.png, params.png, flops.png from the same numbers (result.figures)"},
    {NULL},
};
static const FnSpec COMPARE = {"archlab.compare", "archlab.compare{ configs = {...}, vary =, contexts =, memory = } -> table",
                               "configurations side by side on paper, the table of `archlab compare`: rows with "
                               "values and differences to the first column, and the table as text, markdown, csv, json",
                               COMPARE_OPTS};

/* the config at stack index idx (a string target or a config table) */
static void config_at(lua_State *L, int idx, ModelConfig *c, char *label, size_t n, int k) {
    const char *fn = COMPARE.name;
    if (lua_type(L, idx) == LUA_TSTRING) {
        const char *spec = lua_tostring(L, idx);
        if (cmd_load_with_overrides(spec, c)) luaL_error(L, "%s: configs[%d]: %s", fn, k, al_error_message());
        snprintf(label, n, "%.*s", (int)n - 1, spec);
    } else if (lua_istable(L, idx)) {
        char where[64];
        snprintf(where, sizeof where, "%s: configs[%d]", fn, k);
        bridge_config_build(L, idx, c, where);
        snprintf(label, n, "%d: %.60s", k, c->preset[0] ? c->preset : "config"); /* a table's column: its place and preset */
    } else {
        luaL_error(L, "%s: configs[%d] must be a name or a config table, got %s", fn, k, luaL_typename(L, idx));
    }
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int l_compare(lua_State *L) {
    const char *fn = COMPARE.name;
    luaL_checktype(L, 1, LUA_TTABLE);
    opts_check(L, 1, &COMPARE);
    static ModelConfig cfgs[COMPARE_MAX_CONFIGS];
    static char labels[COMPARE_MAX_CONFIGS][96];
    int n = 0;
    if (lua_getfield(L, 1, "configs") != LUA_TTABLE) luaL_error(L, "%s: field 'configs' (a list of configurations) is required", fn);
    int nc = (int)luaL_len(L, -1);
    if (nc < 1 || nc > COMPARE_MAX_CONFIGS) luaL_error(L, "%s: field 'configs' must list 1 to %d configurations", fn, COMPARE_MAX_CONFIGS);
    int has_vary = lua_getfield(L, 1, "vary") != LUA_TNIL;
    lua_pop(L, 1);
    if (has_vary && nc > 1) luaL_error(L, "%s: field 'vary' varies one configuration; %d were given", fn, nc);
    for (int k = 0; k < nc; k++) {
        lua_geti(L, -1, k + 1);
        config_at(L, lua_gettop(L), &cfgs[k], labels[k], sizeof labels[k], k + 1);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    n = nc;
    if (has_vary) {
        lua_getfield(L, 1, "vary");
        const char *keys[8];
        int nk = 0;
        lua_pushnil(L);
        while (lua_next(L, -2)) {
            lua_pop(L, 1);
            if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "%s: field 'vary' keys must be config field names", fn);
            if (nk == 8) luaL_error(L, "%s: field 'vary' takes at most 8 keys", fn);
            keys[nk++] = lua_tostring(L, -1); /* alive in the table */
        }
        if (!nk) luaL_error(L, "%s: field 'vary' is empty", fn);
        qsort(keys, nk, sizeof *keys, cmp_str);
        static CmdVary vary[8];
        for (int k = 0; k < nk; k++) {
            if (!config_field(keys[k])) {
                const char *s = config_suggest(keys[k]);
                if (s) luaL_error(L, "%s: unknown field 'vary.%s' (did you mean '%s'?)", fn, keys[k], s);
                luaL_error(L, "%s: unknown field 'vary.%s'", fn, keys[k]);
            }
            int len = lua_getfield(L, -1, keys[k]) == LUA_TTABLE ? (int)luaL_len(L, -1) : 0;
            if (len < 1 || len > 32) luaL_error(L, "%s: field 'vary.%s' must be a list of 1 to 32 values", fn, keys[k]);
            snprintf(vary[k].key, sizeof vary[k].key, "%s", keys[k]);
            vary[k].n = len;
            for (int i = 0; i < len; i++) { /* values as text, numbers as Lua writes them */
                lua_geti(L, -1, i + 1);
                snprintf(vary[k].values[i], sizeof vary[k].values[i], "%s", luaL_tolstring(L, -1, NULL));
                lua_pop(L, 2);
            }
            lua_pop(L, 1);
        }
        ModelConfig base = cfgs[0];
        n = cmd_vary_grid(&base, vary, nk, cfgs, labels, COMPARE_MAX_CONFIGS);
        if (n < 0) luaL_error(L, "%s: vary %s", fn, al_error_message());
        lua_pop(L, 1);
    }
    int contexts[COMPARE_MAX_CONTEXTS], nctx = 0;
    if (lua_getfield(L, 1, "contexts") != LUA_TNIL) {
        int m = (int)luaL_len(L, -1);
        if (m < 1 || m > COMPARE_MAX_CONTEXTS) luaL_error(L, "%s: field 'contexts' must list 1 to %d lengths", fn, COMPARE_MAX_CONTEXTS);
        for (int k = 0; k < m; k++) {
            lua_geti(L, -1, k + 1);
            int ok;
            lua_Integer t = lua_tointegerx(L, -1, &ok);
            if (!ok || t < 1 || t > 1 << 30) luaL_error(L, "%s: field 'contexts[%d]' must be a length in [1, 2^30]", fn, k + 1);
            contexts[nctx++] = (int)t;
            lua_pop(L, 1);
        }
    } else { /* 4096, or the shortest seq_len among the configurations */
        int t = 4096;
        for (int i = 0; i < n; i++) t = cfgs[i].seq_len < t ? cfgs[i].seq_len : t;
        contexts[nctx++] = t;
    }
    lua_pop(L, 1);
    int batch = spec_int(L, 1, &COMPARE, "batch", 1);
    double memory = spec_num(L, 1, &COMPARE, "memory", 0);
    const char *lp[COMPARE_MAX_CONFIGS];
    for (int i = 0; i < n; i++) lp[i] = labels[i];
    static Compare t;
    if (compare_configs(cfgs, lp, n, contexts, nctx, batch, memory, &t)) opts_raise_engine_error(L, fn);
    if (spec_bool(L, 1, &COMPARE, "measure", 0) && compare_measure(&t, cfgs, batch, contexts, nctx)) opts_raise_engine_error(L, fn);
    lua_newtable(L);
    lua_createtable(L, n, 0);
    for (int j = 0; j < n; j++) { lua_pushstring(L, t.label[j]); lua_rawseti(L, -2, j + 1); }
    lua_setfield(L, -2, "configs");
    lua_createtable(L, t.n_rows, 0);
    for (int i = 0; i < t.n_rows; i++) {
        const CompareRow *r = &t.rows[i];
        lua_createtable(L, 0, 4);
        lua_pushstring(L, r->name);
        lua_setfield(L, -2, "quantity");
        lua_pushstring(L, r->unit);
        lua_setfield(L, -2, "unit");
        for (int pass = 0; pass < 2; pass++) {
            lua_createtable(L, n, 0);
            for (int j = 0; j < n; j++) {
                lua_pushnumber(L, pass ? compare_diff_pct(r, j) : r->v[j]);
                lua_rawseti(L, -2, j + 1);
            }
            lua_setfield(L, -2, pass ? "diff_pct" : "values");
        }
        lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "rows");
    static const char *const formats[] = {"text", "markdown", "csv", "json"};
    char dir[4096];
    if (spec_str(L, 1, &COMPARE, "figures", dir, sizeof dir)) {
        char paths[3][4096], probe[4200];
        snprintf(probe, sizeof probe, "%s/x", dir);
        if (make_parent_dirs(probe) || compare_figures(&t, batch, memory, dir, paths)) opts_raise_engine_error(L, fn);
        lua_createtable(L, 3, 0);
        for (int k = 0; k < 3; k++) { lua_pushstring(L, paths[k]); lua_rawseti(L, -2, k + 1); }
        lua_setfield(L, -2, "figures");
    }
    for (int f = 0; f < 4; f++) {
        char *s = compare_format(&t, formats[f]);
        if (!s) luaL_error(L, "%s: out of memory", fn);
        lua_pushstring(L, s);
        free(s);
        lua_setfield(L, -2, formats[f]);
    }
    return 1;
}

void bridge_open_compare(lua_State *L) {
    opts_register(&COMPARE);
    lua_pushcfunction(L, l_compare);
    lua_setfield(L, -2, "compare");
}
