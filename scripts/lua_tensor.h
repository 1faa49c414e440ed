/* archlab.tensor (scripts/lua_tensor.c): tensors in Lua, for the areas that hand tensors to scripts (probes,
 * parameters) and take them (plots). */
#ifndef AL_LUA_TENSOR_H
#define AL_LUA_TENSOR_H
#include <lua.h>

#include "core/tensor.h"

/* Pushes t as a Lua tensor, taking its reference (t is left empty). */
void lua_tensor_push(lua_State *L, Tensor *t);
/* The tensor at idx (an error if it is not one). */
Tensor *lua_tensor_check(lua_State *L, int idx);
/* The tensor at idx, or NULL when it is not one. */
Tensor *lua_tensor_test(lua_State *L, int idx);
/* archlab.tensor into the module table on top of the stack, and the tensor metatable */
void bridge_open_tensor(lua_State *L);
#endif
