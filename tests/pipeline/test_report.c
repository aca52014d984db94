/* The HTML report from synthetic runs: one <svg> per present metric, polyline points = logged steps (missing values
 * skipped), hostile text escaped, nothing external, errors naming file:line; the escaper and tick maker alone. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../base/tmpdir.h"
#include "base/fileio.h"
#include "base/json.h"
#include "helpers.h"
#include "pipeline/html.h"
#include "pipeline/report.h"
#include "pipeline/svg.h"

static char dir[256];
static void setup(void) {
    test_tmpdir(dir, sizeof dir);
}
static void teardown(void) {
    test_rmdir(dir);
}
TestSuite(report, .init = setup, .fini = teardown);

static void put(const char *path, const char *text) {
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, path);
    char *slash = strrchr(p, '/');
    *slash = '\0';
    rt_error e;
    cr_assert_eq(rt_mkdir_p(p, &e), RT_OK);
    *slash = '/';
    FILE *fp = fopen(p, "wb");
    cr_assert_not_null(fp);
    fputs(text, fp);
    fclose(fp);
}

static char *slurp(const char *path) {
    char *s;
    size_t n;
    rt_error e;
    cr_assert_eq(rt_file_read_all(path, &s, &n, &e), RT_OK, "%s", e.msg);
    return s;
}

/* The <svg> element whose <title> starts with title, as a malloc'd copy, or NULL. */
static char *find_svg(const char *html, const char *title) {
    char want[256];
    snprintf(want, sizeof want, "<title>%s", title);
    for (const char *p = html; (p = strstr(p, "<svg")); p++) {
        const char *end = strstr(p, "</svg>");
        cr_assert_not_null(end);
        const char *t = strstr(p, "<title>");
        if (t && t < end && strncmp(t, want, strlen(want)) == 0) return strndup(p, (size_t)(end - p));
    }
    return NULL;
}

static size_t count(const char *s, const char *needle) {
    size_t n = 0;
    for (const char *p = s; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* Point counts of the polylines in an svg, in order, into pts; returns how many polylines. */
static size_t polyline_points(const char *svg, size_t *pts, size_t max) {
    size_t n = 0;
    for (const char *p = svg; (p = strstr(p, "<polyline")) && n < max; p++) {
        const char *a = strstr(p, "points=\"") + 8;
        const char *end = strchr(a, '"');
        size_t k = 0;
        for (const char *q = a; q < end; q++)
            k += *q == ',';
        pts[n++] = k;
    }
    return n;
}

static void write_rollouts(const char *run, int step, rollout_trajectory *t, size_t n) {
    char p[1024];
    snprintf(p, sizeof p, "%s/%s/rollouts", dir, run);
    rt_error e;
    cr_assert_eq(rt_mkdir_p(p, &e), RT_OK);
    snprintf(p, sizeof p, "%s/%s/rollouts/step-%d.jsonl", dir, run, step);
    FILE *fp = fopen(p, "w");
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(rollout_trajectory_write(fp, &t[i], &e), RT_OK);
    fclose(fp);
}

static const char *HOSTILE = "</script><script>alert(\"x\")</script> & 'q' <b>bold</b>";

static void make_runs(void) {
    put("tool/metrics.jsonl",
        "{\"step\": 1, \"accuracy\": 0.1, \"reward\": -0.8, \"code_ratio\": 0.2, \"response_length\": 300, \"kl\": 0}\n"
        "{\"step\": 2, \"accuracy\": 0.2, \"reward\": -0.6, \"code_ratio\": 0.5, \"response_length\": 280, \"kl\": "
        "0.01,"
        " \"phase\": \"rl\"}\n"
        "\n"
        "{\"step\": 3, \"accuracy\": 0.4, \"reward\": -0.2, \"code_ratio\": 0.7, \"response_length\": 250, \"kl\": "
        "0.02}\n"
        "{\"step\": 5, \"accuracy\": 0.6, \"reward\": 0.2, \"code_ratio\": 0.9, \"response_length\": 200, \"kl\": 0.03,"
        " \"grad_norm\": 1.5}\n"
        "{\"step\": 4, \"accuracy\": 0.5, \"reward\": 0.0, \"code_ratio\": 0.8, \"response_length\": 220, \"kl\": "
        "null}\n");
    put("text/metrics.jsonl", "{\"step\": 0, \"accuracy\": 0.05, \"code_ratio\": 0, \"entropy\": 2.0}\n"
                              "{\"step\": 1, \"accuracy\": 0.07, \"code_ratio\": 0, \"entropy\": 1.9}\n"
                              "{\"step\": 2, \"accuracy\": 0.08, \"entropy\": 1.8}\n"
                              "{\"step\": 3, \"accuracy\": 0.08, \"code_ratio\": 0, \"entropy\": 1.7}\n");
    rollout_trajectory t[2];
    call_spec c[] = {{"print(2**10)", ROLLOUT_EXEC_OK, 0}};
    char text[512];
    snprintf(text, sizeof text,
             "Compute it. %s\n<code>\n```python\nprint(2**10)\n```\n</code>\n<interpreter>\n1024 %s\n</interpreter>\n\n"
             "So <answer>\n\\boxed{1024}\n</answer>",
             HOSTILE, HOSTILE);
    make_traj(&t[0], "p0-s0<i>", 0, 0, 5, 3, c, 1, "1024\"><b>", 1, 0, text);
    make_traj(&t[1], "p1-s0", 1, 0, 5, 0, NULL, 0, NULL, -1, ROLLOUT_FLAG_NO_ANSWER, "plain text only");
    write_rollouts("tool", 2, t, 1);
    write_rollouts("tool", 10, t, 2); /* the newest: 10 > 2 although "step-10" < "step-2" as text */
    rollout_trajectory_free(&t[0]);
    rollout_trajectory_free(&t[1]);
}

Test(report, charts_points_and_final_values) {
    make_runs();
    char tool[300], text[300], out[300];
    snprintf(tool, sizeof tool, "%s/tool", dir);
    snprintf(text, sizeof text, "%s/text/", dir);
    snprintf(out, sizeof out, "%s/report.html", dir);
    const char *runs[] = {tool, text};
    pipe_report_options opt = {.runs = runs, .n_runs = 2, .out_path = out, .samples = 5};
    rt_error e;
    cr_assert_eq(pipe_report_write(&opt, &e), RT_OK, "%s", e.msg);
    char *html = slurp(out);
    /* Present: accuracy, reward, response_length, code_ratio, kl, entropy (known) + grad_norm (other). */
    cr_expect_eq(count(html, "<svg"), 7u);
    cr_expect_eq(count(html, "</svg>"), 7u);
    size_t pts[8];
    char *svg = find_svg(html, "Accuracy");
    cr_assert_not_null(svg);
    cr_assert_eq(polyline_points(svg, pts, 8), 2u);
    cr_expect_eq(pts[0], 5u);
    cr_expect_eq(pts[1], 4u);
    cr_expect(strstr(svg, ">tool<") && strstr(svg, ">text<"), "legend names both runs");
    free(svg);
    svg = find_svg(html, "Code ratio");
    cr_assert_eq(polyline_points(svg, pts, 8), 2u);
    cr_expect_eq(pts[1], 3u, "the text run lacks code_ratio at step 2");
    free(svg);
    svg = find_svg(html, "KL");
    cr_assert_eq(polyline_points(svg, pts, 8), 1u, "only the tool run logs kl");
    cr_expect_eq(pts[0], 4u, "kl is null at step 4");
    free(svg);
    svg = find_svg(html, "grad_norm");
    cr_assert_eq(polyline_points(svg, pts, 8), 1u);
    cr_expect_eq(pts[0], 1u);
    cr_expect_eq(count(svg, "<circle"), 1u, "a single point is drawn as a dot");
    free(svg);
    cr_expect_null(find_svg(html, "Code lines"), "no run logs code_lines");
    /* The accuracy polyline runs in step order: x grows along the points although line order was 1,2,3,5,4. */
    svg = find_svg(html, "Accuracy");
    const char *a = strstr(strstr(svg, "<polyline"), "points=\"") + 8;
    double prev = -1;
    for (int i = 0; i < 5; i++) {
        double x = strtod(a, (char **)&a);
        cr_expect_gt(x, prev);
        prev = x;
        a = strchr(a, ' ');
        if (!a) break;
        a++;
    }
    free(svg);
    /* Final values: accuracy of tool at its last step (5) is 0.6; text's code_ratio is 0. */
    cr_expect(strstr(html, "<td class=\"k\">accuracy</td><td>0.6</td><td>0.08</td>"), "final accuracy row");
    cr_expect(strstr(html, "<td class=\"k\">kl</td><td>0.03</td><td>-</td>"), "kl row");
    /* Samples from the newest rollouts only. */
    cr_expect(strstr(html, "rollouts/step-10.jsonl</code>: 2 of 2"), "newest rollouts file");
    cr_expect(strstr(html, "No rollouts in this run."), "text run has none");
    free(html);
}

Test(report, escaping_and_self_contained) {
    make_runs();
    char tool[300], out[300];
    snprintf(tool, sizeof tool, "%s/tool", dir);
    snprintf(out, sizeof out, "%s/r.html", dir);
    const char *runs[] = {tool};
    pipe_report_options opt = {.runs = runs, .n_runs = 1, .out_path = out, .samples = 3, .title = "T <&> \"x\""};
    rt_error e;
    cr_assert_eq(pipe_report_write(&opt, &e), RT_OK, "%s", e.msg);
    char *html = slurp(out);
    cr_expect_null(strstr(html, "<script"), "no script element, hostile text escaped");
    cr_expect_null(strstr(html, "http://"));
    cr_expect_null(strstr(html, "https://"));
    cr_expect_null(strstr(html, "<img"));
    cr_expect_null(strstr(html, "<link"));
    cr_expect_null(strstr(html, "url("));
    cr_expect_null(strstr(html, "@import"));
    cr_expect_null(strstr(html, "<b>bold"));
    cr_expect_null(strstr(html, "<i>"));
    cr_expect(strstr(html, "&lt;/script&gt;&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;q&#39; "
                           "&lt;b&gt;bold&lt;/b&gt;"));
    cr_expect(strstr(html, "<title>T &lt;&amp;&gt; &quot;x&quot;</title>"));
    cr_expect(strstr(html, "1024&quot;&gt;&lt;b&gt;"), "answer escaped");
    cr_expect(strstr(html, "p0-s0&lt;i&gt;"), "id escaped");
    /* The parts of the response are told apart. */
    cr_expect(strstr(html, "<div class=\"code\"><div class=\"tag\">code (model)</div><pre>```python\nprint(2**10)\n```"
                           "</pre></div>"));
    cr_expect(strstr(html, "<div class=\"interp\"><div class=\"tag\">interpreter output (call 1: ok)</div><pre>1024 "));
    cr_expect(strstr(html, "<div class=\"ans\"><div class=\"tag\">answer</div><pre>\\boxed{1024}</pre></div>"));
    size_t bad;
    cr_expect(rt_utf8_valid(html, strlen(html), &bad), "valid UTF-8 (bad at %zu)", bad);
    free(html);
}

Test(report, invalid_utf8_and_controls_in_a_trajectory) {
    rollout_trajectory t;
    call_spec c[] = {{"x", ROLLOUT_EXEC_ERROR, 0}};
    make_traj(
        &t, "id", 0, 0, 1, 0, c, 1, "\xff", -1, 0,
        "a\xff\xfe b\xc0\xaf c\x01\x7f d\xe2\x82 \xf0\x9f\x98\x80 <code>q</code><interpreter>NameError</interpreter>");
    pipe_buf b;
    pipe_buf_init(&b);
    pipe_report_trajectory(&b, &t);
    cr_assert(!b.failed);
    size_t bad;
    cr_expect(rt_utf8_valid(b.data, b.len, &bad), "bad at %zu: %s", bad, b.data);
    cr_expect(strstr(b.data, "a\xEF\xBF\xBD\xEF\xBF\xBD b\xEF\xBF\xBD\xEF\xBF\xBD c\xEF\xBF\xBD\xEF\xBF\xBD d"
                             "\xEF\xBF\xBD\xEF\xBF\xBD \xf0\x9f\x98\x80 "),
              "%s", b.data);
    cr_expect(strstr(b.data, "<div class=\"interp err\"><div class=\"tag\">interpreter output (call 1: error)"));
    pipe_buf_free(&b);
    rollout_trajectory_free(&t);
}

Test(report, html_escape_exact) {
    pipe_buf b;
    pipe_buf_init(&b);
    const char in[] = "<a href='x'>&amp;\"</a>\t\n\xc3\xa9\x00z";
    pipe_html_escape(&b, in, sizeof in - 1);
    const char want[] = "&lt;a href=&#39;x&#39;&gt;&amp;amp;&quot;&lt;/a&gt;\t\n\xc3\xa9\xEF\xBF\xBDz";
    cr_expect_eq(b.len, sizeof want - 1);
    cr_expect_eq(memcmp(b.data, want, sizeof want - 1), 0, "%s", b.data);
    pipe_buf_free(&b);
}

Test(report, ticks) {
    double t[32];
    size_t n = pipe_svg_ticks(0, 1, 5, 0, t, 32);
    cr_assert_eq(n, 6u);
    for (size_t i = 0; i < n; i++)
        cr_expect_float_eq(t[i], 0.2 * (double)i, 1e-12);
    n = pipe_svg_ticks(1, 3, 6, 1, t, 32);
    cr_assert_eq(n, 3u, "integer steps only");
    cr_expect_float_eq(t[0], 1, 0);
    n = pipe_svg_ticks(-35, 480, 5, 0, t, 32);
    cr_expect_float_eq(t[1] - t[0], 100, 1e-9);
    cr_expect_float_eq(t[0], 0, 0);
    cr_expect_eq(pipe_svg_ticks(2, 2, 5, 0, t, 32), 0u);
}

static void expect_bad(const char *metrics, const char *want1, const char *want2) {
    put("bad/metrics.jsonl", metrics);
    char run[300], out[300];
    snprintf(run, sizeof run, "%s/bad", dir);
    snprintf(out, sizeof out, "%s/bad.html", dir);
    const char *runs[] = {run};
    pipe_report_options opt = {.runs = runs, .n_runs = 1, .out_path = out, .samples = 1};
    rt_error e;
    cr_expect_neq(pipe_report_write(&opt, &e), RT_OK);
    cr_expect(strstr(e.msg, "run ") && strstr(e.msg, run), "names the run: %s", e.msg);
    cr_expect(strstr(e.msg, want1) && strstr(e.msg, want2), "got '%s'", e.msg);
    cr_expect(!rt_path_exists(out), "no report written");
}

Test(report, bad_metrics_lines_name_file_and_line) {
    expect_bad("{\"step\": 1, \"reward\": 1}\n{\"step\": 2, \"reward\": \n{\"step\": 3}\n", "metrics.jsonl:2", "");
    expect_bad("{\"step\": 1}\n{\"step\": 2}\n{\"reward\": 0.5}\n", "metrics.jsonl:3", "step");
    expect_bad("{\"step\": 1.5}\n", "metrics.jsonl:1", "step");
    expect_bad("[1, 2]\n", "metrics.jsonl:1", "object");
}

Test(report, config_shown_escaped_and_same_names_told_apart) {
    put("a/run/metrics.jsonl", "{\"step\": 1, \"reward\": 1}\n");
    put("a/run/config.json", "{\"algo\": \"ppo</pre><b>\", \"lr\": 1e-6}\n");
    put("b/run/metrics.jsonl", "{\"step\": 1, \"reward\": 0}\n");
    char a[300], b2[300], out[300];
    snprintf(a, sizeof a, "%s/a/run", dir);
    snprintf(b2, sizeof b2, "%s/b/run", dir);
    snprintf(out, sizeof out, "%s/r.html", dir);
    const char *runs[] = {a, b2};
    pipe_report_options opt = {.runs = runs, .n_runs = 2, .out_path = out};
    rt_error e;
    cr_assert_eq(pipe_report_write(&opt, &e), RT_OK, "%s", e.msg);
    char *html = slurp(out);
    cr_expect(strstr(html, "<summary>config.json</summary>"));
    cr_expect(strstr(html, "ppo&lt;/pre&gt;&lt;b&gt;"));
    char *svg = find_svg(html, "Mean reward");
    cr_assert_not_null(svg);
    char want[400];
    snprintf(want, sizeof want, ">%s/a/run<", dir);
    cr_expect(strstr(svg, want), "full path in the legend: %s", svg);
    snprintf(want, sizeof want, ">%s/b/run<", dir);
    cr_expect(strstr(svg, want), "full path in the legend: %s", svg);
    free(svg);
    free(html);
    put("a/run/config.json", "{\"algo\": \n");
    cr_expect_neq(pipe_report_write(&opt, &e), RT_OK);
    cr_expect(strstr(e.msg, "config.json:") && strstr(e.msg, "run "), "%s", e.msg);
}

Test(report, missing_run_and_bad_rollouts) {
    char run[300], out[300];
    snprintf(run, sizeof run, "%s/nothing", dir);
    snprintf(out, sizeof out, "%s/x.html", dir);
    const char *runs[] = {run};
    pipe_report_options opt = {.runs = runs, .n_runs = 1, .out_path = out, .samples = 1};
    rt_error e;
    cr_expect_eq(pipe_report_write(&opt, &e), RT_ENOTFOUND);
    cr_expect(strstr(e.msg, "nothing") && strstr(e.msg, "metrics.jsonl"), "%s", e.msg);
    put("r/metrics.jsonl", "{\"step\": 1, \"reward\": 1}\n");
    put("r/rollouts/step-3.jsonl", "{\"version\": 1}\n");
    snprintf(run, sizeof run, "%s/r", dir);
    cr_expect_neq(pipe_report_write(&opt, &e), RT_OK);
    cr_expect(strstr(e.msg, "step-3.jsonl:1"), "%s", e.msg);
    opt.samples = 0; /* no samples asked: the rollouts are not read */
    cr_expect_eq(pipe_report_write(&opt, &e), RT_OK, "%s", e.msg);
    cr_expect(rt_path_exists(out));
}
