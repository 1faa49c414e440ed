#include "harness.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define TH_MAX 1024
static struct { const char *name, *file; th_fn fn; } tests[TH_MAX];
static int n_tests, current_failed;

void th_register(const char *name, th_fn fn, const char *file) {
    if (n_tests == TH_MAX) { fprintf(stderr, "harness: too many tests\n"); exit(2); }
    tests[n_tests].name = name; tests[n_tests].fn = fn; tests[n_tests].file = file;
    n_tests++;
}

int th_expect(int ok, const char *expr, const char *file, int line) {
    if (!ok) { fprintf(stderr, "  %s:%d: expected %s\n", file, line, expr); current_failed = 1; }
    return ok;
}

int th_expect_near(double a, double b, double tol, const char *ea, const char *eb, const char *file, int line) {
    int ok = fabs(a - b) <= tol; /* false for NaN */
    if (!ok) {
        fprintf(stderr, "  %s:%d: expected %s (%.9g) within %.3g of %s (%.9g)\n", file, line, ea, a, tol, eb, b);
        current_failed = 1;
    }
    return ok;
}

void th_note(const char *fmt, ...) {
    va_list ap; va_start(ap, fmt);
    fputs("    ", stdout); vprintf(fmt, ap); fputc('\n', stdout);
    va_end(ap); fflush(stdout);
}

/* Usage: test_binary [substring]  runs the tests whose name contains substring. */
int th_main(int argc, char **argv) {
    const char *filter = argc > 1 ? argv[1] : NULL;
    int passed = 0, failed = 0;
    for (int i = 0; i < n_tests; i++) {
        if (filter && !strstr(tests[i].name, filter)) continue;
        current_failed = 0;
        printf("== %s\n", tests[i].name); fflush(stdout);
        tests[i].fn();
        printf("  %s %s\n", current_failed ? "FAIL" : "ok  ", tests[i].name); fflush(stdout);
        if (current_failed) failed++; else passed++;
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
