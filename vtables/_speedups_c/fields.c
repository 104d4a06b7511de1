/* The plain spellings of file_fdw's types, read from one field's text: each
   answers 0 when the text is not exactly that, and the Python readers then
   decide (they accept more, or raise the error). */
#include "speedups.h"

#include <string.h>

static int is_digit(char ch) { return ch >= '0' && ch <= '9'; }

/* [+-]?[0-9]+ into an int64; 0 when not exactly that or out of range */
int parse_int(const char *p, Py_ssize_t n, sqlite3_int64 *out)
{
    Py_ssize_t i = 0;
    int neg = 0;
    if (n && (p[0] == '+' || p[0] == '-')) {
        neg = p[0] == '-';
        i = 1;
    }
    if (i == n)
        return 0;
    unsigned long long x = 0;
    const unsigned long long limit = neg ? 9223372036854775808ULL : 9223372036854775807ULL;
    for (; i < n; i++) {
        if (!is_digit(p[i]))
            return 0;
        unsigned d = (unsigned)(p[i] - '0');
        if (x > (limit - d) / 10)
            return 0;
        x = x * 10 + d;
    }
    if (neg)
        *out = x == 9223372036854775808ULL ? (sqlite3_int64)(-9223372036854775807LL - 1)
                                           : -(sqlite3_int64)x;
    else
        *out = (sqlite3_int64)x;
    return 1;
}

/* the end of a run of digits from i, and how many there were */
static Py_ssize_t digits_from(const char *p, Py_ssize_t n, Py_ssize_t i, Py_ssize_t *count)
{
    Py_ssize_t start = i;
    while (i < n && is_digit(p[i]))
        i++;
    *count += i - start;
    return i;
}

/* [+-]? (digits [. digits?] | . digits) ([eE] [+-]? digits)?  read as Python's
   float() reads it; 0 when the text is not exactly that. *integral_text is set
   when the text is [+-]?digits. */
int parse_real(const char *p, Py_ssize_t n, double *out, int *integral_text)
{
    char buf[128];
    Py_ssize_t i = 0, digits = 0;
    int plain = 1;
    if (n <= 0 || n >= (Py_ssize_t)sizeof buf)
        return 0;
    if (p[0] == '+' || p[0] == '-')
        i = 1;
    i = digits_from(p, n, i, &digits);
    if (i < n && p[i] == '.') {
        plain = 0;
        i = digits_from(p, n, i + 1, &digits);
    }
    if (!digits)
        return 0;
    if (i < n && (p[i] == 'e' || p[i] == 'E')) {
        plain = 0;
        i++;
        if (i < n && (p[i] == '+' || p[i] == '-'))
            i++;
        Py_ssize_t e = 0;
        i = digits_from(p, n, i, &e);
        if (!e)
            return 0;
    }
    if (i != n)
        return 0;
    memcpy(buf, p, n);
    buf[n] = 0;
    char *end = NULL;
    double d = PyOS_string_to_double(buf, &end, NULL);
    if (d == -1.0 && PyErr_Occurred()) {
        PyErr_Clear();
        return 0;
    }
    if (end != buf + n)
        return 0;
    *out = d;
    *integral_text = plain;
    return 1;
}

static int word_is(const char *p, Py_ssize_t n, const char *w)
{
    /* w lower case; p must equal w, its upper case or it capitalised */
    Py_ssize_t len = (Py_ssize_t)strlen(w);
    if (n != len)
        return 0;
    int lower = 1, upper = 1, cap = 1;
    for (Py_ssize_t i = 0; i < n; i++) {
        char ch = p[i], lw = w[i], up = (char)(lw >= 'a' && lw <= 'z' ? lw - 32 : lw);
        if (ch != lw)
            lower = 0;
        if (ch != up)
            upper = 0;
        if (ch != (i == 0 ? up : lw))
            cap = 0;
    }
    return lower || upper || cap;
}

/* PostgreSQL's boolean words (t, true, yes, on, 1 and their opposites) */
int parse_bool(const char *p, Py_ssize_t n, sqlite3_int64 *out)
{
    static const char *const words[] = {"t", "true", "y", "yes", "on", "1",
                                        "f", "false", "n", "no", "off", "0"};
    enum { NWORDS = sizeof words / sizeof words[0] };
    for (int i = 0; i < NWORDS; i++)
        if (word_is(p, n, words[i])) {
            *out = i < NWORDS / 2;
            return 1;
        }
    return 0;
}

/* YYYY-MM-DD, a real date of years 1..9999: its ISO text is itself */
int valid_date(const char *p, Py_ssize_t n)
{
    if (n != 10 || p[4] != '-' || p[7] != '-')
        return 0;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && !is_digit(p[i]))
            return 0;
    int y = (p[0] - '0') * 1000 + (p[1] - '0') * 100 + (p[2] - '0') * 10 + (p[3] - '0');
    int m = (p[5] - '0') * 10 + (p[6] - '0');
    int d = (p[8] - '0') * 10 + (p[9] - '0');
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1 || m < 1 || m > 12 || d < 1)
        return 0;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return d <= days[m - 1] + (m == 2 && leap);
}
