/* The `archlab` Lua module: gathers the areas of the bridge into one table. */
#include <string.h>

#include "arch/kinds.h"
#include "core/backend.h"
#include "plots/plot.h"
#include "scripts/bridge.h"
#include "scripts/lua_attention.h"
#include "scripts/lua_opts.h"
#include "scripts/lua_moe.h"
#include "scripts/lua_plot.h"

#define ARCHLAB_VERSION "0.1.0"

/* archlab.threads([n]): sets the thread count for OpenMP loops and OpenBLAS; returns the current one. */
static int l_threads(lua_State *L) {
    if (!lua_isnoneornil(L, 1)) {
        lua_Integer n = luaL_checkinteger(L, 1);
        /* beyond a few per core only slows every loop (and a huge count stalls OpenBLAS's allocator): refused */
        int most = 4 * al_available_cores();
        if (n < 1 || n > most)
            luaL_error(L, "archlab.threads: %d is not a thread count in [1, %d] (4 per core of the %d available)", (int)n,
                       most, al_available_cores());
        al_set_threads((int)n);
    }
    lua_pushinteger(L, al_get_threads());
    return 1;
}

static int l_help(lua_State *L) {
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    luaL_addstring(&b,
                   "archlab " ARCHLAB_VERSION "\n"
                   "  archlab.model{ preset = NAME, <config fields> }   build a model; m:summary(), m:params(),\n"
                   "                                                    m:config(), m:evaluate{ data = d }\n"
                   "  archlab.data.text{ path = P, val_fraction = 0.1 } byte-level text (default: Debian fortunes)\n"
                   "  archlab.data.copy{ alphabet = 16 }                synthetic copy task\n"
                   "  archlab.data.recall{ keys = 16, pairs = 8 }       synthetic associative recall\n"
                   "  archlab.train{ model = m, data = d, steps = N, ... } -> run; run:series(name), run.val_loss\n"
                   "  model:gains{ data = d }                           hc/mhc: Amax gain per layer (composite, single),\n"
                   "                                                    H_res column/row-sum error (col_sum_err, ...)\n"
                   "  model:save(path), model:load(path)                weights as safetensors\n"
                   "  model:perturb{ std =, seed = }, model:dump_grads{ tokens =, targets =, file = }  for make crosscheck\n"
                   "  archlab.train{ ..., checkpoint = DIR, checkpoint_every = N, resume = DIR | true }\n"
                   "  archlab.cost{ preset = NAME, context = T }       params, FLOPs, KV and memory on paper\n"
                   "  archlab.sweep{ dir =, data =, base =, train =, vary = } cross product over seeds, resumable\n"
                   "  archlab.threads([n])                              get/set the thread count\n"
                   "  archlab.plot.<kind>{...}, archlab.plot.panels{...} figures (PNG, SVG, PDF by extension); kinds below\n"
                   "  archlab.kinds([family])                           the registries: attention, ffn, residual, plot\n"
                   "  archlab.plot.document{ file = \"r.pdf\", pages = {{ title =, text =, image =, caption = }} }\n"
                   "                                                    text and PNG figures in one multi-page PDF\n"
                   "config fields:\n");
    for (int i = 0; i < model_config_n_fields; i++) {
        char line[256];
        const ConfigField *f = &model_config_fields[i];
        snprintf(line, sizeof line, "  %-12s %-7s %s%s%s\n", f->name,
                 f->type == FIELD_INT ? "integer" : f->type == FIELD_NUMBER ? "number" : f->type == FIELD_BOOL ? "boolean" : "string", f->help,
                 config_field_choices(f) ? ": " : "", config_field_choices(f) ? config_field_choices(f) : "");
        luaL_addstring(&b, line);
    }
    /* the kinds, from their registries */
    for (int f = 0; f < KIND_FAMILIES; f++) {
        char line[512];
        snprintf(line, sizeof line, "%s kinds (field '%s'):\n", kind_family_name(f), kind_family_name(f));
        luaL_addstring(&b, line);
        for (int i = 0; i < kind_count(f); i++) {
            const KindInfo *k = kind_at(f, i);
            snprintf(line, sizeof line, "  %-10s %s%s%s\n", k->name, k->help, *k->fields ? "; fields " : "", k->fields);
            luaL_addstring(&b, line);
        }
    }
    luaL_addstring(&b, "plot kinds (archlab.plot.<kind>{ file =, width =, height =, dpi =, <options> }):\n");
    for (int i = 0; i < plot_kind_count(); i++) {
        const plot_kind *k = plot_kind_at(i);
        char line[512];
        snprintf(line, sizeof line, "  %-10s %s\n", plot_kind_name(k), plot_kind_help(k));
        luaL_addstring(&b, line);
        for (const plot_option *o = plot_kind_options(k); o->name; o++) {
            snprintf(line, sizeof line, "    %-12s %s%s\n", o->name, o->flags & PLOT_OPT_REQUIRED ? "(required) " : "",
                     o->help ? o->help : "");
            luaL_addstring(&b, line);
        }
    }
    luaL_pushresult(&b);
    return 1;
}

/* archlab.kinds([family]) -> { attention = { {name =, help =, fields = {...}}, ... }, ffn = ..., residual = ...,
 * plot = ... }, or the one family's list: what the registries hold, for scripts that enumerate kinds */
static void push_kind(lua_State *L, const char *name, const char *help, const char *fields) {
    lua_createtable(L, 0, 3);
    lua_pushstring(L, name);
    lua_setfield(L, -2, "name");
    lua_pushstring(L, help);
    lua_setfield(L, -2, "help");
    lua_newtable(L);
    int n = 0;
    for (const char *p = fields; p && *p;) {
        const char *e = strchr(p, '|');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        lua_pushlstring(L, p, len);
        lua_rawseti(L, -2, ++n);
        p += len + (e ? 1 : 0);
    }
    lua_setfield(L, -2, "fields");
}

static void push_family(lua_State *L, int f) {
    if (f == KIND_FAMILIES) { /* the plot kinds */
        lua_createtable(L, plot_kind_count(), 0);
        for (int i = 0; i < plot_kind_count(); i++) {
            const plot_kind *k = plot_kind_at(i);
            char fields[512] = "";
            for (const plot_option *o = plot_kind_options(k); o->name; o++)
                snprintf(fields + strlen(fields), sizeof fields - strlen(fields), "%s%s", *fields ? "|" : "", o->name);
            push_kind(L, plot_kind_name(k), plot_kind_help(k), fields);
            lua_rawseti(L, -2, i + 1);
        }
        return;
    }
    lua_createtable(L, kind_count(f), 0);
    for (int i = 0; i < kind_count(f); i++) {
        const KindInfo *k = kind_at(f, i);
        push_kind(L, k->name, k->help, k->fields);
        lua_rawseti(L, -2, i + 1);
    }
}

static int l_kinds(lua_State *L) {
    if (!lua_isnoneornil(L, 1)) {
        const char *want = luaL_checkstring(L, 1);
        for (int f = 0; f <= KIND_FAMILIES; f++)
            if (!strcmp(want, f < KIND_FAMILIES ? kind_family_name(f) : "plot")) { push_family(L, f); return 1; }
        return luaL_error(L, "archlab.kinds: no family '%s' (attention, ffn, residual, plot)", want);
    }
    lua_newtable(L);
    for (int f = 0; f <= KIND_FAMILIES; f++) {
        push_family(L, f);
        lua_setfield(L, -2, f < KIND_FAMILIES ? kind_family_name(f) : "plot");
    }
    return 1;
}

int luaopen_archlab(lua_State *L) {
    lua_newtable(L);
    bridge_open_model(L);
    bridge_open_residual(L); /* model:gains() */
    bridge_open_checkpoint(L); /* model:save(), model:load() */
    bridge_open_util(L);       /* archlab.read_json, archlab.stats */
    bridge_open_cost(L);       /* archlab.cost */
    bridge_open_crosscheck(L); /* model:perturb(), model:dump_grads() (tests/reference/) */
    bridge_open_moe(L); /* model:expert_load(), active_params(), moe_params() */
    bridge_open_data(L);
    bridge_open_train(L);
    bridge_open_attention(L); /* model:generate(), kv_cache(), niah(); archlab.data.niah */
    al_lua_plot_open(L);
    lua_setfield(L, -2, "plot");
    lua_pushcfunction(L, l_threads);
    lua_setfield(L, -2, "threads");
    lua_pushcfunction(L, l_help);
    lua_setfield(L, -2, "help");
    lua_pushcfunction(L, l_kinds);
    lua_setfield(L, -2, "kinds");
    lua_pushstring(L, ARCHLAB_VERSION);
    lua_setfield(L, -2, "version");
    lua_pushstring(L, bridge_root());
    lua_setfield(L, -2, "root");
    return 1;
}
