/* Low-precision numerics simulated on the CPU: the FP8 mixed-precision training recipe of DeepSeek-V3 (tech
 * report sec. 3.3) as arithmetic a test can check bit by bit. Three formats (E4M3, E5M2, BF16) with exact
 * round-to-nearest-even conversion; fine-grained quantization by tiles (1 x 128 for activations, 128 x 128 for
 * weights, or one tile for the tensor) with a scale per tile; and a GEMM whose accumulator keeps only a few
 * mantissa bits and is promoted to an FP32 accumulator every N_C products, as V3 does on Hopper.
 *
 * Every value here is a float (FP32), whatever the engine's `real` is: the simulated hardware keeps its master
 * values, scales and promoted sums in FP32, so a double build must not change what is simulated.
 * Functions returning int give 0, or -1 with al_errorf's message naming the parameter at fault.
 * docs/LOWP.md has the formats' tables and the accumulation model's equation. */
#ifndef AL_LOWP_H
#define AL_LOWP_H
#include <stddef.h>
#include <stdint.h>

typedef enum { LOWP_FP32 = 0, LOWP_BF16, LOWP_E4M3, LOWP_E5M2, LOWP_FORMAT_COUNT } LowpFormat;

typedef struct LowpFormatInfo {
    const char *name;      /* "fp32", "bf16", "e4m3", "e5m2" */
    int exp_bits, man_bits; /* field widths (explicit mantissa bits) */
    int bias;
    int has_inf;           /* E4M3FN has no infinities: its S.1111.111 is NaN and the rest of 1111 is finite */
    int saturates;         /* lowp_round clamps overflow (and infinities) to +-max: the FP8 formats */
    int scaled;            /* quantization divides by a per-tile scale: the FP8 formats (BF16 has float's range) */
    float max;             /* largest finite value */
    float min_normal;      /* 2^(1 - bias) */
    float min_subnormal;   /* 2^(1 - bias - man_bits) */
} LowpFormatInfo;

const LowpFormatInfo *lowp_format_info(LowpFormat f);
const char *lowp_format_name(LowpFormat f);
/* "e4m3" | "e5m2" | "bf16" | "fp32" -> *out; -1 + a message listing the names */
int lowp_format_parse(const char *name, LowpFormat *out);

/* ---- conversions ----
 * Round to nearest, ties to even; subnormals exact; NaN stays NaN. The FP8 formats SATURATE: a finite value
 * beyond the largest, and +-inf, become +-max (448 for E4M3, 57344 for E5M2), as CUDA's __NV_SATFINITE
 * conversion does; that is the conversion scaled FP8 training uses, where an overflow is a scale that lagged
 * and a clipped value does less harm than an inf. BF16 rounds as IEEE does (overflow to inf). */
uint8_t lowp_fp8_encode(float x, LowpFormat f);   /* f: LOWP_E4M3 or LOWP_E5M2 only; NaN -> S.1111111 */
float lowp_fp8_decode(uint8_t code, LowpFormat f);
uint16_t lowp_bf16_encode(float x);              /* the upper 16 bits of the rounded float; NaN stays quiet NaN */
float lowp_bf16_decode(uint16_t code);
/* The representable value of f nearest x (LOWP_FP32: x itself). */
float lowp_round(float x, LowpFormat f);
/* y[i] = lowp_round(x[i], f); y may be x. */
void lowp_round_n(const float *x, float *y, size_t n, LowpFormat f);

/* ---- a float with fewer mantissa bits (a limited-precision accumulator) ----
 * x rounded to `bits` explicit mantissa bits (0..23; 23 and more: x unchanged), keeping float's exponent range:
 * below FLT_MIN the spacing stays 2^(-126 - bits), as such a format's subnormals would have. NEAREST_EVEN may
 * overflow to inf as IEEE rounding does; TOWARD_ZERO drops the bits (what an adder that shifts the smaller
 * operand out without guard bits does). Infinities and NaN pass unchanged. */
typedef enum { LOWP_NEAREST_EVEN = 0, LOWP_TOWARD_ZERO } LowpRounding;
float lowp_round_mantissa(float x, int bits, LowpRounding mode);

/* ---- fine-grained quantization ----
 * X is rows x cols, row-major; cols (K) is the reduction dimension of the GEMM it feeds. It is cut into tiles of
 * tr x tc (the last tile of a row or column of tiles may be smaller); a size of 0 means the whole dimension, so
 * (0, 0) is per-tensor scaling and (1, 128) V3's activations. Each tile t gets
 *     scale_t = amax_t / max_fmt      (amax_t = max |x| over the tile, from the current values; 1 when it is 0)
 *     q = round_fmt(x / scale_t)      (on fmt's grid, |q| <= max_fmt; stored as float, unscaled)
 * and x ~ q * scale_t. Scales are row-major over the grid of tiles: tile (r, c) at r * lowp_tile_cols + c.
 * Formats without `scaled` (BF16, FP32) get scale 1: they have float's exponent range. Inputs should be finite:
 * an inf makes its tile's scale inf (and its values NaN or 0). */
/* Checks the shape and tile sizes (errors name rows, cols, tile_rows, tile_cols) and gives the tile grid. */
int lowp_tile_grid(int rows, int cols, int tr, int tc, int *tile_rows_out, int *tile_cols_out);
/* q: rows * cols values; scales: one per tile (lowp_tile_grid's product). */
int lowp_quantize(const float *x, int rows, int cols, int tr, int tc, LowpFormat f, float *q, float *scales);
/* out = q * scale of its tile (out may be q). */
int lowp_dequantize(const float *q, const float *scales, int rows, int cols, int tr, int tc, float *out);
/* out = round_fmt(x / scale) * scale in one call, the fast path for fake quantization (out may be x);
 * scales may be NULL. */
int lowp_fake_quantize(const float *x, int rows, int cols, int tr, int tc, LowpFormat f, float *out, float *scales);

/* ---- the simulated FP8 GEMM: C (M x N) = A (M x K) . B (N x K)^T ----
 * Both operands come quantized: q on the format's grid and a scale per tile (B's tiles run over N and K, as a
 * weight of N outputs and K inputs is stored). Each output c_ij accumulates q_a q_b SEQUENTIALLY along k in a
 * low-precision accumulator, the product exact (an FP8 x FP8 product has at most 8 significant bits) and the
 * sum rounded to `bits` mantissa bits after every addition:
 *     p <- round_bits(p + q_a[i,k] q_b[j,k])
 * A chunk of k ends every `promote_every` elements (V3: N_C = 128), and also where either operand's tile along
 * K ends, since the scale changes there and the partial sum cannot be scaled by one number; at the end of a
 * chunk the partial sum is scaled and added to the FP32 accumulator, and reset:
 *     c_ij <- fma(p, s_a s_b, c_ij),   p <- 0
 * bits <= 0 or >= 23: full FP32 accumulation. promote_every <= 0: never promote (one chunk for all of K), which
 * needs a single scale along K in both operands (their tile width covers K); otherwise -1 + a message. */
typedef struct LowpOperand {
    const float *q;         /* rows x cols, row-major, values on the format's grid */
    const float *scales;    /* one per tile, as lowp_quantize writes them */
    int rows, cols;         /* A: M x K; B: N x K */
    int tile_rows, tile_cols; /* the tile the scales were computed over (0: the whole dimension) */
} LowpOperand;
typedef struct LowpAccum {
    int bits;               /* explicit mantissa bits of the accumulator (V3 on Hopper: "around 14") */
    int promote_every;      /* N_C; <= 0: never */
    LowpRounding rounding;  /* of the accumulator after each addition */
} LowpAccum;
int lowp_gemm(const LowpOperand *a, const LowpOperand *b, const LowpAccum *acc, float *c);
/* The same from unquantized A (M x K) and B (N x K): each is quantized to f by its tiles first. */
int lowp_gemm_quantize(const float *a, const float *b, int M, int N, int K, int a_tr, int a_tc, int b_tr, int b_tc,
                       LowpFormat f, const LowpAccum *acc, float *c);
#endif
