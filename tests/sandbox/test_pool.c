/* The executor API: results and statuses, files in and out, the bounded queue, callbacks, cancellation, sessions
 * (persistence, timeouts, eviction, memory caps), isolation between consecutive runs, and that freeing the pool
 * leaves no process, descriptor or cgroup behind. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/timer.h"
#include "helpers.h"

static sbx_pool *start(int workers, sbx_config *cfg_out) {
    sbx_config cfg;
    th_config(&cfg, workers);
    if (cfg_out) cfg = *cfg_out;
    sbx_pool *pool;
    rt_error err;
    cr_assert_eq(sbx_pool_init(&pool, &cfg, &err), RT_OK, "%s", err.msg);
    return pool;
}

Test(pool, runs_and_reports, .timeout = 60) {
    sbx_pool *pool = start(1, NULL);
    sbx_result r = th_run(pool, "print(1)", 5);
    cr_expect_eq(r.status, SBX_OK);
    cr_expect_str_eq(r.out, "1\n");
    cr_expect_eq(r.exit_code, 0);
    cr_expect_eq(r.signal, 0);
    cr_expect_gt(r.wall_s, 0.0);
    sbx_result_free(&r);
    /* 2^64 + 1 = 274177 * 67280421310721 (Landry, 1880). */
    r = th_run(pool, "import sympy\nprint(sympy.factorint(2**64+1))", 5);
    cr_expect_str_eq(r.out, "{274177: 1, 67280421310721: 1}\n");
    sbx_result_free(&r);
    r = th_run(pool, "raise ValueError('boom')", 5);
    cr_expect_eq(r.status, SBX_ERROR);
    cr_expect_eq(r.exit_code, 1);
    cr_expect(strstr(r.err, "ValueError: boom") != NULL, "stderr: %s", r.err);
    cr_expect(strstr(r.err, "run_code") == NULL, "the worker's own frames are hidden: %s", r.err);
    sbx_result_free(&r);
    r = th_run(pool, "import sys\nprint('a')\nsys.exit(3)", 5);
    cr_expect_eq(r.status, SBX_ERROR);
    cr_expect_eq(r.exit_code, 3);
    cr_expect_str_eq(r.out, "a\n");
    sbx_result_free(&r);
    r = th_run(pool, "print('unfinished'", 5);
    cr_expect_eq(r.status, SBX_ERROR);
    cr_expect(strstr(r.err, "SyntaxError") != NULL, "stderr: %s", r.err);
    sbx_result_free(&r);
    r = th_run(pool, "import time\ntime.sleep(30)", 1);
    cr_expect_eq(r.status, SBX_TIMEOUT);
    cr_expect_geq(r.wall_s, 0.99);
    cr_expect_lt(r.wall_s, 6.0, "the 30 s sleep was cut at about 1 s");
    sbx_result_free(&r);
    r = th_run(pool, "import ctypes\nctypes.string_at(0)", 5);
    cr_expect_eq(r.status, SBX_ERROR);
    cr_expect_eq(r.signal, SIGSEGV);
    cr_expect_eq(r.exit_code, -1);
    sbx_result_free(&r);
    const char *flood = "import sys\nsys.stdout.write('y' * 5000)";
    sbx_request req = {.code = flood, .code_len = strlen(flood)};
    req.limits.output_bytes = 1000;
    cr_assert_eq(sbx_pool_run(pool, &req, &r, NULL), RT_OK);
    cr_expect_eq(r.status, SBX_OUTPUT_LIMIT);
    cr_expect_eq(r.out_len, 1000u);
    cr_expect(r.out_truncated);
    sbx_result_free(&r);
    sbx_pool_free(pool);
}

Test(pool, stdin_files_and_fetch, .timeout = 60) {
    sbx_pool *pool = start(1, NULL);
    const char *code = "import os\n"
                       "n = int(open('in/data.txt').read())\n"
                       "open('out.txt', 'w').write(str(2 * n + int(input())))\n"
                       "os.symlink('/etc/passwd', 'link.txt')\n"
                       "print(os.getcwd(), sorted(os.listdir('.')))\n";
    sbx_file in = {.name = "in/data.txt", .data = (unsigned char *)"20", .len = 2};
    const char *fetch[] = {"out.txt", "missing.txt", "link.txt"};
    sbx_request req = {.code = code,
                       .code_len = strlen(code),
                       .stdin_data = "2\n",
                       .stdin_len = 2,
                       .files = &in,
                       .nfiles = 1,
                       .fetch = fetch,
                       .nfetch = 3};
    sbx_result r;
    rt_error err;
    cr_assert_eq(sbx_pool_run(pool, &req, &r, &err), RT_OK, "%s", err.msg);
    cr_expect_eq(r.status, SBX_OK, "%s", r.err);
    cr_expect_str_eq(r.out, "/work ['in', 'link.txt', 'out.txt']\n");
    cr_assert_eq(r.nfiles, 1u, "only the regular file comes back: %s", r.message);
    cr_expect_str_eq(r.files[0].name, "out.txt");
    cr_expect_eq(r.files[0].len, 2u);
    cr_expect(memcmp(r.files[0].data, "42", 2) == 0);
    cr_expect(strstr(r.message, "missing.txt") != NULL, "%s", r.message);
    cr_expect(strstr(r.message, "link.txt") != NULL, "a symlink is never followed: %s", r.message);
    sbx_result_free(&r);
    /* Names that leave the work dir are refused before anything runs. */
    const char *bad[] = {"../x", "/etc/passwd", "a/../../x", "a//b", "", "./x"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        sbx_file f = {.name = (char *)bad[i], .data = (unsigned char *)"x", .len = 1};
        sbx_request rq = {.code = "pass", .code_len = 4, .files = &f, .nfiles = 1};
        sbx_job *job;
        cr_expect_eq(sbx_pool_submit(pool, &rq, NULL, NULL, &job, &err), RT_EINVAL, "file name '%s'", bad[i]);
        sbx_request rf = {.code = "pass", .code_len = 4, .fetch = &bad[i], .nfetch = 1};
        cr_expect_eq(sbx_pool_submit(pool, &rf, NULL, NULL, &job, &err), RT_EINVAL, "fetch name '%s'", bad[i]);
    }
    sbx_pool_free(pool);
}

static void wait_running(sbx_pool *pool, int n) {
    double end = rt_time_now() + 10;
    sbx_stats st;
    do {
        sbx_pool_stats(pool, &st);
        if (st.running >= n) return;
        usleep(5000);
    } while (rt_time_now() < end);
    cr_assert_fail("no job started running");
}

Test(pool, bounded_queue_answers_busy, .timeout = 60) {
    sbx_config cfg;
    th_config(&cfg, 1);
    cfg.queue_max = 1;
    sbx_pool *pool = start(1, &cfg);
    sbx_request req = {.code = "import time\ntime.sleep(0.5)", .code_len = 27};
    sbx_job *a, *b, *c;
    rt_error err;
    cr_assert_eq(sbx_pool_submit(pool, &req, NULL, NULL, &a, &err), RT_OK);
    wait_running(pool, 1);
    cr_assert_eq(sbx_pool_submit(pool, &req, NULL, NULL, &b, &err), RT_OK);
    double t0 = rt_time_now();
    cr_expect_eq(sbx_pool_submit(pool, &req, NULL, NULL, &c, &err), RT_EBUSY);
    cr_expect_lt(rt_time_now() - t0, 1.0, "the busy answer is immediate (no wait for the 0.5 s jobs)");
    cr_expect(strstr(err.msg, "busy") != NULL, "%s", err.msg);
    cr_expect(sbx_job_wait(a, 10) && sbx_job_wait(b, 10));
    cr_expect_eq(sbx_job_result(a)->status, SBX_OK);
    cr_expect_eq(sbx_job_result(b)->status, SBX_OK);
    sbx_stats st;
    sbx_pool_stats(pool, &st);
    cr_expect_eq(st.rejected_busy, 1);
    sbx_job_free(a);
    sbx_job_free(b);
    sbx_pool_free(pool);
}

static atomic_int cb_count;
static atomic_int cb_sum;

static void on_done(const sbx_result *res, void *user) {
    atomic_fetch_add(&cb_sum, atoi(res->out) * (int)(intptr_t)user);
    atomic_fetch_add(&cb_count, 1);
}

Test(pool, callbacks_and_cancel, .timeout = 60) {
    sbx_pool *pool = start(2, NULL);
    rt_error err;
    for (int i = 1; i <= 6; i++) {
        char code[64];
        snprintf(code, sizeof code, "print(%d * %d)", i, i);
        sbx_request req = {.code = code, .code_len = strlen(code)};
        cr_assert_eq(sbx_pool_submit(pool, &req, on_done, (void *)(intptr_t)1, NULL, &err), RT_OK);
    }
    double end = rt_time_now() + 20;
    while (atomic_load(&cb_count) < 6 && rt_time_now() < end)
        usleep(2000);
    cr_expect_eq(atomic_load(&cb_count), 6);
    cr_expect_eq(atomic_load(&cb_sum), 1 + 4 + 9 + 16 + 25 + 36);
    /* Freeing a running job kills its process tree; the pool goes on answering. */
    sbx_request slow = {.code = "import time\ntime.sleep(100)", .code_len = 27};
    slow.limits.wall_s = 100;
    sbx_job *job;
    cr_assert_eq(sbx_pool_submit(pool, &slow, NULL, NULL, &job, &err), RT_OK);
    wait_running(pool, 1);
    sbx_job_free(job);
    sbx_result r = th_run(pool, "print(7)", 5);
    cr_expect_str_eq(r.out, "7\n");
    sbx_result_free(&r);
    sbx_pool_free(pool);
}

Test(pool, sessions_keep_state, .timeout = 60) {
    sbx_pool *pool = start(1, NULL);
    sbx_session *s;
    rt_error err;
    sbx_limits lim = {.memory_mb = 200};
    cr_assert_eq(sbx_session_open(pool, &lim, NULL, 0, &s, &err), RT_OK, "%s", err.msg);
    sbx_result r;
    cr_assert_eq(sbx_session_run(s, "x = 41", 6, NULL, &r, &err), RT_OK);
    cr_expect_eq(r.status, SBX_OK);
    sbx_result_free(&r);
    cr_assert_eq(sbx_session_run(s, "x + 1", 5, NULL, &r, &err), RT_OK);
    cr_expect_str_eq(r.out, "42\n", "the final expression is shown, as in a notebook");
    sbx_result_free(&r);
    /* A stateless run in between does not see the session's variables. */
    sbx_result o = th_run(pool, "print('x' in globals())", 5);
    cr_expect_str_eq(o.out, "False\n");
    sbx_result_free(&o);
    cr_assert_eq(sbx_session_run(s, "undefined_name", 14, NULL, &r, &err), RT_OK);
    cr_expect_eq(r.status, SBX_ERROR);
    cr_expect(strstr(r.err, "NameError") != NULL);
    sbx_result_free(&r);
    const char *big = "a = bytearray(400 << 20)";
    cr_assert_eq(sbx_session_run(s, big, strlen(big), NULL, &r, &err), RT_OK);
    cr_expect_eq(r.status, SBX_MEMORY, "the session's memory cap holds: %s", r.err);
    sbx_result_free(&r);
    cr_assert_eq(sbx_session_run(s, "print(x)", 8, NULL, &r, &err), RT_OK);
    cr_expect_str_eq(r.out, "41\n", "state survives an exception in a cell");
    sbx_result_free(&r);
    sbx_limits cell = {.wall_s = 1};
    cr_assert_eq(sbx_session_run(s, "while True: pass", 16, &cell, &r, &err), RT_OK);
    cr_expect_eq(r.status, SBX_TIMEOUT);
    sbx_result_free(&r);
    cr_expect(!sbx_session_alive(s));
    cr_assert_eq(sbx_session_run(s, "print(x)", 8, NULL, &r, &err), RT_OK);
    cr_expect_eq(r.status, SBX_SANDBOX_ERROR, "a killed session refuses later cells");
    sbx_result_free(&r);
    sbx_session_close(s);
    sbx_stats st;
    sbx_pool_stats(pool, &st);
    cr_expect_eq(st.sessions, 0);
    sbx_pool_free(pool);
}

Test(pool, sessions_are_evicted_when_idle, .timeout = 60) {
    sbx_config cfg;
    th_config(&cfg, 1);
    cfg.session_idle_s = 0.5;
    sbx_pool *pool = start(1, &cfg);
    sbx_session *s;
    rt_error err;
    cr_assert_eq(sbx_session_open(pool, NULL, NULL, 0, &s, &err), RT_OK, "%s", err.msg);
    sbx_result r;
    cr_assert_eq(sbx_session_run(s, "v = 1", 5, NULL, &r, &err), RT_OK);
    sbx_result_free(&r);
    cr_expect(sbx_session_alive(s));
    usleep(1500 * 1000);
    cr_expect(!sbx_session_alive(s), "evicted after 0.5 s idle");
    cr_assert_eq(sbx_session_run(s, "print(v)", 8, NULL, &r, &err), RT_OK);
    cr_expect_eq(r.status, SBX_SANDBOX_ERROR);
    sbx_result_free(&r);
    sbx_session_close(s);
    sbx_pool_free(pool);
}

/* One worker, so both runs go through the same worker: nothing of the first may be visible to the second. */
Test(pool, nothing_persists_between_runs, .timeout = 60) {
    sbx_pool *pool = start(1, NULL);
    const char *a = "import ctypes, os, socket\n"
                    "for p in ('/tmp/left', '/dev/shm/left', '/work/left'):\n"
                    "    open(p, 'w').write('x')\n"
                    "libc = ctypes.CDLL(None, use_errno=True)\n"
                    "print(libc.shmget(4242, 4096, 0o1666) >= 0)\n"
                    "s = socket.socket(socket.AF_UNIX); s.bind('\\0retool-left'); s.listen()\n";
    sbx_result r = th_run(pool, a, 5);
    cr_expect_str_eq(r.out, "True\n", "%s", r.err);
    sbx_result_free(&r);
    const char *b = "import ctypes, os, socket\n"
                    "print([p for p in ('/tmp/left', '/dev/shm/left', '/work/left') if os.path.exists(p)])\n"
                    "libc = ctypes.CDLL(None, use_errno=True)\n"
                    "print(libc.shmget(4242, 4096, 0o666) >= 0)\n"
                    "s = socket.socket(socket.AF_UNIX)\n"
                    "try:\n    s.connect('\\0retool-left'); print('connected')\n"
                    "except OSError as e: print('refused')\n";
    r = th_run(pool, b, 5);
    cr_expect_str_eq(r.out, "[]\nFalse\nrefused\n", "%s", r.err);
    sbx_result_free(&r);
    sbx_pool_free(pool);
}

/* A run's daemonised grandchild (killed only when its pid namespace's init has exited) holds an abstract socket in the
 * network namespace that every run of the worker shares: the next run on that worker, started at once, must never
 * reach it (the worker reaps the last run's whole tree before it reads the next job). 20 pairs, back to back. */
Test(pool, a_runs_grandchild_is_gone_before_the_next_run, .timeout = 60) {
    sbx_pool *pool = start(1, NULL);
    const char *a = "import os, socket, time\n"
                    "r, w = os.pipe()\n"
                    "if os.fork() == 0:\n"
                    "    os.setsid()\n"
                    "    if os.fork() == 0:\n"
                    "        s = socket.socket(socket.AF_UNIX); s.bind('\\0retool-linger'); s.listen()\n"
                    "        os.write(w, b'b')\n"
                    "        while True: pass\n"
                    "    os._exit(0)\n"
                    "print(os.read(r, 1) == b'b')\n";
    const char *b = "import socket\n"
                    "s = socket.socket(socket.AF_UNIX)\n"
                    "try:\n    s.connect('\\0retool-linger'); print('connected')\n"
                    "except OSError: print('refused')\n";
    for (int i = 0; i < 20; i++) {
        sbx_result r = th_run(pool, a, 5);
        cr_assert_str_eq(r.out, "True\n", "pair %d: the grandchild never bound its socket: %s", i, r.err);
        sbx_result_free(&r);
        r = th_run(pool, b, 5);
        cr_assert_str_eq(r.out, "refused\n", "pair %d: the next run reached the last run's grandchild: %s", i, r.err);
        sbx_result_free(&r);
    }
    sbx_pool_free(pool);
}

Test(pool, free_leaves_nothing, .timeout = 60) {
    int fds = th_count_fds();
    sbx_config cfg;
    th_config(&cfg, 2);
    sbx_pool *pool = start(2, &cfg);
    int pids[4];
    cr_expect_eq(sbx_pool_worker_pids(pool, pids, 4), 2);
    cr_expect_geq(th_count_uid_procs(cfg.uid_base), 2, "workers run as the mapped uid");
    sbx_session *s;
    rt_error err;
    cr_assert_eq(sbx_session_open(pool, NULL, NULL, 0, &s, &err), RT_OK);
    const char *code = "import os, time\nif os.fork() == 0: time.sleep(100)\ntime.sleep(100)";
    sbx_request req = {.code = code, .code_len = strlen(code)};
    req.limits.wall_s = 100;
    sbx_job *job;
    cr_assert_eq(sbx_pool_submit(pool, &req, NULL, NULL, &job, &err), RT_OK);
    wait_running(pool, 1);
    sbx_pool_free(pool);
    cr_expect(sbx_job_done(job));
    cr_expect_eq(sbx_job_result(job)->status, SBX_SANDBOX_ERROR);
    sbx_job_free(job);
    sbx_session_close(s);
    cr_expect_eq(th_count_uid_procs(cfg.uid_base), 0, "no sandbox process survives the pool");
    for (int i = 0; i < 2; i++)
        cr_expect(kill(pids[i], 0) != 0, "worker %d is gone", pids[i]);
    cr_expect_eq(th_count_fds(), fds, "every descriptor is closed");
    cr_expect_eq(th_count_cgroups(), 0, "every worker cgroup is removed");
}

/* Each run forks from the same worker: without reseeding, every run would draw the same "random" numbers. */
Test(pool, runs_get_their_own_random_streams, .timeout = 60) {
    sbx_pool *pool = start(1, NULL);
    char seen[3][128];
    for (int i = 0; i < 3; i++) {
        sbx_result r =
            th_run(pool, "import numpy, random\nprint(numpy.random.randint(1 << 30), random.getrandbits(30))", 5);
        cr_assert_eq(r.status, SBX_OK, "%s", r.err);
        snprintf(seen[i], sizeof seen[i], "%s", r.out);
        sbx_result_free(&r);
    }
    cr_expect(strcmp(seen[0], seen[1]) && strcmp(seen[1], seen[2]) && strcmp(seen[0], seen[2]), "%s%s%s", seen[0],
              seen[1], seen[2]);
    sbx_pool_free(pool);
}

/* With both tiers up, a program that names no numpy/sympy runs on a light worker (numpy not preloaded there), one
 * that does runs on a full worker, sessions always live on full workers, and a program that imports numpy by a
 * name the router cannot see still runs correctly on the light tier (it only pays for the import). */
Test(pool, light_tier_routing, .timeout = 120) {
    sbx_config cfg;
    th_config(&cfg, 1);
    cfg.light_workers = 1;
    sbx_pool *pool = start(1, &cfg);
    sbx_stats st;
    sbx_pool_stats(pool, &st);
    cr_expect_eq(st.workers, 2);
    cr_expect_eq(st.light_workers, 1);
    /* (the probe spells the package names in pieces: naming them would send it to the full tier) */
    const char *probe = "import sys\nprint(*[('num' + 'py') in sys.modules, ('sym' + 'py') in sys.modules])";
    sbx_result r = th_run(pool, probe, 10);
    cr_expect_str_eq(r.out, "False False\n", "plain code runs on the light tier: %s%s", r.out, r.err);
    sbx_result_free(&r);
    char named[200];
    snprintf(named, sizeof named, "%s  # sympy", probe);
    r = th_run(pool, named, 10);
    cr_expect_str_eq(r.out, "True True\n", "code naming sympy runs on the full tier: %s", r.err);
    sbx_result_free(&r);
    r = th_run(pool, "m = getattr(__builtins__, '__imp' + 'ort__')('num' + 'py')\nprint(m.arange(4).sum())", 30);
    cr_expect_eq(r.status, SBX_OK, "%s", r.err);
    cr_expect_str_eq(r.out, "6\n", "a hidden import still works on the light tier");
    sbx_result_free(&r);
    sbx_session *s;
    rt_error err;
    cr_assert_eq(sbx_session_open(pool, NULL, NULL, 0, &s, &err), RT_OK, "%s", err.msg);
    const char *cell = "import sys\n('num' + 'py') in sys.modules";
    cr_assert_eq(sbx_session_run(s, cell, strlen(cell), NULL, &r, &err), RT_OK);
    cr_expect_str_eq(r.out, "True\n", "sessions live on the full tier: %s", r.err);
    sbx_result_free(&r);
    sbx_session_close(s);
    /* Many light runs at once: every one answers, none waits on the full worker. */
    sbx_job *jobs[12];
    sbx_request req = {.code = "print(sum(range(10)))", .code_len = 21};
    for (int i = 0; i < 12; i++)
        cr_assert_eq(sbx_pool_submit(pool, &req, NULL, NULL, &jobs[i], &err), RT_OK);
    for (int i = 0; i < 12; i++) {
        cr_assert(sbx_job_wait(jobs[i], 30));
        cr_expect_str_eq(sbx_job_result(jobs[i])->out, "45\n");
        sbx_job_free(jobs[i]);
    }
    sbx_pool_free(pool);
}

/* A program larger than the worker's 64 KiB code buffer takes the other hand-over path; a multi-byte one comes back
 * unchanged on both tiers. */
Test(pool, large_and_unicode_programs, .timeout = 60) {
    sbx_config cfg;
    th_config(&cfg, 1);
    cfg.light_workers = 1;
    sbx_pool *pool = start(1, &cfg);
    size_t pad = 150000;
    char *big = malloc(pad + 64);
    memset(big, '#', pad);
    big[pad - 1] = '\n';
    strcpy(big + pad, "print('big ok')");
    sbx_result r = th_run(pool, big, 10);
    cr_expect_str_eq(r.out, "big ok\n", "%s", r.err);
    sbx_result_free(&r);
    free(big);
    r = th_run(pool, "print('h\xc3\xa9llo', 6 * 7)", 10);
    cr_expect_str_eq(r.out, "h\xc3\xa9llo 42\n", "%s", r.err);
    sbx_result_free(&r);
    r = th_run(pool, "import numpy\nprint('h\xc3\xa9llo', int(numpy.int64(42)))", 10);
    cr_expect_str_eq(r.out, "h\xc3\xa9llo 42\n", "%s", r.err);
    sbx_result_free(&r);
    sbx_pool_free(pool);
}
