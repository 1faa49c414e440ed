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

TEST(weights_load_rejects_other_config) {
    ModelConfig c = tiny();
    Model *a = model_create(&c, 0);
    EXPECT(weights_save("/tmp/archlab_w.safetensors", a) == 0);
    c.d_model = 64;
    Model *b = model_create(&c, 0);
    EXPECT(weights_load("/tmp/archlab_w.safetensors", b) == -1);
    EXPECT(strstr(al_error_message(), "shape") != NULL);
    model_free(a);
    model_free(b);
}
