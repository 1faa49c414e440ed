/* archlab.data.addition / expression (verifiable tasks), archlab.grpo, archlab.distill, model:clone
 * (scripts/lua_rl.c). */
#ifndef AL_LUA_RL_H
#define AL_LUA_RL_H
#include <lua.h>

/* Registers them into the module table on top of the stack (after bridge_open_data: it adds to archlab.data). */
void bridge_open_rl(lua_State *L);
#endif
