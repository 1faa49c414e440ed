/* What the independent PyTorch reference (tests/reference/, `make crosscheck`) compares against:
 *   model:perturb{ std = 0.05, seed = 1 }
 *       adds N(0, std^2) noise to every parameter (weights, norms, HC/mHC gates and biases, the MoE correction
 *       bias), so that no init symmetry (HC's identity A_r, zero dynamic weights, one-hot A_m, zero bias)
 *       can hide a wrong index or a missing term.
 *   model:dump_grads{ tokens = {{...}, ...}, targets = {{...}, ...}, file = "x.safetensors" } -> loss
 *       one forward and backward on the B x T batch (a target of -1 is not counted) and a safetensors file with
 *         tokens, targets (I32, (B, T)), logits (F32, (B, T, V)), loss, ce_loss, aux_loss (F64, (1)),
 *         grad.<parameter name> (F32, the parameter's shape) for every parameter,
 *       and metadata "archlab.config" (the config as JSON, as model:save writes it). loss = ce_loss + aux_loss
 *       is the objective whose gradient the backward computes (the cross-entropy mean over counted targets
 *       plus the MoE balance losses). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/dist.h"
#include "core/safetensors.h"
#include "scripts/bridge.h"
#include "scripts/lua_opts.h"
#include "train/checkpoint.h"
#include "train/parallel.h"
#include "train/trainer.h"

static const OptSpec PERTURB_OPTS[] = {
    {"std", OPT_NUMBER, 0, 10, "0.05", "standard deviation of the noise"},
    {"seed", OPT_INT, 0, 2147483647.0, "1", "its seed"},
    {NULL},
};
static const FnSpec PERTURB = {"model:perturb", "model:perturb{ std =, seed = } -> model",
                               "adds N(0, std^2) noise to every parameter (for make crosscheck: no init symmetry hides "
                               "a wrong term)", PERTURB_OPTS};
static const OptSpec DUMP_OPTS[] = {
    {"tokens", OPT_TABLE, 0, 0, NULL, "(required) B lists of T token ids"},
    {"targets", OPT_TABLE, 0, 0, NULL, "(required) B lists of T targets (-1: not counted)"},
    {"file", OPT_STRING, 0, 0, NULL, "(required) the safetensors file to write"},
    {NULL},
};
static const FnSpec DUMP = {"model:dump_grads", "model:dump_grads{ tokens =, targets =, file = } -> loss",
                            "one forward and backward; writes tokens, targets, logits, losses and every parameter's "
                            "gradient (what make crosscheck compares with the PyTorch reference)", DUMP_OPTS};

static int l_perturb(lua_State *L) {
    const char *fn = PERTURB.name;
    Model *m = bridge_check_model(L, 1);
    if (lua_isnoneornil(L, 2)) lua_newtable(L);
    luaL_checktype(L, 2, LUA_TTABLE);
    opts_check(L, 2, &PERTURB);
    double std = spec_num(L, 2, &PERTURB, "std", 0.05);
    int seed = spec_int(L, 2, &PERTURB, "seed", 1);
    if (!m->ps.data) luaL_error(L, "%s: the model has no allocated parameters", fn);
    Rng rng;
    rng_init(&rng, (uint64_t)seed);
    real *w = malloc(sizeof(real) * (m->ps.total ? m->ps.total : 1)); /* the weights, through a host copy */
    AL_ASSERT(w);
    K->to_host(w, m->ps.data, m->ps.total);
    for (size_t i = 0; i < m->ps.total; i++) w[i] += (real)rng_normal(&rng, std);
    K->to_device(m->ps.data, w, m->ps.total);
    free(w);
    rng_free(&rng);
    lua_settop(L, 1);
    return 1;
}

/* A B x T matrix of integers (a list of B lists of T) at field `key` of the table at idx, read into a
 * userdata left on the stack (Lua frees it, also when an error is raised); lo is the smallest accepted
 * value. *B, *T: 0 = take them from the table, else they must match. */
static int *read_grid(lua_State *L, int idx, const char *fn, const char *key, int lo, int V, int *B, int *T) {
    if (lua_getfield(L, idx, key) != LUA_TTABLE)
        luaL_error(L, "%s: field '%s' must be a list of lists of token ids (B sequences of T)", fn, key);
    int b = (int)luaL_len(L, -1);
    if (b < 1) luaL_error(L, "%s: field '%s' is empty", fn, key);
    if (*B && b != *B) luaL_error(L, "%s: field '%s' has %d sequences, 'tokens' has %d", fn, key, b, *B);
    if (lua_geti(L, -1, 1) != LUA_TTABLE) luaL_error(L, "%s: field '%s[1]' must be a list of token ids", fn, key);
    int t = (int)luaL_len(L, -1);
    lua_pop(L, 1);
    if (t < 1) luaL_error(L, "%s: field '%s[1]' is empty", fn, key);
    if (*T && t != *T) luaL_error(L, "%s: field '%s[1]' has %d tokens, 'tokens[1]' has %d", fn, key, t, *T);
    *B = b;
    *T = t;
    int *out = lua_newuserdatauv(L, sizeof(int) * (size_t)b * t, 0);
    lua_insert(L, -2); /* [out, table] */
    for (int i = 1; i <= b; i++) {
        if (lua_geti(L, -1, i) != LUA_TTABLE) luaL_error(L, "%s: field '%s[%d]' must be a list of token ids", fn, key, i);
        if ((int)luaL_len(L, -1) != t)
            luaL_error(L, "%s: field '%s[%d]' has %d tokens, expected %d like '%s[1]'", fn, key, i, (int)luaL_len(L, -1),
                       t, key);
        for (int j = 1; j <= t; j++) {
            lua_geti(L, -1, j);
            int isnum;
            lua_Integer v = lua_tointegerx(L, -1, &isnum);
            if (!isnum || v < lo || v >= V)
                luaL_error(L, "%s: field '%s[%d][%d]' must be an integer in [%d, %d)", fn, key, i, j, lo, V);
            out[(size_t)(i - 1) * t + j - 1] = (int)v;
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 1); /* the table; out stays */
    return out;
}

static int l_dump_grads(lua_State *L) {
    const char *fn = DUMP.name;
    Model *m = bridge_check_model(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    opts_check(L, 2, &DUMP);
    char file[1024];
    if (!spec_str(L, 2, &DUMP, "file", file, sizeof file)) luaL_error(L, "%s: field 'file' is required", fn);
    if (!m->ps.data) luaL_error(L, "%s: the model has no allocated parameters", fn);
    int V = m->cfg.vocab_size, B = 0, T = 0;
    int *tokens = read_grid(L, 2, fn, "tokens", 0, V, &B, &T);
    int *targets = read_grid(L, 2, fn, "targets", -1, V, &B, &T);
    if (T > m->cfg.seq_len) luaL_error(L, "%s: sequences of %d tokens exceed the model's seq_len %d", fn, T, m->cfg.seq_len);
    /* under mpirun the batch is the global one: each rank takes its share, and the gradient written is the
     * data/expert-parallel step's (train/parallel.h), to compare with one process; the logits are not written */
    int R = dist_size(), Bg = B;
    if (B % R) luaL_error(L, "%s: %d sequences do not divide among %d ranks", fn, B, R);
    B /= R;
    tokens += (size_t)dist_rank() * B * T;
    targets += (size_t)dist_rank() * B * T;
    if (model_plan(m, B, T)) opts_raise_engine_error(L, fn);
    size_t N = (size_t)B * T;
    /* a forward with targets turns the logits into probabilities in place (for the backward): take the
     * logits from a forward without targets first; the same forward again (deterministic) feeds the backward */
    model_forward(m, tokens, NULL, B, T);
    float *logits = lua_newuserdatauv(L, sizeof(float) * N * V, 0);
    real *lg = malloc(sizeof(real) * N * V); /* the logits, through a host copy */
    AL_ASSERT(lg);
    K->to_host(lg, model_logits(m), N * V);
    for (size_t i = 0; i < N * V; i++) logits[i] = (float)lg[i];
    free(lg);
    K->zero(m->ps.grad, m->ps.total);
    double ce = model_forward(m, tokens, targets, B, T);
    if (isnan(ce) && R == 1) luaL_error(L, "%s: no target is counted (every target is -1)", fn);
    double aux = model_aux_loss(m);
    model_backward(m, tokens, targets, B, T);
    if (R > 1) {
        if (grads_reduce(m, &ce) || dp_sum(&aux, 1)) opts_raise_engine_error(L, fn);
        aux /= R; /* each rank's balance loss is the mean over its sequences */
        tokens -= (size_t)dist_rank() * B * T;
        targets -= (size_t)dist_rank() * B * T;
    }
    double loss = ce + aux;

    int n = m->ps.n, nt = n + 6;
    StWriteTensor *t = calloc(nt, sizeof *t);
    char **names = calloc(n ? n : 1, sizeof *names);
    AL_ASSERT(t && names);
    float *gbuf = params_f32(m, m->ps.grad, t, "grad.", names);
    StWriteTensor *x = t + n;
    x[0] = (StWriteTensor){.name = "tokens", .dtype = "I32", .ndim = 2, .shape = {Bg, T}, .bytes = tokens};
    x[1] = (StWriteTensor){.name = "targets", .dtype = "I32", .ndim = 2, .shape = {Bg, T}, .bytes = targets};
    x[2] = (StWriteTensor){.name = "loss", .dtype = "F64", .ndim = 1, .shape = {1}, .bytes = &loss};
    x[3] = (StWriteTensor){.name = "ce_loss", .dtype = "F64", .ndim = 1, .shape = {1}, .bytes = &ce};
    x[4] = (StWriteTensor){.name = "aux_loss", .dtype = "F64", .ndim = 1, .shape = {1}, .bytes = &aux};
    x[5] = (StWriteTensor){.name = "logits", .dtype = "F32", .ndim = 3, .shape = {B, T, V}, .bytes = logits};
    char *cfg = config_to_json(&m->cfg);
    const char *mk[2] = {"format", "archlab.config"}, *mv[2] = {"pt", cfg};
    /* rank 0 writes; several ranks hold shares of the logits, so none are written then */
    int rc = dist_rank() ? 0 : make_parent_dirs(file) ? -1 : st_write(file, t, R > 1 ? nt - 1 : nt, mk, mv, 2);
    for (int i = 0; i < n; i++) free(names[i]);
    free(names); free(t); free(gbuf); free(cfg);
    if (rc) opts_raise_engine_error(L, fn);
    lua_pushnumber(L, loss);
    return 1;
}

void bridge_open_crosscheck(lua_State *L) {
    opts_register(&PERTURB);
    opts_register(&DUMP);
    static const luaL_Reg methods[] = {{"perturb", l_perturb}, {"dump_grads", l_dump_grads}, {NULL, NULL}};
    bridge_add_model_methods(L, methods);
}
