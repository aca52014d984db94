/* Which worker tier a program needs: the light tier (standard library preloaded, cheap to fork) serves programs that
 * name no third-party package; everything else goes to the full tier (numpy and sympy preloaded). The test is on
 * words, not on a parse: a name in a string or a comment also counts, and any way of importing by a computed name
 * (__import__, importlib, exec, eval) sends the program to the full tier. A program misrouted to the light tier still
 * runs correctly; it only pays for its imports. */
#include <ctype.h>
#include <string.h>

#include "sandbox/sbx_internal.h"

/* Names whose presence means the program may import a package that only the full tier has preloaded. */
static const char *const full_words[] = {
    "numpy",     "sympy",         "scipy", "mpmath", "pandas",  "matplotlib", "networkx",
    "sklearn",   "statsmodels",   "torch", "numba",  "cvxpy",   "gmpy2",      "__import__",
    "importlib", "import_module", "exec",  "eval",   "compile", "runpy",
};

static int ident_char(unsigned char c) {
    return isalnum(c) || c == '_' || c >= 0x80;
}

int sbx_code_needs_full(const char *code, size_t len) {
    size_t i = 0;
    while (i < len) {
        if (!ident_char((unsigned char)code[i]) || isdigit((unsigned char)code[i])) {
            /* skip a number's digits with the rest of its token: 1e5, 0x1f */
            if (isdigit((unsigned char)code[i]))
                while (i < len && ident_char((unsigned char)code[i]))
                    i++;
            else
                i++;
            continue;
        }
        size_t b = i;
        while (i < len && ident_char((unsigned char)code[i]))
            i++;
        size_t n = i - b;
        for (size_t k = 0; k < sizeof full_words / sizeof full_words[0]; k++)
            if (strlen(full_words[k]) == n && !memcmp(code + b, full_words[k], n)) return 1;
    }
    return 0;
}
