#include "arch/rope.h"

#include <math.h>

void rope_tables(real *cos_t, real *sin_t, int T, int rot, double base) {
    int half = rot / 2;
    for (int t = 0; t < T; t++)
        for (int i = 0; i < half; i++) {
            double ang = t * pow(base, -2.0 * i / rot);
            cos_t[(size_t)t * half + i] = (real)cos(ang);
            sin_t[(size_t)t * half + i] = (real)sin(ang);
        }
}
