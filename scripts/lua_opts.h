/* Reading option tables from Lua with errors that name the function and the field, e.g.
 *   quickstart.lua:12: archlab.train: field 'lr' must be a number, got string
 * luaL_error reports the line of the script that called the archlab function. */
#ifndef AL_LUA_OPTS_H
#define AL_LUA_OPTS_H
#include <lauxlib.h>
#include <lua.h>

/* Errors on a key of the table at idx that is not in keys (NULL-terminated), suggesting the closest. */
void opts_check_keys(lua_State *L, int idx, const char *fn, const char *const *keys);
/* Field getters: default when absent (nil); error on a wrong type or out-of-range value. */
int opt_int(lua_State *L, int idx, const char *fn, const char *key, int def, double lo, double hi);
double opt_num(lua_State *L, int idx, const char *fn, const char *key, double def, double lo, double hi);
int opt_bool(lua_State *L, int idx, const char *fn, const char *key, int def);
/* Copies a string field into buf (size n); returns 1 if present. */
int opt_str(lua_State *L, int idx, const char *fn, const char *key, char *buf, size_t n);
/* Raises the engine's last error (al_error_message) as a Lua error, prefixed with fn. */
int opts_raise_engine_error(lua_State *L, const char *fn);
#endif
