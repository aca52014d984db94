/* `retool score` against the PyTorch reference's log-probs, and its errors. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "model/safetensors.h"

static const char *bin(void) {
    const char *b = getenv("RETOOL_BIN");
    return b ? b : "./build/retool";
}

Test(score, cli_matches_reference_log_probs) {
    char dir[256], path[512];
    th_tmpdir(dir, sizeof dir);
    th_sh("/usr/bin/python3 tests/model/ref_model.py init %s llama 5", dir);
    snprintf(path, sizeof path, "%s/batch.json", dir);
    FILE *f = fopen(path, "w");
    fprintf(f, "{\"seqs\": [[1,2,3,4,5,6,7], [9,9], [40,30,20,10,0]], \"weights\": [[0,0,0,0,0,0,0],[0,0],[0,0,0,0,0]]}");
    fclose(f);
    th_sh("/usr/bin/python3 tests/model/ref_model.py run %s %s %s/ref.safetensors", dir, path, dir);
    snprintf(path, sizeof path, "%s/in.jsonl", dir);
    f = fopen(path, "w");
    fprintf(f, "[1,2,3,4,5,6,7]\n[9, 9]\n[40,30,20,10,0]\n[3]\n");
    fclose(f);
    th_sh("%s score --model %s --chunk 3 < %s/in.jsonl > %s/out.txt", bin(), dir, dir, dir);
    st_set ref;
    rt_error err;
    snprintf(path, sizeof path, "%s/ref.safetensors", dir);
    cr_assert_eq(st_open_file(path, &ref, &err), RT_OK, "%s", err.msg);
    float want[14];
    cr_assert_eq(st_to_f32(st_find(&ref, "logp"), want, &err), RT_OK);
    st_close(&ref);
    snprintf(path, sizeof path, "%s/out.txt", dir);
    f = fopen(path, "r");
    char line[4096];
    const int lens[4] = {7, 2, 5, 1};
    int base = 0;
    for (int s = 0; s < 4; s++) {
        cr_assert_not_null(fgets(line, sizeof line, f), "line %d missing", s + 1);
        char *p = line;
        cr_assert_eq(*p++, '[');
        for (int i = 0; i + 1 < lens[s]; i++) {
            char *end;
            double v = strtod(p, &end);
            cr_assert(end != p, "line %d: value %d missing: %s", s + 1, i, line);
            cr_assert(fabs(v - want[base + i]) < 1e-4 * fmax(1, fabs(want[base + i])), "line %d token %d: %g vs %g",
                      s + 1, i + 1, v, want[base + i]);
            p = end;
            while (*p == ',' || *p == ' ') p++;
        }
        cr_assert_eq(*p, ']', "line %d: %s", s + 1, line);
        base += lens[s];
    }
    fclose(f);
    /* a bad line names its line number and fails */
    snprintf(path, sizeof path, "%s/bad.jsonl", dir);
    f = fopen(path, "w");
    fprintf(f, "[1,2]\n[1,\"x\"]\n");
    fclose(f);
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s score --model %s < %s 2>%s/err.txt >/dev/null", bin(), dir, path, dir);
    int rc = system(cmd);
    cr_assert(WIFEXITED(rc) && WEXITSTATUS(rc) == 1, "exit %d", rc);
    snprintf(path, sizeof path, "%s/err.txt", dir);
    f = fopen(path, "r");
    cr_assert_not_null(fgets(line, sizeof line, f));
    fclose(f);
    cr_assert(strstr(line, "line 2") != NULL, "%s", line);
    th_sh("rm -rf %s", dir);
}
