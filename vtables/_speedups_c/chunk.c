/*
 * parse_chunk(text, delimiter, ncols, wanted, kinds, null, force_not_null,
 *             keeps, special[, quote, escape, force_null, multiline])
 *   -> Batch | None
 *
 * The rows of a chunk of whole records, as file_fdw's record readers read
 * them, or None when the chunk needs the Python readers: the special
 * character anywhere when no quote is given (a backslash of the text format),
 * a stray carriage return, a wrong field count, or a value whose conversion is
 * not the plain case.  keeps is a tuple of (k, tuple of ints): rows whose
 * column k is not one of the ints are dropped, their other columns never
 * converted.
 *
 * With a quote (CSV), a chunk holding it is read by COPY CSV's rules in one
 * pass: quoted delimiters and newlines are data, the escape (the quote itself
 * by default) escapes the quote and itself inside quotes only, the null string
 * is NULL unquoted unless force_not_null and quoted only if force_null.  A
 * value without escapes points into the chunk's text; one that needed undoing
 * (a doubled quote, text after a closing quote) is written to a side buffer
 * the batch owns.  A quote left open at the end of the chunk, or (multiline
 * false) a newline inside quotes, declines the chunk.
 */
#include "speedups.h"

#include <math.h>
#include <string.h>

/* what the steps answer: go on, give the chunk to the Python readers, or an
   exception is set */
enum { GO = 1, DECLINE = 0, FAILED = -1 };

/* One chunk under way: its text, the wanted fields of each record, the batch. */
typedef struct {
    const char *buf;
    Py_ssize_t len;
    char delim, quote, escape;
    int quoting;   /* CSV: a quote given, and the chunk holds it */
    int multiline; /* whether a newline inside quotes is data (else: decline) */
    const char *null; /* the NULL string, or NULL for none */
    Py_ssize_t null_n;
    Py_ssize_t ncols, nw, nlines; /* fields a record, wanted fields, records */
    Py_ssize_t stride;            /* lines: at least the records, fp's rows a column */
    Py_ssize_t *col_of;           /* field j -> wanted k, or -1 */
    int *kind;                    /* k -> K_* */
    int *fnn;                     /* k -> forced not null */
    int *fnull;                   /* k -> forced null (a quoted null string) */
    const char **fp;              /* the text of wanted field k of record r: fp[k * stride + r] */
    Py_ssize_t *fl;               /* and its length */
    unsigned char *fq;            /* and whether it held a quote (NULL: no quoting) */
    char *side;                   /* the values unescaped (len bytes at most), or NULL */
    Py_ssize_t side_n;
    unsigned char stop_out[256];  /* quoting: the bytes an unquoted stretch stops at */
    unsigned char stop_in[256];   /* and a quoted one */
    unsigned char *converted;     /* k -> converted already (a key column) */
    unsigned char *keep;          /* r -> kept, or NULL when no keeps */
    sqlite3_int64 *allowed;       /* one key's values, sorted */
    Batch *full;                  /* nlines rows of the nw wanted columns */
} Chunk;

static const double POW10[] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                               1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};

/* [+-]?digits[.digits] (either side's digits may be missing, not both) of at
   most 15 digits: the double nearest the decimal, as parse_real gives it (an
   integer below 2^53 divided by a power of ten, both exact: one correctly
   rounded operation); 0 for any other text, which parse_real then reads. */
static inline int quick_real(const char *p, Py_ssize_t n, double *out, int *integral_text)
{
    Py_ssize_t i = 0;
    int neg = 0, digits = 0, scale = 0, dot = 0;
    unsigned long long m = 0;
    if (n && (p[0] == '+' || p[0] == '-')) {
        neg = p[0] == '-';
        i = 1;
    }
    for (; i < n; i++) {
        char c = p[i];
        if (c >= '0' && c <= '9') {
            if (++digits > 15)
                return 0;
            m = m * 10 + (unsigned)(c - '0');
            scale += dot;
        } else if (c == '.' && !dot) {
            dot = 1;
        } else {
            return 0;
        }
    }
    if (!digits)
        return 0;
    double d = (double)m / POW10[scale];
    *out = neg ? -d : d;
    *integral_text = !dot;
    return 1;
}

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
        if (!quick_real(p, n, &v->d, &integral_text) && !parse_real(p, n, &v->d, &integral_text))
            return 0;
        b->tag[at] = T_REAL;
        return 1;
    case K_NUMERIC:
        /* SQLite's NUMERIC affinity as types._numeric applies it */
        if (!quick_real(p, n, &d, &integral_text) && !parse_real(p, n, &d, &integral_text))
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

/* Convert column k of the records that `rows` keeps (all when NULL) as `kind`:
   the null string is NULL unquoted unless forced not null, quoted if forced null. */
static int convert_column(Chunk *ch, Py_ssize_t k, int kind, const unsigned char *rows)
{
    Batch *full = ch->full;
    const int unquoted = !ch->fnn[k], quoted = ch->fnull[k];
    const unsigned char *fq = ch->fq ? ch->fq + k * ch->stride : NULL;
    const char **fp = ch->fp + k * ch->stride;
    const Py_ssize_t *fl = ch->fl + k * ch->stride;
    const Py_ssize_t first = k * ch->nlines;
    for (Py_ssize_t r = 0; r < ch->nlines; r++) {
        if (rows && !rows[r])
            continue;
        Py_ssize_t at = first + r;
        if (ch->null && fl[r] == ch->null_n && memcmp(fp[r], ch->null, ch->null_n) == 0 &&
            (fq && fq[r] ? quoted : unquoted))
            full->tag[at] = T_NULL;
        else if (!convert_field(full, at, fp[r], fl[r], kind))
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

/* flags[j] for field j as a truth value (0 past the tuple's end); -1 with an exception */
static int flag_of(PyObject *flags, Py_ssize_t j)
{
    return j < PyTuple_GET_SIZE(flags) ? PyObject_IsTrue(PyTuple_GET_ITEM(flags, j)) : 0;
}

/* The wanted fields: which field each is, its kind, whether forced (not) null. */
static int chunk_columns(Chunk *ch, PyObject *wanted, PyObject *kinds, PyObject *fnn,
                         PyObject *fnull)
{
    if (ch->nw > ch->ncols) /* each wanted field at most once */
        return DECLINE;
    /* nw <= ncols <= len + 1 and stride <= len + 1: no overflow below */
    Py_ssize_t width = ch->nw ? ch->nw : 1;
    ch->col_of = PyMem_New(Py_ssize_t, ch->ncols);
    ch->kind = PyMem_New(int, width);
    ch->fnn = PyMem_New(int, width);
    ch->fnull = PyMem_New(int, width);
    ch->converted = PyMem_Calloc(width, 1);
    ch->fp = PyMem_New(const char *, width * ch->stride);
    ch->fl = PyMem_New(Py_ssize_t, width * ch->stride);
    if (ch->quoting)
        ch->fq = PyMem_Calloc(width * ch->stride, 1);
    if (!ch->col_of || !ch->kind || !ch->fnn || !ch->fnull || !ch->converted || !ch->fp ||
        !ch->fl || (ch->quoting && !ch->fq)) {
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
        ch->fnn[k] = flag_of(fnn, j);
        ch->fnull[k] = flag_of(fnull, j);
        if (ch->fnn[k] < 0 || ch->fnull[k] < 0)
            return FAILED;
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
                Py_ssize_t at = ch->col_of[j] * ch->stride + r;
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

/* ------------------------------------------------------------ CSV quoting */

/* Whether p (before end) ends a record: LF, or CR LF. */
static inline int at_record_end(const char *p, const char *end)
{
    return *p == '\n' || (*p == '\r' && p + 1 < end && p[1] == '\n');
}

/* A field read character by character from *pp, its value written to the side
   buffer: what the quick cases below leave (a doubled quote or other escape,
   text after a closing quote, a quote inside an unquoted stretch, a NUL). */
static int unescaped_field(Chunk *ch, const char **pp, const char **vp, Py_ssize_t *vn,
                           unsigned char *saw)
{
    const char *p = *pp, *end = ch->buf + ch->len;
    const char q = ch->quote, e = ch->escape;
    if (!ch->side && !(ch->side = PyMem_Malloc(ch->len + 1))) {
        PyErr_NoMemory();
        return FAILED;
    }
    char *o0 = ch->side + ch->side_n, *o = o0; /* all values fit: each is at most its text */
    int in = 0;
    for (; p < end; p++) {
        char c = *p;
        if (in) {
            if (c == e && p + 1 < end && (p[1] == q || p[1] == e))
                c = *++p;
            else if (c == q) {
                in = 0;
                continue;
            } else if (c == '\n' && !ch->multiline)
                return DECLINE;
        } else if (c == ch->delim || at_record_end(p, end)) {
            break;
        } else if (c == '\r') {
            return DECLINE; /* a stray CR: the record reader reports it */
        } else if (c == q) {
            in = *saw = 1;
            continue;
        }
        *o++ = c;
    }
    if (in)
        return DECLINE; /* a quote still open at the end of the chunk */
    *vp = o0;
    *vn = o - o0;
    ch->side_n += o - o0;
    *pp = p;
    return GO;
}

/* A field from *pp: its value (pointing into the chunk when it needs no
   undoing), whether it held a quote; *pp left at its end (a delimiter, a
   record's end or the chunk's). */
static inline int csv_field(Chunk *ch, const char **pp, const char **vp, Py_ssize_t *vn,
                            unsigned char *saw)
{
    const char *p = *pp, *end = ch->buf + ch->len, *t;
    *saw = 0;
    if (p < end && *p == ch->quote) { /* "...", the text after it ending the field */
        for (t = p + 1; !ch->stop_in[(unsigned char)*t]; t++)
            ;
        const char *after = t + 1;
        if (t < end && *t == ch->quote &&
            (after == end || *after == ch->delim || at_record_end(after, end))) {
            *vp = p + 1;
            *vn = t - p - 1;
            *saw = 1;
            *pp = t + 1;
            return GO;
        }
    } else { /* an unquoted field: no quote, CR or NUL in it */
        for (t = p; !ch->stop_out[(unsigned char)*t]; t++)
            ;
        if (t == end || *t == ch->delim || at_record_end(t, end)) {
            *vp = p;
            *vn = t - p;
            *pp = t;
            return GO;
        }
    }
    return unescaped_field(ch, pp, vp, vn, saw);
}

/* The bytes the quick cases of csv_field stop at (the NUL after the text
   included, so the loops need no bound). */
static void csv_stops(Chunk *ch)
{
    const unsigned char stops_out[] = {ch->delim, ch->quote, '\n', '\r', 0};
    const unsigned char stops_in[] = {ch->quote, ch->escape, 0};
    for (size_t i = 0; i < sizeof stops_out; i++)
        ch->stop_out[stops_out[i]] = 1;
    for (size_t i = 0; i < sizeof stops_in; i++)
        ch->stop_in[stops_in[i]] = 1;
    if (!ch->multiline)
        ch->stop_in['\n'] = 1;
}

/* Cut a CSV chunk holding quotes into records and fields: every record must
   have ncols fields.  Sets nlines to the number of records. */
static int chunk_split_quoted(Chunk *ch)
{
    const char *p = ch->buf, *end = ch->buf + ch->len;
    Py_ssize_t r = 0;
    csv_stops(ch);
    while (p < end) {
        if (r == ch->stride) /* (cannot be: each record but the last ends in a newline) */
            return DECLINE;
        for (Py_ssize_t j = 0;; j++) {
            const char *v;
            Py_ssize_t n;
            unsigned char saw;
            int go = csv_field(ch, &p, &v, &n, &saw);
            if (go != GO)
                return go;
            if (j >= ch->ncols)
                return DECLINE;
            if (ch->col_of[j] >= 0) {
                Py_ssize_t at = ch->col_of[j] * ch->stride + r;
                ch->fp[at] = v;
                ch->fl[at] = n;
                ch->fq[at] = saw;
            }
            if (p < end && *p == ch->delim) {
                p++;
                continue;
            }
            if (j + 1 != ch->ncols)
                return DECLINE;
            break;
        }
        r++;
        if (p < end)
            p += *p == '\r' ? 2 : 1; /* past the record's LF or CR LF */
    }
    ch->nlines = r;
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
    out->own = ch->full->own; /* the unescaped values the kept rows may point into */
    ch->full->own = NULL;
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

/* The checks on the whole chunk; GO when its records are worth cutting. */
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
    if (memchr(ch->buf, '\0', ch->len)) /* a NUL, which COPY refuses: the records report it */
        return DECLINE;
    if (special_n == 1 ? memchr(ch->buf, special[0], ch->len) != NULL
                       : (ch->len >= special_n &&
                          memmem(ch->buf, ch->len, special, special_n) != NULL)) {
        if (!ch->quoting) /* (a CSV chunk's special character is its quote) */
            return DECLINE;
    } else {
        ch->quoting = 0;
    }
    return GO;
}

/* CSV's quote and escape, when given: one byte each, neither a line end, NUL
   nor the delimiter (for the quote); else quoted chunks are declined. */
static void chunk_quoting(Chunk *ch, const char *quote, Py_ssize_t quote_n, const char *escape,
                          Py_ssize_t escape_n)
{
    if (!quote || quote_n != 1 || escape_n != 1)
        return;
    ch->quote = quote[0];
    ch->escape = escape[0];
    ch->quoting = !strchr("\r\n", ch->quote) && !strchr("\r\n", ch->escape) &&
                  ch->quote != ch->delim && ch->quote && ch->escape;
}

static PyObject *chunk_parse(Chunk *ch, PyObject *text, PyObject *wanted, PyObject *kinds,
                             PyObject *fnn, PyObject *fnull, PyObject *keeps)
{
    int go = GO;
    if (PyTuple_GET_SIZE(kinds) != ch->nw)
        go = DECLINE;
    if (go == GO) {
        ch->nlines = ch->stride = count_lines(ch->buf, ch->len);
        go = chunk_columns(ch, wanted, kinds, fnn, fnull);
    }
    if (go == GO)
        go = ch->quoting ? chunk_split_quoted(ch) : chunk_split(ch);
    if (go == GO) {
        ch->full = batch_new(ch->nlines, ch->nw, text);
        go = ch->full ? chunk_convert(ch, keeps) : FAILED;
    }
    if (go == GO && ch->full) { /* the unescaped values live as long as the batch */
        ch->full->own = ch->side;
        ch->side = NULL;
    }
    if (go == DECLINE)
        return Py_NewRef(Py_None);
    return go == GO ? chunk_result(ch, text) : NULL;
}

PyObject *parse_chunk(PyObject *self, PyObject *args)
{
    PyObject *text, *wanted, *kinds, *nullobj, *fnn, *keeps, *fnull = NULL;
    const char *delim_s, *special_s, *quote_s = NULL, *escape_s = NULL;
    Py_ssize_t delim_n, special_n, quote_n = 0, escape_n = 0;
    int multiline = 1;
    Chunk ch;
    (void)self;
    memset(&ch, 0, sizeof ch);
    if (!PyArg_ParseTuple(args, "Us#nO!O!OO!O!s#|s#s#O!p", &text, &delim_s, &delim_n, &ch.ncols,
                          &PyTuple_Type, &wanted, &PyTuple_Type, &kinds, &nullobj,
                          &PyTuple_Type, &fnn, &PyTuple_Type, &keeps, &special_s, &special_n,
                          &quote_s, &quote_n, &escape_s, &escape_n, &PyTuple_Type, &fnull,
                          &multiline))
        return NULL;
    if (delim_n != 1 || special_n < 1 || ch.ncols < 1)
        Py_RETURN_NONE;
    ch.delim = delim_s[0];
    ch.nw = PyTuple_GET_SIZE(wanted);
    ch.multiline = multiline;
    chunk_quoting(&ch, quote_s, quote_n, escape_s, escape_n);
    PyObject *empty = PyTuple_New(0);
    if (!empty)
        return NULL;
    PyObject *result = NULL;
    int go = chunk_text(&ch, text, nullobj, special_s, special_n);
    if (go == GO)
        result = chunk_parse(&ch, text, wanted, kinds, fnn, fnull ? fnull : empty, keeps);
    else
        result = Py_NewRef(Py_None);
    Py_DECREF(empty);
    Py_XDECREF(ch.full);
    PyMem_Free(ch.col_of);
    PyMem_Free(ch.kind);
    PyMem_Free(ch.fnn);
    PyMem_Free(ch.fnull);
    PyMem_Free(ch.converted);
    PyMem_Free(ch.fp);
    PyMem_Free(ch.fl);
    PyMem_Free(ch.fq);
    PyMem_Free(ch.side);
    PyMem_Free(ch.keep);
    PyMem_Free(ch.allowed);
    return result;
}
