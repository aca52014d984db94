/* The built-in symbolic checker: LaTeX -> a whitelisted sympy syntax, then sympy in a /usr/bin/python3 subprocess
 * with a timeout. Off unless a caller passes reward_symbolic_python explicitly (see reward.h). */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/strbuf.h"
#include "base/timer.h"
#include "reward/reward.h"
#include "reward/text.h"

static const char *const plain_cmds[][2] = {
    {"\\pi", "pi"},   {"\\infty", "oo"}, {"\\cdot", "*"},  {"\\times", "*"}, {"\\div", "/"},   {"\\sin", "sin"},
    {"\\cos", "cos"}, {"\\tan", "tan"},  {"\\log", "log"}, {"\\ln", "log"},  {"\\exp", "exp"},
};
static const char *const allowed_names[] = {"sqrt", "pi", "oo", "sin", "cos", "tan", "log", "exp", NULL};

static int convert(rt_strbuf *b, const char *s, size_t n);

/* Converts the brace group at s[*i] ("{...}") and advances past it. */
static int convert_group(rt_strbuf *b, const char *s, size_t n, size_t *i) {
    if (*i >= n || s[*i] != '{') return 0;
    size_t close = reward_match_brace(s, *i);
    if (!close || close > n) return 0;
    rt_strbuf_putc(b, '(');
    int ok = convert(b, s + *i + 1, close - *i - 2);
    rt_strbuf_putc(b, ')');
    *i = close;
    return ok;
}

static int convert(rt_strbuf *b, const char *s, size_t n) {
    for (size_t i = 0; i < n;) {
        char c = s[i];
        if (c == '\\') {
            size_t j = i + 1;
            while (j < n && isalpha((unsigned char)s[j]))
                j++;
            size_t len = j - i;
            if (len == 5 && strncmp(s + i, "\\frac", 5) == 0) {
                i = j;
                rt_strbuf_puts(b, "(");
                if (!convert_group(b, s, n, &i)) return 0;
                rt_strbuf_puts(b, "/");
                if (!convert_group(b, s, n, &i)) return 0;
                rt_strbuf_puts(b, ")");
                continue;
            }
            if (len == 5 && strncmp(s + i, "\\sqrt", 5) == 0) {
                i = j;
                if (i < n && s[i] == '[') {
                    size_t k = i + 1;
                    while (k < n && s[k] != ']')
                        k++;
                    if (k >= n) return 0;
                    rt_strbuf_puts(b, "((");
                    size_t g = k + 1;
                    if (!convert_group(b, s, n, &g)) return 0;
                    rt_strbuf_puts(b, ")**(1/(");
                    if (!convert(b, s + i + 1, k - i - 1)) return 0;
                    rt_strbuf_puts(b, ")))");
                    i = g;
                } else {
                    rt_strbuf_puts(b, "sqrt");
                    if (!convert_group(b, s, n, &i)) return 0;
                }
                continue;
            }
            size_t k = 0, nk = sizeof plain_cmds / sizeof plain_cmds[0];
            while (k < nk && !(strlen(plain_cmds[k][0]) == len && strncmp(s + i, plain_cmds[k][0], len) == 0))
                k++;
            if (k == nk) return 0; /* a command outside the whitelist */
            rt_strbuf_putc(b, ' ');
            rt_strbuf_puts(b, plain_cmds[k][1]);
            rt_strbuf_putc(b, ' ');
            i = j;
            continue;
        }
        if (c == '{') {
            if (!convert_group(b, s, n, &i)) return 0;
            continue;
        }
        if (c == '^') {
            rt_strbuf_puts(b, "**");
        } else if (isalnum((unsigned char)c) || strchr("+-*/(). ", c)) {
            rt_strbuf_putc(b, c);
        } else {
            return 0;
        }
        i++;
    }
    return 1;
}

/* Every run of letters must be one letter (a variable) or a whitelisted name. */
static int names_allowed(const char *s) {
    for (size_t i = 0; s[i];) {
        if (!isalpha((unsigned char)s[i])) {
            i++;
            continue;
        }
        size_t j = i;
        while (isalpha((unsigned char)s[j]))
            j++;
        int ok = j - i == 1;
        for (const char *const *a = allowed_names; !ok && *a; a++)
            ok = strlen(*a) == j - i && !strncmp(s + i, *a, j - i);
        if (!ok) return 0;
        i = j;
    }
    return 1;
}

char *reward_latex_to_sympy(const char *latex) {
    if (strlen(latex) > 2000) return NULL; /* no answer is this long; keeps the recursion and Python's parse bounded */
    rt_strbuf b = {0};
    if (!convert(&b, latex, strlen(latex))) {
        free(rt_strbuf_take(&b));
        return NULL;
    }
    char *s = rt_strbuf_take(&b);
    if (s && (!*s || !names_allowed(s))) {
        free(s);
        return NULL;
    }
    return s;
}

static const char script[] = "import sys\n"
                             "from sympy import Symbol, simplify\n"
                             "from sympy.parsing.sympy_parser import parse_expr, standard_transformations, "
                             "implicit_multiplication_application\n"
                             "T = standard_transformations + (implicit_multiplication_application,)\n"
                             "L = {c: Symbol(c) for c in 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'}\n"
                             "try:\n"
                             "    a = parse_expr(sys.argv[1], local_dict=L, transformations=T)\n"
                             "    b = parse_expr(sys.argv[2], local_dict=L, transformations=T)\n"
                             "    r = simplify(a - b).equals(0)\n"
                             "    print('equal' if r is True else 'not_equal' if r is False else 'undecided')\n"
                             "except Exception:\n"
                             "    print('undecided')\n";

reward_verdict reward_symbolic_python(void *ctx, const char *truth, const char *pred) {
    const reward_python_checker *cfg = ctx;
    const char *python = cfg && cfg->python ? cfg->python : "/usr/bin/python3";
    double timeout = cfg && cfg->timeout_s > 0 ? cfg->timeout_s : 10.0;
    char *a = reward_latex_to_sympy(truth), *b = reward_latex_to_sympy(pred);
    reward_verdict v = REWARD_UNDECIDED;
    int fds[2] = {-1, -1};
    if (!a || !b || pipe2(fds, O_CLOEXEC) != 0) goto done;
    char *argv[] = {(char *)python, "-c", (char *)script, a, b, NULL};
    pid_t pid = fork();
    if (pid < 0) goto done;
    if (pid == 0) {
        struct rlimit cpu = {(rlim_t)timeout + 1, (rlim_t)timeout + 1};
        setrlimit(RLIMIT_CPU, &cpu);
        int devnull = open("/dev/null", O_RDWR);
        if (devnull >= 0) {
            dup2(devnull, 0);
            dup2(devnull, 2);
        }
        dup2(fds[1], 1);
        execv(python, argv);
        _exit(127);
    }
    close(fds[1]);
    fds[1] = -1;
    char out[64];
    size_t len = 0;
    double deadline = rt_time_now() + timeout;
    int timed_out = 0;
    for (;;) {
        double left = deadline - rt_time_now();
        if (left <= 0) {
            timed_out = 1;
            break;
        }
        struct pollfd pfd = {fds[0], POLLIN, 0};
        int pr = poll(&pfd, 1, (int)(left * 1000) + 1);
        if (pr < 0 && errno == EINTR) continue;
        if (pr <= 0) continue;
        ssize_t r = read(fds[0], out + len, sizeof out - 1 - len);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        len += (size_t)r;
        if (len == sizeof out - 1) break;
    }
    if (timed_out) kill(pid, SIGKILL);
    int wst;
    while (waitpid(pid, &wst, 0) < 0 && errno == EINTR) {
    }
    out[len] = '\0';
    if (!timed_out && WIFEXITED(wst) && WEXITSTATUS(wst) == 0) {
        if (strcmp(out, "equal\n") == 0) v = REWARD_EQUAL;
        if (strcmp(out, "not_equal\n") == 0) v = REWARD_NOT_EQUAL;
    }
done:
    if (fds[0] >= 0) close(fds[0]);
    if (fds[1] >= 0) close(fds[1]);
    free(a);
    free(b);
    return v;
}
