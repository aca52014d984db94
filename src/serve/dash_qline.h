/* What one review queue line says, for the dashboard's queue view (dash_queue.c): read on two threads at once (it
 * touches nothing but its record), applied to the view in order afterwards. One walk over the line's tokens
 * (dash_jtok.h) checks it is well-formed JSON and takes an entry's summary (time, reasons, samples, tool calls, wall
 * time, the request's user) and the id, kind and decision. Not public. */
#ifndef RETOOL_SERVE_DASH_QLINE_H
#define RETOOL_SERVE_DASH_QLINE_H

#include <stddef.h>
#include <stdint.h>

#include "serve/dash_queue.h"

/* What a line is: blank, an entry, a decision, or the error that names it. */
enum {
    DASH_QLINE_BLANK,
    DASH_QLINE_ENTRY,
    DASH_QLINE_DECISION,
    DASH_QLINE_NOT_OBJECT,  /* not a JSON object (or malformed before its kind and id) */
    DASH_QLINE_NOT_STRINGS, /* kind or id missing or no string */
    DASH_QLINE_ID_LONG,     /* the id, as written, over DASH_QLINE_ID_MAX bytes */
    DASH_QLINE_BAD_KIND,    /* kind neither "entry" nor "decision" */
};

#define DASH_QLINE_ID_MAX 1016 /* bytes of an id, as written (quotes included) */

typedef struct dash_qline {
    dash_entry e;       /* an entry's summary (its line, id_off and tag are the view's to set) */
    const char *id;     /* the id's JSON string in the line */
    uint32_t id_hash;   /* dash_queue_hash of the decoded id */
    uint32_t user_hash; /* dash_queue_hash of user */
    uint16_t id_len;    /* bytes of the decoded id in id_text; UINT16_MAX when it did not fit (decode id again) */
    uint8_t what;       /* DASH_QLINE_* */
    uint8_t malformed;  /* an entry whose summary is unreadable, a decision that is not one object */
    uint8_t decision;   /* DASH_APPROVED, DASH_REJECTED, or DASH_PENDING when the field is bad */
    char kind[16];      /* the kind as read (for the error naming it) */
    char id_text[64];   /* the decoded id, NUL-terminated, when it fits */
    char user[128];     /* the request's "user", decoded and cut to fit ("" when none or no string) */
} dash_qline;

/* Reads the line [text, text + len) into *r. */
void dash_qline_read(const char *text, size_t len, dash_qline *r);

#endif
