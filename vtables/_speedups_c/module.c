/* The entry points: SQLite's, which hands over its API table, and Python's,
   the module vtables._speedups with its functions, types and constants. */
#include "speedups.h"

const sqlite3_api_routines *sqlite3_api = 0;

EXPORT int sqlite3_sqlmedspeedups_init(sqlite3 *db, char **err, const sqlite3_api_routines *api)
{
    (void)db;
    /* sqlite3_vtab_in, sqlite3_vtab_rhs_value and sqlite3_vtab_in_first are 3.38's */
    if (api->libversion_number() < 3038000) {
        if (err)
            *err = api->mprintf("sqlmed's speedups need SQLite 3.38 or later");
        return SQLITE_ERROR;
    }
    SQLITE_EXTENSION_INIT2(api);
    return SQLITE_OK;
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

/* arrow.c and sums.c; declared here, not in speedups.h */
PyObject *arrow_batch(PyObject *self, PyObject *obj);
PyObject *sum_reals(PyObject *self, PyObject *args);

static PyMethodDef methods[] = {
    {"on_conflict", on_conflict, METH_NOARGS,
     "the ON CONFLICT mode of the INSERT under way (SQLITE_IGNORE...), 0 outside one"},
    {"register", register_module, METH_VARARGS,
     "register(db_pointer, name, module, error_code, flags=0): serve a module's tables from"
     " C (flags: M_QUERY, a pushed query's eponymous-only, read-only, direct-only table)"},
    {"api_loaded", api_loaded, METH_NOARGS, "whether SQLite's API table has been handed over"},
    {"parse_chunk", parse_chunk, METH_VARARGS, "a chunk of plain lines as a Batch, or None"},
    {"rows_batch", rows_batch, METH_VARARGS, "rows_batch(rows, masks) -> Batch"},
    {"arrow_batch", arrow_batch, METH_O,
     "arrow_batch(record_batch) -> Batch, or None when a column's type or value is not read"
     " here (any object with __arrow_c_array__)"},
    {"sum_reals", sum_reals, METH_VARARGS,
     "sum_reals(buffer, sum, error, count) -> (sum, error, count): SQLite's sum() of the"
     " buffer's doubles (NaN skipped) carried on, in order"},
    {"execute_method", execute_method, METH_O,
     "execute_method(cls): an execute for cls (a subclass of apsw.Connection) that makes"
     " the C router's cursors without looking up cursor() and execute"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef moddef = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_speedups",
    .m_doc = "sqlmed's C speedups",
    .m_size = -1,
    .m_methods = methods,
};

/* the constants the Python side hands back: natives masks and column kinds */
static const struct {
    const char *name;
    int value;
} constants[] = {
    {"N_INT", N_INT},         {"N_FLOAT", N_FLOAT},     {"N_STR", N_STR},
    {"N_BYTES", N_BYTES},     {"N_ALL", N_ALL},         {"K_TEXT", K_TEXT},
    {"K_INTEGER", K_INTEGER}, {"K_REAL", K_REAL},       {"K_NUMERIC", K_NUMERIC},
    {"K_BOOLEAN", K_BOOLEAN}, {"K_DATE", K_DATE},       {"M_QUERY", M_QUERY},
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
    /* without the router (an APSW that cannot be subclassed so), the rest serves */
    if (add_router(m) < 0)
        PyErr_Clear();
    for (size_t i = 0; i < sizeof constants / sizeof constants[0]; i++)
        if (PyModule_AddIntConstant(m, constants[i].name, constants[i].value) < 0) {
            Py_DECREF(m);
            return NULL;
        }
    return m;
}
