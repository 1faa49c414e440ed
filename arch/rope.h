/* Rotary position embedding (RoPE), rotate-half convention (pairs i and i + rot/2, as in GPT-NeoX, Llama
 * and the DeepSeek reference code), theta_i = base^(-2i/rot). The tables are constants, not parameters. */
#ifndef AL_ROPE_H
#define AL_ROPE_H
#include "core/common.h"

/* cos, sin: (T, rot/2) each */
void rope_tables(real *cos_t, real *sin_t, int T, int rot, double base);
#endif
