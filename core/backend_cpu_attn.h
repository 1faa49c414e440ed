/* CPU kernels for attention: training (blocked causal attention), decoding (KV-cache appends, cached
 * attention, sampling) and the attention families, kept beside backend_cpu.c and entered in its table.
 * Shapes are documented in core/backend.h. */
#ifndef AL_BACKEND_CPU_ATTN_H
#define AL_BACKEND_CPU_ATTN_H
#include "core/backend.h"

/* query rows per block of the training attention (see cpu_attention_forward) */
#define ATTN_BLOCK 32

void cpu_copy_strided(real *dst, const real *src, int rows, int blocks, int cols, size_t dst_stride,
                      size_t dst_block, size_t src_stride, size_t src_block, int accumulate);
void cpu_attention_forward(real *out, real *lse, real *work, size_t work_n, const real *q, const real *k,
                           const real *v, const AttnShape *s);
size_t cpu_attention_work_size(const AttnShape *s);
void cpu_attention_backward(real *dq, real *dk, real *dv, real *work, size_t work_n, const real *dout,
                            const real *lse, const real *q, const real *k, const real *v, const AttnShape *s);
void cpu_attention_decode(real *out, real *scores, const real *q, const real *k, const real *v,
                          const AttnShape *s, int pos0, size_t k_batch, size_t v_batch);
void cpu_sample_tokens(int *tokens, const real *logits, const double *u, int N, int V, real temperature);
#endif
