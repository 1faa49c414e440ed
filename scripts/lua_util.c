/* Small utilities for experiment scripts: archlab.read_json(path) and archlab.stats.mean_ci(values, level). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <gsl/gsl_cdf.h>
#include <gsl/gsl_statistics_double.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "arch/config.h"
#include "scripts/bridge.h"

static void push_json(lua_State *L, const cJSON *j, int depth) {
    luaL_checkstack(L, 4, "JSON nesting");
    if (depth > 64) luaL_error(L, "archlab.read_json: nesting deeper than 64");
    if (cJSON_IsObject(j)) {
        lua_newtable(L);
        for (const cJSON *e = j->child; e; e = e->next) {
            if (cJSON_IsNull(e)) continue;
            push_json(L, e, depth + 1);
            lua_setfield(L, -2, e->string);
        }
    } else if (cJSON_IsArray(j)) {
        lua_newtable(L);
        int i = 1;
        for (const cJSON *e = j->child; e; e = e->next, i++) {
            if (cJSON_IsNull(e)) lua_pushnumber(L, NAN); /* keeps positions: a missing value is a gap */
            else push_json(L, e, depth + 1);
            lua_rawseti(L, -2, i);
        }
    } else if (cJSON_IsString(j)) lua_pushstring(L, j->valuestring);
    else if (cJSON_IsBool(j)) lua_pushboolean(L, cJSON_IsTrue(j));
    else if (cJSON_IsNumber(j)) lua_pushnumber(L, j->valuedouble);
    else lua_pushnil(L);
}

/* archlab.read_json(path) -> table, or nil + message if the file is missing (errors on invalid JSON) */
static int l_read_json(lua_State *L) {
    const char *path = luaL_checkstring(L, 1);
    FILE *f = fopen(path, "rb");
    if (!f) {
        lua_pushnil(L);
        lua_pushfstring(L, "cannot open '%s': %s", path, strerror(errno));
        return 2;
    }
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) luaL_addlstring(&b, chunk, n);
    fclose(f);
    luaL_pushresult(&b);
    size_t len;
    const char *text = lua_tolstring(L, -1, &len);
    cJSON *j = cJSON_ParseWithLength(text, len);
    if (!j) return luaL_error(L, "archlab.read_json: '%s' is not valid JSON", path);
    push_json(L, j, 0);
    cJSON_Delete(j);
    return 1;
}

/* archlab.stats.mean_ci(values, level = 0.95) -> mean, half_width, n, sd: Student-t interval (GSL);
 * half_width is NaN for fewer than two values. */
static int l_mean_ci(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    double level = luaL_optnumber(L, 2, 0.95);
    if (!(level > 0 && level < 1)) return luaL_error(L, "archlab.stats.mean_ci: level %f must be in (0, 1)", level);
    int n = (int)luaL_len(L, 1);
    if (n < 1) return luaL_error(L, "archlab.stats.mean_ci: no values");
    double *v = malloc(sizeof(double) * n);
    for (int i = 0; i < n; i++) {
        lua_geti(L, 1, i + 1);
        int ok;
        v[i] = lua_tonumberx(L, -1, &ok);
        lua_pop(L, 1);
        if (!ok) { free(v); return luaL_error(L, "archlab.stats.mean_ci: values[%d] is not a number", i + 1); }
    }
    double mean = gsl_stats_mean(v, 1, n), sd = n > 1 ? gsl_stats_sd_m(v, 1, n, mean) : NAN;
    double half = n > 1 ? gsl_cdf_tdist_Pinv(0.5 + level / 2, n - 1) * sd / sqrt((double)n) : NAN;
    free(v);
    lua_pushnumber(L, mean);
    lua_pushnumber(L, half);
    lua_pushinteger(L, n);
    lua_pushnumber(L, sd);
    return 4;
}

/* archlab.config_fields() -> list of model config field names */
static int l_config_fields(lua_State *L) {
    lua_createtable(L, model_config_n_fields, 0);
    for (int i = 0; i < model_config_n_fields; i++) {
        lua_pushstring(L, model_config_fields[i].name);
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

/* archlab.closest(word, {names...}) -> the name within typo distance (the rule config fields and options use),
 * or nil: for the Lua side of the library's did-you-mean */
static int l_closest(lua_State *L) {
    const char *w = luaL_checkstring(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    int n = (int)luaL_len(L, 2);
    if (n > 256) n = 256;
    const char *words[256];
    for (int i = 0; i < n; i++) {
        lua_geti(L, 2, i + 1);
        words[i] = lua_isstring(L, -1) ? lua_tostring(L, -1) : "";
        lua_pop(L, 1); /* the strings stay alive in the table */
    }
    const char *best = closest_word(w, words, n);
    if (best) lua_pushstring(L, best); else lua_pushnil(L);
    return 1;
}

static const FnSpec READ_JSON = {"archlab.read_json", "archlab.read_json(path) -> table, or nil, message",
                                 "a JSON file as Lua tables (null in a list: NaN, keeping positions); nil and the reason "
                                 "when the file cannot be opened, an error when it is not JSON", NULL};
static const FnSpec MEAN_CI = {"archlab.stats.mean_ci", "archlab.stats.mean_ci(values, level = 0.95) -> mean, half_width, n, sd",
                               "Student-t confidence interval of the mean (half_width NaN for fewer than two values)", NULL};
static const FnSpec CONFIG_FIELDS = {"archlab.config_fields", "archlab.config_fields() -> { names }",
                                     "the model config's field names (archlab.help(\"config\") describes them)", NULL};
static const FnSpec CLOSEST = {"archlab.closest", "archlab.closest(word, { names }) -> name or nil",
                               "the name a typo most likely meant (edit distance, then a name containing the word or "
                               "contained in it): the library's did-you-mean", NULL};

void bridge_open_util(lua_State *L) {
    opts_register(&READ_JSON);
    opts_register(&MEAN_CI);
    opts_register(&CONFIG_FIELDS);
    opts_register(&CLOSEST);
    lua_pushcfunction(L, l_closest);
    lua_setfield(L, -2, "closest");
    lua_pushcfunction(L, l_config_fields);
    lua_setfield(L, -2, "config_fields");
    lua_pushcfunction(L, l_read_json);
    lua_setfield(L, -2, "read_json");
    lua_newtable(L);
    lua_pushcfunction(L, l_mean_ci);
    lua_setfield(L, -2, "mean_ci");
    lua_setfield(L, -2, "stats");
}
