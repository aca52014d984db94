#include "serve/dash_qline.h"

#include <stdlib.h>
#include <string.h>

#include "serve/dash_jscan.h"
#include "serve/dash_jtok.h"
#include "serve/review.h"

/* Each walk below takes where a value starts, walks it whole (the cursor past it) and returns 0 when the line is
 * malformed there; a value of the wrong shape for an entry (request not an object, a sample not an object...) sets
 * *shape, as it makes an entry's summary unreadable though the line is well-formed JSON. The shapes are those
 * dash_queue.c read before this walk (the same tests, the same lines rejected). */

/* The serve/review.h bit of a reason's name (0 when it names none). */
static uint8_t reason_bit(const char *name) {
    for (unsigned b = 0; b < SERVE_REVIEW_NREASONS; b++) {
        const char *r = serve_review_reason_name(1u << b);
        if (r[0] == name[0] && !strcmp(r, name)) return (uint8_t)(1u << b);
    }
    return 0;
}

/* review_reasons: the bits of the names it lists (0 when it is no array). */
static int walk_reasons(dash_jtok *t, const char *v, dash_entry *e, int *shape) {
    e->reasons = 0;
    if (*v != '[') return dash_jtok_skip(t, v) != NULL;
    int first = 1, bad = 0;
    dash_jtok_enter(t, v);
    for (const char *el; (el = dash_jtok_elem_next(t, &first, &bad));) {
        const char *se = dash_jtok_skip(t, el);
        char name[40];
        if (!se) return 0;
        if (!dash_js_str(el, se, name, sizeof name)) {
            *shape = 1;
            continue;
        }
        e->reasons |= reason_bit(name);
    }
    return !bad;
}

/* A sample's own retool object: its wall time (the slowest sample's is kept) and tool calls. */
static int walk_sample_retool(dash_jtok *t, const char *v, dash_entry *e, int *shape) {
    if (*v != '{') return *shape = 1, dash_jtok_skip(t, v) != NULL;
    int first = 1, bad = 0;
    dash_jtok_member m;
    dash_jtok_enter(t, v);
    while (dash_jtok_member_next(t, &first, &m, &bad)) {
        double d;
        if (dash_jtok_key_is(&m, "wall_s") && dash_js_num(m.val, t->end, &d) && d > e->wall_s) e->wall_s = (float)d;
        if (dash_jtok_key_is(&m, "tool_calls") && *m.val == '[') {
            int f = 1;
            dash_jtok_enter(t, m.val);
            for (const char *el; (el = dash_jtok_elem_next(t, &f, &bad));) {
                e->tool_calls++;
                if (!dash_jtok_skip(t, el)) return 0;
            }
            if (bad) return 0;
        } else if (!dash_jtok_skip(t, m.val)) {
            return 0;
        }
    }
    return !bad;
}

/* One sample (an element of choices). */
static int walk_sample(dash_jtok *t, const char *v, dash_entry *e, int *shape) {
    e->samples++;
    if (*v != '{') return *shape = 1, dash_jtok_skip(t, v) != NULL;
    int first = 1, bad = 0;
    dash_jtok_member m;
    dash_jtok_enter(t, v);
    while (dash_jtok_member_next(t, &first, &m, &bad))
        if (!(dash_jtok_key_is(&m, "retool") ? walk_sample_retool(t, m.val, e, shape)
                                             : dash_jtok_skip(t, m.val) != NULL))
            return 0;
    return !bad;
}

/* The completion: the request's reasons (its top-level retool object) and each sample. */
static int walk_completion(dash_jtok *t, const char *v, dash_entry *e, int *shape) {
    if (*v != '{') return *shape = 1, dash_jtok_skip(t, v) != NULL;
    int first = 1, bad = 0, ok;
    dash_jtok_member m, x;
    dash_jtok_enter(t, v);
    while (dash_jtok_member_next(t, &first, &m, &bad)) {
        if (dash_jtok_key_is(&m, "retool") && *m.val == '{') {
            int f = 1;
            dash_jtok_enter(t, m.val);
            while (dash_jtok_member_next(t, &f, &x, &bad))
                if (!(dash_jtok_key_is(&x, "review_reasons") ? walk_reasons(t, x.val, e, shape)
                                                             : dash_jtok_skip(t, x.val) != NULL))
                    return 0;
            ok = !bad;
        } else if (dash_jtok_key_is(&m, "choices") && *m.val == '[') {
            int f = 1;
            dash_jtok_enter(t, m.val);
            for (const char *el; (el = dash_jtok_elem_next(t, &f, &bad));)
                if (!walk_sample(t, el, e, shape)) return 0;
            ok = !bad;
        } else {
            *shape |= dash_jtok_key_is(&m, "retool") || dash_jtok_key_is(&m, "choices");
            ok = dash_jtok_skip(t, m.val) != NULL;
        }
        if (!ok) return 0;
    }
    return !bad;
}

/* The request: where its "user" is (the last one), as a JSON value. */
static int walk_request(dash_jtok *t, const char *v, const char **user, int *shape) {
    if (*v != '{') return *shape = 1, dash_jtok_skip(t, v) != NULL;
    int first = 1, bad = 0;
    dash_jtok_member m;
    dash_jtok_enter(t, v);
    while (dash_jtok_member_next(t, &first, &m, &bad)) {
        if (dash_jtok_key_is(&m, "user")) *user = m.val;
        if (!dash_jtok_skip(t, m.val)) return 0;
    }
    return !bad;
}

void dash_qline_read(const char *text, size_t len, dash_qline *r) {
    memset(&r->e, 0, sizeof r->e);
    r->id = NULL;
    r->id_hash = r->user_hash = 0;
    r->id_len = 0;
    r->what = DASH_QLINE_BLANK;
    r->malformed = 0;
    r->decision = DASH_PENDING;
    r->kind[0] = r->id_text[0] = r->user[0] = 0;
    const char *end = text + len, *p = dash_js_ws(text, end);
    if (p == end) return;
    if (*p != '{') {
        r->what = DASH_QLINE_NOT_OBJECT;
        return;
    }
    dash_jtok t;
    dash_jtok_init(&t, p + 1, end);
    const char *kind = NULL, *id = NULL, *id_end = NULL, *dec = NULL, *user = NULL;
    int first = 1, bad = 0, shape = 0;
    dash_jtok_member m;
    /* One walk over the members: the first kind, id and decision; the last time, request and completion. */
    while (!bad && dash_jtok_member_next(&t, &first, &m, &bad)) {
        double d;
        int is_id = !id && dash_jtok_key_is(&m, "id");
        if (dash_jtok_key_is(&m, "kind") && !kind) kind = m.val;
        if (is_id) id = m.val;
        if (dash_jtok_key_is(&m, "decision") && !dec) dec = m.val;
        if (dash_jtok_key_is(&m, "time") && dash_js_num(m.val, end, &d)) r->e.time = d;
        if (dash_jtok_key_is(&m, "request")) {
            bad = !walk_request(&t, m.val, &user, &shape);
        } else if (dash_jtok_key_is(&m, "completion")) {
            bad = !walk_completion(&t, m.val, &r->e, &shape);
        } else {
            const char *ve = dash_jtok_skip(&t, m.val);
            bad = !ve;
            if (is_id) id_end = ve;
        }
    }
    bad |= dash_js_ws(t.at, end) != end || t.bad_escape; /* nothing after the object */
    if (bad && (!kind || !id)) {
        r->what = DASH_QLINE_NOT_OBJECT;
        return;
    }
    char idbuf[DASH_QLINE_ID_MAX + 8];
    if (!kind || !id || !dash_js_str(kind, end, r->kind, sizeof r->kind) ||
        !dash_js_str(id, end, idbuf, sizeof idbuf)) {
        r->what = DASH_QLINE_NOT_STRINGS;
        return;
    }
    if (!id_end || (size_t)(id_end - id) > DASH_QLINE_ID_MAX) {
        r->what = DASH_QLINE_ID_LONG;
        return;
    }
    r->id = id;
    size_t n = strlen(idbuf);
    r->id_hash = dash_queue_hash(idbuf);
    r->id_len = n < sizeof r->id_text ? (uint16_t)n : UINT16_MAX;
    if (n < sizeof r->id_text) memcpy(r->id_text, idbuf, n + 1);
    if (!strcmp(r->kind, "entry")) {
        r->what = DASH_QLINE_ENTRY;
        r->malformed = (uint8_t)(bad || shape);
        const char *dash = strrchr(idbuf, '-');
        r->e.request = dash ? (uint32_t)strtoul(dash + 1, NULL, 10) : 0;
        if (user && !dash_js_str(user, end, r->user, sizeof r->user)) r->user[0] = 0;
        r->user_hash = dash_queue_hash(r->user);
        return;
    }
    if (strcmp(r->kind, "decision")) {
        r->what = DASH_QLINE_BAD_KIND;
        return;
    }
    r->what = DASH_QLINE_DECISION;
    r->malformed = (uint8_t)bad;
    char d[16] = "";
    if (dec && dash_js_str(dec, end, d, sizeof d))
        r->decision = !strcmp(d, "approved") ? DASH_APPROVED : !strcmp(d, "rejected") ? DASH_REJECTED : 0;
}
