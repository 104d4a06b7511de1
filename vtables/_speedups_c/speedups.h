/*
 * sqlmed's optional C speedups: what the files of the extension share.
 *
 * 1. A SQLite virtual-table module that serves foreign tables from the same
 *    Python objects as the APSW module (vtables/module.py: Module, Table,
 *    BatchCursor), but walks rows in C: the Python cursor hands over a batch
 *    of rows at a time and xNext/xEof/xColumn read it without taking the GIL.
 *    Planning, filtering, writes and transactions call the Python objects.
 * 2. A parser for chunks of delimited records (file_fdw's batch reader), CSV
 *    quoting included, that cuts the wanted columns out into a batch.
 * 3. The statement router's hot path: a subclass of apsw.Cursor whose execute
 *    runs texts known to be plain SQL without calling Python.
 *
 * The files, by concept:
 *   module.c     the entry points: SQLite's (the API table) and Python's
 *   batch.c      Batch: rows held in C column by column; rows_batch()
 *   bridge.c     between SQLite and Python: the GIL guard, errors, values
 *   indexinfo.c  IndexInfo: one xBestIndex call's sqlite3_index_info
 *   vtab.c       the module's table callbacks and register()
 *   cursor.c     the module's cursor callbacks: the batches walked in C
 *   fields.c     the plain spellings of file_fdw's types (integer, real...)
 *   chunk.c      parse_chunk(): a chunk of records (CSV quoting too) into a batch
 *   router.c     Cursor and Router: the statement router's hot path
 *
 * The shared library is both a CPython extension module and a SQLite
 * loadable extension: loading it once into any APSW connection hands it
 * SQLite's API table (SQLITE_EXTENSION_INIT2), after which a module can be
 * registered on any connection of the process by its sqlite3 pointer.
 *
 * Errors: a Python exception raised by a callback stays set when control
 * returns to SQLite, which is how APSW reports its own callbacks' errors: the
 * statement's execute raises that very exception.
 */
#ifndef SQLMED_SPEEDUPS_H
#define SQLMED_SPEEDUPS_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <sqlite3ext.h>

#ifdef _WIN32
#define EXPORT __declspec(dllexport)
#define HIDDEN
#else
#define EXPORT __attribute__((visibility("default")))
#define HIDDEN __attribute__((visibility("hidden")))
#endif

/* Our own copy of SQLite's API table (sqlite3ext.h's macros read it by this
   name), not the exported global that SQLITE_EXTENSION_INIT1 defines: another
   extension, loaded with RTLD_GLOBAL into another SQLite library of the
   process, must not take it over.  Set by sqlite3_sqlmedspeedups_init. */
extern HIDDEN const sqlite3_api_routines *sqlite3_api;

/* ------------------------------------------------------------------ batches */

/* what a cell holds */
enum { T_NULL = 0, T_INT, T_REAL, T_TEXT, T_BLOB, T_OBJ };

/* natives masks: which Python types pass through unchanged for a column */
enum { N_INT = 1, N_FLOAT = 2, N_STR = 4, N_BYTES = 8, N_ALL = 16 };

/* the kinds of parse_chunk's columns: file_fdw's _C_KINDS */
enum { K_TEXT = 0, K_INTEGER, K_REAL, K_NUMERIC, K_BOOLEAN, K_DATE };

typedef union {
    sqlite3_int64 i;
    double d;
    struct {
        const char *p;
        Py_ssize_t n;
    } s;
    PyObject *o; /* borrowed: owned by the batch's `keep` */
} Cell;

typedef struct {
    PyObject_HEAD
    Py_ssize_t nrows, ncols;
    unsigned char *tag; /* column-major: tag[c * nrows + r] */
    Cell *val;
    PyObject *keep; /* what keeps text and objects alive: the chunk or the rows */
    char *own;      /* PyMem text of values unescaped out of the chunk (parse_chunk), or NULL */
} Batch;

extern PyTypeObject BatchType;

/* An empty batch (all cells NULL) of nrows x ncols; NULL with an exception. */
Batch *batch_new(Py_ssize_t nrows, Py_ssize_t ncols, PyObject *keep);
PyObject *rows_batch(PyObject *self, PyObject *args);

/* ------------------------------------------------------------- the parser */

int parse_int(const char *p, Py_ssize_t n, sqlite3_int64 *out);
int parse_real(const char *p, Py_ssize_t n, double *out, int *integral_text);
int parse_bool(const char *p, Py_ssize_t n, sqlite3_int64 *out);
int valid_date(const char *p, Py_ssize_t n);
PyObject *parse_chunk(PyObject *self, PyObject *args);

/* ---------------------------------------------------- between SQLite and Python */

/* register()'s flags */
enum {
    /* a pushed query's table (vtables/statements/cursor.py): eponymous-only
       (no xCreate), read-only, no transactions, SQLITE_VTAB_DIRECTONLY */
    M_QUERY = 1,
};

typedef struct {
    PyObject *module; /* Python Module: Create/Connect */
    PyObject *error_code; /* callable(exc) -> SQLite result code */
    int flags; /* M_QUERY... */
} ModuleData;

/* Around every callback: the GIL, and an exception already pending (an
   earlier callback's) put aside; it wins over a later one. */
typedef struct {
    PyGILState_STATE gil;
    PyObject *t, *v, *tb;
} Guard;

void enter(Guard *g);
void leave(Guard *g);
/* The exception that is set, as an SQLite error on vt (may be NULL); keeps it set. */
int report(sqlite3_vtab *vt, ModuleData *md);
/* 1, or 0 with a RuntimeError when SQLite's API table was not handed over yet */
int api_ready(void);
PyObject *value_object(sqlite3_value *v);
/* A Python value as a function result; -1 with an exception set on failure. */
int result_object(sqlite3_context *ctx, PyObject *o);

/* ---------------------------------------------------------- the vtab module */

typedef struct {
    sqlite3_vtab base;
    PyObject *table;
    ModuleData *md;
    sqlite3 *db;
} Vtab;

typedef struct {
    sqlite3_vtab_cursor base;
    PyObject *cursor;
    Batch *batch;
    Py_ssize_t row;
    sqlite3_int64 served; /* rows before this batch, since Filter */
    int eof;
    int nslot;
    int *slot; /* table column -> batch column, -1 (NULL), or -2 - k: column k of consts */
    Batch *consts; /* one row of values the same for every row (a query's arguments) */
    int rowid_valid;
    sqlite3_int64 rowid;
} Cursor;

typedef struct {
    PyObject_HEAD
    sqlite3_index_info *info; /* NULL outside its xBestIndex call */
} IndexInfo;

extern PyTypeObject IndexInfoType;

/* sqlite3_vtab_on_conflict() of the xUpdate under way (0 outside one): the
   Python side asks for it with on_conflict(), as APSW's vtab_on_conflict()
   answers only inside APSW's own module.  The GIL is held while it is read. */
extern int current_conflict;

int xOpen(sqlite3_vtab *base, sqlite3_vtab_cursor **out);
int xClose(sqlite3_vtab_cursor *base);
int xFilter(sqlite3_vtab_cursor *base, int idxnum, const char *idxstr, int argc,
            sqlite3_value **argv);
int xNext(sqlite3_vtab_cursor *base);
int xEof(sqlite3_vtab_cursor *base);
int xColumn(sqlite3_vtab_cursor *base, sqlite3_context *ctx, int i);
int xRowid(sqlite3_vtab_cursor *base, sqlite3_int64 *out);

PyObject *register_module(PyObject *self, PyObject *args);

/* ------------------------------------------------------------- the router */

/* Adds Cursor (a subclass of apsw.Cursor) and Router to the module: 0, or -1
   with an exception (APSW cannot be imported or subclassed). */
int add_router(PyObject *m);
/* execute_method(cls): Connection.execute for cls, the C cursor made without lookups */
PyObject *execute_method(PyObject *self, PyObject *cls);

#endif
