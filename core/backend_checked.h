/* The host-access checking backend "cpu-checked" (core/backend_checked.c): the CPU kernels, with every device
 * buffer mapped PROT_NONE outside kernel calls, so a host access of device memory faults where it happens. */
#ifndef AL_BACKEND_CHECKED_H
#define AL_BACKEND_CHECKED_H
#include "core/backend.h"

struct MoeKernels;
struct StreamKernels;
extern const Backend al_backend_checked;
extern const struct MoeKernels al_moe_checked;
extern const struct StreamKernels al_streams_checked;
/* Installs the fault report (a SIGSEGV handler naming the buffer): the registry's init for "cpu-checked". */
int checked_backend_init(void);
/* 1 while a kernel of the checked tables runs (its buffers are open) */
int checked_in_kernel(void);
#endif
