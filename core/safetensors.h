/* safetensors, the checkpoint format PyTorch users load (docs/EQUATIONS.md sec. 7):
 *   [u64 little-endian header length N][N bytes of JSON][tensor bytes]
 * The reader validates what the reference implementation does: header length within the file and at most
 * 100 MB, a JSON object, known dtypes, byte ranges equal to dtype size x shape (overflow-checked), inside
 * the data, non-overlapping and covering it exactly. Errors name the file and the tensor. */
#ifndef AL_SAFETENSORS_H
#define AL_SAFETENSORS_H
#include <stddef.h>
#include <stdint.h>

#define ST_MAX_DIMS 8

typedef struct StTensor {
    char *name;
    char dtype[12];
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    size_t begin, end; /* byte offsets into the data section */
} StTensor;

typedef struct StFile {
    uint8_t *buf;       /* the whole file */
    size_t len;
    const uint8_t *data; /* data section */
    size_t data_len;
    StTensor *t;
    int n;
    char **meta_keys, **meta_vals;
    int n_meta;
} StFile;

/* Bytes per element of a dtype name, 0 if unknown. */
size_t st_dtype_size(const char *dtype);
/* Reads and validates a file. -1 + al_errorf naming the path. */
int st_read(StFile *f, const char *path);
/* Validates an in-memory file (takes ownership of buf, which must come from malloc). `what` names it in
 * errors. */
int st_parse(StFile *f, uint8_t *buf, size_t len, const char *what);
void st_free(StFile *f);
const StTensor *st_find(const StFile *f, const char *name);
const char *st_meta(const StFile *f, const char *key);

/* Writing: tensors are given as name, dtype, shape and bytes; metadata as key/value strings. The file is
 * written to PATH.tmp, flushed with fsync and renamed over PATH, so a crash leaves the old file intact. */
typedef struct StWriteTensor {
    const char *name;
    const char *dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    const void *bytes;
} StWriteTensor;
int st_write(const char *path, const StWriteTensor *t, int n, const char *const *meta_keys,
             const char *const *meta_vals, int n_meta);
#endif
