#include "arch/hf_config.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"

/* HF name -> archlab field, for the fields that map one to one */
static const struct { const char *hf, *field; } direct[] = {
    {"vocab_size", "vocab_size"}, {"hidden_size", "d_model"}, {"num_hidden_layers", "n_layers"},
    {"num_attention_heads", "n_heads"}, {"intermediate_size", "d_ff"}, {"max_position_embeddings", "seq_len"},
    {"rope_theta", "rope_theta"}, {"rms_norm_eps", "norm_eps"}, {"initializer_range", "init_std"},
    {"kv_lora_rank", "kv_lora_rank"}, {"q_lora_rank", "q_lora_rank"}, {"qk_nope_head_dim", "qk_nope_head_dim"},
    {"qk_rope_head_dim", "qk_rope_head_dim"}, {"v_head_dim", "v_head_dim"}, {"head_dim", "head_dim"},
    {"n_routed_experts", "n_routed_experts"}, {"n_shared_experts", "n_shared_experts"},
    {"num_experts_per_tok", "num_experts_per_tok"}, {"moe_intermediate_size", "moe_intermediate_size"},
    {"first_k_dense_replace", "first_k_dense_replace"}, {"n_group", "n_group"}, {"topk_group", "topk_group"},
    {"scoring_func", "scoring_func"}, {"routed_scaling_factor", "routed_scaling_factor"}, {"topk_method", "topk_method"},
    {"num_nextn_predict_layers", "mtp_depth"},
};
/* read and checked elsewhere in this file */
static const char *handled[] = {"num_key_value_heads", "norm_topk_prob", "aux_loss_alpha", "seq_aux", "hidden_act",
                                "tie_word_embeddings", "attention_bias", "moe_layer_freq", "rope_scaling"};
/* known, and without effect on what archlab builds or counts */
static const char *no_effect[] = {"architectures", "auto_map", "model_type", "torch_dtype", "transformers_version",
                                  "bos_token_id", "eos_token_id", "pad_token_id", "attention_dropout", "use_cache",
                                  "pretraining_tp", "ep_size", "quantization_config", "_name_or_path", "rope_type"};

/* Well-formed UTF-8 (no overlong forms, no surrogates, at most U+10FFFF). */
static int utf8_valid(const char *s) {
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        int n = *p < 0x80 ? 0 : (*p & 0xe0) == 0xc0 ? 1 : (*p & 0xf0) == 0xe0 ? 2 : (*p & 0xf8) == 0xf0 ? 3 : -1;
        if (n < 0 || (n == 1 && *p < 0xc2)) return 0;
        unsigned cp = n ? *p & (0x3f >> n) : *p;
        p++;
        for (int k = 0; k < n; k++, p++) {
            if ((*p & 0xc0) != 0x80) return 0;
            cp = cp << 6 | (*p & 0x3f);
        }
        if ((n == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff))) return 0;
    }
    return 1;
}

static void append(char *buf, size_t n, const char *word) {
    size_t len = strlen(buf);
    if (len + strlen(word) + 3 < n) snprintf(buf + len, n - len, "%s%s", len ? ", " : "", word);
}

static int in_list(const char *k, const char *const *list, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!strcmp(k, list[i])) return 1;
    return 0;
}

static const char *json_type(const cJSON *v) {
    return cJSON_IsNumber(v) ? "a number" : cJSON_IsString(v) ? "a string" : cJSON_IsBool(v) ? "a boolean"
         : cJSON_IsNull(v) ? "null" : cJSON_IsArray(v) ? "an array" : "an object";
}

/* Each value by its field's type, strictly: a number for a number (true is not a layer count), a string for a
 * string, true/false for a boolean field. */
static int set_from_json(ModelConfig *c, const char *path, const char *hf, const ConfigField *f, const cJSON *v) {
    int rc;
    int want_string = config_field_is_string(f), want_bool = f->type == FIELD_BOOL;
    if (want_bool && cJSON_IsBool(v)) rc = config_set_number(c, f, cJSON_IsTrue(v));
    else if (!want_string && !want_bool && cJSON_IsNumber(v)) rc = config_set_number(c, f, v->valuedouble);
    else if (want_string && cJSON_IsString(v)) rc = config_set_string(c, f, v->valuestring);
    else rc = al_errorf("must be %s, got %s", want_string ? "a string" : want_bool ? "true or false" : "a number", json_type(v));
    if (rc) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", al_error_message());
        return al_errorf("%s: field '%s': %s", path, hf, msg);
    }
    return 0;
}

int hf_config_load(const char *path, ModelConfig *c, HfImport *info) {
    memset(info, 0, sizeof *info);
    FILE *fp = fopen(path, "rb");
    if (!fp) return al_errorf("cannot open '%s': %s", path, strerror(errno));
    char *text = NULL;
    size_t len = 0, cap = 0, got;
    char chunk[65536];
    while ((got = fread(chunk, 1, sizeof chunk, fp)) > 0) {
        if (len + got + 1 > cap) {
            cap = (len + got + 1) * 2;
            char *t = cap > (64u << 20) ? NULL : realloc(text, cap);
            if (!t) { free(text); fclose(fp); return al_errorf("%s: too large for a config.json", path); }
            text = t;
        }
        memcpy(text + len, chunk, got);
        len += got;
    }
    fclose(fp);
    if (!text) return al_errorf("%s: empty file", path);
    text[len] = 0;
    const char *err = NULL;
    if (strlen(text) != len) { free(text); return al_errorf("%s: a NUL byte inside the file: not a JSON text", path); }
    /* require_null_terminated: nothing but white space may follow the object (no trailing text, no second object) */
    cJSON *root = cJSON_ParseWithOpts(text, &err, 1);
    if (!root || !cJSON_IsObject(root)) {
        long line = 1;
        for (const char *p = text; err && p < err; p++) line += *p == '\n';
        cJSON_Delete(root);
        free(text);
        return al_errorf("%s:%ld: not a valid JSON object (truncated, malformed, or text after it)", path, line);
    }
    free(text);
    for (const cJSON *e = root->child; e; e = e->next) {
        if (!e->string[0]) { cJSON_Delete(root); return al_errorf("%s: an empty key", path); }
        if (!utf8_valid(e->string)) { cJSON_Delete(root); return al_errorf("%s: a key that is not valid UTF-8", path); }
    }
    config_defaults(c);
    snprintf(c->preset, sizeof c->preset, "config.json");
    int rc = 0;
    const char *required[] = {"vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size"};
    for (size_t i = 0; i < sizeof required / sizeof *required && !rc; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, required[i]);
        if (!v) rc = al_errorf("%s: missing field '%s'", path, required[i]);
        else if (cJSON_IsNull(v)) rc = al_errorf("%s: field '%s' is null (it is required)", path, required[i]);
    }
    /* MLA when kv_lora_rank is given; MoE when routed experts are */
    const cJSON *kv = cJSON_GetObjectItemCaseSensitive(root, "kv_lora_rank");
    const cJSON *ne = cJSON_GetObjectItemCaseSensitive(root, "n_routed_experts");
    int mla = kv && !cJSON_IsNull(kv), moe = ne && !cJSON_IsNull(ne);
    if (!rc && mla) config_set_string(c, config_field("attention"), "mla");
    if (!rc && moe) config_set_string(c, config_field("ffn"), "moe");
    if (!rc && moe) config_set_string(c, config_field("balance"), "none"); /* training-time choice, not in config */
    for (const cJSON *e = root->child; e && !rc; e = e->next) {
        const char *k = e->string;
        int mapped = 0;
        for (size_t i = 0; i < sizeof direct / sizeof *direct && !mapped; i++) {
            if (strcmp(k, direct[i].hf)) continue;
            mapped = 1;
            if (cJSON_IsNull(e)) continue; /* null: the default (q_lora_rank null = no query compression) */
            rc = set_from_json(c, path, k, config_field(direct[i].field), e);
        }
        if (mapped || rc) continue;
        if (in_list(k, handled, sizeof handled / sizeof *handled)) continue;
        if (in_list(k, no_effect, sizeof no_effect / sizeof *no_effect)) append(info->ignored, sizeof info->ignored, k);
        else append(info->unknown, sizeof info->unknown, k);
    }
    const cJSON *v;
    if (!rc && (v = cJSON_GetObjectItemCaseSensitive(root, "num_key_value_heads")) && !cJSON_IsNull(v) && !mla) {
        if (!cJSON_IsNumber(v)) rc = al_errorf("%s: field 'num_key_value_heads' must be a number", path);
        else {
            int h = (int)v->valuedouble;
            config_set_string(c, config_field("attention"), h == 1 ? "mqa" : h == c->n_heads ? "mha" : "gqa");
            rc = set_from_json(c, path, "num_key_value_heads", config_field("n_kv_heads"), v);
        }
    }
    if (!rc && (v = cJSON_GetObjectItemCaseSensitive(root, "norm_topk_prob")) && !cJSON_IsNull(v)) {
        if (!cJSON_IsBool(v)) rc = al_errorf("%s: field 'norm_topk_prob' must be true or false", path);
        else c->norm_topk_prob = cJSON_IsTrue(v);
    }
    if (!rc && (v = cJSON_GetObjectItemCaseSensitive(root, "hidden_act")) &&
        !(cJSON_IsString(v) && !strcmp(v->valuestring, "silu")))
        rc = al_errorf("%s: field 'hidden_act': only \"silu\" (SwiGLU) is built", path);
    if (!rc && (v = cJSON_GetObjectItemCaseSensitive(root, "tie_word_embeddings")) && cJSON_IsTrue(v))
        rc = al_errorf("%s: field 'tie_word_embeddings': tied embeddings are not built (DeepSeek models are untied)", path);
    if (!rc && (v = cJSON_GetObjectItemCaseSensitive(root, "attention_bias")) && cJSON_IsTrue(v))
        rc = al_errorf("%s: field 'attention_bias': attention biases are not built", path);
    if (!rc && (v = cJSON_GetObjectItemCaseSensitive(root, "moe_layer_freq")) && cJSON_IsNumber(v) && v->valuedouble != 1)
        rc = al_errorf("%s: field 'moe_layer_freq' = %g: only 1 (every layer past first_k_dense_replace) is built", path,
                       v->valuedouble);
    if (!rc && (v = cJSON_GetObjectItemCaseSensitive(root, "rope_scaling")) && !cJSON_IsNull(v))
        append(info->notes, sizeof info->notes, "rope_scaling (YaRN) is not modeled: it changes no counts");
    if (!rc && moe && (v = cJSON_GetObjectItemCaseSensitive(root, "aux_loss_alpha")) && cJSON_IsNumber(v) && v->valuedouble > 0) {
        config_set_string(c, config_field("balance"), "aux");
        c->aux_alpha = v->valuedouble;
    }
    if (!rc && mla && c->head_dim == 0 && c->qk_nope_head_dim > 0) c->head_dim = c->qk_nope_head_dim;
    cJSON_Delete(root);
    return rc;
}
