/* archlab.data.*: token sources. */
#include <string.h>

#include "scripts/bridge.h"
#include "scripts/lua_opts.h"

/* The default corpus: Debian's fortunes (English quotations, ~2.5 MB), installed by `make deps`. */
#define DEFAULT_CORPUS "/usr/share/games/fortunes"

static LData *new_data(lua_State *L) {
    LData *ld = lua_newuserdatauv(L, sizeof *ld, 0);
    memset(ld, 0, sizeof *ld);
    luaL_setmetatable(L, DATA_MT);
    return ld;
}

static const OptSpec TEXT_OPTS[] = {
    {"path", OPT_ANY, 0, 0, "Debian's fortunes", "a file, a directory (its text files) or a list of up to 64 of them"},
    {"val_fraction", OPT_NUMBER, 0.001, 0.5, "0.1", "share of 8 KiB blocks held out for validation"},
    {NULL},
};
static const FnSpec TEXT = {"archlab.data.text", "archlab.data.text{ path =, val_fraction = } -> data",
                            "a byte-level text corpus (vocab 256) split into train and validation", TEXT_OPTS};
static const OptSpec COPY_OPTS[] = {
    {"alphabet", OPT_INT, 2, 250, "16", "symbols to copy (token ids up to alphabet + 2)"},
    {NULL},
};
static const FnSpec COPY = {"archlab.data.copy", "archlab.data.copy{ alphabet = } -> data",
                            "synthetic copy task: BOS x1..xk SEP x1..xk, the second copy the targets", COPY_OPTS};
static const OptSpec RECALL_OPTS[] = {
    {"keys", OPT_INT, 2, 126, "16", "distinct keys (values use as many symbols)"},
    {"pairs", OPT_INT, 1, 126, "8", "key/value pairs per sequence (at most keys)"},
    {NULL},
};
static const FnSpec RECALL = {"archlab.data.recall", "archlab.data.recall{ keys =, pairs = } -> data",
                              "synthetic associative recall: pairs, then queries whose values are the targets", RECALL_OPTS};
static const FnSpec ENTROPY = {"data:unigram_entropy", "data:unigram_entropy() -> nats",
                               "entropy of the train split's bytes: the loss of the best context-free predictor", NULL};
static const FnSpec CHANCE = {"data:chance_loss", "data:chance_loss() -> nats",
                              "loss of a uniform guess among the possible answers", NULL};

static int l_text(lua_State *L) {
    const char *fn = TEXT.name;
    if (lua_isnoneornil(L, 1)) { lua_settop(L, 0); lua_newtable(L); }
    luaL_checktype(L, 1, LUA_TTABLE);
    opts_check(L, 1, &TEXT);
    double vf = spec_num(L, 1, &TEXT, "val_fraction", 0.1);
    const char *paths[64];
    int n = 0;
    int t = lua_getfield(L, 1, "path");
    if (t == LUA_TNIL) paths[n++] = DEFAULT_CORPUS;
    else if (t == LUA_TSTRING) paths[n++] = lua_tostring(L, -1);
    else if (t == LUA_TTABLE) {
        int len = (int)luaL_len(L, -1);
        if (len < 1 || len > 64) luaL_error(L, "%s: field 'path' must list 1 to 64 paths", fn);
        for (int i = 1; i <= len; i++) {
            if (lua_geti(L, -1, i) != LUA_TSTRING) luaL_error(L, "%s: field 'path[%d]' must be a string", fn, i);
            paths[n++] = lua_tostring(L, -1);
            lua_pop(L, 1); /* the string stays alive: it is referenced by the table */
        }
    } else luaL_error(L, "%s: field 'path' must be a string or a list of strings, got %s", fn, luaL_typename(L, -1));
    LData *ld = new_data(L);
    if (data_text_load(&ld->d, paths, n, vf)) opts_raise_engine_error(L, fn);
    ld->loaded = 1;
    return 1;
}

static int l_copy(lua_State *L) {
    if (lua_isnoneornil(L, 1)) { lua_settop(L, 0); lua_newtable(L); }
    luaL_checktype(L, 1, LUA_TTABLE);
    opts_check(L, 1, &COPY);
    int a = spec_int(L, 1, &COPY, "alphabet", 16);
    LData *ld = new_data(L);
    data_copy_init(&ld->d, a);
    ld->loaded = 1;
    return 1;
}

static int l_recall(lua_State *L) {
    const char *fn = RECALL.name;
    if (lua_isnoneornil(L, 1)) { lua_settop(L, 0); lua_newtable(L); }
    luaL_checktype(L, 1, LUA_TTABLE);
    opts_check(L, 1, &RECALL);
    int k = spec_int(L, 1, &RECALL, "keys", 16);
    int p = spec_int(L, 1, &RECALL, "pairs", 8);
    if (p > k) luaL_error(L, "%s: field 'pairs' = %d exceeds keys = %d (keys are distinct)", fn, p, k);
    LData *ld = new_data(L);
    data_recall_init(&ld->d, k, p);
    ld->loaded = 1;
    return 1;
}

static int l_unigram_entropy(lua_State *L) {
    lua_pushnumber(L, data_unigram_entropy(bridge_check_data(L, 1)));
    return 1;
}
static int l_chance_loss(lua_State *L) {
    lua_pushnumber(L, data_chance_loss(bridge_check_data(L, 1)));
    return 1;
}
static const FnSpec DESCRIBE = {"data:describe", "data:describe() -> text",
                                "what the source holds (also tostring(data))", NULL};
static int l_describe(lua_State *L) {
    LData *ld = luaL_checkudata(L, 1, DATA_MT);
    lua_pushfstring(L, "archlab.Data(%s)", ld->loaded ? ld->d.description : "closed");
    return 1;
}
static int l_gc(lua_State *L) {
    LData *ld = luaL_checkudata(L, 1, DATA_MT);
    if (ld->loaded) data_free(&ld->d);
    ld->loaded = 0;
    return 0;
}

void bridge_open_data(lua_State *L) {
    opts_register(&TEXT);
    opts_register(&COPY);
    opts_register(&RECALL);
    opts_register(&ENTROPY);
    opts_register(&CHANCE);
    opts_register(&DESCRIBE);
    static const luaL_Reg methods[] = {{"unigram_entropy", l_unigram_entropy}, {"chance_loss", l_chance_loss},
                                       {"describe", l_describe}, {NULL, NULL}};
    static const luaL_Reg meta[] = {{"__gc", l_gc}, {"__close", l_gc}, {"__tostring", l_describe}, {NULL, NULL}};
    luaL_newmetatable(L, DATA_MT);
    luaL_setfuncs(L, meta, 0);
    luaL_newlib(L, methods);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
    static const luaL_Reg fns[] = {{"text", l_text}, {"copy", l_copy}, {"recall", l_recall}, {NULL, NULL}};
    luaL_newlib(L, fns);
    lua_setfield(L, -2, "data");
}
