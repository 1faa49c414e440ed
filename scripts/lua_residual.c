/* model:gains{...}: the Amax gain profile of a hyper-connection model's residual mappings (arch/gain.c). */
#include <math.h>
#include <string.h>

#include "analysis/hres.h"
#include "analysis/stochastic.h"
#include "scripts/bridge.h"
#include "scripts/lua_opts.h"
#include "train/trainer.h"

static void push_array(lua_State *L, const double *v, int n, const char *name) {
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        lua_pushnumber(L, v[i]);
        lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, name);
}

/* model:gains{ data = d, batch_size = 4, tokens = 512 } runs a forward pass on validation batch 0 of d and
 * returns per sub-layer (each block's attention and FFN have an H_res each) the token-mean gains:
 * composite_fwd, composite_bwd (mapping from that sub-layer to the top), composite_spectral, single_fwd,
 * single_bwd; where each entry sits: `sublayer` = {0 .. S-1} (2l: block l's attention, 2l + 1 its FFN),
 * `layer` = its block l (from 0, as model.layers.<l> and every other layer number in archlab), `part` =
 * "attention" | "ffn"; and how far each H_res is from doubly stochastic (analysis/stochastic.c): col_sum_err, row_sum_err (token means of
 * max |column/row sum - 1|), min_entry, and col_sum_err_max / row_sum_err_max (worst token and layer).
 * Without data it uses the model's last forward pass. */
static const OptSpec GAINS_OPTS[] = {
    {"data", OPT_ANY, 0, 0, "the last forward", "an archlab.data source: a forward on its validation batch 0"},
    {"batch_size", OPT_INT, 1, 4096, "4", "sequences of that batch"},
    {"tokens", OPT_INT, 1, 1 << 24, "512", "tokens the token means run over"},
    {NULL},
};
static const FnSpec GAINS = {"model:gains", "model:gains([{ data =, batch_size =, tokens = }]) -> { composite_fwd = {...}, ..., sublayer =, layer =, part = }",
                             "hc/mhc, per sub-layer (sublayer 2l: block l's attention, 2l + 1 its FFN; layer: the block): Amax "
                             "gain of the composite mapping from it to the top and of its single H_res (forward, "
                             "backward, spectral), and its H_res's distance from doubly stochastic",
                             GAINS_OPTS};

static int l_gains(lua_State *L) {
    const char *fn = GAINS.name;
    Model *m = bridge_check_model(L, 1);
    int tokens = 512;
    if (!lua_isnoneornil(L, 2)) {
        luaL_checktype(L, 2, LUA_TTABLE);
        opts_check(L, 2, &GAINS);
        tokens = spec_int(L, 2, &GAINS, "tokens", tokens);
        if (lua_getfield(L, 2, "data") != LUA_TNIL) {
            DataSource *d = bridge_check_data(L, -1);
            int B = spec_int(L, 2, &GAINS, "batch_size", 4), T = m->cfg.seq_len;
            if (model_plan(m, B, T)) opts_raise_engine_error(L, fn);
            if (isnan(evaluate(m, d, B, T, 1, SPLIT_VAL))) opts_raise_engine_error(L, fn);
        }
        lua_pop(L, 1);
    }
    GainProfile g;
    if (gain_profile(&g, m, tokens)) opts_raise_engine_error(L, fn);
    lua_newtable(L);
    push_array(L, g.comp_fwd, g.S, "composite_fwd");
    push_array(L, g.comp_bwd, g.S, "composite_bwd");
    push_array(L, g.comp_spec, g.S, "composite_spectral");
    push_array(L, g.single_fwd, g.S, "single_fwd");
    push_array(L, g.single_bwd, g.S, "single_bwd");
    static const char *const where[3] = {"sublayer", "layer", "part"};
    for (int w = 0; w < 3; w++) {
        lua_createtable(L, g.S, 0);
        for (int i = 0; i < g.S; i++) {
            if (w == 0) lua_pushinteger(L, i);
            else if (w == 1) lua_pushinteger(L, model_block_of(i));
            else lua_pushstring(L, i % 2 ? "ffn" : "attention");
            lua_rawseti(L, -2, i + 1);
        }
        lua_setfield(L, -2, where[w]);
    }
    gain_profile_free(&g);
    HresStochastic st;
    if (hres_stochastic(&st, m, tokens)) opts_raise_engine_error(L, fn);
    push_array(L, st.col_err, st.S, "col_sum_err");
    push_array(L, st.row_err, st.S, "row_sum_err");
    push_array(L, st.min_entry, st.S, "min_entry");
    lua_pushnumber(L, st.col_err_max);
    lua_setfield(L, -2, "col_sum_err_max");
    lua_pushnumber(L, st.row_err_max);
    lua_setfield(L, -2, "row_sum_err_max");
    hres_stochastic_free(&st);
    return 1;
}

void bridge_open_residual(lua_State *L) {
    opts_register(&GAINS);
    static const luaL_Reg methods[] = {{"gains", l_gains}, {NULL, NULL}};
    bridge_add_model_methods(L, methods);
}
