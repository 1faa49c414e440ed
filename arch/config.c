#include "arch/config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "arch/kinds.h"
#include "core/common.h"

#define F(field) offsetof(ModelConfig, field)
const ConfigField model_config_fields[] = {
    {"preset", FIELD_STRING, F(preset), 0, 0, NULL, "name of the preset this config started from"},
    {"vocab_size", FIELD_INT, F(vocab_size), 2, 1 << 24, NULL, "vocabulary size (256 for byte-level text)"},
    {"d_model", FIELD_INT, F(d_model), 1, 1 << 20, NULL, "hidden size"},
    {"n_layers", FIELD_INT, F(n_layers), 1, 4096, NULL, "transformer blocks (attention + FFN each)"},
    {"n_heads", FIELD_INT, F(n_heads), 1, 4096, NULL, "attention heads"},
    {"n_kv_heads", FIELD_INT, F(n_kv_heads), 0, 4096, NULL, "key/value heads (GQA); 0 = n_heads"},
    {"head_dim", FIELD_INT, F(head_dim), 0, 65536, NULL, "per-head width; 0 = d_model / n_heads"},
    {"d_ff", FIELD_INT, F(d_ff), 1, 1 << 22, NULL, "SwiGLU intermediate size"},
    {"seq_len", FIELD_INT, F(seq_len), 1, 1 << 22, NULL, "maximum context length"},
    {"rope_theta", FIELD_NUMBER, F(rope_theta), 1, 1e12, NULL, "RoPE base"},
    {"norm_eps", FIELD_NUMBER, F(norm_eps), 0, 1, NULL, "RMSNorm epsilon"},
    {"init_std", FIELD_NUMBER, F(init_std), 0, 10, NULL, "std of normal weight init"},
    {"seed", FIELD_INT, F(seed), 0, 2147483647.0, NULL, "seed of the parameter initialization"},
    {"attention", FIELD_KIND, F(attention), 0, 0, NULL, "attention type"},
    {"residual", FIELD_KIND, F(residual), 0, 0, NULL, "residual connection family"},
    /* hyper-connections (residual = "hc" | "mhc"): arch/hc.c, arch/mhc.c */
    {"streams", FIELD_INT, F(streams), 1, 8, NULL, "residual streams n (expansion rate); 0 = 1 for residual, 4 for hc/mhc"},
    {"sinkhorn_iters", FIELD_INT, F(sinkhorn_iters), 1, 200, NULL, "mHC: Sinkhorn-Knopp iterations t_max"},
    {"hc_dynamic", FIELD_BOOL, F(hc_dynamic), 0, 1, NULL, "hc/mhc: input-dependent mappings (false: static only)"},
    {"gate_init", FIELD_NUMBER, F(gate_init), 0, 100, NULL, "hc/mhc: initial scale of the dynamic terms (s_a, s_b, a_*)"},
    {"h_pre", FIELD_BOOL, F(h_pre), 0, 1, NULL, "hc/mhc: learn H_pre (false: 1/n)"},
    {"h_post", FIELD_BOOL, F(h_post), 0, 1, NULL, "hc/mhc: learn H_post (false: 1)"},
    {"h_res", FIELD_BOOL, F(h_res), 0, 1, NULL, "hc/mhc: learn H_res (false: identity)"},
    {"ffn", FIELD_KIND, F(ffn), 0, 0, NULL, "feed-forward type"},
    /* DeepSeekMoE (ffn = "moe") */
    {"n_routed_experts", FIELD_INT, F(n_routed_experts), 1, 65536, NULL, "MoE: routed experts"},
    {"n_shared_experts", FIELD_INT, F(n_shared_experts), 0, 4096, NULL, "MoE: shared (always active) experts"},
    {"num_experts_per_tok", FIELD_INT, F(num_experts_per_tok), 1, 4096, NULL, "MoE: routed experts per token (top-K)"},
    {"moe_intermediate_size", FIELD_INT, F(moe_intermediate_size), 0, 1 << 22, NULL,
     "MoE: expert SwiGLU width; 0 = d_ff / (top-K + shared)"},
    {"scoring_func", FIELD_STRING, F(scoring_func), 0, 0, "softmax|sigmoid", "MoE: router score (V2 softmax, V3 sigmoid)"},
    {"norm_topk_prob", FIELD_INT, F(norm_topk_prob), 0, 1, NULL, "MoE: 1 (or true) = renormalize the top-K gate values"},
    {"routed_scaling_factor", FIELD_NUMBER, F(routed_scaling_factor), 0, 1e6, NULL, "MoE: gate value multiplier"},
    {"n_group", FIELD_INT, F(n_group), 1, 65536, NULL, "MoE: expert groups (devices) for group-limited routing"},
    {"topk_group", FIELD_INT, F(topk_group), 1, 65536, NULL, "MoE: groups kept per token"},
    {"topk_method", FIELD_STRING, F(topk_method), 0, 0, "auto|greedy|group_limited_greedy|noaux_tc",
     "MoE: group score (auto: V2 max for softmax, V3 top-2 sum for sigmoid)"},
    {"first_k_dense_replace", FIELD_INT, F(first_k_dense_replace), 0, 4096, NULL, "MoE: leading blocks with a dense FFN"},
    {"balance", FIELD_STRING, F(balance), 0, 0, "none|aux|aux_free", "MoE: load balancing"},
    {"expert_parallel", FIELD_INT, F(expert_parallel), 1, 4096, NULL, "MoE: ranks the routed experts are spread over (mpirun -np R)"},
    {"aux_alpha", FIELD_NUMBER, F(aux_alpha), -1, 1e3, NULL, "MoE: expert-level aux loss a1 (-1: 0.003 with aux)"},
    {"device_alpha", FIELD_NUMBER, F(device_alpha), -1, 1e3, NULL, "MoE: device-level aux loss a2 over n_group (-1: 0)"},
    {"seq_alpha", FIELD_NUMBER, F(seq_alpha), -1, 1e3, NULL, "MoE: V3 sequence-wise loss (-1: 1e-4 with aux_free)"},
    {"bias_gamma", FIELD_NUMBER, F(bias_gamma), -1, 1e3, NULL, "MoE: aux-loss-free bias step (-1: 0.001 with aux_free)"},
    /* attention families (arch/attention.c, arch/mla.c); Hugging Face DeepSeek names */
    {"num_key_value_heads", FIELD_INT, F(n_kv_heads), 0, 4096, NULL, "Hugging Face name of n_kv_heads"},
    {"kv_lora_rank", FIELD_INT, F(kv_lora_rank), 0, 1 << 20, NULL, "MLA: KV latent width d_c (the cache); required"},
    {"q_lora_rank", FIELD_INT, F(q_lora_rank), 0, 1 << 20, NULL, "MLA: query latent width d_c'; 0 = none"},
    {"qk_nope_head_dim", FIELD_INT, F(qk_nope_head_dim), 0, 65536, NULL, "MLA: q/k head width without RoPE; 0 = head_dim"},
    {"qk_rope_head_dim", FIELD_INT, F(qk_rope_head_dim), 0, 65536, NULL, "MLA: decoupled RoPE width; 0 = head_dim/2"},
    {"v_head_dim", FIELD_INT, F(v_head_dim), 0, 65536, NULL, "MLA: value head width; 0 = head_dim"},
    {"mtp_depth", FIELD_INT, F(mtp_depth), 0, 16, NULL, "multi-token prediction modules D (V3: 1); 0 = none"},
    {"num_nextn_predict_layers", FIELD_INT, F(mtp_depth), 0, 16, NULL, "Hugging Face name of mtp_depth"},
    {"mtp_lambda", FIELD_NUMBER, F(mtp_lambda), 0, 100, NULL, "MTP: loss weight lambda (V3: 0.3, later 0.1)"},
};
#undef F
const int model_config_n_fields = sizeof model_config_fields / sizeof model_config_fields[0];
_Static_assert(sizeof model_config_fields / sizeof model_config_fields[0] <= 64, "ModelConfig.given has 64 bits");

/* Fields naming the same setting (n_kv_heads and its Hugging Face name num_key_value_heads) share an offset:
 * given both, they must agree. -1 + message when field f's new value (bytes at v, n of them) differs from what
 * an alias already given holds. */
static int check_alias(const ModelConfig *c, const ConfigField *f, const void *v, size_t n) {
    for (int j = 0; j < model_config_n_fields; j++) {
        const ConfigField *g = &model_config_fields[j];
        if (g == f || g->offset != f->offset || !(c->given >> j & 1)) continue;
        if (memcmp((const char *)c + f->offset, v, n))
            return al_errorf("fields '%s' and '%s' name the same setting and were given different values", g->name, f->name);
    }
    return 0;
}

static void mark_given(ModelConfig *c, const ConfigField *f) { c->given |= (uint64_t)1 << (f - model_config_fields); }

void config_defaults(ModelConfig *c) {
    memset(c, 0, sizeof *c);
    snprintf(c->preset, sizeof c->preset, "custom");
    c->vocab_size = 256;
    c->d_model = 128;
    c->n_layers = 4;
    c->n_heads = 4;
    c->d_ff = 0; /* derived below: 8/3 d_model rounded to 32, the usual SwiGLU width */
    c->seq_len = 128;
    c->rope_theta = 10000;
    c->norm_eps = 1e-6;
    c->init_std = 0.02;
    c->seed = 1;
    snprintf(c->attention, sizeof c->attention, "mha");
    snprintf(c->residual, sizeof c->residual, "residual");
    c->sinkhorn_iters = 20;
    c->hc_dynamic = 1;
    c->gate_init = 0.01;
    c->mtp_lambda = 0.3;
    c->h_pre = c->h_post = c->h_res = 1;
    snprintf(c->ffn, sizeof c->ffn, "dense");
    /* kinds own the defaults of their fields (e.g. the MoE keys), whichever kind is chosen later */
    for (int i = 0; i < kind_count(KIND_FFN); i++) {
        const FfnKind *k = (const FfnKind *)kind_at(KIND_FFN, i);
        if (k->defaults) k->defaults(c);
    }
}

/* a KIND field is named after its family ("attention", "ffn", "residual") */
static KindFamily field_family(const ConfigField *f) {
    for (int k = 0; k < KIND_FAMILIES; k++)
        if (!strcmp(kind_family_name(k), f->name)) return k;
    AL_ASSERT(0 && "a FIELD_KIND field must be named after a kind family");
    return 0;
}

const char *config_field_choices(const ConfigField *f) {
    return f->type == FIELD_KIND ? kind_names(field_family(f)) : f->choices;
}

const ConfigField *config_field(const char *name) {
    for (int i = 0; i < model_config_n_fields; i++)
        if (!strcmp(model_config_fields[i].name, name)) return &model_config_fields[i];
    return NULL;
}

int edit_distance(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63) return 99;
    int d[64][64];
    for (size_t i = 0; i <= la; i++) d[i][0] = (int)i;
    for (size_t j = 0; j <= lb; j++) d[0][j] = (int)j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            int c = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (d[i - 1][j] + 1 < c) c = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < c) c = d[i][j - 1] + 1;
            /* a transposition ("nhead" vs "nehad") counts as one edit */
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < c)
                c = d[i - 2][j - 2] + 1;
            d[i][j] = c;
        }
    return d[la][lb];
}

/* The closest word by edit distance when close enough to be a typo; else the one word that contains s (or
 * that s contains), so a part of a name finds it ("clip" -> "grad_clip"); else NULL. */
const char *closest_word(const char *s, const char *const *words, int n) {
    const char *best = NULL;
    int bd = 1 << 30;
    for (int i = 0; i < n; i++) {
        int d = edit_distance(s, words[i]);
        if (d < bd) { bd = d; best = words[i]; }
    }
    /* close enough to be a typo: at most a third of the word's letters, and at least 1 */
    int limit = (int)strlen(s) / 3 > 1 ? (int)strlen(s) / 3 : 2;
    if (bd <= limit) return best;
    const char *part = NULL;
    int parts = 0;
    for (int i = 0; i < n; i++)
        if ((strlen(s) >= 3 && strstr(words[i], s)) || (strlen(words[i]) >= 4 && strstr(s, words[i]))) {
            part = words[i];
            parts++;
        }
    return parts == 1 ? part : NULL;
}

const char *config_suggest(const char *name) {
    const char *words[256];
    for (int i = 0; i < model_config_n_fields; i++) words[i] = model_config_fields[i].name;
    return closest_word(name, words, model_config_n_fields);
}

int config_set_number(ModelConfig *c, const ConfigField *f, double v) {
    if (config_field_is_string(f)) return al_errorf("field '%s' must be a string, got a number", f->name);
    if (!isfinite(v)) return al_errorf("field '%s' must be a finite number", f->name);
    if (v < f->min || v > f->max)
        return al_errorf("field '%s' = %g is out of range [%g, %g]", f->name, v, f->min, f->max);
    char *p = (char *)c + f->offset;
    if (f->type == FIELD_INT || f->type == FIELD_BOOL) {
        if (v != floor(v)) return al_errorf("field '%s' must be an integer, got %g", f->name, v);
        int iv = (int)v;
        if (check_alias(c, f, &iv, sizeof iv)) return -1;
        *(int *)p = iv;
    } else {
        if (check_alias(c, f, &v, sizeof v)) return -1;
        *(double *)p = v;
    }
    mark_given(c, f);
    return 0;
}

int config_set_string(ModelConfig *c, const ConfigField *f, const char *s) {
    if (!config_field_is_string(f)) return al_errorf("field '%s' must be a number, got a string", f->name);
    if (f->type == FIELD_KIND && !kind_find(field_family(f), s))
        return al_errorf("field '%s' = \"%s\" is not one of %s", f->name, s, kind_names(field_family(f)));
    if (f->choices) {
        int ok = 0;
        const char *p = f->choices;
        size_t ls = strlen(s);
        while (*p) {
            const char *e = strchr(p, '|');
            size_t n = e ? (size_t)(e - p) : strlen(p);
            if (n == ls && !strncmp(p, s, n)) ok = 1;
            p += n + (e ? 1 : 0);
        }
        if (!ok) return al_errorf("field '%s' = \"%s\" is not one of %s", f->name, s, f->choices);
    }
    /* buffer sizes in ModelConfig: 16, except preset (32) and topk_method (24, for "group_limited_greedy") */
    size_t cap = !strcmp(f->name, "preset") ? 32 : !strcmp(f->name, "topk_method") ? 24 : 16;
    if (strlen(s) >= cap && strcmp(f->name, "preset")) return al_errorf("field '%s': value too long", f->name);
    char *dst = (char *)c + f->offset, buf[32] = "";
    snprintf(buf, cap, "%s", s);
    if (check_alias(c, f, buf, cap)) return -1;
    snprintf(dst, cap, "%s", s);
    mark_given(c, f);
    return 0;
}

/* Does kind k read the setting at `offset` (a field of its list, or an alias of one)? */
static int kind_reads(const KindInfo *k, size_t offset) {
    for (const char *p = k->fields; *p;) {
        const char *e = strchr(p, '|');
        char name[64];
        snprintf(name, sizeof name, "%.*s", e ? (int)(e - p) : (int)strlen(p), p);
        const ConfigField *g = config_field(name);
        if (g && g->offset == offset) return 1;
        p += strlen(name) + (e ? 1 : 0);
    }
    return 0;
}

/* One rule for every field a kind owns: given by the user, it must be read by one of the chosen kinds. */
static int check_no_effect(const ModelConfig *c) {
    const KindInfo *chosen[KIND_FAMILIES] = {&attention_kind(c)->info, &ffn_kind(c)->info, &residual_kind(c)->info};
    for (int i = 0; i < model_config_n_fields; i++) {
        if (!(c->given >> i & 1)) continue;
        const ConfigField *f = &model_config_fields[i];
        int read = 0, owned = 0;
        char readers[256] = "";
        for (int fam = 0; fam < KIND_FAMILIES && !read; fam++) {
            read = kind_reads(chosen[fam], f->offset);
            for (int k = 0; k < kind_count(fam) && !read; k++)
                if (kind_reads(kind_at(fam, k), f->offset)) {
                    owned = 1;
                    snprintf(readers + strlen(readers), sizeof readers - strlen(readers), "%s%s = \"%s\"",
                             *readers ? ", " : "", kind_family_name(fam), kind_at(fam, k)->name);
                }
        }
        if (owned && !read)
            return al_errorf("field '%s' has no effect with attention = \"%s\", ffn = \"%s\", residual = \"%s\" "
                             "(it is read by %s)", f->name, c->attention, c->ffn, c->residual, readers);
    }
    return 0;
}

/* The generic checks here; each chosen kind checks and completes its own fields (arch/kinds.h). */
int config_finalize(ModelConfig *c) {
    if (c->head_dim == 0) {
        if (c->d_model % c->n_heads)
            return al_errorf("field 'n_heads' = %d does not divide d_model = %d (set head_dim to decouple them)",
                             c->n_heads, c->d_model);
        c->head_dim = c->d_model / c->n_heads;
    }
    if (attention_kind(c)->finalize(c)) return -1;
    if (c->n_heads % c->n_kv_heads)
        return al_errorf("field 'n_kv_heads' = %d does not divide n_heads = %d", c->n_kv_heads, c->n_heads);
    if (c->head_dim % 2) return al_errorf("field 'head_dim' = %d must be even for RoPE", c->head_dim);
    const ResidualKind *r = residual_kind(c);
    /* a preset's stream count, when the script chose a family with fewer, gives way to the family's default */
    int bit = (int)(config_field("streams") - model_config_fields);
    int from_preset = (c->preset_fields >> bit & 1) && !(c->given >> bit & 1);
    if (c->streams == 0 || (c->streams > r->max_streams && from_preset)) c->streams = r->default_streams;
    if (c->streams > r->max_streams)
        return al_errorf("field 'streams' = %d needs residual = %s (residual = \"%s\" has %s)", c->streams,
                         residual_kinds_with_streams(" or "), c->residual,
                         r->max_streams == 1 ? "one stream" : "fewer streams");
    if (c->d_ff == 0) c->d_ff = ((c->d_model * 8 / 3) + 31) / 32 * 32;
    const FfnKind *f = ffn_kind(c);
    if (f->finalize && f->finalize(c)) return -1;
    int lambda = (int)(config_field("mtp_lambda") - model_config_fields);
    if ((c->given >> lambda & 1) && c->mtp_depth == 0)
        return al_errorf("field 'mtp_lambda' has no effect with mtp_depth = 0 (no multi-token prediction modules)");
    return check_no_effect(c);
}
