/* Parquet's FileMetaData and PageHeader in the Thrift compact protocol: varints, zigzag integers, field headers with
 * id deltas, lists, and skipping of every field the reader does not use. Bounds are checked on every byte; nesting
 * is limited so that a hostile footer cannot exhaust the stack. */
#include <stdlib.h>
#include <string.h>

#include "data/parquet_internal.h"

enum {
    T_STOP = 0,
    T_TRUE = 1,
    T_FALSE = 2,
    T_BYTE = 3,
    T_I16 = 4,
    T_I32 = 5,
    T_I64 = 6,
    T_DOUBLE = 7,
    T_BINARY = 8,
    T_LIST = 9,
    T_SET = 10,
    T_MAP = 11,
    T_STRUCT = 12
};

#define MAX_DEPTH 32

typedef struct tr {
    const uint8_t *p, *end;
    rt_error *err;
    const char *what; /* the structure being decoded, for errors */
} tr;

static rt_status bad(tr *t, const char *msg) {
    return rt_err_set(t->err, RT_EFORMAT, "%s: %s", t->what, msg);
}

static rt_status get_byte(tr *t, uint8_t *b) {
    if (t->p >= t->end) return bad(t, "truncated");
    *b = *t->p++;
    return RT_OK;
}

static rt_status varint(tr *t, uint64_t *out) {
    uint64_t v = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        uint8_t b = 0;
        if (get_byte(t, &b)) return RT_EFORMAT;
        if (shift == 63 && (b & 0x7e)) return bad(t, "varint overflows 64 bits");
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return RT_OK;
        }
    }
    return bad(t, "varint longer than 10 bytes");
}

static rt_status zigzag(tr *t, int64_t *out) {
    uint64_t u;
    if (varint(t, &u)) return RT_EFORMAT;
    *out = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
    return RT_OK;
}

static rt_status i32v(tr *t, int32_t *out) {
    int64_t v;
    if (zigzag(t, &v)) return RT_EFORMAT;
    if (v < INT32_MIN || v > INT32_MAX) return bad(t, "i32 out of range");
    *out = (int32_t)v;
    return RT_OK;
}

static rt_status binary(tr *t, const uint8_t **s, size_t *n) {
    uint64_t len;
    if (varint(t, &len)) return RT_EFORMAT;
    if (len > (uint64_t)(t->end - t->p)) return bad(t, "string runs past the end");
    *s = t->p;
    *n = (size_t)len;
    t->p += len;
    return RT_OK;
}

/* Reads a field header; *type = T_STOP at the end of a struct. */
static rt_status field(tr *t, int16_t *last_id, int *type, int16_t *id) {
    uint8_t b = 0;
    if (get_byte(t, &b)) return RT_EFORMAT;
    *type = b & 0x0f;
    if (*type == T_STOP) return RT_OK;
    int delta = b >> 4;
    if (delta) {
        *id = (int16_t)(*last_id + delta);
    } else {
        int64_t v;
        if (zigzag(t, &v)) return RT_EFORMAT;
        if (v < INT16_MIN || v > INT16_MAX) return bad(t, "field id out of range");
        *id = (int16_t)v;
    }
    *last_id = *id;
    return RT_OK;
}

static rt_status list_header(tr *t, int *elem_type, uint64_t *size) {
    uint8_t b = 0;
    if (get_byte(t, &b)) return RT_EFORMAT;
    *elem_type = b & 0x0f;
    *size = b >> 4;
    if (*size == 15 && varint(t, size)) return RT_EFORMAT;
    /* every element takes at least one byte, so a size beyond the bytes left is a lie */
    if (*size > (uint64_t)(t->end - t->p)) return bad(t, "list longer than the bytes left");
    return RT_OK;
}

static rt_status skip(tr *t, int type, int depth);

static rt_status skip_struct(tr *t, int depth) {
    int16_t last = 0;
    for (;;) {
        int type;
        int16_t id;
        if (field(t, &last, &type, &id)) return RT_EFORMAT;
        if (type == T_STOP) return RT_OK;
        if (skip(t, type, depth + 1)) return RT_EFORMAT;
    }
}

static rt_status skip(tr *t, int type, int depth) {
    if (depth > MAX_DEPTH) return bad(t, "nested too deeply");
    uint64_t u = 0, n = 0;
    uint8_t b = 0;
    const uint8_t *s = NULL;
    size_t sn = 0;
    int et;
    switch (type) {
    case T_TRUE:
    case T_FALSE:
        return RT_OK;
    case T_BYTE:
        return get_byte(t, &b);
    case T_I16:
    case T_I32:
    case T_I64:
        return varint(t, &u);
    case T_DOUBLE:
        if (t->end - t->p < 8) return bad(t, "truncated");
        t->p += 8;
        return RT_OK;
    case T_BINARY:
        return binary(t, &s, &sn);
    case T_LIST:
    case T_SET:
        if (list_header(t, &et, &n)) return RT_EFORMAT;
        for (uint64_t i = 0; i < n; i++) {
            if (et == T_TRUE || et == T_FALSE) { /* booleans in a list take one byte each */
                if (get_byte(t, &b)) return RT_EFORMAT;
            } else if (skip(t, et, depth + 1)) {
                return RT_EFORMAT;
            }
        }
        return RT_OK;
    case T_MAP:
        if (varint(t, &n)) return RT_EFORMAT;
        if (n == 0) return RT_OK;
        if (n > (uint64_t)(t->end - t->p)) return bad(t, "map longer than the bytes left");
        if (get_byte(t, &b)) return RT_EFORMAT;
        for (uint64_t i = 0; i < n; i++)
            if (skip(t, b >> 4, depth + 1) || skip(t, b & 0x0f, depth + 1)) return RT_EFORMAT;
        return RT_OK;
    case T_STRUCT:
        return skip_struct(t, depth);
    default:
        return bad(t, "unknown field type");
    }
}

static rt_status want(tr *t, int type, int expected) {
    if (type != expected) return bad(t, "field has an unexpected type");
    return RT_OK;
}

static rt_status get_i32(tr *t, int type, int32_t *out) {
    if (want(t, type, T_I32)) return RT_EFORMAT;
    return i32v(t, out);
}

static rt_status get_i64(tr *t, int type, int64_t *out) {
    if (type != T_I64 && type != T_I32) return bad(t, "field has an unexpected type");
    return zigzag(t, out);
}

/* LogicalType: a union whose field id names the type; DECIMAL carries a scale. */
static rt_status logical_type(tr *t, pq_schema_el *el) {
    int16_t last = 0;
    for (;;) {
        int type;
        int16_t id;
        if (field(t, &last, &type, &id)) return RT_EFORMAT;
        if (type == T_STOP) return RT_OK;
        if (type != T_STRUCT) {
            if (skip(t, type, 1)) return RT_EFORMAT;
            continue;
        }
        el->logical = id;
        if (id != PQ_LT_DECIMAL) {
            if (skip_struct(t, 1)) return RT_EFORMAT;
            continue;
        }
        int16_t dl = 0;
        for (;;) {
            int dt;
            int16_t did;
            if (field(t, &dl, &dt, &did)) return RT_EFORMAT;
            if (dt == T_STOP) break;
            if (did == 1) {
                if (get_i32(t, dt, &el->logical_scale)) return RT_EFORMAT;
            } else if (skip(t, dt, 2)) {
                return RT_EFORMAT;
            }
        }
    }
}

static rt_status schema_element(tr *t, pq_schema_el *el) {
    memset(el, 0, sizeof *el);
    el->type = -1;
    el->repetition = -1;
    el->converted_type = -1;
    int16_t last = 0;
    for (;;) {
        int type;
        int16_t id;
        const uint8_t *s = NULL;
        size_t n = 0;
        if (field(t, &last, &type, &id)) return RT_EFORMAT;
        if (type == T_STOP) break;
        rt_status st;
        switch (id) {
        case 1:
            st = get_i32(t, type, &el->type);
            break;
        case 2:
            st = get_i32(t, type, &el->type_length);
            break;
        case 3:
            st = get_i32(t, type, &el->repetition);
            break;
        case 4:
            st = want(t, type, T_BINARY);
            if (!st) st = binary(t, &s, &n);
            if (!st && el->name) st = bad(t, "schema element named twice");
            if (!st && !(el->name = strndup((const char *)s, n))) st = rt_err_set(t->err, RT_ENOMEM, "out of memory");
            break;
        case 5:
            st = get_i32(t, type, &el->num_children);
            break;
        case 6:
            st = get_i32(t, type, &el->converted_type);
            break;
        case 7:
            st = get_i32(t, type, &el->scale);
            break;
        case 10:
            st = want(t, type, T_STRUCT);
            if (!st) st = logical_type(t, el);
            break;
        default:
            st = skip(t, type, 1);
            break;
        }
        if (st) return st;
    }
    if (!el->name) return bad(t, "schema element without a name");
    return RT_OK;
}

static rt_status column_meta(tr *t, pq_chunk *c) {
    int16_t last = 0;
    c->has_meta = 1;
    for (;;) {
        int type;
        int16_t id;
        if (field(t, &last, &type, &id)) return RT_EFORMAT;
        if (type == T_STOP) return RT_OK;
        rt_status st;
        switch (id) {
        case 1:
            st = get_i32(t, type, &c->type);
            break;
        case 4:
            st = get_i32(t, type, &c->codec);
            break;
        case 5:
            st = get_i64(t, type, &c->num_values);
            break;
        case 7:
            st = get_i64(t, type, &c->total_compressed_size);
            break;
        case 9:
            st = get_i64(t, type, &c->data_page_offset);
            break;
        case 11:
            st = get_i64(t, type, &c->dictionary_page_offset);
            break;
        default:
            st = skip(t, type, 2);
            break;
        }
        if (st) return st;
    }
}

static rt_status column_chunk(tr *t, pq_chunk *c) {
    memset(c, 0, sizeof *c);
    int16_t last = 0;
    for (;;) {
        int type;
        int16_t id;
        if (field(t, &last, &type, &id)) return RT_EFORMAT;
        if (type == T_STOP) break;
        rt_status st;
        if (id == 1 && type == T_BINARY) {
            c->has_file_path = 1;
            st = skip(t, type, 1);
        } else if (id == 3) {
            st = want(t, type, T_STRUCT);
            if (!st) st = column_meta(t, c);
        } else {
            st = skip(t, type, 1);
        }
        if (st) return st;
    }
    if (!c->has_meta) return bad(t, "column chunk without metadata");
    return RT_OK;
}

static rt_status row_group(tr *t, pq_row_group *rg) {
    int16_t last = 0;
    int seen_rows = 0;
    for (;;) {
        int type;
        int16_t id;
        if (field(t, &last, &type, &id)) return RT_EFORMAT;
        if (type == T_STOP) break;
        rt_status st;
        if (id == 1) {
            int et;
            uint64_t n;
            st = want(t, type, T_LIST);
            if (!st) st = list_header(t, &et, &n);
            if (!st && et != T_STRUCT) st = bad(t, "columns are not structs");
            if (!st && rg->columns) st = bad(t, "columns given twice");
            if (!st && n && !(rg->columns = calloc((size_t)n, sizeof *rg->columns)))
                st = rt_err_set(t->err, RT_ENOMEM, "out of memory");
            if (!st) rg->n_columns = (size_t)n;
            for (uint64_t i = 0; !st && i < n; i++)
                st = column_chunk(t, &rg->columns[i]);
        } else if (id == 3) {
            st = get_i64(t, type, &rg->num_rows);
            seen_rows = 1;
        } else {
            st = skip(t, type, 1);
        }
        if (st) return st;
    }
    if (!seen_rows || rg->num_rows < 0) return bad(t, "row group without a valid num_rows");
    return RT_OK;
}

void pq_meta_free(pq_meta *m) {
    for (size_t i = 0; i < m->n_schema; i++)
        free(m->schema[i].name);
    free(m->schema);
    for (size_t i = 0; i < m->n_row_groups; i++)
        free(m->row_groups[i].columns);
    free(m->row_groups);
    memset(m, 0, sizeof *m);
}

rt_status pq_meta_decode(const uint8_t *p, size_t len, pq_meta *out, rt_error *err) {
    memset(out, 0, sizeof *out);
    tr t = {p, p + len, err, "file metadata"};
    int16_t last = 0;
    rt_status st = RT_OK;
    int seen_rows = 0;
    for (;;) {
        int type;
        int16_t id;
        if ((st = field(&t, &last, &type, &id))) break;
        if (type == T_STOP) break;
        int et;
        uint64_t n;
        if (id == 2) {
            t.what = "file metadata: schema";
            st = want(&t, type, T_LIST);
            if (!st) st = list_header(&t, &et, &n);
            if (!st && et != T_STRUCT) st = bad(&t, "schema elements are not structs");
            if (!st && out->schema) st = bad(&t, "schema given twice");
            if (!st && n && !(out->schema = calloc((size_t)n, sizeof *out->schema)))
                st = rt_err_set(err, RT_ENOMEM, "out of memory");
            for (uint64_t i = 0; !st && i < n; i++) {
                st = schema_element(&t, &out->schema[i]);
                out->n_schema = (size_t)i + 1;
            }
        } else if (id == 3) {
            st = get_i64(&t, type, &out->num_rows);
            seen_rows = 1;
        } else if (id == 4) {
            t.what = "file metadata: row groups";
            st = want(&t, type, T_LIST);
            if (!st) st = list_header(&t, &et, &n);
            if (!st && et != T_STRUCT) st = bad(&t, "row groups are not structs");
            if (!st && out->row_groups) st = bad(&t, "row groups given twice");
            if (!st && n && !(out->row_groups = calloc((size_t)n, sizeof *out->row_groups)))
                st = rt_err_set(err, RT_ENOMEM, "out of memory");
            for (uint64_t i = 0; !st && i < n; i++) {
                out->n_row_groups = (size_t)i + 1;
                st = row_group(&t, &out->row_groups[i]);
            }
        } else {
            st = skip(&t, type, 0);
        }
        t.what = "file metadata";
        if (st) break;
    }
    if (!st && !out->n_schema) st = bad(&t, "no schema");
    if (!st && (!seen_rows || out->num_rows < 0)) st = bad(&t, "no valid num_rows");
    if (st) pq_meta_free(out);
    return st;
}

static rt_status data_header(tr *t, pq_page_header *h, int v2) {
    int16_t last = 0;
    for (;;) {
        int type;
        int16_t id;
        if (field(t, &last, &type, &id)) return RT_EFORMAT;
        if (type == T_STOP) return RT_OK;
        rt_status st;
        if (id == 1) {
            st = get_i32(t, type, &h->num_values);
        } else if (!v2 && id == 2) {
            st = get_i32(t, type, &h->encoding);
        } else if (!v2 && id == 3) {
            st = get_i32(t, type, &h->def_encoding);
        } else if (!v2 && id == 4) {
            st = get_i32(t, type, &h->rep_encoding);
        } else if (v2 && id == 2) {
            st = get_i32(t, type, &h->num_nulls);
        } else if (v2 && id == 3) {
            st = get_i32(t, type, &h->num_rows);
        } else if (v2 && id == 4) {
            st = get_i32(t, type, &h->encoding);
        } else if (v2 && id == 5) {
            st = get_i32(t, type, &h->def_length);
        } else if (v2 && id == 6) {
            st = get_i32(t, type, &h->rep_length);
        } else if (v2 && id == 7 && (type == T_TRUE || type == T_FALSE)) {
            h->is_compressed = type == T_TRUE;
            st = RT_OK;
        } else {
            st = skip(t, type, 2);
        }
        if (st) return st;
    }
}

static rt_status dict_header(tr *t, pq_page_header *h) {
    int16_t last = 0;
    for (;;) {
        int type;
        int16_t id;
        if (field(t, &last, &type, &id)) return RT_EFORMAT;
        if (type == T_STOP) return RT_OK;
        rt_status st;
        if (id == 1)
            st = get_i32(t, type, &h->num_values);
        else if (id == 2)
            st = get_i32(t, type, &h->encoding);
        else
            st = skip(t, type, 2);
        if (st) return st;
    }
}

rt_status pq_page_header_decode(const uint8_t *p, size_t len, pq_page_header *h, size_t *used, rt_error *err) {
    memset(h, 0, sizeof *h);
    h->type = -1;
    h->is_compressed = 1;
    tr t = {p, p + len, err, "page header"};
    int16_t last = 0;
    int seen[4] = {0};
    for (;;) {
        int type;
        int16_t id;
        if (field(&t, &last, &type, &id)) return RT_EFORMAT;
        if (type == T_STOP) break;
        rt_status st;
        switch (id) {
        case 1:
            st = get_i32(&t, type, &h->type);
            seen[0] = 1;
            break;
        case 2:
            st = get_i32(&t, type, &h->uncompressed_size);
            seen[1] = 1;
            break;
        case 3:
            st = get_i32(&t, type, &h->compressed_size);
            seen[2] = 1;
            break;
        case 5:
            st = want(&t, type, T_STRUCT);
            if (!st) st = data_header(&t, h, 0);
            h->has_data = 1;
            break;
        case 7:
            st = want(&t, type, T_STRUCT);
            if (!st) st = dict_header(&t, h);
            h->has_dict = 1;
            break;
        case 8:
            st = want(&t, type, T_STRUCT);
            if (!st) st = data_header(&t, h, 1);
            h->has_v2 = 1;
            break;
        default:
            st = skip(&t, type, 1);
            break;
        }
        if (st) return st;
    }
    if (!seen[0] || !seen[1] || !seen[2]) return bad(&t, "missing type or sizes");
    if (h->uncompressed_size < 0 || h->compressed_size < 0) return bad(&t, "negative page size");
    if (h->num_values < 0 || h->def_length < 0 || h->rep_length < 0 || h->num_nulls < 0)
        return bad(&t, "negative count");
    *used = (size_t)(t.p - p);
    return RT_OK;
}
