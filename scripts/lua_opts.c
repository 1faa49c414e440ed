#include "scripts/lua_opts.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "arch/config.h"
#include "core/common.h"

void opts_check_keys(lua_State *L, int idx, const char *fn, const char *const *keys) {
    idx = lua_absindex(L, idx);
    int n = 0;
    while (keys[n]) n++;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TSTRING) {
            luaL_error(L, "%s: option keys must be names, got a %s key (a list where a table of options was expected?)",
                       fn, luaL_typename(L, -1));
        }
        const char *k = lua_tostring(L, -1);
        int ok = 0;
        for (int i = 0; i < n && !ok; i++) ok = !strcmp(k, keys[i]);
        if (!ok) {
            const char *s = closest_word(k, keys, n);
            if (s) luaL_error(L, "%s: unknown field '%s' (did you mean '%s'?)", fn, k, s);
            luaL_error(L, "%s: unknown field '%s'", fn, k);
        }
    }
}

static int get_field(lua_State *L, int idx, const char *key) {
    return lua_getfield(L, idx, key);
}

double opt_num(lua_State *L, int idx, const char *fn, const char *key, double def, double lo, double hi) {
    int t = get_field(L, idx, key);
    if (t == LUA_TNIL) { lua_pop(L, 1); return def; }
    if (t != LUA_TNUMBER) luaL_error(L, "%s: field '%s' must be a number, got %s", fn, key, luaL_typename(L, -1));
    double v = lua_tonumber(L, -1);
    lua_pop(L, 1);
    if (!isfinite(v)) luaL_error(L, "%s: field '%s' must be a finite number, got %f", fn, key, v);
    if (v < lo || v > hi) {
        char msg[160]; /* lua_pushfstring has no %g */
        snprintf(msg, sizeof msg, "= %g is out of range [%g, %g]", v, lo, hi);
        luaL_error(L, "%s: field '%s' %s", fn, key, msg);
    }
    return v;
}

int opt_int(lua_State *L, int idx, const char *fn, const char *key, int def, double lo, double hi) {
    double v = opt_num(L, idx, fn, key, def, lo, hi);
    if (v != floor(v)) {
        char msg[64];
        snprintf(msg, sizeof msg, "%g", v);
        luaL_error(L, "%s: field '%s' must be an integer, got %s", fn, key, msg);
    }
    return (int)v;
}

int opt_bool(lua_State *L, int idx, const char *fn, const char *key, int def) {
    int t = get_field(L, idx, key);
    if (t == LUA_TNIL) { lua_pop(L, 1); return def; }
    if (t != LUA_TBOOLEAN) luaL_error(L, "%s: field '%s' must be true or false, got %s", fn, key, luaL_typename(L, -1));
    int v = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return v;
}

int opt_str(lua_State *L, int idx, const char *fn, const char *key, char *buf, size_t n) {
    int t = get_field(L, idx, key);
    if (t == LUA_TNIL) { lua_pop(L, 1); return 0; }
    if (t != LUA_TSTRING) luaL_error(L, "%s: field '%s' must be a string, got %s", fn, key, luaL_typename(L, -1));
    size_t len;
    const char *s = lua_tolstring(L, -1, &len);
    if (len >= n) luaL_error(L, "%s: field '%s' is too long (%d characters at most)", fn, key, (int)n - 1);
    memcpy(buf, s, len + 1);
    lua_pop(L, 1);
    return 1;
}

int opts_raise_engine_error(lua_State *L, const char *fn) {
    return luaL_error(L, "%s: %s", fn, al_error_message());
}
