/* The archlab command: runs a Lua experiment script with the `archlab` module loaded.
 *   archlab [--threads N] [--device NAME] [--quiet] SCRIPT.lua [ARGS...]
 * Errors (syntax, bad config, missing data) print one line "script.lua:LINE: message" and exit 1. */
#include <libgen.h>
#include <signal.h>
#include <limits.h>
#include <lualib.h>
#include <string.h>
#include <unistd.h>

#include "core/backend.h"
#include "core/dist.h"
#include "scripts/bridge.h"
#include "scripts/lua_plot.h"
#include "train/trainer.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: archlab [--threads N] [--device NAME] [--quiet] SCRIPT.lua [ARGS...]\n"
            "       archlab summary PRESET|FILE.lua|config.json [--json] [--context T] [--batch B]\n"
            "       archlab plot METRICS.jsonl --x step --y loss,val_loss -o loss.png [--log-y] [--log-x]\n"
            "       archlab compare CONFIG [CONFIG ...] [--vary K=V1,V2] [--context T1,T2] [--memory 80GiB] [--format F]\n"
            "       archlab help [TOPIC]   the Lua API: every function (TOPIC: a function such as train, config,\n"
            "                              kinds, a plot kind such as heatmap); archlab.help(TOPIC) in a script\n"
            "  runs an experiment script with the archlab module loaded\n"
            "  --threads N  threads for OpenMP loops and OpenBLAS (default: all cores)\n"
            "  --device D   where models live and train: %s (default cpu; archlab.device(D) in a script)\n"
            "  --quiet      no progress output\n", backend_names());
}

/* The installation root is the nearest ancestor of the executable's directory holding scripts/presets
 * (bin/archlab -> .), so presets are found from any working directory. */
static void find_root(void) {
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return;
    exe[n] = 0;
    char *dir = dirname(exe);
    for (int up = 0; up < 5; up++) {
        char probe[PATH_MAX + 32];
        snprintf(probe, sizeof probe, "%s/scripts/presets", dir);
        if (access(probe, R_OK) == 0) { bridge_set_root(dir); return; }
        dir = dirname(dir);
    }
}

/* The script being run, for the signal handler: lua_sethook may be called from a handler (the stand-alone lua
 * interpreter stops scripts the same way). */
static lua_State *running;

/* Raised inside Lua code at the next instruction after a signal: the script stops wherever it is. */
static void stop_hook(lua_State *L, lua_Debug *ar) {
    (void)ar;
    lua_sethook(L, NULL, 0, 0);
    luaL_error(L, "interrupted");
}

/* SIGINT/SIGTERM: every long C operation checks the flag (the training loop checkpoints and stops), Lua code
 * stops at its next instruction, and the command exits 130. A second signal ends the process at once. */
static void on_signal(int sig) {
    al_interrupt_requested = 1;
    if (running) lua_sethook(running, stop_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
    signal(sig, SIG_DFL);
}

static int traceback_free(lua_State *L) {
    /* keep errors to one line: the message already carries script:line */
    if (!lua_isstring(L, 1)) lua_pushstring(L, luaL_tolstring(L, 1, NULL));
    return 1;
}

/* The Lua state scripts run in: the archlab module and the Lua side of the library. NULL after printing why. */
static lua_State *new_state(void) {
    lua_State *L = luaL_newstate();
    if (!L) { fprintf(stderr, "archlab: cannot create the Lua state\n"); return NULL; }
    luaL_openlibs(L);
    luaL_requiref(L, "archlab", luaopen_archlab, 1);
    lua_pop(L, 1);
    /* the Lua side of the library (scripts/lib/archlab/): sweeps. The installation path goes in as a value,
     * never pasted into Lua source, so any character in it (a quote) is harmless. */
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "path");
    lua_pushfstring(L, "%s/scripts/lib/?.lua;%s", bridge_root(), lua_tostring(L, -1));
    lua_setfield(L, -3, "path");
    lua_pop(L, 2);
    if (luaL_dostring(L, "require('archlab.sweep')") != LUA_OK) {
        fprintf(stderr, "archlab: cannot load the Lua library: %s\n", lua_tostring(L, -1));
        lua_close(L);
        return NULL;
    }
    return L;
}

/* `archlab help [TOPIC]`: what archlab.help(TOPIC) prints in a script */
static int cmd_help(int argc, char **argv) {
    if (argc > 2) { fprintf(stderr, "archlab help: one topic at most (archlab help lists them)\n"); return 1; }
    find_root();
    lua_State *L = new_state();
    if (!L) return 1;
    lua_getglobal(L, "archlab");
    lua_getfield(L, -1, "help");
    if (argc == 2) lua_pushstring(L, argv[1]);
    int rc = lua_pcall(L, argc == 2, 0, 0) == LUA_OK ? 0 : 1;
    if (rc) fprintf(stderr, "archlab help: %s\n", lua_tostring(L, -1) + strlen("archlab.help: "));
    lua_close(L);
    return rc;
}

int main(int argc, char **argv) {
    al_tune_openmp(argv);
    int i = 1;
    for (; i < argc && argv[i][0] == '-' && argv[i][1] == '-'; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 >= argc) {
            fprintf(stderr, "archlab: --threads needs a value\n");
            return 1;
        } else if (!strcmp(argv[i], "--threads")) {
            char *end;
            long t = strtol(argv[++i], &end, 10);
            if (*end || t < 1 || t > 4L * al_available_cores()) {
                fprintf(stderr, "archlab: --threads needs a count in [1, %d] (4 per core of the %d available)\n",
                        4 * al_available_cores(), al_available_cores());
                return 1;
            }
            al_set_threads((int)t);
        } else if (!strcmp(argv[i], "--device") && i + 1 >= argc) {
            fprintf(stderr, "archlab: --device needs a name (%s)\n", backend_names());
            return 1;
        } else if (!strcmp(argv[i], "--device")) {
            if (backend_select(argv[++i])) { fprintf(stderr, "archlab: --device: %s\n", al_error_message()); return 1; }
        } else if (!strcmp(argv[i], "--quiet")) bridge_quiet = 1;
        else if (!strcmp(argv[i], "--help")) { usage(stdout); return 0; }
        else { fprintf(stderr, "archlab: unknown option %s (archlab --help shows the usage)\n", argv[i]); return 1; }
    }
    if (i >= argc) { fprintf(stderr, "archlab: no script given (archlab --help shows the usage)\n"); return 1; }
    /* the commands (after the common options: `archlab --quiet summary tiny` works too) */
    if (!strcmp(argv[i], "plot")) return al_cmd_plot(argc - i, argv + i);
    if (!strcmp(argv[i], "summary")) { find_root(); return al_cmd_summary(argc - i, argv + i); }
    if (!strcmp(argv[i], "help")) return cmd_help(argc - i, argv + i);
    if (!strcmp(argv[i], "compare")) { find_root(); return al_cmd_compare(argc - i, argv + i); }
    const char *script = argv[i];
    find_root();
    /* under mpirun: every rank runs the script; rank 0 alone prints (archlab's writers check the rank too) */
    if (dist_init(&argc, &argv)) { fprintf(stderr, "archlab: %s\n", al_error_message()); return 1; }
    if (dist_rank() > 0 && !freopen("/dev/null", "w", stdout)) { fprintf(stderr, "archlab: cannot silence rank %d\n", dist_rank()); return 1; }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    lua_State *L = new_state();
    if (!L) return 1;
    /* arg: arg[0] = script, arg[1..] = its arguments, as the stand-alone lua interpreter does */
    lua_createtable(L, argc - i, 1);
    for (int k = i; k < argc; k++) {
        lua_pushstring(L, argv[k]);
        lua_rawseti(L, -2, k - i);
    }
    lua_setglobal(L, "arg");

    int rc = 0;
    running = L;
    lua_pushcfunction(L, traceback_free);
    if (luaL_loadfile(L, script) != LUA_OK) {
        fprintf(stderr, "%s\n", lua_tostring(L, -1));
        rc = 1;
    } else {
        for (int k = i + 1; k < argc; k++) lua_pushstring(L, argv[k]); /* also as ... */
        if (lua_pcall(L, argc - i - 1, 0, 1) != LUA_OK) {
            if (!al_interrupt_requested) fprintf(stderr, "%s\n", lua_tostring(L, -1));
            rc = 1;
        }
    }
    running = NULL;
    fflush(stdout);
    lua_sethook(L, NULL, 0, 0);
    lua_close(L); /* also after an interrupt: the script's models and buffers are freed, not left to the exit */
    if (rc && al_interrupt_requested) {
        if (dist_size() > 1) { /* under mpirun a stop usually follows another rank's end */
            fprintf(stderr, "archlab: rank %d of %d interrupted (by mpirun when another rank ended, or by a signal); the "
                            "last checkpoint is as it was\n", dist_rank(), dist_size());
            dist_abort(130);
        }
        fprintf(stderr, "archlab: interrupted\n");
        return 130; /* a shell's convention for a run stopped by SIGINT */
    }
    /* a rank that failed ends the job: the others would wait for it in their next collective */
    if (rc && dist_size() > 1) {
        fprintf(stderr, "archlab: rank %d of %d failed; stopping the job\n", dist_rank(), dist_size());
        dist_abort(rc);
    }
    dist_finalize();
    return rc;
}
