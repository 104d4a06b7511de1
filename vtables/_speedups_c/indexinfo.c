/* IndexInfo: the sqlite3_index_info of one xBestIndex call, with the methods
   and attributes of apsw.IndexInfo that module.Table.BestIndexObject uses. */
#include "speedups.h"

/* the index info; NULL (exception set) when used outside its xBestIndex call */
static sqlite3_index_info *info_of(PyObject *self)
{
    sqlite3_index_info *info = ((IndexInfo *)self)->info;
    if (!info)
        PyErr_SetString(PyExc_RuntimeError, "IndexInfo used outside BestIndex");
    return info;
}

static int in_range(long i, int n, const char *what)
{
    if (i < 0 || i >= n) {
        PyErr_Format(PyExc_IndexError, "%s out of range", what);
        return 0;
    }
    return 1;
}

/* The index info and the constraint (or, with order_by, ORDER BY term)
   numbered arg; NULL with an exception set when there is none. */
static sqlite3_index_info *item_of(PyObject *self, PyObject *arg, int order_by, int *i)
{
    sqlite3_index_info *info = info_of(self);
    if (!info)
        return NULL;
    long x = PyLong_AsLong(arg);
    if (x == -1 && PyErr_Occurred())
        return NULL;
    if (order_by ? !in_range(x, info->nOrderBy, "order by")
                 : !in_range(x, info->nConstraint, "constraint"))
        return NULL;
    *i = (int)x;
    return info;
}

/* A method (i) -> conv(expr) on constraint i, or with order_by 1 on ORDER BY
   term i; expr reads `info` and `i`. */
#define ITEM_GETTER(fname, order_by, conv, expr)                                                 \
    static PyObject *fname(PyObject *self, PyObject *arg)                                        \
    {                                                                                            \
        int i;                                                                                   \
        sqlite3_index_info *info = item_of(self, arg, order_by, &i);                             \
        return info ? conv(expr) : NULL;                                                         \
    }

ITEM_GETTER(ii_get_op, 0, PyLong_FromLong, info->aConstraint[i].op)
ITEM_GETTER(ii_get_usable, 0, PyBool_FromLong, info->aConstraint[i].usable)
ITEM_GETTER(ii_get_icolumn, 0, PyLong_FromLong, info->aConstraint[i].iColumn)
ITEM_GETTER(ii_get_in, 0, PyBool_FromLong, sqlite3_vtab_in(info, i, -1))
ITEM_GETTER(ii_get_order_col, 1, PyLong_FromLong, info->aOrderBy[i].iColumn)
ITEM_GETTER(ii_get_order_desc, 1, PyBool_FromLong, info->aOrderBy[i].desc)

static PyObject *ii_get_rhs(PyObject *self, PyObject *arg)
{
    int i;
    sqlite3_index_info *info = item_of(self, arg, 0, &i);
    if (!info)
        return NULL;
    sqlite3_value *v = NULL;
    if (sqlite3_vtab_rhs_value(info, i, &v) != SQLITE_OK || !v)
        Py_RETURN_NONE;
    return value_object(v);
}

static PyObject *ii_get_collation(PyObject *self, PyObject *arg)
{
    int i;
    sqlite3_index_info *info = item_of(self, arg, 0, &i);
    if (!info)
        return NULL;
    const char *name = sqlite3_vtab_collation(info, i);
    return PyUnicode_FromString(name ? name : "BINARY");
}

/* (i, value) for a constraint usage setter; fmt "ii" or "ip" */
static sqlite3_index_info *usage_of(PyObject *self, PyObject *args, const char *fmt, int *i,
                                    int *value)
{
    sqlite3_index_info *info = info_of(self);
    if (!info || !PyArg_ParseTuple(args, fmt, i, value) ||
        !in_range(*i, info->nConstraint, "constraint"))
        return NULL;
    return info;
}

/* A method (i, value) that sets constraint usage i: stmt reads `info`, `i`
   and `value`; fmt "ii" or "ip" (a truth value). */
#define USAGE_SETTER(fname, fmt, stmt)                                                           \
    static PyObject *fname(PyObject *self, PyObject *args)                                       \
    {                                                                                            \
        int i, value;                                                                            \
        sqlite3_index_info *info = usage_of(self, args, fmt, &i, &value);                        \
        if (!info)                                                                               \
            return NULL;                                                                         \
        stmt;                                                                                    \
        Py_RETURN_NONE;                                                                          \
    }

USAGE_SETTER(ii_set_in, "ip", sqlite3_vtab_in(info, i, value))
USAGE_SETTER(ii_set_argv, "ii", info->aConstraintUsage[i].argvIndex = value)
USAGE_SETTER(ii_set_omit, "ip", info->aConstraintUsage[i].omit = (unsigned char)value)

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

/* ---- attributes: the plain numbers by one getter and setter, told apart by
   their closure */

enum { A_NCONSTRAINT, A_NORDERBY, A_CONSUMED, A_ROWS, A_COST, A_IDXNUM };

static PyObject *ii_get_number(PyObject *self, void *which)
{
    sqlite3_index_info *info = info_of(self);
    if (!info)
        return NULL;
    switch ((int)(intptr_t)which) {
    case A_NCONSTRAINT:
        return PyLong_FromLong(info->nConstraint);
    case A_NORDERBY:
        return PyLong_FromLong(info->nOrderBy);
    case A_CONSUMED:
        return PyBool_FromLong(info->orderByConsumed);
    case A_ROWS:
        return PyLong_FromLongLong(info->estimatedRows);
    case A_COST:
        return PyFloat_FromDouble(info->estimatedCost);
    default:
        return PyLong_FromLong(info->idxNum);
    }
}

/* the index info behind an attribute assignment; NULL (exception set) when
   used outside its xBestIndex call or for a deletion */
static sqlite3_index_info *settable(PyObject *self, PyObject *v)
{
    if (!v) {
        PyErr_SetString(PyExc_RuntimeError, "IndexInfo attributes cannot be deleted");
        return NULL;
    }
    return info_of(self);
}

static int ii_set_number(PyObject *self, PyObject *v, void *which)
{
    sqlite3_index_info *info = settable(self, v);
    if (!info)
        return -1;
    switch ((int)(intptr_t)which) {
    case A_CONSUMED: {
        int on = PyObject_IsTrue(v);
        if (on < 0)
            return -1;
        info->orderByConsumed = on;
        return 0;
    }
    case A_ROWS: {
        long long x = PyLong_AsLongLong(v);
        if (x == -1 && PyErr_Occurred())
            return -1;
        info->estimatedRows = x;
        return 0;
    }
    case A_COST: {
        double x = PyFloat_AsDouble(v);
        if (x == -1.0 && PyErr_Occurred())
            return -1;
        info->estimatedCost = x;
        return 0;
    }
    default: { /* A_IDXNUM */
        long x = PyLong_AsLong(v);
        if (x == -1 && PyErr_Occurred())
            return -1;
        info->idxNum = (int)x;
        return 0;
    }
    }
}

static PyObject *ii_colused(PyObject *self, void *unused)
{
    (void)unused;
    sqlite3_index_info *info = info_of(self);
    if (!info)
        return NULL;
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

static PyObject *ii_get_idxstr(PyObject *self, void *unused)
{
    (void)unused;
    sqlite3_index_info *info = info_of(self);
    if (!info)
        return NULL;
    if (!info->idxStr)
        Py_RETURN_NONE;
    return PyUnicode_FromString(info->idxStr);
}

static int ii_set_idxstr(PyObject *self, PyObject *v, void *unused)
{
    (void)unused;
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

#define NUMBER(name, which, setter)                                                              \
    {name, ii_get_number, setter, NULL, (void *)(intptr_t)(which)}

static PyGetSetDef ii_getset[] = {
    NUMBER("nConstraint", A_NCONSTRAINT, NULL),
    NUMBER("nOrderBy", A_NORDERBY, NULL),
    {"colUsed", ii_colused, NULL, NULL, NULL},
    NUMBER("orderByConsumed", A_CONSUMED, ii_set_number),
    NUMBER("estimatedRows", A_ROWS, ii_set_number),
    NUMBER("estimatedCost", A_COST, ii_set_number),
    {"idxStr", ii_get_idxstr, ii_set_idxstr, NULL, NULL},
    NUMBER("idxNum", A_IDXNUM, ii_set_number),
    {NULL, NULL, NULL, NULL, NULL},
};

PyTypeObject IndexInfoType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "vtables._speedups.IndexInfo",
    .tp_basicsize = sizeof(IndexInfo),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_methods = ii_methods,
    .tp_getset = ii_getset,
    .tp_doc = "One xBestIndex call's sqlite3_index_info.",
};
