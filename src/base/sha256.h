/* SHA-256 (FIPS 180-4), for content hashes in audit logs and manifests. */
#ifndef RETOOL_BASE_SHA256_H
#define RETOOL_BASE_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct rt_sha256 {
    uint32_t h[8];
    uint64_t total;
    unsigned char block[64];
    size_t used;
} rt_sha256;

/* Starts a hash. */
void rt_sha256_init(rt_sha256 *s);

/* Adds len bytes. */
void rt_sha256_update(rt_sha256 *s, const void *data, size_t len);

/* Finishes the hash into 32 bytes. */
void rt_sha256_final(rt_sha256 *s, unsigned char out[32]);

/* Hashes len bytes into 64 lower-case hex digits and a NUL. */
void rt_sha256_hex(const void *data, size_t len, char out[65]);

#endif
