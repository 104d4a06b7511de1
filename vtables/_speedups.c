/*
 * sqlmed's optional C speedups.
 *
 * 1. A SQLite virtual-table module that serves foreign tables from the same
 *    Python objects as the APSW module (vtables/module.py: Module, Table,
 *    BatchCursor), but walks rows in C: the Python cursor hands over a batch
 *    of rows at a time and xNext/xEof/xColumn read it without taking the GIL.
 *    Planning, filtering, writes and transactions call the Python objects.
 * 2. A parser for chunks of plain delimited lines (file_fdw's batch reader)
 *    that cuts the wanted columns out and converts them into a batch.
 *
 * The shared library is both a CPython extension module and a SQLite
 * loadable extension: loading it once into any APSW connection hands it
 * SQLite's API table (SQLITE_EXTENSION_INIT2), after which a module can be
 * registered on any connection of the process by its sqlite3 pointer.
 *
 * Errors: a Python exception raised by a callback stays set when control
 * returns to SQLite, which is how APSW reports its own callbacks' errors: the
 * statement's execute raises that very exception.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>
#include <sqlite3ext.h>

/* Our own copy of SQLite's API table, not the exported global that
   SQLITE_EXTENSION_INIT1 defines: another extension, loaded with RTLD_GLOBAL
   into another SQLite library of the process, must not take it over. */
static const sqlite3_api_routines *sqlite3_api = 0;

#ifdef _WIN32
#define EXPORT __declspec(dllexport)
#else
#define EXPORT __attribute__((visibility("default")))
#endif

EXPORT int sqlite3_sqlmedspeedups_init(sqlite3 *db, char **err, const sqlite3_api_routines *api)
{
    (void)db;
    (void)err;
    /* sqlite3_vtab_in, sqlite3_vtab_rhs_value and sqlite3_vtab_in_first are 3.38's */
    if (api->libversion_number() < 3038000) {
        if (err)
            *err = api->mprintf("sqlmed's speedups need SQLite 3.38 or later");
        return SQLITE_ERROR;
    }
    SQLITE_EXTENSION_INIT2(api);
    return SQLITE_OK;
}

/* ------------------------------------------------------------------ batches */

enum { T_NULL = 0, T_INT, T_REAL, T_TEXT, T_BLOB, T_OBJ };

/* natives masks: which Python types pass through unchanged for a column */
enum { N_INT = 1, N_FLOAT = 2, N_STR = 4, N_BYTES = 8, N_ALL = 16 };

typedef union {
    sqlite3_int64 i;
    double d;
    struct {
        const char *p;
        Py_ssize_t n;
    } s;
    PyObject *o; /* borrowed: owned by the batch's `keep` */
} Cell;

typedef struct {
    PyObject_HEAD
    Py_ssize_t nrows, ncols;
    unsigned char *tag; /* column-major: tag[c * nrows + r] */
    Cell *val;
    PyObject *keep; /* what keeps text and objects alive: the chunk or the rows */
} Batch;

static PyTypeObject BatchType;

static Batch *batch_new(Py_ssize_t nrows, Py_ssize_t ncols, PyObject *keep)
{
    Batch *b = PyObject_New(Batch, &BatchType);
    if (!b)
        return NULL;
    b->nrows = nrows;
    b->ncols = ncols;
    b->tag = NULL;
    b->val = NULL;
    Py_XINCREF(keep);
    b->keep = keep;
    size_t cells = (size_t)nrows * (size_t)ncols;
    if (cells) {
        b->tag = PyMem_Calloc(cells, 1);
        b->val = PyMem_Calloc(cells, sizeof(Cell));
        if (!b->tag || !b->val) {
            Py_DECREF(b);
            PyErr_NoMemory();
            return NULL;
        }
    }
    return b;
}

static void batch_dealloc(Batch *b)
{
    PyMem_Free(b->tag);
    PyMem_Free(b->val);
    Py_XDECREF(b->keep);
    PyObject_Free(b);
}

static PyObject *cell_object(Batch *b, Py_ssize_t c, Py_ssize_t r)
{
    Py_ssize_t at = c * b->nrows + r;
    Cell *v = &b->val[at];
    switch (b->tag[at]) {
    case T_INT:
        return PyLong_FromLongLong(v->i);
    case T_REAL:
        return PyFloat_FromDouble(v->d);
    case T_TEXT:
        return PyUnicode_DecodeUTF8(v->s.p, v->s.n, "strict");
    case T_BLOB:
        return PyBytes_FromStringAndSize(v->s.p, v->s.n);
    case T_OBJ:
        Py_INCREF(v->o);
        return v->o;
    default:
        Py_RETURN_NONE;
    }
}

static Py_ssize_t batch_len(Batch *b) { return b->nrows; }

/* A row as a tuple: for Python callers (iteration, rowids). */
static PyObject *batch_item(Batch *b, Py_ssize_t r)
{
    if (r < 0 || r >= b->nrows) {
        PyErr_SetString(PyExc_IndexError, "batch row out of range");
        return NULL;
    }
    PyObject *t = PyTuple_New(b->ncols);
    if (!t)
        return NULL;
    for (Py_ssize_t c = 0; c < b->ncols; c++) {
        PyObject *o = cell_object(b, c, r);
        if (!o) {
            Py_DECREF(t);
            return NULL;
        }
        PyTuple_SET_ITEM(t, c, o);
    }
    return t;
}

static PyObject *batch_width(Batch *b, void *unused)
{
    (void)unused;
    return PyLong_FromSsize_t(b->ncols);
}

static PyGetSetDef batch_getset[] = {
    {"width", (getter)batch_width, NULL, "the number of columns", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PySequenceMethods batch_as_sequence = {
    .sq_length = (lenfunc)batch_len,
    .sq_item = (ssizeargfunc)batch_item,
};

static PyTypeObject BatchType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "vtables._speedups.Batch",
    .tp_basicsize = sizeof(Batch),
    .tp_dealloc = (destructor)batch_dealloc,
    .tp_as_sequence = &batch_as_sequence,
    .tp_getset = batch_getset,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Rows held in C, column by column; a sequence of tuples to Python.",
};

/* Store a Python value in a cell; values that are not of the column's native
   types (masks) become T_OBJ, resolved by Python when SQLite reads them. */
static void store(Batch *b, Py_ssize_t at, PyObject *o, int mask)
{
    Cell *v = &b->val[at];
    if (o == Py_None) {
        b->tag[at] = T_NULL;
        return;
    }
    if (PyLong_CheckExact(o) && (mask & (N_INT | N_ALL))) {
        int overflow = 0;
        long long x = PyLong_AsLongLongAndOverflow(o, &overflow);
        if (!overflow && !(x == -1 && PyErr_Occurred())) {
            v->i = x;
            b->tag[at] = T_INT;
            return;
        }
        PyErr_Clear();
    } else if (PyFloat_CheckExact(o) && (mask & (N_FLOAT | N_ALL))) {
        v->d = PyFloat_AS_DOUBLE(o);
        b->tag[at] = T_REAL;
        return;
    } else if (PyUnicode_CheckExact(o) && (mask & (N_STR | N_ALL))) {
        Py_ssize_t n;
        const char *p = PyUnicode_AsUTF8AndSize(o, &n);
        if (p) {
            v->s.p = p;
            v->s.n = n;
            b->tag[at] = T_TEXT;
            return;
        }
        PyErr_Clear();
    } else if (PyBytes_CheckExact(o) && (mask & (N_BYTES | N_ALL))) {
        v->s.p = PyBytes_AS_STRING(o);
        v->s.n = PyBytes_GET_SIZE(o);
        b->tag[at] = T_BLOB;
        return;
    }
    v->o = o;
    b->tag[at] = T_OBJ;
}

/* rows_batch(rows: list of tuples, masks: tuple of int) -> Batch */
static PyObject *rows_batch(PyObject *self, PyObject *args)
{
    PyObject *rows, *masks;
    (void)self;
    if (!PyArg_ParseTuple(args, "O!O!", &PyList_Type, &rows, &PyTuple_Type, &masks))
        return NULL;
    Py_ssize_t nrows = PyList_GET_SIZE(rows), ncols = PyTuple_GET_SIZE(masks);
    int *cmask = PyMem_Malloc(sizeof(int) * (ncols ? ncols : 1));
    if (!cmask)
        return PyErr_NoMemory();
    for (Py_ssize_t c = 0; c < ncols; c++)
        cmask[c] = (int)PyLong_AsLong(PyTuple_GET_ITEM(masks, c));
    /* a list of our own: the caller may reuse its list once the batch is made */
    PyObject *own = PyErr_Occurred() ? NULL : PyList_GetSlice(rows, 0, nrows);
    Batch *b = own ? batch_new(nrows, ncols, own) : NULL;
    Py_XDECREF(own);
    if (!b) {
        PyMem_Free(cmask);
        return NULL;
    }
    for (Py_ssize_t r = 0; r < nrows; r++) {
        PyObject *row = PyList_GET_ITEM(b->keep, r);
        if (!PyTuple_CheckExact(row) || PyTuple_GET_SIZE(row) != ncols) {
            Py_DECREF(b);
            PyMem_Free(cmask);
            PyErr_SetString(PyExc_TypeError, "rows must be tuples of the batch's width");
            return NULL;
        }
        for (Py_ssize_t c = 0; c < ncols; c++)
            store(b, c * nrows + r, PyTuple_GET_ITEM(row, c), cmask[c]);
    }
    PyMem_Free(cmask);
    return (PyObject *)b;
}

/* ------------------------------------------------------------- the parser */

enum { K_TEXT = 0, K_INTEGER, K_REAL, K_NUMERIC, K_BOOLEAN, K_DATE };

static int is_digit(char ch) { return ch >= '0' && ch <= '9'; }

/* [+-]?[0-9]+ into an int64; 0 when not exactly that or out of range */
static int parse_int(const char *p, Py_ssize_t n, sqlite3_int64 *out)
{
    Py_ssize_t i = 0;
    int neg = 0;
    if (n && (p[0] == '+' || p[0] == '-')) {
        neg = p[0] == '-';
        i = 1;
    }
    if (i == n)
        return 0;
    unsigned long long x = 0;
    const unsigned long long limit = neg ? 9223372036854775808ULL : 9223372036854775807ULL;
    for (; i < n; i++) {
        if (!is_digit(p[i]))
            return 0;
        unsigned d = (unsigned)(p[i] - '0');
        if (x > (limit - d) / 10)
            return 0;
        x = x * 10 + d;
    }
    if (neg)
        *out = x == 9223372036854775808ULL ? (sqlite3_int64)(-9223372036854775807LL - 1)
                                           : -(sqlite3_int64)x;
    else
        *out = (sqlite3_int64)x;
    return 1;
}

/* [+-]? (digits [. digits?] | . digits) ([eE] [+-]? digits)?  read as Python's
   float() reads it; 0 when the text is not exactly that. *integral_text is set
   when the text is [+-]?digits. */
static int parse_real(const char *p, Py_ssize_t n, double *out, int *integral_text)
{
    char buf[128];
    Py_ssize_t i = 0, digits = 0;
    int plain = 1;
    if (n <= 0 || n >= (Py_ssize_t)sizeof buf)
        return 0;
    if (p[0] == '+' || p[0] == '-')
        i = 1;
    while (i < n && is_digit(p[i]))
        i++, digits++;
    if (i < n && p[i] == '.') {
        plain = 0;
        i++;
        while (i < n && is_digit(p[i]))
            i++, digits++;
    }
    if (!digits)
        return 0;
    if (i < n && (p[i] == 'e' || p[i] == 'E')) {
        plain = 0;
        i++;
        if (i < n && (p[i] == '+' || p[i] == '-'))
            i++;
        Py_ssize_t e = 0;
        while (i < n && is_digit(p[i]))
            i++, e++;
        if (!e)
            return 0;
    }
    if (i != n)
        return 0;
    memcpy(buf, p, n);
    buf[n] = 0;
    char *end = NULL;
    double d = PyOS_string_to_double(buf, &end, NULL);
    if (d == -1.0 && PyErr_Occurred()) {
        PyErr_Clear();
        return 0;
    }
    if (end != buf + n)
        return 0;
    *out = d;
    *integral_text = plain;
    return 1;
}

static int word_is(const char *p, Py_ssize_t n, const char *w)
{
    /* w lower case; p must equal w, its upper case or it capitalised */
    Py_ssize_t len = (Py_ssize_t)strlen(w);
    if (n != len)
        return 0;
    int lower = 1, upper = 1, cap = 1;
    for (Py_ssize_t i = 0; i < n; i++) {
        char ch = p[i], lw = w[i], up = (char)(lw >= 'a' && lw <= 'z' ? lw - 32 : lw);
        if (ch != lw)
            lower = 0;
        if (ch != up)
            upper = 0;
        if (ch != (i == 0 ? up : lw))
            cap = 0;
    }
    return lower || upper || cap;
}

static int parse_bool(const char *p, Py_ssize_t n, sqlite3_int64 *out)
{
    static const char *yes[] = {"t", "true", "y", "yes", "on", "1", NULL};
    static const char *no[] = {"f", "false", "n", "no", "off", "0", NULL};
    for (int i = 0; yes[i]; i++)
        if (word_is(p, n, yes[i])) {
            *out = 1;
            return 1;
        }
    for (int i = 0; no[i]; i++)
        if (word_is(p, n, no[i])) {
            *out = 0;
            return 1;
        }
    return 0;
}

/* YYYY-MM-DD, a real date of years 1..9999: its ISO text is itself */
static int valid_date(const char *p, Py_ssize_t n)
{
    if (n != 10 || p[4] != '-' || p[7] != '-')
        return 0;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && !is_digit(p[i]))
            return 0;
    int y = (p[0] - '0') * 1000 + (p[1] - '0') * 100 + (p[2] - '0') * 10 + (p[3] - '0');
    int m = (p[5] - '0') * 10 + (p[6] - '0');
    int d = (p[8] - '0') * 10 + (p[9] - '0');
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1 || m < 1 || m > 12 || d < 1)
        return 0;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return d <= days[m - 1] + (m == 2 && leap);
}

/* Convert one field into a cell; 0 when the Python readers must decide. */
static int convert_field(Batch *b, Py_ssize_t at, const char *p, Py_ssize_t n, int kind)
{
    Cell *v = &b->val[at];
    int integral_text;
    double d;
    switch (kind) {
    case K_TEXT:
        v->s.p = p;
        v->s.n = n;
        b->tag[at] = T_TEXT;
        return 1;
    case K_INTEGER:
        if (!parse_int(p, n, &v->i))
            return 0;
        b->tag[at] = T_INT;
        return 1;
    case K_REAL:
        if (!parse_real(p, n, &v->d, &integral_text))
            return 0;
        b->tag[at] = T_REAL;
        return 1;
    case K_NUMERIC:
        /* SQLite's NUMERIC affinity as types._numeric applies it */
        if (!parse_real(p, n, &d, &integral_text))
            return 0;
        if (isfinite(d) && d == floor(d)) {
            if (integral_text) {
                if (parse_int(p, n, &v->i)) {
                    b->tag[at] = T_INT;
                    return 1;
                }
            } else if (fabs(d) < 9223372036854775808.0) {
                v->i = (sqlite3_int64)d;
                b->tag[at] = T_INT;
                return 1;
            }
        }
        v->d = d;
        b->tag[at] = T_REAL;
        return 1;
    case K_BOOLEAN:
        if (!parse_bool(p, n, &v->i))
            return 0;
        b->tag[at] = T_INT;
        return 1;
    case K_DATE:
        if (!valid_date(p, n))
            return 0;
        v->s.p = p;
        v->s.n = n;
        b->tag[at] = T_TEXT;
        return 1;
    }
    return 0;
}

static int cmp_i64(const void *a, const void *b)
{
    sqlite3_int64 x = *(const sqlite3_int64 *)a, y = *(const sqlite3_int64 *)b;
    return (x > y) - (x < y);
}

/*
 * parse_chunk(text, delimiter, ncols, wanted, kinds, null, force_not_null,
 *             keeps, special) -> Batch | None
 *
 * The rows of a chunk of whole lines, as file_fdw's _fast_batch reads them,
 * or None when the chunk needs the Python readers: the special character
 * (quote or backslash) anywhere, a stray carriage return, a wrong field
 * count, or a value whose conversion is not the plain case.  keeps is a
 * tuple of (k, tuple of ints): rows whose column k is not one of the ints
 * are dropped, their other columns never converted.
 */
static PyObject *parse_chunk(PyObject *self, PyObject *args)
{
    PyObject *text, *wanted, *kinds, *nullobj, *fnn, *keeps;
    const char *delim_s, *special_s;
    Py_ssize_t delim_n, special_n, ncols;
    (void)self;
    if (!PyArg_ParseTuple(args, "Us#nO!O!OO!O!s#", &text, &delim_s, &delim_n, &ncols,
                          &PyTuple_Type, &wanted, &PyTuple_Type, &kinds, &nullobj,
                          &PyTuple_Type, &fnn, &PyTuple_Type, &keeps, &special_s, &special_n))
        return NULL;
    if (delim_n != 1 || special_n < 1 || ncols < 1)
        Py_RETURN_NONE;
    const char delim = delim_s[0];
    Py_ssize_t len;
    const char *buf = PyUnicode_AsUTF8AndSize(text, &len);
    if (!buf) { /* lone surrogates: the Python readers decide */
        PyErr_Clear();
        Py_RETURN_NONE;
    }
    const char *null = NULL;
    Py_ssize_t null_n = 0;
    if (nullobj != Py_None) {
        null = PyUnicode_AsUTF8AndSize(nullobj, &null_n);
        if (!null) {
            PyErr_Clear();
            Py_RETURN_NONE;
        }
    }
    if (ncols > len + 1) /* more fields than a chunk this long can hold */
        Py_RETURN_NONE;
    if (special_n == 1 ? memchr(buf, special_s[0], len) != NULL
                       : (len >= special_n && memmem(buf, len, special_s, special_n) != NULL))
        Py_RETURN_NONE;

    Py_ssize_t nw = PyTuple_GET_SIZE(wanted);
    if (PyTuple_GET_SIZE(kinds) != nw)
        Py_RETURN_NONE;
    /* lines */
    Py_ssize_t nlines = 0;
    for (const char *q = buf, *end = buf + len; q < end;) {
        const char *nl = memchr(q, '\n', end - q);
        nlines++;
        if (!nl)
            break;
        q = nl + 1;
    }
    if (len == 0)
        nlines = 1; /* "" is one empty line, as str.split gives */

    PyObject *result = NULL;
    if (nw > ncols) /* each wanted field at most once */
        Py_RETURN_NONE;
    Py_ssize_t *col_of = PyMem_New(Py_ssize_t, ncols); /* field -> k or -1 */
    int *kind = PyMem_New(int, nw ? nw : 1);
    int *fnn_k = PyMem_New(int, nw ? nw : 1);
    /* nw <= ncols <= len + 1 and nlines <= len + 1: no overflow below */
    const char **fp = PyMem_New(const char *, (nw ? nw : 1) * nlines);
    Py_ssize_t *fl = PyMem_New(Py_ssize_t, (nw ? nw : 1) * nlines);
    unsigned char *keep = NULL;
    sqlite3_int64 *allowed = NULL;
    Batch *full = NULL;
    if (!col_of || !kind || !fnn_k || !fp || !fl) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t j = 0; j < ncols; j++)
        col_of[j] = -1;
    for (Py_ssize_t k = 0; k < nw; k++) {
        Py_ssize_t j = PyLong_AsSsize_t(PyTuple_GET_ITEM(wanted, k));
        kind[k] = (int)PyLong_AsLong(PyTuple_GET_ITEM(kinds, k));
        if (PyErr_Occurred())
            goto done;
        if (j < 0 || j >= ncols || col_of[j] != -1) {
            result = Py_None;
            Py_INCREF(result);
            goto done;
        }
        col_of[j] = k;
        int forced = j < PyTuple_GET_SIZE(fnn) ? PyObject_IsTrue(PyTuple_GET_ITEM(fnn, j)) : 0;
        if (forced < 0)
            goto done;
        fnn_k[k] = forced;
    }

    /* split: every line must have ncols fields */
    Py_ssize_t r = 0;
    for (const char *q = buf, *end = buf + len; r < nlines; r++) {
        const char *nl = memchr(q, '\n', end - q);
        const char *e = nl ? nl : end;
        if (nl && e > q && e[-1] == '\r')
            e--;
        if (memchr(q, '\r', e - q)) {
            result = Py_None;
            Py_INCREF(result);
            goto done;
        }
        Py_ssize_t j = 0;
        const char *s = q;
        for (;;) {
            const char *dpos = memchr(s, delim, e - s);
            const char *fe = dpos ? dpos : e;
            if (j < ncols && col_of[j] >= 0) {
                Py_ssize_t k = col_of[j];
                fp[k * nlines + r] = s;
                fl[k * nlines + r] = fe - s;
            }
            j++;
            if (!dpos)
                break;
            s = dpos + 1;
        }
        if (j != ncols) {
            result = Py_None;
            Py_INCREF(result);
            goto done;
        }
        q = nl ? nl + 1 : end;
    }

    /* keeps: key columns converted first, rows outside their lists dropped */
    Py_ssize_t nkeep = nlines;
    Py_ssize_t nkeys = PyTuple_GET_SIZE(keeps);
    full = batch_new(nlines, nw, text);
    if (!full)
        goto done;
    unsigned char *converted = PyMem_Calloc(nw ? nw : 1, 1);
    if (!converted) {
        PyErr_NoMemory();
        goto done;
    }
#define FIELD_NULL(k, r)                                                                         \
    (null && !fnn_k[k] && fl[(k) * nlines + (r)] == null_n &&                                    \
     memcmp(fp[(k) * nlines + (r)], null, null_n) == 0)
    if (nkeys) {
        keep = PyMem_Malloc(nlines ? nlines : 1);
        if (!keep) {
            PyMem_Free(converted);
            PyErr_NoMemory();
            goto done;
        }
        memset(keep, 1, nlines ? nlines : 1);
        for (Py_ssize_t i = 0; i < nkeys; i++) {
            PyObject *pair = PyTuple_GET_ITEM(keeps, i);
            Py_ssize_t k;
            PyObject *values;
            if (!PyArg_ParseTuple(pair, "nO!", &k, &PyTuple_Type, &values) || k < 0 || k >= nw ||
                kind[k] != K_INTEGER) {
                PyMem_Free(converted);
                if (!PyErr_Occurred()) {
                    result = Py_None;
                    Py_INCREF(result);
                }
                goto done;
            }
            Py_ssize_t nv = PyTuple_GET_SIZE(values), na = 0;
            PyMem_Free(allowed);
            allowed = PyMem_Malloc(sizeof(sqlite3_int64) * (nv ? nv : 1));
            if (!allowed) {
                PyMem_Free(converted);
                PyErr_NoMemory();
                goto done;
            }
            for (Py_ssize_t a = 0; a < nv; a++) {
                int overflow = 0;
                long long x = PyLong_AsLongLongAndOverflow(PyTuple_GET_ITEM(values, a), &overflow);
                if (x == -1 && PyErr_Occurred()) {
                    PyMem_Free(converted);
                    goto done;
                }
                if (!overflow)
                    allowed[na++] = x; /* beyond int64, no field can equal it */
            }
            qsort(allowed, na, sizeof(sqlite3_int64), cmp_i64);
            if (!converted[k]) {
                for (r = 0; r < nlines; r++) {
                    Py_ssize_t at = k * nlines + r;
                    if (FIELD_NULL(k, r))
                        full->tag[at] = T_NULL;
                    else if (!convert_field(full, at, fp[at], fl[at], K_INTEGER)) {
                        PyMem_Free(converted);
                        result = Py_None;
                        Py_INCREF(result);
                        goto done;
                    }
                }
                converted[k] = 1;
            }
            for (r = 0; r < nlines; r++) {
                Py_ssize_t at = k * nlines + r;
                if (keep[r] && (full->tag[at] != T_INT ||
                                !bsearch(&full->val[at].i, allowed, na, sizeof(sqlite3_int64),
                                         cmp_i64)))
                    keep[r] = 0;
            }
        }
        nkeep = 0;
        for (r = 0; r < nlines; r++)
            nkeep += keep[r];
    }

    /* the other columns, for the rows kept */
    for (Py_ssize_t k = 0; k < nw; k++) {
        if (converted[k])
            continue;
        for (r = 0; r < nlines; r++) {
            if (keep && !keep[r])
                continue;
            Py_ssize_t at = k * nlines + r;
            if (FIELD_NULL(k, r))
                full->tag[at] = T_NULL;
            else if (!convert_field(full, at, fp[at], fl[at], kind[k])) {
                PyMem_Free(converted);
                result = Py_None;
                Py_INCREF(result);
                goto done;
            }
        }
    }
    PyMem_Free(converted);
#undef FIELD_NULL

    if (keep && nkeep != nlines) {
        Batch *out = batch_new(nkeep, nw, text);
        if (!out)
            goto done;
        for (Py_ssize_t k = 0; k < nw; k++) {
            Py_ssize_t o = 0;
            for (r = 0; r < nlines; r++)
                if (keep[r]) {
                    out->tag[k * nkeep + o] = full->tag[k * nlines + r];
                    out->val[k * nkeep + o] = full->val[k * nlines + r];
                    o++;
                }
        }
        result = (PyObject *)out;
    } else {
        result = (PyObject *)full;
        full = NULL;
    }

done:
    Py_XDECREF(full);
    PyMem_Free(col_of);
    PyMem_Free(kind);
    PyMem_Free(fnn_k);
    PyMem_Free(fp);
    PyMem_Free(fl);
    PyMem_Free(keep);
    PyMem_Free(allowed);
    return result;
}

/* ------------------------------------------------------- the vtab module */

static int api_ready(void)
{
    if (!sqlite3_api) {
        PyErr_SetString(PyExc_RuntimeError, "the SQLite API is not loaded yet");
        return 0;
    }
    return 1;
}

typedef struct {
    PyObject *module; /* Python Module: Create/Connect */
    PyObject *error_code; /* callable(exc) -> SQLite result code */
} ModuleData;

typedef struct {
    sqlite3_vtab base;
    PyObject *table;
    ModuleData *md;
    sqlite3 *db;
} Vtab;

/* sqlite3_vtab_on_conflict() of the xUpdate under way (0 outside one): the
   Python side asks for it with on_conflict(), as APSW's vtab_on_conflict()
   answers only inside APSW's own module.  The GIL is held while it is read. */
static int current_conflict = 0;

typedef struct {
    sqlite3_vtab_cursor base;
    PyObject *cursor;
    Batch *batch;
    Py_ssize_t row;
    sqlite3_int64 served; /* rows before this batch, since Filter */
    int eof;
    int nslot;
    int *slot; /* table column -> batch column, or -1 */
    int rowid_valid;
    sqlite3_int64 rowid;
} Cursor;

/* The exception that is set, as an SQLite error on vtab; keeps it set. */
static int report(sqlite3_vtab *vt, ModuleData *md)
{
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    int code = SQLITE_ERROR;
    if (md && md->error_code && value) {
        PyObject *r = PyObject_CallOneArg(md->error_code, value);
        if (r) {
            code = (int)PyLong_AsLong(r);
            Py_DECREF(r);
        }
        if (PyErr_Occurred() || code == 0)
            PyErr_Clear(), code = SQLITE_ERROR;
    }
    if (vt && value) {
        PyObject *s = PyObject_Str(value);
        const char *msg = s ? PyUnicode_AsUTF8(s) : NULL;
        if (msg) {
            sqlite3_free(vt->zErrMsg);
            vt->zErrMsg = sqlite3_mprintf("%s", msg);
        }
        Py_XDECREF(s);
        PyErr_Clear();
    }
    PyErr_Restore(type, value, tb);
    return code;
}

/* Around every callback: an exception already pending (an earlier callback's)
   is put aside and wins over a later one. */
typedef struct {
    PyGILState_STATE gil;
    PyObject *t, *v, *tb;
} Guard;

static void enter(Guard *g)
{
    g->gil = PyGILState_Ensure();
    PyErr_Fetch(&g->t, &g->v, &g->tb);
}

static void leave(Guard *g)
{
    if (g->t) {
        if (PyErr_Occurred())
            PyErr_Clear(); /* the first error is the one reported */
        PyErr_Restore(g->t, g->v, g->tb);
    }
    PyGILState_Release(g->gil);
}

static PyObject *value_object(sqlite3_value *v)
{
    switch (sqlite3_value_type(v)) {
    case SQLITE_INTEGER:
        return PyLong_FromLongLong(sqlite3_value_int64(v));
    case SQLITE_FLOAT:
        return PyFloat_FromDouble(sqlite3_value_double(v));
    case SQLITE_TEXT:
        return PyUnicode_DecodeUTF8((const char *)sqlite3_value_text(v), sqlite3_value_bytes(v),
                                    "surrogatepass");
    case SQLITE_BLOB: {
        const void *p = sqlite3_value_blob(v);
        return PyBytes_FromStringAndSize(p ? p : "", sqlite3_value_bytes(v));
    }
    default:
        Py_RETURN_NONE;
    }
}

/* A Python value as a function result; -1 with an exception set on failure. */
static int result_object(sqlite3_context *ctx, PyObject *o)
{
    if (o == Py_None) {
        sqlite3_result_null(ctx);
    } else if (PyLong_Check(o)) {
        long long x = PyLong_AsLongLong(o);
        if (x == -1 && PyErr_Occurred())
            return -1;
        sqlite3_result_int64(ctx, x);
    } else if (PyFloat_Check(o)) {
        sqlite3_result_double(ctx, PyFloat_AS_DOUBLE(o));
    } else if (PyUnicode_Check(o)) {
        Py_ssize_t n;
        const char *p = PyUnicode_AsUTF8AndSize(o, &n);
        if (!p)
            return -1;
        sqlite3_result_text64(ctx, p, (sqlite3_uint64)n, SQLITE_TRANSIENT, SQLITE_UTF8);
    } else if (PyBytes_Check(o)) {
        sqlite3_result_blob64(ctx, PyBytes_AS_STRING(o), (sqlite3_uint64)PyBytes_GET_SIZE(o),
                              SQLITE_TRANSIENT);
    } else {
        PyErr_Format(PyExc_TypeError, "value of type %s cannot be stored in SQLite",
                     Py_TYPE(o)->tp_name);
        return -1;
    }
    return 0;
}

/* ---- IndexInfo: the sqlite3_index_info of one xBestIndex call, with the
   methods of apsw.IndexInfo that module.Table.BestIndexObject uses. */

typedef struct {
    PyObject_HEAD
    sqlite3_index_info *info;
} IndexInfo;

static PyTypeObject IndexInfoType;

#define INFO(self)                                                                               \
    sqlite3_index_info *info = ((IndexInfo *)(self))->info;                                      \
    if (!info) {                                                                                 \
        PyErr_SetString(PyExc_RuntimeError, "IndexInfo used outside BestIndex");                 \
        return NULL;                                                                             \
    }

#define CONSTRAINT(i)                                                                            \
    if ((i) < 0 || (i) >= info->nConstraint) {                                                   \
        PyErr_SetString(PyExc_IndexError, "constraint out of range");                            \
        return NULL;                                                                             \
    }

static PyObject *ii_get_op(PyObject *self, PyObject *arg)
{
    INFO(self);
    long i = PyLong_AsLong(arg);
    if (i == -1 && PyErr_Occurred())
        return NULL;
    CONSTRAINT(i);
    return PyLong_FromLong(info->aConstraint[i].op);
}

static PyObject *ii_get_usable(PyObject *self, PyObject *arg)
{
    INFO(self);
    long i = PyLong_AsLong(arg);
    if (i == -1 && PyErr_Occurred())
        return NULL;
    CONSTRAINT(i);
    return PyBool_FromLong(info->aConstraint[i].usable);
}

static PyObject *ii_get_icolumn(PyObject *self, PyObject *arg)
{
    INFO(self);
    long i = PyLong_AsLong(arg);
    if (i == -1 && PyErr_Occurred())
        return NULL;
    CONSTRAINT(i);
    return PyLong_FromLong(info->aConstraint[i].iColumn);
}

static PyObject *ii_get_in(PyObject *self, PyObject *arg)
{
    INFO(self);
    long i = PyLong_AsLong(arg);
    if (i == -1 && PyErr_Occurred())
        return NULL;
    CONSTRAINT(i);
    return PyBool_FromLong(sqlite3_vtab_in(info, i, -1));
}

static PyObject *ii_set_in(PyObject *self, PyObject *args)
{
    INFO(self);
    int i, on;
    if (!PyArg_ParseTuple(args, "ip", &i, &on))
        return NULL;
    CONSTRAINT(i);
    sqlite3_vtab_in(info, i, on);
    Py_RETURN_NONE;
}

static PyObject *ii_get_rhs(PyObject *self, PyObject *arg)
{
    INFO(self);
    long i = PyLong_AsLong(arg);
    if (i == -1 && PyErr_Occurred())
        return NULL;
    CONSTRAINT(i);
    sqlite3_value *v = NULL;
    if (sqlite3_vtab_rhs_value(info, i, &v) != SQLITE_OK || !v)
        Py_RETURN_NONE;
    return value_object(v);
}

static PyObject *ii_get_collation(PyObject *self, PyObject *arg)
{
    INFO(self);
    long i = PyLong_AsLong(arg);
    if (i == -1 && PyErr_Occurred())
        return NULL;
    CONSTRAINT(i);
    const char *name = sqlite3_vtab_collation(info, (int)i);
    return PyUnicode_FromString(name ? name : "BINARY");
}

static PyObject *ii_set_argv(PyObject *self, PyObject *args)
{
    INFO(self);
    int i, argv;
    if (!PyArg_ParseTuple(args, "ii", &i, &argv))
        return NULL;
    CONSTRAINT(i);
    info->aConstraintUsage[i].argvIndex = argv;
    Py_RETURN_NONE;
}

static PyObject *ii_set_omit(PyObject *self, PyObject *args)
{
    INFO(self);
    int i, omit;
    if (!PyArg_ParseTuple(args, "ip", &i, &omit))
        return NULL;
    CONSTRAINT(i);
    info->aConstraintUsage[i].omit = (unsigned char)omit;
    Py_RETURN_NONE;
}

static PyObject *ii_get_order_col(PyObject *self, PyObject *arg)
{
    INFO(self);
    long i = PyLong_AsLong(arg);
    if (i == -1 && PyErr_Occurred())
        return NULL;
    if (i < 0 || i >= info->nOrderBy) {
        PyErr_SetString(PyExc_IndexError, "order by out of range");
        return NULL;
    }
    return PyLong_FromLong(info->aOrderBy[i].iColumn);
}

static PyObject *ii_get_order_desc(PyObject *self, PyObject *arg)
{
    INFO(self);
    long i = PyLong_AsLong(arg);
    if (i == -1 && PyErr_Occurred())
        return NULL;
    if (i < 0 || i >= info->nOrderBy) {
        PyErr_SetString(PyExc_IndexError, "order by out of range");
        return NULL;
    }
    return PyBool_FromLong(info->aOrderBy[i].desc);
}

static PyMethodDef ii_methods[] = {
    {"get_aConstraint_op", ii_get_op, METH_O, NULL},
    {"get_aConstraint_usable", ii_get_usable, METH_O, NULL},
    {"get_aConstraint_iColumn", ii_get_icolumn, METH_O, NULL},
    {"get_aConstraintUsage_in", ii_get_in, METH_O, NULL},
    {"set_aConstraintUsage_in", ii_set_in, METH_VARARGS, NULL},
    {"get_aConstraint_rhs", ii_get_rhs, METH_O, NULL},
    {"get_aConstraint_collation", ii_get_collation, METH_O, NULL},
    {"set_aConstraintUsage_argvIndex", ii_set_argv, METH_VARARGS, NULL},
    {"set_aConstraintUsage_omit", ii_set_omit, METH_VARARGS, NULL},
    {"get_aOrderBy_iColumn", ii_get_order_col, METH_O, NULL},
    {"get_aOrderBy_desc", ii_get_order_desc, METH_O, NULL},
    {NULL, NULL, 0, NULL},
};

static PyObject *ii_nconstraint(PyObject *self, void *c)
{
    (void)c;
    INFO(self);
    return PyLong_FromLong(info->nConstraint);
}

static PyObject *ii_norderby(PyObject *self, void *c)
{
    (void)c;
    INFO(self);
    return PyLong_FromLong(info->nOrderBy);
}

static PyObject *ii_colused(PyObject *self, void *c)
{
    (void)c;
    INFO(self);
    PyObject *s = PySet_New(NULL);
    if (!s)
        return NULL;
    for (int i = 0; i < 64; i++)
        if (info->colUsed & ((sqlite3_uint64)1 << i)) {
            PyObject *n = PyLong_FromLong(i);
            if (!n || PySet_Add(s, n) < 0) {
                Py_XDECREF(n);
                Py_DECREF(s);
                return NULL;
            }
            Py_DECREF(n);
        }
    return s;
}

/* the index info behind an attribute assignment; NULL (exception set) when
   used outside its xBestIndex call or for a deletion */
static sqlite3_index_info *settable(PyObject *self, PyObject *v)
{
    sqlite3_index_info *info = ((IndexInfo *)self)->info;
    if (!info || !v) {
        PyErr_SetString(PyExc_RuntimeError,
                        v ? "IndexInfo used outside BestIndex" : "IndexInfo attributes cannot be deleted");
        return NULL;
    }
    return info;
}

static PyObject *ii_get_consumed(PyObject *self, void *c)
{
    (void)c;
    INFO(self);
    return PyBool_FromLong(info->orderByConsumed);
}

static int ii_set_consumed(PyObject *self, PyObject *v, void *c)
{
    (void)c;
    sqlite3_index_info *info = settable(self, v);
    if (!info)
        return -1;
    int on = PyObject_IsTrue(v);
    if (on < 0)
        return -1;
    info->orderByConsumed = on;
    return 0;
}

static PyObject *ii_get_rows(PyObject *self, void *c)
{
    (void)c;
    INFO(self);
    return PyLong_FromLongLong(info->estimatedRows);
}

static int ii_set_rows(PyObject *self, PyObject *v, void *c)
{
    (void)c;
    sqlite3_index_info *info = settable(self, v);
    if (!info)
        return -1;
    long long x = PyLong_AsLongLong(v);
    if (x == -1 && PyErr_Occurred())
        return -1;
    info->estimatedRows = x;
    return 0;
}

static PyObject *ii_get_cost(PyObject *self, void *c)
{
    (void)c;
    INFO(self);
    return PyFloat_FromDouble(info->estimatedCost);
}

static int ii_set_cost(PyObject *self, PyObject *v, void *c)
{
    (void)c;
    sqlite3_index_info *info = settable(self, v);
    if (!info)
        return -1;
    double x = PyFloat_AsDouble(v);
    if (x == -1.0 && PyErr_Occurred())
        return -1;
    info->estimatedCost = x;
    return 0;
}

static PyObject *ii_get_idxstr(PyObject *self, void *c)
{
    (void)c;
    INFO(self);
    if (!info->idxStr)
        Py_RETURN_NONE;
    return PyUnicode_FromString(info->idxStr);
}

static int ii_set_idxstr(PyObject *self, PyObject *v, void *c)
{
    (void)c;
    sqlite3_index_info *info = settable(self, v);
    if (!info)
        return -1;
    char *copy = NULL;
    if (v != Py_None) {
        const char *s = PyUnicode_AsUTF8(v);
        if (!s)
            return -1;
        copy = sqlite3_mprintf("%s", s);
        if (!copy) {
            PyErr_NoMemory();
            return -1;
        }
    }
    if (info->needToFreeIdxStr)
        sqlite3_free(info->idxStr);
    info->idxStr = copy;
    info->needToFreeIdxStr = copy != NULL;
    return 0;
}

static PyObject *ii_get_idxnum(PyObject *self, void *c)
{
    (void)c;
    INFO(self);
    return PyLong_FromLong(info->idxNum);
}

static int ii_set_idxnum(PyObject *self, PyObject *v, void *c)
{
    (void)c;
    sqlite3_index_info *info = settable(self, v);
    if (!info)
        return -1;
    long x = PyLong_AsLong(v);
    if (x == -1 && PyErr_Occurred())
        return -1;
    info->idxNum = (int)x;
    return 0;
}

static PyGetSetDef ii_getset[] = {
    {"nConstraint", ii_nconstraint, NULL, NULL, NULL},
    {"nOrderBy", ii_norderby, NULL, NULL, NULL},
    {"colUsed", ii_colused, NULL, NULL, NULL},
    {"orderByConsumed", ii_get_consumed, ii_set_consumed, NULL, NULL},
    {"estimatedRows", ii_get_rows, ii_set_rows, NULL, NULL},
    {"estimatedCost", ii_get_cost, ii_set_cost, NULL, NULL},
    {"idxStr", ii_get_idxstr, ii_set_idxstr, NULL, NULL},
    {"idxNum", ii_get_idxnum, ii_set_idxnum, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject IndexInfoType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "vtables._speedups.IndexInfo",
    .tp_basicsize = sizeof(IndexInfo),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_methods = ii_methods,
    .tp_getset = ii_getset,
    .tp_doc = "One xBestIndex call's sqlite3_index_info.",
};

/* ---- the module's methods */

static int vt_construct(sqlite3 *db, void *aux, int argc, const char *const *argv,
                        sqlite3_vtab **out, char **err, const char *method)
{
    ModuleData *md = aux;
    Guard g;
    int rc = SQLITE_ERROR;
    enter(&g);
    PyObject *args = PyTuple_New(argc + 1);
    PyObject *res = NULL;
    if (!args)
        goto fail;
    Py_INCREF(Py_None);
    PyTuple_SET_ITEM(args, 0, Py_None);
    for (int i = 0; i < argc; i++) {
        PyObject *s = PyUnicode_FromString(argv[i]);
        if (!s)
            goto fail;
        PyTuple_SET_ITEM(args, i + 1, s);
    }
    PyObject *fn = PyObject_GetAttrString(md->module, method);
    if (!fn)
        goto fail;
    res = PyObject_Call(fn, args, NULL);
    Py_DECREF(fn);
    if (!res)
        goto fail;
    PyObject *schema, *table;
    if (!PyArg_ParseTuple(res, "UO", &schema, &table))
        goto fail;
    const char *decl = PyUnicode_AsUTF8(schema);
    if (!decl)
        goto fail;
    rc = sqlite3_declare_vtab(db, decl);
    if (rc != SQLITE_OK) {
        *err = sqlite3_mprintf("declaring the foreign table failed: %s", sqlite3_errmsg(db));
        goto out;
    }
    Vtab *vt = sqlite3_malloc(sizeof(Vtab));
    if (!vt) {
        rc = SQLITE_NOMEM;
        goto out;
    }
    memset(vt, 0, sizeof *vt);
    Py_INCREF(table);
    vt->table = table;
    vt->md = md;
    vt->db = db;
    *out = &vt->base;
    rc = SQLITE_OK;
    goto out;
fail: {
    sqlite3_vtab tmp = {0};
    rc = report(&tmp, md);
    *err = tmp.zErrMsg;
}
out:
    Py_XDECREF(args);
    Py_XDECREF(res);
    leave(&g);
    return rc;
}

static int xCreate(sqlite3 *db, void *aux, int argc, const char *const *argv,
                   sqlite3_vtab **out, char **err)
{
    return vt_construct(db, aux, argc, argv, out, err, "Create");
}

static int xConnect(sqlite3 *db, void *aux, int argc, const char *const *argv,
                    sqlite3_vtab **out, char **err)
{
    return vt_construct(db, aux, argc, argv, out, err, "Connect");
}

/* call table.<method>(...) for its side effects; fmt as Py_BuildValue's, NULL for none */
static int call_table(sqlite3_vtab *base, const char *method, const char *fmt, ...)
{
    Vtab *vt = (Vtab *)base;
    Guard g;
    enter(&g);
    int rc = SQLITE_OK;
    PyObject *args = NULL, *res = NULL;
    if (fmt) {
        va_list va;
        va_start(va, fmt);
        args = Py_VaBuildValue(fmt, va);
        va_end(va);
    }
    if (!fmt || args) {
        PyObject *fn = PyObject_GetAttrString(vt->table, method);
        res = fn ? PyObject_CallObject(fn, args) : NULL;
        Py_XDECREF(fn);
    }
    if (!res)
        rc = report(base, vt->md);
    Py_XDECREF(res);
    Py_XDECREF(args);
    leave(&g);
    return rc;
}

static int release_table(sqlite3_vtab *base, const char *method)
{
    Vtab *vt = (Vtab *)base;
    int rc = call_table(base, method, NULL);
    if (rc == SQLITE_OK || strcmp(method, "Disconnect") == 0) {
        Guard g;
        enter(&g);
        Py_CLEAR(vt->table);
        leave(&g);
        sqlite3_free(vt->base.zErrMsg);
        sqlite3_free(vt);
        return SQLITE_OK;
    }
    return rc;
}

static int xDisconnect(sqlite3_vtab *base) { return release_table(base, "Disconnect"); }
static int xDestroy(sqlite3_vtab *base) { return release_table(base, "Destroy"); }

static int xBestIndex(sqlite3_vtab *base, sqlite3_index_info *info)
{
    Vtab *vt = (Vtab *)base;
    Guard g;
    enter(&g);
    int rc = SQLITE_OK;
    IndexInfo *ii = PyObject_New(IndexInfo, &IndexInfoType);
    PyObject *res = NULL;
    if (ii) {
        ii->info = info;
        res = PyObject_CallMethod(vt->table, "BestIndexObject", "O", (PyObject *)ii);
        ii->info = NULL;
        Py_DECREF(ii);
    }
    if (!res)
        rc = report(base, vt->md);
    else {
        int ok = PyObject_IsTrue(res);
        if (ok < 0)
            rc = report(base, vt->md);
        else if (!ok)
            rc = SQLITE_CONSTRAINT;
        Py_DECREF(res);
    }
    leave(&g);
    return rc;
}

static int xOpen(sqlite3_vtab *base, sqlite3_vtab_cursor **out)
{
    Vtab *vt = (Vtab *)base;
    Guard g;
    enter(&g);
    int rc = SQLITE_OK;
    PyObject *pc = PyObject_CallMethod(vt->table, "Open", NULL);
    if (!pc) {
        rc = report(base, vt->md);
    } else {
        Cursor *c = sqlite3_malloc(sizeof(Cursor));
        if (!c) {
            Py_DECREF(pc);
            rc = SQLITE_NOMEM;
        } else {
            memset(c, 0, sizeof *c);
            c->cursor = pc;
            c->eof = 1;
            *out = &c->base;
        }
    }
    leave(&g);
    return rc;
}

static void drop_batch(Cursor *c)
{
    Py_CLEAR(c->batch);
}

static int xClose(sqlite3_vtab_cursor *base)
{
    Cursor *c = (Cursor *)base;
    Vtab *vt = (Vtab *)base->pVtab;
    Guard g;
    enter(&g);
    int rc = SQLITE_OK;
    PyObject *res = PyObject_CallMethod(c->cursor, "Close", NULL);
    if (!res)
        rc = report(base->pVtab, vt->md);
    Py_XDECREF(res);
    drop_batch(c);
    Py_CLEAR(c->cursor);
    leave(&g);
    sqlite3_free(c->slot);
    sqlite3_free(c);
    return rc;
}

/* Next non-empty batch from the Python cursor (GIL held); 0 or -1 (error). */
static int load_batch(Cursor *c)
{
    for (;;) {
        if (c->batch)
            c->served += c->batch->nrows;
        drop_batch(c);
        c->row = 0;
        c->rowid_valid = 0;
        PyObject *b = PyObject_CallMethod(c->cursor, "Batch", NULL);
        if (!b)
            return -1;
        if (b == Py_None) {
            Py_DECREF(b);
            c->eof = 1;
            return 0;
        }
        if (!PyObject_TypeCheck(b, &BatchType)) {
            Py_DECREF(b);
            PyErr_SetString(PyExc_TypeError, "Batch() must return a vtables._speedups.Batch");
            return -1;
        }
        c->batch = (Batch *)b;
        if (c->batch->nrows > 0) {
            c->eof = 0;
            return 0;
        }
    }
}

static int xFilter(sqlite3_vtab_cursor *base, int idxnum, const char *idxstr, int argc,
                   sqlite3_value **argv)
{
    Cursor *c = (Cursor *)base;
    Vtab *vt = (Vtab *)base->pVtab;
    Guard g;
    enter(&g);
    int rc = SQLITE_OK;
    PyObject *args = PyTuple_New(argc), *res = NULL, *slots = NULL;
    if (!args)
        goto fail;
    for (int i = 0; i < argc; i++) {
        sqlite3_value *item = NULL;
        int in = sqlite3_vtab_in_first(argv[i], &item);
        PyObject *o;
        if (in == SQLITE_OK || in == SQLITE_DONE) {
            o = PyList_New(0);
            while (o && in == SQLITE_OK && item) {
                PyObject *x = value_object(item);
                if (!x || PyList_Append(o, x) < 0) {
                    Py_XDECREF(x);
                    Py_CLEAR(o);
                    break;
                }
                Py_DECREF(x);
                in = sqlite3_vtab_in_next(argv[i], &item);
            }
            if (o && in != SQLITE_OK && in != SQLITE_DONE) {
                Py_CLEAR(o);
                PyErr_Format(PyExc_RuntimeError, "reading an IN list failed (%d)", in);
            }
        } else {
            o = value_object(argv[i]);
        }
        if (!o)
            goto fail;
        PyTuple_SET_ITEM(args, i, o);
    }
    drop_batch(c);
    c->eof = 1;
    c->served = 0;
    PyObject *plan = idxstr ? PyUnicode_FromString(idxstr) : Py_NewRef(Py_None);
    if (!plan)
        goto fail;
    res = PyObject_CallMethod(c->cursor, "Filter", "iOO", idxnum, plan, args);
    Py_DECREF(plan);
    if (!res)
        goto fail;
    slots = PyObject_GetAttrString(c->cursor, "slot");
    if (!slots)
        goto fail;
    PyObject *fast = PySequence_Fast(slots, "slot must be a sequence");
    if (!fast)
        goto fail;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
    sqlite3_free(c->slot);
    c->slot = sqlite3_malloc64(sizeof(int) * (n ? n : 1));
    c->nslot = c->slot ? (int)n : 0;
    if (!c->slot) {
        Py_DECREF(fast);
        PyErr_NoMemory();
        goto fail;
    }
    for (Py_ssize_t i = 0; c->slot && i < n; i++)
        c->slot[i] = (int)PyLong_AsLong(PySequence_Fast_GET_ITEM(fast, i));
    Py_DECREF(fast);
    if (PyErr_Occurred())
        goto fail;
    if (load_batch(c) < 0)
        goto fail;
    goto out;
fail:
    rc = report(base->pVtab, vt->md);
out:
    Py_XDECREF(args);
    Py_XDECREF(res);
    Py_XDECREF(slots);
    leave(&g);
    return rc;
}

static int xNext(sqlite3_vtab_cursor *base)
{
    Cursor *c = (Cursor *)base;
    c->rowid_valid = 0;
    if (c->batch && c->row + 1 < c->batch->nrows) {
        c->row++;
        return SQLITE_OK;
    }
    Vtab *vt = (Vtab *)base->pVtab;
    Guard g;
    enter(&g);
    int rc = SQLITE_OK;
    if (load_batch(c) < 0)
        rc = report(base->pVtab, vt->md);
    leave(&g);
    return rc;
}

static int xEof(sqlite3_vtab_cursor *base) { return ((Cursor *)base)->eof; }

static int xColumn(sqlite3_vtab_cursor *base, sqlite3_context *ctx, int i)
{
    Cursor *c = (Cursor *)base;
    int k = i >= 0 && i < c->nslot ? c->slot[i] : -1;
    Batch *b = c->batch;
    if (k < 0 || !b || k >= b->ncols) {
        sqlite3_result_null(ctx);
        return SQLITE_OK;
    }
    Py_ssize_t at = (Py_ssize_t)k * b->nrows + c->row;
    Cell *v = &b->val[at];
    switch (b->tag[at]) {
    case T_NULL:
        sqlite3_result_null(ctx);
        return SQLITE_OK;
    case T_INT:
        sqlite3_result_int64(ctx, v->i);
        return SQLITE_OK;
    case T_REAL:
        sqlite3_result_double(ctx, v->d);
        return SQLITE_OK;
    case T_TEXT:
        sqlite3_result_text64(ctx, v->s.p, (sqlite3_uint64)v->s.n, SQLITE_TRANSIENT,
                              SQLITE_UTF8);
        return SQLITE_OK;
    case T_BLOB:
        sqlite3_result_blob64(ctx, v->s.p, (sqlite3_uint64)v->s.n, SQLITE_TRANSIENT);
        return SQLITE_OK;
    }
    /* a value Python must convert (or report) first */
    Vtab *vt = (Vtab *)base->pVtab;
    Guard g;
    enter(&g);
    int rc = SQLITE_OK;
    PyObject *res = PyObject_CallMethod(c->cursor, "Resolve", "iOL", i, v->o,
                                        (long long)(c->served + c->row + 1));
    if (!res || result_object(ctx, res) < 0)
        rc = report(base->pVtab, vt->md);
    Py_XDECREF(res);
    leave(&g);
    return rc;
}

static int xRowid(sqlite3_vtab_cursor *base, sqlite3_int64 *out)
{
    Cursor *c = (Cursor *)base;
    if (c->rowid_valid) {
        *out = c->rowid;
        return SQLITE_OK;
    }
    Vtab *vt = (Vtab *)base->pVtab;
    Guard g;
    enter(&g);
    int rc = SQLITE_OK;
    PyObject *res = PyObject_CallMethod(c->cursor, "Rowid", "n", c->row);
    if (res) {
        long long x = PyLong_AsLongLong(res);
        if (!(x == -1 && PyErr_Occurred())) {
            c->rowid = x;
            c->rowid_valid = 1;
            *out = x;
        }
        Py_DECREF(res);
    }
    if (PyErr_Occurred())
        rc = report(base->pVtab, vt->md);
    leave(&g);
    return rc;
}

static int xUpdate(sqlite3_vtab *base, int argc, sqlite3_value **argv, sqlite3_int64 *rowid)
{
    Vtab *vt = (Vtab *)base;
    Guard g;
    enter(&g);
    int rc = SQLITE_OK;
    PyObject *res = NULL, *fields = NULL;
    if (argc == 1) {
        res = PyObject_CallMethod(vt->table, "UpdateDeleteRow", "L",
                                  (long long)sqlite3_value_int64(argv[0]));
    } else {
        fields = PyTuple_New(argc - 2);
        for (int i = 2; fields && i < argc; i++) {
            PyObject *o = value_object(argv[i]);
            if (!o) {
                Py_CLEAR(fields);
                break;
            }
            PyTuple_SET_ITEM(fields, i - 2, o);
        }
        if (fields) {
            if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
                PyObject *given = value_object(argv[1]);
                if (given) {
                    int outer = current_conflict;
                    current_conflict = sqlite3_vtab_on_conflict(vt->db);
                    res = PyObject_CallMethod(vt->table, "UpdateInsertRow", "OO", given, fields);
                    current_conflict = outer;
                    Py_DECREF(given);
                }
                if (res) {
                    long long x = PyLong_AsLongLong(res);
                    if (!(x == -1 && PyErr_Occurred()))
                        *rowid = x;
                }
            } else {
                res = PyObject_CallMethod(vt->table, "UpdateChangeRow", "LLO",
                                          (long long)sqlite3_value_int64(argv[0]),
                                          (long long)sqlite3_value_int64(argv[1]), fields);
            }
        }
    }
    if (!res || PyErr_Occurred())
        rc = report(base, vt->md);
    Py_XDECREF(res);
    Py_XDECREF(fields);
    leave(&g);
    return rc;
}

static int xBegin(sqlite3_vtab *b) { return call_table(b, "Begin", NULL); }
static int xSync(sqlite3_vtab *b) { return call_table(b, "Sync", NULL); }
static int xCommit(sqlite3_vtab *b) { return call_table(b, "Commit", NULL); }
static int xRollback(sqlite3_vtab *b) { return call_table(b, "Rollback", NULL); }

static int xSavepoint(sqlite3_vtab *b, int level) { return call_table(b, "Savepoint", "(i)", level); }
static int xRelease(sqlite3_vtab *b, int level) { return call_table(b, "Release", "(i)", level); }
static int xRollbackTo(sqlite3_vtab *b, int level)
{
    return call_table(b, "RollbackTo", "(i)", level);
}

static int xRename(sqlite3_vtab *b, const char *name) { return call_table(b, "Rename", "(s)", name); }

static sqlite3_module vt_module = {
    .iVersion = 2,
    .xCreate = xCreate,
    .xConnect = xConnect,
    .xBestIndex = xBestIndex,
    .xDisconnect = xDisconnect,
    .xDestroy = xDestroy,
    .xOpen = xOpen,
    .xClose = xClose,
    .xFilter = xFilter,
    .xNext = xNext,
    .xEof = xEof,
    .xColumn = xColumn,
    .xRowid = xRowid,
    .xUpdate = xUpdate,
    .xBegin = xBegin,
    .xSync = xSync,
    .xCommit = xCommit,
    .xRollback = xRollback,
    .xFindFunction = NULL,
    .xRename = xRename,
    .xSavepoint = xSavepoint,
    .xRelease = xRelease,
    .xRollbackTo = xRollbackTo,
};

static void module_destroy(void *p)
{
    ModuleData *md = p;
    PyGILState_STATE gil = PyGILState_Ensure();
    Py_XDECREF(md->module);
    Py_XDECREF(md->error_code);
    PyGILState_Release(gil);
    PyMem_RawFree(md);
}

/* register(db_pointer, name, module, error_code) */
static PyObject *register_module(PyObject *self, PyObject *args)
{
    unsigned long long ptr;
    const char *name;
    PyObject *module, *error_code;
    (void)self;
    if (!PyArg_ParseTuple(args, "KsOO", &ptr, &name, &module, &error_code))
        return NULL;
    if (!api_ready())
        return NULL;
    ModuleData *md = PyMem_RawMalloc(sizeof(ModuleData));
    if (!md)
        return PyErr_NoMemory();
    Py_INCREF(module);
    Py_INCREF(error_code);
    md->module = module;
    md->error_code = error_code;
    int rc = sqlite3_create_module_v2((sqlite3 *)(uintptr_t)ptr, name, &vt_module, md,
                                      module_destroy);
    if (rc != SQLITE_OK) {
        /* sqlite3_create_module_v2 calls the destructor itself on failure */
        PyErr_Format(PyExc_RuntimeError, "registering the module failed (%d)", rc);
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *api_loaded(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    return PyBool_FromLong(sqlite3_api != NULL);
}

static PyObject *on_conflict(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    return PyLong_FromLong(current_conflict);
}

static PyMethodDef methods[] = {
    {"on_conflict", on_conflict, METH_NOARGS,
     "the ON CONFLICT mode of the INSERT under way (SQLITE_IGNORE...), 0 outside one"},
    {"register", register_module, METH_VARARGS,
     "register(db_pointer, name, module, error_code): serve a module's tables from C"},
    {"api_loaded", api_loaded, METH_NOARGS, "whether SQLite's API table has been handed over"},
    {"parse_chunk", parse_chunk, METH_VARARGS, "a chunk of plain lines as a Batch, or None"},
    {"rows_batch", rows_batch, METH_VARARGS, "rows_batch(rows, masks) -> Batch"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef moddef = {
    PyModuleDef_HEAD_INIT, "_speedups", "sqlmed's C speedups", -1, methods,
};

PyMODINIT_FUNC PyInit__speedups(void)
{
    if (PyType_Ready(&BatchType) < 0 || PyType_Ready(&IndexInfoType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&moddef);
    if (!m)
        return NULL;
    Py_INCREF(&BatchType);
    if (PyModule_AddObject(m, "Batch", (PyObject *)&BatchType) < 0) {
        Py_DECREF(&BatchType);
        Py_DECREF(m);
        return NULL;
    }
    PyModule_AddIntConstant(m, "N_INT", N_INT);
    PyModule_AddIntConstant(m, "N_FLOAT", N_FLOAT);
    PyModule_AddIntConstant(m, "N_STR", N_STR);
    PyModule_AddIntConstant(m, "N_BYTES", N_BYTES);
    PyModule_AddIntConstant(m, "N_ALL", N_ALL);
    PyModule_AddIntConstant(m, "K_TEXT", K_TEXT);
    PyModule_AddIntConstant(m, "K_INTEGER", K_INTEGER);
    PyModule_AddIntConstant(m, "K_REAL", K_REAL);
    PyModule_AddIntConstant(m, "K_NUMERIC", K_NUMERIC);
    PyModule_AddIntConstant(m, "K_BOOLEAN", K_BOOLEAN);
    PyModule_AddIntConstant(m, "K_DATE", K_DATE);
    return m;
}
