/* The last error of any plot_* call, as a message a user can act on. A static buffer: the library is
 * called from one thread (the scripting layer), and a message must outlive the call that failed. */
#include <stdarg.h>
#include <stdio.h>

#include "plots/plot_internal.h"

static char last_error[512];

const char *plot_last_error(void) { return last_error; }

int plt_fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return -1;
}
