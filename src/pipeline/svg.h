/* Line charts as inline SVG: axes with "nice" ticks and labels, one polyline per series, a legend. */
#ifndef RETOOL_PIPELINE_SVG_H
#define RETOOL_PIPELINE_SVG_H

#include <stddef.h>

#include "pipeline/buf.h"

typedef struct pipe_svg_series {
    const char *label; /* legend text (escaped when written) */
    const char *color; /* CSS colour, e.g. "#1f77b4" (trusted) */
    const double *x;   /* n x values */
    const double *y;   /* n y values; non-finite points are skipped */
    size_t n;
} pipe_svg_series;

/* Appends one <svg> line chart (width x height pixels) of ns series to b: title on top, x axis labelled xlabel.
 * Each series with at least one finite point becomes one <polyline> of exactly its finite points (a single point also
 * gets a <circle>). */
void pipe_svg_line_chart(pipe_buf *b, const char *title, const char *xlabel, const pipe_svg_series *s, size_t ns,
                         int width, int height);

/* Tick positions for [lo, hi]: a step of 1, 2 or 5 times a power of ten giving about target ticks; writes at most
 * max ticks into out and returns their count. With integer_only the step is at least 1. */
size_t pipe_svg_ticks(double lo, double hi, int target, int integer_only, double *out, size_t max);

#endif
