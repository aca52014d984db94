/* What a model folder records of how it is prompted: "retool_template" and "chat_template" in tokenizer_config.json,
 * read back (retool's key first, else the family of the Jinja template) and written (atomically, other keys kept). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/json.h"
#include "tokenizer/tok_internal.h"

#define TEMPLATE_KEY "retool_template"
#define JINJA_KEY "chat_template"

/* Qwen's ChatML, as tok_chat_encode renders it. */
static const char chatml_jinja[] =
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + "
    "'\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/* Meta's Llama 3 Instruct template (generation prompt only when asked), as tok_llama3_encode renders it. */
static const char llama3_jinja[] =
    "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + "
    "message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 "
    "%}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ "
    "'<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}";

/* The last user message's content and a newline. */
static const char plain_jinja[] =
    "{% set ns = namespace(text='') %}{% for message in messages %}{% if message['role'] == 'user' %}{% set ns.text = "
    "message['content'] %}{% endif %}{% endfor %}{{ ns.text + '\\n' }}";

const char *tok_template_name(tok_template t) {
    switch (t) {
    case TOK_TEMPLATE_PLAIN:
        return "plain";
    case TOK_TEMPLATE_CHATML:
        return "chatml";
    case TOK_TEMPLATE_LLAMA3:
        return "llama3";
    }
    return "?";
}

rt_status tok_template_parse(const char *name, tok_template *out, rt_error *err) {
    for (tok_template t = TOK_TEMPLATE_PLAIN; t <= TOK_TEMPLATE_LLAMA3; t++)
        if (name && strcmp(name, tok_template_name(t)) == 0) {
            *out = t;
            return RT_OK;
        }
    return rt_err_set(err, RT_EINVAL, "unknown prompt template '%s' (plain, chatml or llama3)", name ? name : "");
}

const char *tok_template_jinja(tok_template t) {
    switch (t) {
    case TOK_TEMPLATE_PLAIN:
        return plain_jinja;
    case TOK_TEMPLATE_CHATML:
        return chatml_jinja;
    case TOK_TEMPLATE_LLAMA3:
        return llama3_jinja;
    }
    return NULL;
}

int tok_template_detect(const char *chat_template, tok_template *out) {
    if (!chat_template) return 0;
    int chatml = strstr(chat_template, "<|im_start|>") != NULL;
    int llama3 = strstr(chat_template, "<|start_header_id|>") != NULL;
    if (chatml == llama3) return 0;
    *out = chatml ? TOK_TEMPLATE_CHATML : TOK_TEMPLATE_LLAMA3;
    return 1;
}

static rt_status config_path(const char *dir, char **path, rt_error *err) {
    size_t n = strlen(dir) + sizeof "/tokenizer_config.json";
    *path = malloc(n);
    if (!*path) return rt_err_set(err, RT_ENOMEM, "out of memory");
    snprintf(*path, n, "%s/tokenizer_config.json", dir);
    return RT_OK;
}

rt_status tok_template_read(const char *dir, tok_template *out, rt_error *err) {
    char *path;
    if (config_path(dir, &path, err)) return err->status;
    cJSON *root = NULL;
    rt_status st = RT_OK;
    if (!rt_path_exists(path)) {
        st = rt_err_set(err, RT_ENOTFOUND,
                        "%s: no such file, so the folder does not say how it is prompted; give the template "
                        "explicitly (--template plain, chatml or llama3)",
                        path);
        goto done;
    }
    if ((st = rt_json_read_file(path, &root, err))) goto done;
    const cJSON *key = cJSON_GetObjectItemCaseSensitive(root, TEMPLATE_KEY);
    const cJSON *jinja = cJSON_GetObjectItemCaseSensitive(root, JINJA_KEY);
    if (key) {
        if (!cJSON_IsString(key))
            st = rt_err_set(err, RT_EFORMAT, "%s: field '" TEMPLATE_KEY "' must be a string", path);
        else if ((st = tok_template_parse(key->valuestring, out, err)))
            rt_err_prefix(err, "%s: field '" TEMPLATE_KEY "'", path);
        goto done;
    }
    if (!jinja) {
        st = rt_err_set(err, RT_ENOTFOUND,
                        "%s: no '" TEMPLATE_KEY "' and no '" JINJA_KEY "', so the folder does not say how it is "
                        "prompted; give the template explicitly (--template plain, chatml or llama3)",
                        path);
        goto done;
    }
    /* Hugging Face also allows a list of named templates; only the plain string form is read. */
    if (!cJSON_IsString(jinja) || !tok_template_detect(jinja->valuestring, out))
        st = rt_err_set(err, RT_EUNSUPPORTED,
                        "%s: field '" JINJA_KEY "' is not a template retool knows (ChatML with <|im_start|> or Llama 3 "
                        "with <|start_header_id|>); give the template explicitly (--template plain, chatml or llama3)",
                        path);
done:
    cJSON_Delete(root);
    free(path);
    return st;
}

/* Sets root[key] = value (replacing it in place, or appending it); 0 when out of memory. */
static int set_string(cJSON *root, const char *key, const char *value) {
    cJSON *v = cJSON_CreateString(value);
    if (!v) return 0;
    int ok = cJSON_GetObjectItemCaseSensitive(root, key) ? cJSON_ReplaceItemInObjectCaseSensitive(root, key, v)
                                                         : cJSON_AddItemToObject(root, key, v);
    if (!ok) cJSON_Delete(v);
    return ok;
}

rt_status tok_template_write(const char *dir, tok_template t, rt_error *err) {
    const char *jinja = tok_template_jinja(t);
    if (!jinja) return rt_err_set(err, RT_EINVAL, "%s: no prompt template %d to record", dir, (int)t);
    char *path;
    if (config_path(dir, &path, err)) return err->status;
    cJSON *root = NULL;
    rt_status st = RT_OK;
    if (rt_path_exists(path)) {
        st = rt_json_read_file(path, &root, err);
        if (!st && !cJSON_IsObject(root)) st = rt_err_set(err, RT_EFORMAT, "%s: not a JSON object", path);
    } else {
        root = cJSON_CreateObject();
    }
    if (!st && (!root || !set_string(root, JINJA_KEY, jinja) || !set_string(root, TEMPLATE_KEY, tok_template_name(t))))
        st = rt_err_set(err, RT_ENOMEM, "%s: out of memory", path);
    if (!st) st = rt_json_write_file(path, root, err);
    cJSON_Delete(root);
    free(path);
    return st;
}

rt_status tok_template_encode(tok_tokenizer *tok, tok_template t, const tok_message *msgs, size_t n,
                              int add_generation_prompt, int parse_special, tok_ids *out, rt_error *err) {
    if (t == TOK_TEMPLATE_CHATML) return tok_chat_encode(tok, msgs, n, add_generation_prompt, parse_special, out, err);
    if (t == TOK_TEMPLATE_LLAMA3)
        return tok_llama3_encode(tok, msgs, n, add_generation_prompt, parse_special, out, err);
    if (t != TOK_TEMPLATE_PLAIN) return rt_err_set(err, RT_EINVAL, "unknown prompt template %d", (int)t);
    const char *last = NULL;
    for (size_t i = 0; i < n; i++)
        if (msgs[i].role && strcmp(msgs[i].role, "user") == 0) last = msgs[i].content;
    if (!last) return rt_err_set(err, RT_EINVAL, "plain template: no user message");
    size_t len = strlen(last);
    char *text = malloc(len + 2);
    if (!text) return rt_err_set(err, RT_ENOMEM, "out of memory");
    memcpy(text, last, len);
    text[len] = '\n';
    text[len + 1] = '\0';
    rt_status st = tok_encode(tok, text, len + 1, parse_special ? 0 : TOK_ENCODE_NO_SPECIAL, out, err);
    free(text);
    return st;
}
