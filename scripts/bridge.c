/* What the areas of the Lua bridge share (scripts/bridge.h): the checked access to models and data sources,
 * config tables and presets, the evaluation options, the installation root and --quiet. Every area file
 * (lua_model.c, lua_train.c, ...) uses these and lua_archlab.c gathers the areas: calls run one way. */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "arch/hf_config.h"

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

int bridge_ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcasecmp(s + n - k, suffix);
}

/* The start a preset gives: its fields become the config's, judged as the preset's (the "no effect" rule
 * judges what the script itself gives), and the config is named after it. */
static void mark_preset(ModelConfig *c, const char *name) {
    const char *base = strrchr(name, '/');
    snprintf(c->preset, sizeof c->preset, "%.31s", base ? base + 1 : name);
    c->preset_fields |= c->given;
    c->given = 0;
}

static void apply_preset(lua_State *L, const char *name, ModelConfig *c, const char *where, int depth);

/* The config table at idx (a preset first, when it names one, then its fields over it). */
static void config_table(lua_State *L, int idx, ModelConfig *c, const char *where, int depth) {
    idx = lua_absindex(L, idx);
    int t = lua_getfield(L, idx, "preset");
    if (t != LUA_TNIL && t != LUA_TSTRING) luaL_error(L, "%s: field 'preset' must be a string, got %s", where, lua_typename(L, t));
    if (t == LUA_TSTRING) apply_preset(L, lua_tostring(L, -1), c, where, depth + 1);
    lua_pop(L, 1);
    bridge_config_from_table(L, idx, c, where); /* the table's fields override the preset's */
}

static void apply_preset(lua_State *L, const char *name, ModelConfig *c, const char *where, int depth) {
    if (depth > 8) luaL_error(L, "%s: field 'preset' = \"%s\": presets nested more than 8 deep (a preset naming itself?)", where, name);
    if (!*name) luaL_error(L, "%s: field 'preset' is empty", where);
    if (bridge_ends_with(name, ".json")) { /* a Hugging Face config.json: the strict reader of arch/hf_config.c */
        HfImport info;
        ModelConfig hf;
        if (hf_config_load(name, &hf, &info)) luaL_error(L, "%s: field 'preset': %s", where, al_error_message());
        hf.given |= c->given; /* (nothing is given before a preset: it comes first) */
        *c = hf;
        mark_preset(c, name);
        /* what the file holds that archlab does not build is said, once, like `archlab summary` says it */
        if (!bridge_quiet && info.unknown[0]) fprintf(stderr, "%s: %s: fields not understood (not used): %s\n", where, name, info.unknown);
        if (!bridge_quiet && info.notes[0]) fprintf(stderr, "%s: %s: %s\n", where, name, info.notes);
        return;
    }
    char path[4096 + 64];
    if (bridge_ends_with(name, ".lua")) { /* a file returning a table of config fields (it may name a preset) */
        snprintf(path, sizeof path, "%s", name);
        if (access(path, R_OK)) luaL_error(L, "%s: field 'preset': cannot open '%s'", where, name);
    } else {
        for (const char *p = name; *p; p++)
            if (!(*p == '-' || *p == '_' || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || (*p >= 'A' && *p <= 'Z')))
                luaL_error(L, "%s: field 'preset' = \"%s\" is not a preset name (nor a .lua or .json file)", where, name);
        snprintf(path, sizeof path, "%s/scripts/presets/%s.lua", bridge_root(), name);
        if (access(path, R_OK)) luaL_error(L, "%s: field 'preset': no preset named '%s' (looked for %s)", where, name, path);
    }
    int top = lua_gettop(L);
    if (luaL_dofile(L, path)) luaL_error(L, "%s: preset '%s': %s", where, name, lua_tostring(L, -1));
    if (lua_gettop(L) == top || !lua_istable(L, -1)) luaL_error(L, "%s: preset file %s must return a table", where, path);
    char inner[256];
    snprintf(inner, sizeof inner, "%s: preset '%s'", where, name);
    config_table(L, -1, c, inner, depth);
    lua_settop(L, top);
    mark_preset(c, name);
}

void bridge_config_build(lua_State *L, int idx, ModelConfig *c, const char *where) {
    config_defaults(c);
    config_table(L, idx, c, where, 0);
}

void bridge_apply_preset(lua_State *L, const char *name, ModelConfig *c) { apply_preset(L, name, c, "archlab.model", 1); }

const OptSpec bridge_eval_opts[] = {
    {"data", OPT_ANY, 0, 0, NULL, "(required) an archlab.data source"},
    {"batch_size", OPT_INT, 1, 1 << 20, "8", "sequences per batch"},
    {"batches", OPT_INT, 1, 1 << 20, "8", "fixed batches (the same in every run)"},
    {"seq_len", OPT_INT, 1, 1 << 22, "the model's seq_len", "tokens per sequence (at most the model's)"},
    {"split", OPT_STRING, 0, 0, "\"val\"", "\"val\" or \"train\""},
    {NULL},
};

int bridge_eval_options(lua_State *L, int idx, const FnSpec *spec, Model *m, EvalOptions *e) {
    const char *fn = spec->name;
    opts_check(L, idx, spec);
    if (lua_getfield(L, idx, "data") == LUA_TNIL) luaL_error(L, "%s: field 'data' is required", fn);
    e->data = bridge_check_data(L, -1);
    lua_pop(L, 1);
    e->B = spec_int(L, idx, spec, "batch_size", 8);
    e->batches = spec_int(L, idx, spec, "batches", 8);
    e->T = spec_int(L, idx, spec, "seq_len", m->cfg.seq_len);
    if (e->T > m->cfg.seq_len)
        luaL_error(L, "%s: field 'seq_len' = %d is longer than the model's seq_len = %d", fn, e->T, m->cfg.seq_len);
    char split[16] = "val";
    spec_str(L, idx, spec, "split", split, sizeof split);
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

