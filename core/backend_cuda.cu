/* The CUDA backend's generic table (core/backend.h) and what its files share (core/cuda_internal.cuh): device
 * memory, explicit copies, GEMMs through cuBLAS, norms, RoPE, SwiGLU, embedding, cross-entropy, elementwise
 * operations, clipping's sum of squares, the finite check, AdamW, strided copies and sampling. The attention
 * kernels are in core/backend_cuda_attn.cu. Reductions run in a fixed order (no atomics on values), so a run
 * repeats bit for bit on the same GPU; against the CPU they agree to float32 rounding (tools/gpu_check.c). */
#include "core/cuda_internal.cuh"

cudaStream_t cu_stream;
cublasHandle_t cu_blas;
static cublasComputeType_t gemm_compute = CUBLAS_COMPUTE_32F;
static int ready;
static char description[256] = "no CUDA device initialized";

void cu_fail(const char *call, const char *err, const char *file, int line) {
    fprintf(stderr, "archlab: CUDA error: %s (%s, %s:%d)\n", err, call, file, line);
    exit(1);
}

extern "C" int cuda_backend_init(void) {
    if (ready) return 0;
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess) {
        cudaGetLastError();
        return al_errorf("device 'cuda' is not usable here: %s (no NVIDIA GPU or driver on this machine?)",
                         cudaGetErrorString(e));
    }
    if (count < 1) return al_errorf("device 'cuda' is not usable here: no NVIDIA GPU on this machine");
    if ((e = cudaSetDevice(0)) != cudaSuccess || (e = cudaStreamCreateWithFlags(&cu_stream, cudaStreamNonBlocking)) != cudaSuccess)
        return al_errorf("device 'cuda' is not usable here: %s", cudaGetErrorString(e));
    cublasStatus_t s = cublasCreate(&cu_blas);
    if (s != CUBLAS_STATUS_SUCCESS) return al_errorf("device 'cuda': cuBLAS did not start (%s)", cublasGetStatusString(s));
    CUBLAS(cublasSetStream(cu_blas, cu_stream));
    CUBLAS(cublasSetMathMode(cu_blas, CUBLAS_DEFAULT_MATH)); /* fp32: no TF32 unless asked for */
    cudaDeviceProp p;
    CU(cudaGetDeviceProperties(&p, 0));
    int drv = 0, rt = 0;
    cudaDriverGetVersion(&drv);
    cudaRuntimeGetVersion(&rt);
    snprintf(description, sizeof description, "%.120s, %d SMs, %.1f GiB, compute %d.%d, driver %d.%d, runtime %d.%d", p.name,
             p.multiProcessorCount, p.totalGlobalMem / 1073741824.0, p.major, p.minor, drv / 1000, drv % 1000 / 10,
             rt / 1000, rt % 1000 / 10);
    ready = 1;
    return 0;
}

extern "C" const char *cuda_device_description(void) { return description; }
extern "C" void cuda_synchronize(void) { CU(cudaStreamSynchronize(cu_stream)); }

extern "C" int cuda_gemm_precision(const char *precision) {
    if (!strcmp(precision, "fp32")) gemm_compute = CUBLAS_COMPUTE_32F;
    else if (!strcmp(precision, "tf32")) gemm_compute = CUBLAS_COMPUTE_32F_FAST_TF32;
    else if (!strcmp(precision, "bf16")) gemm_compute = CUBLAS_COMPUTE_32F_FAST_16BF;
    else if (!strcmp(precision, "fp8"))
        return al_errorf("field 'precision' = \"fp8\" is simulated on device 'cpu' only (core/lowp_linear.c); device "
                         "'cuda' runs fp32|tf32|bf16");
    else return al_errorf("field 'precision' = \"%s\" is not one of fp32|tf32|bf16 (device 'cuda')", precision);
    return 0;
}

/* ---- workspaces and staging ---- */

static void *dev_slot[8];
static size_t dev_cap[8];
void *cu_scratch(size_t bytes, int slot) {
    if (bytes > dev_cap[slot]) {
        if (dev_slot[slot]) CU(cudaFree(dev_slot[slot])); /* waits for the kernels that used it */
        size_t cap = bytes + bytes / 4 + 256;
        CU(cudaMalloc(&dev_slot[slot], cap));
        dev_cap[slot] = cap;
    }
    return dev_slot[slot];
}

static int *int_slot[8];
static size_t int_cap[8];
const int *cu_stage_ints(const int *host, size_t n, int slot) {
    if (n > int_cap[slot]) {
        if (int_slot[slot]) CU(cudaFree(int_slot[slot]));
        size_t cap = n + n / 4 + 64;
        CU(cudaMalloc((void **)&int_slot[slot], cap * sizeof(int)));
        int_cap[slot] = cap;
    }
    /* from pageable memory: returns once the ints are staged, so the host may reuse its array at once */
    if (n) CU(cudaMemcpyAsync(int_slot[slot], host, n * sizeof(int), cudaMemcpyHostToDevice, cu_stream));
    return int_slot[slot];
}

static void *host_slot[8];
static size_t host_cap[8];
void *cu_host_scratch(size_t bytes, int slot) {
    if (bytes > host_cap[slot]) {
        free(host_slot[slot]);
        host_cap[slot] = bytes + bytes / 4 + 256;
        host_slot[slot] = malloc(host_cap[slot]);
        if (!host_slot[slot]) { fprintf(stderr, "archlab: out of host memory (CUDA backend workspace)\n"); exit(1); }
    }
    return host_slot[slot];
}

double cu_read_double(const double *dev) {
    double v;
    CU(cudaMemcpyAsync(&v, dev, sizeof v, cudaMemcpyDeviceToHost, cu_stream));
    CU(cudaStreamSynchronize(cu_stream));
    return v;
}

/* ---- deterministic reductions: a fixed grid of partial sums, then one block sums them in order ---- */

#define RED_BLOCKS 1024
#define RED_THREADS 256

template <typename F>
__global__ void k_partial_sums(double *part, size_t n, F f) {
    double s = 0;
    GRID_STRIDE(i, n) s += f(i);
    s = block_sum(s);
    if (threadIdx.x == 0) part[blockIdx.x] = s;
}

__global__ void k_finish_sum(double *out, const double *part, int n) {
    double s = 0;
    for (int i = threadIdx.x; i < n; i += blockDim.x) s += part[i];
    s = block_sum(s);
    if (threadIdx.x == 0) *out = s;
}

template <typename F>
static double reduce_sum(size_t n, F f) {
    double *part = (double *)cu_scratch(sizeof(double) * (RED_BLOCKS + 1), 0);
    k_partial_sums<<<RED_BLOCKS, RED_THREADS, 0, cu_stream>>>(part, n, f);
    CU_LAUNCHED();
    k_finish_sum<<<1, RED_THREADS, 0, cu_stream>>>(part + RED_BLOCKS, part, RED_BLOCKS);
    CU_LAUNCHED();
    return cu_read_double(part + RED_BLOCKS);
}

struct ReadDouble {
    const double *x;
    __device__ double operator()(size_t i) const { return x[i]; }
};
double cu_sum_doubles(const double *dev, size_t n) { return reduce_sum(n, ReadDouble{dev}); }

__global__ void k_column_finish(real *out, const double *part, int chunks, int C) {
    GRID_STRIDE(c, (size_t)C) {
        double s = 0;
        for (int k = 0; k < chunks; k++) s += part[(size_t)k * C + c];
        out[c] += (real)s;
    }
}

/* ---- GEMM: row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T ---- */

void cu_gemm(int ta, int tb, int M, int N, int K, real alpha, const real *A, int lda, const real *B, int ldb, real beta,
             real *C, int ldc) {
    if (M <= 0 || N <= 0) return;
    CUBLAS(cublasGemmEx(cu_blas, tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N, N, M, K, &alpha, B,
                        CUDA_R_32F, ldb, A, CUDA_R_32F, lda, &beta, C, CUDA_R_32F, ldc, gemm_compute, CUBLAS_GEMM_DEFAULT));
}

void cu_gemm_batched(int ta, int tb, int M, int N, int K, real alpha, const real *const *A, int lda,
                     const real *const *B, int ldb, real beta, real *const *C, int ldc, int count) {
    if (M <= 0 || N <= 0 || count <= 0) return;
    CUBLAS(cublasGemmBatchedEx(cu_blas, tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N, N, M, K, &alpha,
                               (const void *const *)B, CUDA_R_32F, ldb, (const void *const *)A, CUDA_R_32F, lda, &beta,
                               (void *const *)C, CUDA_R_32F, ldc, count, gemm_compute, CUBLAS_GEMM_DEFAULT));
}

/* ---- memory ---- */

static real *cu_alloc(size_t n, const char *what) {
    if (!n) return NULL;
    if (!ready && cuda_backend_init()) return NULL;
    void *p = NULL;
    cudaError_t e = cudaMalloc(&p, n * sizeof(real));
    if (e != cudaSuccess) {
        cudaGetLastError();
        char b[32];
        al_errorf("out of GPU memory allocating %s (%s): %s", what, al_format_bytes((double)n * sizeof(real), b),
                  cudaGetErrorString(e));
        return NULL;
    }
    CU(cudaMemsetAsync(p, 0, n * sizeof(real), cu_stream));
    al_device_buffers++;
    return (real *)p;
}

static void cu_free(real *p) {
    if (!p) return;
    CU(cudaFree(p));
    al_device_buffers--;
}

static void cu_to_host(real *dst, const real *src, size_t n) {
    if (!n) return;
    CU(cudaMemcpyAsync(dst, src, n * sizeof(real), cudaMemcpyDeviceToHost, cu_stream));
    CU(cudaStreamSynchronize(cu_stream));
}

static void cu_to_device(real *dst, const real *src, size_t n) {
    if (!n) return;
    CU(cudaMemcpyAsync(dst, src, n * sizeof(real), cudaMemcpyHostToDevice, cu_stream));
}

/* ---- linear layers ---- */

__global__ void k_add_bias(real *out, const real *bias, size_t N, int OC) {
    GRID_STRIDE(i, N * OC) out[i] += bias[i % OC];
}

static void linear_forward(real *out, const real *inp, const real *w, const real *bias, int N, int IC, int OC) {
    cu_gemm(0, 1, N, OC, IC, 1, inp, IC, w, IC, 0, out, OC);
    if (bias) {
        k_add_bias<<<cu_blocks((size_t)N * OC, 256), 256, 0, cu_stream>>>(out, bias, N, OC);
        CU_LAUNCHED();
    }
}

struct ColumnOf {
    const real *x;
    int C;
    __device__ double operator()(size_t n, int c) const { return x[n * C + c]; }
};

static void linear_backward(real *dinp, real *dw, real *dbias, const real *dout, const real *inp, const real *w, int N,
                            int IC, int OC) {
    if (dinp) cu_gemm(0, 0, N, IC, OC, 1, dout, OC, w, IC, 1, dinp, IC);
    cu_gemm(1, 0, OC, IC, N, 1, dout, OC, inp, IC, 1, dw, IC);
    if (dbias) cu_column_sums(dbias, N, OC, ColumnOf{dout, OC});
}

/* ---- RMSNorm: a block per row ---- */

#define ROW_THREADS 256

__global__ void k_rmsnorm_forward(real *out, real *rstd, const real *inp, const real *w, int C, real eps) {
    size_t n = blockIdx.x;
    const real *x = inp + n * C;
    double ss = 0;
    for (int i = threadIdx.x; i < C; i += blockDim.x) ss += (double)x[i] * x[i];
    ss = block_sum(ss);
    real r = al_rms_rstd(ss, C, eps);
    if (threadIdx.x == 0) rstd[n] = r;
    real *o = out + n * C;
    for (int i = threadIdx.x; i < C; i += blockDim.x) o[i] = w ? x[i] * r * w[i] : x[i] * r;
}

static void rmsnorm_forward(real *out, real *rstd, const real *inp, const real *w, int N, int C, real eps) {
    if (N <= 0) return;
    k_rmsnorm_forward<<<N, ROW_THREADS, 0, cu_stream>>>(out, rstd, inp, w, C, eps);
    CU_LAUNCHED();
}

/* dx_i = r w_i g_i - x_i r^3 / C sum_j g_j w_j x_j */
__global__ void k_rmsnorm_backward(real *dinp, const real *dout, const real *inp, const real *w, const real *rstd, int C) {
    size_t n = blockIdx.x;
    const real *x = inp + n * C, *g = dout + n * C;
    real *dx = dinp + n * C, r = rstd[n];
    double dot = 0;
    for (int i = threadIdx.x; i < C; i += blockDim.x) dot += (double)g[i] * (w ? w[i] : 1) * x[i];
    dot = block_sum(dot);
    real c = (real)(dot * r * r * r / C);
    for (int i = threadIdx.x; i < C; i += blockDim.x) dx[i] += r * (w ? w[i] : 1) * g[i] - x[i] * c;
}

struct NormWeightGrad {
    const real *g, *x, *rstd;
    int C;
    __device__ double operator()(size_t n, int c) const { return (double)g[n * C + c] * x[n * C + c] * rstd[n]; }
};

static void rmsnorm_backward(real *dinp, real *dw, const real *dout, const real *inp, const real *w, const real *rstd,
                             int N, int C) {
    if (N <= 0) return;
    k_rmsnorm_backward<<<N, ROW_THREADS, 0, cu_stream>>>(dinp, dout, inp, w, rstd, C);
    CU_LAUNCHED();
    if (dw) cu_column_sums(dw, N, C, NormWeightGrad{dout, inp, rstd, C});
}

/* ---- RoPE, SwiGLU, embedding ---- */

__global__ void k_rope(real *x, int T, int n_heads, int head_stride, int half, int stride, const real *cs, const real *sn,
                       int inverse, size_t total) {
    GRID_STRIDE(k, total) {
        int i = (int)(k % half);
        size_t rest = k / half;
        int h = (int)(rest % n_heads);
        size_t bt = rest / n_heads;
        int t = (int)(bt % T);
        real *v = x + bt * stride + (size_t)h * head_stride;
        real s = sn[(size_t)t * half + i];
        al_rope_pair(&v[i], &v[i + half], cs[(size_t)t * half + i], inverse ? -s : s);
    }
}

static void rope(real *x, int B, int T, int n_heads, int head_stride, int rot, int stride, const real *cs, const real *sn,
                 int inverse) {
    int half = rot / 2;
    size_t total = (size_t)B * T * n_heads * half;
    if (!total) return;
    k_rope<<<cu_blocks(total, 256), 256, 0, cu_stream>>>(x, T, n_heads, head_stride, half, stride, cs, sn, inverse, total);
    CU_LAUNCHED();
}

__global__ void k_swiglu_forward(real *h, const real *gu, int F, size_t total) {
    GRID_STRIDE(k, total) {
        size_t n = k / F, i = k % F;
        const real *a = gu + n * 2 * F;
        h[k] = al_swiglu(a[i], a[F + i]);
    }
}

__global__ void k_swiglu_backward(real *dgu, const real *dh, const real *gu, int F, size_t total) {
    GRID_STRIDE(k, total) {
        size_t n = k / F, i = k % F;
        const real *a = gu + n * 2 * F;
        real *d = dgu + n * 2 * F;
        al_swiglu_grad(dh[k], a[i], a[F + i], &d[i], &d[F + i]);
    }
}

static void swiglu_forward(real *h, const real *gu, int N, int F) {
    size_t total = (size_t)N * F;
    if (!total) return;
    k_swiglu_forward<<<cu_blocks(total, 256), 256, 0, cu_stream>>>(h, gu, F, total);
    CU_LAUNCHED();
}

static void swiglu_backward(real *dgu, const real *dh, const real *gu, int N, int F) {
    size_t total = (size_t)N * F;
    if (!total) return;
    k_swiglu_backward<<<cu_blocks(total, 256), 256, 0, cu_stream>>>(dgu, dh, gu, F, total);
    CU_LAUNCHED();
}

__global__ void k_embedding_forward(real *out, const int *tokens, const real *table, int C, size_t total) {
    GRID_STRIDE(k, total) out[k] = table[(size_t)tokens[k / C] * C + k % C];
}

static void embedding_forward(real *out, const int *tokens, const real *table, int N, int C) {
    size_t total = (size_t)N * C;
    if (!total) return;
    const int *tok = cu_stage_ints(tokens, N, 0);
    k_embedding_forward<<<cu_blocks(total, 256), 256, 0, cu_stream>>>(out, tok, table, C, total);
    CU_LAUNCHED();
}

/* Deterministic scatter: the host sorts the positions by token (stable, so each token's positions stay in order);
 * a block per (distinct token, 256 channels) adds them in that order, as the CPU does. */
__global__ void k_embedding_backward(real *dtable, const real *dout, const int *uniq, const int *seg, const int *perm, int C) {
    int u = blockIdx.x, c = blockIdx.y * blockDim.x + threadIdx.x;
    if (c >= C) return;
    real *d = dtable + (size_t)uniq[u] * C + c;
    real s = *d;
    for (int k = seg[u]; k < seg[u + 1]; k++) s += dout[(size_t)perm[k] * C + c];
    *d = s;
}

static void embedding_backward(real *dtable, const real *dout, const int *tokens, int N, int C) {
    if (N <= 0 || C <= 0) return;
    int V = 0;
    for (int n = 0; n < N; n++) V = tokens[n] + 1 > V ? tokens[n] + 1 : V;
    int *count = (int *)cu_host_scratch(sizeof(int) * ((size_t)V + 1), 0);
    int *perm = (int *)cu_host_scratch(sizeof(int) * (size_t)N, 1);
    int *uniq = (int *)cu_host_scratch(sizeof(int) * (size_t)N, 2);
    int *seg = (int *)cu_host_scratch(sizeof(int) * ((size_t)N + 1), 3);
    memset(count, 0, sizeof(int) * ((size_t)V + 1));
    for (int n = 0; n < N; n++) count[tokens[n] + 1]++;
    int U = 0;
    seg[0] = 0;
    for (int v = 0; v < V; v++) {
        if (count[v + 1]) { uniq[U] = v; seg[U + 1] = seg[U] + count[v + 1]; U++; }
        count[v + 1] += count[v]; /* count[v] = first row of token v */
    }
    for (int n = 0; n < N; n++) perm[count[tokens[n]]++] = n;
    const int *du = cu_stage_ints(uniq, U, 1), *ds = cu_stage_ints(seg, (size_t)U + 1, 2), *dp = cu_stage_ints(perm, N, 3);
    dim3 grid(U, (C + 255) / 256);
    k_embedding_backward<<<grid, 256, 0, cu_stream>>>(dtable, dout, du, ds, dp, C);
    CU_LAUNCHED();
}

/* ---- cross-entropy: a block per row ---- */

__global__ void k_cross_entropy_forward(real *losses, double *row_loss, real *logits, const int *targets, int V) {
    size_t n = blockIdx.x;
    real *row = logits + n * V;
    int tgt = targets[n];
    real mx = -INFINITY;
    for (int i = threadIdx.x; i < V; i += blockDim.x) mx = fmaxf(mx, row[i]);
    mx = block_max(mx);
    /* loss = log-sum-exp - logit (not -log(prob), which underflows for confident wrong answers) */
    double zt = tgt >= 0 ? (double)row[tgt] - mx : 0;
    __syncthreads(); /* every thread has read row[tgt] before it is overwritten */
    double sum = 0;
    for (int i = threadIdx.x; i < V; i += blockDim.x) {
        real e = al_exp(row[i] - mx);
        row[i] = e;
        sum += e;
    }
    sum = block_sum(sum);
    real inv = (real)(1.0 / sum);
    for (int i = threadIdx.x; i < V; i += blockDim.x) row[i] *= inv;
    if (threadIdx.x == 0) {
        real l = tgt >= 0 ? (real)(log(sum) - zt) : 0;
        losses[n] = l;
        row_loss[n] = l;
    }
}

static double cross_entropy_forward(real *losses, real *logits, const int *targets, int N, int V, int *n_valid) {
    int valid = 0;
    for (int n = 0; n < N; n++) valid += targets[n] >= 0;
    *n_valid = valid;
    if (N <= 0) return 0;
    const int *tg = cu_stage_ints(targets, N, 0);
    double *row_loss = (double *)cu_scratch(sizeof(double) * N, 3);
    k_cross_entropy_forward<<<N, ROW_THREADS, 0, cu_stream>>>(losses, row_loss, logits, tg, V);
    CU_LAUNCHED();
    return cu_sum_doubles(row_loss, N);
}

__global__ void k_cross_entropy_backward(real *probs, const int *targets, int V, real scale, size_t total) {
    GRID_STRIDE(k, total) {
        size_t n = k / V;
        int i = (int)(k % V), t = targets[n];
        if (t < 0) { probs[k] = 0; continue; }
        real p = probs[k] * scale;
        probs[k] = i == t ? p - scale : p;
    }
}

static void cross_entropy_backward(real *probs, const int *targets, int N, int V, real scale) {
    size_t total = (size_t)N * V;
    if (!total) return;
    const int *tg = cu_stage_ints(targets, N, 0);
    k_cross_entropy_backward<<<cu_blocks(total, 256), 256, 0, cu_stream>>>(probs, tg, V, scale, total);
    CU_LAUNCHED();
}

/* ---- elementwise ---- */

static void zero(real *x, size_t n) {
    if (n) CU(cudaMemsetAsync(x, 0, n * sizeof(real), cu_stream));
}

static void copy(real *dst, const real *src, size_t n) {
    if (!n || dst == src) return;
    if (dst < src + n && src < dst + n) { /* overlapping (memmove semantics): through a workspace */
        real *t = (real *)cu_scratch(n * sizeof(real), 6);
        CU(cudaMemcpyAsync(t, src, n * sizeof(real), cudaMemcpyDeviceToDevice, cu_stream));
        src = t;
    }
    CU(cudaMemcpyAsync(dst, src, n * sizeof(real), cudaMemcpyDeviceToDevice, cu_stream));
}

__global__ void k_add(real *out, const real *a, const real *b, size_t n) { GRID_STRIDE(i, n) out[i] = a[i] + b[i]; }
__global__ void k_accumulate(real *acc, const real *x, size_t n) { GRID_STRIDE(i, n) acc[i] += x[i]; }
__global__ void k_scale(real *x, real s, size_t n) { GRID_STRIDE(i, n) x[i] *= s; }

static void add(real *out, const real *a, const real *b, size_t n) {
    if (!n) return;
    k_add<<<cu_blocks(n, 256), 256, 0, cu_stream>>>(out, a, b, n);
    CU_LAUNCHED();
}
static void accumulate(real *acc, const real *x, size_t n) {
    if (!n) return;
    k_accumulate<<<cu_blocks(n, 256), 256, 0, cu_stream>>>(acc, x, n);
    CU_LAUNCHED();
}
static void scale(real *x, real s, size_t n) {
    if (!n) return;
    k_scale<<<cu_blocks(n, 256), 256, 0, cu_stream>>>(x, s, n);
    CU_LAUNCHED();
}

struct Square {
    const real *x;
    __device__ double operator()(size_t i) const { return (double)x[i] * x[i]; }
};
static double sum_squares(const real *x, size_t n) { return n ? reduce_sum(n, Square{x}) : 0; }

__global__ void k_all_finite(int *bad, const real *x, size_t n) {
    GRID_STRIDE(i, n) if (!isfinite(x[i])) *bad = 1;
}

static int all_finite(const real *x, size_t n) {
    if (!n) return 1;
    int *bad = (int *)cu_scratch(sizeof(int), 1), h = 0;
    CU(cudaMemsetAsync(bad, 0, sizeof(int), cu_stream));
    k_all_finite<<<cu_blocks(n, 256), 256, 0, cu_stream>>>(bad, x, n);
    CU_LAUNCHED();
    CU(cudaMemcpyAsync(&h, bad, sizeof h, cudaMemcpyDeviceToHost, cu_stream));
    CU(cudaStreamSynchronize(cu_stream));
    return !h;
}

__global__ void k_adamw(real *w, const real *g, real *m, real *v, size_t n, real lr, real b1, real b2, real eps, real wd,
                        real c1, real c2) {
    GRID_STRIDE(i, n) al_adamw(&w[i], g[i], &m[i], &v[i], lr, b1, b2, eps, wd, c1, c2);
}

static void adamw(real *w, const real *g, real *m, real *v, size_t n, real lr, real b1, real b2, real eps, real wd, int t) {
    if (!n) return;
    real c1 = (real)(1.0 / (1.0 - pow(b1, t))), c2 = (real)(1.0 / (1.0 - pow(b2, t)));
    k_adamw<<<cu_blocks(n, 256), 256, 0, cu_stream>>>(w, g, m, v, n, lr, b1, b2, eps, wd, c1, c2);
    CU_LAUNCHED();
}

/* ---- strided copies (KV-cache appends, MLA's key assembly) ---- */

/* a thread per (row, block, column) when blocks land apart; per (row, column) looping the blocks in order when
 * they share the destination (dst_block 0: a sum over blocks, in the CPU's order) */
__global__ void k_copy_strided(real *dst, const real *src, int blocks, int cols, size_t ds, size_t db, size_t ss,
                               size_t sb, int acc, int per_block, size_t total) {
    GRID_STRIDE(k, total) {
        int i = (int)(k % cols);
        size_t rest = k / cols;
        int b0 = 0, b1 = blocks;
        if (per_block) { b0 = (int)(rest % blocks); b1 = b0 + 1; rest /= blocks; }
        size_t r = rest;
        for (int b = b0; b < b1; b++) {
            real *d = dst + r * ds + b * db + i;
            real x = src[r * ss + b * sb + i];
            *d = acc ? *d + x : x;
        }
    }
}

static void copy_strided(real *dst, const real *src, int rows, int blocks, int cols, size_t dst_stride, size_t dst_block,
                         size_t src_stride, size_t src_block, int accumulate) {
    int per_block = dst_block != 0;
    size_t total = (size_t)rows * cols * (per_block ? blocks : 1);
    if (!total || blocks <= 0) return;
    k_copy_strided<<<cu_blocks(total, 256), 256, 0, cu_stream>>>(dst, src, blocks, cols, dst_stride, dst_block, src_stride,
                                                                src_block, accumulate, per_block, total);
    CU_LAUNCHED();
}

/* ---- sampling: a block per row; the argmax in parallel, the inverse CDF by one thread in index order ---- */

__global__ void k_sample(int *tokens, const real *logits, const double *u, int V, real temperature) {
    size_t n = blockIdx.x;
    const real *row = logits + n * V;
    __shared__ real bv[ROW_THREADS];
    __shared__ int bi[ROW_THREADS];
    real best = 0;
    int at = V; /* none yet; each thread walks its indices upwards, so ties keep the lowest, as the CPU */
    for (int i = threadIdx.x; i < V; i += blockDim.x)
        if (at == V || row[i] > best) { best = row[i]; at = i; }
    bv[threadIdx.x] = best;
    bi[threadIdx.x] = at;
    __syncthreads();
    if (threadIdx.x == 0) {
        for (int k = 1; k < (int)blockDim.x; k++)
            if (bi[k] < V && (bi[0] == V || bv[k] > bv[0] || (bv[k] == bv[0] && bi[k] < bi[0]))) { bv[0] = bv[k]; bi[0] = bi[k]; }
        int pick = bi[0] < V ? bi[0] : 0;
        if (temperature > 0) {
            double sum = 0, mx = row[pick];
            for (int i = 0; i < V; i++) sum += exp((row[i] - mx) / temperature);
            double target = u[n] * sum, acc = 0;
            int p = V - 1;
            for (int i = 0; i < V; i++) {
                acc += exp((row[i] - mx) / temperature);
                if (acc > target) { p = i; break; }
            }
            pick = p;
        }
        tokens[n] = pick;
    }
}

static void sample_tokens(int *tokens, const real *logits, const double *u, int N, int V, real temperature) {
    if (N <= 0) return;
    int *dt = (int *)cu_scratch(sizeof(int) * N, 4);
    double *du = NULL;
    if (temperature > 0) {
        du = (double *)cu_scratch(sizeof(double) * N, 5);
        CU(cudaMemcpyAsync(du, u, sizeof(double) * N, cudaMemcpyHostToDevice, cu_stream));
    }
    k_sample<<<N, ROW_THREADS, 0, cu_stream>>>(dt, logits, du, V, temperature);
    CU_LAUNCHED();
    CU(cudaMemcpyAsync(tokens, dt, sizeof(int) * N, cudaMemcpyDeviceToHost, cu_stream));
    CU(cudaStreamSynchronize(cu_stream));
}

static void gemm(int ta, int tb, int M, int N, int K, real alpha, const real *A, int lda, const real *B, int ldb, real beta,
                 real *C, int ldc) {
    cu_gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

/* core/backend_cuda_attn.cu */
void cuda_attention_forward(real *out, real *lse, real *work, size_t work_n, const real *q, const real *k, const real *v,
                            const AttnShape *s);
void cuda_attention_backward(real *dq, real *dk, real *dv, real *work, size_t work_n, const real *dout, const real *lse,
                             const real *q, const real *k, const real *v, const AttnShape *s);
size_t cuda_attention_work_size(const AttnShape *s);
void cuda_attention_decode(real *out, real *scores, const real *q, const real *k, const real *v, const AttnShape *s,
                           int pos0, size_t k_batch, size_t v_batch);

/* core/rl_cuda.cu */
void cuda_sample_nucleus(int *tokens, double *logp, const real *logits, size_t ld, const double *u, int N, int V,
                         real temperature, real top_p);
void cuda_token_logprobs(double *logp, real *logits, const int *tokens, int N, int V, real temperature);
void cuda_logprob_backward(real *probs, const int *tokens, const double *w, int N, int V, real temperature);
void cuda_distill_kl(double *kl, double *ce, real *zs, const real *zt, const int *tokens, const double *w_kl,
                     const double *w_ce, int N, int V, real tau, int reverse);

/* C++20 designated initializers: in the struct's order (core/backend.h) */
extern "C" const Backend al_backend_cuda = {
    .name = "cuda",
    .alloc = cu_alloc,
    .free = cu_free,
    .to_host = cu_to_host,
    .to_device = cu_to_device,
    .gemm = gemm,
    .linear_forward = linear_forward,
    .linear_backward = linear_backward,
    .rmsnorm_forward = rmsnorm_forward,
    .rmsnorm_backward = rmsnorm_backward,
    .rope = rope,
    .attention_forward = cuda_attention_forward,
    .attention_backward = cuda_attention_backward,
    .attention_work_size = cuda_attention_work_size,
    .swiglu_forward = swiglu_forward,
    .swiglu_backward = swiglu_backward,
    .embedding_forward = embedding_forward,
    .embedding_backward = embedding_backward,
    .cross_entropy_forward = cross_entropy_forward,
    .cross_entropy_backward = cross_entropy_backward,
    .zero = zero,
    .copy = copy,
    .add = add,
    .accumulate = accumulate,
    .scale = scale,
    .sum_squares = sum_squares,
    .all_finite = all_finite,
    .adamw = adamw,
    .copy_strided = copy_strided,
    .attention_decode = cuda_attention_decode,
    .sample_tokens = sample_tokens,
    .sample_nucleus = cuda_sample_nucleus,
    .token_logprobs = cuda_token_logprobs,
    .logprob_backward = cuda_logprob_backward,
    .distill_kl = cuda_distill_kl,
};
