/* Between SQLite and Python: the GIL guard around callbacks, Python
   exceptions as SQLite errors, and values both ways. */
#include "speedups.h"

int api_ready(void)
{
    if (!sqlite3_api) {
        PyErr_SetString(PyExc_RuntimeError, "the SQLite API is not loaded yet");
        return 0;
    }
    return 1;
}

void enter(Guard *g)
{
    g->gil = PyGILState_Ensure();
    PyErr_Fetch(&g->t, &g->v, &g->tb);
}

void leave(Guard *g)
{
    if (g->t) {
        if (PyErr_Occurred())
            PyErr_Clear(); /* the first error is the one reported */
        PyErr_Restore(g->t, g->v, g->tb);
    }
    PyGILState_Release(g->gil);
}

/* The SQLite result code of an exception, by the module's error_code(). */
static int error_code(ModuleData *md, PyObject *value)
{
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
    return code;
}

int report(sqlite3_vtab *vt, ModuleData *md)
{
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    int code = error_code(md, value);
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

PyObject *value_object(sqlite3_value *v)
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

int result_object(sqlite3_context *ctx, PyObject *o)
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
