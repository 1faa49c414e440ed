/* The CPU kernels of reinforcement learning and distillation (core/backend.h, the last group of the Backend
 * table): nucleus sampling with the chosen tokens' log-probabilities, log-probabilities of given tokens and the
 * gradient of any weighted sum of them, and the temperature-scaled KL between a student's and a teacher's
 * distributions with its gradient. Rows are independent (OpenMP over rows); sums in double. Small per-row
 * results (logp, kl, ce) and per-row weights are host arrays of doubles, like sample_tokens' u. */
#include "core/rl_cpu.h"

#include <math.h>
#include <omp.h>
#include <string.h>

/* rows x vocabulary above which the loops run in parallel (decoding one token is far below) */
#define RL_PAR_MIN 32768

typedef struct { double e; int i; } Ranked;
static int by_prob_desc(const void *a, const void *b) {
    const Ranked *x = a, *y = b;
    if (x->e != y->e) return x->e < y->e ? 1 : -1;
    return x->i - y->i; /* ties: the lower token id first, so the order (and the draw) is deterministic */
}

void cpu_sample_nucleus(int *tokens, double *logp, const real *logits, size_t ld, const double *u, int N, int V,
                        real temperature, real top_p) {
    int par = (size_t)N * V > RL_PAR_MIN;
    Ranked *work = top_p < 1 && temperature > 0 ? malloc(sizeof(Ranked) * V * (size_t)(par ? omp_get_max_threads() : 1)) : NULL;
    AL_ASSERT(work || !(top_p < 1 && temperature > 0));
#pragma omp parallel for schedule(static) if (par)
    for (int n = 0; n < N; n++) {
        const real *row = logits + (size_t)n * ld;
        int best = 0;
        for (int i = 1; i < V; i++)
            if (row[i] > row[best]) best = i;
        double mx = row[best], t = temperature > 0 ? temperature : 1, sum = 0;
        for (int i = 0; i < V; i++) sum += exp((row[i] - mx) / t);
        int pick = best;
        if (temperature > 0 && top_p >= 1) {
            /* the full distribution, in token order: the same draw as sample_tokens at the same u */
            double target = u[n] * sum, acc = 0;
            pick = V - 1;
            for (int i = 0; i < V; i++) {
                acc += exp((row[i] - mx) / t);
                if (acc > target) { pick = i; break; }
            }
        } else if (temperature > 0) {
            /* the nucleus: tokens by decreasing probability until their mass reaches top_p, renormalized */
            Ranked *r = work + (size_t)(par ? omp_get_thread_num() : 0) * V;
            for (int i = 0; i < V; i++) r[i] = (Ranked){exp((row[i] - mx) / t), i};
            qsort(r, (size_t)V, sizeof *r, by_prob_desc);
            double mass = 0;
            int k = 0;
            while (k < V && mass < top_p * sum) mass += r[k++].e;
            if (k < 1) k = 1;
            double target = u[n] * mass, acc = 0;
            pick = r[k - 1].i;
            for (int j = 0; j < k; j++) {
                acc += r[j].e;
                if (acc > target) { pick = r[j].i; break; }
            }
        }
        tokens[n] = pick;
        if (logp) logp[n] = (row[pick] - mx) / t - log(sum);
    }
    free(work);
}

void cpu_token_logprobs(double *logp, real *logits, const int *tokens, int N, int V, real temperature) {
    double inv_t = 1.0 / temperature;
#pragma omp parallel for schedule(static) if ((size_t)N * V > RL_PAR_MIN)
    for (int n = 0; n < N; n++) {
        real *row = logits + (size_t)n * V;
        double mx = row[0];
        for (int i = 1; i < V; i++) mx = row[i] > mx ? row[i] : mx;
        /* log p = (z_t - max)/T - log sum exp((z - max)/T): no log of an underflowed probability */
        double zt = tokens[n] >= 0 ? ((double)row[tokens[n]] - mx) * inv_t : 0, sum = 0;
        for (int i = 0; i < V; i++) {
            double e = exp(((double)row[i] - mx) * inv_t);
            row[i] = (real)e;
            sum += e;
        }
        double inv = 1.0 / sum;
        for (int i = 0; i < V; i++) row[i] = (real)(row[i] * inv);
        logp[n] = tokens[n] >= 0 ? zt - log(sum) : 0;
    }
}

void cpu_logprob_backward(real *probs, const int *tokens, const double *w, int N, int V, real temperature) {
#pragma omp parallel for schedule(static) if ((size_t)N * V > RL_PAR_MIN)
    for (int n = 0; n < N; n++) {
        real *row = probs + (size_t)n * V;
        if (tokens[n] < 0 || w[n] == 0) { memset(row, 0, sizeof(real) * V); continue; }
        /* d log p_t / d z_i = (1[i = t] - p_i) / T */
        real s = (real)(-w[n] / temperature);
        for (int i = 0; i < V; i++) row[i] *= s;
        row[tokens[n]] += (real)(w[n] / temperature);
    }
}

void cpu_distill_kl(double *kl, double *ce, real *zs, const real *zt, const int *tokens, const double *w_kl,
                    const double *w_ce, int N, int V, real tau, int reverse) {
    int par = (size_t)N * V > RL_PAR_MIN;
    /* three rows of V doubles per thread: log p_s, log p_t at tau, log p_s at 1 */
    double *work = malloc(sizeof(double) * 3 * V * (size_t)(par ? omp_get_max_threads() : 1));
    AL_ASSERT(work);
#pragma omp parallel for schedule(static) if (par)
    for (int n = 0; n < N; n++) {
        real *row = zs + (size_t)n * V;
        const real *trow = zt + (size_t)n * V;
        double a = w_kl[n], c = w_ce ? w_ce[n] : 0;
        int tok = tokens ? tokens[n] : -1;
        kl[n] = 0;
        if (ce) ce[n] = 0;
        if (a == 0 && (c == 0 || tok < 0)) { memset(row, 0, sizeof(real) * V); continue; }
        double *ls = work + (size_t)(par ? omp_get_thread_num() : 0) * 3 * V, *lt = ls + V, *l1 = lt + V;
        double ms = row[0], mt = trow[0];
        for (int i = 1; i < V; i++) { ms = row[i] > ms ? row[i] : ms; mt = trow[i] > mt ? trow[i] : mt; }
        double ss = 0, st = 0, s1 = 0;
        for (int i = 0; i < V; i++) {
            ss += exp((row[i] - ms) / tau);
            st += exp((trow[i] - mt) / tau);
            s1 += exp(row[i] - ms);
        }
        double lss = log(ss), lst = log(st), ls1 = log(s1), k = 0;
        for (int i = 0; i < V; i++) {
            ls[i] = (row[i] - ms) / tau - lss;
            lt[i] = (trow[i] - mt) / tau - lst;
            l1[i] = row[i] - ms - ls1;
            k += reverse ? exp(ls[i]) * (ls[i] - lt[i]) : exp(lt[i]) * (lt[i] - ls[i]);
        }
        kl[n] = k;
        if (ce && tok >= 0) ce[n] = -l1[tok];
        for (int i = 0; i < V; i++) {
            double ps = exp(ls[i]);
            /* forward KL(p_t || p_s): (p_s - p_t) / tau; reverse KL(p_s || p_t): p_s (log p_s - log p_t - KL) / tau */
            double g = reverse ? ps * (ls[i] - lt[i] - k) / tau : (ps - exp(lt[i])) / tau;
            double h = tok >= 0 ? exp(l1[i]) - (i == tok) : 0; /* cross-entropy at temperature 1 */
            row[i] = (real)(a * g + c * h);
        }
    }
    free(work);
}
