"""postgres_fdw: foreign tables over tables, views and foreign tables of a PostgreSQL server.

Purpose
    Query, join and write tables of a PostgreSQL database (through psycopg 3)
    as if they were local, with filters, projection, sorting and limits run
    by PostgreSQL, in a remote transaction that follows the local one.

Options
    Checked by object kind and value as PostgreSQL 15's postgres_fdw checks
    them: an option in the wrong place is refused naming the valid ones
    (SQLSTATE HV00D); a bad value is refused with PostgreSQL's SQLSTATE
    (22023, 42601 for a Boolean).  Booleans are ``true``/``false``/``on``/
    ``off`` in any case; integers and costs are read as PostgreSQL reads them
    (``1e3``, ``0x10`` and ``1.5``, rounded, are integers).  Where a server
    and a foreign table both take an option, the table's wins.

    server: libpq's connection options (``host``, ``hostaddr``, ``port``,
    ``dbname``, ``passfile``, ``connect_timeout``, ``options``,
    ``application_name``, ``keepalives``, ``keepalives_idle``,
    ``keepalives_interval``, ``keepalives_count``, ``tcp_user_timeout``,
    ``channel_binding``, ``sslmode``, ``sslcert``, ``sslkey``,
    ``sslrootcert``, ``sslcrl``, ``sslcrldir``, ``sslsni``,
    ``sslcompression``, ``ssl_min_protocol_version``,
    ``ssl_max_protocol_version``, ``requirepeer``, ``gssencmode``,
    ``krbsrvname``, ``gsslib``, ``target_session_attrs``), passed to libpq,
    which checks their values when it connects; and

    - ``fetch_size`` (also table): rows per FETCH of a server-side cursor,
      default 1000 (PostgreSQL's is 100; a round trip costs more here than
      the memory of 1000 rows);
    - ``batch_size`` (also table): rows per remote INSERT, default 1; see
      Writes;
    - ``updatable`` (also table): ``false`` refuses INSERT, UPDATE, DELETE;
    - ``use_remote_estimate`` (also table): row estimates come from an
      ``EXPLAIN`` of the remote query, run on the server while SQLite plans,
      instead of the remote table's ``reltuples`` and fixed selectivities;
    - ``fdw_startup_cost`` (default 50) and ``fdw_tuple_cost`` (default 0),
      numbers >= 0: a scan's estimated cost is ``fdw_startup_cost + rows *
      (1 + fdw_tuple_cost)``, on SQLite's scale where reading a row costs 1;
    - ``keep_connections`` (default ``true``): ``false`` closes the
      connection when the transaction, or the read outside one, that used
      it ends;
    - accepted and checked, without effect here: ``extensions`` (a list of
      extension names, checked as PostgreSQL checks it; pushdown sends only
      built-in comparisons, ``LIKE``/``ILIKE`` and ``= ANY``, never a
      function or an operator of an extension, so there is nothing it would
      allow), ``async_capable`` (also table; SQLite runs one scan at a time,
      there is no asynchronous Append), ``parallel_commit`` (remote
      transactions commit one after the other as SQLite syncs each table),
      ``truncatable`` (also table; SQLite has no TRUNCATE).

    Not accepted on a server, as in PostgreSQL: ``user``, ``password``,
    ``sslpassword`` (user mappings), ``client_encoding`` and
    ``fallback_application_name`` (set by the wrapper), ``parallel_abort``
    and ``analyze_sampling`` (PostgreSQL 16).  Unlike PostgreSQL,
    ``service`` is refused too, and each connection option holds one plain
    value: a ``dbname`` that is a conninfo string or URI (which libpq could
    expand into host, user and password), or any connection option but
    ``options`` holding ``=`` or ``://``, is refused, so that no credential
    sits unmasked in the catalog and no option can stand for another (a
    service file entry can hold a user and a password too).

    user mapping: ``user``, ``password`` and ``sslpassword`` (secret),
    ``sslcert``, ``sslkey`` (win over the server's), ``password_required``
    (``true`` refuses connections that did not authenticate with the
    password; default ``false``: unlike PostgreSQL's backend, this process
    runs as the user, so there is no privilege to guard).

    table: ``schema_name`` (default ``public``), ``table_name`` (default:
    the foreign table's name), and ``fetch_size``, ``batch_size``,
    ``updatable``, ``truncatable``, ``use_remote_estimate``,
    ``async_capable`` as above.

    column: ``column_name`` (remote name); and, not in PostgreSQL (which
    identifies rows by ctid), ``key`` (``true`` marks the columns that
    identify a row for UPDATE and DELETE; default: the remote primary key).

Writes
    Inserted rows reach the wrapper in batches (``insert_many``) and go to
    PostgreSQL as multi-row ``INSERT ... VALUES`` statements of
    ``batch_size`` rows with bound parameters (at most 65535 parameters per
    statement, as PostgreSQL caps it), all of one call pipelined in one round
    trip.  A row the server refuses fails its statement with the server's
    SQLSTATE (23505, 23514, ...) and aborts the remote transaction, so
    nothing of the statement is kept.  UPDATE and DELETE go row by row, by
    the key columns.  ``INSERT OR IGNORE`` and ``INSERT ... ON CONFLICT DO
    NOTHING`` are sent as ``ON CONFLICT DO NOTHING``, as PostgreSQL's
    postgres_fdw sends them; ``INSERT OR REPLACE`` as ``ON CONFLICT (key)
    DO UPDATE`` on the key columns (refused without a key).

Pushdown
    Quals, projection, ORDER BY and LIMIT/OFFSET are sent as SQL with bound
    parameters.  A qual is honoured (SQLite does not check it again) only
    when the answer is SQLite's: text is compared with PostgreSQL's "C"
    collation for ordering, LIKE becomes ``ILIKE`` under "C" (ASCII case
    folding, like SQLite's), NULLs are placed as SQLite places them, and a
    value that PostgreSQL would compare differently (a float against an
    integer column, text against a date, ...) is checked here, in Python,
    with SQLite's rules instead of being sent.  Large scans stream through a
    server-side cursor, ``fetch_size`` rows at a time.

Transactions
    A local transaction that writes opens a remote REPEATABLE READ
    transaction on first use; savepoints follow the local ones; the remote
    commit runs when SQLite syncs, so a failing remote commit fails the local
    COMMIT.  Reads outside a local write transaction run in short remote
    transactions of their own.  Connections are kept per server and user
    mapping and closed when either changes; ``get_connections`` and
    ``disconnect``/``disconnect_all`` list and close them from Python, and
    the extension brings the SQL functions ``postgres_fdw_get_connections()``
    (JSON text: server_name, valid), ``postgres_fdw_disconnect(server)`` and
    ``postgres_fdw_disconnect_all()`` (1 when a connection was closed).

Example
    ::

        CREATE EXTENSION postgres_fdw;
        CREATE SERVER shop FOREIGN DATA WRAPPER postgres_fdw
            OPTIONS (host 'db.example.com', dbname 'shop');
        CREATE USER MAPPING FOR CURRENT_USER SERVER shop
            OPTIONS (user 'reporter', password 'secret');
        IMPORT FOREIGN SCHEMA public LIMIT TO (orders) FROM SERVER shop INTO main;
        SELECT count(*) FROM orders WHERE placed >= '2024-01-01';
"""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import hashlib
import itertools
import json
import logging
import operator
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import apsw
import psycopg
from psycopg import sql

from .. import types
from ..errors import (
    FeatureNotSupportedError,
    InvalidOptionError,
    UndefinedObjectError,
    WrapperError,
)
from ..wrapper import (
    KIND_NAMES,
    ColumnDefinition,
    ForeignDataWrapper,
    OptionSpec,
    Qual,
    SortKey,
    TableDefinition,
    parse_bool,
)

logger = logging.getLogger(__name__)

#: libpq's connection options that PostgreSQL 15's postgres_fdw takes on a
#: server: every keyword of libpq 15's ``PQconndefaults`` but the debug ones,
#: ``client_encoding`` and ``fallback_application_name`` (set by the wrapper),
#: ``user`` and the secret ones (user mappings), and ``service``, refused here
#: (not in PostgreSQL) because a service file entry can hold a user and a
#: password that the catalog would then stand for.
LIBPQ_SERVER_OPTIONS = (
    "passfile",
    "channel_binding",
    "connect_timeout",
    "dbname",
    "host",
    "hostaddr",
    "port",
    "options",
    "application_name",
    "keepalives",
    "keepalives_idle",
    "keepalives_interval",
    "keepalives_count",
    "tcp_user_timeout",
    "sslmode",
    "sslcompression",
    "sslcert",
    "sslkey",
    "sslrootcert",
    "sslcrl",
    "sslcrldir",
    "sslsni",
    "requirepeer",
    "ssl_min_protocol_version",
    "ssl_max_protocol_version",
    "gssencmode",
    "krbsrvname",
    "gsslib",
    "target_session_attrs",
)
#: libpq options of user mappings (a mapping's sslcert/sslkey win over the server's).
_USER_LIBPQ = ("user", "password", "sslpassword", "sslcert", "sslkey")
#: Server options whose value libpq passes to the remote server as its own
#: command line (``-c name=value``): the one place ``=`` belongs.
_FREE_FORM = {"options"}
#: PostgreSQL's limit on the parameters of one statement (PQ_QUERY_PARAM_MAX_LIMIT),
#: which caps the rows of one remote INSERT as postgres_fdw caps batch_size.
_MAX_PARAMS = 65535
_PIPELINE = psycopg.Pipeline.is_supported()

#: Default rows per FETCH.  postgres_fdw uses 100; a round trip costs far more
#: than 1000 typical rows of memory (~100 kB), so scans here fetch 1000.
DEFAULT_FETCH_SIZE = 1000
#: Cost of starting a foreign scan, on SQLite's scale (one row read costs 1).
DEFAULT_STARTUP_COST = 50.0

# Kinds of (local declared type, remote type) pairs whose values compare and
# sort the same way on both sides once translated.
_SORTABLE = {"int", "float", "numeric", "text", "bool", "date", "timestamp", "timestamptz"}
_SORTABLE |= {"time", "bytea"}
_ARRAY = {
    "int": "int8[]",
    "float": "float8[]",
    "numeric": "float8[]",
    "text": "text[]",
    "bool": "bool[]",
    "date": "date[]",
    "timestamp": "timestamp[]",
    "timestamptz": "timestamptz[]",
    "time": "time[]",
    "bytea": "bytea[]",
}
_NUMBER = re.compile(r"\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*\Z")
_DATE = re.compile(r"\d{4}-\d\d-\d\d\Z")
_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}\Z")
_TIME = re.compile(r"\d\d:\d\d:\d\d\.\d{6}\Z")
_COMPARE = {"=", "<", "<=", ">", ">=", "!="}


def _q(name: str) -> sql.Identifier:
    return sql.Identifier(name)


def _affinity(declared: str) -> str:
    """SQLite's affinity of a declared type (section 3.1 of its datatype page)."""
    t = declared.upper()
    if "INT" in t:
        return "integer"
    if any(k in t for k in ("CHAR", "CLOB", "TEXT")):
        return "text"
    if "BLOB" in t or not t:
        return "any"
    if any(k in t for k in ("REAL", "FLOA", "DOUB")):
        return "real"
    return "numeric"


# ----------------------------------------------------- SQLite's comparisons


def _storage_class(v: Any) -> int:
    if isinstance(v, (int, float)):
        return 1
    if isinstance(v, str):
        return 2
    return 3


def _cmp(a: Any, b: Any) -> int:
    """SQLite's order of two non-NULL values: numbers < text (BINARY) < blobs."""
    ca, cb = _storage_class(a), _storage_class(b)
    if ca != cb:
        return -1 if ca < cb else 1
    if ca == 2:
        a, b = a.encode("utf-8", "surrogatepass"), b.encode("utf-8", "surrogatepass")
    return -1 if a < b else (1 if a > b else 0)


def _like_regex(pattern: str) -> re.Pattern:
    out = []
    for ch in pattern:
        out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
    return re.compile("".join(out), re.S | re.I | re.A)


def _holds(op: str, left: Any, right: Any) -> bool:
    """``left op right`` as SQLite decides it (``right`` has had affinity applied)."""
    if op == "IS NULL":
        return left is None
    if op == "IS NOT NULL":
        return left is not None
    if op in ("IS", "IS NOT"):
        same = (left is None and right is None) or (
            left is not None and right is not None and _cmp(left, right) == 0
        )
        return same if op == "IS" else not same
    if op == "IN":
        return left is not None and any(v is not None and _cmp(left, v) == 0 for v in right)
    if left is None or right is None:
        return False
    if op == "LIKE":
        return _like_regex(_sqlite_text(right)).fullmatch(_sqlite_text(left)) is not None
    c = _cmp(left, right)
    return {"=": c == 0, "!=": c != 0, "<": c < 0, "<=": c <= 0, ">": c > 0, ">=": c >= 0}[op]


def _sqlite_text(v: Any) -> str:
    """A value as SQLite renders it as text (CAST(v AS TEXT))."""
    if isinstance(v, str):
        return v
    if isinstance(v, bool) or isinstance(v, int):
        return str(int(v))
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    db = apsw.Connection(":memory:")
    try:
        return db.execute("SELECT CAST(? AS TEXT)", (v,)).fetchone()[0]
    finally:
        db.close()


def _apply_affinity(affinity: str, v: Any) -> Any:
    """What SQLite compares a column of this affinity against: the RHS after
    the column's affinity is applied to it."""
    if v is None or affinity == "any":
        return v
    if affinity == "text":
        return _sqlite_text(v) if isinstance(v, (int, float)) else v
    if isinstance(v, str) and _NUMBER.match(v):
        text = v.strip()
        try:
            return int(text)
        except ValueError:
            f = float(text)
            if affinity != "real" and f.is_integer() and abs(f) < 2**63:
                return int(f)
            return f
    return v


# ------------------------------------------- option values, as PostgreSQL reads them

_C_SPACE = " \t\n\v\f\r"
_STRTOL = re.compile(r"[ \t\n\v\f\r]*([+-]?)(?:0[xX]([0-9a-fA-F]+)|(0[0-7]*)|([1-9][0-9]*))")
_STRTOD = re.compile(
    r"[ \t\n\v\f\r]*[+-]?(?:"
    r"0[xX](?P<hex>(?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)(?:[pP][+-]?[0-9]+)?)"
    r"|(?P<dec>(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)"
    r"|(?P<inf>(?i:inf(?:inity)?))"
    r"|(?P<nan>(?i:nan)(?:\([0-9A-Za-z_]*\))?))"
)


def _strtod(text: str, start: int = 0) -> tuple[float, int] | None:
    """C's strtod on ``text[start:]``: (value, end), None when nothing parses
    or the value is out of range (ERANGE)."""
    m = _STRTOD.match(text, start)
    if m is None:
        return None
    number = m.group(0).strip(_C_SPACE)
    sign = -1.0 if number.startswith("-") else 1.0
    if m.group("hex") is not None:
        value = float.fromhex(number)
        digits = m.group("hex").split("p")[0].split("P")[0]
    elif m.group("dec") is not None:
        value = float(number)
        digits = re.split("[eE]", m.group("dec"))[0]
    else:
        return (float("nan") if m.group("nan") else sign * float("inf")), m.end()
    if value in (float("inf"), float("-inf")):
        return None  # overflow
    if (value == 0.0 and digits.strip("0.")) or 0.0 < abs(value) < 2.2250738585072014e-308:
        return None  # underflow
    return value, m.end()


def pg_int(text: str) -> int:
    """An option's integer as PostgreSQL's parse_int reads it (no unit): C's
    strtol in base 0 (``0x1F``, ``017`` octal), or a number with a fraction or
    an exponent rounded half to even; surrounding white space allowed."""
    m = _STRTOL.match(text)
    number, end, erange = 0, 0, False
    if m is not None:
        hexa, octal, decimal = m.group(2), m.group(3), m.group(4)
        number = int(hexa, 16) if hexa else int(octal, 8) if octal else int(decimal)
        number = -number if m.group(1) == "-" else number
        end, erange = m.end(), not -(2**63) <= number < 2**63
    value: float | int = number
    if erange or text[end : end + 1] in (".", "e", "E"):
        parsed = _strtod(text)  # strtol stopped at a fraction or an exponent
        if parsed is None:
            raise ValueError("expected an integer")
        value, end = parsed
    if end == 0 or value != value or text[end:].strip(_C_SPACE):
        raise ValueError("expected an integer")
    if isinstance(value, float):
        value = round(value) if abs(value) < 2**63 else 2**63
    if not -(2**31) <= value < 2**31:
        raise ValueError("expected an integer (the value exceeds integer range)")
    return int(value)


def pg_real(text: str) -> float:
    """An option's number as PostgreSQL's parse_real reads it: C's strtod
    (``1e3``, ``inf``, hexadecimal), white space allowed around, NaN refused."""
    parsed = _strtod(text)
    if parsed is None or parsed[0] != parsed[0] or text[parsed[1] :].strip(_C_SPACE):
        raise ValueError("expected a number")
    return parsed[0]


def pg_bool(text: str) -> bool:
    """A boolean option as postgres_fdw's validator reads it (defGetBoolean on
    a string): true, false, on or off, in any case, and nothing else."""
    low = text.lower()
    if low in ("true", "on"):
        return True
    if low in ("false", "off"):
        return False
    raise ValueError("expected a Boolean value (true, false, on or off)")


def _positive_int(text: str) -> int:
    value = pg_int(text)
    if value <= 0:
        raise ValueError("expected an integer greater than zero")
    return value


def _cost(text: str) -> float:
    value = pg_real(text)
    if value < 0:
        raise ValueError("expected a number greater than or equal to zero")
    return value


def extension_list(text: str) -> list[str]:
    """The names of an ``extensions`` option, as PostgreSQL's
    SplitIdentifierString splits them: comma-separated identifiers, unquoted
    ones folded to lower case, ``"quoted"`` ones kept; an empty text is an
    empty list; an empty name or two names without a comma are refused."""
    space = " \t\n\r\f"
    names: list[str] = []
    i, n = 0, len(text)
    while i < n and text[i] in space:
        i += 1
    if i == n:
        return names
    bad = ValueError("expected a list of extension names")
    while True:
        if i == n:
            raise bad
        if text[i] == '"':
            parts, j = [], i + 1
            while True:
                k = text.find('"', j)
                if k < 0:
                    raise bad
                parts.append(text[j:k])
                if text[k + 1 : k + 2] != '"':
                    break
                parts.append('"')
                j = k + 2
            name, i = "".join(parts), k + 1
        else:
            j = i
            while i < n and text[i] != "," and text[i] not in space:
                i += 1
            if i == j:
                raise bad
            name = text[j:i].translate(_ASCII_LOWER)
        while i < n and text[i] in space:
            i += 1
        names.append(name.encode()[:63].decode(errors="ignore"))
        if i == n:
            return names
        if text[i] != ",":
            raise bad
        i += 1
        while i < n and text[i] in space:
            i += 1


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


@dataclass(frozen=True)
class PgOption(OptionSpec):
    """An option whose text postgres_fdw's validator checks: ``parse`` raises
    ValueError as PostgreSQL refuses the value, with PostgreSQL's SQLSTATE
    (22023 invalid_parameter_value; 42601 for a bad Boolean)."""

    parse: Callable[[str], Any] | None = None
    sqlstate: str = "22023"

    def convert(self, value: str) -> Any:
        return super().convert(value) if self.parse is None else self.parse(value)


def _flag(name: str, kinds: set[str], default: bool, doc: str) -> PgOption:
    return PgOption(name, kinds, bool, default=default, doc=doc, parse=pg_bool, sqlstate="42601")


# -------------------------------------------------------------- connections


def check_server_options(options: dict[str, str], server: str) -> None:
    """Refuse connection options that hold a connection string or URI.

    libpq can read a ``dbname`` holding ``=`` or a URI as a whole connection
    string (expand_dbname; psycopg's keyword arguments do not ask it to, so
    here it would only be a wrong database name), and such a string can carry
    a host, a user and a password that would sit unmasked in the catalog; no
    other option has a use for ``=`` or ``://``.  The value is never
    repeated: it may be a secret.
    """
    for key in LIBPQ_SERVER_OPTIONS:
        value = options.get(key)
        if key in _FREE_FORM or value is None or ("=" not in value and "://" not in value):
            continue
        if key == "dbname":
            what = "must be a plain database name, not a connection string or URI"
        else:
            what = "must hold a plain value, not a connection string or URI"
        raise InvalidOptionError(
            f'server "{server}": option "{key}" {what}',
            hint="Give each connection setting as its own server option (host, port,"
            " dbname, ...); put user and password in a user mapping.",
        )


def _scrub(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "********")
    return re.sub(r"(password\s*=\s*)('[^']*'|\S+)", r"\1********", text, flags=re.I)


class _Remote:
    """One connection to a PostgreSQL server for one user mapping.

    ``xact`` is true while a remote transaction is open; ``local`` while the
    local transaction owns it (it then ends with the local one); ``scans``
    counts server-side cursors that opened a transaction of their own.
    """

    def __init__(self, server: str, params: dict[str, Any], keep: bool):
        self.server = server
        self.keep = keep
        self.password = params.get("password") or ""
        self.conn = psycopg.connect(autocommit=True, **params)
        _text_loaders(self.conn)
        self.conn.execute(
            "SET TimeZone = 'UTC'; SET DateStyle = ISO; SET IntervalStyle = postgres;"
            " SET extra_float_digits = 3"
        )
        self.xact = False
        self.local = False
        self.scans = 0
        self.savepoints: list[int] = []
        self.pending: dict[int, tuple[PostgresFdw, list[dict[str, Any]]]] = {}
        self.cursors = itertools.count(1)
        self.closed = False
        #: Why the remote transaction is aborted (PostgreSQL ignores every
        #: command after an error until the transaction ends).
        self.aborted: str | None = None

    @property
    def in_transaction(self) -> bool:
        return self.xact

    @property
    def valid(self) -> bool:
        return not self.closed and not self.conn.closed and not self.conn.broken

    def close(self) -> None:
        self.closed = True
        self.xact = self.local = False
        self.conn.close()

    def execute(self, query: Any, params: Any = None) -> psycopg.Cursor:
        return self.conn.execute(query, params)

    def open_xact(self) -> None:
        if not self.xact:
            self.execute("START TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            self.xact = True

    def end_scan(self) -> None:
        self.scans -= 1
        if self.scans <= 0 and self.xact and not self.local:
            self.scans = 0
            self.xact = False
            if self.valid:
                self.execute("COMMIT")

    def flush(self) -> None:
        pending, self.pending = self.pending, {}
        for wrapper, rows in pending.values():
            wrapper._send_inserts(rows)


#: Remote types read as PostgreSQL's own text rather than psycopg's Python
#: value, which would lose something: JSON ``null`` and JSON strings (which
#: psycopg parses into None and str), an interval's months (a timedelta
#: counts 30 days), ranges and network addresses (whose str() is Python's
#: spelling).  Arrays of them follow their elements.
_AS_TEXT = (
    "json",
    "jsonb",
    "interval",
    "inet",
    "cidr",
    "int4range",
    "int8range",
    "numrange",
    "daterange",
    "tsrange",
    "tstzrange",
)


def _text_loaders(conn: psycopg.Connection) -> None:
    from psycopg.types.string import TextLoader

    for name in _AS_TEXT:
        conn.adapters.register_loader(name, TextLoader)


# ---------------------------------------------------------------- metadata


@dataclass
class _RemoteColumn:
    typname: str
    typmod: int
    formatted: str
    deterministic: bool
    unique: bool
    primary: bool


_COLUMNS_SQL = """
SELECT a.attname, t.typname, a.atttypmod, format_type(a.atttypid, a.atttypmod),
       coalesce(co.collisdeterministic, true),
       EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = a.attrelid AND i.indisunique
               AND i.indpred IS NULL AND i.indnkeyatts = 1 AND i.indkey[0] = a.attnum),
       EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = a.attrelid AND i.indisprimary
               AND a.attnum = ANY (i.indkey::int2[]))
FROM pg_attribute a
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_collation co ON co.oid = a.attcollation
WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum
"""


class PostgresFdw(ForeignDataWrapper):
    name = "postgres_fdw"
    version = "1.0"
    conflict_modes = frozenset({"IGNORE", "REPLACE"})
    option_specs = (
        *(
            OptionSpec(o, {"server"}, doc="libpq connection option, passed to libpq as is.")
            for o in LIBPQ_SERVER_OPTIONS
            if o not in ("sslcert", "sslkey")
        ),
        OptionSpec(
            "sslcert",
            {"server", "user_mapping"},
            doc="Client certificate file (libpq); the user mapping's wins.",
        ),
        OptionSpec(
            "sslkey",
            {"server", "user_mapping"},
            doc="Client key file (libpq); the user mapping's wins.",
        ),
        PgOption(
            "fetch_size",
            {"server", "table"},
            int,
            default=DEFAULT_FETCH_SIZE,
            doc="Rows per FETCH of a server-side cursor (the table's wins); a positive integer.",
            parse=_positive_int,
        ),
        PgOption(
            "batch_size",
            {"server", "table"},
            int,
            default=1,
            doc="Rows per remote INSERT statement (the table's wins; capped so that one"
            " statement has at most 65535 parameters); a positive integer.",
            parse=_positive_int,
        ),
        _flag(
            "updatable",
            {"server", "table"},
            True,
            "false refuses INSERT, UPDATE and DELETE (the table's wins).",
        ),
        _flag(
            "truncatable",
            {"server", "table"},
            True,
            "Accepted and checked; no effect: SQLite has no TRUNCATE (a DELETE without"
            " WHERE deletes row by row, and obeys updatable).",
        ),
        _flag(
            "use_remote_estimate",
            {"server", "table"},
            False,
            "true: row estimates come from EXPLAIN run on the remote server (the table's"
            " wins); false: from the remote table's reltuples and the quals.",
        ),
        PgOption(
            "fdw_startup_cost",
            {"server"},
            float,
            default=DEFAULT_STARTUP_COST,
            doc="Cost added to every foreign scan's estimate, on SQLite's scale where"
            " reading one row costs 1; a number >= 0.",
            parse=_cost,
        ),
        PgOption(
            "fdw_tuple_cost",
            {"server"},
            float,
            default=0.0,
            doc="Extra cost per remote row, added to the 1 each row costs; a number >= 0.",
            parse=_cost,
        ),
        PgOption(
            "extensions",
            {"server"},
            list,
            doc="Extensions installed alike on both sides, whose functions and operators"
            " PostgreSQL may ship; checked as a list of names.  No effect here: pushdown"
            " sends only built-in comparisons, LIKE/ILIKE and = ANY, never a function or"
            " an operator of an extension.",
            parse=extension_list,
        ),
        _flag(
            "async_capable",
            {"server", "table"},
            False,
            "Accepted and checked; no effect: SQLite runs one scan at a time, so there is"
            " no asynchronous Append to run foreign scans concurrently.",
        ),
        _flag(
            "parallel_commit",
            {"server"},
            False,
            "Accepted and checked; no effect: remote transactions are committed one after"
            " the other, as SQLite syncs each foreign table.",
        ),
        _flag(
            "keep_connections",
            {"server"},
            True,
            "false closes the connection when the transaction, or the read outside one,"
            " that used it ends.",
        ),
        OptionSpec("user", {"user_mapping"}, doc="Remote role."),
        OptionSpec("password", {"user_mapping"}, secret=True, doc="Remote role's password."),
        OptionSpec(
            "sslpassword",
            {"user_mapping"},
            secret=True,
            doc="Password of the client key file (libpq).",
        ),
        _flag(
            "password_required",
            {"user_mapping"},
            False,
            "true: the server must have asked for the password (default false: this"
            " process runs as the user, so there is no privilege to guard).",
        ),
        OptionSpec("schema_name", {"table"}, doc="Remote schema (default public)."),
        OptionSpec(
            "table_name", {"table"}, doc="Remote table name (default: the foreign table's)."
        ),
        OptionSpec("column_name", {"column"}, doc="Remote column name."),
        OptionSpec(
            "key",
            {"column"},
            bool,
            doc="Not in PostgreSQL (which uses ctid): true marks the columns that identify"
            " a row for UPDATE and DELETE; default: the remote primary key.",
        ),
    )

    @classmethod
    def validate(cls, kind, options, *, object_name):
        if kind == "server":  # before the generic checks, which print bad values
            check_server_options(dict(options), object_name)
        specs = cls.specs_for(kind)
        what = f'{KIND_NAMES[kind]} "{object_name}"' if object_name else KIND_NAMES[kind]
        for key, value in options.items():
            spec = specs.get(key)
            if spec is None:
                break  # the generic check names it and lists the valid options
            if isinstance(spec, PgOption):
                try:
                    spec.convert(value)
                except ValueError as err:
                    raise InvalidOptionError(
                        f'invalid value {value!r} for option "{key}" of {what}: {err}',
                        sqlstate=spec.sqlstate,
                    ) from None
        super().validate(kind, options, object_name=object_name)

    def __init__(self, options: dict[str, str], columns: dict[str, ColumnDefinition]):
        super().__init__(options, columns)
        self.remote_names = {
            name: col.options.get("column_name", name) for name, col in columns.items()
        }
        self.affinities = {name: _affinity(col.type) for name, col in columns.items()}
        self.families = {name: types.family(col.type) for name, col in columns.items()}
        self._converters = {
            name: (types.converter(col.type), types.native_types(col.type))
            for name, col in columns.items()
        }
        self._meta: dict[str, _RemoteColumn] | None = None
        self._reltuples: float | None = None
        self._kinds: dict[str, str] = {}
        self._key: str | None = None
        self._insert_cache: dict[tuple[tuple[str, ...], int], bytes] = {}

    # ------------------------------------------------------------ plumbing

    def _bool(self, option: str, default: bool) -> bool:
        value = self.options.get(option)
        return default if value is None else parse_bool(value)

    def _int(self, option: str, default: int) -> int:
        """A positive integer option read as PostgreSQL reads it; a value that
        does not parse (a file written by something else) keeps the default."""
        value = self.options.get(option)
        try:
            return default if value is None else max(pg_int(value), 1)
        except ValueError:
            return default

    def _cost(self, option: str, default: float) -> float:
        value = self.options.get(option)
        try:
            return default if value is None else max(pg_real(value), 0.0)
        except ValueError:
            return default

    @property
    def schema(self) -> str:
        return self.options.get("schema_name") or "public"

    @property
    def remote_table(self) -> str:
        return self.options.get("table_name") or self.table_name

    @property
    def label(self) -> str:
        return (
            f'foreign table "{self.table_name}" (remote table "{self.schema}"."{self.remote_table}"'
            f' on server "{self.server_name}")'
        )

    @staticmethod
    def connection_params(options: dict[str, str]) -> dict[str, Any]:
        params: dict[str, Any] = {k: options[k] for k in LIBPQ_SERVER_OPTIONS if k in options}
        params.update({k: options[k] for k in _USER_LIBPQ if k in options})
        params.setdefault("fallback_application_name", "sqlmed_postgres_fdw")
        return params

    def _session_key(self) -> str:
        key = self._key
        if key is None:  # the options of an instance never change: hash them once
            params = self.connection_params(self.options)
            digest = hashlib.sha256(json.dumps(sorted(params.items())).encode()).hexdigest()
            key = self._key = f"postgres_fdw:{digest[:16]}"
        return key

    def remote(self) -> _Remote:
        key = self._session_key()
        remote = self.session.get(key)
        if remote is not None and not remote.valid and not remote.xact:
            self.session.pop(key, None)
            remote = None
        if remote is None:
            remote = _connect(self.server_name, self.options)
            self.session[key] = remote
        if remote.aborted and remote.local:
            raise WrapperError(
                f'the remote transaction on server "{self.server_name}" was aborted by an'
                f" earlier error: {remote.aborted}",
                hint="ROLLBACK the local transaction (or ROLLBACK TO a savepoint).",
            )
        return remote

    def _fail(self, remote: _Remote | None, err: Exception, what: str = "") -> WrapperError:
        """A WrapperError for a remote failure; a lost connection is forgotten."""
        secrets = [self.options.get(k, "") for k in ("password", "sslpassword")]
        text = _scrub(str(err).strip(), secrets)
        if remote is not None and not remote.valid:
            text = f"connection to server lost: {text}"
            if not (remote.xact and remote.local):  # else COMMIT must still fail
                for key, value in list(self.session.items()):
                    if value is remote:
                        self.session.pop(key, None)
        elif remote is not None and remote.xact and remote.local:
            remote.aborted = text.splitlines()[0]
        elif remote is not None and remote.xact and not remote.local:
            remote.xact = False
            remote.scans = 0
            try:
                remote.execute("ROLLBACK")
            except psycopg.Error:
                pass
        prefix = f"{self.label}: {what}" + (" failed: " if what else "")
        return WrapperError(prefix + text, sqlstate=getattr(err, "sqlstate", None))

    def _run(self, query: Any, params: Any = None, what: str = "") -> psycopg.Cursor:
        remote = self.remote()
        try:
            return remote.execute(query, params)
        except psycopg.Error as err:
            raise self._fail(remote, err, what) from None

    def metadata(self) -> dict[str, _RemoteColumn]:
        """Remote columns by name, and the table's row count estimate, read once."""
        if self._meta is None:
            row = self._run(
                "SELECT c.oid, c.reltuples, c.relkind FROM pg_class c"
                " JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = %s AND c.relname = %s",
                (self.schema, self.remote_table),
            ).fetchone()
            if row is None:
                raise UndefinedObjectError(
                    f'foreign table "{self.table_name}": remote table'
                    f' "{self.schema}"."{self.remote_table}" does not exist on server'
                    f' "{self.server_name}"'
                )
            oid, reltuples, _relkind = row
            meta = {r[0]: _RemoteColumn(*r[1:]) for r in self._run(_COLUMNS_SQL, (oid,)).fetchall()}
            missing = [r for r in self.remote_names.values() if r not in meta]
            if missing:
                raise UndefinedObjectError(
                    f'foreign table "{self.table_name}": column "{missing[0]}" does not exist'
                    f' in remote table "{self.schema}"."{self.remote_table}" on server'
                    f' "{self.server_name}"'
                )
            self._reltuples = float(reltuples) if reltuples and reltuples > 0 else 1000.0
            self._meta = meta
        return self._meta

    def _kind(self, column: str) -> str:
        """How a column's values compare remotely; "other": only in Python."""
        kind = self._kinds.get(column)
        if kind is None:
            kind = "other"
            meta = self.metadata().get(self.remote_names[column])
            family = self.families[column]
            typ = meta.typname if meta else ""
            if family == "integer" and typ in ("int2", "int4", "int8"):
                kind = "int"
            elif family == "real" and typ in ("float4", "float8"):
                kind = "float"
            elif family == "numeric" and typ == "numeric":
                precision = ((meta.typmod - 4) >> 16) & 0xFFFF if meta.typmod >= 4 else 0
                kind = "numeric" if 0 < precision <= 15 else "other"
            elif family == "text" and typ in ("text", "varchar") and meta.deterministic:
                kind = "text"
            elif family == "boolean" and typ == "bool":
                kind = "bool"
            elif family in ("date", "timestamp", "timestamptz") and typ == family:
                kind = family
            elif family == "time" and typ == "time":
                kind = "time"
            elif family == "blob" and typ == "bytea":
                kind = "bytea"
            self._kinds[column] = kind
        return kind

    # ---------------------------------------------------------- planning

    def honours(self, qual: Qual) -> bool:
        if qual.column not in self.remote_names:
            return False
        if qual.operator in ("IS NULL", "IS NOT NULL"):
            return True
        kind = self._kind(qual.column)
        if qual.operator == "GLOB":
            return kind == "text" and _glob_to_like(qual.value) is not None
        if qual.operator == "LIKE":
            # Exact remotely for text patterns; other patterns are checked here.
            return kind == "text" or self.affinities[qual.column] == "text"
        return True  # sent when exact, else checked here with SQLite's rules

    def can_sort(self, sortkeys: list[SortKey]) -> bool:
        return all(
            k.column in self.remote_names and self._kind(k.column) in _SORTABLE for k in sortkeys
        )

    def can_limit(self) -> bool:
        return True

    def estimate(self, quals: list[Qual], columns: list[str]) -> tuple[float, float]:
        meta = self.metadata()
        rows = self._reltuples or 1000.0
        if self._bool("use_remote_estimate", False):
            known = [q for q in quals if q.value is not None or q.operator in ("IS NULL",)]
            plan = self._plan(known, columns, None, None, None)
            if not plan.local:
                query = sql.SQL("EXPLAIN (FORMAT JSON) ") + plan.query
                out = self._run(query, plan.params, "remote estimate").fetchone()[0]
                out = json.loads(out) if isinstance(out, str) else out  # json read as text
                rows = float(out[0]["Plan"]["Plan Rows"])
                quals = [q for q in quals if q not in known]
        for q in quals:
            col = meta.get(self.remote_names.get(q.column, ""))
            unique = col is not None and (col.unique or col.primary and self._pk_size() == 1)
            if q.operator in ("=", "IS") and unique:
                rows = min(rows, 1.0)
            elif q.operator == "IN" and unique:
                rows = min(rows, float(len(q.value or ()) or 10))
            elif q.operator in ("=", "IS", "IN"):
                rows /= 10
            elif q.operator in ("IS NULL",):
                rows /= 20
            elif q.operator != "IS NOT NULL":
                rows /= 3
        rows = max(rows, 1.0)
        startup = self._cost("fdw_startup_cost", DEFAULT_STARTUP_COST)
        return rows, startup + rows * (1.0 + self._cost("fdw_tuple_cost", 0.0))

    def _pk_size(self) -> int:
        return sum(1 for c in self.metadata().values() if c.primary)

    # -------------------------------------------------------------- reads

    def _value(self, column: str, raw: Any) -> Any:
        """A fetched value as SQLite will see it (the module's conversion)."""
        if raw is None:
            return None
        convert, natives = self._converters[column]
        return raw if type(raw) in natives else convert(raw)

    def _translate(self, q: Qual) -> tuple[sql.Composable, list[Any]] | None:
        """The exact remote condition for a qual, or None to check it here."""
        col: sql.Composable = _q(self.remote_names[q.column])
        op = q.operator
        if op in ("IS NULL", "IS NOT NULL"):
            return sql.SQL("{} " + op).format(col), []
        kind = self._kind(q.column)
        if op == "GLOB":
            pattern = _glob_to_like(q.value)
            if pattern is None:
                return None
            return sql.SQL("{} COLLATE \"C\" LIKE %s ESCAPE '\\'").format(col), [pattern]
        if op == "LIKE":
            if kind != "text" or not isinstance(q.value, str):
                return None
            return sql.SQL("{} COLLATE \"C\" ILIKE %s ESCAPE ''").format(col), [q.value]
        affinity = self.affinities[q.column]
        if op == "IN":
            if q.value is None:  # EXPLAIN before the list is known
                return sql.SQL("{} = ANY(%s)").format(col), [None]
            values = [_apply_affinity(affinity, v) for v in q.value]
            if kind == "bool":
                allowed = [b for b in (False, True) if _holds("IN", int(b), values)]
                return sql.SQL("{} = ANY(%s::bool[])").format(col), [allowed]
            pushed = []
            for v in values:
                if v is None:
                    continue
                ok, pv = _pg_value(kind, v)
                if not ok:
                    return None
                pushed.append(pv)
            if not pushed:
                return sql.SQL("FALSE"), []
            cast = sql.SQL(_ARRAY[kind])
            return sql.SQL("{} = ANY(%s::{})").format(col, cast), [pushed]
        value = _apply_affinity(affinity, q.value)
        if op in ("IS", "IS NOT") and value is None:
            return sql.SQL("{} " + ("IS NULL" if op == "IS" else "IS NOT NULL")).format(col), []
        if kind == "bool":
            if op in ("IS", "IS NOT"):
                equal = [b for b in (False, True) if _holds("=", int(b), value)]
                test = "IS TRUE" if op == "IS" else "IS NOT TRUE"
                return sql.SQL("({} = ANY(%s::bool[])) " + test).format(col), [equal]
            allowed = [b for b in (False, True) if _holds(op, int(b), value)]
            return sql.SQL("{} = ANY(%s::bool[])").format(col), [allowed]
        if kind == "timestamptz" and op in ("<", "<=", ">", ">=") and isinstance(value, str):
            if _TIMESTAMP.match(value):
                # Stored as this text plus "+00:00", which sorts after the bare
                # text of the same instant: > and >= mean >=, < and <= mean <.
                op = ">=" if op in (">", ">=") else "<"
                value += "+00:00"
        ok, pv = _pg_value(kind, value)
        if not ok:
            return None
        if op == "IS":
            op = "="
        if op == "IS NOT":
            op = "IS DISTINCT FROM"
        if kind == "text" and op in ("<", "<=", ">", ">="):
            return sql.SQL('{} COLLATE "C" ' + op + " %s").format(col), [pv]
        return sql.SQL("{} " + ("<>" if op == "!=" else op) + " %s").format(col), [pv]

    def _plan(self, quals, columns, sortkeys, limit, offset) -> _Plan:
        where: list[sql.Composable] = []
        params: list[Any] = []
        local: list[Qual] = []
        for q in quals:
            if not self.honours(q):
                continue  # SQLite checks it
            translated = self._translate(q)
            if translated is None:
                local.append(q)
            if translated is not None:
                where.append(translated[0])
                params.extend(translated[1])
        fetch = list(columns)
        for q in local:
            if q.column not in fetch:
                fetch.append(q.column)
        select = (
            sql.SQL(", ").join(_q(self.remote_names[c]) for c in fetch)
            if fetch
            else sql.SQL("NULL")
        )
        query = sql.SQL("SELECT {} FROM {}.{}").format(
            select, _q(self.schema), _q(self.remote_table)
        )
        if where:
            query += sql.SQL(" WHERE ") + sql.SQL(" AND ").join(where)
        if sortkeys:
            keys = []
            for k in sortkeys:
                collate = ' COLLATE "C"' if self._kind(k.column) == "text" else ""
                order = " DESC NULLS LAST" if k.descending else " ASC NULLS FIRST"
                keys.append(sql.SQL("{}" + collate + order).format(_q(self.remote_names[k.column])))
            query += sql.SQL(" ORDER BY ") + sql.SQL(", ").join(keys)
        remote_limit = not local and (limit is not None or offset is not None)
        if remote_limit:
            if limit is not None and limit >= 0:
                query += sql.SQL(" LIMIT %s")
                params.append(limit)
            if offset:
                query += sql.SQL(" OFFSET %s")
                params.append(max(offset, 0))
        point = any(self._is_point(q) for q in quals if q not in local and self.honours(q))
        if remote_limit and limit is not None and 0 <= limit + (offset or 0) <= self._fetch_size():
            point = True
        return _Plan(query, params, local, fetch, point, remote_limit, len(columns))

    def _is_point(self, q: Qual) -> bool:
        """A qual that selects at most one row per value: an equality on a key."""
        col = self.metadata().get(self.remote_names.get(q.column, ""))
        if col is None or not (col.unique or (col.primary and self._pk_size() == 1)):
            return False
        if q.operator in ("=", "IS"):
            return q.value is not None
        return q.operator == "IN" and len(q.value or ()) <= self._fetch_size()

    def _fetch_size(self) -> int:
        return self._int("fetch_size", DEFAULT_FETCH_SIZE)

    def scan(self, quals, columns, sortkeys=None, limit=None, offset=None):
        plan = self._plan(quals, columns, sortkeys, limit, offset)
        remote = self.remote()
        remote.flush()
        rows = self._rows(remote, plan)
        if plan.local:
            rows = self._filter(rows, plan)
            if not plan.remote_limit and (limit is not None or offset):
                stop = None if limit is None or limit < 0 else (offset or 0) + limit
                rows = itertools.islice(rows, max(offset or 0, 0), stop)
        return rows

    def _filter(self, rows: Iterator[tuple], plan: _Plan) -> Iterator[tuple]:
        checks = []
        for q in plan.local:
            at = plan.fetch.index(q.column)
            right = q.value
            if q.operator == "IN":
                right = [_apply_affinity(self.affinities[q.column], v) for v in right]
            elif q.operator != "LIKE":
                right = _apply_affinity(self.affinities[q.column], right)
            checks.append((at, q.column, q.operator, right))
        width = plan.width
        for row in rows:
            if all(_holds(op, self._value(c, row[at]), right) for at, c, op, right in checks):
                yield row[:width]

    def _rows(self, remote: _Remote, plan: _Plan) -> Iterator[tuple]:
        try:
            if plan.point:
                cur = remote.execute(plan.query, plan.params)
                rows = cur.fetchall()
                self._release(remote)
                return iter(rows) if plan.fetch else (() for _ in rows)
            return self._stream(remote, plan)
        except psycopg.Error as err:
            raise self._fail(remote, err, "scan") from None

    def _stream(self, remote: _Remote, plan: _Plan) -> Iterator[tuple]:
        counted = False
        name = f"sqlmed_c{next(remote.cursors)}"
        cur = remote.conn.cursor(name=name)
        cur.itersize = self._fetch_size()
        done = False
        try:
            remote.open_xact()
            if not remote.local:
                remote.scans += 1
                counted = True
            cur.execute(plan.query, plan.params)
            while True:
                batch = cur.fetchmany(cur.itersize)
                for row in batch:
                    yield row if plan.fetch else ()
                if len(batch) < cur.itersize:
                    break
            done = True
        except psycopg.Error as err:
            raise self._fail(remote, err, "scan") from None
        finally:
            if remote.valid:
                try:
                    cur.close()
                except psycopg.Error:
                    pass
                if counted:
                    try:
                        remote.end_scan()
                    except psycopg.Error as err:
                        if done:
                            raise self._fail(remote, err, "commit of read") from None
                    self._release(remote)

    def explain(self, quals, columns, sortkeys, limit, offset) -> str:
        plan = self._plan(quals, columns, sortkeys, limit, offset)
        text = plan.query.as_string(None)
        where = self.options.get("host", "localhost") + ":" + self.options.get("port", "5432")
        cursor = "client-side" if plan.point else f"cursor, fetch_size {self._fetch_size()}"
        note = f"  -- on server {self.server_name} ({where}/{self.options.get('dbname', '')})"
        note += f", {cursor}"
        if plan.local:
            note += "; checked locally: " + ", ".join(
                f"{q.column} {q.operator}" for q in plan.local
            )
        return text + note

    # ------------------------------------------------------------- writes

    def identity_columns(self) -> tuple[str, ...]:
        marked = tuple(
            name for name, col in self.columns.items() if parse_bool(col.options.get("key", "f"))
        )
        if marked:
            return marked
        meta = self.metadata()
        return tuple(name for name, remote in self.remote_names.items() if meta[remote].primary)

    def _out(self, column: str, value: Any) -> Any:
        """A local value as PostgreSQL should receive it."""
        if value is None:
            return None
        fix = self._out_fix(column)
        return value if fix is None else fix(value)

    def _out_fix(self, column: str) -> Callable[[Any], Any] | None:
        """The conversion a column's values need on their way out, if any: a
        number to a Boolean, a REAL to the exact decimal it prints as (psycopg
        would send a float8, which PostgreSQL rounds to 15 digits for a
        numeric), the JSON text of an array to a list (sent as an array)."""
        if self._kind(column) == "bool":
            return _out_bool
        meta = self.metadata().get(self.remote_names[column])
        typname = meta.typname if meta else ""
        if typname == "numeric":
            return _out_numeric
        if typname.startswith("_"):
            return _out_array
        return None

    def insert(self, values: dict[str, Any]) -> None:
        self.check_updatable("insert")
        remote = self.remote()
        batch = self._int("batch_size", 1)
        if batch <= 1:
            if remote.pending:
                remote.flush()
            self._send_inserts([values])
            return
        _wrapper, rows = remote.pending.setdefault(id(self), (self, []))
        rows.append(values)
        if len(rows) >= batch:
            remote.pending.pop(id(self), None)
            self._send_inserts(rows)

    def insert_many(self, rows: list[dict[str, Any]], on_conflict: str | None = None) -> None:
        """Send ``rows`` now, ``batch_size`` rows per remote INSERT, the
        statements pipelined.  Outside a remote transaction they run in one of
        their own, so that a failing row leaves none of them behind.
        ``on_conflict`` IGNORE sends ``ON CONFLICT DO NOTHING`` (as PostgreSQL's
        postgres_fdw does), REPLACE an upsert on the identity columns."""
        self.check_updatable("insert")
        if not rows:
            return
        remote = self.remote()
        own = not remote.xact
        if own:
            try:
                remote.open_xact()
            except psycopg.Error as err:
                raise self._fail(remote, err, "insert") from None
        try:
            if remote.pending:
                remote.flush()  # rows that insert() held back go first
            self._send_inserts(rows, on_conflict)
            if own:
                remote.xact = False
                try:
                    remote.execute("COMMIT")
                except psycopg.Error as err:
                    raise self._fail(remote, err, "insert") from None
        finally:
            if own:
                self._release(remote)

    def _send_inserts(self, rows: list[dict[str, Any]], on_conflict: str | None = None) -> None:
        """INSERT ``rows`` (dicts by local column name), ``batch_size`` per
        statement: full batches go as one executemany of a multi-row INSERT
        (psycopg pipelines it and prepares the statement), the rest as one
        more statement.  Rows are grouped by the columns they name."""
        if not rows:
            return
        remote = self.remote()
        batch = self._int("batch_size", 1)
        try:
            start = 0
            while start < len(rows):
                names = tuple(rows[start])
                stop = start + 1
                while stop < len(rows) and tuple(rows[stop]) == names:
                    stop += 1
                self._insert_group(remote, names, rows[start:stop], batch, on_conflict)
                start = stop
        except psycopg.Error as err:
            raise self._fail(remote, err, "insert") from None

    def _insert_group(
        self,
        remote: _Remote,
        names: tuple[str, ...],
        rows: list[dict[str, Any]],
        batch: int,
        on_conflict: str | None = None,
    ) -> None:
        size = max(1, min(batch, _MAX_PARAMS // len(names))) if names else 1
        row_params = self._row_params(names)
        full, rest = divmod(len(rows), size)
        cur = remote.conn.cursor()
        if size == 1:
            chunks = list(map(row_params, rows))
        else:
            flat = itertools.chain.from_iterable
            chunks = [
                list(flat(map(row_params, rows[i : i + size]))) for i in range(0, len(rows), size)
            ]
        if len(chunks) == 1:
            cur.execute(self._insert_sql(names, len(rows), on_conflict), chunks[0])
            return
        # One round trip for every statement where libpq can pipeline (14+).
        pipeline = remote.conn.pipeline() if _PIPELINE else contextlib.nullcontext()
        with pipeline:
            cur.executemany(self._insert_sql(names, size, on_conflict), chunks[:full])
            if rest:
                cur.execute(self._insert_sql(names, rest, on_conflict), chunks[-1])

    def _insert_sql(
        self, names: tuple[str, ...], count: int, on_conflict: str | None = None
    ) -> bytes:
        query = self._insert_cache.get((names, count, on_conflict))
        if query is None:
            target = sql.SQL("INSERT INTO {}.{}").format(_q(self.schema), _q(self.remote_table))
            if names:
                cols = sql.SQL(", ").join(_q(self.remote_names[n]) for n in names)
                one = "(" + ", ".join(["%s"] * len(names)) + ")"
                values = sql.SQL(", ".join([one] * count))
                composed = target + sql.SQL(" ({}) VALUES ").format(cols) + values
            else:
                composed = target + sql.SQL(" DEFAULT VALUES")
            composed += self._on_conflict_sql(names, on_conflict)
            query = self._insert_cache[(names, count, on_conflict)] = composed.as_bytes(None)
        return query

    def _on_conflict_sql(self, names: tuple[str, ...], on_conflict: str | None) -> sql.Composable:
        if on_conflict is None:
            return sql.SQL("")
        if on_conflict == "IGNORE":
            return sql.SQL(" ON CONFLICT DO NOTHING")
        keys = self.identity_columns()
        if not keys:
            raise FeatureNotSupportedError(
                f'INSERT OR REPLACE into foreign table "{self.table_name}" needs the remote'
                " table's primary key (or columns marked key 'true')"
            )
        changed = [n for n in names if n not in keys]
        target = sql.SQL(", ").join(_q(self.remote_names[k]) for k in keys)
        if not changed:
            return sql.SQL(" ON CONFLICT ({}) DO NOTHING").format(target)
        sets = sql.SQL(", ").join(
            sql.SQL("{} = EXCLUDED.{}").format(_q(self.remote_names[n]), _q(self.remote_names[n]))
            for n in changed
        )
        return sql.SQL(" ON CONFLICT ({}) DO UPDATE SET {}").format(target, sets)

    def _row_params(self, names: tuple[str, ...]) -> Callable[[dict[str, Any]], Any]:
        """A row's parameters, in ``names`` order, converted as ``_out`` converts."""
        if not names:
            return lambda row: ()
        get = operator.itemgetter(*names) if len(names) > 1 else lambda row: (row[names[0]],)
        fixes = [(i, f) for i, n in enumerate(names) if (f := self._out_fix(n)) is not None]
        if not fixes:
            return get

        def params(row: dict[str, Any]) -> list[Any]:
            values = list(get(row))
            for i, fix in fixes:
                if values[i] is not None:
                    values[i] = fix(values[i])
            return values

        return params

    def _key_clause(self, identity: dict[str, Any]) -> tuple[sql.Composable, list[Any]]:
        parts = [sql.SQL("{} = %s").format(_q(self.remote_names[k])) for k in identity]
        return sql.SQL(" AND ").join(parts), list(identity.values())

    def update(self, identity: dict[str, Any], values: dict[str, Any]) -> None:
        self.check_updatable("update")
        self.remote().flush()
        sets = sql.SQL(", ").join(
            sql.SQL("{} = %s").format(_q(self.remote_names[n])) for n in values
        )
        where, params = self._key_clause(identity)
        query = sql.SQL("UPDATE {}.{} SET {} WHERE {}").format(
            _q(self.schema), _q(self.remote_table), sets, where
        )
        self._run(query, [self._out(n, v) for n, v in values.items()] + params, "update")

    def delete(self, identity: dict[str, Any]) -> None:
        self.check_updatable("delete")
        self.remote().flush()
        where, params = self._key_clause(identity)
        query = sql.SQL("DELETE FROM {}.{} WHERE {}").format(
            _q(self.schema), _q(self.remote_table), where
        )
        self._run(query, params, "delete")

    # ------------------------------------------------------- transactions

    def _existing(self) -> _Remote | None:
        return self.session.get(self._session_key())

    def begin(self) -> None:
        remote = self.remote()
        try:
            remote.open_xact()
        except psycopg.Error as err:
            raise self._fail(remote, err, "begin") from None
        remote.local = True

    def pre_commit(self) -> None:
        remote = self._existing()
        if remote is None:
            return
        if remote.pending and not remote.aborted:
            remote.flush()
        if remote.xact and remote.local:
            remote.xact = remote.local = False
            remote.savepoints.clear()
            aborted, remote.aborted = remote.aborted, None
            try:
                status = remote.execute("ROLLBACK" if aborted else "COMMIT").statusmessage
            except psycopg.Error as err:
                raise self._fail(remote, err, "remote COMMIT") from None
            if aborted or status != "COMMIT":
                raise WrapperError(
                    f'remote COMMIT failed on server "{self.server_name}": the remote'
                    f" transaction was rolled back ({aborted or status})"
                )

    def commit(self) -> None:
        self.pre_commit()
        self._after_transaction()

    def rollback(self) -> None:
        remote = self._existing()
        if remote is None:
            return
        remote.pending.clear()
        remote.aborted = None
        if remote.xact and remote.local:
            remote.xact = remote.local = False
            remote.savepoints.clear()
            remote.scans = 0
            try:
                remote.execute("ROLLBACK")
            except psycopg.Error:
                # The connection is gone, and the remote transaction with it.
                self._fail(remote, psycopg.OperationalError("rollback"))
        self._after_transaction()

    def _after_transaction(self) -> None:
        remote = self._existing()
        if remote is not None:
            self._release(remote)

    def _release(self, remote: _Remote) -> None:
        """keep_connections 'false': close the connection once no transaction
        and no read uses it, as PostgreSQL closes it at transaction end."""
        if remote.keep or remote.xact or remote.scans or remote.closed:
            return
        key = self._session_key()
        if self.session.get(key) is remote:
            self.session.pop(key, None)
        remote.close()

    def _savepoint_sql(self, verb: str, level: int) -> None:
        remote = self._existing()
        if remote is None or not (remote.xact and remote.local):
            return
        try:
            remote.flush()
            remote.execute(f"{verb} sqlmed_sp{int(level)}")
        except psycopg.Error as err:
            raise self._fail(remote, err, verb.lower()) from None

    def savepoint(self, level: int) -> None:
        remote = self._existing()
        if remote is not None and remote.xact and remote.local and level not in remote.savepoints:
            self._savepoint_sql("SAVEPOINT", level)
            remote.savepoints.append(level)

    def release(self, level: int) -> None:
        remote = self._existing()
        if remote is not None and level in remote.savepoints:
            self._savepoint_sql("RELEASE SAVEPOINT", level)
            del remote.savepoints[remote.savepoints.index(level) :]

    def rollback_to(self, level: int) -> None:
        remote = self._existing()
        if remote is not None and level in remote.savepoints:
            remote.pending.clear()
            aborted, remote.aborted = remote.aborted, None
            try:
                self._savepoint_sql("ROLLBACK TO SAVEPOINT", level)
            except WrapperError:
                remote.aborted = aborted
                raise
            del remote.savepoints[remote.savepoints.index(level) + 1 :]

    # ------------------------------------------------------------- import

    @classmethod
    def sql_functions(cls) -> dict[str, tuple[Any, int]]:
        return {
            "postgres_fdw_get_connections": (_get_connections_json, 0),
            "postgres_fdw_disconnect": (lambda conn, server: int(disconnect(conn, server)), 1),
            "postgres_fdw_disconnect_all": (lambda conn: int(disconnect_all(conn)), 0),
        }

    @classmethod
    def import_schema(
        cls,
        schema,
        server_options,
        user_options,
        options,
        restriction_type,
        restricts,
        *,
        database_path: str = "",
    ) -> list[TableDefinition]:
        import_default = parse_bool(options.get("import_default", "false"))
        import_not_null = parse_bool(options.get("import_not_null", "true"))
        unknown = set(options) - {"import_default", "import_not_null", "import_collate"}
        if unknown:
            raise InvalidOptionError(
                f'invalid option "{sorted(unknown)[0]}" for IMPORT FOREIGN SCHEMA',
                hint="Valid options are: import_collate, import_default, import_not_null",
            )
        merged = {**server_options, **user_options}
        remote = _connect("(import)", merged)
        try:
            found = remote.execute(
                "SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)
            ).fetchone()
            if found is None:
                raise UndefinedObjectError(f'schema "{schema}" is not present on foreign server')
            query = """
                SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod),
                       a.attnotnull, pg_get_expr(d.adbin, d.adrelid),
                       coalesce(a.attnum = ANY(i.indkey), false)
                FROM pg_class c
                JOIN pg_namespace n ON n.oid = c.relnamespace
                LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0
                     AND NOT a.attisdropped
                LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
                LEFT JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary
                WHERE n.nspname = %s AND c.relkind IN ('r', 'v', 'f', 'm', 'p')
                  AND NOT c.relispartition
            """
            params: list[Any] = [schema]
            if restriction_type == "LIMIT TO":
                query += " AND c.relname = ANY(%s)"
                params.append(list(restricts))
            elif restriction_type == "EXCEPT" and restricts:
                query += " AND NOT (c.relname = ANY(%s))"
                params.append(list(restricts))
            query += " ORDER BY c.relname, a.attnum"
            tables: dict[str, TableDefinition] = {}
            rows = remote.execute(query, params)
            for relname, attname, formatted, notnull, default, key in rows:
                table = tables.setdefault(
                    relname,
                    TableDefinition(relname, [], {"schema_name": schema, "table_name": relname}),
                )
                if attname is None:
                    continue
                table.columns.append(
                    ColumnDefinition(
                        attname,
                        local_type(formatted),
                        {"column_name": attname, **({"key": "true"} if key else {})},
                        not_null=bool(notnull) and import_not_null,
                        default=default if import_default else None,
                    )
                )
            return list(tables.values())
        except psycopg.Error as err:
            secrets = [merged.get(k, "") for k in ("password", "sslpassword")]
            raise WrapperError(
                f'IMPORT FOREIGN SCHEMA "{schema}": {_scrub(str(err), secrets)}'
            ) from None
        finally:
            remote.close()


@dataclass
class _Plan:
    query: sql.Composable
    params: list[Any]
    local: list[Qual]
    fetch: list[str]
    point: bool
    remote_limit: bool
    width: int


#: PostgreSQL types (format_type spelling, without modifiers) whose declared
#: name means the same to vtables.types; anything else is imported as text.
_KEPT_TYPES = {
    "smallint",
    "integer",
    "bigint",
    "real",
    "double precision",
    "numeric",
    "text",
    "character varying",
    "character",
    "boolean",
    "date",
    "timestamp without time zone",
    "timestamp with time zone",
    "time without time zone",
    "time with time zone",
    "bytea",
    "json",
    "jsonb",
    "uuid",
}


def local_type(formatted: str) -> str:
    """A declared local type for a PostgreSQL type (``format_type`` output)."""
    if formatted.endswith("[]"):
        return formatted  # arrays arrive as lists, stored as JSON
    base = re.sub(r"\(.*?\)", "", formatted).strip()
    return formatted if base in _KEPT_TYPES else "text"


def _pg_value(kind: str, v: Any) -> tuple[bool, Any]:
    """The parameter that makes PostgreSQL compare a column of this kind with
    ``v`` exactly as SQLite compares it, if there is one."""
    if v is None:
        return True, None
    if kind == "int":
        if isinstance(v, int):
            return True, v
        if isinstance(v, float) and v.is_integer() and abs(v) < 2**63:
            return True, int(v)
    elif kind == "float":
        if isinstance(v, float):
            return True, v
        if isinstance(v, int) and abs(v) <= 2**53:
            return True, float(v)
    elif kind == "numeric":
        # numeric(p <= 15) against float8: PostgreSQL casts the column to float8,
        # which is what SQLite compares too (the module stores it as REAL).
        if isinstance(v, float):
            return True, v
        if isinstance(v, int) and abs(v) <= 2**53:
            return True, float(v)
    elif kind == "text":
        if isinstance(v, str):
            return True, v
    elif kind == "date":
        if isinstance(v, str) and _DATE.match(v):
            try:
                return True, dt.date.fromisoformat(v)
            except ValueError:
                pass
    elif kind == "timestamptz":  # stored as UTC text ending in "+00:00"
        if isinstance(v, str) and v.endswith("+00:00") and _TIMESTAMP.match(v[:-6]):
            try:
                return True, dt.datetime.fromisoformat(v)
            except ValueError:
                pass
    elif kind == "timestamp":
        if isinstance(v, str) and _TIMESTAMP.match(v):
            try:
                d = dt.datetime.fromisoformat(v)
            except ValueError:
                pass
            else:
                return True, d
    elif kind == "time":
        if isinstance(v, str) and _TIME.match(v):
            try:
                return True, dt.time.fromisoformat(v)
            except ValueError:
                pass
    elif kind == "bytea":
        if isinstance(v, bytes):
            return True, v
    return False, None


def _out_bool(value: Any) -> Any:
    return bool(value) if value.__class__ in (int, float) else value


def _out_numeric(value: Any) -> Any:
    return decimal.Decimal(repr(value)) if value.__class__ is float else value


def _out_array(value: Any) -> Any:
    """The JSON text an array column reads as (a JSON array) back to a list;
    other text (PostgreSQL's ``{1,2}`` literal) goes as it is."""
    if value.__class__ is str and value.lstrip().startswith("["):
        try:
            out = json.loads(value)
        except ValueError:
            return value
        if isinstance(out, list):
            return out
    return value


def _glob_to_like(pattern: Any) -> str | None:
    """SQLite's GLOB pattern as a LIKE pattern (escape ``\\``), if one says the same."""
    if not isinstance(pattern, str) or "[" in pattern:
        return None
    out = []
    for ch in pattern:
        if ch == "*":
            out.append("%")
        elif ch == "?":
            out.append("_")
        elif ch in "%_\\":
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


def _connect(server: str, options: dict[str, str]) -> _Remote:
    check_server_options(options, server)  # a file written by someone else
    params = PostgresFdw.connection_params(options)
    keep = parse_bool(options.get("keep_connections", "true"))
    where = (
        f"{options.get('host') or options.get('hostaddr') or 'localhost'}:"
        f"{options.get('port', '5432')}"
    )
    who = f'database "{options.get("dbname", "")}" as user "{options.get("user", "")}"'
    try:
        remote = _Remote(server, params, keep)
    except psycopg.Error as err:
        message = f'could not connect to server "{server}" ({where}, {who}): {str(err).strip()}'
        secrets = [options.get(k, "") for k in ("password", "sslpassword")]
        raise WrapperError(_scrub(message, secrets)) from None
    if parse_bool(options.get("password_required", "false")) and not (
        remote.conn.pgconn.used_password
    ):
        remote.close()
        raise WrapperError(
            f'password is required for server "{server}"',
            detail="The remote server did not ask for the user mapping's password.",
            hint="Set password_required 'false' in the user mapping, or use a password.",
        )
    return remote


# ------------------------------------------------- connections, from Python


def _remote_state(owner: Any) -> dict[str, dict[str, Any]]:
    """The per-server state of a session (what SQL functions are given) or of
    a connection's session."""
    return getattr(owner, "session", owner).remote


def _remotes(conn: Any) -> Iterator[tuple[str, str, _Remote]]:
    for server, state in list(_remote_state(conn).items()):
        for key, value in list(state.items()):
            if isinstance(value, _Remote):
                yield server, key, value


def get_connections(conn: Any) -> list[tuple[str, bool]]:
    """(server name, valid) for each open postgres_fdw connection of ``conn``."""
    return [(server, remote.valid) for server, _key, remote in _remotes(conn)]


def disconnect(conn: Any, server: str) -> bool:
    """Close the connections to ``server`` that are not in a transaction."""
    closed = False
    for name, key, remote in _remotes(conn):
        if name == server and not remote.xact:
            _remote_state(conn)[name].pop(key, None)
            remote.close()
            closed = True
    return closed


def disconnect_all(conn: Any) -> bool:
    """Close every postgres_fdw connection of ``conn`` not in a transaction."""
    closed = False
    for name, _key, _remote in list(_remotes(conn)):
        closed = disconnect(conn, name) or closed
    return closed


def _get_connections_json(conn: Any) -> str:
    return json.dumps([{"server_name": s, "valid": v} for s, v in get_connections(conn)])


def register_functions(conn: Any) -> None:
    """Install the SQL functions on ``conn`` (CREATE EXTENSION postgres_fdw, and
    opening a database that has it, already do)."""
    conn.install_functions("postgres_fdw")
