/* Reading option tables from Lua with errors that name the function and the field, e.g.
 *   quickstart.lua:12: archlab.train: field 'lr' must be a number, got string
 * luaL_error reports the line of the script that called the archlab function. */
#ifndef AL_LUA_OPTS_H
#define AL_LUA_OPTS_H
#include <lauxlib.h>
#include <lua.h>
#include <stdio.h>

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

/* ---- documented functions: ONE table per function drives both its validation and its help ----
 * A function of the Lua API declares a FnSpec (its call form, what it does, its options) and registers it
 * (opts_register) when its area opens; it checks a call's option table with opts_check and reads each option
 * with spec_int / spec_num / spec_bool / spec_str, which take the type and range from the same table, and
 * archlab.help / `archlab help` print from it: an accepted option is a documented one. */
typedef enum { OPT_INT, OPT_NUMBER, OPT_BOOL, OPT_STRING, OPT_TABLE, OPT_ANY } OptType;
typedef struct OptSpec {
    const char *name;
    OptType type;      /* OPT_TABLE / OPT_ANY: a shape the function checks itself (a list, a model, ...) */
    double lo, hi;     /* OPT_INT, OPT_NUMBER: the accepted range */
    const char *dflt;  /* the default as help shows it ("8", "the model's seq_len"); NULL: required, or none */
    const char *help;
} OptSpec;
typedef struct FnSpec {
    const char *name;     /* "archlab.train", "model:generate" */
    const char *call;     /* "archlab.train{ ... } -> run", "model:save(path)" */
    const char *help;     /* what it does, one or two lines */
    const OptSpec *opts;  /* its option table's keys, ended by a NULL name; NULL: positional arguments only */
} FnSpec;

/* Makes fn known to help (each area registers its functions when it opens). */
void opts_register(const FnSpec *fn);
int opts_fn_count(void);
const FnSpec *opts_fn_at(int i);
/* the function whose name is `name`, or whose name ends in ".name" / ":name" ("train" finds archlab.train) */
const FnSpec *opts_fn_find(const char *name);
/* Checks the option table at idx against fn's options: an unknown key (with a suggestion), a wrong type, a
 * number out of its range, all naming fn and the field. */
void opts_check(lua_State *L, int idx, const FnSpec *fn);
/* An option's value, or dflt when absent; the type and the range come from fn's table. */
int spec_int(lua_State *L, int idx, const FnSpec *fn, const char *key, int dflt);
double spec_num(lua_State *L, int idx, const FnSpec *fn, const char *key, double dflt);
int spec_bool(lua_State *L, int idx, const FnSpec *fn, const char *key, int dflt);
int spec_str(lua_State *L, int idx, const FnSpec *fn, const char *key, char *buf, size_t n);
/* Writes fn's help (its call, what it does, each option with type, range and default) to f. */
void opts_help(FILE *f, const FnSpec *fn);
/* A range's bound as help prints it: 2^30 for a power of two from 2^16, whole numbers in full, else %g. */
void opts_fmt_bound(char *out, size_t n, double v);
#endif
