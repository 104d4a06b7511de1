/* The module's cursor callbacks: Filter calls the Python BatchCursor, which
   hands over Batches; xNext, xEof and xColumn walk them without the GIL, and
   call Python only at the end of a batch or for a value Python must convert. */
#include "speedups.h"

#include <string.h>

/* SQLITE_OK, or the pending exception reported on the cursor's table */
static int outcome(sqlite3_vtab_cursor *base, int ok)
{
    return ok ? SQLITE_OK : report(base->pVtab, ((Vtab *)base->pVtab)->md);
}

int xOpen(sqlite3_vtab *base, sqlite3_vtab_cursor **out)
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

int xClose(sqlite3_vtab_cursor *base)
{
    Cursor *c = (Cursor *)base;
    Guard g;
    enter(&g);
    PyObject *res = PyObject_CallMethod(c->cursor, "Close", NULL);
    int rc = outcome(base, res != NULL);
    Py_XDECREF(res);
    Py_CLEAR(c->batch);
    Py_CLEAR(c->consts);
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
        Py_CLEAR(c->batch);
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

/* An argument of xFilter: its value, or for an IN constraint SQLite hands
   over whole (sqlite3_vtab_in), the list of its values. */
static PyObject *filter_arg(sqlite3_value *arg)
{
    sqlite3_value *item = NULL;
    int in = sqlite3_vtab_in_first(arg, &item);
    if (in != SQLITE_OK && in != SQLITE_DONE)
        return value_object(arg);
    PyObject *o = PyList_New(0);
    while (o && in == SQLITE_OK && item) {
        PyObject *x = value_object(item);
        if (!x || PyList_Append(o, x) < 0) {
            Py_XDECREF(x);
            Py_CLEAR(o);
            break;
        }
        Py_DECREF(x);
        in = sqlite3_vtab_in_next(arg, &item);
    }
    if (o && in != SQLITE_OK && in != SQLITE_DONE) {
        Py_CLEAR(o);
        PyErr_Format(PyExc_RuntimeError, "reading an IN list failed (%d)", in);
    }
    return o;
}

/* The cursor's consts after Filter: a one-row Batch the slots below -1 read. */
static int read_consts(Cursor *c)
{
    PyObject *b = PyObject_GetAttrString(c->cursor, "consts");
    if (!b)
        return -1;
    if (!PyObject_TypeCheck(b, &BatchType) || ((Batch *)b)->nrows != 1) {
        Py_DECREF(b);
        PyErr_SetString(PyExc_TypeError, "consts must be a Batch of one row");
        return -1;
    }
    c->consts = (Batch *)b;
    return 0;
}

/* The cursor's slot (table column -> batch column) after Filter; -1 on error. */
static int read_slots(Cursor *c)
{
    PyObject *slots = PyObject_GetAttrString(c->cursor, "slot");
    if (!slots)
        return -1;
    PyObject *fast = PySequence_Fast(slots, "slot must be a sequence");
    Py_DECREF(slots);
    if (!fast)
        return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
    sqlite3_free(c->slot);
    c->slot = sqlite3_malloc64(sizeof(int) * (n ? n : 1));
    c->nslot = c->slot ? (int)n : 0;
    if (!c->slot) {
        Py_DECREF(fast);
        PyErr_NoMemory();
        return -1;
    }
    int consts = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        c->slot[i] = (int)PyLong_AsLong(PySequence_Fast_GET_ITEM(fast, i));
        consts |= c->slot[i] <= -2;
    }
    Py_DECREF(fast);
    if (PyErr_Occurred())
        return -1;
    return consts ? read_consts(c) : 0;
}

int xFilter(sqlite3_vtab_cursor *base, int idxnum, const char *idxstr, int argc,
            sqlite3_value **argv)
{
    Cursor *c = (Cursor *)base;
    Guard g;
    enter(&g);
    PyObject *args = PyTuple_New(argc), *res = NULL;
    for (int i = 0; args && i < argc; i++) {
        PyObject *o = filter_arg(argv[i]);
        if (!o)
            Py_CLEAR(args);
        else
            PyTuple_SET_ITEM(args, i, o);
    }
    if (args) {
        Py_CLEAR(c->batch);
        Py_CLEAR(c->consts);
        c->eof = 1;
        c->served = 0;
        PyObject *plan = idxstr ? PyUnicode_FromString(idxstr) : Py_NewRef(Py_None);
        if (plan)
            res = PyObject_CallMethod(c->cursor, "Filter", "iOO", idxnum, plan, args);
        Py_XDECREF(plan);
    }
    int ok = res && read_slots(c) == 0 && load_batch(c) == 0;
    int rc = outcome(base, ok);
    Py_XDECREF(args);
    Py_XDECREF(res);
    leave(&g);
    return rc;
}

int xNext(sqlite3_vtab_cursor *base)
{
    Cursor *c = (Cursor *)base;
    c->rowid_valid = 0;
    if (c->batch && c->row + 1 < c->batch->nrows) {
        c->row++;
        return SQLITE_OK;
    }
    Guard g;
    enter(&g);
    int rc = outcome(base, load_batch(c) == 0);
    leave(&g);
    return rc;
}

int xEof(sqlite3_vtab_cursor *base) { return ((Cursor *)base)->eof; }

/* A value Python must convert (or report) first: the cursor's Resolve. */
static int resolve(Cursor *c, sqlite3_context *ctx, int i, PyObject *o)
{
    Guard g;
    enter(&g);
    PyObject *res = PyObject_CallMethod(c->cursor, "Resolve", "iOL", i, o,
                                        (long long)(c->served + c->row + 1));
    int rc = outcome(&c->base, res && result_object(ctx, res) == 0);
    Py_XDECREF(res);
    leave(&g);
    return rc;
}

/* Column k of a batch's row as column i's result (inlined into xColumn). */
static inline int cell_result(Cursor *c, sqlite3_context *ctx, int i, Batch *b, int k,
                              Py_ssize_t row)
{
    Py_ssize_t at = (Py_ssize_t)k * b->nrows + row;
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
    return resolve(c, ctx, i, v->o);
}

int xColumn(sqlite3_vtab_cursor *base, sqlite3_context *ctx, int i)
{
    Cursor *c = (Cursor *)base;
    int k = i >= 0 && i < c->nslot ? c->slot[i] : -1;
    Batch *b = c->batch;
    if (k < 0 || !b || k >= b->ncols) {
        if (k <= -2 && b && c->consts && -2 - k < c->consts->ncols)
            return cell_result(c, ctx, i, c->consts, -2 - k, 0);
        sqlite3_result_null(ctx);
        return SQLITE_OK;
    }
    return cell_result(c, ctx, i, b, k, c->row);
}

int xRowid(sqlite3_vtab_cursor *base, sqlite3_int64 *out)
{
    Cursor *c = (Cursor *)base;
    if (c->rowid_valid) {
        *out = c->rowid;
        return SQLITE_OK;
    }
    Guard g;
    enter(&g);
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
    int rc = outcome(base, !PyErr_Occurred());
    leave(&g);
    return rc;
}
