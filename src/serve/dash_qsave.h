/* The dashboard's queue index kept on disk beside the queue (QUEUE.dashidx), so that reopening a million-line queue
 * reads the index instead of every line. The saved index names the bytes of the queue it covers: their length,
 * the file's mtime, and a hash of their first and last 4 KiB. It is used when the queue still starts with those bytes
 * (the lines appended since are then read as usual) and ignored otherwise (the queue is indexed anew and the index
 * written again). Written atomically (temp file, fsync, rename). */
#ifndef RETOOL_SERVE_DASH_QSAVE_H
#define RETOOL_SERVE_DASH_QSAVE_H

#include "base/error.h"
#include "serve/dash_queue.h"

/* The saved index's path for a queue path (malloc'd), or NULL when out of memory. */
char *dash_qsave_path(const char *queue_path);

/* Writes q's index (q has been refreshed, with no error) to dash_qsave_path(its queue). */
rt_status dash_qsave_write(const dash_queue *q, rt_error *err);

/* Loads the saved index into q (freshly initialised, nothing read yet) when it matches the queue on disk: 1 when
 * loaded, 0 when there is none or it does not match (q untouched), or an error (out of memory, unreadable queue). */
int dash_qsave_read(dash_queue *q, rt_error *err);

#endif
