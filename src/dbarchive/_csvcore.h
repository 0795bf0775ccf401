/*
 * The shared core of dbarchive's C extensions: SHA-256 (portable, and with the x86 SHA
 * extensions when the CPU has them), the CSV field writer of our dialect and the netstring row
 * hash. Static functions in a header, so each extension (_speedups, _mysqlread) carries its own
 * copy and neither depends on the other. Include it after <Python.h>; call csvcore_init() once
 * from the module init to pick the fastest SHA-256 block function.
 */
#ifndef DBARCHIVE_CSVCORE_H
#define DBARCHIVE_CSVCORE_H

#include <stdint.h>
#include <string.h>

/* ---------------------------------------------------------------- SHA-256 (FIPS 180-4) ---- */

typedef struct {
    uint32_t state[8];
    uint64_t length; /* bytes hashed so far */
    unsigned char block[64];
    size_t used; /* bytes waiting in block */
} sha256_ctx;

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

#define ROTR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

/* The portable block function: one 64-byte block at a time, in plain C. */
static inline void sha256_blocks_portable(uint32_t state[8], const unsigned char *p, size_t blocks) {
    for (; blocks > 0; blocks--, p += 64) {
        uint32_t w[64];
        for (int i = 0; i < 16; i++) {
            w[i] = ((uint32_t)p[4 * i] << 24) | ((uint32_t)p[4 * i + 1] << 16) |
                   ((uint32_t)p[4 * i + 2] << 8) | (uint32_t)p[4 * i + 3];
        }
        for (int i = 16; i < 64; i++) {
            uint32_t s0 = ROTR(w[i - 15], 7) ^ ROTR(w[i - 15], 18) ^ (w[i - 15] >> 3);
            uint32_t s1 = ROTR(w[i - 2], 17) ^ ROTR(w[i - 2], 19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16] + s0 + w[i - 7] + s1;
        }
        uint32_t a = state[0], b = state[1], c = state[2], d = state[3];
        uint32_t e = state[4], f = state[5], g = state[6], h = state[7];
        for (int i = 0; i < 64; i++) {
            uint32_t t1 =
                h + (ROTR(e, 6) ^ ROTR(e, 11) ^ ROTR(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
            uint32_t t2 = (ROTR(a, 2) ^ ROTR(a, 13) ^ ROTR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
            h = g; g = f; f = e; e = d + t1;
            d = c; c = b; b = a; a = t1 + t2;
        }
        state[0] += a; state[1] += b; state[2] += c; state[3] += d;
        state[4] += e; state[5] += f; state[6] += g; state[7] += h;
    }
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define DBA_SHA_NI 1
#define DBA_SSE2 1 /* part of every x86-64 CPU */
#include <cpuid.h>
#include <immintrin.h>

/* The same compression with the x86 SHA extensions (most CPUs since 2017; ~8x faster).
 *
 * The SHA instructions keep the eight working variables as two vectors, ABEF and CDGH (A in the
 * highest lane). sha256rnds2(cdgh, abef, wk) does two rounds with the two W+K words in wk's low
 * half and returns the new ABEF; the old ABEF is then the new CDGH, so the two vectors swap roles
 * every two rounds. sha256msg1/msg2 extend the message schedule four words at a time:
 * W[t..t+3] = msg2(msg1(W[t-16..], W[t-12..]) + W[t-7..t-4], W[t-4..t-1]). */
__attribute__((target("sha,sse4.1,ssse3"))) static inline void sha256_blocks_shani(uint32_t state[8],
                                                                              const unsigned char *p,
                                                                              size_t blocks) {
    const __m128i byteswap = _mm_set_epi8(12, 13, 14, 15, 8, 9, 10, 11, 4, 5, 6, 7, 0, 1, 2, 3);
    __m128i abcd = _mm_loadu_si128((const __m128i *)&state[0]);
    __m128i efgh = _mm_loadu_si128((const __m128i *)&state[4]);
    /* lanes low..high: [a,b,c,d], [e,f,g,h] -> ABEF = [f,e,b,a], CDGH = [h,g,d,c] */
    __m128i abef = _mm_shuffle_epi32(_mm_unpacklo_epi64(abcd, efgh), 0x1B);
    __m128i cdgh = _mm_shuffle_epi32(_mm_unpackhi_epi64(abcd, efgh), 0x1B);
    for (; blocks > 0; blocks--, p += 64) {
        __m128i saved_abef = abef, saved_cdgh = cdgh;
        __m128i w[4];
        for (int i = 0; i < 4; i++) {
            w[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * i)), byteswap);
        }
        for (int g = 0; g < 16; g++) { /* four rounds per step: W[4g .. 4g+3] */
            if (g >= 4) {
                __m128i t = _mm_sha256msg1_epu32(w[g & 3], w[(g + 1) & 3]);
                t = _mm_add_epi32(t, _mm_alignr_epi8(w[(g + 3) & 3], w[(g + 2) & 3], 4));
                w[g & 3] = _mm_sha256msg2_epu32(t, w[(g + 3) & 3]);
            }
            __m128i wk = _mm_add_epi32(w[g & 3], _mm_loadu_si128((const __m128i *)&K[4 * g]));
            cdgh = _mm_sha256rnds2_epu32(cdgh, abef, wk); /* now holds the new ABEF */
            abef = _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32(wk, 0x0E));
        }
        abef = _mm_add_epi32(abef, saved_abef);
        cdgh = _mm_add_epi32(cdgh, saved_cdgh);
    }
    __m128i fwd_abef = _mm_shuffle_epi32(abef, 0x1B); /* [a,b,e,f] */
    __m128i fwd_cdgh = _mm_shuffle_epi32(cdgh, 0x1B); /* [c,d,g,h] */
    _mm_storeu_si128((__m128i *)&state[0], _mm_unpacklo_epi64(fwd_abef, fwd_cdgh));
    _mm_storeu_si128((__m128i *)&state[4], _mm_unpackhi_epi64(fwd_abef, fwd_cdgh));
}

static inline int cpu_has_sha_ni(void) {
    unsigned int a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    int sse41 = (c >> 19) & 1, ssse3 = (c >> 9) & 1;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    return sse41 && ssse3 && ((b >> 29) & 1);
}
#endif

typedef void (*sha256_blocks_fn)(uint32_t state[8], const unsigned char *p, size_t blocks);
static sha256_blocks_fn sha256_blocks = sha256_blocks_portable; /* chosen at import */

static inline void sha256_init(sha256_ctx *ctx) {
    static const uint32_t initial[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                        0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    memcpy(ctx->state, initial, sizeof(initial));
    ctx->length = 0;
    ctx->used = 0;
}

static inline void sha256_update(sha256_ctx *ctx, const unsigned char *data, size_t n) {
    ctx->length += n;
    if (ctx->used) {
        size_t take = 64 - ctx->used < n ? 64 - ctx->used : n;
        memcpy(ctx->block + ctx->used, data, take);
        ctx->used += take;
        data += take;
        n -= take;
        if (ctx->used < 64) return;
        sha256_blocks(ctx->state, ctx->block, 1);
        ctx->used = 0;
    }
    if (n >= 64) {
        sha256_blocks(ctx->state, data, n / 64);
        data += n & ~(size_t)63;
        n &= 63;
    }
    memcpy(ctx->block, data, n);
    ctx->used = n;
}

/* Finishes the hash and returns its first 16 bytes as two big-endian 64-bit lanes. */
static inline void sha256_lanes(sha256_ctx *ctx, uint64_t *lane1, uint64_t *lane2) {
    uint64_t bits = ctx->length * 8;
    ctx->block[ctx->used++] = 0x80;
    if (ctx->used > 56) { /* no room for the length: pad this block, then one more */
        memset(ctx->block + ctx->used, 0, 64 - ctx->used);
        sha256_blocks(ctx->state, ctx->block, 1);
        ctx->used = 0;
    }
    memset(ctx->block + ctx->used, 0, 56 - ctx->used);
    for (int i = 0; i < 8; i++) ctx->block[56 + i] = (unsigned char)(bits >> (56 - 8 * i));
    sha256_blocks(ctx->state, ctx->block, 1);
    *lane1 = ((uint64_t)ctx->state[0] << 32) | ctx->state[1];
    *lane2 = ((uint64_t)ctx->state[2] << 32) | ctx->state[3];
}

/* ---------------------------------------------------------------- encode_rows ------------- */

/* One value of a batch, as seen without the GIL: NULL has len -1. */
typedef struct {
    const char *data;
    Py_ssize_t len;
} field;

/* Writes "<n>:" (the netstring prefix) into out; returns its length. */
static inline size_t netstring_prefix(char *out, Py_ssize_t n) {
    char digits[24];
    size_t k = 0;
    size_t v = (size_t)n;
    do {
        digits[k++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < k; i++) out[i] = digits[k - 1 - i];
    out[k] = ':';
    return k + 1;
}

/* Feeds one netstring field to the row hash: "-1:" for NULL, "<len>:<bytes>" otherwise. */
static inline void hash_field(sha256_ctx *h, const char *v, Py_ssize_t n, int is_null) {
    if (is_null) {
        sha256_update(h, (const unsigned char *)"-1:", 3);
        return;
    }
    char prefix[24];
    sha256_update(h, (const unsigned char *)prefix, netstring_prefix(prefix, n));
    sha256_update(h, (const unsigned char *)v, (size_t)n);
}

/* Bytes of one CSV field: \N, or the value quoted with each inner quote doubled. */
static inline size_t field_size(const field *f) {
    if (f->len < 0) return 2;
    size_t size = (size_t)f->len + 2;
    const char *v = f->data;
    size_t n = (size_t)f->len;
#ifdef DBA_SSE2
    const __m128i quote = _mm_set1_epi8('"');
    for (; n >= 16; v += 16, n -= 16) {
        __m128i block = _mm_loadu_si128((const __m128i *)v);
        size += (size_t)__builtin_popcount((unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(block, quote)));
    }
#endif
    for (; n > 0; v++, n--) size += *v == '"';
    return size;
}

/* Writes one field. JSON values are full of quotes, so the SSE2 path copies 16 bytes at a time and
 * stops only at a quote; it may store up to 15 bytes beyond the field's current position, which is
 * safe because the rest of the field's output (at least n + 1 bytes) is still ahead in the buffer
 * and is written over right after. */
static inline char *put_field(char *w, const field *f) {
    if (f->len < 0) {
        *w++ = '\\';
        *w++ = 'N';
        return w;
    }
    const char *v = f->data;
    size_t n = (size_t)f->len;
    *w++ = '"';
#ifdef DBA_SSE2
    const __m128i quote = _mm_set1_epi8('"');
    while (n >= 16) {
        __m128i block = _mm_loadu_si128((const __m128i *)v);
        _mm_storeu_si128((__m128i *)w, block);
        unsigned mask = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(block, quote));
        if (!mask) {
            v += 16;
            w += 16;
            n -= 16;
            continue;
        }
        size_t run = (size_t)__builtin_ctz(mask) + 1; /* up to and including the quote */
        v += run;
        w += run;
        n -= run;
        *w++ = '"';
    }
#endif
    for (; n > 0; v++, n--) {
        *w++ = *v;
        if (*v == '"') *w++ = '"';
    }
    *w++ = '"';
    return w;
}

typedef struct {
    uint64_t x1, x2, s1_low, s1_high;
} lanes_sum;

/* Folds one row's two hash lanes into the sums: XOR for both, a 128-bit SUM of lane 1. */
static inline void lanes_add(lanes_sum *sum, uint64_t a, uint64_t b) {
    sum->x1 ^= a;
    sum->x2 ^= b;
    uint64_t before = sum->s1_low;
    sum->s1_low += a;
    sum->s1_high += sum->s1_low < before; /* carry */
}

/* Writes the CSV of every row and folds each row's hash into the lanes. Runs without the GIL. */
static inline void encode_fields(const field *fields, const Py_ssize_t *widths, Py_ssize_t count, char *w,
                          lanes_sum *sum) {
    for (Py_ssize_t i = 0; i < count; i++) {
        sha256_ctx h;
        sha256_init(&h);
        for (Py_ssize_t j = 0; j < widths[i]; j++, fields++) {
            if (j > 0) *w++ = ',';
            w = put_field(w, fields);
            hash_field(&h, fields->data, fields->len, fields->len < 0);
        }
        *w++ = '\n';
        uint64_t a, b;
        sha256_lanes(&h, &a, &b);
        lanes_add(sum, a, b);
    }
}

static inline void csvcore_init(void) {
#ifdef DBA_SHA_NI
    if (cpu_has_sha_ni()) sha256_blocks = sha256_blocks_shani;
#endif
}

#endif /* DBARCHIVE_CSVCORE_H */
