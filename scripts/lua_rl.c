/* Reinforcement learning and distillation from Lua (docs/EQUATIONS.md sec. 8): verifiable tasks
 * (archlab.data.addition, archlab.data.expression -> a Task with corpus, problems, check, evaluate),
 * archlab.grpo{...}, archlab.distill{...}, and model:clone(). */
#include "scripts/lua_rl.h"

#include <math.h>
#include <string.h>

#include "arch/config.h"
#include "scripts/bridge.h"
#include "scripts/lua_opts.h"
#include "train/distill.h"
#include "train/grpo.h"

#define TASK_MT "archlab.Task"
#define RLRUN_MT "archlab.RlRun"

typedef struct LTask { Task t; } LTask;

static const Task *check_task(lua_State *L, int idx) { return &((LTask *)luaL_checkudata(L, idx, TASK_MT))->t; }

/* what a value is, for messages: a userdata's metatable name (archlab.Data, archlab.Model), else its type */
static const char *what_is(lua_State *L, int idx) {
    if (lua_type(L, idx) == LUA_TUSERDATA && luaL_getmetafield(L, idx, "__name") == LUA_TSTRING) {
        const char *n = lua_tostring(L, -1);
        lua_pop(L, 1); /* the name stays alive in the metatable */
        return n;
    }
    return luaL_typename(L, idx);
}

/* field `key` of the options at idx as a task / a model, required, with errors naming fn and the field */
static const Task *field_task(lua_State *L, int idx, const char *fn, const char *key) {
    if (lua_getfield(L, idx, key) == LUA_TNIL) luaL_error(L, "%s: field '%s' is required", fn, key);
    if (!luaL_testudata(L, -1, TASK_MT))
        luaL_error(L, "%s: field '%s' must be a task (archlab.data.addition{} or archlab.data.expression{}), got %s", fn,
                   key, what_is(L, -1));
    const Task *t = check_task(L, -1);
    lua_pop(L, 1);
    return t;
}
static Model *field_model(lua_State *L, int idx, const char *fn, const char *key, int required) {
    int ty = lua_getfield(L, idx, key);
    if (ty == LUA_TNIL) {
        if (required) luaL_error(L, "%s: field '%s' is required", fn, key);
        lua_pop(L, 1);
        return NULL;
    }
    if (!luaL_testudata(L, -1, MODEL_MT)) luaL_error(L, "%s: field '%s' must be an archlab.model, got %s", fn, key, what_is(L, -1));
    Model *m = bridge_check_model(L, -1);
    lua_pop(L, 1);
    return m;
}

/* ---- tasks ---- */

static const OptSpec ADDITION_OPTS[] = {
    {"digits", OPT_INT, 1, 9, "3", "most digits of each operand"},
    {"min_digits", OPT_INT, 1, 9, "1", "fewest digits of each operand (each drawn uniformly in [min_digits, digits])"},
    {"test_fraction", OPT_NUMBER, 0.001, 0.5, "0.1", "share of problems held out for evaluation (by a hash of the text)"},
    {NULL},
};
static const FnSpec ADDITION = {"archlab.data.addition", "archlab.data.addition{ digits =, min_digits = } -> task",
                                "verifiable task: a+b= with a column-by-column scratchpad; answer and format checked",
                                ADDITION_OPTS};
static const OptSpec EXPRESSION_OPTS[] = {
    {"ops", OPT_INT, 1, 5, "2", "most operators (+ - *, * before + and -)"},
    {"min_ops", OPT_INT, 1, 5, "1", "fewest operators"},
    {"max_operand", OPT_INT, 1, 99, "9", "operands are integers in [0, max_operand]"},
    {"test_fraction", OPT_NUMBER, 0.001, 0.5, "0.1", "share of problems held out for evaluation"},
    {NULL},
};
static const FnSpec EXPRESSION = {"archlab.data.expression", "archlab.data.expression{ ops =, max_operand = } -> task",
                                  "verifiable task: a small arithmetic expression, worked step by step; answer and "
                                  "format checked", EXPRESSION_OPTS};

static LTask *new_task(lua_State *L) {
    LTask *t = lua_newuserdatauv(L, sizeof *t, 0);
    memset(t, 0, sizeof *t);
    luaL_setmetatable(L, TASK_MT);
    return t;
}

static int l_addition(lua_State *L) {
    if (lua_isnoneornil(L, 1)) { lua_settop(L, 0); lua_newtable(L); }
    luaL_checktype(L, 1, LUA_TTABLE);
    opts_check(L, 1, &ADDITION);
    int hi = spec_int(L, 1, &ADDITION, "digits", 3), lo = spec_int(L, 1, &ADDITION, "min_digits", 1);
    double tf = spec_num(L, 1, &ADDITION, "test_fraction", 0.1);
    LTask *t = new_task(L);
    if (task_addition_init(&t->t, lo, hi, tf)) opts_raise_engine_error(L, ADDITION.name);
    return 1;
}

static int l_expression(lua_State *L) {
    if (lua_isnoneornil(L, 1)) { lua_settop(L, 0); lua_newtable(L); }
    luaL_checktype(L, 1, LUA_TTABLE);
    opts_check(L, 1, &EXPRESSION);
    int hi = spec_int(L, 1, &EXPRESSION, "ops", 2), lo = spec_int(L, 1, &EXPRESSION, "min_ops", 1);
    int mo = spec_int(L, 1, &EXPRESSION, "max_operand", 9);
    double tf = spec_num(L, 1, &EXPRESSION, "test_fraction", 0.1);
    LTask *t = new_task(L);
    if (task_expression_init(&t->t, lo, hi, mo, tf)) opts_raise_engine_error(L, EXPRESSION.name);
    return 1;
}

static const OptSpec CORPUS_OPTS[] = {
    {"examples", OPT_INT, 2, 1 << 24, "20000", "demonstrations (problem + reference completion)"},
    {"think", OPT_NUMBER, 0, 1, "1", "share of demonstrations with the worked scratchpad (the rest: <think></think>)"},
    {"val_fraction", OPT_NUMBER, 0.001, 0.5, "0.1", "share of demonstrations in the validation split (held-out problems)"},
    {"seed", OPT_INT, 0, 2147483647.0, "1", "the problems' seed"},
    {NULL},
};
static const FnSpec CORPUS = {"task:corpus", "task:corpus{ examples =, think =, seed = } -> data",
                              "a byte-level text source of demonstrations, to pretrain or fine-tune with archlab.train",
                              CORPUS_OPTS};

static int l_corpus(lua_State *L) {
    const Task *t = check_task(L, 1);
    if (lua_isnoneornil(L, 2)) { lua_settop(L, 1); lua_newtable(L); }
    luaL_checktype(L, 2, LUA_TTABLE);
    opts_check(L, 2, &CORPUS);
    int n = spec_int(L, 2, &CORPUS, "examples", 20000);
    double think = spec_num(L, 2, &CORPUS, "think", 1), vf = spec_num(L, 2, &CORPUS, "val_fraction", 0.1);
    int seed = spec_int(L, 2, &CORPUS, "seed", 1);
    LData *ld = lua_newuserdatauv(L, sizeof *ld, 0);
    memset(ld, 0, sizeof *ld);
    luaL_setmetatable(L, DATA_MT);
    if (task_corpus(&ld->d, t, n, think, vf, (uint64_t)seed)) opts_raise_engine_error(L, CORPUS.name);
    ld->loaded = 1;
    return 1;
}

static int split_of(lua_State *L, int idx, const FnSpec *fn) {
    char split[16] = "test";
    spec_str(L, idx, fn, "split", split, sizeof split);
    if (!strcmp(split, "train")) return TASK_SPLIT_TRAIN;
    if (!strcmp(split, "test")) return TASK_SPLIT_TEST;
    return luaL_error(L, "%s: field 'split' = \"%s\" must be \"train\" or \"test\"", fn->name, split);
}

static const OptSpec PROBLEMS_OPTS[] = {
    {"n", OPT_INT, 1, 1 << 20, "10", "problems"},
    {"split", OPT_STRING, 0, 0, "\"test\"", "\"train\" or \"test\" (held-out)"},
    {"seed", OPT_INT, 0, 2147483647.0, "1", "the problems' seed"},
    {"think", OPT_BOOL, 0, 0, "true", "solutions with the worked scratchpad"},
    {NULL},
};
static const FnSpec PROBLEMS = {"task:problems", "task:problems{ n =, split =, seed = } -> { {prompt =, answer =, solution =}, ... }",
                                "problems of the task with their answers and reference completions", PROBLEMS_OPTS};

static int l_problems(lua_State *L) {
    const Task *t = check_task(L, 1);
    if (lua_isnoneornil(L, 2)) { lua_settop(L, 1); lua_newtable(L); }
    luaL_checktype(L, 2, LUA_TTABLE);
    opts_check(L, 2, &PROBLEMS);
    int n = spec_int(L, 2, &PROBLEMS, "n", 10), seed = spec_int(L, 2, &PROBLEMS, "seed", 1);
    int split = split_of(L, 2, &PROBLEMS), think = spec_bool(L, 2, &PROBLEMS, "think", 1);
    Rng rng;
    rng_init(&rng, (uint64_t)seed);
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        TaskProblem p;
        char sol[TASK_TEXT_MAX];
        if (task_draw(t, &rng, split, &p)) { rng_free(&rng); opts_raise_engine_error(L, PROBLEMS.name); }
        int k = task_solution(t, &p, think, sol);
        lua_createtable(L, 0, 3);
        lua_pushstring(L, p.prompt);
        lua_setfield(L, -2, "prompt");
        lua_pushstring(L, p.answer);
        lua_setfield(L, -2, "answer");
        lua_pushlstring(L, sol, (size_t)k);
        lua_setfield(L, -2, "solution");
        lua_rawseti(L, -2, i + 1);
    }
    rng_free(&rng);
    return 1;
}

static const OptSpec CHECK_OPTS[] = {
    {"prompt", OPT_STRING, 0, 0, NULL, "(required) the problem, as the task writes it (\"57+68=\")"},
    {"completion", OPT_STRING, 0, 0, NULL, "(required) what follows the prompt, the stop byte \"\\n\" included when generated"},
    {NULL},
};
static const FnSpec CHECK = {"task:check", "task:check{ prompt =, completion = } -> { accuracy =, format =, answer =, think_length = }",
                             "the rule-based rewards (0 or 1 each) of one completion, and the answer found in it", CHECK_OPTS};

static int l_check(lua_State *L) {
    const Task *t = check_task(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    opts_check(L, 2, &CHECK);
    char prompt[TASK_PROMPT_MAX];
    if (!spec_str(L, 2, &CHECK, "prompt", prompt, sizeof prompt)) luaL_error(L, "%s: field 'prompt' is required", CHECK.name);
    if (lua_getfield(L, 2, "completion") != LUA_TSTRING) luaL_error(L, "%s: field 'completion' is required", CHECK.name);
    size_t len;
    const char *c = lua_tolstring(L, -1, &len);
    TaskProblem p;
    if (task_problem_from_prompt(t, prompt, &p)) opts_raise_engine_error(L, CHECK.name);
    TaskScore s;
    task_check(&p, c, len > 1 << 20 ? 1 << 20 : (int)len, &s);
    lua_createtable(L, 0, 4);
    lua_pushinteger(L, s.accuracy);
    lua_setfield(L, -2, "accuracy");
    lua_pushinteger(L, s.format);
    lua_setfield(L, -2, "format");
    lua_pushstring(L, s.given);
    lua_setfield(L, -2, "answer");
    lua_pushinteger(L, s.think_len);
    lua_setfield(L, -2, "think_length");
    return 1;
}

static const OptSpec EVAL_OPTS[] = {
    {"model", OPT_ANY, 0, 0, NULL, "(required) the model to evaluate"},
    {"n", OPT_INT, 1, 1 << 20, "200", "held-out problems"},
    {"temperature", OPT_NUMBER, 0, 100, "0 (greedy)", "sampling temperature"},
    {"top_p", OPT_NUMBER, 1e-6, 1, "1", "nucleus sampling mass"},
    {"max_new", OPT_INT, 0, 1 << 20, "the task's longest reference + 16", "completion tokens at most"},
    {"seed", OPT_INT, 0, 2147483647.0, "the evaluation seed of archlab.grpo and archlab.distill", "problems and sampling"},
    {NULL},
};
static const FnSpec EVAL = {"task:evaluate", "task:evaluate{ model =, n =, temperature = } -> { accuracy =, lo =, hi =, format =, length =, think_length =, n = }",
                            "accuracy on held-out problems (one completion each) with its 95% Wilson interval; format "
                            "rate, mean completion tokens, mean scratchpad bytes", EVAL_OPTS};

static void push_eval(lua_State *L, const TaskEval *e) {
    lua_createtable(L, 0, 7);
    const struct { const char *k; double v; } f[] = {{"accuracy", e->accuracy}, {"lo", e->lo}, {"hi", e->hi},
                                                       {"format", e->format}, {"length", e->length},
                                                       {"think_length", e->think_length}};
    for (size_t i = 0; i < sizeof f / sizeof *f; i++) {
        lua_pushnumber(L, f[i].v);
        lua_setfield(L, -2, f[i].k);
    }
    lua_pushinteger(L, e->n);
    lua_setfield(L, -2, "n");
}

static int l_evaluate(lua_State *L) {
    const Task *t = check_task(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    opts_check(L, 2, &EVAL);
    Model *m = field_model(L, 2, EVAL.name, "model", 1);
    int n = spec_int(L, 2, &EVAL, "n", 200), seed = spec_int(L, 2, &EVAL, "seed", 0x5eed0fa1);
    SampleOptions so = {spec_num(L, 2, &EVAL, "temperature", 0), spec_num(L, 2, &EVAL, "top_p", 1),
                        spec_int(L, 2, &EVAL, "max_new", 0), TASK_STOP, 0};
    if (m->cfg.vocab_size < 256) luaL_error(L, "%s: field 'model' has vocab_size = %d; the task's text is bytes (256)", EVAL.name, m->cfg.vocab_size);
    if (so.max_new <= 0) so.max_new = rl_default_max_new(m, t);
    if (so.max_new < 1 || task_max_prompt(t) + so.max_new - 1 > m->cfg.seq_len)
        luaL_error(L, "%s: field 'max_new' = %d: the task's longest prompt (%d tokens) + max_new - 1 exceeds the model's "
                   "seq_len = %d", EVAL.name, so.max_new, task_max_prompt(t), m->cfg.seq_len);
    TaskEval e;
    if (task_evaluate(m, t, n, &so, (uint64_t)seed, &e)) opts_raise_engine_error(L, EVAL.name);
    push_eval(L, &e);
    return 1;
}

static const FnSpec TASK_DESCRIBE = {"task:describe", "task:describe() -> text",
                                     "the task, its sizes and the longest prompt and reference completion", NULL};
static int l_task_describe(lua_State *L) {
    const Task *t = check_task(L, 1);
    lua_pushfstring(L, "archlab.Task(%s; prompts up to %d bytes with the leading '\\n', completions up to %d)",
                    t->description, task_max_prompt(t), task_max_completion(t));
    return 1;
}

/* ---- runs: a table of results with series(name), strict about unknown fields ---- */

static void push_series(lua_State *L, const MetricLog *log) {
    lua_createtable(L, 0, log->n);
    for (int i = 0; i < log->n; i++) {
        const Series *s = &log->series[i];
        lua_createtable(L, 0, 2);
        lua_createtable(L, s->n, 0);
        for (int k = 0; k < s->n; k++) { lua_pushnumber(L, s->step[k]); lua_rawseti(L, -2, k + 1); }
        lua_setfield(L, -2, "x");
        lua_createtable(L, s->n, 0);
        for (int k = 0; k < s->n; k++) { lua_pushnumber(L, s->value[k]); lua_rawseti(L, -2, k + 1); }
        lua_setfield(L, -2, "y");
        lua_setfield(L, -2, s->name);
    }
}

/* run:series(name) -> { name =, x = {steps}, y = {values} } (a copy) */
static int l_run_series(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    const char *name = luaL_checkstring(L, 2);
    lua_getfield(L, 1, "_series");
    if (lua_getfield(L, -1, name) != LUA_TTABLE) {
        lua_pop(L, 1);
        char names[2048] = "";
        lua_pushnil(L);
        while (lua_next(L, -2)) {
            lua_pop(L, 1);
            size_t used = strlen(names);
            snprintf(names + used, sizeof names - used, "%s%s", used ? ", " : "", lua_tostring(L, -1));
        }
        return luaL_error(L, "run:series: no series '%s' (recorded: %s)", name, names);
    }
    int src = lua_gettop(L);
    lua_createtable(L, 0, 3);
    lua_pushstring(L, name);
    lua_setfield(L, -2, "name");
    for (int k = 0; k < 2; k++) {
        const char *xy = k ? "y" : "x";
        lua_getfield(L, src, xy);
        int n = (int)luaL_len(L, -1);
        lua_createtable(L, n, 0);
        for (int i = 1; i <= n; i++) { lua_geti(L, -2, i); lua_rawseti(L, -2, i); }
        lua_setfield(L, -3, xy);
        lua_pop(L, 1);
    }
    return 1;
}

/* an unknown field of a run is an error with the closest name, not nil */
static int l_run_index(lua_State *L) {
    const char *k = luaL_checkstring(L, 2);
    if (!strcmp(k, "series")) { lua_pushcfunction(L, l_run_series); return 1; }
    const char *names[64];
    int n = 0;
    lua_pushnil(L);
    while (n < 63 && lua_next(L, 1)) {
        if (lua_type(L, -2) == LUA_TSTRING && lua_tostring(L, -2)[0] != '_') names[n++] = lua_tostring(L, -2);
        lua_pop(L, 1);
    }
    names[n++] = "series";
    const char *s = closest_word(k, names, n);
    if (s) return luaL_error(L, "run: no field '%s' (did you mean '%s'?)", k, s);
    return luaL_error(L, "run: no field '%s'", k);
}

static void set_num(lua_State *L, const char *k, double v) { lua_pushnumber(L, v); lua_setfield(L, -2, k); }

static void push_run(lua_State *L, const MetricLog *log, int steps, double seconds, double flops, int diverged,
                     const TaskEval *final) {
    lua_newtable(L);
    push_series(L, log);
    lua_setfield(L, -2, "_series");
    lua_pushinteger(L, steps);
    lua_setfield(L, -2, "steps");
    set_num(L, "seconds", seconds);
    set_num(L, "flops", flops);
    lua_pushboolean(L, diverged);
    lua_setfield(L, -2, "diverged");
    push_eval(L, final);
    lua_setfield(L, -2, "final");
    set_num(L, "accuracy", final->accuracy);
    set_num(L, "lo", final->lo);
    set_num(L, "hi", final->hi);
    luaL_setmetatable(L, RLRUN_MT);
}

/* ---- archlab.grpo ---- */

static const OptSpec GRPO_OPTS[] = {
    {"policy", OPT_ANY, 0, 0, NULL, "(required) the model trained (in place)"},
    {"task", OPT_ANY, 0, 0, NULL, "(required) a verifiable task (archlab.data.addition{} ...)"},
    {"reference", OPT_ANY, 0, 0, "a frozen copy of the policy at the start", "pi_ref of the KL penalty"},
    {"steps", OPT_INT, 1, 1 << 24, "50", "sampling steps (each: a batch of prompts x group completions)"},
    {"prompts", OPT_INT, 1, 1 << 16, "8", "problems per step"},
    {"group", OPT_INT, 2, 1 << 12, "8", "completions per problem (G); advantages are relative to the group"},
    {"updates", OPT_INT, 1, 64, "2", "policy updates per batch of samples (mu)"},
    {"micro_batch", OPT_INT, 0, 1 << 16, "0 (the whole batch)", "sequences per forward/backward (gradients accumulate)"},
    {"temperature", OPT_NUMBER, 1e-3, 100, "1", "sampling temperature; the policy is softmax(logits / temperature)"},
    {"top_p", OPT_NUMBER, 1e-6, 1, "1", "nucleus sampling mass"},
    {"max_new", OPT_INT, 0, 1 << 20, "the task's longest reference + 16", "completion tokens at most"},
    {"clip", OPT_NUMBER, 1e-6, 0.999, "0.2", "epsilon of the clipped ratio"},
    {"kl_beta", OPT_NUMBER, 0, 1e3, "0.04", "beta of the KL penalty (unbiased estimator pi_ref/pi - log(pi_ref/pi) - 1)"},
    {"adv_eps", OPT_NUMBER, 0, 1, "1e-4", "A = (r - mean) / (std + adv_eps)"},
    {"format_weight", OPT_NUMBER, 0, 100, "0.5", "reward = accuracy + format_weight * format"},
    {"lr", OPT_NUMBER, 0, 10, "1e-4", "AdamW learning rate"},
    {"min_lr", OPT_NUMBER, 0, 10, "lr / 10", "floor of the cosine schedule"},
    {"warmup", OPT_INT, 0, 1 << 24, "0", "optimizer steps of linear warm-up"},
    {"schedule", OPT_STRING, 0, 0, "\"constant\"", "constant | cosine | step, over steps x updates"},
    {"weight_decay", OPT_NUMBER, 0, 10, "0", "AdamW decoupled weight decay"},
    {"beta1", OPT_NUMBER, 0, 0.999999, "0.9", "AdamW"},
    {"beta2", OPT_NUMBER, 0, 0.999999, "0.95", "AdamW"},
    {"eps", OPT_NUMBER, 0, 1, "1e-8", "AdamW"},
    {"grad_clip", OPT_NUMBER, 0, 1e9, "1", "global gradient-norm clipping (0: none)"},
    {"seed", OPT_INT, 0, 2147483647.0, "1", "problems and sampling"},
    {"eval_every", OPT_INT, 0, 1 << 24, "0 (start and end)", "held-out greedy accuracy every this many steps"},
    {"eval_n", OPT_INT, 0, 1 << 20, "200", "held-out problems per evaluation (0: none)"},
    {"budget_flops", OPT_NUMBER, 0, 1e30, "none", "stop after the step at which the policy's compute reaches this"},
    {"log_every", OPT_INT, 1, 1 << 24, "1", "steps between progress lines"},
    {"metrics", OPT_STRING, 0, 0, NULL, "a JSON Lines file, one record per step"},
    {"label", OPT_STRING, 0, 0, "\"grpo\"", "shown in progress lines"},
    {"quiet", OPT_BOOL, 0, 0, "false (--quiet)", "no progress lines"},
    {NULL},
};
static const FnSpec GRPO = {"archlab.grpo", "archlab.grpo{ policy =, task =, steps =, prompts =, group =, ... } -> run",
                            "GRPO with rule-based rewards (DeepSeekMath/R1): group-relative advantages, the clipped "
                            "ratio, a KL penalty to a frozen reference; run:series of reward, accuracy, format, "
                            "length, think_length, kl, clip_fraction, loss, grad_norm, lr, flops, val_accuracy, "
                            "val_format, val_length, val_think_length", GRPO_OPTS};

static int l_grpo(lua_State *L) {
    const char *fn = GRPO.name;
    luaL_checktype(L, 1, LUA_TTABLE);
    opts_check(L, 1, &GRPO);
    Model *policy = field_model(L, 1, fn, "policy", 1);
    const Task *task = field_task(L, 1, fn, "task");
    Model *ref = field_model(L, 1, fn, "reference", 0);
    if (ref == policy) luaL_error(L, "%s: field 'reference' is the policy itself (it must stay frozen)", fn);
    GrpoOptions o;
    grpo_defaults(&o);
    o.steps = spec_int(L, 1, &GRPO, "steps", o.steps);
    o.prompts = spec_int(L, 1, &GRPO, "prompts", o.prompts);
    o.group = spec_int(L, 1, &GRPO, "group", o.group);
    o.updates = spec_int(L, 1, &GRPO, "updates", o.updates);
    o.micro_batch = spec_int(L, 1, &GRPO, "micro_batch", o.micro_batch);
    o.temperature = spec_num(L, 1, &GRPO, "temperature", o.temperature);
    o.top_p = spec_num(L, 1, &GRPO, "top_p", o.top_p);
    o.max_new = spec_int(L, 1, &GRPO, "max_new", o.max_new);
    o.clip_eps = spec_num(L, 1, &GRPO, "clip", o.clip_eps);
    o.kl_beta = spec_num(L, 1, &GRPO, "kl_beta", o.kl_beta);
    o.adv_eps = spec_num(L, 1, &GRPO, "adv_eps", o.adv_eps);
    o.format_weight = spec_num(L, 1, &GRPO, "format_weight", o.format_weight);
    o.lr = spec_num(L, 1, &GRPO, "lr", o.lr);
    o.min_lr = spec_num(L, 1, &GRPO, "min_lr", o.min_lr);
    o.warmup = spec_int(L, 1, &GRPO, "warmup", o.warmup);
    spec_str(L, 1, &GRPO, "schedule", o.schedule, sizeof o.schedule);
    o.weight_decay = spec_num(L, 1, &GRPO, "weight_decay", o.weight_decay);
    o.beta1 = spec_num(L, 1, &GRPO, "beta1", o.beta1);
    o.beta2 = spec_num(L, 1, &GRPO, "beta2", o.beta2);
    o.eps = spec_num(L, 1, &GRPO, "eps", o.eps);
    o.grad_clip = spec_num(L, 1, &GRPO, "grad_clip", o.grad_clip);
    o.seed = spec_int(L, 1, &GRPO, "seed", o.seed);
    o.eval_every = spec_int(L, 1, &GRPO, "eval_every", o.eval_every);
    o.eval_n = spec_int(L, 1, &GRPO, "eval_n", o.eval_n);
    o.budget_flops = spec_num(L, 1, &GRPO, "budget_flops", 0);
    o.log_every = spec_int(L, 1, &GRPO, "log_every", o.log_every);
    spec_str(L, 1, &GRPO, "metrics", o.metrics_path, sizeof o.metrics_path);
    spec_str(L, 1, &GRPO, "label", o.label, sizeof o.label);
    o.quiet = spec_bool(L, 1, &GRPO, "quiet", bridge_quiet);
    GrpoResult r;
    int rc = grpo_run(policy, ref, task, &o, &r);
    if (rc) {
        grpo_result_free(&r);
        if (al_interrupt_requested) return luaL_error(L, "interrupted");
        opts_raise_engine_error(L, fn);
    }
    push_run(L, &r.log, r.steps_done, r.seconds, r.flops, r.diverged, &r.final_eval);
    grpo_result_free(&r);
    return 1;
}

/* ---- archlab.distill ---- */

static const OptSpec DISTILL_OPTS[] = {
    {"teacher", OPT_ANY, 0, 0, NULL, "(required) the model whose outputs are distilled (not changed)"},
    {"student", OPT_ANY, 0, 0, NULL, "(required) the model trained (in place); any architecture, the same vocabulary"},
    {"task", OPT_ANY, 0, 0, NULL, "(required) a verifiable task"},
    {"mode", OPT_STRING, 0, 0, "\"sequences\"", "\"sequences\": fine-tune on the teacher's completions (R1); "
                                                "\"logits\": KL to the teacher's distributions on them"},
    {"prompts", OPT_INT, 1, 1 << 22, "512", "training problems the teacher answers"},
    {"per_prompt", OPT_INT, 1, 1 << 10, "1", "teacher completions per problem"},
    {"filter", OPT_BOOL, 0, 0, "true", "keep only completions the checker accepts (correct and well formatted)"},
    {"temperature", OPT_NUMBER, 0, 100, "0.6", "the teacher's sampling temperature (0: greedy)"},
    {"top_p", OPT_NUMBER, 1e-6, 1, "0.95", "the teacher's nucleus mass"},
    {"max_new", OPT_INT, 0, 1 << 20, "the task's longest reference + 16", "completion tokens at most"},
    {"steps", OPT_INT, 1, 1 << 24, "100", "student optimizer steps"},
    {"batch_size", OPT_INT, 1, 1 << 16, "32", "sequences per step, drawn from the kept completions"},
    {"micro_batch", OPT_INT, 0, 1 << 16, "0 (the whole batch)", "sequences per forward/backward"},
    {"tau", OPT_NUMBER, 1e-3, 100, "2", "logits: the distillation temperature (the loss is scaled by tau^2)"},
    {"kl", OPT_STRING, 0, 0, "\"forward\"", "logits: \"forward\" KL(teacher || student) or \"reverse\" KL(student || teacher)"},
    {"hard_weight", OPT_NUMBER, 0, 100, "0", "logits: weight of the cross-entropy of the teacher's sampled tokens"},
    {"lr", OPT_NUMBER, 0, 10, "1e-3", "AdamW learning rate"},
    {"min_lr", OPT_NUMBER, 0, 10, "lr / 10", "floor of the cosine schedule"},
    {"warmup", OPT_INT, 0, 1 << 24, "steps / 20", "steps of linear warm-up"},
    {"schedule", OPT_STRING, 0, 0, "\"cosine\"", "constant | cosine | step"},
    {"weight_decay", OPT_NUMBER, 0, 10, "0.1", "AdamW decoupled weight decay"},
    {"beta1", OPT_NUMBER, 0, 0.999999, "0.9", "AdamW"},
    {"beta2", OPT_NUMBER, 0, 0.999999, "0.95", "AdamW"},
    {"eps", OPT_NUMBER, 0, 1, "1e-8", "AdamW"},
    {"grad_clip", OPT_NUMBER, 0, 1e9, "1", "global gradient-norm clipping (0: none)"},
    {"seed", OPT_INT, 0, 2147483647.0, "1", "problems, sampling and batches"},
    {"eval_every", OPT_INT, 0, 1 << 24, "0 (start and end)", "held-out greedy accuracy every this many steps"},
    {"eval_n", OPT_INT, 0, 1 << 20, "200", "held-out problems per evaluation (0: none)"},
    {"budget_flops", OPT_NUMBER, 0, 1e30, "none", "stop after the step at which the student's compute reaches this"},
    {"log_every", OPT_INT, 1, 1 << 24, "10", "steps between progress lines"},
    {"metrics", OPT_STRING, 0, 0, NULL, "a JSON Lines file, one record per step"},
    {"label", OPT_STRING, 0, 0, "\"distill\"", "shown in progress lines"},
    {"quiet", OPT_BOOL, 0, 0, "false (--quiet)", "no progress lines"},
    {NULL},
};
static const FnSpec DISTILL = {"archlab.distill", "archlab.distill{ teacher =, student =, task =, mode =, ... } -> run",
                               "distillation: the teacher answers training problems (filtered by the checker), the "
                               "student fine-tunes on the completions (sequences) or matches the teacher's "
                               "distributions on them (logits); run.kept, run.teacher_accuracy, run:series of loss, kl, "
                               "grad_norm, lr, flops, val_accuracy, ...", DISTILL_OPTS};

static int l_distill(lua_State *L) {
    const char *fn = DISTILL.name;
    luaL_checktype(L, 1, LUA_TTABLE);
    opts_check(L, 1, &DISTILL);
    Model *teacher = field_model(L, 1, fn, "teacher", 1), *student = field_model(L, 1, fn, "student", 1);
    const Task *task = field_task(L, 1, fn, "task");
    DistillOptions o;
    distill_defaults(&o);
    char mode[16] = "sequences", kl[16] = "forward";
    spec_str(L, 1, &DISTILL, "mode", mode, sizeof mode);
    if (!strcmp(mode, "logits")) o.mode = DISTILL_LOGITS;
    else if (strcmp(mode, "sequences")) luaL_error(L, "%s: field 'mode' = \"%s\" must be \"sequences\" or \"logits\"", fn, mode);
    spec_str(L, 1, &DISTILL, "kl", kl, sizeof kl);
    if (!strcmp(kl, "reverse")) o.reverse = 1;
    else if (strcmp(kl, "forward")) luaL_error(L, "%s: field 'kl' = \"%s\" must be \"forward\" or \"reverse\"", fn, kl);
    o.prompts = spec_int(L, 1, &DISTILL, "prompts", o.prompts);
    o.per_prompt = spec_int(L, 1, &DISTILL, "per_prompt", o.per_prompt);
    o.filter = spec_bool(L, 1, &DISTILL, "filter", o.filter);
    o.temperature = spec_num(L, 1, &DISTILL, "temperature", o.temperature);
    o.top_p = spec_num(L, 1, &DISTILL, "top_p", o.top_p);
    o.max_new = spec_int(L, 1, &DISTILL, "max_new", o.max_new);
    o.steps = spec_int(L, 1, &DISTILL, "steps", o.steps);
    o.batch_size = spec_int(L, 1, &DISTILL, "batch_size", o.batch_size);
    o.micro_batch = spec_int(L, 1, &DISTILL, "micro_batch", o.micro_batch);
    o.tau = spec_num(L, 1, &DISTILL, "tau", o.tau);
    o.hard_weight = spec_num(L, 1, &DISTILL, "hard_weight", o.hard_weight);
    o.lr = spec_num(L, 1, &DISTILL, "lr", o.lr);
    o.min_lr = spec_num(L, 1, &DISTILL, "min_lr", o.min_lr);
    o.warmup = spec_int(L, 1, &DISTILL, "warmup", o.warmup);
    spec_str(L, 1, &DISTILL, "schedule", o.schedule, sizeof o.schedule);
    o.weight_decay = spec_num(L, 1, &DISTILL, "weight_decay", o.weight_decay);
    o.beta1 = spec_num(L, 1, &DISTILL, "beta1", o.beta1);
    o.beta2 = spec_num(L, 1, &DISTILL, "beta2", o.beta2);
    o.eps = spec_num(L, 1, &DISTILL, "eps", o.eps);
    o.grad_clip = spec_num(L, 1, &DISTILL, "grad_clip", o.grad_clip);
    o.seed = spec_int(L, 1, &DISTILL, "seed", o.seed);
    o.eval_every = spec_int(L, 1, &DISTILL, "eval_every", o.eval_every);
    o.eval_n = spec_int(L, 1, &DISTILL, "eval_n", o.eval_n);
    o.budget_flops = spec_num(L, 1, &DISTILL, "budget_flops", 0);
    o.log_every = spec_int(L, 1, &DISTILL, "log_every", o.log_every);
    spec_str(L, 1, &DISTILL, "metrics", o.metrics_path, sizeof o.metrics_path);
    spec_str(L, 1, &DISTILL, "label", o.label, sizeof o.label);
    o.quiet = spec_bool(L, 1, &DISTILL, "quiet", bridge_quiet);
    if (o.mode == DISTILL_SEQUENCES) { /* options only the logit mode reads: an error, never silently ignored */
        const char *only[] = {"tau", "kl", "hard_weight"};
        for (int i = 0; i < 3; i++)
            if (lua_getfield(L, 1, only[i]) != LUA_TNIL)
                luaL_error(L, "%s: field '%s' has no effect with mode = \"sequences\" (it is read by mode = \"logits\")", fn, only[i]);
            else lua_pop(L, 1);
    }
    DistillResult r;
    int rc = distill_run(teacher, student, task, &o, &r);
    if (rc) {
        distill_result_free(&r);
        if (al_interrupt_requested) return luaL_error(L, "interrupted");
        opts_raise_engine_error(L, fn);
    }
    push_run(L, &r.log, r.steps_done, r.seconds, r.flops, r.diverged, &r.final_eval);
    lua_pushinteger(L, r.generated);
    lua_setfield(L, -2, "generated");
    lua_pushinteger(L, r.kept);
    lua_setfield(L, -2, "kept");
    set_num(L, "teacher_accuracy", r.teacher_accuracy);
    set_num(L, "teacher_format", r.teacher_format);
    set_num(L, "teacher_flops", r.teacher_flops);
    distill_result_free(&r);
    return 1;
}

/* ---- model:clone() ---- */

static const FnSpec CLONE = {"model:clone", "model:clone() -> model",
                             "a new model of the same configuration with a copy of the weights (a frozen reference, "
                             "or one starting point for several runs)", NULL};
static int l_clone(lua_State *L) {
    Model *m = bridge_check_model(L, 1);
    LModel *lm = lua_newuserdatauv(L, sizeof *lm, 0);
    lm->m = NULL;
    luaL_setmetatable(L, MODEL_MT);
    if (!(lm->m = rl_model_copy(m))) opts_raise_engine_error(L, CLONE.name);
    return 1;
}

void bridge_open_rl(lua_State *L) {
    const FnSpec *specs[] = {&ADDITION, &EXPRESSION, &CORPUS, &PROBLEMS, &CHECK, &EVAL, &TASK_DESCRIBE, &GRPO, &DISTILL, &CLONE};
    for (size_t i = 0; i < sizeof specs / sizeof *specs; i++) opts_register(specs[i]);
    static const luaL_Reg task_methods[] = {{"corpus", l_corpus}, {"problems", l_problems}, {"check", l_check},
                                            {"evaluate", l_evaluate}, {"describe", l_task_describe}, {NULL, NULL}};
    luaL_newmetatable(L, TASK_MT);
    luaL_newlib(L, task_methods);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, l_task_describe);
    lua_setfield(L, -2, "__tostring");
    lua_pop(L, 1);
    luaL_newmetatable(L, RLRUN_MT);
    lua_pushcfunction(L, l_run_index);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
    static const luaL_Reg model_methods[] = {{"clone", l_clone}, {NULL, NULL}};
    bridge_add_model_methods(L, model_methods);
    lua_getfield(L, -1, "data");
    lua_pushcfunction(L, l_addition);
    lua_setfield(L, -2, "addition");
    lua_pushcfunction(L, l_expression);
    lua_setfield(L, -2, "expression");
    lua_pop(L, 1);
    lua_pushcfunction(L, l_grpo);
    lua_setfield(L, -2, "grpo");
    lua_pushcfunction(L, l_distill);
    lua_setfield(L, -2, "distill");
}
