/* Low-precision formats, tile quantization and the simulated FP8 GEMM (core/lowp.h; docs/LOWP.md).
 * Rounding works on the float's bit pattern: adding half an ulp of the target (minus one, plus the kept lowest
 * bit) and clearing the dropped bits is round-to-nearest-even, with a carry into the exponent when the mantissa
 * overflows; that is a few integer operations per value, which the compiler vectorizes, and it is exact. */
#include "core/lowp.h"

#include <math.h>
#include <omp.h>
#include <string.h>

#include "core/common.h"

static const LowpFormatInfo FORMATS[LOWP_FORMAT_COUNT] = {
    [LOWP_FP32] = {"fp32", 8, 23, 127, 1, 0, 0, 0x1.fffffep127f, 0x1p-126f, 0x1p-149f},
    [LOWP_BF16] = {"bf16", 8, 7, 127, 1, 0, 0, 0x1.fep127f, 0x1p-126f, 0x1p-133f},
    [LOWP_E4M3] = {"e4m3", 4, 3, 7, 0, 1, 1, 448.0f, 0x1p-6f, 0x1p-9f},
    [LOWP_E5M2] = {"e5m2", 5, 2, 15, 1, 1, 1, 57344.0f, 0x1p-14f, 0x1p-16f},
};

const LowpFormatInfo *lowp_format_info(LowpFormat f) { return f >= 0 && f < LOWP_FORMAT_COUNT ? &FORMATS[f] : NULL; }
const char *lowp_format_name(LowpFormat f) { return f >= 0 && f < LOWP_FORMAT_COUNT ? FORMATS[f].name : "?"; }

int lowp_format_parse(const char *name, LowpFormat *out) {
    for (int f = 0; f < LOWP_FORMAT_COUNT; f++)
        if (name && !strcmp(name, FORMATS[f].name)) { *out = (LowpFormat)f; return 0; }
    return al_errorf("format: unknown format '%s' (known: e4m3, e5m2, bf16, fp32)", name ? name : "(null)");
}

/* the bit pattern of a float and back; memcpy is how C allows it, and compiles to nothing */
static inline uint32_t f2u(float x) { uint32_t u; memcpy(&u, &x, 4); return u; }
static inline float u2f(uint32_t u) { float x; memcpy(&x, &u, 4); return x; }

#define EXP_MASK 0x7f800000u

/* u rounded to nearest-even at bit `shift` (its lower bits cleared); 0 < shift < 32 */
static inline uint32_t rne_bits(uint32_t u, int shift) {
    return (u + ((1u << (shift - 1)) - 1) + ((u >> shift) & 1)) & ~((1u << shift) - 1);
}

/* x rounded to an FP8 format given by its mantissa bits M, smallest normal, largest value, and the constant
 * 2^(log2(min_subnormal) + 23) whose float ulp is the subnormal spacing: below the smallest normal the grid is
 * uniform, and (a + magic) - magic rounds a to it, ties to even, by the FPU's own rounding. The branches are
 * selects, so an array of these vectorizes. */
static inline float fp8_round(float x, int M, float min_normal, float magic, float max) {
    uint32_t u = f2u(x), ua = u & 0x7fffffffu;
    float a = u2f(ua);
    float r = a < min_normal ? (a + magic) - magic : u2f(rne_bits(ua, 23 - M));
    r = a >= max ? max : r; /* saturation: overflow and inf to max (CUDA's satfinite) */
    r = a != a ? a : r;     /* NaN stays NaN */
    return u2f(f2u(r) | (u & 0x80000000u));
}
static inline float e4m3_round(float x) { return fp8_round(x, 3, 0x1p-6f, 0x1p14f, 448.0f); }
static inline float e5m2_round(float x) { return fp8_round(x, 2, 0x1p-14f, 0x1p7f, 57344.0f); }

/* bf16 keeps float's exponent, so rounding the bit pattern at bit 16 is all of it, subnormals included; a NaN
 * keeps its sign and gets the quiet bit, so that it stays a NaN once its low payload bits are cut */
static inline float bf16_round(float x) {
    uint32_t u = f2u(x);
    return (u & 0x7fffffffu) > EXP_MASK ? u2f((u | 0x00400000u) & 0xffff0000u) : u2f(rne_bits(u, 16));
}

float lowp_round(float x, LowpFormat f) {
    switch (f) {
    case LOWP_E4M3: return e4m3_round(x);
    case LOWP_E5M2: return e5m2_round(x);
    case LOWP_BF16: return bf16_round(x);
    default: return x;
    }
}

void lowp_round_n(const float *x, float *y, size_t n, LowpFormat f) {
    switch (f) {
    case LOWP_E4M3: for (size_t i = 0; i < n; i++) y[i] = e4m3_round(x[i]); break;
    case LOWP_E5M2: for (size_t i = 0; i < n; i++) y[i] = e5m2_round(x[i]); break;
    case LOWP_BF16: for (size_t i = 0; i < n; i++) y[i] = bf16_round(x[i]); break;
    default: if (y != x) memmove(y, x, n * sizeof *x);
    }
}

uint8_t lowp_fp8_encode(float x, LowpFormat f) {
    AL_ASSERT(f == LOWP_E4M3 || f == LOWP_E5M2);
    const LowpFormatInfo *fi = &FORMATS[f];
    uint8_t sign = (f2u(x) >> 24) & 0x80;
    if (isnan(x)) return sign | 0x7f; /* S.1111.111 (E4M3), S.11111.11 (E5M2) */
    float r = fabsf(lowp_round(x, f));
    if (r < fi->min_normal) return sign | (uint8_t)(r / fi->min_subnormal); /* exact: r is k * min_subnormal */
    uint32_t u = f2u(r);
    int e = (int)(u >> 23) - 127 + fi->bias, m = (int)(u >> (23 - fi->man_bits)) & ((1 << fi->man_bits) - 1);
    return sign | (uint8_t)(e << fi->man_bits | m);
}

float lowp_fp8_decode(uint8_t code, LowpFormat f) {
    AL_ASSERT(f == LOWP_E4M3 || f == LOWP_E5M2);
    const LowpFormatInfo *fi = &FORMATS[f];
    int M = fi->man_bits, e = (code & 0x7f) >> M, m = code & ((1 << M) - 1), top = (1 << fi->exp_bits) - 1;
    float v;
    if (fi->has_inf && e == top) v = m ? NAN : INFINITY;
    else if (!fi->has_inf && e == top && m == (1 << M) - 1) v = NAN;
    else if (e == 0) v = ldexpf((float)m, 1 - fi->bias - M);
    else v = ldexpf((float)((1 << M) + m), e - fi->bias - M);
    return code & 0x80 ? -v : v;
}

uint16_t lowp_bf16_encode(float x) { return (uint16_t)(f2u(bf16_round(x)) >> 16); }
float lowp_bf16_decode(uint16_t code) { return u2f((uint32_t)code << 16); }

float lowp_round_mantissa(float x, int bits, LowpRounding mode) {
    if (bits >= 23) return x;
    int shift = 23 - (bits < 0 ? 0 : bits);
    uint32_t u = f2u(x);
    if ((u & EXP_MASK) == EXP_MASK) return x;
    return u2f(mode == LOWP_TOWARD_ZERO ? u & ~((1u << shift) - 1) : rne_bits(u, shift));
}

/* ---- tiles ---- */

/* a tile size as used: 0 (or more than the dimension) is the whole dimension */
static int tile_size(int t, int n) { return t == 0 || t > n ? n : t; }

int lowp_tile_grid(int rows, int cols, int tr, int tc, int *tile_rows_out, int *tile_cols_out) {
    if (rows <= 0) return al_errorf("rows: %d is not a size (at least 1)", rows);
    if (cols <= 0) return al_errorf("cols: %d is not a size (at least 1)", cols);
    if (tr < 0) return al_errorf("tile_rows: %d is negative (a size, or 0 for all the rows)", tr);
    if (tc < 0) return al_errorf("tile_cols: %d is negative (a size, or 0 for all the columns)", tc);
    tr = tile_size(tr, rows);
    tc = tile_size(tc, cols);
    if (tile_rows_out) *tile_rows_out = (rows + tr - 1) / tr;
    if (tile_cols_out) *tile_cols_out = (cols + tc - 1) / tc;
    return 0;
}

/* y = round_f(x / scale) * post over n values: post 1 gives q, post = scale the fake-quantized value. Formats
 * without scaling come here with scale 1, whose division is exact. */
static void scale_round(const float *x, float *y, int n, float scale, float post, LowpFormat f) {
    switch (f) {
    case LOWP_E4M3: for (int i = 0; i < n; i++) y[i] = e4m3_round(x[i] / scale) * post; break;
    case LOWP_E5M2: for (int i = 0; i < n; i++) y[i] = e5m2_round(x[i] / scale) * post; break;
    case LOWP_BF16: for (int i = 0; i < n; i++) y[i] = bf16_round(x[i]); break;
    default: if (y != x) memmove(y, x, (size_t)n * sizeof *x);
    }
}

/* one pass per tile: its amax, its scale, then its values (in place is safe: a tile is read before written) */
static int quantize_tiles(const float *x, int rows, int cols, int tr, int tc, LowpFormat f, float *out, float *scales,
                          int dequant) {
    const LowpFormatInfo *fi = lowp_format_info(f);
    if (!fi) return al_errorf("format: %d is not a format", (int)f);
    int ntr, ntc;
    if (lowp_tile_grid(rows, cols, tr, tc, &ntr, &ntc)) return -1;
    tr = tile_size(tr, rows);
    tc = tile_size(tc, cols);
    for (int bi = 0; bi < ntr; bi++) {
        int r0 = bi * tr, r1 = r0 + tr < rows ? r0 + tr : rows;
        for (int bj = 0; bj < ntc; bj++) {
            int c0 = bj * tc, w = (c0 + tc < cols ? c0 + tc : cols) - c0;
            float scale = 1;
            if (fi->scaled) {
                float amax = 0;
                for (int r = r0; r < r1; r++) {
                    const float *row = x + (size_t)r * cols + c0;
                    for (int c = 0; c < w; c++) { float a = fabsf(row[c]); amax = a > amax ? a : amax; }
                }
                if (amax > 0) scale = amax / fi->max;
            }
            if (scales) scales[(size_t)bi * ntc + bj] = scale;
            for (int r = r0; r < r1; r++)
                scale_round(x + (size_t)r * cols + c0, out + (size_t)r * cols + c0, w, scale, dequant ? scale : 1, f);
        }
    }
    return 0;
}

int lowp_quantize(const float *x, int rows, int cols, int tr, int tc, LowpFormat f, float *q, float *scales) {
    return quantize_tiles(x, rows, cols, tr, tc, f, q, scales, 0);
}

int lowp_fake_quantize(const float *x, int rows, int cols, int tr, int tc, LowpFormat f, float *out, float *scales) {
    return quantize_tiles(x, rows, cols, tr, tc, f, out, scales, 1);
}

int lowp_dequantize(const float *q, const float *scales, int rows, int cols, int tr, int tc, float *out) {
    int ntr, ntc;
    if (lowp_tile_grid(rows, cols, tr, tc, &ntr, &ntc)) return -1;
    tr = tile_size(tr, rows);
    tc = tile_size(tc, cols);
    for (int r = 0; r < rows; r++) {
        const float *s = scales + (size_t)(r / tr) * ntc;
        for (int c = 0; c < cols; c++) out[(size_t)r * cols + c] = q[(size_t)r * cols + c] * s[c / tc];
    }
    return 0;
}

/* ---- the GEMM ----
 * Loop order i, k, j: for one row of A and one chunk of k, a row of N low-precision accumulators takes
 * q_a[i,k] times row k of B^T (B transposed once, so that row is contiguous). Each step is an fma (the exact
 * product, one rounding, as the tensor core adds an exact FP8 product) and the accumulator's own rounding by
 * integer operations, all vectorized over j. fmaf is one instruction where the CPU has FMA (-march=native);
 * elsewhere it is a library call, slow but the same numbers. */

static void accum_full(float *restrict p, const float *restrict b, float qa, int n) {
    for (int j = 0; j < n; j++) p[j] = fmaf(qa, b[j], p[j]);
}
static void accum_nearest(float *restrict p, const float *restrict b, float qa, int n, int shift) {
    uint32_t add = (1u << (shift - 1)) - 1, keep = ~((1u << shift) - 1);
    for (int j = 0; j < n; j++) {
        float s = fmaf(qa, b[j], p[j]);
        uint32_t u = f2u(s), r = (u + add + ((u >> shift) & 1)) & keep;
        p[j] = (u & EXP_MASK) == EXP_MASK ? s : u2f(r);
    }
}
static void accum_toward_zero(float *restrict p, const float *restrict b, float qa, int n, int shift) {
    uint32_t keep = ~((1u << shift) - 1);
    for (int j = 0; j < n; j++) {
        float s = fmaf(qa, b[j], p[j]);
        uint32_t u = f2u(s);
        p[j] = (u & EXP_MASK) == EXP_MASK ? s : u2f(u & keep);
    }
}

/* the end of the chunk that starts at k0: the next multiple of the promotion interval or of either operand's
 * tile width along K, or K */
static int chunk_end(int k0, int K, int atc, int btc, int every) {
    int e = K, t = (k0 / atc + 1) * atc;
    if (t < e) e = t;
    t = (k0 / btc + 1) * btc;
    if (t < e) e = t;
    if (every > 0) {
        t = (k0 / every + 1) * every;
        if (t < e) e = t;
    }
    return e;
}

static int check_operand(const LowpOperand *o, const char *name, int *ntr, int *ntc) {
    if (!o || !o->q || !o->scales) return al_errorf("%s: no values or no scales", name);
    if (lowp_tile_grid(o->rows, o->cols, o->tile_rows, o->tile_cols, ntr, ntc))
        return al_errorf("%s: %s", name, al_error_message());
    return 0;
}

int lowp_gemm(const LowpOperand *a, const LowpOperand *b, const LowpAccum *acc, float *c) {
    int antr = 0, antc = 0, bntr = 0, bntc = 0;
    if (check_operand(a, "a", &antr, &antc) || check_operand(b, "b", &bntr, &bntc)) return -1;
    if (!acc || !c) return al_errorf("lowp_gemm: no accumulator options or no output");
    int M = a->rows, N = b->rows, K = a->cols;
    if (b->cols != K) return al_errorf("b: %d columns where a has K = %d (b is N x K: C = a b^T)", b->cols, K);
    int atr = tile_size(a->tile_rows, M), atc = tile_size(a->tile_cols, K);
    int btr = tile_size(b->tile_rows, N), btc = tile_size(b->tile_cols, K);
    int every = acc->promote_every;
    if (every <= 0 && (atc < K || btc < K))
        return al_errorf("promote_every: %d (never promote) needs one scale along K in both operands, but a's tiles are "
                         "%d and b's %d wide for K = %d: promote at least at every tile boundary, or scale per tensor "
                         "or per row", every, atc, btc, K);
    if (acc->rounding != LOWP_NEAREST_EVEN && acc->rounding != LOWP_TOWARD_ZERO)
        return al_errorf("rounding: %d is not a rounding mode", (int)acc->rounding);
    int full = acc->bits <= 0 || acc->bits >= 23, shift = full ? 0 : 23 - acc->bits;

    int nth = omp_get_max_threads();
    float *bt = al_calloc((size_t)K * N, sizeof *bt, "the transposed B of lowp_gemm");
    float *sbt = bt ? al_calloc((size_t)bntc * N, sizeof *sbt, "the scales of lowp_gemm") : NULL;
    float *work = sbt ? al_calloc((size_t)nth * N, sizeof *work, "the accumulators of lowp_gemm") : NULL;
    if (!work) { al_free(bt); al_free(sbt); return -1; }
    for (int j = 0; j < N; j++)
        for (int k = 0; k < K; k++) bt[(size_t)k * N + j] = b->q[(size_t)j * K + k];
    /* B's scale for output j in K-tile kt, as a row over j so the promotion is a vector loop too */
    for (int kt = 0; kt < bntc; kt++)
        for (int j = 0; j < N; j++) sbt[(size_t)kt * N + j] = b->scales[(size_t)(j / btr) * bntc + kt];

#pragma omp parallel for schedule(static) if ((size_t)M * N * K > 1000000)
    for (int i = 0; i < M; i++) {
        float *p = work + (size_t)omp_get_thread_num() * N, *out = c + (size_t)i * N;
        const float *qa = a->q + (size_t)i * K;
        memset(out, 0, (size_t)N * sizeof *out);
        for (int k0 = 0; k0 < K;) {
            int k1 = chunk_end(k0, K, atc, btc, every);
            memset(p, 0, (size_t)N * sizeof *p);
            for (int k = k0; k < k1; k++) {
                const float *row = bt + (size_t)k * N;
                if (full) accum_full(p, row, qa[k], N);
                else if (acc->rounding == LOWP_TOWARD_ZERO) accum_toward_zero(p, row, qa[k], N, shift);
                else accum_nearest(p, row, qa[k], N, shift);
            }
            float sa = a->scales[(size_t)(i / atr) * antc + k0 / atc];
            const float *sb = sbt + (size_t)(k0 / btc) * N;
            for (int j = 0; j < N; j++) out[j] = fmaf(p[j], sa * sb[j], out[j]);
            k0 = k1;
        }
    }
    al_free(work);
    al_free(sbt);
    al_free(bt);
    return 0;
}

int lowp_gemm_quantize(const float *a, const float *b, int M, int N, int K, int a_tr, int a_tc, int b_tr, int b_tc,
                       LowpFormat f, const LowpAccum *acc, float *c) {
    int antr = 0, antc = 0, bntr = 0, bntc = 0;
    if (lowp_tile_grid(M, K, a_tr, a_tc, &antr, &antc)) return al_errorf("a: %s", al_error_message());
    if (lowp_tile_grid(N, K, b_tr, b_tc, &bntr, &bntc)) return al_errorf("b: %s", al_error_message());
    float *qa = al_calloc((size_t)M * K, sizeof *qa, "lowp_gemm's quantized a");
    float *qb = qa ? al_calloc((size_t)N * K, sizeof *qb, "lowp_gemm's quantized b") : NULL;
    float *sa = qb ? al_calloc((size_t)antr * antc, sizeof *sa, "lowp_gemm's scales of a") : NULL;
    float *sb = sa ? al_calloc((size_t)bntr * bntc, sizeof *sb, "lowp_gemm's scales of b") : NULL;
    int rc = -1;
    if (sb && !lowp_quantize(a, M, K, a_tr, a_tc, f, qa, sa) && !lowp_quantize(b, N, K, b_tr, b_tc, f, qb, sb)) {
        LowpOperand oa = {qa, sa, M, K, a_tr, a_tc}, ob = {qb, sb, N, K, b_tr, b_tc};
        rc = lowp_gemm(&oa, &ob, acc, c);
    }
    al_free(sb);
    al_free(sa);
    al_free(qb);
    al_free(qa);
    return rc;
}
