/* A tiny test harness: TEST(name) registers a test at load time, EXPECT* record failures with file:line.
 * Each test binary's main is th_main(); it prints "N passed, N failed" and exits non-zero on failure. */
#ifndef AL_TEST_HARNESS_H
#define AL_TEST_HARNESS_H
#include <math.h>
#include <stdio.h>

typedef void (*th_fn)(void);
void th_register(const char *name, th_fn fn, const char *file);
int th_expect(int ok, const char *expr, const char *file, int line);
int th_expect_near(double a, double b, double tol, const char *ea, const char *eb, const char *file, int line);
int th_main(int argc, char **argv);
void th_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define TEST(name)                                                                     \
    static void name(void);                                                            \
    __attribute__((constructor)) static void th_reg_##name(void) { th_register(#name, name, __FILE__); } \
    static void name(void)

#define EXPECT(cond) th_expect(!!(cond), #cond, __FILE__, __LINE__)
/* |a - b| <= tol */
#define EXPECT_NEAR(a, b, tol) th_expect_near((a), (b), (tol), #a, #b, __FILE__, __LINE__)
#endif
