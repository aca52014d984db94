#include "pipeline/svg.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "pipeline/html.h"

size_t pipe_svg_ticks(double lo, double hi, int target, int integer_only, double *out, size_t max) {
    if (!(hi > lo) || target < 1 || max == 0) return 0;
    double raw = (hi - lo) / target;
    double p = pow(10.0, floor(log10(raw)));
    double f = raw / p, step = 10 * p; /* the nice step nearest to raw */
    if (f < 1.5)
        step = p;
    else if (f < 3)
        step = 2 * p;
    else if (f < 7)
        step = 5 * p;
    if (integer_only && step < 1) step = 1;
    size_t n = 0;
    for (double v = ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9 && n < max; v += step) {
        double t = fabs(v) < step * 1e-9 ? 0.0 : v; /* no "-0" */
        out[n++] = t;
    }
    return n;
}

/* Shortest readable label of a tick value. */
static void tick_label(char *buf, size_t n, double v) {
    double a = fabs(v);
    if (a != 0 && (a >= 1e6 || a < 1e-3))
        snprintf(buf, n, "%.2g", v);
    else
        snprintf(buf, n, "%.6g", v);
}

void pipe_svg_line_chart(pipe_buf *b, const char *title, const char *xlabel, const pipe_svg_series *s, size_t ns,
                         int width, int height) {
    const double left = 64, right = 16, bottom = 46;
    /* Legend under the title, entries left to right, wrapping: its rows push the plot down. */
    double lx[64], ly[64], cx = left, cy = 38;
    for (size_t i = 0; i < ns && i < 64; i++) {
        double w = 30 + 6.5 * (double)strlen(s[i].label ? s[i].label : "");
        if (cx > left && cx + w > width - right) cx = left, cy += 16;
        lx[i] = cx, ly[i] = cy;
        cx += w + 12;
    }
    const double top = ns ? cy + 16 : 34;
    double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
    for (size_t i = 0; i < ns; i++)
        for (size_t j = 0; j < s[i].n; j++) {
            if (!isfinite(s[i].x[j]) || !isfinite(s[i].y[j])) continue;
            xlo = fmin(xlo, s[i].x[j]);
            xhi = fmax(xhi, s[i].x[j]);
            ylo = fmin(ylo, s[i].y[j]);
            yhi = fmax(yhi, s[i].y[j]);
        }
    if (!isfinite(xlo)) xlo = 0, xhi = 1, ylo = 0, yhi = 1;
    if (xhi == xlo) xlo -= 1, xhi += 1;
    if (yhi == ylo) {
        double pad = fabs(ylo) > 0 ? fabs(ylo) * 0.1 : 1;
        ylo -= pad, yhi += pad;
    }
    double xt[32], yt[32];
    size_t nxt = pipe_svg_ticks(xlo, xhi, 6, 1, xt, 32), nyt = pipe_svg_ticks(ylo, yhi, 5, 0, yt, 32);
    /* Widen the y range to the outer ticks so lines never touch the frame. */
    double ystep = nyt > 1 ? yt[1] - yt[0] : 0;
    if (nyt > 0 && yt[0] > ylo) ylo = yt[0] - ystep;
    if (nyt > 0 && yt[nyt - 1] < yhi) yhi = yt[nyt - 1] + ystep;
    nyt = pipe_svg_ticks(ylo, yhi, 5, 0, yt, 32);
    double pw = width - left - right, ph = height - top - bottom;
#define PX(v) (left + ((v)-xlo) / (xhi - xlo) * pw)
#define PY(v) (top + ph - ((v)-ylo) / (yhi - ylo) * ph)
    pipe_buf_printf(b,
                    "<svg class=\"chart\" width=\"%d\" height=\"%d\" "
                    "viewBox=\"0 0 %d %d\" role=\"img\">",
                    width, height, width, height);
    pipe_buf_puts(b, "<title>");
    pipe_html_escape_str(b, title);
    pipe_buf_puts(b, "</title>");
    pipe_buf_printf(b, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>", width, height);
    pipe_buf_printf(b, "<text x=\"%.1f\" y=\"20\" class=\"ct\">", left);
    pipe_html_escape_str(b, title);
    pipe_buf_puts(b, "</text>");
    for (size_t i = 0; i < nyt; i++) {
        char lab[32];
        tick_label(lab, sizeof lab, yt[i]);
        pipe_buf_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e3e3e3\"/>", left,
                        PY(yt[i]), left + pw, PY(yt[i]));
        pipe_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" class=\"tk\" text-anchor=\"end\">%s</text>", left - 6,
                        PY(yt[i]) + 4, lab);
    }
    for (size_t i = 0; i < nxt; i++) {
        char lab[32];
        tick_label(lab, sizeof lab, xt[i]);
        pipe_buf_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#555555\"/>", PX(xt[i]),
                        top + ph, PX(xt[i]), top + ph + 5);
        pipe_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" class=\"tk\" text-anchor=\"middle\">%s</text>", PX(xt[i]),
                        top + ph + 18, lab);
    }
    pipe_buf_printf(b, "<path d=\"M%.1f %.1fV%.1fH%.1f\" fill=\"none\" stroke=\"#555555\"/>", left, top, top + ph,
                    left + pw);
    pipe_buf_printf(b, "<text x=\"%.1f\" y=\"%d\" class=\"tk\" text-anchor=\"middle\">", left + pw / 2, height - 8);
    pipe_html_escape_str(b, xlabel);
    pipe_buf_puts(b, "</text>");
    for (size_t i = 0; i < ns; i++) {
        size_t finite = 0, last = 0;
        for (size_t j = 0; j < s[i].n; j++)
            if (isfinite(s[i].x[j]) && isfinite(s[i].y[j])) finite++, last = j;
        if (finite == 0) continue;
        pipe_buf_printf(b,
                        "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" stroke-linejoin=\"round\" "
                        "points=\"",
                        s[i].color);
        const char *sep = "";
        for (size_t j = 0; j < s[i].n; j++) {
            if (!isfinite(s[i].x[j]) || !isfinite(s[i].y[j])) continue;
            pipe_buf_printf(b, "%s%.1f,%.1f", sep, PX(s[i].x[j]), PY(s[i].y[j]));
            sep = " ";
        }
        pipe_buf_puts(b, "\"/>");
        if (finite == 1)
            pipe_buf_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>", PX(s[i].x[last]),
                            PY(s[i].y[last]), s[i].color);
    }
    for (size_t i = 0; i < ns && i < 64; i++) {
        pipe_buf_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"3\"/>",
                        lx[i], ly[i] - 4, lx[i] + 18, ly[i] - 4, s[i].color);
        pipe_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" class=\"lg\">", lx[i] + 24, ly[i]);
        pipe_html_escape_str(b, s[i].label);
        pipe_buf_puts(b, "</text>");
    }
    pipe_buf_puts(b, "</svg>\n");
#undef PX
#undef PY
}
