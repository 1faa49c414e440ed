/* Expert parallelism (DeepSeek-V2 sec. 3.2, V3 sec. 3.2; docs/EQUATIONS.md sec. 4): with `expert_parallel =
 * R` and R MPI ranks, rank r computes the routed experts [r E/R, (r+1) E/R). Each rank routes its own tokens
 * (its data-parallel share), then, as V3's dispatch does, sends each token ONCE to every rank that holds any
 * of its experts (not once per expert), with its slots there and their gate values:
 *   dispatch  all-to-all of rows u_t (C reals) and their metadata (per slot: the expert on that rank or none,
 *             and the gate), one row per (token, rank);
 *   compute   the owner sorts the received rows' slots by expert (a null bucket for slots elsewhere), runs
 *             each expert's SwiGLU, and sums each row's experts weighted by their gates;
 *   combine   all-to-all back: one row per (token, rank), which the token's rank adds up.
 * So device-limited routing (n_group = R groups, topk_group = M) bounds both the ranks a token visits and the
 * bytes it costs. The backward sends dy rows the same way; the owner returns dx rows and the gates' gradients.
 * An owner's expert gradients hold every rank's tokens; the other ranks' copies get none, so the data-parallel
 * sum of gradients gives every rank the owner's (train/parallel.c). archlab keeps every expert's weights on
 * every rank (a workbench simplification: the compute and the token traffic are sharded, the memory is not),
 * which is also why a checkpoint is the same whatever R is. The lists here are host ints of the routing; the
 * tensors move through the kernel tables and explicit copies. */
#include "arch/linear.h"
#include "arch/moe.h"

#include <stdio.h>
#include <string.h>

#include "core/dist.h"
#include "core/moe_kernels.h"

int moe_ep_active(const Moe *m) { return m->ep > 1 && dist_size() == m->ep; }

/* host lists: the source's for N K sent rows at most, the receiver's for R N rows of K slots */
static void ensure_lists(Moe *m, size_t S, size_t Nr) {
    int Kk = m->K;
    if (S > m->ep_cap_s) { /* S = N K: the tokens' destinations are counted in ep_used (N of them) */
        free(m->ep_send_tok); free(m->ep_pos_s); free(m->ep_meta_h); free(m->ep_gate_h); free(m->ep_used);
        m->ep_send_tok = malloc(sizeof(int) * S);
        m->ep_pos_s = malloc(sizeof(int) * S);
        m->ep_meta_h = malloc(sizeof(real) * S * 2 * Kk);
        m->ep_gate_h = malloc(sizeof(real) * S);
        m->ep_used = malloc(sizeof(int) * S);
        AL_ASSERT(m->ep_send_tok && m->ep_pos_s && m->ep_meta_h && m->ep_gate_h && m->ep_used);
        m->ep_cap_s = S;
    }
    if (Nr > m->ep_cap_r) {
        free(m->ep_idx); free(m->ep_tok); free(m->ep_pos); free(m->ep_rmeta_h); free(m->ep_rgate_h);
        m->ep_idx = malloc(sizeof(int) * Nr * Kk);
        m->ep_tok = malloc(sizeof(int) * Nr * Kk);
        m->ep_pos = malloc(sizeof(int) * Nr * Kk);
        m->ep_rmeta_h = malloc(sizeof(real) * Nr * 2 * Kk);
        m->ep_rgate_h = malloc(sizeof(real) * Nr * Kk);
        AL_ASSERT(m->ep_idx && m->ep_tok && m->ep_pos && m->ep_rmeta_h && m->ep_rgate_h);
        m->ep_cap_r = Nr;
    }
    if (!m->ep_send) {
        int Er = m->E / m->ep;
        m->ep_send = calloc(m->ep, sizeof(size_t));
        m->ep_recv = calloc(m->ep, sizeof(size_t));
        m->ep_cnt = calloc(Er + 1, sizeof(int));
        m->ep_off = calloc(Er + 2, sizeof(int));
        AL_ASSERT(m->ep_send && m->ep_recv && m->ep_cnt && m->ep_off);
    }
}

size_t moe_ep_plan(Moe *m, Arena *act, size_t M) {
    if (m->ep <= 1) return 0;
    size_t Kk = (size_t)m->K, C = (size_t)m->C, F = (size_t)m->F, N = M / Kk, R = (size_t)m->ep, Nr = R * N;
    ensure_lists(m, N * Kk, Nr);
    m->xs = arena_take(act, N * Kk * C);
    m->ms = arena_take(act, N * Kk * 2 * Kk);
    m->back = arena_take(act, (N * Kk + 1) * C);
    m->dwb = arena_take(act, (N * Kk + 1) * Kk);
    m->rin = arena_take(act, Nr * C);
    m->rmeta = arena_take(act, Nr * 2 * Kk);
    m->rgate = arena_take(act, Nr * Kk);
    m->xr = arena_take(act, Nr * Kk * C);
    m->gur = arena_take(act, Nr * Kk * 2 * F);
    m->hr = arena_take(act, Nr * Kk * F);
    m->yr = arena_take(act, Nr * Kk * C);
    m->rout = arena_take(act, Nr * C);
    /* the backward's work: sent dout rows (NK, C); received dout rows (RN, C), gate grads (RN, Kk), per slot dy,
     * dx (RNK, C), dh (RNK, F), dgu (RNK, 2F), and the rows' dx sums (RN, C) */
    return N * Kk * C + Nr * (2 * C + Kk) + Nr * Kk * (2 * C + 3 * F);
}

/* a rank that lost its peers cannot go on: the job ends with the reason */
static void fail(void) {
    fprintf(stderr, "archlab: expert parallelism: %s\n", al_error_message());
    dist_abort(1);
}

static void scale_counts(size_t *dst, const size_t *rows, int R, size_t width) {
    for (int r = 0; r < R; r++) dst[r] = rows[r] * width;
}

int moe_ep_forward(Moe *m, Ctx *c, int N, real *out) {
    if (!moe_ep_active(m) || c->kv) return 0; /* decoding runs locally: every rank holds every expert */
    int R = m->ep, me = dist_rank(), Er = m->E / R, Kk = m->K, C = m->C, F = m->F;
    const int *idx = m->r.idx;
    /* the rows to send: per destination rank, each token with any expert there, in token order */
    size_t S = 0, rows[R], sent_other = 0;
    long others = 0;
    K->to_host(m->ep_gate_h, ACT(c, m->r.gate), (size_t)N * Kk);
    for (size_t i = 0; i < (size_t)N * Kk; i++) m->ep_pos_s[i] = -1; /* the zero row S, once S is known */
    int *used = m->ep_used; /* destinations a token got so far */
    memset(used, 0, sizeof(int) * N);
    for (int r = 0; r < R; r++) {
        rows[r] = 0;
        for (int t = 0; t < N; t++) {
            int here = 0;
            for (int k = 0; k < Kk; k++) here |= idx[(size_t)t * Kk + k] / Er == r;
            if (!here) continue;
            real *meta = m->ep_meta_h + S * 2 * Kk;
            for (int k = 0; k < Kk; k++) {
                int e = idx[(size_t)t * Kk + k];
                meta[k] = e / Er == r ? (real)(e - r * Er) : (real)-1; /* the slot's expert on rank r, or none */
                meta[Kk + k] = e / Er == r ? m->ep_gate_h[(size_t)t * Kk + k] : 0;
            }
            m->ep_send_tok[S] = t;
            m->ep_pos_s[(size_t)t * Kk + used[t]++] = (int)S;
            S++;
            rows[r]++;
            if (r != me) { sent_other++; others++; }
        }
    }
    for (size_t i = 0; i < (size_t)N * Kk; i++)
        if (m->ep_pos_s[i] < 0) m->ep_pos_s[i] = (int)S;
    m->ep_S = S;
    KM->gather_rows(ACT(c, m->xs), ACT(c, m->norm.out), m->ep_send_tok, (int)S, C);
    K->to_device(ACT(c, m->ms), m->ep_meta_h, S * 2 * Kk);
    size_t recv_rows[R], sc[R], rc[R];
    if (dist_exchange_counts(rows, recv_rows)) fail();
    memcpy(m->ep_send, rows, sizeof rows);
    memcpy(m->ep_recv, recv_rows, sizeof recv_rows);
    size_t Nr = 0;
    for (int s = 0; s < R; s++) Nr += recv_rows[s];
    m->ep_Nr = Nr;
    scale_counts(sc, rows, R, C);
    scale_counts(rc, recv_rows, R, C);
    if (dist_alltoallv(ACT(c, m->xs), sc, ACT(c, m->rin), rc)) fail();
    scale_counts(sc, rows, R, 2 * Kk);
    scale_counts(rc, recv_rows, R, 2 * Kk);
    if (dist_alltoallv(ACT(c, m->ms), sc, ACT(c, m->rmeta), rc)) fail();
    /* the received rows' slots: expert e here, or the null bucket Er (weight 0, output row zero) */
    real *meta = m->ep_rmeta_h, *gates = m->ep_rgate_h;
    K->to_host(meta, ACT(c, m->rmeta), Nr * 2 * Kk);
    for (size_t i = 0; i < Nr; i++)
        for (int k = 0; k < Kk; k++) {
            real e = meta[i * 2 * Kk + k];
            m->ep_idx[i * Kk + k] = e < 0 ? Er : (int)e;
            gates[i * Kk + k] = meta[i * 2 * Kk + Kk + k];
        }
    K->to_device(ACT(c, m->rgate), gates, Nr * Kk);
    K->zero(ACT(c, m->rout), Nr * C);
    if (Nr) {
        KM->moe_dispatch(m->ep_cnt, m->ep_off, m->ep_tok, m->ep_pos, m->ep_idx, (int)Nr, Kk, Er + 1);
        KM->gather_rows(ACT(c, m->xr), ACT(c, m->rin), m->ep_tok, (int)Nr * Kk, C);
        for (int e = 0; e < Er; e++) {
            int n = m->ep_cnt[e];
            size_t o = (size_t)m->ep_off[e];
            if (!n) continue;
            linear_fwd(c, ACT(c, m->gur) + o * 2 * F, ACT(c, m->xr) + o * C, PW(c, m->w_gu[me * Er + e]), n, C, 2 * F);
            K->swiglu_forward(ACT(c, m->hr) + o * F, ACT(c, m->gur) + o * 2 * F, n, F);
            linear_fwd(c, ACT(c, m->yr) + o * C, ACT(c, m->hr) + o * F, PW(c, m->w_down[me * Er + e]), n, F, C);
        }
        /* the null bucket's rows: zero outputs, so their zero weights add exactly nothing */
        K->zero(ACT(c, m->yr) + (size_t)m->ep_off[Er] * C, (size_t)m->ep_cnt[Er] * C);
        KM->moe_combine(ACT(c, m->rout), ACT(c, m->yr), m->ep_pos, ACT(c, m->rgate), (int)Nr, Kk, C);
    }
    /* each row's weighted sum back to its token's rank, added to the shared experts' output */
    K->zero(ACT(c, m->back) + S * C, (size_t)C);
    scale_counts(sc, recv_rows, R, C);
    scale_counts(rc, rows, R, C);
    if (dist_alltoallv(ACT(c, m->rout), sc, ACT(c, m->back), rc)) fail();
    KM->moe_combine(out, ACT(c, m->back), m->ep_pos_s, NULL, N, Kk, C);
    m->ep_bytes_per_token = (double)sent_other * (C + 2 * Kk) * sizeof(real) / N;
    m->ep_ranks_per_token = (double)others / N;
    return 1;
}

int moe_ep_backward(Moe *m, Ctx *c, const real *dout, real *dxn, real *dgate, real *work, int N) {
    if (!moe_ep_active(m)) return 0;
    int R = m->ep, me = dist_rank(), Er = m->E / R, Kk = m->K, C = m->C, F = m->F;
    size_t S = m->ep_S, Nr = m->ep_Nr, sc[R], rc[R];
    real *dsend = work, *drin = dsend + S * C, *dwr = drin + Nr * C, *dyr = dwr + Nr * Kk, *dxr = dyr + Nr * Kk * C,
         *dhr = dxr + Nr * Kk * C, *dgur = dhr + Nr * Kk * F, *dxrow = dgur + Nr * Kk * 2 * F;
    KM->gather_rows(dsend, dout, m->ep_send_tok, (int)S, C);
    scale_counts(sc, m->ep_send, R, C);
    scale_counts(rc, m->ep_recv, R, C);
    if (dist_alltoallv(dsend, sc, drin, rc)) fail();
    K->zero(dwr, Nr * Kk);
    K->zero(dxrow, Nr * C);
    if (Nr) {
        KM->moe_combine_backward(dyr, dwr, drin, ACT(c, m->yr), m->ep_pos, ACT(c, m->rgate), (int)Nr, Kk, C);
        K->zero(dxr, Nr * Kk * C);
        K->zero(dhr, Nr * Kk * F);
        for (int e = 0; e < Er; e++) {
            int n = m->ep_cnt[e];
            size_t o = (size_t)m->ep_off[e];
            if (!n) continue;
            linear_bwd(c, dhr + o * F, PG(c, m->w_down[me * Er + e]), dyr + o * C, ACT(c, m->hr) + o * F,
                       PW(c, m->w_down[me * Er + e]), n, F, C);
            K->swiglu_backward(dgur + o * 2 * F, dhr + o * F, ACT(c, m->gur) + o * 2 * F, n, F);
            linear_bwd(c, dxr + o * C, PG(c, m->w_gu[me * Er + e]), dgur + o * 2 * F, ACT(c, m->xr) + o * C,
                       PW(c, m->w_gu[me * Er + e]), n, C, 2 * F);
        }
        KM->moe_combine(dxrow, dxr, m->ep_pos, NULL, (int)Nr, Kk, C); /* the null rows' dx is zero */
    }
    /* dx rows and the gates' gradients back to the tokens' ranks */
    real *dxback = ACT(c, m->back), *dwback = ACT(c, m->dwb);
    K->zero(dxback + S * C, (size_t)C);
    K->zero(dwback + S * Kk, (size_t)Kk);
    scale_counts(sc, m->ep_recv, R, C);
    scale_counts(rc, m->ep_send, R, C);
    if (dist_alltoallv(dxrow, sc, dxback, rc)) fail();
    scale_counts(sc, m->ep_recv, R, Kk);
    scale_counts(rc, m->ep_send, R, Kk);
    if (dist_alltoallv(dwr, sc, dwback, rc)) fail();
    KM->moe_combine(dxn, dxback, m->ep_pos_s, NULL, N, Kk, C);
    /* a slot's gate gradient comes back in the one row sent to its expert's rank (zero in the others) */
    KM->moe_combine(dgate, dwback, m->ep_pos_s, NULL, N, Kk, Kk);
    return 1;
}
