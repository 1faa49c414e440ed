/* A training step allocates nothing: activations, workspaces and optimizer state are planned once
 * (model_plan, ps_allocate_adam). test_archlab is linked with --wrap for the allocation functions (Makefile),
 * so every malloc/calloc/realloc/aligned_alloc made by archlab's own code is counted here. */
#include <stdatomic.h>
#include <stdlib.h>

#include "arch/model.h"
#include "core/backend.h"
#include "data/data.h"
#include "tests/harness.h"

static atomic_long allocations;
static atomic_int counting;

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void *__real_aligned_alloc(size_t align, size_t n);
void *__wrap_malloc(size_t n) {
    if (counting) allocations++;
    return __real_malloc(n);
}
void *__wrap_calloc(size_t n, size_t size) {
    if (counting) allocations++;
    return __real_calloc(n, size);
}
void *__wrap_realloc(void *p, size_t n) {
    if (counting) allocations++;
    return __real_realloc(p, n);
}
void *__wrap_aligned_alloc(size_t align, size_t n) {
    if (counting) allocations++;
    return __real_aligned_alloc(align, n);
}

static long allocations_in_steps(ModelConfig *c, int B, int T) {
    Model *m = model_create(c, 0);
    if (!m || model_plan(m, B, T) || ps_allocate_adam(&m->ps)) return -1;
    int *in = malloc(sizeof(int) * B * T), *tg = malloc(sizeof(int) * B * T);
    DataSource d;
    data_copy_init(&d, 50);
    Rng r;
    rng_init(&r, 3);
    long n = 0;
    for (int s = 0; s < 3; s++) {
        data_batch(&d, &r, SPLIT_TRAIN, s, B, T, in, tg);
        if (s == 1) { allocations = 0; counting = 1; } /* step 0 warms up (first-touch paths) */
        K->zero(m->ps.grad, m->ps.total);
        model_forward(m, in, tg, B, T);
        model_backward(m, in, tg, B, T);
        K->adamw(m->ps.data, m->ps.grad, m->ps.adam_m, m->ps.adam_v, m->ps.total, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, s + 1);
    }
    counting = 0;
    n = allocations;
    free(in); free(tg);
    rng_free(&r);
    model_free(m);
    return n;
}

TEST(training_step_allocates_nothing) {
    ModelConfig c;
    config_defaults(&c);
    c.d_model = 64; c.n_layers = 2; c.n_heads = 4; c.d_ff = 96; c.seq_len = 48;
    long dense = allocations_in_steps(&c, 2, 48);
    snprintf(c.residual, sizeof c.residual, "mhc");
    c.streams = 4;
    snprintf(c.attention, sizeof c.attention, "mla");
    c.kv_lora_rank = 32;
    snprintf(c.ffn, sizeof c.ffn, "moe");
    c.n_routed_experts = 8; c.num_experts_per_tok = 2; c.n_shared_experts = 1;
    snprintf(c.balance, sizeof c.balance, "aux_free");
    long mixed = allocations_in_steps(&c, 2, 48);
    th_note("allocations in two steps: residual/MHA/dense %ld, mHC/MLA/MoE %ld", dense, mixed);
    EXPECT(dense == 0);
    EXPECT(mixed == 0);
}
