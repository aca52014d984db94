/* Checks what a model folder written by training records of its prompt template. */
#ifndef RETOOL_TESTS_TRAIN_TEMPLATE_CHECK_H
#define RETOOL_TESTS_TRAIN_TEMPLATE_CHECK_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "base/json.h"

/* Expects folder/tokenizer_config.json to hold "retool_template": want. */
static inline void expect_recorded_template(const char *folder, const char *want) {
    char p[600];
    snprintf(p, sizeof p, "%s/tokenizer_config.json", folder);
    cJSON *root = NULL;
    rt_error e;
    cr_assert_eq(rt_json_read_file(p, &root, &e), RT_OK, "%s", e.msg);
    const cJSON *k = cJSON_GetObjectItem(root, "retool_template");
    cr_expect(cJSON_IsString(k) && strcmp(k->valuestring, want) == 0, "%s: retool_template %s, want %s", p,
              cJSON_IsString(k) ? k->valuestring : "(none)", want);
    cJSON_Delete(root);
}

#endif
