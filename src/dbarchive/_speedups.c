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
 * The SHA-256 below is a plain implementation of FIPS 180-4, checked against hashlib by the tests.
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

static void sha256_compress(uint32_t state[8], const unsigned char *p) {
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
        uint32_t t1 = h + (ROTR(e, 6) ^ ROTR(e, 11) ^ ROTR(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
        uint32_t t2 = (ROTR(a, 2) ^ ROTR(a, 13) ^ ROTR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        h = g; g = f; f = e; e = d + t1;
        d = c; c = b; b = a; a = t1 + t2;
    }
    state[0] += a; state[1] += b; state[2] += c; state[3] += d;
    state[4] += e; state[5] += f; state[6] += g; state[7] += h;
}

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
        sha256_compress(ctx->state, ctx->block);
        ctx->used = 0;
    }
    while (n >= 64) {
        sha256_compress(ctx->state, data);
        data += 64;
        n -= 64;
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
        sha256_compress(ctx->state, ctx->block);
        ctx->used = 0;
    }
    memset(ctx->block + ctx->used, 0, 56 - ctx->used);
    for (int i = 0; i < 8; i++) ctx->block[56 + i] = (unsigned char)(bits >> (56 - 8 * i));
    sha256_compress(ctx->state, ctx->block);
    *lane1 = ((uint64_t)ctx->state[0] << 32) | ctx->state[1];
    *lane2 = ((uint64_t)ctx->state[2] << 32) | ctx->state[3];
}

/* ---------------------------------------------------------------- growable output buffer -- */

typedef struct {
    char *data;
    size_t len, cap;
} buffer;

static int buf_reserve(buffer *b, size_t extra) {
    if (b->len + extra <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 1 << 16;
    while (cap < b->len + extra) cap *= 2;
    char *data = PyMem_Realloc(b->data, cap);
    if (!data) {
        PyErr_NoMemory();
        return -1;
    }
    b->data = data;
    b->cap = cap;
    return 0;
}

/* Appends one CSV field: \N for NULL, else the value quoted with inner quotes doubled. */
static int put_field(buffer *out, const char *v, Py_ssize_t n, int is_null) {
    if (is_null) {
        if (buf_reserve(out, 2)) return -1;
        out->data[out->len++] = '\\';
        out->data[out->len++] = 'N';
        return 0;
    }
    if (buf_reserve(out, (size_t)n * 2 + 2)) return -1;
    char *w = out->data + out->len;
    *w++ = '"';
    const char *q;
    while (n > 0 && (q = memchr(v, '"', (size_t)n)) != NULL) {
        size_t run = (size_t)(q - v) + 1;
        memcpy(w, v, run);
        w += run;
        *w++ = '"';
        v += run;
        n -= (Py_ssize_t)run;
    }
    memcpy(w, v, (size_t)n);
    w += n;
    *w++ = '"';
    out->len = (size_t)(w - out->data);
    return 0;
}

/* Feeds one netstring field to the row hash: "-1:" for NULL, "<len>:<bytes>" otherwise. */
static void hash_field(sha256_ctx *h, const char *v, Py_ssize_t n, int is_null) {
    if (is_null) {
        sha256_update(h, (const unsigned char *)"-1:", 3);
        return;
    }
    char digits[24];
    int k = snprintf(digits, sizeof(digits), "%zd:", n);
    sha256_update(h, (const unsigned char *)digits, (size_t)k);
    sha256_update(h, (const unsigned char *)v, (size_t)n);
}

/* ---------------------------------------------------------------- encode_rows ------------- */

static int encode_row(PyObject *row, buffer *out, uint64_t *a, uint64_t *b) {
    PyObject *seq = PySequence_Fast(row, "each row must be a sequence");
    if (!seq) return -1;
    Py_ssize_t width = PySequence_Fast_GET_SIZE(seq);
    PyObject **items = PySequence_Fast_ITEMS(seq);
    sha256_ctx h;
    sha256_init(&h);
    for (Py_ssize_t i = 0; i < width; i++) {
        PyObject *v = items[i];
        int is_null = v == Py_None;
        char *data = NULL;
        Py_ssize_t n = 0;
        if (!is_null) {
            if (!PyBytes_Check(v)) {
                PyErr_SetString(PyExc_TypeError, "values must be bytes or None");
                Py_DECREF(seq);
                return -1;
            }
            data = PyBytes_AS_STRING(v);
            n = PyBytes_GET_SIZE(v);
        }
        if (i > 0) {
            if (buf_reserve(out, 1)) goto fail;
            out->data[out->len++] = ',';
        }
        if (put_field(out, data, n, is_null)) goto fail;
        hash_field(&h, data, n, is_null);
    }
    if (buf_reserve(out, 1)) goto fail;
    out->data[out->len++] = '\n';
    sha256_lanes(&h, a, b);
    Py_DECREF(seq);
    return 0;
fail:
    Py_DECREF(seq);
    return -1;
}

static PyObject *encode_rows(PyObject *self, PyObject *arg) {
    (void)self;
    PyObject *rows = PySequence_Fast(arg, "rows must be a sequence");
    if (!rows) return NULL;
    Py_ssize_t count = PySequence_Fast_GET_SIZE(rows);
    PyObject **items = PySequence_Fast_ITEMS(rows);
    buffer out = {NULL, 0, 0};
    uint64_t x1 = 0, x2 = 0, s1_low = 0, s1_high = 0;
    for (Py_ssize_t i = 0; i < count; i++) {
        uint64_t a, b;
        if (encode_row(items[i], &out, &a, &b)) {
            PyMem_Free(out.data);
            Py_DECREF(rows);
            return NULL;
        }
        x1 ^= a;
        x2 ^= b;
        uint64_t before = s1_low;
        s1_low += a;
        s1_high += s1_low < before; /* carry */
    }
    Py_DECREF(rows);
    PyObject *csv = PyBytes_FromStringAndSize(out.data ? out.data : "", (Py_ssize_t)out.len);
    PyMem_Free(out.data);
    if (!csv) return NULL;
    return Py_BuildValue("(NnKKKK)", csv, count, (unsigned long long)x1, (unsigned long long)x2,
                         (unsigned long long)s1_high, (unsigned long long)s1_low);
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

static PyMethodDef methods[] = {
    {"encode_rows", encode_rows, METH_O,
     "encode_rows(rows) -> (csv, count, x1, x2, s1_high, s1_low): CSV lines and row digest lanes."},
    {"parse_rows", parse_rows, METH_VARARGS,
     "parse_rows(buffer, start, final) -> (rows, consumed): the complete rows from start on."},
    {"row_hex_digests", row_hex_digests, METH_O,
     "row_hex_digests(rows) -> [hex SHA-256 of each row's netstring encoding]."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_speedups",
                                    "The export hot path of dbarchive, in C.", -1, methods};

PyMODINIT_FUNC PyInit__speedups(void) { return PyModule_Create(&module); }
