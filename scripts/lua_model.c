/* archlab.model{...}: builds a model from a config table (optionally starting from a preset), and the
 * Model object's methods. */
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "analysis/cost.h"
#include "core/lowp_linear.h"
#include "scripts/bridge.h"
#include "scripts/lua_opts.h"
#include "train/trainer.h"

static const char *FN = "archlab.model";

static int l_model(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    ModelConfig c;
    bridge_config_build(L, 1, &c, FN);
    LModel *lm = lua_newuserdatauv(L, sizeof *lm, 0);
    lm->m = NULL;
    luaL_setmetatable(L, MODEL_MT);
    if (!(lm->m = model_create(&c, 0))) opts_raise_engine_error(L, FN);
    return 1;
}

/* model:params() -> { <component> = count, ..., total = N, activated = N }: the one breakdown (analysis/cost.h)
 * that model:summary() and `archlab summary` print */
static int l_params(lua_State *L) {
    Model *m = bridge_check_model(L, 1);
    ParamBreakdown b;
    param_breakdown(m, &b);
    lua_newtable(L);
    for (int i = 0; i < b.n; i++) {
        lua_pushinteger(L, (lua_Integer)b.c[i].total);
        lua_setfield(L, -2, b.c[i].name);
    }
    lua_pushinteger(L, (lua_Integer)b.total_params);
    lua_setfield(L, -2, "total");
    lua_pushinteger(L, (lua_Integer)b.active_params);
    lua_setfield(L, -2, "activated");
    lua_pushinteger(L, (lua_Integer)b.mtp_params);
    lua_setfield(L, -2, "mtp");
    return 1;
}

static void thousands(size_t v, char *buf) {
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "%zu", v), o = 0;
    for (int i = 0; i < n; i++) {
        buf[o++] = tmp[i];
        if ((n - i - 1) % 3 == 0 && i < n - 1) buf[o++] = ',';
    }
    buf[o] = 0;
}

/* model:summary(): the config in one line, then parameters per component (total, activated, share of the
 * total), the components the model has */
static int l_summary(lua_State *L) {
    Model *m = bridge_check_model(L, 1);
    const ModelConfig *c = &m->cfg;
    ParamBreakdown b;
    param_breakdown(m, &b);
    luaL_Buffer buf;
    luaL_buffinit(L, &buf);
    char line[256], num[32], act[32];
    snprintf(line, sizeof line, "model %s: %d blocks, d_model %d, %d heads (%s, %d kv), head_dim %d, d_ff %d, vocab %d, "
             "seq_len %d, ffn %s, residual %s (n = %d)\n", c->preset, c->n_layers, c->d_model, c->n_heads, c->attention,
             c->n_kv_heads, c->head_dim, c->d_ff, c->vocab_size, c->seq_len, c->ffn, c->residual, c->streams);
    luaL_addstring(&buf, line);
    snprintf(line, sizeof line, "  %-16s %14s %14s %8s\n", "component", "parameters", "activated", "share");
    luaL_addstring(&buf, line);
    for (int i = 0; i < b.n; i++) {
        if (!b.c[i].total) continue;
        thousands(b.c[i].total, num);
        thousands(b.c[i].active, act);
        snprintf(line, sizeof line, "  %-16s %14s %14s %7.1f%%\n", b.c[i].name, num, act, 100.0 * b.c[i].total / b.total_params);
        luaL_addstring(&buf, line);
    }
    thousands(b.total_params, num);
    thousands(b.active_params, act);
    snprintf(line, sizeof line, "  %-16s %14s %14s %7.1f%%", "total", num, act, 100.0);
    luaL_addstring(&buf, line);
    if (b.mtp_params) {
        thousands(b.mtp_params, num);
        thousands(b.mtp_active_params, act);
        snprintf(line, sizeof line, "\n  %-16s %14s %14s   (%d multi-token prediction module%s, apart from the total)",
                 "+ mtp", num, act, m->n_mtp, m->n_mtp > 1 ? "s" : "");
        luaL_addstring(&buf, line);
    }
    luaL_pushresult(&buf);
    return 1;
}

/* bridge_eval_opts' rows (the other evaluations' options) and the precision of the forward passes */
static const OptSpec EVALUATE_OPTS[] = {
    {"data", OPT_ANY, 0, 0, NULL, "(required) an archlab.data source"},
    {"batch_size", OPT_INT, 1, 1 << 20, "8", "sequences per batch"},
    {"batches", OPT_INT, 1, 1 << 20, "8", "fixed batches (the same in every run)"},
    {"seq_len", OPT_INT, 1, 1 << 22, "the model's seq_len", "tokens per sequence (at most the model's)"},
    {"split", OPT_STRING, 0, 0, "\"val\"", "\"val\" or \"train\""},
    {"precision", OPT_STRING, 0, 0, "\"fp32\"", "the linear layers' GEMMs, simulated as archlab.train's option: "
                                               "\"fp32\", \"bf16\" or \"fp8\" (the same weights, another arithmetic)"},
    {"fp8_scaling", OPT_STRING, 0, 0, "\"tile\"", "\"tile\" or \"tensor\", as archlab.train's"},
    {NULL},
};
static const FnSpec EVALUATE = {"model:evaluate", "model:evaluate{ data =, batch_size =, batches =, seq_len =, split =, precision = } -> loss",
                                "mean cross-entropy (nats per token) over fixed batches of the data", EVALUATE_OPTS};
static const OptSpec MODEL_OPTS[] = {
    {"preset", OPT_STRING, 0, 0, NULL, "where the config starts: a preset name (scripts/presets/NAME.lua), a FILE.lua "
                                      "returning config fields, or a Hugging Face config.json (V2-Lite's, to shrink "
                                      "and train); the fields below override it"},
    {NULL},
};
static const FnSpec MODEL = {"archlab.model", "archlab.model{ preset = NAME | FILE.lua | config.json, <config fields> } -> model",
                             "builds a model: a preset and config fields over it (below; archlab.help(\"kinds\") "
                             "describes the kinds)", MODEL_OPTS};
static const FnSpec SUMMARY = {"model:summary", "model:summary() -> text",
                               "the config in one line, then parameters per component (total, activated, share)", NULL};
static const FnSpec PARAMS = {"model:params", "model:params() -> { <component> = n, ..., total =, activated = }",
                              "parameters per component: the breakdown summaries print", NULL};
static const FnSpec CONFIG = {"model:config", "model:config() -> { <field> = value, ... }",
                              "the finalized config (derived defaults filled in)", NULL};

static int l_evaluate(lua_State *L) {
    const char *fn = EVALUATE.name;
    Model *m = bridge_check_model(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    EvalOptions e;
    bridge_eval_options(L, 2, &EVALUATE, m, &e);
    char precision[8] = "fp32", scaling[8] = "tile";
    spec_str(L, 2, &EVALUATE, "precision", precision, sizeof precision);
    spec_str(L, 2, &EVALUATE, "fp8_scaling", scaling, sizeof scaling);
    /* the accumulator as archlab.train's defaults: 14 bits for fp8, full float32 for bf16, promoted every 128 */
    LowpLinear lowp;
    if (lowp_linear_init(&lowp, precision, scaling, -1, 128, "toward_zero"))
        opts_raise_engine_error(L, fn);
    if (strcmp(precision, "fp32")) m->ctx.lowp = &lowp;
    double loss = evaluate(m, e.data, e.B, e.T, e.batches, e.split);
    m->ctx.lowp = NULL;
    lowp_linear_free(&lowp);
    if (isnan(loss)) opts_raise_engine_error(L, fn);
    lua_pushnumber(L, loss);
    return 1;
}

static int l_config(lua_State *L) {
    Model *m = bridge_check_model(L, 1);
    lua_newtable(L);
    for (int i = 0; i < model_config_n_fields; i++) {
        const ConfigField *f = &model_config_fields[i];
        const char *p = (const char *)&m->cfg + f->offset;
        if (f->type == FIELD_BOOL) lua_pushboolean(L, *(const int *)p);
        else if (f->type == FIELD_INT) lua_pushinteger(L, *(const int *)p);
        else if (f->type == FIELD_NUMBER) lua_pushnumber(L, *(const double *)p);
        else lua_pushstring(L, p);
        lua_setfield(L, -2, f->name);
    }
    return 1;
}

static int l_gc(lua_State *L) {
    LModel *lm = luaL_checkudata(L, 1, MODEL_MT);
    model_free(lm->m);
    lm->m = NULL;
    return 0;
}

static int l_tostring(lua_State *L) {
    LModel *lm = luaL_checkudata(L, 1, MODEL_MT);
    if (!lm->m) { lua_pushstring(L, "archlab.Model (closed)"); return 1; }
    lua_pushfstring(L, "archlab.Model(%s, %d blocks, d_model %d, %s, %f M params)", lm->m->cfg.preset,
                    lm->m->cfg.n_layers, lm->m->cfg.d_model, lm->m->cfg.attention, (double)lm->m->ps.total / 1e6);
    return 1;
}

void bridge_open_model(lua_State *L) {
    opts_register(&MODEL);
    opts_register(&SUMMARY);
    opts_register(&PARAMS);
    opts_register(&CONFIG);
    opts_register(&EVALUATE);
    static const luaL_Reg methods[] = {{"params", l_params}, {"summary", l_summary}, {"evaluate", l_evaluate},
                                       {"config", l_config}, {NULL, NULL}};
    static const luaL_Reg meta[] = {{"__gc", l_gc}, {"__close", l_gc}, {"__tostring", l_tostring}, {NULL, NULL}};
    luaL_newmetatable(L, MODEL_MT);
    luaL_setfuncs(L, meta, 0);
    luaL_newlib(L, methods);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
    lua_pushcfunction(L, l_model);
    lua_setfield(L, -2, "model");
}
