"""The statement planner: the parts of a statement one SQL server can answer
exactly, sent to it as one query each.

Before SQLite prepares a statement that names foreign tables, the planner
looks for query blocks (the whole SELECT, the SELECT of an INSERT or a
CREATE TABLE ... AS, and every parenthesised SELECT: subqueries, derived
tables, CTE bodies) whose tables all belong to one server reached with one
user mapping, and whose every clause is on the allow-list
(``statements.translate``).  Each such block, outermost first, is replaced in
the statement's text by a call of a table that runs it remotely
(``statements.query``); the rest of the statement runs in SQLite as before.

A statement is planned once per text: the result is kept until the catalog,
the user or the switch changes.  ``Planned.blocks`` is what EXPLAIN shows.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import apsw
import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from .. import catalog, sqltext
from ..errors import FeatureNotSupportedError, SQLMedError
from ..remotesql import Aggregator, RemoteSQL, sqlite_columns
from ..wrapper import ForeignDataWrapper, Qual
from . import aggregates, cursor, escape, fromlist, hold, names, partial, views
from .blocks import Block, Output, Pushed, column_decoder
from .query import QueryModule
from .translate import NotPushable

if TYPE_CHECKING:
    from ..session import Session

logger = logging.getLogger(__name__)

_CACHE_SIZE = 1024
_VERSIONS = (
    "SELECT (SELECT token FROM main.sqlmed_generation),"
    " (SELECT schema_version FROM main.pragma_schema_version)"
)
#: a result the source expects at most this many rows of is read at once
_SMALL_ROWS = 10_000
_JOINS = re.compile(r"\bjoin\b|,", re.IGNORECASE)
_MODULES_MAX = 4096
_WORD = views.WORD
_SERIAL = re.compile(r":sqlmed_p\d+")


@dataclass
class PushedBlock:
    """One block sent to a server, as EXPLAIN shows it."""

    tables: list[str]
    where: str
    remote_sql: str
    module: QueryModule
    #: how EXPLAIN names the text: the SQL sent, or a wrapper's request
    label: str = "Remote SQL"


@dataclass
class Planned:
    """A statement as SQLite runs it, and what was pushed."""

    text: str
    blocks: list[PushedBlock] = field(default_factory=list)
    #: why the blocks that were looked at stayed local
    kept: list[str] = field(default_factory=list)
    #: foreign tables read once into a CTE (``statements.hold``)
    held: list[str] = field(default_factory=list)


@dataclass
class _Span:
    start: int  # token numbers, end excluded
    end: int


class Planner:
    """A connection's statement planner."""

    def __init__(self, session: Session):
        self.session = session
        #: statement pushdown on for this connection
        self.enabled = True
        #: (text, whether the switch was on) -> its plan
        self._cache: dict[tuple[str, bool], Planned | None] = {}
        self._token: Any = None
        self._names: set[str] = set()
        #: foreign tables of other wrappers: a statement joining them is planned
        self._others: set[str] = set()
        #: views of the main schema over foreign tables of SQL servers: their text
        self._views: dict[str, str] = {}
        #: foreign tables whose wrapper answers aggregates itself
        self._aggregating: set[str] = set()
        #: the names of the connection's query tables begin so (no file can know them)
        self.prefix = f"sqlmed_q_{secrets.token_hex(6)}_"
        self._modules = 0
        self._busy = False  # planning: the statements it runs are not planned

    # -------------------------------------------------------- the router's

    def _valid(self) -> None:
        """Forget the plans and names when the catalog, user or switch moved."""
        busy, self._busy = self._busy, True
        try:
            db = self.session.db
            # a temp table or view made since may shadow a foreign table; a
            # view made since may read foreign tables
            try:
                generation, schema = db.execute(_VERSIONS).fetchone() or (None, 0)
            except apsw.SQLError:  # no catalog yet
                generation, schema = None, 0
            (temp,) = db.execute("PRAGMA temp.schema_version").fetchone() or (0,)
            token = (generation, schema, self.session.user, temp)
            if token != self._token:
                self._cache.clear()
                self._token = token
                self._aggregating = set()
                self._names, self._others = self._tables()
                self._views = views.over(db, self._names) if self._names else {}
        finally:
            self._busy = busy

    def _tables(self) -> tuple[set[str], set[str]]:
        """The foreign tables (lower-case names) whose wrapper speaks SQL, and
        the others."""
        db = self.session.db
        if not catalog.exists(db):
            return set(), set()
        found: tuple[set[str], set[str]] = (set(), set())
        classes: dict[str, tuple[bool, bool]] = {}
        try:
            tables = catalog.list_tables(db)
        except SQLMedError:  # a damaged catalog: its statements stay as written
            return set(), set()
        for table in tables:
            if table.server not in classes:
                classes[table.server] = self._speaks(table.server)
            sql, aggregates = classes[table.server]
            found[0 if sql else 1].add(table.name.lower())
            if aggregates:
                self._aggregating.add(table.name.lower())
        return found

    def _speaks(self, server_name: str) -> tuple[bool, bool]:
        """Whether a server's wrapper speaks SQL, and whether it has its own aggregates."""
        db = self.session.db
        try:
            server = catalog.get_server(db, server_name)
            fdw = catalog.get_wrapper(db, server.fdw) if server is not None else None
            if fdw is None:
                return False, False
            cls = self.session.handler_class(fdw)
        except SQLMedError:  # damaged, or not installed here: its tables will say so
            return False, False
        return (
            cls.remote_sql is not ForeignDataWrapper.remote_sql,
            cls.aggregator is not ForeignDataWrapper.aggregator,
        )

    def route(self, sql: str) -> str | None:
        """What the router runs for ``sql``: None when it names no foreign table
        of a SQL server (a plain text), else the planned text or ``sql`` itself."""
        if self._busy:
            return None
        self._valid()
        if not self._mentions(sql):
            return None
        key = (sql, self.enabled)
        planned = self._cache[key] if key in self._cache else self.planned(sql, checked=True)
        return sql if planned is None else planned.text

    def names_foreign_table(self, sql: str) -> bool:
        """Whether ``sql`` may name a foreign table (cheap: its words).  False
        for the statements the planner itself runs meanwhile."""
        if self._busy:
            return False
        self._valid()
        return self._mentions(sql)

    def _mentions(self, sql: str) -> bool:
        """It names a foreign table of a SQL server, joins another's, or calls
        sqlmed_query()."""
        if not self.enabled:
            return escape.NAME in sql.lower() and escape.NAME in (
                w.lower() for w in _WORD.findall(sql)
            )
        if not (self._names or self._others or self._aggregating or self._views) and (
            escape.NAME not in sql.lower()
        ):
            return False
        joins = _JOINS.search(sql) is not None
        for word in _WORD.findall(sql):
            if word[0] in '"`[':
                word = word[1:-1].replace('""', '"')
            word = word.lower()
            if (
                word in self._names
                or word in self._views
                or word in self._aggregating
                or (joins and word in self._others)
                or word == escape.NAME
            ):
                return True
        return False

    def planned(self, sql: str, checked: bool = False) -> Planned | None:
        """The statement to run instead of ``sql``, None to run it as it is
        (``checked``: the caller just made sure the cache holds).  With the
        switch off, only ``sqlmed_query()`` calls are replaced."""
        if not checked:
            self._valid()
        key = (sql, self.enabled)
        if key in self._cache:
            return self._cache[key]
        self._busy = True
        try:
            result = self._plan(sql)
        except SQLMedError:
            raise
        except (SqlglotError, NotPushable, apsw.Error, RecursionError) as err:
            logger.debug("statement pushdown: not planned (%s)", err)
            result = None
        except Exception:  # a planner defect: the statement runs as written
            logger.warning("statement pushdown: not planned (planner error)", exc_info=True)
            result = None
        finally:
            self._busy = False
        if len(self._cache) >= _CACHE_SIZE:
            self._cache.clear()
        self._cache[key] = result
        return result

    # -------------------------------------------------------- planning

    def _plan(self, sql: str) -> Planned | None:
        if sqltext.statement_count(sql) != 1:
            return None
        toks = sqltext.tokens(sql)
        params = _Params(toks)
        if params.mixed:
            return None
        tree = sqlglot.parse_one(params.text(toks, 0, len(toks)), read="sqlite")
        ctes = {cte.alias.lower() for cte in tree.find_all(exp.CTE)}
        temp = {
            r[0].lower()
            for r in apsw.Cursor(self.session.db).execute("SELECT name FROM temp.sqlite_master")
        }
        lookups: dict[str, tuple[catalog.ForeignTable, RemoteSQL] | None] = {}

        def lookup(name: str) -> tuple[catalog.ForeignTable, RemoteSQL] | None:
            key = name.lower()
            if key in ctes or key in temp:
                return None
            if key not in lookups:
                lookups[key] = self._remote(name)
            return lookups[key]

        def aggregator(name: str) -> tuple[catalog.ForeignTable, Aggregator] | None:
            key = name.lower()
            if key in ctes or key in temp or key not in self._aggregating:
                return None
            table = catalog.get_table(self.session.db, name)
            found = self.session.wrapper_for(name)[0].aggregator() if table else None
            return None if found is None or table is None else (table, found)

        def shadowed(name: str) -> bool:
            return name.lower() in ctes or name.lower() in temp

        planned = Planned(sql)
        if not _reads(tree):  # a view or trigger keeps its text: nothing to replace
            return None
        replaced: list[tuple[_Span, str]] = [
            (_Span(call.start, call.end), self._escape(call, planned))
            for call in escape.calls(toks)
        ]
        for span in _spans(toks, tree) if self.enabled else ():  # type: ignore[arg-type]
            if any(
                s.start <= span.start < s.end or span.start <= s.start < span.end
                for s, _t in replaced
            ):
                continue
            try:
                text = self._push(toks, params, span, (lookup, aggregator, shadowed), planned)
            except NotPushable as why:
                planned.kept.append(str(why))
                continue
            replaced.append((span, text))
        if self.enabled and self._views and not isinstance(tree, exp.Delete):
            replaced.extend(self._read_views(toks, tree, lookup, planned, replaced))  # type: ignore[arg-type]
        if replaced:
            planned.text = params.rewrite(toks, replaced)
        local = lambda name: name.lower() in ctes or name.lower() in temp  # noqa: E731
        held = self.enabled and self._hold(planned, local)
        if not (replaced or held):
            return None
        if not isinstance(tree, (exp.Insert, exp.Update, exp.Delete)):
            named = names.kept(self.session.db, sql, planned.text, sqlite_columns)
            if named is None:
                return None  # its result's names would change: run it as written
            planned.text = named
        return planned

    def _read_views(
        self,
        toks: list[sqltext.Token],
        tree: exp.Expression,
        lookup: Callable[[str], Any],
        planned: Planned,
        replaced: list[tuple[_Span, str]],
    ) -> list[tuple[_Span, str]]:
        """Each reference to a view one server answers whole, as the call of
        its query table (``statements.views``)."""
        named = {v: sql for v, sql in self._views.items() if lookup(v) is None}
        refs = hold.references(toks, set(named))
        out: list[tuple[_Span, str]] = []
        calls: dict[str, str | None] = {}
        for start, end, name, alias in refs:
            if any(s.start <= start < s.end for s, _t in replaced):
                continue
            if name not in calls:
                calls[name] = self._view_call(named[name], name, tree, lookup, planned)
            call = calls[name]
            if call is not None:
                written = toks[end - 1].text
                out.append((_Span(start, end), call if alias else f"{call} AS {written}"))
        return out

    def _view_call(
        self,
        sql: str,
        name: str,
        tree: exp.Expression,
        lookup: Callable[[str], Any],
        planned: Planned,
    ) -> str | None:
        view = views.parse(name, sql)
        if view is None:
            return None
        try:
            pushed = Block(view.body, lookup, _no_arguments, text=sql).push()
        except NotPushable as why:
            planned.kept.append(f'view "{name}": {why}')
            return None
        source = f"main.{sqltext.quote_name(name)}"
        described = sqlite_columns(self.session.db, f"SELECT * FROM {source}")
        if len(described) != len(pushed.outputs):
            return None
        for out, (column, decltype) in zip(pushed.outputs, described, strict=True):
            out.name, out.decltype = column, decltype or ""
        pushed.text = pushed.query.sql(dialect=pushed.remote.dialect)
        values = {f"p{i}": p.value for i, p in enumerate(pushed.params)}
        if not pushed.small:
            pushed.rows = pushed.remote.rows(pushed.text, values)
        few = pushed.rows is not None and pushed.rows <= _SMALL_ROWS
        if views.constrained(tree, name) and not (views.aggregates(view.body) or few):
            planned.kept.append(f'view "{name}": SQLite may probe its tables by key')
            return None
        pushed.small = pushed.small or few
        qname, module = self._register(pushed, 0, f"SELECT * FROM {source}")
        planned.blocks.append(
            PushedBlock(pushed.tables, pushed.remote.where(), pushed.text, module)
        )
        return f"(SELECT {_columns(pushed)} FROM {sqltext.quote_name(qname)}())"

    def _split(
        self,
        toks: list[sqltext.Token],
        params: _Params,
        span: _Span,
        select: exp.Select,
        lookups: tuple[Callable[[str], Any], Callable[[str], bool]],
        planned: Planned,
    ) -> str:
        """A block with its largest group of one server's tables read from one
        remote query (``statements.partial``), the rest left to SQLite
        (``lookups``: the foreign tables, and the names a CTE or temporary
        object shadows, whose columns the main schema does not tell)."""
        db = self.session.db
        lookup, shadowed = lookups

        def columns_of(name: str) -> set[str] | None:
            return None if shadowed(name) else partial.local_columns(db, name)

        found = partial.split(select, lookup, columns_of)
        mine = found.args
        spelled = lambda text: _SERIAL.sub(lambda m: params.spelling(m[0][1:]), text)  # noqa: E731
        if not partial.same_program(db, _original(toks, span), spelled(found.normal)):
            raise NotPushable("the block as rewritten would not be the same program")
        pushed = found.pushed
        pushed.text = pushed.query.sql(dialect=pushed.remote.dialect)
        if not mine:
            values = {f"p{i}": p.value for i, p in enumerate(pushed.params)}
            pushed.rows = pushed.remote.rows(pushed.text, values)
        if found.local:
            outer = 1.0
            for name, kept in found.local.items():
                rows = partial.local_rows(self.session, name)
                outer = outer * max(rows * kept, 1.0) if rows is not None else float("inf")
            if pushed.rows is None or pushed.rows > partial.PROBE_ROWS * len(pushed.tables) * outer:
                raise NotPushable("key probes from the local rows are cheaper")
        text, mark = spelled(found.text), sqltext.quote_name(found.placeholder)
        if text.count(mark) != 1:
            raise NotPushable(f"the statement spells {mark}")
        fallback = _SERIAL.sub(lambda m: f"?{mine.index(m[0][1:]) + 1}", found.fallback)
        name, module = self._register(pushed, len(mine), fallback)
        planned.blocks.append(
            PushedBlock(pushed.tables, pushed.remote.where(), pushed.text, module)
        )
        columns = ", ".join(f'"c{i}"' for i in range(len(pushed.outputs)))
        args = ", ".join(params.spelling(serial) for serial in mine)
        call = f"(SELECT {columns} FROM {sqltext.quote_name(name)}({args}))"
        return text.replace(mark, call)

    def _hold(self, planned: Planned, local: Callable[[str], bool]) -> bool:
        """Read the joined foreign tables SQLite would rescan once, as CTEs
        (``statements.hold``); whether the text changed."""
        toks = sqltext.tokens(planned.text)
        params = _Params(toks)
        tree = sqlglot.parse_one(params.text(toks, 0, len(toks)), read="sqlite")
        if not isinstance(tree, (exp.Select, exp.SetOperation)):
            return False
        names = hold.candidates(tree, lambda name: not local(name) and self._holdable(name))
        if not names:
            return False
        held = {name: hold.Held(name, f"{self.prefix}h{i}") for i, name in enumerate(sorted(names))}
        text = hold.rewrite(planned.text, toks, tree, held)
        if text is None:
            return False
        planned.text = text
        found = (catalog.get_table(self.session.db, name) for name in names)
        planned.held = sorted(t.name for t in found if t is not None)
        return True

    def _holdable(self, name: str) -> bool:
        """A foreign table whose wrapper looks up no key: a join rescans it."""
        if name.lower() not in self._others and name.lower() not in self._names:
            return False
        table = catalog.get_table(self.session.db, name)
        if table is None:
            return False
        wrapper, _columns = self.session.wrapper_for(table.name)
        names = [c.name for c in table.columns]
        if any(wrapper.honours(Qual(n, "=", None)) for n in names):
            return False
        rows, _cost = wrapper.estimate([], names)
        return rows <= hold.HOLD_MAX_ROWS

    def _escape(self, call: escape.Call, planned: Planned) -> str:
        """A ``sqlmed_query()`` call as the subquery that reads its result."""
        remote = self.session.server_wrapper(call.server).remote_sql()
        if remote is None:
            raise FeatureNotSupportedError(
                f'sqlmed_query(): server "{call.server}" does not run SQL queries'
            )
        outputs = [
            Output(name, decltype, (i,), column_decoder(decltype))
            for i, (name, decltype) in enumerate(remote.describe(call.query))
        ]
        pushed = Pushed(remote, exp.Select(), [], outputs, [], call.query, readonly=True)
        name, module = self._register(pushed, 0, "")
        planned.blocks.append(PushedBlock([], remote.where(), call.query, module))
        body = f"(SELECT {_columns(pushed)} FROM {sqltext.quote_name(name)}())"
        return body if call.alias else f"{body} AS {escape.NAME}"

    def _register(self, pushed: Pushed, nargs: int, fallback: str) -> tuple[str, QueryModule]:
        """A new query table: its module's name, and the module."""
        if self._modules >= _MODULES_MAX:
            raise NotPushable("too many pushed queries on this connection")
        module = QueryModule(self.session, pushed, nargs, fallback)
        name = f"{self.prefix}{self._modules}"
        self._modules += 1
        cursor.register(self.session.db, name, module)
        return name, module

    def _remote(self, name: str) -> tuple[catalog.ForeignTable, RemoteSQL] | None:
        db = self.session.db
        table = catalog.get_table(db, name)
        if table is None:
            return None
        wrapper, _columns = self.session.wrapper_for(table.name)
        remote = wrapper.remote_sql()
        if remote is None or not remote.enabled():
            return None
        return table, remote

    def _push(
        self,
        toks: list[sqltext.Token],
        params: _Params,
        span: _Span,
        lookups: tuple[Any, ...],
        planned: Planned,
    ) -> str:
        """A block as the call of the query table that answers it (a server's
        remote query, or a wrapper's own aggregates)."""
        text = params.text(toks, span.start, span.end)
        select = sqlglot.parse_one(text, read="sqlite")
        if not isinstance(select, exp.Select):
            raise NotPushable("not a plain SELECT")
        used = params.serials(toks, span.start, span.end)
        try:
            pushed = Block(select, lookups[0], used.index, text=text).push()
        except NotPushable as why:
            try:
                pushed = aggregates.push(select, lookups[1], used.index)
            except NotPushable:
                try:
                    found = (lookups[0], lookups[2])
                    return self._split(toks, params, span, select, found, planned)
                except NotPushable as other:
                    raise NotPushable(f"{why}; its join: {other}") from None
        described = sqlite_columns(self.session.db, _original(toks, span))
        if len(described) != len(pushed.outputs):
            raise NotPushable("the columns SQLite sees differ")
        for out, (name, decltype) in zip(pushed.outputs, described, strict=True):
            out.name, out.decltype = name, decltype or ""
        label = "Request" if pushed.text else "Remote SQL"  # a wrapper's aggregates: its text
        pushed.text = pushed.text or pushed.query.sql(dialect=pushed.remote.dialect)
        if not pushed.small and not any(p.arg is not None for p in pushed.params):
            # no value of the statement's: the source can say how many rows come
            values = {f"p{i}": p.value for i, p in enumerate(pushed.params)}
            pushed.rows = pushed.remote.rows(pushed.text, values)
            if pushed.rows is not None and pushed.rows <= _SMALL_ROWS:
                pushed.small = True
        fallback = params.fallback(toks, span.start, span.end, used)
        name, module = self._register(pushed, len(used), fallback)
        planned.blocks.append(
            PushedBlock(pushed.tables, pushed.remote.where(), pushed.text, module, label)
        )
        args = ", ".join(params.spelling(serial) for serial in used)
        return f"SELECT {_columns(pushed)} FROM {sqltext.quote_name(name)}({args}){pushed.tail}"


def _no_arguments(name: str) -> int:
    raise NotPushable("a parameter in a view")  # pragma: no cover - views have none


def _reads(tree: object) -> bool:
    """A statement that runs and is done: a query, INSERT, UPDATE, DELETE,
    CREATE TABLE ... AS (not a view or trigger, which would keep its text)."""
    if isinstance(tree, exp.Create):
        return str(tree.args.get("kind") or "").upper() == "TABLE"
    return isinstance(tree, (exp.Select, exp.SetOperation, exp.Insert, exp.Update, exp.Delete))


def _columns(pushed: Pushed) -> str:
    """The query table's columns under the names SQLite gives them."""
    return ", ".join(
        f'"c{i}" AS {sqltext.quote_name(out.name)}' for i, out in enumerate(pushed.outputs)
    )


def _original(toks: list[sqltext.Token], span: _Span) -> str:
    return "".join(t.text for t in toks[span.start : span.end])


def _spans(toks: list[sqltext.Token], tree: exp.Expression) -> list[_Span]:
    """The blocks to try, outermost first."""
    spans = []
    end = len(toks)
    while end > 0 and toks[end - 1].kind in ("ws", "lc", "bc", "semi"):
        end -= 1
    first = fromlist.code(toks, 0)
    if isinstance(tree, exp.Select):
        spans.append(_Span(first, end))
    elif isinstance(tree, exp.SetOperation):
        spans.extend(_members(toks, first, end))
    elif isinstance(tree, (exp.Insert, exp.Create)) and isinstance(
        tree.expression, (exp.Select, exp.SetOperation)
    ):
        if not tree.args.get("returning") and not tree.args.get("conflict"):
            depth = 0
            for i in range(first, end):
                tok = toks[i]
                if tok.text == "(":
                    depth += 1
                elif tok.text == ")":
                    depth -= 1
                elif depth == 0 and _word(tok) == "SELECT":
                    if isinstance(tree.expression, exp.Select):
                        spans.append(_Span(i, end))
                    else:
                        spans.extend(_members(toks, i, end))
                    break
    stack: list[int] = []
    for i, tok in enumerate(toks[:end]):
        if tok.text == "(":
            stack.append(i)
        elif tok.text == ")" and stack:
            start = stack.pop()
            inner = fromlist.code(toks, start + 1)
            if inner < i and _word(toks[inner]) in ("SELECT", "WITH"):
                if _word(toks[inner]) == "SELECT":
                    spans.append(_Span(inner, i))
                spans.extend(_members(toks, inner, i))
    spans.sort(key=lambda s: (s.start, -s.end))
    return spans


_COMPOUND = {"UNION", "INTERSECT", "EXCEPT"}


def _word(tok: sqltext.Token) -> str:
    return tok.text.upper() if tok.kind == "word" else ""


def _members(toks: list[sqltext.Token], start: int, end: int) -> list[_Span]:
    """The SELECT members of a compound SELECT written in ``toks[start:end]``
    (none for a simple one): each sent alone; the compound's own ORDER BY
    and LIMIT, after its last member, stay with it in SQLite."""
    cuts: list[tuple[int, int]] = []  # (a member's first token, the token after it)
    depth = 0
    begin = None
    i = start
    while i < end:
        word = _word(toks[i])
        if toks[i].text == "(":
            depth += 1
        elif toks[i].text == ")":
            depth -= 1
        elif depth == 0 and word == "SELECT" and begin is None:
            begin = i
        elif depth == 0 and begin is not None and word in _COMPOUND | {"ORDER", "LIMIT"}:
            cuts.append((begin, i))
            begin = None
            if word not in _COMPOUND:
                break
        i += 1
    if begin is not None:
        cuts.append((begin, end))
    if len(cuts) < 2:
        return []
    spans = []
    for first, after in cuts:
        while after > first and toks[after - 1].kind in ("ws", "lc", "bc"):
            after -= 1
        spans.append(_Span(first, after))
    return spans


class _Params:
    """The statement's parameters: each token's serial, and how SQLite numbers it."""

    def __init__(self, toks: list[sqltext.Token]):
        self.spelled: dict[int, str] = {}  # token number -> how it is written in the output
        self.serial: dict[int, str] = {}  # token number -> its name in the parsed text
        positional = named = False
        largest = 0
        for i, tok in enumerate(toks):
            if tok.kind != "param":
                continue
            if tok.text.startswith("?"):
                positional = True
                number = int(tok.text[1:]) if len(tok.text) > 1 else largest + 1
                largest = max(largest, number)
                self.spelled[i] = f"?{number}"
            else:
                named = True
                self.spelled[i] = tok.text
            self.serial[i] = f"sqlmed_p{i}"
        self.mixed = positional and named

    def text(self, toks: list[sqltext.Token], start: int, end: int) -> str:
        """The span's text for sqlglot: parameters named by their serial."""
        return "".join(
            f":{self.serial[i]}" if i in self.serial else toks[i].text for i in range(start, end)
        )

    def serials(self, toks: list[sqltext.Token], start: int, end: int) -> list[str]:
        return [self.serial[i] for i in range(start, end) if i in self.serial]

    def spelling(self, serial: str) -> str:
        return self.spelled[int(serial.removeprefix("sqlmed_p"))]

    def fallback(self, toks: list[sqltext.Token], start: int, end: int, used: list[str]) -> str:
        """The span's text with its parameters numbered as the query table's arguments."""
        out = []
        for i in range(start, end):
            if i in self.serial:
                out.append(f"?{used.index(self.serial[i]) + 1}")
            else:
                out.append(toks[i].text)
        return "".join(out)

    def rewrite(self, toks: list[sqltext.Token], replaced: list[tuple[_Span, str]]) -> str:
        """The statement with each span replaced (its parameters numbered as
        SQLite numbered them: the rest keeps its own spelling and numbers)."""
        starts = {span.start: (span, text) for span, text in replaced}
        out = []
        i = 0
        while i < len(toks):
            if i in starts:
                span, text = starts[i]
                out.append(text)
                i = span.end
                continue
            out.append(toks[i].text)  # outside the spans, as written
            i += 1
        return "".join(out)
