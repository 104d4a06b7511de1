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
#include "speedups.h"

#include <math.h>
#include <string.h>

/* what the steps answer: go on, give the chunk to the Python readers, or an
   exception is set */
enum { GO = 1, DECLINE = 0, FAILED = -1 };

/* One chunk under way: its text, the wanted fields of each line, the batch. */
typedef struct {
    const char *buf;
    Py_ssize_t len;
    char delim;
    const char *null; /* the NULL string, or NULL for none */
    Py_ssize_t null_n;
    Py_ssize_t ncols, nw, nlines; /* fields a line, wanted fields, lines */
    Py_ssize_t *col_of;           /* field j -> wanted k, or -1 */
    int *kind;                    /* k -> K_* */
    int *fnn;                     /* k -> forced not null */
    const char **fp;              /* the text of wanted field k of line r: fp[k * nlines + r] */
    Py_ssize_t *fl;               /* and its length */
    unsigned char *converted;     /* k -> converted already (a key column) */
    unsigned char *keep;          /* r -> kept, or NULL when no keeps */
    sqlite3_int64 *allowed;       /* one key's values, sorted */
    Batch *full;                  /* nlines rows of the nw wanted columns */
} Chunk;

/* Convert one field into a cell; 0 when the Python readers must decide. */
static inline int convert_field(Batch *b, Py_ssize_t at, const char *p, Py_ssize_t n, int kind)
{
    Cell *v = &b->val[at];
    int integral_text;
    double d;
    switch (kind) {
    case K_DATE: /* a valid date's ISO text is the text itself */
        if (!valid_date(p, n))
            return 0;
        /* fall through */
    case K_TEXT:
        v->s.p = p;
        v->s.n = n;
        b->tag[at] = T_TEXT;
        return 1;
    case K_INTEGER:
    case K_BOOLEAN:
        if (!(kind == K_INTEGER ? parse_int(p, n, &v->i) : parse_bool(p, n, &v->i)))
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
    }
    return 0;
}

/* Convert column k of the lines that `rows` keeps (all when NULL) as `kind`. */
static int convert_column(Chunk *ch, Py_ssize_t k, int kind, const unsigned char *rows)
{
    Batch *full = ch->full;
    const int nullable = ch->null && !ch->fnn[k];
    const Py_ssize_t first = k * ch->nlines;
    for (Py_ssize_t r = 0; r < ch->nlines; r++) {
        if (rows && !rows[r])
            continue;
        Py_ssize_t at = first + r;
        if (nullable && ch->fl[at] == ch->null_n && memcmp(ch->fp[at], ch->null, ch->null_n) == 0)
            full->tag[at] = T_NULL;
        else if (!convert_field(full, at, ch->fp[at], ch->fl[at], kind))
            return DECLINE;
    }
    return GO;
}

static Py_ssize_t count_lines(const char *buf, Py_ssize_t len)
{
    if (len == 0)
        return 1; /* "" is one empty line, as str.split gives */
    Py_ssize_t nlines = 0;
    for (const char *q = buf, *end = buf + len; q < end;) {
        const char *nl = memchr(q, '\n', end - q);
        nlines++;
        if (!nl)
            break;
        q = nl + 1;
    }
    return nlines;
}

/* The wanted fields: which field each is, its kind, whether forced not null. */
static int chunk_columns(Chunk *ch, PyObject *wanted, PyObject *kinds, PyObject *fnn)
{
    if (ch->nw > ch->ncols) /* each wanted field at most once */
        return DECLINE;
    /* nw <= ncols <= len + 1 and nlines <= len + 1: no overflow below */
    Py_ssize_t width = ch->nw ? ch->nw : 1;
    ch->col_of = PyMem_New(Py_ssize_t, ch->ncols);
    ch->kind = PyMem_New(int, width);
    ch->fnn = PyMem_New(int, width);
    ch->converted = PyMem_Calloc(width, 1);
    ch->fp = PyMem_New(const char *, width * ch->nlines);
    ch->fl = PyMem_New(Py_ssize_t, width * ch->nlines);
    if (!ch->col_of || !ch->kind || !ch->fnn || !ch->converted || !ch->fp || !ch->fl) {
        PyErr_NoMemory();
        return FAILED;
    }
    for (Py_ssize_t j = 0; j < ch->ncols; j++)
        ch->col_of[j] = -1;
    for (Py_ssize_t k = 0; k < ch->nw; k++) {
        Py_ssize_t j = PyLong_AsSsize_t(PyTuple_GET_ITEM(wanted, k));
        ch->kind[k] = (int)PyLong_AsLong(PyTuple_GET_ITEM(kinds, k));
        if (PyErr_Occurred())
            return FAILED;
        if (j < 0 || j >= ch->ncols || ch->col_of[j] != -1)
            return DECLINE;
        ch->col_of[j] = k;
        int forced = j < PyTuple_GET_SIZE(fnn) ? PyObject_IsTrue(PyTuple_GET_ITEM(fnn, j)) : 0;
        if (forced < 0)
            return FAILED;
        ch->fnn[k] = forced;
    }
    return GO;
}

/* Cut the lines into fields: every line must have ncols fields. */
static int chunk_split(Chunk *ch)
{
    const char *q = ch->buf, *end = ch->buf + ch->len;
    for (Py_ssize_t r = 0; r < ch->nlines; r++) {
        const char *nl = memchr(q, '\n', end - q);
        const char *e = nl ? nl : end;
        if (nl && e > q && e[-1] == '\r')
            e--;
        if (memchr(q, '\r', e - q))
            return DECLINE;
        Py_ssize_t j = 0;
        const char *s = q;
        for (;;) {
            const char *dpos = memchr(s, ch->delim, e - s);
            const char *fe = dpos ? dpos : e;
            if (j < ch->ncols && ch->col_of[j] >= 0) {
                Py_ssize_t at = ch->col_of[j] * ch->nlines + r;
                ch->fp[at] = s;
                ch->fl[at] = fe - s;
            }
            j++;
            if (!dpos)
                break;
            s = dpos + 1;
        }
        if (j != ch->ncols)
            return DECLINE;
        q = nl ? nl + 1 : end;
    }
    return GO;
}

static int cmp_i64(const void *a, const void *b)
{
    sqlite3_int64 x = *(const sqlite3_int64 *)a, y = *(const sqlite3_int64 *)b;
    return (x > y) - (x < y);
}

/* One key (k, values): column k converted (for every line), and the lines
   whose value is not one of the values dropped. */
static int chunk_key(Chunk *ch, PyObject *pair)
{
    Py_ssize_t k;
    PyObject *values;
    if (!PyArg_ParseTuple(pair, "nO!", &k, &PyTuple_Type, &values))
        return FAILED;
    if (k < 0 || k >= ch->nw || ch->kind[k] != K_INTEGER)
        return DECLINE;
    Py_ssize_t nv = PyTuple_GET_SIZE(values), na = 0;
    PyMem_Free(ch->allowed);
    ch->allowed = PyMem_Malloc(sizeof(sqlite3_int64) * (nv ? nv : 1));
    if (!ch->allowed) {
        PyErr_NoMemory();
        return FAILED;
    }
    for (Py_ssize_t a = 0; a < nv; a++) {
        int overflow = 0;
        long long x = PyLong_AsLongLongAndOverflow(PyTuple_GET_ITEM(values, a), &overflow);
        if (x == -1 && PyErr_Occurred())
            return FAILED;
        if (!overflow)
            ch->allowed[na++] = x; /* beyond int64, no field can equal it */
    }
    qsort(ch->allowed, na, sizeof(sqlite3_int64), cmp_i64);
    if (!ch->converted[k]) {
        if (convert_column(ch, k, K_INTEGER, NULL) != GO)
            return DECLINE;
        ch->converted[k] = 1;
    }
    const Batch *full = ch->full;
    for (Py_ssize_t r = 0, at = k * ch->nlines; r < ch->nlines; r++, at++)
        if (ch->keep[r] && (full->tag[at] != T_INT ||
                            !bsearch(&full->val[at].i, ch->allowed, na, sizeof(sqlite3_int64),
                                     cmp_i64)))
            ch->keep[r] = 0;
    return GO;
}

/* The keys, then the other columns for the lines kept. */
static int chunk_convert(Chunk *ch, PyObject *keeps)
{
    Py_ssize_t nkeys = PyTuple_GET_SIZE(keeps);
    if (nkeys) {
        ch->keep = PyMem_Malloc(ch->nlines);
        if (!ch->keep) {
            PyErr_NoMemory();
            return FAILED;
        }
        memset(ch->keep, 1, ch->nlines);
    }
    for (Py_ssize_t i = 0; i < nkeys; i++) {
        int go = chunk_key(ch, PyTuple_GET_ITEM(keeps, i));
        if (go != GO)
            return go;
    }
    for (Py_ssize_t k = 0; k < ch->nw; k++)
        if (!ch->converted[k] && convert_column(ch, k, ch->kind[k], ch->keep) != GO)
            return DECLINE;
    return GO;
}

/* The batch of the lines kept: the full one when all are. */
static PyObject *chunk_result(Chunk *ch, PyObject *text)
{
    Py_ssize_t nkeep = ch->nlines;
    if (ch->keep) {
        nkeep = 0;
        for (Py_ssize_t r = 0; r < ch->nlines; r++)
            nkeep += ch->keep[r];
    }
    if (nkeep == ch->nlines) {
        PyObject *full = (PyObject *)ch->full;
        ch->full = NULL;
        return full;
    }
    Batch *out = batch_new(nkeep, ch->nw, text);
    if (!out)
        return NULL;
    for (Py_ssize_t k = 0; k < ch->nw; k++) {
        Py_ssize_t o = k * nkeep, at = k * ch->nlines;
        for (Py_ssize_t r = 0; r < ch->nlines; r++, at++)
            if (ch->keep[r]) {
                out->tag[o] = ch->full->tag[at];
                out->val[o] = ch->full->val[at];
                o++;
            }
    }
    return (PyObject *)out;
}

/* The checks on the whole chunk; GO when its lines are worth cutting. */
static int chunk_text(Chunk *ch, PyObject *text, PyObject *nullobj, const char *special,
                      Py_ssize_t special_n)
{
    ch->buf = PyUnicode_AsUTF8AndSize(text, &ch->len);
    if (!ch->buf) { /* lone surrogates: the Python readers decide */
        PyErr_Clear();
        return DECLINE;
    }
    if (nullobj != Py_None) {
        ch->null = PyUnicode_AsUTF8AndSize(nullobj, &ch->null_n);
        if (!ch->null) {
            PyErr_Clear();
            return DECLINE;
        }
    }
    if (ch->ncols > ch->len + 1) /* more fields than a chunk this long can hold */
        return DECLINE;
    if (special_n == 1 ? memchr(ch->buf, special[0], ch->len) != NULL
                       : (ch->len >= special_n &&
                          memmem(ch->buf, ch->len, special, special_n) != NULL))
        return DECLINE;
    return GO;
}

PyObject *parse_chunk(PyObject *self, PyObject *args)
{
    PyObject *text, *wanted, *kinds, *nullobj, *fnn, *keeps;
    const char *delim_s, *special_s;
    Py_ssize_t delim_n, special_n;
    Chunk ch;
    (void)self;
    memset(&ch, 0, sizeof ch);
    if (!PyArg_ParseTuple(args, "Us#nO!O!OO!O!s#", &text, &delim_s, &delim_n, &ch.ncols,
                          &PyTuple_Type, &wanted, &PyTuple_Type, &kinds, &nullobj,
                          &PyTuple_Type, &fnn, &PyTuple_Type, &keeps, &special_s, &special_n))
        return NULL;
    if (delim_n != 1 || special_n < 1 || ch.ncols < 1)
        Py_RETURN_NONE;
    ch.delim = delim_s[0];
    ch.nw = PyTuple_GET_SIZE(wanted);
    int go = chunk_text(&ch, text, nullobj, special_s, special_n);
    if (go == GO && PyTuple_GET_SIZE(kinds) != ch.nw)
        go = DECLINE;
    if (go == GO) {
        ch.nlines = count_lines(ch.buf, ch.len);
        go = chunk_columns(&ch, wanted, kinds, fnn);
    }
    if (go == GO)
        go = chunk_split(&ch);
    if (go == GO) {
        ch.full = batch_new(ch.nlines, ch.nw, text);
        go = ch.full ? chunk_convert(&ch, keeps) : FAILED;
    }
    PyObject *result = go == GO ? chunk_result(&ch, text) : NULL;
    if (go == DECLINE)
        result = Py_NewRef(Py_None);
    Py_XDECREF(ch.full);
    PyMem_Free(ch.col_of);
    PyMem_Free(ch.kind);
    PyMem_Free(ch.fnn);
    PyMem_Free(ch.converted);
    PyMem_Free(ch.fp);
    PyMem_Free(ch.fl);
    PyMem_Free(ch.keep);
    PyMem_Free(ch.allowed);
    return result;
}
