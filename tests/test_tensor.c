/* core/tensor.c: views, arithmetic, reductions and matmul against values worked by hand; .npy files against
 * the bytes the format specifies, built by hand here (magic, version, header dict padded to 64, data). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/common.h"
#include "core/tensor.h"
#include "tests/harness.h"

static Tensor make(TensorDtype dt, int nd, const int64_t *shape, const double *v) {
    Tensor t;
    int64_t n = 1;
    for (int d = 0; d < nd; d++) n *= shape[d];
    EXPECT(tensor_from_doubles(&t, dt, nd, shape, v, n) == 0);
    return t;
}

static int equals(const Tensor *t, int nd, const int64_t *shape, const double *v) {
    if (t->ndim != nd) return 0;
    for (int d = 0; d < nd; d++)
        if (t->shape[d] != shape[d]) return 0;
    int64_t idx[TENSOR_MAX_DIMS] = {0}, n = tensor_numel(t);
    for (int64_t i = 0; i < n; i++) {
        double x = tensor_get(t, idx);
        if (!(x == v[i] || (isnan(x) && isnan(v[i])) || fabs(x - v[i]) <= 1e-6 * fabs(v[i]))) {
            th_note("element %lld is %g, expected %g", (long long)i, x, v[i]);
            return 0;
        }
        for (int d = nd - 1; d >= 0 && ++idx[d] == t->shape[d]; d--) idx[d] = 0;
    }
    return 1;
}

TEST(tensor_views_share_storage) {
    int64_t s23[2] = {2, 3};
    double v[6] = {1, 2, 3, 4, 5, 6};
    Tensor a = make(TENSOR_F32, 2, s23, v), t, row, col;
    EXPECT(tensor_transpose(&a, 0, 1, &t) == 0);
    EXPECT(equals(&t, 2, (int64_t[]){3, 2}, (double[]){1, 4, 2, 5, 3, 6}));
    EXPECT(!tensor_is_contiguous(&t) && tensor_is_contiguous(&a));
    EXPECT(tensor_select(&a, 0, 1, &row) == 0 && equals(&row, 1, (int64_t[]){3}, (double[]){4, 5, 6}));
    EXPECT(tensor_narrow(&a, 1, 1, 2, &col) == 0 && equals(&col, 2, (int64_t[]){2, 2}, (double[]){2, 3, 5, 6}));
    /* writing through a view shows in the tensor */
    tensor_set(&row, (int64_t[]){2}, 60);
    EXPECT(tensor_get(&a, (int64_t[]){1, 2}) == 60 && tensor_get(&t, (int64_t[]){2, 1}) == 60);
    EXPECT(a.st->refs == 4);
    tensor_free(&a); /* the views keep the storage alive */
    EXPECT(tensor_get(&col, (int64_t[]){1, 1}) == 60);
    Tensor c;
    EXPECT(tensor_contiguous(&t, &c) == 0 && tensor_is_contiguous(&c) && equals(&c, 2, (int64_t[]){3, 2}, (double[]){1, 4, 2, 5, 3, 60}));
    EXPECT(tensor_select(&c, 0, 3, &row) == -1 && strstr(al_error_message(), "index 4 is outside dimension 1 of size 3"));
    tensor_free(&t);
    tensor_free(&row);
    tensor_free(&col);
    tensor_free(&c);
}

TEST(tensor_broadcasting_arithmetic) {
    Tensor a = make(TENSOR_F32, 2, (int64_t[]){2, 3}, (double[]){1, 2, 3, 4, 5, 6});
    Tensor b = make(TENSOR_F32, 1, (int64_t[]){3}, (double[]){10, 20, 30});
    Tensor col = make(TENSOR_F64, 2, (int64_t[]){2, 1}, (double[]){2, 3});
    Tensor r;
    EXPECT(tensor_binop(&a, &b, TENSOR_ADD, &r) == 0 && equals(&r, 2, (int64_t[]){2, 3}, (double[]){11, 22, 33, 14, 25, 36}));
    EXPECT(r.dtype == TENSOR_F32);
    tensor_free(&r);
    /* (2, 1) * (3): an outer product, in f64 since one side is */
    EXPECT(tensor_binop(&col, &b, TENSOR_MUL, &r) == 0 && equals(&r, 2, (int64_t[]){2, 3}, (double[]){20, 40, 60, 30, 60, 90}));
    EXPECT(r.dtype == TENSOR_F64);
    tensor_free(&r);
    EXPECT(tensor_binop(&a, &col, TENSOR_DIV, &r) == 0 && equals(&r, 2, (int64_t[]){2, 3}, (double[]){0.5, 1, 1.5, 4.0 / 3, 5.0 / 3, 2}));
    tensor_free(&r);
    /* through a transposed view: (3, 2) - (2) */
    Tensor t;
    EXPECT(tensor_transpose(&a, 0, 1, &t) == 0);
    Tensor two = make(TENSOR_F32, 1, (int64_t[]){2}, (double[]){1, 4});
    EXPECT(tensor_binop(&t, &two, TENSOR_SUB, &r) == 0 && equals(&r, 2, (int64_t[]){3, 2}, (double[]){0, 0, 1, 1, 2, 2}));
    tensor_free(&r);
    EXPECT(tensor_scalar_op(&a, 1, TENSOR_SUB, 1, &r) == 0 && equals(&r, 2, (int64_t[]){2, 3}, (double[]){0, -1, -2, -3, -4, -5}));
    tensor_free(&r);
    EXPECT(tensor_binop(&a, &two, TENSOR_ADD, &r) == -1);
    EXPECT(strstr(al_error_message(), "shapes [2, 3] and [2] do not broadcast (dimension 2: 3 against 2)") != NULL);
    EXPECT(tensor_map(&a, TENSOR_SQRT, &r) == 0 && equals(&r, 2, (int64_t[]){2, 3}, (double[]){1, sqrt(2), sqrt(3), 2, sqrt(5), sqrt(6)}));
    tensor_free(&r);
    tensor_free(&a); tensor_free(&b); tensor_free(&col); tensor_free(&t); tensor_free(&two);
}

TEST(tensor_reductions) {
    Tensor a = make(TENSOR_F32, 2, (int64_t[]){2, 3}, (double[]){1, -2, 3, 4, 5, -6});
    Tensor r;
    EXPECT(tensor_reduce(&a, TENSOR_SUM, -1, &r) == 0 && r.ndim == 0 && tensor_get(&r, NULL) == 5);
    tensor_free(&r);
    EXPECT(tensor_reduce(&a, TENSOR_SUM, 0, &r) == 0 && equals(&r, 1, (int64_t[]){3}, (double[]){5, 3, -3}));
    tensor_free(&r);
    EXPECT(tensor_reduce(&a, TENSOR_MEAN, 1, &r) == 0 && equals(&r, 1, (int64_t[]){2}, (double[]){2.0 / 3, 1}));
    tensor_free(&r);
    EXPECT(tensor_reduce(&a, TENSOR_MAX, 1, &r) == 0 && equals(&r, 1, (int64_t[]){2}, (double[]){3, 5}));
    tensor_free(&r);
    EXPECT(tensor_reduce(&a, TENSOR_MIN, 0, &r) == 0 && equals(&r, 1, (int64_t[]){3}, (double[]){1, -2, -6}));
    tensor_free(&r);
    /* sqrt(1 + 4 + 9 + 16 + 25 + 36) = sqrt(91) */
    EXPECT(tensor_reduce(&a, TENSOR_NORM, -1, &r) == 0 && fabs(tensor_get(&r, NULL) - sqrt(91)) < 1e-6);
    tensor_free(&r);
    tensor_set(&a, (int64_t[]){0, 1}, NAN);
    EXPECT(tensor_reduce(&a, TENSOR_MAX, 1, &r) == 0 && equals(&r, 1, (int64_t[]){2}, (double[]){NAN, 5}));
    tensor_free(&r);
    EXPECT(tensor_reduce(&a, TENSOR_SUM, 2, &r) == -1 && strstr(al_error_message(), "dimension 3 does not exist"));
    Tensor e;
    EXPECT(tensor_new(&e, TENSOR_F32, 1, (int64_t[]){0}) == 0);
    EXPECT(tensor_reduce(&e, TENSOR_MAX, -1, &r) == -1 && strstr(al_error_message(), "max of no elements"));
    EXPECT(tensor_reduce(&e, TENSOR_SUM, -1, &r) == 0 && tensor_get(&r, NULL) == 0);
    tensor_free(&r);
    tensor_free(&e);
    tensor_free(&a);
}

TEST(tensor_matmul_and_reshape) {
    Tensor a = make(TENSOR_F32, 2, (int64_t[]){2, 3}, (double[]){1, 2, 3, 4, 5, 6});
    Tensor b = make(TENSOR_F64, 2, (int64_t[]){3, 2}, (double[]){7, 8, 9, 10, 11, 12});
    Tensor v = make(TENSOR_F32, 1, (int64_t[]){3}, (double[]){1, 0, -1});
    Tensor r;
    /* [[1*7+2*9+3*11, 1*8+2*10+3*12], [4*7+5*9+6*11, 4*8+5*10+6*12]] */
    EXPECT(tensor_matmul(&a, &b, &r) == 0 && equals(&r, 2, (int64_t[]){2, 2}, (double[]){58, 64, 139, 154}) && r.dtype == TENSOR_F64);
    tensor_free(&r);
    EXPECT(tensor_matmul(&a, &v, &r) == 0 && equals(&r, 1, (int64_t[]){2}, (double[]){-2, -2}));
    tensor_free(&r);
    EXPECT(tensor_matmul(&v, &v, &r) == 0 && r.ndim == 0 && tensor_get(&r, NULL) == 2);
    tensor_free(&r);
    Tensor t;
    EXPECT(tensor_transpose(&a, 0, 1, &t) == 0); /* a view: matmul copies it contiguous first */
    EXPECT(tensor_matmul(&t, &a, &r) == 0 && equals(&r, 2, (int64_t[]){3, 3}, (double[]){17, 22, 27, 22, 29, 36, 27, 36, 45}));
    tensor_free(&r);
    EXPECT(tensor_matmul(&a, &a, &r) == -1 && strstr(al_error_message(), "inner sizes differ (3 against 2)"));
    EXPECT(tensor_reshape(&t, 2, (int64_t[]){-1, 6}, &r) == 0 && equals(&r, 2, (int64_t[]){1, 6}, (double[]){1, 4, 2, 5, 3, 6}));
    tensor_free(&r);
    EXPECT(tensor_reshape(&a, 2, (int64_t[]){4, -1}, &r) == -1 && strstr(al_error_message(), "do not fill"));
    EXPECT(tensor_reshape(&a, 1, (int64_t[]){5}, &r) == -1 && strstr(al_error_message(), "6 elements into a shape of 5"));
    EXPECT(tensor_new(&r, TENSOR_F32, 2, (int64_t[]){1 << 21, 1 << 20}) == -1 && strstr(al_error_message(), "2^40"));
    tensor_free(&a); tensor_free(&b); tensor_free(&v); tensor_free(&t);
}

static long read_all(const char *path, unsigned char *buf, size_t cap) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    size_t n = fread(buf, 1, cap, f);
    fclose(f);
    return (long)n;
}

static void write_bytes(const char *path, const void *b, size_t n) {
    FILE *f = fopen(path, "wb");
    fwrite(b, 1, n, f);
    fclose(f);
}

/* A .npy file built here byte by byte: version, header length, dict, data. */
static size_t npy_by_hand(unsigned char *out, int major, const char *dict, const void *data, size_t bytes) {
    size_t pre = major == 1 ? 10 : 12, dl = strlen(dict), total = pre + dl + 1, pad = (64 - total % 64) % 64;
    size_t hl = dl + pad + 1;
    memcpy(out, "\x93NUMPY", 6);
    out[6] = (unsigned char)major;
    out[7] = 0;
    out[8] = hl & 0xff;
    out[9] = (hl >> 8) & 0xff;
    if (major > 1) { out[10] = (hl >> 16) & 0xff; out[11] = (hl >> 24) & 0xff; }
    memcpy(out + pre, dict, dl);
    memset(out + pre + dl, ' ', pad);
    out[pre + dl + pad] = '\n';
    memcpy(out + pre + hl, data, bytes);
    return pre + hl + bytes;
}

TEST(tensor_npy_bytes_by_hand) {
    const char *path = "/tmp/archlab_tensor_test.npy";
    Tensor a = make(TENSOR_F32, 2, (int64_t[]){2, 3}, (double[]){1, 2, 3, 4, 5, 6.5});
    EXPECT(tensor_save_npy(path, &a) == 0);
    unsigned char got[512], want[512];
    long n = read_all(path, got, sizeof got);
    float data[6] = {1, 2, 3, 4, 5, 6.5};
    size_t m = npy_by_hand(want, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", data, sizeof data);
    EXPECT(n == (long)m && m == 128 + 24 && !memcmp(got, want, m)); /* 10 + 60 + 1 header bytes padded to 128, 24 of data */
    Tensor b;
    EXPECT(tensor_load_npy(path, &b) == 0 && b.dtype == TENSOR_F32 && equals(&b, 2, (int64_t[]){2, 3}, (double[]){1, 2, 3, 4, 5, 6.5}));
    tensor_free(&b);
    /* a 1-d f64 tensor: the shape tuple "(3,)" as NumPy writes it */
    Tensor c = make(TENSOR_F64, 1, (int64_t[]){3}, (double[]){0.25, -1, 1e300});
    EXPECT(tensor_save_npy(path, &c) == 0);
    double d3[3] = {0.25, -1, 1e300};
    m = npy_by_hand(want, 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", d3, sizeof d3);
    n = read_all(path, got, sizeof got);
    EXPECT(n == (long)m && !memcmp(got, want, m));
    /* Fortran order, version 2.0: the values of [[1, 2, 3], [4, 5, 6]] stored column by column */
    float fcol[6] = {1, 4, 2, 5, 3, 6};
    m = npy_by_hand(want, 2, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", fcol, sizeof fcol);
    write_bytes(path, want, m);
    EXPECT(tensor_load_npy(path, &b) == 0 && equals(&b, 2, (int64_t[]){2, 3}, (double[]){1, 2, 3, 4, 5, 6}));
    tensor_free(&b);
    /* a scalar: shape () */
    m = npy_by_hand(want, 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (), }", d3, 8);
    write_bytes(path, want, m);
    EXPECT(tensor_load_npy(path, &b) == 0 && b.ndim == 0 && tensor_get(&b, NULL) == 0.25);
    tensor_free(&b);
    /* bad files: each a clear error naming the file */
    static const struct { const char *dict; size_t bytes; int cut; const char *err; } bad[] = {
        {"{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }", 24, 0, "dtype '<i8' is not float32"},
        {"{'descr': '>f4', 'fortran_order': False, 'shape': (3,), }", 12, 0, "dtype '>f4'"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", 12, 0, "truncated: the header promises 16 bytes"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 12, 0, "bytes after the data"},
        {"{'descr': '<f4', 'shape': (3,), }", 12, 0, "lacks 'fortran_order'"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (-3,), }", 12, 0, "not a size"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': [3], }", 12, 0, "'shape' must be a tuple"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", 12, 40, "truncated .npy header"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        m = npy_by_hand(want, 1, bad[i].dict, d3, bad[i].bytes);
        write_bytes(path, want, bad[i].cut ? (size_t)bad[i].cut : m);
        int rc = tensor_load_npy(path, &b);
        th_note("%s -> %s", bad[i].dict, rc ? al_error_message() : "loaded");
        EXPECT(rc == -1 && strstr(al_error_message(), bad[i].err) && strstr(al_error_message(), path));
    }
    write_bytes(path, "\x93NUMPX\x01\x00", 8);
    EXPECT(tensor_load_npy(path, &b) == -1 && strstr(al_error_message(), "not a .npy file"));
    want[6] = 4;
    write_bytes(path, want, m);
    EXPECT(tensor_load_npy(path, &b) == -1 && strstr(al_error_message(), "version 4.0"));
    /* a device is never replaced by the write-and-rename (as root that would delete the device node) */
    EXPECT(tensor_save_npy("/dev/null", &a) == -1 && strstr(al_error_message(), "'/dev/null' exists and is not a regular file (a device)"));
    struct stat st;
    EXPECT(stat("/dev/null", &st) == 0 && S_ISCHR(st.st_mode));
    /* a full disk (a file-size limit of 100 bytes): an error, no file, no temporary left */
    unlink(path);
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {100, 100};
        setrlimit(RLIMIT_FSIZE, &rl);
        Tensor big;
        if (tensor_new(&big, TENSOR_F64, 1, (int64_t[]){64})) _exit(3);
        _exit(tensor_save_npy(path, &big) == -1 && strstr(al_error_message(), "cannot write") ? 0 : 1);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    EXPECT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    EXPECT(access(path, F_OK) != 0);
    char tmp[300];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    EXPECT(access(tmp, F_OK) != 0);
    unlink(path);
    tensor_free(&a);
    tensor_free(&c);
}
