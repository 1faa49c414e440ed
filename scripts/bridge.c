/* What the areas of the Lua bridge share (scripts/bridge.h): the checked access to models and data sources,
 * config tables and presets, the evaluation options, the installation root and --quiet. Every area file
 * (lua_model.c, lua_train.c, ...) uses these and lua_archlab.c gathers the areas: calls run one way. */
#include <string.h>
#include <unistd.h>

#include "scripts/bridge.h"
#include "scripts/lua_opts.h"

int bridge_quiet = 0;
static char root_dir[4096] = ".";

const char *bridge_root(void) { return root_dir; }
void bridge_set_root(const char *root) { snprintf(root_dir, sizeof root_dir, "%s", root); }

Model *bridge_check_model(lua_State *L, int idx) {
    LModel *lm = luaL_checkudata(L, idx, MODEL_MT);
    if (!lm->m) luaL_error(L, "the model was closed");
    return lm->m;
}

DataSource *bridge_check_data(lua_State *L, int idx) {
    LData *ld = luaL_checkudata(L, idx, DATA_MT);
    if (!ld->loaded) luaL_error(L, "the data source was closed");
    return &ld->d;
}

/* Applies the fields of the table at idx to c; the table's line is the caller's. */
void bridge_config_from_table(lua_State *L, int idx, ModelConfig *c, const char *where) {
    idx = lua_absindex(L, idx);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        if (lua_type(L, -2) != LUA_TSTRING)
            luaL_error(L, "%s: config keys must be names, got a %s key", where, luaL_typename(L, -2));
        const char *key = lua_tostring(L, -2);
        if (!strcmp(key, "preset")) { lua_pop(L, 1); continue; } /* applied first, by apply_preset */
        const ConfigField *f = config_field(key);
        if (!f) {
            const char *s = config_suggest(key);
            if (s) luaL_error(L, "%s: unknown field '%s' (did you mean '%s'?)", where, key, s);
            luaL_error(L, "%s: unknown field '%s' (archlab.help() lists the fields)", where, key);
        }
        int rc;
        if (f->type == FIELD_BOOL && lua_type(L, -1) == LUA_TBOOLEAN) rc = config_set_number(c, f, lua_toboolean(L, -1));
        else if (f->type == FIELD_BOOL) rc = al_errorf("field '%s' must be true or false, got %s", key, luaL_typename(L, -1));
        /* an integer flag kept as 0/1 for its number form (norm_topk_prob, a boolean in Hugging Face configs)
         * takes true / false as well */
        else if (f->type == FIELD_INT && f->min == 0 && f->max == 1 && lua_type(L, -1) == LUA_TBOOLEAN)
            rc = config_set_number(c, f, lua_toboolean(L, -1));
        else if (lua_type(L, -1) == LUA_TNUMBER) rc = config_set_number(c, f, lua_tonumber(L, -1));
        else if (lua_type(L, -1) == LUA_TSTRING) rc = config_set_string(c, f, lua_tostring(L, -1));
        else rc = al_errorf("field '%s' must be a %s, got %s", key, config_field_is_string(f) ? "string" : "number",
                            luaL_typename(L, -1));
        if (rc) opts_raise_engine_error(L, where);
        lua_pop(L, 1);
    }
}

/* errors of presets name the function that applies them */
static const char *FN = "archlab.model";

/* Loads scripts/presets/NAME.lua, which returns a table of config fields. */
void bridge_apply_preset(lua_State *L, const char *name, ModelConfig *c) {
    for (const char *p = name; *p; p++)
        if (!(*p == '-' || *p == '_' || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || (*p >= 'A' && *p <= 'Z')))
            luaL_error(L, "%s: field 'preset' = \"%s\" is not a preset name", FN, name);
    char path[4096 + 64];
    snprintf(path, sizeof path, "%s/scripts/presets/%s.lua", bridge_root(), name);
    if (access(path, R_OK)) luaL_error(L, "%s: field 'preset': no preset named '%s' (looked for %s)", FN, name, path);
    if (luaL_dofile(L, path)) luaL_error(L, "%s: preset '%s': %s", FN, name, lua_tostring(L, -1));
    if (!lua_istable(L, -1)) luaL_error(L, "%s: preset file %s must return a table", FN, path);
    char where[128];
    snprintf(where, sizeof where, "%s: preset '%s'", FN, name);
    bridge_config_from_table(L, -1, c, where);
    lua_pop(L, 1);
    snprintf(c->preset, sizeof c->preset, "%s", name);
    /* a preset is a coherent start: the "no effect" rule judges what the script gives */
    c->preset_fields |= c->given;
    c->given = 0;
}

int bridge_eval_options(lua_State *L, int idx, const char *fn, Model *m, EvalOptions *e) {
    static const char *keys[] = {"data", "batch_size", "batches", "seq_len", "split", NULL};
    opts_check_keys(L, idx, fn, keys);
    if (lua_getfield(L, idx, "data") == LUA_TNIL) luaL_error(L, "%s: field 'data' is required", fn);
    e->data = bridge_check_data(L, -1);
    lua_pop(L, 1);
    e->B = opt_int(L, idx, fn, "batch_size", 8, 1, 1 << 20);
    e->batches = opt_int(L, idx, fn, "batches", 8, 1, 1 << 20);
    e->T = opt_int(L, idx, fn, "seq_len", m->cfg.seq_len, 1, m->cfg.seq_len);
    char split[16] = "val";
    opt_str(L, idx, fn, "split", split, sizeof split);
    if (strcmp(split, "val") && strcmp(split, "train")) luaL_error(L, "%s: field 'split' must be \"val\" or \"train\"", fn);
    e->split = strcmp(split, "val") ? SPLIT_TRAIN : SPLIT_VAL;
    if (e->T < data_min_seq_len(e->data))
        luaL_error(L, "%s: field 'seq_len' = %d is too short for %s", fn, e->T, e->data->description);
    if (data_check_vocab(e->data, m->cfg.vocab_size)) opts_raise_engine_error(L, fn);
    if (model_plan(m, e->B, e->T)) opts_raise_engine_error(L, fn);
    return 0;
}

void bridge_add_model_methods(lua_State *L, const luaL_Reg *methods) {
    luaL_getmetatable(L, MODEL_MT);
    AL_ASSERT(lua_istable(L, -1)); /* bridge_open_model runs first */
    lua_getfield(L, -1, "__index");
    luaL_setfuncs(L, methods, 0);
    lua_pop(L, 2);
}

