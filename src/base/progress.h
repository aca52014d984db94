/* A progress bar: updates in place on a terminal, prints a plain line every few seconds when not; shows rate and ETA. */
#ifndef RETOOL_BASE_PROGRESS_H
#define RETOOL_BASE_PROGRESS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct rt_progress {
    char label[64];
    const char *unit;      /* e.g. "it", "tok", "steps" */
    uint64_t total;        /* 0 when unknown */
    uint64_t done;
    double start;          /* rt_time_now() at init */
    double last_print;
    double line_interval;  /* seconds between lines when not a terminal (default 5) */
    int tty;               /* output is a terminal: redraw in place */
    int printed;           /* something was printed */
    FILE *out;
} rt_progress;

/* Starts a progress bar on stderr for total units (0 = unknown total). */
void rt_progress_init(rt_progress *p, const char *label, uint64_t total, const char *unit);

/* Sends the bar to out; tty says whether to redraw in place (default: isatty of stderr). */
void rt_progress_set_output(rt_progress *p, FILE *out, int tty);

/* Records that done units are finished, printing when due (terminal: at most 10 times a second). */
void rt_progress_update(rt_progress *p, uint64_t done);

/* Prints the final state and ends the line. */
void rt_progress_finish(rt_progress *p);

/* Formats the bar's text for elapsed seconds into buf (no newline); used by update and by tests. */
void rt_progress_format(const rt_progress *p, double elapsed, char *buf, size_t n);

/* Formats a duration in seconds as "1h02m", "3m05s" or "12.3s". */
void rt_format_duration(double seconds, char *buf, size_t n);

#endif
