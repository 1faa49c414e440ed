/* MoE methods of archlab.Model:
 *   m:expert_load()            the last forward's batch (e.g. the last training step)
 *   m:expert_load{ data = d, batches = 8, batch_size = 8, seq_len = T, split = "val" }
 *                              runs the forward over fixed batches and reports what they routed in total
 *                              (MaxVio over a validation set)
 * both return { layers = {their blocks, from 0 as model.layers.<l> and the layer<l>.* series}, experts = E, counts = {{...}, ...} (layer x expert, for
 *   archlab.plot.heatmap), fractions = {{...}}, maxvio = {...}, dead = {...}, load_entropy = {...},
 *   maxvio_max = worst layer, tokens = assignments per layer }; layers is empty for a dense model.
 *   m:active_params()          parameters one token activates (top-K of the routed experts per MoE layer)
 *   m:moe_params()             { router, router_bias, routed_experts, shared_experts, active, total } */
#include "scripts/lua_moe.h"

#include <math.h>
#include <string.h>

#include "analysis/expert_load.h"
#include "arch/moe.h"
#include "scripts/bridge.h"
#include "scripts/lua_opts.h"
#include "train/trainer.h"

static void push_row(lua_State *L, const double *v, int n, double scale) {
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        lua_pushnumber(L, v[i] * scale);
        lua_rawseti(L, -2, i + 1);
    }
}

static const FnSpec EXPERT_LOAD = {"model:expert_load", "model:expert_load([{ data =, batch_size =, batches =, seq_len =, split = }]) -> loads",
                                   "per MoE layer: token counts and fractions per expert, MaxVio, dead experts, load "
                                   "entropy; of the last forward, or over fixed batches of the data", bridge_eval_opts};
static const FnSpec ACTIVE = {"model:active_params", "model:active_params() -> n",
                              "parameters one token activates (the summaries' 'activated': no input embedding, "
                              "top-K of the routed experts per MoE layer)", NULL};
static const FnSpec MOE_PARAMS = {"model:moe_params", "model:moe_params() -> { router =, router_bias =, routed_experts =, shared_experts =, active =, total = }",
                                  "the MoE components' parameters", NULL};

static int l_expert_load(lua_State *L) {
    const char *fn = EXPERT_LOAD.name;
    Model *m = bridge_check_model(L, 1);
    int accumulated = 0;
    if (!lua_isnoneornil(L, 2)) {
        luaL_checktype(L, 2, LUA_TTABLE);
        EvalOptions e;
        bridge_eval_options(L, 2, &EXPERT_LOAD, m, &e);
        expert_load_reset(m);
        if (isnan(evaluate(m, e.data, e.B, e.T, e.batches, e.split))) opts_raise_engine_error(L, fn);
        accumulated = 1;
    }
    ExpertLoad el;
    expert_load_collect(m, accumulated, &el);
    lua_createtable(L, 0, 9);
    lua_pushinteger(L, el.E);
    lua_setfield(L, -2, "experts");
    lua_createtable(L, el.n, 0);
    for (int j = 0; j < el.n; j++) { lua_pushinteger(L, el.layer[j]); lua_rawseti(L, -2, j + 1); }
    lua_setfield(L, -2, "layers");
    static const char *rows[2] = {"counts", "fractions"};
    for (int k = 0; k < 2; k++) {
        lua_createtable(L, el.n, 0);
        for (int j = 0; j < el.n; j++) {
            double tot = el.stats[j].tokens;
            push_row(L, el.counts + (size_t)j * el.E, el.E, k ? (tot > 0 ? 1.0 / tot : NAN) : 1.0);
            lua_rawseti(L, -2, j + 1);
        }
        lua_setfield(L, -2, rows[k]);
    }
    static const char *cols[4] = {"maxvio", "dead", "load_entropy", "tokens"};
    for (int k = 0; k < 4; k++) {
        lua_createtable(L, el.n, 0);
        for (int j = 0; j < el.n; j++) {
            const MoeLoadStats *st = &el.stats[j];
            lua_pushnumber(L, k == 0 ? st->maxvio : k == 1 ? st->dead : k == 2 ? st->load_entropy : st->tokens);
            lua_rawseti(L, -2, j + 1);
        }
        lua_setfield(L, -2, cols[k]);
    }
    lua_pushnumber(L, el.n ? el.maxvio_max : NAN);
    lua_setfield(L, -2, "maxvio_max");
    /* expert parallelism (arch/moe_ep.c): the rows (one per token and rank holding any of its experts) this rank
     * sent to each rank in the last forward, per layer */
    int nep = 0;
    for (int i = 0; i < m->n_sub; i++) nep += moe_of(m->sub[i]) && moe_ep_active(moe_of(m->sub[i]));
    if (nep) {
        lua_createtable(L, nep, 0);
        for (int i = 0, j = 0; i < m->n_sub; i++) {
            const Moe *e = moe_of(m->sub[i]);
            if (!e || !moe_ep_active(e)) continue;
            lua_createtable(L, e->ep, 0);
            for (int r = 0; r < e->ep; r++) {
                lua_pushinteger(L, (lua_Integer)e->ep_send[r]);
                lua_rawseti(L, -2, r + 1);
            }
            lua_rawseti(L, -2, ++j);
        }
        lua_setfield(L, -2, "ep_rows_sent");
    }
    expert_load_free(&el);
    return 1;
}

static int l_active_params(lua_State *L) {
    Model *m = bridge_check_model(L, 1);
    lua_pushinteger(L, (lua_Integer)model_active_params(m));
    return 1;
}

static int l_moe_params(lua_State *L) {
    Model *m = bridge_check_model(L, 1);
    static const char *comp[] = {"router", "router_bias", "routed_experts", "shared_experts"};
    lua_newtable(L);
    for (int i = 0; i < 4; i++) {
        lua_pushinteger(L, (lua_Integer)ps_count(&m->ps, comp[i]));
        lua_setfield(L, -2, comp[i]);
    }
    lua_pushinteger(L, (lua_Integer)model_active_params(m));
    lua_setfield(L, -2, "active");
    lua_pushinteger(L, (lua_Integer)m->ps.total);
    lua_setfield(L, -2, "total");
    return 1;
}

void bridge_open_moe(lua_State *L) {
    opts_register(&EXPERT_LOAD);
    opts_register(&ACTIVE);
    opts_register(&MOE_PARAMS);
    static const luaL_Reg methods[] = {{"expert_load", l_expert_load}, {"active_params", l_active_params},
                                       {"moe_params", l_moe_params}, {NULL, NULL}};
    bridge_add_model_methods(L, methods);
}
