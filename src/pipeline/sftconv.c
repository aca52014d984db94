#include "pipeline/sftconv.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/strbuf.h"
#include "base/timer.h"
#include "data/dataset.h"
#include "pipeline/coldstart_item.h"
#include "pipeline/coldstart_trace.h"
#include "reward/reward.h"
#include "rollout/exec_spec.h"
#include "rollout/score.h"
#include "rollout/trajectory.h"
#include "tokenizer/tokenizer.h"

static const char *const reason_names[PIPE_SC_NREASONS] = {
    "kept", "layout", "format", "missing_output", "wrong_answer", "output_mismatch", "sandbox_error"};

const char *pipe_sc_reason_name(pipe_sc_reason r) {
    return r >= 0 && r < PIPE_SC_NREASONS ? reason_names[r] : "unknown";
}

pipe_sftconv_config pipe_sftconv_defaults(void) {
    pipe_sftconv_config c;
    memset(&c, 0, sizeof c);
    c.template_kind = ROLLOUT_TEMPLATE_AUTO;
    c.workers = 2;
    c.call_timeout_s = 10;
    c.shape = rollout_shape_defaults();
    return c;
}

/* s with each line's trailing spaces, tabs and CRs removed and the empty lines at either end dropped (malloc'd). */
static char *normalise(const char *s) {
    rt_strbuf b = {0};
    rt_strbuf_puts(&b, "");
    size_t pending_newlines = 0;
    int any = 0;
    while (*s) {
        size_t n = strcspn(s, "\n");
        size_t e = n;
        while (e > 0 && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\r'))
            e--;
        if (e > 0) {
            if (any)
                for (size_t i = 0; i < pending_newlines; i++)
                    rt_strbuf_putc(&b, '\n');
            rt_strbuf_putn(&b, s, e);
            any = 1;
            pending_newlines = 0;
        }
        pending_newlines += s[n] == '\n';
        s += n + (s[n] == '\n');
        if (e == 0 && !any) pending_newlines = 0;
    }
    return rt_strbuf_take(&b);
}

int pipe_sc_output_matches(const char *recorded, const char *real) {
    char *a = normalise(recorded), *b = normalise(real);
    int same = a && b && strcmp(a, b) == 0;
    free(a);
    free(b);
    return same;
}

/* One conversation being converted. */
typedef struct conv {
    size_t row;               /* 1-based */
    tok_message *msgs;        /* the messages before the assistant turn */
    size_t n_msgs;
    const char *assistant;    /* the assistant text */
    const char *truth;        /* from the row, or NULL */
    char truth_buf[64];       /* a numeric truth printed */
    pipe_cs_item it;
    pipe_sc_reason reason;
    char detail[320];
} conv;

static void drop(conv *c, pipe_sc_reason r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void drop(conv *c, pipe_sc_reason r, const char *fmt, ...) {
    c->reason = r;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->detail, sizeof c->detail, fmt, ap);
    va_end(ap);
}

static const char *str_field(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* The truth a row gives: "answer", "ground_truth", "truth" (a string or a number) or reward_model.ground_truth. */
static void find_truth(const cJSON *row, conv *c) {
    static const char *const keys[] = {"answer", "ground_truth", "truth"};
    for (size_t i = 0; i < 3 && !c->truth; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(row, keys[i]);
        if (cJSON_IsString(v) && *v->valuestring) {
            c->truth = v->valuestring;
        } else if (cJSON_IsNumber(v)) {
            snprintf(c->truth_buf, sizeof c->truth_buf, "%.17g", v->valuedouble);
            c->truth = c->truth_buf;
        }
    }
    const cJSON *rm = cJSON_GetObjectItemCaseSensitive(row, "reward_model");
    if (!c->truth && cJSON_IsObject(rm)) {
        const char *g = str_field(rm, "ground_truth");
        if (g && *g) c->truth = g;
    }
}

/* Reads the row's messages into c (pointers into msgs, which must outlive c); a layout problem drops c. */
static rt_status read_layout(const cJSON *msgs, conv *c, rt_error *err) {
    if (!cJSON_IsArray(msgs)) {
        drop(c, PIPE_SC_LAYOUT, "no \"messages\" (or \"conversations\") list");
        return RT_OK;
    }
    size_t n = (size_t)cJSON_GetArraySize(msgs);
    c->msgs = calloc(n ? n : 1, sizeof *c->msgs);
    if (!c->msgs) return rt_err_set(err, RT_ENOMEM, "out of memory");
    size_t k = 0, users = 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, msgs) {
        const char *role = cJSON_IsObject(m) ? str_field(m, "role") : NULL;
        const char *content = cJSON_IsObject(m) ? str_field(m, "content") : NULL;
        if (!role || !content) {
            drop(c, PIPE_SC_LAYOUT, "message %zu: not an object with string \"role\" and \"content\"", k + 1);
            return RT_OK;
        }
        if (strcmp(role, "assistant") == 0) {
            if (k + 1 != n) {
                drop(c, PIPE_SC_LAYOUT, "message %zu: an assistant turn that is not the last message", k + 1);
                return RT_OK;
            }
            c->assistant = content;
        } else if (strcmp(role, "user") == 0 || strcmp(role, "system") == 0) {
            users += strcmp(role, "user") == 0;
            c->msgs[c->n_msgs++] = (tok_message){.role = role, .content = content};
        } else {
            drop(c, PIPE_SC_LAYOUT, "message %zu: role '%s' (system, user or assistant)", k + 1, role);
            return RT_OK;
        }
        k++;
    }
    if (!c->assistant)
        drop(c, PIPE_SC_LAYOUT, "no assistant message");
    else if (!users)
        drop(c, PIPE_SC_LAYOUT, "no user message before the assistant turn");
    return RT_OK;
}

/* Parses the assistant text as the engine reads a response and takes the recorded outputs as the block outputs. */
static rt_status parse_assistant(conv *c, rt_error *err) {
    pipe_cs_item *it = &c->it;
    it->tools = 1;
    rt_error perr;
    rt_err_clear(&perr);
    if (pipe_cs_trace_parse(c->assistant, 1, &it->tr, &perr) != RT_OK) {
        if (perr.status != RT_EFORMAT) return rt_err_set(err, perr.status, "%s", perr.msg);
        drop(c, PIPE_SC_FORMAT, "%s", perr.msg);
        return RT_OK;
    }
    size_t nb = it->tr.n_blocks ? it->tr.n_blocks : 1;
    it->outputs = calloc(nb, sizeof *it->outputs);
    it->status = calloc(nb, sizeof *it->status);
    it->latency = calloc(nb, sizeof *it->latency);
    if (!it->outputs || !it->status || !it->latency) return rt_err_set(err, RT_ENOMEM, "out of memory");
    for (size_t b = 0; b < it->tr.n_blocks; b++) {
        if (!it->tr.claimed[b]) {
            drop(c, PIPE_SC_MISSING_OUTPUT, "code block %zu has no <interpreter> result after it", b + 1);
            return RT_OK;
        }
        it->outputs[b] = strdup(it->tr.claimed[b]);
        if (!it->outputs[b]) return rt_err_set(err, RT_ENOMEM, "out of memory");
        it->status[b] = ROLLOUT_EXEC_OK;
    }
    return RT_OK;
}

/* Runs c's blocks in order in one stateful session; a recorded output that differs from the real one drops c. The
 * real (shaped) outputs replace the recorded ones. */
static rt_status verify_blocks(const pipe_sftconv_config *cfg, rollout_executor *ops, conv *c, uint64_t *ticket,
                               pipe_sftconv_summary *sum, rt_error *err) {
    pipe_cs_item *it = &c->it;
    uint64_t session = (uint64_t)c->row;
    rt_status st = RT_OK;
    for (size_t b = 0; !st && b < it->tr.n_blocks && c->reason == PIPE_SC_KEPT; b++) {
        rollout_exec_request req = {.code = it->tr.codes[b], .timeout_s = cfg->call_timeout_s, .session = session};
        uint64_t mine = ++*ticket;
        double t0 = rt_time_now();
        st = ops->submit(ops->ctx, mine, &req, err);
        if (st) break;
        sum->blocks_run++;
        const double stall_s = cfg->call_timeout_s + 120;
        for (;;) {
            uint64_t got = 0;
            rollout_exec_result res = {0};
            if (!ops->poll(ops->ctx, 0.5, &got, &res)) {
                if (rt_time_now() - t0 > stall_s) {
                    st = rt_err_set(err, RT_ETIMEOUT, "the sandbox returned nothing for %.0f s", stall_s);
                    break;
                }
                continue;
            }
            if (got != mine) {
                free(res.stdout_text);
                free(res.stderr_text);
                st = rt_err_set(err, RT_EINTERNAL, "executor returned unknown ticket %llu", (unsigned long long)got);
                break;
            }
            char *real = rollout_shape_output(&cfg->shape, res.status, res.stdout_text, res.stderr_text);
            free(res.stdout_text);
            free(res.stderr_text);
            if (!real) {
                st = rt_err_set(err, RT_ENOMEM, "out of memory");
                break;
            }
            it->latency[b] = rt_time_now() - t0;
            it->status[b] = res.status;
            if (res.status == ROLLOUT_EXEC_SANDBOX_ERROR) {
                drop(c, PIPE_SC_SANDBOX_ERROR, "block %zu: %s", b + 1, real);
            } else if (!pipe_sc_output_matches(it->outputs[b], real)) {
                char *a = normalise(it->outputs[b]), *r = normalise(real);
                drop(c, PIPE_SC_OUTPUT_MISMATCH, "block %zu: recorded '%.100s', real '%.100s'", b + 1,
                     a ? a : "", r ? r : "");
                free(a);
                free(r);
            }
            free(it->outputs[b]);
            it->outputs[b] = real;
            break;
        }
    }
    if (ops->session_close) ops->session_close(ops->ctx, session);
    return st;
}

/* A row whose boxed answer (in its last segment, which holds no interpreter output) is not its truth is dropped
 * before its blocks run: the sandbox is spent only on rows that can be kept. finish checks it again on the ids. */
static rt_status precheck_answer(conv *c, rt_error *err) {
    if (!c->truth) return RT_OK;
    reward_options ro;
    reward_options_default(&ro);
    reward_result r;
    memset(&r, 0, sizeof r);
    rt_status st = reward_score(c->it.tr.segs[c->it.tr.n_blocks], c->truth, &ro, &r, err);
    if (!st && r.reward <= 0)
        drop(c, PIPE_SC_WRONG_ANSWER, "answer '%s', truth '%s'", r.answer ? r.answer : "(none)", c->truth);
    reward_result_free(&r);
    return st;
}

/* The trajectory of a conversation that stands: response ids (pipe_cs_item_build), answer, prompt ids. */
static rt_status finish(const pipe_sftconv_config *cfg, tok_tokenizer *tok, tok_template family, conv *c,
                        const char *id, rollout_trajectory *t, rt_error *err) {
    char *text = NULL;
    rt_status st = pipe_cs_item_build(&c->it, tok, t, &text, err);
    if (st) return st;
    if (c->it.reason != PIPE_CS_KEPT) {
        drop(c, PIPE_SC_FORMAT, "%s", c->it.detail);
        return RT_OK;
    }
    t->response_text = text;
    if (c->truth) {
        reward_options ro;
        reward_options_default(&ro);
        st = rollout_score(t, c->truth, &ro, err);
        if (!st && t->reward <= 0)
            drop(c, PIPE_SC_WRONG_ANSWER, "answer '%s', truth '%s'", t->answer ? t->answer : "(none)", c->truth);
    } else {
        /* The answer the model's own text gives (the last segment: no interpreter output in it). */
        rt_error e2;
        rt_err_clear(&e2);
        if (reward_extract(c->it.tr.segs[c->it.tr.n_blocks], &t->answer, &e2) != RT_OK)
            drop(c, PIPE_SC_FORMAT, "no final answer: %s", e2.msg);
        t->reward = 0;
    }
    if (st || c->reason != PIPE_SC_KEPT) return st;
    tok_ids prompt;
    memset(&prompt, 0, sizeof prompt);
    st = tok_template_encode(tok, family, c->msgs, c->n_msgs, 1, 0, &prompt, err);
    if (!st) {
        t->prompt_ids = prompt.ids;
        t->n_prompt = prompt.len;
        prompt.ids = NULL;
        st = tok_decode(tok, t->prompt_ids, t->n_prompt, 0, &t->prompt_text, NULL, err);
    }
    tok_ids_free(&prompt);
    if (st) return st;
    rt_strbuf b = {0};
    if (id)
        rt_strbuf_puts(&b, id);
    else
        rt_strbuf_printf(&b, "sft-%zu", c->row);
    t->id = rt_strbuf_take(&b);
    if (!t->id) return rt_err_set(err, RT_ENOMEM, "out of memory");
    t->prompt_index = (int64_t)c->row - 1;
    t->sample_index = 0;
    t->stop = ROLLOUT_STOP_STRING;
    (void)cfg;
    return RT_OK;
}

/* The row's id: "id" (a string or an integer) or extra_info.index, else NULL (buf holds a printed number). */
static const char *row_id(const cJSON *row, char *buf, size_t n) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(row, "id");
    if (cJSON_IsString(v) && *v->valuestring) return v->valuestring;
    if (!cJSON_IsNumber(v)) {
        const cJSON *x = cJSON_GetObjectItemCaseSensitive(row, "extra_info");
        v = cJSON_IsObject(x) ? cJSON_GetObjectItemCaseSensitive(x, "index") : NULL;
    }
    if (cJSON_IsNumber(v)) {
        snprintf(buf, n, "%.17g", v->valuedouble);
        return buf;
    }
    return NULL;
}

/* One row: layout, parse, optional verification, trajectory; writes it when kept. */
static rt_status convert_row(const pipe_sftconv_config *cfg, tok_tokenizer *tok, tok_template family,
                             rollout_executor *ops, uint64_t *ticket, const cJSON *row, size_t rowno,
                             rt_atomic_file *af, pipe_sftconv_summary *sum, rt_error *err) {
    conv c;
    memset(&c, 0, sizeof c);
    c.row = rowno;
    const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(row, "messages");
    if (!msgs) msgs = cJSON_GetObjectItemCaseSensitive(row, "conversations");
    cJSON *parsed = NULL;
    /* Some exports keep the list as a JSON string. */
    if (cJSON_IsString(msgs)) msgs = parsed = cJSON_Parse(msgs->valuestring);
    rt_status st = cJSON_IsObject(row) ? read_layout(msgs, &c, err) : RT_OK;
    if (!cJSON_IsObject(row)) drop(&c, PIPE_SC_LAYOUT, "the row is not a JSON object");
    find_truth(row, &c);
    if (!st && c.reason == PIPE_SC_KEPT) st = parse_assistant(&c, err);
    if (!st && c.reason == PIPE_SC_KEPT && cfg->verify) {
        st = precheck_answer(&c, err);
        if (!st && c.reason == PIPE_SC_KEPT) st = verify_blocks(cfg, ops, &c, ticket, sum, err);
    }
    rollout_trajectory t;
    rollout_trajectory_init(&t);
    char idbuf[40];
    if (!st && c.reason == PIPE_SC_KEPT) st = finish(cfg, tok, family, &c, row_id(row, idbuf, sizeof idbuf), &t, err);
    if (!st && c.reason == PIPE_SC_KEPT) {
        st = rollout_trajectory_write(af->fp, &t, err);
        sum->code_blocks += c.it.tr.n_blocks;
    }
    if (!st) {
        sum->read++;
        sum->n[c.reason]++;
        if (c.reason != PIPE_SC_KEPT && !sum->first_drop[c.reason][0])
            snprintf(sum->first_drop[c.reason], sizeof sum->first_drop[c.reason], "row %zu: %.150s", rowno, c.detail);
    }
    rollout_trajectory_free(&t);
    pipe_cs_item_free(&c.it);
    free(c.msgs);
    cJSON_Delete(parsed);
    return st;
}

rt_status pipe_sftconv(const pipe_sftconv_config *cfg, pipe_sftconv_summary *sum, rt_error *err) {
    memset(sum, 0, sizeof *sum);
    double t0 = rt_time_now();
    if (!cfg->in_path || !cfg->out_path || !cfg->model_dir)
        return rt_err_set(err, RT_EINVAL, "conversion needs an input, an output and a model folder");
    tok_tokenizer *tok = NULL;
    rollout_template resolved;
    tok_template family = TOK_TEMPLATE_PLAIN;
    rt_status st = tok_load(cfg->model_dir, &tok, err);
    if (!st) st = rollout_template_resolve(cfg->model_dir, cfg->template_kind, &resolved, err);
    if (!st) st = rollout_template_family(tok, resolved, &family, err);
    rollout_exec_spec *x = NULL;
    rollout_executor ops = {0};
    if (!st && cfg->verify) {
        st = rollout_exec_spec_open("local", cfg->workers > 0 ? cfg->workers : 2, &x, err);
        if (!st) ops = rollout_exec_spec_ops(x);
    }
    data_records r;
    memset(&r, 0, sizeof r);
    int opened = 0;
    if (!st) {
        st = data_records_open(&r, cfg->in_path, err);
        opened = st == RT_OK;
    }
    rt_atomic_file af;
    memset(&af, 0, sizeof af);
    if (!st) st = rt_atomic_open(&af, cfg->out_path, err);
    uint64_t ticket = 0;
    size_t rowno = 0;
    while (!st) {
        cJSON *row = NULL;
        /* A read error already names the file and the line (JSONL) or row group, column and page (Parquet). */
        st = data_records_next(&r, &row, err);
        if (st || !row) break;
        rowno++;
        st = convert_row(cfg, tok, family, &ops, &ticket, row, rowno, &af, sum, err);
        cJSON_Delete(row);
        if (st) data_records_prefix(&r, cfg->in_path, err);
    }
    if (!st && sum->read == 0) st = rt_err_set(err, RT_EFORMAT, "%s: no rows", cfg->in_path);
    if (!st)
        st = rt_atomic_commit(&af, err);
    else if (af.fp)
        rt_atomic_abort(&af);
    if (opened) data_records_close(&r);
    rollout_exec_spec_close(x);
    tok_free(tok);
    sum->wall_s = rt_time_now() - t0;
    if (!st && cfg->summary_path) {
        char *js = pipe_sftconv_summary_json(cfg, sum);
        if (!js) return rt_err_set(err, RT_ENOMEM, "out of memory");
        st = rt_file_write_atomic(cfg->summary_path, js, strlen(js), err);
        free(js);
    }
    return st;
}

char *pipe_sftconv_summary_json(const pipe_sftconv_config *cfg, const pipe_sftconv_summary *sum) {
    cJSON *o = cJSON_CreateObject(), *d = cJSON_CreateObject(), *ex = cJSON_CreateObject();
    if (!o || !d || !ex) {
        cJSON_Delete(o);
        cJSON_Delete(d);
        cJSON_Delete(ex);
        return NULL;
    }
    cJSON_AddStringToObject(o, "input", cfg->in_path ? cfg->in_path : "");
    cJSON_AddStringToObject(o, "output", cfg->out_path ? cfg->out_path : "");
    cJSON_AddStringToObject(o, "model", cfg->model_dir ? cfg->model_dir : "");
    cJSON_AddBoolToObject(o, "verify", cfg->verify != 0);
    cJSON_AddNumberToObject(o, "read", (double)sum->read);
    cJSON_AddNumberToObject(o, "kept", (double)sum->n[PIPE_SC_KEPT]);
    for (int i = 1; i < PIPE_SC_NREASONS; i++) {
        cJSON_AddNumberToObject(d, reason_names[i], (double)sum->n[i]);
        if (sum->first_drop[i][0]) cJSON_AddStringToObject(ex, reason_names[i], sum->first_drop[i]);
    }
    cJSON_AddItemToObject(o, "dropped", d);
    cJSON_AddItemToObject(o, "first_dropped", ex);
    cJSON_AddNumberToObject(o, "code_blocks", (double)sum->code_blocks);
    cJSON_AddNumberToObject(o, "blocks_run", (double)sum->blocks_run);
    cJSON_AddNumberToObject(o, "wall_s", sum->wall_s);
    char *s = cJSON_Print(o);
    cJSON_Delete(o);
    if (!s) return NULL;
    /* cJSON_Print's buffer is freed with cJSON_free; hand back a plain malloc'd copy with a newline. */
    size_t n = strlen(s);
    char *out = malloc(n + 2);
    if (out) {
        memcpy(out, s, n);
        out[n] = '\n';
        out[n + 1] = '\0';
    }
    cJSON_free(s);
    return out;
}
