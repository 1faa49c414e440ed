/* archlab.cost{ preset = NAME, <config fields>, context = T, batch = B }: what a configuration costs, counted
 * on paper (meta build, nothing allocated): the same numbers `archlab summary` prints. */
#include <string.h>

#include "analysis/cost.h"
#include "scripts/bridge.h"
#include "scripts/lua_opts.h"

static int l_cost(lua_State *L) {
    static const char *fn = "archlab.cost";
    luaL_checktype(L, 1, LUA_TTABLE);
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
    char preset[32] = "";
    if (opt_str(L, 2, fn, "preset", preset, sizeof preset)) bridge_apply_preset(L, preset, &c);
    bridge_config_from_table(L, 2, &c, fn);
    ModelConfig fin = c;
    if (config_finalize(&fin)) opts_raise_engine_error(L, fn);
    int context = opt_int(L, 1, fn, "context", fin.seq_len < 4096 ? fin.seq_len : 4096, 1, fin.seq_len);
    int batch = opt_int(L, 1, fn, "batch", 1, 1, 1 << 20);
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
        {"context", context}, {"batch", batch}};
    for (size_t i = 0; i < sizeof f / sizeof *f; i++) {
        lua_pushnumber(L, f[i].v);
        lua_setfield(L, -2, f[i].k);
    }
    lua_pushstring(L, fin.attention);
    lua_setfield(L, -2, "attention");
    return 1;
}

void bridge_open_cost(lua_State *L) {
    lua_pushcfunction(L, l_cost);
    lua_setfield(L, -2, "cost");
}
