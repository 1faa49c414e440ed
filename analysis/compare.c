/* archlab compare's table (analysis/compare.h). */
#include "analysis/compare.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "analysis/cost.h"
#include "arch/kinds.h"
#include "core/common.h"

static CompareRow *row(Compare *c, const char *unit, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static CompareRow *row(Compare *c, const char *unit, const char *fmt, ...) {
    AL_ASSERT(c->n_rows < COMPARE_MAX_ROWS);
    CompareRow *r = &c->rows[c->n_rows++];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->name, sizeof r->name, fmt, ap);
    va_end(ap);
    snprintf(r->unit, sizeof r->unit, "%s", unit);
    for (int j = 0; j < COMPARE_MAX_CONFIGS; j++) { r->v[j] = NAN; r->note[j][0] = 0; }
    return r;
}

static void ctx_name(char *buf, size_t n, int t) {
    if (t >= 1024 && t % 1024 == 0) snprintf(buf, n, "%dK", t / 1024);
    else snprintf(buf, n, "%d", t);
}

int compare_configs(const ModelConfig *cfgs, const char *const *labels, int n, const int *contexts, int n_contexts,
                    int batch, double memory_bytes, Compare *out) {
    memset(out, 0, sizeof *out);
    if (n < 1 || n > COMPARE_MAX_CONFIGS) return al_errorf("compare takes 1 to %d configurations, got %d", COMPARE_MAX_CONFIGS, n);
    if (n_contexts < 1 || n_contexts > COMPARE_MAX_CONTEXTS) return al_errorf("compare takes 1 to %d contexts", COMPARE_MAX_CONTEXTS);
    out->n = n;
    CompareRow *total = row(out, "params", "total parameters"), *active = row(out, "params", "activated parameters");
    CompareRow *flops[COMPARE_MAX_CONTEXTS], *kvctx[COMPARE_MAX_CONTEXTS], *act[COMPARE_MAX_CONTEXTS], *part[4];
    char t[16];
    for (int k = 0; k < n_contexts; k++) {
        ctx_name(t, sizeof t, contexts[k]);
        flops[k] = row(out, "FLOP", "forward FLOPs per token at %s", t);
    }
    /* the first context's FLOPs by part (archlab compare's stacked-bar figure) */
    static const char *const parts[4] = {"attention", "FFN", "residual connections", "output head"};
    ctx_name(t, sizeof t, contexts[0]);
    for (int p = 0; p < 4; p++) part[p] = row(out, "FLOP", "  of which %s (at %s)", parts[p], t);
    CompareRow *kve = row(out, "elements", "KV cache elements per token");
    CompareRow *kvl = row(out, "elements", "KV cache elements per token and layer");
    CompareRow *kvb = row(out, "bytes", "KV cache per token (bf16)");
    for (int k = 0; k < n_contexts; k++) {
        ctx_name(t, sizeof t, contexts[k]);
        kvctx[k] = row(out, "bytes", "KV cache at %s x %d (bf16)", t, batch);
    }
    CompareRow *fit = NULL;
    if (memory_bytes > 0) {
        char mb[32];
        fit = row(out, "tokens", "longest context in %s (bf16 weights + KV)", al_format_bytes(memory_bytes, mb));
    }
    CompareRow *w32 = row(out, "bytes", "weights (fp32)"), *w16 = row(out, "bytes", "weights (bf16)");
    CompareRow *tr32 = row(out, "bytes", "training state, fp32 (weights, gradients, AdamW: 16 B/param)");
    CompareRow *tr16 = row(out, "bytes", "training state, bf16 weights and gradients, fp32 AdamW (12 B/param)");
    for (int k = 0; k < n_contexts; k++) {
        ctx_name(t, sizeof t, contexts[k]);
        act[k] = row(out, "bytes", "activations per token at %s (fp32)", t);
    }
    CompareRow *rs = row(out, "bytes", "residual streams per token (n x d_model x (sub-layers + 1), fp32)");
    for (int j = 0; j < n; j++) {
        snprintf(out->label[j], sizeof out->label[j], "%s", labels[j]);
        ModelConfig fin = cfgs[j];
        if (config_finalize(&fin)) return al_errorf("%s: %s", labels[j], al_error_message());
        /* what does not depend on the context, from a one-token build */
        ModelCost c;
        if (model_cost(&cfgs[j], 1, 1, &c)) return al_errorf("%s: %s", labels[j], al_error_message());
        double P = (double)c.params.total_params;
        total->v[j] = P;
        active->v[j] = (double)c.params.active_params;
        kve->v[j] = c.kv_elems_per_token;
        kvl->v[j] = c.kv_elems_per_token / fin.n_layers;
        kvb->v[j] = 2 * c.kv_elems_per_token;
        w32->v[j] = 4 * P;
        w16->v[j] = 2 * P;
        tr32->v[j] = 16 * P;
        tr16->v[j] = 12 * P;
        if (fit) fit->v[j] = memory_bytes > 2 * P ? floor((memory_bytes - 2 * P) / (2 * c.kv_elems_per_token * batch)) : 0;
        int streams = residual_kind(&fin)->max_streams > 1 ? fin.streams : 1;
        rs->v[j] = 4.0 * streams * fin.d_model * (2.0 * fin.n_layers + 1);
        for (int k = 0; k < n_contexts; k++) {
            if (contexts[k] > fin.seq_len) continue; /* beyond the model: not counted (NaN) */
            if (model_cost(&cfgs[j], contexts[k], batch, &c)) return al_errorf("%s: %s", labels[j], al_error_message());
            flops[k]->v[j] = c.fwd_flops_per_token;
            if (k == 0) {
                part[0]->v[j] = c.fwd_flops_attention;
                part[1]->v[j] = c.fwd_flops_ffn;
                part[2]->v[j] = c.fwd_flops_residual;
                part[3]->v[j] = c.fwd_flops_head;
            }
            kvctx[k]->v[j] = 2 * c.kv_elems_per_token * contexts[k] * batch;
            act[k]->v[j] = c.activation_bytes / ((double)contexts[k] * batch);
        }
    }
    return 0;
}

CompareRow *compare_add_row(Compare *c, const char *unit, const char *name) {
    if (c->n_rows >= COMPARE_MAX_ROWS) return NULL;
    return row(c, unit, "%s", name);
}

const CompareRow *compare_row(const Compare *c, const char *name) {
    for (int i = 0; i < c->n_rows; i++)
        if (!strcmp(c->rows[i].name, name)) return &c->rows[i];
    return NULL;
}
