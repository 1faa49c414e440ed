#include "core/dist.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static int rank_ = 0, size_ = 1;

double dist_timeout(void) {
    const char *s = getenv("AL_DIST_TIMEOUT");
    double t = s ? atof(s) : 0;
    return t > 0 ? t : 120;
}

int dist_rank(void) { return rank_; }
int dist_size(void) { return size_; }

#ifdef AL_MPI
#include <mpi.h>

static int active = 0; /* MPI_Init was called */

int dist_built_with_mpi(void) { return 1; }

/* mpirun (Open MPI) and other launchers (PMIx, MPICH's PMI) leave these in every rank's environment */
static int launched_by_mpirun(void) {
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMIX_RANK") || getenv("PMI_RANK");
}

int dist_init(int *argc, char ***argv) {
    if (!launched_by_mpirun()) return 0;
    if (MPI_Init(argc, argv) != MPI_SUCCESS) return al_errorf("MPI_Init failed");
    active = 1;
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    return 0;
}

void dist_finalize(void) {
    if (active) MPI_Finalize();
    active = 0;
}

void dist_abort(int code) {
    if (active && size_ > 1) MPI_Abort(MPI_COMM_WORLD, code);
    exit(code);
}

/* Waits for a nonblocking operation, checking the deadline and interrupts: a blocking call would hang for
 * ever when a peer died without mpirun noticing, or wait through a Ctrl-C. Spins briefly, then sleeps 50 us
 * between tests so a rank that waits leaves the core to the one computing (ranks may share cores). */
static int wait_for(MPI_Request *req, const char *what) {
    double t0 = MPI_Wtime(), limit = dist_timeout();
    for (long i = 0;; i++) {
        int done = 0;
        if (MPI_Test(req, &done, MPI_STATUS_IGNORE) != MPI_SUCCESS)
            return al_errorf("rank %d: %s failed (another rank died?)", rank_, what);
        if (done) return 0;
        if (al_interrupt_requested) return al_errorf("interrupted");
        if (MPI_Wtime() - t0 > limit)
            return al_errorf("rank %d: %s: the other ranks did not answer for %.0f s (one died or hangs; "
                             "AL_DIST_TIMEOUT sets the limit)", rank_, what, limit);
        if (i > 2000) nanosleep(&(struct timespec){0, 50000}, NULL);
    }
}

/* a fixed-order sum: every rank's chunk gathered to rank 0, added there in rank order, broadcast back */
#define REDUCE_CHUNK ((size_t)1 << 20)
static int allreduce_fixed(void *x, size_t n, size_t elem, MPI_Datatype type, void (*add)(void *, const void *, size_t),
                           const char *what) {
    if (!active || size_ == 1 || n == 0) return 0;
    size_t chunk = n < REDUCE_CHUNK ? n : REDUCE_CHUNK;
    /* rank 0's gather buffer, kept between calls (every training step sums the gradients) */
    static char *all;
    static size_t all_cap;
    if (rank_ == 0 && elem * chunk * size_ > all_cap) {
        free(all);
        all_cap = elem * chunk * size_;
        if (!(all = malloc(all_cap))) { all_cap = 0; return al_errorf("%s: out of memory for %zu values x %d ranks", what, chunk, size_); }
    }
    int rc = 0;
    for (size_t off = 0; off < n && !rc; off += chunk) {
        size_t m = n - off < chunk ? n - off : chunk;
        char *p = (char *)x + off * elem;
        MPI_Request req;
        MPI_Igather(p, (int)m, type, all, (int)m, type, 0, MPI_COMM_WORLD, &req);
        if ((rc = wait_for(&req, what))) break;
        if (rank_ == 0) {
            memcpy(p, all, m * elem); /* rank 0's, then 1's, ... */
            for (int r = 1; r < size_; r++) add(p, all + (size_t)r * m * elem, m);
        }
        MPI_Ibcast(p, (int)m, type, 0, MPI_COMM_WORLD, &req);
        rc = wait_for(&req, what);
    }
    return rc;
}

static void add_real(void *a, const void *b, size_t n) {
    real *x = a;
    const real *y = b;
    for (size_t i = 0; i < n; i++) x[i] += y[i];
}
static void add_double(void *a, const void *b, size_t n) {
    double *x = a;
    const double *y = b;
    for (size_t i = 0; i < n; i++) x[i] += y[i];
}
static void add_int(void *a, const void *b, size_t n) {
    int *x = a;
    const int *y = b;
    for (size_t i = 0; i < n; i++) x[i] += y[i];
}

#ifdef AL_DOUBLE
#define MPI_REAL_T MPI_DOUBLE
#else
#define MPI_REAL_T MPI_FLOAT
#endif

int dist_allreduce_sum(real *x, size_t n) {
    return allreduce_fixed(x, n, sizeof(real), MPI_REAL_T, add_real, "the gradient sum");
}
int dist_allreduce_sum_d(double *x, size_t n) {
    return allreduce_fixed(x, n, sizeof(double), MPI_DOUBLE, add_double, "a sum over ranks");
}
int dist_allreduce_sum_i(int *x, size_t n) { return allreduce_fixed(x, n, sizeof(int), MPI_INT, add_int, "a count over ranks"); }

int dist_exchange_counts(const size_t *send_counts, size_t *recv_counts) {
    if (!active || size_ == 1) { recv_counts[0] = send_counts[0]; return 0; }
    MPI_Request req;
    MPI_Ialltoall(send_counts, 1, MPI_UINT64_T, recv_counts, 1, MPI_UINT64_T, MPI_COMM_WORLD, &req);
    return wait_for(&req, "the all-to-all of token counts");
}

int dist_alltoallv(const real *send, const size_t *send_counts, real *recv, const size_t *recv_counts) {
    if (!active || size_ == 1) {
        if (send_counts[0]) memcpy(recv, send, sizeof(real) * send_counts[0]);
        return 0;
    }
    int sc[size_], sd[size_], rc[size_], rd[size_];
    size_t so = 0, ro = 0;
    for (int r = 0; r < size_; r++) {
        if (send_counts[r] > (size_t)1 << 30 || recv_counts[r] > (size_t)1 << 30 || so > (size_t)1 << 30 || ro > (size_t)1 << 30)
            return al_errorf("an all-to-all of more than 2^30 values per rank (use more ranks or a smaller batch)");
        sc[r] = (int)send_counts[r]; sd[r] = (int)so; so += send_counts[r];
        rc[r] = (int)recv_counts[r]; rd[r] = (int)ro; ro += recv_counts[r];
    }
    MPI_Request req;
    MPI_Ialltoallv(send, sc, sd, MPI_REAL_T, recv, rc, rd, MPI_REAL_T, MPI_COMM_WORLD, &req);
    return wait_for(&req, "the all-to-all of tokens");
}

int dist_broadcast(real *x, size_t n, int root) {
    if (!active || size_ == 1) return 0;
    for (size_t off = 0; off < n; off += REDUCE_CHUNK) {
        size_t m = n - off < REDUCE_CHUNK ? n - off : REDUCE_CHUNK;
        MPI_Request req;
        MPI_Ibcast(x + off, (int)m, MPI_REAL_T, root, MPI_COMM_WORLD, &req);
        if (wait_for(&req, "a broadcast")) return -1;
    }
    return 0;
}

#else /* without MPI: one rank */

int dist_built_with_mpi(void) { return 0; }
int dist_init(int *argc, char ***argv) {
    (void)argc; (void)argv;
    if (getenv("OMPI_COMM_WORLD_SIZE") && atoi(getenv("OMPI_COMM_WORLD_SIZE")) > 1)
        return al_errorf("launched by mpirun on %s ranks, but this archlab was built without MPI (install "
                         "libopenmpi-dev and rebuild: make clean && make)", getenv("OMPI_COMM_WORLD_SIZE"));
    return 0;
}
void dist_finalize(void) {}
void dist_abort(int code) { exit(code); }
int dist_allreduce_sum(real *x, size_t n) { (void)x; (void)n; return 0; }
int dist_allreduce_sum_d(double *x, size_t n) { (void)x; (void)n; return 0; }
int dist_allreduce_sum_i(int *x, size_t n) { (void)x; (void)n; return 0; }
int dist_exchange_counts(const size_t *send_counts, size_t *recv_counts) { recv_counts[0] = send_counts[0]; return 0; }
int dist_alltoallv(const real *send, const size_t *send_counts, real *recv, const size_t *recv_counts) {
    (void)recv_counts;
    if (send_counts[0]) memcpy(recv, send, sizeof(real) * send_counts[0]);
    return 0;
}
int dist_broadcast(real *x, size_t n, int root) { (void)x; (void)n; (void)root; return 0; }
#endif
