/* The plotting part of the scripting layer: archlab.plot.* for Lua scripts and the `archlab plot` command.
 * Both only translate user input into plots/ specs and plots/ errors into messages that name the
 * script line or the file line. */
#ifndef AL_LUA_PLOT_H
#define AL_LUA_PLOT_H
#include <lua.h>

/* Pushes the archlab.plot table: lines, heatmap, bars, panels, colormap. Returns 1 (values pushed). */
int al_lua_plot_open(lua_State *L);

/* `archlab plot METRICS.jsonl --x step --y loss,grad_norm -o loss.png [--log-x] [--log-y] [--title T]
 * [--xlabel L] [--ylabel L] [--markers] [--width PT] [--height PT] [--dpi N]`; argv[0] is "plot".
 * Returns 0, or 1 after printing "FILE:LINE: message" (or a usage error) to stderr. */
int al_cmd_plot(int argc, char **argv);
#endif
