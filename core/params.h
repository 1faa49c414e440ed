/* The parameter store: every model parameter is declared here by name, shape, init and weight-decay
 * group, and lives in ONE flat buffer (with one flat gradient buffer beside it). Modules keep offsets.
 * In meta mode nothing is allocated: declaring a 27B model only counts it, through the same code path the
 * trainer uses. AdamW moments are allocated lazily, on the first optimizer step. */
#ifndef AL_PARAMS_H
#define AL_PARAMS_H
#include "core/common.h"
#include "core/rng.h"

/* INIT_CONST: every element = hot; INIT_EYE: a square matrix with hot on the diagonal, cold elsewhere;
 * INIT_ONEHOT: element `index` = hot, the others cold (e.g. HC's A_m = e_{k mod n}). */
typedef enum { INIT_ZEROS, INIT_ONES, INIT_NORMAL, INIT_CONST, INIT_EYE, INIT_ONEHOT } InitKind;

typedef struct ParamInfo {
    char name[96];
    int ndim;
    int64_t shape[4];
    size_t offset, numel;
    InitKind init;
    double std;        /* for INIT_NORMAL */
    double hot, cold;  /* for INIT_CONST, INIT_EYE, INIT_ONEHOT */
    int index;         /* for INIT_ONEHOT */
    int decay;         /* 1: in the weight-decay group (matrices); 0: norms, biases, gates */
    char component[24]; /* for summaries: "embedding", "attention", "ffn", "norm", "head", ... */
} ParamInfo;

/* More parameter tensors than this is refused (DeepSeek-V3 has about 48 thousand). */
#define PS_MAX_TENSORS 1000000

typedef struct ParamStore {
    ParamInfo *info;
    int n, cap;
    size_t total;  /* elements */
    int meta;      /* 1: count only */
    int overflow;  /* a shape or the total overflowed 64-bit byte counts, or too many tensors: refused */
    real *data, *grad;
    real *adam_m, *adam_v; /* lazily allocated */
} ParamStore;

void ps_init(ParamStore *ps, int meta);
void ps_free(ParamStore *ps);
/* Declares a parameter; returns its offset. Consecutive declarations are contiguous (no padding), which
 * modules use to run fused GEMMs over adjacent matrices (q|k|v, gate|up). */
size_t ps_add(ParamStore *ps, const char *name, int ndim, const int64_t *shape, InitKind init, double std,
              int decay, const char *component);
/* Declares a parameter with a structured init (INIT_CONST, INIT_EYE, INIT_ONEHOT); returns its offset. */
size_t ps_add_fill(ParamStore *ps, const char *name, int ndim, const int64_t *shape, InitKind init, double hot,
                   double cold, int index, int decay, const char *component);
/* Allocates data and grad and initializes from rng in declaration order. -1 on failure. */
int ps_allocate(ParamStore *ps, Rng *rng);
int ps_allocate_adam(ParamStore *ps);
const ParamInfo *ps_find(const ParamStore *ps, const char *name);
/* Sum of numel over parameters whose component matches (NULL: all). */
size_t ps_count(const ParamStore *ps, const char *component);
#endif
