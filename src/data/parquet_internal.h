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
 * of them) and arena blocks for values that are built or streamed. until[i]: the absolute index of the entry after
 * the last one that points into bufs[i] (UINT64_MAX: the dictionary, kept with the chunk); a buffer is freed once
 * every entry before that index has been dropped, and all with the next row group. */
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
    size_t stream_min; /* pages whose values decompress to more bytes than this are streamed */
} pq_leaf_info;

/* A streaming raw snappy decoder: copies are served from a ring of the last PQ_SNAPPY_WINDOW bytes (libsnappy and
 * the snap crate compress in independent 64 KiB blocks, so no copy of theirs reaches further). */
#define PQ_SNAPPY_WINDOW 65536
typedef struct pq_snappy {
    const uint8_t *p, *end; /* compressed bytes not yet read */
    uint64_t total;         /* the length the data declares */
    uint64_t produced;      /* bytes produced so far */
    size_t lit;             /* literal bytes left of the current element */
    size_t copy_len, copy_off;
    uint8_t *hist; /* ring of the last PQ_SNAPPY_WINDOW bytes */
} pq_snappy;

/* Reads the declared length from [p, p+len) and starts decoding. */
rt_status pq_snappy_init(pq_snappy *s, const uint8_t *p, size_t len, rt_error *err);
/* Produces exactly the next n bytes into dst; fails on malformed or truncated data, on output past the declared
 * length, and with RT_EUNSUPPORTED (before using it) on a copy that reaches beyond the window. */
rt_status pq_snappy_read(pq_snappy *s, uint8_t *dst, size_t n, rt_error *err);
/* Checks that every declared byte was produced and the input ends there. */
rt_status pq_snappy_end(const pq_snappy *s, rt_error *err);
void pq_snappy_free(pq_snappy *s);

/* Checks that codec is supported and that [src, src+slen) can hold exactly dlen bytes, before any buffer is
 * allocated for them (a lying header cannot make the reader allocate gigabytes for a few bytes). */
rt_status pq_codec_check(int32_t codec, const uint8_t *src, size_t slen, size_t dlen, rt_error *err);
/* Decompresses [src, src+slen) whole into exactly dlen bytes at dst. */
rt_status pq_decompress(int32_t codec, const uint8_t *src, size_t slen, uint8_t *dst, size_t dlen, rt_error *err);

/* A page's bytes decompressed as they are read: memory holds the decoder's window, not the page. */
typedef struct pq_src {
    int32_t codec;
    const uint8_t *in;
    size_t in_len;
    size_t total, pos; /* declared decompressed bytes; bytes read */
    pq_snappy sn;
    struct ZSTD_DCtx_s *zs;
    size_t zpos; /* zstd: input bytes consumed */
    int zend;    /* zstd: the last call ended a frame */
    struct z_stream_s *gz;
    int gzdone;
    uint8_t *flat; /* snappy with a copy beyond the window: the page decompressed whole */
} pq_src;

/* Starts decompressing [in, in+len), which must hold exactly total bytes. */
rt_status pq_src_open(pq_src *s, int32_t codec, const uint8_t *in, size_t len, size_t total, rt_error *err);
/* Reads exactly the next n bytes into dst. */
rt_status pq_src_read(pq_src *s, uint8_t *dst, size_t n, rt_error *err);
/* Reads and discards what is left, then checks that the data ends exactly at the declared size. */
rt_status pq_src_finish(pq_src *s, rt_error *err);
void pq_src_close(pq_src *s);

/* The data page being decoded: its levels (all of them, decoded when the page begins) and its values, either all
 * decoded when the page begins (vals) or read one at a time from the streaming source (PLAIN and
 * DELTA_LENGTH_BYTE_ARRAY on large pages). */
typedef struct pq_page {
    int active;
    int32_t encoding;
    int16_t *def, *rep;
    size_t n, next; /* entries; the next to hand to the column */
    pq_value *vals; /* NULL while streaming */
    size_t nv, vnext;
    int64_t *lens; /* streamed DELTA_LENGTH_BYTE_ARRAY: every value's length, read when the page begins */
    pq_src src;
    int streaming;
    uint8_t bits; /* PLAIN booleans read from the stream: the current byte and how many of its bits are used */
    int nbits;
} pq_page;

/* One column chunk of a row group, decoded in batches of entries: entry k (absolute index base + k) has levels
 * def[k], rep[k] and, when def[k] == max_def, the value val[k]. Entries before the row being assembled are dropped
 * when the next batch is decoded, so memory holds the chunk's compressed bytes, one page's levels, one batch's
 * values (or one small page's) and the current row. */
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
    uint64_t seen; /* values of the chunk's data pages begun */
    pq_value *dict;
    size_t dict_n;
    int have_dict;
    pq_page pg;
} pq_column;

/* Starts reading one column chunk from the file's bytes [chunk, chunk+len) (a malloc'd buffer the column takes, freed
 * on failure too) into col (reset first; nothing decoded yet). */
rt_status pq_column_begin(const pq_leaf_info *li, const pq_chunk *cc, uint8_t *chunk, size_t len, pq_column *col,
                          rt_error *err);
/* Decodes the next batch of entries (beginning the chunk's next data page, after any dictionary or index pages,
 * when the current one is done), appending them; sets col->done after the last. Errors name file, row group, column
 * and page. */
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
/* The same, reading from a page's stream, which is left just after the values. */
rt_status pq_delta_decode_src(pq_src *src, size_t n, int64_t *out, rt_error *err);

/* Pages whose values decompress to at most this many bytes are decompressed whole (the libraries' fastest path);
 * larger ones are streamed. */
#define PQ_STREAM_MIN_DEFAULT ((size_t)1 << 20)
struct data_parquet;
/* Sets the streaming threshold of an open reader (tests stream every page with 0). */
void pq_set_stream_min(struct data_parquet *pq, size_t bytes);

#endif
