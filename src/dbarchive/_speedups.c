/*
 * dbarchive._speedups: the export hot path in C.
 *
 * encode_rows(rows) does, in one pass over the values, exactly what formats/csv.py's pure-Python
 * encode_rows does: the CSV line of every row (NULL as a bare \N, every other value quoted with
 * inner quotes doubled, rows ended by \n) and the row digest lanes (SHA-256 over the row's
 * netstring encoding: NULL as "-1:", a value as "<length>:<bytes>").
 *
 * Returns (csv_bytes, count, x1, x2, s1_high, s1_low): x1/x2 are the XOR of the two 64-bit lanes,
 * s1 = s1_high * 2**64 + s1_low is the sum of lane 1. The Python side merges them into RowDigest.
 * The SHA-256 below implements FIPS 180-4 twice: in plain C, and with the x86 SHA extensions when
 * the CPU has them (chosen at import); the tests check both against hashlib.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
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
static void sha256_blocks_portable(uint32_t state[8], const unsigned char *p, size_t blocks) {
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
__attribute__((target("sha,sse4.1,ssse3"))) static void sha256_blocks_shani(uint32_t state[8],
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

static int cpu_has_sha_ni(void) {
    unsigned int a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    int sse41 = (c >> 19) & 1, ssse3 = (c >> 9) & 1;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    return sse41 && ssse3 && ((b >> 29) & 1);
}
#endif

typedef void (*sha256_blocks_fn)(uint32_t state[8], const unsigned char *p, size_t blocks);
static sha256_blocks_fn sha256_blocks = sha256_blocks_portable; /* chosen at import */

static void sha256_init(sha256_ctx *ctx) {
    static const uint32_t initial[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                        0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    memcpy(ctx->state, initial, sizeof(initial));
    ctx->length = 0;
    ctx->used = 0;
}

static void sha256_update(sha256_ctx *ctx, const unsigned char *data, size_t n) {
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
static void sha256_lanes(sha256_ctx *ctx, uint64_t *lane1, uint64_t *lane2) {
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
static size_t netstring_prefix(char *out, Py_ssize_t n) {
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
static void hash_field(sha256_ctx *h, const char *v, Py_ssize_t n, int is_null) {
    if (is_null) {
        sha256_update(h, (const unsigned char *)"-1:", 3);
        return;
    }
    char prefix[24];
    sha256_update(h, (const unsigned char *)prefix, netstring_prefix(prefix, n));
    sha256_update(h, (const unsigned char *)v, (size_t)n);
}

/* Bytes of one CSV field: \N, or the value quoted with each inner quote doubled. */
static size_t field_size(const field *f) {
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
static char *put_field(char *w, const field *f) {
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

/* Writes the CSV of every row and folds each row's hash into the lanes. Runs without the GIL. */
static void encode_fields(const field *fields, const Py_ssize_t *widths, Py_ssize_t count, char *w,
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
        sum->x1 ^= a;
        sum->x2 ^= b;
        uint64_t before = sum->s1_low;
        sum->s1_low += a;
        sum->s1_high += sum->s1_low < before; /* carry */
    }
}

/* Collects the rows' values (holding a reference to every row) and the exact CSV size. */
static int collect_fields(PyObject **items, Py_ssize_t count, PyObject **held, Py_ssize_t *widths,
                          field **fields_out, size_t *size_out) {
    Py_ssize_t total = 0;
    for (Py_ssize_t i = 0; i < count; i++) {
        held[i] = PySequence_Tuple(items[i]); /* a tuple is taken as is: its values cannot change */
        if (!held[i]) return -1;
        widths[i] = PyTuple_GET_SIZE(held[i]);
        total += widths[i];
    }
    field *fields = PyMem_Malloc(sizeof(field) * (size_t)(total ? total : 1));
    if (!fields) {
        PyErr_NoMemory();
        return -1;
    }
    size_t size = 0;
    Py_ssize_t k = 0;
    for (Py_ssize_t i = 0; i < count; i++) {
        for (Py_ssize_t j = 0; j < widths[i]; j++, k++) {
            PyObject *v = PyTuple_GET_ITEM(held[i], j);
            if (v == Py_None) {
                fields[k].data = NULL;
                fields[k].len = -1;
            } else if (PyBytes_Check(v)) {
                fields[k].data = PyBytes_AS_STRING(v);
                fields[k].len = PyBytes_GET_SIZE(v);
            } else {
                PyMem_Free(fields);
                PyErr_SetString(PyExc_TypeError, "values must be bytes or None");
                return -1;
            }
            size += field_size(&fields[k]);
        }
        size += (size_t)(widths[i] ? widths[i] : 1); /* the commas between values and the '\n' */
    }
    *fields_out = fields;
    *size_out = size;
    return 0;
}

/* The CSV bytes and digest lanes of a batch. The values are gathered with the GIL held, then
 * quoted and hashed with it released, so the reader thread can fetch the next chunk meanwhile. */
static PyObject *encode_rows(PyObject *self, PyObject *arg) {
    (void)self;
    PyObject *rows = PySequence_Fast(arg, "rows must be a sequence");
    if (!rows) return NULL;
    Py_ssize_t count = PySequence_Fast_GET_SIZE(rows);
    PyObject **held = PyMem_Calloc((size_t)(count ? count : 1), sizeof(PyObject *));
    Py_ssize_t *widths = PyMem_Malloc(sizeof(Py_ssize_t) * (size_t)(count ? count : 1));
    field *fields = NULL;
    PyObject *csv = NULL, *result = NULL;
    size_t size = 0;
    lanes_sum sum = {0, 0, 0, 0};
    if (!held || !widths) {
        PyErr_NoMemory();
        goto done;
    }
    if (collect_fields(PySequence_Fast_ITEMS(rows), count, held, widths, &fields, &size)) goto done;
    csv = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)size);
    if (!csv) goto done;
    char *w = PyBytes_AS_STRING(csv);
    Py_BEGIN_ALLOW_THREADS
    encode_fields(fields, widths, count, w, &sum);
    Py_END_ALLOW_THREADS
    result = Py_BuildValue("(OnKKKK)", csv, count, (unsigned long long)sum.x1,
                           (unsigned long long)sum.x2, (unsigned long long)sum.s1_high,
                           (unsigned long long)sum.s1_low);
done:
    Py_XDECREF(csv);
    PyMem_Free(fields);
    if (held) {
        for (Py_ssize_t i = 0; i < count; i++) Py_XDECREF(held[i]);
    }
    PyMem_Free(held);
    PyMem_Free(widths);
    Py_DECREF(rows);
    return result;
}

/* ---------------------------------------------------------------- parse_rows -------------- */

/* Parses one field starting at p; sets *value (new reference, Py_None for NULL) and returns the
 * position after its separator, or NULL if the buffer ends first (*value untouched), or sets an
 * error and returns NULL with *error = 1. *end_of_row is set when the separator was \n. */
static const char *parse_field(const char *p, const char *end, PyObject **value, int *end_of_row,
                               int *error) {
    if (p >= end) return NULL;
    if (*p == '\\') {
        if (end - p < 3) return NULL;
        if (p[1] != 'N' || (p[2] != ',' && p[2] != '\n')) goto malformed;
        Py_INCREF(Py_None);
        *value = Py_None;
        *end_of_row = p[2] == '\n';
        return p + 3;
    }
    if (*p != '"') goto malformed;
    const char *start = p + 1, *q = start;
    Py_ssize_t doubled = 0;
    for (;;) {
        q = memchr(q, '"', (size_t)(end - q));
        if (!q || q + 1 >= end) return NULL; /* the closing quote or its separator is not here yet */
        if (q[1] == '"') {
            doubled++;
            q += 2;
            continue;
        }
        if (q[1] != ',' && q[1] != '\n') goto malformed;
        break;
    }
    Py_ssize_t raw = q - start;
    PyObject *bytes = PyBytes_FromStringAndSize(NULL, raw - doubled);
    if (!bytes) {
        *error = 1;
        return NULL;
    }
    char *w = PyBytes_AS_STRING(bytes);
    for (const char *r = start; r < q; r++) {
        *w++ = *r;
        if (*r == '"') r++; /* a doubled quote: keep one */
    }
    *value = bytes;
    *end_of_row = q[1] == '\n';
    return q + 2;
malformed:
    PyErr_Format(PyExc_ValueError, "malformed CSV near byte %zd", (Py_ssize_t)0);
    *error = 1;
    return NULL;
}

static PyObject *parse_rows(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer view;
    Py_ssize_t start;
    int final;
    if (!PyArg_ParseTuple(args, "y*np", &view, &start, &final)) return NULL;
    const char *base = view.buf, *end = base + view.len, *p = base + start, *row_start = p;
    PyObject *rows = PyList_New(0), *row = NULL;
    if (!rows) goto error;
    while (p < end) {
        if (!row && !(row = PyList_New(0))) goto error;
        PyObject *value = NULL;
        int end_of_row = 0, error = 0;
        const char *next = parse_field(p, end, &value, &end_of_row, &error);
        if (error) {
            if (PyErr_ExceptionMatches(PyExc_ValueError)) {
                PyErr_Clear();
                PyErr_Format(PyExc_ValueError, "malformed CSV near byte %zd", (Py_ssize_t)(p - base));
            }
            goto error;
        }
        if (!next) break; /* incomplete row: keep it for the next call */
        int failed = PyList_Append(row, value);
        Py_DECREF(value);
        if (failed) goto error;
        p = next;
        if (end_of_row) {
            failed = PyList_Append(rows, row);
            Py_CLEAR(row);
            if (failed) goto error;
            row_start = p;
        }
    }
    Py_XDECREF(row);
    if (final && row_start < end) {
        PyErr_Format(PyExc_ValueError, "malformed CSV near byte %zd", (Py_ssize_t)(row_start - base));
        Py_DECREF(rows);
        PyBuffer_Release(&view);
        return NULL;
    }
    PyBuffer_Release(&view);
    return Py_BuildValue("(Nn)", rows, (Py_ssize_t)(row_start - base));
error:
    Py_XDECREF(row);
    Py_XDECREF(rows);
    PyBuffer_Release(&view);
    return NULL;
}

/* ---------------------------------------------------------------- digest_rows ------------- */

/* Finds the end of one field at p without copying it: *raw/*raw_len is the text between the
 * quotes (doubled quotes still doubled, *doubled of them), *is_null for \N. Returns the position
 * after the separator, NULL if the buffer ends first, or NULL with *error set (malformed). */
static const char *scan_field(const char *p, const char *end, const char **raw, size_t *raw_len,
                              size_t *doubled, int *is_null, int *end_of_row, int *error) {
    if (p >= end) return NULL;
    if (*p == '\\') {
        if (end - p < 3) return NULL;
        if (p[1] != 'N' || (p[2] != ',' && p[2] != '\n')) goto malformed;
        *is_null = 1;
        *end_of_row = p[2] == '\n';
        return p + 3;
    }
    if (*p != '"') goto malformed;
    const char *start = p + 1, *q = start;
    size_t pairs = 0;
    for (;;) {
        q = memchr(q, '"', (size_t)(end - q));
        if (!q || q + 1 >= end) return NULL;
        if (q[1] == '"') {
            pairs++;
            q += 2;
            continue;
        }
        if (q[1] != ',' && q[1] != '\n') goto malformed;
        break;
    }
    *raw = start;
    *raw_len = (size_t)(q - start);
    *doubled = pairs;
    *is_null = 0;
    *end_of_row = q[1] == '\n';
    return q + 2;
malformed:
    *error = 1;
    return NULL;
}

/* Hashes a quoted field's value as its netstring, undoubling quotes on the way. */
static void hash_raw_field(sha256_ctx *h, const char *raw, size_t raw_len, size_t doubled) {
    char prefix[24];
    sha256_update(h, (const unsigned char *)prefix, netstring_prefix(prefix, (Py_ssize_t)(raw_len - doubled)));
    const char *end = raw + raw_len, *q;
    while (doubled && (q = memchr(raw, '"', (size_t)(end - raw))) != NULL) {
        sha256_update(h, (const unsigned char *)raw, (size_t)(q - raw) + 1); /* keep one quote */
        raw = q + 2;
        doubled--;
    }
    sha256_update(h, (const unsigned char *)raw, (size_t)(end - raw));
}

static PyObject *undoubled(const char *raw, size_t raw_len, size_t doubled) {
    PyObject *bytes = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(raw_len - doubled));
    if (!bytes) return NULL;
    char *w = PyBytes_AS_STRING(bytes);
    for (const char *r = raw; r < raw + raw_len; r++) {
        *w++ = *r;
        if (*r == '"') r++;
    }
    return bytes;
}

static PyObject *hex_digest(const uint32_t state[8]) {
    static const char hex[] = "0123456789abcdef";
    char text[64];
    for (int k = 0; k < 8; k++) {
        for (int b = 0; b < 4; b++) {
            unsigned char byte = (unsigned char)(state[k] >> (24 - 8 * b));
            text[8 * k + 2 * b] = hex[byte >> 4];
            text[8 * k + 2 * b + 1] = hex[byte & 15];
        }
    }
    return PyUnicode_FromStringAndSize(text, 64);
}

/* The digest of the complete rows in buffer[start:] read straight from the CSV text, without a
 * Python object per value: verify and the purge's archive walk read files this way. The first
 * `skip` rows (a file's header) are passed over. With key_position >= 0 it also returns each
 * row's value at that position and its SHA-256 in hex.
 * Returns (consumed, skipped, count, x1, x2, s1_high, s1_low, keys, hexes). */
static PyObject *digest_rows(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer view;
    Py_ssize_t start, skip, key_position;
    int final;
    if (!PyArg_ParseTuple(args, "y*npnn", &view, &start, &final, &key_position, &skip)) return NULL;
    const char *base = view.buf, *end = base + view.len, *p = base + start, *row_start = p;
    PyObject *keys = PyList_New(0), *hexes = PyList_New(0), *key = NULL;
    lanes_sum sum = {0, 0, 0, 0};
    Py_ssize_t count = 0, skipped = 0;
    if (!keys || !hexes) goto error;
    while (p < end) {
        sha256_ctx h;
        sha256_init(&h);
        Py_ssize_t column = 0;
        int end_of_row = 0, complete = 0;
        const char *q = p;
        while (!end_of_row) {
            const char *raw = NULL;
            size_t raw_len = 0, doubled = 0;
            int is_null = 0, error = 0;
            const char *next = scan_field(q, end, &raw, &raw_len, &doubled, &is_null, &end_of_row, &error);
            if (error) {
                PyErr_Format(PyExc_ValueError, "malformed CSV near byte %zd", (Py_ssize_t)(q - base));
                goto error;
            }
            if (!next) break;
            if (skipped < skip) {
                q = next;
                continue;
            }
            if (is_null) {
                sha256_update(&h, (const unsigned char *)"-1:", 3);
            } else {
                hash_raw_field(&h, raw, raw_len, doubled);
            }
            if (column == key_position && key_position >= 0) {
                Py_CLEAR(key);
                if (is_null) {
                    Py_INCREF(Py_None);
                    key = Py_None;
                } else {
                    key = undoubled(raw, raw_len, doubled);
                    if (!key) goto error;
                }
            }
            column++;
            q = next;
        }
        if (!end_of_row) break; /* incomplete row: keep it for the next call */
        complete = 1;
        p = row_start = q;
        if (skipped < skip) {
            skipped++;
            continue;
        }
        uint64_t a, b;
        sha256_lanes(&h, &a, &b);
        sum.x1 ^= a;
        sum.x2 ^= b;
        uint64_t before = sum.s1_low;
        sum.s1_low += a;
        sum.s1_high += sum.s1_low < before;
        count++;
        if (key_position >= 0 && complete) {
            PyObject *hex = hex_digest(h.state);
            if (!hex) goto error;
            if (!key) {
                Py_INCREF(Py_None);
                key = Py_None;
            }
            int failed = PyList_Append(keys, key) || PyList_Append(hexes, hex);
            Py_DECREF(hex);
            Py_CLEAR(key);
            if (failed) goto error;
        }
    }
    Py_CLEAR(key);
    if (final && row_start < end) {
        PyErr_Format(PyExc_ValueError, "malformed CSV near byte %zd", (Py_ssize_t)(row_start - base));
        goto error;
    }
    PyBuffer_Release(&view);
    return Py_BuildValue("(nnnKKKKNN)", (Py_ssize_t)(row_start - base), skipped, count,
                         (unsigned long long)sum.x1, (unsigned long long)sum.x2,
                         (unsigned long long)sum.s1_high, (unsigned long long)sum.s1_low, keys, hexes);
error:
    Py_XDECREF(key);
    Py_XDECREF(keys);
    Py_XDECREF(hexes);
    PyBuffer_Release(&view);
    return NULL;
}

/* ---------------------------------------------------------------- row_hex_digests --------- */

static PyObject *row_hex_digests(PyObject *self, PyObject *arg) {
    (void)self;
    static const char hex[] = "0123456789abcdef";
    PyObject *rows = PySequence_Fast(arg, "rows must be a sequence");
    if (!rows) return NULL;
    Py_ssize_t count = PySequence_Fast_GET_SIZE(rows);
    PyObject *out = PyList_New(count);
    if (!out) goto error;
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *seq = PySequence_Fast(PySequence_Fast_GET_ITEM(rows, i), "each row must be a sequence");
        if (!seq) goto error;
        sha256_ctx h;
        sha256_init(&h);
        Py_ssize_t width = PySequence_Fast_GET_SIZE(seq);
        for (Py_ssize_t j = 0; j < width; j++) {
            PyObject *v = PySequence_Fast_GET_ITEM(seq, j);
            if (v != Py_None && !PyBytes_Check(v)) {
                Py_DECREF(seq);
                PyErr_SetString(PyExc_TypeError, "values must be bytes or None");
                goto error;
            }
            int is_null = v == Py_None;
            hash_field(&h, is_null ? NULL : PyBytes_AS_STRING(v), is_null ? 0 : PyBytes_GET_SIZE(v), is_null);
        }
        Py_DECREF(seq);
        uint64_t lanes[2];
        sha256_lanes(&h, &lanes[0], &lanes[1]);
        char text[64];
        for (int k = 0; k < 8; k++) { /* state words 0..7, big-endian */
            uint32_t word = h.state[k];
            for (int b = 0; b < 4; b++) {
                unsigned char byte = (unsigned char)(word >> (24 - 8 * b));
                text[8 * k + 2 * b] = hex[byte >> 4];
                text[8 * k + 2 * b + 1] = hex[byte & 15];
            }
        }
        PyObject *s = PyUnicode_FromStringAndSize(text, 64);
        if (!s) goto error;
        PyList_SET_ITEM(out, i, s);
    }
    Py_DECREF(rows);
    return out;
error:
    Py_XDECREF(out);
    Py_DECREF(rows);
    return NULL;
}

/* ---------------------------------------------------------------- fold_hex_lanes ---------- */

static int hex_u64(const char *p, uint64_t *out) {
    uint64_t v = 0;
    for (int i = 0; i < 16; i++) {
        char c = p[i];
        int d = c >= '0' && c <= '9' ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0) return -1;
        v = (v << 4) | (uint64_t)d;
    }
    *out = v;
    return 0;
}

/* The digest lanes of rows whose first value is a row's SHA-256 in hex (as SHA2() returns it):
 * what verify reads from the database, folded without a Python int per row. */
static PyObject *fold_hex_lanes(PyObject *self, PyObject *arg) {
    (void)self;
    PyObject *rows = PySequence_Fast(arg, "rows must be a sequence");
    if (!rows) return NULL;
    Py_ssize_t count = PySequence_Fast_GET_SIZE(rows);
    lanes_sum sum = {0, 0, 0, 0};
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *row = PySequence_Fast_GET_ITEM(rows, i);
        PyObject *h = PySequence_Check(row) && PySequence_Size(row) > 0 ? PySequence_GetItem(row, 0) : NULL;
        uint64_t a, b;
        int bad = !h || !PyBytes_Check(h) || PyBytes_GET_SIZE(h) < 32 ||
                  hex_u64(PyBytes_AS_STRING(h), &a) || hex_u64(PyBytes_AS_STRING(h) + 16, &b);
        Py_XDECREF(h);
        if (bad) {
            PyErr_Clear();
            PyErr_SetString(PyExc_ValueError, "each row must start with a hex SHA-256 as bytes");
            Py_DECREF(rows);
            return NULL;
        }
        sum.x1 ^= a;
        sum.x2 ^= b;
        uint64_t before = sum.s1_low;
        sum.s1_low += a;
        sum.s1_high += sum.s1_low < before;
    }
    Py_DECREF(rows);
    return Py_BuildValue("(nKKKK)", count, (unsigned long long)sum.x1, (unsigned long long)sum.x2,
                         (unsigned long long)sum.s1_high, (unsigned long long)sum.s1_low);
}

/* ---------------------------------------------------------------- sha256_backend ---------- */

static PyObject *sha256_backend(PyObject *self, PyObject *args) {
    (void)self;
    const char *name = NULL;
    if (!PyArg_ParseTuple(args, "|s", &name)) return NULL;
    if (name && strcmp(name, "portable") == 0) {
        sha256_blocks = sha256_blocks_portable;
    } else if (name && strcmp(name, "sha-ni") == 0) {
#ifdef DBA_SHA_NI
        if (!cpu_has_sha_ni()) {
            PyErr_SetString(PyExc_ValueError, "this CPU has no SHA extensions");
            return NULL;
        }
        sha256_blocks = sha256_blocks_shani;
#else
        PyErr_SetString(PyExc_ValueError, "built without the SHA extensions");
        return NULL;
#endif
    } else if (name) {
        PyErr_Format(PyExc_ValueError, "unknown SHA-256 backend %s", name);
        return NULL;
    }
    return PyUnicode_FromString(sha256_blocks == sha256_blocks_portable ? "portable" : "sha-ni");
}

static PyMethodDef methods[] = {
    {"encode_rows", encode_rows, METH_O,
     "encode_rows(rows) -> (csv, count, x1, x2, s1_high, s1_low): CSV lines and row digest lanes."},
    {"parse_rows", parse_rows, METH_VARARGS,
     "parse_rows(buffer, start, final) -> (rows, consumed): the complete rows from start on."},
    {"row_hex_digests", row_hex_digests, METH_O,
     "row_hex_digests(rows) -> [hex SHA-256 of each row's netstring encoding]."},
    {"digest_rows", digest_rows, METH_VARARGS,
     "digest_rows(buffer, start, final, key_position, skip) -> (consumed, skipped, count, x1, x2, "
     "s1_high, s1_low, keys, hexes): row digests straight from CSV text."},
    {"fold_hex_lanes", fold_hex_lanes, METH_O,
     "fold_hex_lanes(rows) -> (count, x1, x2, s1_high, s1_low) of rows starting with a hex SHA-256."},
    {"sha256_backend", sha256_backend, METH_VARARGS,
     "sha256_backend([name]) -> the SHA-256 block function in use ('sha-ni' or 'portable'); "
     "with a name, switch to it first (for tests)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_speedups",
                                    "The export hot path of dbarchive, in C.", -1, methods};

PyMODINIT_FUNC PyInit__speedups(void) {
#ifdef DBA_SHA_NI
    if (cpu_has_sha_ni()) sha256_blocks = sha256_blocks_shani;
#endif
    return PyModule_Create(&module);
}
