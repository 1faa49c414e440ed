/* The plotting part of the scripting layer: archlab.plot.* for Lua scripts and the `archlab plot` command.
 * Both only translate user input into plots/ specs and plots/ errors into messages that name the
 * script line or the file line. */
#ifndef AL_LUA_PLOT_H
#define AL_LUA_PLOT_H
#include <lua.h>

#include "scripts/lua_opts.h"

/* Pushes the archlab.plot table: archlab.plot.<kind> for each plot kind (plots/kinds.c), panels, document,
 * colormap. Every call takes one table of options; unknown keys are errors that name the key (and suggest the
 * one meant), bad values name their field path ("series[2].y"), and errors are raised with luaL_error so they
 * read "script.lua:LINE: archlab.plot.lines: field '...': ...". Each figure call returns the path it wrote.
 * Sizes are in points; a PNG has width * dpi / 72 pixels. The options are documented where they are
 * declared, the kinds' option tables and the FnSpecs in lua_plot.c, and `archlab help heatmap` prints them.
 * Returns 1 (the table). */
int al_lua_plot_open(lua_State *L);
/* file, width, height, dpi: the options every figure call takes besides its kind's (for help) */
extern const OptSpec lua_plot_output_opts[];

/* `archlab plot METRICS.jsonl [MORE.jsonl ...] --x step --y loss,grad_norm -o loss.png [--log-x] [--log-y] [--title T]
 * [--xlabel L] [--ylabel L] [--markers] [--width PT] [--height PT] [--dpi N]`; argv[0] is "plot".
 * Returns 0, or 1 after printing "FILE:LINE: message" (or a usage error) to stderr. */
int al_cmd_plot(int argc, char **argv);
#endif
