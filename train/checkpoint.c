#include "train/checkpoint.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/safetensors.h"

/* Paths here are a checkpoint directory (at most 1023 characters, see TrainOptions) plus a short file name;
 * the buffers are sized for that, which GCC cannot see through snprintf. */
#pragma GCC diagnostic ignored "-Wformat-truncation"

char *config_to_json(const ModelConfig *c) {
    cJSON *o = cJSON_CreateObject();
    for (int i = 0; i < model_config_n_fields; i++) {
        const ConfigField *f = &model_config_fields[i];
        const char *p = (const char *)c + f->offset;
        if (config_field_is_string(f)) cJSON_AddStringToObject(o, f->name, p);
        else if (f->type == FIELD_NUMBER) cJSON_AddNumberToObject(o, f->name, *(const double *)p);
        else if (f->type == FIELD_BOOL) cJSON_AddBoolToObject(o, f->name, *(const int *)p);
        else cJSON_AddNumberToObject(o, f->name, *(const int *)p);
    }
    char *s = cJSON_Print(o);
    cJSON_Delete(o);
    return s;
}

/* Host and device buffers meet a chunk at a time (src/dst may be device memory: read and written only through
 * the backend's copies), converting between real and the file's float32. */
enum { XFER_CHUNK = 16384 };
static void device_to_f32(float *dst, const real *src, size_t n) {
    real tmp[XFER_CHUNK];
    for (size_t i = 0; i < n; i += XFER_CHUNK) {
        size_t k = n - i < XFER_CHUNK ? n - i : XFER_CHUNK;
        K->to_host(tmp, src + i, k);
        for (size_t j = 0; j < k; j++) dst[i + j] = (float)tmp[j];
    }
}

/* the parameters as safetensors entries (float32 on disk whatever the build's precision) */
float *params_f32(const Model *m, const real *src, StWriteTensor *t, const char *prefix, char **names) {
    float *buf = malloc(sizeof(float) * (m->ps.total ? m->ps.total : 1));
    AL_ASSERT(buf);
    device_to_f32(buf, src, m->ps.total);
    for (int i = 0; i < m->ps.n; i++) {
        const ParamInfo *p = &m->ps.info[i];
        size_t len = strlen(prefix) + strlen(p->name) + 1;
        names[i] = malloc(len);
        snprintf(names[i], len, "%s%s", prefix, p->name);
        t[i].name = names[i];
        t[i].dtype = "F32";
        t[i].ndim = p->ndim;
        for (int d = 0; d < p->ndim; d++) t[i].shape[d] = p->shape[d];
        t[i].bytes = buf + p->offset;
    }
    return buf;
}

int weights_save(const char *path, const Model *m) {
    int n = m->ps.n;
    StWriteTensor *t = calloc(n ? n : 1, sizeof *t);
    char **names = calloc(n ? n : 1, sizeof *names);
    float *buf = params_f32(m, m->ps.data, t, "", names);
    char *cfg = config_to_json(&m->cfg);
    const char *mk[2] = {"format", "archlab.config"}, *mv[2] = {"pt", cfg};
    int rc = make_parent_dirs(path) ? -1 : st_write(path, t, n, mk, mv, 2);
    for (int i = 0; i < n; i++) free(names[i]);
    free(names); free(t); free(buf); free(cfg);
    return rc;
}

/* The config fields that change what a model computes must agree between a checkpoint and the model it is
 * loaded into (shapes alone would let a different rope_theta, norm_eps or routing rule load silently). These
 * may differ: the preset's name, the initialization (seed, init_std, gate_init), the context length (RoPE is
 * per position), the balancing, which shapes training and not the function, the placement of the experts on ranks
 * (a run saved on 4 ranks resumes on 1 or 2) and the multi-token prediction loss weight. */
static const char *const may_differ[] = {"preset", "seed", "init_std", "gate_init", "seq_len", "balance", "aux_alpha",
                                         "device_alpha", "seq_alpha", "bias_gamma", "expert_parallel", "mtp_lambda"};

static int check_config(const char *path, const char *json, const ModelConfig *c) {
    cJSON *j = cJSON_Parse(json);
    if (!j || !cJSON_IsObject(j)) { cJSON_Delete(j); return al_errorf("%s: metadata 'archlab.config' is not a JSON object", path); }
    char diff[1024] = "";
    int n = 0;
    for (int i = 0; i < model_config_n_fields; i++) {
        const ConfigField *f = &model_config_fields[i];
        int skip = 0;
        for (size_t k = 0; k < sizeof may_differ / sizeof *may_differ; k++) skip |= !strcmp(f->name, may_differ[k]);
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, f->name);
        if (skip || !v) continue; /* a field an older archlab did not write: nothing to compare */
        const char *p = (const char *)c + f->offset;
        char mine[64], theirs[64];
        if (config_field_is_string(f)) {
            snprintf(mine, sizeof mine, "\"%s\"", p);
            snprintf(theirs, sizeof theirs, cJSON_IsString(v) ? "\"%s\"" : "%s", cJSON_IsString(v) ? v->valuestring : "?");
        } else {
            double a = f->type == FIELD_NUMBER ? *(const double *)p : *(const int *)p;
            double b = cJSON_IsBool(v) ? cJSON_IsTrue(v) : cJSON_IsNumber(v) ? v->valuedouble : NAN;
            snprintf(mine, sizeof mine, "%g", a);
            snprintf(theirs, sizeof theirs, "%g", b);
            if (a == b) continue;
        }
        if (!strcmp(mine, theirs)) continue;
        if (n++ < 6)
            snprintf(diff + strlen(diff), sizeof diff - strlen(diff), "%s%s (checkpoint %s, model %s)", *diff ? ", " : "",
                     f->name, theirs, mine);
    }
    cJSON_Delete(j);
    if (n) return al_errorf("%s was written by a model whose config differs in %d field%s: %s%s", path, n, n > 1 ? "s" : "",
                            diff, n > 6 ? ", ..." : "");
    return 0;
}

/* Every parameter as tensor prefix + name: F32, the model's shape, finite values (and >= 0 when nonneg: AdamW's
 * second moments), and no other tensor with the prefix. Checked in full before anything is copied, so a
 * failed load leaves the model as it was. */
static int check_params(const StFile *f, const char *path, const Model *m, const char *prefix, int nonneg) {
    int expected = 0;
    for (int i = 0; i < m->ps.n; i++) {
        const ParamInfo *p = &m->ps.info[i];
        char name[256];
        snprintf(name, sizeof name, "%s%s", prefix, p->name);
        const StTensor *t = st_find(f, name);
        if (!t) return al_errorf("%s: no tensor '%s' (is this checkpoint from a different model config?)", path, name);
        if (strcmp(t->dtype, "F32")) return al_errorf("%s: tensor '%s' is %s, expected F32", path, name, t->dtype);
        int same = t->ndim == p->ndim;
        for (int d = 0; same && d < p->ndim; d++) same = t->shape[d] == p->shape[d];
        if (!same) {
            char a[96] = "", b[96] = "";
            for (int d = 0; d < t->ndim; d++) snprintf(a + strlen(a), sizeof a - strlen(a), "%s%lld", d ? ", " : "", (long long)t->shape[d]);
            for (int d = 0; d < p->ndim; d++) snprintf(b + strlen(b), sizeof b - strlen(b), "%s%lld", d ? ", " : "", (long long)p->shape[d]);
            return al_errorf("%s: tensor '%s' has shape [%s], the model's is [%s]", path, name, a, b);
        }
        const float *src = (const float *)(f->data + t->begin);
        for (size_t j = 0; j < p->numel; j++) {
            float v;
            memcpy(&v, src + j, sizeof v); /* the data section need not be aligned */
            if (!isfinite(v) || (nonneg && v < 0))
                return al_errorf("%s: tensor '%s' holds %g at element %zu (%s)", path, name, v, j,
                                 isfinite(v) ? "a second moment must be >= 0" : "not a finite number");
        }
        expected++;
    }
    int present = 0;
    for (int i = 0; i < f->n; i++) present += !strncmp(f->t[i].name, prefix, strlen(prefix));
    if (present != expected)
        return al_errorf("%s: %d tensors with prefix '%s', the model has %d parameters", path, present, prefix, expected);
    return 0;
}

static void copy_params(const StFile *f, const Model *m, real *dst, const char *prefix) {
    for (int i = 0; i < m->ps.n; i++) {
        const ParamInfo *p = &m->ps.info[i];
        char name[256];
        snprintf(name, sizeof name, "%s%s", prefix, p->name);
        const float *src = (const float *)(f->data + st_find(f, name)->begin);
        real tmp[XFER_CHUNK];
        for (size_t j0 = 0; j0 < p->numel; j0 += XFER_CHUNK) {
            size_t k = p->numel - j0 < XFER_CHUNK ? p->numel - j0 : XFER_CHUNK;
            for (size_t j = 0; j < k; j++) {
                float v;
                memcpy(&v, src + j0 + j, sizeof v);
                tmp[j] = (real)v;
            }
            K->to_device(dst + p->offset + j0, tmp, k);
        }
    }
}

/* A weights file checked against the model: its config (when it carries one) and every tensor. */
static int check_weights(const StFile *f, const char *path, const Model *m) {
    const char *cfg = st_meta(f, "archlab.config");
    if (cfg && check_config(path, cfg, &m->cfg)) return -1;
    return check_params(f, path, m, "", 0);
}

int weights_load(const char *path, Model *m) {
    StFile f;
    if (st_read(&f, path)) return -1;
    int rc = check_weights(&f, path, m);
    if (!rc) copy_params(&f, m, m->ps.data, "");
    st_free(&f);
    return rc;
}

static int write_text(const char *path, const char *text) {
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *fp = fopen(tmp, "w");
    if (!fp) return al_errorf("cannot write '%s': %s", tmp, strerror(errno));
    int rc = fputs(text, fp) < 0 || fflush(fp) || fsync(fileno(fp));
    if (fclose(fp) || rc) { unlink(tmp); return al_errorf("error writing '%s'", tmp); }
    if (rename(tmp, path)) return al_errorf("cannot rename '%s': %s", tmp, strerror(errno));
    return 0;
}

static void remove_dir(const char *dir) {
    const char *files[] = {"model.safetensors", "train_state.safetensors", "config.json", "model.safetensors.tmp",
                           "train_state.safetensors.tmp", "config.json.tmp"};
    char p[4200];
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        unlink(p);
    }
    rmdir(dir);
}

/* DIR.tmp (complete) becomes DIR: DIR moves aside to DIR.old, DIR.tmp is renamed to DIR, DIR.old is removed.
 * A crash at any point leaves at least one complete copy among DIR, DIR.tmp and DIR.old, and the loader
 * considers all three. */
static int swap_in(const char *dir) {
    char tmp[4300], old[4300];
    snprintf(tmp, sizeof tmp, "%s.tmp", dir);
    snprintf(old, sizeof old, "%s.old", dir);
    remove_dir(old);
    struct stat st;
    if (stat(dir, &st) == 0 && rename(dir, old)) return al_errorf("cannot move '%s' aside: %s", dir, strerror(errno));
    if (rename(tmp, dir)) return al_errorf("cannot rename '%s' to '%s': %s", tmp, dir, strerror(errno));
    remove_dir(old);
    return 0;
}

int checkpoint_save(const char *dir, const Model *m, const TrainState *s) {
    char tmp[4300], old[4300], path[4400];
    snprintf(tmp, sizeof tmp, "%s.tmp", dir);
    snprintf(old, sizeof old, "%s.old", dir);
    snprintf(path, sizeof path, "%s/x", dir);
    if (make_parent_dirs(path)) return -1;
    remove_dir(tmp);
    if (mkdir(tmp, 0777)) return al_errorf("cannot create checkpoint directory '%s': %s", tmp, strerror(errno));
    snprintf(path, sizeof path, "%s/model.safetensors", tmp);
    if (weights_save(path, m)) return -1;
    char *cfg = config_to_json(&m->cfg);
    snprintf(path, sizeof path, "%s/config.json", tmp);
    int rc = write_text(path, cfg);
    free(cfg);
    if (rc) return -1;
    if (s) {
        int n = m->ps.n;
        StWriteTensor *t = calloc(2 * n + 1, sizeof *t);
        char **names = calloc(2 * n + 1, sizeof *names);
        float *mbuf = NULL, *vbuf = NULL;
        if (m->ps.adam_m) {
            mbuf = params_f32(m, m->ps.adam_m, t, "optimizer.exp_avg.", names);
            vbuf = params_f32(m, m->ps.adam_v, t + n, "optimizer.exp_avg_sq.", names + n);
        }
        int nt = m->ps.adam_m ? 2 * n : 0;
        t[nt].name = "rng.state";
        t[nt].dtype = "U8";
        t[nt].ndim = 1;
        t[nt].shape[0] = (int64_t)rng_state_size(s->rng);
        t[nt].bytes = rng_state(s->rng);
        nt++;
        char step[32], ostep[32];
        snprintf(step, sizeof step, "%d", s->step);
        snprintf(ostep, sizeof ostep, "%d", s->opt.step);
        const char *mk[2] = {"step", "optimizer.step"}, *mv[2] = {step, ostep};
        snprintf(path, sizeof path, "%s/train_state.safetensors", tmp);
        rc = st_write(path, t, nt, mk, mv, 2);
        for (int i = 0; i < 2 * n; i++) free(names[i]);
        free(names); free(t); free(mbuf); free(vbuf);
        if (rc) return -1;
    }
    return swap_in(dir);
}

/* One copy of a checkpoint (DIR, DIR.tmp or DIR.old), read and checked whole. */
typedef struct Copy {
    char dir[4300];
    StFile model, state;
    int has_state, step, opt_step;
} Copy;

/* A counter from the metadata: decimal digits only, 0 .. INT_MAX. */
static int parse_count(const char *path, const char *key, const char *text, int *out) {
    if (!text) return al_errorf("%s: metadata '%s' is missing", path, key);
    long long v = 0;
    const char *p = text;
    for (; *p >= '0' && *p <= '9' && v <= INT_MAX; p++) v = v * 10 + (*p - '0');
    if (p == text || *p || v > INT_MAX)
        return al_errorf("%s: metadata '%s' = \"%s\" is not a count in [0, %d]", path, key, text, INT_MAX);
    *out = (int)v;
    return 0;
}

static void copy_free(Copy *c) {
    st_free(&c->model);
    if (c->has_state) st_free(&c->state);
}

/* Reads and checks one copy: the weights against the model; with a state (rng given), the counters, the RNG
 * state and the AdamW moments. Nothing of the model changes. */
static int read_copy(const char *dir, const Model *m, const Rng *rng, Copy *c) {
    memset(c, 0, sizeof *c);
    snprintf(c->dir, sizeof c->dir, "%s", dir);
    char path[4400];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    if (st_read(&c->model, path)) return -1;
    if (check_weights(&c->model, path, m)) { st_free(&c->model); return -1; }
    if (!rng) return 0;
    snprintf(path, sizeof path, "%s/train_state.safetensors", dir);
    if (st_read(&c->state, path)) { st_free(&c->model); return -1; }
    c->has_state = 1;
    const StTensor *r = st_find(&c->state, "rng.state");
    int rc = parse_count(path, "step", st_meta(&c->state, "step"), &c->step) ||
             parse_count(path, "optimizer.step", st_meta(&c->state, "optimizer.step"), &c->opt_step);
    if (!rc && !r) rc = al_errorf("%s: no tensor 'rng.state'", path);
    if (!rc && (strcmp(r->dtype, "U8") || rng_state_check(rng, c->state.data + r->begin, r->end - r->begin))) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", strcmp(r->dtype, "U8") ? "rng.state must be U8" : al_error_message());
        rc = al_errorf("%s: %s", path, msg);
    }
    int moments = st_find(&c->state, "optimizer.exp_avg.model.embed_tokens.weight") != NULL;
    if (!rc && c->opt_step > 0 && !moments)
        rc = al_errorf("%s: optimizer.step = %d but no AdamW moments", path, c->opt_step);
    if (!rc && moments)
        rc = check_params(&c->state, path, m, "optimizer.exp_avg.", 0) ||
             check_params(&c->state, path, m, "optimizer.exp_avg_sq.", 1);
    if (rc) copy_free(c);
    return rc ? -1 : 0;
}

/* Is there any copy of a checkpoint (a directory holding one of its files)? */
static int copy_present(const char *dir) {
    const char *files[] = {"model.safetensors", "train_state.safetensors", "config.json", "model.safetensors.tmp"};
    char p[4400];
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        if (access(p, F_OK) == 0) return 1;
    }
    return 0;
}

int checkpoint_exists(const char *dir) {
    char p[4300];
    const char *suffix[3] = {"", ".tmp", ".old"};
    for (int k = 0; k < 3; k++) {
        snprintf(p, sizeof p, "%s%s", dir, suffix[k]);
        if (copy_present(p)) return 1;
    }
    return 0;
}

/* Of the complete copies, the one furthest along (DIR first among equals); a copy other than DIR is then made
 * DIR again (finishing the save a crash interrupted), so the next save starts from a clean state. */
int checkpoint_load(const char *dir, Model *m, TrainState *s) {
    const char *suffix[3] = {"", ".tmp", ".old"};
    Copy best = {0}, c;
    int found = 0, which = -1;
    char why[2048] = "";
    for (int k = 0; k < 3; k++) {
        char p[4300];
        snprintf(p, sizeof p, "%s%s", dir, suffix[k]);
        if (!copy_present(p)) continue;
        if (read_copy(p, m, s ? s->rng : NULL, &c)) {
            snprintf(why + strlen(why), sizeof why - strlen(why), "%s%s", *why ? "; " : "", al_error_message());
            continue;
        }
        if (found && (!s || c.step <= best.step)) { copy_free(&c); continue; }
        if (found) copy_free(&best);
        best = c;
        found = 1;
        which = k;
    }
    if (!found)
        return *why ? al_errorf("no loadable checkpoint in '%s': %s", dir, why)
                    : al_errorf("no checkpoint in '%s' (no model.safetensors)", dir);
    copy_params(&best.model, m, m->ps.data, "");
    int rc = 0;
    if (s) {
        s->step = best.step;
        s->opt.step = best.opt_step;
        const StTensor *r = st_find(&best.state, "rng.state");
        memcpy(rng_state(s->rng), best.state.data + r->begin, r->end - r->begin);
        if (st_find(&best.state, "optimizer.exp_avg.model.embed_tokens.weight")) {
            rc = ps_allocate_adam(&m->ps);
            if (!rc) {
                copy_params(&best.state, m, m->ps.adam_m, "optimizer.exp_avg.");
                copy_params(&best.state, m, m->ps.adam_v, "optimizer.exp_avg_sq.");
            }
        }
    }
    copy_free(&best);
    if (!rc && which == 1) rc = swap_in(dir);
    if (!rc && which == 2 && access(dir, F_OK) != 0) {
        char old[4300];
        snprintf(old, sizeof old, "%s.old", dir);
        if (rename(old, dir)) rc = al_errorf("cannot rename '%s' to '%s': %s", old, dir, strerror(errno));
    }
    return rc;
}
