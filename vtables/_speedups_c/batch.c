/* Batch: rows held in C, column by column (what xColumn reads without the
   GIL); to Python, a sequence of tuples.  rows_batch() makes one from Python
   rows, parse_chunk() (chunk.c) from a chunk of text. */
#include "speedups.h"

Batch *batch_new(Py_ssize_t nrows, Py_ssize_t ncols, PyObject *keep)
{
    Batch *b = PyObject_New(Batch, &BatchType);
    if (!b)
        return NULL;
    b->nrows = nrows;
    b->ncols = ncols;
    b->tag = NULL;
    b->val = NULL;
    b->own = NULL;
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

static void batch_dealloc(PyObject *self)
{
    Batch *b = (Batch *)self;
    PyMem_Free(b->tag);
    PyMem_Free(b->val);
    PyMem_Free(b->own);
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

static Py_ssize_t batch_len(PyObject *self) { return ((Batch *)self)->nrows; }

/* A row as a tuple: for Python callers (iteration, rowids). */
static PyObject *batch_item(PyObject *self, Py_ssize_t r)
{
    Batch *b = (Batch *)self;
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

static PyObject *batch_width(PyObject *self, void *unused)
{
    (void)unused;
    return PyLong_FromSsize_t(((Batch *)self)->ncols);
}

static PyGetSetDef batch_getset[] = {
    {"width", batch_width, NULL, "the number of columns", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PySequenceMethods batch_as_sequence = {
    .sq_length = batch_len,
    .sq_item = batch_item,
};

PyTypeObject BatchType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "vtables._speedups.Batch",
    .tp_basicsize = sizeof(Batch),
    .tp_dealloc = batch_dealloc,
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
PyObject *rows_batch(PyObject *self, PyObject *args)
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
