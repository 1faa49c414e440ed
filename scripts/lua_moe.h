/* MoE measurements for Lua (scripts/lua_moe.c): model:expert_load([opts]), model:active_params(),
 * model:moe_params(). */
#ifndef AL_LUA_MOE_H
#define AL_LUA_MOE_H
#include <lua.h>
/* Adds the methods to the archlab.Model metatable (call after bridge_open_model). */
void bridge_open_moe(lua_State *L);
#endif
