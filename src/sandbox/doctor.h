/* `retool sandbox doctor`: starts a one-worker pool, runs a probe program inside it, and reports each protection
 * as active or not, with the reason. */
#ifndef RETOOL_SANDBOX_DOCTOR_H
#define RETOOL_SANDBOX_DOCTOR_H

#include <stdio.h>

#include "base/error.h"

/* Prints one line per protection to out ("active   name: detail" or "MISSING  name: why"); *missing gets how many
 * protections are not in force. Fails only when the sandbox cannot start at all (err says why). */
rt_status sbx_doctor_run(FILE *out, int *missing, rt_error *err);

#endif
