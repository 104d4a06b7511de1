/* The virtual-table module: its table callbacks, each a call to the Python
   Table (vtables/module.py) under the GIL guard, and register(). The cursor
   callbacks are in cursor.c. */
#include "speedups.h"

#include <stdarg.h>
#include <string.h>

int current_conflict = 0;

/* SQLITE_OK, or the pending exception reported on the table (with the GIL) */
static int outcome(sqlite3_vtab *base, int ok)
{
    return ok ? SQLITE_OK : report(base, ((Vtab *)base)->md);
}

static int vt_declare(sqlite3 *db, ModuleData *md, PyObject *res, sqlite3_vtab **out, char **err)
{
    PyObject *schema, *table;
    if (!PyArg_ParseTuple(res, "UO", &schema, &table))
        return -1;
    const char *decl = PyUnicode_AsUTF8(schema);
    if (!decl)
        return -1;
    int rc = sqlite3_declare_vtab(db, decl);
    if (rc != SQLITE_OK) {
        *err = sqlite3_mprintf("declaring the foreign table failed: %s", sqlite3_errmsg(db));
        return rc;
    }
    /* a pushed query's table: no view or trigger stored in a file may call it */
    if (md->flags & M_QUERY) {
        rc = sqlite3_vtab_config(db, SQLITE_VTAB_DIRECTONLY);
        if (rc != SQLITE_OK)
            return rc;
    }
    Vtab *vt = sqlite3_malloc(sizeof(Vtab));
    if (!vt)
        return SQLITE_NOMEM;
    memset(vt, 0, sizeof *vt);
    Py_INCREF(table);
    vt->table = table;
    vt->md = md;
    vt->db = db;
    *out = &vt->base;
    return SQLITE_OK;
}

/* Module.Create or Module.Connect(None, *argv) -> (schema, table) */
static int vt_construct(sqlite3 *db, void *aux, int argc, const char *const *argv,
                        sqlite3_vtab **out, char **err, const char *method)
{
    ModuleData *md = aux;
    Guard g;
    enter(&g);
    int rc = -1;
    PyObject *args = PyTuple_New(argc + 1), *res = NULL;
    if (args) {
        PyTuple_SET_ITEM(args, 0, Py_NewRef(Py_None));
        for (int i = 0; i < argc; i++) {
            PyObject *s = PyUnicode_FromString(argv[i]);
            if (!s)
                break;
            PyTuple_SET_ITEM(args, i + 1, s);
        }
    }
    if (args && !PyErr_Occurred()) {
        PyObject *fn = PyObject_GetAttrString(md->module, method);
        res = fn ? PyObject_Call(fn, args, NULL) : NULL;
        Py_XDECREF(fn);
    }
    if (res)
        rc = vt_declare(db, md, res, out, err);
    if (rc < 0) {
        sqlite3_vtab tmp = {0};
        rc = report(&tmp, md);
        *err = tmp.zErrMsg;
    }
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
    int rc = outcome(base, res != NULL);
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
    IndexInfo *ii = PyObject_New(IndexInfo, &IndexInfoType);
    PyObject *res = NULL;
    if (ii) {
        ii->info = info;
        res = PyObject_CallMethod(vt->table, "BestIndexObject", "O", (PyObject *)ii);
        ii->info = NULL;
        Py_DECREF(ii);
    }
    int ok = res ? PyObject_IsTrue(res) : -1;
    int rc = ok == 0 ? SQLITE_CONSTRAINT : outcome(base, ok > 0);
    Py_XDECREF(res);
    leave(&g);
    return rc;
}

/* INSERT: table.UpdateInsertRow(rowid or None, fields) -> the new rowid */
static PyObject *insert_row(Vtab *vt, sqlite3_value *given_rowid, PyObject *fields,
                            sqlite3_int64 *rowid)
{
    PyObject *given = value_object(given_rowid);
    if (!given)
        return NULL;
    int outer = current_conflict;
    current_conflict = sqlite3_vtab_on_conflict(vt->db);
    PyObject *res = PyObject_CallMethod(vt->table, "UpdateInsertRow", "OO", given, fields);
    current_conflict = outer;
    Py_DECREF(given);
    if (res) {
        long long x = PyLong_AsLongLong(res);
        if (!(x == -1 && PyErr_Occurred()))
            *rowid = x;
    }
    return res;
}

static int xUpdate(sqlite3_vtab *base, int argc, sqlite3_value **argv, sqlite3_int64 *rowid)
{
    Vtab *vt = (Vtab *)base;
    Guard g;
    enter(&g);
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
        if (fields && sqlite3_value_type(argv[0]) == SQLITE_NULL)
            res = insert_row(vt, argv[1], fields, rowid);
        else if (fields)
            res = PyObject_CallMethod(vt->table, "UpdateChangeRow", "LLO",
                                      (long long)sqlite3_value_int64(argv[0]),
                                      (long long)sqlite3_value_int64(argv[1]), fields);
    }
    int rc = outcome(base, res && !PyErr_Occurred());
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

/* The module for register()'s flags.  A pushed query's table (M_QUERY) has
   the same callbacks but no xCreate (eponymous-only), no xUpdate (read-only),
   and neither transactions nor renames.  Made under the GIL, once. */
static const sqlite3_module *module_for(int flags)
{
    static sqlite3_module query;
    if (!(flags & M_QUERY))
        return &vt_module;
    if (!query.xConnect) {
        query = vt_module;
        query.iVersion = 1;
        query.xCreate = NULL;
        query.xDestroy = xDisconnect;
        query.xUpdate = NULL;
        query.xBegin = query.xSync = query.xCommit = query.xRollback = NULL;
        query.xRename = NULL;
        query.xSavepoint = query.xRelease = query.xRollbackTo = NULL;
    }
    return &query;
}

static void module_destroy(void *p)
{
    ModuleData *md = p;
    PyGILState_STATE gil = PyGILState_Ensure();
    Py_XDECREF(md->module);
    Py_XDECREF(md->error_code);
    PyGILState_Release(gil);
    PyMem_RawFree(md);
}

/* register(db_pointer, name, module, error_code, flags=0) */
PyObject *register_module(PyObject *self, PyObject *args)
{
    unsigned long long ptr;
    const char *name;
    PyObject *module, *error_code;
    int flags = 0;
    (void)self;
    if (!PyArg_ParseTuple(args, "KsOO|i", &ptr, &name, &module, &error_code, &flags))
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
    md->flags = flags;
    int rc = sqlite3_create_module_v2((sqlite3 *)(uintptr_t)ptr, name, module_for(flags), md,
                                      module_destroy);
    if (rc != SQLITE_OK) {
        /* sqlite3_create_module_v2 calls the destructor itself on failure */
        PyErr_Format(PyExc_RuntimeError, "registering the module failed (%d)", rc);
        return NULL;
    }
    Py_RETURN_NONE;
}
