/* archlab.train{...}: runs training, returns a Run with the final numbers and the recorded series. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "arch/config.h" /* closest_word */
#include "scripts/bridge.h"
#include "scripts/lua_opts.h"
#include "train/checkpoint.h"
#include "train/trainer.h"

typedef struct LRun { TrainResult r; int live; } LRun;


static const OptSpec TRAIN_OPTS[] = {
    {"model", OPT_ANY, 0, 0, NULL, "(required) the archlab.model to train"},
    {"data", OPT_ANY, 0, 0, NULL, "(required) an archlab.data source"},
    {"steps", OPT_INT, 0, 1e9, "100", "optimizer steps (at least 1)"},
    {"batch_size", OPT_INT, 1, 1 << 20, "8", "sequences per step"},
    {"seq_len", OPT_INT, 0, 1 << 22, "the model's seq_len", "tokens per sequence"},
    {"lr", OPT_NUMBER, 1e-12, 100, "0.001", "peak learning rate"},
    {"min_lr", OPT_NUMBER, 0, 100, "lr / 10", "the cosine schedule's floor (at most lr)"},
    {"warmup", OPT_INT, 0, 1e9, "steps / 20", "linear warm-up steps"},
    {"schedule", OPT_STRING, 0, 0, "\"cosine\"", "\"constant\", \"cosine\" or \"step\" (x0.316 at 80%, x0.1 at 90%)"},
    {"weight_decay", OPT_NUMBER, 0, 10, "0.1", "AdamW's decoupled weight decay (matrices only)"},
    {"beta1", OPT_NUMBER, 0, 0.999999, "0.9", "AdamW beta1"},
    {"beta2", OPT_NUMBER, 0, 0.999999, "0.95", "AdamW beta2"},
    {"eps", OPT_NUMBER, 0, 1, "1e-8", "AdamW epsilon"},
    {"grad_clip", OPT_NUMBER, 0, 1e30, "1", "global gradient-norm clipping (0: none)"},
    {"seed", OPT_INT, 0, 2147483647.0, "1", "data sampling seed"},
    {"log_every", OPT_INT, 1, 1e9, "10", "steps per metrics record and progress line (the record's loss is the mean over them)"},
    {"eval_every", OPT_INT, 0, 1e9, "0 (only at the end)", "steps between validation evaluations"},
    {"eval_batches", OPT_INT, 1, 1e6, "8", "fixed validation batches per evaluation"},
    {"record_every", OPT_INT, 0, 1e9, "log_every", "steps between the model's own measurements (gains, expert loads)"},
    {"checkpoint", OPT_STRING, 0, 0, NULL, "a directory: checkpoints every checkpoint_every steps, at the end and on interrupt"},
    {"checkpoint_every", OPT_INT, 0, 1e9, "0 (at the end)", "steps between checkpoints (needs checkpoint)"},
    {"resume", OPT_ANY, 0, 0, NULL, "a checkpoint directory, or true: the checkpoint directory when one is there"},
    {"stop_at", OPT_INT, 0, 1e9, "0", "stop after this step, keeping the schedule of steps (a run in slices)"},
    {"metrics", OPT_STRING, 0, 0, NULL, "a JSON Lines file (one record per logged step), and PATH.summary.json"},
    {"label", OPT_STRING, 0, 0, NULL, "shown in the progress lines"},
    {"quiet", OPT_BOOL, 0, 0, "false (--quiet sets it)", "no progress output"},
    {"precision", OPT_STRING, 0, 0, "\"fp32\"", "the linear layers' GEMMs, simulated: \"fp32\", \"bf16\" or \"fp8\" "
                                               "(DeepSeek-V3's E4M3 recipe; head, gate, norms, attention stay fp32); "
                                               "on device cuda every GEMM's own arithmetic: \"fp32\", \"tf32\" or \"bf16\""},
    {"device", OPT_STRING, 0, 0, "the current device", "the device the run must be on (the model's, chosen before it was "
                                                          "built: archlab.device or --device): an error if it is another"},
    {"fp8_scaling", OPT_STRING, 0, 0, "\"tile\"", "fp8 scales: \"tile\" (1 x 128 activations, 128 x 128 weights) or \"tensor\""},
    {"accum_bits", OPT_INT, -1, 23, "14 (fp8), 0 (bf16)", "the GEMM accumulator's mantissa bits (0: full float32)"},
    {"promote_every", OPT_INT, 0, 1 << 20, "128", "products between promotions of the accumulator to float32 (0: never)"},
    {"accum_round", OPT_STRING, 0, 0, "\"toward_zero\"", "the accumulator's rounding: \"toward_zero\" (truncation) or \"nearest\""},
    {NULL},
};
static const FnSpec TRAIN = {"archlab.train", "archlab.train{ model =, data =, steps =, ... } -> run",
                             "trains the model (AdamW, clipping, a schedule); run.train_loss, run.val_loss, "
                             "run:series(name), run:csv(path) hold what it measured", TRAIN_OPTS};

static int l_train(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    const char *FN = TRAIN.name;
    opts_check(L, 1, &TRAIN);
    if (lua_getfield(L, 1, "model") == LUA_TNIL) luaL_error(L, "%s: field 'model' is required", FN);
    if (!luaL_testudata(L, -1, MODEL_MT)) luaL_error(L, "%s: field 'model' must be an archlab.model, got %s", FN, luaL_typename(L, -1));
    Model *m = bridge_check_model(L, -1);
    if (lua_getfield(L, 1, "data") == LUA_TNIL) luaL_error(L, "%s: field 'data' is required", FN);
    if (!luaL_testudata(L, -1, DATA_MT)) luaL_error(L, "%s: field 'data' must be an archlab.data source, got %s", FN, luaL_typename(L, -1));
    DataSource *d = bridge_check_data(L, -1);
    lua_pop(L, 2);
    TrainOptions o;
    train_defaults(&o);
    o.steps = spec_int(L, 1, &TRAIN, "steps", o.steps);
    o.batch_size = spec_int(L, 1, &TRAIN, "batch_size", o.batch_size);
    o.seq_len = spec_int(L, 1, &TRAIN, "seq_len", 0);
    o.lr = spec_num(L, 1, &TRAIN, "lr", o.lr);
    o.min_lr = spec_num(L, 1, &TRAIN, "min_lr", o.min_lr);
    o.warmup = spec_int(L, 1, &TRAIN, "warmup", o.warmup);
    spec_str(L, 1, &TRAIN, "schedule", o.schedule, sizeof o.schedule);
    o.weight_decay = spec_num(L, 1, &TRAIN, "weight_decay", o.weight_decay);
    o.beta1 = spec_num(L, 1, &TRAIN, "beta1", o.beta1);
    o.beta2 = spec_num(L, 1, &TRAIN, "beta2", o.beta2);
    o.eps = spec_num(L, 1, &TRAIN, "eps", o.eps);
    o.grad_clip = spec_num(L, 1, &TRAIN, "grad_clip", o.grad_clip);
    o.seed = spec_int(L, 1, &TRAIN, "seed", o.seed);
    o.log_every = spec_int(L, 1, &TRAIN, "log_every", o.log_every);
    o.eval_every = spec_int(L, 1, &TRAIN, "eval_every", o.eval_every);
    o.eval_batches = spec_int(L, 1, &TRAIN, "eval_batches", o.eval_batches);
    o.record_every = spec_int(L, 1, &TRAIN, "record_every", o.record_every);
    spec_str(L, 1, &TRAIN, "metrics", o.metrics_path, sizeof o.metrics_path);
    spec_str(L, 1, &TRAIN, "label", o.label, sizeof o.label);
    o.quiet = spec_bool(L, 1, &TRAIN, "quiet", bridge_quiet);
    spec_str(L, 1, &TRAIN, "checkpoint", o.checkpoint_dir, sizeof o.checkpoint_dir);
    o.checkpoint_every = spec_int(L, 1, &TRAIN, "checkpoint_every", 0);
    o.stop_at = spec_int(L, 1, &TRAIN, "stop_at", 0);
    spec_str(L, 1, &TRAIN, "precision", o.precision, sizeof o.precision);
    char device[32] = "";
    spec_str(L, 1, &TRAIN, "device", device, sizeof device);
    if (device[0] && strcmp(device, backend_active())) { /* the model's buffers live on the active device */
        int known = 0;
        for (int i = 0; i < backend_count(); i++) known |= !strcmp(backend_at(i)->name, device);
        if (!known && backend_select(device)) luaL_error(L, "%s: field 'device': %s", FN, al_error_message());
        luaL_error(L, "%s: field 'device' = \"%s\", but the model is on \"%s\" (choose the device with archlab.device(\"%s\") "
                   "or --device %s before building the model)", FN, device, backend_active(), device, device);
    }
    spec_str(L, 1, &TRAIN, "fp8_scaling", o.fp8_scaling, sizeof o.fp8_scaling);
    spec_str(L, 1, &TRAIN, "accum_round", o.accum_round, sizeof o.accum_round);
    o.accum_bits = spec_int(L, 1, &TRAIN, "accum_bits", o.accum_bits);
    o.promote_every = spec_int(L, 1, &TRAIN, "promote_every", o.promote_every);
    /* resume = DIR, or true: the `checkpoint` directory if it holds one (a fresh start otherwise) */
    if (lua_getfield(L, 1, "resume") == LUA_TBOOLEAN) {
        if (lua_toboolean(L, -1)) {
            if (!o.checkpoint_dir[0]) luaL_error(L, "%s: field 'resume' = true needs field 'checkpoint'", FN);
            if (checkpoint_exists(o.checkpoint_dir)) snprintf(o.resume_dir, sizeof o.resume_dir, "%s", o.checkpoint_dir);
        }
    } else if (lua_type(L, -1) == LUA_TSTRING) {
        spec_str(L, 1, &TRAIN, "resume", o.resume_dir, sizeof o.resume_dir);
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

/* run.<field>: the fields a run has, documented where they are served (an unknown one is an error, never nil) */
static const OptSpec RUN_FIELDS[] = {
    {"train_loss", OPT_NUMBER, 0, 0, NULL, "mean training loss (nats per token) over the last logging window"},
    {"val_loss", OPT_NUMBER, 0, 0, NULL, "validation loss at the end (NaN without a validation split)"},
    {"tokens_per_s", OPT_NUMBER, 0, 0, NULL, "training throughput of this run's steps"},
    {"seconds", OPT_NUMBER, 0, 0, NULL, "wall-clock time of this run's steps"},
    {"steps", OPT_INT, 0, 0, NULL, "the last step done (counting steps before a resume)"},
    {"start_step", OPT_INT, 0, 0, NULL, "the step this run started from (0, or the checkpoint's on resume)"},
    {"diverged", OPT_BOOL, 0, 0, NULL, "a non-finite loss or weight stopped it"},
    {"diverged_step", OPT_INT, 0, 0, NULL, "the step that diverged, counted from 1 (0: none)"},
    {"checkpoint", OPT_STRING, 0, 0, NULL, "the checkpoint directory written last, or nil"},
    {"series", OPT_ANY, 0, 0, NULL, "run:series(name), below"},
    {"csv", OPT_ANY, 0, 0, NULL, "run:csv(path), below"},
    {NULL},
};
static const FnSpec RUN = {"run", "run.<field>", "the numbers of a finished (or stopped) archlab.train", RUN_FIELDS};

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
    else {
        const char *names[16];
        int n = 0;
        for (const OptSpec *o = RUN_FIELDS; o->name && n < 16; o++) names[n++] = o->name;
        const char *near = closest_word(k, names, n);
        if (near) return luaL_error(L, "run: no field '%s' (did you mean '%s'?)", k, near);
        return luaL_error(L, "run: no field '%s' (archlab.help(\"run\") lists them)", k);
    }
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

static const FnSpec SERIES = {"run:series", "run:series(name) -> { name =, x = {steps}, y = {values} }",
                              "a recorded series (loss and grad_norm per step; val_loss, tokens_per_s, gains, expert "
                              "loads at their steps), the shape archlab.plot.lines takes", NULL};
static const FnSpec CSV = {"run:csv", "run:csv(path) -> path",
                           "every recorded series side by side, one row per step (empty where a series has no value)", NULL};

void bridge_open_train(lua_State *L) {
    opts_register(&TRAIN);
    opts_register(&RUN);
    opts_register(&SERIES);
    opts_register(&CSV);
    static const luaL_Reg meta[] = {{"__index", l_index}, {"__gc", l_gc}, {"__tostring", l_tostring}, {NULL, NULL}};
    luaL_newmetatable(L, RUN_MT);
    luaL_setfuncs(L, meta, 0);
    lua_pop(L, 1);
    lua_pushcfunction(L, l_train);
    lua_setfield(L, -2, "train");
}
