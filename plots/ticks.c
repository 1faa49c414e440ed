/* Axis limits and ticks: 1-2-5 steps on linear axes, powers of ten on log axes, labels that show just
 * the digits the step needs. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "plots/plot_internal.h"

static const char *const SUPERSCRIPT[10] = {"\u2070", "\u00b9", "\u00b2", "\u00b3", "\u2074",
                                            "\u2075", "\u2076", "\u2077", "\u2078", "\u2079"};

/* "10⁻³" for exponent -3. */
static void pow10_label(char *buf, size_t n, int e) {
    size_t k = (size_t)snprintf(buf, n, "10");
    if (e < 0 && k < n) k += (size_t)snprintf(buf + k, n - k, "\u207b");
    char digits[12];
    snprintf(digits, sizeof digits, "%d", e < 0 ? -e : e);
    for (char *d = digits; *d && k < n; d++) k += (size_t)snprintf(buf + k, n - k, "%s", SUPERSCRIPT[*d - '0']);
}

void plt_axis_scale_label(char *buf, size_t n, double v) {
    if (v == 0) { snprintf(buf, n, "0"); return; }
    int e = (int)floor(log10(fabs(v)) + 1e-9);
    double m = v / pow(10, e);
    char mant[16];
    snprintf(mant, sizeof mant, "%.3g", m);
    char p[20];
    pow10_label(p, sizeof p, e);
    if (!strcmp(mant, "1")) snprintf(buf, n, "%s", p);
    else if (!strcmp(mant, "-1")) snprintf(buf, n, "\u2212%s", p);
    else snprintf(buf, n, "%s\u00d7%s", mant, p);
}

/* Labels for a linear axis with step m x 10^k: as many decimals as the step has, and the x10^n form
 * only where plain digits would get long. */
static void linear_label(char *buf, size_t n, double v, int k, double maxabs) {
    if (maxabs >= 1e6 || (k < -4 && maxabs < 1e-3)) { plt_axis_scale_label(buf, n, v); return; }
    int dec = k < 0 ? -k : 0;
    snprintf(buf, n, "%.*f", dec, v);
    if (buf[0] == '-') {
        /* "-0.0" after rounding is zero; otherwise use a real minus sign */
        int zero = 1;
        for (const char *c = buf + 1; *c; c++) if (*c != '0' && *c != '.') zero = 0;
        if (zero) memmove(buf, buf + 1, strlen(buf));
        else if (strlen(buf) + 3 < n) { memmove(buf + 3, buf + 1, strlen(buf)); memcpy(buf, "\u2212", 3); }
    }
}

static double pow10i(int k) { return pow(10.0, k); }

/* i x m x 10^k computed so that 3 x 0.1 prints as 0.3: divide by the exact 10^-k instead of multiplying
 * by the inexact 10^k. */
static double step_mul(long i, int m, int k) { return k >= 0 ? (double)i * m * pow10i(k) : (double)(i * m) / pow10i(-k); }

static int linear_ticks(plot_axis *a, int max_ticks) {
    double span = a->hi - a->lo;
    double maxabs = fmax(fabs(a->lo), fabs(a->hi));
    static const int M[3] = {1, 2, 5};
    int k = (int)floor(log10(span / max_ticks)) - 1;
    for (;; k++) {
        for (int j = 0; j < 3; j++) {
            double step = M[j] * pow10i(k);
            double eps = 1e-9;
            long i0 = (long)ceil(a->lo / step - eps), i1 = (long)floor(a->hi / step + eps);
            if (i1 - i0 + 1 > max_ticks) continue;
            a->n = 0;
            for (long i = i0; i <= i1; i++) {
                double v = step_mul(i, M[j], k);
                if (fabs(v) < step * 1e-9) v = 0;
                a->v[a->n] = v;
                linear_label(a->label[a->n], sizeof a->label[0], v, k, maxabs);
                a->n++;
            }
            return 0;
        }
    }
}

static void add_minor(plot_axis *a, double v) {
    if (a->n_minor < PLOT_MAX_MINOR && v >= a->lo * (1 - 1e-12) && v <= a->hi * (1 + 1e-12))
        a->minor[a->n_minor++] = v;
}

static int decade_ticks(plot_axis *a, int d0, int d1, int max_ticks) {
    int nd = d1 - d0 + 1, kstep = (nd + max_ticks - 1) / max_ticks;
    a->n = 0;
    a->n_minor = 0;
    for (int e = d0; e <= d1; e++) {
        if (((e % kstep) + kstep) % kstep) { add_minor(a, pow10i(e)); continue; }
        a->v[a->n] = pow10i(e);
        pow10_label(a->label[a->n], sizeof a->label[0], e);
        a->n++;
    }
    if (kstep == 1)
        for (int e = d0 - 1; e <= d1; e++)
            for (int m = 2; m <= 9; m++) add_minor(a, m * pow10i(e));
    return a->n;
}

static int log_ticks(plot_axis *a, int max_ticks) {
    double elo = log10(a->lo), ehi = log10(a->hi);
    int d0 = (int)ceil(elo - 1e-9), d1 = (int)floor(ehi + 1e-9);
    int nd = d1 - d0 + 1;
    /* Three or more decades: label powers of ten (every k-th when crowded), the rest are minor marks. */
    if (nd >= 3 && decade_ticks(a, d0, d1, max_ticks) >= 2) return 0;
    /* Fewer decades: 1, 2, 5 x 10^k marks say more; two decades whose 1-2-5 marks crowd get decades, and
     * a range too narrow for two 1-2-5 marks gets plain linear ticks. */
    static const int M[3] = {1, 2, 5};
    a->n = 0;
    a->n_minor = 0;
    for (int e = (int)floor(elo) - 1; e <= (int)ceil(ehi); e++)
        for (int j = 0; j < 3; j++) {
            double v = M[j] * pow10i(e);
            if (v < a->lo * (1 - 1e-12) || v > a->hi * (1 + 1e-12) || a->n == PLOT_MAX_TICKS) continue;
            a->v[a->n] = v;
            snprintf(a->label[a->n], sizeof a->label[0], "%g", v);
            a->n++;
        }
    if (a->n > max_ticks && nd >= 2 && decade_ticks(a, d0, d1, max_ticks) >= 2) return 0;
    if (a->n < 2 || a->n > max_ticks) {
        if (linear_ticks(a, max_ticks)) return -1;
        for (int i = 0; i < a->n; i++) snprintf(a->label[i], sizeof a->label[0], "%g", a->v[i]);
    }
    for (int e = (int)floor(elo) - 1; e <= (int)ceil(ehi); e++)
        for (int m = 1; m <= 9; m++) {
            double v = m * pow10i(e);
            int major = 0;
            for (int i = 0; i < a->n; i++) if (fabs(a->v[i] - v) <= 1e-9 * v) major = 1;
            if (!major) add_minor(a, v);
        }
    return 0;
}

int plot_axis_ticks(plot_axis *a, double lo, double hi, int log, int max_ticks) {
    memset(a, 0, sizeof *a);
    if (!isfinite(lo) || !isfinite(hi)) return plt_fail("axis limits must be finite, got %g to %g", lo, hi);
    if (lo > hi) return plt_fail("axis limits are reversed: %g > %g", lo, hi);
    if (log && lo <= 0) return plt_fail("a log axis needs positive limits, got %g to %g", lo, hi);
    if (max_ticks < 2) max_ticks = 2;
    if (max_ticks > PLOT_MAX_TICKS) max_ticks = PLOT_MAX_TICKS;
    /* A constant series still gets an axis: widen around the value so it sits in the middle. */
    if (hi - lo <= fmax(fabs(lo), fabs(hi)) * 1e-12 || hi - lo < DBL_MIN * 1e3) {
        if (log) { lo /= 10; hi *= 10; }
        else if (lo == 0) { lo = -1; hi = 1; }
        else { double d = fabs(lo) * 0.1; lo -= d; hi += d; }
    }
    a->lo = lo;
    a->hi = hi;
    a->log = log;
    return log ? log_ticks(a, max_ticks) : linear_ticks(a, max_ticks);
}

int plot_axis_auto(plot_axis *a, double dlo, double dhi, int log, int max_ticks) {
    if (!isfinite(dlo) || !isfinite(dhi)) return plt_fail("data range must be finite, got %g to %g", dlo, dhi);
    if (log && dlo <= 0) return plt_fail("a log axis needs positive data, got a minimum of %g", dlo);
    if (dhi > dlo) {
        if (log) {
            double l0 = log10(dlo), l1 = log10(dhi), p = 0.03 * (l1 - l0);
            dlo = pow(10, l0 - p);
            dhi = pow(10, l1 + p);
        } else {
            double p = 0.03 * (dhi - dlo);
            dlo -= p;
            dhi += p;
        }
    }
    return plot_axis_ticks(a, dlo, dhi, log, max_ticks);
}

double plt_axis_frac(const plot_axis *a, double v) {
    if (a->log) return (log10(v) - log10(a->lo)) / (log10(a->hi) - log10(a->lo));
    return (v - a->lo) / (a->hi - a->lo);
}
