/* The kind registries of arch/: one table per family of architectural choices, after ggml's op tables and
 * torch/nn's one registration per module. A kind is one entry: its name (the config value that selects it),
 * help text, the config fields it reads, and the hooks the model needs from it. The config's accepted names
 * (arch/config.c), archlab.help() and archlab.kinds() in Lua are generated from these tables; an unknown
 * name is an error that lists the known ones, never a fallback.
 *
 *   family      config field   entry type      entries (files)
 *   attention   attention      AttentionKind   mha gqa mqa (arch/attention.c), mla (arch/mla.c)
 *   FFN         ffn            FfnKind         dense (arch/ffn.c), moe (arch/moe.c)
 *   residual    residual       ResidualKind    residual (arch/residual.c), hc (arch/hc.c), mhc (arch/mhc.c)
 *
 * Adding a kind: a new file that defines `const <Family>Kind <family>_kind_<name>` and one row in the
 * family's list in arch/kinds.c (docs/EXTENDING.md walks through each family). */
#ifndef AL_KINDS_H
#define AL_KINDS_H
#include "arch/config.h"
#include "arch/module.h"
#include "arch/residual.h"

/* What every kind has; the first member of each family's entry. */
typedef struct KindInfo {
    const char *name;   /* the config value, e.g. "mla" */
    const char *help;   /* one line */
    const char *fields; /* the config fields this kind reads, '|'-separated ("" for none) */
} KindInfo;

typedef struct AttentionKind {
    KindInfo info;
    /* cross-field checks and derived defaults (n_kv_heads, MLA's widths); -1 + message naming the field */
    int (*finalize)(ModelConfig *c);
    /* the attention sub-layer of block `layer` */
    Sublayer (*create)(ParamStore *ps, const ModelConfig *c, int layer);
    /* elements one layer caches per token (DeepSeek-V2 Table 1) */
    double (*kv_elems)(const ModelConfig *c);
    /* the width RoPE rotates per head (the tables are (seq_len, rope_dim / 2)) */
    int (*rope_dim)(const ModelConfig *c);
} AttentionKind;

typedef struct FfnKind {
    KindInfo info;
    /* defaults of the fields this kind owns, set for every config (NULL: none) */
    void (*defaults)(ModelConfig *c);
    /* cross-field checks and derived defaults; -1 + message naming the field (NULL: none) */
    int (*finalize)(ModelConfig *c);
    /* the FFN sub-layer of block `layer` */
    Sublayer (*create)(ParamStore *ps, const ModelConfig *c, int layer);
    /* parameter tensors per block beyond a dense block's (refuses absurd expert counts before building) */
    double (*extra_tensors)(const ModelConfig *c);
} FfnKind;

typedef struct ResidualKind {
    KindInfo info;
    int default_streams; /* streams = 0 takes this */
    int max_streams;     /* 1: a single-stream family */
    /* the family's object wiring n_sublayers sub-layers, its parameters declared in ps and named after the
     * model's sub-layers first_sublayer .. first_sublayer + n_sublayers - 1 (0 for the main stack; the
     * multi-token prediction modules (arch/mtp.c) wire one block each, numbered after the main stack's) */
    Residual *(*create)(ParamStore *ps, const ModelConfig *c, int first_sublayer, int n_sublayers);
} ResidualKind;

/* The registry, family by family (KindFamily in arch/config.h). Entries in registration order: the built-in
 * ones, then any added with kind_register. */
int kind_count(KindFamily f);
const KindInfo *kind_at(KindFamily f, int i);
/* NULL when no kind of that family has the name */
const KindInfo *kind_find(KindFamily f, const char *name);
/* "mha|gqa|mqa|mla": the accepted names (a static buffer, valid until the next call for that family) */
const char *kind_names(KindFamily f);
/* the family's name ("attention", "ffn", "residual"), which is also its config field */
const char *kind_family_name(KindFamily f);
/* Adds a kind at run time (a test's toy kind, an extension); -1 + message on a duplicate name or when the
 * family's extension table (8 entries) is full. */
int kind_register(KindFamily f, const KindInfo *k);

/* The kinds a (validated) config selects. */
const AttentionKind *attention_kind(const ModelConfig *c);
const FfnKind *ffn_kind(const ModelConfig *c);
const ResidualKind *residual_kind(const ModelConfig *c);

/* Whole-config questions the selected kinds answer. cfg must be finalized. */
double kv_elems_per_token(const ModelConfig *c); /* all layers */
int config_rope_dim(const ModelConfig *c);
/* The residual kinds with more than one stream, quoted and joined: "\"hc\" or \"mhc\"" (for messages). */
const char *residual_kinds_with_streams(const char *joiner);
#endif
