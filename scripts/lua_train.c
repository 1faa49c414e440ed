/* archlab.train{...}: runs training, returns a Run with the final numbers and the recorded series. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "scripts/bridge.h"
#include "scripts/lua_opts.h"
#include "train/checkpoint.h"
#include "train/trainer.h"

typedef struct LRun { TrainResult r; int live; } LRun;

static const char *FN = "archlab.train";

static int l_train(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    static const char *keys[] = {"model", "data", "steps", "batch_size", "seq_len", "lr", "min_lr", "warmup",
                                 "schedule", "weight_decay", "beta1", "beta2", "eps", "grad_clip", "seed",
                                 "log_every", "eval_every", "eval_batches", "record_every", "checkpoint", "checkpoint_every", "resume", "stop_at", "metrics", "label", "quiet", NULL};
    opts_check_keys(L, 1, FN, keys);
    if (lua_getfield(L, 1, "model") == LUA_TNIL) luaL_error(L, "%s: field 'model' is required", FN);
    if (!luaL_testudata(L, -1, MODEL_MT)) luaL_error(L, "%s: field 'model' must be an archlab.model, got %s", FN, luaL_typename(L, -1));
    Model *m = bridge_check_model(L, -1);
    if (lua_getfield(L, 1, "data") == LUA_TNIL) luaL_error(L, "%s: field 'data' is required", FN);
    if (!luaL_testudata(L, -1, DATA_MT)) luaL_error(L, "%s: field 'data' must be an archlab.data source, got %s", FN, luaL_typename(L, -1));
    DataSource *d = bridge_check_data(L, -1);
    lua_pop(L, 2);
    TrainOptions o;
    train_defaults(&o);
    o.steps = opt_int(L, 1, FN, "steps", o.steps, 0, 1e9);
    o.batch_size = opt_int(L, 1, FN, "batch_size", o.batch_size, 1, 1 << 20);
    o.seq_len = opt_int(L, 1, FN, "seq_len", 0, 0, 1 << 22);
    o.lr = opt_num(L, 1, FN, "lr", o.lr, 1e-12, 100);
    o.min_lr = opt_num(L, 1, FN, "min_lr", o.min_lr, 0, 100);
    o.warmup = opt_int(L, 1, FN, "warmup", o.warmup, 0, 1e9);
    opt_str(L, 1, FN, "schedule", o.schedule, sizeof o.schedule);
    o.weight_decay = opt_num(L, 1, FN, "weight_decay", o.weight_decay, 0, 10);
    o.beta1 = opt_num(L, 1, FN, "beta1", o.beta1, 0, 0.999999);
    o.beta2 = opt_num(L, 1, FN, "beta2", o.beta2, 0, 0.999999);
    o.eps = opt_num(L, 1, FN, "eps", o.eps, 0, 1);
    o.grad_clip = opt_num(L, 1, FN, "grad_clip", o.grad_clip, 0, 1e30);
    o.seed = opt_int(L, 1, FN, "seed", o.seed, 0, 2147483647.0);
    o.log_every = opt_int(L, 1, FN, "log_every", o.log_every, 1, 1e9);
    o.eval_every = opt_int(L, 1, FN, "eval_every", o.eval_every, 0, 1e9);
    o.eval_batches = opt_int(L, 1, FN, "eval_batches", o.eval_batches, 1, 1e6);
    o.record_every = opt_int(L, 1, FN, "record_every", o.record_every, 0, 1e9);
    opt_str(L, 1, FN, "metrics", o.metrics_path, sizeof o.metrics_path);
    opt_str(L, 1, FN, "label", o.label, sizeof o.label);
    o.quiet = opt_bool(L, 1, FN, "quiet", bridge_quiet);
    opt_str(L, 1, FN, "checkpoint", o.checkpoint_dir, sizeof o.checkpoint_dir);
    o.checkpoint_every = opt_int(L, 1, FN, "checkpoint_every", 0, 0, 1e9);
    o.stop_at = opt_int(L, 1, FN, "stop_at", 0, 0, 1e9);
    /* resume = DIR, or true: the `checkpoint` directory if it holds one (a fresh start otherwise) */
    if (lua_getfield(L, 1, "resume") == LUA_TBOOLEAN) {
        if (lua_toboolean(L, -1)) {
            if (!o.checkpoint_dir[0]) luaL_error(L, "%s: field 'resume' = true needs field 'checkpoint'", FN);
            if (checkpoint_exists(o.checkpoint_dir)) snprintf(o.resume_dir, sizeof o.resume_dir, "%s", o.checkpoint_dir);
        }
    } else if (lua_type(L, -1) == LUA_TSTRING) {
        opt_str(L, 1, FN, "resume", o.resume_dir, sizeof o.resume_dir);
        if (!checkpoint_exists(o.resume_dir)) luaL_error(L, "%s: field 'resume': no checkpoint in '%s'", FN, o.resume_dir);
    } else if (!lua_isnil(L, -1)) luaL_error(L, "%s: field 'resume' must be a directory or true, got %s", FN, luaL_typename(L, -1));
    lua_pop(L, 1);
    LRun *run = lua_newuserdatauv(L, sizeof *run, 0);
    memset(run, 0, sizeof *run);
    luaL_setmetatable(L, RUN_MT);
    int rc = train_run(m, d, &o, &run->r);
    run->live = 1;
    if (rc) opts_raise_engine_error(L, FN);
    if (run->r.interrupted) {
        /* the checkpoint and the metrics so far are on disk: stop the script the way a shell expects */
        fflush(stdout);
        if (run->r.checkpoint_written[0])
            fprintf(stderr, "archlab: interrupted; resume with archlab.train{ ..., resume = \"%s\" }\n", run->r.checkpoint_written);
        else
            fprintf(stderr, "archlab: interrupted before the first step; nothing to save\n");
        exit(130);
    }
    return 1;
}

static LRun *check_run(lua_State *L) { return luaL_checkudata(L, 1, RUN_MT); }

/* run:series(name) -> {name = name, x = {steps...}, y = {values...}}, the shape archlab.plot.lines takes */
static int l_series(lua_State *L) {
    LRun *run = check_run(L);
    const char *name = luaL_checkstring(L, 2);
    const Series *s = metrics_get(&run->r.log, name);
    if (!s) {
        luaL_Buffer b;
        luaL_buffinit(L, &b);
        for (int i = 0; i < run->r.log.n; i++) {
            if (i) luaL_addstring(&b, ", ");
            luaL_addstring(&b, run->r.log.series[i].name);
        }
        luaL_pushresult(&b);
        return luaL_error(L, "run:series: no series '%s' (recorded: %s)", name, lua_tostring(L, -1));
    }
    lua_createtable(L, 0, 3);
    lua_pushstring(L, name);
    lua_setfield(L, -2, "name");
    for (int k = 0; k < 2; k++) {
        lua_createtable(L, s->n, 0);
        for (int i = 0; i < s->n; i++) {
            lua_pushnumber(L, k ? s->value[i] : s->step[i]);
            lua_rawseti(L, -2, i + 1);
        }
        lua_setfield(L, -2, k ? "y" : "x");
    }
    return 1;
}

/* run:csv(path): every recorded series side by side, one row per step (empty where a series has no value) */
static int l_csv(lua_State *L) {
    LRun *run = check_run(L);
    const char *path = luaL_checkstring(L, 2);
    const MetricLog *log = &run->r.log;
    if (make_parent_dirs(path)) return luaL_error(L, "run:csv: %s", al_error_message());
    FILE *f = fopen(path, "w");
    if (!f) return luaL_error(L, "run:csv: cannot write '%s'", path);
    fprintf(f, "step");
    for (int i = 0; i < log->n; i++) fprintf(f, ",%s", log->series[i].name);
    fputc('\n', f);
    int *pos = calloc(log->n ? log->n : 1, sizeof(int));
    for (;;) {
        double step = INFINITY;
        for (int i = 0; i < log->n; i++)
            if (pos[i] < log->series[i].n && log->series[i].step[pos[i]] < step) step = log->series[i].step[pos[i]];
        if (step == INFINITY) break;
        fprintf(f, "%.17g", step);
        for (int i = 0; i < log->n; i++) {
            const Series *s = &log->series[i];
            if (pos[i] < s->n && s->step[pos[i]] == step) fprintf(f, ",%.9g", s->value[pos[i]++]);
            else fputc(',', f);
        }
        fputc('\n', f);
    }
    free(pos);
    int bad = ferror(f);
    if (fclose(f) || bad) return luaL_error(L, "run:csv: error writing '%s'", path);
    lua_pushstring(L, path);
    return 1;
}

static int l_index(lua_State *L) {
    LRun *run = check_run(L);
    const char *k = luaL_checkstring(L, 2);
    const TrainResult *r = &run->r;
    if (!strcmp(k, "series")) lua_pushcfunction(L, l_series);
    else if (!strcmp(k, "csv")) lua_pushcfunction(L, l_csv);
    else if (!strcmp(k, "train_loss")) lua_pushnumber(L, r->train_loss);
    else if (!strcmp(k, "val_loss")) lua_pushnumber(L, r->val_loss);
    else if (!strcmp(k, "tokens_per_s")) lua_pushnumber(L, r->tokens_per_s);
    else if (!strcmp(k, "seconds")) lua_pushnumber(L, r->seconds);
    else if (!strcmp(k, "steps")) lua_pushinteger(L, r->steps_done);
    else if (!strcmp(k, "diverged")) lua_pushboolean(L, r->diverged);
    else if (!strcmp(k, "diverged_step")) lua_pushinteger(L, r->diverged_step);
    else if (!strcmp(k, "start_step")) lua_pushinteger(L, r->start_step);
    else if (!strcmp(k, "checkpoint")) r->checkpoint_written[0] ? (void)lua_pushstring(L, r->checkpoint_written) : lua_pushnil(L);
    else lua_pushnil(L);
    return 1;
}

static int l_gc(lua_State *L) {
    LRun *run = check_run(L);
    if (run->live) train_result_free(&run->r);
    run->live = 0;
    return 0;
}

static int l_tostring(lua_State *L) {
    LRun *run = check_run(L);
    lua_pushfstring(L, "archlab.Run(%d steps, train loss %f, val loss %f%s)", run->r.steps_done, run->r.train_loss,
                    run->r.val_loss, run->r.diverged ? ", diverged" : "");
    return 1;
}

void bridge_open_train(lua_State *L) {
    static const luaL_Reg meta[] = {{"__index", l_index}, {"__gc", l_gc}, {"__tostring", l_tostring}, {NULL, NULL}};
    luaL_newmetatable(L, RUN_MT);
    luaL_setfuncs(L, meta, 0);
    lua_pop(L, 1);
    lua_pushcfunction(L, l_train);
    lua_setfield(L, -2, "train");
}
