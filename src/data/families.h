/* Internal to data/: the family tables (one file per group) and the helpers they share. */
#ifndef RETOOL_DATA_FAMILIES_H
#define RETOOL_DATA_FAMILIES_H

#include <gmp.h>

#include "base/strbuf.h"
#include "data/synth.h"

extern const data_family data_fam_mul, data_fam_modpow, data_fam_digitsum, data_fam_count, data_fam_series,
    data_fam_binom, data_fam_gcdlcm, data_fam_base, data_fam_add, data_fam_sub, data_fam_compare;

/* Sorts ops[0..n) in descending order: the canonical operands of a symmetric operation. */
void data_ops_sort_desc(int64_t *ops, int n);

/* Rewrites base^exp with the smallest base that gives the same power (4^3 -> 2^6, 27^2 -> 3^6). */
void data_power_root(int64_t *base, int64_t *exp);

/* Appends the decimal digits of z. */
void data_put_mpz(rt_strbuf *b, const mpz_t z);

/* Moves the built strings into p (prompt always; answer, program, text when full) and checks for allocation failure;
 * the buffers are emptied either way. */
rt_status data_fill(data_problem *p, rt_strbuf *prompt, const mpz_t answer, rt_strbuf *program, rt_strbuf *text,
                    int full, rt_error *err);

#endif
