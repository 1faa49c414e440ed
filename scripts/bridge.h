/* The Lua bridge: exposes the engine as the `archlab` module. One file per area (model, data, train);
 * this header is what they share. */
#ifndef AL_BRIDGE_H
#define AL_BRIDGE_H
#include <lauxlib.h>
#include <lua.h>

#include "arch/hf_config.h"
#include "arch/model.h"
#include "data/data.h"
#include "scripts/lua_opts.h"

#define ARCHLAB_VERSION "0.1.0"
#define MODEL_MT "archlab.Model"
#define DATA_MT "archlab.Data"
#define RUN_MT "archlab.Run"

typedef struct LModel { Model *m; } LModel;
typedef struct LData { DataSource d; int loaded; } LData;

/* Registers the metatables and fields of each area into the module table on top of the stack. */
void bridge_open_model(lua_State *L);
void bridge_open_residual(lua_State *L); /* scripts/lua_residual.c */
void bridge_open_checkpoint(lua_State *L); /* scripts/lua_checkpoint.c */
void bridge_open_cost(lua_State *L);       /* scripts/lua_cost.c */
void bridge_open_crosscheck(lua_State *L); /* scripts/lua_crosscheck.c: model:perturb(), model:dump_grads() */
void bridge_open_util(lua_State *L);
void bridge_open_params(lua_State *L);
void bridge_open_probe(lua_State *L);
void bridge_open_compare(lua_State *L);    /* scripts/lua_compare.c: archlab.compare */      /* scripts/lua_probe.c: model:inspect(), model:probes() */     /* scripts/lua_params.c: model:param(), grad(), set_param() */       /* scripts/lua_util.c: fields of the module table on top */
void bridge_open_data(lua_State *L);
void bridge_open_dist(lua_State *L);       /* scripts/lua_dist.c: archlab.rank(), archlab.size() */
void bridge_open_train(lua_State *L);
int luaopen_archlab(lua_State *L);

Model *bridge_check_model(lua_State *L, int idx);
/* Adds methods to archlab.Model (each area of the bridge registers its own: gains, save/load, generate, ...). */
void bridge_add_model_methods(lua_State *L, const luaL_Reg *methods);
/* The options every "run the model over some data" method takes: { data =, batch_size = 8, batches = 8,
 * seq_len = model's, split = "val" | "train" }; checks them (errors name fn and the field) and plans the
 * model for the batch. */
typedef struct EvalOptions { DataSource *data; int B, T, batches, split; } EvalOptions;
/* those options, for the FnSpec of a function that takes them (scripts/lua_opts.h) */
extern const OptSpec bridge_eval_opts[];
int bridge_eval_options(lua_State *L, int idx, const FnSpec *fn, Model *m, EvalOptions *e);
/* Applies the config fields of the Lua table at idx (errors name `where` and the field). */
void bridge_config_from_table(lua_State *L, int idx, ModelConfig *c, const char *where);
/* A config from the table at idx: defaults, then its preset when it has one, then its fields over it. A preset
 * is a name (scripts/presets/NAME.lua), a FILE.lua returning a table of fields (which may name a preset), or a
 * Hugging Face config.json (read strictly by arch/hf_config.c; fields it does not understand are said on stderr
 * unless --quiet). Errors name `where`, the field and the file. */
void bridge_config_build(lua_State *L, int idx, ModelConfig *c, const char *where);
/* Applies a preset (as above) to c. */
void bridge_apply_preset(lua_State *L, const char *name, ModelConfig *c);
DataSource *bridge_check_data(lua_State *L, int idx);
/* Whether s ends with suffix, in any case (".json", ".NPY"): how file names pick their format. */
int bridge_ends_with(const char *s, const char *suffix);
/* archlab's installation root (where scripts/presets lives), found from the executable's location. */
const char *bridge_root(void);
void bridge_set_root(const char *root);
/* A configuration named on the command line: a preset, a FILE.lua or a config.json (scripts/cmd_config.c);
 * -1 + a message naming the file and field. info lists a config.json's fields not understood. */
int cmd_load_config(const char *target, ModelConfig *cfg, HfImport *info);
/* `archlab compare ...` (scripts/cmd_compare.c); argv[0] is "compare" */
int al_cmd_compare(int argc, char **argv);
/* CONFIG[:key=value...]: a configuration named on the command line with overrides (scripts/cmd_config.c) */
int cmd_load_with_overrides(const char *spec, ModelConfig *cfg);
/* One varied field and its values as text, for a grid of configurations (archlab compare --vary, vary = {}) */
typedef struct CmdVary { char key[64]; char values[32][64]; int n; } CmdVary;
/* The grid over base of nk varied fields, the first slowest: out[0..count) labelled "k1=v1 k2=v2"; returns the
 * count, or -1 + "KEY=VALUE: message" (or the count past cap). */
int cmd_vary_grid(const ModelConfig *base, const CmdVary *vary, int nk, ModelConfig *out, char (*labels)[96], int cap);
/* key=value into a config, the value read by the field's type (scripts/cmd_config.c); -1 + message */
int cmd_set_field(ModelConfig *cfg, const char *key, const char *value);
/* `archlab summary ...` (scripts/cmd_summary.c); argv[0] is "summary" */
int al_cmd_summary(int argc, char **argv);
/* process-wide --quiet */
extern int bridge_quiet;
#endif
