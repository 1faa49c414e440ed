/* archlab.rank() and archlab.size(): which of the MPI ranks a script runs as (core/dist.h). Under mpirun every
 * rank runs the same script; archlab's own writers (metrics, checkpoints, figures) and printing are rank 0's,
 * and a script's own file writes should check archlab.rank() == 0 too. */
#include "core/dist.h"
#include "scripts/bridge.h"
#include "scripts/lua_opts.h"

static int l_rank(lua_State *L) {
    lua_pushinteger(L, dist_rank());
    return 1;
}

static int l_size(lua_State *L) {
    lua_pushinteger(L, dist_size());
    return 1;
}

static const FnSpec RANK = {"archlab.rank", "archlab.rank() -> r",
                            "this process's MPI rank, 0 .. size - 1 (0 without mpirun); rank 0 prints and writes", NULL};
static const FnSpec SIZE = {"archlab.size", "archlab.size() -> R",
                            "the number of MPI ranks running the script (1 without mpirun): data parallelism splits "
                            "each batch among them, expert_parallel = R spreads the routed experts", NULL};

void bridge_open_dist(lua_State *L) {
    opts_register(&RANK);
    opts_register(&SIZE);
    lua_pushcfunction(L, l_rank);
    lua_setfield(L, -2, "rank");
    lua_pushcfunction(L, l_size);
    lua_setfield(L, -2, "size");
}
