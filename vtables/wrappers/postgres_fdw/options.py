"""postgres_fdw's options: which object takes which, and their values read as
PostgreSQL 15's postgres_fdw reads them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ...errors import (
    InvalidOptionError,
)
from ...wrapper import (
    KIND_NAMES,
    OptionSpec,
)

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


#: Default rows per FETCH.  postgres_fdw uses 100; a round trip costs far more
#: than 1000 typical rows of memory (~100 kB), so scans here fetch 1000.
DEFAULT_FETCH_SIZE = 1000


#: Cost of starting a foreign scan, on SQLite's scale (one row read costs 1).
DEFAULT_STARTUP_COST = 50.0


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


def connection_params(options: Mapping[str, str]) -> dict[str, Any]:
    """libpq's keyword arguments for these merged options."""
    params: dict[str, Any] = {k: options[k] for k in LIBPQ_SERVER_OPTIONS if k in options}
    params.update({k: options[k] for k in _USER_LIBPQ if k in options})
    params.setdefault("fallback_application_name", "sqlmed_postgres_fdw")
    return params


OPTION_SPECS: tuple[OptionSpec, ...] = (
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
        "statement_pushdown",
        {"server", "table"},
        True,
        "false keeps joins, aggregates and sorts over this server's tables in SQLite"
        " (each table is still scanned with its own pushdown; the table's wins).",
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
    OptionSpec("table_name", {"table"}, doc="Remote table name (default: the foreign table's)."),
    OptionSpec("column_name", {"column"}, doc="Remote column name."),
    OptionSpec(
        "key",
        {"column"},
        bool,
        doc="Not in PostgreSQL (which uses ctid): true marks the columns that identify"
        " a row for UPDATE and DELETE; default: the remote primary key.",
    ),
)


def validate(
    specs: Mapping[str, OptionSpec], kind: str, options: Mapping[str, str], object_name: str
) -> None:
    """postgres_fdw's own checks of one object's options (``specs``: its kind's),
    before the generic ones: connection strings refused, values read as
    PostgreSQL reads them and refused with its SQLSTATE."""
    if kind == "server":  # before the generic checks, which print bad values
        check_server_options(dict(options), object_name)
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
