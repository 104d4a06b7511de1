/*
 * sum_reals(buffer, sum, error, count) -> (sum, error, count)
 *
 * SQLite's sum() of REAL values carried on over a buffer of doubles, in
 * order: each value not NaN (a NaN is NULL to SQLite) is added by the
 * Kahan-Babuska-Neumaier step SQLite's own sum() takes, so that the result
 * is the one SQLite gives over the same values in the same order (parquet_fdw
 * sums a REAL column's batches so).  The state starts at (0.0, 0.0, 0); the
 * caller finishes it as SQLite does: NULL for no value, else sum + error,
 * or sum alone when the error is infinite or NaN.
 */
#include "speedups.h"

#include <float.h>
#include <math.h>

/* where doubles are computed in more precision than they are stored (x87),
   SQLite's own volatile: each result rounded to a double */
#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD != 0
#define EXACT volatile
#else
#define EXACT
#endif

/* SQLite's step.  SQLite marks its variables volatile against x87's excess
   precision; here doubles are SSE2's or the like (x86-64, ARM64), exact to
   the bit without it, and the step holds no product a compiler could fuse. */
static inline void step(EXACT double *sum, EXACT double *error, EXACT double r)
{
    EXACT double s = *sum;
    EXACT double t = s + r;
    if (fabs(s) > fabs(r))
        *error += (s - t) + r;
    else
        *error += (r - t) + s;
    *sum = t;
}

PyObject *sum_reals(PyObject *self, PyObject *args)
{
    Py_buffer view;
    double sum, error;
    long long count;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*ddL", &view, &sum, &error, &count))
        return NULL;
    if (view.len % (Py_ssize_t)sizeof(double) != 0) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_ValueError, "sum_reals: the buffer is not of doubles");
        return NULL;
    }
    const double *values = view.buf;
    Py_ssize_t n = view.len / (Py_ssize_t)sizeof(double);
    EXACT double s = sum, e = error;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) {
        double v = values[i];
        if (isnan(v))
            continue;
        count++;
        step(&s, &e, v);
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&view);
    return Py_BuildValue("ddL", (double)s, (double)e, count);
}
