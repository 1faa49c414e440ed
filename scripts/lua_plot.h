/* The plotting part of the scripting layer: archlab.plot.* for Lua scripts and the `archlab plot` command.
 * Both only translate user input into plots/ specs and plots/ errors into messages that name the
 * script line or the file line. */
#ifndef AL_LUA_PLOT_H
#define AL_LUA_PLOT_H
#include <lua.h>

/* Pushes the archlab.plot table. Every call takes one table of options; unknown keys are errors that name
 * the key (and suggest the one meant), bad values name their field path ("series[2].y"), and errors are
 * raised with luaL_error so they read "script.lua:LINE: archlab.plot.lines: field '...': ...". Each
 * figure call returns the path it wrote. Sizes are in points; a PNG has width * dpi / 72 pixels.
 *
 *   archlab.plot.lines{ file=, title=, xlabel=, ylabel=, log_x=, log_y=, markers=, xlim={lo,hi}, ylim=,
 *                       series = { {name=, x={...} (default 1..#y), y={...} (0/0 = gap), marker=}, ... }
 *                                (or one bare series table), width=, height=, dpi= }
 *   archlab.plot.heatmap{ file=, title=, xlabel=, ylabel=, cbar_label=, x_labels={...}, y_labels={...},
 *                         values = {{...}, ...} (rows = y, first row on top), colormap = "niah"|"sequential",
 *                         vmin=, vmax=, labels = true (values in cells), label_format = "%.2f", width=, ... }
 *   archlab.plot.bars{ file=, title=, xlabel=, ylabel=, categories={...},
 *                      groups = { {name=, values={...}}, ... } or values = {...}, log_y=, labels=, width=, ... }
 *   archlab.plot.panels{ file=, title=, cols=, plots = { {kind="lines", ...}, {kind="heatmap", ...}, ... },
 *                        width=, height=, dpi= }   (a panel takes its kind's options except file/size)
 *   archlab.plot.colormap(name, t) -> r, g, b   (0..1, the colours heatmaps use)
 * Returns 1 (the table). */
int al_lua_plot_open(lua_State *L);

/* `archlab plot METRICS.jsonl --x step --y loss,grad_norm -o loss.png [--log-x] [--log-y] [--title T]
 * [--xlabel L] [--ylabel L] [--markers] [--width PT] [--height PT] [--dpi N]`; argv[0] is "plot".
 * Returns 0, or 1 after printing "FILE:LINE: message" (or a usage error) to stderr. */
int al_cmd_plot(int argc, char **argv);
#endif
