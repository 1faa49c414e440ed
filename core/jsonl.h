/* JSON Lines files (pandas reads them): one JSON object per line, {"step": 10, "loss": 2.31, ...};
 * non-finite numbers are written as null. Each line is flushed when it ends, so a crash loses at most the
 * line being written. */
#ifndef AL_JSONL_H
#define AL_JSONL_H
#include <stdio.h>

typedef struct JsonlWriter {
    FILE *f;
    int fields;
    char path[1024]; /* for messages */
} JsonlWriter;
/* Creates parent directories; append = 1 continues an existing file. -1 + message naming the path. */
int jsonl_open(JsonlWriter *w, const char *path, int append);
void jsonl_begin(JsonlWriter *w);
void jsonl_num(JsonlWriter *w, const char *key, double v);
void jsonl_str(JsonlWriter *w, const char *key, const char *v);
/* Newline + flush. -1 + a message naming the file and the reason (a full disk: "No space left on device") when
 * the line could not be written whole: a caller stops rather than go on losing records. */
int jsonl_end(JsonlWriter *w);
void jsonl_close(JsonlWriter *w);
#endif
