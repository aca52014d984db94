#include "pipeline/coldstart_rewrite.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/strbuf.h"

struct pipe_rewriter {
    char *url; /* .../chat/completions (endpoint), or NULL */
    char *model;
    pipe_rewriter_local *local; /* a local model folder, or NULL */
};

static const char *const instruction =
    "Rewrite the worked solution below into a solution that reasons in text and does every calculation with Python. "
    "Put each program in a block <code>\n```python\n...\n```\n</code>; after each block write "
    "<interpreter>\nWHAT IT PRINTS\n</interpreter> (it will be replaced by the real output). End with "
    "<answer>\n\\boxed{ANSWER}\n</answer> and nothing after it. Keep it short.";

char *pipe_rewriter_prompt(const data_problem *p) {
    rt_strbuf b = {0};
    rt_strbuf_printf(&b, "%s\n\nProblem:\n%s\n\nWorked solution:\n%s\n\nAnswer: %s\n", instruction, p->prompt,
                     p->text_solution ? p->text_solution : "(none given)", p->answer);
    return rt_strbuf_take(&b);
}

rt_status pipe_rewriter_open(const char *spec, const char *model, pipe_rewriter **out, rt_error *err) {
    *out = NULL;
    if (strncmp(spec, "http://", 7) != 0 && strncmp(spec, "https://", 8) != 0) {
        pipe_rewriter *r = calloc(1, sizeof *r);
        if (!r) return rt_err_set(err, RT_ENOMEM, "out of memory");
        rt_status st = pipe_rewriter_local_open(spec, &r->local, err);
        if (st) {
            free(r);
            return rt_err_prefix(err, "rewriter");
        }
        *out = r;
        return RT_OK;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) return rt_err_set(err, RT_EINTERNAL, "libcurl failed to start");
    pipe_rewriter *r = calloc(1, sizeof *r);
    rt_strbuf u = {0};
    size_t n = strlen(spec);
    while (n > 0 && spec[n - 1] == '/')
        n--;
    rt_strbuf_putn(&u, spec, n);
    const char *suffix = "/chat/completions";
    if (!(n >= strlen(suffix) && strncmp(spec + n - strlen(suffix), suffix, strlen(suffix)) == 0))
        rt_strbuf_puts(&u, "/v1/chat/completions");
    if (r) {
        r->url = rt_strbuf_take(&u);
        r->model = strdup(model ? model : "default");
    } else {
        rt_strbuf_free(&u);
    }
    if (!r || !r->url || !r->model) {
        pipe_rewriter_close(r);
        return rt_err_set(err, RT_ENOMEM, "out of memory");
    }
    *out = r;
    return RT_OK;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *user) {
    rt_strbuf_putn(user, data, size * nmemb);
    return size * nmemb;
}

rt_status pipe_rewriter_rewrite(void *rewriter, const data_problem *p, char **draft, rt_error *err) {
    pipe_rewriter *r = rewriter;
    *draft = NULL;
    if (r->local) return pipe_rewriter_local_rewrite(r->local, p, draft, err);
    char *prompt = pipe_rewriter_prompt(p);
    cJSON *req = cJSON_CreateObject();
    cJSON *msgs = req ? cJSON_AddArrayToObject(req, "messages") : NULL;
    cJSON *m = cJSON_CreateObject();
    char *body = NULL;
    if (prompt && msgs && m && cJSON_AddStringToObject(m, "role", "user") &&
        cJSON_AddStringToObject(m, "content", prompt) && cJSON_AddItemToArray(msgs, m)) {
        m = NULL;
        if (cJSON_AddStringToObject(req, "model", r->model) && cJSON_AddNumberToObject(req, "temperature", 0))
            body = cJSON_PrintUnformatted(req);
    }
    cJSON_Delete(m);
    cJSON_Delete(req);
    free(prompt);
    if (!body) return rt_err_set(err, RT_ENOMEM, "out of memory");
    CURL *c = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    rt_strbuf resp = {0};
    rt_status st = RT_OK;
    if (!c || !h) st = rt_err_set(err, RT_ENOMEM, "out of memory");
    long code = 0;
    if (!st) {
        curl_easy_setopt(c, CURLOPT_URL, r->url);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &resp);
        curl_easy_setopt(c, CURLOPT_TIMEOUT, 300L);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        CURLcode cc = curl_easy_perform(c);
        if (cc != CURLE_OK)
            st = rt_err_set(err, RT_EIO, "rewriter %s: %s", r->url, curl_easy_strerror(cc));
        else
            curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    }
    char *text = rt_strbuf_take(&resp);
    if (!st && code != 200)
        st = rt_err_set(err, RT_EIO, "rewriter %s: HTTP %ld: %.200s", r->url, code, text ? text : "");
    cJSON *j = !st && text ? cJSON_Parse(text) : NULL;
    if (!st) {
        cJSON *choices = cJSON_GetObjectItemCaseSensitive(j, "choices");
        cJSON *first = cJSON_IsArray(choices) ? cJSON_GetArrayItem(choices, 0) : NULL;
        cJSON *msg = first ? cJSON_GetObjectItemCaseSensitive(first, "message") : NULL;
        cJSON *content = msg ? cJSON_GetObjectItemCaseSensitive(msg, "content") : NULL;
        if (!cJSON_IsString(content))
            st = rt_err_set(err, RT_EFORMAT, "rewriter %s: field 'choices[0].message.content': missing or not a string",
                            r->url);
        else if (!(*draft = strdup(content->valuestring)))
            st = rt_err_set(err, RT_ENOMEM, "out of memory");
    }
    cJSON_Delete(j);
    free(text);
    curl_slist_free_all(h);
    if (c) curl_easy_cleanup(c);
    free(body);
    return st;
}

void pipe_rewriter_close(pipe_rewriter *r) {
    if (!r) return;
    pipe_rewriter_local_close(r->local);
    free(r->url);
    free(r->model);
    free(r);
}
