"""Provisioning hooks for SQLAlchemy's compliance suite against ``sqlmed://``.

SQLAlchemy imports this module (``Dialect.load_provisioning``) only when its
test plugin runs against this dialect; nothing else imports it.  The
arrangement is the one SQLAlchemy uses for SQLite:

* the ``test_schema`` schema the suite expects is a database file ATTACHed to
  every new connection;
* a worker of a parallel run (pytest-xdist) gets its own database file, named
  after the worker;
* database files are deleted when the engine is disposed and when a worker's
  database is dropped.

Files are created in the current directory, as SQLAlchemy does for SQLite.
"""

from __future__ import annotations

import os

from sqlalchemy import event
from sqlalchemy.engine import url as sa_url
from sqlalchemy.testing import config
from sqlalchemy.testing.provision import (
    create_db,
    drop_db,
    follower_url_from_main,
    log,
    post_configure_engine,
    post_configure_testing_engine,
    run_reap_dbs,
    stop_test_class_outside_fixtures,
    temp_table_keyword_args,
    upsert,
)

SCHEMA = "test_schema"


def _is_file(database: str | None) -> bool:
    return bool(database) and database != ":memory:"


def _schema_file(database: str | None, follower_ident: str | None) -> str:
    """The file attached as ``test_schema``: one per main database, so that a
    run over several URLs (``--db sqlmed --db sqlmed_file``) keeps them apart."""
    if database and _is_file(database):  # a worker's file name already carries its ident
        stem = os.path.splitext(os.path.basename(database))[0]
    else:
        stem = f"{follower_ident}_sqlmed" if follower_ident else "sqlmed"
    return f"{stem}_{SCHEMA}.db"


def _remove(path: str) -> None:
    if os.path.exists(path):
        log.info("deleting SQLite database file: %s", path)
        os.remove(path)


@follower_url_from_main.for_db("sqlmed")
def _follower_url_from_main(url, ident):
    url = sa_url.make_url(url)
    if not _is_file(url.database):
        return url
    stem, ext = os.path.splitext(url.database)
    return url.set(database=f"{stem}_{ident}{ext or '.db'}")


@post_configure_engine.for_db("sqlmed")
def _post_configure_engine(url, engine, follower_ident):
    attached = _schema_file(engine.url.database, follower_ident)

    @event.listens_for(engine, "connect")
    def attach(dbapi_connection, connection_record):
        # per connection: a new pooled connection has no attachments
        dbapi_connection.execute(f"ATTACH DATABASE '{attached}' AS {SCHEMA}")

    @event.listens_for(engine, "engine_disposed")
    def remove_files(engine):
        _remove(attached)
        if _is_file(engine.url.database):
            _remove(engine.url.database)


@post_configure_testing_engine.for_db("sqlmed")
def _post_configure_testing_engine(url, engine, options, scope):
    # an engine that shares the main engine's connection, for fixtures that
    # must see a :memory: database's tables (the pools can hand it over)
    if options.get("sqlite_share_pool") and hasattr(engine.pool, "_transfer_from"):
        options["use_reaper"] = False
        engine.pool._transfer_from(config.db.pool)  # type: ignore[attr-defined]


@create_db.for_db("sqlmed")
def _create_db(cfg, eng, ident):
    """Nothing to do: SQLite creates a database file when it is opened."""


@drop_db.for_db("sqlmed")
def _drop_db(cfg, eng, ident):
    _drop_files(ident)


def _drop_files(ident: str) -> None:
    for name in os.listdir("."):
        if ident in name and name.endswith(".db"):
            _remove(name)


@stop_test_class_outside_fixtures.for_db("sqlmed")
def _stop_test_class_outside_fixtures(config, db, cls):
    db.dispose()


@temp_table_keyword_args.for_db("sqlmed")
def _temp_table_keyword_args(cfg, eng):
    return {"prefixes": ["TEMPORARY"]}


@run_reap_dbs.for_db("sqlmed")
def _reap_dbs(url, idents):
    for ident in idents:
        _drop_files(ident)


@upsert.for_db("sqlmed")
def _upsert(
    cfg,
    table,
    returning,
    *,
    set_lambda=None,
    sort_by_parameter_order=False,
    index_elements=None,
):
    from sqlalchemy.dialects.sqlite import insert

    stmt = insert(table)
    if set_lambda:
        stmt = stmt.on_conflict_do_update(set_=set_lambda(stmt.excluded))
    else:
        stmt = stmt.on_conflict_do_nothing()
    return stmt.returning(*returning, sort_by_parameter_order=sort_by_parameter_order)
