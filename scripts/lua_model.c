/* archlab.model{...}: builds a model from a config table (optionally starting from a preset), and the
 * Model object's methods. */
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "scripts/bridge.h"
#include "scripts/lua_opts.h"
#include "train/trainer.h"

static const char *FN = "archlab.model";

Model *bridge_check_model(lua_State *L, int idx) {
    LModel *lm = luaL_checkudata(L, idx, MODEL_MT);
    if (!lm->m) luaL_error(L, "the model was closed");
    return lm->m;
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
        else rc = al_errorf("field '%s' must be a %s, got %s", key, f->type == FIELD_STRING ? "string" : "number",
                            luaL_typename(L, -1));
        if (rc) opts_raise_engine_error(L, where);
        lua_pop(L, 1);
    }
}

/* Loads scripts/presets/NAME.lua, which returns a table of config fields. */
void bridge_apply_preset(lua_State *L, const char *name, ModelConfig *c) {
    for (const char *p = name; *p; p++)
        if (!(*p == '-' || *p == '_' || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || (*p >= 'A' && *p <= 'Z')))
            luaL_error(L, "%s: field 'preset' = \"%s\" is not a preset name", FN, name);
    char path[4096];
    snprintf(path, sizeof path, "%s/scripts/presets/%s.lua", bridge_root(), name);
    if (access(path, R_OK)) luaL_error(L, "%s: field 'preset': no preset named '%s' (looked for %s)", FN, name, path);
    if (luaL_dofile(L, path)) luaL_error(L, "%s: preset '%s': %s", FN, name, lua_tostring(L, -1));
    if (!lua_istable(L, -1)) luaL_error(L, "%s: preset file %s must return a table", FN, path);
    char where[128];
    snprintf(where, sizeof where, "%s: preset '%s'", FN, name);
    bridge_config_from_table(L, -1, c, where);
    lua_pop(L, 1);
    snprintf(c->preset, sizeof c->preset, "%s", name);
}

static int l_model(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    ModelConfig c;
    config_defaults(&c);
    char preset[32] = "";
    if (opt_str(L, 1, FN, "preset", preset, sizeof preset)) bridge_apply_preset(L, preset, &c);
    bridge_config_from_table(L, 1, &c, FN); /* the script's fields override the preset's */
    LModel *lm = lua_newuserdatauv(L, sizeof *lm, 0);
    lm->m = NULL;
    luaL_setmetatable(L, MODEL_MT);
    if (!(lm->m = model_create(&c, 0))) opts_raise_engine_error(L, FN);
    return 1;
}

static const char *components[] = {"embedding", "attention", "ffn", "norm", "head"};

static int l_params(lua_State *L) {
    Model *m = bridge_check_model(L, 1);
    lua_newtable(L);
    for (size_t i = 0; i < sizeof components / sizeof *components; i++) {
        lua_pushinteger(L, (lua_Integer)ps_count(&m->ps, components[i]));
        lua_setfield(L, -2, components[i]);
    }
    lua_pushinteger(L, (lua_Integer)m->ps.total);
    lua_setfield(L, -2, "total");
    return 1;
}

static void thousands(size_t v, char *buf) {
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "%zu", v), o = 0;
    for (int i = 0; i < n; i++) {
        buf[o++] = tmp[i];
        if ((n - i - 1) % 3 == 0 && i < n - 1) buf[o++] = ',';
    }
    buf[o] = 0;
}

static int l_summary(lua_State *L) {
    Model *m = bridge_check_model(L, 1);
    const ModelConfig *c = &m->cfg;
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    char line[256], num[32];
    snprintf(line, sizeof line, "model %s: %d blocks, d_model %d, %d heads (%s, %d kv), head_dim %d, d_ff %d, vocab %d, seq_len %d\n",
             c->preset, c->n_layers, c->d_model, c->n_heads, c->attention, c->n_kv_heads, c->head_dim, c->d_ff,
             c->vocab_size, c->seq_len);
    luaL_addstring(&b, line);
    snprintf(line, sizeof line, "  %-12s %14s %8s\n", "component", "parameters", "share");
    luaL_addstring(&b, line);
    for (size_t i = 0; i < sizeof components / sizeof *components; i++) {
        size_t n = ps_count(&m->ps, components[i]);
        thousands(n, num);
        snprintf(line, sizeof line, "  %-12s %14s %7.1f%%\n", components[i], num, 100.0 * n / m->ps.total);
        luaL_addstring(&b, line);
    }
    thousands(m->ps.total, num);
    snprintf(line, sizeof line, "  %-12s %14s %7.1f%%", "total", num, 100.0);
    luaL_addstring(&b, line);
    luaL_pushresult(&b);
    return 1;
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
    if (model_plan(m, e->B, e->T)) opts_raise_engine_error(L, fn);
    return 0;
}

static int l_evaluate(lua_State *L) {
    static const char *fn = "model:evaluate";
    Model *m = bridge_check_model(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    EvalOptions e;
    bridge_eval_options(L, 2, fn, m, &e);
    double loss = evaluate(m, e.data, e.B, e.T, e.batches, e.split);
    if (isnan(loss)) opts_raise_engine_error(L, fn);
    lua_pushnumber(L, loss);
    return 1;
}

static int l_config(lua_State *L) {
    Model *m = bridge_check_model(L, 1);
    lua_newtable(L);
    for (int i = 0; i < model_config_n_fields; i++) {
        const ConfigField *f = &model_config_fields[i];
        const char *p = (const char *)&m->cfg + f->offset;
        if (f->type == FIELD_BOOL) lua_pushboolean(L, *(const int *)p);
        else if (f->type == FIELD_INT) lua_pushinteger(L, *(const int *)p);
        else if (f->type == FIELD_NUMBER) lua_pushnumber(L, *(const double *)p);
        else lua_pushstring(L, p);
        lua_setfield(L, -2, f->name);
    }
    return 1;
}

static int l_gc(lua_State *L) {
    LModel *lm = luaL_checkudata(L, 1, MODEL_MT);
    model_free(lm->m);
    lm->m = NULL;
    return 0;
}

static int l_tostring(lua_State *L) {
    LModel *lm = luaL_checkudata(L, 1, MODEL_MT);
    if (!lm->m) { lua_pushstring(L, "archlab.Model (closed)"); return 1; }
    lua_pushfstring(L, "archlab.Model(%s, %d blocks, d_model %d, %s, %f M params)", lm->m->cfg.preset,
                    lm->m->cfg.n_layers, lm->m->cfg.d_model, lm->m->cfg.attention, (double)lm->m->ps.total / 1e6);
    return 1;
}

void bridge_add_model_methods(lua_State *L, const luaL_Reg *methods) {
    luaL_getmetatable(L, MODEL_MT);
    AL_ASSERT(lua_istable(L, -1)); /* bridge_open_model runs first */
    lua_getfield(L, -1, "__index");
    luaL_setfuncs(L, methods, 0);
    lua_pop(L, 2);
}

void bridge_open_model(lua_State *L) {
    static const luaL_Reg methods[] = {{"params", l_params}, {"summary", l_summary}, {"evaluate", l_evaluate},
                                       {"config", l_config}, {NULL, NULL}};
    static const luaL_Reg meta[] = {{"__gc", l_gc}, {"__close", l_gc}, {"__tostring", l_tostring}, {NULL, NULL}};
    luaL_newmetatable(L, MODEL_MT);
    luaL_setfuncs(L, meta, 0);
    luaL_newlib(L, methods);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
    lua_pushcfunction(L, l_model);
    lua_setfield(L, -2, "model");
}
