/* Lua bindings of decoding, KV-cache measurement and needle-in-a-haystack evaluation (see lua_attention.h). */
#include "scripts/lua_attention.h"

#include <string.h>
#include <time.h>

#include "analysis/niah.h"
#include "arch/kinds.h"
#include "arch/kv_cache.h"
#include "arch/speculative.h"
#include "scripts/bridge.h"
#include "scripts/lua_opts.h"

static const OptSpec NIAH_DATA_OPTS[] = {
    {"keys", OPT_INT, 1, 250, "16", "distinct keys a needle can hold"},
    {"values", OPT_INT, 2, 250, "16", "values (chance recall is 1 / values)"},
    {"filler", OPT_INT, 1, 250, "64", "filler symbols of the haystack"},
    {NULL},
};
static const FnSpec NIAH_DATA = {"archlab.data.niah", "archlab.data.niah{ keys =, values =, filler = } -> data",
                                 "needle in a haystack at workbench scale: a key -> value fact in synthetic filler, "
                                 "queried at the end (a training source, and model:niah's task)", NIAH_DATA_OPTS};
static const OptSpec GENERATE_OPTS[] = {
    {"prompt", OPT_ANY, 0, 0, NULL, "(required) a string (byte-level models), a list of token ids, or a list of lists (a batch)"},
    {"n", OPT_INT, 1, 1 << 22, "32", "tokens to generate (prompt + n - 1 at most seq_len)"},
    {"temperature", OPT_NUMBER, 0, 1e6, "0 (greedy)", "sampling temperature"},
    {"seed", OPT_INT, 0, 2147483647.0, "1", "sampling seed"},
    {"mla", OPT_STRING, 0, 0, "\"absorbed\"", "MLA decoding: \"absorbed\" or \"naive\""},
    {"chunk", OPT_INT, 1, 1 << 20, "256", "prompt tokens per prefill step"},
    {"speculative", OPT_STRING, 0, 0, "none", "\"mtp\": the multi-token prediction modules draft, the model verifies "
                                              "(greedy, one sequence; the output equals plain greedy decoding)"},
    {NULL},
};
static const FnSpec GENERATE = {"model:generate", "model:generate{ prompt =, n =, temperature =, seed =, speculative = } -> text or tokens, stats",
                                "decodes from a KV cache: the same logits as the training forward, greedy or sampled; "
                                "stats = { tokens_per_s =, seconds = } and, speculative, { rounds =, drafted =, "
                                "accepted =, acceptance =, acceptance_by_depth = {...} }",
                                GENERATE_OPTS};
static const OptSpec KV_OPTS[] = {
    {"context", OPT_INT, 1, 1 << 30, "the model's seq_len", "tokens per sequence"},
    {"batch", OPT_INT, 1, 1 << 20, "1", "sequences"},
    {NULL},
};
static const FnSpec KV = {"model:kv_cache", "model:kv_cache{ context =, batch = } -> { bytes =, bytes_per_token =, formula_bytes_per_token =, elems_per_token = }",
                          "allocates a KV cache and measures what the attention layers store, beside V2 Table 1's formula",
                          KV_OPTS};
static const OptSpec NIAH_OPTS[] = {
    {"data", OPT_ANY, 0, 0, NULL, "(required) an archlab.data.niah task"},
    {"lengths", OPT_TABLE, 0, 0, NULL, "(required) context lengths (1 to 64 of them)"},
    {"depths", OPT_TABLE, 0, 0, NULL, "(required) needle depths in [0, 1] (1 to 64)"},
    {"trials", OPT_INT, 1, 4096, "8", "haystacks per cell"},
    {"seed", OPT_INT, 0, 2147483647.0, "1", "the haystacks' seed"},
    {"chunk", OPT_INT, 1, 1 << 20, "256", "prefill tokens per step"},
    {"json", OPT_STRING, 0, 0, NULL, "also write the grid to this JSON file"},
    {NULL},
};
static const FnSpec NIAH = {"model:niah", "model:niah{ data =, lengths =, depths =, trials = } -> { recall = {{...}}, ... }",
                            "needle recall on a grid of context lengths x depths (exact match), by cached decoding",
                            NIAH_OPTS};

static int l_niah_data(lua_State *L) {
    const char *fn = NIAH_DATA.name;
    if (lua_isnoneornil(L, 1)) { lua_settop(L, 0); lua_newtable(L); }
    luaL_checktype(L, 1, LUA_TTABLE);
    opts_check(L, 1, &NIAH_DATA);
    int k = spec_int(L, 1, &NIAH_DATA, "keys", 16);
    int v = spec_int(L, 1, &NIAH_DATA, "values", 16);
    int f = spec_int(L, 1, &NIAH_DATA, "filler", 64);
    LData *ld = lua_newuserdatauv(L, sizeof *ld, 0);
    memset(ld, 0, sizeof *ld);
    luaL_setmetatable(L, DATA_MT);
    if (data_niah_init(&ld->d, k, v, f, 256)) opts_raise_engine_error(L, fn);
    ld->loaded = 1;
    return 1;
}

/* reads a list of integer tokens at idx into out (capacity cap); returns the count */
static int read_tokens(lua_State *L, int idx, const char *fn, const char *what, int V, int *out, int cap) {
    int n = (int)luaL_len(L, idx);
    if (n < 1) luaL_error(L, "%s: field '%s' is empty", fn, what);
    if (n > cap) luaL_error(L, "%s: field '%s' has %d tokens, more than the model's seq_len %d", fn, what, n, cap);
    for (int i = 1; i <= n; i++) {
        lua_geti(L, idx, i);
        int isnum;
        lua_Integer t = lua_tointegerx(L, -1, &isnum);
        if (!isnum || t < 0 || t >= V) luaL_error(L, "%s: field '%s[%d]' must be a token id in [0, %d)", fn, what, i, V);
        out[i - 1] = (int)t;
        lua_pop(L, 1);
    }
    return n;
}

static int l_generate(lua_State *L) {
    const char *fn = GENERATE.name;
    Model *m = bridge_check_model(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    opts_check(L, 2, &GENERATE);
    int S = m->cfg.seq_len, V = m->cfg.vocab_size;
    int n = spec_int(L, 2, &GENERATE, "n", 32);
    if (n > S) luaL_error(L, "%s: field 'n' = %d is more than the model's seq_len = %d", fn, n, S);
    double temp = spec_num(L, 2, &GENERATE, "temperature", 0);
    int seed = spec_int(L, 2, &GENERATE, "seed", 1);
    int chunk = spec_int(L, 2, &GENERATE, "chunk", 256);
    char mla[16] = "absorbed";
    spec_str(L, 2, &GENERATE, "mla", mla, sizeof mla);
    if (strcmp(mla, "absorbed") && strcmp(mla, "naive")) luaL_error(L, "%s: field 'mla' must be \"absorbed\" or \"naive\"", fn);
    char spec[16] = "none";
    spec_str(L, 2, &GENERATE, "speculative", spec, sizeof spec);
    int speculative = !strcmp(spec, "mtp");
    if (!speculative && strcmp(spec, "none")) luaL_error(L, "%s: field 'speculative' must be \"mtp\" or \"none\"", fn);
    if (speculative && m->n_mtp < 1)
        luaL_error(L, "%s: field 'speculative' = \"mtp\" needs multi-token prediction modules (model field 'mtp_depth' > 0)", fn);
    if (speculative && temp > 0)
        luaL_error(L, "%s: field 'speculative' = \"mtp\" decodes greedily (temperature = 0, not %s)", fn,
                   lua_tostring(L, (lua_getfield(L, 2, "temperature"), -1)));
    int kind = lua_getfield(L, 2, "prompt"); /* 0 string, 1 list, 2 list of lists */
    int P = lua_gettop(L);
    int B = 1, T0 = 0, shape;
    int *prompt = NULL; /* Lua userdata, so an error raised while reading it frees it */
    if (kind == LUA_TSTRING) {
        size_t len;
        const char *s = lua_tolstring(L, P, &len);
        if (len < 1 || (int)len > S) luaL_error(L, "%s: field 'prompt' must have 1 to seq_len = %d bytes", fn, S);
        if (V < 256) luaL_error(L, "%s: a string prompt needs a byte-level model (vocab_size 256)", fn);
        prompt = lua_newuserdatauv(L, sizeof(int) * len, 0);
        for (size_t i = 0; i < len; i++) prompt[i] = (unsigned char)s[i];
        T0 = (int)len;
        shape = 0;
    } else if (kind == LUA_TTABLE) {
        lua_geti(L, P, 1);
        int nested = lua_istable(L, -1);
        lua_pop(L, 1);
        if (nested) {
            B = (int)luaL_len(L, P);
            lua_geti(L, P, 1);
            T0 = (int)luaL_len(L, -1);
            lua_pop(L, 1);
            prompt = lua_newuserdatauv(L, sizeof(int) * (size_t)B * (T0 > 0 ? T0 : 1), 0);
            for (int b = 0; b < B; b++) {
                lua_geti(L, P, b + 1);
                if (!lua_istable(L, -1) || (int)luaL_len(L, -1) != T0)
                    luaL_error(L, "%s: field 'prompt[%d]' must be a list of %d tokens like prompt[1]", fn, b + 1, T0);
                read_tokens(L, lua_gettop(L), fn, "prompt", V, prompt + (size_t)b * T0, S);
                lua_pop(L, 1);
            }
            shape = 2;
        } else {
            prompt = lua_newuserdatauv(L, sizeof(int) * S, 0);
            T0 = read_tokens(L, P, fn, "prompt", V, prompt, S);
            shape = 1;
        }
    } else {
        luaL_error(L, "%s: field 'prompt' must be a string, a list of tokens or a list of lists", fn);
        return 0;
    }
    if (T0 + n - 1 > S)
        luaL_error(L, "%s: prompt (%d tokens) + n (%d) exceed the model's maximum context (field 'seq_len' = %d)", fn, T0, n, S);
    if (speculative && B != 1) luaL_error(L, "%s: field 'speculative' = \"mtp\" decodes one sequence (the prompt has %d)", fn, B);
    if (speculative && !strcmp(mla, "naive")) luaL_error(L, "%s: field 'speculative' decodes with mla = \"absorbed\"", fn);
    int *out = malloc(sizeof(int) * (size_t)B * n);
    AL_ASSERT(out);
    SpecStats st;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc;
    if (speculative) rc = model_generate_speculative(m, prompt, T0, n, chunk, out, &st);
    else {
        KVCache *kv = model_kv_cache(m, B, T0 + n - 1 > 0 ? T0 + n - 1 : 1);
        if (!kv) { free(out); opts_raise_engine_error(L, fn); }
        kv->mla_naive = !strcmp(mla, "naive");
        Rng rng;
        rng_init(&rng, (uint64_t)seed);
        rc = model_generate(m, kv, prompt, T0, n, temp, &rng, chunk, out);
        rng_free(&rng);
        kv_cache_free(kv);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (t1.tv_sec - t0.tv_sec) + 1e-9 * (t1.tv_nsec - t0.tv_nsec);
    lua_settop(L, P - 1); /* the prompt's field and copy */
    if (rc) { free(out); opts_raise_engine_error(L, fn); }
    if (shape == 0) {
        char *s = malloc(n);
        for (int i = 0; i < n; i++) s[i] = (char)out[i];
        lua_pushlstring(L, s, n);
        free(s);
    } else {
        lua_createtable(L, shape == 2 ? B : n, 0);
        for (int b = 0; b < B; b++) {
            if (shape == 2) lua_createtable(L, n, 0);
            for (int i = 0; i < n; i++) {
                lua_pushinteger(L, out[(size_t)b * n + i]);
                lua_seti(L, -2, i + 1);
            }
            if (shape == 2) lua_seti(L, -2, b + 1);
        }
    }
    free(out);
    /* stats: wall time of prefill + decoding (tokens_per_s counts the generated tokens of all sequences) */
    lua_newtable(L);
    lua_pushnumber(L, secs);
    lua_setfield(L, -2, "seconds");
    lua_pushnumber(L, secs > 0 ? (double)B * n / secs : 0);
    lua_setfield(L, -2, "tokens_per_s");
    if (speculative) {
        struct { const char *k; int v; } f[] = {{"rounds", st.rounds}, {"drafted", st.drafted}, {"accepted", st.accepted}};
        for (int i = 0; i < 3; i++) {
            lua_pushinteger(L, f[i].v);
            lua_setfield(L, -2, f[i].k);
        }
        lua_pushnumber(L, st.drafted ? (double)st.accepted / st.drafted : 0);
        lua_setfield(L, -2, "acceptance");
        /* depth j: accepted among the d_j verified, i.e. given d_1 .. d_{j-1} accepted (V3's "second token" is j = 1) */
        lua_createtable(L, m->n_mtp, 0);
        for (int j = 0; j < m->n_mtp && j < SPEC_MAX_DEPTH; j++) {
            lua_pushnumber(L, st.drafted_at[j] ? (double)st.accepted_at[j] / st.drafted_at[j] : 0);
            lua_seti(L, -2, j + 1);
        }
        lua_setfield(L, -2, "acceptance_by_depth");
    }
    return 2;
}

static int l_kv_cache(lua_State *L) {
    const char *fn = KV.name;
    Model *m = bridge_check_model(L, 1);
    if (lua_isnoneornil(L, 2)) { lua_settop(L, 1); lua_newtable(L); }
    luaL_checktype(L, 2, LUA_TTABLE);
    opts_check(L, 2, &KV);
    int ctxlen = spec_int(L, 2, &KV, "context", m->cfg.seq_len);
    int B = spec_int(L, 2, &KV, "batch", 1);
    KVCache *kv = model_kv_cache(m, B, ctxlen);
    if (!kv) opts_raise_engine_error(L, fn);
    int *tok = calloc(B, sizeof(int));
    int rc = model_decode(m, kv, tok, B, 1); /* the layers allocate their buffers on first append */
    free(tok);
    size_t bytes = kv_cache_bytes(kv);
    kv_cache_free(kv);
    if (rc) opts_raise_engine_error(L, fn);
    double elems = kv_elems_per_token(&m->cfg);
    lua_newtable(L);
    lua_pushinteger(L, (lua_Integer)bytes);
    lua_setfield(L, -2, "bytes");
    lua_pushnumber(L, (double)bytes / ((double)B * ctxlen));
    lua_setfield(L, -2, "bytes_per_token");
    lua_pushnumber(L, elems * sizeof(real));
    lua_setfield(L, -2, "formula_bytes_per_token");
    lua_pushnumber(L, elems);
    lua_setfield(L, -2, "elems_per_token");
    return 1;
}

static void read_list(lua_State *L, int idx, const char *fn, const char *key, double *out, int *n, int cap) {
    if (lua_getfield(L, idx, key) != LUA_TTABLE) luaL_error(L, "%s: field '%s' must be a list of numbers", fn, key);
    *n = (int)luaL_len(L, -1);
    if (*n < 1 || *n > cap) luaL_error(L, "%s: field '%s' must list 1 to %d values", fn, key, cap);
    for (int i = 1; i <= *n; i++) {
        lua_geti(L, -1, i);
        if (!lua_isnumber(L, -1)) luaL_error(L, "%s: field '%s[%d]' must be a number", fn, key, i);
        out[i - 1] = lua_tonumber(L, -1);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
}

static int l_niah(lua_State *L) {
    const char *fn = NIAH.name;
    Model *m = bridge_check_model(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    opts_check(L, 2, &NIAH);
    lua_getfield(L, 2, "data");
    if (lua_isnil(L, -1)) luaL_error(L, "%s: field 'data' is required (archlab.data.niah{...})", fn);
    DataSource *d = bridge_check_data(L, -1);
    lua_pop(L, 1);
    double lens[64], depths[64];
    int nl, nd;
    read_list(L, 2, fn, "lengths", lens, &nl, 64);
    read_list(L, 2, fn, "depths", depths, &nd, 64);
    int il[64];
    for (int i = 0; i < nl; i++) {
        if (lens[i] != (int)lens[i]) luaL_error(L, "%s: field 'lengths[%d]' must be an integer", fn, i + 1);
        il[i] = (int)lens[i];
    }
    int trials = spec_int(L, 2, &NIAH, "trials", 8);
    int seed = spec_int(L, 2, &NIAH, "seed", 1);
    int chunk = spec_int(L, 2, &NIAH, "chunk", 256);
    char json[1024] = "";
    spec_str(L, 2, &NIAH, "json", json, sizeof json);
    NiahGrid g;
    if (niah_evaluate(m, d, il, nl, depths, nd, trials, (uint64_t)seed, chunk, &g)) opts_raise_engine_error(L, fn);
    if (json[0] && (make_parent_dirs(json) || niah_write_json(&g, d, m, json))) {
        niah_grid_free(&g);
        opts_raise_engine_error(L, fn);
    }
    lua_newtable(L);
    lua_createtable(L, nl, 0);
    for (int i = 0; i < nl; i++) { lua_pushinteger(L, g.lengths[i]); lua_seti(L, -2, i + 1); }
    lua_setfield(L, -2, "lengths");
    lua_createtable(L, nd, 0);
    for (int j = 0; j < nd; j++) { lua_pushnumber(L, g.depths[j]); lua_seti(L, -2, j + 1); }
    lua_setfield(L, -2, "depths");
    lua_createtable(L, nd, 0);
    for (int j = 0; j < nd; j++) {
        lua_createtable(L, nl, 0);
        for (int i = 0; i < nl; i++) { lua_pushnumber(L, g.recall[(size_t)j * nl + i]); lua_seti(L, -2, i + 1); }
        lua_seti(L, -2, j + 1);
    }
    lua_setfield(L, -2, "recall");
    lua_pushnumber(L, g.chance);
    lua_setfield(L, -2, "chance");
    lua_pushinteger(L, g.trials);
    lua_setfield(L, -2, "trials");
    lua_pushnumber(L, g.seconds);
    lua_setfield(L, -2, "seconds");
    niah_grid_free(&g);
    return 1;
}

void bridge_open_attention(lua_State *L) {
    opts_register(&NIAH_DATA);
    opts_register(&GENERATE);
    opts_register(&KV);
    opts_register(&NIAH);
    static const luaL_Reg methods[] = {{"generate", l_generate}, {"kv_cache", l_kv_cache}, {"niah", l_niah}, {NULL, NULL}};
    bridge_add_model_methods(L, methods);
    lua_getfield(L, -1, "data");
    lua_pushcfunction(L, l_niah_data);
    lua_setfield(L, -2, "niah");
    lua_pop(L, 1);
}
