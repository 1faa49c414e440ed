/* archlab.tensor: core/tensor.h for Lua scripts. A tensor is a userdata holding a strided view; indexing counts
 * from 1 like Lua (and from the end with negative numbers), so t[{1, 2}] is NumPy's t[0, 1]:
 *   t[{i, j}]            the element (all indices given) or a view (fewer): t[{1}] is the first row
 *   t[{i, {a, b}}]       a range, both ends included; {a} runs to the end, {} is the whole dimension
 *   t[{i, j}] = v        sets one element
 * Views (indexing, t:T(), t:transpose) share the tensor's storage, so writing through one shows in the other;
 * every other operation returns a new tensor. Errors name the function and what is wrong. */
#include <lauxlib.h>
#include <lua.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "core/safetensors.h"
#include "core/tensor.h"
#include "scripts/bridge.h"
#include "scripts/lua_opts.h"
#include "scripts/lua_tensor.h"

#define TENSOR_MT "archlab.Tensor"

typedef struct LTensor { Tensor t; } LTensor;

Tensor *lua_tensor_check(lua_State *L, int idx) {
    LTensor *lt = luaL_checkudata(L, idx, TENSOR_MT);
    if (!lt->t.st) luaL_error(L, "the tensor was freed");
    return &lt->t;
}

Tensor *lua_tensor_test(lua_State *L, int idx) {
    LTensor *lt = luaL_testudata(L, idx, TENSOR_MT);
    return lt && lt->t.st ? &lt->t : NULL;
}

void lua_tensor_push(lua_State *L, Tensor *t) {
    LTensor *lt = lua_newuserdatauv(L, sizeof *lt, 0);
    lt->t = *t;
    memset(t, 0, sizeof *t);
    luaL_setmetatable(L, TENSOR_MT);
}

static int raise(lua_State *L, const char *fn) { return luaL_error(L, "%s: %s", fn, al_error_message()); }

static TensorDtype dtype_arg(lua_State *L, int idx, const char *fn) {
    if (lua_isnoneornil(L, idx)) return TENSOR_F32;
    const char *s = luaL_checkstring(L, idx);
    if (!strcmp(s, "f32") || !strcmp(s, "float32")) return TENSOR_F32;
    if (!strcmp(s, "f64") || !strcmp(s, "float64")) return TENSOR_F64;
    return (TensorDtype)luaL_error(L, "%s: dtype '%s' is not \"f32\" or \"f64\"", fn, s);
}

/* a shape given as a table of sizes or as the arguments from idx on */
static int shape_arg(lua_State *L, int idx, const char *fn, int64_t *shape) {
    int n;
    if (lua_istable(L, idx)) {
        n = (int)luaL_len(L, idx);
        if (n > TENSOR_MAX_DIMS) luaL_error(L, "%s: %d dimensions (at most %d)", fn, n, TENSOR_MAX_DIMS);
        for (int d = 0; d < n; d++) {
            lua_geti(L, idx, d + 1);
            int ok;
            lua_Integer v = lua_tointegerx(L, -1, &ok);
            if (!ok || v < -1) luaL_error(L, "%s: shape[%d] must be a size (an integer >= 0; -1 to infer, in reshape), got %s", fn, d + 1, luaL_tolstring(L, -1, NULL));
            shape[d] = v;
            lua_pop(L, 1);
        }
        return n;
    }
    n = 0;
    for (int a = idx; !lua_isnoneornil(L, a) && lua_type(L, a) == LUA_TNUMBER; a++) {
        if (n == TENSOR_MAX_DIMS) luaL_error(L, "%s: more than %d dimensions", fn, TENSOR_MAX_DIMS);
        int ok;
        lua_Integer v = lua_tointegerx(L, a, &ok);
        if (!ok || v < -1) luaL_error(L, "%s: size %d must be an integer", fn, n + 1);
        shape[n++] = v;
    }
    return n;
}

/* ---- archlab.tensor.from(table) ---- */

static void from_shape(lua_State *L, int idx, int64_t *shape, int *nd) {
    *nd = 0;
    lua_pushvalue(L, idx);
    while (lua_istable(L, -1)) {
        if (*nd == TENSOR_MAX_DIMS) luaL_error(L, "archlab.tensor.from: nested deeper than %d", TENSOR_MAX_DIMS);
        shape[(*nd)++] = (int64_t)luaL_len(L, -1);
        if (luaL_len(L, -1) == 0) break;
        lua_geti(L, -1, 1);
        lua_remove(L, -2);
    }
    lua_pop(L, 1);
}

static void from_fill(lua_State *L, int idx, const int64_t *shape, int nd, int d, double *out, int64_t *k, char *path, size_t plen) {
    if (d == nd) {
        int ok;
        double v = lua_tonumberx(L, idx, &ok);
        if (!ok || lua_type(L, idx) != LUA_TNUMBER)
            luaL_error(L, "archlab.tensor.from: %s is a %s, not a number", *path ? path : "the value", luaL_typename(L, idx));
        out[(*k)++] = v;
        return;
    }
    if (!lua_istable(L, idx))
        luaL_error(L, "archlab.tensor.from: %s is a %s where a list of %d was expected (ragged nesting)", *path ? path : "the value",
                   luaL_typename(L, idx), (int)shape[d]);
    if ((int64_t)luaL_len(L, idx) != shape[d])
        luaL_error(L, "archlab.tensor.from: %s has %d entries where the first has %d (ragged nesting)", *path ? path : "the table",
                   (int)luaL_len(L, idx), (int)shape[d]);
    size_t at = strlen(path);
    for (int64_t i = 0; i < shape[d]; i++) {
        snprintf(path + at, plen - at, "[%lld]", (long long)i + 1);
        lua_geti(L, idx, i + 1);
        from_fill(L, lua_gettop(L), shape, nd, d + 1, out, k, path, plen);
        lua_pop(L, 1);
    }
    path[at] = 0;
}

static int l_from(lua_State *L) {
    TensorDtype dt = dtype_arg(L, 2, "archlab.tensor.from");
    if (lua_type(L, 1) == LUA_TNUMBER) {
        double v = lua_tonumber(L, 1);
        Tensor t;
        if (tensor_from_doubles(&t, dt, 0, NULL, &v, 1)) return raise(L, "archlab.tensor.from");
        lua_tensor_push(L, &t);
        return 1;
    }
    luaL_checktype(L, 1, LUA_TTABLE);
    int64_t shape[TENSOR_MAX_DIMS];
    int nd;
    from_shape(L, 1, shape, &nd);
    Tensor t;
    if (tensor_new(&t, TENSOR_F64, nd, shape)) return raise(L, "archlab.tensor.from");
    lua_tensor_push(L, &t); /* anchored: an error below frees it */
    Tensor *tp = lua_tensor_check(L, -1);
    char path[256] = "";
    int64_t k = 0;
    from_fill(L, 1, shape, nd, 0, tensor_data(tp), &k, path, sizeof path);
    if (dt == TENSOR_F32) {
        Tensor f;
        if (tensor_astype(tp, TENSOR_F32, &f)) return raise(L, "archlab.tensor.from");
        lua_tensor_push(L, &f);
    }
    return 1;
}

static int filled(lua_State *L, const char *fn, double v) {
    int64_t shape[TENSOR_MAX_DIMS];
    int nd = shape_arg(L, 1, fn, shape);
    int di = lua_istable(L, 1) ? 2 : nd + 1;
    Tensor t;
    if (tensor_new(&t, dtype_arg(L, di, fn), nd, shape)) return raise(L, fn);
    lua_tensor_push(L, &t);
    if (v != 0) {
        Tensor r;
        if (tensor_scalar_op(lua_tensor_check(L, -1), v, TENSOR_ADD, 0, &r)) return raise(L, fn);
        lua_tensor_push(L, &r);
    }
    return 1;
}
static int l_zeros(lua_State *L) { return filled(L, "archlab.tensor.zeros", 0); }
static int l_ones(lua_State *L) { return filled(L, "archlab.tensor.ones", 1); }

static int l_arange(lua_State *L) {
    lua_Integer n = luaL_checkinteger(L, 1);
    if (n < 0 || n > ((lua_Integer)1 << 32)) return luaL_error(L, "archlab.tensor.arange: %d is not a count", (int)n);
    int64_t shape[1] = {n};
    Tensor t;
    if (tensor_new(&t, dtype_arg(L, 2, "archlab.tensor.arange"), 1, shape)) return raise(L, "archlab.tensor.arange");
    for (int64_t i = 0; i < n; i++) tensor_set(&t, &i, (double)i);
    lua_tensor_push(L, &t);
    return 1;
}

/* ---- files ---- */

static int l_load(lua_State *L) {
    const char *fn = "archlab.tensor.load", *path = luaL_checkstring(L, 1);
    if (bridge_ends_with(path, ".npy")) {
        Tensor t;
        if (tensor_load_npy(path, &t)) return raise(L, fn);
        lua_tensor_push(L, &t);
        return 1;
    }
    if (!bridge_ends_with(path, ".safetensors")) return luaL_error(L, "%s: '%s' is not a .npy or .safetensors file", fn, path);
    StFile f;
    if (st_read(&f, path)) return raise(L, fn);
    lua_createtable(L, 0, f.n);
    for (int i = 0; i < f.n; i++) {
        const StTensor *s = &f.t[i];
        TensorDtype dt;
        if (!strcmp(s->dtype, "F32")) dt = TENSOR_F32;
        else if (!strcmp(s->dtype, "F64")) dt = TENSOR_F64;
        else {
            luaL_where(L, 1); /* "script.lua:LINE: ", as luaL_error gives */
            lua_pushfstring(L, "%s: %s: tensor '%s' is %s (F32 and F64 are read)", fn, path, s->name, s->dtype);
            lua_concat(L, 2);
            st_free(&f); /* the message is copied first: it names the file's own strings */
            return lua_error(L);
        }
        Tensor t;
        if (tensor_new(&t, dt, s->ndim, s->shape)) { st_free(&f); return raise(L, fn); }
        memcpy(tensor_data(&t), f.data + s->begin, s->end - s->begin);
        lua_tensor_push(L, &t);
        lua_setfield(L, -2, s->name);
    }
    st_free(&f);
    return 1;
}

static int save_safetensors(lua_State *L, const char *fn, const char *path, int idx) {
    int n = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) { n++; lua_pop(L, 1); }
    if (n == 0) return luaL_error(L, "%s: no tensors to save", fn);
    StWriteTensor *w = lua_newuserdatauv(L, sizeof *w * (size_t)n, 0);
    Tensor *cs = lua_newuserdatauv(L, sizeof *cs * (size_t)n, 0);
    memset(cs, 0, sizeof *cs * (size_t)n);
    int k = 0, rc = 0;
    char err[512] = "";
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        Tensor *t = lua_tensor_test(L, -1);
        if (lua_type(L, -2) != LUA_TSTRING || !t) {
            snprintf(err, sizeof err, "%s: save a table of name = tensor (entry %s is a %s)", fn, lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?", luaL_typename(L, -1));
            lua_pop(L, 2);
            rc = -1;
            break;
        }
        if (tensor_contiguous(t, &cs[k])) { snprintf(err, sizeof err, "%s: %s", fn, al_error_message()); lua_pop(L, 2); rc = -1; break; }
        w[k].name = lua_tostring(L, -2); /* the key stays alive in the table */
        w[k].dtype = cs[k].dtype == TENSOR_F64 ? "F64" : "F32";
        w[k].ndim = cs[k].ndim;
        for (int d = 0; d < cs[k].ndim; d++) w[k].shape[d] = cs[k].shape[d];
        w[k].bytes = tensor_data(&cs[k]);
        k++;
        lua_pop(L, 1);
    }
    if (!rc && st_write(path, w, k, NULL, NULL, 0)) { snprintf(err, sizeof err, "%s: %s", fn, al_error_message()); rc = -1; }
    for (int i = 0; i < k; i++) tensor_free(&cs[i]);
    if (rc) return luaL_error(L, "%s", err);
    return 0;
}

static int save_to(lua_State *L, const char *fn, const char *path, int idx) {
    if (bridge_ends_with(path, ".npy")) {
        Tensor *t = lua_tensor_test(L, idx);
        if (!t) return luaL_error(L, "%s: a .npy file holds one tensor, got a %s", fn, luaL_typename(L, idx));
        if (tensor_save_npy(path, t)) return raise(L, fn);
    } else if (bridge_ends_with(path, ".safetensors")) {
        if (lua_tensor_test(L, idx)) { /* one tensor: saved under the name "tensor" */
            lua_createtable(L, 0, 1);
            lua_pushvalue(L, idx);
            lua_setfield(L, -2, "tensor");
            idx = lua_gettop(L);
        }
        luaL_checktype(L, idx, LUA_TTABLE);
        save_safetensors(L, fn, path, idx);
    } else {
        return luaL_error(L, "%s: '%s': the extension picks the format: .npy or .safetensors", fn, path);
    }
    lua_pushstring(L, path);
    return 1;
}

static int l_save(lua_State *L) { return save_to(L, "archlab.tensor.save", luaL_checkstring(L, 1), 2); }
static int l_is(lua_State *L) { lua_pushboolean(L, lua_tensor_test(L, 1) != NULL); return 1; }

/* ---- indexing ---- */

/* a 1-based (negative: from the end) index into a dimension of size n, as 0-based */
static int64_t index_of(lua_State *L, lua_Integer i, int64_t n, int dim, const char *fn) {
    int64_t k = i < 0 ? n + i : i - 1;
    if (i == 0 || k < 0 || k >= n)
        luaL_error(L, "%s: index %d is outside dimension %d of size %d (indices count from 1, or from -1 at the end)", fn,
                   (int)i, dim + 1, (int)n);
    return k;
}

/* The view t[key] (key a number or a table of numbers and ranges) into *out; returns 1 when every dimension got
 * a number (then the view is 0-dimensional: one element). The view under construction lives in a userdata on
 * the stack, so an error raised half way frees it with everything else. */
static int view_of(lua_State *L, const Tensor *t, int key, Tensor *out, const char *fn) {
    key = lua_absindex(L, key);
    if (lua_type(L, key) != LUA_TNUMBER && !lua_istable(L, key)) luaL_error(L, "%s: index with a number or a table {i, j, ...}", fn);
    int n = lua_type(L, key) == LUA_TNUMBER ? 1 : (int)luaL_len(L, key);
    if (n > t->ndim) luaL_error(L, "%s: %d indices for a tensor of %d dimensions", fn, n, t->ndim);
    Tensor start = tensor_share(t);
    lua_tensor_push(L, &start);
    Tensor *v = lua_tensor_check(L, -1);
    int dim = 0, all = n == t->ndim;
    for (int k = 0; k < n; k++) {
        if (lua_type(L, key) == LUA_TNUMBER) lua_pushvalue(L, key);
        else lua_geti(L, key, k + 1);
        Tensor w;
        int rc;
        if (lua_type(L, -1) == LUA_TNUMBER) {
            int ok;
            lua_Integer i = lua_tointegerx(L, -1, &ok);
            if (!ok) luaL_error(L, "%s: index %d is not an integer", fn, k + 1);
            rc = tensor_select(v, dim, index_of(L, i, v->shape[dim], k, fn), &w);
        } else if (lua_istable(L, -1)) { /* {a, b}: a range, ends included */
            int64_t size = v->shape[dim], a = 0, b = size - 1;
            lua_geti(L, -1, 1);
            if (!lua_isnil(L, -1)) a = index_of(L, luaL_checkinteger(L, -1), size, k, fn);
            lua_pop(L, 1);
            lua_geti(L, -1, 2);
            if (!lua_isnil(L, -1)) b = index_of(L, luaL_checkinteger(L, -1), size, k, fn);
            lua_pop(L, 1);
            if (b < a) luaL_error(L, "%s: range {%d, %d} of dimension %d runs backwards", fn, (int)a + 1, (int)b + 1, k + 1);
            rc = tensor_narrow(v, dim, a, b - a + 1, &w);
            dim++;
            all = 0;
        } else {
            return luaL_error(L, "%s: index %d must be a number or a range {a, b}, got %s", fn, k + 1, luaL_typename(L, -1));
        }
        lua_pop(L, 1);
        if (rc) return raise(L, fn);
        tensor_free(v);
        *v = w;
    }
    *out = tensor_share(v);
    lua_pop(L, 1); /* the holder's reference goes with the collector */
    return all;
}

static int l_methods_index(lua_State *L);

static int l_index(lua_State *L) {
    Tensor *t = lua_tensor_check(L, 1);
    if (lua_type(L, 2) == LUA_TSTRING) {
        const char *k = lua_tostring(L, 2);
        if (!strcmp(k, "shape")) {
            lua_createtable(L, t->ndim, 0);
            for (int d = 0; d < t->ndim; d++) { lua_pushinteger(L, t->shape[d]); lua_rawseti(L, -2, d + 1); }
            return 1;
        }
        if (!strcmp(k, "ndim")) { lua_pushinteger(L, t->ndim); return 1; }
        if (!strcmp(k, "dtype")) { lua_pushstring(L, tensor_dtype_name(t->dtype)); return 1; }
        return l_methods_index(L);
    }
    Tensor v;
    int one = view_of(L, t, 2, &v, "tensor[]");
    if (one) {
        lua_pushnumber(L, tensor_get(&v, NULL));
        tensor_free(&v);
    } else {
        lua_tensor_push(L, &v);
    }
    return 1;
}

static int l_newindex(lua_State *L) {
    Tensor *t = lua_tensor_check(L, 1);
    double x = luaL_checknumber(L, 3);
    Tensor v;
    int one = view_of(L, t, 2, &v, "tensor[] =");
    if (!one) { tensor_free(&v); return luaL_error(L, "tensor[] =: give every index (%d) to set one element", t->ndim); }
    tensor_set(&v, NULL, x);
    tensor_free(&v);
    return 0;
}

/* ---- arithmetic ---- */

static int arith(lua_State *L, TensorBinop op, const char *fn) {
    Tensor *a = lua_tensor_test(L, 1), *b = lua_tensor_test(L, 2), r;
    int rc;
    if (a && b) rc = tensor_binop(a, b, op, &r);
    else if (a) rc = tensor_scalar_op(a, luaL_checknumber(L, 2), op, 0, &r);
    else rc = tensor_scalar_op(b, luaL_checknumber(L, 1), op, 1, &r);
    if (rc) return raise(L, fn);
    lua_tensor_push(L, &r);
    return 1;
}
static int l_add(lua_State *L) { return arith(L, TENSOR_ADD, "tensor +"); }
static int l_sub(lua_State *L) { return arith(L, TENSOR_SUB, "tensor -"); }
static int l_mul(lua_State *L) { return arith(L, TENSOR_MUL, "tensor *"); }
static int l_div(lua_State *L) { return arith(L, TENSOR_DIV, "tensor /"); }

static int mapped(lua_State *L, TensorMap m, const char *fn) {
    Tensor r;
    if (tensor_map(lua_tensor_check(L, 1), m, &r)) return raise(L, fn);
    lua_tensor_push(L, &r);
    return 1;
}
static int l_unm(lua_State *L) { return mapped(L, TENSOR_NEG, "-tensor"); }
static int l_abs(lua_State *L) { return mapped(L, TENSOR_ABS, "tensor:abs"); }
static int l_exp(lua_State *L) { return mapped(L, TENSOR_EXP, "tensor:exp"); }
static int l_log(lua_State *L) { return mapped(L, TENSOR_LOG, "tensor:log"); }
static int l_sqrt(lua_State *L) { return mapped(L, TENSOR_SQRT, "tensor:sqrt"); }

/* an axis argument: 1-based, negative from the end; -1 (C) when absent */
static int axis_arg(lua_State *L, int idx, const Tensor *t, const char *fn) {
    if (lua_isnoneornil(L, idx)) return -1;
    lua_Integer a = luaL_checkinteger(L, idx);
    int k = a < 0 ? t->ndim + (int)a : (int)a - 1;
    if (a == 0 || k < 0 || k >= t->ndim) luaL_error(L, "%s: axis %d does not exist (the tensor has %d dimensions)", fn, (int)a, t->ndim);
    return k;
}

static int reduce(lua_State *L, TensorReduce r, const char *fn) {
    Tensor *t = lua_tensor_check(L, 1), o;
    int axis = axis_arg(L, 2, t, fn);
    if (tensor_reduce(t, r, axis, &o)) return raise(L, fn);
    if (axis < 0) { lua_pushnumber(L, tensor_get(&o, NULL)); tensor_free(&o); }
    else lua_tensor_push(L, &o);
    return 1;
}
static int l_sum(lua_State *L) { return reduce(L, TENSOR_SUM, "tensor:sum"); }
static int l_mean(lua_State *L) { return reduce(L, TENSOR_MEAN, "tensor:mean"); }
static int l_max(lua_State *L) { return reduce(L, TENSOR_MAX, "tensor:max"); }
static int l_min(lua_State *L) { return reduce(L, TENSOR_MIN, "tensor:min"); }
static int l_norm(lua_State *L) { return reduce(L, TENSOR_NORM, "tensor:norm"); }

static int l_matmul(lua_State *L) {
    Tensor r;
    if (tensor_matmul(lua_tensor_check(L, 1), lua_tensor_check(L, 2), &r)) return raise(L, "tensor:matmul");
    if (r.ndim == 0) { lua_pushnumber(L, tensor_get(&r, NULL)); tensor_free(&r); return 1; }
    lua_tensor_push(L, &r);
    return 1;
}

static int l_transpose(lua_State *L) {
    Tensor *t = lua_tensor_check(L, 1), r;
    int a, b;
    if (lua_isnoneornil(L, 2)) {
        if (t->ndim < 2) return luaL_error(L, "tensor:transpose: a tensor of %d dimensions has nothing to swap", t->ndim);
        a = t->ndim - 2; b = t->ndim - 1;
    } else {
        a = axis_arg(L, 2, t, "tensor:transpose");
        b = axis_arg(L, 3, t, "tensor:transpose");
        if (b < 0) return luaL_error(L, "tensor:transpose: give two axes, or none for the last two");
    }
    if (tensor_transpose(t, a, b, &r)) return raise(L, "tensor:transpose");
    lua_tensor_push(L, &r);
    return 1;
}

static int l_reshape(lua_State *L) {
    Tensor *t = lua_tensor_check(L, 1), r;
    int64_t shape[TENSOR_MAX_DIMS];
    int nd = shape_arg(L, 2, "tensor:reshape", shape);
    if (tensor_reshape(t, nd, shape, &r)) return raise(L, "tensor:reshape");
    lua_tensor_push(L, &r);
    return 1;
}

static int l_clone(lua_State *L) {
    Tensor r;
    if (tensor_contiguous(lua_tensor_check(L, 1), &r)) return raise(L, "tensor:clone");
    lua_tensor_push(L, &r);
    return 1;
}

static int l_astype(lua_State *L) {
    Tensor r;
    if (tensor_astype(lua_tensor_check(L, 1), dtype_arg(L, 2, "tensor:astype"), &r)) return raise(L, "tensor:astype");
    lua_tensor_push(L, &r);
    return 1;
}

static int l_numel(lua_State *L) { lua_pushinteger(L, tensor_numel(lua_tensor_check(L, 1))); return 1; }

static int l_item(lua_State *L) {
    Tensor *t = lua_tensor_check(L, 1);
    if (tensor_numel(t) != 1) return luaL_error(L, "tensor:item: the tensor has %d elements, not one", (int)tensor_numel(t));
    int64_t idx[TENSOR_MAX_DIMS] = {0};
    lua_pushnumber(L, tensor_get(t, idx));
    return 1;
}

static void push_nested(lua_State *L, const Tensor *t, int d, int64_t *idx) {
    if (d == t->ndim) { lua_pushnumber(L, tensor_get(t, idx)); return; }
    luaL_checkstack(L, 4, "tensor:table");
    lua_createtable(L, (int)t->shape[d], 0);
    for (int64_t i = 0; i < t->shape[d]; i++) {
        idx[d] = i;
        push_nested(L, t, d + 1, idx);
        lua_rawseti(L, -2, i + 1);
    }
}

static int l_table(lua_State *L) {
    Tensor *t = lua_tensor_check(L, 1);
    if (tensor_numel(t) > 50000000) return luaL_error(L, "tensor:table: %d elements are too many for Lua tables", (int)tensor_numel(t));
    int64_t idx[TENSOR_MAX_DIMS] = {0};
    push_nested(L, t, 0, idx);
    return 1;
}

static int l_tsave(lua_State *L) { lua_tensor_check(L, 1); return save_to(L, "tensor:save", luaL_checkstring(L, 2), 1); }

static int l_len(lua_State *L) {
    Tensor *t = lua_tensor_check(L, 1);
    lua_pushinteger(L, t->ndim ? t->shape[0] : 0);
    return 1;
}

static int l_gc(lua_State *L) {
    LTensor *lt = luaL_checkudata(L, 1, TENSOR_MT);
    tensor_free(&lt->t);
    return 0;
}

static int l_tostring(lua_State *L) {
    Tensor *t = lua_tensor_check(L, 1);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    char s[64];
    snprintf(s, sizeof s, "archlab.Tensor(%s, [", tensor_dtype_name(t->dtype));
    luaL_addstring(&b, s);
    for (int d = 0; d < t->ndim; d++) { snprintf(s, sizeof s, "%s%lld", d ? ", " : "", (long long)t->shape[d]); luaL_addstring(&b, s); }
    luaL_addstring(&b, "]");
    int64_t n = tensor_numel(t), idx[TENSOR_MAX_DIMS] = {0};
    if (n > 0 && n <= 8) { /* small ones show their values */
        luaL_addstring(&b, ": ");
        for (int64_t i = 0; i < n; i++) {
            snprintf(s, sizeof s, "%s%.6g", i ? " " : "", tensor_get(t, idx));
            luaL_addstring(&b, s);
            for (int d = t->ndim - 1; d >= 0 && ++idx[d] == t->shape[d]; d--) idx[d] = 0;
        }
    }
    luaL_addstring(&b, ")");
    luaL_pushresult(&b);
    return 1;
}

static const luaL_Reg methods[] = {
    {"sum", l_sum}, {"mean", l_mean}, {"max", l_max}, {"min", l_min}, {"norm", l_norm}, {"abs", l_abs},
    {"exp", l_exp}, {"log", l_log}, {"sqrt", l_sqrt}, {"matmul", l_matmul}, {"transpose", l_transpose},
    {"T", l_transpose}, {"reshape", l_reshape}, {"clone", l_clone}, {"astype", l_astype}, {"numel", l_numel},
    {"item", l_item}, {"table", l_table}, {"save", l_tsave}, {NULL, NULL},
};

static int l_methods_index(lua_State *L) {
    const char *k = lua_tostring(L, 2);
    for (const luaL_Reg *m = methods; m->name; m++)
        if (!strcmp(m->name, k)) { lua_pushcfunction(L, m->func); return 1; }
    const char *names[32];
    int n = 0;
    for (const luaL_Reg *m = methods; m->name && n < 29; m++) names[n++] = m->name;
    names[n++] = "shape"; names[n++] = "ndim"; names[n++] = "dtype";
    const char *near = closest_word(k, names, n);
    if (near) return luaL_error(L, "tensor: no field '%s' (did you mean '%s'?)", k, near);
    return luaL_error(L, "tensor: no field '%s' (archlab.help(\"tensor\") lists them)", k);
}

/* help: every function and method, registered like the rest of the API */
static const FnSpec FNS[] = {
    {"archlab.tensor.from", "archlab.tensor.from(table | number [, dtype = \"f32\"]) -> tensor",
     "a tensor from nested Lua lists (rectangular; the nesting gives the shape), dtype \"f32\" or \"f64\"", NULL},
    {"archlab.tensor.zeros", "archlab.tensor.zeros({sizes} | sizes... [, dtype]) -> tensor", "zeros of a shape", NULL},
    {"archlab.tensor.ones", "archlab.tensor.ones({sizes} | sizes... [, dtype]) -> tensor", "ones of a shape", NULL},
    {"archlab.tensor.arange", "archlab.tensor.arange(n [, dtype]) -> tensor", "0, 1, ..., n - 1", NULL},
    {"archlab.tensor.load", "archlab.tensor.load(path) -> tensor, or { name = tensor }",
     "a NumPy .npy file (float32/float64) as a tensor, or a .safetensors file's F32/F64 tensors by name", NULL},
    {"archlab.tensor.save", "archlab.tensor.save(path, tensor | { name = tensor }) -> path",
     ".npy (one tensor) or .safetensors (several, by name), by the extension; written atomically", NULL},
    {"archlab.tensor.is", "archlab.tensor.is(x) -> boolean", "whether x is a tensor", NULL},
    {"tensor", "tensor.shape, tensor.ndim, tensor.dtype, #tensor, tensor[{i, j}], tensor[{i, {a, b}}] = ...",
     "indices count from 1 (negative: from the end); all indices give a number, fewer a view (shares storage); "
     "{a, b} is a range with both ends, {} a whole dimension; + - * / with numbers or tensors (NumPy broadcasting)", NULL},
    {"tensor:sum", "tensor:sum([axis]) -> number | tensor", "over everything, or along an axis (1-based; negative from the end)", NULL},
    {"tensor:mean", "tensor:mean([axis]) -> number | tensor", "the mean, like sum", NULL},
    {"tensor:max", "tensor:max([axis]) -> number | tensor", "the largest value (NaN if any is NaN)", NULL},
    {"tensor:min", "tensor:min([axis]) -> number | tensor", "the smallest value", NULL},
    {"tensor:norm", "tensor:norm([axis]) -> number | tensor", "the L2 norm", NULL},
    {"tensor:abs", "tensor:abs() -> tensor", "elementwise |x|; also exp, log, sqrt", NULL},
    {"tensor:exp", "tensor:exp() -> tensor", "elementwise e^x", NULL},
    {"tensor:log", "tensor:log() -> tensor", "elementwise natural log", NULL},
    {"tensor:sqrt", "tensor:sqrt() -> tensor", "elementwise square root", NULL},
    {"tensor:matmul", "tensor:matmul(other) -> tensor | number", "matrix product of 1- or 2-dimensional tensors (OpenBLAS)", NULL},
    {"tensor:transpose", "tensor:transpose([a, b]) -> view", "swaps two axes (default: the last two); a view", NULL},
    {"tensor:T", "tensor:T() -> view", "the last two axes swapped", NULL},
    {"tensor:reshape", "tensor:reshape({sizes} | sizes...) -> tensor", "the same elements in another shape (one size may be -1)", NULL},
    {"tensor:clone", "tensor:clone() -> tensor", "a contiguous copy (a view's copy no longer shares storage)", NULL},
    {"tensor:astype", "tensor:astype(\"f32\" | \"f64\") -> tensor", "a copy in another precision", NULL},
    {"tensor:numel", "tensor:numel() -> n", "the number of elements", NULL},
    {"tensor:item", "tensor:item() -> number", "the one element of a one-element tensor", NULL},
    {"tensor:table", "tensor:table() -> nested lists", "the elements as nested Lua lists", NULL},
    {"tensor:save", "tensor:save(path) -> path", "as .npy or .safetensors, by the extension", NULL},
};

void bridge_open_tensor(lua_State *L) {
    for (size_t i = 0; i < sizeof FNS / sizeof *FNS; i++) opts_register(&FNS[i]);
    static const luaL_Reg meta[] = {{"__index", l_index}, {"__newindex", l_newindex}, {"__add", l_add}, {"__sub", l_sub},
                                    {"__mul", l_mul}, {"__div", l_div}, {"__unm", l_unm}, {"__len", l_len},
                                    {"__gc", l_gc}, {"__close", l_gc}, {"__tostring", l_tostring}, {NULL, NULL}};
    luaL_newmetatable(L, TENSOR_MT);
    luaL_setfuncs(L, meta, 0);
    luaL_newlib(L, methods); /* for discovery (getmetatable(t).methods); lookups go through l_index */
    lua_setfield(L, -2, "methods");
    lua_pop(L, 1);
    static const luaL_Reg fns[] = {{"from", l_from}, {"zeros", l_zeros}, {"ones", l_ones}, {"arange", l_arange},
                                   {"load", l_load}, {"save", l_save}, {"is", l_is}, {NULL, NULL}};
    luaL_newlib(L, fns);
    lua_setfield(L, -2, "tensor");
}
