/* The API's help, generated from the tables that validate it (scripts/lua_help.c). */
#ifndef AL_LUA_HELP_H
#define AL_LUA_HELP_H
#include <lua.h>
#include <stdio.h>

/* Writes the help for topic (NULL or "": the overview) to f; -1 when no topic has that name. The functions'
 * help is complete once luaopen_archlab has run (each area registers its functions when it opens). */
int help_write(FILE *f, const char *topic);
/* The names help_write accepts (short forms), for suggestions. */
void help_topics(const char **names, int *n, int cap);
/* archlab.help, archlab.help_text, archlab.options into the module table on top of the stack */
void bridge_open_help(lua_State *L);
#endif
