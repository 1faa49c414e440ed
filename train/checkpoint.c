#include "train/checkpoint.h"

#include <cjson/cJSON.h>
#include <errno.h>
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

/* the parameters as safetensors entries (float32 on disk whatever the build's precision) */
float *params_f32(const Model *m, const real *src, StWriteTensor *t, const char *prefix, char **names) {
    float *buf = malloc(sizeof(float) * (m->ps.total ? m->ps.total : 1));
    AL_ASSERT(buf);
    for (size_t i = 0; i < m->ps.total; i++) buf[i] = (float)src[i];
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

/* Copies tensors prefix+name into dst for every parameter; names and shapes must match. */
static int load_params(const StFile *f, const char *path, const Model *m, real *dst, const char *prefix) {
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
        if (!same) return al_errorf("%s: tensor '%s' has a different shape than the model's", path, name);
        const float *src = (const float *)(f->data + t->begin);
        for (size_t j = 0; j < p->numel; j++) {
            float v;
            memcpy(&v, src + j, sizeof v); /* the data section need not be aligned */
            dst[p->offset + j] = (real)v;
        }
        expected++;
    }
    int present = 0;
    for (int i = 0; i < f->n; i++) present += !strncmp(f->t[i].name, prefix, strlen(prefix));
    if (present != expected)
        return al_errorf("%s: %d tensors with prefix '%s', the model has %d parameters", path, present, prefix, expected);
    return 0;
}

int weights_load(const char *path, Model *m) {
    StFile f;
    if (st_read(&f, path)) return -1;
    int rc = load_params(&f, path, m, m->ps.data, "");
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
    /* swap in: a crash between the renames leaves DIR.old, which the loader falls back to */
    remove_dir(old);
    struct stat st;
    if (stat(dir, &st) == 0 && rename(dir, old)) return al_errorf("cannot move '%s' aside: %s", dir, strerror(errno));
    if (rename(tmp, dir)) return al_errorf("cannot rename '%s' to '%s': %s", tmp, dir, strerror(errno));
    remove_dir(old);
    return 0;
}

static const char *pick_dir(const char *dir, char *buf, size_t n) {
    snprintf(buf, n, "%s/model.safetensors", dir);
    if (access(buf, R_OK) == 0) return dir;
    snprintf(buf, n, "%s.old/model.safetensors", dir);
    if (access(buf, R_OK) == 0) { snprintf(buf, n, "%s.old", dir); return buf; }
    return NULL;
}

int checkpoint_exists(const char *dir) {
    char buf[4200];
    return pick_dir(dir, buf, sizeof buf) != NULL;
}

int checkpoint_load(const char *dir_in, Model *m, TrainState *s) {
    char buf[4200], path[4300];
    const char *dir = pick_dir(dir_in, buf, sizeof buf);
    if (!dir) return al_errorf("no checkpoint in '%s' (no model.safetensors)", dir_in);
    char d[4200];
    snprintf(d, sizeof d, "%s", dir);
    snprintf(path, sizeof path, "%s/model.safetensors", d);
    if (weights_load(path, m)) return -1;
    if (!s) return 0;
    snprintf(path, sizeof path, "%s/train_state.safetensors", d);
    StFile f;
    if (st_read(&f, path)) return -1;
    int rc = 0;
    const char *step = st_meta(&f, "step"), *ostep = st_meta(&f, "optimizer.step");
    const StTensor *r = st_find(&f, "rng.state");
    if (!step || !ostep || !r) rc = al_errorf("%s: missing step, optimizer.step or rng.state", path);
    else if (r->end - r->begin != rng_state_size(s->rng)) rc = al_errorf("%s: rng.state has the wrong size", path);
    if (!rc) {
        s->step = atoi(step);
        s->opt.step = atoi(ostep);
        memcpy(rng_state(s->rng), f.data + r->begin, r->end - r->begin);
        if (st_find(&f, "optimizer.exp_avg.model.embed_tokens.weight") || s->opt.step > 0) {
            if (ps_allocate_adam(&m->ps)) rc = -1;
            if (!rc) rc = load_params(&f, path, m, m->ps.adam_m, "optimizer.exp_avg.");
            if (!rc) rc = load_params(&f, path, m, m->ps.adam_v, "optimizer.exp_avg_sq.");
        }
    }
    st_free(&f);
    return rc;
}
