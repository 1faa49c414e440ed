/* The CUDA backend's attention (core/backend.h): training attention in blocks of query rows, as the CPU does
 * (core/backend_cpu_attn.c): block i holds query rows [i0, i0 + m) and its scores cover keys [0, i0 + m), so
 * every block row is complete and its softmax exact; only lse (B, H, T) is kept for the backward, which
 * recomputes the probabilities block by block. The products are batched cuBLAS GEMMs over every (sequence, head)
 * at once; the workspace holds one block's scores and their gradient for all of them, B H ATTN_BLOCK_GPU T reals
 * each: linear in T, no (B, H, T, T) tensor. Decoding (cached attention) is a plain kernel per query row. */
#include "core/cuda_internal.cuh"

/* query rows per block: large enough that the batched products keep the GPU busy, small enough that the
 * workspace stays a fraction of the activations (T 1024, 12 heads, batch 8: 2 x 48 MB) */
#define ATTN_BLOCK_GPU 128
#define SOFTMAX_THREADS 128

static int block_rows(const AttnShape *s) { return s->T < ATTN_BLOCK_GPU ? s->T : ATTN_BLOCK_GPU; }

size_t cuda_attention_work_size(const AttnShape *s) {
    return (size_t)2 * s->B * s->H * block_rows(s) * s->T;
}

/* Pointer arrays for one batched product: the host fills them, they go to the device in one copy (the stream
 * orders the copy after the products that read the previous ones). */
typedef struct Ptrs {
    const real **h;
    const real **d;
    int count, sets;
} Ptrs;

static Ptrs ptrs_begin(int count, int sets) {
    Ptrs p = {(const real **)cu_host_scratch(sizeof(real *) * (size_t)count * sets, 4),
              (const real **)cu_scratch(sizeof(real *) * (size_t)count * sets, 2), count, sets};
    return p;
}
static const real **ptrs_set(Ptrs *p, int set) { return p->h + (size_t)set * p->count; }
static void ptrs_upload(Ptrs *p) {
    CU(cudaMemcpyAsync(p->d, p->h, sizeof(real *) * (size_t)p->count * p->sets, cudaMemcpyHostToDevice, cu_stream));
}
static const real *const *ptrs_dev(Ptrs *p, int set) { return p->d + (size_t)set * p->count; }
static real *const *ptrs_dev_mut(Ptrs *p, int set) { return (real *const *)(p->d + (size_t)set * p->count); }

/* Rows of scores (count x m rows of e) into causal softmax probabilities; lse of head (b, h) row i0 + r.
 * The batch index j of a row is (b, head-in-batch hb); its head is h = hb * hmul + hadd (forward: hmul 1, hadd 0). */
__global__ void k_softmax_block(real *P, real *lse, int m, int e, int i0, int T, int H, int heads_in_batch, int hmul,
                                int hadd) {
    size_t row = blockIdx.x;
    int r = (int)(row % m), j = (int)(row / m), b = j / heads_in_batch, h = (j % heads_in_batch) * hmul + hadd;
    int n = i0 + r + 1; /* causal: keys [0, n) */
    real *p = P + row * e;
    real mx = -INFINITY;
    for (int c = threadIdx.x; c < n; c += blockDim.x) mx = fmaxf(mx, p[c]);
    mx = block_max(mx);
    double sum = 0;
    for (int c = threadIdx.x; c < e; c += blockDim.x) {
        real v = c < n ? al_exp(p[c] - mx) : 0;
        p[c] = v;
        sum += v;
    }
    sum = block_sum(sum);
    real inv = (real)(1.0 / sum);
    for (int c = threadIdx.x; c < e; c += blockDim.x) p[c] *= inv;
    if (threadIdx.x == 0) lse[((size_t)b * H + h) * T + i0 + r] = mx + (real)log(sum);
}

void cuda_attention_forward(real *out, real *lse, real *work, size_t work_n, const real *q, const real *k, const real *v,
                            const AttnShape *s) {
    int B = s->B, T = s->T, H = s->H, group = s->H / s->Hkv, count = B * H, M = block_rows(s);
    if (work_n < (size_t)count * M * T) {
        fprintf(stderr, "archlab internal error: CUDA attention workspace %zu < %zu\n", work_n, (size_t)count * M * T);
        abort();
    }
    for (int i0 = 0; i0 < T; i0 += M) {
        int m = T - i0 < M ? T - i0 : M, e = i0 + m;
        Ptrs p = ptrs_begin(count, 5);
        const real **Q = ptrs_set(&p, 0), **Kp = ptrs_set(&p, 1), **S = ptrs_set(&p, 2), **Vp = ptrs_set(&p, 3),
                   **O = ptrs_set(&p, 4);
        for (int b = 0; b < B; b++)
            for (int h = 0; h < H; h++) {
                int j = b * H + h, g = h / group;
                Q[j] = q + ((size_t)b * T + i0) * s->q_stride + (size_t)h * s->dk;
                Kp[j] = k + (size_t)b * T * s->k_stride + (size_t)g * s->dk;
                S[j] = work + (size_t)j * m * e;
                Vp[j] = v + (size_t)b * T * s->v_stride + (size_t)g * s->dv;
                O[j] = out + ((size_t)b * T + i0) * s->o_stride + (size_t)h * s->dv;
            }
        ptrs_upload(&p);
        /* S (m x e) = scale Q K^T */
        cu_gemm_batched(0, 1, m, e, s->dk, s->scale, ptrs_dev(&p, 0), s->q_stride, ptrs_dev(&p, 1), s->k_stride, 0,
                        ptrs_dev_mut(&p, 2), e, count);
        k_softmax_block<<<(unsigned)((size_t)count * m), SOFTMAX_THREADS, 0, cu_stream>>>(work, lse, m, e, i0, T, H, H, 1, 0);
        CU_LAUNCHED();
        /* O (m x dv) = P V */
        cu_gemm_batched(0, 0, m, s->dv, e, 1, ptrs_dev(&p, 2), e, ptrs_dev(&p, 3), s->v_stride, 0, ptrs_dev_mut(&p, 4),
                        s->o_stride, count);
    }
}

/* P = exp(S - lse) on the causal part, 0 beyond (the probabilities the forward had) */
__global__ void k_recompute_probs(real *P, const real *lse, int m, int e, int i0, int T, int H, int Hkv, int group, int hh,
                                  size_t total) {
    GRID_STRIDE(x, total) {
        int c = (int)(x % e);
        size_t row = x / e;
        int r = (int)(row % m), j = (int)(row / m), b = j / Hkv, h = (j % Hkv) * group + hh;
        real l = lse[((size_t)b * H + h) * T + i0 + r];
        P[x] = c < i0 + r + 1 ? al_exp(P[x] - l) : 0;
    }
}

/* dS = P * (dP - rowsum(P * dP)), into dP; whole rows (P is 0 past the diagonal, so is dS) */
__global__ void k_softmax_grad(real *dP, const real *P, int e) {
    size_t row = blockIdx.x;
    const real *p = P + row * e;
    real *d = dP + row * e;
    double dot = 0;
    for (int c = threadIdx.x; c < e; c += blockDim.x) dot += (double)p[c] * d[c];
    real t = (real)block_sum(dot);
    for (int c = threadIdx.x; c < e; c += blockDim.x) d[c] = p[c] * (d[c] - t);
}

/* Per block and per query head of a kv group (hh), batched over (sequence, kv head): the heads sharing a kv head
 * add into its dK, dV one after another, so no two products of a batch write the same rows. */
void cuda_attention_backward(real *dq, real *dk, real *dv, real *work, size_t work_n, const real *dout, const real *lse,
                             const real *q, const real *k, const real *v, const AttnShape *s) {
    int B = s->B, T = s->T, H = s->H, Hkv = s->Hkv, group = H / Hkv, count = B * Hkv, M = block_rows(s);
    if (work_n < (size_t)2 * count * M * T) {
        fprintf(stderr, "archlab internal error: CUDA attention workspace %zu < %zu\n", work_n, (size_t)2 * count * M * T);
        abort();
    }
    for (int i0 = 0; i0 < T; i0 += M) {
        int m = T - i0 < M ? T - i0 : M, e = i0 + m;
        real *P = work, *dP = work + (size_t)count * m * e;
        for (int hh = 0; hh < group; hh++) {
            Ptrs p = ptrs_begin(count, 10);
            const real **Q = ptrs_set(&p, 0), **Kp = ptrs_set(&p, 1), **Ps = ptrs_set(&p, 2), **dO = ptrs_set(&p, 3),
                       **Vp = ptrs_set(&p, 4), **dPs = ptrs_set(&p, 5), **dVp = ptrs_set(&p, 6), **dQ = ptrs_set(&p, 7),
                       **dKp = ptrs_set(&p, 8);
            for (int b = 0; b < B; b++)
                for (int g = 0; g < Hkv; g++) {
                    int j = b * Hkv + g, h = g * group + hh;
                    Q[j] = q + ((size_t)b * T + i0) * s->q_stride + (size_t)h * s->dk;
                    Kp[j] = k + (size_t)b * T * s->k_stride + (size_t)g * s->dk;
                    Ps[j] = P + (size_t)j * m * e;
                    dO[j] = dout + ((size_t)b * T + i0) * s->o_stride + (size_t)h * s->dv;
                    Vp[j] = v + (size_t)b * T * s->v_stride + (size_t)g * s->dv;
                    dPs[j] = dP + (size_t)j * m * e;
                    dVp[j] = dv + (size_t)b * T * s->v_stride + (size_t)g * s->dv;
                    dQ[j] = dq + ((size_t)b * T + i0) * s->q_stride + (size_t)h * s->dk;
                    dKp[j] = dk + (size_t)b * T * s->k_stride + (size_t)g * s->dk;
                }
            ptrs_upload(&p);
            cu_gemm_batched(0, 1, m, e, s->dk, s->scale, ptrs_dev(&p, 0), s->q_stride, ptrs_dev(&p, 1), s->k_stride, 0,
                            ptrs_dev_mut(&p, 2), e, count);
            size_t total = (size_t)count * m * e;
            k_recompute_probs<<<cu_blocks(total, 256), 256, 0, cu_stream>>>(P, lse, m, e, i0, T, H, Hkv, group, hh, total);
            CU_LAUNCHED();
            /* dP (m x e) = dO V^T */
            cu_gemm_batched(0, 1, m, e, s->dv, 1, ptrs_dev(&p, 3), s->o_stride, ptrs_dev(&p, 4), s->v_stride, 0,
                            ptrs_dev_mut(&p, 5), e, count);
            /* dV (e x dv) += P^T dO */
            cu_gemm_batched(1, 0, e, s->dv, m, 1, ptrs_dev(&p, 2), e, ptrs_dev(&p, 3), s->o_stride, 1, ptrs_dev_mut(&p, 6),
                            s->v_stride, count);
            k_softmax_grad<<<(unsigned)((size_t)count * m), SOFTMAX_THREADS, 0, cu_stream>>>(dP, P, e);
            CU_LAUNCHED();
            /* dQ (m x dk) += scale dS K;  dK (e x dk) += scale dS^T Q */
            cu_gemm_batched(0, 0, m, s->dk, e, s->scale, ptrs_dev(&p, 5), e, ptrs_dev(&p, 1), s->k_stride, 1,
                            ptrs_dev_mut(&p, 7), s->q_stride, count);
            cu_gemm_batched(1, 0, e, s->dk, m, s->scale, ptrs_dev(&p, 5), e, ptrs_dev(&p, 0), s->q_stride, 1,
                            ptrs_dev_mut(&p, 8), s->k_stride, count);
        }
    }
}

/* Cached attention: a block per (sequence, head, new query): scores over the Tk = pos0 + T cached keys into the
 * caller's scores workspace, the causal softmax (keys [0, pos0 + i + 1)), then P V. */
__global__ void k_attention_decode(real *out, real *scores, const real *q, const real *k, const real *v, AttnShape s,
                                   int pos0, size_t k_batch, size_t v_batch) {
    int T = s.T, H = s.H, group = s.H / s.Hkv, Tk = pos0 + T;
    size_t id = blockIdx.x;
    int i = (int)(id % T), h = (int)(id / T % H), b = (int)(id / T / H), g = h / group, n = pos0 + i + 1;
    const real *qi = q + ((size_t)b * T + i) * s.q_stride + (size_t)h * s.dk;
    const real *kb = k + (size_t)b * k_batch + (size_t)g * s.dk, *vb = v + (size_t)b * v_batch + (size_t)g * s.dv;
    real *p = scores + (((size_t)b * H + h) * T + i) * Tk;
    real mx = -INFINITY;
    for (int j = threadIdx.x; j < Tk; j += blockDim.x) {
        real d = 0;
        for (int c = 0; c < s.dk; c++) d += qi[c] * kb[(size_t)j * s.k_stride + c];
        p[j] = d * s.scale;
        if (j < n) mx = fmaxf(mx, p[j]);
    }
    mx = block_max(mx);
    double sum = 0;
    for (int j = threadIdx.x; j < Tk; j += blockDim.x) {
        real e = j < n ? al_exp(p[j] - mx) : 0;
        p[j] = e;
        sum += e;
    }
    sum = block_sum(sum);
    real inv = (real)(1.0 / sum);
    __syncthreads(); /* every p[j] written before it is read across threads */
    real *o = out + ((size_t)b * T + i) * s.o_stride + (size_t)h * s.dv;
    for (int c = threadIdx.x; c < s.dv; c += blockDim.x) {
        real acc = 0;
        for (int j = 0; j < n; j++) acc += p[j] * inv * vb[(size_t)j * s.v_stride + c];
        o[c] = acc;
    }
}

void cuda_attention_decode(real *out, real *scores, const real *q, const real *k, const real *v, const AttnShape *s,
                           int pos0, size_t k_batch, size_t v_batch) {
    size_t rows = (size_t)s->B * s->H * s->T;
    if (!rows) return;
    k_attention_decode<<<(unsigned)rows, SOFTMAX_THREADS, 0, cu_stream>>>(out, scores, q, k, v, *s, pos0, k_batch, v_batch);
    CU_LAUNCHED();
}
