/* archlab.cost{ preset = NAME, <config fields>, context = T, batch = B }: what a configuration costs, counted
 * on paper (meta build, nothing allocated): the same numbers `archlab summary` prints. */
#include <string.h>

#include "analysis/cost.h"
#include "arch/config.h"
#include "scripts/bridge.h"
#include "scripts/lua_opts.h"

static const OptSpec COST_OPTS[] = {
    {"preset", OPT_STRING, 0, 0, NULL, "a preset name, a FILE.lua of config fields or a Hugging Face config.json to start from; any config field may follow"},
    {"context", OPT_INT, 1, 1 << 30, "min(seq_len, 4096)", "context length for FLOPs, KV bytes and activations"},
    {"batch", OPT_INT, 1, 1 << 20, "1", "batch size for memory"},
    {NULL},
};
static const FnSpec COST = {"archlab.cost", "archlab.cost{ preset =, <config fields>, context =, batch = } -> cost",
                            "what a configuration costs, counted without allocating: parameters per component (total and "
                            "activated), FLOPs per token, KV-cache elements and bytes, training memory", COST_OPTS};

/* a key that is neither a config field nor one of COST's options: an error with the closest of both */
static void check_cost_keys(lua_State *L) {
    const char *names[128];
    int n = 0;
    for (int i = 0; i < model_config_n_fields && n < 120; i++) names[n++] = model_config_fields[i].name;
    for (const OptSpec *o = COST_OPTS; o->name; o++) names[n++] = o->name;
    lua_pushnil(L);
    while (lua_next(L, 1)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TSTRING) continue; /* the config reader names it */
        const char *k = lua_tostring(L, -1);
        int known = 0;
        for (int i = 0; i < n && !known; i++) known = !strcmp(k, names[i]);
        if (known) continue;
        const char *s = closest_word(k, names, n);
        if (s) luaL_error(L, "%s: unknown field '%s' (did you mean '%s'?)", COST.name, k, s);
        luaL_error(L, "%s: unknown field '%s' (archlab.help(\"cost\") and archlab.help(\"config\") list the fields)", COST.name, k);
    }
}

static int l_cost(lua_State *L) {
    const char *fn = COST.name;
    luaL_checktype(L, 1, LUA_TTABLE);
    check_cost_keys(L);
    ModelConfig c;
    config_defaults(&c);
    /* context and batch are not config fields: read them, then hide them from the config reader */
    lua_newtable(L);
    lua_pushnil(L);
    while (lua_next(L, 1)) {
        const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "";
        if (strcmp(k, "context") && strcmp(k, "batch")) {
            lua_pushvalue(L, -2);
            lua_insert(L, -2);
            lua_settable(L, 2);
        } else lua_pop(L, 1);
    }
    bridge_config_build(L, 2, &c, fn);
    ModelConfig fin = c;
    if (config_finalize(&fin)) opts_raise_engine_error(L, fn);
    int context = spec_int(L, 1, &COST, "context", fin.seq_len < 4096 ? fin.seq_len : 4096);
    if (context > fin.seq_len) luaL_error(L, "%s: field 'context' = %d is longer than seq_len = %d", fn, context, fin.seq_len);
    int batch = spec_int(L, 1, &COST, "batch", 1);
    ModelCost mc;
    if (model_cost(&c, context, batch, &mc)) opts_raise_engine_error(L, fn);
    lua_newtable(L);
    lua_newtable(L);
    for (int i = 0; i < mc.params.n; i++) {
        lua_createtable(L, 0, 2);
        lua_pushinteger(L, (lua_Integer)mc.params.c[i].total);
        lua_setfield(L, -2, "total");
        lua_pushinteger(L, (lua_Integer)mc.params.c[i].active);
        lua_setfield(L, -2, "activated");
        lua_setfield(L, -2, mc.params.c[i].name);
    }
    lua_setfield(L, -2, "components");
    struct { const char *k; double v; } f[] = {
        {"total_params", (double)mc.params.total_params}, {"activated_params", (double)mc.params.active_params},
        {"forward_flops_per_token", mc.fwd_flops_per_token}, {"training_flops_per_token", 3 * mc.fwd_flops_per_token},
        {"kv_elements_per_token", mc.kv_elems_per_token}, {"kv_mha_equivalent_elements_per_token", mc.kv_mha_elems_per_token},
        {"train_state_bytes", mc.train_state_bytes}, {"activation_bytes", mc.activation_bytes},
        {"mtp_params", (double)mc.params.mtp_params}, {"mtp_activated_params", (double)mc.params.mtp_active_params},
        {"mtp_checkpoint_params", (double)mc.params.mtp_checkpoint_params},
        {"context", context}, {"batch", batch}};
    for (size_t i = 0; i < sizeof f / sizeof *f; i++) {
        lua_pushnumber(L, f[i].v);
        lua_setfield(L, -2, f[i].k);
    }
    lua_pushstring(L, fin.attention);
    lua_setfield(L, -2, "attention");
    lua_newtable(L); /* training_memory = { fp32 = { weights =, master_weights =, ... }, bf16 =, fp8 = } */
    for (int r = 0; r < MEMORY_RECIPES; r++) {
        double by[6];
        memory_bytes(&mc, &memory_recipes[r], by);
        const char *keys[6] = {"weights", "master_weights", "gradients", "optimizer", "activations", "total"};
        lua_createtable(L, 0, 6);
        for (int k = 0; k < 6; k++) {
            lua_pushnumber(L, by[k]);
            lua_setfield(L, -2, keys[k]);
        }
        lua_setfield(L, -2, memory_recipes[r].name);
    }
    lua_setfield(L, -2, "training_memory");
    return 1;
}

void bridge_open_cost(lua_State *L) {
    opts_register(&COST);
    lua_pushcfunction(L, l_cost);
    lua_setfield(L, -2, "cost");
}
