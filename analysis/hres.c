#include "analysis/hres.h"

#include "arch/kinds.h"

int hres_recorded_tokens(const Model *m, int max_tokens, const char *what) {
    const Residual *r = m->res;
    if (!r->ops->mapping)
        return al_errorf("%s needs residual = %s (residual = \"%s\" has no H_res: its mapping is the identity)", what,
                         residual_kinds_with_streams(" or "), r->kind);
    if (!m->act.base || !r->N_last) return al_errorf("%s needs a forward pass first (train or evaluate the model)", what);
    return max_tokens > 0 && max_tokens < r->N_last ? max_tokens : r->N_last;
}

int gain_profile(GainProfile *g, const Model *m, int max_tokens) {
    int tokens = hres_recorded_tokens(m, max_tokens, "the gain analysis");
    if (tokens < 0) return -1;
    return gain_profile_of(g, m->res, (Ctx *)&m->ctx, tokens);
}
