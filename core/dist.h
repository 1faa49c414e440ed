/* Running on several processes with MPI (issue 23): data parallelism (each rank a share of the global batch,
 * gradients summed) and expert parallelism (each rank computes a share of the routed experts; tokens travel to
 * their experts' ranks and back with all-to-all). MPI is optional at build time: without it (no mpicc when
 * the Makefile ran, or not launched by mpirun) archlab is one rank of one, exactly as before.
 *
 * archlab calls MPI_Init only when mpirun launched it (OMPI_COMM_WORLD_SIZE / PMIX_RANK in the environment),
 * so a plain `bin/archlab script.lua` never starts MPI. Every collective here has a FIXED summation order
 * (rank 0, 1, ..., R-1, whatever the network), so every rank gets the same bits and a run is reproducible;
 * they poll (MPI_Test) with a deadline instead of blocking, so a rank that died or hangs ends the job with a
 * message instead of a hang. */
#ifndef AL_DIST_H
#define AL_DIST_H
#include <stddef.h>
#include <stdint.h>

#include "core/common.h"

/* MPI_Init when launched by mpirun (else nothing); returns 0, or -1 + message. */
int dist_init(int *argc, char ***argv);
void dist_finalize(void);
/* MPI_Abort(code) under MPI, exit(code) otherwise: after a rank's error, so the others do not wait forever */
void dist_abort(int code);
int dist_rank(void);
int dist_size(void);
/* 1 when built with MPI (whether or not launched by mpirun) */
int dist_built_with_mpi(void);
/* Seconds a collective waits for the other ranks before it declares them dead (default 120; AL_DIST_TIMEOUT) */
double dist_timeout(void);

/* x (n reals) <- the sum over ranks, added in rank order, identical on every rank. -1 + message on a timeout. */
int dist_allreduce_sum(real *x, size_t n);
/* the same for doubles and ints (counts, losses) */
int dist_allreduce_sum_d(double *x, size_t n);
int dist_allreduce_sum_i(int *x, size_t n);
/* Every rank sends send_counts[r] reals from send (packed by destination rank, in rank order) and receives
 * recv_counts[r] reals from rank r into recv (packed by source rank). Counts in reals. -1 + message. */
int dist_alltoallv(const real *send, const size_t *send_counts, real *recv, const size_t *recv_counts);
/* the counts for dist_alltoallv: each rank's send_counts in, every rank's recv_counts out (an all-to-all of n
 * size_t per rank) */
int dist_exchange_counts(const size_t *send_counts, size_t *recv_counts);
/* x (n reals) from rank root to every rank */
int dist_broadcast(real *x, size_t n, int root);
#endif
