#include "train/dist_train.h"

#include <stdlib.h>
#include <string.h>

#include "train/dist.h"

rt_status train_dist_rundir_open(train_rundir *rd, const char *path, const cJSON *config, rt_error *err) {
    if (dist_rank() == 0) return train_rundir_open(rd, path, config, err);
    memset(rd, 0, sizeof *rd);
    rd->path = strdup(path);
    return rd->path ? RT_OK : rt_err_set(err, RT_ENOMEM, "out of memory");
}

rt_status train_dist_latest_checkpoint(const train_rundir *rd, int64_t *step, rt_error *err) {
    int64_t s = dist_rank() == 0 ? train_rundir_latest_checkpoint(rd) : -1;
    rt_status st = dist_broadcast(&s, sizeof s, err);
    if (st) return st;
    *step = s;
    return RT_OK;
}

rt_status train_dist_check_model(const model *m, const char *what, rt_error *err) {
    uint64_t h = dist_hash(m->params, m->nparams * sizeof *m->params, DIST_HASH_INIT);
    if (m->adam_m) h = dist_hash(m->adam_m, m->nparams * sizeof *m->adam_m, h);
    if (m->adam_v) h = dist_hash(m->adam_v, m->nparams * sizeof *m->adam_v, h);
    h = dist_hash(&m->adam_step, sizeof m->adam_step, h);
    h = dist_hash(&m->nparams, sizeof m->nparams, h);
    return dist_check_same(h, what, err);
}

rt_status train_dist_check_state(const train_state *s, rt_error *err) {
    uint64_t h = dist_hash(&s->step, sizeof s->step, DIST_HASH_INIT);
    h = dist_hash(&s->epoch, sizeof s->epoch, h);
    h = dist_hash(&s->data_pos, sizeof s->data_pos, h);
    h = dist_hash(s->rng.s, sizeof s->rng.s, h);
    return dist_check_same(h, "run states (step, data position, RNG)", err);
}

rt_status train_dist_sum_grads(model *m, rt_error *err) {
    return dist_allreduce_f32(m->grads, m->nparams, err);
}
