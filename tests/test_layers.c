/* The layering check (tools/check_layers.sh): this tree passes it, and it catches each kind of violation it
 * exists for in a small tree built here: an #include pointing up, a call pointing up, a circle of files
 * calling one another, and a Lua header outside scripts/. */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "tests/harness.h"

static int run(const char *cmd, char *out, size_t n) {
    char full[4200];
    snprintf(full, sizeof full, "%s > /tmp/archlab_layers_out.txt 2>&1", cmd);
    int st = system(full);
    FILE *f = fopen("/tmp/archlab_layers_out.txt", "r");
    size_t got = f ? fread(out, 1, n - 1, f) : 0;
    out[got] = 0;
    if (f) fclose(f);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

TEST(layers_this_tree_points_one_way) {
    const char *obj = getenv("AL_OBJDIR");
    char cmd[1024], out[8192];
    snprintf(cmd, sizeof cmd, "tools/check_layers.sh %s .", obj && *obj ? obj : "build/f32");
    int rc = run(cmd, out, sizeof out);
    th_note("%s", out);
    EXPECT(rc == 0);
    EXPECT(strstr(out, "one way, no circles") != NULL);
}

TEST(layers_check_catches_violations) {
    char dir[] = "/tmp/archlab_layers_XXXXXX";
    EXPECT(mkdtemp(dir) != NULL);
    char cmd[4096], out[8192];
    /* core/low.c includes arch/high.h and calls high(); arch/high.c calls low() (so the two form a circle);
     * arch/lua_user.c includes a Lua header; data/side.c includes arch/ (side by side, not allowed) */
    snprintf(cmd, sizeof cmd,
             "cd %s && mkdir -p core arch data obj/core obj/arch obj/data && "
             "printf 'int high(void);\\n' > arch/high.h && "
             "printf '#include \"arch/high.h\"\\nint low(void) { return high() + 1; }\\n' > core/low.c && "
             "printf 'int low(void);\\nint high(void) { return 2; }\\nint again(void) { return low(); }\\n' > arch/high.c && "
             "printf '#include <lua.h>\\nint lua_user(void) { return 0; }\\n' > arch/lua_user.c && "
             "printf '#include \"arch/high.h\"\\nint side(void) { return 0; }\\n' > data/side.c && "
             "cc -I. -c core/low.c -o obj/core/low.o && cc -c arch/high.c -o obj/arch/high.o && "
             "printf 'int lua_user(void) { return 0; }\\n' | cc -x c -c - -o obj/arch/lua_user.o && "
             "cc -I. -c data/side.c -o obj/data/side.o",
             dir);
    EXPECT(system(cmd) == 0);
    snprintf(cmd, sizeof cmd, "tools/check_layers.sh %s/obj %s", dir, dir);
    int rc = run(cmd, out, sizeof out);
    th_note("%s", out);
    EXPECT(rc == 1);
    EXPECT(strstr(out, "core/low.c includes \"arch/high.h\": core/ may not point to arch/") != NULL);
    EXPECT(strstr(out, "core/low.c uses high from arch/high.c") != NULL);
    EXPECT(strstr(out, "a circle of files calling one another") != NULL);
    EXPECT(strstr(out, "arch/lua_user.c includes a Lua header") != NULL);
    EXPECT(strstr(out, "data/side.c includes \"arch/high.h\": data/ may not point to arch/") != NULL);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    system(cmd);
}
