/* The Parquet reader's front: the footer (magic, length, FileMetaData), the schema tree with each node's definition
 * and repetition levels, one row group at a time read column by column (parquet_column.c), and rows assembled from
 * the levels (Dremel record assembly) into cJSON objects: STRUCT groups become objects, LIST groups (and their
 * legacy two-level forms) and unannotated repeated fields become arrays, MAP groups objects (string keys) or arrays
 * of {key, value}. */
#include "data/parquet.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/json.h"
#include "base/strbuf.h"
#include "data/parquet_internal.h"

#define MAX_SCHEMA_DEPTH 64
#define MAX_LEVEL 1000

typedef struct pq_node {
    const pq_schema_el *el;
    int def, rep;         /* maximum levels at this node */
    size_t *kids, n_kids; /* indices into nodes */
    size_t leaf_first, leaf_end;
    int is_list, is_map;
    char *path; /* dotted, for errors */
} pq_node;

struct data_parquet {
    char *path;
    int fd;
    uint64_t size, footer_start;
    pq_meta meta;
    pq_node *nodes;
    size_t n_nodes;
    size_t *leaves; /* node index of each leaf, in column order */
    size_t n_leaves;
    pq_column *cols; /* the current row group's columns */
    size_t rg;       /* index of the next row group to load */
    size_t cur_rg;   /* the loaded one */
    int loaded;
    int64_t rg_rows, rg_row; /* rows in the loaded group, rows returned from it */
    size_t *cursor;          /* per leaf: the next entry */
    size_t *s, *e;           /* per leaf: the entries of the row being assembled */
    int64_t row_no;
    size_t stream_min; /* pages whose values are larger are streamed */
};

static int read_at(int fd, void *buf, size_t n, uint64_t off) {
    uint8_t *p = buf;
    while (n) {
        ssize_t r = pread(fd, p, n, (off_t)off);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        p += r;
        n -= (size_t)r;
        off += (uint64_t)r;
    }
    return 0;
}

int data_parquet_sniff(const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    struct stat sb;
    char a[4];
    int ok = fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size >= 4 && read_at(fd, a, 4, 0) == 0 &&
             memcmp(a, "PAR1", 4) == 0;
    close(fd);
    return ok;
}

static int is_string_el(const pq_schema_el *el) {
    return el->logical == PQ_LT_STRING || el->logical == PQ_LT_ENUM || el->logical == PQ_LT_JSON ||
           el->converted_type == PQ_CT_UTF8 || el->converted_type == PQ_CT_ENUM || el->converted_type == PQ_CT_JSON;
}

/* Builds node i of the flattened schema and its subtree; *next gets the index after the subtree. */
static rt_status build(data_parquet *pq, size_t i, int def, int rep, const char *prefix, int depth, size_t *next,
                       rt_error *err) {
    if (depth > MAX_SCHEMA_DEPTH) return rt_err_set(err, RT_EFORMAT, "%s: schema nested too deeply", pq->path);
    if (i >= pq->meta.n_schema) return rt_err_set(err, RT_EFORMAT, "%s: schema ends inside a group", pq->path);
    pq_node *nd = &pq->nodes[i];
    const pq_schema_el *el = &pq->meta.schema[i];
    nd->el = el;
    if (i > 0) {
        if (el->repetition < PQ_REQUIRED || el->repetition > PQ_REPEATED)
            return rt_err_set(err, RT_EFORMAT, "%s: schema field '%s' has no valid repetition", pq->path, el->name);
        if (el->repetition != PQ_REQUIRED) def++;
        if (el->repetition == PQ_REPEATED) rep++;
    }
    if (def > MAX_LEVEL || rep > MAX_LEVEL)
        return rt_err_set(err, RT_EFORMAT, "%s: schema field '%s' nested too deeply", pq->path, el->name);
    nd->def = def;
    nd->rep = rep;
    rt_strbuf b = {0};
    if (i > 0) rt_strbuf_printf(&b, "%s%s%s", prefix, *prefix ? "." : "", el->name);
    nd->path = rt_strbuf_take(&b);
    if (!nd->path) return rt_err_set(err, RT_ENOMEM, "out of memory");
    nd->leaf_first = pq->n_leaves;
    size_t j = i + 1;
    if (el->num_children > 0) {
        if (el->type >= 0 && i > 0)
            return rt_err_set(err, RT_EFORMAT, "%s: schema field '%s' has both a type and children", pq->path,
                              nd->path);
        if ((size_t)el->num_children > pq->meta.n_schema - j)
            return rt_err_set(err, RT_EFORMAT, "%s: schema field '%s' declares %d children, more than the schema holds",
                              pq->path, nd->path, el->num_children);
        nd->kids = calloc((size_t)el->num_children, sizeof *nd->kids);
        if (!nd->kids) return rt_err_set(err, RT_ENOMEM, "out of memory");
        for (int32_t k = 0; k < el->num_children; k++) {
            nd->kids[nd->n_kids++] = j;
            rt_status st = build(pq, j, def, rep, nd->path, depth + 1, &j, err);
            if (st) return st;
        }
        nd->is_list = el->logical == PQ_LT_LIST || el->converted_type == PQ_CT_LIST;
        nd->is_map =
            el->logical == PQ_LT_MAP || el->converted_type == PQ_CT_MAP || el->converted_type == PQ_CT_MAP_KEY_VALUE;
        if ((nd->is_list || nd->is_map) &&
            (nd->n_kids != 1 || pq->meta.schema[nd->kids[0]].repetition != PQ_REPEATED)) {
            if (nd->is_map && el->converted_type == PQ_CT_MAP_KEY_VALUE) {
                nd->is_map = 0; /* a legacy annotation on the repeated group itself */
            } else {
                return rt_err_set(err, RT_EFORMAT, "%s: %s field '%s' must hold exactly one repeated field", pq->path,
                                  nd->is_list ? "LIST" : "MAP", nd->path);
            }
        }
    } else if (i == 0) {
        return rt_err_set(err, RT_EFORMAT, "%s: the schema has no columns", pq->path);
    } else {
        if (el->type < PQ_BOOLEAN || el->type > PQ_FIXED_LEN_BYTE_ARRAY)
            return rt_err_set(err, RT_EFORMAT, "%s: column '%s' has no valid type", pq->path, nd->path);
        if (el->type == PQ_INT96)
            return rt_err_set(err, RT_EUNSUPPORTED, "%s: column '%s' is INT96 (legacy timestamps), not supported",
                              pq->path, nd->path);
        if (el->type == PQ_FIXED_LEN_BYTE_ARRAY && (el->type_length <= 0 || el->type_length > (1 << 20)))
            return rt_err_set(err, RT_EFORMAT, "%s: column '%s' has FIXED_LEN_BYTE_ARRAY length %d", pq->path, nd->path,
                              el->type_length);
        pq->leaves[pq->n_leaves++] = i;
    }
    nd->leaf_end = pq->n_leaves;
    if (nd->leaf_end == nd->leaf_first)
        return rt_err_set(err, RT_EFORMAT, "%s: group '%s' has no columns", pq->path, nd->path);
    *next = j;
    return RT_OK;
}

void data_parquet_close(data_parquet *pq) {
    if (!pq) return;
    if (pq->fd >= 0) close(pq->fd);
    if (pq->nodes)
        for (size_t i = 0; i < pq->n_nodes; i++) {
            free(pq->nodes[i].kids);
            free(pq->nodes[i].path);
        }
    free(pq->nodes);
    if (pq->cols)
        for (size_t i = 0; i < pq->n_leaves; i++)
            pq_column_free(&pq->cols[i]);
    free(pq->cols);
    free(pq->leaves);
    free(pq->cursor);
    free(pq->s);
    free(pq->e);
    pq_meta_free(&pq->meta);
    free(pq->path);
    free(pq);
}

rt_status data_parquet_open(const char *path, data_parquet **out, rt_error *err) {
    *out = NULL;
    data_parquet *pq = calloc(1, sizeof *pq);
    if (!pq || !(pq->path = strdup(path))) {
        free(pq);
        return rt_err_set(err, RT_ENOMEM, "out of memory");
    }
    pq->stream_min = PQ_STREAM_MIN_DEFAULT;
    pq->fd = open(path, O_RDONLY | O_CLOEXEC);
    rt_status st = RT_OK;
    struct stat sb;
    uint8_t head[4], tail[8];
    uint8_t *footer = NULL;
    if (pq->fd < 0) {
        st = rt_err_errno(err, RT_EIO, errno, "%s: cannot open", path);
        goto done;
    }
    if (fstat(pq->fd, &sb) != 0) {
        st = rt_err_errno(err, RT_EIO, errno, "%s: cannot stat", path);
        goto done;
    }
    pq->size = (uint64_t)sb.st_size;
    if (pq->size < 12) {
        st = rt_err_set(err, RT_EFORMAT, "%s: %llu bytes, too short for a Parquet file (truncated?)", path,
                        (unsigned long long)pq->size);
        goto done;
    }
    if (read_at(pq->fd, head, 4, 0) || read_at(pq->fd, tail, 8, pq->size - 8)) {
        st = rt_err_errno(err, RT_EIO, errno, "%s: cannot read", path);
        goto done;
    }
    if (memcmp(head, "PAR1", 4) != 0) {
        st = rt_err_set(err, RT_EFORMAT, "%s: no Parquet magic 'PAR1' at the start", path);
        goto done;
    }
    if (memcmp(tail + 4, "PAR1", 4) != 0) {
        st = rt_err_set(err, RT_EFORMAT, "%s: no Parquet magic 'PAR1' at the end (truncated, or an encrypted footer)",
                        path);
        goto done;
    }
    uint64_t flen = (uint64_t)tail[0] | (uint64_t)tail[1] << 8 | (uint64_t)tail[2] << 16 | (uint64_t)tail[3] << 24;
    if (flen > pq->size - 12) {
        st = rt_err_set(err, RT_EFORMAT, "%s: footer of %llu bytes is longer than the file (truncated?)", path,
                        (unsigned long long)flen);
        goto done;
    }
    pq->footer_start = pq->size - 8 - flen;
    footer = malloc(flen ? flen : 1);
    if (!footer) {
        st = rt_err_set(err, RT_ENOMEM, "%s: out of memory for a footer of %llu bytes", path, (unsigned long long)flen);
        goto done;
    }
    if (read_at(pq->fd, footer, flen, pq->footer_start)) {
        st = rt_err_errno(err, RT_EIO, errno, "%s: cannot read the footer", path);
        goto done;
    }
    if ((st = pq_meta_decode(footer, flen, &pq->meta, err))) {
        rt_err_prefix(err, "%s", path);
        goto done;
    }
    pq->n_nodes = pq->meta.n_schema;
    pq->nodes = calloc(pq->n_nodes, sizeof *pq->nodes);
    pq->leaves = calloc(pq->n_nodes, sizeof *pq->leaves);
    if (!pq->nodes || !pq->leaves) {
        st = rt_err_set(err, RT_ENOMEM, "out of memory");
        goto done;
    }
    size_t next;
    if ((st = build(pq, 0, 0, 0, "", 0, &next, err))) goto done;
    if (next != pq->n_nodes) {
        st = rt_err_set(err, RT_EFORMAT, "%s: schema holds %zu elements beyond the root's children", path,
                        pq->n_nodes - next);
        goto done;
    }
    int64_t total = 0;
    for (size_t g = 0; g < pq->meta.n_row_groups; g++) {
        const pq_row_group *rg = &pq->meta.row_groups[g];
        if (rg->n_columns != pq->n_leaves) {
            st = rt_err_set(err, RT_EFORMAT, "%s: row group %zu has %zu columns where the schema has %zu", path, g,
                            rg->n_columns, pq->n_leaves);
            goto done;
        }
        if (rg->num_rows > INT64_MAX - total) {
            st = rt_err_set(err, RT_EFORMAT, "%s: row counts overflow", path);
            goto done;
        }
        total += rg->num_rows;
    }
    if (total != pq->meta.num_rows) {
        st = rt_err_set(err, RT_EFORMAT, "%s: the row groups hold %lld rows where the footer declares %lld", path,
                        (long long)total, (long long)pq->meta.num_rows);
        goto done;
    }
    pq->cols = calloc(pq->n_leaves, sizeof *pq->cols);
    pq->cursor = calloc(pq->n_leaves, sizeof *pq->cursor);
    pq->s = calloc(pq->n_leaves, sizeof *pq->s);
    pq->e = calloc(pq->n_leaves, sizeof *pq->e);
    if (!pq->cols || !pq->cursor || !pq->s || !pq->e) st = rt_err_set(err, RT_ENOMEM, "out of memory");
done:
    free(footer);
    if (st) {
        data_parquet_close(pq);
        return st;
    }
    *out = pq;
    return RT_OK;
}

void pq_set_stream_min(data_parquet *pq, size_t bytes) {
    pq->stream_min = bytes;
}

int64_t data_parquet_num_rows(const data_parquet *pq) {
    return pq->meta.num_rows;
}

int64_t data_parquet_row_no(const data_parquet *pq) {
    return pq->row_no;
}

/* Decodes leaf l's next page; its rows must not outnumber the row group's, and once the chunk is read they must
 * equal them. */
static rt_status more(data_parquet *pq, size_t l, int64_t rg_rows, rt_error *err) {
    pq_column *col = &pq->cols[l];
    rt_status st = pq_column_more(col, err);
    if (st && err) { /* the row being read (1-based over the file), as a JSONL reader names the line */
        size_t n = strlen(err->msg);
        snprintf(err->msg + n, sizeof err->msg - n, " (reading row %lld)", (long long)pq->row_no + 1);
    }
    if (st) return st;
    if (col->rows > rg_rows || (col->done && col->rows != rg_rows))
        return rt_err_set(err, RT_EFORMAT,
                          "%s: row group %zu, column '%s': holds %s%lld rows where the row group "
                          "declares %lld",
                          pq->path, col->li.row_group, col->li.column, col->done ? "" : "at least ",
                          (long long)col->rows, (long long)rg_rows);
    return RT_OK;
}

/* Starts reading row group g's columns (their compressed chunks, and the first page of each). */
static rt_status load_group(data_parquet *pq, size_t g, rt_error *err) {
    const pq_row_group *rg = &pq->meta.row_groups[g];
    for (size_t l = 0; l < pq->n_leaves; l++) {
        const pq_node *nd = &pq->nodes[pq->leaves[l]];
        const pq_chunk *cc = &rg->columns[l];
        if (cc->has_file_path)
            return rt_err_set(err, RT_EUNSUPPORTED, "%s: row group %zu, column '%s': data in another file", pq->path, g,
                              nd->path);
        int64_t start = cc->data_page_offset;
        if (cc->dictionary_page_offset > 0 && cc->dictionary_page_offset < start) start = cc->dictionary_page_offset;
        if (start < 4 || cc->total_compressed_size < 0 || (uint64_t)start > pq->footer_start ||
            (uint64_t)cc->total_compressed_size > pq->footer_start - (uint64_t)start)
            return rt_err_set(err, RT_EFORMAT,
                              "%s: row group %zu, column '%s': chunk at offset %lld of %lld bytes lies outside the "
                              "data (truncated file?)",
                              pq->path, g, nd->path, (long long)start, (long long)cc->total_compressed_size);
        if (nd->rep == 0 && cc->num_values != rg->num_rows)
            return rt_err_set(err, RT_EFORMAT,
                              "%s: row group %zu, column '%s': %lld values in a column of one value a row, where the "
                              "row group declares %lld rows",
                              pq->path, g, nd->path, (long long)cc->num_values, (long long)rg->num_rows);
        size_t len = (size_t)cc->total_compressed_size;
        uint8_t *buf = malloc(len ? len : 1);
        if (!buf) return rt_err_set(err, RT_ENOMEM, "%s: out of memory for a chunk of %zu bytes", pq->path, len);
        if (read_at(pq->fd, buf, len, (uint64_t)start)) {
            free(buf);
            return rt_err_errno(err, RT_EIO, errno, "%s: row group %zu, column '%s': cannot read", pq->path, g,
                                nd->path);
        }
        pq_leaf_info li = {nd->el->type, nd->el->type_length, nd->def, nd->rep, pq->path, nd->path, g, pq->stream_min};
        rt_status st = pq_column_begin(&li, cc, buf, len, &pq->cols[l], err); /* takes buf */
        if (!st) st = more(pq, l, rg->num_rows, err); /* the first page: most faults show before any row */
        if (st) return st;
        pq->cursor[l] = 0;
    }
    pq->cur_rg = g;
    pq->rg_rows = rg->num_rows;
    pq->rg_row = 0;
    pq->loaded = 1;
    return RT_OK;
}

static rt_status row_err(data_parquet *pq, const pq_node *nd, rt_error *err, const char *msg) {
    return rt_err_set(err, RT_EFORMAT, "%s: row %lld (row group %zu), column '%s': %s", pq->path,
                      (long long)pq->row_no + 1, pq->cur_rg, nd->path, msg);
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static rt_status leaf_json(data_parquet *pq, size_t l, size_t k, cJSON **out, rt_error *err) {
    const pq_node *nd = &pq->nodes[pq->leaves[l]];
    const pq_schema_el *el = nd->el;
    const pq_column *col = &pq->cols[l];
    const pq_value *v = &col->val[k];
    switch (el->type) {
    case PQ_BOOLEAN:
        *out = cJSON_CreateBool(v->i != 0);
        break;
    case PQ_INT32:
    case PQ_INT64: {
        int scale = el->logical == PQ_LT_DECIMAL          ? el->logical_scale
                    : el->converted_type == PQ_CT_DECIMAL ? el->scale
                                                          : 0;
        if (scale > 0) {
            double d = (double)v->i;
            for (int i = 0; i < scale && i < 40; i++)
                d /= 10;
            *out = cJSON_CreateNumber(d);
        } else if (v->i > (INT64_C(1) << 53) || v->i < -(INT64_C(1) << 53)) {
            char buf[32];
            snprintf(buf, sizeof buf, "%lld", (long long)v->i); /* beyond a double's exact range: the digits */
            *out = cJSON_CreateRaw(buf);
        } else {
            *out = cJSON_CreateNumber((double)v->i);
        }
        break;
    }
    case PQ_FLOAT:
    case PQ_DOUBLE:
        *out = cJSON_CreateNumber(v->d);
        break;
    default: { /* BYTE_ARRAY, FIXED_LEN_BYTE_ARRAY */
        size_t n = (size_t)v->s.len, bad_at;
        const char *s = n ? (const char *)v->s.p : "";
        if (is_string_el(el)) {
            if (!rt_utf8_valid(s, n, &bad_at)) return row_err(pq, nd, err, "a string that is not valid UTF-8");
            if (memchr(s, 0, n)) return row_err(pq, nd, err, "a string with a NUL byte");
            char *dup = strndup(s, n);
            if (!dup) return rt_err_set(err, RT_ENOMEM, "out of memory");
            *out = cJSON_CreateString(dup);
            free(dup);
        } else { /* binary: base64 */
            rt_strbuf b = {0};
            const uint8_t *u = (const uint8_t *)s;
            for (size_t i = 0; i < n; i += 3) {
                uint32_t w =
                    (uint32_t)u[i] << 16 | (i + 1 < n ? (uint32_t)u[i + 1] << 8 : 0) | (i + 2 < n ? u[i + 2] : 0);
                char q[4] = {b64[w >> 18], b64[(w >> 12) & 63], i + 1 < n ? b64[(w >> 6) & 63] : '=',
                             i + 2 < n ? b64[w & 63] : '='};
                rt_strbuf_putn(&b, q, 4);
            }
            char *t = rt_strbuf_take(&b);
            if (!t) return rt_err_set(err, RT_ENOMEM, "out of memory");
            *out = cJSON_CreateString(t);
            free(t);
        }
    }
    }
    return *out ? RT_OK : rt_err_set(err, RT_ENOMEM, "out of memory");
}

static rt_status node_value(data_parquet *pq, size_t ni, size_t *s, size_t *e, cJSON **out, rt_error *err);

static rt_status instance_value(data_parquet *pq, size_t ni, size_t *s, size_t *e, cJSON **out, rt_error *err);

/* The elements of repeated node ri within the ranges s/e: an array whose elements are the repeated node itself
 * (self) or its only child. */
static rt_status list_of(data_parquet *pq, size_t ri, int self, size_t *s, size_t *e, cJSON **out, rt_error *err) {
    const pq_node *r = &pq->nodes[ri];
    size_t l0 = r->leaf_first;
    *out = cJSON_CreateArray();
    if (!*out) return rt_err_set(err, RT_ENOMEM, "out of memory");
    const char *bad = s[l0] >= e[l0] ? "no entry for a list" : NULL;
    if (!bad && pq->cols[l0].def[s[l0]] < r->def) { /* an empty list: one entry that says so */
        if (e[l0] - s[l0] == 1) return RT_OK;
        bad = "an empty list with entries";
    }
    if (bad) {
        cJSON_Delete(*out);
        *out = NULL;
        return row_err(pq, r, err, bad);
    }
    size_t nl = pq->n_leaves;
    size_t *pos = malloc(3 * nl * sizeof *pos);
    if (!pos) return rt_err_set(err, RT_ENOMEM, "out of memory");
    size_t *ss = pos + nl, *ee = pos + 2 * nl;
    for (size_t l = r->leaf_first; l < r->leaf_end; l++)
        pos[l] = s[l];
    rt_status st = RT_OK;
    while (!st && pos[l0] < e[l0]) {
        for (size_t l = r->leaf_first; l < r->leaf_end; l++) {
            if (pos[l] >= e[l]) {
                st = row_err(pq, &pq->nodes[pq->leaves[l]], err, "columns of one list disagree on its length");
                break;
            }
            const int16_t *rep = pq->cols[l].rep;
            size_t j = pos[l] + 1;
            while (j < e[l] && rep[j] > r->rep)
                j++;
            ss[l] = pos[l];
            ee[l] = j;
            pos[l] = j;
        }
        if (st) break;
        cJSON *item = NULL;
        st = self ? instance_value(pq, ri, ss, ee, &item, err) : node_value(pq, r->kids[0], ss, ee, &item, err);
        if (!st)
            cJSON_AddItemToArray(*out, item);
        else
            cJSON_Delete(item); /* a failing callee has freed what it built and left NULL */
    }
    for (size_t l = r->leaf_first; !st && l < r->leaf_end; l++)
        if (pos[l] != e[l])
            st = row_err(pq, &pq->nodes[pq->leaves[l]], err, "columns of one list disagree on its length");
    free(pos);
    if (st) {
        cJSON_Delete(*out);
        *out = NULL;
    }
    return st;
}

/* A MAP read as an array of {key, value} objects becomes a JSON object when every key is a string; otherwise it
 * stays an array. */
static rt_status map_to_object(data_parquet *pq, const pq_node *kv, cJSON **out, rt_error *err) {
    const char *kname = pq->nodes[kv->kids[0]].el->name, *vname = pq->nodes[kv->kids[1]].el->name;
    for (const cJSON *it = (*out)->child; it; it = it->next)
        if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(it, kname))) return RT_OK;
    cJSON *obj = cJSON_CreateObject();
    if (!obj) return rt_err_set(err, RT_ENOMEM, "out of memory");
    for (cJSON *it = (*out)->child; it; it = it->next) {
        cJSON *v = cJSON_DetachItemFromObjectCaseSensitive(it, vname);
        if (!v) v = cJSON_CreateNull();
        if (!v) {
            cJSON_Delete(obj);
            return rt_err_set(err, RT_ENOMEM, "out of memory");
        }
        cJSON_AddItemToObject(obj, cJSON_GetObjectItemCaseSensitive(it, kname)->valuestring, v);
    }
    cJSON_Delete(*out);
    *out = obj;
    return RT_OK;
}

/* One instance of node ni (its repetition aside): null, a value, an array or an object. */
static rt_status instance_value(data_parquet *pq, size_t ni, size_t *s, size_t *e, cJSON **out, rt_error *err) {
    const pq_node *nd = &pq->nodes[ni];
    size_t l0 = nd->leaf_first;
    *out = NULL;
    if (s[l0] >= e[l0]) return row_err(pq, nd, err, "no entry for a field");
    int d = pq->cols[l0].def[s[l0]];
    if (nd->el->repetition == PQ_OPTIONAL && d < nd->def) {
        *out = cJSON_CreateNull();
        return *out ? RT_OK : rt_err_set(err, RT_ENOMEM, "out of memory");
    }
    if (nd->n_kids == 0) {
        if (e[l0] - s[l0] != 1) return row_err(pq, nd, err, "repeated entries for a field that is not repeated");
        return leaf_json(pq, l0, s[l0], out, err);
    }
    if (nd->is_list || nd->is_map) {
        size_t ri = nd->kids[0];
        const pq_node *r = &pq->nodes[ri];
        int self = r->n_kids == 0 || r->n_kids > 1 || nd->is_map || strcmp(r->el->name, "array") == 0;
        if (!self) {
            size_t nl = strlen(nd->el->name);
            self = strncmp(r->el->name, nd->el->name, nl) == 0 && strcmp(r->el->name + nl, "_tuple") == 0;
        }
        rt_status st = list_of(pq, ri, self, s, e, out, err);
        if (st || !nd->is_map || r->n_kids != 2) return st;
        return map_to_object(pq, r, out, err);
    }
    *out = cJSON_CreateObject();
    if (!*out) return rt_err_set(err, RT_ENOMEM, "out of memory");
    for (size_t k = 0; k < nd->n_kids; k++) {
        cJSON *v = NULL;
        rt_status st = node_value(pq, nd->kids[k], s, e, &v, err);
        if (st) {
            cJSON_Delete(*out);
            *out = NULL;
            return st;
        }
        cJSON_AddItemToObject(*out, pq->nodes[nd->kids[k]].el->name, v);
    }
    return RT_OK;
}

static rt_status node_value(data_parquet *pq, size_t ni, size_t *s, size_t *e, cJSON **out, rt_error *err) {
    if (pq->nodes[ni].el->repetition == PQ_REPEATED) return list_of(pq, ni, 1, s, e, out, err);
    rt_status st = instance_value(pq, ni, s, e, out, err);
    if (st) {
        cJSON_Delete(*out);
        *out = NULL;
    }
    return st;
}

rt_status data_parquet_next(data_parquet *pq, cJSON **row, rt_error *err) {
    *row = NULL;
    while (!pq->loaded || pq->rg_row >= pq->rg_rows) {
        for (size_t l = 0; pq->loaded && l < pq->n_leaves; l++) { /* the group's every column read to its end */
            pq_column *col = &pq->cols[l];
            if (pq->cursor[l] != col->n || !col->done)
                return rt_err_set(err, RT_EFORMAT,
                                  "%s: row group %zu, column '%s': holds more rows than the %lld "
                                  "the row group declares",
                                  pq->path, pq->cur_rg, col->li.column, (long long)pq->rg_rows);
        }
        if (pq->rg >= pq->meta.n_row_groups) return RT_OK;
        pq->loaded = 0;
        rt_status st = load_group(pq, pq->rg++, err);
        if (st) return st;
    }
    for (size_t l = 0; l < pq->n_leaves; l++) {
        pq_column *col = &pq->cols[l];
        /* the row's entries: from the cursor to the next repetition level 0, decoding pages as needed; entries of
         * earlier rows are dropped first, so that only the current row and one page are held */
        size_t c = pq->cursor[l], j = c + 1;
        for (;;) {
            while (j < col->n && col->rep[j] != 0)
                j++;
            if ((c < col->n && j < col->n) || col->done) break;
            pq_column_drop(col, c);
            j -= c;
            c = 0;
            rt_status st = more(pq, l, pq->rg_rows, err);
            if (st) return st;
        }
        if (c >= col->n)
            return rt_err_set(err, RT_EFORMAT, "%s: row %lld (row group %zu), column '%s': no entry for the row",
                              pq->path, (long long)pq->row_no + 1, pq->cur_rg, col->li.column);
        pq->s[l] = c;
        pq->e[l] = j;
        pq->cursor[l] = j;
    }
    const pq_node *root = &pq->nodes[0];
    cJSON *obj = cJSON_CreateObject();
    if (!obj) return rt_err_set(err, RT_ENOMEM, "out of memory");
    for (size_t k = 0; k < root->n_kids; k++) {
        cJSON *v = NULL;
        rt_status st = node_value(pq, root->kids[k], pq->s, pq->e, &v, err);
        if (st) {
            cJSON_Delete(obj);
            return st;
        }
        cJSON_AddItemToObject(obj, pq->nodes[root->kids[k]].el->name, v);
    }
    pq->rg_row++;
    pq->row_no++;
    *row = obj;
    return RT_OK;
}
