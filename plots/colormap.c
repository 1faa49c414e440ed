/* Colour maps as piecewise-linear RGB ramps through a few anchors. Piecewise linear on purpose: a cairo
 * linear gradient with the same stops draws the colour bar exactly as the cells are coloured. */
#include <math.h>
#include <string.h>

#include "plots/plot_internal.h"

/* viridis (matplotlib's default, van der Walt & Smith) sampled at 10 even points; perceptually uniform and
 * readable in greyscale and by colour-blind readers. */
static const unsigned VIRIDIS[] = {0x440154, 0x482878, 0x3E4989, 0x31688E, 0x26828E,
                                   0x1F9E89, 0x35B779, 0x6ECE58, 0xB5DE2B, 0xFDE725};
/* The needle-in-a-haystack figures (Kamradt's LLMTest_NeedleInAHaystack and the papers that copy it):
 * red for a missed needle, through yellow, to green for a found one. */
static const unsigned NIAH[] = {0xF0496E, 0xEBB839, 0x0CD79F};

static void ramp(const unsigned *c, int n, double t, double rgb[3]) {
    double x = t * (n - 1);
    int i = (int)floor(x);
    if (i >= n - 1) i = n - 2;
    if (i < 0) i = 0;
    double f = x - i;
    for (int k = 0; k < 3; k++) {
        int sh = 16 - 8 * k;
        double a = ((c[i] >> sh) & 0xff) / 255.0, b = ((c[i + 1] >> sh) & 0xff) / 255.0;
        rgb[k] = a + (b - a) * f;
    }
}

void plot_colormap(plot_cmap cm, double t, double rgb[3]) {
    if (isnan(t)) { rgb[0] = rgb[1] = rgb[2] = PLT_STYLE.missing_grey; return; }
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    if (cm == PLOT_CMAP_NIAH) ramp(NIAH, 3, t, rgb);
    else ramp(VIRIDIS, 10, t, rgb);
}

int plot_cmap_by_name(const char *name, plot_cmap *cm) {
    if (name && !strcmp(name, "niah")) *cm = PLOT_CMAP_NIAH;
    else if (name && (!strcmp(name, "sequential") || !strcmp(name, "viridis"))) *cm = PLOT_CMAP_SEQUENTIAL;
    else return plt_fail("unknown colour map '%s'; use 'niah' or 'sequential'", name ? name : "(null)");
    return 0;
}

int plt_cmap_stops(plot_cmap cm, const unsigned **stops) {
    if (cm == PLOT_CMAP_NIAH) { *stops = NIAH; return 3; }
    *stops = VIRIDIS;
    return 10;
}
