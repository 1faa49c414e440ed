/* The backend registry: one row per backend, naming its three kernel tables (core/backend.h). The CPU
 * backend is the only one today; the CUDA backend will be a second row. */
#include <stdio.h>
#include <string.h>

#include "core/backend.h"
#include "core/moe_kernels.h"
#include "core/stream_kernels.h"

static const BackendEntry backends[] = {
    {"cpu", "OpenBLAS GEMMs and OpenMP loops on this machine's cores", &al_backend_cpu, &al_moe_cpu, &al_streams_cpu},
};
enum { N_BACKENDS = sizeof backends / sizeof backends[0] };

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

int backend_select(const char *name) {
    for (int i = 0; i < N_BACKENDS; i++)
        if (!strcmp(backends[i].name, name)) {
            K = backends[i].ops;
            KM = backends[i].moe;
            KS = backends[i].streams;
            return 0;
        }
    return al_errorf("unknown backend '%s' (known: %s)", name, backend_names());
}
