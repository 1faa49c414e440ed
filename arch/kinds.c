/* The kind registries (see arch/kinds.h). The built-in kinds are listed here, one row each; everything else
 * about a kind lives in its own file. */
#include "arch/kinds.h"

#include <string.h>

/* ---- the lists: ONE row per kind ----
 * X(name) stands for the entry `<family>_kind_<name>` defined in the kind's own file. */
#define ATTENTION_KINDS(X) X(mha) X(gqa) X(mqa) X(mla)
#define FFN_KINDS(X) X(dense) X(moe)
#define RESIDUAL_KINDS(X) X(residual) X(hc) X(mhc)

#define DECLARE_ATTENTION(n) extern const AttentionKind attention_kind_##n;
#define DECLARE_FFN(n) extern const FfnKind ffn_kind_##n;
#define DECLARE_RESIDUAL(n) extern const ResidualKind residual_kind_##n;
ATTENTION_KINDS(DECLARE_ATTENTION)
FFN_KINDS(DECLARE_FFN)
RESIDUAL_KINDS(DECLARE_RESIDUAL)

#define INFO_ATTENTION(n) &attention_kind_##n.info,
#define INFO_FFN(n) &ffn_kind_##n.info,
#define INFO_RESIDUAL(n) &residual_kind_##n.info,
static const KindInfo *const attention_builtin[] = {ATTENTION_KINDS(INFO_ATTENTION)};
static const KindInfo *const ffn_builtin[] = {FFN_KINDS(INFO_FFN)};
static const KindInfo *const residual_builtin[] = {RESIDUAL_KINDS(INFO_RESIDUAL)};

#define COUNT(a) ((int)(sizeof a / sizeof a[0]))
static const struct {
    const char *name;
    const KindInfo *const *builtin;
    int n_builtin;
} families[KIND_FAMILIES] = {
    [KIND_ATTENTION] = {"attention", attention_builtin, COUNT(attention_builtin)},
    [KIND_FFN] = {"ffn", ffn_builtin, COUNT(ffn_builtin)},
    [KIND_RESIDUAL] = {"residual", residual_builtin, COUNT(residual_builtin)},
};
_Static_assert(KIND_FAMILIES == 3, "a new family needs its row in `families` above and a KindFamily value");

/* kinds added at run time (kind_register) */
#define MAX_EXTRA 8
static const KindInfo *extra[KIND_FAMILIES][MAX_EXTRA];
static int n_extra[KIND_FAMILIES];

int kind_count(KindFamily f) { return families[f].n_builtin + n_extra[f]; }

const KindInfo *kind_at(KindFamily f, int i) {
    if (i < 0 || i >= kind_count(f)) return NULL;
    return i < families[f].n_builtin ? families[f].builtin[i] : extra[f][i - families[f].n_builtin];
}

const KindInfo *kind_find(KindFamily f, const char *name) {
    for (int i = 0; i < kind_count(f); i++)
        if (!strcmp(kind_at(f, i)->name, name)) return kind_at(f, i);
    return NULL;
}

const char *kind_names(KindFamily f) {
    static char buf[KIND_FAMILIES][512];
    char *b = buf[f];
    b[0] = 0;
    for (int i = 0; i < kind_count(f); i++)
        snprintf(b + strlen(b), sizeof buf[f] - strlen(b), "%s%s", i ? "|" : "", kind_at(f, i)->name);
    return b;
}

const char *kind_family_name(KindFamily f) { return families[f].name; }

int kind_register(KindFamily f, const KindInfo *k) {
    if (kind_find(f, k->name)) return al_errorf("a %s kind named '%s' exists already", families[f].name, k->name);
    if (n_extra[f] == MAX_EXTRA) return al_errorf("no room for another %s kind (%d added)", families[f].name, MAX_EXTRA);
    extra[f][n_extra[f]++] = k;
    return 0;
}

/* A validated config names a registered kind (config_set_string checks it), so a miss here is a bug. */
static const KindInfo *selected(KindFamily f, const char *name) {
    const KindInfo *k = kind_find(f, name);
    AL_ASSERT(k);
    return k;
}
const AttentionKind *attention_kind(const ModelConfig *c) { return (const AttentionKind *)selected(KIND_ATTENTION, c->attention); }
const FfnKind *ffn_kind(const ModelConfig *c) { return (const FfnKind *)selected(KIND_FFN, c->ffn); }
const ResidualKind *residual_kind(const ModelConfig *c) { return (const ResidualKind *)selected(KIND_RESIDUAL, c->residual); }

double kv_elems_per_token(const ModelConfig *c) { return attention_kind(c)->kv_elems(c) * c->n_layers; }

int config_rope_dim(const ModelConfig *c) { return attention_kind(c)->rope_dim(c); }

const char *residual_kinds_with_streams(const char *joiner) {
    static char buf[256];
    buf[0] = 0;
    int first = 1;
    for (int i = 0; i < kind_count(KIND_RESIDUAL); i++) {
        const ResidualKind *k = (const ResidualKind *)kind_at(KIND_RESIDUAL, i);
        if (k->max_streams <= 1) continue;
        snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s\"%s\"", first ? "" : joiner, k->info.name);
        first = 0;
    }
    return buf;
}
