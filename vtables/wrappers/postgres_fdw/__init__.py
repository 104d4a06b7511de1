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

from typing import Any

from ... import semantics, types
from ...wrapper import ColumnDefinition
from .catalog import local_type
from .connection import (
    _get_connections_json,
    disconnect,
    disconnect_all,
    get_connections,
    register_functions,
)
from .options import (
    DEFAULT_FETCH_SIZE,
    DEFAULT_STARTUP_COST,
    LIBPQ_SERVER_OPTIONS,
    OPTION_SPECS,
    PgOption,
    check_server_options,
    connection_params,
    extension_list,
    pg_bool,
    pg_int,
    pg_real,
    validate,
)
from .writes import WritableTable

__all__ = [
    "DEFAULT_FETCH_SIZE",
    "DEFAULT_STARTUP_COST",
    "LIBPQ_SERVER_OPTIONS",
    "PgOption",
    "PostgresFdw",
    "check_server_options",
    "connection_params",
    "disconnect",
    "disconnect_all",
    "extension_list",
    "get_connections",
    "local_type",
    "pg_bool",
    "pg_int",
    "pg_real",
    "register_functions",
]


class PostgresFdw(WritableTable):
    name = "postgres_fdw"

    version = "1.0"

    conflict_modes = frozenset({"IGNORE", "REPLACE"})
    option_specs = OPTION_SPECS

    @classmethod
    def validate(cls, kind, options, *, object_name):
        validate(cls.specs_for(kind), kind, options, object_name)
        super().validate(kind, options, object_name=object_name)

    connection_params = staticmethod(connection_params)

    def __init__(self, options: dict[str, str], columns: dict[str, ColumnDefinition]):
        super().__init__(options, columns)
        self.affinities = {name: semantics.affinity(col.type) for name, col in columns.items()}
        self.families = {name: types.family(col.type) for name, col in columns.items()}
        self._converters = {
            name: (types.converter(col.type), types.native_types(col.type))
            for name, col in columns.items()
        }
        self._kinds = {}
        self._idents = {}
        self._insert_cache = {}

    @classmethod
    def sql_functions(cls) -> dict[str, tuple[Any, int]]:
        return {
            "postgres_fdw_get_connections": (_get_connections_json, 0),
            "postgres_fdw_disconnect": (lambda conn, server: int(disconnect(conn, server)), 1),
            "postgres_fdw_disconnect_all": (lambda conn: int(disconnect_all(conn)), 0),
        }
