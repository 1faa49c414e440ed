/* The CPU implementations of the reinforcement-learning and distillation kernels of the Backend table
 * (core/backend.h documents each; core/rl_cpu.c). */
#ifndef AL_RL_CPU_H
#define AL_RL_CPU_H
#include "core/common.h"

void cpu_sample_nucleus(int *tokens, double *logp, const real *logits, size_t ld, const double *u, int N, int V,
                        real temperature, real top_p);
void cpu_token_logprobs(double *logp, real *logits_to_probs, const int *tokens, int N, int V, real temperature);
void cpu_logprob_backward(real *probs_to_dlogits, const int *tokens, const double *w, int N, int V, real temperature);
void cpu_distill_kl(double *kl, double *ce, real *student_to_dlogits, const real *teacher, const int *tokens,
                    const double *w_kl, const double *w_ce, int N, int V, real tau, int reverse);
#endif
