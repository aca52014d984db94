#include "train/dist.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h>

static int g_on; /* MPI initialised by dist_init */
static int g_rank, g_size = 1;

/* Launched by an MPI launcher: Open MPI's mpirun sets OMPI_COMM_WORLD_SIZE, any PMIx launcher PMIX_RANK. */
static int launched(void) {
    return getenv("OMPI_COMM_WORLD_SIZE") != NULL || getenv("PMIX_RANK") != NULL;
}

/* Turns an MPI error code into an rt_status naming the call. */
static rt_status mpi_fail(rt_error *err, int rc, const char *call) {
    char msg[MPI_MAX_ERROR_STRING + 1];
    int len = 0;
    if (MPI_Error_string(rc, msg, &len) != MPI_SUCCESS) len = 0;
    msg[len] = '\0';
    return rt_err_set(err, RT_EIO, "MPI %s failed on rank %d of %d: %s", call, g_rank, g_size,
                      len ? msg : "unknown error");
}

rt_status dist_init(rt_error *err) {
    if (g_on || !launched()) return RT_OK;
    int already = 0;
    MPI_Initialized(&already);
    if (!already) {
        int provided = 0;
        int rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
        if (rc != MPI_SUCCESS) return rt_err_set(err, RT_EIO, "MPI_Init_thread failed (code %d)", rc);
        if (provided < MPI_THREAD_FUNNELED) {
            MPI_Finalize();
            return rt_err_set(err, RT_EIO, "MPI provides thread level %d, below MPI_THREAD_FUNNELED", provided);
        }
    }
    /* Errors come back as codes (turned into rt_status) instead of aborting inside the library. */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
    g_on = 1;
    return RT_OK;
}

rt_status dist_finalize(rt_error *err) {
    if (!g_on) return RT_OK;
    g_on = 0;
    int rc = MPI_Finalize();
    int rank = g_rank, size = g_size;
    g_rank = 0;
    g_size = 1;
    if (rc != MPI_SUCCESS)
        return rt_err_set(err, RT_EIO, "MPI_Finalize failed on rank %d of %d (code %d)", rank, size, rc);
    return RT_OK;
}

void dist_abort(int code) {
    if (g_on && g_size > 1) MPI_Abort(MPI_COMM_WORLD, code);
}

int dist_rank(void) {
    return g_rank;
}

int dist_size(void) {
    return g_size;
}

/* Sums buf in place in chunks that fit MPI's int counts. */
static rt_status allreduce(void *buf, size_t n, size_t elem, MPI_Datatype type, rt_error *err) {
    if (!g_on || g_size == 1) return RT_OK;
    const size_t chunk = (size_t)1 << 28;
    for (size_t o = 0; o < n; o += chunk) {
        size_t c = n - o < chunk ? n - o : chunk;
        int rc = MPI_Allreduce(MPI_IN_PLACE, (char *)buf + o * elem, (int)c, type, MPI_SUM, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS) return mpi_fail(err, rc, "Allreduce");
    }
    return RT_OK;
}

rt_status dist_allreduce_f32(float *buf, size_t n, rt_error *err) {
    return allreduce(buf, n, sizeof *buf, MPI_FLOAT, err);
}

rt_status dist_allreduce_f64(double *buf, size_t n, rt_error *err) {
    return allreduce(buf, n, sizeof *buf, MPI_DOUBLE, err);
}

rt_status dist_broadcast(void *buf, size_t n, rt_error *err) {
    if (!g_on || g_size == 1) return RT_OK;
    const size_t chunk = (size_t)1 << 30;
    for (size_t o = 0; o < n; o += chunk) {
        size_t c = n - o < chunk ? n - o : chunk;
        int rc = MPI_Bcast((char *)buf + o, (int)c, MPI_BYTE, 0, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS) return mpi_fail(err, rc, "Bcast");
    }
    return RT_OK;
}

rt_status dist_gather_bytes(const void *buf, size_t n, char **out, size_t *out_n, rt_error *err) {
    *out = NULL;
    *out_n = 0;
    if (!g_on || g_size == 1) {
        *out = malloc(n ? n : 1);
        if (!*out) return rt_err_set(err, RT_ENOMEM, "out of memory gathering %zu bytes", n);
        if (n) memcpy(*out, buf, n);
        *out_n = n;
        return RT_OK;
    }
    if (n > INT_MAX) return rt_err_set(err, RT_EINVAL, "rank %d has %zu bytes to gather: over MPI's limit", g_rank, n);
    int mine = (int)n;
    int *counts = NULL, *displs = NULL;
    char *all = NULL;
    rt_status st = RT_OK;
    if (g_rank == 0) {
        counts = calloc((size_t)g_size, sizeof *counts);
        displs = calloc((size_t)g_size, sizeof *displs);
        if (!counts || !displs) st = rt_err_set(err, RT_ENOMEM, "out of memory");
    }
    /* Every rank takes part in both collectives even after a local failure, so none waits forever. */
    int rc = MPI_Gather(&mine, 1, MPI_INT, counts, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (!st && rc != MPI_SUCCESS) st = mpi_fail(err, rc, "Gather");
    size_t total = 0;
    if (!st && g_rank == 0) {
        for (int r = 0; r < g_size; r++) {
            if (total + (size_t)counts[r] > INT_MAX) {
                st = rt_err_set(err, RT_EINVAL, "gathering %zu+ bytes on rank 0: over MPI's limit", total);
                break;
            }
            displs[r] = (int)total;
            total += (size_t)counts[r];
        }
        if (!st) {
            all = malloc(total ? total : 1);
            if (!all) st = rt_err_set(err, RT_ENOMEM, "out of memory gathering %zu bytes", total);
        }
        if (st) { /* receive nothing rather than leave the senders hanging */
            free(all);
            all = malloc(1);
            for (int r = 0; r < g_size; r++)
                counts[r] = displs[r] = 0;
        }
    }
    rc = MPI_Gatherv(buf, mine, MPI_BYTE, all, counts, displs, MPI_BYTE, 0, MPI_COMM_WORLD);
    if (!st && rc != MPI_SUCCESS) st = mpi_fail(err, rc, "Gatherv");
    free(counts);
    free(displs);
    if (st) {
        free(all);
        return st;
    }
    *out = all;
    *out_n = total;
    return RT_OK;
}

rt_status dist_barrier(rt_error *err) {
    if (!g_on || g_size == 1) return RT_OK;
    int rc = MPI_Barrier(MPI_COMM_WORLD);
    return rc == MPI_SUCCESS ? RT_OK : mpi_fail(err, rc, "Barrier");
}

uint64_t dist_hash(const void *buf, size_t n, uint64_t h) {
    const unsigned char *p = buf;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) { /* a word at a time: parameters are hundreds of megabytes */
        uint64_t w;
        memcpy(&w, p + i, sizeof w);
        h ^= w;
        h *= 0x100000001b3ull;
    }
    for (; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

rt_status dist_check_same(uint64_t hash, const char *what, rt_error *err) {
    if (!g_on || g_size == 1) return RT_OK;
    uint64_t root = hash;
    rt_status st = dist_broadcast(&root, sizeof root, err);
    if (st) return st;
    double differ = root != hash;
    st = dist_allreduce_f64(&differ, 1, err);
    if (st) return st;
    if (differ > 0 && root != hash)
        return rt_err_set(err, RT_EINVAL,
                          "%s differ across ranks: %.0f of %d ranks disagree with rank 0 (this rank %d: hash %016llx, "
                          "rank 0: %016llx); every rank must load the same files",
                          what, differ, g_size, g_rank, (unsigned long long)hash, (unsigned long long)root);
    if (differ > 0)
        return rt_err_set(err, RT_EINVAL,
                          "%s differ across ranks: %.0f of %d ranks disagree with rank 0 (this rank %d agrees); every "
                          "rank must load the same files",
                          what, differ, g_size, g_rank);
    return RT_OK;
}
