#include "analysis/stochastic.h"

#include "analysis/hres.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int hres_stochastic(HresStochastic *s, const Model *m, int max_tokens) {
    memset(s, 0, sizeof *s);
    const Residual *r = m->res;
    int tokens = hres_recorded_tokens(m, max_tokens, "the doubly-stochastic error");
    if (tokens < 0) return -1;
    int S = r->S, n = r->n;
    s->S = S; s->n = n; s->tokens = tokens;
    double *buf = calloc((size_t)3 * S, sizeof(double));
    AL_ASSERT(buf);
    s->col_err = buf; s->row_err = buf + S; s->min_entry = buf + 2 * S;
    Ctx *c = (Ctx *)&m->ctx;
    real *h0 = malloc(sizeof(real) * (size_t)tokens * n * n); /* a layer's mappings, copied from the device */
    AL_ASSERT(h0);
    for (int l = 0; l < S; l++) {
        K->to_host(h0, residual_hres(r, c, l), (size_t)tokens * n * n);
        for (int t = 0; t < tokens; t++) {
            const real *h = h0 + (size_t)t * n * n;
            double ce = 0, re = 0, mn = INFINITY;
            for (int i = 0; i < n; i++) {
                double rs = 0, cs = 0;
                for (int j = 0; j < n; j++) {
                    rs += h[i * n + j];
                    cs += h[j * n + i];
                    mn = fmin(mn, h[i * n + j]);
                }
                re = fmax(re, fabs(rs - 1));
                ce = fmax(ce, fabs(cs - 1));
            }
            s->col_err[l] += ce / tokens;
            s->row_err[l] += re / tokens;
            s->min_entry[l] += mn / tokens;
            s->col_err_max = fmax(s->col_err_max, ce);
            s->row_err_max = fmax(s->row_err_max, re);
        }
    }
    free(h0);
    return 0;
}

void hres_stochastic_free(HresStochastic *s) {
    free(s->col_err);
    memset(s, 0, sizeof *s);
}
