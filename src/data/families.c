#include "data/families.h"

#include <stdlib.h>
#include <string.h>

void data_put_mpz(rt_strbuf *b, const mpz_t z) {
    char *s = mpz_get_str(NULL, 10, z);
    if (!s) {
        b->oom = 1;
        return;
    }
    rt_strbuf_puts(b, s);
    void (*freefunc)(void *, size_t);
    mp_get_memory_functions(NULL, NULL, &freefunc);
    freefunc(s, strlen(s) + 1);
}

rt_status data_fill(data_problem *p, rt_strbuf *prompt, const mpz_t answer, rt_strbuf *program, rt_strbuf *text,
                    int full, rt_error *err) {
    p->prompt = rt_strbuf_take(prompt);
    int ok = p->prompt != NULL;
    if (full) {
        rt_strbuf a = {0};
        data_put_mpz(&a, answer);
        p->answer = rt_strbuf_take(&a);
        p->program = rt_strbuf_take(program);
        p->text_solution = rt_strbuf_take(text);
        ok = ok && p->answer && p->program && p->text_solution;
    } else {
        rt_strbuf_free(program);
        rt_strbuf_free(text);
    }
    if (!ok) {
        data_problem_free(p);
        return rt_err_set(err, RT_ENOMEM, "building a problem: out of memory");
    }
    return RT_OK;
}

void data_ops_sort_desc(int64_t *ops, int n) {
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && ops[j] > ops[j - 1]; j--) {
            int64_t t = ops[j];
            ops[j] = ops[j - 1];
            ops[j - 1] = t;
        }
}

void data_power_root(int64_t *base, int64_t *exp) {
    for (int64_t r = 2; r * r <= *base; r++) {
        int64_t v = r;
        int64_t k = 1;
        while (v < *base) {
            v *= r;
            k++;
        }
        if (v == *base) {
            *base = r;
            *exp *= k;
            return;
        }
    }
}
