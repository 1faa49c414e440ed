/* model:save(path) / model:load(path): the weights as one safetensors file (names as in the parameter
 * store, Hugging Face style; metadata "archlab.config" holds the config as JSON). */
#include "scripts/bridge.h"
#include "scripts/lua_opts.h"
#include "train/checkpoint.h"

static const FnSpec SAVE = {"model:save", "model:save(path) -> path",
                            "the weights as one safetensors file (Hugging Face names; the config as JSON in its "
                            "metadata), written atomically", NULL};
static const FnSpec LOAD = {"model:load", "model:load(path) -> model",
                            "weights from a safetensors file, checked whole first (config fields that change the "
                            "function, names, shapes, finite values): on an error the model is unchanged", NULL};

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
    opts_register(&SAVE);
    opts_register(&LOAD);
    static const luaL_Reg methods[] = {{"save", l_save}, {"load", l_load}, {NULL, NULL}};
    bridge_add_model_methods(L, methods);
}
