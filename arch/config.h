/* A model configuration and the table that describes its fields. The table is the single source of truth
 * for defaults, types, ranges and help: the Lua bridge and (later) the Hugging Face config importer both
 * read configs through it, and an unknown key gets the closest valid name as a suggestion. */
#ifndef AL_CONFIG_H
#define AL_CONFIG_H
#include <stddef.h>
#include <stdint.h>

typedef struct ModelConfig {
    char preset[32];
    int vocab_size;
    int d_model;       /* hidden_size */
    int n_layers;      /* num_hidden_layers (blocks; each has an attention and an FFN sub-layer) */
    int n_heads;       /* num_attention_heads */
    int n_kv_heads;    /* num_key_value_heads: == n_heads MHA, 1 MQA, between: GQA; 0 = n_heads */
    int head_dim;      /* 0 = d_model / n_heads */
    int d_ff;          /* intermediate_size of the SwiGLU FFN */
    int seq_len;       /* maximum context */
    double rope_theta;
    double norm_eps;   /* rms_norm_eps */
    double init_std;
    int seed;          /* parameter initialization */
    char attention[16]; /* an attention kind (arch/kinds.h): "mha" | "gqa" | "mqa" | "mla" */
    char residual[16];  /* a residual kind: "residual" | "hc" | "mhc" */
    int streams;        /* n; 0 = default (1 residual, 4 hc/mhc) */
    int sinkhorn_iters; /* mHC t_max */
    int hc_dynamic;     /* hc/mhc: dynamic (input-dependent) mappings */
    double gate_init;   /* hc: s_a = s_b; mhc: a_pre = a_post = a_res */
    int h_pre, h_post, h_res; /* which mappings are learned (ablation) */
    char ffn[16];       /* an FFN kind: "dense" | "moe" */
    /* DeepSeekMoE (ffn = "moe"; arch/moe.c, arch/router.c). Hugging Face names, plus archlab's balancing keys. */
    int n_routed_experts;      /* N_r */
    int n_shared_experts;      /* N_s, always active */
    int num_experts_per_tok;   /* top-K routed experts per token */
    int moe_intermediate_size; /* SwiGLU width of one expert; 0 = d_ff / (top-K + shared) */
    char scoring_func[16];     /* "softmax" (V2) | "sigmoid" (V3) */
    int norm_topk_prob;        /* 1: renormalize the K gate values to sum 1 */
    double routed_scaling_factor;
    int n_group, topk_group;   /* group-limited routing (groups stand for devices) */
    char topk_method[24];      /* "auto" | "greedy" | "group_limited_greedy" (V2) | "noaux_tc" (V3) */
    int first_k_dense_replace; /* the first k blocks keep the dense FFN */
    char balance[16];          /* "none" | "aux" | "aux_free" */
    int expert_parallel;       /* R: ranks sharing the routed experts under mpirun (arch/moe_ep.c); 1 = none */
    double aux_alpha, device_alpha, seq_alpha, bias_gamma; /* -1 = the balance mode's default */
    /* MLA (attention = "mla"), Hugging Face DeepSeek names; see arch/mla.h */
    int kv_lora_rank;     /* d_c: width of the cached KV latent; required (> 0) for MLA */
    int q_lora_rank;      /* d_c': query compression width; 0 = none (q = W_Q h) */
    int qk_nope_head_dim; /* d_h: per-head query/key width without RoPE; 0 = head_dim */
    int qk_rope_head_dim; /* d_hR: decoupled RoPE width (per-head query part, one shared key); 0 = head_dim/2 */
    int v_head_dim;       /* per-head value width; 0 = head_dim */
    /* Multi-token prediction (DeepSeek-V3 sec. 2.2; arch/mtp.h): D sequential modules, objective weight lambda */
    int mtp_depth;        /* D; 0 = none (HF: num_nextn_predict_layers) */
    double mtp_lambda;    /* lambda in L_main + lambda / D sum_k L_MTP_k */
    /* Bit i: field i of model_config_fields was set through config_set_* since config_defaults (the "no effect"
     * rule and the alias check read it); a preset's fields move to preset_fields when it is applied
     * (bridge_apply_preset), so `given` marks what the script itself gave. */
    uint64_t given, preset_fields;
} ModelConfig;

/* The families of kinds a config chooses among (their registries: arch/kinds.h). */
typedef enum { KIND_ATTENTION, KIND_FFN, KIND_RESIDUAL, KIND_FAMILIES } KindFamily;

/* BOOL: an int 0/1; KIND: a string naming a kind of the family the field is named after (arch/kinds.h),
 * checked against that family's registry */
typedef enum { FIELD_INT, FIELD_NUMBER, FIELD_STRING, FIELD_BOOL, FIELD_KIND } FieldType;
typedef struct ConfigField {
    const char *name;
    FieldType type;
    size_t offset;
    double min, max;     /* numeric range */
    const char *choices; /* strings: "a|b|c" (KIND fields: NULL, their registry's names: config_field_choices) */
    const char *help;
} ConfigField;

/* a field whose value is text (a plain string or a kind's name) */
static inline int config_field_is_string(const ConfigField *f) { return f->type == FIELD_STRING || f->type == FIELD_KIND; }

extern const ConfigField model_config_fields[];
extern const int model_config_n_fields;

void config_defaults(ModelConfig *c);
const ConfigField *config_field(const char *name);
/* The accepted values of a string or kind field ("mha|gqa|mqa|mla"), NULL for any string or a number. */
const char *config_field_choices(const ConfigField *f);
/* Closest field name by edit distance (for "did you mean"), or NULL if nothing is close. */
const char *config_suggest(const char *name);
/* Sets a field from a number or string with type and range checks; -1 + al_errorf naming the field. */
int config_set_number(ModelConfig *c, const ConfigField *f, double v);
int config_set_string(ModelConfig *c, const ConfigField *f, const char *s);
/* Cross-field checks (heads dividing d_model, ...), resolving derived defaults, and one rule for every field a
 * kind owns: a field given by the user that none of the chosen kinds reads is an error naming the kinds that
 * do ("has no effect"), never silently ignored. -1 + message naming the field. */
int config_finalize(ModelConfig *c);
/* Closest of the '|'-separated words to s, or NULL. Shared by config keys and option names. */
const char *closest_word(const char *s, const char *const *words, int n);
int edit_distance(const char *a, const char *b);
#endif
