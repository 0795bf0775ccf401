/*
 * dbarchive._mysqlread: read one keyset chunk from MySQL straight into archive CSV, in C.
 *
 * The export's cost per row was the driver making a Python bytes object of every value and a tuple
 * of every row, only for the encoder to take them apart again. Reader.chunk() instead sends one
 * statement on its own connection (libmariadb / libmysqlclient), streams the result
 * (mysql_use_result: one row in client memory at a time, not the whole result), and writes each
 * row's CSV line and row hash from the protocol's buffers directly, with the GIL released for the
 * whole statement. The text is byte for byte what formats/csv.py's encode_rows writes for the same
 * values (the same _csvcore.h code), which the tests check against the Python path.
 *
 * Reader(host, user, password, database, port, unix_socket, connect_timeout, ssl_ca, init_command,
 *        ssl_mode, ssl_cert, ssl_key)
 *   ssl_mode: MySQL's names (DISABLED … VERIFY_IDENTITY), applied as described at set_tls();
 *   from REQUIRED up, a session that did not negotiate TLS is closed and refused (error 2026).
 *   cleartext: allow the mysql_clear_password plugin (RDS IAM tokens; MySQL's library refuses it
 *   unless asked, MariaDB's loads it from its plugin folder when the server asks for it).
 * auth_plugin_available(name) -> bool: whether the client library can load that authentication
 *   plugin (RDS IAM needs mysql_clear_password).
 * client_info() -> str: the client library's version; STATIC_CLIENT: 1 when the library is linked
 *   into this module (the wheels, built by `make dist`), 0 when it is the system's shared library.
 * Reader.chunk(sql, width, keep, guard=-1) -> (csv, count, x1, x2, s1_high, s1_low, first, last,
 *                                               flag)
 *   csv: the lines of the first `width` columns of every row; count and the digest lanes as
 *   encode_rows returns them; first/last: the values at the positions `keep` of the first and the
 *   last row (None when the chunk is empty) — what keyset paging and the manifest need.
 *   guard: a column that must be NULL in every row (sources/charsets.py: text that does not
 *   convert to UTF-8 sets it). The first row where it is not stops the read: flag is its value,
 *   last holds that row's kept values, and the row is not in csv/count. Otherwise flag is None.
 * Errors are _mysqlread.Error(errno, message), like the driver's.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <mysql.h>
#include <stdint.h>
#include <string.h>

#include "_csvcore.h"

static PyObject *ReadError;

/* From mysql/client_plugin.h, which some distributions ship unusable (Debian's libmariadb-dev
 * includes a header it does not install): the same declaration in both client libraries. */
struct st_mysql_client_plugin;
struct st_mysql_client_plugin *mysql_client_find_plugin(MYSQL *mysql, const char *name, int type);
#define AUTHENTICATION_PLUGIN 2 /* MYSQL_CLIENT_AUTHENTICATION_PLUGIN */

#ifdef DBARCHIVE_STATIC_CLIENT
/* A client library linked into the module (the wheels) loads no plugin from the host. The plugin
 * folder compiled into it is the build machine's (Debian's), which on another host is absent or
 * holds plugins built for another copy of the library: what the wheel can do would then depend on
 * the host. It logs in with what it holds (mysql_native_password); a server asking for another
 * method (caching_sha2_password, ed25519, RDS IAM's clear password) is refused here with
 * CR_AUTH_PLUGIN_CANNOT_LOAD, and sources/mysql_direct.py reads through the driver instead, saying
 * so. A path under /dev/null can never be a folder. */
#define STATIC_CLIENT 1
static void limit_plugins(MYSQL *conn) {
    mysql_options(conn, MYSQL_PLUGIN_DIR, "/dev/null/dbarchive-wheel-loads-no-client-plugins");
}
#else
#define STATIC_CLIENT 0
static void limit_plugins(MYSQL *conn) { (void)conn; }
#endif

typedef struct {
    PyObject_HEAD
    MYSQL *conn;
    int busy; /* a chunk runs without the GIL: refuse a second caller meanwhile */
} Reader;

/* ------------------------------------------------------------------ growable buffer -------- */

typedef struct {
    char *data;
    size_t len, cap;
} buffer;

static int buf_reserve(buffer *b, size_t extra) {
    if (b->len + extra <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : (size_t)1 << 20;
    while (cap < b->len + extra) cap *= 2;
    char *data = realloc(b->data, cap);
    if (!data) return -1;
    b->data = data;
    b->cap = cap;
    return 0;
}

/* The kept values of one row, copied out of the protocol buffer (valid only until the next fetch). */
typedef struct {
    buffer bytes;
    unsigned long *lengths; /* (unsigned long)-1 for NULL */
} kept_row;

static int keep_row(kept_row *k, MYSQL_ROW row, const unsigned long *lengths, const Py_ssize_t *keep,
                    Py_ssize_t nkeep) {
    k->bytes.len = 0;
    for (Py_ssize_t i = 0; i < nkeep; i++) {
        Py_ssize_t p = keep[i];
        if (!row[p]) {
            k->lengths[i] = (unsigned long)-1;
            continue;
        }
        if (buf_reserve(&k->bytes, lengths[p])) return -1;
        memcpy(k->bytes.data + k->bytes.len, row[p], lengths[p]);
        k->bytes.len += lengths[p];
        k->lengths[i] = lengths[p];
    }
    return 0;
}

static PyObject *kept_tuple(const kept_row *k, Py_ssize_t nkeep) {
    PyObject *t = PyTuple_New(nkeep);
    if (!t) return NULL;
    size_t at = 0;
    for (Py_ssize_t i = 0; i < nkeep; i++) {
        PyObject *v;
        if (k->lengths[i] == (unsigned long)-1) {
            v = Py_NewRef(Py_None);
        } else {
            v = PyBytes_FromStringAndSize(k->bytes.data + at, (Py_ssize_t)k->lengths[i]);
            at += k->lengths[i];
            if (!v) {
                Py_DECREF(t);
                return NULL;
            }
        }
        PyTuple_SET_ITEM(t, i, v);
    }
    return t;
}

/* ------------------------------------------------------------------ one chunk -------------- */

typedef struct {
    buffer csv;
    lanes_sum sum;
    Py_ssize_t count;
    kept_row first, last;
    unsigned int err;      /* mysql_errno, or 0 */
    char message[512];     /* mysql_error */
    int no_memory;
    int too_narrow;        /* the result has fewer columns than width or keep ask for */
    int flagged;           /* a row had a non-NULL guard value: reading stopped there */
    char flag[32];         /* that value (a small number) and its length */
    size_t flag_len;
} chunk_state;

static void set_mysql_error(chunk_state *st, MYSQL *conn) {
    st->err = mysql_errno(conn);
    snprintf(st->message, sizeof(st->message), "%s", mysql_error(conn));
}

/* Appends one row's CSV line and folds its hash in. */
static int encode_row(chunk_state *st, MYSQL_ROW row, const unsigned long *lengths, Py_ssize_t width) {
    size_t need = 1;
    for (Py_ssize_t j = 0; j < width; j++) need += row[j] ? 2 * (size_t)lengths[j] + 3 : 3;
    if (buf_reserve(&st->csv, need)) return -1;
    char *w = st->csv.data + st->csv.len;
    sha256_ctx h;
    sha256_init(&h);
    for (Py_ssize_t j = 0; j < width; j++) {
        field f = {row[j], row[j] ? (Py_ssize_t)lengths[j] : -1};
        if (j > 0) *w++ = ',';
        w = put_field(w, &f);
        hash_field(&h, f.data, f.len, f.len < 0);
    }
    *w++ = '\n';
    st->csv.len = (size_t)(w - st->csv.data);
    uint64_t a, b;
    sha256_lanes(&h, &a, &b);
    lanes_add(&st->sum, a, b);
    st->count++;
    return 0;
}

/* Records the row whose guard value is set: its kept values (in st->last) and that value. */
static int flag_row(chunk_state *st, MYSQL_ROW row, const unsigned long *lengths, Py_ssize_t guard,
                    const Py_ssize_t *keep, Py_ssize_t nkeep) {
    st->flagged = 1;
    st->flag_len = lengths[guard] < sizeof(st->flag) ? lengths[guard] : sizeof(st->flag);
    memcpy(st->flag, row[guard], st->flag_len);
    return keep_row(&st->last, row, lengths, keep, nkeep);
}

/* Runs the statement and encodes its rows; called without the GIL. */
static void run_chunk(MYSQL *conn, const char *sql, size_t sql_len, Py_ssize_t width,
                      const Py_ssize_t *keep, Py_ssize_t nkeep, Py_ssize_t guard,
                      chunk_state *st) {
    if (mysql_real_query(conn, sql, (unsigned long)sql_len)) {
        set_mysql_error(st, conn);
        return;
    }
    MYSQL_RES *res = mysql_use_result(conn);
    if (!res) {
        if (mysql_errno(conn)) set_mysql_error(st, conn);
        return; /* a statement without a result: no rows */
    }
    Py_ssize_t fields = (Py_ssize_t)mysql_num_fields(res);
    for (Py_ssize_t i = 0; i < nkeep; i++) st->too_narrow |= keep[i] >= fields;
    st->too_narrow |= width > fields || guard >= fields;
    MYSQL_ROW row;
    while (!st->too_narrow && (row = mysql_fetch_row(res)) != NULL) {
        unsigned long *lengths = mysql_fetch_lengths(res);
        if (guard >= 0 && row[guard]) {
            if (flag_row(st, row, lengths, guard, keep, nkeep)) st->no_memory = 1;
            break;
        }
        if (encode_row(st, row, lengths, width) ||
            (st->count == 1 && keep_row(&st->first, row, lengths, keep, nkeep)) ||
            keep_row(&st->last, row, lengths, keep, nkeep)) {
            st->no_memory = 1;
            break;
        }
    }
    if (!st->no_memory && !st->too_narrow && !st->flagged && mysql_errno(conn)) {
        set_mysql_error(st, conn);
    }
    /* Frees the result; after an early stop it also reads and drops the rows still in flight, so
     * the connection stays usable for the next statement. */
    mysql_free_result(res);
}

static PyObject *chunk_result(chunk_state *st, Py_ssize_t nkeep) {
    PyObject *csv = NULL, *first = NULL, *last = NULL, *flag = NULL, *result = NULL;
    csv = PyBytes_FromStringAndSize(st->csv.data ? st->csv.data : "", (Py_ssize_t)st->csv.len);
    if (!csv) goto done;
    first = st->count ? kept_tuple(&st->first, nkeep) : Py_NewRef(Py_None);
    last = st->count || st->flagged ? kept_tuple(&st->last, nkeep) : Py_NewRef(Py_None);
    flag = st->flagged ? PyBytes_FromStringAndSize(st->flag, (Py_ssize_t)st->flag_len)
                       : Py_NewRef(Py_None);
    if (!first || !last || !flag) goto done;
    result = Py_BuildValue("(OnKKKKOOO)", csv, st->count, (unsigned long long)st->sum.x1,
                           (unsigned long long)st->sum.x2, (unsigned long long)st->sum.s1_high,
                           (unsigned long long)st->sum.s1_low, first, last, flag);
done:
    Py_XDECREF(csv);
    Py_XDECREF(first);
    Py_XDECREF(last);
    Py_XDECREF(flag);
    return result;
}

static int parse_keep(PyObject *keep_obj, Py_ssize_t **keep, Py_ssize_t *nkeep) {
    PyObject *seq = PySequence_Fast(keep_obj, "keep must be a sequence of column positions");
    if (!seq) return -1;
    *nkeep = PySequence_Fast_GET_SIZE(seq);
    *keep = PyMem_Malloc(sizeof(Py_ssize_t) * (size_t)(*nkeep ? *nkeep : 1));
    if (!*keep) {
        Py_DECREF(seq);
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < *nkeep; i++) {
        (*keep)[i] = PyLong_AsSsize_t(PySequence_Fast_GET_ITEM(seq, i));
        if ((*keep)[i] < 0) {
            Py_DECREF(seq);
            if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "positions must be >= 0");
            return -1;
        }
    }
    Py_DECREF(seq);
    return 0;
}

static PyObject *Reader_chunk(Reader *self, PyObject *args) {
    Py_buffer sql;
    Py_ssize_t width, guard = -1;
    PyObject *keep_obj;
    if (!PyArg_ParseTuple(args, "y*nO|n", &sql, &width, &keep_obj, &guard)) return NULL;
    Py_ssize_t *keep = NULL, nkeep = 0;
    PyObject *result = NULL;
    chunk_state st;
    memset(&st, 0, sizeof(st));
    if (!self->conn || self->busy) {
        PyErr_SetString(PyExc_RuntimeError, self->conn ? "the reader is busy" : "the reader is closed");
        goto done;
    }
    if (width < 0 || parse_keep(keep_obj, &keep, &nkeep)) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "width must be >= 0");
        goto done;
    }
    st.first.lengths = PyMem_Malloc(sizeof(unsigned long) * (size_t)(nkeep ? nkeep : 1));
    st.last.lengths = PyMem_Malloc(sizeof(unsigned long) * (size_t)(nkeep ? nkeep : 1));
    if (!st.first.lengths || !st.last.lengths) {
        PyErr_NoMemory();
        goto done;
    }
    self->busy = 1;
    Py_BEGIN_ALLOW_THREADS
    run_chunk(self->conn, sql.buf, (size_t)sql.len, width, keep, nkeep, guard, &st);
    Py_END_ALLOW_THREADS
    self->busy = 0;
    if (st.no_memory) {
        PyErr_NoMemory();
    } else if (st.too_narrow) {
        PyErr_SetString(PyExc_ValueError, "the statement returns fewer columns than width/keep ask for");
    } else if (st.err) {
        PyObject *exc_args = Py_BuildValue("(Is)", st.err, st.message);
        if (exc_args) {
            PyErr_SetObject(ReadError, exc_args);
            Py_DECREF(exc_args);
        }
    } else {
        result = chunk_result(&st, nkeep);
    }
done:
    free(st.csv.data);
    free(st.first.bytes.data);
    free(st.last.bytes.data);
    PyMem_Free(st.first.lengths);
    PyMem_Free(st.last.lengths);
    PyMem_Free(keep);
    PyBuffer_Release(&sql);
    return result;
}

/* ------------------------------------------------------------------ TLS ------------------ */

/* ssl_mode by MySQL's names. MySQL's client library implements them itself (MYSQL_OPT_SSL_MODE).
 * MariaDB's (Connector/C) has two switches instead: MYSQL_OPT_SSL_ENFORCE asks for TLS (and 3.3
 * still goes on in plain text when the server offers none), MYSQL_OPT_SSL_VERIFY_SERVER_CERT
 * checks the certificate's chain *and* host name, and refuses a server without TLS before the
 * login; whenever a CA is set, the chain is checked anyway. So, on MariaDB's library:
 *   DISABLED         neither switch
 *   PREFERRED        ENFORCE
 *   REQUIRED         ENFORCE, then refuse the session unless it is encrypted
 *   VERIFY_CA        ENFORCE + the CA (chain checked), then the same refusal
 *   VERIFY_IDENTITY  ENFORCE + the CA + VERIFY_SERVER_CERT, then the same refusal
 * Every mysql_options() result is checked: an option the library refuses is an error, never a
 * silently weaker connection. */
enum { TLS_DISABLED, TLS_PREFERRED, TLS_REQUIRED, TLS_VERIFY_CA, TLS_VERIFY_IDENTITY, TLS_MODES };
static const char *const tls_mode_names[TLS_MODES] = {"DISABLED", "PREFERRED", "REQUIRED",
                                                      "VERIFY_CA", "VERIFY_IDENTITY"};

#if defined(MARIADB_BASE_VERSION) || defined(MARIADB_VERSION_ID)
#define TLS_NATIVE_SSL_MODE 0
#else
#define TLS_NATIVE_SSL_MODE 1 /* MySQL 5.7.11+ / 8.x: enum mysql_ssl_mode, SSL_MODE_DISABLED = 1 */
#endif

static int tls_level(const char *mode) {
    if (!mode) return TLS_PREFERRED;
    for (int i = 0; i < TLS_MODES; i++)
        if (strcmp(mode, tls_mode_names[i]) == 0) return i;
    return -1;
}

/* Non-zero when the library refused an option. */
static int set_tls(MYSQL *conn, int level, const char *ca, const char *cert, const char *key) {
    int failed = 0;
    if (ca) failed |= mysql_options(conn, MYSQL_OPT_SSL_CA, ca);
    if (cert) failed |= mysql_options(conn, MYSQL_OPT_SSL_CERT, cert);
    if (key) failed |= mysql_options(conn, MYSQL_OPT_SSL_KEY, key);
#if TLS_NATIVE_SSL_MODE
    unsigned int mode = (unsigned int)level + 1;
    failed |= mysql_options(conn, MYSQL_OPT_SSL_MODE, &mode);
#else
    my_bool enforce = level >= TLS_PREFERRED, verify = level == TLS_VERIFY_IDENTITY;
    failed |= mysql_options(conn, MYSQL_OPT_SSL_ENFORCE, &enforce);
    failed |= mysql_options(conn, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &verify);
#endif
    return failed;
}

/* ------------------------------------------------------------------ connection ------------- */

static void raise_read_error(unsigned int code, const char *message) {
    PyObject *exc_args = Py_BuildValue("(Is)", code, message);
    if (exc_args) {
        PyErr_SetObject(ReadError, exc_args);
        Py_DECREF(exc_args);
    }
}

static int Reader_init(Reader *self, PyObject *args, PyObject *kwargs) {
    static char *names[] = {"host",         "user",     "password", "database",
                            "port",         "unix_socket", "connect_timeout", "ssl_ca",
                            "init_command", "ssl_mode", "ssl_cert", "ssl_key",
                            "cleartext",    NULL};
    const char *host = NULL, *user = NULL, *password = NULL, *database = NULL;
    const char *unix_socket = NULL, *ssl_ca = NULL, *init_command = NULL;
    const char *ssl_mode = NULL, *ssl_cert = NULL, *ssl_key = NULL;
    unsigned int port = 0, connect_timeout = 10;
    int cleartext = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|zzzzIzIzzzzzp", names, &host, &user,
                                     &password, &database, &port, &unix_socket, &connect_timeout,
                                     &ssl_ca, &init_command, &ssl_mode, &ssl_cert, &ssl_key,
                                     &cleartext)) {
        return -1;
    }
    if (self->conn) {
        PyErr_SetString(PyExc_RuntimeError, "the reader is already connected");
        return -1;
    }
    int level = tls_level(ssl_mode);
    if (level < 0) {
        PyErr_Format(PyExc_ValueError, "unknown ssl_mode %s", ssl_mode);
        return -1;
    }
    MYSQL *conn = mysql_init(NULL);
    if (!conn) {
        PyErr_NoMemory();
        return -1;
    }
    unsigned int no = 0;
    limit_plugins(conn);
    mysql_options(conn, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    mysql_options(conn, MYSQL_OPT_CONNECT_TIMEOUT, &connect_timeout);
    mysql_options(conn, MYSQL_OPT_LOCAL_INFILE, &no); /* this session never loads files */
    if (init_command) mysql_options(conn, MYSQL_INIT_COMMAND, init_command);
#if TLS_NATIVE_SSL_MODE
    if (cleartext) {
        bool yes = 1;
        mysql_options(conn, MYSQL_ENABLE_CLEARTEXT_PLUGIN, &yes);
    }
#else
    (void)cleartext; /* MariaDB's library allows it: the plugin is loaded when asked for */
#endif
    if (set_tls(conn, level, ssl_ca, ssl_cert, ssl_key)) {
        mysql_close(conn);
        raise_read_error(2026, "the MySQL client library refused the TLS options");
        return -1;
    }
    MYSQL *ok;
    Py_BEGIN_ALLOW_THREADS
    ok = mysql_real_connect(conn, host, user, password, database, port, unix_socket, 0);
    Py_END_ALLOW_THREADS
    if (!ok || mysql_autocommit(conn, 1)) {
        raise_read_error(mysql_errno(conn), mysql_error(conn));
        mysql_close(conn);
        return -1;
    }
    if (level >= TLS_REQUIRED && !mysql_get_ssl_cipher(conn)) {
        char message[160];
        snprintf(message, sizeof message,
                 "the session is not encrypted: the server offered no TLS (ssl_mode %s)",
                 tls_mode_names[level]);
        mysql_close(conn);
        raise_read_error(2026, message);
        return -1;
    }
    self->conn = conn;
    return 0;
}

static PyObject *Reader_ssl_cipher(Reader *self, PyObject *unused) {
    (void)unused;
    const char *cipher = self->conn ? mysql_get_ssl_cipher(self->conn) : NULL;
    if (!cipher) Py_RETURN_NONE;
    return PyUnicode_FromString(cipher);
}

static PyObject *Reader_close(Reader *self, PyObject *unused) {
    (void)unused;
    if (self->busy) {
        PyErr_SetString(PyExc_RuntimeError, "the reader is busy");
        return NULL;
    }
    if (self->conn) {
        mysql_close(self->conn);
        self->conn = NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *Reader_thread_id(Reader *self, PyObject *unused) {
    (void)unused;
    if (!self->conn) Py_RETURN_NONE;
    return PyLong_FromUnsignedLong(mysql_thread_id(self->conn));
}

static void Reader_dealloc(Reader *self) {
    if (self->conn && !self->busy) mysql_close(self->conn);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef Reader_methods[] = {
    {"chunk", (PyCFunction)Reader_chunk, METH_VARARGS,
     "chunk(sql, width, keep, guard=-1) -> (csv, count, x1, x2, s1_high, s1_low, first, last, "
     "flag)"},
    {"close", (PyCFunction)Reader_close, METH_NOARGS, "Close the connection (idempotent)."},
    {"thread_id", (PyCFunction)Reader_thread_id, METH_NOARGS,
     "The server's id of this connection (for KILL and for tests)."},
    {"ssl_cipher", (PyCFunction)Reader_ssl_cipher, METH_NOARGS,
     "The TLS cipher of this connection as the client library negotiated it, or None."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject ReaderType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "dbarchive._mysqlread.Reader",
    .tp_basicsize = sizeof(Reader),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A MySQL connection that reads keyset chunks straight into archive CSV.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Reader_init,
    .tp_dealloc = (destructor)Reader_dealloc,
    .tp_methods = Reader_methods,
};

static PyObject *auth_plugin_available(PyObject *unused, PyObject *arg) {
    (void)unused;
    const char *name = PyUnicode_AsUTF8(arg);
    if (!name) return NULL;
    MYSQL *conn = mysql_init(NULL);
    if (!conn) return PyErr_NoMemory();
    limit_plugins(conn);
    struct st_mysql_client_plugin *plugin;
    Py_BEGIN_ALLOW_THREADS
    plugin = mysql_client_find_plugin(conn, name, AUTHENTICATION_PLUGIN);
    Py_END_ALLOW_THREADS
    mysql_close(conn);
    return PyBool_FromLong(plugin != NULL);
}

static PyObject *client_info(PyObject *unused, PyObject *noargs) {
    (void)unused;
    (void)noargs;
    return PyUnicode_FromString(mysql_get_client_info());
}

static PyMethodDef module_methods[] = {
    {"auth_plugin_available", auth_plugin_available, METH_O,
     "auth_plugin_available(name) -> bool: whether the client library can load that plugin."},
    {"client_info", client_info, METH_NOARGS, "client_info() -> str: the client library's version."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_mysqlread",
                                    "Keyset chunks from MySQL straight into archive CSV, in C.", -1,
                                    module_methods};

PyMODINIT_FUNC PyInit__mysqlread(void) {
    csvcore_init();
    if (mysql_library_init(0, NULL, NULL)) {
        PyErr_SetString(PyExc_ImportError, "the MySQL client library did not initialise");
        return NULL;
    }
    if (PyType_Ready(&ReaderType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (!m) return NULL;
    ReadError = PyErr_NewException("dbarchive._mysqlread.Error", PyExc_Exception, NULL);
    if (!ReadError || PyModule_AddObjectRef(m, "Error", ReadError) < 0 ||
        PyModule_AddObjectRef(m, "Reader", (PyObject *)&ReaderType) < 0 ||
        PyModule_AddIntConstant(m, "STATIC_CLIENT", STATIC_CLIENT) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
