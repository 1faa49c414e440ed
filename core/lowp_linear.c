#include "core/lowp_linear.h"

#include <string.h>

int lowp_linear_init(LowpLinear *p, const char *precision, const char *scaling, int accum_bits, int promote_every,
                     const char *accum_round) {
    memset(p, 0, sizeof *p);
    if (!strcmp(precision, "fp32")) return 0;
    if (!strcmp(precision, "fp8")) p->format = LOWP_E4M3;
    else if (!strcmp(precision, "bf16")) p->format = LOWP_BF16;
    else return al_errorf("field 'precision' = \"%s\" is not one of fp32|bf16|fp8", precision);
    if (!strcmp(scaling, "tile")) p->act_tile = p->weight_tile = 128;
    else if (strcmp(scaling, "tensor")) return al_errorf("field 'fp8_scaling' = \"%s\" is not one of tile|tensor", scaling);
    if (accum_bits == -1) accum_bits = p->format == LOWP_E4M3 ? 14 : 0; /* V3's Hopper figure; BF16's full fp32 */
    if (accum_bits < 0 || accum_bits > 23)
        return al_errorf("field 'accum_bits' = %d is out of range [0, 23] (0: full float32 accumulation)", accum_bits);
    if (promote_every < 0) return al_errorf("field 'promote_every' = %d must be >= 0 (0: never)", promote_every);
    if (promote_every == 0 && p->act_tile)
        return al_errorf("field 'promote_every' = 0 (never promote) needs fp8_scaling = \"tensor\": tile scales change "
                         "every 128 elements, where the partial sum must be scaled");
    p->acc.bits = accum_bits;
    p->acc.promote_every = promote_every;
    if (!strcmp(accum_round, "nearest")) p->acc.rounding = LOWP_NEAREST_EVEN;
    else if (!strcmp(accum_round, "toward_zero")) p->acc.rounding = LOWP_TOWARD_ZERO;
    else return al_errorf("field 'accum_round' = \"%s\" is not one of nearest|toward_zero", accum_round);
    return 0;
}

void lowp_linear_free(LowpLinear *p) {
    al_free(p->buf);
    memset(p, 0, sizeof *p);
}

/* the workspace: two operands (values, quantized values, scales) and the product */
static float *workspace(LowpLinear *p, size_t n) {
    if (n > p->cap) {
        al_free(p->buf);
        p->buf = al_calloc(n, sizeof(float), "the low-precision linear layer's workspace");
        AL_ASSERT(p->buf); /* a few activations' worth; the model's own planning checked far larger */
        p->cap = n;
    }
    return p->buf;
}

/* x (rows, cols) as float, transposed when asked, into dst */
static void to_float(float *dst, const real *x, int rows, int cols, int transpose) {
    if (!transpose) {
        for (size_t i = 0; i < (size_t)rows * cols; i++) dst[i] = (float)x[i];
        return;
    }
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) dst[(size_t)c * rows + r] = (float)x[(size_t)r * cols + c];
}

static size_t n_tiles(int rows, int cols, int tr, int tc) {
    int a, b;
    AL_ASSERT(lowp_tile_grid(rows, cols, tr, tc, &a, &b) == 0);
    return (size_t)a * b;
}

/* C(M,N) = A(M,K) B(N,K)^T simulated; A by activation tiles (1 x act_tile), B by `b_tr x b_tc`; c gets it */
static void gemm(LowpLinear *p, float *c, const float *a, const float *b, int M, int N, int K, int b_tr, int b_tc,
                 float *qa, float *sa, float *qb, float *sb) {
    int a_tr = p->act_tile ? 1 : 0, a_tc = p->act_tile;
    AL_ASSERT(lowp_quantize(a, M, K, a_tr, a_tc, p->format, qa, sa) == 0);
    AL_ASSERT(lowp_quantize(b, N, K, b_tr, b_tc, p->format, qb, sb) == 0);
    LowpOperand A = {qa, sa, M, K, a_tr, a_tc}, B = {qb, sb, N, K, b_tr, b_tc};
    AL_ASSERT(lowp_gemm(&A, &B, &p->acc, c) == 0); /* shapes and options were checked by lowp_linear_init */
    p->gemms++;
    p->macs += (double)M * N * K;
}

/* room for operands of M x K and N x K and a product M x N */
static float *slots(LowpLinear *p, int M, int N, int K, int b_tr, int b_tc, float **a, float **qa, float **sa,
                    float **b, float **qb, float **sb) {
    int a_tr = p->act_tile ? 1 : 0;
    size_t na = (size_t)M * K, nb = (size_t)N * K, nsa = n_tiles(M, K, a_tr, p->act_tile), nsb = n_tiles(N, K, b_tr, b_tc);
    float *w = workspace(p, 2 * na + 2 * nb + nsa + nsb + (size_t)M * N);
    *a = w; *qa = *a + na; *b = *qa + na; *qb = *b + nb; *sa = *qb + nb; *sb = *sa + nsa;
    return *sb + nsb;
}

void lowp_linear_forward(LowpLinear *p, real *out, const real *inp, const real *w, int N, int IC, int OC) {
    float *a, *qa, *sa, *b, *qb, *sb;
    int wt = p->weight_tile;
    float *c = slots(p, N, OC, IC, wt, wt, &a, &qa, &sa, &b, &qb, &sb);
    to_float(a, inp, N, IC, 0);
    to_float(b, w, OC, IC, 0);
    gemm(p, c, a, b, N, OC, IC, wt, wt, qa, sa, qb, sb);
    for (size_t i = 0; i < (size_t)N * OC; i++) out[i] = (real)c[i];
}

void lowp_linear_backward(LowpLinear *p, real *dinp, real *dw, const real *dout, const real *inp, const real *w, int N,
                          int IC, int OC) {
    float *a, *qa, *sa, *b, *qb, *sb, *c;
    int wt = p->weight_tile;
    if (dinp) { /* Dgrad: dx (N, IC) = dy (N, OC) . (W^T (IC, OC))^T; W^T's blocks are W's blocks transposed */
        c = slots(p, N, IC, OC, wt, wt, &a, &qa, &sa, &b, &qb, &sb);
        to_float(a, dout, N, OC, 0);
        to_float(b, w, OC, IC, 1);
        gemm(p, c, a, b, N, IC, OC, wt, wt, qa, sa, qb, sb);
        for (size_t i = 0; i < (size_t)N * IC; i++) dinp[i] += (real)c[i];
    }
    /* Wgrad: dW (OC, IC) = dy^T (OC, N) . (x^T (IC, N))^T, both by activation tiles along the tokens */
    int at = p->act_tile ? 1 : 0;
    c = slots(p, OC, IC, N, at, p->act_tile, &a, &qa, &sa, &b, &qb, &sb);
    to_float(a, dout, N, OC, 1);
    to_float(b, inp, N, IC, 1);
    gemm(p, c, a, b, OC, IC, N, at, p->act_tile, qa, sa, qb, sb);
    for (size_t i = 0; i < (size_t)OC * IC; i++) dw[i] += (real)c[i];
}
