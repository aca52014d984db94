/* Internal to reward/: exact evaluation of a normalised answer as a rational number (GMP), so that "0.75",
 * "\frac{3}{4}", "3/4" and "6/8" compare equal without any rounding. */
#ifndef RETOOL_REWARD_RATIONAL_H
#define RETOOL_REWARD_RATIONAL_H

#include <gmp.h>

typedef enum reward_rat_status {
    REWARD_RAT_OK = 0,
    REWARD_RAT_SYNTAX,    /* not an arithmetic expression of numbers (radicals, pi, variables, text, ...) */
    REWARD_RAT_UNDEFINED, /* valid arithmetic without a value: division by zero, 0^-1 */
    REWARD_RAT_TOO_BIG,   /* a power whose result would exceed the size limit (4 Mbit) */
} reward_rat_status;

/* Evaluates s (no white space; as reward_normalize leaves it): integers with leading zeros, decimals, \frac{a}{b},
 * a/b, mixed numbers (3\frac{1}{2}), + - * / \cdot \times \div, ^ with an integer exponent, () and {} groups,
 * implicit product before '('. out must be initialised by the caller. */
reward_rat_status reward_rational_eval(const char *s, mpq_t out);

#endif
