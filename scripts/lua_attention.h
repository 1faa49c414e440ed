/* Lua API of the attention families and decoding (scripts/lua_attention.c):
 *   archlab.data.niah{ keys = 16, values = 16, filler = 64 }      needle-in-a-haystack task (trainable)
 *   m:generate{ prompt = "text" | {tokens} | {{tokens}, ...}, n = 32, temperature = 0, seed = 1,
 *               mla = "absorbed" | "naive" }                       -> string | {tokens} | {{tokens}, ...}
 *   m:kv_cache{ context = L, batch = 1 }   -> { bytes, bytes_per_token, formula_bytes_per_token, elems_per_token }
 *       (bytes measured from what the attention layers allocate after one decoded token)
 *   m:niah{ data = task, lengths = {...}, depths = {...}, trials = 8, seed = 1, chunk = 256, json = "out/x.json" }
 *       -> { lengths = {...}, depths = {...}, recall = { {per length} per depth }, chance, seconds } */
#ifndef AL_LUA_ATTENTION_H
#define AL_LUA_ATTENTION_H
#include <lua.h>
/* Adds the methods to the archlab.Model metatable's __index and niah to archlab.data (module table on top). */
void bridge_open_attention(lua_State *L);
#endif
