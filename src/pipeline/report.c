#include "pipeline/report.h"

#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/json.h"
#include "pipeline/html.h"
#include "pipeline/runlog.h"
#include "pipeline/svg.h"
#include "rollout/protocol.h"

#define REPORT_VERSION 1
#define REPORT_MAX_RUNS 64 /* series per chart (svg.c lays out at most 64 legend entries) */

static const char *const palette[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                                      "#9467bd", "#8c564b", "#e377c2", "#17becf"};
#define NPALETTE (sizeof palette / sizeof palette[0])

/* The method's curves, in the order shown, with their chart titles. Other numeric metrics follow. */
static const struct {
    const char *key;
    const char *title;
} known[] = {
    {"accuracy", "Accuracy (training prompts)"},
    {"reward", "Mean reward"},
    {"response_length", "Response length (tokens)"},
    {"code_ratio", "Code ratio (responses with code)"},
    {"code_lines", "Code lines per response"},
    {"correct_code", "Correct code calls per response"},
    {"code_pass_rate", "Code pass rate"},
    {"invocation_timing", "Code invocation timing (first code / length)"},
    {"tool_calls", "Tool calls per response"},
    {"tool_errors", "Tool errors"},
    {"self_corrections", "Self-corrections"},
    {"kl", "KL divergence"},
    {"entropy", "Entropy"},
    {"loss", "Loss"},
};
#define NKNOWN (sizeof known / sizeof known[0])

static const char *css =
    "body{font-family:sans-serif;margin:20px;color:#222;background:#fafafa}"
    "h1{font-size:22px}h2{font-size:18px;margin-top:28px;border-bottom:1px solid #ccc}"
    ".charts{display:flex;flex-wrap:wrap;gap:12px}"
    ".chart{border:1px solid #ddd;background:#fff}"
    ".ct{font-size:13px;font-weight:bold;fill:#222}.tk{font-size:11px;fill:#444}.lg{font-size:11px;fill:#222}"
    "table{border-collapse:collapse;background:#fff}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right;"
    "font-size:13px}th{background:#eee}td.k,th.k{text-align:left}"
    ".traj{border:1px solid #bbb;background:#fff;margin:14px 0;padding:8px 12px}"
    ".meta{font-size:13px;color:#333;margin-bottom:6px}.ok{color:#1a7f37;font-weight:bold}"
    ".bad{color:#b42318;font-weight:bold}"
    "pre{white-space:pre-wrap;word-break:break-word;margin:4px 0;font-size:12.5px}"
    ".txt{font-family:serif;font-size:14px;color:#111}"
    ".code{background:#eef4ff;border-left:4px solid #1f5fbf;padding:4px 8px;margin:6px 0}"
    ".interp{background:#f3f3f3;border-left:4px solid #777;padding:4px 8px;margin:6px 0}"
    ".interp.err{background:#fff0ef;border-left-color:#b42318}"
    ".ans{background:#eefbea;border-left:4px solid #1a7f37;padding:4px 8px;margin:6px 0}"
    ".tag{font-size:11px;font-family:monospace;color:#555}"
    "details{margin:4px 0}summary{cursor:pointer;font-size:13px}";

/* Last path component of a run directory (trailing slashes ignored), malloc'd. */
static char *run_label(const char *path) {
    size_t len = strlen(path);
    while (len > 1 && path[len - 1] == '/')
        len--;
    size_t start = len;
    while (start > 0 && path[start - 1] != '/')
        start--;
    return strndup(path + start, len - start);
}

typedef struct run_data {
    const char *path;
    char *label;
    pipe_runlog log;
    double *x;     /* steps as doubles */
    cJSON *config; /* RUN/config.json, or NULL when the run has none */
} run_data;

static void text_block(pipe_buf *b, const char *cls, const char *tag, const char *s, size_t len) {
    /* One newline right after the opening tag and one before the closing tag belong to the protocol. */
    if (len > 0 && s[0] == '\n') s++, len--;
    if (len > 0 && s[len - 1] == '\n') len--;
    pipe_buf_printf(b, "<div class=\"%s\"><div class=\"tag\">%s</div><pre>", cls, tag);
    pipe_html_escape(b, s, len);
    pipe_buf_puts(b, "</pre></div>\n");
}

static const char *const open_tags[] = {ROLLOUT_CODE_OPEN, ROLLOUT_INTERP_OPEN, ROLLOUT_ANSWER_OPEN};
static const char *const close_tags[] = {ROLLOUT_CODE_CLOSE, ROLLOUT_INTERP_CLOSE, ROLLOUT_ANSWER_CLOSE};
enum { TAG_CODE, TAG_INTERP, TAG_ANSWER };

/* The first of the three opening tags at or after p (its index in *which), or NULL. */
static const char *next_tag(const char *p, int *which) {
    const char *best = NULL;
    for (int i = 0; i < 3; i++) {
        const char *q = strstr(p, open_tags[i]);
        if (q && (!best || q < best)) best = q, *which = i;
    }
    return best;
}

void pipe_report_trajectory(pipe_buf *b, const rollout_trajectory *t) {
    int correct = t->reward > 0;
    pipe_buf_puts(b, "<div class=\"traj\"><div class=\"meta\"><b>");
    pipe_html_escape_str(b, t->id ? t->id : "(no id)");
    pipe_buf_printf(b, "</b> &middot; reward %g <span class=\"%s\">%s</span> &middot; answer <code>", t->reward,
                    correct ? "ok" : "bad", correct ? "correct" : "wrong");
    pipe_html_escape_str(b, t->answer ? t->answer : "(none)");
    pipe_buf_puts(b, "</code> &middot; truth <code>");
    pipe_html_escape_str(b, t->truth ? t->truth : "(unknown)");
    pipe_buf_printf(b, "</code> &middot; %zu response tokens &middot; %zu tool calls &middot; stop %s", t->n_response,
                    t->n_calls, rollout_stop_name(t->stop));
    if (t->flags) {
        pipe_buf_puts(b, " &middot; flags");
        for (int i = 0; i < ROLLOUT_NFLAGS; i++)
            if (t->flags & (1u << i)) pipe_buf_printf(b, " %s", rollout_flag_name(1u << i));
    }
    pipe_buf_puts(b, "</div>\n");
    if (t->prompt_text) {
        pipe_buf_puts(b, "<details><summary>prompt</summary><pre>");
        pipe_html_escape_str(b, t->prompt_text);
        pipe_buf_puts(b, "</pre></details>\n");
    }
    const char *p = t->response_text;
    if (!p) {
        pipe_buf_puts(b, "<p><i>(no decoded response text in this trajectory)</i></p></div>\n");
        return;
    }
    size_t call = 0;
    while (*p) {
        int which = 0;
        const char *tag = next_tag(p, &which);
        const char *stop = tag ? tag : p + strlen(p);
        if (stop > p) {
            pipe_buf_puts(b, "<pre class=\"txt\">");
            pipe_html_escape(b, p, (size_t)(stop - p));
            pipe_buf_puts(b, "</pre>\n");
        }
        if (!tag) break;
        const char *close = close_tags[which];
        const char *inner = tag + strlen(open_tags[which]);
        const char *end = strstr(inner, close);
        size_t inner_len = end ? (size_t)(end - inner) : strlen(inner);
        if (which == TAG_CODE) {
            text_block(b, "code", "code (model)", inner, inner_len);
        } else if (which == TAG_INTERP) {
            char label[96];
            const char *status = "unknown";
            int ok = 0;
            if (call < t->n_calls) {
                const rollout_tool_call *c = &t->calls[call];
                status = c->refused ? "refused" : rollout_exec_status_name(c->status);
                ok = !c->refused && c->status == ROLLOUT_EXEC_OK;
            }
            call++;
            snprintf(label, sizeof label, "interpreter output (call %zu: %s)", call, status);
            text_block(b, ok ? "interp" : "interp err", label, inner, inner_len);
        } else {
            text_block(b, "ans", "answer", inner, inner_len);
        }
        p = end ? end + strlen(close) : inner + inner_len;
    }
    pipe_buf_puts(b, "</div>\n");
}

rt_status pipe_report_newest_rollouts(const char *run, char *buf, size_t n, int64_t *step, rt_error *err) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/rollouts", run);
    DIR *d = opendir(dir);
    if (!d) return rt_err_set(err, RT_ENOTFOUND, "%s: no rollouts folder", run);
    long long best = -1;
    struct dirent *e;
    while ((e = readdir(d))) {
        long long s;
        int used = 0;
        if (sscanf(e->d_name, "step-%lld.jsonl%n", &s, &used) == 1 && used > 0 && e->d_name[used] == '\0' && s >= 0 &&
            s > best)
            best = s;
    }
    closedir(d);
    if (best < 0) return rt_err_set(err, RT_ENOTFOUND, "%s: no rollouts/step-N.jsonl", run);
    snprintf(buf, n, "%s/step-%lld.jsonl", dir, best);
    *step = best;
    return RT_OK;
}

/* One chart of metric key over all runs that have it; nothing when none has a value. */
static void chart(pipe_buf *b, run_data *runs, size_t nr, const char *key, const char *title) {
    pipe_svg_series s[REPORT_MAX_RUNS];
    double *cols[REPORT_MAX_RUNS] = {0};
    size_t ns = 0;
    int any = 0;
    for (size_t r = 0; r < nr && ns < REPORT_MAX_RUNS; r++) {
        long k = pipe_runlog_key(&runs[r].log, key);
        if (k < 0) continue;
        double *y = malloc((runs[r].log.n_steps ? runs[r].log.n_steps : 1) * sizeof *y);
        if (!y) {
            b->failed = 1;
            break;
        }
        for (size_t i = 0; i < runs[r].log.n_steps; i++) {
            y[i] = pipe_runlog_value(&runs[r].log, i, (size_t)k);
            any |= isfinite(y[i]);
        }
        cols[ns] = y;
        s[ns] = (pipe_svg_series){
            .label = runs[r].label, .color = palette[r % NPALETTE], .x = runs[r].x, .y = y, .n = runs[r].log.n_steps};
        ns++;
    }
    if (any) {
        char full[256];
        if (strcmp(title, key) == 0)
            snprintf(full, sizeof full, "%s", key);
        else
            snprintf(full, sizeof full, "%s [%s]", title, key);
        pipe_svg_line_chart(b, full, "training step", s, ns, 560, 320);
    }
    for (size_t i = 0; i < ns; i++)
        free(cols[i]);
}

static int is_known(const char *key) {
    for (size_t i = 0; i < NKNOWN; i++)
        if (strcmp(known[i].key, key) == 0) return 1;
    return 0;
}

static void final_table(pipe_buf *b, run_data *runs, size_t nr) {
    pipe_buf_puts(b, "<table><tr><th class=\"k\">metric</th>");
    for (size_t r = 0; r < nr; r++) {
        pipe_buf_printf(b, "<th style=\"color:%s\">", palette[r % NPALETTE]);
        pipe_html_escape_str(b, runs[r].label);
        pipe_buf_puts(b, "</th>");
    }
    pipe_buf_puts(b, "</tr>\n<tr><td class=\"k\">steps logged</td>");
    for (size_t r = 0; r < nr; r++)
        pipe_buf_printf(b, "<td>%zu</td>", runs[r].log.n_steps);
    pipe_buf_puts(b, "</tr>\n<tr><td class=\"k\">last step</td>");
    for (size_t r = 0; r < nr; r++) {
        if (runs[r].log.n_steps)
            pipe_buf_printf(b, "<td>%lld</td>", (long long)runs[r].log.steps[runs[r].log.n_steps - 1]);
        else
            pipe_buf_puts(b, "<td>-</td>");
    }
    pipe_buf_puts(b, "</tr>\n");
    /* Every metric of every run, known ones first; the value at the last step that has it. */
    for (int pass = 0; pass < 2; pass++) {
        for (size_t r0 = 0; r0 < (pass ? nr : 1); r0++) {
            size_t nkeys = pass ? runs[r0].log.n_keys : NKNOWN;
            for (size_t k0 = 0; k0 < nkeys; k0++) {
                const char *key = pass ? runs[r0].log.keys[k0] : known[k0].key;
                if (pass) {
                    if (is_known(key)) continue;
                    int seen = 0; /* shown already for an earlier run */
                    for (size_t q = 0; q < r0 && !seen; q++)
                        seen = pipe_runlog_key(&runs[q].log, key) >= 0;
                    if (seen) continue;
                }
                int present = 0;
                for (size_t r = 0; r < nr; r++)
                    present |= pipe_runlog_key(&runs[r].log, key) >= 0;
                if (!present) continue;
                pipe_buf_puts(b, "<tr><td class=\"k\">");
                pipe_html_escape_str(b, key);
                pipe_buf_puts(b, "</td>");
                for (size_t r = 0; r < nr; r++) {
                    long k = pipe_runlog_key(&runs[r].log, key);
                    double v = NAN;
                    for (size_t i = runs[r].log.n_steps; k >= 0 && i-- > 0 && isnan(v);)
                        v = pipe_runlog_value(&runs[r].log, i, (size_t)k);
                    if (isnan(v))
                        pipe_buf_puts(b, "<td>-</td>");
                    else
                        pipe_buf_printf(b, "<td>%.6g</td>", v);
                }
                pipe_buf_puts(b, "</tr>\n");
            }
        }
    }
    pipe_buf_puts(b, "</table>\n");
}

/* Sample trajectories of one run from its newest rollouts file. */
static rt_status samples_section(pipe_buf *b, const run_data *run, size_t samples, rt_error *err) {
    char path[4200];
    int64_t step = 0;
    pipe_buf_puts(b, "<h3>");
    pipe_html_escape_str(b, run->label);
    pipe_buf_puts(b, "</h3>\n");
    rt_error nf;
    if (pipe_report_newest_rollouts(run->path, path, sizeof path, &step, &nf) != RT_OK) {
        pipe_buf_puts(b, "<p><i>No rollouts in this run.</i></p>\n");
        return RT_OK;
    }
    rollout_trajectory *ts = NULL;
    size_t n = 0;
    rt_status st = rollout_trajectory_read_file(path, &ts, &n, err);
    if (st) return st;
    pipe_buf_printf(b, "<p>From <code>rollouts/step-%lld.jsonl</code>: %zu of %zu trajectories.</p>\n", (long long)step,
                    n < samples ? n : samples, n);
    for (size_t i = 0; i < n && i < samples; i++)
        pipe_report_trajectory(b, &ts[i]);
    rollout_trajectories_free(ts, n);
    return RT_OK;
}

rt_status pipe_report_build(const pipe_report_options *opt, pipe_buf *b, rt_error *err) {
    if (opt->n_runs == 0) return rt_err_set(err, RT_EINVAL, "no run directory given");
    if (opt->n_runs > REPORT_MAX_RUNS)
        return rt_err_set(err, RT_EINVAL, "%zu runs: one report overlays at most %d", opt->n_runs, REPORT_MAX_RUNS);
    run_data *runs = calloc(opt->n_runs, sizeof *runs);
    if (!runs) return rt_err_set(err, RT_ENOMEM, "out of memory");
    rt_status st = RT_OK;
    size_t nr = 0;
    for (; !st && nr < opt->n_runs; nr++) {
        run_data *r = &runs[nr];
        r->path = opt->runs[nr];
        r->label = run_label(r->path);
        char mpath[4200];
        snprintf(mpath, sizeof mpath, "%s/metrics.jsonl", r->path);
        if (!r->label)
            st = rt_err_set(err, RT_ENOMEM, "out of memory");
        else if (!rt_path_exists(mpath))
            st = rt_err_set(err, RT_ENOTFOUND, "%s: no metrics.jsonl", r->path);
        else
            st = pipe_runlog_read(mpath, &r->log, err);
        snprintf(mpath, sizeof mpath, "%s/config.json", r->path);
        if (!st && rt_path_exists(mpath)) st = rt_json_read_file(mpath, &r->config, err);
        if (!st) {
            r->x = malloc((r->log.n_steps ? r->log.n_steps : 1) * sizeof *r->x);
            if (!r->x) st = rt_err_set(err, RT_ENOMEM, "out of memory");
            for (size_t i = 0; r->x && i < r->log.n_steps; i++)
                r->x[i] = (double)r->log.steps[i];
        }
        if (st) rt_err_prefix(err, "run %s", r->path);
    }
    /* Runs with the same folder name are told apart by their full paths. */
    int *dup = st ? NULL : calloc(nr, sizeof *dup);
    if (!st && !dup) st = rt_err_set(err, RT_ENOMEM, "out of memory");
    for (size_t i = 0; !st && i < nr; i++)
        for (size_t j = 0; j < nr; j++)
            if (i != j && strcmp(runs[i].label, runs[j].label) == 0) dup[i] = 1;
    for (size_t i = 0; !st && i < nr; i++) {
        if (!dup[i]) continue;
        free(runs[i].label);
        runs[i].label = strdup(runs[i].path);
        if (!runs[i].label) st = rt_err_set(err, RT_ENOMEM, "out of memory");
    }
    free(dup);
    const char *title = opt->title ? opt->title : "retool report";
    if (!st) {
        pipe_buf_printf(b,
                        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                        "<meta name=\"generator\" content=\"retool report v%d\"><title>",
                        REPORT_VERSION);
        pipe_html_escape_str(b, title);
        pipe_buf_printf(b, "</title><style>%s</style></head><body>\n<h1>", css);
        pipe_html_escape_str(b, title);
        pipe_buf_puts(b, "</h1>\n");
        if (opt->headline) pipe_buf_puts(b, opt->headline);
        pipe_buf_puts(b, "<p>Runs:</p><ul>");
        for (size_t r = 0; r < nr; r++) {
            pipe_buf_printf(b, "<li><span style=\"color:%s;font-weight:bold\">&#9632; ", palette[r % NPALETTE]);
            pipe_html_escape_str(b, runs[r].label);
            pipe_buf_puts(b, "</span> <code>");
            pipe_html_escape_str(b, runs[r].path);
            pipe_buf_printf(b, "</code> (%zu steps)", runs[r].log.n_steps);
            char *cfg = runs[r].config ? cJSON_Print(runs[r].config) : NULL;
            if (cfg) {
                pipe_buf_puts(b, "<details><summary>config.json</summary><pre>");
                pipe_html_escape_str(b, cfg);
                pipe_buf_puts(b, "</pre></details>");
                cJSON_free(cfg);
            } else if (runs[r].config) {
                b->failed = 1;
            }
            pipe_buf_puts(b, "</li>");
        }
        pipe_buf_puts(b, "</ul>\n<h2>Curves over training</h2>\n<div class=\"charts\">\n");
        for (size_t i = 0; i < NKNOWN; i++)
            chart(b, runs, nr, known[i].key, known[i].title);
        pipe_buf_puts(b, "</div>\n");
        int others = 0;
        for (size_t r = 0; r < nr; r++)
            for (size_t k = 0; k < runs[r].log.n_keys; k++) {
                const char *key = runs[r].log.keys[k];
                int seen = is_known(key);
                for (size_t q = 0; q < r && !seen; q++)
                    seen = pipe_runlog_key(&runs[q].log, key) >= 0;
                if (seen) continue;
                if (!others++) pipe_buf_puts(b, "<h2>Other metrics</h2>\n<div class=\"charts\">\n");
                chart(b, runs, nr, key, key);
            }
        if (others) pipe_buf_puts(b, "</div>\n");
        pipe_buf_puts(b, "<h2>Final values</h2>\n");
        final_table(b, runs, nr);
        if (opt->samples > 0) pipe_buf_puts(b, "<h2>Sample trajectories</h2>\n");
    }
    for (size_t r = 0; !st && opt->samples > 0 && r < nr; r++) {
        st = samples_section(b, &runs[r], opt->samples, err);
        if (st) rt_err_prefix(err, "run %s", runs[r].path);
    }
    if (!st) pipe_buf_puts(b, "</body></html>\n");
    if (!st && b->failed) st = rt_err_set(err, RT_ENOMEM, "out of memory building the report");
    for (size_t r = 0; r < nr; r++) {
        free(runs[r].label);
        free(runs[r].x);
        cJSON_Delete(runs[r].config);
        pipe_runlog_free(&runs[r].log);
    }
    free(runs);
    return st;
}

rt_status pipe_report_write(const pipe_report_options *opt, rt_error *err) {
    pipe_buf b;
    pipe_buf_init(&b);
    rt_status st = pipe_report_build(opt, &b, err);
    if (!st) st = rt_file_write_atomic(opt->out_path, b.data, b.len, err);
    pipe_buf_free(&b);
    return st;
}
