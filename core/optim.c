#include "core/optim.h"

#include <math.h>
#include <string.h>

#include "core/backend.h"

AdamW adamw_default(void) { return (AdamW){.beta1 = 0.9, .beta2 = 0.95, .eps = 1e-8, .weight_decay = 0.1}; }

int adamw_step(AdamW *opt, ParamStore *ps, double lr) {
    if (ps_allocate_adam(ps)) return -1;
    int t = ++opt->step;
    /* Consecutive parameters of the same group are updated by one kernel call. */
    for (int i = 0; i < ps->n;) {
        int j = i + 1;
        while (j < ps->n && ps->info[j].decay == ps->info[i].decay) j++;
        size_t off = ps->info[i].offset, n = ps->info[j - 1].offset + ps->info[j - 1].numel - off;
        real wd = ps->info[i].decay ? (real)opt->weight_decay : 0;
        K->adamw(ps->data + off, ps->grad + off, ps->adam_m + off, ps->adam_v + off, n, (real)lr,
                 (real)opt->beta1, (real)opt->beta2, (real)opt->eps, wd, t);
        i = j;
    }
    return 0;
}

double grad_norm(const ParamStore *ps) { return sqrt(K->sum_squares(ps->grad, ps->total)); }

double grad_clip(ParamStore *ps, double max_norm) {
    double norm = grad_norm(ps);
    if (max_norm > 0 && norm > max_norm && isfinite(norm)) K->scale(ps->grad, (real)(max_norm / norm), ps->total);
    return norm;
}

double schedule_lr(const Schedule *s, int step) {
    if (step < s->warmup) return s->lr * (step + 1) / s->warmup;
    double frac = s->total > s->warmup ? (double)(step - s->warmup) / (s->total - s->warmup) : 1.0;
    if (frac > 1) frac = 1;
    switch (s->kind) {
    case SCHED_COSINE: return s->min_lr + 0.5 * (s->lr - s->min_lr) * (1 + cos(M_PI * frac));
    case SCHED_STEP: {
        double lr = s->lr, pos = s->total > 0 ? (double)step / s->total : 0;
        for (int i = 0; i < s->n_milestones; i++)
            if (pos >= s->milestone[i]) lr = s->lr * s->factor[i];
        return lr;
    }
    default: return s->lr;
    }
}

int schedule_kind_from_name(const char *name, SchedKind *kind) {
    if (!strcmp(name, "constant")) *kind = SCHED_CONSTANT;
    else if (!strcmp(name, "cosine")) *kind = SCHED_COSINE;
    else if (!strcmp(name, "step")) *kind = SCHED_STEP;
    else return -1;
    return 0;
}

int schedule_init(Schedule *s, const char *kind, double lr, double min_lr, int warmup, int total) {
    memset(s, 0, sizeof *s);
    if (schedule_kind_from_name(kind, &s->kind))
        return al_errorf("field 'schedule' = \"%s\" is not one of constant|cosine|step", kind);
    s->lr = lr;
    s->min_lr = min_lr >= 0 ? min_lr : lr / 10;
    s->warmup = warmup;
    s->total = total;
    /* the mHC/DeepSeek step schedule: x0.316 at 80% of training, x0.1 at 90% */
    s->n_milestones = 2;
    s->milestone[0] = 0.8; s->factor[0] = 0.316;
    s->milestone[1] = 0.9; s->factor[1] = 0.1;
    return 0;
}
