/* Strided tensors for analysis (core/tensor.h). Element access goes through the strides, so every function
 * works on views; operations write new contiguous tensors, and the common case (contiguous inputs of one
 * dtype) runs as a flat loop. */
#include "core/tensor.h"

#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/common.h"

#define MAX_ELEMS ((int64_t)1 << 40)

const char *tensor_dtype_name(TensorDtype dt) { return dt == TENSOR_F64 ? "f64" : "f32"; }
size_t tensor_dtype_size(TensorDtype dt) { return dt == TENSOR_F64 ? 8 : 4; }

static void contiguous_strides(Tensor *t) {
    int64_t s = 1;
    for (int d = t->ndim - 1; d >= 0; d--) {
        t->stride[d] = s;
        s *= t->shape[d] > 0 ? t->shape[d] : 1;
    }
}

int tensor_new(Tensor *t, TensorDtype dt, int ndim, const int64_t *shape) {
    memset(t, 0, sizeof *t);
    if (ndim < 0 || ndim > TENSOR_MAX_DIMS) return al_errorf("a tensor has 0 to %d dimensions, not %d", TENSOR_MAX_DIMS, ndim);
    int64_t n = 1;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 0) return al_errorf("dimension %d has a negative size (%lld)", d + 1, (long long)shape[d]);
        if (shape[d] > 0 && n > MAX_ELEMS / shape[d])
            return al_errorf("a tensor of more than 2^40 elements is refused (dimension %d)", d + 1);
        n *= shape[d];
    }
    TensorStorage *st = malloc(sizeof *st);
    if (!st) return al_errorf("out of memory for a tensor");
    st->bytes = (size_t)n * tensor_dtype_size(dt);
    st->data = al_calloc(st->bytes ? st->bytes : 1, 1, "a tensor");
    if (!st->data) { free(st); return -1; }
    st->refs = 1;
    t->dtype = dt;
    t->ndim = ndim;
    for (int d = 0; d < ndim; d++) t->shape[d] = shape[d];
    contiguous_strides(t);
    t->st = st;
    return 0;
}

void tensor_free(Tensor *t) {
    if (t->st && --t->st->refs == 0) {
        al_free(t->st->data);
        free(t->st);
    }
    memset(t, 0, sizeof *t);
}

Tensor tensor_share(const Tensor *t) {
    Tensor s = *t;
    if (s.st) s.st->refs++;
    return s;
}

int64_t tensor_numel(const Tensor *t) {
    int64_t n = 1;
    for (int d = 0; d < t->ndim; d++) n *= t->shape[d];
    return n;
}

int tensor_is_contiguous(const Tensor *t) {
    int64_t s = 1;
    for (int d = t->ndim - 1; d >= 0; d--) {
        if (t->shape[d] != 1 && t->stride[d] != s) return 0;
        s *= t->shape[d];
    }
    return 1;
}

void *tensor_data(const Tensor *t) { return (char *)t->st->data + t->offset * (int64_t)tensor_dtype_size(t->dtype); }

static int64_t where(const Tensor *t, const int64_t *idx) {
    int64_t o = t->offset;
    for (int d = 0; d < t->ndim; d++) o += idx[d] * t->stride[d];
    return o;
}

static double load(const Tensor *t, int64_t o) {
    return t->dtype == TENSOR_F64 ? ((const double *)t->st->data)[o] : ((const float *)t->st->data)[o];
}
static void store(Tensor *t, int64_t o, double v) {
    if (t->dtype == TENSOR_F64) ((double *)t->st->data)[o] = v;
    else ((float *)t->st->data)[o] = (float)v;
}

double tensor_get(const Tensor *t, const int64_t *idx) { return load(t, where(t, idx)); }
void tensor_set(Tensor *t, const int64_t *idx, double v) { store(t, where(t, idx), v); }

/* idx += 1 in row-major order over shape; returns 0 after the last index */
static int next_index(int64_t *idx, const int64_t *shape, int ndim) {
    for (int d = ndim - 1; d >= 0; d--) {
        if (++idx[d] < shape[d]) return 1;
        idx[d] = 0;
    }
    return 0;
}

/* the elements of t in row-major order into out (n doubles) */
static void gather(const Tensor *t, double *out) {
    int64_t n = tensor_numel(t);
    if (n == 0) return;
    if (tensor_is_contiguous(t)) {
        if (t->dtype == TENSOR_F64) memcpy(out, tensor_data(t), (size_t)n * sizeof(double));
        else for (int64_t i = 0; i < n; i++) out[i] = ((const float *)tensor_data(t))[i];
        return;
    }
    int64_t idx[TENSOR_MAX_DIMS] = {0}, i = 0;
    do out[i++] = tensor_get(t, idx);
    while (next_index(idx, t->shape, t->ndim));
}

int tensor_from_doubles(Tensor *t, TensorDtype dt, int ndim, const int64_t *shape, const double *data, int64_t n) {
    if (tensor_new(t, dt, ndim, shape)) return -1;
    if (tensor_numel(t) != n) {
        int64_t m = tensor_numel(t);
        tensor_free(t);
        return al_errorf("%lld values for a shape of %lld elements", (long long)n, (long long)m);
    }
    for (int64_t i = 0; i < n; i++) store(t, i, data[i]);
    return 0;
}

/* ---- views ---- */

static int check_dim(const Tensor *t, int dim) {
    if (dim < 0 || dim >= t->ndim)
        return al_errorf("dimension %d does not exist (the tensor has %d)", dim + 1, t->ndim);
    return 0;
}

int tensor_select(const Tensor *t, int dim, int64_t i, Tensor *out) {
    if (check_dim(t, dim)) return -1;
    if (i < 0 || i >= t->shape[dim])
        return al_errorf("index %lld is outside dimension %d of size %lld", (long long)i + 1, dim + 1, (long long)t->shape[dim]);
    Tensor v = tensor_share(t);
    v.offset += i * t->stride[dim];
    for (int d = dim; d < t->ndim - 1; d++) {
        v.shape[d] = t->shape[d + 1];
        v.stride[d] = t->stride[d + 1];
    }
    v.ndim--;
    *out = v;
    return 0;
}

int tensor_narrow(const Tensor *t, int dim, int64_t start, int64_t len, Tensor *out) {
    if (check_dim(t, dim)) return -1;
    if (start < 0 || len < 0 || start + len > t->shape[dim])
        return al_errorf("range %lld..%lld is outside dimension %d of size %lld", (long long)start + 1,
                         (long long)(start + len), dim + 1, (long long)t->shape[dim]);
    Tensor v = tensor_share(t);
    v.offset += start * t->stride[dim];
    v.shape[dim] = len;
    *out = v;
    return 0;
}

int tensor_transpose(const Tensor *t, int a, int b, Tensor *out) {
    if (check_dim(t, a) || check_dim(t, b)) return -1;
    Tensor v = tensor_share(t);
    v.shape[a] = t->shape[b]; v.shape[b] = t->shape[a];
    v.stride[a] = t->stride[b]; v.stride[b] = t->stride[a];
    *out = v;
    return 0;
}

/* ---- new tensors ---- */

/* a new tensor of t's shape (dtype dt) filled with t's elements */
static int copy_as(const Tensor *t, TensorDtype dt, Tensor *out) {
    Tensor r;
    if (tensor_new(&r, dt, t->ndim, t->shape)) return -1;
    int64_t n = tensor_numel(t);
    if (dt == TENSOR_F64) gather(t, tensor_data(&r));
    else if (t->dtype == TENSOR_F32 && tensor_is_contiguous(t)) memcpy(tensor_data(&r), tensor_data(t), (size_t)n * 4);
    else {
        double *tmp = malloc((size_t)(n ? n : 1) * sizeof *tmp);
        if (!tmp) { tensor_free(&r); return al_errorf("out of memory for a tensor"); }
        gather(t, tmp);
        for (int64_t i = 0; i < n; i++) ((float *)tensor_data(&r))[i] = (float)tmp[i];
        free(tmp);
    }
    *out = r;
    return 0;
}

int tensor_contiguous(const Tensor *t, Tensor *out) { return copy_as(t, t->dtype, out); }
int tensor_astype(const Tensor *t, TensorDtype dt, Tensor *out) { return copy_as(t, dt, out); }

int tensor_reshape(const Tensor *t, int ndim, const int64_t *shape, Tensor *out) {
    if (ndim < 0 || ndim > TENSOR_MAX_DIMS) return al_errorf("a tensor has 0 to %d dimensions, not %d", TENSOR_MAX_DIMS, ndim);
    int64_t s[TENSOR_MAX_DIMS], known = 1, n = tensor_numel(t);
    int infer = -1;
    for (int d = 0; d < ndim; d++) {
        s[d] = shape[d];
        if (s[d] == -1 && infer < 0) { infer = d; continue; }
        if (s[d] < 0) return al_errorf("reshape: size %lld of dimension %d (only one -1 may be inferred)", (long long)s[d], d + 1);
        known *= s[d];
    }
    if (infer >= 0) {
        if (known == 0 || n % known) return al_errorf("reshape: %lld elements do not fill the other dimensions (%lld)", (long long)n, (long long)known);
        s[infer] = n / known;
        known = n;
    }
    if (known != n) return al_errorf("reshape: %lld elements into a shape of %lld", (long long)n, (long long)known);
    Tensor c;
    if (tensor_contiguous(t, &c)) return -1;
    c.ndim = ndim;
    for (int d = 0; d < ndim; d++) c.shape[d] = s[d];
    contiguous_strides(&c);
    *out = c;
    return 0;
}

static double apply(TensorBinop op, double x, double y) {
    switch (op) {
    case TENSOR_ADD: return x + y;
    case TENSOR_SUB: return x - y;
    case TENSOR_MUL: return x * y;
    case TENSOR_DIV: return x / y;
    }
    return NAN;
}

int tensor_binop(const Tensor *a, const Tensor *b, TensorBinop op, Tensor *out) {
    int nd = a->ndim > b->ndim ? a->ndim : b->ndim;
    int64_t shape[TENSOR_MAX_DIMS], sa[TENSOR_MAX_DIMS], sb[TENSOR_MAX_DIMS];
    /* aligned from the right; a missing or size-1 dimension stretches (stride 0) */
    for (int d = 0; d < nd; d++) {
        int da = d - (nd - a->ndim), db = d - (nd - b->ndim);
        int64_t na = da >= 0 ? a->shape[da] : 1, nb = db >= 0 ? b->shape[db] : 1;
        if (na != nb && na != 1 && nb != 1) {
            char s1[160] = "", s2[160] = "";
            for (int k = 0; k < a->ndim; k++) snprintf(s1 + strlen(s1), sizeof s1 - strlen(s1), "%s%lld", k ? ", " : "", (long long)a->shape[k]);
            for (int k = 0; k < b->ndim; k++) snprintf(s2 + strlen(s2), sizeof s2 - strlen(s2), "%s%lld", k ? ", " : "", (long long)b->shape[k]);
            return al_errorf("shapes [%s] and [%s] do not broadcast (dimension %d: %lld against %lld)", s1, s2, d + 1,
                             (long long)na, (long long)nb);
        }
        shape[d] = na == 1 ? nb : na;
        sa[d] = da >= 0 && na != 1 ? a->stride[da] : 0;
        sb[d] = db >= 0 && nb != 1 ? b->stride[db] : 0;
    }
    TensorDtype dt = a->dtype == TENSOR_F64 || b->dtype == TENSOR_F64 ? TENSOR_F64 : TENSOR_F32;
    Tensor r;
    if (tensor_new(&r, dt, nd, shape)) return -1;
    int64_t n = tensor_numel(&r);
    int same = a->ndim == b->ndim && tensor_is_contiguous(a) && tensor_is_contiguous(b);
    for (int d = 0; same && d < nd; d++) same = a->shape[d] == b->shape[d];
    if (same && a->dtype == TENSOR_F32 && b->dtype == TENSOR_F32) { /* the common case: a flat loop */
        const float *x = tensor_data(a), *y = tensor_data(b);
        float *z = tensor_data(&r);
        for (int64_t i = 0; i < n; i++) z[i] = (float)apply(op, x[i], y[i]);
    } else if (n > 0) {
        int64_t idx[TENSOR_MAX_DIMS] = {0}, i = 0;
        do {
            int64_t oa = a->offset, ob = b->offset;
            for (int d = 0; d < nd; d++) { oa += idx[d] * sa[d]; ob += idx[d] * sb[d]; }
            store(&r, i++, apply(op, load(a, oa), load(b, ob)));
        } while (next_index(idx, shape, nd));
    }
    *out = r;
    return 0;
}

int tensor_scalar_op(const Tensor *a, double s, TensorBinop op, int scalar_first, Tensor *out) {
    Tensor r;
    if (tensor_contiguous(a, &r)) return -1;
    int64_t n = tensor_numel(&r);
    for (int64_t i = 0; i < n; i++) {
        double x = load(&r, i);
        store(&r, i, scalar_first ? apply(op, s, x) : apply(op, x, s));
    }
    *out = r;
    return 0;
}

int tensor_map(const Tensor *t, TensorMap m, Tensor *out) {
    Tensor r;
    if (tensor_contiguous(t, &r)) return -1;
    int64_t n = tensor_numel(&r);
    for (int64_t i = 0; i < n; i++) {
        double x = load(&r, i);
        store(&r, i, m == TENSOR_ABS ? fabs(x) : m == TENSOR_NEG ? -x : m == TENSOR_EXP ? exp(x) : m == TENSOR_LOG ? log(x) : sqrt(x));
    }
    *out = r;
    return 0;
}

int tensor_reduce(const Tensor *t, TensorReduce r, int axis, Tensor *out) {
    if (axis >= 0 && check_dim(t, axis)) return -1;
    /* as (outer, len, inner) over a contiguous copy */
    Tensor c;
    if (tensor_astype(t, TENSOR_F64, &c)) return -1;
    int64_t outer = 1, len = tensor_numel(&c), inner = 1;
    int64_t shape[TENSOR_MAX_DIMS] = {0};
    int nd = 0;
    if (axis >= 0) {
        outer = 1;
        for (int d = 0; d < axis; d++) outer *= t->shape[d];
        len = t->shape[axis];
        for (int d = axis + 1; d < t->ndim; d++) inner *= t->shape[d];
        for (int d = 0; d < t->ndim; d++)
            if (d != axis) shape[nd++] = t->shape[d];
    }
    if (len == 0 && (r == TENSOR_MAX || r == TENSOR_MIN)) {
        tensor_free(&c);
        return al_errorf("the %s of no elements", r == TENSOR_MAX ? "max" : "min");
    }
    Tensor o;
    if (tensor_new(&o, t->dtype, nd, shape)) { tensor_free(&c); return -1; }
    const double *x = tensor_data(&c);
    for (int64_t p = 0; p < outer; p++)
        for (int64_t q = 0; q < inner; q++) {
            const double *v = x + p * len * inner + q;
            double acc = r == TENSOR_MAX ? -INFINITY : r == TENSOR_MIN ? INFINITY : 0;
            int nan = 0;
            for (int64_t k = 0; k < len; k++) {
                double e = v[k * inner];
                nan |= isnan(e);
                if (r == TENSOR_MAX) acc = e > acc ? e : acc;
                else if (r == TENSOR_MIN) acc = e < acc ? e : acc;
                else if (r == TENSOR_NORM) acc += e * e;
                else acc += e;
            }
            if (r == TENSOR_MEAN) acc = len ? acc / len : NAN;
            if (r == TENSOR_NORM) acc = sqrt(acc);
            if (nan && (r == TENSOR_MAX || r == TENSOR_MIN)) acc = NAN;
            store(&o, p * inner + q, acc);
        }
    tensor_free(&c);
    *out = o;
    return 0;
}

int tensor_matmul(const Tensor *a, const Tensor *b, Tensor *out) {
    if (a->ndim < 1 || a->ndim > 2 || b->ndim < 1 || b->ndim > 2)
        return al_errorf("matmul takes 1- or 2-dimensional tensors (got %d and %d dimensions)", a->ndim, b->ndim);
    int64_t m = a->ndim == 2 ? a->shape[0] : 1, k = a->shape[a->ndim - 1];
    int64_t kb = b->shape[0], n = b->ndim == 2 ? b->shape[1] : 1;
    if (k != kb) return al_errorf("matmul: inner sizes differ (%lld against %lld)", (long long)k, (long long)kb);
    TensorDtype dt = a->dtype == TENSOR_F64 || b->dtype == TENSOR_F64 ? TENSOR_F64 : TENSOR_F32;
    Tensor x, y, r;
    if (tensor_astype(a, dt, &x)) return -1;
    if (tensor_astype(b, dt, &y)) { tensor_free(&x); return -1; }
    int64_t shape[2];
    int nd = 0;
    if (a->ndim == 2) shape[nd++] = m;
    if (b->ndim == 2) shape[nd++] = n;
    if (tensor_new(&r, dt, nd, shape)) { tensor_free(&x); tensor_free(&y); return -1; }
    if (m > 0 && n > 0 && k > 0) {
        if (dt == TENSOR_F64)
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)n, (int)k, 1.0, tensor_data(&x), (int)k,
                        tensor_data(&y), (int)n, 0.0, tensor_data(&r), (int)n);
        else
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)n, (int)k, 1.0f, tensor_data(&x), (int)k,
                        tensor_data(&y), (int)n, 0.0f, tensor_data(&r), (int)n);
    }
    tensor_free(&x);
    tensor_free(&y);
    *out = r;
    return 0;
}

/* ---- NumPy .npy ----
 * "\x93NUMPY", major, minor, header length (u16 LE in 1.0; u32 LE in 2.0 and 3.0), then an ASCII (3.0: UTF-8)
 * Python dict literal {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } padded with spaces and a
 * final '\n' so the data starts at a multiple of 64 bytes; the data follows, little-endian here. */

int tensor_save_npy(const char *path, const Tensor *t) {
    char header[512];
    int h = snprintf(header, sizeof header, "{'descr': '<%s', 'fortran_order': False, 'shape': (",
                     t->dtype == TENSOR_F64 ? "f8" : "f4");
    /* as NumPy writes it: (2, 3), (3,) for one dimension, () for a scalar */
    for (int d = 0; d < t->ndim; d++) h += snprintf(header + h, sizeof header - h, "%s%lld", d ? ", " : "", (long long)t->shape[d]);
    h += snprintf(header + h, sizeof header - h, "%s), }", t->ndim == 1 ? "," : "");
    int total = 10 + h + 1;
    int pad = (64 - total % 64) % 64;
    if (h + pad + 1 >= (int)sizeof header) return al_errorf("%s: npy header too long", path);
    memset(header + h, ' ', (size_t)pad);
    header[h + pad] = '\n';
    int hl = h + pad + 1;
    Tensor c;
    if (tensor_contiguous(t, &c)) return -1;
    char tmp[4200];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp) { tensor_free(&c); return al_errorf("path too long: %s", path); }
    if (make_parent_dirs(path) || al_check_replaceable(path)) { tensor_free(&c); return -1; }
    FILE *f = fopen(tmp, "wb");
    if (!f) { tensor_free(&c); return al_errorf("cannot write '%s': %s", path, strerror(errno)); }
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hl & 0xff), (unsigned char)(hl >> 8)};
    size_t bytes = (size_t)tensor_numel(&c) * tensor_dtype_size(c.dtype);
    int bad = fwrite(pre, 1, 10, f) != 10 || fwrite(header, 1, (size_t)hl, f) != (size_t)hl ||
              (bytes && fwrite(tensor_data(&c), 1, bytes, f) != bytes);
    bad |= fflush(f) != 0 || fsync(fileno(f)) != 0;
    bad |= fclose(f) != 0;
    tensor_free(&c);
    if (bad) { unlink(tmp); return al_errorf("cannot write '%s': %s", path, strerror(errno ? errno : EIO)); }
    if (rename(tmp, path)) { unlink(tmp); return al_errorf("cannot write '%s': %s", path, strerror(errno)); }
    return 0;
}

/* the value after 'key': in the header dict, or NULL */
static const char *dict_value(const char *h, const char *key) {
    char k1[32], k2[32];
    snprintf(k1, sizeof k1, "'%s'", key);
    snprintf(k2, sizeof k2, "\"%s\"", key);
    const char *p = strstr(h, k1);
    if (!p) p = strstr(h, k2);
    if (!p) return NULL;
    p += strlen(k1);
    while (*p == ' ') p++;
    if (*p != ':') return NULL;
    p++;
    while (*p == ' ') p++;
    return p;
}

int tensor_load_npy(const char *path, Tensor *out) {
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) return al_errorf("cannot open '%s': %s", path, strerror(errno));
    unsigned char pre[12];
    char *h = NULL;
    int rc = -1;
    if (fread(pre, 1, 8, f) != 8 || memcmp(pre, "\x93NUMPY", 6)) { al_errorf("%s: not a .npy file (no \\x93NUMPY magic)", path); goto done; }
    if (pre[6] < 1 || pre[6] > 3) { al_errorf("%s: .npy format version %d.%d is not 1.0, 2.0 or 3.0", path, pre[6], pre[7]); goto done; }
    size_t hl;
    if (pre[6] == 1) {
        if (fread(pre + 8, 1, 2, f) != 2) { al_errorf("%s: truncated .npy header", path); goto done; }
        hl = pre[8] | (size_t)pre[9] << 8;
    } else {
        if (fread(pre + 8, 1, 4, f) != 4) { al_errorf("%s: truncated .npy header", path); goto done; }
        hl = pre[8] | (size_t)pre[9] << 8 | (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
        if (hl > (1u << 20)) { al_errorf("%s: .npy header of %zu bytes is too long", path, hl); goto done; }
    }
    h = malloc(hl + 1);
    if (!h || fread(h, 1, hl, f) != hl) { al_errorf("%s: truncated .npy header", path); goto done; }
    h[hl] = 0;
    if (strlen(h) != hl) { al_errorf("%s: a NUL byte inside the .npy header", path); goto done; }
    const char *descr = dict_value(h, "descr"), *fo = dict_value(h, "fortran_order"), *sh = dict_value(h, "shape");
    if (!descr || !fo || !sh) { al_errorf("%s: the .npy header lacks %s", path, !descr ? "'descr'" : !fo ? "'fortran_order'" : "'shape'"); goto done; }
    TensorDtype dt;
    if (!strncmp(descr, "'<f4'", 5) || !strncmp(descr, "\"<f4\"", 5)) dt = TENSOR_F32;
    else if (!strncmp(descr, "'<f8'", 5) || !strncmp(descr, "\"<f8\"", 5)) dt = TENSOR_F64;
    else {
        char d[16];
        snprintf(d, sizeof d, "%.*s", (int)strcspn(descr, ",}"), descr);
        al_errorf("%s: dtype %s is not float32 ('<f4') or float64 ('<f8')", path, d);
        goto done;
    }
    int fortran;
    if (!strncmp(fo, "False", 5)) fortran = 0;
    else if (!strncmp(fo, "True", 4)) fortran = 1;
    else { al_errorf("%s: 'fortran_order' must be True or False", path); goto done; }
    if (*sh != '(') { al_errorf("%s: 'shape' must be a tuple", path); goto done; }
    int64_t shape[TENSOR_MAX_DIMS];
    int nd = 0;
    const char *p = sh + 1;
    for (;;) {
        while (*p == ' ') p++;
        if (*p == ')') break;
        if (nd == TENSOR_MAX_DIMS) { al_errorf("%s: more than %d dimensions", path, TENSOR_MAX_DIMS); goto done; }
        char *end;
        errno = 0;
        long long v = strtoll(p, &end, 10);
        if (end == p || v < 0 || errno) { al_errorf("%s: 'shape' holds something that is not a size", path); goto done; }
        shape[nd++] = v;
        p = end;
        while (*p == ' ') p++;
        if (*p == ',') p++;
        else if (*p != ')') { al_errorf("%s: 'shape' is not a tuple of sizes", path); goto done; }
    }
    Tensor t;
    if (fortran) { /* read as the reversed shape, then transpose back to a view in the stated shape */
        int64_t rev[TENSOR_MAX_DIMS];
        for (int d = 0; d < nd; d++) rev[d] = shape[nd - 1 - d];
        if (tensor_new(&t, dt, nd, rev)) goto done;
    } else if (tensor_new(&t, dt, nd, shape)) goto done;
    size_t bytes = (size_t)tensor_numel(&t) * tensor_dtype_size(dt);
    if (bytes && fread(tensor_data(&t), 1, bytes, f) != bytes) {
        tensor_free(&t);
        al_errorf("%s: truncated: the header promises %zu bytes of data", path, bytes);
        goto done;
    }
    if (fgetc(f) != EOF) { tensor_free(&t); al_errorf("%s: bytes after the data the header describes", path); goto done; }
    if (fortran) {
        Tensor v = tensor_share(&t);
        for (int d = 0; d < nd; d++) { v.shape[d] = t.shape[nd - 1 - d]; v.stride[d] = t.stride[nd - 1 - d]; }
        tensor_free(&t);
        rc = tensor_contiguous(&v, out);
        tensor_free(&v);
        goto done;
    }
    *out = t;
    rc = 0;
done:
    free(h);
    fclose(f);
    return rc;
}
