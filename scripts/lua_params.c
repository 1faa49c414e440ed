/* A model's parameters and gradients as tensors (archlab.tensor), by their Hugging Face names:
 *   m:param_names()        every parameter's name, in declaration order
 *   m:param(name)          a COPY of the weights: changing the tensor changes nothing in the model
 *   m:grad(name)           a COPY of the gradient buffer as the last backward left it (after archlab.train:
 *                          the last step's gradient, after clipping; zeros before any backward)
 *   m:set_param(name, t)   writes t into the model: same shape (an error names both), finite values
 * Copies rather than views, on purpose: a view into the flat parameter buffer would outlive a model that is
 * freed or re-planned, and a script could change weights mid-step without meaning to. */
#include <math.h>
#include <string.h>

#include "arch/config.h"
#include "scripts/bridge.h"
#include "scripts/lua_opts.h"
#include "scripts/lua_tensor.h"

static const ParamInfo *param_arg(lua_State *L, Model *m, int idx, const char *fn) {
    const char *name = luaL_checkstring(L, idx);
    const ParamInfo *p = ps_find(&m->ps, name);
    if (p) return p;
    const char *names[4096];
    int n = m->ps.n < 4096 ? m->ps.n : 4096;
    for (int i = 0; i < n; i++) names[i] = m->ps.info[i].name;
    const char *near = closest_word(name, names, n);
    if (near) luaL_error(L, "%s: no parameter '%s' (did you mean '%s'?)", fn, name, near);
    luaL_error(L, "%s: no parameter '%s' (m:param_names() lists them)", fn, name);
    return NULL;
}

#ifdef AL_DOUBLE
#define REAL_DTYPE TENSOR_F64
#else
#define REAL_DTYPE TENSOR_F32
#endif

static int copy_out(lua_State *L, const ParamInfo *p, const real *buf, const char *fn) {
    Tensor t;
    if (tensor_new(&t, REAL_DTYPE, p->ndim, p->shape)) return luaL_error(L, "%s: %s", fn, al_error_message());
    K->to_host(tensor_data(&t), buf + p->offset, p->numel); /* the store may be device memory */
    lua_tensor_push(L, &t);
    return 1;
}

static int l_param(lua_State *L) {
    Model *m = bridge_check_model(L, 1);
    return copy_out(L, param_arg(L, m, 2, "model:param"), m->ps.data, "model:param");
}

static int l_grad(lua_State *L) {
    Model *m = bridge_check_model(L, 1);
    return copy_out(L, param_arg(L, m, 2, "model:grad"), m->ps.grad, "model:grad");
}

static void shape_text(char *buf, size_t n, int nd, const int64_t *shape) {
    size_t k = (size_t)snprintf(buf, n, "[");
    for (int d = 0; d < nd && k < n; d++) k += (size_t)snprintf(buf + k, n - k, "%s%lld", d ? ", " : "", (long long)shape[d]);
    if (k < n) snprintf(buf + k, n - k, "]");
}

static int l_set_param(lua_State *L) {
    const char *fn = "model:set_param";
    Model *m = bridge_check_model(L, 1);
    const ParamInfo *p = param_arg(L, m, 2, fn);
    Tensor *t = lua_tensor_check(L, 3);
    int same = t->ndim == p->ndim;
    for (int d = 0; same && d < p->ndim; d++) same = t->shape[d] == p->shape[d];
    if (!same) {
        char a[128], b[128];
        shape_text(a, sizeof a, t->ndim, t->shape);
        shape_text(b, sizeof b, p->ndim, p->shape);
        return luaL_error(L, "%s: the tensor has shape %s, parameter '%s' has %s", fn, a, p->name, b);
    }
    Tensor c;
    if (tensor_astype(t, REAL_DTYPE, &c)) return luaL_error(L, "%s: %s", fn, al_error_message());
    const real *v = tensor_data(&c);
    for (size_t i = 0; i < p->numel; i++)
        if (!isfinite(v[i])) {
            tensor_free(&c);
            return luaL_error(L, "%s: element %d of the tensor is not finite (weights must be)", fn, (int)i + 1);
        }
    K->to_device(m->ps.data + p->offset, v, p->numel);
    tensor_free(&c);
    lua_settop(L, 1);
    return 1;
}

static int l_param_names(lua_State *L) {
    Model *m = bridge_check_model(L, 1);
    lua_createtable(L, m->ps.n, 0);
    for (int i = 0; i < m->ps.n; i++) {
        lua_pushstring(L, m->ps.info[i].name);
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

static const FnSpec FNS[] = {
    {"model:param_names", "model:param_names() -> { names }", "every parameter's name (Hugging Face's), in order", NULL},
    {"model:param", "model:param(name) -> tensor", "a copy of the weights (changing it changes nothing in the model)", NULL},
    {"model:grad", "model:grad(name) -> tensor",
     "a copy of the gradient the last backward left (after archlab.train: the last step's, clipped)", NULL},
    {"model:set_param", "model:set_param(name, tensor) -> model",
     "writes the tensor into the model's weights: the same shape (an error names both), finite values", NULL},
};

void bridge_open_params(lua_State *L) {
    for (size_t i = 0; i < sizeof FNS / sizeof *FNS; i++) opts_register(&FNS[i]);
    static const luaL_Reg methods[] = {{"param", l_param}, {"grad", l_grad}, {"set_param", l_set_param},
                                       {"param_names", l_param_names}, {NULL, NULL}};
    bridge_add_model_methods(L, methods);
}
