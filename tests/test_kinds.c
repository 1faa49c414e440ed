/* The kind registries (arch/kinds.h, plots/plot.h) tied to what is generated from them: every family's table
 * against the config field that selects it (accepted names, the error for an unknown one), every entry's
 * hooks and declared fields, and every combination of attention x FFN x residual kind building a model whose
 * forward pass is finite. A row added without its hooks, a field list naming a field that does not exist, or
 * a kind the config cannot select fails here. */
#include <math.h>
#include <string.h>

#include "arch/kinds.h"
#include "arch/model.h"
#include "plots/plot.h"
#include "tests/harness.h"

TEST(kinds_tables_agree_with_the_config) {
    for (int f = 0; f < KIND_FAMILIES; f++) {
        const char *family = kind_family_name(f);
        const ConfigField *field = config_field(family);
        EXPECT(field != NULL && field->type == FIELD_KIND);
        EXPECT(kind_count(f) >= 2);
        /* the accepted names are the table's, in its order */
        char names[512] = "";
        for (int i = 0; i < kind_count(f); i++)
            snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? "|" : "", kind_at(f, i)->name);
        EXPECT(!strcmp(names, kind_names(f)) && !strcmp(names, config_field_choices(field)));
        ModelConfig c;
        config_defaults(&c);
        EXPECT(config_set_string(&c, field, "no-such-kind") == -1);
        EXPECT(strstr(al_error_message(), names) != NULL);
        for (int i = 0; i < kind_count(f); i++) {
            const KindInfo *k = kind_at(f, i);
            EXPECT(kind_find(f, k->name) == k);
            EXPECT(config_set_string(&c, field, k->name) == 0);
            EXPECT(k->help && *k->help && k->fields);
            /* every field a kind declares is a config field */
            for (const char *p = k->fields; *p;) {
                const char *e = strchr(p, '|');
                char name[64];
                snprintf(name, sizeof name, "%.*s", e ? (int)(e - p) : (int)strlen(p), p);
                if (!config_field(name)) th_note("%s kind '%s' declares an unknown field '%s'", family, k->name, name);
                EXPECT(config_field(name) != NULL);
                p += strlen(name) + (e ? 1 : 0);
            }
            if (f == KIND_ATTENTION) {
                const AttentionKind *a = (const AttentionKind *)k;
                EXPECT(a->finalize && a->create && a->kv_elems && a->rope_dim);
            } else if (f == KIND_FFN) {
                EXPECT(((const FfnKind *)k)->create != NULL);
            } else {
                const ResidualKind *r = (const ResidualKind *)k;
                EXPECT(r->create && r->default_streams >= 1 && r->max_streams >= r->default_streams);
            }
        }
    }
}

TEST(kinds_plot_table) {
    EXPECT(plot_kind_count() >= 3);
    for (int i = 0; i < plot_kind_count(); i++) {
        const plot_kind *k = plot_kind_at(i);
        EXPECT(plot_kind_find(plot_kind_name(k)) == k && plot_kind_spec_size(k) > 0 && *plot_kind_help(k));
        int required = 0;
        for (const plot_option *o = plot_kind_options(k); o->name; o++) {
            for (const plot_option *p = plot_kind_options(k); p < o; p++) EXPECT(strcmp(p->name, o->name)); /* unique */
            EXPECT(o->help && *o->help);
            int lists = o->type == PLOT_OPT_NUMBERS || o->type == PLOT_OPT_STRINGS || o->type == PLOT_OPT_LIST ||
                        o->type == PLOT_OPT_MATRIX;
            if (lists) EXPECT(o->count >= 0);
            if (o->type == PLOT_OPT_MATRIX) EXPECT(o->count2 >= 0);
            if (o->type == PLOT_OPT_LIST) EXPECT(o->item && o->item_size > 0);
            if (o->type == PLOT_OPT_RANGE) EXPECT(o->given >= 0);
            required += (o->flags & PLOT_OPT_REQUIRED) != 0;
        }
        EXPECT(required >= 1);
    }
}

/* Every attention x FFN x residual kind together: a model builds (real and meta, the same parameter count),
 * a forward pass is finite, and its FLOPs per token are positive. */
TEST(kinds_every_combination_builds) {
    int combos = 0;
    for (int a = 0; a < kind_count(KIND_ATTENTION); a++)
        for (int f = 0; f < kind_count(KIND_FFN); f++)
            for (int r = 0; r < kind_count(KIND_RESIDUAL); r++) {
                ModelConfig c;
                config_defaults(&c);
                c.vocab_size = 32; c.d_model = 32; c.n_layers = 2; c.n_heads = 4; c.d_ff = 48; c.seq_len = 16;
                c.kv_lora_rank = 16; c.n_routed_experts = 4; c.num_experts_per_tok = 2;
                EXPECT(config_set_string(&c, config_field("attention"), kind_at(KIND_ATTENTION, a)->name) == 0);
                EXPECT(config_set_string(&c, config_field("ffn"), kind_at(KIND_FFN, f)->name) == 0);
                EXPECT(config_set_string(&c, config_field("residual"), kind_at(KIND_RESIDUAL, r)->name) == 0);
                if (!strcmp(c.attention, "gqa")) c.n_kv_heads = 2;
                Model *m = model_create(&c, 0), *meta = model_create(&c, 1);
                EXPECT(m && meta);
                if (!m || !meta) { th_note("%s/%s/%s: %s", c.attention, c.ffn, c.residual, al_error_message()); continue; }
                int tok[32], tg[32];
                for (int i = 0; i < 32; i++) { tok[i] = (i * 5) % 32; tg[i] = (i * 5 + 1) % 32; }
                EXPECT(model_plan(m, 2, 16) == 0);
                double loss = model_forward(m, tok, tg, 2, 16);
                EXPECT(isfinite(loss) && meta->ps.total == m->ps.total && model_flops_per_token(m, 16) > 0);
                model_free(m);
                model_free(meta);
                combos++;
            }
    EXPECT(combos == kind_count(KIND_ATTENTION) * kind_count(KIND_FFN) * kind_count(KIND_RESIDUAL));
}
