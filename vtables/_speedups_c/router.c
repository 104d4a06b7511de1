/* The statement router's hot path in C: vtables._speedups.Cursor, a subclass
   of apsw.Cursor whose execute runs texts already known to be plain SQL (and
   INSERTs already known as SQLite must run them) without a Python call, and
   vtables._speedups.Router, a connection's state that the cursors read, which
   is also the connection's cursor_factory; and Connection.execute, which makes
   such a cursor and runs it without looking up either method.

   Everything else goes back to the Python router (vtables/connection.py), and
   what a call does is what the Python Cursor.execute does, step for step:
   a call of the user's (depth 0) notes how many savepoints the module has
   told tables of, clears the session's insert_target, runs the text, runs it
   again when another connection changed the schema meanwhile
   (SchemaChangeError: the Python `again`), ends the savepoints a failed call
   left open (Module.statement_failed), and hands the rows the call inserted to
   their wrappers at its end (Module.flush); a call made by a callback while
   the user's is under way (depth 1) only runs its text. */
#include "speedups.h"

#include <structmember.h>

typedef PyObject *(*FastKw)(PyObject *, PyObject *const *, Py_ssize_t, PyObject *);

typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall; /* router(connection) -> a new cursor */
    int depth; /* execute calls under way: 1 while the user's runs */
    char aimed; /* session.insert_target may not be None: set by C or Python since */
    PyObject *module; /* vtables.module.Module: statement_failed(), flush(), epoch */
    PyObject *opened; /* module.opened (a list: the same object for good) */
    PyObject *pending; /* module.pending (a dict: the same object for good) */
    PyObject *session; /* the session's __dict__: insert_target */
    PyObject *plain; /* the texts known to be plain SQL (a set that only grows) */
    PyObject *last; /* the text last found in it: a loop's text is found without hashing */
    PyObject *inserts; /* text -> (text to run or None, insert_target) (a dict) */
    PyObject *token; /* (data_version, epoch) the inserts hold for, or None */
    PyObject *route, *again, *many; /* the Python router's entry points */
    PyObject *connection; /* a weak reference */
    FastKw data_version; /* apsw.Connection.data_version's C function, unless overridden */
} Router;

static PyTypeObject RouterType;
static PyTypeObject RoutedCursorType;

static PyTypeObject *base; /* apsw.Cursor */
static PyObject *base_execute; /* its execute (the method descriptor) */
static FastKw base_execute_fn; /* the execute descriptor's C function, when it has one */
static PyObject *data_version; /* apsw.Connection.data_version */
static PyObject *conn_cursor; /* apsw.Connection.cursor */
static PyTypeObject *conn_type; /* apsw.Connection */

static PyObject *schema_changed; /* apsw.SchemaChangeError */
static Py_ssize_t router_offset; /* where a cursor keeps its router: after apsw's fields */
static PyObject *s_statement_failed, *s_flush, *s_epoch, *s_insert_target, *s_data_version,
    *s_connection, *s_router;

#define ROUTER(cursor) (*(Router **)((char *)(cursor) + router_offset))

/* ------------------------------------------------------------ calling out */

/* fn(first[0], ..., first[nfirst - 1], *args, **kwargs) for the arguments of a
   vectorcall (args, nargs, kwnames). */
static PyObject *call_with(PyObject *fn, PyObject *const *first, Py_ssize_t nfirst,
                           PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    PyObject *small[8], **all = small;
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    Py_ssize_t total = nfirst + nargs + nkw;
    if (total > (Py_ssize_t)(sizeof small / sizeof small[0])) {
        all = PyMem_New(PyObject *, total);
        if (!all)
            return PyErr_NoMemory();
    }
    memcpy(all, first, nfirst * sizeof(PyObject *));
    memcpy(all + nfirst, args, (nargs + nkw) * sizeof(PyObject *));
    PyObject *result = PyObject_Vectorcall(fn, all, nfirst + nargs, kwnames);
    if (all != small)
        PyMem_Free(all);
    return result;
}

/* A call out to the Python router, which may aim the next INSERT. */
static PyObject *call_out(Router *r, PyObject *fn, PyObject *const *first, Py_ssize_t nfirst,
                          PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    r->aimed = 1;
    return call_with(fn, first, nfirst, args, nargs, kwnames);
}

/* The C function of a method descriptor taking (self, args, nargs, kwnames). */
static FastKw fast_method(PyObject *descr)
{
    if (!Py_IS_TYPE(descr, &PyMethodDescr_Type))
        return NULL;
    PyMethodDef *def = ((PyMethodDescrObject *)descr)->d_method;
    if (def->ml_flags != (METH_FASTCALL | METH_KEYWORDS))
        return NULL;
    return (FastKw)(void (*)(void))def->ml_meth;
}

/* apsw.Cursor.execute(self, *args, **kwargs), straight to its C function */
static PyObject *run(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    if (base_execute_fn)
        return base_execute_fn(self, args, nargs, kwnames);
    return call_with(base_execute, &self, 1, args, nargs, kwnames);
}

/* The exception that is set, taken (cleared) with its traceback attached. */
static PyObject *take_exception(void)
{
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (tb && value)
        PyException_SetTraceback(value, tb);
    Py_XDECREF(type);
    Py_XDECREF(tb);
    return value;
}

static void restore_exception(PyObject *value)
{
    PyErr_Restore(Py_NewRef((PyObject *)Py_TYPE(value)), value, PyException_GetTraceback(value));
}

/* again(self, error, *args, **kwargs) for the SchemaChangeError that is set */
static PyObject *again(Router *r, PyObject *self, PyObject *const *args, Py_ssize_t nargs,
                       PyObject *kwnames)
{
    PyObject *first[2] = {self, take_exception()};
    if (!first[1])
        return NULL;
    PyObject *result = call_out(r, r->again, first, 2, args, nargs, kwnames);
    Py_DECREF(first[1]);
    return result;
}

/* module.statement_failed(since), the call's exception kept: an exception of
   its own comes out with the call's as its context, as in an except block */
static void failed(Router *r, Py_ssize_t since)
{
    PyObject *error = take_exception();
    if (!error)
        return;
    PyObject *n = PyLong_FromSsize_t(since);
    r->aimed = 1;
    PyObject *args[2] = {r->module, n};
    PyObject *done = n ? PyObject_VectorcallMethod(s_statement_failed, args, 2, NULL) : NULL;
    Py_XDECREF(n);
    if (done) {
        Py_DECREF(done);
        restore_exception(error);
        return;
    }
    PyObject *own = take_exception();
    PyException_SetContext(own, error); /* steals error */
    restore_exception(own);
}

/* ------------------------------------------------------------ the router */

/* The router of a cursor made without the factory (Cursor(connection)):
   the connection's, looked up once. */
static Router *router_of(PyObject *self)
{
    Router *r = ROUTER(self);
    if (r)
        return r;
    PyObject *conn = PyObject_GetAttr(self, s_connection);
    PyObject *found = conn ? PyObject_GetAttr(conn, s_router) : NULL;
    Py_XDECREF(conn);
    if (!found && !PyErr_ExceptionMatches(PyExc_AttributeError))
        return NULL;
    if (!found || !PyObject_TypeCheck(found, &RouterType)) {
        PyErr_Clear();
        PyErr_SetString(PyExc_TypeError, "this cursor's connection is not routed in C");
        Py_XDECREF(found);
        return NULL;
    }
    ROUTER(self) = (Router *)found;
    return (Router *)found;
}

/* Whether what the router keeps of INSERT texts still holds: the token is
   (connection.data_version(), module.epoch). 1, 0, or -1 with an exception. */
static int inserts_hold(Router *r)
{
    if (!PyTuple_CheckExact(r->token) || PyTuple_GET_SIZE(r->token) != 2)
        return 0;
    PyObject *epoch = PyObject_GetAttr(r->module, s_epoch);
    if (!epoch)
        return -1;
    int same = PyObject_RichCompareBool(PyTuple_GET_ITEM(r->token, 1), epoch, Py_EQ);
    Py_DECREF(epoch);
    if (same <= 0)
        return same;
    PyObject *conn = PyWeakref_GetObject(r->connection); /* borrowed */
    if (!conn)
        return -1;
    if (conn == Py_None)
        return 0;
    PyObject *version = r->data_version ? r->data_version(conn, NULL, 0, NULL)
                                        : PyObject_VectorcallMethod(s_data_version, &conn, 1, NULL);
    if (!version)
        return -1;
    same = PyObject_RichCompareBool(PyTuple_GET_ITEM(r->token, 0), version, Py_EQ);
    Py_DECREF(version);
    return same;
}

/* The INSERT's entry in r->inserts when it can run as known: a borrowed
   (text, insert_target) tuple, NULL when not (or with an exception). */
static PyObject *known_insert(Router *r, PyObject *sql)
{
    PyObject *known = PyDict_GetItemWithError(r->inserts, sql);
    if (!known || !PyTuple_CheckExact(known) || PyTuple_GET_SIZE(known) != 2 ||
        PyTuple_GET_ITEM(known, 0) == Py_None)
        return NULL;
    return inserts_hold(r) > 0 ? known : NULL;
}

/* session.insert_target = value.  Reading it costs as much as the rest of a
   call's bookkeeping, so the router notes instead when it may not be None:
   once it or Python code (which says so: Connection.insert_text...) set it. */
static int aim(Router *r, PyObject *value)
{
    r->aimed = value != Py_None;
    return PyDict_SetItem(r->session, s_insert_target, value);
}

/* Whether sql is a text known to be plain SQL: 1, 0, or -1 with an exception. */
static int is_plain(Router *r, PyObject *sql)
{
    if (!sql)
        return 0;
    if (sql == r->last)
        return 1;
    if (!PyUnicode_CheckExact(sql))
        return 0;
    int plain = PySet_Contains(r->plain, sql);
    if (plain > 0)
        Py_XSETREF(r->last, Py_NewRef(sql));
    return plain;
}

/* The text of the user's call, run: plain, a known INSERT, or by the router. */
static PyObject *run_top(Router *r, PyObject *self, PyObject *const *args, Py_ssize_t nargs,
                         PyObject *kwnames)
{
    PyObject *sql = nargs ? args[0] : NULL;
    int plain = is_plain(r, sql);
    if (plain)
        return plain > 0 ? run(self, args, nargs, kwnames) : NULL;
    PyObject *known = sql && PyUnicode_CheckExact(sql) ? known_insert(r, sql) : NULL;
    if (known) { /* an INSERT whose rewriting (or not) is known */
        if (aim(r, PyTuple_GET_ITEM(known, 1)) < 0)
            return NULL;
        PyObject *small[8], **changed = small;
        Py_ssize_t n = nargs + (kwnames ? PyTuple_GET_SIZE(kwnames) : 0);
        if (n > 8 && !(changed = PyMem_New(PyObject *, n)))
            return PyErr_NoMemory();
        memcpy(changed, args, n * sizeof(PyObject *));
        changed[0] = PyTuple_GET_ITEM(known, 0);
        PyObject *result = run(self, changed, nargs, kwnames);
        if (changed != small)
            PyMem_Free(changed);
        return result;
    }
    if (PyErr_Occurred())
        return NULL;
    return call_out(r, r->route, &self, 1, args, nargs, kwnames);
}

/* What the module leaves to the end of the user's call: the rows it inserted,
   handed to their wrappers.  Steals result; NULL when flush() fails. */
static PyObject *flushed(Router *r, PyObject *result)
{
    if (!PyDict_GET_SIZE(r->pending))
        return result;
    r->aimed = 1;
    PyObject *done = PyObject_VectorcallMethod(s_flush, &r->module, 1, NULL);
    if (!done)
        Py_CLEAR(result);
    Py_XDECREF(done);
    return result;
}

static PyObject *execute(PyObject *self, PyObject *const *args, Py_ssize_t nargs,
                         PyObject *kwnames)
{
    Router *r = router_of(self);
    if (!r)
        return NULL;
    if (r->depth) { /* a callback's, while the user's call is under way */
        int plain = is_plain(r, nargs ? args[0] : NULL);
        if (!plain)
            return call_out(r, r->route, &self, 1, args, nargs, kwnames);
        PyObject *result = plain > 0 ? run(self, args, nargs, kwnames) : NULL;
        if (!result && plain > 0 && PyErr_ExceptionMatches(schema_changed))
            result = again(r, self, args, nargs, kwnames);
        return result;
    }
    Py_ssize_t since = PyList_GET_SIZE(r->opened);
    r->depth = 1;
    if (r->aimed && aim(r, Py_None) < 0) {
        r->depth = 0;
        return NULL;
    }
    PyObject *result = run_top(r, self, args, nargs, kwnames);
    if (!result && PyErr_ExceptionMatches(schema_changed))
        result = again(r, self, args, nargs, kwnames);
    if (!result)
        failed(r, since);
    r->depth = 0;
    return result ? flushed(r, result) : NULL;
}

static PyObject *executemany(PyObject *self, PyObject *const *args, Py_ssize_t nargs,
                             PyObject *kwnames)
{
    Router *r = router_of(self);
    return r ? call_out(r, r->many, &self, 1, args, nargs, kwnames) : NULL;
}

/* ------------------------------------------------------------ the cursor */

static void cursor_dealloc(PyObject *self)
{
    PyObject_GC_UnTrack(self); /* apsw's dealloc untracks too: a no-op then */
    Router *r = ROUTER(self);
    ROUTER(self) = NULL;
    Py_XDECREF(r);
    base->tp_dealloc(self);
}

static int cursor_traverse(PyObject *self, visitproc visit, void *arg)
{
    Py_VISIT(ROUTER(self));
    return base->tp_traverse(self, visit, arg);
}

static int cursor_clear(PyObject *self)
{
    Router *r = ROUTER(self);
    ROUTER(self) = NULL;
    Py_XDECREF(r);
    return base->tp_clear ? base->tp_clear(self) : 0;
}

static PyMethodDef own_methods[] = {
    {"execute", (PyCFunction)(void (*)(void))execute, METH_FASTCALL | METH_KEYWORDS,
     "execute(statements, bindings=None, **kwargs): as vtables.Cursor.execute"},
    {"executemany", (PyCFunction)(void (*)(void))executemany, METH_FASTCALL | METH_KEYWORDS,
     "executemany(statements, sequenceofbindings, **kwargs): as vtables.Cursor.executemany"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject RoutedCursorType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "vtables._speedups.Cursor",
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_dealloc = cursor_dealloc,
    .tp_traverse = cursor_traverse,
    .tp_clear = cursor_clear,
    .tp_doc = "An apsw.Cursor whose execute understands SQL/MED statements (the router in C).",
};

/* ------------------------------------------------------------ the state */

static PyObject *router_call(PyObject *self, PyObject *const *args, size_t nargsf,
                             PyObject *kwnames)
{
    PyObject *cursor = PyObject_Vectorcall((PyObject *)&RoutedCursorType, args, nargsf, kwnames);
    if (cursor && !ROUTER(cursor))
        ROUTER(cursor) = (Router *)Py_NewRef(self);
    return cursor;
}

/* the objects a router holds, for traverse and clear */
#define ROUTER_OBJECTS(X)                                                                          \
    X(module) X(opened) X(pending) X(session) X(plain) X(last) X(inserts) X(token) X(route)       \
        X(again) X(many) X(connection)
#define VISIT(field) Py_VISIT(((Router *)self)->field);
#define CLEAR(field) Py_CLEAR(((Router *)self)->field);

static int router_traverse(PyObject *self, visitproc visit, void *arg)
{
    ROUTER_OBJECTS(VISIT)
    return 0;
}

static int router_clear(PyObject *self)
{
    ROUTER_OBJECTS(CLEAR)
    return 0;
}

static void router_dealloc(PyObject *self)
{
    PyObject_GC_UnTrack(self);
    router_clear(self);
    Py_TYPE(self)->tp_free(self);
}

/* Router(connection, module, session_dict, plain, inserts, route, again, many) */
static PyObject *router_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    PyObject *conn, *module, *session, *plain, *inserts, *route, *again_, *many;
    if (kwargs && PyDict_GET_SIZE(kwargs)) {
        PyErr_SetString(PyExc_TypeError, "Router() takes no keyword arguments");
        return NULL;
    }
    if (!PyArg_ParseTuple(args, "OOO!O!O!OOO:Router", &conn, &module, &PyDict_Type, &session,
                          &PySet_Type, &plain, &PyDict_Type, &inserts, &route, &again_, &many))
        return NULL;
    if (!PyObject_TypeCheck(conn, conn_type)) {
        PyErr_SetString(PyExc_TypeError, "Router() takes an apsw.Connection first");
        return NULL;
    }
    PyObject *opened = PyObject_GetAttrString(module, "opened");
    PyObject *pending = opened ? PyObject_GetAttrString(module, "pending") : NULL;
    PyObject *ref = pending ? PyWeakref_NewRef(conn, NULL) : NULL;
    Router *r = NULL;
    if (!ref)
        goto done;
    if (!PyList_CheckExact(opened) || !PyDict_CheckExact(pending)) {
        PyErr_SetString(PyExc_TypeError, "module.opened must be a list, module.pending a dict");
        goto done;
    }
    r = (Router *)type->tp_alloc(type, 0);
    if (!r)
        goto done;
    r->vectorcall = router_call;
    r->aimed = 1;
    r->module = Py_NewRef(module);
    r->opened = Py_NewRef(opened);
    r->pending = Py_NewRef(pending);
    r->session = Py_NewRef(session);
    r->plain = Py_NewRef(plain);
    r->inserts = Py_NewRef(inserts);
    r->token = Py_NewRef(Py_None);
    r->route = Py_NewRef(route);
    r->again = Py_NewRef(again_);
    r->many = Py_NewRef(many);
    r->connection = Py_NewRef(ref);
    PyObject *own = PyObject_GetAttr((PyObject *)Py_TYPE(conn), s_data_version);
    if (own == data_version) /* not overridden: called without looking it up */
        r->data_version = fast_method(own);
    Py_XDECREF(own);
    PyErr_Clear();
done:
    Py_XDECREF(opened);
    Py_XDECREF(pending);
    Py_XDECREF(ref);
    return (PyObject *)r;
}

static PyMemberDef router_members[] = {
    {"depth", T_INT, offsetof(Router, depth), 0,
     "execute calls under way (those of callbacks run inside the user's)"},
    {"aimed", T_BOOL, offsetof(Router, aimed), 0,
     "session.insert_target may not be None (set when Python code sets it)"},
    {"token", T_OBJECT_EX, offsetof(Router, token), 0,
     "(data_version, epoch) that the connection's known INSERT texts hold for"},
    {NULL, 0, 0, 0, NULL},
};

static PyTypeObject RouterType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "vtables._speedups.Router",
    .tp_basicsize = sizeof(Router),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_vectorcall_offset = offsetof(Router, vectorcall),
    .tp_call = PyVectorcall_Call,
    .tp_new = router_new,
    .tp_dealloc = router_dealloc,
    .tp_traverse = router_traverse,
    .tp_clear = router_clear,
    .tp_members = router_members,
    .tp_doc = "A connection's routing state, read by its cursors; called with the connection,"
              " a new cursor (the connection's cursor_factory).",
};

/* ------------------------------------------------------------ the connection */

static PyTypeObject *fast_class; /* the class execute_method() was last made for */
static PyCFunction conn_cursor_fn; /* apsw.Connection.cursor's C function */

/* Connection.execute: as apsw's, self.cursor().execute(...) (cursor() makes
   the cursor with the cursor_factory and tracks it for close()), without
   looking up either method when they are known: cursor() is apsw's for the
   class it was made for, and the C cursor's execute is this file's. */
static PyObject *connection_execute(PyObject *conn, PyObject *const *args, Py_ssize_t nargs,
                                    PyObject *kwnames)
{
    PyObject *cursor = Py_IS_TYPE(conn, fast_class) && conn_cursor_fn
                           ? conn_cursor_fn(conn, NULL)
                           : PyObject_CallMethod(conn, "cursor", NULL);
    if (!cursor)
        return NULL;
    PyObject *result;
    if (Py_IS_TYPE(cursor, &RoutedCursorType)) {
        result = execute(cursor, args, nargs, kwnames);
    } else {
        PyObject *method = PyObject_GetAttrString(cursor, "execute");
        result = method ? PyObject_Vectorcall(method, args, nargs, kwnames) : NULL;
        Py_XDECREF(method);
    }
    Py_DECREF(cursor);
    return result;
}

static PyMethodDef connection_execute_def = {
    "execute", (PyCFunction)(void (*)(void))connection_execute, METH_FASTCALL | METH_KEYWORDS,
    "execute(statements, bindings=None, **kwargs): self.cursor().execute(...), as apsw's"};

/* execute_method(cls): the method above, for cls (a subclass of apsw.Connection
   that does not override cursor()) */
PyObject *execute_method(PyObject *self, PyObject *cls)
{
    (void)self;
    PyObject *own = PyType_Check(cls) && PyType_IsSubtype((PyTypeObject *)cls, conn_type)
                        ? PyObject_GetAttrString(cls, "cursor")
                        : NULL;
    Py_XDECREF(own);
    if (!own || own != conn_cursor) {
        PyErr_Clear();
        PyErr_SetString(PyExc_TypeError,
                        "execute_method() takes a subclass of apsw.Connection with its cursor()");
        return NULL;
    }
    if (Py_IS_TYPE(conn_cursor, &PyMethodDescr_Type) &&
        ((PyMethodDescrObject *)conn_cursor)->d_method->ml_flags == METH_NOARGS)
        conn_cursor_fn = ((PyMethodDescrObject *)conn_cursor)->d_method->ml_meth;
    /* the class made last (the module reloaded: the new class) skips lookups;
       instances of any other take the general way */
    Py_XSETREF(fast_class, (PyTypeObject *)Py_NewRef(cls));
    return PyDescr_NewMethod(fast_class, &connection_execute_def);
}

/* ------------------------------------------------------------ set up */

static int intern_names(void)
{
    struct {
        PyObject **name;
        const char *text;
    } names[] = {
        {&s_statement_failed, "statement_failed"}, {&s_flush, "flush"},
        {&s_epoch, "epoch"},                       {&s_insert_target, "insert_target"},
        {&s_data_version, "data_version"},         {&s_connection, "connection"},
        {&s_router, "_router"},

    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!(*names[i].name = PyUnicode_InternFromString(names[i].text)))
            return -1;
    return 0;
}

/* APSW's Cursor as the base: its size, its execute's C function. */
static int take_base(void)
{
    PyObject *apsw = PyImport_ImportModule("apsw");
    PyObject *cursor = apsw ? PyObject_GetAttrString(apsw, "Cursor") : NULL;
    PyObject *connection = apsw ? PyObject_GetAttrString(apsw, "Connection") : NULL;
    schema_changed = apsw ? PyObject_GetAttrString(apsw, "SchemaChangeError") : NULL;
    data_version = connection ? PyObject_GetAttr(connection, s_data_version) : NULL;
    conn_cursor = connection ? PyObject_GetAttrString(connection, "cursor") : NULL;
    conn_type = connection && PyType_Check(connection) ? (PyTypeObject *)connection : NULL;
    Py_XDECREF(apsw);
    if (!cursor || !schema_changed || !data_version || !conn_cursor || !conn_type) {
        Py_XDECREF(cursor);
        return -1;
    }
    if (!PyType_Check(cursor) || !PyType_HasFeature((PyTypeObject *)cursor, Py_TPFLAGS_BASETYPE) ||
        ((PyTypeObject *)cursor)->tp_itemsize ||
        ((PyTypeObject *)cursor)->tp_basicsize % (Py_ssize_t)sizeof(PyObject *)) {
        PyErr_SetString(PyExc_TypeError, "apsw.Cursor cannot be subclassed in C");
        Py_DECREF(cursor);
        return -1;
    }
    base = (PyTypeObject *)cursor;
    base_execute = PyObject_GetAttrString(cursor, "execute"); /* the descriptor itself */
    if (!base_execute)
        return -1;
    base_execute_fn = fast_method(base_execute);
    return 0;
}

/* The cursor's methods: its own, and apsw.Cursor's as its own too (the same
   C functions).  CPython specialises a call of a C method only when the
   instance's type is the method's (3.11-3.13): a method of the base called
   on this type's instances would take the generic call, fetchone's 12ns
   more than on apsw.Cursor. */
static int take_methods(void)
{
    Py_ssize_t n = 0, own = sizeof own_methods / sizeof own_methods[0] - 1, k = 0;
    for (PyMethodDef *d = base->tp_methods; d && d->ml_name; d++)
        n++;
    PyMethodDef *all = PyMem_New(PyMethodDef, n + own + 1); /* for good, as the type */
    if (!all) {
        PyErr_NoMemory();
        return -1;
    }
    memcpy(all, own_methods, (own + 1) * sizeof(PyMethodDef));
    k = own;
    for (PyMethodDef *d = base->tp_methods; d && d->ml_name; d++) {
        int mine = 0;
        for (Py_ssize_t i = 0; i < own; i++)
            mine |= !strcmp(d->ml_name, own_methods[i].ml_name);
        if (!mine && !(d->ml_flags & (METH_CLASS | METH_STATIC | METH_COEXIST)))
            all[k++] = *d;
    }
    all[k] = own_methods[own]; /* the sentinel */
    RoutedCursorType.tp_methods = all;
    return 0;
}

int add_router(PyObject *m)
{
    if (intern_names() < 0 || take_base() < 0 || take_methods() < 0)
        return -1;
    router_offset = base->tp_basicsize;
    RoutedCursorType.tp_base = base;
    RoutedCursorType.tp_basicsize = base->tp_basicsize + (Py_ssize_t)sizeof(Router *);
    RoutedCursorType.tp_new = base->tp_new;
    if (PyType_Ready(&RoutedCursorType) < 0 || PyType_Ready(&RouterType) < 0)
        return -1;
    if (PyModule_AddObjectRef(m, "Cursor", (PyObject *)&RoutedCursorType) < 0 ||
        PyModule_AddObjectRef(m, "Router", (PyObject *)&RouterType) < 0)
        return -1;
    return 0;
}
