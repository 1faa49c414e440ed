/* The API's help: archlab.help([topic]) prints it, archlab.help_text([topic]) returns it, and `archlab help
 * [topic]` prints it from the command line. Nothing here is written by hand twice: the functions and their
 * options come from the FnSpec tables that also validate every call (scripts/lua_opts.h), the config fields
 * from model_config_fields (the table config parsing uses), the kinds from their registries (arch/kinds.h,
 * plots/kinds.c) and the plot options from each plot kind's option table (what lua_plot.c reads). So an
 * option that is accepted is an option that is documented.
 *
 * Topics: none (the overview: every function, one entry each), a function's name ("train", "archlab.train",
 * "generate", "model:generate"), "config", "kinds", or a plot kind ("heatmap", "archlab.plot.heatmap"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/config.h"
#include "arch/kinds.h"
#include "plots/plot.h"
#include "scripts/bridge.h"
#include "scripts/lua_help.h"
#include "scripts/lua_opts.h"
#include "scripts/lua_plot.h"

static void config_help(FILE *f) {
    ModelConfig d;
    config_defaults(&d);
    fprintf(f, "  config fields (archlab.model{ preset = NAME, <fields> }, archlab.cost{...}; the default, then the range\n"
               "  or the choices; a preset sets many of them, and a field the chosen kinds do not read is an error):\n");
    for (int i = 0; i < model_config_n_fields; i++) {
        const ConfigField *c = &model_config_fields[i];
        const char *p = (const char *)&d + c->offset;
        char dflt[96], range[160] = "";
        if (c->type == FIELD_BOOL) snprintf(dflt, sizeof dflt, "%s", *(const int *)p ? "true" : "false");
        else if (c->type == FIELD_INT) snprintf(dflt, sizeof dflt, "%d", *(const int *)p);
        else if (c->type == FIELD_NUMBER) snprintf(dflt, sizeof dflt, "%g", *(const double *)p);
        else snprintf(dflt, sizeof dflt, "\"%s\"", p);
        if (c->type == FIELD_INT || c->type == FIELD_NUMBER) {
            char lo[32], hi[32];
            opts_fmt_bound(lo, sizeof lo, c->min);
            opts_fmt_bound(hi, sizeof hi, c->max);
            snprintf(range, sizeof range, " in [%s, %s]", lo, hi);
        }
        else if (config_field_choices(c)) snprintf(range, sizeof range, ": %s", config_field_choices(c));
        fprintf(f, "    %-21s %s (default %s%s)\n", c->name, c->help, dflt, range);
    }
}

static void kinds_help(FILE *f) {
    for (int fam = 0; fam < KIND_FAMILIES; fam++) {
        fprintf(f, "%s kinds (config field '%s'):\n", kind_family_name(fam), kind_family_name(fam));
        for (int i = 0; i < kind_count(fam); i++) {
            const KindInfo *k = kind_at(fam, i);
            fprintf(f, "  %-10s %s%s", k->name, k->help, *k->fields ? "; reads " : "");
            for (const char *p = k->fields; *p; p++) *p == '|' ? (void)fputs(", ", f) : (void)fputc(*p, f);
            fputc('\n', f);
        }
    }
    fprintf(f, "plot kinds (archlab.plot.<kind>{...}, or kind = \"<kind>\" inside archlab.plot.panels):\n");
    for (int i = 0; i < plot_kind_count(); i++) {
        const plot_kind *k = plot_kind_at(i);
        fprintf(f, "  %-10s %s; options", plot_kind_name(k), plot_kind_help(k));
        for (const plot_option *o = plot_kind_options(k); o->name; o++) fprintf(f, "%s %s", o == plot_kind_options(k) ? "" : ",", o->name);
        fputc('\n', f);
    }
}

static const char *plot_type_name(plot_option_type t) {
    switch (t) {
    case PLOT_OPT_STRING: return "string";
    case PLOT_OPT_BOOL: return "boolean";
    case PLOT_OPT_NUMBER: return "number";
    case PLOT_OPT_RANGE: return "{lo, hi}";
    case PLOT_OPT_NUMBERS: return "list of numbers";
    case PLOT_OPT_STRINGS: return "list of strings";
    case PLOT_OPT_MATRIX: return "list of rows of numbers";
    case PLOT_OPT_LIST: return "list of tables";
    case PLOT_OPT_COLORMAP: return "colour map name";
    }
    return "value";
}

static void plot_options_help(FILE *f, const plot_option *opts, int indent) {
    for (const plot_option *o = opts; o->name; o++) {
        fprintf(f, "%*s%-14s %s%s: %s\n", indent, "", o->name, plot_type_name(o->type),
                o->flags & PLOT_OPT_REQUIRED ? ", required" : "", o->help ? o->help : "");
        if (o->type == PLOT_OPT_LIST) {
            if (o->flags & PLOT_OPT_BARE) fprintf(f, "%*s(one item may be given bare) each item:\n", indent + 2, "");
            else fprintf(f, "%*seach item:\n", indent + 2, "");
            plot_options_help(f, o->item, indent + 4);
        }
    }
}

static void plot_kind_help_text(FILE *f, const plot_kind *k) {
    fprintf(f, "archlab.plot.%s{ file =, <options> } -> file\n  %s; the file's extension (.png, .svg, .pdf) picks "
               "the format. Inside archlab.plot.panels{ plots = {...} }: { kind = \"%s\", <options> } without file "
               "and size.\n", plot_kind_name(k), plot_kind_help(k), plot_kind_name(k));
    for (const OptSpec *o = lua_plot_output_opts; o->name; o++)
        fprintf(f, "    %-14s %s%s%s: %s\n", o->name, o->type == OPT_STRING ? "string" : "number",
                o->dflt ? ", default " : ", required", o->dflt ? o->dflt : "", o->help);
    plot_options_help(f, plot_kind_options(k), 4);
}

static void overview(FILE *f) {
    fprintf(f, "archlab %s: the Lua API. `archlab.help(\"NAME\")` (or `archlab help NAME` in a shell) shows one "
               "function's options;\nother topics: \"config\" (the model's fields), \"kinds\" (attention, ffn, "
               "residual and plot kinds), a plot kind (\"lines\").\n\n",
            ARCHLAB_VERSION);
    /* grouped by what they belong to: a function goes with the longest prefix of its name below */
    static const struct { const char *prefix, *title; } groups[] = {
        {"archlab.", "building, training, measuring"}, {"model:", "a model's methods"},
        {"archlab.data.", "data sources"}, {"data:", "a data source's methods"},
        {"task:", "a verifiable task's methods (archlab.data.addition, archlab.data.expression)"},
        {"run", "what archlab.train returns"}, {"archlab.stats.", "statistics"},
        {"archlab.plot.", "figures"}, {"archlab.tensor.", "tensors"}, {"tensor", "a tensor's fields and methods"},
    };
    int ng = (int)(sizeof groups / sizeof *groups);
    for (int g = 0; g < ng; g++) {
        fprintf(f, "%s%s:\n", g ? "\n" : "", groups[g].title);
        for (int i = 0; i < opts_fn_count(); i++) {
            const FnSpec *fn = opts_fn_at(i);
            int best = -1;
            size_t bl = 0;
            for (int h = 0; h < ng; h++) {
                size_t l = strlen(groups[h].prefix);
                if (!strncmp(fn->name, groups[h].prefix, l) && l > bl) { best = h; bl = l; }
            }
            if (best == g) fprintf(f, "  %s\n      %s\n", fn->call, fn->help);
        }
        if (!strcmp(groups[g].prefix, "archlab.plot.")) /* one function per plot kind, from the registry */
            for (int i = 0; i < plot_kind_count(); i++) {
                const plot_kind *k = plot_kind_at(i);
                fprintf(f, "  archlab.plot.%s{ file =, ", plot_kind_name(k));
                for (const plot_option *o = plot_kind_options(k); o->name; o++)
                    if (o->flags & PLOT_OPT_REQUIRED) fprintf(f, "%s =, ", o->name);
                fprintf(f, "... } -> file\n      %s\n", plot_kind_help(k));
            }
    }
    fprintf(f, "\narchlab.version = \"%s\"; archlab.root: the installation directory (scripts/presets, scripts/lib)\n",
            ARCHLAB_VERSION);
}

/* the plot kind a topic names ("heatmap", "plot.heatmap", "archlab.plot.heatmap"), or NULL */
static const plot_kind *plot_topic(const char *t) {
    if (!strncmp(t, "archlab.", 8)) t += 8;
    if (!strncmp(t, "plot.", 5)) t += 5;
    return plot_kind_find(t);
}

int help_write(FILE *f, const char *topic) {
    if (!topic || !*topic) { overview(f); return 0; }
    if (!strcmp(topic, "config")) { config_help(f); return 0; }
    const FnSpec *model = opts_fn_find("archlab.model"), *cost = opts_fn_find("archlab.cost");
    if (!strcmp(topic, "kinds")) { kinds_help(f); return 0; }
    const FnSpec *fn = opts_fn_find(topic);
    if (fn) {
        opts_help(f, fn);
        if (fn == model || fn == cost) config_help(f); /* they take every config field */
        return 0;
    }
    const plot_kind *k = plot_topic(topic);
    if (k) { plot_kind_help_text(f, k); return 0; }
    return -1;
}

void help_topics(const char **names, int *n, int cap) {
    *n = 0;
    static const char *const fixed[] = {"config", "kinds"};
    for (int i = 0; i < 2 && *n < cap; i++) names[(*n)++] = fixed[i];
    for (int i = 0; i < opts_fn_count() && *n < cap; i++) {
        const char *name = opts_fn_at(i)->name, *s = strrchr(name, '.'), *c = strrchr(name, ':');
        names[(*n)++] = c > s ? c + 1 : s ? s + 1 : name; /* the short names users type */
    }
    for (int i = 0; i < plot_kind_count() && *n < cap; i++) names[(*n)++] = plot_kind_name(plot_kind_at(i));
}

/* the help for the topic at stack index 1 (absent: the overview) as a Lua string; an unknown topic is an error
 * suggesting the closest */
static void push_help(lua_State *L, const char *fn_name) {
    const char *topic = luaL_optstring(L, 1, NULL);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) luaL_error(L, "%s: out of memory", fn_name);
    int rc = help_write(f, topic);
    fclose(f);
    if (rc) {
        free(text);
        const char *names[160];
        int n;
        help_topics(names, &n, 160);
        const char *near = closest_word(topic, names, n);
        if (near) luaL_error(L, "%s: no topic '%s' (did you mean '%s'?)", fn_name, topic, near);
        luaL_error(L, "%s: no topic '%s' (archlab.help() lists the functions; \"config\" and \"kinds\" are topics too)",
                   fn_name, topic);
    }
    lua_pushlstring(L, text, len);
    free(text);
}

static int l_help(lua_State *L) {
    push_help(L, "archlab.help");
    fputs(lua_tostring(L, -1), stdout);
    fflush(stdout);
    return 0;
}

static int l_help_text(lua_State *L) {
    push_help(L, "archlab.help_text");
    return 1;
}

/* archlab.options(name) -> the option names the function takes (the Lua side of the library checks keys with
 * them: sweeps pass train options through) */
static int l_options(lua_State *L) {
    const char *name = luaL_checkstring(L, 1);
    const FnSpec *fn = opts_fn_find(name);
    if (!fn) luaL_error(L, "archlab.options: no function '%s'", name);
    lua_newtable(L);
    int n = 0;
    for (const OptSpec *o = fn->opts; o && o->name; o++) {
        lua_pushstring(L, o->name);
        lua_rawseti(L, -2, ++n);
    }
    return 1;
}

static const FnSpec HELP = {"archlab.help", "archlab.help([topic])",
                            "prints the help: the overview, one function's options (\"train\"), \"config\", \"kinds\" "
                            "or a plot kind", NULL};
static const FnSpec HELP_TEXT = {"archlab.help_text", "archlab.help_text([topic]) -> text",
                                 "the same help as a string", NULL};
static const FnSpec OPTIONS = {"archlab.options", "archlab.options(name) -> { option names }",
                               "the options a function takes, from the table that checks them", NULL};

void bridge_open_help(lua_State *L) {
    opts_register(&HELP);
    opts_register(&HELP_TEXT);
    opts_register(&OPTIONS);
    lua_pushcfunction(L, l_help);
    lua_setfield(L, -2, "help");
    lua_pushcfunction(L, l_help_text);
    lua_setfield(L, -2, "help_text");
    lua_pushcfunction(L, l_options);
    lua_setfield(L, -2, "options");
}
