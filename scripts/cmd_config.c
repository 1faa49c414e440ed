/* A configuration named on the command line (archlab summary, archlab compare): a preset name from
 * scripts/presets, a Lua file returning config fields (its own `preset =` applied first), or a Hugging Face
 * config.json. A target that is an existing file or holds a '/' is a file, never a preset name; a file's kind
 * comes from its extension (any case) or, without one, from its first character ('{': JSON). */
#include <errno.h>
#include <lualib.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "scripts/bridge.h"

typedef enum { TARGET_PRESET, TARGET_LUA, TARGET_JSON } TargetKind;
static TargetKind target_kind(const char *t) {
    if (bridge_ends_with(t, ".json")) return TARGET_JSON;
    if (bridge_ends_with(t, ".lua")) return TARGET_LUA;
    struct stat st;
    if (strchr(t, '/') || (stat(t, &st) == 0 && S_ISREG(st.st_mode))) {
        FILE *f = fopen(t, "rb");
        int c = ' ';
        while (f && (c = fgetc(f)) != EOF && (c == ' ' || c == '\n' || c == '\t' || c == '\r')) {}
        if (f) fclose(f);
        return c == '{' ? TARGET_JSON : TARGET_LUA;
    }
    return TARGET_PRESET;
}

/* runs under lua_pcall (upvalues: the target, the config), so Lua errors come back as messages */
static int load_lua(lua_State *L) {
    const char *target = lua_touserdata(L, lua_upvalueindex(1));
    ModelConfig *cfg = lua_touserdata(L, lua_upvalueindex(2));
    config_defaults(cfg);
    if (target_kind(target) == TARGET_LUA) {
        if (luaL_dofile(L, target)) return lua_error(L);
        if (!lua_istable(L, -1)) return luaL_error(L, "%s must return a table of config fields", target);
        bridge_config_build(L, -1, cfg, target); /* its preset = (a name, a file or a config.json) first */
        const char *base = strrchr(target, '/');
        snprintf(cfg->preset, sizeof cfg->preset, "%.31s", base ? base + 1 : target);
    } else {
        bridge_apply_preset(L, target, cfg);
    }
    return 0;
}

int cmd_load_config(const char *target, ModelConfig *cfg, HfImport *info) {
    memset(info, 0, sizeof *info);
    if (target_kind(target) == TARGET_JSON) return hf_config_load(target, cfg, info);
    lua_State *L = luaL_newstate();
    if (!L) return al_errorf("cannot create a Lua state");
    luaL_openlibs(L); /* presets and config files are plain tables: the archlab module is not needed */
    lua_pushlightuserdata(L, (void *)target);
    lua_pushlightuserdata(L, cfg);
    lua_pushcclosure(L, load_lua, 2);
    int rc = 0;
    if (lua_pcall(L, 0, 0, 0) != LUA_OK) rc = al_errorf("%s", lua_tostring(L, -1));
    lua_close(L);
    return rc;
}

/* key=value into cfg (a number, true/false for a flag, else text); -1 + message naming both */
int cmd_set_field(ModelConfig *cfg, const char *key, const char *value) {
    const ConfigField *f = config_field(key);
    if (!f) {
        const char *s = config_suggest(key);
        return s ? al_errorf("unknown field '%s' (did you mean '%s'?)", key, s) : al_errorf("unknown field '%s'", key);
    }
    if (!*value) return al_errorf("field '%s' has no value", key);
    if (config_field_is_string(f)) return config_set_string(cfg, f, value);
    if (f->type == FIELD_BOOL && (!strcmp(value, "true") || !strcmp(value, "false")))
        return config_set_number(cfg, f, !strcmp(value, "true"));
    char *end;
    errno = 0;
    double v = strtod(value, &end);
    if (*end || errno || !isfinite(v)) return al_errorf("field '%s' = '%s' is not a number", key, value);
    return config_set_number(cfg, f, v);
}

/* CONFIG[:key=value...] into cfg */
int cmd_load_with_overrides(const char *spec, ModelConfig *cfg) {
    char buf[4096];
    if (strlen(spec) >= sizeof buf) return al_errorf("'%.40s...' is too long", spec);
    snprintf(buf, sizeof buf, "%s", spec);
    char *colon = strchr(buf, ':');
    if (colon) *colon = 0;
    HfImport info;
    if (cmd_load_config(buf, cfg, &info)) return -1;
    for (char *p = colon ? colon + 1 : NULL; p && *p;) {
        char *next = strchr(p, ':');
        if (next) *next++ = 0;
        char *eq = strchr(p, '=');
        if (!eq) return al_errorf("'%s': override '%s' is not key=value", spec, p);
        *eq = 0;
        if (cmd_set_field(cfg, p, eq + 1)) return al_errorf("'%s': %s", spec, al_error_message());
        p = next;
    }
    return 0;
}

int cmd_vary_grid(const ModelConfig *base, const CmdVary *vary, int nk, ModelConfig *out, char (*labels)[96], int cap) {
    int total = 1;
    for (int k = 0; k < nk; k++) {
        total *= vary[k].n;
        if (total > cap) return al_errorf("the varied fields give more than %d combinations", cap);
    }
    for (int c = 0; c < total; c++) {
        out[c] = *base;
        labels[c][0] = 0;
        int stride = total;
        for (int k = 0; k < nk; k++) {
            stride /= vary[k].n;
            const char *val = vary[k].values[(c / stride) % vary[k].n];
            if (cmd_set_field(&out[c], vary[k].key, val)) return al_errorf("%s=%s: %s", vary[k].key, val, al_error_message());
            size_t used = strlen(labels[c]);
            snprintf(labels[c] + used, 96 - used, "%s%s=%s", k ? " " : "", vary[k].key, val);
        }
    }
    return total;
}
