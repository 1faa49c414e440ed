/* Shared basics of the engine: the scalar type, error reporting, checked allocation.
 * core/ is plain C with no Lua in it; callers above (scripts/) turn al_error_message() into Lua errors. */
#ifndef AL_COMMON_H
#define AL_COMMON_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* The engine computes in float32. The gradient-check build (-DAL_DOUBLE) compiles the very same code in
 * double, so central differences are accurate to ~1e-10 and tolerances can be tight. */
#ifdef AL_DOUBLE
typedef double real;
#define AL_REAL_NAME "f64"
#else
typedef float real;
#define AL_REAL_NAME "f32"
/* mkdir -p of the directory part of path; -1 + message naming the directory */
int make_parent_dirs(const char *path);
#endif

/* Arithmetic shared by the CPU and the CUDA kernels (core/fast_exp.h, core/elementwise.h): __host__ __device__
 * when nvcc compiles it, a plain static inline function for a C compiler. */
#ifdef __CUDACC__
#define AL_HD static inline __host__ __device__
#else
#define AL_HD static inline
#endif

/* Recoverable errors (bad config, missing file, out of memory): set a message and return -1 (or NULL).
 * The message is kept until the next error; it names the field/file at fault. */
int al_errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *al_error_message(void);

/* Internal invariants: a failure here is a bug in archlab, not bad input. */
#define AL_ASSERT(cond)                                                                          \
    do {                                                                                          \
        if (!(cond)) {                                                                            \
            fprintf(stderr, "archlab internal error: %s:%d: assertion '%s' failed\n", __FILE__, \
                    __LINE__, #cond);                                                             \
            abort();                                                                              \
        }                                                                                         \
    } while (0)

/* 64-byte aligned, zero-filled allocation; NULL + al_errorf on failure (what names the purpose). */
void *al_calloc(size_t count, size_t size, const char *what);
void al_free(void *p);

/* Set by SIGINT/SIGTERM (scripts/main.c): every long operation checks it (the training loop checkpoints and
 * stops; evaluations, NIAH grids and generation stop), and the command exits 130. */
extern volatile int al_interrupt_requested;
/* 0, or -1 + the message "interrupted" when an interrupt is pending: `if (al_interrupted()) return -1;` */
int al_interrupted(void);

/* Bytes of memory available to this process (MemAvailable, bounded by a cgroup limit); 0 if unknown. */
size_t al_available_memory(void);
/* Cores this process may run on (its CPU affinity); at least 1. */
int al_available_cores(void);

/* 0 when path may be written by writing PATH.tmp and renaming it over path: it does not exist, or it is a
 * regular file. A device (/dev/null, /dev/full), a directory or a FIFO would be replaced by a regular file (as
 * root, a device node gone): -1 + a message naming it. */
int al_check_replaceable(const char *path);
/* Human-readable byte counts ("1.5 GiB"); buf must hold 32 chars. */
const char *al_format_bytes(double bytes, char *buf);
/* mkdir -p of the directory part of path; -1 + message naming the directory */
int make_parent_dirs(const char *path);
#endif
