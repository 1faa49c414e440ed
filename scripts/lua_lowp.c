/* archlab.lowp: DeepSeek-V3's FP8 numerics simulated on the CPU (core/lowp.h, docs/LOWP.md), on tensors:
 *   archlab.lowp.round(t, "e4m3")                      each element to the nearest value of the format
 *   archlab.lowp.quantize(t, { format =, tile = })      fine-grained quantization -> dequantized, scales, q
 *   archlab.lowp.matmul(a, b, { format =, tile_a =, tile_b =, accum_bits =, promote_every =, accum_round = })
 * Values pass through float32, the simulated hardware's master precision; round and quantize return their
 * input's dtype (every value they make is a float32 exactly), matmul float32 (the FP32 accumulator's). */
#include "scripts/lua_lowp.h"

#include <lauxlib.h>
#include <limits.h>
#include <string.h>

#include "arch/config.h" /* closest_word */
#include "core/common.h"
#include "core/lowp.h"
#include "core/tensor.h"
#include "scripts/lua_opts.h"
#include "scripts/lua_tensor.h"

#define FORMAT_HELP "\"e4m3\" (V3's for every tensor), \"e5m2\" (wider range, fewer bits), \"bf16\" or \"fp32\""
#define TILE_HELP "{rows, cols} of the tiles that share one scale (0: the whole dimension), or \"tensor\": one scale"

static const FnSpec ROUND = {"archlab.lowp.round", "archlab.lowp.round(t, format) -> tensor",
                             "each element to the nearest value of format, " FORMAT_HELP ": ties to even, subnormals "
                             "exact, FP8 saturating at +-max (CUDA's satfinite), NaN kept", NULL};

static const OptSpec QUANTIZE_OPTS[] = {
    {"format", OPT_STRING, 0, 0, "\"e4m3\"", FORMAT_HELP},
    {"tile", OPT_ANY, 0, 0, "{1, 128}", TILE_HELP "; V3: {1, 128} for activations, {128, 128} for weights"},
    {NULL},
};
static const FnSpec QUANTIZE = {"archlab.lowp.quantize", "archlab.lowp.quantize(t, { format =, tile = }) -> dequantized, scales, q",
                                "fine-grained quantization of a 1-D or 2-D tensor (its last dimension is K): per tile, "
                                "scale = amax / max of the format, q = round(x / scale); returns q * scale, the scales "
                                "(one per tile, rows of tiles by columns of tiles) and q", QUANTIZE_OPTS};

static const OptSpec MATMUL_OPTS[] = {
    {"format", OPT_STRING, 0, 0, "\"e4m3\"", FORMAT_HELP},
    {"tile_a", OPT_ANY, 0, 0, "{1, 128}", "a's tiles over (M, K): " TILE_HELP},
    {"tile_b", OPT_ANY, 0, 0, "{128, 128}", "b's tiles over (N, K): " TILE_HELP},
    {"accum_bits", OPT_INT, 0, 23, "14", "mantissa bits the accumulator keeps after each addition (0 or 23: fp32)"},
    {"promote_every", OPT_INT, 0, 1 << 30, "128", "N_C: products between promotions to the FP32 accumulator (0: never; "
                                                  "a chunk also ends where a tile along K ends)"},
    {"accum_round", OPT_STRING, 0, 0, "\"nearest\"", "the accumulator's rounding: \"nearest\" (even) or \"toward_zero\""},
    {NULL},
};
static const FnSpec MATMUL = {"archlab.lowp.matmul", "archlab.lowp.matmul(a, b, { format =, tile_a =, tile_b =, accum_bits =, promote_every =, accum_round = }) -> c",
                              "c = a b^T for a (M, K) and b (N, K) as V3's FP8 GEMM: both quantized by tiles, products "
                              "summed along K in a low-precision accumulator promoted to FP32 every promote_every",
                              MATMUL_OPTS};

static const char *const FORMAT_NAMES[] = {"e4m3", "e5m2", "bf16", "fp32"};

/* `what` names where the name came from: "field 'format'", "argument 2 (format)" */
static LowpFormat format_of(lua_State *L, const char *s, const char *fn, const char *what) {
    LowpFormat f;
    if (!lowp_format_parse(s, &f)) return f;
    const char *near = closest_word(s, FORMAT_NAMES, 4);
    if (near) luaL_error(L, "%s: %s: '%s' is not a format (did you mean '%s'?)", fn, what, s, near);
    return (LowpFormat)luaL_error(L, "%s: %s: '%s' is not a format (e4m3, e5m2, bf16, fp32)", fn, what, s);
}

/* The options table at idx (0 when absent). A table in the last argument is checked before anything else, so
 * an unknown key is named even when the positional arguments are wrong too. */
static int opts_arg(lua_State *L, int idx, const FnSpec *fn) {
    int top = lua_gettop(L);
    if (top >= 1 && lua_type(L, top) == LUA_TTABLE) opts_check(L, top, fn);
    if (lua_isnoneornil(L, idx)) return 0;
    if (lua_type(L, idx) != LUA_TTABLE) luaL_error(L, "%s: argument %d must be a table of options, got %s", fn->name, idx, luaL_typename(L, idx));
    return idx;
}

static LowpFormat format_opt(lua_State *L, int oi, const FnSpec *fn) {
    char buf[32] = "e4m3";
    if (oi) spec_str(L, oi, fn, "format", buf, sizeof buf);
    return format_of(L, buf, fn->name, "field 'format'");
}

/* a tile option: {rows, cols} (each >= 0, 0 the whole dimension) or "tensor" (0, 0) */
static void tile_opt(lua_State *L, int oi, const char *fn, const char *key, int *tr, int *tc) {
    int t = oi ? lua_getfield(L, oi, key) : (lua_pushnil(L), LUA_TNIL);
    if (t == LUA_TSTRING && !strcmp(lua_tostring(L, -1), "tensor")) {
        *tr = *tc = 0;
    } else if (t == LUA_TTABLE && luaL_len(L, -1) == 2) {
        for (int d = 0; d < 2; d++) {
            lua_geti(L, -1, d + 1);
            int ok;
            lua_Integer v = lua_tointegerx(L, -1, &ok);
            if (!ok || v < 0 || v > INT_MAX)
                luaL_error(L, "%s: field '%s'[%d] must be a tile size (an integer >= 0; 0 is the whole dimension)", fn, key, d + 1);
            if (d) *tc = (int)v;
            else *tr = (int)v;
            lua_pop(L, 1);
        }
    } else if (t != LUA_TNIL) {
        luaL_error(L, "%s: field '%s' must be {rows, cols} or \"tensor\", got %s", fn, key,
                   t == LUA_TSTRING ? lua_tostring(L, -1) : luaL_typename(L, -1));
    }
    lua_pop(L, 1);
}

static Tensor *tensor_arg(lua_State *L, int idx, const char *fn, const char *what) {
    Tensor *t = lua_tensor_test(L, idx);
    if (!t) luaL_error(L, "%s: %s must be a tensor, got %s", fn, what, luaL_typename(L, idx));
    return t;
}

/* a contiguous float32 copy of t, pushed (so an error frees it); its data */
static float *push_f32(lua_State *L, const Tensor *t, const char *fn) {
    Tensor c;
    if (tensor_astype(t, TENSOR_F32, &c)) opts_raise_engine_error(L, fn);
    lua_tensor_push(L, &c);
    return tensor_data(lua_tensor_check(L, -1));
}

/* the float32 tensor on top of the stack, replaced by a copy in dtype dt when that differs */
static void top_as(lua_State *L, TensorDtype dt, const char *fn) {
    if (dt == TENSOR_F32) return;
    Tensor c;
    if (tensor_astype(lua_tensor_check(L, -1), dt, &c)) opts_raise_engine_error(L, fn);
    lua_pop(L, 1);
    lua_tensor_push(L, &c);
}

/* rows and columns of a 1-D (one row) or 2-D tensor, each a positive int */
static void matrix_shape(lua_State *L, const Tensor *t, const char *fn, const char *what, int one_d, int *rows, int *cols) {
    if (t->ndim != 2 && !(one_d && t->ndim == 1))
        luaL_error(L, "%s: %s must have %s dimensions, not %d", fn, what, one_d ? "1 or 2" : "2", t->ndim);
    int64_t r = t->ndim == 2 ? t->shape[0] : 1, c = t->shape[t->ndim - 1];
    if (r < 1 || c < 1 || r > INT_MAX || c > INT_MAX)
        luaL_error(L, "%s: %s has shape (%d, %d): each size from 1 to 2^31 - 1", fn, what, (int)r, (int)c);
    *rows = (int)r;
    *cols = (int)c;
}

static int l_round(lua_State *L) {
    const char *fn = ROUND.name;
    Tensor *t = tensor_arg(L, 1, fn, "argument 1");
    if (lua_type(L, 2) != LUA_TSTRING)
        return luaL_error(L, "%s: argument 2 (format) must be a string, " FORMAT_HELP ", got %s", fn, luaL_typename(L, 2));
    LowpFormat f = format_of(L, lua_tostring(L, 2), fn, "argument 2 (format)");
    float *x = push_f32(L, t, fn);
    lowp_round_n(x, x, (size_t)tensor_numel(t), f);
    top_as(L, t->dtype, fn);
    return 1;
}

static int l_quantize(lua_State *L) {
    const char *fn = QUANTIZE.name;
    int oi = opts_arg(L, 2, &QUANTIZE);
    Tensor *t = tensor_arg(L, 1, fn, "argument 1");
    LowpFormat f = format_opt(L, oi, &QUANTIZE);
    int tr = 1, tc = 128, rows, cols, ntr, ntc;
    tile_opt(L, oi, fn, "tile", &tr, &tc);
    matrix_shape(L, t, fn, "the tensor", 1, &rows, &cols);
    if (lowp_tile_grid(rows, cols, tr, tc, &ntr, &ntc)) return opts_raise_engine_error(L, fn);
    float *x = push_f32(L, t, fn); /* becomes q */
    int xi = lua_gettop(L);
    Tensor s;
    int64_t grid[2] = {ntr, ntc};
    if (tensor_new(&s, TENSOR_F32, t->ndim, t->ndim == 2 ? grid : grid + 1)) return opts_raise_engine_error(L, fn);
    lua_tensor_push(L, &s);
    float *scales = tensor_data(lua_tensor_check(L, -1));
    if (lowp_quantize(x, rows, cols, tr, tc, f, x, scales)) return opts_raise_engine_error(L, fn);
    Tensor d;
    if (tensor_new(&d, TENSOR_F32, t->ndim, t->shape)) return opts_raise_engine_error(L, fn);
    lua_tensor_push(L, &d);
    if (lowp_dequantize(x, scales, rows, cols, tr, tc, tensor_data(lua_tensor_check(L, -1)))) return opts_raise_engine_error(L, fn);
    top_as(L, t->dtype, fn);   /* dequantized */
    lua_pushvalue(L, xi + 1);  /* scales */
    lua_pushvalue(L, xi);      /* q */
    top_as(L, t->dtype, fn);
    return 3;
}

static int l_matmul(lua_State *L) {
    const char *fn = MATMUL.name;
    int oi = opts_arg(L, 3, &MATMUL);
    Tensor *a = tensor_arg(L, 1, fn, "a (argument 1)"), *b = tensor_arg(L, 2, fn, "b (argument 2)");
    LowpFormat f = format_opt(L, oi, &MATMUL);
    int atr = 1, atc = 128, btr = 128, btc = 128, M, K, N, Kb;
    tile_opt(L, oi, fn, "tile_a", &atr, &atc);
    tile_opt(L, oi, fn, "tile_b", &btr, &btc);
    LowpAccum acc = {14, 128, LOWP_NEAREST_EVEN};
    if (oi) {
        acc.bits = spec_int(L, oi, &MATMUL, "accum_bits", 14);
        acc.promote_every = spec_int(L, oi, &MATMUL, "promote_every", 128);
        char r[32] = "nearest";
        spec_str(L, oi, &MATMUL, "accum_round", r, sizeof r);
        if (!strcmp(r, "toward_zero")) acc.rounding = LOWP_TOWARD_ZERO;
        else if (strcmp(r, "nearest")) return luaL_error(L, "%s: field 'accum_round' must be \"nearest\" or \"toward_zero\", got '%s'", fn, r);
    }
    matrix_shape(L, a, fn, "a", 0, &M, &K);
    matrix_shape(L, b, fn, "b", 0, &N, &Kb);
    if (Kb != K) return luaL_error(L, "%s: b is (%d, %d) where a is (%d, %d): both hold K along their rows (c = a b^T)", fn, N, Kb, M, K);
    float *x = push_f32(L, a, fn), *y = push_f32(L, b, fn);
    Tensor c;
    int64_t shape[2] = {M, N};
    if (tensor_new(&c, TENSOR_F32, 2, shape)) return opts_raise_engine_error(L, fn);
    lua_tensor_push(L, &c);
    if (lowp_gemm_quantize(x, y, M, N, K, atr, atc, btr, btc, f, &acc, tensor_data(lua_tensor_check(L, -1))))
        return opts_raise_engine_error(L, fn);
    return 1;
}

void bridge_open_lowp(lua_State *L) {
    opts_register(&ROUND);
    opts_register(&QUANTIZE);
    opts_register(&MATMUL);
    static const luaL_Reg fns[] = {{"round", l_round}, {"quantize", l_quantize}, {"matmul", l_matmul}, {NULL, NULL}};
    luaL_newlib(L, fns);
    lua_setfield(L, -2, "lowp");
}
