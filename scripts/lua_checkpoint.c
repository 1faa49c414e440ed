/* model:save(path) / model:load(path): the weights as one safetensors file (names as in the parameter
 * store, Hugging Face style; metadata "archlab.config" holds the config as JSON). */
#include "scripts/bridge.h"
#include "scripts/lua_opts.h"
#include "train/checkpoint.h"

static int l_save(lua_State *L) {
    Model *m = bridge_check_model(L, 1);
    const char *path = luaL_checkstring(L, 2);
    if (weights_save(path, m)) opts_raise_engine_error(L, "model:save");
    lua_pushstring(L, path);
    return 1;
}

static int l_load(lua_State *L) {
    Model *m = bridge_check_model(L, 1);
    const char *path = luaL_checkstring(L, 2);
    if (weights_load(path, m)) opts_raise_engine_error(L, "model:load");
    lua_settop(L, 1);
    return 1;
}

void bridge_open_checkpoint(lua_State *L) {
    static const luaL_Reg methods[] = {{"save", l_save}, {"load", l_load}, {NULL, NULL}};
    bridge_add_model_methods(L, methods);
}
