/* Probes from Lua (arch/probe.h):
 *   m:inspect{ text = "..." | tokens = { ids } | {{ ids }, ...}, capture = { "layer0.attn.probs", "layer*.hres",
 *              "logits" } } -> { [name] = tensor }
 *   m:probes([{ text =, tokens = }]) -> { { name =, shape = {...} }, ... }
 * Both run one forward pass (no targets, nothing learned); afterwards the model's "last forward" (what
 * m:expert_load() and m:gains() read without data) is that pass. */
#include <string.h>

#include "arch/probe.h"
#include "scripts/bridge.h"
#include "scripts/lua_opts.h"
#include "scripts/lua_tensor.h"

static const OptSpec INSPECT_OPTS[] = {
    {"text", OPT_STRING, 0, 0, NULL, "a string: its bytes are the tokens (byte-level models)"},
    {"tokens", OPT_TABLE, 0, 0, NULL, "token ids: a list (one sequence) or a list of equally long lists (a batch)"},
    {"capture", OPT_TABLE, 0, 0, "{ \"*\" }", "names or patterns ('*' any characters, '?' one) of what to keep; "
                                              "m:probes() lists the names"},
    {NULL},
};
static const FnSpec INSPECT = {"model:inspect", "model:inspect{ text = | tokens =, capture = {...} } -> { [name] = tensor }",
                               "one forward pass on the given tokens, returning the intermediates asked for as tensors "
                               "(copies; capturing changes nothing the model computes)", INSPECT_OPTS};
static const OptSpec PROBES_OPTS[] = {
    {"text", OPT_STRING, 0, 0, NULL, "the tokens of the listing's forward pass (default: one token, id 0)"},
    {"tokens", OPT_TABLE, 0, 0, NULL, "as in model:inspect"},
    {NULL},
};
static const FnSpec PROBES = {"model:probes", "model:probes([{ text =, tokens = }]) -> { { name =, shape = {...} }, ... }",
                              "every name model:inspect can capture for this model, in forward order, with its shape",
                              PROBES_OPTS};

/* The tokens of the options table at idx (0: none) as B x T ids, in a userdata left on the stack; default:
 * one token, id 0. */
static int *tokens_of(lua_State *L, int idx, const FnSpec *fn, Model *m, int *B, int *T) {
    const char *f = fn->name;
    int V = m->cfg.vocab_size, top = lua_gettop(L);
    int text = idx ? lua_getfield(L, idx, "text") : LUA_TNIL;   /* top + 1 */
    int toks = idx ? lua_getfield(L, idx, "tokens") : LUA_TNIL; /* top + 2 */
    if (!idx) lua_settop(L, top + 2);
    int *t;
    if (text != LUA_TNIL && toks != LUA_TNIL) luaL_error(L, "%s: give text or tokens, not both", f);
    if (text != LUA_TNIL) {
        size_t n;
        const char *str = lua_tolstring(L, top + 1, &n);
        if (n == 0) luaL_error(L, "%s: field 'text' is empty", f);
        if (n > (size_t)1 << 24) luaL_error(L, "%s: field 'text' is longer than one inspection takes (2^24 bytes)", f);
        *B = 1;
        *T = (int)n;
        t = lua_newuserdatauv(L, n * sizeof(int), 0);
        for (size_t i = 0; i < n; i++) {
            t[i] = (unsigned char)str[i];
            if (t[i] >= V)
                luaL_error(L, "%s: field 'text': byte %d at position %d is not below vocab_size = %d of the model", f, t[i], (int)i + 1, V);
        }
    } else if (toks == LUA_TNIL) {
        *B = *T = 1;
        t = lua_newuserdatauv(L, sizeof(int), 0);
        t[0] = 0;
    } else {
        int tk = top + 2;
        int nested = lua_geti(L, tk, 1) == LUA_TTABLE;
        *T = nested ? (int)luaL_len(L, -1) : (int)luaL_len(L, tk);
        lua_pop(L, 1);
        *B = nested ? (int)luaL_len(L, tk) : 1;
        if (*B < 1 || *T < 1) luaL_error(L, "%s: field 'tokens' is empty", f);
        if ((double)*B * *T > 1 << 24) luaL_error(L, "%s: field 'tokens': %d x %d tokens is more than one inspection takes (2^24)", f, *B, *T);
        t = lua_newuserdatauv(L, (size_t)*B * *T * sizeof(int), 0);
        for (int b = 0; b < *B; b++) {
            if (nested) {
                lua_geti(L, tk, b + 1);
                if (!lua_istable(L, -1) || (int)luaL_len(L, -1) != *T)
                    luaL_error(L, "%s: field 'tokens[%d]' must be a list of %d ids like tokens[1]", f, b + 1, *T);
            } else {
                lua_pushvalue(L, tk);
            }
            for (int i = 0; i < *T; i++) {
                lua_geti(L, -1, i + 1);
                int ok;
                lua_Integer v = lua_tointegerx(L, -1, &ok);
                if (!ok || v < 0 || v >= V)
                    luaL_error(L, "%s: field 'tokens': entry %d of sequence %d is not a token id in [0, %d)", f, i + 1, b + 1, V);
                t[(size_t)b * *T + i] = (int)v;
                lua_pop(L, 1);
            }
            lua_pop(L, 1);
        }
    }
    lua_replace(L, top + 1); /* the ids stay, the two fields go */
    lua_settop(L, top + 1);
    return t;
}

/* The sink lives in a userdata whose __gc frees it, so an error anywhere leaks nothing. */
typedef struct { ProbeSink *s; } SinkBox;
static int sink_gc(lua_State *L) {
    SinkBox *b = lua_touserdata(L, 1);
    probe_sink_free(b->s);
    b->s = NULL;
    return 0;
}
static ProbeSink *new_sink(lua_State *L, const char *const *patterns, int n, int list_only) {
    SinkBox *b = lua_newuserdatauv(L, sizeof *b, 0);
    b->s = NULL;
    if (luaL_newmetatable(L, "archlab.ProbeSink")) {
        lua_pushcfunction(L, sink_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, -2);
    b->s = probe_sink_new(patterns, n, list_only);
    if (!b->s) luaL_error(L, "out of memory for probes");
    return b->s;
}

static void run(lua_State *L, Model *m, const int *tokens, int B, int T, ProbeSink *s, const char *fn) {
    if (T > m->cfg.seq_len) luaL_error(L, "%s: %d tokens is longer than seq_len = %d", fn, T, m->cfg.seq_len);
    if (model_inspect(m, tokens, B, T, s)) opts_raise_engine_error(L, fn);
}

static int l_inspect(lua_State *L) {
    const char *fn = INSPECT.name;
    Model *m = bridge_check_model(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    opts_check(L, 2, &INSPECT);
    int given = lua_getfield(L, 2, "text") != LUA_TNIL;
    given |= lua_getfield(L, 2, "tokens") != LUA_TNIL;
    if (!given) luaL_error(L, "%s: give the tokens to run (text = \"...\" or tokens = {...})", fn);
    lua_settop(L, 2);
    const char *pats[256];
    int np = 0;
    if (lua_getfield(L, 2, "capture") != LUA_TNIL) {
        int n = (int)luaL_len(L, -1);
        if (n < 1 || n > 256) luaL_error(L, "%s: field 'capture' must list 1 to 256 names or patterns", fn);
        for (int i = 0; i < n; i++) {
            if (lua_geti(L, -1, i + 1) != LUA_TSTRING) luaL_error(L, "%s: field 'capture[%d]' must be a string", fn, i + 1);
            pats[np++] = lua_tostring(L, -1); /* kept alive by the options table */
            lua_pop(L, 1);
        }
    } else {
        pats[np++] = "*";
    }
    int B, T;
    int *tokens = tokens_of(L, 2, &INSPECT, m, &B, &T);
    ProbeSink *s = new_sink(L, pats, np, 0);
    run(L, m, tokens, B, T, s, fn);
    /* every pattern must find something: a typo is an error with the closest name */
    for (int i = 0; i < np; i++) {
        int found = 0;
        for (int k = 0; k < probe_count(s) && !found; k++) found = probe_match(pats[i], probe_at(s, k)->name);
        if (found) continue;
        const char *names[4096];
        ProbeSink *all = new_sink(L, (const char *const[]){"*"}, 1, 1);
        run(L, m, tokens, B, T, all, fn);
        int n = probe_count(all) < 4096 ? probe_count(all) : 4096;
        for (int k = 0; k < n; k++) names[k] = probe_at(all, k)->name;
        const char *near = closest_word(pats[i], names, n);
        if (near) luaL_error(L, "%s: capture '%s' matches nothing this model offers (did you mean '%s'?)", fn, pats[i], near);
        luaL_error(L, "%s: capture '%s' matches nothing this model offers (m:probes() lists the names)", fn, pats[i]);
    }
    lua_createtable(L, 0, probe_count(s));
    for (int k = 0; k < probe_count(s); k++) {
        Probe *p = probe_at(s, k);
        lua_tensor_push(L, &p->t); /* takes the copy over */
        lua_setfield(L, -2, p->name);
    }
    return 1;
}

static int l_probes(lua_State *L) {
    Model *m = bridge_check_model(L, 1);
    int idx = 0;
    if (!lua_isnoneornil(L, 2)) {
        luaL_checktype(L, 2, LUA_TTABLE);
        opts_check(L, 2, &PROBES);
        idx = 2;
    }
    int B, T;
    int *tokens = tokens_of(L, idx, &PROBES, m, &B, &T);
    ProbeSink *s = new_sink(L, (const char *const[]){"*"}, 1, 1);
    run(L, m, tokens, B, T, s, PROBES.name);
    lua_createtable(L, probe_count(s), 0);
    for (int k = 0; k < probe_count(s); k++) {
        const Probe *p = probe_at(s, k);
        lua_createtable(L, 0, 2);
        lua_pushstring(L, p->name);
        lua_setfield(L, -2, "name");
        lua_createtable(L, p->ndim, 0);
        for (int d = 0; d < p->ndim; d++) {
            lua_pushinteger(L, p->shape[d]);
            lua_rawseti(L, -2, d + 1);
        }
        lua_setfield(L, -2, "shape");
        lua_rawseti(L, -2, k + 1);
    }
    return 1;
}

void bridge_open_probe(lua_State *L) {
    opts_register(&INSPECT);
    opts_register(&PROBES);
    static const luaL_Reg methods[] = {{"inspect", l_inspect}, {"probes", l_probes}, {NULL, NULL}};
    bridge_add_model_methods(L, methods);
}
