/* libFuzzer target for the safetensors reader: any byte string must give either a valid file or a clean
 * error, never a crash, a hang or a leak (built with ASan by `make fuzz`). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf) return 0;
    memcpy(buf, data, size);
    StFile f;
    if (st_parse(&f, buf, size, "fuzz") == 0) {
        /* touch every tensor's bytes: a range the parser accepted must lie inside the buffer */
        volatile uint8_t sink = 0;
        for (int i = 0; i < f.n; i++)
            for (size_t j = f.t[i].begin; j < f.t[i].end; j++) sink ^= f.data[j];
        (void)sink;
        st_free(&f);
    }
    return 0;
}
