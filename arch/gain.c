#include "arch/gain.h"

#include <gsl/gsl_linalg.h>
#include <math.h>
#include <string.h>

double gain_forward(const double *P, int n) {
    double g = 0;
    for (int i = 0; i < n; i++) {
        double s = 0;
        for (int j = 0; j < n; j++) s += P[i * n + j];
        g = fmax(g, fabs(s));
    }
    return g;
}

double gain_backward(const double *P, int n) {
    double g = 0;
    for (int j = 0; j < n; j++) {
        double s = 0;
        for (int i = 0; i < n; i++) s += P[i * n + j];
        g = fmax(g, fabs(s));
    }
    return g;
}

double spectral_norm(const double *P, int n) {
    double a[64], v[64], sv[8], work[8];
    memcpy(a, P, sizeof(double) * n * n);
    gsl_matrix_view A = gsl_matrix_view_array(a, n, n);
    gsl_matrix_view V = gsl_matrix_view_array(v, n, n);
    gsl_vector_view S = gsl_vector_view_array(sv, n), W = gsl_vector_view_array(work, n);
    gsl_linalg_SV_decomp(&A.matrix, &V.matrix, &S.vector, &W.vector);
    return sv[0]; /* singular values come sorted, largest first */
}

int gain_profile_of(GainProfile *g, const Residual *r, Ctx *c, int max_tokens) {
    memset(g, 0, sizeof *g);
    if (!r->ops->mapping) return al_errorf("the gain analysis needs a residual family with mappings (\"%s\" has none)", r->kind);
    if (!c->act->base || !r->N_last) return al_errorf("the gain analysis needs a forward pass first");
    int tokens = max_tokens > 0 && max_tokens < r->N_last ? max_tokens : r->N_last;
    int S = r->S, n = r->n;
    g->S = S; g->n = n; g->tokens = tokens;
    double *buf = calloc((size_t)5 * S, sizeof(double));
    AL_ASSERT(buf);
    g->comp_fwd = buf; g->comp_bwd = buf + S; g->comp_spec = buf + 2 * S;
    g->single_fwd = buf + 3 * S; g->single_bwd = buf + 4 * S;
    /* the mappings are device memory: the first `tokens` of each layer, copied to the host once */
    size_t per = (size_t)tokens * n * n;
    real *hres = malloc(sizeof(real) * per * S);
    AL_ASSERT(hres);
    for (int l = 0; l < S; l++) K->to_host(hres + l * per, residual_hres(r, c, l), per);
    for (int t = 0; t < tokens; t++) {
        double P[64], H[64], Q[64];
        for (int i = 0; i < n * n; i++) P[i] = i / n == i % n;
        for (int l = S - 1; l >= 0; l--) {
            const real *h = hres + l * per + (size_t)t * n * n;
            for (int i = 0; i < n * n; i++) H[i] = h[i];
            /* P_l = P_{l+1} H_l */
            for (int i = 0; i < n; i++)
                for (int j = 0; j < n; j++) {
                    double s = 0;
                    for (int k = 0; k < n; k++) s += P[i * n + k] * H[k * n + j];
                    Q[i * n + j] = s;
                }
            memcpy(P, Q, sizeof(double) * n * n);
            g->comp_fwd[l] += gain_forward(P, n);
            g->comp_bwd[l] += gain_backward(P, n);
            g->comp_spec[l] += spectral_norm(P, n);
            g->single_fwd[l] += gain_forward(H, n);
            g->single_bwd[l] += gain_backward(H, n);
        }
    }
    free(hres);
    for (int i = 0; i < 5 * S; i++) buf[i] /= tokens;
    return 0;
}

void gain_profile_free(GainProfile *g) {
    free(g->comp_fwd);
    memset(g, 0, sizeof *g);
}
