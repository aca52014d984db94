/* reward_normalize: the rewriting rules of docs/REWARD.md, applied in order. Each pass takes a malloc'd string and
 * returns a malloc'd string (NULL only when an allocation failed). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "base/strbuf.h"
#include "reward/reward.h"
#include "reward/text.h"
#include "reward/units.h"

static char *trim(char *s) {
    if (!s) return NULL;
    size_t a = 0, n = strlen(s);
    while (a < n && isspace((unsigned char)s[a]))
        a++;
    while (n > a && isspace((unsigned char)s[n - 1]))
        n--;
    memmove(s, s + a, n - a);
    s[n - a] = '\0';
    return s;
}

/* "\cmd{X}" -> "X" wherever it occurs (braces balanced); "\cmd{X" unbalanced is left alone. */
static char *unwrap_command(char *s, const char *cmd) {
    if (!s || !strstr(s, cmd)) return s;
    size_t n = strlen(cmd);
    rt_strbuf b = {0};
    for (size_t i = 0; s[i];) {
        if (strncmp(s + i, cmd, n) == 0 && !isalpha((unsigned char)s[i + n])) {
            size_t j = i + n;
            while (s[j] == ' ')
                j++;
            size_t close = s[j] == '{' ? reward_match_brace(s, j) : 0;
            if (close) {
                rt_strbuf_putn(&b, s + j + 1, close - j - 2);
                i = close;
                continue;
            }
        }
        rt_strbuf_putc(&b, s[i++]);
    }
    free(s);
    return rt_strbuf_take(&b);
}

/* "\left(" -> "(", "\left." -> "" (an invisible delimiter); same for \right. */
static char *drop_sizing(char *s, const char *cmd) {
    if (!s || !strstr(s, cmd)) return s;
    size_t n = strlen(cmd);
    rt_strbuf b = {0};
    for (size_t i = 0; s[i];) {
        if (strncmp(s + i, cmd, n) == 0 && !isalpha((unsigned char)s[i + n])) {
            i += n;
            if (s[i] == '.') i++;
            continue;
        }
        rt_strbuf_putc(&b, s[i++]);
    }
    free(s);
    return rt_strbuf_take(&b);
}

/* Runs of white space become one space. */
static char *collapse_space(char *s) {
    if (!s) return NULL;
    size_t w = 0;
    for (size_t r = 0; s[r]; r++) {
        if (isspace((unsigned char)s[r])) {
            if (w == 0 || s[w - 1] != ' ') s[w++] = ' ';
        } else {
            s[w++] = s[r];
        }
    }
    s[w] = '\0';
    return trim(s);
}

static char *drop_space(char *s) {
    if (!s) return NULL;
    size_t w = 0;
    for (size_t r = 0; s[r]; r++)
        if (!isspace((unsigned char)s[r])) s[w++] = s[r];
    s[w] = '\0';
    return s;
}

/* The whole string is one "\cmd{...}" group: keep its content. */
static char *unwrap_whole(char *s, const char *cmd) {
    if (!s) return NULL;
    size_t n = strlen(cmd);
    if (strncmp(s, cmd, n) != 0) return s;
    size_t j = n;
    while (s[j] == ' ')
        j++;
    if (s[j] != '{') return s;
    size_t close = reward_match_brace(s, j);
    if (close == 0 || s[close] != '\0') return s;
    memmove(s, s + j + 1, close - j - 2);
    s[close - j - 2] = '\0';
    return trim(s);
}

/* "$x$", "\(x\)", "\[x\]" -> "x". */
static char *strip_delimiters(char *s) {
    if (!s) return NULL;
    size_t n = strlen(s);
    if (n >= 4 && ((strncmp(s, "\\(", 2) == 0 && strcmp(s + n - 2, "\\)") == 0) ||
                   (strncmp(s, "\\[", 2) == 0 && strcmp(s + n - 2, "\\]") == 0))) {
        memmove(s, s + 2, n - 4);
        s[n - 4] = '\0';
    }
    return trim(s);
}

/* "3 1/2" -> "3\frac{1}{2}" (a mixed number written with a space; must run before white space is dropped). */
static char *mixed_numbers(char *s) {
    if (!s) return NULL;
    rt_strbuf b = {0};
    for (size_t i = 0; s[i];) {
        int at_start = (i == 0 || !(isdigit((unsigned char)s[i - 1]) || s[i - 1] == '.'));
        if (at_start && isdigit((unsigned char)s[i])) {
            size_t a = i, ae, c, ce, d, de;
            for (ae = a; isdigit((unsigned char)s[ae]);)
                ae++;
            c = ae;
            if (s[c] == ' ' && isdigit((unsigned char)s[c + 1])) {
                c++;
                for (ce = c; isdigit((unsigned char)s[ce]);)
                    ce++;
                if (s[ce] == '/' && isdigit((unsigned char)s[ce + 1])) {
                    d = ce + 1;
                    for (de = d; isdigit((unsigned char)s[de]);)
                        de++;
                    if (!isdigit((unsigned char)s[de]) && s[de] != '.') {
                        rt_strbuf_putn(&b, s + a, ae - a);
                        rt_strbuf_puts(&b, "\\frac{");
                        rt_strbuf_putn(&b, s + c, ce - c);
                        rt_strbuf_puts(&b, "}{");
                        rt_strbuf_putn(&b, s + d, de - d);
                        rt_strbuf_puts(&b, "}");
                        i = de;
                        continue;
                    }
                }
            }
            rt_strbuf_putn(&b, s + a, ae - a);
            i = ae;
            continue;
        }
        rt_strbuf_putc(&b, s[i++]);
    }
    free(s);
    return rt_strbuf_take(&b);
}

/* "1,234,567.5" -> "1234567.5" when the whole answer is one number with thousands separators (so "(1,2)" and
 * "1, 2" are untouched). */
static char *thousands(char *s) {
    if (!s) return NULL;
    const char *p = s;
    if (*p == '+' || *p == '-') p++;
    size_t lead = 0;
    while (isdigit((unsigned char)p[lead]))
        lead++;
    if (lead < 1 || lead > 3 || p[lead] != ',') return s;
    const char *q = p + lead;
    int groups = 0;
    while (q[0] == ',' && isdigit((unsigned char)q[1]) && isdigit((unsigned char)q[2]) &&
           isdigit((unsigned char)q[3])) {
        q += 4;
        groups++;
    }
    if (groups == 0) return s;
    if (*q == '.') {
        q++;
        while (isdigit((unsigned char)*q))
            q++;
    }
    if (*q != '\0' && strcmp(q, "%") != 0) return s;
    size_t w = 0;
    for (size_t r = 0; s[r]; r++)
        if (s[r] != ',') s[w++] = s[r];
    s[w] = '\0';
    return s;
}

/* "\frac12" -> "\frac{1}{2}", "\frac1{2}", "\frac{1}2"; "\sqrt2" -> "\sqrt{2}" (LaTeX's one-token arguments). */
static char *brace_short_args(char *s, const char *cmd, int nargs) {
    if (!s || !strstr(s, cmd)) return s;
    size_t n = strlen(cmd);
    rt_strbuf b = {0};
    for (size_t i = 0; s[i];) {
        if (strncmp(s + i, cmd, n) == 0 && !isalpha((unsigned char)s[i + n])) {
            rt_strbuf_puts(&b, cmd);
            i += n;
            for (int a = 0; a < nargs; a++) {
                if (s[i] == '{') {
                    size_t close = reward_match_brace(s, i);
                    if (!close) break;
                    rt_strbuf_putn(&b, s + i, close - i);
                    i = close;
                } else if (isalnum((unsigned char)s[i])) {
                    rt_strbuf_putc(&b, '{');
                    rt_strbuf_putc(&b, s[i++]);
                    rt_strbuf_putc(&b, '}');
                } else {
                    break;
                }
            }
            continue;
        }
        rt_strbuf_putc(&b, s[i++]);
    }
    free(s);
    return rt_strbuf_take(&b);
}

/* "x=5" -> "5", "\theta=30" -> "30", "a_1=2" -> "2" (one name, one '=', something after it). */
static char *leading_name(char *s) {
    if (!s) return NULL;
    size_t i = 0;
    if (isalpha((unsigned char)s[0])) {
        i = 1;
    } else if (s[0] == '\\' && isalpha((unsigned char)s[1])) {
        i = 1;
        while (isalpha((unsigned char)s[i]))
            i++;
    } else {
        return s;
    }
    if (s[i] == '_') {
        i++;
        if (s[i] == '{') {
            size_t close = reward_match_brace(s, i);
            if (!close) return s;
            i = close;
        } else if (isalnum((unsigned char)s[i])) {
            i++;
        } else {
            return s;
        }
    }
    if (s[i] != '=' || s[i + 1] == '\0' || strchr(s + i + 1, '=')) return s;
    memmove(s, s + i + 1, strlen(s + i + 1) + 1);
    return s;
}

static char *trailing_dots(char *s) {
    if (!s) return NULL;
    size_t n = strlen(s);
    while (n > 0 && s[n - 1] == '.')
        s[--n] = '\0';
    return s;
}

/* "(C)" -> "C": a multiple-choice letter. */
static char *choice_letter(char *s) {
    if (!s) return NULL;
    if (s[0] == '(' && isalpha((unsigned char)s[1]) && s[2] == ')' && s[3] == '\0') {
        s[0] = s[1];
        s[1] = '\0';
    }
    return s;
}

/* "{5}" -> "5" while the whole string is one brace group. */
static char *outer_braces(char *s) {
    while (s && s[0] == '{') {
        size_t close = reward_match_brace(s, 0);
        if (!close || s[close] != '\0') break;
        size_t n = close - 2;
        memmove(s, s + 1, n);
        s[n] = '\0';
    }
    return s;
}

rt_status reward_normalize(const char *answer, char **out, rt_error *err) {
    static const char *const wrappers[] = {"\\text",   "\\textbf", "\\textit", "\\textrm", "\\textup", "\\textnormal",
                                           "\\mathrm", "\\mathbf", "\\mathit", "\\mbox",   "\\hbox",   "\\boxed"};
    static const char *const spacing[][2] = {
        {"\\!", ""},
        {"\\,", ""},
        {"\\;", ""},
        {"\\:", ""},
        {"\\ ", " "},
        {"~", " "},
        {"\\quad", " "},
        {"\\qquad", " "},
        {"\\displaystyle", ""},
        {"\\dfrac", "\\frac"},
        {"\\tfrac", "\\frac"},
        {"\\cfrac", "\\frac"},
        {"^{\\circ}", ""},
        {"^\\circ", ""},
        {"\xc2\xb0", ""},
        {"\\degree", ""},
        {"\\%", "%"},
        {"\\infin", "\\infty"},
        {"\xe2\x88\x9e", "\\infty"},
        {"{,}", ","},
        {"\\$", ""},
        {"$", ""},
    };
    char *s = strdup(answer);
    s = trim(s);
    s = unwrap_whole(s, "\\boxed");
    s = strip_delimiters(s);
    for (size_t k = 0; k < sizeof spacing / sizeof spacing[0]; k++) {
        /* Commands match whole ("\\quad" never inside "\\quadrant"). */
        int whole = spacing[k][0][0] == '\\' && isalpha((unsigned char)spacing[k][0][1]);
        s = reward_replace(s, spacing[k][0], spacing[k][1], whole);
    }
    s = drop_sizing(s, "\\left");
    s = drop_sizing(s, "\\right");
    for (size_t k = 0; k < sizeof wrappers / sizeof wrappers[0]; k++)
        s = unwrap_command(s, wrappers[k]);
    s = collapse_space(s);
    s = strip_delimiters(s);
    s = reward_units_strip(s);
    s = mixed_numbers(s);
    s = thousands(s);
    s = drop_space(s);
    s = brace_short_args(s, "\\frac", 2);
    s = brace_short_args(s, "\\sqrt", 1);
    s = outer_braces(s);
    s = leading_name(s);
    s = trailing_dots(s);
    s = choice_letter(s);
    s = outer_braces(s);
    if (!s) return rt_err_set(err, RT_ENOMEM, "normalising an answer: out of memory");
    *out = s;
    return RT_OK;
}
