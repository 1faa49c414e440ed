/* Tensors for looking inside a model (archlab.tensor in Lua): float32 or float64, up to 8 dimensions, strided
 * views over reference-counted storage. For analysis, not training: slicing, selecting and transposing make
 * views that share the storage; every operation makes a new contiguous tensor; reductions, elementwise
 * arithmetic with NumPy broadcasting, matmul (OpenBLAS), and reading and writing NumPy .npy files
 * (docs/EQUATIONS.md sec. 7 describes .npy beside safetensors). Indices here count from 0; the Lua side
 * counts from 1. Every function returning int gives 0, or -1 with al_errorf's message. */
#ifndef AL_TENSOR_H
#define AL_TENSOR_H
#include <stddef.h>
#include <stdint.h>

#define TENSOR_MAX_DIMS 8

typedef enum { TENSOR_F32 = 0, TENSOR_F64 = 1 } TensorDtype;

typedef struct TensorStorage {
    void *data;
    size_t bytes;
    int refs;
} TensorStorage;

typedef struct Tensor {
    TensorDtype dtype;
    int ndim;                          /* 0: a scalar (one element) */
    int64_t shape[TENSOR_MAX_DIMS];
    int64_t stride[TENSOR_MAX_DIMS];   /* in elements */
    int64_t offset;                    /* in elements, into the storage */
    TensorStorage *st;
} Tensor;

const char *tensor_dtype_name(TensorDtype dt); /* "f32", "f64" */
size_t tensor_dtype_size(TensorDtype dt);
/* A new contiguous zero-filled tensor; refuses shapes with a negative size or more than 2^40 elements. */
int tensor_new(Tensor *t, TensorDtype dt, int ndim, const int64_t *shape);
/* A new contiguous tensor holding n values of data (as doubles) in the given shape (whose size must be n). */
int tensor_from_doubles(Tensor *t, TensorDtype dt, int ndim, const int64_t *shape, const double *data, int64_t n);
/* Drops t's reference to its storage (the storage goes with the last reference); t becomes empty. */
void tensor_free(Tensor *t);
/* Another reference to the same storage and view. */
Tensor tensor_share(const Tensor *t);
int64_t tensor_numel(const Tensor *t);
int tensor_is_contiguous(const Tensor *t);
/* The element at idx (ndim indices, each in range: checked by callers) as a double; and setting it. */
double tensor_get(const Tensor *t, const int64_t *idx);
void tensor_set(Tensor *t, const int64_t *idx, double v);
/* A pointer to element 0 of a contiguous tensor. */
void *tensor_data(const Tensor *t);

/* ---- views (share the storage) ---- */
int tensor_select(const Tensor *t, int dim, int64_t i, Tensor *out);                 /* drops dim */
int tensor_narrow(const Tensor *t, int dim, int64_t start, int64_t len, Tensor *out); /* [start, start + len) */
int tensor_transpose(const Tensor *t, int a, int b, Tensor *out);

/* ---- new tensors ---- */
int tensor_contiguous(const Tensor *t, Tensor *out);              /* a copy in row-major order */
int tensor_astype(const Tensor *t, TensorDtype dt, Tensor *out);
/* The same elements in another shape of the same size; one entry may be -1 (inferred). */
int tensor_reshape(const Tensor *t, int ndim, const int64_t *shape, Tensor *out);

typedef enum { TENSOR_ADD, TENSOR_SUB, TENSOR_MUL, TENSOR_DIV } TensorBinop;
/* a op b with NumPy broadcasting (shapes aligned from the right; a size 1 stretches); f64 when either is. */
int tensor_binop(const Tensor *a, const Tensor *b, TensorBinop op, Tensor *out);
/* a op s, or s op a when scalar_first */
int tensor_scalar_op(const Tensor *a, double s, TensorBinop op, int scalar_first, Tensor *out);

typedef enum { TENSOR_ABS, TENSOR_NEG, TENSOR_EXP, TENSOR_LOG, TENSOR_SQRT } TensorMap;
int tensor_map(const Tensor *t, TensorMap m, Tensor *out);

typedef enum { TENSOR_SUM, TENSOR_MEAN, TENSOR_MAX, TENSOR_MIN, TENSOR_NORM } TensorReduce;
/* Along axis (its size leaves the shape), or over everything when axis < 0 (a 0-dimensional result). Sums
 * accumulate in double. MAX/MIN of an empty axis is an error; NaN propagates. NORM: the L2 norm. */
int tensor_reduce(const Tensor *t, TensorReduce r, int axis, Tensor *out);
/* Matrix products: (m, k) x (k, n), (k) x (k, n), (m, k) x (k), (k) x (k) (a dot product, 0-dimensional). */
int tensor_matmul(const Tensor *a, const Tensor *b, Tensor *out);

/* ---- files ---- */
/* NumPy .npy (format version 1.0): '<f4' or '<f8', C order. Written to PATH.tmp and renamed. */
int tensor_save_npy(const char *path, const Tensor *t);
/* Reads versions 1.0, 2.0 and 3.0, dtypes '<f4' and '<f8' (C or Fortran order); errors name the file. */
int tensor_load_npy(const char *path, Tensor *out);
#endif
