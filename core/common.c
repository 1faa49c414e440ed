#include "core/common.h"

#include <errno.h>
#include <sched.h>
#include <unistd.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>

static _Thread_local char error_buf[1024];

int al_errorf(const char *fmt, ...) {
    /* formatted apart first, so a message may wrap the previous one: al_errorf("%s: %s", file, al_error_message()) */
    char msg[sizeof error_buf];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    memcpy(error_buf, msg, sizeof msg);
    return -1;
}

const char *al_error_message(void) { return error_buf[0] ? error_buf : "unknown error"; }

void *al_calloc(size_t count, size_t size, const char *what) {
    if (count && size > SIZE_MAX / count) {
        al_errorf("cannot allocate %s: %zu x %zu bytes overflows", what, count, size);
        return NULL;
    }
    size_t bytes = count * size;
    size_t rounded = (bytes + 63) & ~(size_t)63;
    void *p = rounded ? aligned_alloc(64, rounded) : NULL;
    if (!p) {
        char b[32];
        if (rounded) al_errorf("out of memory allocating %s (%s)", what, al_format_bytes((double)bytes, b));
        return NULL;
    }
    memset(p, 0, rounded);
    return p;
}

void al_free(void *p) { free(p); }

/* declared in core/backend.h: every backend's alloc and free keep it (here, below them all, so that the registry
 * reading it and the backends writing it do not call one another in a circle) */
long al_device_buffers;

const char *al_format_bytes(double bytes, char *buf) {
    const char *unit[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    int u = 0;
    while (bytes >= 1024.0 && u < 5) { bytes /= 1024.0; u++; }
    snprintf(buf, 32, u ? "%.2f %s" : "%.0f %s", bytes, unit[u]);
    return buf;
}

size_t al_available_memory(void) {
    size_t avail = 0;
    FILE *f = fopen("/proc/meminfo", "r");
    if (f) {
        char line[256];
        unsigned long long kb;
        while (fgets(line, sizeof line, f))
            if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1) { avail = (size_t)kb * 1024; break; }
        fclose(f);
    }
    /* a container's cgroup (v2) limit can be lower than what the host reports */
    f = fopen("/sys/fs/cgroup/memory.max", "r");
    if (f) {
        unsigned long long lim;
        if (fscanf(f, "%llu", &lim) == 1 && (avail == 0 || lim < avail)) avail = (size_t)lim;
        fclose(f);
    }
    return avail;
}

int make_parent_dirs(const char *path) {
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(buf, 0777) && errno != EEXIST) return al_errorf("cannot create directory '%s': %s", buf, strerror(errno));
        *p = '/';
    }
    return 0;
}

volatile int al_interrupt_requested = 0;

int al_interrupted(void) { return al_interrupt_requested ? al_errorf("interrupted") : 0; }

int al_available_cores(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

int al_check_replaceable(const char *path) {
    struct stat st;
    if (lstat(path, &st) != 0 || S_ISREG(st.st_mode)) return 0;
    if (S_ISLNK(st.st_mode) && stat(path, &st) == 0 && S_ISREG(st.st_mode)) return 0; /* a link to a file */
    return al_errorf("'%s' exists and is not a regular file (%s): it is not replaced", path,
                     S_ISDIR(st.st_mode) ? "a directory" : S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) ? "a device" : "not a file");
}
