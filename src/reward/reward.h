/* Rewards for math answers: extract the final boxed answer from a response, normalise it, decide whether it is
 * equivalent to the reference answer (exact rational arithmetic, never floats), and turn the verdict into a reward.
 * The rules and a table of examples are in docs/REWARD.md. */
#ifndef RETOOL_REWARD_REWARD_H
#define RETOOL_REWARD_REWARD_H

#include "base/error.h"

/* The outcome of comparing two answers. */
typedef enum reward_verdict {
    REWARD_EQUAL = 0, /* equivalent */
    REWARD_NOT_EQUAL, /* shown different */
    REWARD_UNDECIDED, /* beyond the exact rules (radicals, pi, variables, ...): ask a symbolic checker */
} reward_verdict;

/* A symbolic checker for what the exact rules leave undecided: gets the two normalised answers (LaTeX), returns a
 * verdict (REWARD_UNDECIDED when it cannot tell, fails or times out). ctx is the caller's. */
typedef reward_verdict (*reward_symbolic_fn)(void *ctx, const char *truth, const char *pred);

/* Extracts the final answer of a response: the last \boxed{...} (also \fbox{...} and "\boxed X") inside the last
 * <answer>...</answer> block when there is one, else in the whole response. On RT_OK *answer is a malloc'd copy of
 * the box's content; when there is no answer returns RT_ENOTFOUND with the reason in err (and *answer = NULL). */
rt_status reward_extract(const char *response, char **answer, rt_error *err);

/* Normalises an answer for comparison (white space, \text{}, \left/\right, \dfrac, degrees, units, dollars,
 * thousands separators, "x =", trailing dots, ...; docs/REWARD.md lists every rule). *out is malloc'd. */
rt_status reward_normalize(const char *answer, char **out, rt_error *err);

/* Compares a reference answer and a predicted answer (both un-normalised box contents). symbolic may be NULL; when
 * set it is consulted for what the exact rules leave undecided. */
rt_status reward_equivalent(const char *truth, const char *pred, reward_symbolic_fn symbolic, void *symbolic_ctx,
                            reward_verdict *out, rt_error *err);

/* "equal", "not_equal" or "undecided". */
const char *reward_verdict_name(reward_verdict v);

/* How verdicts become numbers. */
typedef enum reward_shape {
    REWARD_SHAPE_SIGNED = 0, /* +1 equivalent, -1 otherwise (the paper's) */
    REWARD_SHAPE_BINARY,     /* 1 equivalent, 0 otherwise */
} reward_shape;

typedef struct reward_options {
    reward_shape shape;
    int format_penalty;          /* when set, a response with no answer gets no_answer_reward instead of "wrong" */
    double no_answer_reward;     /* e.g. -1.5 (signed) or -0.5 (binary) */
    int undecided_is_equal;      /* 0 (default): an undecided verdict scores as wrong and is flagged */
    reward_symbolic_fn symbolic; /* optional symbolic checker (NULL: none) */
    void *symbolic_ctx;
} reward_options;

/* The default options: signed shape, no format penalty, no symbolic checker. */
void reward_options_default(reward_options *opt);

/* What reward_score decided for one response. */
typedef struct reward_result {
    double reward;
    int has_answer; /* 0: no answer could be extracted (verdict is then REWARD_NOT_EQUAL) */
    reward_verdict verdict;
    char *answer;     /* the extracted answer (malloc'd) or NULL */
    char reason[160]; /* why there was no answer, or "" */
} reward_result;

/* Scores a whole response against a reference answer. truth may itself be "\boxed{...}" (it is unwrapped). */
rt_status reward_score(const char *response, const char *truth, const reward_options *opt, reward_result *out,
                       rt_error *err);

/* Frees what reward_score allocated in r. */
void reward_result_free(reward_result *r);

/* Settings of the built-in symbolic checker that runs sympy in a local Python subprocess. It runs model output
 * through sympy's parser outside any sandbox, so it is off unless a caller passes it explicitly; the rollout layer
 * plugs in the sandbox instead. Inputs are translated to a small whitelisted syntax first and refused otherwise. */
typedef struct reward_python_checker {
    const char *python; /* interpreter path; NULL means /usr/bin/python3 */
    double timeout_s;   /* wall-clock limit per comparison; <= 0 means 10 s */
} reward_python_checker;

/* A reward_symbolic_fn: ctx is a reward_python_checker *. Returns REWARD_UNDECIDED when the answers cannot be
 * translated, Python fails, or the timeout passes. */
reward_verdict reward_symbolic_python(void *ctx, const char *truth, const char *pred);

/* Translates a normalised LaTeX answer into sympy input syntax ("\frac{\sqrt{3}}{2}" -> "((sqrt((3)))/((2)))");
 * returns NULL when it uses anything outside the whitelist (docs/REWARD.md). Caller frees. */
char *reward_latex_to_sympy(const char *latex);

#endif
