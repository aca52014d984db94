/* The Parquet reader's internals shared by its files: the file metadata decoded from the Thrift compact protocol
 * (parquet_thrift.c), the value decoders (parquet_enc.c), one column chunk read into levels and values
 * (parquet_column.c). The public API is data/parquet.h. */
#ifndef RETOOL_DATA_PARQUET_INTERNAL_H
#define RETOOL_DATA_PARQUET_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

/* Physical types, repetitions, encodings, codecs and page types as parquet.thrift numbers them. */
enum { PQ_BOOLEAN = 0, PQ_INT32, PQ_INT64, PQ_INT96, PQ_FLOAT, PQ_DOUBLE, PQ_BYTE_ARRAY, PQ_FIXED_LEN_BYTE_ARRAY };
enum { PQ_REQUIRED = 0, PQ_OPTIONAL, PQ_REPEATED };
enum {
    PQ_ENC_PLAIN = 0,
    PQ_ENC_PLAIN_DICTIONARY = 2,
    PQ_ENC_RLE = 3,
    PQ_ENC_BIT_PACKED = 4,
    PQ_ENC_DELTA_BINARY_PACKED = 5,
    PQ_ENC_DELTA_LENGTH_BYTE_ARRAY = 6,
    PQ_ENC_DELTA_BYTE_ARRAY = 7,
    PQ_ENC_RLE_DICTIONARY = 8,
    PQ_ENC_BYTE_STREAM_SPLIT = 9,
};
enum { PQ_CODEC_UNCOMPRESSED = 0, PQ_CODEC_SNAPPY = 1, PQ_CODEC_GZIP = 2, PQ_CODEC_ZSTD = 6 };
enum { PQ_PAGE_DATA = 0, PQ_PAGE_INDEX = 1, PQ_PAGE_DICTIONARY = 2, PQ_PAGE_DATA_V2 = 3 };
/* Converted types and logical types the reader looks at. */
enum {
    PQ_CT_UTF8 = 0,
    PQ_CT_MAP = 1,
    PQ_CT_MAP_KEY_VALUE = 2,
    PQ_CT_LIST = 3,
    PQ_CT_ENUM = 4,
    PQ_CT_DECIMAL = 5,
    PQ_CT_JSON = 19
};
enum {
    PQ_LT_NONE = 0,
    PQ_LT_STRING = 1,
    PQ_LT_MAP = 2,
    PQ_LT_LIST = 3,
    PQ_LT_ENUM = 4,
    PQ_LT_DECIMAL = 5,
    PQ_LT_JSON = 12
};

typedef struct pq_schema_el {
    char *name;
    int32_t type; /* -1 for a group */
    int32_t type_length;
    int32_t repetition; /* -1 when absent (the root) */
    int32_t num_children;
    int32_t converted_type; /* -1 when absent */
    int32_t scale;
    int32_t logical; /* PQ_LT_*, the union's field id */
    int32_t logical_scale;
} pq_schema_el;

typedef struct pq_chunk {
    int32_t type;
    int32_t codec;
    int64_t num_values;
    int64_t total_compressed_size;
    int64_t data_page_offset;
    int64_t dictionary_page_offset; /* 0 when absent */
    int has_meta;
    int has_file_path;
} pq_chunk;

typedef struct pq_row_group {
    pq_chunk *columns;
    size_t n_columns;
    int64_t num_rows;
} pq_row_group;

typedef struct pq_meta {
    pq_schema_el *schema;
    size_t n_schema;
    int64_t num_rows;
    pq_row_group *row_groups;
    size_t n_row_groups;
} pq_meta;

typedef struct pq_page_header {
    int32_t type;
    int32_t uncompressed_size, compressed_size;
    int32_t num_values; /* data page v1/v2 and dictionary */
    int32_t encoding;
    int32_t def_encoding, rep_encoding; /* v1 */
    int32_t num_nulls, num_rows;        /* v2 */
    int32_t def_length, rep_length;     /* v2 */
    int is_compressed;                  /* v2, default true */
    int has_data, has_dict, has_v2;
} pq_page_header;

/* Decodes FileMetaData from len bytes; errors say which field is malformed. */
rt_status pq_meta_decode(const uint8_t *p, size_t len, pq_meta *out, rt_error *err);
void pq_meta_free(pq_meta *m);
/* Decodes a PageHeader at p (at most len bytes); *used gets its size in bytes. */
rt_status pq_page_header_decode(const uint8_t *p, size_t len, pq_page_header *out, size_t *used, rt_error *err);

/* A value of a column: integers and booleans in i, floats in d, byte arrays as a pointer into one of the column's
 * buffers and a length. */
typedef union pq_value {
    int64_t i;
    double d;
    struct {
        const uint8_t *p;
        uint64_t len;
    } s;
} pq_value;

/* The buffers a column's byte array values point into: kept page and dictionary buffers (values are not copied out
 * of them) and arena blocks for values that are built (DELTA_BYTE_ARRAY). until[i]: the absolute index of the entry
 * after the last one that points into bufs[i] (UINT64_MAX: the dictionary, kept with the chunk); a buffer is freed
 * once every entry before that index has been dropped, and all with the next row group. */
typedef struct pq_store {
    uint8_t **bufs;
    uint64_t *until;
    size_t n, cap;
    uint8_t *block; /* the arena block being filled (also in bufs, at block_idx) */
    size_t block_idx, block_len, block_cap;
} pq_store;

/* What the column reader needs to know about a leaf, and the context its errors name. */
typedef struct pq_leaf_info {
    int32_t type, type_length;
    int max_def, max_rep;
    const char *path;   /* file name, for errors */
    const char *column; /* dotted column path, for errors */
    size_t row_group;
} pq_leaf_info;

/* One column chunk of a row group, decoded a page at a time: entry k (absolute index base + k) has levels def[k],
 * rep[k] and, when def[k] == max_def, the value val[k]. Entries before the row being assembled are dropped when the
 * next page is decoded, so memory holds the chunk's compressed bytes, one page's values and the current row. */
typedef struct pq_column {
    int16_t *def, *rep;
    pq_value *val;
    size_t n, cap;
    uint64_t base; /* absolute index of entry 0 */
    int64_t rows;  /* entries with repetition level 0 decoded so far: rows begun */
    int done;      /* every page of the chunk decoded */
    pq_store store;
    /* the chunk being read */
    pq_leaf_info li;
    const pq_chunk *cc;
    uint8_t *chunk; /* owned */
    size_t chunk_len, pos;
    long page;
    uint64_t seen; /* values of the chunk's data pages decoded */
    pq_value *dict;
    size_t dict_n;
    int have_dict;
} pq_column;

/* Starts reading one column chunk from the file's bytes [chunk, chunk+len) (a malloc'd buffer the column takes, freed
 * on failure too) into col (reset first; nothing decoded yet). */
rt_status pq_column_begin(const pq_leaf_info *li, const pq_chunk *cc, uint8_t *chunk, size_t len, pq_column *col,
                          rt_error *err);
/* Decodes the chunk's next data page (and any dictionary or index pages before it), appending its entries; sets
 * col->done after the last. Errors name file, row group, column and page. */
rt_status pq_column_more(pq_column *col, rt_error *err);
/* Drops entries [0, upto) and frees the buffers only they pointed into. */
void pq_column_drop(pq_column *col, size_t upto);
void pq_column_free(pq_column *col);

/* Decoders over a byte range; each fails with a message (no context) on malformed input. */
typedef struct pq_rle {
    const uint8_t *p, *end;
    int bw;
    uint64_t run_left;  /* values left in the current run */
    int packed;         /* current run is bit-packed */
    uint64_t rle_value; /* current RLE value */
    uint64_t bitpos;    /* bit position within the packed run's bytes */
    const uint8_t *packed_start, *packed_end;
} pq_rle;

/* Starts an RLE/bit-packed hybrid decoder of bit width bw over [p, p+len). */
rt_status pq_rle_init(pq_rle *r, const uint8_t *p, size_t len, int bw, rt_error *err);
/* Decodes the next n values into out (uint32). */
rt_status pq_rle_get(pq_rle *r, uint32_t *out, size_t n, rt_error *err);

/* DELTA_BINARY_PACKED: decodes exactly n values (int64, the caller narrows for INT32) from [p, p+len); *used gets the
 * bytes consumed. */
rt_status pq_delta_decode(const uint8_t *p, size_t len, size_t n, int64_t *out, size_t *used, rt_error *err);

#endif
