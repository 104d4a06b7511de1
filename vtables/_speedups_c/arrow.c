/*
 * arrow_batch(record_batch) -> Batch | None
 *
 * The rows of an Arrow record batch as a Batch, read column by column from
 * the Arrow C data interface without a Python object per value.  Any object
 * with the Arrow PyCapsule interface serves (__arrow_c_array__() -> a schema
 * capsule "arrow_schema" and an array capsule "arrow_array" of a struct
 * array, e.g. a pyarrow.RecordBatch).
 *
 * Columns: int8..int64 and uint8..uint32 -> T_INT, uint64 -> T_INT (a value
 * beyond int64 declines the whole batch), float32/float64 -> T_REAL (NaN is
 * NULL, as SQLite stores it), bool -> T_INT 0/1, utf8 and large_utf8 ->
 * T_TEXT pointing into Arrow's data buffer (text that is not strict UTF-8
 * declines), binary and large_binary -> T_BLOB, the null type -> T_NULL.
 * Anything else (dictionaries, dates, timestamps, decimals, nested types,
 * views...) declines: None, and the caller casts such columns first.
 *
 * The batch keeps (record batch, schema capsule, array capsule) alive: the
 * exported structures are released by the capsules' destructors when the
 * batch dies, never here.  Structures that do not hold together (a missing
 * buffer, children that do not match, lengths beyond their parent's) raise
 * ValueError; nothing is read before it was checked, except the buffers'
 * contents, whose sizes the C data interface does not carry.
 */
#include "speedups.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

/* The Arrow C data interface, as its specification defines the structures. */
struct ArrowSchema {
    const char *format;
    const char *name;
    const char *metadata;
    int64_t flags;
    int64_t n_children;
    struct ArrowSchema **children;
    struct ArrowSchema *dictionary;
    void (*release)(struct ArrowSchema *);
    void *private_data;
};

struct ArrowArray {
    int64_t length;
    int64_t null_count;
    int64_t offset;
    int64_t n_buffers;
    int64_t n_children;
    const void **buffers;
    struct ArrowArray **children;
    struct ArrowArray *dictionary;
    void (*release)(struct ArrowArray *);
    void *private_data;
};

/* what the steps answer: go on, decline the batch (None), or an exception is set */
enum { GO = 1, DECLINE = 0, FAILED = -1 };

/* the column kinds read here, by format */
enum { A_INT8, A_INT16, A_INT32, A_INT64, A_UINT8, A_UINT16, A_UINT32, A_UINT64,
       A_FLOAT, A_DOUBLE, A_BOOL, A_UTF8, A_LARGE_UTF8, A_BINARY, A_LARGE_BINARY,
       A_NULL, A_OTHER };

static const struct {
    char format;
    int kind;
    int64_t buffers; /* n_buffers the specification gives the layout */
} formats[] = {
    {'c', A_INT8, 2},   {'s', A_INT16, 2},      {'i', A_INT32, 2},       {'l', A_INT64, 2},
    {'C', A_UINT8, 2},  {'S', A_UINT16, 2},     {'I', A_UINT32, 2},      {'L', A_UINT64, 2},
    {'f', A_FLOAT, 2},  {'g', A_DOUBLE, 2},     {'b', A_BOOL, 2},        {'u', A_UTF8, 3},
    {'U', A_LARGE_UTF8, 3}, {'z', A_BINARY, 3}, {'Z', A_LARGE_BINARY, 3}, {'n', A_NULL, 0},
};

/* One column under way: where its rows start in the child and its buffers. */
typedef struct {
    Batch *b;
    Py_ssize_t col;
    int64_t start; /* the child's index of the batch's row 0 */
    const uint8_t *valid; /* the validity bitmap, or NULL when every row is valid */
    const void *data;  /* buffers[1]: values, or offsets */
    const char *bytes; /* buffers[2]: the bytes of utf8 and binary */
} Column;

static inline int bit(const uint8_t *bits, int64_t i) { return (bits[i >> 3] >> (i & 7)) & 1; }

static int malformed(const char *what, Py_ssize_t col)
{
    if (col < 0)
        PyErr_Format(PyExc_ValueError, "malformed Arrow record batch: %s", what);
    else
        PyErr_Format(PyExc_ValueError, "malformed Arrow record batch: column %zd: %s", col,
                     what);
    return FAILED;
}

/* ------------------------------------------------------------- the values */

/* The fixed-width integer columns whose every value fits in int64. */
#define INT_COLUMN(T)                                                                         \
    do {                                                                                      \
        const T *x = (const T *)col->data + col->start;                                       \
        for (Py_ssize_t r = 0; r < n; r++)                                                    \
            if (!col->valid || bit(col->valid, col->start + r)) {                             \
                val[r].i = (sqlite3_int64)x[r];                                               \
                tag[r] = T_INT;                                                               \
            }                                                                                 \
    } while (0)

static int int_column(Column *col, int kind)
{
    const Py_ssize_t n = col->b->nrows;
    unsigned char *tag = col->b->tag + col->col * n;
    Cell *val = col->b->val + col->col * n;
    switch (kind) {
    case A_INT8:
        INT_COLUMN(int8_t);
        break;
    case A_INT16:
        INT_COLUMN(int16_t);
        break;
    case A_INT32:
        INT_COLUMN(int32_t);
        break;
    case A_INT64:
        INT_COLUMN(int64_t);
        break;
    case A_UINT8:
        INT_COLUMN(uint8_t);
        break;
    case A_UINT16:
        INT_COLUMN(uint16_t);
        break;
    case A_UINT32:
        INT_COLUMN(uint32_t);
        break;
    case A_UINT64: {
        const uint64_t *x = (const uint64_t *)col->data + col->start;
        for (Py_ssize_t r = 0; r < n; r++)
            if (!col->valid || bit(col->valid, col->start + r)) {
                if (x[r] > (uint64_t)INT64_MAX)
                    return DECLINE;
                val[r].i = (sqlite3_int64)x[r];
                tag[r] = T_INT;
            }
        break;
    }
    }
    return GO;
}

/* float and double: NaN is NULL, as SQLite stores a NaN. */
static int real_column(Column *col, int kind)
{
    const Py_ssize_t n = col->b->nrows;
    unsigned char *tag = col->b->tag + col->col * n;
    Cell *val = col->b->val + col->col * n;
    for (Py_ssize_t r = 0; r < n; r++) {
        if (col->valid && !bit(col->valid, col->start + r))
            continue;
        double d = kind == A_FLOAT ? (double)((const float *)col->data)[col->start + r]
                                   : ((const double *)col->data)[col->start + r];
        if (isnan(d))
            continue;
        val[r].d = d;
        tag[r] = T_REAL;
    }
    return GO;
}

static int bool_column(Column *col)
{
    const Py_ssize_t n = col->b->nrows;
    unsigned char *tag = col->b->tag + col->col * n;
    Cell *val = col->b->val + col->col * n;
    for (Py_ssize_t r = 0; r < n; r++)
        if (!col->valid || bit(col->valid, col->start + r)) {
            val[r].i = bit(col->data, col->start + r);
            tag[r] = T_INT;
        }
    return GO;
}

/* Whether p[0..n) is UTF-8 that Python's strict decoder accepts: no overlong
   forms, no surrogates, nothing beyond U+10FFFF. */
static int valid_utf8(const unsigned char *p, int64_t n)
{
    int64_t i = 0;
    while (i < n) {
        while (i + 8 <= n) { /* a word of ASCII at a time */
            uint64_t w;
            memcpy(&w, p + i, 8);
            if (w & 0x8080808080808080ULL)
                break;
            i += 8;
        }
        if (i >= n)
            break;
        unsigned char c = p[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        int len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
        unsigned char lo = 0x80, hi = 0xBF;
        if (c < 0xC2 || c > 0xF4 || n - i < len)
            return 0;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
        else if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
        if (p[i + 1] < lo || p[i + 1] > hi)
            return 0;
        for (int k = 2; k < len; k++)
            if ((p[i + k] & 0xC0) != 0x80)
                return 0;
        i += len;
    }
    return 1;
}

/* utf8 and binary, with 32-bit (O = int32_t) or 64-bit offsets. */
#define VAR_COLUMN(O)                                                                         \
    do {                                                                                      \
        const O *off = (const O *)col->data + col->start;                                     \
        for (Py_ssize_t r = 0; r < n; r++) {                                                  \
            if (col->valid && !bit(col->valid, col->start + r))                               \
                continue;                                                                     \
            int64_t from = off[r], to = off[r + 1];                                           \
            if (from < 0 || to < from)                                                        \
                return malformed("offsets that go backwards", col->col);                      \
            if (to > from && !col->bytes)                                                     \
                return malformed("no data buffer", col->col);                                 \
            const char *p = to > from ? col->bytes + from : "";                               \
            if (text && !valid_utf8((const unsigned char *)p, to - from))                     \
                return DECLINE;                                                               \
            val[r].s.p = p;                                                                   \
            val[r].s.n = (Py_ssize_t)(to - from);                                             \
            tag[r] = text ? T_TEXT : T_BLOB;                                                  \
        }                                                                                     \
    } while (0)

static int var_column(Column *col, int kind)
{
    const Py_ssize_t n = col->b->nrows;
    unsigned char *tag = col->b->tag + col->col * n;
    Cell *val = col->b->val + col->col * n;
    const int text = kind == A_UTF8 || kind == A_LARGE_UTF8;
    if (kind == A_UTF8 || kind == A_BINARY)
        VAR_COLUMN(int32_t);
    else
        VAR_COLUMN(int64_t);
    return GO;
}

/* ------------------------------------------------------------ the structures */

/* The kind of a column's format, A_OTHER for what is not read here. */
static int kind_of(const struct ArrowSchema *s, int64_t *buffers)
{
    if (!s->format || !s->format[0] || s->format[1] || s->dictionary || s->n_children)
        return A_OTHER;
    for (size_t k = 0; k < sizeof formats / sizeof formats[0]; k++)
        if (formats[k].format == s->format[0]) {
            *buffers = formats[k].buffers;
            return formats[k].kind;
        }
    return A_OTHER;
}

/* Column c of the batch from child array a (schema s): checked, then read.
   base is the struct's offset: the child's index of row 0 is base + a->offset. */
static int read_column(Batch *b, Py_ssize_t c, const struct ArrowSchema *s,
                       const struct ArrowArray *a, int64_t base)
{
    if (!s || !a || !s->release || !a->release)
        return malformed("a missing or released child", c);
    int64_t buffers = 0;
    int kind = kind_of(s, &buffers);
    if (kind == A_OTHER)
        return DECLINE;
    if (a->offset < 0 || a->length < 0 || a->offset > INT64_MAX - base - a->length)
        return malformed("a negative or overflowing offset or length", c);
    if (a->length < base + b->nrows)
        return malformed("a child shorter than the batch", c);
    if (kind == A_NULL)
        return GO; /* batch_new's cells are NULL already */
    if (a->n_buffers != buffers || !a->buffers)
        return malformed("the wrong number of buffers", c);
    if (b->nrows == 0)
        return GO;
    Column col = {b, c, base + a->offset, NULL, a->buffers[1], NULL};
    if (a->null_count != 0)
        col.valid = a->buffers[0];
    if (!col.data)
        return malformed("no values buffer", c);
    if (buffers == 3)
        col.bytes = a->buffers[2];
    switch (kind) {
    case A_FLOAT:
    case A_DOUBLE:
        return real_column(&col, kind);
    case A_BOOL:
        return bool_column(&col);
    case A_UTF8:
    case A_LARGE_UTF8:
    case A_BINARY:
    case A_LARGE_BINARY:
        return var_column(&col, kind);
    default:
        return int_column(&col, kind);
    }
}

/* The top-level struct array: checked; GO when its rows are all there. */
static int check_struct(const struct ArrowSchema *s, const struct ArrowArray *a)
{
    if (!s->release || !a->release)
        return malformed("a released structure", -1);
    if (!s->format || strcmp(s->format, "+s") != 0) {
        PyErr_SetString(PyExc_TypeError, "arrow_batch() wants a record batch (a struct array)");
        return FAILED;
    }
    if (s->n_children != a->n_children || a->n_children < 0 ||
        a->n_children > PY_SSIZE_T_MAX / 2 || (a->n_children && (!s->children || !a->children)))
        return malformed("children that do not match the schema", -1);
    if (a->length < 0 || a->offset < 0 || a->offset > INT64_MAX - a->length ||
        a->length > PY_SSIZE_T_MAX)
        return malformed("a negative or overflowing offset or length", -1);
    if (a->n_children && a->length > PY_SSIZE_T_MAX / (Py_ssize_t)sizeof(Cell) / a->n_children) {
        PyErr_NoMemory();
        return FAILED;
    }
    if (a->n_buffers != 1 || !a->buffers)
        return malformed("the wrong number of buffers", -1);
    if (a->null_count != 0 && a->buffers[0]) /* a null row: not a record batch's */
        for (int64_t r = 0; r < a->length; r++)
            if (!bit(a->buffers[0], a->offset + r))
                return DECLINE;
    return GO;
}

/* The batch of the exported struct array; keep holds what keeps it alive. */
static int read_batch(const struct ArrowSchema *s, const struct ArrowArray *a, PyObject *keep,
                      Batch **out)
{
    int go = check_struct(s, a);
    if (go != GO)
        return go;
    Batch *b = batch_new((Py_ssize_t)a->length, (Py_ssize_t)a->n_children, keep);
    if (!b)
        return FAILED;
    for (Py_ssize_t c = 0; c < b->ncols && go == GO; c++)
        go = read_column(b, c, s->children[c], a->children[c], a->offset);
    if (go != GO) {
        Py_DECREF(b);
        return go;
    }
    *out = b;
    return GO;
}

PyObject *arrow_batch(PyObject *self, PyObject *obj)
{
    (void)self;
    PyObject *pair = PyObject_CallMethod(obj, "__arrow_c_array__", NULL);
    if (!pair)
        return NULL;
    if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2) {
        Py_DECREF(pair);
        PyErr_SetString(PyExc_TypeError, "__arrow_c_array__() must return a pair of capsules");
        return NULL;
    }
    PyObject *schema_cap = PyTuple_GET_ITEM(pair, 0), *array_cap = PyTuple_GET_ITEM(pair, 1);
    const struct ArrowSchema *s = PyCapsule_GetPointer(schema_cap, "arrow_schema");
    const struct ArrowArray *a = s ? PyCapsule_GetPointer(array_cap, "arrow_array") : NULL;
    PyObject *keep = a ? PyTuple_Pack(3, obj, schema_cap, array_cap) : NULL;
    Py_DECREF(pair);
    if (!keep)
        return NULL;
    Batch *b = NULL;
    int go = read_batch(s, a, keep, &b);
    Py_DECREF(keep);
    if (go == FAILED)
        return NULL;
    if (go == DECLINE)
        Py_RETURN_NONE;
    return (PyObject *)b;
}
