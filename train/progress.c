#include "train/progress.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

void progress_init(Progress *p, const char *label, int total, int quiet) {
    memset(p, 0, sizeof *p);
    snprintf(p->label, sizeof p->label, "%s", label && label[0] ? label : "train");
    p->total = total;
    p->quiet = quiet;
    p->tty = isatty(fileno(stderr));
}

static void format_eta(double s, char *buf, size_t n) {
    if (!isfinite(s) || s < 0) { snprintf(buf, n, "?"); return; }
    int t = (int)(s + 0.5);
    if (t >= 3600) snprintf(buf, n, "%dh%02dm", t / 3600, t / 60 % 60);
    else snprintf(buf, n, "%dm%02ds", t / 60, t % 60);
}

void progress_update(Progress *p, int step, double loss, double val, double tps, double elapsed) {
    if (p->quiet) return;
    char eta[32], vbuf[32] = "";
    format_eta(step > 0 ? elapsed / step * (p->total - step) : NAN, eta, sizeof eta);
    if (isfinite(val)) snprintf(vbuf, sizeof vbuf, " val %.4f", val);
    if (p->tty) {
        int width = 24, fill = p->total ? (int)((double)width * step / p->total) : width;
        char bar[32];
        for (int i = 0; i < width; i++) bar[i] = i < fill ? '#' : '.';
        bar[width] = 0;
        fprintf(stderr, "\r%s [%s] %d/%d loss %.4f%s %.0f tok/s ETA %s\033[K", p->label, bar, step, p->total,
                loss, vbuf, tps, eta);
        p->drawn = 1;
    } else {
        fprintf(stderr, "%s step %d/%d loss %.4f%s %.0f tok/s ETA %s\n", p->label, step, p->total, loss, vbuf, tps, eta);
    }
    fflush(stderr);
}

void progress_message(Progress *p, const char *fmt, ...) {
    if (p->drawn) { fputc('\n', stderr); p->drawn = 0; }
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", p->label);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void progress_finish(Progress *p) {
    if (p->drawn) fputc('\n', stderr);
    p->drawn = 0;
    fflush(stderr);
}
