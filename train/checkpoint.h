/* Checkpoints: a directory with
 *   model.safetensors        the parameters under their Hugging Face-style names (loadable from PyTorch),
 *                            metadata "archlab.config" = the model config as JSON
 *   train_state.safetensors  AdamW moments (optimizer.exp_avg.<name>, optimizer.exp_avg_sq.<name>), the data
 *                            sampler's RNG state (rng.state, U8), metadata step and optimizer step
 *   config.json              the model config, for people and for reloading
 * A save writes DIR.tmp/ (every file fsync'ed), then swaps it in by renames (DIR -> DIR.old, DIR.tmp -> DIR)
 * and removes DIR.old: a crash at any point leaves DIR or DIR.old holding a complete earlier checkpoint,
 * and the loader takes DIR.old when DIR is missing. */
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
/* Loads weights (names and shapes must match the model) and, when state is non-NULL, the training state.
 * -1 + message naming the path and the tensor. */
int checkpoint_load(const char *dir, Model *m, TrainState *state);
/* 1 if dir (or dir.old) holds a checkpoint */
int checkpoint_exists(const char *dir);
/* The model config as JSON (a malloc'ed string). */
char *config_to_json(const ModelConfig *c);

/* Safetensors entries t[0 .. ps.n) for one parameter-shaped buffer src (weights, gradients, AdamW moments):
 * returns the float32 copy they point into (free it); names[i] = prefix + parameter name (free each). */
struct StWriteTensor;
float *params_f32(const Model *m, const real *src, struct StWriteTensor *t, const char *prefix, char **names);

/* Weights only, one safetensors file (atomic write). */
int weights_save(const char *path, const Model *m);
int weights_load(const char *path, Model *m);
#endif
