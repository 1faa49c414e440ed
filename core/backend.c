/* The backend registry: one row per backend, naming its three kernel tables (core/backend.h). "cpu" is the
 * default; "cpu-checked" runs the same kernels with device buffers unreadable outside kernel calls (the
 * host-access check, core/backend_checked.c); "cuda" exists in the CUDA build only (make cuda, -DAL_CUDA:
 * core/backend_cuda.cu). */
#include <stdio.h>
#include <string.h>

#include "core/backend.h"
#include "core/backend_checked.h"
#include "core/moe_kernels.h"
#include "core/stream_kernels.h"
#ifdef AL_CUDA
#include "core/backend_cuda.h"
#endif

static const BackendEntry backends[] = {
    {"cpu", "OpenBLAS GEMMs and OpenMP loops on this machine's cores", &al_backend_cpu, &al_moe_cpu, &al_streams_cpu,
     NULL, NULL},
    {"cpu-checked", "the cpu kernels with device buffers unreadable outside kernel calls: any host access of device "
     "memory faults (a check for code meant to run on a GPU; slower)", &al_backend_checked, &al_moe_checked,
     &al_streams_checked, checked_backend_init, NULL},
#ifdef AL_CUDA
    {"cuda", "NVIDIA GPU: cuBLAS GEMMs and CUDA kernels, buffers in GPU memory", &al_backend_cuda, &al_moe_cuda,
     &al_streams_cuda, cuda_backend_init, cuda_gemm_precision},
#endif
};
enum { N_BACKENDS = sizeof backends / sizeof backends[0] };

static int active;

const Backend *K = &al_backend_cpu;
const MoeKernels *KM = &al_moe_cpu;
const StreamKernels *KS = &al_streams_cpu;

int backend_count(void) { return N_BACKENDS; }
const BackendEntry *backend_at(int i) { return i >= 0 && i < N_BACKENDS ? &backends[i] : NULL; }

const char *backend_names(void) {
    static char names[256];
    names[0] = 0;
    for (int i = 0; i < N_BACKENDS; i++)
        snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? "|" : "", backends[i].name);
    return names;
}

const char *backend_active(void) { return backends[active].name; }
const BackendEntry *backend_current(void) { return &backends[active]; }

int backend_select(const char *name) {
    for (int i = 0; i < N_BACKENDS; i++)
        if (!strcmp(backends[i].name, name)) {
            if (i == active) return 0;
            if (al_device_buffers > 0)
                return al_errorf("cannot switch to device '%s': %ld buffers of device '%s' are still allocated "
                                 "(choose the device before building a model)", name, al_device_buffers,
                                 backends[active].name);
            if (backends[i].init && backends[i].init()) return -1;
            K = backends[i].ops;
            KM = backends[i].moe;
            KS = backends[i].streams;
            active = i;
            return 0;
        }
#ifndef AL_CUDA
    if (!strcmp(name, "cuda"))
        return al_errorf("device 'cuda' is not in this build (bin/archlab is the CPU build; build bin/archlab-cuda "
                         "with `make cuda` on a machine with nvcc)");
#endif
    return al_errorf("unknown device '%s' (known: %s)", name, backend_names());
}
