/* Checkpoints and safetensors: round trip, a file assembled by hand from the format spec, corrupted files,
 * bit-identical resume, and crash safety under SIGKILL. */
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/safetensors.h"
#include "data/data.h"
#include "tests/harness.h"
#include "train/checkpoint.h"
#include "train/trainer.h"

static void write_bytes(const char *path, const void *b, size_t n) {
    FILE *f = fopen(path, "wb");
    fwrite(b, 1, n, f);
    fclose(f);
}

/* An 8-byte little-endian length, the JSON text, then the data: assembled here from the spec, not by
 * st_write. Two tensors: "a" F32 [2] = (1.5, -2), "b" I32 [1] = 7, with a 6-space padded header. */
static size_t hand_file(uint8_t *buf, const char *header, const void *data, size_t dlen) {
    size_t hl = strlen(header);
    for (int i = 0; i < 8; i++) buf[i] = (uint8_t)(hl >> (8 * i));
    memcpy(buf + 8, header, hl);
    memcpy(buf + 8 + hl, data, dlen);
    return 8 + hl + dlen;
}

TEST(safetensors_reads_hand_assembled_file) {
    const char *header = "{\"__metadata__\":{\"format\":\"pt\"},\"b\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[8,12]},"
                         "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}      ";
    uint8_t data[12], buf[512];
    float a[2] = {1.5f, -2.0f};
    int32_t b = 7;
    memcpy(data, a, 8);
    memcpy(data + 8, &b, 4);
    size_t n = hand_file(buf, header, data, 12);
    write_bytes("/tmp/archlab_hand.safetensors", buf, n);
    StFile f;
    EXPECT(st_read(&f, "/tmp/archlab_hand.safetensors") == 0);
    const StTensor *ta = st_find(&f, "a"), *tb = st_find(&f, "b");
    EXPECT(ta && tb && f.n == 2);
    if (ta && tb) {
        float got[2];
        memcpy(got, f.data + ta->begin, 8);
        EXPECT(got[0] == 1.5f && got[1] == -2.0f);
        EXPECT(ta->ndim == 1 && ta->shape[0] == 2 && !strcmp(tb->dtype, "I32"));
        int32_t gb;
        memcpy(&gb, f.data + tb->begin, 4);
        EXPECT(gb == 7);
    }
    EXPECT(st_meta(&f, "format") && !strcmp(st_meta(&f, "format"), "pt"));
    st_free(&f);
}

TEST(safetensors_round_trip) {
    float w[6] = {1, 2, 3, 4, 5, 6};
    uint8_t u[3] = {9, 8, 7};
    StWriteTensor t[2] = {{"w", "F32", 2, {2, 3}, w}, {"u", "U8", 1, {3}, u}};
    const char *mk[1] = {"note"}, *mv[1] = {"hello \"world\""};
    EXPECT(st_write("/tmp/archlab_rt.safetensors", t, 2, mk, mv, 1) == 0);
    StFile f;
    EXPECT(st_read(&f, "/tmp/archlab_rt.safetensors") == 0);
    const StTensor *tw = st_find(&f, "w");
    EXPECT(tw && tw->shape[0] == 2 && tw->shape[1] == 3 && memcmp(f.data + tw->begin, w, 24) == 0);
    EXPECT((8 + (f.data - f.buf - 8)) % 8 == 0); /* data section 8-byte aligned */
    EXPECT(!strcmp(st_meta(&f, "note"), "hello \"world\""));
    st_free(&f);
}

static void expect_corrupt(const uint8_t *bytes, size_t n, const char *what) {
    uint8_t *copy = malloc(n ? n : 1);
    memcpy(copy, bytes, n);
    StFile f;
    int rc = st_parse(&f, copy, n, "test.safetensors");
    th_note("%-28s -> %s", what, rc ? al_error_message() : "(accepted!)");
    EXPECT(rc == -1);
    EXPECT(strstr(al_error_message(), "test.safetensors") != NULL);
}

TEST(safetensors_rejects_corrupt_files) {
    uint8_t buf[512], data[8] = {0};
    size_t n;
    expect_corrupt((const uint8_t *)"abc", 3, "shorter than 8 bytes");
    n = hand_file(buf, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", data, 8);
    buf[0] = 0xff; buf[1] = 0xff; /* header length past the end */
    expect_corrupt(buf, n, "bad header length");
    n = hand_file(buf, "[1, 2, 3]", data, 8);
    expect_corrupt(buf, n, "header not an object");
    n = hand_file(buf, "{\"a\": {\"dtype\": \"F32\", ", data, 8);
    expect_corrupt(buf, n, "header not JSON");
    n = hand_file(buf, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,16]}}", data, 8);
    expect_corrupt(buf, n, "offsets out of range");
    n = hand_file(buf, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", data, 8);
    expect_corrupt(buf, n - 3, "truncated data");
    n = hand_file(buf, "{\"a\":{\"dtype\":\"F31\",\"shape\":[2],\"data_offsets\":[0,8]}}", data, 8);
    expect_corrupt(buf, n, "unknown dtype");
    n = hand_file(buf, "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", data, 8);
    expect_corrupt(buf, n, "size != dtype x shape");
    n = hand_file(buf, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[2,6]}}", data, 8);
    expect_corrupt(buf, n, "overlapping");
    n = hand_file(buf, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", data, 8);
    expect_corrupt(buf, n, "data not covered");
    n = hand_file(buf, "{\"a\":{\"dtype\":\"U8\",\"shape\":[4294967296,4294967296,4294967296],\"data_offsets\":[0,8]}}", data, 8);
    expect_corrupt(buf, n, "shape overflows");
    n = hand_file(buf, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}xy", data, 8);
    expect_corrupt(buf, n, "garbage after the JSON");
    /* found by the fuzzer: a repeated __metadata__ object overflowed the metadata arrays */
    n = hand_file(buf, "{\"__metadata__\":{\"a\":\"b\"},\"__metadata__\":{\"c\":\"d\",\"e\":\"f\"},\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", data, 8);
    expect_corrupt(buf, n, "repeated __metadata__");
    n = hand_file(buf, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", data, 8);
    expect_corrupt(buf, n, "repeated tensor name");
}

static ModelConfig tiny(void) {
    ModelConfig c;
    config_defaults(&c);
    c.d_model = 32; c.n_layers = 2; c.n_heads = 4; c.d_ff = 64; c.seq_len = 16;
    return c;
}

static TrainOptions opts(int steps) {
    TrainOptions o;
    train_defaults(&o);
    o.steps = steps; o.batch_size = 4; o.lr = 3e-3; o.quiet = 1; o.log_every = 1; o.eval_batches = 1;
    return o;
}

TEST(resume_is_bit_identical) {
    system("rm -rf /tmp/archlab_resume /tmp/archlab_resume.old /tmp/archlab_resume.tmp");
    DataSource d;
    data_copy_init(&d, 8);
    ModelConfig c = tiny();
    /* straight: 200 steps */
    Model *a = model_create(&c, 0);
    TrainOptions o = opts(200);
    TrainResult ra;
    EXPECT(train_run(a, &d, &o, &ra) == 0);
    /* 100, checkpoint, then a NEW model resumed for the remaining 100 */
    Model *b = model_create(&c, 0);
    o.stop_at = 100;
    snprintf(o.checkpoint_dir, sizeof o.checkpoint_dir, "/tmp/archlab_resume");
    TrainResult rb;
    EXPECT(train_run(b, &d, &o, &rb) == 0);
    EXPECT(rb.steps_done == 100);
    Model *b2 = model_create(&c, 0);
    o.stop_at = 0;
    snprintf(o.resume_dir, sizeof o.resume_dir, "/tmp/archlab_resume");
    TrainResult rc;
    EXPECT(train_run(b2, &d, &o, &rc) == 0);
    EXPECT(rc.start_step == 100 && rc.steps_done == 200);
    const Series *la = metrics_get(&ra.log, "loss"), *lb = metrics_get(&rb.log, "loss"), *lc = metrics_get(&rc.log, "loss");
    EXPECT(la && lb && lc && la->n == 200 && lb->n == 100 && lc->n == 100);
    if (la && lb && lc) {
        EXPECT(memcmp(la->value, lb->value, 100 * sizeof(double)) == 0);
        EXPECT(memcmp(la->value + 100, lc->value, 100 * sizeof(double)) == 0);
    }
    EXPECT(memcmp(a->ps.data, b2->ps.data, sizeof(real) * a->ps.total) == 0);
    EXPECT(memcmp(a->ps.adam_m, b2->ps.adam_m, sizeof(real) * a->ps.total) == 0);
    train_result_free(&ra); train_result_free(&rb); train_result_free(&rc);
    model_free(a); model_free(b); model_free(b2);
}

/* A child process writes checkpoints in a loop; the parent SIGKILLs it at varying moments. Whatever moment
 * the kill lands on, a complete checkpoint must load (from DIR or, between the renames, DIR.old). */
TEST(checkpoint_survives_sigkill) {
    const char *dir = "/tmp/archlab_kill";
    system("rm -rf /tmp/archlab_kill /tmp/archlab_kill.old /tmp/archlab_kill.tmp");
    ModelConfig c = tiny();
    c.d_model = 128; c.d_ff = 512; /* ~0.5 MB per file: writes take long enough to be interrupted */
    Model *m = model_create(&c, 0);
    Rng rng;
    rng_init(&rng, 1);
    TrainState st = {.step = 1, .rng = &rng};
    EXPECT(checkpoint_save(dir, m, &st) == 0);
    int loads = 0, mid_save = 0;
    for (int trial = 0; trial < 8; trial++) {
        pid_t pid = fork();
        if (pid == 0) {
            for (int k = 2;; k++) { st.step = k; checkpoint_save(dir, m, &st); }
        }
        struct timespec ts = {0, 2000000L + trial * 3100000L};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        mid_save += access("/tmp/archlab_kill.tmp", F_OK) == 0 || access("/tmp/archlab_kill.old", F_OK) == 0;
        Model *r = model_create(&c, 0);
        TrainState back = {.rng = &rng};
        int ok = checkpoint_load(dir, r, &back) == 0;
        if (!ok) th_note("trial %d: %s", trial, al_error_message());
        loads += ok;
        EXPECT(ok && memcmp(r->ps.data, m->ps.data, sizeof(real) * m->ps.total) == 0);
        model_free(r);
    }
    th_note("%d of 8 kills left a loadable checkpoint; %d of them landed during a save", loads, mid_save);
    rng_free(&rng);
    model_free(m);
}

/* A file written by another config is refused before anything changes: the config metadata names the fields
 * that differ (those that change the function, including ones shapes cannot see: rope_theta); without the
 * metadata (a file from elsewhere), the first tensor whose shape differs, both shapes given. */
TEST(weights_load_rejects_other_config) {
    ModelConfig c = tiny();
    Model *a = model_create(&c, 0);
    EXPECT(weights_save("/tmp/archlab_w.safetensors", a) == 0);
    ModelConfig w = c;
    w.d_model = 64;
    Model *b = model_create(&w, 0);
    real before = b->ps.data[0];
    EXPECT(weights_load("/tmp/archlab_w.safetensors", b) == -1);
    EXPECT(strstr(al_error_message(), "differs in 2 fields: d_model (checkpoint 32, model 64), head_dim (checkpoint 8, model 16)") != NULL);
    EXPECT(b->ps.data[0] == before);
    model_free(b);
    ModelConfig r = c;
    r.rope_theta = 5e5; /* same shapes, another function */
    b = model_create(&r, 0);
    EXPECT(weights_load("/tmp/archlab_w.safetensors", b) == -1);
    EXPECT(strstr(al_error_message(), "rope_theta (checkpoint 10000, model 500000)") != NULL);
    model_free(b);
    /* the same tensors without the config metadata, into the wider model */
    StFile f;
    EXPECT(st_read(&f, "/tmp/archlab_w.safetensors") == 0);
    StWriteTensor t[64];
    for (int i = 0; i < f.n && i < 64; i++) {
        t[i] = (StWriteTensor){.name = f.t[i].name, .dtype = f.t[i].dtype, .ndim = f.t[i].ndim, .bytes = f.data + f.t[i].begin};
        for (int d = 0; d < f.t[i].ndim; d++) t[i].shape[d] = f.t[i].shape[d];
    }
    EXPECT(st_write("/tmp/archlab_w2.safetensors", t, f.n, NULL, NULL, 0) == 0);
    st_free(&f);
    b = model_create(&w, 0);
    EXPECT(weights_load("/tmp/archlab_w2.safetensors", b) == -1);
    EXPECT(strstr(al_error_message(), "has shape [256, 32], the model's is [256, 64]") != NULL);
    model_free(b);
    model_free(a);
}

/* ---- every field checked before use; every complete copy considered ---- */

static void sh(const char *cmd) { EXPECT(system(cmd) == 0); }

/* /tmp/archlab_ck2 at step 2 and /tmp/archlab_ck4 at step 4 of the same run */
static void two_checkpoints(void) {
    sh("rm -rf /tmp/archlab_ck*");
    DataSource d;
    data_copy_init(&d, 8);
    ModelConfig c = tiny();
    Model *m = model_create(&c, 0);
    TrainOptions o = opts(4);
    o.stop_at = 2;
    snprintf(o.checkpoint_dir, sizeof o.checkpoint_dir, "/tmp/archlab_ck");
    TrainResult r;
    EXPECT(train_run(m, &d, &o, &r) == 0);
    train_result_free(&r);
    sh("cp -r /tmp/archlab_ck /tmp/archlab_ck2");
    o.stop_at = 0;
    snprintf(o.resume_dir, sizeof o.resume_dir, "/tmp/archlab_ck");
    EXPECT(train_run(m, &d, &o, &r) == 0);
    train_result_free(&r);
    sh("mv /tmp/archlab_ck /tmp/archlab_ck4");
    model_free(m);
}

/* Rewrites dir/train_state.safetensors (or model.safetensors) with one change: a metadata value, or the bytes
 * of element `at` of a tensor. */
static void corrupt(const char *dir, const char *file, const char *meta_key, const char *meta_val, const char *tensor,
                    size_t at, const void *bytes, size_t n) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    StFile f;
    EXPECT(st_read(&f, path) == 0);
    StWriteTensor *t = calloc(f.n, sizeof *t);
    uint8_t *data = malloc(f.data_len);
    memcpy(data, f.data, f.data_len);
    for (int i = 0; i < f.n; i++) {
        t[i] = (StWriteTensor){.name = f.t[i].name, .dtype = f.t[i].dtype, .ndim = f.t[i].ndim, .bytes = data + f.t[i].begin};
        for (int d = 0; d < f.t[i].ndim; d++) t[i].shape[d] = f.t[i].shape[d];
        if (tensor && !strcmp(f.t[i].name, tensor)) memcpy(data + f.t[i].begin + at, bytes, n);
    }
    const char *keys[4], *vals[4];
    for (int i = 0; i < f.n_meta; i++) {
        keys[i] = f.meta_keys[i];
        vals[i] = meta_key && !strcmp(meta_key, f.meta_keys[i]) ? meta_val : f.meta_vals[i];
    }
    EXPECT(st_write(path, t, f.n, keys, vals, f.n_meta) == 0);
    st_free(&f);
    free(t);
    free(data);
}

TEST(checkpoint_fields_checked_before_use) {
    two_checkpoints();
    float nan_ = NAN, neg = -1;
    int mti = 700;
    static unsigned long zero[624];
    struct { const char *file, *key, *val, *tensor; size_t at; const void *bytes; size_t n; const char *want; } cases[] = {
        {"train_state.safetensors", "step", "abc", NULL, 0, NULL, 0, "metadata 'step' = \"abc\" is not a count"},
        {"train_state.safetensors", "step", "-3", NULL, 0, NULL, 0, "metadata 'step' = \"-3\" is not a count"},
        {"train_state.safetensors", "step", "99999999999", NULL, 0, NULL, 0, "is not a count in [0, 2147483647]"},
        {"train_state.safetensors", "optimizer.step", "1.5", NULL, 0, NULL, 0, "metadata 'optimizer.step' = \"1.5\""},
        {"train_state.safetensors", NULL, NULL, "rng.state", 624 * sizeof(unsigned long), &mti, sizeof mti, "index 700 is outside [0, 624]"},
        {"train_state.safetensors", NULL, NULL, "rng.state", 0, zero, 624 * sizeof(unsigned long), "all zero"},
        {"train_state.safetensors", NULL, NULL, "optimizer.exp_avg_sq.model.norm.weight", 4, &neg, 4, "a second moment must be >= 0"},
        {"train_state.safetensors", NULL, NULL, "optimizer.exp_avg.lm_head.weight", 8, &nan_, 4, "not a finite number"},
        {"model.safetensors", NULL, NULL, "model.embed_tokens.weight", 0, &nan_, 4, "'model.embed_tokens.weight' holds nan"},
    };
    ModelConfig c = tiny();
    Model *fresh = model_create(&c, 0);
    real first = fresh->ps.data[0];
    Rng rng;
    rng_init(&rng, 1);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        sh("rm -rf /tmp/archlab_ckx && cp -r /tmp/archlab_ck4 /tmp/archlab_ckx");
        corrupt("/tmp/archlab_ckx", cases[i].file, cases[i].key, cases[i].val, cases[i].tensor, cases[i].at, cases[i].bytes,
                cases[i].n);
        TrainState st = {.rng = &rng};
        int rc = checkpoint_load("/tmp/archlab_ckx", fresh, &st);
        if (rc != -1 || !strstr(al_error_message(), cases[i].want)) th_note("case %zu: %s", i, al_error_message());
        EXPECT(rc == -1 && strstr(al_error_message(), cases[i].want) != NULL);
        EXPECT(fresh->ps.data[0] == first); /* unchanged */
    }
    rng_free(&rng);
    model_free(fresh);
}

/* Two crashes in successive saves: DIR missing, DIR.tmp complete (step 4), DIR.old complete (step 2) or half
 * removed: the loader takes step 4 and puts it back as DIR. Only broken copies: an error, not a fresh start. */
TEST(checkpoint_two_crash_windows) {
    two_checkpoints();
    ModelConfig c = tiny();
    Rng rng;
    rng_init(&rng, 1);
    const char *setups[] = {
        "mv /tmp/archlab_ck2 /tmp/archlab_ck.old && mv /tmp/archlab_ck4 /tmp/archlab_ck.tmp",
        "mv /tmp/archlab_ck2 /tmp/archlab_ck.old && rm /tmp/archlab_ck.old/model.safetensors && mv /tmp/archlab_ck4 /tmp/archlab_ck.tmp",
        "mv /tmp/archlab_ck2 /tmp/archlab_ck && mv /tmp/archlab_ck4 /tmp/archlab_ck.tmp", /* before the first rename */
    };
    for (int k = 0; k < 3; k++) {
        if (k) two_checkpoints();
        sh(setups[k]);
        Model *m = model_create(&c, 0);
        TrainState st = {.rng = &rng};
        EXPECT(checkpoint_exists("/tmp/archlab_ck"));
        int rc = checkpoint_load("/tmp/archlab_ck", m, &st);
        if (rc) th_note("setup %d: %s", k, al_error_message());
        EXPECT(rc == 0 && st.step == 4);
        EXPECT(access("/tmp/archlab_ck/model.safetensors", R_OK) == 0 && access("/tmp/archlab_ck.tmp", F_OK) != 0);
        model_free(m);
    }
    two_checkpoints();
    sh("mv /tmp/archlab_ck2 /tmp/archlab_ck.old && rm /tmp/archlab_ck.old/model.safetensors");
    Model *m = model_create(&c, 0);
    TrainState st = {.rng = &rng};
    EXPECT(checkpoint_exists("/tmp/archlab_ck"));
    EXPECT(checkpoint_load("/tmp/archlab_ck", m, &st) == -1);
    EXPECT(strstr(al_error_message(), "no loadable checkpoint in '/tmp/archlab_ck'") != NULL);
    model_free(m);
    rng_free(&rng);
}
