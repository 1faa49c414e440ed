/* archlab.lowp (scripts/lua_lowp.c): the simulated FP8 numerics of core/lowp.h on archlab tensors. */
#ifndef AL_LUA_LOWP_H
#define AL_LUA_LOWP_H
#include <lua.h>
/* archlab.lowp into the module table on top of the stack */
void bridge_open_lowp(lua_State *L);
#endif
