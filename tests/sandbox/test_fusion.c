/* SandboxFusion request parsing and response shapes, field by field, with the bodies verl's sandbox client sends. */
#include <criterion/criterion.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sandbox/fusion.h"

/* The body verl's sandbox_fusion client posts to /run_code (all fields, files empty). */
static const char verl_body[] = "{\"code\": \"print(input())\", \"stdin\": \"7\\n\", \"compile_timeout\": 10, "
                                "\"run_timeout\": 3, \"memory_limit_MB\": 512, \"language\": \"python\", "
                                "\"files\": {}, \"fetch_files\": []}";

Test(fusion, parses_verl_body) {
    sbx_fusion_req r;
    rt_error err;
    cr_assert_eq(sbx_fusion_parse(verl_body, strlen(verl_body), 0, 1024, 0, &r, &err), RT_OK, "%s", err.msg);
    cr_expect_str_eq(r.code, "print(input())");
    cr_expect_str_eq(r.stdin_data, "7\n");
    cr_expect_eq(r.stdin_len, 2u);
    cr_expect_float_eq(r.limits.wall_s, 3.0, 1e-9);
    cr_expect_eq(r.limits.memory_mb, 512);
    cr_expect_eq(r.nfiles, 0u);
    cr_expect_eq(r.nfetch, 0u);
    sbx_fusion_req_free(&r);
}

Test(fusion, files_and_defaults) {
    const char *b = "{\"code\":\"x\",\"files\":{\"data/in.txt\":\"aGVsbG8=\"},\"fetch_files\":[\"out.txt\"],"
                    "\"memory_limit_MB\":-1}";
    sbx_fusion_req r;
    rt_error err;
    cr_assert_eq(sbx_fusion_parse(b, strlen(b), 0, 777, 0, &r, &err), RT_OK, "%s", err.msg);
    cr_expect_str_eq(r.language, "python", "language defaults to python");
    cr_expect_float_eq(r.limits.wall_s, 10.0, 1e-9, "run_timeout defaults to 10 s");
    cr_expect_eq(r.limits.memory_mb, 777, "memory_limit_MB -1 takes the server default");
    cr_assert_eq(r.nfiles, 1u);
    cr_expect_str_eq(r.files[0].name, "data/in.txt");
    cr_expect_eq(r.files[0].len, 5u);
    cr_expect(memcmp(r.files[0].data, "hello", 5) == 0);
    cr_assert_eq(r.nfetch, 1u);
    cr_expect_str_eq(r.fetch[0], "out.txt");
    sbx_fusion_req_free(&r);
}

Test(fusion, errors_name_the_field) {
    struct {
        const char *body, *needle;
        rt_status st;
    } cases[] = {
        {"{\"code\": 5}", "'code'", RT_EINVAL},
        {"{}", "'code'", RT_EINVAL},
        {"[1]", "object", RT_EINVAL},
        {"{\"code\":\"x\",\"run_timeout\":\"3\"}", "'run_timeout'", RT_EINVAL},
        {"{\"code\":\"x\",\"run_timeout\":-1}", "'run_timeout'", RT_EINVAL},
        {"{\"code\":\"x\",\"memory_limit_MB\":3}", "'memory_limit_MB'", RT_EINVAL},
        {"{\"code\":\"x\",\"files\":{\"a\":\"@@@\"}}", "files['a']", RT_EINVAL},
        {"{\"code\":\"x\",\"files\":[]}", "'files'", RT_EINVAL},
        {"{\"code\":\"x\",\"fetch_files\":[1]}", "fetch_files[0]", RT_EINVAL},
        {"{\"code\":\"x\",\"language\":\"cpp\"}", "'cpp' is not supported", RT_EUNSUPPORTED},
        {"{\"code\":", "not valid JSON", RT_EINVAL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        sbx_fusion_req r;
        rt_error err;
        rt_status st = sbx_fusion_parse(cases[i].body, strlen(cases[i].body), 0, 1024, 0, &r, &err);
        cr_expect_eq(st, cases[i].st, "case %zu: %s", i, cases[i].body);
        cr_expect(strstr(err.msg, cases[i].needle) != NULL, "case %zu: '%s' lacks '%s'", i, err.msg, cases[i].needle);
    }
}

Test(fusion, jupyter_body) {
    const char *b = "{\"cells\":[\"a=1\",\"print(a)\"],\"cell_timeout\":2,\"total_timeout\":9,\"kernel\":\"python3\"}";
    sbx_fusion_req r;
    rt_error err;
    cr_assert_eq(sbx_fusion_parse(b, strlen(b), 1, 1024, 0, &r, &err), RT_OK, "%s", err.msg);
    cr_assert_eq(r.ncells, 2u);
    cr_expect_str_eq(r.cells[1], "print(a)");
    cr_expect_float_eq(r.cell_timeout_s, 2.0, 1e-9);
    cr_expect_float_eq(r.total_timeout_s, 9.0, 1e-9);
    sbx_fusion_req_free(&r);
    const char *bad = "{\"cells\":\"a=1\"}";
    cr_expect_eq(sbx_fusion_parse(bad, strlen(bad), 1, 1024, 0, &r, &err), RT_EINVAL);
    cr_expect(strstr(err.msg, "'cells'") != NULL);
}

static const cJSON *get(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    cr_assert(v != NULL, "field %s missing", k);
    return v;
}

Test(fusion, response_fields) {
    char out[] = "ok\xff\n", err_text[] = "warn\n";
    sbx_result res = {.status = SBX_OK, .out = out, .out_len = 4, .err = err_text, .err_len = 5, .wall_s = 0.25};
    cJSON *o = sbx_fusion_run_response(&res);
    cr_expect_str_eq(get(o, "status")->valuestring, "Success");
    cr_expect_str_eq(get(o, "message")->valuestring, "");
    cr_expect(cJSON_IsNull(get(o, "compile_result")));
    const cJSON *rr = get(o, "run_result");
    cr_expect_str_eq(get(rr, "status")->valuestring, "Finished");
    cr_expect_float_eq(get(rr, "execution_time")->valuedouble, 0.25, 1e-9);
    cr_expect_eq(get(rr, "return_code")->valueint, 0);
    cr_expect_str_eq(get(rr, "stdout")->valuestring, "ok\xef\xbf\xbd\n");
    cr_expect_str_eq(get(rr, "stderr")->valuestring, "warn\n");
    cr_expect(cJSON_IsString(get(o, "executor_pod_name")));
    cr_expect(cJSON_IsObject(get(o, "files")));
    cJSON_Delete(o);

    res.status = SBX_TIMEOUT;
    o = sbx_fusion_run_response(&res);
    cr_expect_str_eq(get(o, "status")->valuestring, "Failed");
    cr_expect_str_eq(get(get(o, "run_result"), "status")->valuestring, "TimeLimitExceeded");
    cr_expect(cJSON_IsNull(get(get(o, "run_result"), "return_code")));
    cJSON_Delete(o);

    res.status = SBX_ERROR;
    res.exit_code = -1;
    res.signal = SIGSEGV;
    o = sbx_fusion_run_response(&res);
    cr_expect_str_eq(get(o, "status")->valuestring, "Failed");
    cr_expect_str_eq(get(get(o, "run_result"), "status")->valuestring, "Finished");
    cr_expect_eq(get(get(o, "run_result"), "return_code")->valueint, -SIGSEGV);
    cJSON_Delete(o);

    res.status = SBX_SANDBOX_ERROR;
    strcpy(res.message, "worker died");
    o = sbx_fusion_run_response(&res);
    cr_expect_str_eq(get(o, "status")->valuestring, "SandboxError");
    cr_expect_str_eq(get(o, "message")->valuestring, "worker died");
    cr_expect(cJSON_IsNull(get(o, "run_result")));
    cJSON_Delete(o);
}

/* The JSON value counter that guards the parse: hand-counted structural characters outside strings (escaped quotes
 * included), never fewer than the values cJSON builds, and it stops past its max. */
Test(fusion, json_value_bound) {
    const char *j = "{\"a\": [1, 2, \"x,y:[{\\\"]\"], \"b\": {\"c\": null}}";
    cr_expect_eq(sbx_json_count_values(j, strlen(j), 1000), 10); /* 1 + { : [ , , , : { : */
    cJSON *o = cJSON_Parse(j);
    cr_assert(o != NULL);
    cJSON_Delete(o); /* 7 values: the object, the array, 1, 2, the string, the inner object, null */
    cr_expect_eq(sbx_json_count_values("[0,0,0,0,0]", 11, 3), 4, "stops one past max");
    cr_expect_eq(sbx_json_count_values("\"[,,,]\"", 7, 100), 1);
}

/* The parse's own caps: too many values, too many fetch_files names, memory_limit_MB over the server's cap. */
Test(fusion, request_caps) {
    sbx_fusion_req r;
    rt_error err;
    size_t n = SBX_FUSION_MAX_VALUES + 10;
    char *big = malloc(2 * n + 64);
    size_t len = (size_t)sprintf(big, "{\"code\": \"1\", \"x\": [");
    for (size_t i = 0; i < n; i++)
        big[len++] = '0', big[len++] = ',';
    len += (size_t)sprintf(big + len - 1, "]}") - 1;
    cr_expect_eq(sbx_fusion_parse(big, len, 0, 1024, 0, &r, &err), RT_EINVAL);
    cr_expect(strstr(err.msg, "JSON values") != NULL, "%s", err.msg);
    len = (size_t)sprintf(big, "{\"code\": \"1\", \"fetch_files\": [");
    for (int i = 0; i <= SBX_FUSION_MAX_FETCH; i++)
        len += (size_t)sprintf(big + len, "%s\"f\"", i ? "," : "");
    len += (size_t)sprintf(big + len, "]}");
    cr_expect_eq(sbx_fusion_parse(big, len, 0, 1024, 0, &r, &err), RT_EINVAL);
    cr_expect(strstr(err.msg, "fetch_files") != NULL, "%s", err.msg);
    free(big);
    const char *m = "{\"code\": \"1\", \"memory_limit_MB\": 3000}";
    cr_expect_eq(sbx_fusion_parse(m, strlen(m), 0, 1024, 2048, &r, &err), RT_EINVAL);
    cr_expect(strstr(err.msg, "memory_limit_MB") && strstr(err.msg, "2048"), "%s", err.msg);
    cr_assert_eq(sbx_fusion_parse(m, strlen(m), 0, 1024, 4096, &r, &err), RT_OK, "%s", err.msg);
    cr_expect_eq(r.limits.memory_mb, 3000);
    sbx_fusion_req_free(&r);
}
