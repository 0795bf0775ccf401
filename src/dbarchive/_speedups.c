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
 * SHA-256 and the field writer live in _csvcore.h (shared with _mysqlread): FIPS 180-4 in plain C
 * and with the x86 SHA extensions when the CPU has them (chosen at import); the tests check both
 * against hashlib.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#include "_csvcore.h"

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

/* Finds the end of one field at p without copying it: *raw and *raw_len give the text between the
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

/* One complete row seen by scan_rows: its hash and where its key value lies in the buffer. */
typedef struct {
    uint32_t state[8];
    const char *key_raw; /* NULL: the key is SQL NULL (or the row is narrower than the key) */
    size_t key_len, key_doubled;
} scanned_row;

typedef struct {
    const char *row_start; /* where the first incomplete row begins (consumed up to here) */
    Py_ssize_t count, skipped;
    lanes_sum sum;
    scanned_row *rows; /* with key_position >= 0: one entry per counted row */
    Py_ssize_t cap;
    const char *error_at; /* malformed text here, or NULL */
    int no_memory;
} scan_state;

/* Hashes every complete row of [p, end) (after skipping `skip` rows); runs without the GIL. */
static void scan_rows(const char *p, const char *end, Py_ssize_t key_position, Py_ssize_t skip,
                      scan_state *st) {
    st->row_start = p;
    while (p < end) {
        sha256_ctx h;
        sha256_init(&h);
        Py_ssize_t column = 0;
        int end_of_row = 0;
        const char *q = p, *key_raw = NULL;
        size_t key_len = 0, key_doubled = 0;
        while (!end_of_row) {
            const char *raw = NULL;
            size_t raw_len = 0, doubled = 0;
            int is_null = 0, error = 0;
            const char *next = scan_field(q, end, &raw, &raw_len, &doubled, &is_null, &end_of_row, &error);
            if (error) {
                st->error_at = q;
                return;
            }
            if (!next) break;
            if (st->skipped < skip) {
                q = next;
                continue;
            }
            if (is_null) {
                sha256_update(&h, (const unsigned char *)"-1:", 3);
            } else {
                hash_raw_field(&h, raw, raw_len, doubled);
            }
            if (column == key_position && !is_null) {
                key_raw = raw;
                key_len = raw_len;
                key_doubled = doubled;
            }
            column++;
            q = next;
        }
        if (!end_of_row) return; /* incomplete row: keep it for the next call */
        p = st->row_start = q;
        if (st->skipped < skip) {
            st->skipped++;
            continue;
        }
        uint64_t a, b;
        sha256_lanes(&h, &a, &b);
        lanes_add(&st->sum, a, b);
        if (key_position >= 0) {
            if (st->count == st->cap) {
                Py_ssize_t cap = st->cap ? st->cap * 2 : 4096;
                scanned_row *rows = realloc(st->rows, sizeof(scanned_row) * (size_t)cap);
                if (!rows) {
                    st->no_memory = 1;
                    return;
                }
                st->rows = rows;
                st->cap = cap;
            }
            scanned_row *r = &st->rows[st->count];
            memcpy(r->state, h.state, sizeof(r->state));
            r->key_raw = key_raw;
            r->key_len = key_len;
            r->key_doubled = key_doubled;
        }
        st->count++;
    }
}

/* The (keys, hex digests) lists of the scanned rows; needs the GIL. */
static int scanned_lists(const scan_state *st, PyObject *keys, PyObject *hexes) {
    for (Py_ssize_t i = 0; i < st->count; i++) {
        const scanned_row *r = &st->rows[i];
        PyObject *key = r->key_raw ? undoubled(r->key_raw, r->key_len, r->key_doubled)
                                   : Py_NewRef(Py_None);
        PyObject *hex = key ? hex_digest(r->state) : NULL;
        int failed = !hex || PyList_Append(keys, key) || PyList_Append(hexes, hex);
        Py_XDECREF(key);
        Py_XDECREF(hex);
        if (failed) return -1;
    }
    return 0;
}

/* The digest of the complete rows in buffer[start:] read straight from the CSV text, without a
 * Python object per value: verify and the purge's archive walk read files this way. The rows are
 * scanned and hashed with the GIL released (the purge reads the archive on a thread of its own
 * while it waits for the database). The first `skip` rows (a file's header) are passed over. With
 * key_position >= 0 it also returns each row's value at that position and its SHA-256 in hex.
 * Returns (consumed, skipped, count, x1, x2, s1_high, s1_low, keys, hexes). */
static PyObject *digest_rows(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer view;
    Py_ssize_t start, skip, key_position;
    int final;
    if (!PyArg_ParseTuple(args, "y*npnn", &view, &start, &final, &key_position, &skip)) return NULL;
    const char *base = view.buf, *end = base + view.len;
    PyObject *keys = NULL, *hexes = NULL, *result = NULL;
    scan_state st;
    memset(&st, 0, sizeof(st));
    if (start < 0 || start > view.len) {
        PyErr_SetString(PyExc_ValueError, "start is outside the buffer");
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    scan_rows(base + start, end, key_position, skip, &st);
    Py_END_ALLOW_THREADS
    if (st.no_memory) {
        PyErr_NoMemory();
        goto done;
    }
    if (st.error_at || (final && st.row_start < end)) {
        const char *at = st.error_at ? st.error_at : st.row_start;
        PyErr_Format(PyExc_ValueError, "malformed CSV near byte %zd", (Py_ssize_t)(at - base));
        goto done;
    }
    keys = PyList_New(0);
    hexes = PyList_New(0);
    if (!keys || !hexes || (key_position >= 0 && scanned_lists(&st, keys, hexes))) goto done;
    result = Py_BuildValue("(nnnKKKKOO)", (Py_ssize_t)(st.row_start - base), st.skipped, st.count,
                           (unsigned long long)st.sum.x1, (unsigned long long)st.sum.x2,
                           (unsigned long long)st.sum.s1_high, (unsigned long long)st.sum.s1_low,
                           keys, hexes);
done:
    Py_XDECREF(keys);
    Py_XDECREF(hexes);
    free(st.rows);
    PyBuffer_Release(&view);
    return result;
}

/* ---------------------------------------------------------------- column_stats ------------ */

/* Whether [p, end), `rows` complete rows, may hold a value with CR or LF (more LFs than rows, or
 * a CR) or a value that is the text \N (a quoted "\N"): the answer for most chunks, with memchr
 * at memory speed. */
static void column_stats_suspects(const char *p, const char *end, Py_ssize_t rows, int *breaks,
                                  int *null_text) {
    size_t lf = 0;
    for (const char *q = p; (q = memchr(q, '\n', (size_t)(end - q))) != NULL && lf <= (size_t)rows; q++)
        lf++;
    *breaks = lf != (size_t)rows || memchr(p, '\r', (size_t)(end - p)) != NULL;
    *null_text = 0;
    for (const char *q = p; (q = memchr(q, '\\', (size_t)(end - q))) != NULL; q++) {
        if (q > p && end - q >= 3 && q[-1] == '"' && q[1] == 'N' && q[2] == '"') {
            *null_text = 1;
            break;
        }
    }
}

/* Marks the column of each `c` in [row, row_end): starts[k] is where field k begins (ncols of
 * them, in order, the first at row). Returns whether it found one. */
static int mark_columns_of(char c, const char *row, const char *row_end, const char **starts,
                           Py_ssize_t ncols, char *flags) {
    Py_ssize_t col = 0;
    int found = 0;
    for (const char *q = row; (q = memchr(q, c, (size_t)(row_end - q))) != NULL; q++) {
        while (col + 1 < ncols && starts[col + 1] <= q) col++;
        flags[col] = 1;
        found = 1;
    }
    return found;
}

/* The parity of the number of quotes in [p, end), 8 bytes at a time: in each word, the bytes
 * equal to '"' get their top bit set (exactly those: no carries between bytes), and the XOR of
 * those words has an odd number of set bits exactly when the count is odd. */
static unsigned quote_parity(const char *p, const char *end) {
    const uint64_t quotes = 0x2222222222222222ULL, low7 = 0x7F7F7F7F7F7F7F7FULL;
    uint64_t acc = 0;
    unsigned parity = 0;
    for (; end - p >= 8; p += 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        uint64_t x = w ^ quotes;
        acc ^= ~(((x & low7) + low7) | x | low7); /* 0x80 where a byte of x is 0 */
    }
    for (; p < end; p++) parity ^= *p == '"';
    return (parity ^ (unsigned)__builtin_popcountll(acc)) & 1;
}

/* Where the row starting at p ends (after its LF), if no value of it holds CR or LF; else NULL.
 * The row's first LF ends it unless it lies inside a value: then an opening quote before it is
 * unmatched, so the row holds an odd number of quotes before it (values in quotes, a quote inside
 * doubled). `any_cr`: the buffer holds a CR somewhere. */
static const char *plain_row_end(const char *p, const char *end, int any_cr) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    if (!nl) return NULL;
    if (quote_parity(p, nl) || (any_cr && memchr(p, '\r', (size_t)(nl - p)))) return NULL;
    return nl + 1;
}

/* Marks, per column of the complete rows in [p, end), a value holding CR or LF (breaks) and a
 * value that is the text \N (null_text), looking only for what `look_*` asks. When only line
 * breaks are looked for, a row without one after a row without one is passed over whole
 * (plain_row_end); another row is read field by field, and each CR or LF before its end (inside a
 * value: the dialect quotes every value and escapes nothing) marks the column whose field holds
 * it. Returns NULL when done, else where the text is malformed (or a row has not ncols fields).
 * `starts` has room for ncols field starts. */
static const char *scan_column_stats(const char *p, const char *end, Py_ssize_t ncols,
                                     int look_breaks, int look_null_text, const char **starts,
                                     char *breaks, char *null_text) {
    int any_cr = memchr(p, '\r', (size_t)(end - p)) != NULL, last_plain = 1;
    while (p < end) {
        const char *row = p, *next;
        /* tried after a plain row only: where most rows hold a line break, it would cost twice */
        if (!look_null_text && last_plain && (next = plain_row_end(p, end, any_cr)) != NULL) {
            p = next;
            continue;
        }
        int end_of_row = 0;
        Py_ssize_t col = 0;
        for (; !end_of_row; col++, p = next) {
            const char *raw = NULL;
            size_t raw_len = 0, doubled = 0;
            int is_null = 0, error = 0;
            next = scan_field(p, end, &raw, &raw_len, &doubled, &is_null, &end_of_row, &error);
            if (!next || col >= ncols) return row;
            starts[col] = p;
            if (look_null_text && !is_null && raw_len == 2 && raw[0] == '\\' && raw[1] == 'N')
                null_text[col] = 1;
        }
        if (col != ncols) return row;
        if (look_breaks) {
            int lf = mark_columns_of('\n', row, p - 1, starts, ncols, breaks);
            int cr = mark_columns_of('\r', row, p - 1, starts, ncols, breaks);
            last_plain = !(lf || cr);
        }
    }
    return NULL;
}

/* column_stats(buffer, ncols, rows) -> (breaks, null_text): two bytes objects of ncols flags (0
 * or 1) over the `rows` complete rows of buffer: 1 where a value of the column holds CR or LF /
 * is the text \N. ValueError if a row it reads field by field (one that may hold either) is not
 * whole or has another number of fields. */
static PyObject *column_stats(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer view;
    Py_ssize_t ncols, rows;
    if (!PyArg_ParseTuple(args, "y*nn", &view, &ncols, &rows)) return NULL;
    PyObject *breaks = NULL, *null_text = NULL, *result = NULL;
    if (ncols < 0) {
        PyErr_SetString(PyExc_ValueError, "ncols must not be negative");
        goto done;
    }
    breaks = PyBytes_FromStringAndSize(NULL, ncols);
    null_text = PyBytes_FromStringAndSize(NULL, ncols);
    if (!breaks || !null_text) goto done;
    char *b = PyBytes_AS_STRING(breaks), *n = PyBytes_AS_STRING(null_text);
    memset(b, 0, (size_t)ncols);
    memset(n, 0, (size_t)ncols);
    const char *base = view.buf, *bad = NULL;
    const char **starts = PyMem_Malloc(sizeof(const char *) * (size_t)(ncols ? ncols : 1));
    if (!starts) {
        PyErr_NoMemory();
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    int look_breaks, look_null_text;
    column_stats_suspects(base, base + view.len, rows, &look_breaks, &look_null_text);
    if (look_breaks || look_null_text)
        bad = scan_column_stats(base, base + view.len, ncols, look_breaks, look_null_text, starts,
                                b, n);
    Py_END_ALLOW_THREADS
    PyMem_Free(starts);
    if (bad) {
        PyErr_Format(PyExc_ValueError, "malformed CSV near byte %zd", (Py_ssize_t)(bad - base));
        goto done;
    }
    result = PyTuple_Pack(2, breaks, null_text);
done:
    Py_XDECREF(breaks);
    Py_XDECREF(null_text);
    PyBuffer_Release(&view);
    return result;
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
        lanes_add(&sum, a, b);
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
    {"column_stats", column_stats, METH_VARARGS,
     "column_stats(buffer, ncols, rows) -> (breaks, null_text): per column, 1 if a value of the rows "
     "holds CR or LF / is the text \\N."},
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
    csvcore_init();
    return PyModule_Create(&module);
}
