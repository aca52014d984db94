/* The queue index saved beside the queue: a reopened view equals one built from the lines (which test_dash_index
 * checks against the loader `retool review` uses) and agrees with that loader; it is used only while the queue still
 * starts with the bytes it covers (appended lines are read on top; a queue cut, rewritten or replaced is read anew);
 * a damaged index file is not used. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../base/tmpdir.h"
#include "serve/dash_qsave.h"
#include "serve/dash_queue.h"
#include "serve/queue.h"

static char dir[64], path[128];
static void setup(void) {
    test_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/q.jsonl", dir);
}
static void teardown(void) {
    test_rmdir(dir);
}
TestSuite(dash_qsave, .init = setup, .fini = teardown, .timeout = 60);

/* Appends entries [from, to) (every third followed by a decision on an earlier one) in `mark`'s words. */
static void write_lines(int from, int to, const char *mark) {
    FILE *fp = fopen(path, "a");
    cr_assert(fp);
    for (int i = from; i < to; i++) {
        fprintf(fp,
                "{\"kind\":\"entry\",\"id\":\"%s-%d\",\"time\":%d,\"request\":{\"user\":\"fam%d\"},\"completion\":"
                "{\"choices\":[{\"retool\":{\"tool_calls\":[{}],\"wall_s\":%d.5}}],\"retool\":{\"review_reasons\":"
                "[\"tool_failed\"]}}}\n",
                mark, i, 1000 + i, i % 3, i % 4);
        if (i % 3 == 2)
            fprintf(fp, "{\"kind\":\"decision\",\"id\":\"%s-%d\",\"decision\":\"%s\"}\n", mark, i / 2,
                    i % 2 ? "approved" : "rejected");
    }
    fclose(fp);
}

/* A view of the queue; save: write its index after this refresh. */
static void open_view(dash_queue *v, int save) {
    rt_error e;
    cr_assert_eq(dash_queue_init(v, path, &e), RT_OK);
    if (save) v->save_every = 0;
    cr_assert_eq(dash_queue_refresh(v, &e), RT_OK, "%s", e.msg);
}

/* Two views hold the same index; both agree with the loader. */
static void same(const dash_queue *a, const dash_queue *b) {
    cr_assert_eq(a->n, b->n);
    cr_assert_eq(a->nd, b->nd);
    cr_assert_eq(a->lines.n, b->lines.n);
    cr_assert_eq(a->ntags, b->ntags);
    cr_assert(!memcmp(a->lines.off, b->lines.off, (a->lines.n + 1) * sizeof *a->lines.off));
    cr_assert(!memcmp(a->d, b->d, a->nd * sizeof *a->d));
    for (size_t i = 0; i < a->n; i++) {
        cr_assert_str_eq(dash_queue_id(a, i), dash_queue_id(b, i));
        cr_assert_eq(dash_queue_find(b, dash_queue_id(a, i)), (long)i);
        cr_assert(a->e[i].time == b->e[i].time && a->e[i].wall_s == b->e[i].wall_s && a->e[i].line == b->e[i].line);
        cr_assert(a->e[i].status == b->e[i].status && a->e[i].reasons == b->e[i].reasons);
        cr_assert(a->e[i].tool_calls == b->e[i].tool_calls && a->e[i].samples == b->e[i].samples);
        cr_assert_str_eq(a->tags[a->e[i].tag], b->tags[b->e[i].tag]);
    }
    serve_queue q;
    rt_error e;
    cr_assert_eq(serve_queue_load(path, &q, &e), RT_OK, "%s", e.msg);
    cr_assert_eq(q.n, b->n);
    for (size_t i = 0; i < q.n; i++) {
        cr_assert_str_eq(q.items[i].id, dash_queue_id(b, i));
        cr_assert_str_eq(q.items[i].status, dash_status_name(b->e[i].status));
    }
    serve_queue_free(&q);
}

static int idx_exists(void) {
    char *p = dash_qsave_path(path);
    int ok = access(p, F_OK) == 0;
    free(p);
    return ok;
}

Test(dash_qsave, reopened_view_equals_a_built_one_and_reads_appends_on_top) {
    write_lines(0, 500, "a");
    dash_queue built, again;
    open_view(&built, 1);
    cr_assert(idx_exists());
    open_view(&again, 0);
    cr_assert_eq(again.saved, built.lines.off[built.lines.n], "the saved index was not used");
    same(&built, &again);
    dash_queue_free(&again);
    dash_queue_free(&built);
    /* Lines appended after the save: read on top of the saved index. */
    write_lines(500, 800, "a");
    open_view(&again, 0);
    open_view(&built, 0);
    cr_assert_lt(again.saved, again.lines.off[again.lines.n]);
    cr_assert_gt(again.saved, 0);
    dash_queue_free(&built);
    /* built read the saved index too; a view from the lines alone is the truth here. */
    char *p = dash_qsave_path(path);
    cr_assert_eq(unlink(p), 0);
    free(p);
    open_view(&built, 0);
    cr_assert_eq(built.saved, 0);
    same(&built, &again);
    dash_queue_free(&again);
    dash_queue_free(&built);
}

/* The saved index is what is read: a line damaged behind its back (size, mtime and both ends kept) goes unseen. */
Test(dash_qsave, saved_index_is_what_a_reopen_reads) {
    write_lines(0, 400, "a");
    dash_queue v;
    open_view(&v, 1);
    size_t mid = (size_t)v.lines.off[200];
    dash_queue_free(&v);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    int fd = open(path, O_WRONLY);
    cr_assert_eq(pwrite(fd, "#", 1, (off_t)mid), 1);
    struct timespec t[2] = {st.st_atim, st.st_mtim};
    cr_assert_eq(futimens(fd, t), 0);
    close(fd);
    rt_error e;
    cr_assert_eq(dash_queue_init(&v, path, &e), RT_OK);
    cr_assert_eq(dash_queue_refresh(&v, &e), RT_OK, "the reopen read the lines: %s", e.msg);
    cr_assert_eq(v.n, 400);
    dash_queue_free(&v);
    /* With the index gone, the damaged line is read and named. */
    char *p = dash_qsave_path(path);
    cr_assert_eq(unlink(p), 0);
    free(p);
    cr_assert_eq(dash_queue_init(&v, path, &e), RT_OK);
    cr_assert_eq(dash_queue_refresh(&v, &e), RT_EFORMAT);
    cr_assert(strstr(e.msg, ":201:"), "%s", e.msg);
    dash_queue_free(&v);
}

/* Cut, rewritten in place (same size, another mtime), or replaced by another queue: read anew, never the stale
 * index. */
Test(dash_qsave, stale_index_is_not_used) {
    for (int how = 0; how < 3; how++) {
        unlink(path);
        write_lines(0, 300, "a");
        dash_queue v, w;
        open_view(&v, 1);
        uint64_t cut = v.lines.off[150];
        dash_queue_free(&v);
        if (how == 0) {
            cr_assert_eq(truncate(path, (off_t)cut), 0);
        } else if (how == 1) {
            /* Same bytes count, other ids (b instead of a), written a moment later. */
            usleep(20000);
            unlink(path);
            write_lines(0, 300, "b");
        } else {
            unlink(path);
            write_lines(0, 400, "c");
        }
        open_view(&v, 0);
        cr_assert_eq(v.saved, 0, "case %d used a stale index", how);
        char *p = dash_qsave_path(path);
        unlink(p);
        free(p);
        open_view(&w, 0);
        same(&w, &v);
        dash_queue_free(&v);
        dash_queue_free(&w);
    }
}

/* A damaged index file (cut, or bytes changed in its arrays) is not used. */
Test(dash_qsave, damaged_index_is_not_used) {
    write_lines(0, 300, "a");
    char *p = dash_qsave_path(path);
    for (int how = 0; how < 2; how++) {
        dash_queue v, w;
        open_view(&v, 1);
        dash_queue_free(&v);
        struct stat st;
        cr_assert_eq(stat(p, &st), 0);
        if (how == 0) {
            cr_assert_eq(truncate(p, st.st_size - 3), 0);
        } else {
            int fd = open(p, O_WRONLY);
            /* The end offset of the first line, inside the offsets after the header: no longer increasing. */
            uint64_t zero = 0;
            cr_assert_eq(pwrite(fd, &zero, sizeof zero, 104 + 8), (ssize_t)sizeof zero);
            close(fd);
        }
        open_view(&v, 0);
        cr_assert_eq(v.saved, 0, "case %d used a damaged index", how);
        unlink(p);
        open_view(&w, 0);
        same(&w, &v);
        dash_queue_free(&v);
        dash_queue_free(&w);
    }
    free(p);
}
