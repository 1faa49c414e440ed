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

/* ---- documented functions ---- */

#define MAX_FNS 96
static const FnSpec *fns[MAX_FNS];
static int n_fns;

void opts_register(const FnSpec *fn) {
    for (int i = 0; i < n_fns; i++)
        if (fns[i] == fn) return;
    AL_ASSERT(n_fns < MAX_FNS);
    fns[n_fns++] = fn;
}
int opts_fn_count(void) { return n_fns; }
const FnSpec *opts_fn_at(int i) { return i >= 0 && i < n_fns ? fns[i] : NULL; }

const FnSpec *opts_fn_find(const char *name) {
    size_t ln = strlen(name);
    for (int i = 0; i < n_fns; i++)
        if (!strcmp(fns[i]->name, name)) return fns[i];
    for (int i = 0; i < n_fns; i++) {
        size_t lf = strlen(fns[i]->name);
        if (lf > ln && !strcmp(fns[i]->name + lf - ln, name) && strchr(".:", fns[i]->name[lf - ln - 1])) return fns[i];
    }
    return NULL;
}

static const OptSpec *spec_of(const FnSpec *fn, const char *key) {
    for (const OptSpec *o = fn->opts; o && o->name; o++)
        if (!strcmp(o->name, key)) return o;
    return NULL;
}

static const char *type_name(OptType t) {
    return t == OPT_INT ? "an integer" : t == OPT_NUMBER ? "a number" : t == OPT_BOOL ? "true or false"
         : t == OPT_STRING ? "a string" : t == OPT_TABLE ? "a table" : "a value";
}

void opts_check(lua_State *L, int idx, const FnSpec *fn) {
    idx = lua_absindex(L, idx);
    const char *names[65];
    int n = 0;
    for (const OptSpec *o = fn->opts; o && o->name && n < 64; o++) names[n++] = o->name;
    names[n] = NULL;
    opts_check_keys(L, idx, fn->name, names);
    for (const OptSpec *o = fn->opts; o && o->name; o++) {
        int t = lua_getfield(L, idx, o->name);
        lua_pop(L, 1);
        if (t == LUA_TNIL) continue;
        if (o->type == OPT_INT) opt_int(L, idx, fn->name, o->name, 0, o->lo, o->hi);
        else if (o->type == OPT_NUMBER) opt_num(L, idx, fn->name, o->name, 0, o->lo, o->hi);
        else if (o->type == OPT_BOOL) opt_bool(L, idx, fn->name, o->name, 0);
        else if (o->type == OPT_STRING && t != LUA_TSTRING)
            luaL_error(L, "%s: field '%s' must be a string, got %s", fn->name, o->name, lua_typename(L, t));
        else if (o->type == OPT_TABLE && t != LUA_TTABLE)
            luaL_error(L, "%s: field '%s' must be %s, got %s", fn->name, o->name, type_name(o->type), lua_typename(L, t));
    }
}

static const OptSpec *need(lua_State *L, const FnSpec *fn, const char *key) {
    const OptSpec *o = spec_of(fn, key);
    if (!o) luaL_error(L, "archlab internal error: %s reads an option '%s' its table does not list", fn->name, key);
    return o;
}
int spec_int(lua_State *L, int idx, const FnSpec *fn, const char *key, int dflt) {
    const OptSpec *o = need(L, fn, key);
    return opt_int(L, idx, fn->name, key, dflt, o->lo, o->hi);
}
double spec_num(lua_State *L, int idx, const FnSpec *fn, const char *key, double dflt) {
    const OptSpec *o = need(L, fn, key);
    return opt_num(L, idx, fn->name, key, dflt, o->lo, o->hi);
}
int spec_bool(lua_State *L, int idx, const FnSpec *fn, const char *key, int dflt) {
    need(L, fn, key);
    return opt_bool(L, idx, fn->name, key, dflt);
}
int spec_str(lua_State *L, int idx, const FnSpec *fn, const char *key, char *buf, size_t n) {
    need(L, fn, key);
    return opt_str(L, idx, fn->name, key, buf, n);
}

/* a bound as a reader wants it: 1073741824 as 2^30, 1e9 as 1000000000, 0.999999 as is */
void opts_fmt_bound(char *out, size_t n, double v) {
    int e = 0;
    if (v >= 65536 && v == floor(v) && frexp(v, &e) == 0.5) snprintf(out, n, "2^%d", e - 1);
    else if (v == floor(v) && fabs(v) < 1e15) snprintf(out, n, "%.0f", v);
    else snprintf(out, n, "%g", v);
}

static const char *help_type(OptType t) {
    return t == OPT_INT ? "integer" : t == OPT_NUMBER ? "number" : t == OPT_BOOL ? "boolean" : t == OPT_STRING ? "string"
         : t == OPT_TABLE ? "table" : "value";
}

void opts_help(FILE *f, const FnSpec *fn) {
    fprintf(f, "%s\n  %s\n", fn->call, fn->help);
    for (const OptSpec *o = fn->opts; o && o->name; o++) {
        char range[96] = "", lo[32], hi[32];
        if ((o->type == OPT_INT || o->type == OPT_NUMBER) && o->hi > o->lo) {
            opts_fmt_bound(lo, sizeof lo, o->lo);
            opts_fmt_bound(hi, sizeof hi, o->hi);
            snprintf(range, sizeof range, " in [%s, %s]", lo, hi);
        }
        fprintf(f, "    %-16s %s%s%s%s: %s\n", o->name, help_type(o->type), range, o->dflt ? ", default " : "",
                o->dflt ? o->dflt : "", o->help);
    }
}
