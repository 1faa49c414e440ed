/* Progress of a run: a one-line bar redrawn in place on a terminal, plain log lines otherwise (CI logs,
 * pipes), nothing with quiet. Written to stderr, so stdout stays the script's own output. */
#ifndef AL_PROGRESS_H
#define AL_PROGRESS_H

typedef struct Progress {
    char label[64];
    int total, quiet, tty, drawn;
} Progress;

void progress_init(Progress *p, const char *label, int total, int quiet);
/* val_loss may be NaN (not evaluated at this step) */
void progress_update(Progress *p, int step, double loss, double val_loss, double tokens_per_s, double elapsed_s);
void progress_message(Progress *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void progress_finish(Progress *p);
#endif
