/* The `archlab` Lua module: gathers the areas of the bridge into one table. */
#include <string.h>

#include "arch/kinds.h"
#include "core/backend.h"
#include "plots/plot.h"
#include "scripts/bridge.h"
#include "scripts/lua_attention.h"
#include "scripts/lua_help.h"
#include "scripts/lua_opts.h"
#include "scripts/lua_lowp.h"
#include "scripts/lua_moe.h"
#include "scripts/lua_plot.h"
#include "scripts/lua_tensor.h"
#include "scripts/lua_rl.h"

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

/* archlab.device([name]) -> name: selects where models are built and trained (core/backend.c's registry). A
 * model's buffers belong to the device it was built on, so the device is chosen before any model exists. */
static int l_device(lua_State *L) {
    if (!lua_isnoneornil(L, 1) && backend_select(luaL_checkstring(L, 1)))
        return luaL_error(L, "archlab.device: %s", al_error_message());
    lua_pushstring(L, backend_active());
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

static const FnSpec THREADS = {"archlab.threads", "archlab.threads([n]) -> n",
                               "sets the thread count of OpenMP loops and OpenBLAS (1 to 4 per available core); "
                               "returns the current one", NULL};
static const FnSpec DEVICE = {"archlab.device", "archlab.device([name]) -> name",
                              "selects the device models are built and trained on: \"cpu\" (the default), \"cpu-checked\" "
                              "(the CPU kernels with device memory unreadable outside them: finds host accesses), "
                              "\"cuda\" (bin/archlab-cuda on a GPU machine); before any model is built. Returns the "
                              "current one (--device NAME on the command line does the same)", NULL};
static const FnSpec KINDS = {"archlab.kinds", "archlab.kinds([family]) -> { attention =, ffn =, residual =, plot = }",
                             "what the registries hold: each kind's name, help and the config fields it reads "
                             "(one family's list when family is given)", NULL};
/* archlab.sweep is Lua (scripts/lib/archlab/sweep.lua); its options live here so help documents them and the
 * Lua side checks keys against the same list (archlab.options("sweep")). */
static const OptSpec SWEEP_OPTS[] = {
    {"dir", OPT_STRING, 0, 0, NULL, "(required) a directory: per run NAME.jsonl, NAME.summary.json and NAME.ckpt; results.md and results.csv"},
    {"data", OPT_ANY, 0, 0, NULL, "(required) an archlab.data source"},
    {"base", OPT_TABLE, 0, 0, "{}", "the config every run starts from ({ preset =, <config fields> })"},
    {"train", OPT_TABLE, 0, 0, "{}", "archlab.train options every run takes (steps, lr, ...)"},
    {"vary", OPT_TABLE, 0, 0, NULL, "(required) { key = {values} }: config fields, train options or seed; the cross "
                                    "product runs, each combination once per seed"},
    {"metric", OPT_STRING, 0, 0, "\"val_loss\"", "the field of each run's summary.json averaged per group"},
    {"level", OPT_NUMBER, 0, 1, "0.95", "the confidence level of the summary's intervals"},
    {"quiet", OPT_BOOL, 0, 0, "false", "no progress output"},
    {NULL},
};
static const FnSpec SWEEP = {"archlab.sweep", "archlab.sweep{ dir =, data =, base =, train =, vary = } -> { runs =, groups =, table = }",
                             "a cross product of runs over seeds, resumable (finished runs are skipped, interrupted "
                             "ones resume); results per combination with mean and confidence interval", SWEEP_OPTS};

int luaopen_archlab(lua_State *L) {
    opts_register(&THREADS);
    opts_register(&DEVICE);
    opts_register(&KINDS);
    opts_register(&SWEEP);
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
    lua_pushcfunction(L, l_device);
    lua_setfield(L, -2, "device");
    bridge_open_help(L); /* archlab.help, help_text, options */
    bridge_open_tensor(L); /* archlab.tensor */
    bridge_open_lowp(L);   /* archlab.lowp: FP8 numerics simulated (core/lowp.h) */
    bridge_open_params(L); /* model:param(), grad(), set_param() as tensors */
    bridge_open_probe(L);  /* model:inspect(), model:probes() */
    bridge_open_compare(L); /* archlab.compare */
    bridge_open_rl(L);      /* archlab.data.addition/expression, archlab.grpo, archlab.distill, model:clone */
    bridge_open_dist(L);    /* archlab.rank(), archlab.size() */
    lua_pushcfunction(L, l_kinds);
    lua_setfield(L, -2, "kinds");
    lua_pushstring(L, ARCHLAB_VERSION);
    lua_setfield(L, -2, "version");
    lua_pushstring(L, bridge_root());
    lua_setfield(L, -2, "root");
    return 1;
}
