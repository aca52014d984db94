/* A monotonic clock for measuring durations. */
#ifndef RETOOL_BASE_TIMER_H
#define RETOOL_BASE_TIMER_H

#include <stdint.h>

/* Seconds since an arbitrary fixed point, from CLOCK_MONOTONIC; never goes backwards. */
double rt_time_now(void);

/* Nanoseconds since an arbitrary fixed point, from CLOCK_MONOTONIC. */
uint64_t rt_time_now_ns(void);

/* CPU seconds used so far by all threads of this process (CLOCK_PROCESS_CPUTIME_ID): a duration measure that other
 * processes competing for the cores do not inflate. */
double rt_time_cpu(void);

/* Seconds since the Unix epoch (wall clock), for timestamps in files. */
double rt_time_wall(void);

#endif
