/* Data sources: split sizes, entropy on a text whose answer is known, samplers' structure. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "data/data.h"
#include "tests/harness.h"

static void write_file(const char *path, const char *pattern, size_t n) {
    FILE *f = fopen(path, "wb");
    size_t lp = strlen(pattern);
    for (size_t i = 0; i < n; i++) fputc(pattern[i % lp], f);
    fclose(f);
}

TEST(unigram_entropy_known_text) {
    /* "aabb" repeated: two symbols, each p = 1/2 -> entropy ln 2, whatever blocks land in validation */
    char path[] = "/tmp/archlab_test_XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    write_file(path, "aabb", 200000);
    DataSource d;
    const char *paths[1] = {path};
    EXPECT(data_text_load(&d, paths, 1, 0.1) == 0);
    EXPECT_NEAR(data_unigram_entropy(&d), log(2.0), 1e-9);
    /* 8 KiB blocks, every 10th to validation */
    size_t blocks = (200000 + 8191) / 8192, val_blocks = blocks / 10;
    EXPECT(d.split_len[1] == val_blocks * 8192);
    EXPECT(d.split_len[0] + d.split_len[1] == 200000);
    data_free(&d);
    remove(path);
}

TEST(text_batches_are_shifted_windows) {
    char path[] = "/tmp/archlab_test_XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    write_file(path, "abcdefghijklmnopqrstuvwxyz", 100000);
    DataSource d;
    const char *paths[1] = {path};
    EXPECT(data_text_load(&d, paths, 1, 0.1) == 0);
    Rng r;
    rng_init(&r, 1);
    int in[4 * 16], tg[4 * 16];
    EXPECT(data_batch(&d, &r, SPLIT_TRAIN, 0, 4, 16, in, tg) == 0);
    int ok = 1;
    for (int i = 0; i < 64; i++) {
        int next = in[i] == 'z' ? 'a' : in[i] + 1;
        ok &= tg[i] == next;
        if (i % 16) ok &= in[i] == tg[i - 1];
    }
    EXPECT(ok);
    rng_free(&r);
    data_free(&d);
    remove(path);
}

TEST(missing_data_file_error_names_path) {
    DataSource d;
    const char *paths[1] = {"/nonexistent/corpus.txt"};
    EXPECT(data_text_load(&d, paths, 1, 0.1) == -1);
    EXPECT(strstr(al_error_message(), "/nonexistent/corpus.txt") != NULL);
}

TEST(copy_task_structure) {
    DataSource d;
    data_copy_init(&d, 5);
    Rng r;
    rng_init(&r, 2);
    int T = 12, in[12], tg[12];
    EXPECT(data_batch(&d, &r, SPLIT_TRAIN, 0, 1, T, in, tg) == 0);
    int k = (T - 2) / 2; /* 5 symbols, then SEP, then the copy */
    EXPECT(in[0] == 1 && in[1 + k] == 2);
    for (int i = 0; i < k; i++) {
        EXPECT(in[1 + i] >= 3 && in[1 + i] < 8);
        EXPECT(tg[1 + k + i] == in[1 + i]); /* SEP (at 1 + k) predicts x_1, ... */
    }
    EXPECT(tg[0] == -1 && tg[k] == -1 && tg[2 * k + 1] == -1); /* first copy and past the end: no target */
    rng_free(&r);
}

TEST(recall_targets_are_the_paired_values) {
    DataSource d;
    data_recall_init(&d, 10, 4);
    Rng r;
    rng_init(&r, 3);
    int T = 20, in[20], tg[20];
    EXPECT(data_batch(&d, &r, SPLIT_TRAIN, 0, 1, T, in, tg) == 0);
    int n_targets = 0;
    for (int t = 0; t < T; t++) {
        if (tg[t] < 0) continue;
        n_targets++;
        /* the query token in[t] appeared as a key earlier, followed by exactly the target value */
        int found = 0;
        for (int j = 1; j < 1 + 2 * 4; j += 2)
            if (in[j] == in[t]) found = in[j + 1] == tg[t];
        EXPECT(found);
    }
    EXPECT(n_targets >= 4);
    rng_free(&r);
}
