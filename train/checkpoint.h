/* Checkpoints: a directory with
 *   model.safetensors        the parameters under their Hugging Face-style names (loadable from PyTorch),
 *                            metadata "archlab.config" = the model config as JSON
 *   train_state.safetensors  AdamW moments (optimizer.exp_avg.<name>, optimizer.exp_avg_sq.<name>), the data
 *                            sampler's RNG state (rng.state, U8), metadata step and optimizer step
 *   config.json              the model config, for people and for reloading
 * A save writes DIR.tmp/ (every file fsync'ed), then swaps it in by renames (DIR -> DIR.old, DIR.tmp -> DIR)
 * and removes DIR.old: a crash at any point (or two, in successive saves) leaves a complete copy among DIR,
 * DIR.tmp and DIR.old. The loader reads and checks every copy present and takes the complete one furthest
 * along, then puts it back in place as DIR. Everything is checked before anything of the model changes: the
 * config fields that change what the model computes, every tensor's dtype, shape and values (finite; second
 * moments >= 0), the step counters (decimal, in int range) and the RNG state. */
#ifndef AL_CHECKPOINT_H
#define AL_CHECKPOINT_H
#include "arch/model.h"
#include "core/optim.h"

typedef struct TrainState {
    int step;     /* completed training steps */
    AdamW opt;    /* including its step count */
    Rng *rng;     /* data sampler; its state is saved / restored */
} TrainState;

/* state may be NULL: weights only. -1 + message naming the path. */
int checkpoint_save(const char *dir, const Model *m, const TrainState *state);
/* Loads weights and, when state is non-NULL, the training state. -1 + message naming the path and the field
 * (every copy's reason when none loads); the model is unchanged then. */
int checkpoint_load(const char *dir, Model *m, TrainState *state);
/* 1 if any copy of a checkpoint (DIR, DIR.tmp, DIR.old holding one of its files) is present: a resume that
 * finds one must load it or fail, never start afresh. */
int checkpoint_exists(const char *dir);
/* The model config as JSON (a malloc'ed string). */
char *config_to_json(const ModelConfig *c);

/* Safetensors entries t[0 .. ps.n) for one parameter-shaped buffer src (weights, gradients, AdamW moments):
 * returns the float32 copy they point into (free it); names[i] = prefix + parameter name (free each). */
struct StWriteTensor;
float *params_f32(const Model *m, const real *src, struct StWriteTensor *t, const char *prefix, char **names);

/* Weights only, one safetensors file (atomic write); the load checks it like a checkpoint's weights. */
int weights_save(const char *path, const Model *m);
int weights_load(const char *path, Model *m);
#endif
