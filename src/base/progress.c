#include "base/progress.h"

#include <math.h>
#include <string.h>
#include <unistd.h>

#include "base/timer.h"

void rt_progress_init(rt_progress *p, const char *label, uint64_t total, const char *unit) {
    memset(p, 0, sizeof *p);
    snprintf(p->label, sizeof p->label, "%s", label ? label : "");
    p->unit = unit ? unit : "it";
    p->total = total;
    p->start = rt_time_now();
    p->last_print = -1e300;
    p->line_interval = 5.0;
    p->out = stderr;
    p->tty = isatty(fileno(stderr));
}

void rt_progress_set_output(rt_progress *p, FILE *out, int tty) {
    p->out = out;
    p->tty = tty;
}

void rt_format_duration(double s, char *buf, size_t n) {
    if (!isfinite(s) || s < 0) {
        snprintf(buf, n, "?");
    } else if (s >= 3600) {
        long m = (long)(s / 60);
        snprintf(buf, n, "%ldh%02ldm", m / 60, m % 60);
    } else if (s >= 60) {
        long t = (long)s;
        snprintf(buf, n, "%ldm%02lds", t / 60, t % 60);
    } else {
        snprintf(buf, n, "%.1fs", s);
    }
}

void rt_progress_format(const rt_progress *p, double elapsed, char *buf, size_t n) {
    double rate = elapsed > 0 ? (double)p->done / elapsed : 0.0;
    char el[32], eta[32];
    rt_format_duration(elapsed, el, sizeof el);
    if (p->total > 0) {
        double frac = (double)p->done / (double)p->total;
        if (frac > 1) frac = 1;
        int width = 24, fill = (int)(frac * width);
        char bar[32];
        for (int i = 0; i < width; i++) bar[i] = i < fill ? '#' : '.';
        bar[width] = '\0';
        if (rate > 0 && p->done < p->total)
            rt_format_duration((double)(p->total - p->done) / rate, eta, sizeof eta);
        else
            snprintf(eta, sizeof eta, p->done >= p->total ? "0.0s" : "?");
        snprintf(buf, n, "%s [%s] %llu/%llu %s %5.1f%% %.1f %s/s elapsed %s eta %s", p->label, bar,
                 (unsigned long long)p->done, (unsigned long long)p->total, p->unit, 100.0 * frac, rate, p->unit, el,
                 eta);
    } else {
        snprintf(buf, n, "%s %llu %s %.1f %s/s elapsed %s", p->label, (unsigned long long)p->done, p->unit, rate,
                 p->unit, el);
    }
}

static void progress_print(rt_progress *p, double now, int final) {
    char line[512];
    rt_progress_format(p, now - p->start, line, sizeof line);
    if (p->tty) {
        fprintf(p->out, "\r\033[K%s%s", line, final ? "\n" : "");
    } else {
        fprintf(p->out, "%s\n", line);
    }
    fflush(p->out);
    p->last_print = now;
    p->printed = 1;
}

void rt_progress_update(rt_progress *p, uint64_t done) {
    p->done = done;
    double now = rt_time_now();
    double interval = p->tty ? 0.1 : p->line_interval;
    if (now - p->last_print >= interval) progress_print(p, now, 0);
}

void rt_progress_finish(rt_progress *p) { progress_print(p, rt_time_now(), 1); }
